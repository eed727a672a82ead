//! The bucket itself: whether it exists, and creating it. The store creates
//! one for a new kloset, the exporter one to restore into.

use crate::actions;
use crate::client::{SendError, Transport};
use crate::context::Shared;
use crate::error::{Error, Result};
use crate::integrity::{content_md5_of, sha256};
use crate::sigv4::Payload;
use crate::xml;

/// Asked with a one-key listing rather than HEAD: the same permission
/// (s3:ListBucket), but a refusal comes with its S3 code, so bad
/// credentials are told from a missing permission. The answer must be
/// an S3 listing: a 200 from something else (a web server, a captive
/// portal, a misrouted endpoint) is no bucket.
pub fn bucket_exists<T: Transport>(s: &Shared<T>) -> Result<bool> {
    let what = format!("bucket `{}`", s.bucket.name());
    let req = actions::list_objects_v2(&s.bucket, &s.config.prefix, None, 1);
    match s
        .client
        .send_document(&req, &[], Payload::Empty, |answer| Ok(answer.body))
    {
        Ok(body) => xml::parse_list_objects_v2(&body)
            .map(|_| true)
            .map_err(|e| e.map_message(|m| format!("{what} answered, but not as S3: {m}"))),
        Err(e) if e.status() == Some(404) => Ok(false),
        Err(e) => Err(e.into_error(&what)),
    }
}

/// CreateBucket in the region requests are signed for (the configured
/// one, or the one the server named): S3 refuses a location that
/// contradicts the signature's.
pub fn create_bucket<T: Transport>(s: &Shared<T>) -> Result<()> {
    let region = s.client.region();
    let body = xml::create_bucket_body(&region).unwrap_or_default();
    let md5 = (!body.is_empty()).then(|| content_md5_of(body.as_bytes()));
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
        // Some servers (s3s-fs) say so for a bucket of ours too: one we
        // can list is ours to use.
        Err(SendError::Rejected(f))
            if f.code == "BucketAlreadyExists" && bucket_exists(s).unwrap_or(false) =>
        {
            Ok(())
        }
        Err(SendError::Rejected(f))
            if matches!(
                f.code.as_str(),
                "InvalidLocationConstraint" | "IllegalLocationConstraintException"
            ) =>
        {
            Err(Error::config(
                "region",
                format!(
                    "the server refused to create bucket `{}` in region `{region}`: {f}; set \
                     the server's region or create the bucket beforehand",
                    s.bucket.name(),
                ),
            ))
        }
        Err(e) => Err(e.into_error(&format!("creating bucket `{}`", s.bucket.name()))),
    }
}
