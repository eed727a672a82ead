//! What one guest instance may consume: linear memory (bounded, and its peak
//! recorded for tests and benchmarks) and CPU time per call (so a guest stuck
//! in a loop traps instead of hanging its caller).

use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;

/// Table elements a guest may have; a Rust component uses a few hundred.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Bounds the total linear memory of an instance and remembers its peak.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    current: usize,
    peak: usize,
    refused: bool,
}

impl MemoryLimiter {
    pub fn new(limit: usize) -> Self {
        MemoryLimiter {
            limit,
            current: 0,
            peak: 0,
            refused: false,
        }
    }

    /// The most linear memory the instance held since creation or the last
    /// [`reset_peak`](Self::reset_peak).
    pub fn peak(&self) -> usize {
        self.peak
    }

    pub fn reset_peak(&mut self) {
        self.peak = self.current;
    }

    /// Whether a growth was refused: a later trap is then most likely the
    /// guest running out of memory.
    pub fn refused(&self) -> bool {
        self.refused
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl ResourceLimiter for MemoryLimiter {
    /// Called for every memory's creation (`current == 0`) and growth, so the
    /// sum over memories is kept exactly.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.current.saturating_sub(current).saturating_add(desired);
        if total > self.limit {
            self.refused = true;
            return Ok(false);
        }
        self.current = total;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Estimates the CPU time a guest spends in one call from the epoch
/// callbacks: while the guest computes, a callback fires every tick; while it
/// waits on the host (network, timers), none does. So the gap between two
/// callbacks counts as guest CPU only when it is about one tick long; a longer
/// gap was spent waiting. The estimate ignores waits shorter than a tick,
/// which is what lets a guest that does I/O for an hour stay within a budget
/// of seconds.
#[derive(Debug)]
pub struct CpuMeter {
    budget: Duration,
    tick: Duration,
    spent: Duration,
    last: Instant,
}

/// The guest computed for longer than its budget in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuExhausted {
    pub budget: Duration,
}

impl std::fmt::Display for CpuExhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the component computed for more than {:?} in one call",
            self.budget
        )
    }
}

impl std::error::Error for CpuExhausted {}

impl CpuMeter {
    pub fn new(budget: Duration, tick: Duration, now: Instant) -> Self {
        CpuMeter {
            budget,
            tick,
            spent: Duration::ZERO,
            last: now,
        }
    }

    /// A call starts: its budget is whole again.
    pub fn start_call(&mut self, now: Instant) {
        self.spent = Duration::ZERO;
        self.last = now;
    }

    /// An epoch callback fired at `now`.
    pub fn tick(&mut self, now: Instant) -> Result<(), CpuExhausted> {
        let gap = now.saturating_duration_since(self.last);
        if gap <= 2 * self.tick {
            self.spent += gap;
        }
        self.last = now;
        if self.spent > self.budget {
            return Err(CpuExhausted {
                budget: self.budget,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn records_the_peak_of_the_total_over_memories() {
        let mut limiter = MemoryLimiter::new(64 * MIB);
        assert!(limiter.memory_growing(0, 2 * MIB, None).unwrap());
        assert!(limiter.memory_growing(0, MIB, None).unwrap());
        assert!(limiter.memory_growing(2 * MIB, 10 * MIB, None).unwrap());
        assert_eq!(limiter.peak(), 11 * MIB);
        assert!(!limiter.refused());
    }

    #[test]
    fn refuses_growth_past_the_limit_and_says_so() {
        let mut limiter = MemoryLimiter::new(8 * MIB);
        assert!(limiter.memory_growing(0, 6 * MIB, None).unwrap());
        assert!(!limiter.memory_growing(6 * MIB, 9 * MIB, None).unwrap());
        assert!(limiter.refused());
        assert_eq!(limiter.peak(), 6 * MIB);
        assert!(limiter.memory_growing(6 * MIB, 8 * MIB, None).unwrap());
        assert_eq!(limiter.peak(), 8 * MIB);
    }

    #[test]
    fn reset_peak_starts_from_the_current_size() {
        let mut limiter = MemoryLimiter::new(64 * MIB);
        assert!(limiter.memory_growing(0, 4 * MIB, None).unwrap());
        limiter.reset_peak();
        assert_eq!(limiter.peak(), 4 * MIB);
        assert!(limiter.memory_growing(4 * MIB, 5 * MIB, None).unwrap());
        assert_eq!(limiter.peak(), 5 * MIB);
    }

    #[test]
    fn bounds_tables() {
        let mut limiter = MemoryLimiter::new(MIB);
        assert!(limiter.table_growing(0, 1000, None).unwrap());
        assert!(!limiter
            .table_growing(1000, MAX_TABLE_ELEMENTS + 1, None)
            .unwrap());
    }

    const TICK: Duration = Duration::from_millis(10);

    #[test]
    fn continuous_computation_exhausts_the_budget() {
        let start = Instant::now();
        let mut meter = CpuMeter::new(Duration::from_millis(100), TICK, start);
        let mut now = start;
        for _ in 0..10 {
            now += TICK;
            assert_eq!(meter.tick(now), Ok(()));
        }
        now += TICK;
        let exhausted = meter.tick(now).expect_err("over budget");
        assert_eq!(exhausted.budget, Duration::from_millis(100));
    }

    #[test]
    fn time_spent_waiting_does_not_count() {
        let start = Instant::now();
        let mut meter = CpuMeter::new(Duration::from_millis(100), TICK, start);
        let mut now = start;
        for wait in [Duration::from_secs(600), 3 * TICK, Duration::from_secs(5)] {
            for _ in 0..3 {
                now += TICK;
                assert_eq!(meter.tick(now), Ok(()));
            }
            now += wait;
            assert_eq!(meter.tick(now), Ok(()));
        }
        assert_eq!(meter.spent, 9 * TICK);
    }

    #[test]
    fn each_call_gets_the_whole_budget() {
        let start = Instant::now();
        let mut meter = CpuMeter::new(Duration::from_millis(50), TICK, start);
        let mut now = start;
        for _ in 0..5 {
            now += TICK;
            assert_eq!(meter.tick(now), Ok(()));
        }
        meter.start_call(now);
        for _ in 0..5 {
            now += TICK;
            assert_eq!(meter.tick(now), Ok(()));
        }
        now += TICK;
        assert!(meter.tick(now).is_err());
    }
}
