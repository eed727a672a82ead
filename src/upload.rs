//! Writing an object of any size with bounded memory: bytes are buffered up to
//! one part; a small object goes up in one PUT at `finish`, a large one as a
//! multipart upload whose parts leave as they fill. Nothing is visible before
//! `finish`; a failed or abandoned upload aborts its multipart upload.
//!
//! Immutable objects (packfiles, states, `CONFIG`) are never replaced by
//! other bytes, on any server (see [`crate::existing`]): before the first
//! byte leaves, the key is asked what it holds. Absent: the bytes go up, with
//! `If-None-Match: *` where `conditional_writes` allows. Present: nothing is
//! sent; the bytes are only digested, and `finish` answers success for the
//! same bytes and `already-exists` for others. Once the server has been seen
//! refusing such a write (412; the first small put of a store sends its
//! bytes twice to find out), a single-PUT object skips the question: the
//! conditional PUT asks it, in one round trip instead of two. A write the server refuses
//! because the key appeared meanwhile (412), and a CompleteMultipartUpload
//! retried after its first attempt landed (S3 answers 404 NoSuchUpload), end
//! the same way.
//!
//! Every way `finish` succeeds leaves the object under the configured Object
//! Lock retention (see [`crate::object_lock`]). When `finish` fails after the
//! object became visible (its retention or archive copy could not be set),
//! the error says so, and putting the same bytes again completes it.

use std::cell::Cell;
use std::rc::Rc;

use crate::actions::{self, WriteOptions, META_PART_SIZE, META_XXH3};
use crate::client::{Response, SendError, Transport};
use crate::config::Checksum;
use crate::context::{ConditionalWrites, Owner, Placement, Shared};
use crate::error::{Error, Result, S3Failure};
use crate::existing::{self, Existing};
use crate::hex;
use crate::integrity::{self, content_md5_of, sha256, Expected, PartDigests, SinglePart};
use crate::object_lock;
use crate::request::Request;
use crate::retention::Retention;
use crate::sigv4::Payload;
use crate::xml;

/// The largest put that finds out whether the server honours
/// `If-None-Match: *` by sending its bytes a second time (see
/// [`Upload::probe`]): once per store, so that a store putting only
/// packfiles of a few MiB learns it too.
const PROBE_MAX: usize = 16 << 20;

/// Below this a buffer grows with the data; past it, it takes a whole part
/// at once, so growth never holds two large copies.
const SMALL_BUFFER: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Finished,
    Failed,
}

/// How far the bytes went.
enum Phase {
    /// Buffered, nothing sent: the object fits in one part so far.
    Buffering,
    /// A multipart upload: parts leave as they fill.
    Sending(Multipart),
    /// The key already held an object when the first part was due: nothing
    /// is sent, parts are only digested, and `finish` compares.
    Comparing {
        digests: PartDigests,
        /// Its length: more bytes than that are other bytes at once.
        existing_length: Option<u64>,
    },
}

struct Multipart {
    upload_id: String,
    parts: Vec<(u32, String)>,
    digests: PartDigests,
    /// What CreateMultipartUpload's lock headers asked for.
    retention: Option<Retention>,
}

pub struct Upload<T: Transport> {
    shared: Rc<Shared<T>>,
    placement: Placement,
    part_size: usize,
    buffer: Vec<u8>,
    total: u64,
    phase: Phase,
    state: State,
}

impl<T: Transport> Upload<T> {
    pub fn new(shared: Rc<Shared<T>>, placement: Placement) -> Result<Self> {
        // The configuration bounds it for a 32-bit target; checked all the same.
        let part_size = usize::try_from(shared.config.part_size)
            .map_err(|_| Error::config("part_size", "too large for this component's memory"))?;
        Ok(Upload {
            shared,
            placement,
            part_size,
            buffer: Vec::new(),
            total: 0,
            phase: Phase::Buffering,
            state: State::Open,
        })
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

    fn key(&self) -> &str {
        &self.placement.key
    }

    fn check_open(&self) -> Result<()> {
        self.shared.check_open()?;
        match self.state {
            State::Open => Ok(()),
            State::Finished => Err(Error::InvalidArgument(format!(
                "the upload of {} is already finished",
                self.key()
            ))),
            State::Failed => Err(Error::InvalidArgument(format!(
                "the upload of {} failed or was aborted: start a new one",
                self.key()
            ))),
        }
    }

    /// Runs a step; any failure aborts the upload so nothing half-written stays.
    fn guarded<R>(&mut self, step: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        self.check_open()?;
        step(self).inspect_err(|_| {
            self.state = State::Failed;
            // The step's error is what the caller needs; an abort that fails
            // too (the server is likely unreachable) is only worth a warning.
            if let Err(e) = self.abort_multipart() {
                leftover_parts(
                    &self.shared,
                    self.key(),
                    "the failed upload could not be aborted",
                    e,
                );
            }
        })
    }

    fn append(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            if self.buffer.len() == self.part_size {
                // More bytes follow, so this full buffer is not the last part.
                self.flush_part()?;
            }
            let take = (self.part_size - self.buffer.len()).min(data.len());
            if self.buffer.len() + take > SMALL_BUFFER {
                self.reserve_part()?;
            }
            self.buffer.extend_from_slice(&data[..take]);
            self.total += take as u64;
            data = &data[take..];
        }
        Ok(())
    }

    /// Room for a whole part, or a clear error where memory runs out.
    fn reserve_part(&mut self) -> Result<()> {
        let part_size = self.part_size;
        self.buffer
            .try_reserve_exact(part_size - self.buffer.len())
            .map_err(|_| {
                Error::config(
                    "part_size",
                    format!(
                        "cannot hold a part of {part_size} bytes in memory: lower part_size \
                         or raise the host's memory limit"
                    ),
                )
            })
    }

    fn complete(&mut self) -> Result<u64> {
        if self.total == 0 && self.placement.owner == Owner::Kloset {
            return Err(Error::InvalidArgument(format!(
                "refusing to store an empty {}: kloset never writes one, so the writer failed",
                self.placement.what
            )));
        }
        match self.phase {
            Phase::Buffering => self.put_single()?,
            Phase::Sending(_) | Phase::Comparing { .. } => {
                if !self.buffer.is_empty() {
                    self.flush_part()?;
                }
                self.complete_multipart()?;
            }
        }
        self.copy_to_archive()?;
        Ok(self.total)
    }

    /// Object Lock for this object, dated now, when configured.
    fn retention(&self) -> Option<Retention> {
        self.placement
            .locked
            .then(|| self.shared.retention_now())
            .flatten()
    }

    /// `metadata`: our digests, recorded on kloset's objects only; a
    /// file gets its own headers instead.
    fn write_options(
        &self,
        metadata: Vec<(&'static str, String)>,
        retention: Option<Retention>,
    ) -> WriteOptions<'_> {
        let (metadata, headers) = match &self.placement.owner {
            Owner::Kloset => (metadata, &[][..]),
            Owner::File { headers } => (Vec::new(), headers.as_slice()),
        };
        WriteOptions {
            storage_class: Some(self.placement.class),
            if_none_match: self.placement.immutable && self.shared.config.conditional_writes,
            metadata,
            headers,
            object: Some(&self.shared.object),
            retention,
        }
    }

    /// One PUT. An immutable key is asked first what it holds, unless the
    /// server was seen honouring `If-None-Match: *`: then the PUT carrying
    /// it is the question, and a 412 is settled on what the key holds.
    fn put_single(&mut self) -> Result<()> {
        let digests = SinglePart::of(&self.buffer);
        let ours = digests.identities();
        let asked = self.placement.immutable && !self.shared.honours_conditional_writes();
        if asked {
            match existing::compare(&self.shared, self.key(), self.total, &ours)? {
                Existing::Absent => {}
                Existing::Same(headers) => return self.keep(&headers),
                Existing::Different => return Err(self.different()),
            }
        }
        let retention = self.retention();
        let options = self.write_options(vec![(META_XXH3, hex::encode(&digests.xxh3))], retention);
        let content_md5 = integrity::content_md5(&digests.md5);
        let req = actions::put_object(&self.shared.bucket, self.key(), &content_md5, &options);
        let sent = options.sent();
        match send_data(&self.shared, &req, &self.buffer) {
            Ok(response) if response.etag().is_some() => {
                let mut version = response.header("x-amz-version-id").map(str::to_owned);
                if asked && options.if_none_match && self.probes() {
                    version = self.probe(&req, version);
                }
                self.confirm_lock(self.key(), version.as_deref(), retention)
            }
            Ok(_) => Err(no_etag(self.key())),
            Err(e) if e.status() == Some(412) => {
                self.shared
                    .learn_conditional_writes(ConditionalWrites::Honoured);
                self.settle(
                    &ours,
                    "the server refused the write as the key exists (412)",
                )
            }
            Err(e) => Err(self.shared.refusal(self.key(), e, sent)),
        }
    }

    /// Whether this put finds out what the server does with
    /// `If-None-Match: *`: once per store, on an object of at most
    /// [`PROBE_MAX`] bytes.
    fn probes(&self) -> bool {
        self.shared.conditional_writes() == ConditionalWrites::Unknown
            && self.total <= PROBE_MAX as u64
    }

    /// Sends the PUT that just stored our bytes once more. A server that
    /// honours `If-None-Match: *` refuses it (412): from then on this store's
    /// small puts skip the HEAD before them (one round trip instead of two).
    /// One that ignores the header stores the same bytes again (on a
    /// versioned bucket, a second version, under the same lock headers),
    /// which replaces nothing; the store keeps asking first. Returns the
    /// version now current.
    fn probe(&self, req: &Request, version: Option<String>) -> Option<String> {
        match send_data(&self.shared, req, &self.buffer) {
            Err(e) if e.status() == Some(412) => {
                self.shared
                    .learn_conditional_writes(ConditionalWrites::Honoured);
                version
            }
            Ok(response) => {
                self.shared
                    .learn_conditional_writes(ConditionalWrites::Ignored);
                response
                    .header("x-amz-version-id")
                    .map(str::to_owned)
                    .or(version)
            }
            Err(_) => {
                self.shared
                    .learn_conditional_writes(ConditionalWrites::Ignored);
                version
            }
        }
    }

    /// Sends the buffer as the next part (or, when the key already held an
    /// object, only digests it). The first part decides which.
    fn flush_part(&mut self) -> Result<()> {
        if matches!(self.phase, Phase::Buffering) {
            self.phase = self.begin_multipart()?;
        }
        let md5 = integrity::md5(&self.buffer);
        match &mut self.phase {
            Phase::Sending(multipart) => {
                let part =
                    upload_part(&self.shared, &self.placement, multipart, &self.buffer, &md5)?;
                multipart.parts.push(part);
                multipart.digests.push(&md5);
            }
            Phase::Comparing {
                digests,
                existing_length,
            } => {
                digests.push(&md5);
                if existing_length.is_some_and(|length| self.total > length) {
                    return Err(self.different());
                }
            }
            Phase::Buffering => return Err(Error::Other("multipart upload not started".into())),
        }
        self.buffer.clear();
        Ok(())
    }

    /// The first part is due: an immutable key that already holds an object
    /// gets nothing; otherwise a multipart upload starts.
    fn begin_multipart(&self) -> Result<Phase> {
        if self.placement.immutable {
            if let Some(headers) = self.shared.head(self.key())? {
                return Ok(Phase::Comparing {
                    digests: PartDigests::default(),
                    existing_length: existing::length(&headers),
                });
            }
        }
        self.create_multipart().map(Phase::Sending)
    }

    /// CreateMultipartUpload. Each one that lands starts an upload, so one
    /// whose answer was lost is not simply sent again: the uploads of our
    /// key are listed and aborted first (see [`abort_uploads_of`]).
    fn create_multipart(&self) -> Result<Multipart> {
        let retention = self.retention();
        let metadata = vec![(META_PART_SIZE, self.part_size.to_string())];
        let mut options = self.write_options(metadata, retention);
        options.if_none_match = false;
        let req = actions::create_multipart(&self.shared.bucket, self.key(), &options);
        let upload_id = self
            .shared
            .client
            .send_non_idempotent(
                &req,
                &[],
                Payload::Empty,
                |answer| {
                    xml::parse_initiate_multipart(&answer.body).map_err(|e| S3Failure {
                        status: answer.status,
                        message: e.to_string(),
                        ..Default::default()
                    })
                },
                |_| abort_uploads_of(&self.shared, self.key()),
            )
            .map_err(|e| self.shared.refusal(self.key(), e, options.sent()))?;
        Ok(Multipart {
            upload_id,
            parts: Vec::new(),
            digests: PartDigests::default(),
            retention,
        })
    }

    fn complete_multipart(&mut self) -> Result<()> {
        let multipart = match &self.phase {
            Phase::Sending(multipart) => multipart,
            Phase::Comparing { digests, .. } => {
                let ours = [digests.expected(self.shared.config.part_size)];
                return self.settle(&ours, "the key held an object when the upload began");
            }
            Phase::Buffering => return Err(Error::Other("multipart upload not started".into())),
        };
        let ours = [multipart.digests.expected(self.shared.config.part_size)];
        let body = xml::complete_multipart_body(&multipart.parts);
        let req = actions::complete_multipart(
            &self.shared.bucket,
            self.key(),
            &multipart.upload_id,
            &content_md5_of(body.as_bytes()),
            self.placement.immutable && self.shared.config.conditional_writes,
            &self.shared.object,
        );
        let hash = sha256(body.as_bytes());
        let landed = Cell::new(false);
        let sent = self.shared.client.send_non_idempotent(
            &req,
            body.as_bytes(),
            Payload::Sha256(&hash),
            |answer| {
                let version = answer.header("x-amz-version-id").map(str::to_owned);
                xml::parse_complete_multipart(answer.status, &answer.body).map(|_| version)
            },
            |_| landed.set(true),
        );
        match sent {
            Ok(version) => {
                let retention = multipart.retention;
                self.phase = Phase::Buffering;
                self.confirm_lock(self.key(), version.as_deref(), retention)
            }
            // Someone wrote the key since we looked: our upload is still
            // there, and goes.
            Err(e) if e.status() == Some(412) => {
                self.shared
                    .learn_conditional_writes(ConditionalWrites::Honoured);
                self.release_multipart(true);
                let why = "the server refused to complete the upload as the key exists (412)";
                self.settle(&ours, why)
            }
            // A Complete retried after an attempt that may have landed: the
            // retry's refusal (404 NoSuchUpload on S3; s3s-fs says 403) may
            // be our own success. The object now there decides.
            Err(e) if landed.get() || e.status() == Some(404) => {
                self.release_multipart(false);
                let refusal = self
                    .shared
                    .refusal(self.key(), e, self.shared.object.sent());
                let why = format!("completing the upload was retried, which answered `{refusal}`");
                self.settle(&ours, &why)
            }
            Err(e) => Err(self
                .shared
                .refusal(self.key(), e, self.shared.object.sent())),
        }
    }

    /// The write found (or ran into) an object at our key: ours if it holds
    /// exactly our bytes, a refusal otherwise. `why` says how we got here,
    /// for the case where nothing is there after all.
    fn settle(&self, ours: &[Expected], why: &str) -> Result<()> {
        match existing::compare(&self.shared, self.key(), self.total, ours)? {
            Existing::Same(headers) => self.keep(&headers),
            Existing::Different => Err(self.different()),
            Existing::Absent => Err(Error::Unavailable(format!(
                "{}: {why}, but no {} is stored there: put it again",
                self.key(),
                self.placement.what
            ))),
        }
    }

    /// Our bytes are already stored: they stay, locked at least as long as
    /// a write made now would be.
    fn keep(&self, headers: &[(String, String)]) -> Result<()> {
        match self.retention() {
            Some(retention) => {
                object_lock::hold(&self.shared, self.key(), None, headers, retention)
                    .map_err(|e| self.stored_but_unlocked(self.key(), e))
            }
            None => Ok(()),
        }
    }

    /// An object just written with `retention` in its lock headers is
    /// checked to be under it (see [`object_lock::confirm`]).
    fn confirm_lock(
        &self,
        key: &str,
        version_id: Option<&str>,
        retention: Option<Retention>,
    ) -> Result<()> {
        match retention {
            Some(retention) => object_lock::confirm(&self.shared, key, version_id, retention)
                .map_err(|e| self.stored_but_unlocked(key, e)),
            None => Ok(()),
        }
    }

    /// Archive tiers: the archive-class copy of an object kept readable in
    /// STANDARD, made server side (made again when the object was already
    /// there: an earlier upload may have stopped before its copy).
    fn copy_to_archive(&self) -> Result<()> {
        let Some(copy) = &self.placement.archive_copy else {
            return Ok(());
        };
        let retention = self.retention();
        let options = WriteOptions {
            storage_class: Some(self.shared.config.storage_class),
            if_none_match: false,
            metadata: Vec::new(),
            headers: &[],
            object: Some(&self.shared.object),
            retention,
        };
        let req = actions::copy_object(&self.shared.bucket, copy, self.key(), &options);
        let version = self
            .shared
            .client
            .send_document(&req, &[], Payload::Empty, |answer| {
                let version = answer.header("x-amz-version-id").map(str::to_owned);
                xml::parse_copy_object(answer.status, &answer.body).map(|()| version)
            })
            .map_err(|e| {
                let e = self.shared.refusal(copy, e, options.sent());
                self.stored_but(&format!("its archive copy {copy} is not made"), e)
            })?;
        self.confirm_lock(copy, version.as_deref(), retention)
    }

    fn different(&self) -> Error {
        Error::AlreadyExists(format!(
            "a different {} is already stored as {}: refusing to overwrite it",
            self.placement.what,
            self.key()
        ))
    }

    fn stored_but_unlocked(&self, key: &str, e: Error) -> Error {
        let missing = match key == self.key() {
            true => "it is not under Object Lock yet".to_owned(),
            false => format!("its archive copy {key} is not under Object Lock yet"),
        };
        self.stored_but(&missing, e)
    }

    /// A failure after the object became visible: the error says in what
    /// state it is, and how to finish the job.
    fn stored_but(&self, missing: &str, e: Error) -> Error {
        let stored = format!(
            "{} {} is stored, with the bytes written, but {missing}; putting the same bytes \
             again completes it",
            self.placement.what,
            self.key()
        );
        e.map_message(|message| format!("{stored}: {message}"))
    }

    /// Aborts the multipart upload, if one is open.
    fn abort_multipart(&mut self) -> Result<()> {
        let Phase::Sending(multipart) = std::mem::replace(&mut self.phase, Phase::Buffering) else {
            return Ok(());
        };
        abort(&self.shared, self.key(), &multipart.upload_id)
    }

    /// Drops our upload once the object is there. A refusal changes nothing
    /// for the caller; it is worth a warning when the upload is known to be
    /// alive (`alive`), not after a Complete that may have landed, which
    /// consumed it (servers then answer 404, or 403 like s3s-fs).
    fn release_multipart(&mut self, alive: bool) {
        match self.abort_multipart() {
            Err(e) if alive => leftover_parts(
                &self.shared,
                self.key(),
                "aborting our now useless multipart upload failed",
                e,
            ),
            _ => {}
        }
    }
}

/// PUT of an object or a part, with the configured checksum.
fn send_data<T: Transport>(
    shared: &Shared<T>,
    req: &Request,
    data: &[u8],
) -> Result<Response<T::Body>, SendError> {
    let hash;
    let payload = match shared.config.checksum {
        // Content-MD5 is signed and checked by the server; hashing every byte
        // a second time for the signature would only cost CPU.
        Checksum::Md5 => Payload::Unsigned,
        Checksum::Sha256 => {
            hash = sha256(data);
            Payload::Sha256(&hash)
        }
    };
    shared.client.send(req, data, payload)
}

/// UploadPart of `data` (whose MD5 is `md5`) as the next part of
/// `multipart`; returns its number and ETag.
fn upload_part<T: Transport>(
    shared: &Shared<T>,
    placement: &Placement,
    multipart: &Multipart,
    data: &[u8],
    md5: &[u8; 16],
) -> Result<(u32, String)> {
    let key = &placement.key;
    let max_parts = shared.config.max_parts;
    let number = u32::try_from(multipart.parts.len() + 1).unwrap_or(u32::MAX);
    if number > max_parts {
        return Err(Error::InvalidArgument(format!(
            "{key} is larger than {max_parts} parts of {} bytes: raise `part_size`",
            shared.config.part_size
        )));
    }
    let content_md5 = integrity::content_md5(md5);
    let req = actions::upload_part(
        &shared.bucket,
        key,
        &multipart.upload_id,
        number,
        &content_md5,
        &shared.object,
    );
    let response =
        send_data(shared, &req, data).map_err(|e| shared.refusal(key, e, shared.object.sent()))?;
    let etag = response
        .etag()
        .ok_or_else(|| no_etag(&format!("part {number} of {key}")))?;
    Ok((number, etag.to_owned()))
}

/// AbortMultipartUpload; an upload already gone is fine.
fn abort<T: Transport>(shared: &Shared<T>, key: &str, upload_id: &str) -> Result<()> {
    let req = actions::abort_multipart(&shared.bucket, key, upload_id);
    match shared.client.send(&req, &[], Payload::Empty) {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(404) => Ok(()),
        Err(e) => Err(e.into_error(&format!("aborting the upload of {key}"))),
    }
}

/// After a CreateMultipartUpload that may have landed without our knowing
/// its upload id: aborts every upload in progress on `key`. The key is
/// content-addressed, so another upload of it at this very moment is a
/// concurrent writer of the same bytes; its parts fail, and it may have to
/// put again, but nothing is lost. What cannot be checked (a server without
/// ListMultipartUploads, a missing permission) is a warning.
fn abort_uploads_of<T: Transport>(shared: &Shared<T>, key: &str) {
    let req = actions::list_multipart_uploads(&shared.bucket, key);
    let listed = shared
        .client
        .send_document(&req, &[], Payload::Empty, |answer| Ok(answer.body))
        .map_err(|e| e.into_error(&format!("uploads of {key}")))
        .and_then(|body| xml::parse_list_multipart_uploads(&body));
    let outcome = listed.and_then(|uploads| {
        uploads
            .iter()
            .filter(|upload| upload.key == key)
            .try_for_each(|upload| abort(shared, key, &upload.upload_id))
    });
    if let Err(e) = outcome {
        let why = "an answer to CreateMultipartUpload was lost, and the upload it may have \
                   started could not be found and aborted";
        leftover_parts(shared, key, why, e);
    }
}

/// Warns of parts left on `key` because of `error`.
fn leftover_parts<T: Transport>(shared: &Shared<T>, key: &str, why: &str, error: Error) {
    shared.warn(format!(
        "{key}: {why} ({error}): its parts stay until a lifecycle rule \
         (AbortIncompleteMultipartUpload) removes them"
    ));
}

/// A write the server answered without the ETag S3 always sends.
fn no_etag(what: &str) -> Error {
    Error::Other(format!(
        "the server sent no ETag for {what}: it may not have stored it"
    ))
}

impl<T: Transport> Drop for Upload<T> {
    /// An upload dropped before `finish` leaves no parts behind.
    fn drop(&mut self) {
        if self.state == State::Open {
            if let Err(e) = self.abort_multipart() {
                let why = "the abandoned upload could not be aborted";
                leftover_parts(&self.shared, self.key(), why, e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::iso8601;
    use crate::layout::{Kind, Mac};
    use crate::retention::{MODE_HEADER, UNTIL_HEADER};
    use crate::script::{head_of, Reply, Script, EPOCH};
    use crate::store::Store;

    const MIB: usize = 1 << 20;
    const DAY: u64 = 86_400;
    const MAC: Mac = Mac([0xab; 32]);
    const LOCK_1D: [(&str, &str); 2] = [
        ("object_lock_mode", "GOVERNANCE"),
        ("object_lock_retention", "1d"),
    ];
    const PART_5MIB: [(&str, &str); 1] = [("part_size", "5MiB")];

    fn put(store: &Store<Script>, data: &[u8]) -> Result<u64> {
        let mut upload = store.put(Kind::Packfile, &MAC, false)?;
        upload.write(data)?;
        upload.finish()
    }

    /// 5 MiB + 10 bytes: two parts of the 5 MiB part size.
    fn large() -> Vec<u8> {
        (0..5 * MIB + 10).map(|i| (i % 251) as u8).collect()
    }

    /// A HEAD answer for `data` stored as a multipart upload of 5 MiB parts.
    fn multipart_head(data: &[u8]) -> Reply {
        let mut digests = PartDigests::default();
        data.chunks(5 * MIB)
            .for_each(|part| digests.push(&integrity::md5(part)));
        Reply::status(200)
            .with("content-length", &data.len().to_string())
            .with("etag", &format!("\"{}\"", digests.etag()))
            .with(META_PART_SIZE, &(5 * MIB).to_string())
    }

    fn locked(until: u64) -> [(&'static str, String); 2] {
        [
            (MODE_HEADER, "GOVERNANCE".to_owned()),
            (UNTIL_HEADER, iso8601(until)),
        ]
    }

    fn with_headers(mut reply: Reply, headers: &[(&'static str, String)]) -> Reply {
        for (name, value) in headers {
            reply = reply.with(name, value);
        }
        reply
    }

    const INITIATE: &str = "<InitiateMultipartUploadResult><UploadId>u1</UploadId>\
                            </InitiateMultipartUploadResult>";
    const COMPLETE: &str = "<CompleteMultipartUploadResult><ETag>\"e-2\"</ETag>\
                            </CompleteMultipartUploadResult>";

    /// The first small put of a store sends its bytes again: a server
    /// honouring `If-None-Match: *` refuses it.
    fn probe(line: &'static str) -> (&'static str, Reply) {
        (line, Reply::error(412, "PreconditionFailed"))
    }

    fn put_mac(store: &Store<Script>, mac: u8, data: &[u8]) -> Result<u64> {
        let mut upload = store.put(Kind::Packfile, &Mac([mac; 32]), false)?;
        upload.write(data)?;
        upload.finish()
    }

    #[test]
    fn once_the_server_refused_a_conditional_put_small_puts_skip_the_head() {
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("e")),
            probe("PUT /bkt/packfiles/ab/"),
            // Learnt: the conditional PUT is the question.
            ("PUT /bkt/packfiles/cd/", Reply::stored("e")),
            // Other bytes already there: refused by the server, then found.
            (
                "PUT /bkt/packfiles/ef/",
                Reply::error(412, "PreconditionFailed"),
            ),
            ("HEAD /bkt/packfiles/ef/", head_of(b"jello", &[])),
            // Large objects still ask first (nothing sent for an existing
            // key), and compare at the end.
            ("HEAD /bkt/packfiles/ab/", multipart_head(&large())),
            ("HEAD /bkt/packfiles/ab/", multipart_head(&large())),
        ]);
        let store = script.store(&PART_5MIB);
        assert_eq!(put_mac(&store, 0xab, b"hello"), Ok(5));
        assert_eq!(put_mac(&store, 0xcd, b"hello"), Ok(5));
        assert!(matches!(
            put_mac(&store, 0xef, b"hello"),
            Err(Error::AlreadyExists(_))
        ));
        let data = large();
        assert_eq!(put_mac(&store, 0xab, &data), Ok(data.len() as u64));
        script.assert_done();
        let seen = script.seen();
        assert_eq!(seen[2].body, b"hello", "the probe sends the same bytes");
        assert!([1, 2, 3, 4]
            .iter()
            .all(|&i| seen[i].header("if-none-match") == Some("*")));
    }

    #[test]
    fn a_server_ignoring_if_none_match_keeps_being_asked_first() {
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("e")),
            // Stored again: the same bytes, nothing replaced.
            ("PUT /bkt/packfiles/ab/", Reply::stored("e")),
            ("HEAD /bkt/packfiles/cd/", head_of(b"jello", &[])),
            ("HEAD /bkt/packfiles/ef/", Reply::status(404)),
            ("PUT /bkt/packfiles/ef/", Reply::stored("e")),
        ]);
        let store = script.store(&[]);
        assert_eq!(put_mac(&store, 0xab, b"hello"), Ok(5));
        assert!(matches!(
            put_mac(&store, 0xcd, b"hello"),
            Err(Error::AlreadyExists(_))
        ));
        assert_eq!(put_mac(&store, 0xef, b"hello"), Ok(5));
        script.assert_done();
    }

    #[test]
    fn without_conditional_writes_nothing_is_probed_or_skipped() {
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("e")),
            ("HEAD /bkt/packfiles/cd/", Reply::status(404)),
            ("PUT /bkt/packfiles/cd/", Reply::stored("e")),
        ]);
        let store = script.store(&[("conditional_writes", "false")]);
        assert_eq!(put_mac(&store, 0xab, b"hello"), Ok(5));
        assert_eq!(put_mac(&store, 0xcd, b"hello"), Ok(5));
        script.assert_done();
    }

    #[test]
    fn a_new_object_is_asked_for_then_written_conditionally() {
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("e")),
            probe("PUT /bkt/packfiles/ab/"),
        ]);
        let store = script.store(&[]);
        assert_eq!(put(&store, b"hello"), Ok(5));
        script.assert_done();
        let seen = script.seen();
        assert_eq!(seen[1].header("if-none-match"), Some("*"));
        assert_eq!(seen[1].body, b"hello");
    }

    #[test]
    fn without_conditional_writes_the_check_still_guards_the_key() {
        let other = Script::new(vec![("HEAD /bkt/packfiles/ab/", head_of(b"hellO", &[]))]);
        let store = other.store(&[("conditional_writes", "false")]);
        assert!(matches!(
            put(&store, b"hello"),
            Err(Error::AlreadyExists(_))
        ));
        other.assert_done();

        let absent = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("e")),
        ]);
        let store = absent.store(&[("conditional_writes", "false")]);
        assert_eq!(put(&store, b"hello"), Ok(5));
        assert_eq!(absent.seen()[1].header("if-none-match"), None);
    }

    #[test]
    fn the_same_bytes_already_stored_send_nothing() {
        let script = Script::new(vec![("HEAD /bkt/packfiles/ab/", head_of(b"hello", &[]))]);
        assert_eq!(put(&script.store(&[]), b"hello"), Ok(5));
        script.assert_done();
    }

    #[test]
    fn other_bytes_under_the_key_are_refused_before_any_byte_is_sent() {
        // Same length, other digest: the metadata decides, no read back.
        let script = Script::new(vec![("HEAD /bkt/packfiles/ab/", head_of(b"hellO", &[]))]);
        let err = put(&script.store(&[]), b"hello").unwrap_err();
        assert!(
            matches!(&err, Error::AlreadyExists(m) if m.contains("refusing to overwrite")),
            "{err}"
        );
        script.assert_done();
    }

    #[test]
    fn an_object_of_another_tool_is_read_back_to_compare() {
        // No metadata, an ETag that is no MD5 of ours: the bytes decide.
        let theirs = Reply::status(200)
            .with("content-length", "5")
            .with("etag", "\"opaque\"");
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", theirs.clone()),
            ("GET /bkt/packfiles/ab/", theirs.body(b"hello")),
        ]);
        assert_eq!(put(&script.store(&[]), b"hello"), Ok(5));
        script.assert_done();
    }

    #[test]
    fn a_412_is_settled_by_what_the_key_holds() {
        let same = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            (
                "PUT /bkt/packfiles/ab/",
                Reply::error(412, "PreconditionFailed"),
            ),
            ("HEAD /bkt/packfiles/ab/", head_of(b"hello", &[])),
        ]);
        assert_eq!(put(&same.store(&[]), b"hello"), Ok(5));
        same.assert_done();

        let other = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            (
                "PUT /bkt/packfiles/ab/",
                Reply::error(412, "PreconditionFailed"),
            ),
            ("HEAD /bkt/packfiles/ab/", head_of(b"jello", &[])),
        ]);
        assert!(matches!(
            put(&other.store(&[]), b"hello"),
            Err(Error::AlreadyExists(_))
        ));
    }

    #[test]
    fn a_locked_put_is_checked_to_be_under_its_retention() {
        // The server applied the lock headers: nothing more to do.
        let applied = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("e")),
            probe("PUT /bkt/packfiles/ab/"),
            (
                "HEAD /bkt/packfiles/ab/",
                with_headers(head_of(b"hello", &[]), &locked(EPOCH + DAY)),
            ),
        ]);
        assert_eq!(put(&applied.store(&LOCK_1D), b"hello"), Ok(5));
        applied.assert_done();
        let put_request = &applied.seen()[1];
        assert_eq!(put_request.header(MODE_HEADER), Some("GOVERNANCE"));
        assert!(put_request.header(UNTIL_HEADER).is_some());

        // It dropped them: PutObjectRetention sets them.
        let dropped = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            (
                "PUT /bkt/packfiles/ab/",
                Reply::stored("e").with("x-amz-version-id", "v7"),
            ),
            probe("PUT /bkt/packfiles/ab/"),
            ("HEAD /bkt/packfiles/ab/", head_of(b"hello", &[])),
            ("PUT /bkt/packfiles/ab/", Reply::status(200)),
        ]);
        assert_eq!(put(&dropped.store(&LOCK_1D), b"hello"), Ok(5));
        dropped.assert_done();
        let retention = &dropped.seen()[4];
        assert!(
            retention.target.ends_with("?retention=&versionId=v7"),
            "{}",
            retention.target
        );
        let body = String::from_utf8_lossy(&retention.body).into_owned();
        assert!(body.contains("<Mode>GOVERNANCE</Mode>"), "{body}");
    }

    #[test]
    fn an_identical_object_already_there_is_locked_as_a_new_write_would_be() {
        // Stored an hour ago without lock (a server that dropped the headers,
        // an earlier store without lock): the re-put locks it from now.
        let script = Script::new(vec![
            (
                "HEAD /bkt/packfiles/ab/",
                head_of(b"hello", &[("x-amz-version-id", "old")]),
            ),
            ("PUT /bkt/packfiles/ab/", Reply::status(200)),
        ]);
        assert_eq!(put(&script.store(&LOCK_1D), b"hello"), Ok(5));
        script.assert_done();
        let retention = &script.seen()[1];
        assert!(retention.target.ends_with("?retention=&versionId=old"));
        let body = String::from_utf8_lossy(&retention.body).into_owned();
        let until = iso8601(crate::script::EPOCH + DAY);
        assert!(body.contains(&until), "{body} should hold {until}");

        // Already locked longer: left alone.
        let longer = Script::new(vec![(
            "HEAD /bkt/packfiles/ab/",
            with_headers(head_of(b"hello", &[]), &locked(EPOCH + 30 * DAY)),
        )]);
        assert_eq!(put(&longer.store(&LOCK_1D), b"hello"), Ok(5));
        longer.assert_done();
    }

    #[test]
    fn a_multipart_upload_sends_parts_completes_and_locks() {
        let data = large();
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("POST /bkt/packfiles/ab/", Reply::xml(200, INITIATE)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p1")),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p2")),
            (
                "POST /bkt/packfiles/ab/",
                Reply::xml(200, COMPLETE).with("x-amz-version-id", "v1"),
            ),
            // moto and Ceph drop CreateMultipartUpload's lock headers.
            ("HEAD /bkt/packfiles/ab/", multipart_head(&data)),
            ("PUT /bkt/packfiles/ab/", Reply::status(200)),
        ]);
        let store = script.store(&[&LOCK_1D[..], &PART_5MIB].concat());
        assert_eq!(put(&store, &data), Ok(data.len() as u64));
        script.assert_done();
        let lines = script.lines();
        assert!(lines[1].ends_with("?uploads="), "{}", lines[1]);
        assert!(lines[2].ends_with("?partNumber=1&uploadId=u1"));
        assert!(lines[3].ends_with("?partNumber=2&uploadId=u1"));
        assert!(lines[4].ends_with("?uploadId=u1"));
        assert!(lines[6].ends_with("?retention=&versionId=v1"));
        let complete = String::from_utf8_lossy(&script.seen()[4].body).into_owned();
        assert!(complete.contains("<PartNumber>2</PartNumber><ETag>&quot;p2&quot;</ETag>"));
    }

    #[test]
    fn a_retried_complete_whose_first_attempt_landed_still_locks_the_object() {
        // S3 answers the retry 404 NoSuchUpload; s3s-fs 403 AccessDenied.
        for refusal in [
            Reply::error(404, "NoSuchUpload"),
            Reply::error(403, "AccessDenied"),
        ] {
            let data = large();
            let script = Script::new(vec![
                ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
                ("POST /bkt/packfiles/ab/", Reply::xml(200, INITIATE)),
                ("PUT /bkt/packfiles/ab/", Reply::stored("p1")),
                ("PUT /bkt/packfiles/ab/", Reply::stored("p2")),
                // The first Complete lands, its answer is lost.
                ("POST /bkt/packfiles/ab/", Reply::reset()),
                ("POST /bkt/packfiles/ab/", refusal.clone()),
                ("DELETE /bkt/packfiles/ab/", refusal),
                ("HEAD /bkt/packfiles/ab/", multipart_head(&data)),
                ("PUT /bkt/packfiles/ab/", Reply::status(200)),
            ]);
            let store = script.store(&[&LOCK_1D[..], &PART_5MIB].concat());
            assert_eq!(put(&store, &data), Ok(data.len() as u64));
            script.assert_done();
            assert!(script.lines()[8].contains("?retention="));
            assert!(store.take_warnings().is_empty(), "the upload was consumed");
        }

        // Nothing there after all: the refusal is in the error.
        let data = large();
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("POST /bkt/packfiles/ab/", Reply::xml(200, INITIATE)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p1")),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p2")),
            ("POST /bkt/packfiles/ab/", Reply::reset()),
            ("POST /bkt/packfiles/ab/", Reply::error(403, "AccessDenied")),
            ("DELETE /bkt/packfiles/ab/", Reply::status(204)),
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
        ]);
        let err = put(&script.store(&PART_5MIB), &data).unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("AccessDenied") && m.contains("put it again")),
            "{err}"
        );
        script.assert_done();
    }

    #[test]
    fn an_identical_object_whose_upload_cannot_be_aborted_is_a_success_with_a_warning() {
        let data = large();
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("POST /bkt/packfiles/ab/", Reply::xml(200, INITIATE)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p1")),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p2")),
            // Someone wrote the same bytes meanwhile.
            (
                "POST /bkt/packfiles/ab/",
                Reply::error(412, "PreconditionFailed"),
            ),
            (
                "DELETE /bkt/packfiles/ab/",
                Reply::error(405, "MethodNotAllowed"),
            ),
            ("HEAD /bkt/packfiles/ab/", multipart_head(&data)),
        ]);
        let store = script.store(&PART_5MIB);
        assert_eq!(put(&store, &data), Ok(data.len() as u64));
        script.assert_done();
        let warnings = store.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("MethodNotAllowed"), "{}", warnings[0]);
        assert!(store.take_warnings().is_empty(), "taken once");
    }

    #[test]
    fn a_large_object_already_there_is_compared_without_sending_a_byte() {
        let data = large();
        let same = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", multipart_head(&data)),
            ("HEAD /bkt/packfiles/ab/", multipart_head(&data)),
        ]);
        assert_eq!(put(&same.store(&PART_5MIB), &data), Ok(data.len() as u64));
        same.assert_done();

        // Shorter than what is being written: refused as soon as it shows.
        let shorter = Script::new(vec![(
            "HEAD /bkt/packfiles/ab/",
            multipart_head(&data[..5 * MIB + 1]),
        )]);
        let store = shorter.store(&PART_5MIB);
        let mut upload = store.put(Kind::Packfile, &MAC, false).unwrap();
        upload.write(&data[..5 * MIB]).unwrap();
        let err = upload
            .write(&data[5 * MIB..])
            .and_then(|()| upload.write(&data));
        assert!(matches!(err, Err(Error::AlreadyExists(_))), "{err:?}");
        shorter.assert_done();

        // Same length, other bytes: refused at finish, still nothing sent.
        let mut other = data.clone();
        other[7] ^= 1;
        let different = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", multipart_head(&other)),
            ("HEAD /bkt/packfiles/ab/", multipart_head(&other)),
        ]);
        assert!(matches!(
            put(&different.store(&PART_5MIB), &data),
            Err(Error::AlreadyExists(_))
        ));
        different.assert_done();
    }

    const UPLOADS: &str = "<ListMultipartUploadsResult><Upload><Key>packfiles/ab/\
        abababababababababababababababababababababababababababababababab</Key>\
        <UploadId>leaked</UploadId></Upload><Upload><Key>packfiles/ab/other</Key>\
        <UploadId>not-ours</UploadId></Upload></ListMultipartUploadsResult>";

    #[test]
    fn a_lost_create_answer_aborts_the_upload_it_started_before_trying_again() {
        let data = large();
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            // The upload is made, but the answer is cut.
            (
                "POST /bkt/packfiles/ab/",
                Reply::xml(200, INITIATE).cut_after(20),
            ),
            ("GET /bkt?prefix=packfiles", Reply::xml(200, UPLOADS)),
            ("DELETE /bkt/packfiles/ab/", Reply::status(204)),
            ("POST /bkt/packfiles/ab/", Reply::xml(200, INITIATE)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p1")),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p2")),
            ("POST /bkt/packfiles/ab/", Reply::xml(200, COMPLETE)),
        ]);
        let store = script.store(&PART_5MIB);
        assert_eq!(put(&store, &data), Ok(data.len() as u64));
        script.assert_done();
        let lines = script.lines();
        assert!(lines[2].ends_with("&uploads="), "{}", lines[2]);
        assert!(lines[3].ends_with("?uploadId=leaked"), "{}", lines[3]);
        assert!(store.take_warnings().is_empty());
    }

    #[test]
    fn a_create_refused_by_the_server_is_retried_without_looking_for_leaks() {
        let data = large();
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("POST /bkt/packfiles/ab/", Reply::error(503, "SlowDown")),
            ("POST /bkt/packfiles/ab/", Reply::xml(200, INITIATE)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p1")),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p2")),
            ("POST /bkt/packfiles/ab/", Reply::xml(200, COMPLETE)),
        ]);
        assert_eq!(put(&script.store(&PART_5MIB), &data), Ok(data.len() as u64));
        script.assert_done();
    }

    #[test]
    fn a_lost_create_answer_where_uploads_cannot_be_listed_is_a_warning() {
        let data = large();
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("POST /bkt/packfiles/ab/", Reply::reset()),
            (
                "GET /bkt?prefix=packfiles",
                Reply::error(501, "NotImplemented"),
            ),
            ("POST /bkt/packfiles/ab/", Reply::xml(200, INITIATE)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p1")),
            ("PUT /bkt/packfiles/ab/", Reply::stored("p2")),
            ("POST /bkt/packfiles/ab/", Reply::xml(200, COMPLETE)),
        ]);
        let store = script.store(&PART_5MIB);
        assert_eq!(put(&store, &data), Ok(data.len() as u64));
        script.assert_done();
        let warnings = store.take_warnings();
        assert!(
            warnings.len() == 1 && warnings[0].contains("NotImplemented"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_part_that_keeps_failing_aborts_the_upload() {
        let data = large();
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("POST /bkt/packfiles/ab/", Reply::xml(200, INITIATE)),
            ("PUT /bkt/packfiles/ab/", Reply::error(500, "InternalError")),
            ("PUT /bkt/packfiles/ab/", Reply::error(500, "InternalError")),
            ("DELETE /bkt/packfiles/ab/", Reply::status(204)),
        ]);
        let store = script.store(&[&PART_5MIB[..], &[("max_retries", "1")]].concat());
        let err = put(&store, &data).unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("InternalError")),
            "{err}"
        );
        script.assert_done();
        assert!(script.lines()[4].ends_with("?uploadId=u1"));
    }

    #[test]
    fn a_failure_after_the_object_is_visible_says_so() {
        let script = Script::new(vec![
            ("HEAD /bkt/packfiles/ab/", Reply::status(404)),
            ("PUT /bkt/packfiles/ab/", Reply::stored("e")),
            probe("PUT /bkt/packfiles/ab/"),
            ("HEAD /bkt/packfiles/ab/", head_of(b"hello", &[])),
            ("PUT /bkt/packfiles/ab/", Reply::error(403, "AccessDenied")),
        ]);
        let err = put(&script.store(&LOCK_1D), b"hello").unwrap_err();
        let Error::PermissionDenied(message) = &err else {
            panic!("{err}");
        };
        assert!(
            message.contains("is stored, with the bytes written, but it is not under Object Lock")
                && message.contains("putting the same bytes again completes it")
                && message.contains("AccessDenied"),
            "{message}"
        );
        script.assert_done();
    }

    #[test]
    fn an_archived_state_is_copied_to_the_tier_and_the_copy_checked() {
        let copied = "<CopyObjectResult><ETag>\"e\"</ETag></CopyObjectResult>";
        let script = Script::new(vec![
            ("HEAD /bkt/states/ab/", Reply::status(404)),
            ("PUT /bkt/states/ab/", Reply::stored("e")),
            probe("PUT /bkt/states/ab/"),
            (
                "HEAD /bkt/states/ab/",
                with_headers(head_of(b"state", &[]), &locked(EPOCH + DAY)),
            ),
            ("PUT /bkt/states/ab/", Reply::xml(200, copied)),
            ("HEAD /bkt/states/ab/", head_of(b"state", &[])),
            ("PUT /bkt/states/ab/", Reply::error(500, "InternalError")),
        ]);
        let store = script.store(
            &[
                &LOCK_1D[..],
                &[("storage_class", "GLACIER"), ("max_retries", "0")],
            ]
            .concat(),
        );
        let mut upload = store.put(Kind::State, &MAC, false).unwrap();
        upload.write(b"state").unwrap();
        let err = upload.finish().unwrap_err();
        script.assert_done();
        let lines = script.lines();
        assert!(!lines[1].contains(".frozen") && lines[4].ends_with(".frozen"));
        assert!(lines[6].ends_with(".frozen?retention="), "{}", lines[6]);
        assert_eq!(
            script.seen()[4].header("x-amz-copy-source"),
            Some("/bkt/states/ab/abababababababababababababababababababababababababababababababab")
        );
        assert!(
            err.to_string()
                .contains("its archive copy states/ab/abababababababababababababababababababababababababababababababab.frozen is not under Object Lock yet"),
            "{err}"
        );
    }

    #[test]
    fn kloset_locks_are_written_blindly_and_never_locked() {
        let script = Script::new(vec![("PUT /bkt/locks/", Reply::stored("e"))]);
        let store = script.store(&LOCK_1D);
        let mut upload = store.put(Kind::Lock, &MAC, false).unwrap();
        upload.write(b"lock").unwrap();
        assert_eq!(upload.finish(), Ok(4));
        script.assert_done();
        let seen = &script.seen()[0];
        assert_eq!(seen.header("if-none-match"), None);
        assert_eq!(seen.header(MODE_HEADER), None);
    }
}
