//! One open store: a wasmtime `Store` holding one component instance and the
//! WIT `store` resource it created. Objects stream through in chunks, so
//! neither side ever holds a whole object.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use wasmtime::component::{ResourceAny, ResourceTableError};
use wasmtime::{Store, UpdateDeadline};

use crate::bindings::{
    store_error, GuestStore, KlosetS3, KlosetS3Pre, LockSettings, Mode, Range, RecoveryAction,
    ResourceKind, Retention, Stats, StorageFlags, WitError,
};
use crate::error::HostError;
use crate::limits::{metered, thread_cpu_time, CallMeter, Exceeded};
use crate::sandbox::Sandbox;

/// What a call into the guest returns: the WIT result, unless the guest
/// trapped (`Err` inside) or went over a limit of the call (`Err` outside).
pub(crate) type Called<T> = Result<wasmtime::Result<Result<T, WitError>>, Exceeded>;

/// Bytes per `upload.write` and `download.read` call: large enough that the
/// per-call cost vanishes, small enough to keep both sides' memory flat.
pub const CHUNK: usize = 1 << 20;

/// A store of the component (WIT `store`). Calls are sequential, as the WIT
/// interface requires; run several handles for parallelism.
pub struct StoreHandle {
    pub(crate) store: Store<Sandbox>,
    pub(crate) bindings: KlosetS3,
    /// The resource the instance was started for (see [`Role`]).
    pub(crate) resource: ResourceAny,
    /// The limits of the call in progress (the store's epoch callback reads
    /// the same).
    meter: Arc<CallMeter>,
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

/// Which WIT resource an instance is started for: a store, or the
/// importer or exporter handles, which reuse this one's call machinery.
pub(crate) enum Role {
    Store,
    Importer,
    Exporter,
}

impl StoreHandle {
    pub(crate) async fn start(
        pre: &KlosetS3Pre<Sandbox>,
        sandbox: Sandbox,
        config: &[(String, String)],
    ) -> Result<StoreHandle, HostError> {
        Self::start_as(pre, sandbox, config, Role::Store).await
    }

    pub(crate) async fn start_as(
        pre: &KlosetS3Pre<Sandbox>,
        sandbox: Sandbox,
        config: &[(String, String)],
        role: Role,
    ) -> Result<StoreHandle, HostError> {
        let meter = sandbox.call.clone();
        let mut store = Store::new(pre.engine(), sandbox);
        store.limiter(|sandbox| &mut sandbox.memory);
        // Every tick while the guest computes: stop it once over a limit,
        // else yield, so the task that drives it can time out a wait.
        store.epoch_deadline_callback(|context| {
            match context.data().call.check(Instant::now(), thread_cpu_time()) {
                Ok(()) => Ok(UpdateDeadline::Yield(1)),
                Err(exceeded) => Err(wasmtime::Error::new(exceeded)),
            }
        });
        start_call(&mut store);
        let r = metered(&meter, pre.instantiate_async(&mut store)).await;
        let bindings = survived(&store, r).map_err(HostError::Trap)?;
        let config = config.to_vec();
        let r = match role {
            Role::Store => {
                let call = bindings
                    .kloset_s3_kloset_store()
                    .call_new_store(&mut store, &config);
                metered(&meter, call).await
            }
            Role::Importer => {
                let call = bindings
                    .kloset_s3_importer()
                    .call_new_importer(&mut store, &config);
                metered(&meter, call).await
            }
            Role::Exporter => {
                let call = bindings
                    .kloset_s3_exporter()
                    .call_new_exporter(&mut store, &config);
                metered(&meter, call).await
            }
        };
        let resource = survived(&store, r)
            .map_err(HostError::Trap)?
            .map_err(|e| HostError::Store(store_error(e)))?;
        Ok(StoreHandle {
            store,
            bindings,
            resource,
            meter,
            trapped: None,
            closed: false,
            in_call: false,
            chunk: Vec::new(),
        })
    }

    /// Creates the kloset with its serialized configuration.
    pub async fn create(&mut self, config: &[u8]) -> Result<(), HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_create(&mut self.store, self.resource, config),
        )
        .await;
        self.end(r)
    }

    /// Opens the kloset and returns its serialized configuration.
    pub async fn open(&mut self) -> Result<Vec<u8>, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_open(&mut self.store, self.resource),
        )
        .await;
        self.end(r)
    }

    pub async fn ping(&mut self) -> Result<(), HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_ping(&mut self.store, self.resource),
        )
        .await;
        self.end(r)
    }

    pub async fn origin(&mut self) -> Result<String, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_origin(&mut self.store, self.resource),
        )
        .await;
        self.end(infallible(r))
    }

    pub async fn type_name(&mut self) -> Result<String, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_type(&mut self.store, self.resource),
        )
        .await;
        self.end(infallible(r))
    }

    pub async fn root(&mut self) -> Result<String, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_root(&mut self.store, self.resource),
        )
        .await;
        self.end(infallible(r))
    }

    pub async fn flags(&mut self) -> Result<u32, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_flags(&mut self.store, self.resource),
        )
        .await;
        self.end(infallible(r))
    }

    pub async fn mode(&mut self) -> Result<Mode, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_mode(&mut self.store, self.resource),
        )
        .await;
        self.end(r)
    }

    /// Total bytes stored under the kloset's prefix.
    pub async fn size(&mut self) -> Result<i64, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_size(&mut self.store, self.resource),
        )
        .await;
        self.end(r)
    }

    /// Every MAC of `kind`, all pages read into memory: a convenience for
    /// what needs them all at once. [`listing`](Self::listing) holds one
    /// page at a time.
    pub async fn list(&mut self, kind: ResourceKind) -> Result<Vec<[u8; 32]>, HostError> {
        let mut listing = self.listing(kind, StorageFlags::empty()).await?;
        let mut macs = Vec::new();
        let read = async {
            while let Some(page) = listing.next_page().await? {
                macs.extend(page);
            }
            Ok(())
        }
        .await;
        listing.release().await?;
        read.map(|()| macs)
    }

    /// Starts listing the MACs of `kind`, read a page (as the server pages
    /// them, 1000 keys at most) at a time.
    pub async fn listing(
        &mut self,
        kind: ResourceKind,
        flags: StorageFlags,
    ) -> Result<Listing<'_>, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_list(&mut self.store, self.resource, kind, flags),
        )
        .await;
        let resource = self.end(r)?;
        Ok(Listing {
            store: self,
            resource,
        })
    }

    /// Writes the object `kind`/`mac` with everything `data` yields, and
    /// returns its length. On any failure, the partial upload is aborted:
    /// nothing becomes visible.
    pub async fn put(
        &mut self,
        kind: ResourceKind,
        mac: &[u8],
        data: impl AsyncRead + Unpin,
    ) -> Result<u64, HostError> {
        self.put_with(kind, mac, StorageFlags::empty(), data).await
    }

    /// [`put`](Self::put) with kloset's flags for the object.
    pub async fn put_with(
        &mut self,
        kind: ResourceKind,
        mac: &[u8],
        flags: StorageFlags,
        mut data: impl AsyncRead + Unpin,
    ) -> Result<u64, HostError> {
        let mut upload = self.upload_with(kind, mac, flags).await?;
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
        self.upload_with(kind, mac, StorageFlags::empty()).await
    }

    /// [`upload`](Self::upload) with kloset's flags for the object.
    pub async fn upload_with(
        &mut self,
        kind: ResourceKind,
        mac: &[u8],
        flags: StorageFlags,
    ) -> Result<Upload<'_>, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_put(&mut self.store, self.resource, kind, mac, flags),
        )
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
        out: impl AsyncWrite + Unpin,
    ) -> Result<u64, HostError> {
        self.get_with(kind, mac, range, StorageFlags::empty(), out)
            .await
    }

    /// [`get`](Self::get) with kloset's flags for the object.
    pub async fn get_with(
        &mut self,
        kind: ResourceKind,
        mac: &[u8],
        range: Option<Range>,
        flags: StorageFlags,
        mut out: impl AsyncWrite + Unpin,
    ) -> Result<u64, HostError> {
        let mut download = self.download(kind, mac, range, flags).await?;
        let read = download.write_to(&mut out).await;
        download.release().await?;
        read
    }

    /// Starts reading the object `kind`/`mac` (or `range` of it) chunk by
    /// chunk, for a consumer that is not an [`AsyncWrite`] (see
    /// [`get`](Self::get) for one that is).
    pub async fn download(
        &mut self,
        kind: ResourceKind,
        mac: &[u8],
        range: Option<Range>,
        flags: StorageFlags,
    ) -> Result<Download<'_>, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_get(&mut self.store, self.resource, kind, mac, range, flags),
        )
        .await;
        let resource = self.end(r)?;
        Ok(Download {
            store: self,
            resource,
        })
    }

    /// Deletes an object; deleting a missing object succeeds.
    pub async fn delete(&mut self, kind: ResourceKind, mac: &[u8]) -> Result<(), HostError> {
        self.delete_with(kind, mac, StorageFlags::empty()).await
    }

    /// [`delete`](Self::delete) with kloset's flags for the object.
    pub async fn delete_with(
        &mut self,
        kind: ResourceKind,
        mac: &[u8],
        flags: StorageFlags,
    ) -> Result<(), HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_delete(&mut self.store, self.resource, kind, mac, flags),
        )
        .await;
        self.end(r)
    }

    /// The Object Lock settings: the configured policy and the bucket's own.
    pub async fn lock_settings(&mut self) -> Result<LockSettings, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_lock_settings(&mut self.store, self.resource),
        )
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
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_extend_retention(&mut self.store, self.resource, kind, mac),
        )
        .await;
        self.end(r)
    }

    /// Starts a recovery of the kloset to its state at `to` (an RFC 3339
    /// UTC time or a duration before now, like `2d`): its plan is read a
    /// page at a time, and each action applied, through the [`Recovery`].
    pub async fn recovery(&mut self, to: &str) -> Result<Recovery<'_>, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_recovery(&mut self.store, self.resource, to),
        )
        .await;
        let resource = self.end(r)?;
        Ok(Recovery {
            store: self,
            resource,
        })
    }

    /// Closes the store; later calls answer `InvalidArgument`.
    pub async fn close(&mut self) -> Result<(), HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_close(&mut self.store, self.resource),
        )
        .await;
        self.closed = true;
        self.end(r)
    }

    /// Requests the component sent and retries it made, since it was opened.
    pub async fn stats(&mut self) -> Result<Stats, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_stats(&mut self.store, self.resource),
        )
        .await;
        self.end(infallible(r))
    }

    /// What went wrong since the last call without failing one (the
    /// component keeps them until asked), oldest first.
    pub async fn take_warnings(&mut self) -> Result<Vec<String>, HostError> {
        let meter = self.begin()?;
        let r = metered(
            &meter,
            guest(&self.bindings).call_take_warnings(&mut self.store, self.resource),
        )
        .await;
        self.end(infallible(r))
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

    /// How many wasi resources (header fields, requests, bodies, streams,
    /// pollables) the instance holds now: between calls, none should be left
    /// of requests that are over.
    pub fn resources_in_use(&mut self) -> usize {
        self.store.data_mut().resources_in_use()
    }

    /// How many wasi resources (header fields, requests, bodies, streams,
    /// pollables) the instance may hold at once.
    pub fn max_resources(&self) -> usize {
        self.store.data().max_resources()
    }

    /// Every call into the guest starts here: a dead instance is not entered,
    /// and a live one gets whole CPU and wall-clock budgets.
    pub(crate) fn begin(&mut self) -> Result<Arc<CallMeter>, HostError> {
        if let Some(trap) = &self.trapped {
            return Err(HostError::Trap(format!(
                "earlier: {trap}; open a new store"
            )));
        }
        if self.in_call {
            return Err(HostError::Trap(
                "an earlier call was abandoned half-way (its future dropped), \
                 leaving the instance in an unknown state; open a new store"
                    .into(),
            ));
        }
        start_call(&mut self.store);
        self.in_call = true;
        Ok(self.meter.clone())
    }

    /// Every call into the guest ends here: a trap or a limit kills the
    /// handle (and frees what the instance held on the host), a WIT error
    /// becomes the store's error, explained when a TLS handshake failed.
    pub(crate) fn end<T>(&mut self, r: Called<T>) -> Result<T, HostError> {
        self.in_call = false;
        let tls_failure = self.store.data_mut().egress.take_tls_failure();
        match survived(&self.store, r) {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                let error = store_error(e);
                Err(HostError::Store(match tls_failure {
                    Some(failure) => with_tls_failure(error, &failure),
                    None => error,
                }))
            }
            Err(message) => {
                self.store.data_mut().release_resources();
                self.trapped = Some(message.clone());
                Err(HostError::Trap(message))
            }
        }
    }

    pub(crate) async fn drop_resource(&mut self, resource: ResourceAny) -> Result<(), HostError> {
        if self.trapped.is_some() {
            return Ok(());
        }
        let meter = self.begin()?;
        let r = metered(&meter, resource.resource_drop_async(&mut self.store)).await;
        self.end(infallible(r))
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

impl<'a> Upload<'a> {
    /// The upload `resource` of the instance `store` runs.
    pub(crate) fn new(store: &'a mut StoreHandle, resource: ResourceAny) -> Self {
        Upload { store, resource }
    }

    /// Appends `data` to the object.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), HostError> {
        let store = &mut *self.store;
        let meter = store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().upload();
        let r = metered(&meter, r.call_write(&mut store.store, self.resource, data)).await;
        store.end(r)
    }

    /// Makes the object visible; returns its length.
    pub async fn finish(&mut self) -> Result<u64, HostError> {
        let store = &mut *self.store;
        let meter = store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().upload();
        let r = metered(&meter, r.call_finish(&mut store.store, self.resource)).await;
        store.end(r)
    }

    /// Gives up: removes every part sent so far.
    pub async fn abort(&mut self) -> Result<(), HostError> {
        let store = &mut *self.store;
        let meter = store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().upload();
        let r = metered(&meter, r.call_abort(&mut store.store, self.resource)).await;
        store.end(r)
    }

    /// Drops the upload in the component.
    pub async fn release(self) -> Result<(), HostError> {
        self.store.drop_resource(self.resource).await
    }

    /// Writes everything `data` yields in full chunks, then finishes. The
    /// chunk buffer is the store's, reused from put to put.
    pub(crate) async fn stream(
        &mut self,
        data: &mut (impl AsyncRead + Unpin),
    ) -> Result<u64, HostError> {
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

/// A listing in progress (WIT `listing`), from [`StoreHandle::listing`].
/// Give it back with [`release`](Listing::release); one merely dropped stays
/// in the instance until the store is dropped.
pub struct Listing<'a> {
    store: &'a mut StoreHandle,
    resource: ResourceAny,
}

impl Listing<'_> {
    /// The next page of MACs, or `None` once every page was read.
    pub async fn next_page(&mut self) -> Result<Option<Vec<[u8; 32]>>, HostError> {
        let store = &mut *self.store;
        let meter = store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().listing();
        let r = metered(&meter, r.call_next_page(&mut store.store, self.resource)).await;
        let Some(page) = store.end(r)? else {
            return Ok(None);
        };
        let macs = page.into_iter().map(|mac| {
            let len = mac.len();
            mac.try_into().map_err(|_| {
                let message = format!("the component listed a MAC of {len} bytes");
                HostError::Store(kloset_s3::error::Error::Other(message))
            })
        });
        macs.collect::<Result<_, _>>().map(Some)
    }

    /// Drops the listing in the component.
    pub async fn release(self) -> Result<(), HostError> {
        self.store.drop_resource(self.resource).await
    }
}

/// An object being read (WIT `download`), from [`StoreHandle::download`].
/// Give it back with [`release`](Download::release); one merely dropped
/// stays in the instance until the store is dropped.
pub struct Download<'a> {
    store: &'a mut StoreHandle,
    resource: ResourceAny,
}

impl<'a> Download<'a> {
    /// The download `resource` of the instance `store` runs.
    pub(crate) fn new(store: &'a mut StoreHandle, resource: ResourceAny) -> Self {
        Download { store, resource }
    }

    /// The next chunk (at most [`CHUNK`] bytes), or `None` at the end. The
    /// end comes only once the whole object was checked against the digest
    /// recorded at its write: a mismatch answers `Corrupted` instead, and
    /// every chunk already read must be thrown away.
    pub async fn read(&mut self) -> Result<Option<Vec<u8>>, HostError> {
        let store = &mut *self.store;
        let meter = store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().download();
        let r = metered(
            &meter,
            r.call_read(&mut store.store, self.resource, CHUNK as u32),
        )
        .await;
        store.end(r)
    }

    /// Drops the download in the component.
    pub async fn release(self) -> Result<(), HostError> {
        self.store.drop_resource(self.resource).await
    }

    /// Writes every chunk to `out`; returns the bytes written.
    pub(crate) async fn write_to(
        &mut self,
        out: &mut (impl AsyncWrite + Unpin),
    ) -> Result<u64, HostError> {
        let mut total = 0;
        while let Some(bytes) = self.read().await? {
            out.write_all(&bytes).await.map_err(HostError::Io)?;
            total += bytes.len() as u64;
        }
        out.flush().await.map_err(HostError::Io)?;
        Ok(total)
    }
}

/// A recovery in progress (WIT `recovery`), from [`StoreHandle::recovery`].
/// Give it back with [`release`](Recovery::release); one merely dropped
/// stays in the instance until the store is dropped.
pub struct Recovery<'a> {
    store: &'a mut StoreHandle,
    resource: ResourceAny,
}

impl Recovery<'_> {
    /// The moment recovered to (ISO 8601, UTC).
    pub async fn at(&mut self) -> Result<String, HostError> {
        let store = &mut *self.store;
        let meter = store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().recovery();
        let r = metered(&meter, r.call_at(&mut store.store, self.resource)).await;
        store.end(infallible(r))
    }

    /// The next planned actions (possibly none), or `None` once every key
    /// of the kloset was seen.
    pub async fn plan_page(&mut self) -> Result<Option<Vec<RecoveryAction>>, HostError> {
        let store = &mut *self.store;
        let meter = store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().recovery();
        let r = metered(&meter, r.call_plan_page(&mut store.store, self.resource)).await;
        store.end(r)
    }

    /// Carries out one planned action.
    pub async fn apply(&mut self, action: &RecoveryAction) -> Result<(), HostError> {
        let store = &mut *self.store;
        let meter = store.begin()?;
        let r = store.bindings.kloset_s3_kloset_store().recovery();
        let r = metered(
            &meter,
            r.call_apply(&mut store.store, self.resource, action),
        )
        .await;
        store.end(r)
    }

    /// Drops the recovery in the component.
    pub async fn release(self) -> Result<(), HostError> {
        self.store.drop_resource(self.resource).await
    }
}

fn guest(bindings: &KlosetS3) -> GuestStore<'_> {
    bindings.kloset_s3_kloset_store().store()
}

fn start_call(store: &mut Store<Sandbox>) {
    store.data().call.start_call(Instant::now());
    store.set_epoch_deadline(1);
}

/// What a call returned, or why it killed the instance: a trap, or a limit
/// of the call.
fn survived<T>(
    store: &Store<Sandbox>,
    r: Result<wasmtime::Result<T>, Exceeded>,
) -> Result<T, String> {
    match r {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(trap_message(store, &e)),
        Err(exceeded) => Err(exceeded.to_string()),
    }
}

/// A call whose WIT result cannot fail, as one that can.
fn infallible<T>(r: Result<wasmtime::Result<T>, Exceeded>) -> Called<T> {
    r.map(|r| r.map(Ok))
}

/// `error` with what the host knows of the TLS failure behind it: the
/// component only saw `TlsCertificateError` or the like.
fn with_tls_failure(error: kloset_s3::error::Error, failure: &str) -> kloset_s3::error::Error {
    use kloset_s3::error::Error;
    match error {
        Error::Other(m) => Error::Other(format!("{m}: {failure}")),
        Error::Unavailable(m) => Error::Unavailable(format!("{m}: {failure}")),
        other => other,
    }
}

/// One line saying why the instance died, naming the limit when one is the
/// likely cause.
fn trap_message(store: &Store<Sandbox>, e: &wasmtime::Error) -> String {
    let sandbox = store.data();
    let memory = &sandbox.memory;
    // The root cause says what happened; the wasm backtrace above it only
    // names functions of a stripped binary.
    tracing::debug!(error = ?e, "the component trapped");
    let cause = e
        .chain()
        .last()
        .map_or_else(|| e.to_string(), ToString::to_string);
    let table_full = e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<ResourceTableError>(),
            Some(ResourceTableError::Full)
        )
    });
    if table_full {
        format!(
            "{cause}: the component holds {} wasi resources (header fields, requests, \
             bodies, streams, pollables), the most its memory limit of {} MiB allows \
             (--memory-limit)",
            sandbox.max_resources(),
            memory.limit() >> 20
        )
    } else if memory.refused() {
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
