//! The export glue: WIT `kloset-store` onto [`crate::store`], `importer` onto
//! [`crate::import`], `exporter` onto [`crate::export`]. Conversions only;
//! every decision lives in the pure modules.

use std::cell::RefCell;

use crate::config::{Config, LockMode};
use crate::download::Download;
use crate::error::Error;
use crate::export::Exporter;
use crate::import::{Importer, Record};
use crate::layout::{Kind, Mac};
use crate::retention::Retention;
use crate::secret::Secret;
use crate::store::{Listed, Store};
use crate::transport::WasiTransport;
use crate::upload::Upload;
use crate::versions::{Action, Recovery, Step};

wit_bindgen::generate!({
    world: "kloset-s3",
    path: "wit",
    with: {
        "wasi:http/outgoing-handler@0.2.12": wasi::http::outgoing_handler,
        "wasi:http/types@0.2.12": wasi::http::types,
        "wasi:io/poll@0.2.12": wasi::io::poll,
        "wasi:io/streams@0.2.12": wasi::io::streams,
        "wasi:io/error@0.2.12": wasi::io::error,
        "wasi:clocks/monotonic-clock@0.2.12": wasi::clocks::monotonic_clock,
        "wasi:clocks/wall-clock@0.2.12": wasi::clocks::wall_clock,
        "wasi:random/random@0.2.12": wasi::random::random,
    },
});

use exports::kloset::s3::exporter as wit_exporter;
use exports::kloset::s3::importer as wit_importer;
use exports::kloset::s3::kloset_store as wit;

struct Component;

export!(Component);

type WitResult<T> = Result<T, wit::Error>;

impl wit::Guest for Component {
    type Store = StoreResource;
    type Listing = ListingResource;
    type Upload = UploadResource;
    type Download = DownloadResource;
    type Recovery = RecoveryResource;

    fn new_store(config: Vec<(String, String)>) -> WitResult<wit::Store> {
        let config = Config::parse(&config).map_err(to_wit)?;
        remember_secrets(&config);
        let inner = Store::new(config, WasiTransport);
        inner.check_config().map_err(to_wit)?;
        Ok(wit::Store::new(StoreResource { inner }))
    }
}

struct StoreResource {
    inner: Store<WasiTransport>,
}

impl wit_importer::Guest for Component {
    type Importer = ImporterResource;

    fn new_importer(config: Vec<(String, String)>) -> WitResult<wit_importer::Importer> {
        let config = Config::parse(&config).map_err(to_wit)?;
        remember_secrets(&config);
        let importer = Importer::new(config, WasiTransport);
        Ok(wit_importer::Importer::new(ImporterResource(RefCell::new(
            importer,
        ))))
    }
}

impl wit_exporter::Guest for Component {
    type Exporter = ExporterResource;

    fn new_exporter(config: Vec<(String, String)>) -> WitResult<wit_exporter::Exporter> {
        let config = Config::parse(&config).map_err(to_wit)?;
        remember_secrets(&config);
        Ok(wit_exporter::Exporter::new(ExporterResource(
            Exporter::new(config, WasiTransport),
        )))
    }
}

struct ImporterResource(RefCell<Importer<WasiTransport>>);
struct ExporterResource(Exporter<WasiTransport>);

impl wit_importer::GuestImporter for ImporterResource {
    fn next_page(&self) -> WitResult<Option<Vec<wit_importer::Item>>> {
        let page = self.0.borrow_mut().next_page().map_err(to_wit)?;
        Ok(page.map(|records| records.into_iter().map(item_to_wit).collect()))
    }

    fn open(&self, path: String, etag: String) -> WitResult<wit::Download> {
        let download = self.0.borrow().open(&path, &etag).map_err(to_wit)?;
        Ok(wit::Download::new(DownloadResource(RefCell::new(download))))
    }
}

impl wit_exporter::GuestExporter for ExporterResource {
    fn create_file(
        &self,
        path: String,
        attributes: Vec<(String, String)>,
    ) -> WitResult<wit::Upload> {
        let upload = self.0.create_file(&path, &attributes).map_err(to_wit)?;
        Ok(wit::Upload::new(UploadResource(RefCell::new(upload))))
    }
}

fn item_to_wit(record: Record) -> wit_importer::Item {
    match record {
        Record::Entry(e) => wit_importer::Item::Entry(wit_importer::Entry {
            path: e.path,
            size: e.size,
            mtime: e.mtime,
            directory: e.directory,
            etag: e.etag,
            attributes: e.attributes,
        }),
        Record::Failure { key, message } => {
            let message = redact(Error::Other(message));
            wit_importer::Item::Failure(wit_importer::KeyFailure { key, message })
        }
    }
}

/// An error's message without any secret of this instance.
fn redact(error: Error) -> String {
    SECRETS.with_borrow(|known| {
        let secrets: Vec<&str> = known.iter().map(Secret::expose).collect();
        match error.redacted(&secrets) {
            Error::Other(m) => m,
            other => other.to_string(),
        }
    })
}

struct ListingResource(RefCell<Listed<WasiTransport>>);
struct UploadResource(RefCell<Upload<WasiTransport>>);
struct DownloadResource(RefCell<Download<WasiTransport>>);
struct RecoveryResource(RefCell<Recovery<WasiTransport>>);

impl wit::GuestStore for StoreResource {
    fn create(&self, config: Vec<u8>) -> WitResult<()> {
        self.inner.create(&config).map_err(to_wit)
    }

    fn open(&self) -> WitResult<Vec<u8>> {
        self.inner.open().map_err(to_wit)
    }

    fn ping(&self) -> WitResult<()> {
        self.inner.ping().map_err(to_wit)
    }

    fn origin(&self) -> String {
        self.inner.shared().config.origin()
    }

    fn type_(&self) -> String {
        "s3".into()
    }

    fn root(&self) -> String {
        self.inner.shared().config.root()
    }

    fn flags(&self) -> u32 {
        0
    }

    fn mode(&self) -> WitResult<wit::Mode> {
        self.inner.shared().check_open().map_err(to_wit)?;
        Ok(match (self.inner.readable(), self.inner.writable()) {
            (true, true) => wit::Mode::READ | wit::Mode::WRITE,
            (true, false) => wit::Mode::READ,
            (false, true) => wit::Mode::WRITE,
            (false, false) => wit::Mode::empty(),
        })
    }

    fn size(&self) -> WitResult<i64> {
        self.inner.size().map_err(to_wit)
    }

    fn list(&self, kind: wit::ResourceKind, _: wit::StorageFlags) -> WitResult<wit::Listing> {
        let listing = self.inner.list(kind_of(kind)?).map_err(to_wit)?;
        Ok(wit::Listing::new(ListingResource(RefCell::new(listing))))
    }

    fn put(
        &self,
        kind: wit::ResourceKind,
        mac: Vec<u8>,
        flags: wit::StorageFlags,
    ) -> WitResult<wit::Upload> {
        let hot = flags & wit::StorageFlags::HOT == wit::StorageFlags::HOT;
        let upload = self
            .inner
            .put(kind_of(kind)?, &mac_of(&mac)?, hot)
            .map_err(to_wit)?;
        Ok(wit::Upload::new(UploadResource(RefCell::new(upload))))
    }

    fn get(
        &self,
        kind: wit::ResourceKind,
        mac: Vec<u8>,
        range: Option<wit::Range>,
        _: wit::StorageFlags,
    ) -> WitResult<wit::Download> {
        let range = range.map(|r| (r.offset, r.length));
        let download = self
            .inner
            .get(kind_of(kind)?, &mac_of(&mac)?, range)
            .map_err(to_wit)?;
        Ok(wit::Download::new(DownloadResource(RefCell::new(download))))
    }

    fn delete(&self, kind: wit::ResourceKind, mac: Vec<u8>, _: wit::StorageFlags) -> WitResult<()> {
        self.inner
            .delete(kind_of(kind)?, &mac_of(&mac)?)
            .map_err(to_wit)
    }

    fn lock_settings(&self) -> WitResult<wit::LockSettings> {
        let (policy, bucket) = self.inner.lock_settings().map_err(to_wit)?;
        Ok(wit::LockSettings {
            policy: policy.map(|lock| wit::LockPolicy {
                mode: mode_to_wit(lock.mode),
                retention_seconds: lock.retention.as_secs(),
            }),
            bucket: bucket.map(|b| wit::BucketLock {
                enabled: b.enabled,
                default_mode: b.default_mode.map(mode_to_wit),
                default_days: b.default_days,
                default_years: b.default_years,
            }),
        })
    }

    fn extend_retention(&self, kind: wit::ResourceKind, mac: Vec<u8>) -> WitResult<wit::Retention> {
        let (retention, extended): (Retention, bool) = self
            .inner
            .extend_retention(kind_of(kind)?, &mac_of(&mac)?)
            .map_err(to_wit)?;
        Ok(wit::Retention {
            mode: mode_to_wit(retention.mode),
            retain_until: retention.until_text(),
            extended,
        })
    }

    fn recovery(&self, to: String) -> WitResult<wit::Recovery> {
        let recovery = self.inner.recovery(&to).map_err(to_wit)?;
        Ok(wit::Recovery::new(RecoveryResource(RefCell::new(recovery))))
    }

    fn close(&self) -> WitResult<()> {
        self.inner.close().map_err(to_wit)
    }

    fn stats(&self) -> wit::Stats {
        let stats = self.inner.shared().client.stats();
        wit::Stats {
            requests: stats.requests,
            retries: stats.retries,
        }
    }

    fn take_warnings(&self) -> Vec<String> {
        let warnings = self.inner.take_warnings();
        SECRETS.with_borrow(|known| {
            let secrets: Vec<&str> = known.iter().map(Secret::expose).collect();
            warnings
                .into_iter()
                .map(|w| Error::Other(w).redacted(&secrets).to_string())
                .collect()
        })
    }
}

impl wit::GuestListing for ListingResource {
    fn next_page(&self) -> WitResult<Option<Vec<Vec<u8>>>> {
        let page = self.0.borrow_mut().next_page().map_err(to_wit)?;
        Ok(page.map(|macs| macs.iter().map(|m| m.0.to_vec()).collect()))
    }
}

impl wit::GuestUpload for UploadResource {
    fn write(&self, data: Vec<u8>) -> WitResult<()> {
        self.0.borrow_mut().write(&data).map_err(to_wit)
    }

    fn finish(&self) -> WitResult<u64> {
        self.0.borrow_mut().finish().map_err(to_wit)
    }

    fn abort(&self) -> WitResult<()> {
        self.0.borrow_mut().abort().map_err(to_wit)
    }
}

impl wit::GuestDownload for DownloadResource {
    fn length(&self) -> u64 {
        self.0.borrow().length()
    }

    fn read(&self, max: u32) -> WitResult<Option<Vec<u8>>> {
        self.0.borrow_mut().read(max as usize).map_err(to_wit)
    }
}

impl wit::GuestRecovery for RecoveryResource {
    fn at(&self) -> String {
        self.0.borrow().at().text()
    }

    fn plan_page(&self) -> WitResult<Option<Vec<wit::RecoveryAction>>> {
        let page = self.0.borrow_mut().plan_page().map_err(to_wit)?;
        Ok(page.map(|actions| actions.into_iter().map(action_to_wit).collect()))
    }

    fn apply(&self, action: wit::RecoveryAction) -> WitResult<()> {
        self.0.borrow().apply(&action_of(action)).map_err(to_wit)
    }
}

fn action_to_wit(action: Action) -> wit::RecoveryAction {
    wit::RecoveryAction {
        step: match action.step {
            Step::Restore => wit::RecoveryStep::Restore,
            Step::Hide => wit::RecoveryStep::Hide,
        },
        last_modified: crate::versions::millis_text(action.last_modified_ms),
        key: action.key,
        version_id: action.version_id,
        size: action.size,
    }
}

/// Only the step, key and version matter to `apply`.
fn action_of(action: wit::RecoveryAction) -> Action {
    Action {
        step: match action.step {
            wit::RecoveryStep::Restore => Step::Restore,
            wit::RecoveryStep::Hide => Step::Hide,
        },
        last_modified_ms: crate::xml::parse_millis(&action.last_modified).unwrap_or_default(),
        key: action.key,
        version_id: action.version_id,
        size: action.size,
    }
}

fn kind_of(kind: wit::ResourceKind) -> WitResult<Kind> {
    match kind {
        wit::ResourceKind::Packfile => Ok(Kind::Packfile),
        wit::ResourceKind::State => Ok(Kind::State),
        wit::ResourceKind::Lock => Ok(Kind::Lock),
        wit::ResourceKind::EccPackfile | wit::ResourceKind::EccState => Err(to_wit(
            Error::Unsupported("the S3 store keeps no ECC packfiles or states".into()),
        )),
    }
}

fn mode_to_wit(mode: LockMode) -> wit::LockMode {
    match mode {
        LockMode::Governance => wit::LockMode::Governance,
        LockMode::Compliance => wit::LockMode::Compliance,
    }
}

fn mac_of(mac: &[u8]) -> WitResult<Mac> {
    Mac::from_slice(mac).map_err(to_wit)
}

thread_local! {
    /// The secrets of every store of this instance. Every error leaves through
    /// [`to_wit`], which removes them: a server may echo the session token or
    /// the SSE-C key it was sent in what we quote of its answers.
    static SECRETS: RefCell<Vec<Secret>> = const { RefCell::new(Vec::new()) };
}

fn remember_secrets(config: &Config) {
    let sse = config.sse_customer_key.as_ref().map(|k| k.key_base64());
    let secrets = [Some(&config.secret_key), config.session_token.as_ref(), sse];
    SECRETS.with_borrow_mut(|known| {
        for secret in secrets.into_iter().flatten() {
            if !known.contains(secret) {
                known.push(secret.clone());
            }
        }
    });
}

fn to_wit(error: Error) -> wit::Error {
    let error = SECRETS.with_borrow(|known| {
        let secrets: Vec<&str> = known.iter().map(Secret::expose).collect();
        error.redacted(&secrets)
    });
    match error {
        Error::NotFound(m) => wit::Error::NotFound(m),
        Error::AlreadyExists(m) => wit::Error::AlreadyExists(m),
        Error::InvalidConfig { key, message } => {
            wit::Error::InvalidConfig(wit::ConfigFailure { key, message })
        }
        Error::InvalidArgument(m) => wit::Error::InvalidArgument(m),
        Error::Auth(f) => wit::Error::Auth(wit::S3Failure {
            status: f.status,
            code: f.code,
            message: f.message,
            request_id: f.request_id,
        }),
        Error::PermissionDenied(m) => wit::Error::PermissionDenied(m),
        Error::Unsupported(m) => wit::Error::Unsupported(m),
        Error::Corrupted(m) => wit::Error::Corrupted(m),
        Error::Unavailable(m) => wit::Error::Unavailable(m),
        Error::Other(m) => wit::Error::Other(m),
    }
}
