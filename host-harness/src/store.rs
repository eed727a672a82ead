//! One open store: a wasmtime `Store` holding one component instance and the
//! WIT `store` resource it created. Objects stream through in chunks, so
//! neither side ever holds a whole object.

use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use wasmtime::component::ResourceAny;
use wasmtime::{Store, UpdateDeadline};

use crate::bindings::{
    store_error, GuestStore, KlosetS3, KlosetS3Pre, LockSettings, Mode, Range, ResourceKind,
    Retention, Stats, WitError,
};
use crate::error::HostError;
use crate::sandbox::Sandbox;

/// Bytes per `upload.write` and `download.read` call: large enough that the
/// per-call cost vanishes, small enough to keep both sides' memory flat.
pub const CHUNK: usize = 1 << 20;

/// A store of the component (WIT `store`). Calls are sequential, as the WIT
/// interface requires; run several handles for parallelism.
pub struct StoreHandle {
    store: Store<Sandbox>,
    bindings: KlosetS3,
    resource: ResourceAny,
    /// Why the instance died, once it trapped: it cannot be entered again.
    trapped: Option<String>,
    closed: bool,
    /// A call was entered and has not returned: its future was dropped
    /// half-way, leaving the instance in an unknown state.
    in_call: bool,
    /// The buffer `put` reads into, kept between puts: a fresh (zeroed) MiB
    /// per put would cost more than a small object's whole request.
    chunk: Vec<u8>,
}

impl StoreHandle {
    pub(crate) async fn start(
        pre: &KlosetS3Pre<Sandbox>,
        sandbox: Sandbox,
        config: &[(String, String)],
    ) -> Result<StoreHandle, HostError> {
        let mut store = Store::new(pre.engine(), sandbox);
        store.limiter(|sandbox| &mut sandbox.memory);
        store.epoch_deadline_callback(|mut context| {
            match context.data_mut().cpu.tick(Instant::now()) {
                Ok(()) => Ok(UpdateDeadline::Yield(1)),
                Err(exhausted) => Err(wasmtime::Error::new(exhausted)),
            }
        });
        start_call(&mut store);
        let bindings = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| HostError::Trap(trap_message(&store, &e)))?;
        let created = bindings
            .kloset_s3_kloset_store()
            .call_new_store(&mut store, &config.to_vec())
            .await
            .map_err(|e| HostError::Trap(trap_message(&store, &e)))?;
        let resource = created.map_err(|e| HostError::Store(store_error(e)))?;
        Ok(StoreHandle {
            store,
            bindings,
            resource,
            trapped: None,
            closed: false,
            in_call: false,
            chunk: Vec::new(),
        })
    }

    /// Creates the kloset with its serialized configuration.
    pub async fn create(&mut self, config: &[u8]) -> Result<(), HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_create(&mut self.store, self.resource, config)
            .await;
        self.end(r)
    }

    /// Opens the kloset and returns its serialized configuration.
    pub async fn open(&mut self) -> Result<Vec<u8>, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_open(&mut self.store, self.resource)
            .await;
        self.end(r)
    }

    pub async fn ping(&mut self) -> Result<(), HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_ping(&mut self.store, self.resource)
            .await;
        self.end(r)
    }

    pub async fn origin(&mut self) -> Result<String, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_origin(&mut self.store, self.resource)
            .await;
        self.end(r.map(Ok))
    }

    pub async fn type_name(&mut self) -> Result<String, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_type(&mut self.store, self.resource)
            .await;
        self.end(r.map(Ok))
    }

    pub async fn root(&mut self) -> Result<String, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_root(&mut self.store, self.resource)
            .await;
        self.end(r.map(Ok))
    }

    pub async fn flags(&mut self) -> Result<u32, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_flags(&mut self.store, self.resource)
            .await;
        self.end(r.map(Ok))
    }

    pub async fn mode(&mut self) -> Result<Mode, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_mode(&mut self.store, self.resource)
            .await;
        self.end(r)
    }

    /// Total bytes stored under the kloset's prefix.
    pub async fn size(&mut self) -> Result<i64, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_size(&mut self.store, self.resource)
            .await;
        self.end(r)
    }

    /// Every MAC of `kind`, all pages read.
    pub async fn list(&mut self, kind: ResourceKind) -> Result<Vec<[u8; 32]>, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_list(&mut self.store, self.resource, kind)
            .await;
        let listing = self.end(r)?;
        let pages = self.read_pages(listing).await;
        self.drop_resource(listing).await?;
        pages
    }

    async fn read_pages(&mut self, listing: ResourceAny) -> Result<Vec<[u8; 32]>, HostError> {
        let mut macs = Vec::new();
        loop {
            self.begin()?;
            let r = self.bindings.kloset_s3_kloset_store().listing();
            let r = r.call_next_page(&mut self.store, listing).await;
            let Some(page) = self.end(r)? else {
                return Ok(macs);
            };
            for mac in page {
                let len = mac.len();
                macs.push(mac.try_into().map_err(|_| {
                    let message = format!("the component listed a MAC of {len} bytes");
                    HostError::Store(kloset_s3::error::Error::Other(message))
                })?);
            }
        }
    }

    /// Writes the object `kind`/`mac` with everything `data` yields, and
    /// returns its length. On any failure, the partial upload is aborted:
    /// nothing becomes visible.
    pub async fn put(
        &mut self,
        kind: ResourceKind,
        mac: &[u8],
        mut data: impl AsyncRead + Unpin,
    ) -> Result<u64, HostError> {
        let mut upload = self.upload(kind, mac).await?;
        let written = upload.stream(&mut data).await;
        if written.is_err() {
            // Best effort: the failure reported is the one that stopped us.
            let _ = upload.abort().await;
        }
        upload.release().await?;
        written
    }

    /// Starts writing the object `kind`/`mac` piece by piece, for a producer
    /// that is not an [`AsyncRead`] (see [`put`](Self::put) for one that is).
    pub async fn upload(
        &mut self,
        kind: ResourceKind,
        mac: &[u8],
    ) -> Result<Upload<'_>, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_put(&mut self.store, self.resource, kind, mac)
            .await;
        let resource = self.end(r)?;
        Ok(Upload {
            store: self,
            resource,
        })
    }

    /// Reads the object `kind`/`mac` (or `range` of it) into `out` and returns
    /// the number of bytes written. On `Corrupted`, what was written to `out`
    /// does not match what was stored and must be thrown away.
    pub async fn get(
        &mut self,
        kind: ResourceKind,
        mac: &[u8],
        range: Option<Range>,
        mut out: impl AsyncWrite + Unpin,
    ) -> Result<u64, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_get(&mut self.store, self.resource, kind, mac, range)
            .await;
        let download = self.end(r)?;
        let read = self.download(download, &mut out).await;
        self.drop_resource(download).await?;
        read
    }

    async fn download(
        &mut self,
        download: ResourceAny,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, HostError> {
        let mut total = 0;
        loop {
            self.begin()?;
            let r = self.bindings.kloset_s3_kloset_store().download();
            let r = r.call_read(&mut self.store, download, CHUNK as u32).await;
            let Some(bytes) = self.end(r)? else {
                out.flush().await.map_err(HostError::Io)?;
                return Ok(total);
            };
            out.write_all(&bytes).await.map_err(HostError::Io)?;
            total += bytes.len() as u64;
        }
    }

    /// Deletes an object; deleting a missing object succeeds.
    pub async fn delete(&mut self, kind: ResourceKind, mac: &[u8]) -> Result<(), HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_delete(&mut self.store, self.resource, kind, mac)
            .await;
        self.end(r)
    }

    /// The Object Lock settings: the configured policy and the bucket's own.
    pub async fn lock_settings(&mut self) -> Result<LockSettings, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_lock_settings(&mut self.store, self.resource)
            .await;
        self.end(r)
    }

    /// Extends the Object Lock retention of one packfile or state to the
    /// configured duration from now (never shortening it).
    pub async fn extend_retention(
        &mut self,
        kind: ResourceKind,
        mac: &[u8],
    ) -> Result<Retention, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_extend_retention(&mut self.store, self.resource, kind, mac)
            .await;
        self.end(r)
    }

    /// Closes the store; later calls answer `InvalidArgument`.
    pub async fn close(&mut self) -> Result<(), HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_close(&mut self.store, self.resource)
            .await;
        self.closed = true;
        self.end(r)
    }

    /// Requests the component sent and retries it made, since it was opened.
    pub async fn stats(&mut self) -> Result<Stats, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_stats(&mut self.store, self.resource)
            .await;
        self.end(r.map(Ok))
    }

    /// What went wrong since the last call without failing one (the
    /// component keeps them until asked), oldest first.
    pub async fn take_warnings(&mut self) -> Result<Vec<String>, HostError> {
        self.begin()?;
        let r = guest(&self.bindings)
            .call_take_warnings(&mut self.store, self.resource)
            .await;
        self.end(r.map(Ok))
    }

    /// Whether calls can still succeed: the instance has not trapped, no
    /// call was abandoned half-way and the store was not closed. A pool
    /// keeps only such handles.
    pub fn is_usable(&self) -> bool {
        self.trapped.is_none() && !self.closed && !self.in_call
    }

    /// The most linear memory the instance held since it was created or since
    /// [`reset_peak_memory`](Self::reset_peak_memory).
    pub fn peak_memory_bytes(&self) -> usize {
        self.store.data().memory.peak()
    }

    pub fn reset_peak_memory(&mut self) {
        self.store.data_mut().memory.reset_peak();
    }

    /// How many requests of the component the egress policy refused.
    pub fn denied_requests(&self) -> u64 {
        self.store.data().egress.denied()
    }

    /// Every call into the guest starts here: a dead instance is not entered,
    /// and a live one gets a fresh CPU budget.
    fn begin(&mut self) -> Result<(), HostError> {
        if let Some(trap) = &self.trapped {
            return Err(HostError::Trap(format!(
                "earlier: {trap}; open a new store"
            )));
        }
        start_call(&mut self.store);
        self.in_call = true;
        Ok(())
    }

    /// Every call into the guest ends here: a trap kills the handle, a WIT
    /// error becomes the store's error.
    fn end<T>(&mut self, r: wasmtime::Result<Result<T, WitError>>) -> Result<T, HostError> {
        self.in_call = false;
        match r {
            Ok(answer) => answer.map_err(|e| HostError::Store(store_error(e))),
            Err(e) => {
                let message = trap_message(&self.store, &e);
                self.trapped = Some(message.clone());
                Err(HostError::Trap(message))
            }
        }
    }

    async fn drop_resource(&mut self, resource: ResourceAny) -> Result<(), HostError> {
        if self.trapped.is_some() {
            return Ok(());
        }
        self.begin()?;
        let r = resource.resource_drop_async(&mut self.store).await;
        self.end(r.map(Ok))
    }
}

/// An object being written (WIT `upload`), from [`StoreHandle::upload`].
/// Nothing is visible before [`finish`](Upload::finish) succeeds. Give it
/// back with [`release`](Upload::release): the component then aborts an
/// upload that was not finished, so it leaves nothing behind. One merely
/// dropped stays in the instance until the store is dropped.
pub struct Upload<'a> {
    store: &'a mut StoreHandle,
    resource: ResourceAny,
}

impl Upload<'_> {
    /// Appends `data` to the object.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), HostError> {
        let store = &mut *self.store;
        store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().upload();
        let r = r.call_write(&mut store.store, self.resource, data).await;
        store.end(r)
    }

    /// Makes the object visible; returns its length.
    pub async fn finish(&mut self) -> Result<u64, HostError> {
        let store = &mut *self.store;
        store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().upload();
        let r = r.call_finish(&mut store.store, self.resource).await;
        store.end(r)
    }

    /// Gives up: removes every part sent so far.
    pub async fn abort(&mut self) -> Result<(), HostError> {
        let store = &mut *self.store;
        store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().upload();
        let r = r.call_abort(&mut store.store, self.resource).await;
        store.end(r)
    }

    /// Drops the upload in the component.
    pub async fn release(self) -> Result<(), HostError> {
        self.store.drop_resource(self.resource).await
    }

    /// Writes everything `data` yields in full chunks, then finishes. The
    /// chunk buffer is the store's, reused from put to put.
    async fn stream(&mut self, data: &mut (impl AsyncRead + Unpin)) -> Result<u64, HostError> {
        let mut chunk = std::mem::take(&mut self.store.chunk);
        chunk.resize(CHUNK, 0);
        let written = self.stream_through(data, &mut chunk).await;
        self.store.chunk = chunk;
        written
    }

    async fn stream_through(
        &mut self,
        data: &mut (impl AsyncRead + Unpin),
        chunk: &mut [u8],
    ) -> Result<u64, HostError> {
        loop {
            match fill(data, chunk).await.map_err(HostError::Io)? {
                0 => return self.finish().await,
                filled => self.write(&chunk[..filled]).await?,
            }
        }
    }
}

fn guest(bindings: &KlosetS3) -> GuestStore<'_> {
    bindings.kloset_s3_kloset_store().store()
}

fn start_call(store: &mut Store<Sandbox>) {
    store.data_mut().cpu.start_call(Instant::now());
    store.set_epoch_deadline(1);
}

/// One line saying why the instance died, naming the memory limit when a
/// refused growth is the likely cause.
fn trap_message(store: &Store<Sandbox>, e: &wasmtime::Error) -> String {
    let memory = &store.data().memory;
    // The root cause says what happened; the wasm backtrace above it only
    // names functions of a stripped binary.
    tracing::debug!(error = ?e, "the component trapped");
    let cause = e
        .chain()
        .last()
        .map_or_else(|| e.to_string(), ToString::to_string);
    if memory.refused() {
        format!(
            "{cause} (the component reached its memory limit of {} bytes)",
            memory.limit()
        )
    } else {
        cause
    }
}

/// Reads until `chunk` is full or `data` ends, so the guest gets full chunks
/// whatever sizes the reader returns.
async fn fill(data: &mut (impl AsyncRead + Unpin), chunk: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < chunk.len() {
        match data.read(&mut chunk[filled..]).await? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
