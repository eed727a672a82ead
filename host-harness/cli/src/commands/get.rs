//! `get KIND MAC [--offset N --length N] [--hot]`: writes an object, or a
//! range of it, to stdout.

use clap::Args;
use kloset_host::{HostError, Range, StoreHandle};
use tokio::io::AsyncWriteExt;

use super::{mac, Kind};

/// Write an object (or a range of it) to stdout
#[derive(Debug, Args)]
pub struct Get {
    #[arg(value_enum)]
    kind: Kind,
    /// The object's MAC: 64 hex digits
    #[arg(value_parser = mac)]
    mac: [u8; 32],
    /// First byte of the range
    #[arg(long, requires = "length")]
    pub offset: Option<u64>,
    /// Bytes of the range
    #[arg(long, requires = "offset")]
    pub length: Option<u32>,
    /// The object was stored hot (see `put --hot`)
    #[arg(long)]
    pub hot: bool,
}

impl Get {
    pub async fn run(self, store: &mut StoreHandle) -> Result<(), HostError> {
        let range = self
            .offset
            .zip(self.length)
            .map(|(offset, length)| Range { offset, length });
        let mut stdout = tokio::io::stdout();
        let flags = super::flags(self.hot);
        store
            .get_with(self.kind.into(), &self.mac, range, flags, &mut stdout)
            .await?;
        stdout.flush().await.map_err(HostError::Io)
    }
}
