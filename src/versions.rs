//! The kloset as it was at a point in time, and putting it back: built on
//! the versions a versioned bucket keeps (Object Lock buckets always are).
//!
//! [`View`] is the read-only store `point_in_time` makes: `list` from
//! ListObjectVersions, `open` and `get` read the version each key held then,
//! by `versionId`, verified as every read is. [`Recovery`] plans and applies
//! what makes the current kloset equal to its state at a moment again: old
//! versions copied back on top, delete markers over what came later. No
//! version is ever deleted.
//!
//! A sibling of [`crate::store`] on the same [`Shared`] context; the pure
//! half is [`history`] (one key's states) and the plan in [`recovery`].

mod history;
mod pages;
mod recovery;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::rc::Rc;

pub use history::Resolved;
pub use pages::Histories;
pub use recovery::{Action, Recovery, Step};

use crate::actions;
use crate::calendar::iso8601;
use crate::client::{SendError, Transport};
use crate::config::PointInTime;
use crate::context::Shared;
use crate::download::Download;
use crate::error::{Error, Result};
use crate::layout::{Kind, Mac};
use crate::sigv4::Payload;
use crate::xml;

/// A resolved moment: unix seconds, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At(pub u64);

impl At {
    pub fn ms(self) -> u64 {
        self.0.saturating_mul(1000)
    }

    /// `2026-11-30T12:00:00Z`, for messages.
    pub fn text(self) -> String {
        iso8601(self.0)
    }
}

/// Milliseconds since 1970 as `2026-11-30T12:00:00.250Z`.
pub fn millis_text(ms: u64) -> String {
    let seconds = iso8601(ms / 1000);
    let whole = seconds.strip_suffix('Z').unwrap_or(&seconds);
    format!("{whole}.{:03}Z", ms % 1000)
}

/// The read-only view of `point_in_time`.
pub struct View {
    /// The moment, or why the configured one cannot be used.
    at: Result<At>,
    /// The bucket was found versioned (asked once, by the first read).
    versioned: Cell<bool>,
}

impl View {
    /// Resolves the configured moment against `now` (unix seconds).
    pub fn new(point_in_time: PointInTime, now: u64) -> View {
        View {
            at: point_in_time.resolve_config(now).map(At),
            versioned: Cell::new(false),
        }
    }

    /// The moment, once the bucket was found to keep versions.
    pub fn at<T: Transport>(&self, shared: &Shared<T>) -> Result<At> {
        let at = self.at.clone()?;
        if !self.versioned.get() {
            require_versioning(shared, "point_in_time")?;
            self.versioned.set(true);
        }
        Ok(at)
    }

    /// The moment, without asking the bucket anything: a bad one fails
    /// the store's creation.
    pub fn moment(&self) -> Result<At> {
        self.at.clone()
    }

    /// The error every write of the view answers.
    pub fn read_only(&self, what: &str) -> Error {
        let when = self
            .at
            .as_ref()
            .map_or_else(|_| "a past time".into(), |at| at.text());
        Error::InvalidArgument(format!(
            "cannot {what}: point_in_time makes the store a read-only view of the kloset as it \
             was at {when}; remove point_in_time to write (or use recovery to put that state back)"
        ))
    }

    /// The state of `CONFIG` then, read by version; the kloset not existing
    /// then (or the bucket lacking versioning) is an error saying so.
    pub fn open<T: Transport>(&self, shared: &Rc<Shared<T>>) -> Result<Download<T>> {
        let at = self.at(shared)?;
        let key = shared.layout.config_key();
        let then = pages::one_key(shared, &key, at.ms())?.and_then(|r| r.then);
        let Some(version) = then else {
            return Err(no_kloset_then(shared, at));
        };
        Download::open_version(shared.clone(), key, Some(version.version_id), None)
    }

    /// One object as it was then.
    pub fn get<T: Transport>(
        &self,
        shared: &Rc<Shared<T>>,
        kind: Kind,
        mac: &Mac,
        range: Option<(u64, u32)>,
    ) -> Result<Download<T>> {
        let at = self.at(shared)?;
        let key = shared.layout.object_key(kind, mac);
        let then = pages::one_key(shared, &key, at.ms())?.and_then(|r| r.then);
        let Some(version) = then else {
            return Err(Error::NotFound(format!(
                "{key}: no such {} at {}",
                kind.as_str(),
                at.text()
            )));
        };
        Download::open_version(shared.clone(), key, Some(version.version_id), range)
    }

    /// The MACs of `kind` that existed then.
    pub fn list<T: Transport>(&self, shared: &Rc<Shared<T>>, kind: Kind) -> Result<ViewListing<T>> {
        let at = self.at(shared)?;
        let prefix = shared.layout.list_prefix(kind);
        Ok(ViewListing {
            kind,
            shared: shared.clone(),
            histories: Histories::new(shared.clone(), prefix, at.ms()),
        })
    }

    /// Bytes the kloset's prefix held then.
    pub fn size<T: Transport>(&self, shared: &Rc<Shared<T>>) -> Result<i64> {
        let at = self.at(shared)?;
        let mut histories = Histories::new(shared.clone(), shared.config.prefix.clone(), at.ms());
        let mut total: u64 = 0;
        while let Some(page) = histories.next_page()? {
            total = page
                .iter()
                .filter_map(|r| r.then.as_ref())
                .fold(total, |sum, v| sum.saturating_add(v.size));
        }
        Ok(i64::try_from(total).unwrap_or(i64::MAX))
    }
}

/// The MACs of one kind at a moment, a page at a time.
pub struct ViewListing<T> {
    kind: Kind,
    shared: Rc<Shared<T>>,
    histories: Histories<T>,
}

impl<T: Transport> ViewListing<T> {
    /// The next page (possibly empty: one key's versions may fill a page).
    pub fn next_page(&mut self) -> Result<Option<Vec<Mac>>> {
        let Some(page) = self.histories.next_page()? else {
            return Ok(None);
        };
        Ok(Some(
            page.iter()
                .filter(|r| r.then.is_some())
                .filter_map(|r| self.shared.layout.parse_key(self.kind, &r.key))
                .collect(),
        ))
    }
}

fn no_kloset_then<T: Transport>(shared: &Shared<T>, at: At) -> Error {
    Error::NotFound(format!(
        "bucket `{}` held no kloset at `{}` at {}: its CONFIG did not exist then",
        shared.bucket.name(),
        shared.config.root(),
        at.text()
    ))
}

/// A view or a recovery needs every old version kept: a bucket without
/// versioning is a configuration error naming `key`, saying what to enable.
pub fn require_versioning<T: Transport>(shared: &Shared<T>, key: &str) -> Result<()> {
    let bucket = shared.bucket.name();
    let what = format!("versioning of bucket `{bucket}`");
    let req = actions::get_bucket_versioning(&shared.bucket);
    let answer = shared
        .client
        .send_document(&req, &[], Payload::Empty, |a| Ok(a.body));
    let body = match answer {
        Ok(body) => body,
        Err(SendError::Rejected(f))
            if matches!(f.status, 405 | 501) || f.code == "NotImplemented" =>
        {
            return Err(Error::Unsupported(format!(
                "{key} needs a bucket with versioning, but the server does not implement \
                 versioning ({what}: {f})"
            )))
        }
        Err(e) => return Err(e.into_error(&what)),
    };
    match xml::parse_versioning(&body)? {
        Ok(()) => Ok(()),
        Err(status) => Err(Error::config(
            key,
            format!(
                "bucket `{bucket}` does not keep old versions (versioning is {}): enable \
                 versioning on the bucket (a bucket with Object Lock has it) to read or restore \
                 the kloset as it was at a past time",
                status.as_deref().unwrap_or("not enabled")
            ),
        )),
    }
}
