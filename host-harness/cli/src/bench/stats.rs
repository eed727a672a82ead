//! What one peer did in one workload, summed over the rounds: operations,
//! bytes, wall time, each operation's latency, CPU time and guest memory.

use std::time::Duration;

use super::link::Counts;

/// One batch's (or several batches') measurements.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub ops: u64,
    pub bytes: u64,
    /// From the first operation's start to the last one's end, per batch.
    pub wall: Duration,
    pub latencies: Vec<Duration>,
    /// CPU time of the client side of the process (see `cpu`).
    pub cpu: Duration,
    /// The component's guest memory peak; `None` for native peers.
    pub guest_peak: Option<usize>,
    /// What went through the emulated link, when there is one.
    pub link: Option<Counts>,
}

impl Sample {
    pub fn merge(&mut self, other: Sample) {
        self.ops += other.ops;
        self.bytes += other.bytes;
        self.wall += other.wall;
        self.latencies.extend(other.latencies);
        self.cpu += other.cpu;
        self.guest_peak = self.guest_peak.max(other.guest_peak);
        self.link = match (self.link, other.link) {
            (Some(a), Some(b)) => Some(a.add(b)),
            (a, b) => a.or(b),
        };
    }

    /// HTTP requests per operation through the link.
    pub fn requests_per_op(&self) -> Option<f64> {
        let link = self.link?;
        (self.ops > 0).then(|| link.requests as f64 / self.ops as f64)
    }

    /// Connections opened per operation through the link.
    pub fn connections_per_op(&self) -> Option<f64> {
        let link = self.link?;
        (self.ops > 0).then(|| link.connections as f64 / self.ops as f64)
    }

    pub fn mib_per_second(&self) -> f64 {
        self.bytes as f64 / MIB / self.seconds()
    }

    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.seconds()
    }

    fn seconds(&self) -> f64 {
        self.wall.as_secs_f64().max(1e-9)
    }

    /// The `p`th percentile latency (nearest rank), in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let Some(last) = sorted.len().checked_sub(1) else {
            return 0.0;
        };
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.saturating_sub(1).min(last)].as_secs_f64() * 1000.0
    }

    /// Client CPU seconds per GiB moved; `None` when (almost) nothing moved.
    pub fn cpu_per_gib(&self) -> Option<f64> {
        let gib = self.bytes as f64 / GIB;
        (self.bytes >= 1 << 20).then(|| self.cpu.as_secs_f64() / gib)
    }
}

pub const MIB: f64 = (1u64 << 20) as f64;
const GIB: f64 = (1u64 << 30) as f64;

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Sample {
        Sample {
            latencies: values.iter().map(|&v| Duration::from_millis(v)).collect(),
            ..Sample::default()
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sample = ms(&[5, 1, 4, 2, 3, 6, 7, 8, 9, 100]);
        assert_eq!(sample.percentile_ms(50.0), 5.0);
        assert_eq!(sample.percentile_ms(99.0), 100.0);
        assert_eq!(sample.percentile_ms(10.0), 1.0);
        assert_eq!(ms(&[]).percentile_ms(50.0), 0.0);
    }

    #[test]
    fn merged_rounds_add_up() {
        let mut a = Sample {
            ops: 2,
            bytes: 2 << 20,
            wall: Duration::from_secs(1),
            guest_peak: Some(10),
            ..ms(&[1, 2])
        };
        a.merge(Sample {
            ops: 2,
            bytes: 2 << 20,
            wall: Duration::from_secs(1),
            guest_peak: Some(30),
            ..ms(&[3, 4])
        });
        assert_eq!(a.mib_per_second(), 2.0);
        assert_eq!(a.ops_per_second(), 2.0);
        assert_eq!(a.latencies.len(), 4);
        assert_eq!(a.guest_peak, Some(30));
    }
}
