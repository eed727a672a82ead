//! An importer (WIT `importer`): a bucket read as a tree of files, in its
//! own sandboxed instance. Calls go through the same metering as a
//! store's (see [`StoreHandle`]).

use tokio::io::AsyncWrite;

use crate::bindings::Item;
use crate::error::HostError;
use crate::limits::metered;
use crate::store::{Download, StoreHandle};

/// Records a page at a time, and the bytes of each file on demand. Calls
/// are sequential; open several importers of the same configuration to read
/// files in parallel.
pub struct ImporterHandle {
    inner: StoreHandle,
}

impl ImporterHandle {
    pub(crate) fn new(inner: StoreHandle) -> Self {
        ImporterHandle { inner }
    }

    /// The next page of records (one per listed key), or `None` after the
    /// last page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Item>>, HostError> {
        let h = &mut self.inner;
        let meter = h.begin()?;
        let r = h.bindings.kloset_s3_importer().importer();
        let r = metered(&meter, r.call_next_page(&mut h.store, h.resource)).await;
        h.end(r)
    }

    /// Starts reading the file at `path` as it was listed with `etag`.
    pub async fn open(&mut self, path: &str, etag: &str) -> Result<Download<'_>, HostError> {
        let h = &mut self.inner;
        let meter = h.begin()?;
        let r = h.bindings.kloset_s3_importer().importer();
        let r = metered(&meter, r.call_open(&mut h.store, h.resource, path, etag)).await;
        let resource = h.end(r)?;
        Ok(Download::new(h, resource))
    }

    /// Reads the file at `path` (as listed with `etag`) into `out`; returns
    /// the bytes written. On an error, what was written must be thrown away.
    pub async fn read(
        &mut self,
        path: &str,
        etag: &str,
        mut out: impl AsyncWrite + Unpin,
    ) -> Result<u64, HostError> {
        let mut download = self.open(path, etag).await?;
        let read = download.write_to(&mut out).await;
        download.release().await?;
        read
    }

    /// The most linear memory the instance held so far.
    pub fn peak_memory_bytes(&self) -> usize {
        self.inner.peak_memory_bytes()
    }
}
