//! The kloset store: kloset's storage semantics (create, open, list, put, get,
//! delete) over S3 requests. Everything here is written against
//! [`Transport`], so the logic is the same whatever carries the bytes.

use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

use crate::actions::{self, ObjectOptions, WriteOptions};
use crate::bucket::Bucket;
use crate::client::{read_capped, Client, SendError, Transport};
use crate::config::{Config, StorageClass};
use crate::download::Download;
use crate::error::{Error, Result};
use crate::layout::{Kind, Layout, Mac};
use crate::sigv4::Payload;
use crate::upload::Upload;
use crate::xml;

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

impl<T: Transport> Shared<T> {
    /// Every operation starts here, so nothing runs on a closed store.
    pub fn check_open(&self) -> Result<()> {
        if self.closed.get() {
            return Err(Error::InvalidArgument("the store is closed".into()));
        }
        Ok(())
    }

    /// Where the bytes of `kind` objects live: archive tiers only for the data
    /// (packfiles, states), never for what must stay readable to open the kloset.
    pub fn storage_class(&self, kind: Kind) -> StorageClass {
        match kind {
            Kind::Lock => StorageClass::Standard,
            Kind::Packfile | Kind::State => self.config.storage_class,
        }
    }

    /// HEAD of an object: its headers, or `None` when it does not exist.
    pub fn head(&self, key: &str) -> Result<Option<Vec<(String, String)>>> {
        let req = actions::head_object(&self.bucket, key, &self.object);
        match self.client.send(&req, &[], Payload::Empty) {
            Ok(response) => Ok(Some(response.headers)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) if e.status() == Some(403) => Err(self.explain_refusal(key)),
            Err(e) => Err(e.into_error(key)),
        }
    }

    /// A HEAD refusal has no body, so no S3 code to tell bad credentials from
    /// a missing permission: the same question as a GET gets the document.
    fn explain_refusal(&self, key: &str) -> Error {
        let range = actions::ByteRange { first: 0, last: 0 };
        let req = actions::get_object(&self.bucket, key, Some(range), None, &self.object);
        match self.client.send(&req, &[], Payload::Empty) {
            Err(e) => e.into_error(key),
            Ok(_) => Error::PermissionDenied(format!("{key}: HEAD refused (403) but GET allowed")),
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

    /// Creates the kloset: the bucket if missing, then `CONFIG` (and, for
    /// archive tiers, `CONFIG.frozen`), refusing to overwrite an existing one.
    pub fn create(&self, config: &[u8]) -> Result<()> {
        let s = &self.shared;
        s.check_open()?;
        if !self.bucket_exists()? {
            self.create_bucket()?;
        }
        let key = s.layout.config_key();
        if s.head(&key)?.is_some() {
            return Err(self.already_initialised());
        }
        if s.config.storage_class.is_archive() {
            let frozen = s.layout.frozen_config_key();
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

    /// Archive tiers cannot be read back without a restore: write-only.
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

    pub fn put(&self, kind: Kind, mac: &Mac) -> Result<Upload<T>> {
        self.shared.check_open()?;
        Ok(Upload::new(self.shared.clone(), kind, mac))
    }

    pub fn get(&self, kind: Kind, mac: &Mac, range: Option<(u64, u32)>) -> Result<Download<T>> {
        let s = &self.shared;
        s.check_open()?;
        if !self.readable() {
            return Err(Error::Unsupported(format!(
                "the store uses the {} storage class: it is write-only",
                s.config.storage_class.as_str()
            )));
        }
        let key = s.layout.object_key(kind, mac);
        Download::open(self.shared.clone(), key, range)
    }

    /// Deletes an object; a missing one is not an error (S3 says 204 anyway).
    pub fn delete(&self, kind: Kind, mac: &Mac) -> Result<()> {
        let s = &self.shared;
        s.check_open()?;
        let key = s.layout.object_key(kind, mac);
        let req = actions::delete_object(&s.bucket, &key);
        match s.client.send(&req, &[], Payload::Empty) {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e.into_error(&key)),
        }
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
        let req = actions::create_bucket(&s.bucket, md5.as_deref());
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
            Err(e) => Err(e.into_error(&format!("creating bucket `{}`", s.bucket.name()))),
        }
    }

    /// A small object written in one conditional PUT: `CONFIG` must never
    /// overwrite another kloset's.
    fn put_small(&self, key: &str, data: &[u8], class: StorageClass) -> Result<()> {
        let s = &self.shared;
        let options = WriteOptions {
            storage_class: Some(class),
            if_none_match: s.config.conditional_writes,
            metadata: vec![(
                actions::META_MD5,
                crate::hex::encode(&crate::integrity::md5(data)),
            )],
            object: Some(&s.object),
        };
        let req = actions::put_object(&s.bucket, key, &base64_md5(data), &options);
        let hash = sha256(data);
        match s.client.send(&req, data, Payload::Sha256(&hash)) {
            Ok(response) if response.etag().is_some() => Ok(()),
            Ok(_) => Err(crate::upload::no_etag(key)),
            Err(e) if e.status() == Some(412) => Err(self.already_initialised()),
            Err(e) => Err(e.into_error(key)),
        }
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
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(crate::integrity::md5(data))
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}
