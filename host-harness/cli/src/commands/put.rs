//! `put KIND MAC FILE|- [--hot]`: stores an object from a file or stdin.

use clap::Args;
use kloset_host::{HostError, StoreHandle};

use super::{mac, Input, Kind};

/// Store an object
#[derive(Debug, Args)]
pub struct Put {
    #[arg(value_enum)]
    kind: Kind,
    /// The object's MAC: 64 hex digits
    #[arg(value_parser = mac)]
    mac: [u8; 32],
    /// Where the bytes come from (`-` for stdin)
    #[arg(value_name = "FILE|-")]
    input: String,
    /// A packfile kloset reads back soon: with an archive storage class it
    /// is also kept readable in STANDARD
    #[arg(long)]
    pub hot: bool,
}

impl Put {
    pub async fn run(self, store: &mut StoreHandle) -> Result<(), HostError> {
        let data = Input::from(self.input.as_str()).open().await?;
        let written = store
            .put_with(self.kind.into(), &self.mac, super::flags(self.hot), data)
            .await?;
        eprintln!("stored {written} bytes");
        Ok(())
    }
}
