//! Writing an object of any size with bounded memory: bytes are buffered up to
//! one part; a small object goes up in one PUT at `finish`, a large one as a
//! multipart upload whose parts leave as they fill. Nothing is visible before
//! `finish` succeeds, and a failed or abandoned upload aborts its multipart
//! upload so no orphan parts stay behind (and bill).
//!
//! Packfiles and states are content-addressed, hence immutable: they are
//! written with `If-None-Match: *`, and when the server says the key exists
//! the existing object is compared with ours — identical content is success,
//! different content is refused, never overwritten.

use std::rc::Rc;

use crate::actions::{self, WriteOptions, META_PART_SIZE, META_XXH3};
use crate::client::{header, read_capped, Response, SendError, Transport};
use crate::config::Checksum;
use crate::download::Download;
use crate::error::{Error, Result};
use crate::hex;
use crate::integrity::{self, Expected, PartDigests, SinglePart, Verifier};
use crate::layout::{Kind, Mac};
use crate::sigv4::Payload;
use crate::store::{base64_md5, sha256, Placement, Shared};
use crate::xml;

/// Below this a buffer grows with the data; past it, it takes a whole part
/// at once, so growth never holds two large copies.
const SMALL_BUFFER: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Finished,
    Failed,
}

struct Multipart {
    upload_id: String,
    parts: Vec<(u32, String)>,
    digests: PartDigests,
}

pub struct Upload<T: Transport> {
    shared: Rc<Shared<T>>,
    kind: Kind,
    key: String,
    placement: Placement,
    buffer: Vec<u8>,
    total: u64,
    multipart: Option<Multipart>,
    state: State,
}

impl<T: Transport> Upload<T> {
    pub fn new(shared: Rc<Shared<T>>, kind: Kind, mac: &Mac, hot: bool) -> Self {
        let placement = shared.placement(kind, mac, hot);
        Upload {
            shared,
            kind,
            key: placement.key.clone(),
            placement,
            buffer: Vec::new(),
            total: 0,
            multipart: None,
            state: State::Open,
        }
    }

    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.guarded(|upload| upload.append(data))
    }

    /// Makes the object visible; returns its length.
    pub fn finish(&mut self) -> Result<u64> {
        let total = self.guarded(Self::complete)?;
        self.state = State::Finished;
        Ok(total)
    }

    /// Gives up: removes the parts sent so far.
    pub fn abort(&mut self) -> Result<()> {
        self.check_open()?;
        self.state = State::Failed;
        self.abort_multipart()
    }

    fn check_open(&self) -> Result<()> {
        self.shared.check_open()?;
        match self.state {
            State::Open => Ok(()),
            State::Finished => Err(Error::InvalidArgument(format!(
                "the upload of {} is already finished",
                self.key
            ))),
            State::Failed => Err(Error::InvalidArgument(format!(
                "the upload of {} failed or was aborted: start a new one",
                self.key
            ))),
        }
    }

    /// Runs a step; any failure aborts the upload so nothing half-written stays.
    fn guarded<R>(&mut self, step: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        self.check_open()?;
        step(self).inspect_err(|_| {
            self.state = State::Failed;
            // The step's error is what the caller needs; an abort failure on top
            // of it (the server is likely unreachable) changes nothing for them.
            let _ = self.abort_multipart();
        })
    }

    fn part_size(&self) -> usize {
        self.shared.config.part_size as usize
    }

    fn append(&mut self, mut data: &[u8]) -> Result<()> {
        let part_size = self.part_size();
        while !data.is_empty() {
            if self.buffer.len() == part_size {
                // More bytes follow, so this full buffer is not the last part.
                self.send_part()?;
            }
            let take = (part_size - self.buffer.len()).min(data.len());
            if self.buffer.len() + take > SMALL_BUFFER {
                self.buffer.reserve_exact(part_size - self.buffer.len());
            }
            self.buffer.extend_from_slice(&data[..take]);
            self.total += take as u64;
            data = &data[take..];
        }
        Ok(())
    }

    fn complete(&mut self) -> Result<u64> {
        if self.total == 0 {
            return Err(Error::InvalidArgument(format!(
                "refusing to store an empty {}: kloset never writes one, so the writer failed",
                self.kind.as_str()
            )));
        }
        let total = if self.multipart.is_none() {
            self.put_single()?
        } else {
            if !self.buffer.is_empty() {
                self.send_part()?;
            }
            self.complete_multipart()?
        };
        self.copy_to_archive()?;
        Ok(total)
    }

    /// Archive tiers: the archive-class copy of an object kept readable in
    /// STANDARD, made server side (made again when the object was already
    /// there: an earlier upload may have stopped before its copy).
    fn copy_to_archive(&self) -> Result<()> {
        let Some(copy) = &self.placement.archive_copy else {
            return Ok(());
        };
        let options = WriteOptions {
            storage_class: Some(self.shared.config.storage_class),
            if_none_match: false,
            metadata: Vec::new(),
            object: Some(&self.shared.object),
            retention: self.retention(),
        };
        let req = actions::copy_object(&self.shared.bucket, copy, &self.key, &options);
        self.shared
            .client
            .send_with(&req, &[], Payload::Empty, |mut response| {
                let document = read_capped(&mut response.body, xml::MAX_XML_BODY + 1);
                xml::parse_copy_object(response.status, &document)
            })
            .map_err(|e| self.shared.refusal(copy, e, options.sent()))
    }

    /// Object Lock for this object, dated now, when configured.
    fn retention(&self) -> Option<crate::retention::Retention> {
        self.placement
            .locked
            .then(|| self.shared.retention_now())
            .flatten()
    }

    fn immutable(&self) -> bool {
        self.kind != Kind::Lock
    }

    fn write_options(&self, metadata: Vec<(&'static str, String)>) -> WriteOptions<'_> {
        WriteOptions {
            storage_class: Some(self.placement.class),
            if_none_match: self.immutable() && self.shared.config.conditional_writes,
            metadata,
            object: Some(&self.shared.object),
            retention: self.retention(),
        }
    }

    fn put_single(&mut self) -> Result<u64> {
        let digests = SinglePart::of(&self.buffer);
        let ours = digests.identities();
        if self.immutable() && !self.shared.config.conditional_writes && self.exists_as(&ours)? {
            return Ok(self.total);
        }
        let options = self.write_options(vec![(META_XXH3, hex::encode(&digests.xxh3))]);
        let content_md5 = integrity::content_md5(&digests.md5);
        let req = actions::put_object(&self.shared.bucket, &self.key, &content_md5, &options);
        let sent = self.send_data(&req, &self.buffer);
        match sent {
            Ok(response) if response.etag().is_some() => Ok(self.total),
            Ok(_) => Err(no_etag(&self.key)),
            Err(e) if e.status() == Some(412) => self.settle_conflict(&ours),
            Err(e) => Err(self.shared.refusal(&self.key, e, options.sent())),
        }
    }

    fn send_data(
        &self,
        req: &crate::request::Request,
        data: &[u8],
    ) -> Result<Response<T::Body>, SendError> {
        let hash;
        let payload = match self.shared.config.checksum {
            // Content-MD5 is signed and checked by the server; hashing every byte
            // a second time for the signature would only cost CPU.
            Checksum::Md5 => Payload::Unsigned,
            Checksum::Sha256 => {
                hash = sha256(data);
                Payload::Sha256(&hash)
            }
        };
        self.shared.client.send(req, data, payload)
    }

    fn start_multipart(&mut self) -> Result<()> {
        let options = self.write_options(vec![(META_PART_SIZE, self.part_size().to_string())]);
        let mut options = options;
        options.if_none_match = false;
        let req = actions::create_multipart(&self.shared.bucket, &self.key, &options);
        let mut response = self
            .shared
            .client
            .send(&req, &[], Payload::Empty)
            .map_err(|e| self.shared.refusal(&self.key, e, options.sent()))?;
        let body = read_capped(&mut response.body, xml::MAX_XML_BODY + 1);
        let upload_id = xml::parse_initiate_multipart(&body)?;
        self.multipart = Some(Multipart {
            upload_id,
            parts: Vec::new(),
            digests: PartDigests::default(),
        });
        Ok(())
    }

    fn send_part(&mut self) -> Result<()> {
        if self.multipart.is_none() {
            self.start_multipart()?;
        }
        let max_parts = self.shared.config.max_parts;
        let Some(multipart) = &self.multipart else {
            return Err(Error::Other("multipart upload not started".into()));
        };
        let number = multipart.parts.len() as u32 + 1;
        if number > max_parts {
            return Err(Error::InvalidArgument(format!(
                "{} is larger than {max_parts} parts of {} bytes: raise `part_size`",
                self.key,
                self.part_size()
            )));
        }
        let md5 = integrity::md5(&self.buffer);
        let content_md5 = integrity::content_md5(&md5);
        let req = actions::upload_part(
            &self.shared.bucket,
            &self.key,
            &multipart.upload_id,
            number,
            &content_md5,
            &self.shared.object,
        );
        let response = self
            .send_data(&req, &self.buffer)
            .map_err(|e| self.shared.refusal(&self.key, e, self.shared.object.sent()))?;
        let etag = response
            .etag()
            .map(str::to_owned)
            .ok_or_else(|| no_etag(&format!("part {number} of {}", self.key)))?;
        if let Some(multipart) = &mut self.multipart {
            multipart.parts.push((number, etag));
            multipart.digests.push(&md5);
        }
        self.buffer.clear();
        Ok(())
    }

    fn complete_multipart(&mut self) -> Result<u64> {
        let Some(multipart) = &self.multipart else {
            return Err(Error::Other("multipart upload not started".into()));
        };
        let ours = [self.expected_multipart(multipart)];
        if self.immutable() && self.exists_as(&ours)? {
            // Identical content is already there: drop our parts, keep theirs.
            self.abort_multipart()?;
            return Ok(self.total);
        }
        let body = xml::complete_multipart_body(&multipart.parts);
        let req = actions::complete_multipart(
            &self.shared.bucket,
            &self.key,
            &multipart.upload_id,
            &base64_md5(body.as_bytes()),
            self.immutable() && self.shared.config.conditional_writes,
            &self.shared.object,
        );
        let hash = sha256(body.as_bytes());
        let sent = self.shared.client.send_with(
            &req,
            body.as_bytes(),
            Payload::Sha256(&hash),
            |mut response| {
                let version = response.header("x-amz-version-id").map(str::to_owned);
                let document = read_capped(&mut response.body, xml::MAX_XML_BODY + 1);
                xml::parse_complete_multipart(response.status, &document).map(|_| version)
            },
        );
        match sent {
            Ok(version) => {
                self.multipart = None;
                self.lock_completed(version.as_deref())?;
                Ok(self.total)
            }
            // 412: someone wrote the key since our check. 404 NoSuchUpload: a
            // retried Complete whose first attempt succeeded. Either way the
            // object now there decides.
            Err(e) if matches!(e.status(), Some(412) | Some(404)) => {
                let _ = self.abort_multipart();
                self.settle_conflict(&ours)
            }
            Err(e) => Err(self.shared.refusal(&self.key, e, self.shared.object.sent())),
        }
    }

    /// Locks the object a Complete just made. AWS applies the lock headers of
    /// CreateMultipartUpload; moto 5 and Ceph 16 drop them (measured), which
    /// would leave every large packfile unprotected. The date is taken now,
    /// so it only ever extends what the server may already have applied.
    fn lock_completed(&self, version_id: Option<&str>) -> Result<()> {
        match self.retention() {
            Some(retention) => self.shared.put_retention(&self.key, version_id, &retention),
            None => Ok(()),
        }
    }

    fn expected_multipart(&self, multipart: &Multipart) -> Expected {
        let etag = multipart.digests.etag();
        let digest = etag
            .split_once('-')
            .and_then(|(d, _)| hex::decode(d))
            .and_then(|d| <[u8; 16]>::try_from(d).ok())
            .unwrap_or_default();
        Expected::PartMd5s {
            part_size: self.part_size() as u64,
            parts: multipart.parts.len() as u64,
            digest,
        }
    }

    /// The key exists though we wrote it conditionally: success if it holds
    /// exactly our bytes, a refusal otherwise.
    fn settle_conflict(&mut self, ours: &[Expected]) -> Result<u64> {
        if self.exists_as(ours)? {
            return Ok(self.total);
        }
        Err(Error::AlreadyExists(format!(
            "a different {} is already stored as {}: refusing to overwrite it",
            self.kind.as_str(),
            self.key
        )))
    }

    /// Whether the object at our key holds exactly the bytes `ours` (digests
    /// of the same bytes, the strongest first) describes.
    /// Metadata or ETag decide when they can; otherwise the object is read
    /// back and digested the way we digested ours.
    fn exists_as(&self, ours: &[Expected]) -> Result<bool> {
        let Some(headers) = self.shared.head(&self.key)? else {
            return Ok(false);
        };
        let length = header(&headers, "content-length").and_then(|v| v.parse::<u64>().ok());
        if length.is_some_and(|length| length != self.total) {
            return Ok(false);
        }
        let theirs = integrity::expected(&headers, self.total, true)?;
        if ours.contains(&theirs) {
            return Ok(true);
        }
        self.read_back_matches(&ours[0])
    }

    fn read_back_matches(&self, ours: &Expected) -> Result<bool> {
        let mut download = Download::open(self.shared.clone(), self.key.clone(), None)?;
        let mut verifier = Verifier::new(ours.clone());
        while let Some(chunk) = download.read(1 << 20)? {
            verifier.update(&chunk);
        }
        Ok(verifier.finish().is_ok())
    }

    fn abort_multipart(&mut self) -> Result<()> {
        let Some(multipart) = self.multipart.take() else {
            return Ok(());
        };
        let req = actions::abort_multipart(&self.shared.bucket, &self.key, &multipart.upload_id);
        match self.shared.client.send(&req, &[], Payload::Empty) {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) => Err(e.into_error(&format!("aborting the upload of {}", self.key))),
        }
    }
}

/// A write the server answered without the ETag S3 always sends.
pub(crate) fn no_etag(what: &str) -> Error {
    Error::Other(format!(
        "the server sent no ETag for {what}: it may not have stored it"
    ))
}

impl<T: Transport> Drop for Upload<T> {
    /// An upload dropped before `finish` leaves no parts behind.
    fn drop(&mut self) {
        if self.state == State::Open {
            let _ = self.abort_multipart();
        }
    }
}
