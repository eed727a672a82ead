//! `ls KIND`: the MACs of one kind, one per line, printed page by page as
//! the server returns them (a listing is never held whole).

use clap::Args;
use kloset_host::{HostError, StorageFlags, StoreHandle};
use tokio::io::AsyncWriteExt;

use super::Kind;

/// List the MACs of one kind
#[derive(Debug, Args)]
pub struct Ls {
    #[arg(value_enum)]
    pub kind: Kind,
}

impl Ls {
    pub async fn run(self, store: &mut StoreHandle) -> Result<(), HostError> {
        let mut stdout = tokio::io::stdout();
        let mut listing = store
            .listing(self.kind.into(), StorageFlags::empty())
            .await?;
        let listed = print_pages(&mut listing, &mut stdout).await;
        listing.release().await?;
        listed?;
        stdout.flush().await.map_err(HostError::Io)
    }
}

async fn print_pages(
    listing: &mut kloset_host::Listing<'_>,
    out: &mut (impl AsyncWriteExt + Unpin),
) -> Result<(), HostError> {
    while let Some(page) = listing.next_page().await? {
        let mut text = String::with_capacity(page.len() * 65);
        for mac in page {
            text.push_str(&kloset_s3::hex::encode(&mac));
            text.push('\n');
        }
        out.write_all(text.as_bytes())
            .await
            .map_err(HostError::Io)?;
    }
    Ok(())
}
