//! What is measured ([`Workload`], [`Plan`]) and how one batch of
//! operations runs on one peer ([`batch`]).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cpu;
use super::link::{Counter, Counts, LinkSpec};
use super::peers::Peer;
use super::stats::Sample;
use super::BenchError;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Put,
    Get,
    /// Reads of `size` bytes at random offsets of a larger object.
    RangedGet,
    Delete,
    /// Full listings of a prefix holding `size` keys.
    List,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::RangedGet => "range",
            Op::Delete => "delete",
            Op::List => "list",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    pub op: Op,
    /// Bytes per object (per range), or keys listed.
    pub size: usize,
    pub concurrency: usize,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = match (self.op, self.size) {
            (Op::List, keys) => format!("{keys} keys"),
            (_, size) if size >= MIB => format!("{} MiB", size / MIB),
            (_, size) => format!("{} KiB", size / KIB),
        };
        write!(f, "{} {size}", self.op.name())
    }
}

/// How much of everything a run does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Batches per peer and workload, interleaved A B C A B C.
    pub rounds: usize,
    pub sizes: Vec<usize>,
    pub concurrency: Vec<usize>,
    /// Bytes one put batch aims to move, and the most operations it holds.
    budget: usize,
    max_ops: usize,
    /// Whether a batch holds at least one object per worker (else a quick
    /// run's large-object batches at C=8 would move gigabytes).
    fill_workers: bool,
    /// Ranged reads come from the objects of this size.
    pub range_source: usize,
    pub range_length: usize,
    pub range_ops: usize,
    pub list_keys: Vec<usize>,
}

impl Plan {
    /// The full plan, or the quick one; behind a link, fewer operations per
    /// batch (each costs round trips, not CPU: fewer tell as much).
    pub fn new(quick: bool, link: Option<LinkSpec>) -> Plan {
        let plan = Plan::local(quick);
        match (link, quick) {
            (None, _) => plan,
            (Some(_), false) => Plan {
                max_ops: 200,
                range_ops: 100,
                ..plan
            },
            (Some(_), true) => Plan {
                max_ops: 20,
                range_ops: 20,
                ..plan
            },
        }
    }

    fn local(quick: bool) -> Plan {
        let sizes = vec![KIB, 4 * MIB, 16 * MIB, 64 * MIB];
        let common = Plan {
            rounds: 3,
            sizes,
            concurrency: vec![1, 8],
            budget: 256 * MIB,
            max_ops: 1000,
            fill_workers: true,
            range_source: 64 * MIB,
            range_length: 64 * KIB,
            range_ops: 400,
            list_keys: vec![10_000, 100_000],
        };
        if !quick {
            return common;
        }
        Plan {
            rounds: 2,
            budget: 32 * MIB,
            max_ops: 100,
            fill_workers: false,
            range_ops: 50,
            list_keys: vec![2_500],
            ..common
        }
    }

    /// Only the 1 KiB objects: no large object, no ranged read, no listing.
    pub fn small_only(&mut self) {
        self.sizes = vec![KIB];
        self.list_keys.clear();
    }

    /// Objects per put batch: about the budget's worth, at least one (per
    /// worker, unless quick), at most `max_ops`.
    pub fn objects(&self, size: usize, concurrency: usize) -> usize {
        let least = if self.fill_workers { concurrency } else { 1 };
        (self.budget / size.max(1)).clamp(least, self.max_ops.max(least))
    }

    pub fn largest_concurrency(&self) -> usize {
        self.concurrency.iter().copied().max().unwrap_or(1)
    }
}

/// What a batch reads before and after it runs, besides the clock.
#[derive(Clone)]
pub struct Gauges {
    /// Threads of this process that are not the client's (the embedded
    /// server's, the link's).
    pub not_client: Vec<&'static str>,
    pub link: Option<Counter>,
}

impl Gauges {
    fn link_counts(&self) -> Option<Counts> {
        self.link.as_ref().map(Counter::counts)
    }
}

/// Runs `n` operations `op(peer, i)` on `concurrency` tasks and measures
/// them: each one's latency, the wall time, the client's CPU time (without
/// the threads `gauges` names), the guest's memory peak and what went
/// through the link.
pub async fn batch<F, Fut>(
    peer: &Peer,
    concurrency: usize,
    n: usize,
    gauges: &Gauges,
    op: F,
) -> Result<Sample, BenchError>
where
    F: Fn(Peer, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u64, BenchError>> + Send + 'static,
{
    peer.reset_guest_peak();
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu::client_time(&gauges.not_client);
    let link_before = gauges.link_counts();
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| tokio::spawn(worker(peer.clone(), n, next.clone(), op.clone())))
        .collect();
    let mut sample = Sample::default();
    for worker in workers {
        let (bytes, latencies) = worker
            .await
            .map_err(|e| BenchError(format!("a benchmark task failed: {e}")))??;
        sample.bytes += bytes;
        sample.ops += latencies.len() as u64;
        sample.latencies.extend(latencies);
    }
    sample.wall = started.elapsed();
    sample.cpu = cpu::client_time(&gauges.not_client).saturating_sub(cpu_before);
    sample.link = gauges
        .link_counts()
        .zip(link_before)
        .map(|(a, b)| a.since(b));
    sample.guest_peak = peer.guest_peak();
    Ok(sample)
}

async fn worker<F, Fut>(
    peer: Peer,
    n: usize,
    next: Arc<AtomicUsize>,
    op: Arc<F>,
) -> Result<(u64, Vec<Duration>), BenchError>
where
    F: Fn(Peer, usize) -> Fut,
    Fut: Future<Output = Result<u64, BenchError>>,
{
    let (mut bytes, mut latencies) = (0, Vec::new());
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            return Ok((bytes, latencies));
        }
        let started = Instant::now();
        bytes += op(peer.clone(), i).await?;
        latencies.push(started.elapsed());
    }
}

/// A seed that differs between runs, so that objects of two runs against
/// the same server never share a key.
pub fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

/// SplitMix64: MACs, object contents and range offsets; quality enough
/// for that, and reproducible from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn mac(&mut self) -> [u8; 32] {
        let mut mac = [0; 32];
        for word in mac.chunks_exact_mut(8) {
            word.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        mac
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut data = Vec::with_capacity(len + 8);
        while data.len() < len {
            data.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        data.truncate(len);
        data
    }

    /// Uniform enough in `0..bound` (`bound` > 0) for picking offsets.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_one_object_per_worker_at_least() {
        let plan = Plan::new(false, None);
        assert_eq!(plan.objects(KIB, 1), 1000);
        assert_eq!(plan.objects(4 * MIB, 1), 64);
        assert_eq!(plan.objects(64 * MIB, 1), 4);
        assert_eq!(plan.objects(64 * MIB, 8), 8);
        let quick = Plan::new(true, None);
        assert_eq!(quick.objects(64 * MIB, 8), 1);
        assert_eq!(quick.objects(KIB, 8), 100);
        let link = LinkSpec {
            rtt: Duration::from_millis(20),
            mibps: None,
        };
        assert_eq!(Plan::new(true, Some(link)).objects(KIB, 1), 20);
        assert_eq!(Plan::new(false, Some(link)).objects(64 * MIB, 8), 8);
    }

    #[test]
    fn workloads_read_as_they_are_reported() {
        let w = |op, size| Workload {
            op,
            size,
            concurrency: 1,
        };
        assert_eq!(w(Op::Put, KIB).to_string(), "put 1 KiB");
        assert_eq!(w(Op::RangedGet, 64 * KIB).to_string(), "range 64 KiB");
        assert_eq!(w(Op::Get, 16 * MIB).to_string(), "get 16 MiB");
        assert_eq!(w(Op::List, 100_000).to_string(), "list 100000 keys");
    }

    #[test]
    fn macs_differ_and_bytes_have_the_length_asked() {
        let mut rng = Rng::new(7);
        assert_ne!(rng.mac(), rng.mac());
        assert_eq!(rng.bytes(13).len(), 13);
        assert!((0..100).all(|_| rng.below(10) < 10));
    }
}
