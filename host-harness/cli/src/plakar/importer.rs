//! `importer.Importer`: Plakar's importer service (a bucket backed up as
//! files), mapped onto the component's importer.
//!
//! | RPC | host library call |
//! |---|---|
//! | `Init` | `Host::open_importer` with the configuration (checked there) |
//! | `Import` | `ImporterHandle::next_page` until the last page: one record per entry or failure, one xattr record per attribute, then `finished` |
//! | `Open` | a file: `ImporterHandle::open` (pinned to the listed ETag) on an instance of its own, one message per chunk; an xattr: its value |
//! | `Close` | later calls fail |
//!
//! Opens run concurrently, each on an instance of its own (kept for the
//! next Open). What a record's Opens need (the ETag and attribute values)
//! is kept from the record's sending until its last Open.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use kloset_host::{Entry, Host, HostOptions, ImporterHandle, Item};
use kloset_plakar_proto::importer::importer_server::Importer;
use kloset_plakar_proto::importer::{
    CloseRequest, CloseResponse, ImportRequest, ImportResponse, InitRequest, InitResponse,
    OpenRequest, OpenResponse, PingRequest, PingResponse,
};
use kloset_plakar_proto::plakar::connectors::{ExtendedAttributeType, FileInfo, Record};
use kloset_plakar_proto::prost_types::Timestamp;
use tokio::sync::{mpsc, Mutex};
use tonic::{Request, Response, Status, Streaming};

use super::{chunks, config, status};

/// Go's `fs.FileMode` directory bit.
const MODE_DIR: u32 = 1 << 31;
/// Records sent ahead of Plakar's acknowledgements.
const AHEAD: usize = 64;

type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

pub struct ImporterService {
    options: HostOptions,
    state: Mutex<State>,
}

enum State {
    New,
    Open(Arc<Opened>),
    Closed,
}

struct Opened {
    host: Host,
    config: Vec<(String, String)>,
    /// Instances not reading a file right now.
    idle: Mutex<Vec<ImporterHandle>>,
    /// Per path: the ETag, the attributes, and the Opens still to come.
    pending: std::sync::Mutex<HashMap<String, Pending>>,
}

struct Pending {
    etag: String,
    attributes: Vec<(String, String)>,
    opens_left: usize,
}

impl ImporterService {
    pub fn new(options: HostOptions) -> ImporterService {
        ImporterService {
            options,
            state: Mutex::new(State::New),
        }
    }

    async fn opened(&self) -> Result<Arc<Opened>, Status> {
        match &*self.state.lock().await {
            State::Open(opened) => Ok(opened.clone()),
            State::New => Err(Status::failed_precondition(
                "the importer is not initialised: Init must be the first call",
            )),
            State::Closed => Err(Status::failed_precondition("the importer was closed")),
        }
    }
}

#[tonic::async_trait]
impl Importer for ImporterService {
    async fn init(&self, request: Request<InitRequest>) -> Result<Response<InitResponse>, Status> {
        let mut state = self.state.lock().await;
        if !matches!(*state, State::New) {
            return Err(Status::failed_precondition("Init was already called"));
        }
        let (pairs, _) =
            config::split(request.into_inner().config).map_err(Status::invalid_argument)?;
        let parsed = kloset_s3::config::Config::parse(&pairs).map_err(|e| status::of(e.into()))?;
        let options = self.options.clone();
        let host = tokio::task::spawn_blocking(move || Host::new(options))
            .await
            .map_err(|e| Status::internal(format!("loading the component failed: {e}")))?
            .map_err(status::of)?;
        // The component checks the configuration too.
        let first = host.open_importer(&pairs).await.map_err(status::of)?;
        *state = State::Open(Arc::new(Opened {
            host,
            config: pairs,
            idle: Mutex::new(vec![first]),
            pending: std::sync::Mutex::default(),
        }));
        Ok(Response::new(InitResponse {
            origin: parsed.origin(),
            r#type: "s3".into(),
            root: parsed.root(),
            flags: 0,
        }))
    }

    async fn ping(&self, _: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        self.opened().await?;
        Ok(Response::new(PingResponse {}))
    }

    type ImportStream = Stream_<ImportResponse>;

    /// Records page by page from an instance of its own, then `finished`;
    /// Plakar's acknowledgements are read until it half-closes.
    async fn import(
        &self,
        request: Request<Streaming<ImportRequest>>,
    ) -> Result<Response<Self::ImportStream>, Status> {
        let opened = self.opened().await?;
        let importer = opened
            .host
            .open_importer(&opened.config)
            .await
            .map_err(status::of)?;
        let mut acks = request.into_inner();
        tokio::spawn(async move {
            while let Ok(Some(ack)) = acks.message().await {
                let failed = ack.result.filter(|r| !r.error.is_empty());
                if let Some(result) = failed {
                    let path = result.header.map(|h| h.pathname).unwrap_or_default();
                    eprintln!("kloset-host plakar: {path}: {}", result.error);
                }
            }
        });
        let (sender, receiver) = mpsc::channel(AHEAD);
        tokio::spawn(send_records(opened, importer, sender));
        let records = futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|record| (record, receiver))
        });
        Ok(Response::new(Box::pin(records)))
    }

    type OpenStream = Stream_<OpenResponse>;

    async fn open(
        &self,
        request: Request<OpenRequest>,
    ) -> Result<Response<Self::OpenStream>, Status> {
        let opened = self.opened().await?;
        let record = request
            .into_inner()
            .record
            .ok_or_else(|| Status::invalid_argument("Open: no record"))?;
        let (etag, value) = opened.take_open(&record)?;
        if let Some(value) = value {
            let message = Ok(OpenResponse {
                chunk: value.into_bytes().into(),
            });
            return Ok(Response::new(Box::pin(futures::stream::iter([message]))));
        }
        let importer = match opened.idle.lock().await.pop() {
            Some(importer) => importer,
            None => opened
                .host
                .open_importer(&opened.config)
                .await
                .map_err(status::of)?,
        };
        let (sender, receiver) = mpsc::channel(2);
        tokio::spawn(send_file(opened, importer, record.pathname, etag, sender));
        let chunks = futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn close(&self, _: Request<CloseRequest>) -> Result<Response<CloseResponse>, Status> {
        let mut state = self.state.lock().await;
        match &*state {
            State::Open(_) => {
                *state = State::Closed;
                Ok(Response::new(CloseResponse {}))
            }
            State::New => Err(Status::failed_precondition(
                "the importer is not initialised: Init must be the first call",
            )),
            State::Closed => Err(Status::failed_precondition(
                "the importer was already closed",
            )),
        }
    }
}

impl Opened {
    /// Remembers what the Opens of `entry` need.
    fn expect_opens(&self, entry: &Entry) {
        let pending = Pending {
            etag: entry.etag.clone(),
            attributes: entry.attributes.clone(),
            opens_left: 1 + entry.attributes.len(),
        };
        let mut all = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        all.insert(entry.path.clone(), pending);
    }

    /// The ETag of the file `record` opens, and the value when it is an
    /// xattr; forgets the path after its last Open.
    fn take_open(&self, record: &Record) -> Result<(String, Option<String>), Status> {
        let path = &record.pathname;
        let mut all = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let pending = all.get_mut(path).ok_or_else(|| {
            Status::not_found(format!(
                "{path}: no such record was imported, or it was read already"
            ))
        })?;
        let value = match record.is_xattr {
            true => Some(
                pending
                    .attributes
                    .iter()
                    .find(|(name, _)| *name == record.xattr_name)
                    .map(|(_, value)| value.clone())
                    .ok_or_else(|| {
                        Status::not_found(format!("{path}: no attribute {}", record.xattr_name))
                    })?,
            ),
            false => None,
        };
        let etag = pending.etag.clone();
        pending.opens_left = pending.opens_left.saturating_sub(1);
        if pending.opens_left == 0 {
            all.remove(path);
        }
        Ok((etag, value))
    }
}

async fn send_records(
    opened: Arc<Opened>,
    mut importer: ImporterHandle,
    sender: mpsc::Sender<Result<ImportResponse, Status>>,
) {
    let record = |record| {
        Ok(ImportResponse {
            record: Some(record),
            finished: false,
        })
    };
    loop {
        let page = match importer.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => break,
            Err(e) => {
                let _ = sender.send(Err(status::of(e))).await;
                return;
            }
        };
        for item in page {
            let records = match item {
                Item::Entry(entry) => {
                    if !entry.directory {
                        opened.expect_opens(&entry);
                    }
                    records_of(&entry)
                }
                Item::Failure(failure) => vec![Record {
                    pathname: format!("/{}", failure.key),
                    error: failure.message,
                    ..Record::default()
                }],
            };
            for r in records {
                if sender.send(record(r)).await.is_err() {
                    return;
                }
            }
        }
    }
    let finished = ImportResponse {
        record: None,
        finished: true,
    };
    let _ = sender.send(Ok(finished)).await;
}

/// A file or directory record, then one xattr record per attribute.
fn records_of(entry: &Entry) -> Vec<Record> {
    let name = entry.path.rsplit('/').next().unwrap_or_default().to_owned();
    let mode = match entry.directory {
        true => MODE_DIR | 0o755,
        false => 0o644,
    };
    let info = FileInfo {
        name: if entry.path == "/" { "/".into() } else { name },
        size: i64::try_from(entry.size).unwrap_or(i64::MAX),
        mode,
        mod_time: Some(Timestamp {
            seconds: i64::try_from(entry.mtime).unwrap_or(i64::MAX),
            nanos: 0,
        }),
        nlink: 1,
        ..FileInfo::default()
    };
    let mut records = vec![Record {
        has_reader: !entry.directory,
        pathname: entry.path.clone(),
        file_info: Some(info.clone()),
        extended_attributes: entry.attributes.iter().map(|(n, _)| n.clone()).collect(),
        ..Record::default()
    }];
    records.extend(entry.attributes.iter().map(|(name, value)| Record {
        has_reader: true,
        pathname: entry.path.clone(),
        is_xattr: true,
        xattr_name: name.clone(),
        xattr_type: ExtendedAttributeType::Extended as i32,
        file_info: Some(FileInfo {
            size: value.len() as i64,
            ..info.clone()
        }),
        ..Record::default()
    }));
    records
}

/// Streams one file's chunks; the instance goes back to the idle ones.
async fn send_file(
    opened: Arc<Opened>,
    mut importer: ImporterHandle,
    path: String,
    etag: String,
    sender: mpsc::Sender<Result<OpenResponse, Status>>,
) {
    let download = importer.open(&path, &etag).await;
    chunks::send(download, &sender, |chunk| OpenResponse {
        chunk: chunk.into(),
    })
    .await;
    opened.idle.lock().await.push(importer);
}
