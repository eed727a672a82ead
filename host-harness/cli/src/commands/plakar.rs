//! `plakar`: serve Plakar's integration protocol on stdin/stdout
//! ([`crate::plakar`]). What Plakar's package manifest runs.

use clap::Args;

use crate::options::Options;

/// Serve Plakar's storage protocol (gRPC) on stdin/stdout: the executable of
/// the Plakar package. The store's configuration comes from Plakar's Init
#[derive(Debug, Args)]
pub struct Plakar {}

impl Plakar {
    pub async fn run(self, options: &Options) -> Result<(), String> {
        if !options.pairs.is_empty() || !options.config_files.is_empty() {
            return Err(
                "`plakar` takes the store's configuration from Plakar (its Init call), not from -o or --config"
                    .into(),
            );
        }
        crate::plakar::serve(options.host_options()).await
    }
}
