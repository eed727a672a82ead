//! An exporter (WIT `exporter`): files written into a bucket, in its own
//! sandboxed instance. Calls go through the same metering as a store's (see
//! [`StoreHandle`]).

use tokio::io::AsyncRead;

use crate::error::HostError;
use crate::limits::metered;
use crate::store::{StoreHandle, Upload};

/// Writes files one at a time; open several exporters of the same
/// configuration to write in parallel.
pub struct ExporterHandle {
    inner: StoreHandle,
}

impl ExporterHandle {
    pub(crate) fn new(inner: StoreHandle) -> Self {
        ExporterHandle { inner }
    }

    /// Starts writing the file at `path` with the metadata its `s3.`
    /// attributes describe; nothing is visible before the upload finishes.
    pub async fn create_file(
        &mut self,
        path: &str,
        attributes: &[(String, String)],
    ) -> Result<Upload<'_>, HostError> {
        let h = &mut self.inner;
        let meter = h.begin()?;
        let r = h.bindings.kloset_s3_exporter().exporter();
        let r = metered(
            &meter,
            r.call_create_file(&mut h.store, h.resource, path, attributes),
        )
        .await;
        let resource = h.end(r)?;
        Ok(Upload::new(h, resource))
    }

    /// Writes the file at `path` with everything `data` yields; returns its
    /// length. On any failure the upload is aborted: the object at that key
    /// is left as it was.
    pub async fn write_file(
        &mut self,
        path: &str,
        attributes: &[(String, String)],
        mut data: impl AsyncRead + Unpin,
    ) -> Result<u64, HostError> {
        let mut upload = self.create_file(path, attributes).await?;
        let written = upload.stream(&mut data).await;
        if written.is_err() {
            // Best effort: the failure reported is the one that stopped us.
            let _ = upload.abort().await;
        }
        upload.release().await?;
        written
    }

    /// The most linear memory the instance held so far.
    pub fn peak_memory_bytes(&self) -> usize {
        self.inner.peak_memory_bytes()
    }
}
