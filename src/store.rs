//! The kloset store: kloset's storage semantics (create, open, list, put, get,
//! delete) over S3 requests. Everything here is written against
//! [`Transport`], so the logic is the same whatever carries the bytes.

use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

use crate::actions::{self, ObjectOptions, WriteOptions};
use crate::bucket::Bucket;
use crate::client::{read_capped, Client, SendError, Transport};
use crate::config::{Config, ObjectLock, StorageClass};
use crate::download::Download;
use crate::error::{Error, Result};
use crate::integrity::{self, SinglePart};
use crate::layout::{Kind, Layout, Mac};
use crate::refusal::{self, Sent};
use crate::retention::Retention;
use crate::sigv4::Payload;
use crate::upload::Upload;
use crate::xml::{self, ObjectLockConfig};

/// The largest `CONFIG` accepted: kloset's is a few hundred bytes; anything
/// huge is not a kloset configuration.
const MAX_CONFIG: usize = 1 << 20;

/// State shared by a store and the uploads, downloads and listings it hands
/// out (they are separate WIT resources that outlive the call creating them).
pub struct Shared<T> {
    pub client: Client<T>,
    pub bucket: Bucket,
    pub layout: Layout,
    pub config: Config,
    pub object: ObjectOptions,
    closed: Cell<bool>,
}

/// Where one kloset object is written (see [`Shared::placement`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The key the upload writes.
    pub key: String,
    pub class: StorageClass,
    /// Written under Object Lock (when configured): packfiles and states.
    pub locked: bool,
    /// Archive tiers: the key of the archive-class copy made once the
    /// object is written (`<key>.frozen`).
    pub archive_copy: Option<String>,
}

impl<T: Transport> Shared<T> {
    /// Every operation starts here, so nothing runs on a closed store.
    pub fn check_open(&self) -> Result<()> {
        if self.closed.get() {
            return Err(Error::InvalidArgument("the store is closed".into()));
        }
        Ok(())
    }

    fn archive(&self) -> bool {
        self.config.storage_class.is_archive()
    }

    /// Where an object is written, as Plakar's Go connector places it, so
    /// either connector continues the other's kloset. Locks stay in STANDARD.
    /// Archive tiers (GLACIER, DEEP_ARCHIVE), which cannot be read without a
    /// restore: a packfile goes straight to the tier as `<key>.frozen`; a
    /// state, and a packfile kloset marks `hot` (it reads it back soon), is
    /// written readable in STANDARD at `<key>` and copied to the tier as
    /// `<key>.frozen`.
    pub fn placement(&self, kind: Kind, mac: &Mac, hot: bool) -> Placement {
        let key = self.layout.object_key(kind, mac);
        let class = self.config.storage_class;
        let locked = kind != Kind::Lock;
        match kind {
            Kind::Lock => Placement {
                key,
                class: StorageClass::Standard,
                locked,
                archive_copy: None,
            },
            _ if !self.archive() => Placement {
                key,
                class,
                locked,
                archive_copy: None,
            },
            Kind::Packfile if !hot => Placement {
                key: Layout::frozen(&key),
                class,
                locked,
                archive_copy: None,
            },
            Kind::Packfile | Kind::State => Placement {
                archive_copy: Some(Layout::frozen(&key)),
                key,
                class: StorageClass::Standard,
                locked,
            },
        }
    }

    /// Every key an object may occupy: on archive tiers, also its
    /// `.frozen` copy (what Delete and retention extensions must reach).
    pub fn stored_keys(&self, kind: Kind, mac: &Mac) -> Vec<String> {
        let key = self.layout.object_key(kind, mac);
        if self.archive() && kind != Kind::Lock {
            vec![Layout::frozen(&key), key]
        } else {
            vec![key]
        }
    }

    /// The Object Lock retention a write sent now carries, when configured.
    pub fn retention_now(&self) -> Option<Retention> {
        let now = self.client.transport().unix_time();
        self.config
            .object_lock
            .map(|lock| Retention::for_write(&lock, now))
    }

    /// PutObjectRetention: `retention` for `key` (the version `version_id`,
    /// or the current one).
    pub fn put_retention(
        &self,
        key: &str,
        version_id: Option<&str>,
        retention: &Retention,
    ) -> Result<()> {
        let body = xml::retention_body(retention.mode.as_str(), &retention.until_text());
        let req = actions::put_object_retention(
            &self.bucket,
            key,
            version_id,
            &base64_md5(body.as_bytes()),
        );
        let hash = sha256(body.as_bytes());
        let sent = Sent {
            lock: true,
            ..Sent::default()
        };
        self.client
            .send(&req, body.as_bytes(), Payload::Sha256(&hash))
            .map(|_| ())
            .map_err(|e| self.refusal(key, e, sent))
    }

    /// A final failure of a request about `what` that carried `sent`.
    pub fn refusal(&self, what: &str, error: SendError, sent: Sent) -> Error {
        match error {
            SendError::Rejected(failure) => refusal::explain(what, failure, sent),
            other => other.into_error(what),
        }
    }

    /// HEAD of an object: its headers, or `None` when it does not exist.
    pub fn head(&self, key: &str) -> Result<Option<Vec<(String, String)>>> {
        let req = actions::head_object(&self.bucket, key, &self.object);
        match self.client.send(&req, &[], Payload::Empty) {
            Ok(response) => Ok(Some(response.headers)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) if matches!(e.status(), Some(400 | 403)) => Err(self.explain_refusal(key)),
            Err(e) => Err(e.into_error(key)),
        }
    }

    /// A HEAD refusal has no body, so no S3 code to tell bad credentials from
    /// a missing permission or a wrong SSE-C key: the same question as a GET
    /// gets the document.
    fn explain_refusal(&self, key: &str) -> Error {
        let range = actions::ByteRange { first: 0, last: 0 };
        let req = actions::get_object(&self.bucket, key, Some(range), None, &self.object);
        match self.client.send(&req, &[], Payload::Empty) {
            Err(e) => self.refusal(key, e, self.object.sent()),
            Ok(_) => Error::PermissionDenied(format!("{key}: HEAD refused but GET allowed")),
        }
    }
}

pub struct Store<T> {
    shared: Rc<Shared<T>>,
}

impl<T: Transport> Store<T> {
    pub fn new(config: Config, transport: T) -> Store<T> {
        let shared = Shared {
            client: Client::new(&config, transport),
            bucket: Bucket::new(&config),
            layout: Layout::new(&config.prefix),
            object: ObjectOptions {
                sse_c: config.sse_customer_key.clone(),
            },
            config,
            closed: Cell::new(false),
        };
        Store {
            shared: Rc::new(shared),
        }
    }

    pub fn shared(&self) -> &Shared<T> {
        &self.shared
    }

    /// Creates the kloset: the bucket if missing (with Object Lock when it is
    /// configured), then `CONFIG` (and, for archive tiers, `CONFIG.frozen`),
    /// refusing to overwrite an existing one. With Object Lock configured, a
    /// bucket without it is refused before anything is written.
    pub fn create(&self, config: &[u8]) -> Result<()> {
        let s = &self.shared;
        s.check_open()?;
        if !self.bucket_exists()? {
            self.create_bucket()?;
        }
        self.check_bucket_lock()?;
        let key = s.layout.config_key();
        if s.head(&key)?.is_some() {
            return Err(self.already_initialised());
        }
        if s.archive() {
            let frozen = Layout::frozen(&key);
            self.put_small(&frozen, config, s.config.storage_class)?;
        }
        self.put_small(&key, config, StorageClass::Standard)
    }

    /// Reads `CONFIG`, telling a missing bucket from a bucket with no kloset.
    pub fn open(&self) -> Result<Vec<u8>> {
        let s = &self.shared;
        s.check_open()?;
        if !self.bucket_exists()? {
            return Err(Error::NotFound(format!(
                "bucket `{}` does not exist",
                s.bucket.name()
            )));
        }
        self.check_bucket_lock()?;
        let key = s.layout.config_key();
        let mut download = match Download::open(self.shared.clone(), key, None) {
            Err(Error::NotFound(_)) => return Err(self.no_kloset()),
            other => other?,
        };
        if download.length() > MAX_CONFIG as u64 {
            return Err(Error::Corrupted(format!(
                "CONFIG is {} bytes: not a kloset configuration",
                download.length()
            )));
        }
        let mut out = Vec::with_capacity(download.length() as usize);
        while let Some(chunk) = download.read(MAX_CONFIG)? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// The bucket answers with these credentials.
    pub fn ping(&self) -> Result<()> {
        self.shared.check_open()?;
        if self.bucket_exists()? {
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "bucket `{}` does not exist",
                self.shared.bucket.name()
            )))
        }
    }

    /// kloset's mode: archive tiers cannot be read back without a restore, so
    /// the store is write-only, as in Go (which still reads what it keeps in
    /// STANDARD, and so does [`Store::get`]).
    pub fn readable(&self) -> bool {
        !self.shared.config.storage_class.is_archive()
    }

    /// Bytes stored under the kloset's prefix.
    pub fn size(&self) -> Result<i64> {
        self.shared.check_open()?;
        let mut pages = Pages::new(self.shared.clone(), self.shared.config.prefix.clone());
        let mut total: u64 = 0;
        while let Some(page) = pages.next_page()? {
            total = page
                .keys
                .iter()
                .fold(total, |sum, object| sum.saturating_add(object.size));
        }
        Ok(i64::try_from(total).unwrap_or(i64::MAX))
    }

    pub fn list(&self, kind: Kind) -> Result<Listing<T>> {
        self.shared.check_open()?;
        Ok(Listing {
            kind,
            pages: Pages::new(self.shared.clone(), self.shared.layout.list_prefix(kind)),
        })
    }

    /// `hot`: kloset reads the object back soon (see [`Shared::placement`]).
    pub fn put(&self, kind: Kind, mac: &Mac, hot: bool) -> Result<Upload<T>> {
        self.shared.check_open()?;
        Ok(Upload::new(self.shared.clone(), kind, mac, hot))
    }

    /// Reads `<key>`, wherever the store writes: on archive tiers that is
    /// where states and the Go connector's "hot" packfiles are readable; a
    /// packfile only in the tier says it needs a restore.
    pub fn get(&self, kind: Kind, mac: &Mac, range: Option<(u64, u32)>) -> Result<Download<T>> {
        let s = &self.shared;
        s.check_open()?;
        let key = s.layout.object_key(kind, mac);
        match Download::open(self.shared.clone(), key.clone(), range) {
            Err(Error::NotFound(m)) if s.archive() && kind == Kind::Packfile => {
                let frozen = Layout::frozen(&key);
                if s.head(&frozen)?.is_some() {
                    return Err(Error::Unsupported(format!(
                        "{frozen} is in the {} storage class: restore it (and copy it to {key}) \
                         before it can be read",
                        s.config.storage_class.as_str()
                    )));
                }
                Err(Error::NotFound(m))
            }
            other => other,
        }
    }

    /// Deletes an object; a missing one is not an error (S3 says 204 anyway).
    ///
    /// In a versioned bucket (Object Lock implies versioning) a DELETE adds a
    /// delete marker: the object leaves List and Get as kloset expects, and
    /// its data stays, protected, as a noncurrent version until its
    /// retention ends and a lifecycle rule expires it. A refused DELETE says
    /// until when the object is locked.
    pub fn delete(&self, kind: Kind, mac: &Mac) -> Result<()> {
        let s = &self.shared;
        s.check_open()?;
        for key in s.stored_keys(kind, mac) {
            let req = actions::delete_object(&s.bucket, &key);
            match s.client.send(&req, &[], Payload::Empty) {
                Ok(_) => {}
                Err(e) if e.status() == Some(404) => {}
                Err(SendError::Rejected(f))
                    if f.status == 403 && f.code != "SignatureDoesNotMatch" =>
                {
                    return Err(self.locked(&key, Error::from_s3(&key, f)))
                }
                Err(e) => return Err(e.into_error(&key)),
            }
        }
        Ok(())
    }

    /// Extends the Object Lock retention of an object (every key it
    /// occupies) to the configured duration from now; never shortens one nor
    /// changes its mode. Returns the retention in force afterwards (the
    /// earliest, if the object has an archive copy) and whether it changed.
    pub fn extend_retention(&self, kind: Kind, mac: &Mac) -> Result<(Retention, bool)> {
        let s = &self.shared;
        s.check_open()?;
        let lock = s.config.object_lock.ok_or_else(|| {
            Error::config(
                "object_lock_mode",
                "extending retention needs object_lock_mode and object_lock_retention",
            )
        })?;
        if kind == Kind::Lock {
            return Err(Error::InvalidArgument(
                "kloset locks are never under Object Lock: only packfiles and states are".into(),
            ));
        }
        let mut outcome: Option<(Retention, bool)> = None;
        for key in s.stored_keys(kind, mac) {
            let Some((retention, changed)) = self.extend_key(&key, &lock)? else {
                continue;
            };
            outcome = Some(match outcome {
                Some((earlier, any)) if earlier.until <= retention.until => {
                    (earlier, any || changed)
                }
                Some((_, any)) => (retention, any || changed),
                None => (retention, changed),
            });
        }
        outcome.ok_or_else(|| {
            Error::NotFound(format!(
                "{}: no such {}",
                s.layout.object_key(kind, mac),
                kind.as_str()
            ))
        })
    }

    /// The lock settings: what this store writes with, and the bucket's own
    /// Object Lock configuration (`None` when the server has no Object Lock).
    pub fn lock_settings(&self) -> Result<(Option<ObjectLock>, Option<ObjectLockConfig>)> {
        let s = &self.shared;
        s.check_open()?;
        let bucket = match self.bucket_lock()? {
            BucketLock::Configured(config) => Some(config),
            BucketLock::Unconfigured => Some(ObjectLockConfig::default()),
            BucketLock::Unsupported(_) => None,
        };
        Ok((s.config.object_lock, bucket))
    }

    pub fn close(&self) -> Result<()> {
        self.shared.check_open()?;
        self.shared.closed.set(true);
        Ok(())
    }

    /// Asked with a one-key listing rather than HEAD: the same permission
    /// (s3:ListBucket), but a refusal comes with its S3 code, so bad
    /// credentials are told from a missing permission.
    fn bucket_exists(&self) -> Result<bool> {
        let s = &self.shared;
        let req = actions::list_objects_v2(&s.bucket, &s.config.prefix, None, 1);
        match s.client.send(&req, &[], Payload::Empty) {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e.into_error(&format!("bucket `{}`", s.bucket.name()))),
        }
    }

    fn create_bucket(&self) -> Result<()> {
        let s = &self.shared;
        let body = xml::create_bucket_body(&s.config.region).unwrap_or_default();
        let md5 = (!body.is_empty()).then(|| base64_md5(body.as_bytes()));
        let lock = s.config.object_lock.is_some();
        let req = actions::create_bucket(&s.bucket, md5.as_deref(), lock);
        let hash = sha256(body.as_bytes());
        let payload = if body.is_empty() {
            Payload::Empty
        } else {
            Payload::Sha256(&hash)
        };
        match s.client.send(&req, body.as_bytes(), payload) {
            Ok(_) => Ok(()),
            // Someone (maybe our own lost first attempt) created it meanwhile.
            Err(SendError::Rejected(f)) if f.code == "BucketAlreadyOwnedByYou" => Ok(()),
            Err(SendError::Rejected(f))
                if matches!(
                    f.code.as_str(),
                    "InvalidLocationConstraint" | "IllegalLocationConstraintException"
                ) =>
            {
                Err(Error::config(
                    "region",
                    format!(
                        "the server refused to create bucket `{}` in region `{}`: {f}; set the \
                         server's region or create the bucket beforehand",
                        s.bucket.name(),
                        s.config.region
                    ),
                ))
            }
            Err(e) => Err(e.into_error(&format!("creating bucket `{}`", s.bucket.name()))),
        }
    }

    /// A small object written in one conditional PUT: `CONFIG` must never
    /// overwrite another kloset's. Under Object Lock, as packfiles are: a
    /// kloset whose CONFIG can be destroyed is lost.
    fn put_small(&self, key: &str, data: &[u8], class: StorageClass) -> Result<()> {
        let s = &self.shared;
        let digests = SinglePart::of(data);
        let options = WriteOptions {
            storage_class: Some(class),
            if_none_match: s.config.conditional_writes,
            metadata: vec![(actions::META_XXH3, crate::hex::encode(&digests.xxh3))],
            object: Some(&s.object),
            retention: s.retention_now(),
        };
        let content_md5 = integrity::content_md5(&digests.md5);
        let req = actions::put_object(&s.bucket, key, &content_md5, &options);
        let hash = sha256(data);
        match s.client.send(&req, data, Payload::Sha256(&hash)) {
            Ok(response) if response.etag().is_some() => Ok(()),
            Ok(_) => Err(crate::upload::no_etag(key)),
            Err(e) if e.status() == Some(412) => Err(self.already_initialised()),
            Err(e) => Err(s.refusal(key, e, options.sent())),
        }
    }

    /// The bucket's Object Lock configuration, as GET ?object-lock says.
    fn bucket_lock(&self) -> Result<BucketLock> {
        let s = &self.shared;
        let req = actions::get_object_lock_configuration(&s.bucket);
        let what = format!("Object Lock configuration of bucket `{}`", s.bucket.name());
        match s.client.send(&req, &[], Payload::Empty) {
            Ok(mut response) => {
                let body = read_capped(&mut response.body, xml::MAX_XML_BODY + 1);
                let config = xml::parse_object_lock_config(&body)?;
                Ok(if config.enabled {
                    BucketLock::Configured(config)
                } else {
                    BucketLock::Unconfigured
                })
            }
            Err(SendError::Rejected(f)) if f.code == "ObjectLockConfigurationNotFoundError" => {
                Ok(BucketLock::Unconfigured)
            }
            Err(SendError::Rejected(f))
                if matches!(f.status, 405 | 501) || f.code == "NotImplemented" =>
            {
                Ok(BucketLock::Unsupported(format!("{what}: {f}")))
            }
            Err(e) => Err(e.into_error(&what)),
        }
    }

    /// With Object Lock configured, the bucket must have it enabled: writes
    /// would otherwise fail one by one (or, on a server that ignores the
    /// headers, silently protect nothing).
    fn check_bucket_lock(&self) -> Result<()> {
        let s = &self.shared;
        if s.config.object_lock.is_none() {
            return Ok(());
        }
        match self.bucket_lock()? {
            BucketLock::Configured(_) => Ok(()),
            BucketLock::Unconfigured => Err(Error::config(
                "object_lock_mode",
                format!(
                    "bucket `{}` does not have Object Lock enabled: use a bucket created with \
                     Object Lock (kloset-s3 creates missing buckets so), enable it on the \
                     bucket, or remove object_lock_mode and object_lock_retention",
                    s.bucket.name()
                ),
            )),
            BucketLock::Unsupported(answer) => Err(Error::Unsupported(format!(
                "object_lock_mode is set but the server does not implement Object Lock ({answer})"
            ))),
        }
    }

    /// The refusal of a DELETE, with the object's retention when it has one
    /// in force: "locked until when" is what the operator needs to know.
    fn locked(&self, key: &str, refusal: Error) -> Error {
        let s = &self.shared;
        let retention = s
            .head(key)
            .ok()
            .flatten()
            .and_then(|headers| Retention::from_headers(header_in(&headers)).ok().flatten());
        let now = s.client.transport().unix_time();
        match retention {
            Some(r) if r.until > now => Error::PermissionDenied(format!(
                "{key} is under Object Lock ({}): {refusal}",
                r.describe()
            )),
            _ => refusal,
        }
    }

    /// One key of [`Store::extend_retention`]; `None` when it does not exist.
    fn extend_key(&self, key: &str, lock: &ObjectLock) -> Result<Option<(Retention, bool)>> {
        let s = &self.shared;
        let Some(headers) = s.head(key)? else {
            return Ok(None);
        };
        let header = header_in(&headers);
        let current = Retention::from_headers(&header)?;
        let now = s.client.transport().unix_time();
        let Some(extended) = Retention::extension(current, lock, now) else {
            // `extension` returns None only when there is a current retention.
            return Ok(current.map(|r| (r, false)));
        };
        let version = header("x-amz-version-id");
        s.put_retention(key, version.as_deref(), &extended)?;
        Ok(Some((extended, true)))
    }

    fn already_initialised(&self) -> Error {
        Error::AlreadyExists(format!(
            "bucket `{}` already holds a kloset at `{}`",
            self.shared.bucket.name(),
            self.shared.config.root()
        ))
    }

    fn no_kloset(&self) -> Error {
        Error::NotFound(format!(
            "bucket `{}` holds no kloset at `{}` (no CONFIG object)",
            self.shared.bucket.name(),
            self.shared.config.root()
        ))
    }
}

/// What GET ?object-lock says of a bucket.
enum BucketLock {
    Configured(ObjectLockConfig),
    /// The server has Object Lock; this bucket does not use it.
    Unconfigured,
    /// The server does not implement Object Lock (its answer).
    Unsupported(String),
}

/// A header lookup over response headers (names in lower case).
fn header_in(headers: &[(String, String)]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

/// ListObjectsV2 pages under a prefix, following continuation tokens.
pub struct Pages<T> {
    shared: Rc<Shared<T>>,
    prefix: String,
    token: Option<String>,
    /// The SHA-256 of every token followed: a server that sends one again
    /// (`a, b, a, ...`) would make the listing endless.
    followed: HashSet<[u8; 32]>,
    done: bool,
}

impl<T: Transport> Pages<T> {
    fn new(shared: Rc<Shared<T>>, prefix: String) -> Self {
        Pages {
            shared,
            prefix,
            token: None,
            followed: HashSet::new(),
            done: false,
        }
    }

    fn next_page(&mut self) -> Result<Option<xml::ListPage>> {
        self.shared.check_open()?;
        if self.done {
            return Ok(None);
        }
        let s = &self.shared;
        let req = actions::list_objects_v2(
            &s.bucket,
            &self.prefix,
            self.token.as_deref(),
            actions::LIST_PAGE,
        );
        let what = format!("listing `{}`", self.prefix);
        let mut response = s
            .client
            .send(&req, &[], Payload::Empty)
            .map_err(|e| e.into_error(&what))?;
        let body = read_capped(&mut response.body, xml::MAX_XML_BODY + 1);
        let page = xml::parse_list_objects_v2(&body)?;
        match (&page.next_token, page.is_truncated) {
            (Some(next), true) if !self.followed.insert(sha256(next.as_bytes())) => {
                return Err(Error::Other(format!(
                    "{what}: the server sent a continuation token it had sent before: the listing would never end"
                )));
            }
            (Some(next), true) => self.token = Some(next.clone()),
            _ => self.done = true,
        }
        Ok(Some(page))
    }
}

/// The MACs of one resource kind, a page at a time.
pub struct Listing<T> {
    kind: Kind,
    pages: Pages<T>,
}

impl<T: Transport> Listing<T> {
    pub fn next_page(&mut self) -> Result<Option<Vec<Mac>>> {
        let Some(page) = self.pages.next_page()? else {
            return Ok(None);
        };
        let layout = &self.pages.shared.layout;
        Ok(Some(
            page.keys
                .iter()
                .filter_map(|object| layout.parse_key(self.kind, &object.key))
                .collect(),
        ))
    }
}

pub fn base64_md5(data: &[u8]) -> String {
    integrity::content_md5(&integrity::md5(data))
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}
