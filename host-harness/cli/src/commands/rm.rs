//! `rm KIND MAC [--hot]`: deletes an object.

use clap::Args;
use kloset_host::{HostError, StoreHandle};

use super::{mac, Kind};

/// Delete an object
#[derive(Debug, Args)]
pub struct Rm {
    #[arg(value_enum)]
    kind: Kind,
    /// The object's MAC: 64 hex digits
    #[arg(value_parser = mac)]
    mac: [u8; 32],
    /// The object was stored hot (see `put --hot`)
    #[arg(long)]
    pub hot: bool,
}

impl Rm {
    pub async fn run(self, store: &mut StoreHandle) -> Result<(), HostError> {
        store
            .delete_with(self.kind.into(), &self.mac, super::flags(self.hot))
            .await
    }
}
