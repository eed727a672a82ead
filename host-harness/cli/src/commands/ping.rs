//! `ping`: checks that the bucket answers with these credentials.

use clap::Args;
use kloset_host::{HostError, StoreHandle};

/// Check that the bucket answers with these credentials
#[derive(Debug, Args)]
pub struct Ping {}

impl Ping {
    pub async fn run(self, store: &mut StoreHandle) -> Result<(), HostError> {
        store.ping().await?;
        eprintln!("ok");
        Ok(())
    }
}
