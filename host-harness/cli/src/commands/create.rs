//! `create [FILE|-]`: creates the kloset, its CONFIG read from FILE or stdin.

use clap::Args;
use kloset_host::{HostError, StoreHandle};
use tokio::io::AsyncReadExt;

use super::Input;

/// Create the kloset; CONFIG from FILE or stdin (a placeholder if neither)
#[derive(Debug, Args)]
pub struct Create {
    /// Where the kloset's CONFIG comes from (`-` for stdin)
    #[arg(value_name = "FILE|-")]
    input: Option<String>,
}

impl Create {
    pub async fn run(self, store: &mut StoreHandle) -> Result<(), HostError> {
        let config = match self.input.as_deref() {
            Some(input) => {
                let mut bytes = Vec::new();
                let mut reader = Input::from(input).open().await?;
                reader
                    .read_to_end(&mut bytes)
                    .await
                    .map_err(HostError::Io)?;
                bytes
            }
            None => b"kloset-host: placeholder CONFIG (no kloset configuration given)".to_vec(),
        };
        store.create(&config).await?;
        eprintln!(
            "created {} ({} bytes of CONFIG)",
            store.root().await?,
            config.len()
        );
        Ok(())
    }
}
