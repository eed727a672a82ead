//! `demo`: the walk-through on an embedded S3 server ([`crate::demo`]).

use clap::Args;

use crate::options::Options;

/// Run a walk-through on an embedded S3 server
#[derive(Debug, Args)]
pub struct Demo {}

impl Demo {
    pub async fn run(self, options: &Options) -> Result<(), String> {
        crate::demo::run(options.host_options())
            .await
            .map_err(|e| e.to_string())
    }
}
