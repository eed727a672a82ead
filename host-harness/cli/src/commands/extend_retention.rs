//! `extend-retention KIND [MAC]`: extends the Object Lock retention of one
//! object, or of every listed object of the kind.

use clap::Args;
use kloset_host::{HostError, ResourceKind, StoreHandle};

use super::{mac, mode_name, Kind};

/// Extend the Object Lock retention of one object, or of every listed object
/// of KIND (packfile, state)
#[derive(Debug, Args)]
pub struct ExtendRetention {
    #[arg(value_enum)]
    pub kind: Kind,
    /// The object's MAC: 64 hex digits
    #[arg(value_parser = mac)]
    pub mac: Option<[u8; 32]>,
}

impl ExtendRetention {
    /// One call per object, so each stays within the component's per-call
    /// budget. Prints one line per object.
    pub async fn run(self, store: &mut StoreHandle) -> Result<(), HostError> {
        let kind = ResourceKind::from(self.kind);
        let macs = match self.mac {
            Some(mac) => vec![mac],
            None => store.list(kind).await?,
        };
        let mut extended = 0;
        for mac in &macs {
            let r = store.extend_retention(kind, mac).await?;
            extended += usize::from(r.extended);
            println!(
                "{} {} until {}{}",
                kloset_s3::hex::encode(mac),
                mode_name(r.mode),
                r.retain_until,
                if r.extended { " (extended)" } else { "" }
            );
        }
        eprintln!("{extended} of {} objects extended", macs.len());
        Ok(())
    }
}
