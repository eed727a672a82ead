//! `kloset-host bench`: the component against native S3 clients, on the
//! same server in the same run.
//!
//! Peers ([`peers`]): the component (through a [`StorePool`]), the same
//! component behind Plakar's plugin protocol (`kloset-host plakar` spawned
//! and driven over gRPC, as Plakar does), Rust's `object_store`, and raw
//! presigned hyper requests. Workloads
//! ([`workload`]): put and get of 1 KiB, 4, 16 and 64 MiB objects, ranged
//! 64 KiB reads at random offsets, listings of 10 000 and 100 000 keys and
//! deletes, each at concurrency 1 and 8. Every workload runs in rounds that
//! interleave the peers (A B C A B C ...), so machine drift falls on all of
//! them alike. The server is the embedded in-memory one unless the command
//! line names another ([`target`]). `--rtt` and `--link-mibps` put an
//! emulated network link ([`link`]) between every peer and the server.
//! `--quick` runs a smaller plan in well under a minute, to prove
//! everything works; `--small-only` only the 1 KiB workloads (latency,
//! per-request costs; little data left on a server that frees it late).
//!
//! Output ([`report`]): JSON lines on stdout, a table and the goals
//! ([`goals`]) on stderr.
//!
//! [`StorePool`]: kloset_host::StorePool

mod cpu;
mod goals;
mod link;
mod peers;
mod plugin;
mod raw;
mod report;
mod stats;
mod target;
mod workload;

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use kloset_host::{ComponentCache, Host, HostError, HostOptions, Range, DEFAULT_COMPONENT};
pub use link::LinkSpec;
use peers::Peer;
use report::{Report, Startup};
use target::Target;
use workload::{batch, Op, Plan, Rng, Workload};

/// Why the benchmark stopped.
#[derive(Debug)]
pub struct BenchError(String);

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "benchmark: {}", self.0)
    }
}

impl std::error::Error for BenchError {}

impl From<HostError> for BenchError {
    fn from(e: HostError) -> Self {
        BenchError(format!("component: {e}"))
    }
}

/// Instances opened to time `Host::open`.
const OPENS: usize = 21;

/// Runs the benchmark against the server `config` names, or the embedded
/// one when it is empty, and prints the results.
pub async fn run(
    options: HostOptions,
    config: &[(String, String)],
    quick: bool,
    small_only: bool,
    link: Option<LinkSpec>,
) -> Result<(), BenchError> {
    let mut plan = Plan::new(quick, link);
    if small_only {
        plan.small_only();
    }
    let target = Target::new(config, link).await?;
    let report = Report::new();
    report.progress("compiling the component");
    let plugin_args = plugin::args(&options);
    let (host, startup) = start(options, &target).await?;
    let run = format!("run-{:08x}", workload::seed() as u32);
    let mut bench = Bench {
        plan,
        target,
        host,
        report,
        rng: Rng::new(workload::seed()),
        run,
        plugin_args,
    };
    bench.create_kloset().await?;
    let sizes = bench.plan.sizes.clone();
    let concurrency = bench.plan.concurrency.clone();
    for &size in &sizes {
        for &c in &concurrency {
            bench.objects(size, c).await?;
        }
    }
    for keys in bench.plan.list_keys.clone() {
        bench.listing(keys).await?;
    }
    let link = bench.target.link();
    let goals = goals::evaluate(&bench.report, &startup, link);
    let target = bench.target.describe();
    bench.report.print(&target, &startup, link, &goals);
    Ok(())
}

/// Compiles the component into a fresh cache, loads it back from there
/// (the host the benchmark then uses) and times opening stores.
async fn start(options: HostOptions, target: &Target) -> Result<(Host, Startup), BenchError> {
    let component_bytes = match &options.component {
        Some(path) => std::fs::metadata(path)
            .map_err(|e| BenchError(format!("{}: {e}", path.display())))?
            .len(),
        None => DEFAULT_COMPONENT.len() as u64,
    };
    let cache = tempfile::tempdir().map_err(|e| BenchError(format!("a cache directory: {e}")))?;
    let options = HostOptions {
        cache: ComponentCache::At(cache.path().to_path_buf()),
        ..options
    };
    let started = Instant::now();
    Host::new(options.clone())?;
    let compile = started.elapsed();
    let started = Instant::now();
    let host = Host::new(options)?;
    let cache_load = started.elapsed();
    let pairs = target.component_pairs("startup");
    let mut opens = Vec::with_capacity(OPENS);
    for _ in 0..OPENS {
        let started = Instant::now();
        let store = host.open(&pairs).await?;
        opens.push(started.elapsed());
        drop(store);
    }
    opens.sort_unstable();
    let startup = Startup {
        component_bytes,
        compile,
        cache_load,
        open: opens[OPENS / 2],
    };
    Ok((host, startup))
}

struct Bench {
    plan: Plan,
    target: Target,
    host: Host,
    report: Report,
    rng: Rng,
    /// This run's prefix below the configured one.
    run: String,
    /// The plugin peer's command line: the same component and limits.
    plugin_args: Vec<String>,
}

impl Bench {
    fn pool_size(&self) -> NonZeroUsize {
        NonZeroUsize::new(self.plan.largest_concurrency()).unwrap_or(NonZeroUsize::MIN)
    }

    /// The bucket (made if missing) and a kloset for this run.
    async fn create_kloset(&self) -> Result<(), BenchError> {
        let pairs = self
            .target
            .component_pairs(&format!("{}/component", self.run));
        let mut store = self.host.open(&pairs).await?;
        store.create(b"kloset-host bench").await?;
        Ok(store.close().await?)
    }

    /// The peers, each under its own prefix of this run.
    async fn object_peers(&self) -> Result<Vec<Peer>, BenchError> {
        let run = &self.run;
        let (host, target, pool) = (&self.host, &self.target, self.pool_size());
        Peer::all(host, target, pool, &self.plugin_args, |peer| {
            format!("{run}/{peer}")
        })
        .await
    }

    /// Put, get (and for the range source, ranged reads), delete of objects
    /// of `size` bytes at concurrency `c`: one batch of each per peer per
    /// round. Deletes are reported for the smallest objects only; for the
    /// others they only clean up.
    async fn objects(&mut self, size: usize, c: usize) -> Result<(), BenchError> {
        let peers = self.object_peers().await?;
        let n = self.plan.objects(size, c);
        let data = Bytes::from(self.rng.bytes(size));
        let gauges = self.target.gauges();
        let timed_delete = Some(&size) == self.plan.sizes.iter().min();
        for round in 1..=self.plan.rounds {
            for peer in &peers {
                let label = |op| Workload {
                    op,
                    size,
                    concurrency: c,
                };
                self.progress(label(Op::Put), round, peer);
                let macs: Arc<Vec<[u8; 32]>> = Arc::new((0..n).map(|_| self.rng.mac()).collect());
                let (m, d) = (macs.clone(), data.clone());
                let put = batch(peer, c, n, &gauges, move |p, i| {
                    let (m, d) = (m.clone(), d.clone());
                    async move { p.put(&m[i], d).await }
                });
                self.report.add(label(Op::Put), peer.name(), put.await?);
                self.progress(label(Op::Get), round, peer);
                let m = macs.clone();
                let get = batch(peer, c, n, &gauges, move |p, i| {
                    let m = m.clone();
                    async move { expect(size as u64, p.get(&m[i], None).await?, &p, "get") }
                });
                self.report.add(label(Op::Get), peer.name(), get.await?);
                if size == self.plan.range_source {
                    self.ranged(peer, &macs, size, c, round).await?;
                }
                let m = macs.clone();
                let delete = batch(peer, c, n, &gauges, move |p, i| {
                    let m = m.clone();
                    async move { p.delete(&m[i]).await }
                });
                let deleted = delete.await?;
                if timed_delete {
                    self.report.add(label(Op::Delete), peer.name(), deleted);
                }
            }
        }
        Ok(())
    }

    /// Reads of `range_length` bytes at random offsets of the objects
    /// `macs` (of `size` bytes).
    async fn ranged(
        &mut self,
        peer: &Peer,
        macs: &Arc<Vec<[u8; 32]>>,
        size: usize,
        c: usize,
        round: usize,
    ) -> Result<(), BenchError> {
        let length = self.plan.range_length;
        let workload = Workload {
            op: Op::RangedGet,
            size: length,
            concurrency: c,
        };
        self.progress(workload, round, peer);
        let span = (size - length) as u64;
        let offsets: Arc<Vec<u64>> = Arc::new(
            (0..self.plan.range_ops)
                .map(|_| self.rng.below(span))
                .collect(),
        );
        let m = macs.clone();
        let gauges = self.target.gauges();
        let sample = batch(peer, c, self.plan.range_ops, &gauges, move |p, i| {
            let (m, offsets) = (m.clone(), offsets.clone());
            let range = Range {
                offset: offsets[i],
                length: length as u32,
            };
            async move {
                expect(
                    length as u64,
                    p.get(&m[i % m.len()], Some(range)).await?,
                    &p,
                    "range",
                )
            }
        });
        self.report.add(workload, peer.name(), sample.await?);
        Ok(())
    }

    /// Full listings of a prefix of `keys` packfiles, seeded by the raw
    /// peer: one listing per worker per batch.
    async fn listing(&mut self, keys: usize) -> Result<(), BenchError> {
        let sub = format!("{}/list-{keys}", self.run);
        let (host, target, pool) = (&self.host, &self.target, self.pool_size());
        let peers = Peer::all(host, target, pool, &self.plugin_args, |_| sub.clone()).await?;
        let seeder = peers.iter().find(|p| matches!(p, Peer::Raw(_))).cloned();
        let seeder = seeder.ok_or_else(|| BenchError("no raw peer to seed the listing".into()))?;
        self.report.progress(&format!("seeding {keys} keys"));
        let macs: Arc<Vec<[u8; 32]>> = Arc::new((0..keys).map(|_| self.rng.mac()).collect());
        let gauges = self.target.gauges();
        let m = macs.clone();
        batch(&seeder, SEEDERS, keys, &gauges, move |p, i| {
            let m = m.clone();
            async move { p.put(&m[i], Bytes::from_static(b"k")).await }
        })
        .await?;
        for c in self.plan.concurrency.clone() {
            let workload = Workload {
                op: Op::List,
                size: keys,
                concurrency: c,
            };
            for round in 1..=self.plan.rounds {
                for peer in &peers {
                    self.progress(workload, round, peer);
                    let sample = batch(peer, c, c, &gauges, move |p, _| async move {
                        expect(keys as u64, p.list().await?, &p, "list").map(|_| 0)
                    });
                    self.report.add(workload, peer.name(), sample.await?);
                }
            }
        }
        if !self.target.embedded() {
            self.report.progress(&format!("deleting {keys} keys"));
            batch(&seeder, SEEDERS, keys, &gauges, move |p, i| {
                let m = macs.clone();
                async move { p.delete(&m[i]).await }
            })
            .await?;
        }
        Ok(())
    }

    fn progress(&self, workload: Workload, round: usize, peer: &Peer) {
        let rounds = self.plan.rounds;
        let c = workload.concurrency;
        let what = format!("{workload} C={c}, round {round}/{rounds}: {}", peer.name());
        self.report.progress(&what);
    }
}

/// Tasks seeding (and removing) the keys of a listing.
const SEEDERS: usize = 16;

/// `got` when it is what an operation had to yield, else the error naming it.
fn expect(want: u64, got: u64, peer: &Peer, what: &str) -> Result<u64, BenchError> {
    if got == want {
        Ok(got)
    } else {
        Err(BenchError(format!(
            "{} {what}: {got} instead of {want}",
            peer.name()
        )))
    }
}
