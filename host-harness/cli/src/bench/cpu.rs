//! CPU time of the client side of the benchmark: the whole process
//! (`getrusage`) less the threads of the embedded S3 server and of the
//! emulated link, which run in the same process but are not what is
//! measured.

use std::time::Duration;

/// CPU time (user + system) of the process so far, without the threads
/// named in `others` (read from `/proc`; none on other systems).
pub fn client_time(others: &[&str]) -> Duration {
    let others: Duration = others.iter().map(|name| threads_time(name)).sum();
    process_time().saturating_sub(others)
}

fn process_time() -> Duration {
    // SAFETY: getrusage writes one `rusage` into the zeroed value we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return Duration::ZERO;
        }
        usage
    };
    timeval(usage.ru_utime) + timeval(usage.ru_stime)
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

/// The CPU time of this process's threads named `name`, in clock ticks
/// (`/proc/self/task/<tid>/stat`, fields 14 and 15).
fn threads_time(name: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let ticks: u64 = tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
        })
        .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
        .filter_map(|stat| stat_ticks(&stat))
        .sum();
    Duration::from_nanos(ticks.saturating_mul(1_000_000_000 / ticks_per_second))
}

/// utime + stime of one `stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
fn stat_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_counts_fields_after_the_command_name() {
        let stat = "1234 (s3 (memory)) S 1 1234 1234 0 -1 4194368 80 0 0 0 17 5 0 0 20 0 3 0";
        assert_eq!(stat_ticks(stat), Some(22));
        assert_eq!(stat_ticks("garbage"), None);
    }

    #[test]
    fn busy_threads_of_a_name_are_told_apart() {
        let name = "kloset-cpu-test";
        let (during, spent) = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // CPU time, not wall time: the machine may be busy.
                let spent = || {
                    // SAFETY: as in `process_time`, for this thread only.
                    let usage = unsafe {
                        let mut usage: libc::rusage = std::mem::zeroed();
                        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
                        usage
                    };
                    timeval(usage.ru_utime) + timeval(usage.ru_stime)
                };
                while spent() < Duration::from_millis(200) {
                    std::hint::black_box((0..1000u64).sum::<u64>());
                }
                // Still alive when measured: an exited thread leaves /proc.
                (threads_time(name), spent())
            })
            .unwrap()
            .join()
            .unwrap();
        // /proc counts in clock ticks (10 ms): allow a few.
        assert!(
            during + Duration::from_millis(40) >= spent,
            "{during:?} of {spent:?}"
        );
        assert!(
            during <= spent + Duration::from_millis(40),
            "{during:?} of {spent:?}"
        );
        assert_eq!(threads_time(name), Duration::ZERO, "the thread is gone");
    }
}
