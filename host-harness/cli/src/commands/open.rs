//! `open`: writes the kloset's CONFIG to stdout.

use clap::Args;
use kloset_host::{HostError, StoreHandle};
use tokio::io::AsyncWriteExt;

/// Write the kloset's CONFIG to stdout
#[derive(Debug, Args)]
pub struct Open {}

impl Open {
    pub async fn run(self, store: &mut StoreHandle) -> Result<(), HostError> {
        let config = store.open().await?;
        let mut stdout = tokio::io::stdout();
        stdout.write_all(&config).await.map_err(HostError::Io)?;
        stdout.flush().await.map_err(HostError::Io)
    }
}
