//! The store configuration: the key/value pairs of a Plakar store, checked
//! and turned into typed values.
//!
//! The keys of Plakar's Go S3 connector keep their names and meanings, so one
//! configuration opens the same bucket and prefix with either connector; our
//! own keys tune what Go hard-codes. Where Go accepts garbage (an unknown key,
//! a location with a query, a root that contradicts the location) we refuse
//! with an error naming the key.

mod endpoint;
mod location;
mod object_lock;
mod pairs;
mod point_in_time;
mod provider;
mod quantity;
mod sse;
mod storage_class;
#[cfg(test)]
mod tests;

use std::ops::RangeInclusive;
use std::time::Duration;

pub use endpoint::{Addressing, Endpoint};
pub use object_lock::{LockMode, ObjectLock};
pub use pairs::KEYS;
pub use point_in_time::PointInTime;
pub use provider::Provider;
pub use sse::SseCustomerKey;
pub use storage_class::StorageClass;

use crate::error::{Error, Result};
use crate::request::Scheme;
use crate::secret::Secret;
use location::Site;
use pairs::{Choice, Pairs};
use quantity::{parse_duration, parse_integer, parse_size};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Part sizes: S3's smallest (5 MiB) to the largest part the component can
/// buffer. S3 allows 5 GiB, but the component holds one part in its 32-bit
/// memory, where no buffer reaches 2 GiB (a size past 4 GiB would even wrap).
const PART_SIZES: RangeInclusive<u64> = 5 * MIB..=2 * GIB - MIB;
/// Go's `PartSize: 16 << 20`: one part is what an upload buffers.
const DEFAULT_PART_SIZE: u64 = 16 * MIB;
const MAX_PARTS: RangeInclusive<u32> = 1..=10_000;
const MAX_RETRIES: RangeInclusive<u32> = 0..=100;
const DEFAULT_MAX_RETRIES: u32 = 10;
/// Timeouts and budgets: a zero one would fail every request.
const POSITIVE: RangeInclusive<Duration> = Duration::from_millis(1)..=Duration::MAX;
const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(300);

/// A checked store configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The S3 service, without the bucket even for virtual-host addressing.
    pub endpoint: Endpoint,
    pub addressing: Addressing,
    pub bucket: String,
    /// `""` or `a/b/`: no leading `/`, one trailing `/`.
    pub prefix: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: Secret,
    pub session_token: Option<Secret>,
    pub storage_class: StorageClass,
    /// Only ever true with HTTPS: Go ignores the flag for plain HTTP.
    pub tls_insecure_no_verify: bool,
    pub sse_customer_key: Option<SseCustomerKey>,
    pub provider: Provider,
    /// Bytes per multipart part.
    pub part_size: u64,
    pub max_parts: u32,
    pub checksum: Checksum,
    /// Whether writes use `If-None-Match: *` so an object is never replaced.
    pub conditional_writes: bool,
    /// Whether reads of objects written by other tools are checked against
    /// their ETag as an MD5 (true on every S3 we know; off for a server whose
    /// plain ETags are something else).
    pub verify_etag: bool,
    pub max_retries: u32,
    /// Total time a request may spend retrying.
    pub retry_budget: Duration,
    pub timeouts: Timeouts,
    pub object_lock: Option<ObjectLock>,
    /// `point_in_time`: the store shows the kloset as it was then, read-only.
    pub point_in_time: Option<PointInTime>,
}

/// The digest each upload carries so the server refuses a corrupted body.
/// `Content-MD5` is sent with either choice: Backblaze B2 refuses uploads
/// without it (and refuses `x-amz-checksum-*` headers), so no provider
/// needs a different default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// `Content-MD5` only.
    Md5,
    /// `Content-MD5` and the body's SHA-256 in the signature.
    Sha256,
}

impl Checksum {
    pub fn as_str(self) -> &'static str {
        match self {
            Checksum::Md5 => "md5",
            Checksum::Sha256 => "sha256",
        }
    }
}

impl Choice for Checksum {
    const ALL: &'static [Self] = &[Checksum::Md5, Checksum::Sha256];

    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// How long a request may wait at each stage before it counts as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// From the request sent to the first byte of the response.
    pub first_byte: Duration,
    /// Between two chunks of a response body.
    pub between_bytes: Duration,
}

impl Config {
    pub fn parse(pairs: &[(String, String)]) -> Result<Config> {
        let keys = Pairs::new(pairs)?;
        let virtual_host = keys.bool("virtual_host")?.unwrap_or(false);
        let site = location::resolve(&keys, virtual_host)?;
        let host = site.endpoint.host.as_str();
        let provider = keys.parse("provider", Provider::parse)?.flatten();
        let provider = provider.unwrap_or_else(|| Provider::detect(host));
        let https = site.endpoint.scheme == Scheme::Https;
        Ok(Config {
            addressing: addressing(virtual_host, &site),
            region: region(&keys, provider, host)?,
            access_key: access_key(&keys)?,
            secret_key: Secret::new(keys.required("secret_access_key")?),
            session_token: keys.parse_text("session_token", session_token)?,
            storage_class: keys
                .choice("storage_class")?
                .unwrap_or(StorageClass::Standard),
            // Checked even over HTTP, where it is ignored: a bad value is a mistake.
            tls_insecure_no_verify: keys.bool("tls_insecure_no_verify")?.unwrap_or(false) && https,
            sse_customer_key: keys.parse_text("sse_customer_key", SseCustomerKey::parse)?,
            part_size: keys
                .parse("part_size", |v| parse_size(v, PART_SIZES))?
                .unwrap_or(DEFAULT_PART_SIZE),
            max_parts: count(&keys, "max_parts", MAX_PARTS)?
                .unwrap_or(provider.default_max_parts()),
            checksum: keys.choice("checksum")?.unwrap_or(Checksum::Md5),
            conditional_writes: keys.bool("conditional_writes")?.unwrap_or(true),
            verify_etag: keys.bool("verify_etag")?.unwrap_or(true),
            max_retries: count(&keys, "max_retries", MAX_RETRIES)?.unwrap_or(DEFAULT_MAX_RETRIES),
            retry_budget: duration(&keys, "retry_budget", DEFAULT_RETRY_BUDGET)?,
            timeouts: timeouts(&keys)?,
            object_lock: ObjectLock::parse(&keys)?,
            point_in_time: keys.parse("point_in_time", PointInTime::parse)?,
            provider,
            endpoint: site.endpoint,
            bucket: site.bucket,
            prefix: site.prefix,
        })
    }

    /// Where every request goes: the endpoint itself (path style) or
    /// `<bucket>.<endpoint host>` (virtual host). The host harness allows
    /// exactly this authority and nothing else.
    pub fn request_endpoint(&self) -> Endpoint {
        match self.addressing {
            Addressing::Path => self.endpoint.clone(),
            Addressing::VirtualHost => Endpoint {
                host: format!("{}.{}", self.bucket, self.endpoint.host),
                ..self.endpoint.clone()
            },
        }
    }

    /// kloset `Origin()`: the service's authority.
    pub fn origin(&self) -> String {
        self.endpoint.authority()
    }

    /// kloset `Root()`: `/<bucket>` or `/<bucket>/<prefix>` (Go:
    /// `path.Join("/", bucket, prefix)`).
    pub fn root(&self) -> String {
        let prefix = self.prefix.strip_suffix('/').unwrap_or(&self.prefix);
        if prefix.is_empty() {
            format!("/{}", self.bucket)
        } else {
            format!("/{}/{prefix}", self.bucket)
        }
    }
}

/// Go's `virtual_host` only says how to read the location; minio-go then
/// addresses AWS buckets virtual-host style whenever the name allows it (AWS
/// is retiring path style) and every other service path style. So do we.
fn addressing(virtual_host: bool, site: &Site) -> Addressing {
    let aws = Provider::detect(&site.endpoint.host) == Provider::Aws;
    if virtual_host || (aws && dns_compatible(&site.bucket, site.endpoint.scheme)) {
        Addressing::VirtualHost
    } else {
        Addressing::Path
    }
}

/// minio-go's test: 3 to 63 of `a-z 0-9 . -`, alphanumeric at both ends, no
/// `..`; and no dot at all over HTTPS, where `a.b.s3.amazonaws.com` falls
/// outside the certificate's `*.s3.amazonaws.com`.
fn dns_compatible(bucket: &str, scheme: Scheme) -> bool {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-';
    let alphanumeric_ends = bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    (3..=63).contains(&bucket.len())
        && bucket.bytes().all(allowed)
        && alphanumeric_ends
        && !bucket.contains("..")
        && !(scheme == Scheme::Https && bucket.contains('.'))
}

fn region(keys: &Pairs, provider: Provider, host: &str) -> Result<String> {
    let given = keys.parse_text("region", |v| {
        if crate::region::is_name(v) {
            Ok(v.to_owned())
        } else {
            Err(format!("`{v}` is not a region name (A-Z a-z 0-9 - _ .)"))
        }
    })?;
    Ok(given.unwrap_or_else(|| provider.default_region(host)))
}

/// The access key goes into the signature's `Credential=<key>/<scope>`.
fn access_key(keys: &Pairs) -> Result<String> {
    let key = keys.required("access_key")?;
    if key.contains(|c: char| c.is_whitespace() || c.is_control() || c == '/') {
        return Err(Error::config(
            "access_key",
            "must not contain spaces, control characters or `/`",
        ));
    }
    Ok(key.to_owned())
}

/// The token travels in the `x-amz-security-token` header.
fn session_token(text: &str) -> Result<Secret, String> {
    if text.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(Secret::new(text))
    } else {
        Err("must be printable ASCII without spaces".into())
    }
}

fn count(keys: &Pairs, key: &str, range: RangeInclusive<u32>) -> Result<Option<u32>> {
    keys.parse(key, |v| parse_integer(v, range))
}

fn duration(keys: &Pairs, key: &str, default: Duration) -> Result<Duration> {
    let given = keys.parse(key, |v| parse_duration(v, POSITIVE))?;
    Ok(given.unwrap_or(default))
}

fn timeouts(keys: &Pairs) -> Result<Timeouts> {
    Ok(Timeouts {
        connect: duration(keys, "connect_timeout", Duration::from_secs(10))?,
        first_byte: duration(keys, "first_byte_timeout", Duration::from_secs(60))?,
        between_bytes: duration(keys, "between_bytes_timeout", Duration::from_secs(60))?,
    })
}
