//! Object Lock, the operations: the bucket's configuration, one object's
//! retention set, checked and extended, and what a refused delete means. The
//! rules (never shorten, keep the mode) are [`crate::retention`]'s; this
//! module sends the requests.
//!
//! The promise: every put that succeeds leaves its object locked at least
//! until the date its write asked for — whether the server applied the
//! write's lock headers (AWS does), dropped them (moto and Ceph drop those of
//! CreateMultipartUpload: measured), or the object was already there.

use crate::actions;
use crate::client::{header, SendError, Transport};
use crate::config::ObjectLock;
use crate::context::Shared;
use crate::error::{Error, Result};
use crate::integrity::{content_md5_of, sha256};
use crate::refusal::Sent;
use crate::retention::Retention;
use crate::sigv4::Payload;
use crate::xml::{self, ObjectLockConfig};

/// What GET ?object-lock says of a bucket.
pub enum BucketLock {
    Configured(ObjectLockConfig),
    /// The server has Object Lock; this bucket does not use it.
    Unconfigured,
    /// The server does not implement Object Lock (its answer).
    Unsupported(String),
}

/// The bucket's Object Lock configuration, as GET ?object-lock says.
pub fn bucket_lock<T: Transport>(s: &Shared<T>) -> Result<BucketLock> {
    let req = actions::get_object_lock_configuration(&s.bucket);
    let what = format!("Object Lock configuration of bucket `{}`", s.bucket.name());
    let answer = s
        .client
        .send_document(&req, &[], Payload::Empty, |a| Ok(a.body));
    match answer {
        Ok(body) => {
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
pub fn require_on_bucket<T: Transport>(s: &Shared<T>) -> Result<()> {
    if s.config.object_lock.is_none() {
        return Ok(());
    }
    match bucket_lock(s)? {
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

/// PutObjectRetention: `retention` for `key` (the version `version_id`,
/// or the current one).
pub fn put_retention<T: Transport>(
    s: &Shared<T>,
    key: &str,
    version_id: Option<&str>,
    retention: &Retention,
) -> Result<()> {
    let body = xml::retention_body(retention.mode.as_str(), &retention.until_text());
    let req =
        actions::put_object_retention(&s.bucket, key, version_id, &content_md5_of(body.as_bytes()));
    let hash = sha256(body.as_bytes());
    let sent = Sent {
        lock: true,
        ..Sent::default()
    };
    s.client
        .send(&req, body.as_bytes(), Payload::Sha256(&hash))
        .map(drop)
        .map_err(|e| s.refusal(key, e, sent))
}

/// Makes sure the object whose HEAD answered `headers` is locked at least
/// until `at_least`'s date: reads the retention in force and, when it ends
/// earlier (or there is none), extends it — in its own mode, never shorter.
/// `version_id` is the version to lock when known (the write's answer named
/// it); otherwise the one the HEAD saw.
pub fn hold<T: Transport>(
    s: &Shared<T>,
    key: &str,
    version_id: Option<&str>,
    headers: &[(String, String)],
    at_least: Retention,
) -> Result<()> {
    let current = Retention::from_headers(|name| header(headers, name).map(str::to_owned))?;
    let Some(raised) = at_least.raising(current) else {
        return Ok(());
    };
    let version = version_id.or_else(|| header(headers, "x-amz-version-id"));
    put_retention(s, key, version, &raised)
}

/// [`hold`] for an object just written with `at_least` in its lock headers:
/// a HEAD says whether the server applied them.
pub fn confirm<T: Transport>(
    s: &Shared<T>,
    key: &str,
    version_id: Option<&str>,
    at_least: Retention,
) -> Result<()> {
    let headers = s.head(key)?.ok_or_else(|| {
        Error::Other(format!(
            "{key} was written, but the server finds no such object right after"
        ))
    })?;
    hold(s, key, version_id, &headers, at_least)
}

/// Extends the retention of `key` to `lock`'s duration from now; `None` when
/// it does not exist. Returns the retention in force afterwards and whether
/// it changed.
pub fn extend<T: Transport>(
    s: &Shared<T>,
    key: &str,
    lock: &ObjectLock,
) -> Result<Option<(Retention, bool)>> {
    let Some(headers) = s.head(key)? else {
        return Ok(None);
    };
    let current = Retention::from_headers(|name| header(&headers, name).map(str::to_owned))?;
    let now = s.client.transport().unix_time();
    let Some(extended) = Retention::extension(current, lock, now) else {
        // `extension` returns None only when there is a current retention.
        return Ok(current.map(|r| (r, false)));
    };
    let version = header(&headers, "x-amz-version-id");
    put_retention(s, key, version, &extended)?;
    Ok(Some((extended, true)))
}

/// The refusal of a DELETE, with the object's retention when it has one
/// in force: "locked until when" is what the operator needs to know.
pub fn refused_delete<T: Transport>(s: &Shared<T>, key: &str, refusal: Error) -> Error {
    let retention = s.head(key).ok().flatten().and_then(|headers| {
        Retention::from_headers(|name| header(&headers, name).map(str::to_owned))
            .ok()
            .flatten()
    });
    let now = s.client.transport().unix_time();
    match retention {
        Some(r) if r.until > now => Error::PermissionDenied(format!(
            "{key} is under Object Lock ({}): {refusal}",
            r.describe()
        )),
        _ => refusal,
    }
}
