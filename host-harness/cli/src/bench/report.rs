//! The results: one JSON object per line on stdout (for machines: redirect
//! it to a file), a table and the goals on stderr (for people), and a
//! progress line on stderr while the benchmark runs.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use super::goals::Goal;
use super::link::LinkSpec;
use super::peers::{COMPONENT, PLUGIN, REFERENCE};
use super::stats::{Sample, MIB};
use super::workload::Workload;

/// What starting the component costs.
#[derive(Debug, Clone)]
pub struct Startup {
    pub component_bytes: u64,
    /// Cranelift compilation of the component, cache empty.
    pub compile: Duration,
    /// `Host::new` with the compiled component in the on-disk cache.
    pub cache_load: Duration,
    /// `Host::open` (instantiation and the component's `new-store`), median.
    pub open: Duration,
}

pub struct Row {
    pub workload: Workload,
    pub peer: &'static str,
    pub sample: Sample,
}

pub struct Report {
    rows: Vec<Row>,
    started: Instant,
    terminal: bool,
}

impl Report {
    pub fn new() -> Report {
        Report {
            rows: Vec::new(),
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// One line saying what runs now: rewritten in place on a terminal,
    /// one line each elsewhere (CI logs).
    pub fn progress(&self, what: &str) {
        let elapsed = self.started.elapsed().as_secs();
        if self.terminal {
            eprint!("\r\x1b[K[{elapsed:>3} s] {what}");
        } else {
            eprintln!("[{elapsed:>3} s] {what}");
        }
    }

    /// Adds a batch to its row. Rows stay grouped by workload, in the
    /// order workloads first ran, peers in the order they ran.
    pub fn add(&mut self, workload: Workload, peer: &'static str, sample: Sample) {
        let same = |r: &Row| r.workload == workload;
        if let Some(row) = self.rows.iter_mut().find(|r| same(r) && r.peer == peer) {
            return row.sample.merge(sample);
        }
        let at = self
            .rows
            .iter()
            .rposition(same)
            .map_or(self.rows.len(), |i| i + 1);
        let row = Row {
            workload,
            peer,
            sample,
        };
        self.rows.insert(at, row);
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn row(&self, workload: Workload, peer: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.workload == workload && r.peer == peer)
    }

    /// Throughput of `row` over that of the reference peer in the same
    /// workload: above 1 is faster than object_store.
    pub fn ratio(&self, row: &Row) -> Option<f64> {
        self.ratio_to(row, REFERENCE)
    }

    /// Throughput of `row` over that of `peer` in the same workload.
    fn ratio_to(&self, row: &Row, peer: &str) -> Option<f64> {
        let other = self.row(row.workload, peer)?;
        Some(row.sample.ops_per_second() / other.sample.ops_per_second())
    }

    pub fn print(&self, target: &str, startup: &Startup, link: Option<LinkSpec>, goals: &[Goal]) {
        if self.terminal {
            eprintln!();
        }
        println!("{}", startup_json(startup, link));
        for row in &self.rows {
            println!("{}", self.row_json(row));
        }
        for goal in goals {
            println!("{}", goal_json(goal));
        }
        eprintln!("\n{}", self.table(target, startup, goals));
    }

    fn row_json(&self, row: &Row) -> String {
        let s = &row.sample;
        let w = &row.workload;
        let mut json = Json::default();
        json.str("type", "result");
        json.str("workload", w.op.name());
        json.num("size", w.size as f64);
        json.num("concurrency", w.concurrency as f64);
        json.str("peer", row.peer);
        json.num("ops", s.ops as f64);
        json.num("bytes", s.bytes as f64);
        json.num("seconds", s.wall.as_secs_f64());
        json.num("mib_per_s", s.mib_per_second());
        json.num("ops_per_s", s.ops_per_second());
        json.num("p50_ms", s.percentile_ms(50.0));
        json.num("p99_ms", s.percentile_ms(99.0));
        json.opt("ratio_to_object_store", self.ratio(row));
        json.opt("ratio_to_component", self.ratio_to(row, COMPONENT));
        json.opt("cpu_s_per_gib", s.cpu_per_gib());
        json.opt("guest_peak_mib", s.guest_peak.map(|b| b as f64 / MIB));
        json.opt("requests_per_op", s.requests_per_op());
        json.opt("connections_per_op", s.connections_per_op());
        json.end()
    }

    fn table(&self, target: &str, startup: &Startup, goals: &[Goal]) -> String {
        let mut out = format!(
            "kloset-host bench against the {target}\n\
             component {:.0} KiB; compile {:.2} s; load from cache {:.1} ms; open (instantiate + new-store) {:.0} µs\n\n",
            startup.component_bytes as f64 / 1024.0,
            startup.compile.as_secs_f64(),
            startup.cache_load.as_secs_f64() * 1e3,
            startup.open.as_secs_f64() * 1e6,
        );
        let _ = writeln!(
            out,
            "{:<18} {:>2}  {:<13} {:>8} {:>9} {:>8} {:>8} {:>6} {:>9} {:>9} {:>6} {:>6}",
            "workload",
            "C",
            "peer",
            "MiB/s",
            "ops/s",
            "p50 ms",
            "p99 ms",
            "×os",
            "CPU s/GiB",
            "guest MiB",
            "req/op",
            "con/op"
        );
        let mut previous = None;
        for row in &self.rows {
            let s = &row.sample;
            let first = previous != Some(row.workload);
            previous = Some(row.workload);
            let (label, c) = if first {
                (
                    row.workload.to_string(),
                    row.workload.concurrency.to_string(),
                )
            } else {
                (String::new(), String::new())
            };
            let _ = writeln!(
                out,
                "{label:<18} {c:>2}  {:<13} {:>8.1} {:>9.1} {:>8.2} {:>8.2} {:>6} {:>9} {:>9} {:>6} {:>6}",
                row.peer,
                s.mib_per_second(),
                s.ops_per_second(),
                s.percentile_ms(50.0),
                s.percentile_ms(99.0),
                fixed(self.ratio(row), 2),
                fixed(s.cpu_per_gib(), 2),
                fixed(s.guest_peak.map(|b| b as f64 / MIB), 1),
                fixed(s.requests_per_op(), 2),
                fixed(s.connections_per_op(), 2),
            );
        }
        out.push_str("\nplugin protocol (throughput plugin / component, same run):\n");
        for row in self.rows.iter().filter(|r| r.peer == PLUGIN) {
            let w = row.workload;
            let ratio = fixed(self.ratio_to(row, COMPONENT), 2);
            let _ = writeln!(out, "  {w} C={}: {ratio}", w.concurrency);
        }
        out.push_str("\ngoals (ratios: component / object_store, same run):\n");
        for goal in goals {
            let _ = writeln!(out, "  {} {goal}", if goal.met { "met " } else { "MISS" });
        }
        out
    }
}

fn fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

fn startup_json(startup: &Startup, link: Option<LinkSpec>) -> String {
    let mut json = Json::default();
    json.str("type", "startup");
    json.opt("link_rtt_ms", link.map(|l| l.rtt.as_secs_f64() * 1e3));
    json.opt("link_mibps", link.and_then(|l| l.mibps));
    json.num("component_bytes", startup.component_bytes as f64);
    json.num("compile_s", startup.compile.as_secs_f64());
    json.num("cache_load_ms", startup.cache_load.as_secs_f64() * 1e3);
    json.num("open_us", startup.open.as_secs_f64() * 1e6);
    json.end()
}

fn goal_json(goal: &Goal) -> String {
    let mut json = Json::default();
    json.str("type", "goal");
    json.str("goal", &goal.name);
    json.num("value", goal.value);
    json.str("bound", goal.bound.symbol());
    json.num("limit", goal.limit);
    json.str("unit", goal.unit);
    json.bool("met", goal.met);
    json.end()
}

/// A flat JSON object, written field by field.
#[derive(Default)]
struct Json(String);

impl Json {
    fn key(&mut self, key: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        let _ = write!(self.0, "\"{key}\":");
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        self.0.push('"');
        for c in value.chars() {
            match c {
                '"' | '\\' => {
                    self.0.push('\\');
                    self.0.push(c);
                }
                c if c.is_control() => {
                    let _ = write!(self.0, "\\u{:04x}", c as u32);
                }
                c => self.0.push(c),
            }
        }
        self.0.push('"');
    }

    fn num(&mut self, key: &str, value: f64) {
        self.opt(key, Some(value));
    }

    /// `null` for no value, and for what JSON cannot hold (NaN, infinity).
    fn opt(&mut self, key: &str, value: Option<f64>) {
        self.key(key);
        match value.filter(|v| v.is_finite()) {
            Some(v) => {
                let _ = write!(self.0, "{}", (v * 1e4).round() / 1e4);
            }
            None => self.0.push_str("null"),
        }
    }

    fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.0.push_str(if value { "true" } else { "false" });
    }

    fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_are_flat_escaped_and_finite() {
        let mut json = Json::default();
        json.str("a", "say \"hi\"\n");
        json.num("b", 1.234_567);
        json.opt("c", None);
        json.num("d", f64::NAN);
        json.bool("e", true);
        assert_eq!(
            json.end(),
            r#"{"a":"say \"hi\"\u000a","b":1.2346,"c":null,"d":null,"e":true}"#
        );
    }
}
