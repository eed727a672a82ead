//! The project's performance goals, checked against one run's results.
//! Ratios compare the component with object_store measured in the same run
//! on the same server, so machine speed and drift cancel out. Behind an
//! emulated link the goals are the link's: every workload's throughput
//! close to object_store's, and a small read in one round trip.

use std::fmt;

use super::link::LinkSpec;
use super::peers::{COMPONENT, RAW, REFERENCE};
use super::report::{Report, Startup};
use super::stats::MIB;
use super::workload::{Op, Workload};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    AtLeast,
    AtMost,
}

impl Bound {
    pub fn symbol(self) -> &'static str {
        match self {
            Bound::AtLeast => ">=",
            Bound::AtMost => "<=",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Goal {
    pub name: String,
    pub value: f64,
    pub bound: Bound,
    pub limit: f64,
    pub unit: &'static str,
    pub met: bool,
}

impl Goal {
    fn new(name: String, value: f64, bound: Bound, limit: f64, unit: &'static str) -> Goal {
        let met = match bound {
            Bound::AtLeast => value >= limit,
            Bound::AtMost => value <= limit,
        };
        Goal {
            name,
            value,
            bound,
            limit,
            unit,
            met,
        }
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbol = match self.bound {
            Bound::AtLeast => "≥",
            Bound::AtMost => "≤",
        };
        write!(
            f,
            "{}: {:.3}{} (goal {symbol} {}{})",
            self.name, self.value, self.unit, self.limit, self.unit
        )
    }
}

/// Every goal the run has the figures for (a quick run lacks some).
pub fn evaluate(report: &Report, startup: &Startup, link: Option<LinkSpec>) -> Vec<Goal> {
    let mut goals = match link {
        Some(link) => link_goals(report, link),
        None => loopback_goals(report),
    };
    goals.extend(startup_goals(startup));
    goals
}

/// Through a link: each workload at least 0.95× object_store's throughput,
/// and a 1 KiB read within one round trip and 2 ms.
fn link_goals(report: &Report, link: LinkSpec) -> Vec<Goal> {
    let mut goals: Vec<Goal> = report
        .rows()
        .iter()
        .filter(|row| row.peer == COMPONENT)
        .filter_map(|row| {
            let w = row.workload;
            let ratio = report.ratio(row)?;
            let name = format!("{w} C={} throughput vs object_store", w.concurrency);
            Some(Goal::new(name, ratio, Bound::AtLeast, 0.95, "×"))
        })
        .collect();
    let small_get = Workload {
        op: Op::Get,
        size: 1 << 10,
        concurrency: 1,
    };
    if let Some(row) = report.row(small_get, COMPONENT) {
        // One round trip as raw HTTP takes it through this link (its timers
        // round each delay up to the millisecond), else the nominal one.
        let round_trip = report
            .row(small_get, RAW)
            .map_or(link.rtt.as_secs_f64() * 1e3, |raw| {
                raw.sample.percentile_ms(50.0)
            });
        let limit = (round_trip * 100.0).round() / 100.0 + 2.0;
        let name = format!("{small_get} C=1 p50 latency, one round trip (raw_http's) + 2 ms");
        let p50 = row.sample.percentile_ms(50.0);
        goals.push(Goal::new(name, p50, Bound::AtMost, limit, " ms"));
    }
    goals
}

fn loopback_goals(report: &Report) -> Vec<Goal> {
    let mut goals = Vec::new();
    for op in [Op::Put, Op::Get] {
        for size in [16 << 20, 64 << 20] {
            for concurrency in [1, 8] {
                let workload = Workload {
                    op,
                    size,
                    concurrency,
                };
                if let Some(ratio) = throughput_ratio(report, workload) {
                    let name = format!("{workload} C={concurrency} MiB/s vs object_store");
                    goals.push(Goal::new(name, ratio, Bound::AtLeast, 0.9, "×"));
                }
            }
        }
    }
    for op in [Op::Put, Op::Get] {
        let workload = Workload {
            op,
            size: 1 << 10,
            concurrency: 1,
        };
        if let Some(ratio) = p50_ratio(report, workload) {
            let name = format!("{workload} C=1 p50 latency vs object_store");
            goals.push(Goal::new(name, ratio, Bound::AtMost, 1.2, "×"));
        }
    }
    let list = Workload {
        op: Op::List,
        size: 100_000,
        concurrency: 1,
    };
    if let Some(ratio) = p50_ratio(report, list) {
        let name = format!("{list} C=1 time vs object_store");
        goals.push(Goal::new(name, ratio, Bound::AtMost, 1.2, "×"));
    }
    if let Some(peak) = report
        .row(list, COMPONENT)
        .and_then(|r| r.sample.guest_peak)
    {
        let name = format!("{list} guest memory peak");
        goals.push(Goal::new(
            name,
            peak as f64 / MIB,
            Bound::AtMost,
            16.0,
            " MiB",
        ));
    }
    goals
}

fn startup_goals(startup: &Startup) -> Vec<Goal> {
    let mut goals = Vec::new();
    let open_ms = startup.open.as_secs_f64() * 1e3;
    goals.push(Goal::new(
        "open from the precompiled cache".into(),
        open_ms,
        Bound::AtMost,
        1.0,
        " ms",
    ));
    let size = startup.component_bytes as f64 / MIB;
    goals.push(Goal::new(
        "component size".into(),
        size,
        Bound::AtMost,
        1.0,
        " MiB",
    ));
    goals
}

fn throughput_ratio(report: &Report, workload: Workload) -> Option<f64> {
    report.ratio(report.row(workload, COMPONENT)?)
}

fn p50_ratio(report: &Report, workload: Workload) -> Option<f64> {
    let ours = report.row(workload, COMPONENT)?.sample.percentile_ms(50.0);
    let theirs = report.row(workload, REFERENCE)?.sample.percentile_ms(50.0);
    Some(ours / theirs)
}
