//! `store.Store`: Plakar's storage service, mapped onto a [`StorePool`] of the
//! component.
//!
//! | RPC | host library call |
//! |---|---|
//! | `Init` | [`StorePool::new`] with the configuration, then one instance's `origin`, `type`, `root`, `flags` |
//! | `Create`, `Open`, `Ping`, `Mode`, `Size`, `Delete` | the `StoreHandle` method of that name |
//! | `List` | `StoreHandle::listing`, every page, one reply |
//! | `Put` | `StoreHandle::upload_with`, `write` per ~1 MiB, `finish`; `abort` on any failure |
//! | `Get` | `StoreHandle::download`, one message per chunk read |
//! | `Close` | drops the pool; later calls fail |
//!
//! Each call checks out its own instance of the pool, so Plakar's concurrent
//! Puts and Gets run in parallel, up to the pool's size. Arguments are
//! checked before an instance is taken; an instance that traps is dropped
//! by the pool and the next call opens a fresh one.

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use kloset_host::{
    Host, HostError, Mode, PooledStore, Range, ResourceKind, StorageFlags, StorePool, Upload, CHUNK,
};
use kloset_plakar_proto::store::store_server::Store;
use kloset_plakar_proto::store::{
    CloseRequest, CloseResponse, CreateRequest, CreateResponse, DeleteRequest, DeleteResponse,
    GetRequest, GetResponse, InitRequest, InitResponse, ListRequest, ListResponse, ModeRequest,
    ModeResponse, OpenRequest, OpenResponse, PingRequest, PingResponse, PutRequest, PutResponse,
    SizeRequest, SizeResponse, StorageResource,
};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status, Streaming};

use super::{chunks, config, status};

/// kloset's `storage.Mode` bits.
const MODE_WRITE: i32 = 2;
const MODE_READ: i32 = 4;
/// kloset's `StorageHot`; other bits are flags of a newer Plakar, ignored.
const FLAG_HOT: i32 = 1;
/// Chunks of a Get read ahead of the client.
const GET_AHEAD: usize = 2;
/// The most MACs Plakar's client takes in one List reply (4 MiB, 34 bytes
/// a MAC on the wire).
const PLAKAR_LIST_LIMIT: usize = (4 << 20) / 34;

pub struct StoreService {
    state: Mutex<State>,
}

enum State {
    /// Before a successful `Init`: the component is being compiled, or is.
    New(Compiling),
    Open(StorePool),
    Closed,
}

enum Compiling {
    Pending(JoinHandle<Result<Host, HostError>>),
    Done(Result<Host, String>),
}

impl StoreService {
    pub fn new(compiling: JoinHandle<Result<Host, HostError>>) -> StoreService {
        StoreService {
            state: Mutex::new(State::New(Compiling::Pending(compiling))),
        }
    }

    /// The pool every call but `Init` and `Close` uses.
    async fn pool(&self) -> Result<StorePool, Status> {
        match &*self.state.lock().await {
            State::Open(pool) => Ok(pool.clone()),
            State::New(_) => Err(Status::failed_precondition(
                "the store is not initialised: Init must be the first call",
            )),
            State::Closed => Err(Status::failed_precondition("the store was closed")),
        }
    }

    async fn checkout(&self) -> Result<PooledStore, Status> {
        self.pool().await?.checkout().await.map_err(status::of)
    }
}

impl Compiling {
    async fn host(&mut self) -> Result<Host, String> {
        if let Compiling::Pending(handle) = self {
            let host = match handle.await {
                Ok(host) => host.map_err(|e| e.to_string()),
                Err(e) => Err(format!("loading the component failed: {e}")),
            };
            *self = Compiling::Done(host);
        }
        match self {
            Compiling::Done(host) => host.clone(),
            Compiling::Pending(_) => unreachable!("awaited above"),
        }
    }
}

type GetStream = Pin<Box<dyn Stream<Item = Result<GetResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Store for StoreService {
    /// Builds the store from the configuration, as `-o key=value` does; a
    /// configuration the component refuses leaves the plugin uninitialised
    /// (another `Init` may follow), a second `Init` after a successful one
    /// is refused.
    async fn init(&self, request: Request<InitRequest>) -> Result<Response<InitResponse>, Status> {
        let mut state = self.state.lock().await;
        let compiling =
            match &mut *state {
                State::New(compiling) => compiling,
                State::Open(_) => return Err(Status::failed_precondition(
                    "Init was already called: this plugin serves the store it was initialised with",
                )),
                State::Closed => return Err(Status::failed_precondition("the store was closed")),
            };
        let (pairs, size) =
            config::split(request.into_inner().config).map_err(Status::invalid_argument)?;
        let host = compiling
            .host()
            .await
            .map_err(Status::failed_precondition)?;
        let pool = StorePool::new(host, pairs, size);
        let reply = {
            let mut store = pool.checkout().await.map_err(status::of)?;
            InitResponse {
                origin: store.origin().await.map_err(status::of)?,
                r#type: store.type_name().await.map_err(status::of)?,
                root: store.root().await.map_err(status::of)?,
                flags: store.flags().await.map_err(status::of)?,
            }
        };
        *state = State::Open(pool);
        Ok(Response::new(reply))
    }

    async fn create(
        &self,
        request: Request<CreateRequest>,
    ) -> Result<Response<CreateResponse>, Status> {
        let config = request.into_inner().config;
        let mut store = self.checkout().await?;
        store.create(&config).await.map_err(status::of)?;
        Ok(Response::new(CreateResponse {}))
    }

    async fn open(&self, _: Request<OpenRequest>) -> Result<Response<OpenResponse>, Status> {
        let config = self.checkout().await?.open().await.map_err(status::of)?;
        Ok(Response::new(OpenResponse {
            config: config.into(),
        }))
    }

    async fn ping(&self, _: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        self.checkout().await?.ping().await.map_err(status::of)?;
        Ok(Response::new(PingResponse {}))
    }

    async fn mode(&self, _: Request<ModeRequest>) -> Result<Response<ModeResponse>, Status> {
        let mode = self.checkout().await?.mode().await.map_err(status::of)?;
        Ok(Response::new(ModeResponse {
            mode: mode_bits(mode),
        }))
    }

    async fn size(&self, _: Request<SizeRequest>) -> Result<Response<SizeResponse>, Status> {
        let size = self.checkout().await?.size().await.map_err(status::of)?;
        Ok(Response::new(SizeResponse { size }))
    }

    /// One reply with every MAC: the protocol has no paging. Plakar's client
    /// takes replies of 4 MiB at most, about 123 000 MACs.
    async fn list(&self, request: Request<ListRequest>) -> Result<Response<ListResponse>, Status> {
        let request = request.into_inner();
        let kind = resource(request.r#type)?;
        let flags = storage_flags(request.flags);
        let mut store = self.checkout().await?;
        let mut listing = store.listing(kind, flags).await.map_err(status::of)?;
        let mut macs = Vec::new();
        let read = async {
            while let Some(page) = listing.next_page().await? {
                macs.extend(page.iter().map(|mac| Bytes::copy_from_slice(mac)));
            }
            Ok(())
        }
        .await;
        listing.release().await.map_err(status::of)?;
        read.map_err(status::of)?;
        if macs.len() > PLAKAR_LIST_LIMIT {
            eprintln!(
                "kloset-host plakar: listing {kind:?} found {} MACs, more than a Plakar client \
                 takes in one reply (about {PLAKAR_LIST_LIMIT}): it may refuse the reply",
                macs.len()
            );
        }
        Ok(Response::new(ListResponse { macs }))
    }

    /// The first message names the object (mac, type, flags); the chunks
    /// follow until the client half-closes. Only then is the object
    /// finished (made visible); any failure before aborts it, leaving
    /// nothing in the bucket.
    async fn put(
        &self,
        request: Request<Streaming<PutRequest>>,
    ) -> Result<Response<PutResponse>, Status> {
        let mut messages = request.into_inner();
        let first = messages.message().await?.ok_or_else(|| {
            Status::invalid_argument("Put: the stream ended before its first message (mac, type)")
        })?;
        let kind = resource(first.r#type)?;
        let mac = mac(&first.mac)?;
        let flags = storage_flags(first.flags);
        let mut store = self.checkout().await?;
        let mut upload = store
            .upload_with(kind, &mac, flags)
            .await
            .map_err(status::of)?;
        let received = receive(&mut upload, first.chunk, &mut messages).await;
        let stored = match received {
            Ok(received) => upload
                .finish()
                .await
                .map_err(status::of)
                .and_then(|stored| agree(received, stored)),
            Err(status) => {
                // Best effort: the failure reported is the one that stopped us.
                let _ = upload.abort().await;
                Err(status)
            }
        };
        upload.release().await.map_err(status::of)?;
        let bytes_written = stored? as i64;
        Ok(Response::new(PutResponse { bytes_written }))
    }

    type GetStream = GetStream;

    /// Chunks of about 1 MiB, read ahead by a task that holds the instance.
    /// The stream ends OK only after the component checked the whole object
    /// against its digest; a mismatch ends it with `DATA_LOSS` instead, so
    /// Plakar never takes corrupted bytes as good.
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetStream>, Status> {
        let request = request.into_inner();
        let kind = resource(request.r#type)?;
        let mac = mac(&request.mac)?;
        let flags = storage_flags(request.flags);
        let range = request.range.map(|r| Range {
            offset: r.offset,
            length: r.length,
        });
        let store = self.checkout().await?;
        let (sender, receiver) = mpsc::channel(GET_AHEAD);
        tokio::spawn(send_object(store, kind, mac, range, flags, sender));
        let chunks = futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn delete(
        &self,
        request: Request<DeleteRequest>,
    ) -> Result<Response<DeleteResponse>, Status> {
        let request = request.into_inner();
        let kind = resource(request.r#type)?;
        let mac = mac(&request.mac)?;
        let flags = storage_flags(request.flags);
        let mut store = self.checkout().await?;
        store
            .delete_with(kind, &mac, flags)
            .await
            .map_err(status::of)?;
        Ok(Response::new(DeleteResponse {}))
    }

    /// Drops the pool's idle instances; calls still running finish on
    /// theirs. Every later call fails. The process ends when Plakar closes
    /// the connection.
    async fn close(&self, _: Request<CloseRequest>) -> Result<Response<CloseResponse>, Status> {
        let mut state = self.state.lock().await;
        match &*state {
            State::Open(_) => {
                *state = State::Closed;
                Ok(Response::new(CloseResponse {}))
            }
            State::New(_) => Err(Status::failed_precondition(
                "the store is not initialised: Init must be the first call",
            )),
            State::Closed => Err(Status::failed_precondition("the store was already closed")),
        }
    }
}

/// Writes the chunks of a Put (the first message's, if any, then every
/// later message's) in pieces of [`CHUNK`] bytes; returns the bytes received.
async fn receive(
    upload: &mut Upload<'_>,
    first: Bytes,
    messages: &mut Streaming<PutRequest>,
) -> Result<u64, Status> {
    let mut received = first.len() as u64;
    let mut pending = BytesMut::new();
    pending.extend_from_slice(&first);
    let mut index = 1;
    while let Some(message) = messages.message().await? {
        index += 1;
        if !message.mac.is_empty() || message.r#type != 0 || message.flags != 0 {
            return Err(Status::invalid_argument(format!(
                "Put: only the first message names the object (mac, type, flags); message {index} does too"
            )));
        }
        received += message.chunk.len() as u64;
        if pending.is_empty() && message.chunk.len() >= CHUNK {
            upload.write(&message.chunk).await.map_err(status::of)?;
            continue;
        }
        pending.extend_from_slice(&message.chunk);
        if pending.len() >= CHUNK {
            upload.write(&pending).await.map_err(status::of)?;
            pending.clear();
        }
    }
    if !pending.is_empty() {
        upload.write(&pending).await.map_err(status::of)?;
    }
    Ok(received)
}

/// `bytes_written` is what Plakar sent; the component must have stored as much.
fn agree(received: u64, stored: u64) -> Result<u64, Status> {
    if received == stored {
        Ok(stored)
    } else {
        Err(Status::internal(format!(
            "Put: received {received} bytes but the component stored {stored}"
        )))
    }
}

/// The body of a Get, read by the instance `store` and sent chunk by chunk;
/// a failure ends the stream with its status. When the client goes away the
/// read stops and the instance goes back to the pool.
async fn send_object(
    mut store: PooledStore,
    kind: ResourceKind,
    mac: [u8; 32],
    range: Option<Range>,
    flags: StorageFlags,
    sender: mpsc::Sender<Result<GetResponse, Status>>,
) {
    let download = store.download(kind, &mac, range, flags).await;
    chunks::send(download, &sender, |chunk| GetResponse {
        chunk: chunk.into(),
    })
    .await;
}

/// kloset's resource types the S3 store keeps; the ECC ones it does not.
fn resource(value: i32) -> Result<ResourceKind, Status> {
    match StorageResource::try_from(value) {
        Ok(StorageResource::Packfile) => Ok(ResourceKind::Packfile),
        Ok(StorageResource::State) => Ok(ResourceKind::State),
        Ok(StorageResource::Lock) => Ok(ResourceKind::Lock),
        Ok(StorageResource::EccPackfile | StorageResource::EccState) => Err(Status::unimplemented(
            "the S3 store keeps no ECC packfiles or states",
        )),
        Ok(StorageResource::Undefined) => Err(Status::invalid_argument(
            "the resource type is missing (STORAGE_RESOURCE_UNDEFINED)",
        )),
        Err(_) => Err(Status::invalid_argument(format!(
            "unknown resource type {value}: packfile (1), state (2) or lock (3)"
        ))),
    }
}

fn mac(bytes: &[u8]) -> Result<[u8; 32], Status> {
    bytes.try_into().map_err(|_| {
        Status::invalid_argument(format!("a MAC is 32 bytes, this one is {}", bytes.len()))
    })
}

fn storage_flags(value: i32) -> StorageFlags {
    if value & FLAG_HOT != 0 {
        StorageFlags::HOT
    } else {
        StorageFlags::empty()
    }
}

fn mode_bits(mode: Mode) -> i32 {
    let mut bits = 0;
    if mode.contains(Mode::READ) {
        bits |= MODE_READ;
    }
    if mode.contains(Mode::WRITE) {
        bits |= MODE_WRITE;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn resource_types_map_to_kinds_or_to_a_clear_refusal() {
        assert_eq!(resource(1).unwrap(), ResourceKind::Packfile);
        assert_eq!(resource(2).unwrap(), ResourceKind::State);
        assert_eq!(resource(3).unwrap(), ResourceKind::Lock);
        assert_eq!(resource(4).unwrap_err().code(), Code::Unimplemented);
        assert_eq!(resource(5).unwrap_err().code(), Code::Unimplemented);
        assert_eq!(resource(0).unwrap_err().code(), Code::InvalidArgument);
        let unknown = resource(9).unwrap_err();
        assert_eq!(unknown.code(), Code::InvalidArgument);
        assert!(unknown.message().contains("unknown resource type 9"));
    }

    #[test]
    fn macs_are_32_bytes() {
        assert_eq!(mac(&[7; 32]).unwrap(), [7; 32]);
        let short = mac(&[7; 31]).unwrap_err();
        assert_eq!(short.code(), Code::InvalidArgument);
        assert!(short.message().contains("31"));
        assert!(mac(&[]).is_err());
    }

    #[test]
    fn modes_and_flags_use_klosets_numbers() {
        assert_eq!(mode_bits(Mode::READ | Mode::WRITE), 6);
        assert_eq!(mode_bits(Mode::WRITE), 2);
        assert_eq!(storage_flags(0), StorageFlags::empty());
        assert_eq!(storage_flags(1), StorageFlags::HOT);
        assert_eq!(storage_flags(2), StorageFlags::empty());
        assert_eq!(storage_flags(3), StorageFlags::HOT);
    }

    #[test]
    fn bytes_written_must_be_the_bytes_received() {
        assert_eq!(agree(5, 5).unwrap(), 5);
        assert_eq!(agree(5, 4).unwrap_err().code(), Code::Internal);
    }
}
