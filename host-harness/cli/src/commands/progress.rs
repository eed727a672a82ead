//! The progress line of the long verbs (`import`, `export`) on stderr:
//! records and bytes so far, rewritten in place.

use std::io::Write;
use std::time::Instant;

pub struct Progress {
    what: &'static str,
    records: u64,
    bytes: u64,
    started: Instant,
}

impl Progress {
    pub fn new(what: &'static str) -> Self {
        Progress {
            what,
            records: 0,
            bytes: 0,
            started: Instant::now(),
        }
    }

    pub fn add(&mut self, bytes: u64) {
        self.records += 1;
        self.bytes += bytes;
    }

    pub fn show(&self) {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r{}", self.line());
        let _ = stderr.flush();
    }

    pub fn done(&self) {
        eprintln!("\r{}", self.line());
    }

    fn line(&self) -> String {
        let seconds = self.started.elapsed().as_secs_f64();
        format!(
            "{} {} records, {:.1} MiB in {seconds:.1} s",
            self.what,
            self.records,
            self.bytes as f64 / f64::from(1 << 20)
        )
    }
}
