//! What one guest instance may consume: linear memory (bounded, and its peak
//! recorded for tests and benchmarks), the host-side resources it may hold
//! (wasi:http header fields, request bodies, streams, pollables), and the CPU
//! and wall-clock time of each call, so that a guest that loops, waits
//! forever or hoards host memory dies alone instead of taking its host down.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::{Mutex, PoisonError};
use std::task::Poll;
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

/// Bytes of one wasi:http `fields` resource, as wasi-http counts them (names
/// and values plus a per-entry overhead): wasi-http's own default, 16 times
/// the 8 KiB of request headers S3 accepts.
pub const FIELD_SIZE_LIMIT: usize = 128 << 10;

/// The largest write the host takes into a request body at once. The body
/// buffers two of them (wasi-http adds one slot to the configured one), so a
/// request body the guest holds costs the host at most 256 KiB.
pub const BODY_CHUNK: usize = 128 << 10;

/// `wasi:random` bytes one call may ask for. The component asks for 8 at a
/// time; a guest asking for megabytes would make the host allocate and fill
/// them in one uninterruptible host call.
pub const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// The most host memory one resource of the instance's table holds: header
/// fields up to [`FIELD_SIZE_LIMIT`], a request body up to two
/// [`BODY_CHUNK`]s; streams, pollables and futures hold less.
const RESOURCE_BYTES: usize = if FIELD_SIZE_LIMIT > 2 * BODY_CHUNK {
    FIELD_SIZE_LIMIT
} else {
    2 * BODY_CHUNK
};

/// Resources any instance may hold whatever its memory limit: a request in
/// flight takes about six (future, response, headers, body, stream,
/// pollable), and an instance may have [`DEFAULT_MAX_REQUESTS`] in flight.
///
/// [`DEFAULT_MAX_REQUESTS`]: crate::DEFAULT_MAX_REQUESTS
const MIN_RESOURCES: usize = 128;

/// How many wasi resources (header fields, requests, bodies, streams,
/// pollables, futures) an instance with `memory_limit` bytes of linear memory
/// may hold at once: as many as fill `memory_limit` at [`RESOURCE_BYTES`]
/// each, and at least [`MIN_RESOURCES`]. So the host memory a guest can pin
/// through resources is bounded like its own memory: at most
/// `max(memory_limit, 32 MiB)`. One more is refused where it would be
/// created, and the call traps.
pub fn max_resources(memory_limit: usize) -> usize {
    (memory_limit / RESOURCE_BYTES).max(MIN_RESOURCES)
}

/// What a call may spend: CPU time in the component (its own code and the
/// host calls it makes) and wall-clock time (whatever it is doing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub cpu: Duration,
    pub wall: Duration,
}

/// Which limit a call went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Cpu(Duration),
    Wall(Duration),
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exceeded::Cpu(budget) => write!(
                f,
                "the component computed for more than {budget:?} in one call \
                 (its CPU budget, HostOptions::cpu_budget); the instance was stopped"
            ),
            Exceeded::Wall(limit) => write!(
                f,
                "the call ran for more than {limit:?} (its wall-clock limit, \
                 --call-timeout or HostOptions::call_timeout); the instance was stopped"
            ),
        }
    }
}

impl std::error::Error for Exceeded {}

/// Meters the call in progress against its [`CallLimits`].
///
/// CPU time is the time the thread that polls the call spends in the poll:
/// the guest's code and every host call it makes synchronously (a long
/// `memory.fill`, header conversions, random bytes) count, time the call is
/// parked waiting for the network or a timer does not. The wall clock runs
/// from the call's start whatever happens.
///
/// Shared by the store's epoch callback (which stops a computing guest) and
/// the future that drives the call (which stops a waiting one), hence the
/// lock; neither ever waits on it for long.
#[derive(Debug)]
pub struct CallMeter {
    limits: CallLimits,
    state: Mutex<CallState>,
}

#[derive(Debug, Clone, Copy)]
struct CallState {
    started: Instant,
    /// CPU time of the polls that ended.
    spent: Duration,
    /// The thread CPU clock when the poll in progress began.
    poll_began: Option<Duration>,
}

impl CallMeter {
    pub fn new(limits: CallLimits, now: Instant) -> Self {
        CallMeter {
            limits,
            state: Mutex::new(CallState {
                started: now,
                spent: Duration::ZERO,
                poll_began: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CallState> {
        // Nothing panics while the lock is held: a poisoned state is intact.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A call starts: both budgets are whole again.
    pub fn start_call(&self, now: Instant) {
        *self.state() = CallState {
            started: now,
            spent: Duration::ZERO,
            poll_began: None,
        };
    }

    /// When the call's wall-clock limit runs out.
    pub fn deadline(&self) -> Instant {
        self.state().started + self.limits.wall
    }

    /// A poll of the call begins; `cpu` is the polling thread's CPU clock.
    pub fn poll_begins(&self, cpu: Duration) {
        self.state().poll_began = Some(cpu);
    }

    /// The poll in progress ends, on the thread it began on.
    pub fn poll_ends(&self, cpu: Duration) {
        let mut state = self.state();
        if let Some(began) = state.poll_began.take() {
            state.spent += cpu.saturating_sub(began);
        }
    }

    /// Whether the call is still within its limits at `now`, the polling
    /// thread's CPU clock reading `cpu` (a poll may be in progress).
    pub fn check(&self, now: Instant, cpu: Duration) -> Result<(), Exceeded> {
        let state = *self.state();
        let running = state
            .poll_began
            .map_or(Duration::ZERO, |began| cpu.saturating_sub(began));
        if state.spent + running > self.limits.cpu {
            return Err(Exceeded::Cpu(self.limits.cpu));
        }
        if now.saturating_duration_since(state.started) > self.limits.wall {
            return Err(Exceeded::Wall(self.limits.wall));
        }
        Ok(())
    }
}

/// Drives `call` (a call into the guest) under `meter`: its polls are
/// metered, and it is abandoned (dropped, which unwinds the guest) as soon
/// as it is over a limit while parked. A guest computing is stopped by the
/// store's epoch callback, which checks the same meter every tick.
pub async fn metered<F: Future>(meter: &CallMeter, call: F) -> Result<F::Output, Exceeded> {
    let mut call = pin!(call);
    let mut deadline = pin!(tokio::time::sleep_until(meter.deadline().into()));
    poll_fn(|cx| {
        meter.poll_begins(thread_cpu_time());
        let polled = call.as_mut().poll(cx);
        meter.poll_ends(thread_cpu_time());
        if let Poll::Ready(output) = polled {
            return Poll::Ready(Ok(output));
        }
        // The timer only wakes us at the deadline; the check decides.
        let _ = deadline.as_mut().poll(cx);
        match meter.check(Instant::now(), thread_cpu_time()) {
            Ok(()) => Poll::Pending,
            Err(exceeded) => Poll::Ready(Err(exceeded)),
        }
    })
    .await
}

/// The CPU time the calling thread has used. The call's fiber runs on the
/// thread that polls it, so this counts the guest and its host calls.
#[cfg(unix)]
pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `now`, which lives
    // across the call; CLOCK_THREAD_CPUTIME_ID is supported by every Unix
    // this builds on (Linux, the BSDs, macOS).
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(now.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

/// Without a thread CPU clock, wall time inside polls: it counts more than
/// the CPU used (never less), so the budget still holds.
#[cfg(not(unix))]
pub fn thread_cpu_time() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
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

    const LIMITS: CallLimits = CallLimits {
        cpu: Duration::from_millis(100),
        wall: Duration::from_secs(10),
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn resources_scale_with_the_memory_limit_above_a_floor() {
        assert_eq!(max_resources(512 * MIB), 2048);
        assert_eq!(max_resources(64 * MIB), 256);
        assert_eq!(max_resources(16 * MIB), MIN_RESOURCES);
        assert_eq!(max_resources(0), MIN_RESOURCES);
        // What they can hold stays within the memory limit (or the floor's 32 MiB).
        for limit in [16 * MIB, 64 * MIB, 512 * MIB] {
            assert!(max_resources(limit) * RESOURCE_BYTES <= limit.max(32 * MIB));
        }
    }

    #[test]
    fn cpu_spent_in_polls_exhausts_the_budget() {
        let start = Instant::now();
        let meter = CallMeter::new(LIMITS, start);
        // Three polls of 40 ms each, far apart in wall time.
        let mut cpu = ms(1000);
        for _ in 0..2 {
            meter.poll_begins(cpu);
            cpu += ms(40);
            meter.poll_ends(cpu);
            assert_eq!(meter.check(start + ms(500), cpu), Ok(()));
        }
        meter.poll_begins(cpu);
        cpu += ms(40);
        // Checked inside the poll, as the epoch callback does.
        assert_eq!(
            meter.check(start + ms(900), cpu),
            Err(Exceeded::Cpu(LIMITS.cpu))
        );
    }

    #[test]
    fn one_long_poll_counts_whole_however_few_checks_it_sees() {
        // A host call or a single instruction that runs 150 ms between two
        // epoch ticks: all of it is CPU time.
        let start = Instant::now();
        let meter = CallMeter::new(LIMITS, start);
        meter.poll_begins(ms(0));
        assert_eq!(meter.check(start, ms(10)), Ok(()));
        assert_eq!(
            meter.check(start + ms(160), ms(160)),
            Err(Exceeded::Cpu(LIMITS.cpu))
        );
    }

    #[test]
    fn waiting_between_polls_is_not_cpu_but_is_wall_time() {
        let start = Instant::now();
        let meter = CallMeter::new(LIMITS, start);
        meter.poll_begins(ms(0));
        meter.poll_ends(ms(5));
        // Parked for 9 s: the thread ran other tasks meanwhile.
        assert_eq!(meter.check(start + ms(9000), ms(8000)), Ok(()));
        meter.poll_begins(ms(8000));
        meter.poll_ends(ms(8005));
        assert_eq!(
            meter.check(start + ms(10_001), ms(8005)),
            Err(Exceeded::Wall(LIMITS.wall))
        );
        assert_eq!(meter.deadline(), start + LIMITS.wall);
    }

    #[test]
    fn each_call_gets_both_budgets_whole() {
        let start = Instant::now();
        let meter = CallMeter::new(LIMITS, start);
        meter.poll_begins(ms(0));
        meter.poll_ends(ms(90));
        let later = start + ms(9_000);
        meter.start_call(later);
        assert_eq!(meter.deadline(), later + LIMITS.wall);
        meter.poll_begins(ms(90));
        meter.poll_ends(ms(180));
        assert_eq!(meter.check(later + ms(9_000), ms(180)), Ok(()));
    }

    #[test]
    fn the_thread_cpu_clock_advances_with_work_only() {
        let before = thread_cpu_time();
        let mut x = 0u64;
        while thread_cpu_time() < before + ms(20) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let busy = thread_cpu_time();
        std::thread::sleep(ms(100));
        assert!(thread_cpu_time() - busy < ms(50));
    }

    #[tokio::test]
    async fn a_parked_call_is_abandoned_at_its_deadline() {
        let limits = CallLimits {
            cpu: Duration::from_secs(10),
            wall: ms(200),
        };
        let meter = CallMeter::new(limits, Instant::now());
        let started = Instant::now();
        let parked = std::future::pending::<()>();
        assert_eq!(
            metered(&meter, parked).await,
            Err(Exceeded::Wall(limits.wall))
        );
        assert!(started.elapsed() >= ms(200));
        meter.start_call(Instant::now());
        assert_eq!(metered(&meter, async { 7 }).await, Ok(7));
    }

    #[tokio::test]
    async fn a_call_that_computes_between_yields_is_stopped_by_cpu() {
        let limits = CallLimits {
            cpu: ms(50),
            wall: Duration::from_secs(30),
        };
        let meter = CallMeter::new(limits, Instant::now());
        // Computes 10 ms per poll and yields, as a guest does every epoch tick.
        let computing = async {
            loop {
                let until = thread_cpu_time() + ms(10);
                while thread_cpu_time() < until {}
                tokio::task::yield_now().await;
            }
        };
        assert_eq!(
            metered(&meter, computing).await,
            Err(Exceeded::Cpu(limits.cpu))
        );
    }
}
