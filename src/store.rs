//! The kloset store: kloset's storage semantics (create, open, list, put, get,
//! delete) over S3 requests. Everything here is written against
//! [`Transport`], so the logic is the same whatever carries the bytes.

use std::rc::Rc;

use crate::actions;
use crate::client::{SendError, Transport};
use crate::config::{Config, ObjectLock};
use crate::context::{Placement, Shared};
use crate::download::Download;
use crate::error::{Error, Result};
use crate::existing::{self, Existing};
use crate::integrity::SinglePart;
use crate::layout::{Kind, Layout, Mac};
use crate::listing::{Listing, Pages};
use crate::object_lock::{self, BucketLock};
use crate::provision;
use crate::retention::Retention;
use crate::sigv4::Payload;
use crate::upload::Upload;
use crate::versions::{Recovery, View, ViewListing};
use crate::xml::ObjectLockConfig;

/// The largest `CONFIG` accepted: kloset's is a few hundred bytes; anything
/// huge is not a kloset configuration.
const MAX_CONFIG: usize = 1 << 20;

pub struct Store<T> {
    shared: Rc<Shared<T>>,
    /// `point_in_time`: the read-only view of the kloset as it was then.
    view: Option<View>,
}

/// A listing of the kloset as it is, or as it was (`point_in_time`).
pub enum Listed<T: Transport> {
    Current(Listing<T>),
    Then(Box<ViewListing<T>>),
}

impl<T: Transport> Listed<T> {
    pub fn next_page(&mut self) -> Result<Option<Vec<Mac>>> {
        match self {
            Listed::Current(listing) => listing.next_page(),
            Listed::Then(listing) => listing.next_page(),
        }
    }
}

impl<T: Transport> Store<T> {
    pub fn new(config: Config, transport: T) -> Store<T> {
        let now = transport.unix_time();
        let view = config.point_in_time.map(|p| View::new(p, now));
        Store {
            shared: Rc::new(Shared::new(config, transport)),
            view,
        }
    }

    /// What the configuration alone cannot check: a `point_in_time` in the
    /// future (the clock is read when the store is made).
    pub fn check_config(&self) -> Result<()> {
        match &self.view {
            Some(view) => view.moment().map(drop),
            None => Ok(()),
        }
    }

    /// A store with `point_in_time` is read-only.
    pub fn writable(&self) -> bool {
        self.view.is_none()
    }

    /// Every write starts here.
    fn check_writable(&self, what: &str) -> Result<()> {
        self.shared.check_open()?;
        match &self.view {
            Some(view) => Err(view.read_only(what)),
            None => Ok(()),
        }
    }

    /// A recovery of the kloset to its state at `to` (`point_in_time`'s
    /// forms): see [`Recovery`].
    pub fn recovery(&self, to: &str) -> Result<Recovery<T>> {
        self.check_writable("recover")?;
        Recovery::new(self.shared.clone(), to)
    }

    pub fn shared(&self) -> &Shared<T> {
        &self.shared
    }

    /// Creates the kloset: the bucket if missing (with Object Lock when it is
    /// configured), then, for archive tiers, `CONFIG.frozen`, then `CONFIG`.
    /// Another kloset's `CONFIG` is never overwritten (`already-exists`); the
    /// same bytes again are success, so a create that stopped half-way (its
    /// answer lost, its lock not set) is completed by the same create again.
    /// With Object Lock configured, a bucket without it is refused before
    /// anything is written.
    pub fn create(&self, config: &[u8]) -> Result<()> {
        let s = &self.shared;
        self.check_writable("create a kloset")?;
        if !self.bucket_exists()? {
            self.create_bucket()?;
        }
        object_lock::require_on_bucket(s)?;
        if let Some(copy) = s.config_copy_placement() {
            // Another kloset's CONFIG: refused before its copy is touched.
            let key = s.layout.config_key();
            let ours = SinglePart::of(config).identities();
            if existing::compare(&self.shared, &key, config.len() as u64, &ours)?
                == Existing::Different
            {
                return Err(self.already_initialised());
            }
            self.write(copy, config)?;
        }
        match self.write(s.config_placement(), config) {
            Err(Error::AlreadyExists(_)) => Err(self.already_initialised()),
            other => other,
        }
    }

    /// Reads `CONFIG` (as it was at `point_in_time`, when set), telling a
    /// missing bucket from a bucket with no kloset.
    pub fn open(&self) -> Result<Vec<u8>> {
        self.shared.check_open()?;
        let download = match &self.view {
            Some(view) => view.open(&self.shared)?,
            None => self.open_current()?,
        };
        read_config(download)
    }

    fn open_current(&self) -> Result<Download<T>> {
        let s = &self.shared;
        if !self.bucket_exists()? {
            return Err(Error::NotFound(format!(
                "bucket `{}` does not exist",
                s.bucket.name()
            )));
        }
        object_lock::require_on_bucket(s)?;
        let key = s.layout.config_key();
        match Download::open(self.shared.clone(), key, None) {
            Err(Error::NotFound(_)) => Err(self.no_kloset()),
            other => other,
        }
    }

    /// The bucket answers with these credentials, and as S3 does.
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
    /// A `point_in_time` view reads whatever the storage class: it reads
    /// versions, which the class of new writes says nothing about.
    pub fn readable(&self) -> bool {
        self.view.is_some() || !self.shared.config.storage_class.is_archive()
    }

    /// Bytes stored under the kloset's prefix.
    pub fn size(&self) -> Result<i64> {
        self.shared.check_open()?;
        if let Some(view) = &self.view {
            return view.size(&self.shared);
        }
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

    pub fn list(&self, kind: Kind) -> Result<Listed<T>> {
        self.shared.check_open()?;
        match &self.view {
            Some(view) => Ok(Listed::Then(Box::new(view.list(&self.shared, kind)?))),
            None => Ok(Listed::Current(Listing::new(self.shared.clone(), kind))),
        }
    }

    /// `hot`: kloset reads the object back soon (see [`Shared::placement`]).
    pub fn put(&self, kind: Kind, mac: &Mac, hot: bool) -> Result<Upload<T>> {
        self.check_writable("put")?;
        Upload::new(self.shared.clone(), self.shared.placement(kind, mac, hot))
    }

    /// Reads `<key>`, wherever the store writes: on archive tiers that is
    /// where states and the Go connector's "hot" packfiles are readable; a
    /// packfile only in the tier says it needs a restore.
    pub fn get(&self, kind: Kind, mac: &Mac, range: Option<(u64, u32)>) -> Result<Download<T>> {
        let s = &self.shared;
        s.check_open()?;
        if let Some(view) = &self.view {
            return view.get(&self.shared, kind, mac, range);
        }
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
        self.check_writable("delete")?;
        for key in s.stored_keys(kind, mac) {
            let req = actions::delete_object(&s.bucket, &key);
            match s.client.send(&req, &[], Payload::Empty) {
                Ok(_) => {}
                Err(e) if e.status() == Some(404) => {}
                Err(SendError::Rejected(f))
                    if f.status == 403 && f.code != "SignatureDoesNotMatch" =>
                {
                    return Err(object_lock::refused_delete(
                        s,
                        &key,
                        Error::from_s3(&key, f),
                    ))
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
        self.check_writable("extend a retention")?;
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
            let Some((retention, changed)) = object_lock::extend(s, &key, &lock)? else {
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
        let bucket = match object_lock::bucket_lock(s)? {
            BucketLock::Configured(config) => Some(config),
            BucketLock::Unconfigured => Some(ObjectLockConfig::default()),
            BucketLock::Unsupported(_) => None,
        };
        Ok((s.config.object_lock, bucket))
    }

    /// What went wrong since the last call without failing one.
    pub fn take_warnings(&self) -> Vec<String> {
        self.shared.take_warnings()
    }

    pub fn close(&self) -> Result<()> {
        self.shared.check_open()?;
        self.shared.close();
        Ok(())
    }

    fn bucket_exists(&self) -> Result<bool> {
        provision::bucket_exists(&self.shared)
    }

    fn create_bucket(&self) -> Result<()> {
        provision::create_bucket(&self.shared)
    }

    /// One whole object, written where `placement` says.
    fn write(&self, placement: Placement, data: &[u8]) -> Result<()> {
        let mut upload = Upload::new(self.shared.clone(), placement)?;
        upload.write(data)?;
        upload.finish().map(drop)
    }

    fn already_initialised(&self) -> Error {
        Error::AlreadyExists(format!(
            "bucket `{}` already holds a kloset at `{}` (another CONFIG)",
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

/// The whole of `CONFIG`, refused when too large to be one.
fn read_config<T: Transport>(mut download: Download<T>) -> Result<Vec<u8>> {
    let length = usize::try_from(download.length())
        .ok()
        .filter(|&length| length <= MAX_CONFIG)
        .ok_or_else(|| {
            Error::Corrupted(format!(
                "CONFIG is {} bytes: not a kloset configuration",
                download.length()
            ))
        })?;
    let mut out = Vec::with_capacity(length);
    while let Some(chunk) = download.read(MAX_CONFIG)? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{head_of, Reply, Script, EMPTY_LISTING};

    /// The first small put of a store sends its bytes again, to see the
    /// server refuse what `If-None-Match: *` forbids (see `upload`).
    fn probe(line: &'static str) -> (&'static str, Reply) {
        (line, Reply::error(412, "PreconditionFailed"))
    }

    /// The one-key listing that says the bucket exists.
    fn listed() -> (&'static str, Reply) {
        ("GET /bkt?", Reply::xml(200, EMPTY_LISTING))
    }

    #[test]
    fn create_writes_config_once_and_again_only_the_same_bytes() {
        let fresh = Script::new(vec![
            listed(),
            ("HEAD /bkt/CONFIG", Reply::status(404)),
            ("PUT /bkt/CONFIG", Reply::stored("e")),
            probe("PUT /bkt/CONFIG"),
        ]);
        assert_eq!(fresh.store(&[]).create(b"config"), Ok(()));
        fresh.assert_done();

        // A create repeated (its answer lost, the user ran it again).
        let again = Script::new(vec![
            listed(),
            ("HEAD /bkt/CONFIG", head_of(b"config", &[])),
        ]);
        assert_eq!(again.store(&[]).create(b"config"), Ok(()));
        again.assert_done();

        let other = Script::new(vec![
            listed(),
            ("HEAD /bkt/CONFIG", head_of(b"other!", &[])),
        ]);
        let err = other.store(&[]).create(b"config").unwrap_err();
        assert!(
            matches!(&err, Error::AlreadyExists(m) if m.contains("already holds a kloset")),
            "{err}"
        );
        other.assert_done();
    }

    #[test]
    fn a_retried_config_put_that_had_landed_is_a_success() {
        let script = Script::new(vec![
            listed(),
            ("HEAD /bkt/CONFIG", Reply::status(404)),
            ("PUT /bkt/CONFIG", Reply::reset()),
            ("PUT /bkt/CONFIG", Reply::error(412, "PreconditionFailed")),
            ("HEAD /bkt/CONFIG", head_of(b"config", &[])),
        ]);
        assert_eq!(script.store(&[]).create(b"config"), Ok(()));
        script.assert_done();
    }

    #[test]
    fn on_archive_tiers_config_decides_and_its_copy_comes_first() {
        // CONFIG.frozen left by a create that never wrote CONFIG does not
        // block: it is replaced, then CONFIG written.
        let script = Script::new(vec![
            listed(),
            ("HEAD /bkt/CONFIG", Reply::status(404)),
            ("PUT /bkt/CONFIG.frozen", Reply::stored("e")),
            ("HEAD /bkt/CONFIG", Reply::status(404)),
            ("PUT /bkt/CONFIG", Reply::stored("e")),
            probe("PUT /bkt/CONFIG"),
        ]);
        let store = script.store(&[("storage_class", "DEEP_ARCHIVE")]);
        assert_eq!(store.create(b"config"), Ok(()));
        script.assert_done();
        let seen = script.seen();
        assert_eq!(seen[2].header("x-amz-storage-class"), Some("DEEP_ARCHIVE"));
        assert_eq!(seen[2].header("if-none-match"), None);
        assert_eq!(seen[4].header("x-amz-storage-class"), None);
        assert_eq!(seen[4].header("if-none-match"), Some("*"));

        // A tier the server refuses leaves no kloset behind.
        let refused = Script::new(vec![
            listed(),
            ("HEAD /bkt/CONFIG", Reply::status(404)),
            (
                "PUT /bkt/CONFIG.frozen",
                Reply::error(400, "InvalidStorageClass"),
            ),
        ]);
        let store = refused.store(&[("storage_class", "DEEP_ARCHIVE")]);
        let err = store.create(b"config").unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { key, .. } if key == "storage_class"),
            "{err}"
        );
        refused.assert_done();

        // Another kloset's CONFIG: its copy is not touched.
        let other = Script::new(vec![
            listed(),
            ("HEAD /bkt/CONFIG", head_of(b"other!", &[])),
        ]);
        let store = other.store(&[("storage_class", "DEEP_ARCHIVE")]);
        assert!(matches!(
            store.create(b"config"),
            Err(Error::AlreadyExists(_))
        ));
        other.assert_done();
    }

    #[test]
    fn a_bucket_is_created_in_the_region_the_server_named() {
        let elsewhere = "<Error><Code>AuthorizationHeaderMalformed</Code>\
                         <Region>eu-west-3</Region></Error>";
        let script = Script::new(vec![
            ("GET /bkt?", Reply::xml(400, elsewhere)),
            ("GET /bkt?", Reply::error(404, "NoSuchBucket")),
            ("PUT /bkt", Reply::status(200)),
            ("HEAD /bkt/CONFIG", Reply::status(404)),
            ("PUT /bkt/CONFIG", Reply::stored("e")),
            probe("PUT /bkt/CONFIG"),
        ]);
        assert_eq!(script.store(&[]).create(b"config"), Ok(()));
        script.assert_done();
        let body = String::from_utf8_lossy(&script.seen()[2].body).into_owned();
        assert!(
            body.contains("<LocationConstraint>eu-west-3</LocationConstraint>"),
            "{body}"
        );
    }

    #[test]
    fn a_bucket_create_retried_after_it_landed_is_fine() {
        // s3s-fs answers BucketAlreadyExists where AWS says ...OwnedByYou.
        let script = Script::new(vec![
            ("GET /bkt?", Reply::error(404, "NoSuchBucket")),
            ("PUT /bkt", Reply::reset()),
            ("PUT /bkt", Reply::error(409, "BucketAlreadyExists")),
            listed(),
            ("HEAD /bkt/CONFIG", Reply::status(404)),
            ("PUT /bkt/CONFIG", Reply::stored("e")),
            probe("PUT /bkt/CONFIG"),
        ]);
        assert_eq!(script.store(&[]).create(b"config"), Ok(()));
        script.assert_done();

        // Someone else's: the listing is refused, and so is the create.
        let taken = Script::new(vec![
            ("GET /bkt?", Reply::error(404, "NoSuchBucket")),
            ("PUT /bkt", Reply::error(409, "BucketAlreadyExists")),
            ("GET /bkt?", Reply::error(403, "AccessDenied")),
        ]);
        let err = taken.store(&[]).create(b"config").unwrap_err();
        assert!(
            matches!(&err, Error::AlreadyExists(m) if m.contains("BucketAlreadyExists")),
            "{err}"
        );
        taken.assert_done();
    }

    #[test]
    fn ping_wants_an_s3_listing() {
        let fine = Script::new(vec![listed()]);
        assert_eq!(fine.store(&[]).ping(), Ok(()));

        let portal = Script::new(vec![(
            "GET /bkt?",
            Reply::status(200).body(b"<html><body>Welcome to the hotel Wi-Fi</body></html>"),
        )]);
        let err = portal.store(&[]).ping().unwrap_err();
        assert!(
            matches!(&err, Error::Other(m) if m.contains("answered, but not as S3") && m.contains("<html>")),
            "{err}"
        );

        let missing = Script::new(vec![("GET /bkt?", Reply::error(404, "NoSuchBucket"))]);
        assert!(matches!(missing.store(&[]).ping(), Err(Error::NotFound(_))));
    }

    #[test]
    fn open_reads_config_and_refuses_a_huge_one() {
        let script = Script::new(vec![
            listed(),
            ("GET /bkt/CONFIG", head_of(b"config", &[]).body(b"config")),
        ]);
        assert_eq!(script.store(&[]).open().unwrap(), b"config");
        script.assert_done();

        let huge = Script::new(vec![
            listed(),
            (
                "GET /bkt/CONFIG",
                Reply::status(200).with("content-length", "4294967296"),
            ),
        ]);
        assert!(matches!(huge.store(&[]).open(), Err(Error::Corrupted(_))));
    }
}
