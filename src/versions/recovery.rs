//! Putting a kloset back as it was at a moment: for every key of the kloset
//! (`CONFIG`, packfiles, states; kloset's own locks come and go and are left
//! alone) whose current state differs from its state then, one action:
//!
//! - restore: the version it held then is copied back server side
//!   (CopyObject with its `versionId`, metadata and digests kept) as the
//!   current one, locked under the store's Object Lock policy (checked, as
//!   every write is);
//! - hide: what did not exist then gets a delete marker.
//!
//! No version is ever deleted. The plan is computed from what the bucket
//! holds, so a recovery interrupted half-way is finished by running it
//! again, and one run after another plans nothing.

use std::rc::Rc;

use md5::{Digest as _, Md5};

use super::history::Resolved;
use super::pages::{one_key, Histories};
use super::{no_kloset_then, require_versioning, At};
use crate::actions::{self, WriteOptions};
use crate::client::{SendError, Transport};
use crate::config::PointInTime;
use crate::context::Shared;
use crate::download::Download;
use crate::error::{Error, Result};
use crate::layout::{Kind, Layout};
use crate::object_lock;
use crate::sigv4::Payload;
use crate::xml::{self, VersionEntry};

/// Bytes per read when a version is compared by its MD5.
const READ_CHUNK: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Copy `version_id` back as the current version of `key`.
    Restore,
    /// Add a delete marker over `key` (the current `version_id`).
    Hide,
}

/// One step of a recovery, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub step: Step,
    pub key: String,
    /// Restore: the version copied back. Hide: the version hidden.
    pub version_id: String,
    /// Bytes of that version.
    pub size: u64,
    /// When that version was written, milliseconds since 1970.
    pub last_modified_ms: u64,
}

/// What makes a key's current state its state then; `None` when they are
/// already the same: the same version, or the same bytes (a version restored
/// earlier is a copy, with the ETag of its source).
pub fn plan(resolved: Resolved) -> Option<Action> {
    let action = |step, key, v: VersionEntry| Action {
        step,
        key,
        version_id: v.version_id,
        size: v.size,
        last_modified_ms: v.last_modified_ms,
    };
    match (resolved.then, resolved.now) {
        (Some(then), Some(now)) if same_bytes(&then, &now) => None,
        (Some(then), _) => Some(action(Step::Restore, resolved.key, then)),
        (None, Some(now)) => Some(action(Step::Hide, resolved.key, now)),
        (None, None) => None,
    }
}

/// `now` may be a copy of the multipart version `then` that the server
/// gave a plain MD5 ETag: same size, multipart ETag then, MD5 ETag now.
fn copied_multipart(then: &VersionEntry, now: &VersionEntry) -> bool {
    then.etag.contains('-')
        && now.etag.len() == 32
        && !now.etag.contains('-')
        && then.size == now.size
}

fn same_bytes(a: &VersionEntry, b: &VersionEntry) -> bool {
    a.version_id == b.version_id || (!a.etag.is_empty() && a.etag == b.etag && a.size == b.size)
}

/// A recovery to one moment: its plan, a page at a time, and its steps.
pub struct Recovery<T> {
    shared: Rc<Shared<T>>,
    at: At,
    /// The prefixes still to plan, the next last.
    areas: Vec<String>,
    current: Option<Histories<T>>,
}

impl<T: Transport> Recovery<T> {
    /// A recovery to `to` (as `point_in_time` takes it), checked before
    /// anything is planned: the bucket keeps versions, and the kloset
    /// existed then (a recovery to before it would hide it all).
    pub fn new(shared: Rc<Shared<T>>, to: &str) -> Result<Self> {
        shared.check_open()?;
        if shared.config.point_in_time.is_some() {
            return Err(Error::InvalidArgument(
                "recovery writes: open the store without point_in_time".into(),
            ));
        }
        let now = shared.client.transport().unix_time();
        let at = PointInTime::parse(to)
            .and_then(|p| p.resolve(now))
            .map(At)
            .map_err(|m| Error::InvalidArgument(format!("recovery time: {m}")))?;
        require_versioning(&shared, "location")?;
        let config = shared.layout.config_key();
        if one_key(&shared, &config, at.ms())?
            .and_then(|r| r.then)
            .is_none()
        {
            return Err(no_kloset_then(&shared, at));
        }
        let areas = vec![
            shared.layout.list_prefix(Kind::State),
            shared.layout.list_prefix(Kind::Packfile),
            config,
        ];
        Ok(Recovery {
            shared,
            at,
            areas,
            current: None,
        })
    }

    pub fn at(&self) -> At {
        self.at
    }

    /// The next actions (possibly none), or `None` once every key was seen.
    /// Applying a page before asking for the next is fine: the listing goes
    /// on after the keys already planned.
    pub fn plan_page(&mut self) -> Result<Option<Vec<Action>>> {
        loop {
            let histories = match &mut self.current {
                Some(histories) => histories,
                None => {
                    let Some(prefix) = self.areas.pop() else {
                        return Ok(None);
                    };
                    let at = self.at.ms();
                    self.current
                        .insert(Histories::new(self.shared.clone(), prefix, at))
                }
            };
            let Some(page) = histories.next_page()? else {
                self.current = None;
                continue;
            };
            let mut actions = Vec::new();
            for resolved in page.into_iter().filter(|r| self.owns(&r.key)) {
                actions.extend(self.decide(resolved)?);
            }
            return Ok(Some(actions));
        }
    }

    /// [`plan`], except for a multipart version restored earlier on a
    /// server whose copies get a plain MD5 ETag (moto): then the version of
    /// that time is read, checked, and its MD5 compared.
    fn decide(&self, resolved: Resolved) -> Result<Option<Action>> {
        if let (Some(then), Some(now)) = (&resolved.then, &resolved.now) {
            if copied_multipart(then, now)
                && self.md5_of(&resolved.key, &then.version_id)? == now.etag
            {
                return Ok(None);
            }
        }
        Ok(plan(resolved))
    }

    /// The MD5 of a version's bytes, read as every read is (verified).
    fn md5_of(&self, key: &str, version: &str) -> Result<String> {
        let mut download = Download::open_version(
            self.shared.clone(),
            key.to_owned(),
            Some(version.to_owned()),
            None,
        )?;
        let mut md5 = Md5::new();
        while let Some(chunk) = download.read(READ_CHUNK)? {
            md5.update(&chunk);
        }
        Ok(crate::hex::encode(&md5.finalize()))
    }

    /// Carries out one action (as planned by [`Recovery::plan_page`]).
    pub fn apply(&self, action: &Action) -> Result<()> {
        self.shared.check_open()?;
        if !self.owns(&action.key) {
            return Err(Error::InvalidArgument(format!(
                "`{}` is not a key of this kloset's CONFIG, packfiles or states",
                action.key
            )));
        }
        match action.step {
            Step::Restore if action.version_id.is_empty() => Err(Error::InvalidArgument(format!(
                "restoring {}: no version named",
                action.key
            ))),
            Step::Restore => self.restore(&action.key, &action.version_id),
            Step::Hide => self.hide(&action.key),
        }
    }

    /// `CONFIG` (and its archive copy), packfiles and states.
    fn owns(&self, key: &str) -> bool {
        let layout = &self.shared.layout;
        let config = layout.config_key();
        key == config
            || key == Layout::frozen(&config)
            || [Kind::Packfile, Kind::State]
                .iter()
                .any(|&kind| key.starts_with(&layout.list_prefix(kind)))
    }

    fn restore(&self, key: &str, version: &str) -> Result<()> {
        let s = &self.shared;
        let retention = s.retention_now();
        let options = WriteOptions {
            storage_class: key.ends_with(".frozen").then_some(s.config.storage_class),
            if_none_match: false,
            metadata: Vec::new(),
            headers: &[],
            object: Some(&s.object),
            retention,
        };
        let req = actions::copy_version(&s.bucket, key, key, version, &options);
        let copied = s
            .client
            .send_document(&req, &[], Payload::Empty, |answer| {
                let version = answer.header("x-amz-version-id").map(str::to_owned);
                xml::parse_copy_object(answer.status, &answer.body).map(|()| version)
            })
            .map_err(|e| {
                s.refusal(
                    &format!("restoring {key} (version {version})"),
                    e,
                    options.sent(),
                )
            })?;
        match retention {
            Some(retention) => object_lock::confirm(s, key, copied.as_deref(), retention)
                .map_err(|e| e.map_message(|m| format!("{key} was restored, but it is not under Object Lock yet (recover again to complete it): {m}"))),
            None => Ok(()),
        }
    }

    fn hide(&self, key: &str) -> Result<()> {
        let s = &self.shared;
        let req = actions::delete_object(&s.bucket, key);
        match s.client.send(&req, &[], Payload::Empty) {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(SendError::Rejected(f)) if f.status == 403 && f.code != "SignatureDoesNotMatch" => {
                Err(object_lock::refused_delete(s, key, Error::from_s3(key, f)))
            }
            Err(e) => Err(e.into_error(key)),
        }
    }
}
