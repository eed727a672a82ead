//! What a key already holds, next to the bytes we are about to write there.
//!
//! Immutable objects (packfiles, states, `CONFIG`) are never replaced, and
//! that must hold on every server: some ignore `If-None-Match: *` (Garage and
//! others: measured) and `conditional_writes=false` sends none. So a write
//! first asks what is there — nothing, the same bytes (success, nothing to
//! send), or other bytes (`already-exists`, nothing sent) — and only then
//! sends. Between that question and the write, a concurrent writer of the
//! same key can still slip in; `If-None-Match: *` closes that gap where the
//! server honours it.

use std::rc::Rc;

use crate::client::{header, Transport};
use crate::context::Shared;
use crate::download::Download;
use crate::error::Result;
use crate::integrity::{self, Expected, Verifier};

/// What a key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    Absent,
    /// Exactly our bytes; the headers of the HEAD that found them (their
    /// retention and version).
    Same(Vec<(String, String)>),
    /// Other bytes.
    Different,
}

/// Compares the object at `key` with ours: `length` bytes that `ours`
/// describes (digests of the same bytes, the one to read back with first).
pub fn compare<T: Transport>(
    s: &Rc<Shared<T>>,
    key: &str,
    length: u64,
    ours: &[Expected],
) -> Result<Existing> {
    let Some(headers) = s.head(key)? else {
        return Ok(Existing::Absent);
    };
    Ok(match holds(s, key, &headers, length, ours)? {
        true => Existing::Same(headers),
        false => Existing::Different,
    })
}

/// The length a HEAD reports.
pub fn length(headers: &[(String, String)]) -> Option<u64> {
    header(headers, "content-length").and_then(|v| v.trim().parse().ok())
}

/// Whether the object whose HEAD answered `headers` holds exactly our bytes.
/// Its length, metadata or ETag decide when they can (trusted as far as a
/// read trusts them: ETags only with `verify_etag`); otherwise it is read
/// back and digested the way ours were.
fn holds<T: Transport>(
    s: &Rc<Shared<T>>,
    key: &str,
    headers: &[(String, String)],
    length: u64,
    ours: &[Expected],
) -> Result<bool> {
    if self::length(headers).is_some_and(|theirs| theirs != length) {
        return Ok(false);
    }
    let theirs = integrity::expected(headers, length, s.config.verify_etag)?;
    if ours.contains(&theirs) {
        return Ok(true);
    }
    if ours.iter().any(|digest| digest.comparable(&theirs)) {
        return Ok(false);
    }
    let Some(first) = ours.first() else {
        return Ok(false);
    };
    let mut download = Download::open(s.clone(), key.to_owned(), None)?;
    let mut verifier = Verifier::new(first.clone());
    let mut read = 0u64;
    while let Some(chunk) = download.read(1 << 20)? {
        read += chunk.len() as u64;
        verifier.update(&chunk);
    }
    Ok(read == length && verifier.finish().is_ok())
}
