//! `bench [--quick]`: the component against native clients ([`crate::bench`]).

use clap::Args;

use crate::options::Options;

/// Measure the component against native clients (JSON lines on stdout, a
/// table on stderr)
#[derive(Debug, Args)]
pub struct Bench {
    /// A smaller plan that runs in under a minute
    #[arg(long)]
    quick: bool,
}

impl Bench {
    #[cfg(feature = "bench")]
    pub async fn run(self, options: &Options) -> Result<(), String> {
        let config = options.store_config()?;
        crate::bench::run(options.host_options(), &config, self.quick)
            .await
            .map_err(|e| e.to_string())
    }

    #[cfg(not(feature = "bench"))]
    pub async fn run(self, _: &Options) -> Result<(), String> {
        Err("the benchmark is not part of this build (feature `bench`)".into())
    }
}
