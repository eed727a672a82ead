//! `bench [--quick] [--small-only] [--rtt MS] [--link-mibps N]`: the component against
//! native clients ([`crate::bench`]).

use clap::Args;

use crate::options::Options;

/// Measure the component against native clients (JSON lines on stdout, a
/// table on stderr)
#[derive(Debug, Args)]
pub struct Bench {
    /// A smaller plan that runs in under a minute
    #[arg(long)]
    quick: bool,
    /// Only the 1 KiB workloads (latency and per-request costs)
    #[arg(long)]
    small_only: bool,
    /// Put an emulated link of this round-trip time (milliseconds) between
    /// every client and the server
    #[arg(long, value_name = "MS")]
    rtt: Option<u64>,
    /// Cap the emulated link at this many MiB/s each way (implies a link,
    /// of --rtt or no delay)
    #[arg(long, value_name = "N", value_parser = positive)]
    link_mibps: Option<f64>,
}

/// A bandwidth above zero (a finite number of MiB/s).
fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("`{text}` is not a positive number of MiB/s")),
    }
}

impl Bench {
    #[cfg(feature = "bench")]
    pub async fn run(self, options: &Options) -> Result<(), String> {
        let config = options.store_config()?;
        let link =
            (self.rtt.is_some() || self.link_mibps.is_some()).then(|| crate::bench::LinkSpec {
                rtt: std::time::Duration::from_millis(self.rtt.unwrap_or(0)),
                mibps: self.link_mibps,
            });
        crate::bench::run(
            options.host_options(),
            &config,
            self.quick,
            self.small_only,
            link,
        )
        .await
        .map_err(|e| e.to_string())
    }

    #[cfg(not(feature = "bench"))]
    pub async fn run(self, _: &Options) -> Result<(), String> {
        Err("the benchmark is not part of this build (feature `bench`)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::positive;

    #[test]
    fn a_bandwidth_is_a_positive_number() {
        assert_eq!(positive("12.5"), Ok(12.5));
        assert!(positive("0").is_err());
        assert!(positive("-1").is_err());
        assert!(positive("inf").is_err());
        assert!(positive("fast").is_err());
    }
}
