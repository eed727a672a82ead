//! The S3 operations the store uses, as unsigned [`Request`]s: one builder per
//! action, no I/O. Headers that depend on the store's configuration (SSE-C,
//! storage class, Object Lock) come from [`ObjectOptions`], so every action that
//! must carry them does, and none forgets.

use crate::bucket::Bucket;
use crate::config::{SseCustomerKey, StorageClass};
use crate::refusal::Sent;
use crate::request::{uri_encode, Method, Request};
use crate::retention::{Retention, MODE_HEADER, UNTIL_HEADER};

/// Metadata header naming the part size of a multipart object, so a reader can
/// recompute the per-part MD5 digests its ETag is made of.
pub const META_PART_SIZE: &str = "x-amz-meta-kloset-part-size";
/// Metadata header carrying the XXH3-128 (hex) of a single-part object's
/// bytes: the digest reads check, chosen because it costs a tenth of MD5 in
/// the component, so verifying does not halve read throughput.
pub const META_XXH3: &str = "x-amz-meta-kloset-xxh3";

/// How many keys a ListObjectsV2 page asks for (the S3 maximum; Ceph caps at it).
pub const LIST_PAGE: u32 = 1000;

/// Per-object headers decided by the configuration.
#[derive(Debug, Clone, Default)]
pub struct ObjectOptions {
    pub sse_c: Option<SseCustomerKey>,
}

impl ObjectOptions {
    /// SSE-C headers: required on every request that reads or writes the
    /// object's data (PUT, GET, HEAD, CreateMultipartUpload, UploadPart, Complete).
    fn apply_sse_c(&self, req: &mut Request) {
        self.sse_c_headers(req, "x-amz-server-side-encryption-customer");
    }

    /// The same key again for the source of a CopyObject, which S3 must
    /// decrypt before it encrypts the copy.
    fn apply_copy_source_sse_c(&self, req: &mut Request) {
        self.sse_c_headers(req, "x-amz-copy-source-server-side-encryption-customer");
    }

    /// What a read with these options sends, to explain its refusals.
    pub fn sent(&self) -> Sent {
        Sent {
            sse_c: self.sse_c.is_some(),
            ..Sent::default()
        }
    }

    fn sse_c_headers(&self, req: &mut Request, prefix: &str) {
        if let Some(key) = &self.sse_c {
            req.set_header(&format!("{prefix}-algorithm"), "AES256");
            req.set_header(&format!("{prefix}-key"), key.key_base64().expose());
            req.set_header(&format!("{prefix}-key-md5"), key.key_md5_base64());
        }
    }
}

/// What a write carries besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions<'a> {
    pub storage_class: Option<StorageClass>,
    /// `If-None-Match: *`: the write fails with 412 if the key exists.
    pub if_none_match: bool,
    pub metadata: Vec<(&'static str, String)>,
    /// A restored file's own headers (`content-type`, `x-amz-meta-*`,
    /// `x-amz-tagging`, ...), sent as given (see [`crate::attributes`]).
    pub headers: &'a [(String, String)],
    pub object: Option<&'a ObjectOptions>,
    /// Object Lock: the new object cannot be deleted before this retention
    /// ends (S3 then requires Content-MD5, which every write carries).
    pub retention: Option<Retention>,
}

impl WriteOptions<'_> {
    /// What a write with these options sends, to explain its refusals.
    pub fn sent(&self) -> Sent {
        Sent {
            sse_c: self.object.is_some_and(|o| o.sse_c.is_some()),
            storage_class: self.storage_class.filter(|c| *c != StorageClass::Standard),
            lock: self.retention.is_some(),
        }
    }

    fn apply(&self, req: &mut Request) {
        if let Some(class) = self.storage_class {
            // STANDARD is every provider's default: not sending it keeps providers
            // that reject the header (or other classes) working.
            if class != StorageClass::Standard {
                req.set_header("x-amz-storage-class", class.as_str());
            }
        }
        for (name, value) in &self.metadata {
            req.set_header(name, value);
        }
        for (name, value) in self.headers {
            req.set_header(name, value);
        }
        if let Some(object) = self.object {
            object.apply_sse_c(req);
        }
        if let Some(retention) = &self.retention {
            req.set_header(MODE_HEADER, retention.mode.as_str());
            req.set_header(UNTIL_HEADER, &retention.until_text());
        }
    }
}

/// An inclusive byte range, as the `Range` header writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

/// CreateBucket; `object_lock` creates it with Object Lock enabled (which
/// also turns versioning on): the only moment AWS allowed that for years.
pub fn create_bucket(bucket: &Bucket, body_md5_base64: Option<&str>, object_lock: bool) -> Request {
    let mut req = bucket.request(Method::Put);
    if let Some(md5) = body_md5_base64 {
        req.set_header("content-md5", md5);
    }
    if object_lock {
        req.set_header("x-amz-bucket-object-lock-enabled", "true");
    }
    req
}

/// GetObjectLockConfiguration: whether the bucket has Object Lock enabled and
/// its default retention.
pub fn get_object_lock_configuration(bucket: &Bucket) -> Request {
    bucket.request(Method::Get).query("object-lock", "")
}

/// PutObjectRetention of one version (the current one without `version_id`).
/// The body is [`crate::xml::retention_body`]; S3 requires its Content-MD5.
pub fn put_object_retention(
    bucket: &Bucket,
    key: &str,
    version_id: Option<&str>,
    body_md5_base64: &str,
) -> Request {
    let mut req = bucket.object(Method::Put, key).query("retention", "");
    if let Some(version) = version_id {
        req = req.query("versionId", version);
    }
    req.set_header("content-md5", body_md5_base64);
    req.set_header("content-type", "application/xml");
    req
}

/// Content-MD5 of an empty body.
const EMPTY_MD5_BASE64: &str = "1B2M2Y8AsgTpgAmY7PhCfg==";

/// CopyObject of `source_key` (same bucket) to `key`, server side: the bytes
/// never travel. Metadata is copied; `options` give the copy its storage
/// class, lock and SSE-C key (the same key decrypts the source). Content-MD5
/// (of the empty body) too: moto refuses lock headers on a copy without it.
pub fn copy_object(
    bucket: &Bucket,
    key: &str,
    source_key: &str,
    options: &WriteOptions<'_>,
) -> Request {
    let mut req = bucket.object(Method::Put, key);
    let source = format!("/{}/{}", bucket.name(), uri_encode(source_key, false));
    req.set_header("x-amz-copy-source", &source);
    req.set_header("x-amz-metadata-directive", "COPY");
    req.set_header("content-md5", EMPTY_MD5_BASE64);
    options.apply(&mut req);
    if let Some(object) = options.object {
        object.apply_copy_source_sse_c(&mut req);
    }
    req
}

/// CopyObject of one version of `source_key` (same bucket) to `key`: a
/// point-in-time recovery puts an old version back as the current one. As
/// [`copy_object`] otherwise (metadata copied, lock and SSE-C from `options`).
pub fn copy_version(
    bucket: &Bucket,
    key: &str,
    source_key: &str,
    source_version: &str,
    options: &WriteOptions<'_>,
) -> Request {
    let mut req = copy_object(bucket, key, source_key, options);
    let source = format!(
        "/{}/{}?versionId={}",
        bucket.name(),
        uri_encode(source_key, false),
        uri_encode(source_version, true)
    );
    req.set_header("x-amz-copy-source", &source);
    req
}

/// GetBucketVersioning: a point-in-time view needs every old version kept.
pub fn get_bucket_versioning(bucket: &Bucket) -> Request {
    bucket.request(Method::Get).query("versioning", "")
}

/// A ListObjectVersions page of at most `max_keys` versions and delete
/// markers of keys starting with `prefix`, after the `(key, version)`
/// markers of the previous page. URL-encoded keys, as for ListObjectsV2.
pub fn list_object_versions(
    bucket: &Bucket,
    prefix: &str,
    markers: Option<(&str, &str)>,
    max_keys: u32,
) -> Request {
    let mut req = bucket
        .request(Method::Get)
        .query("versions", "")
        .query("encoding-type", "url")
        .query("max-keys", &max_keys.to_string())
        .query("prefix", prefix);
    if let Some((key, version)) = markers {
        req = req.query("key-marker", key);
        if !version.is_empty() {
            req = req.query("version-id-marker", version);
        }
    }
    req
}

/// GET of one version of an object (see [`get_object`]).
pub fn get_object_version(
    bucket: &Bucket,
    key: &str,
    version: &str,
    range: Option<ByteRange>,
    if_match: Option<&str>,
    object: &ObjectOptions,
) -> Request {
    get_object(bucket, key, range, if_match, object).query("versionId", version)
}

pub fn get_bucket_location(bucket: &Bucket) -> Request {
    bucket.request(Method::Get).query("location", "")
}

pub fn head_object(bucket: &Bucket, key: &str, object: &ObjectOptions) -> Request {
    let mut req = bucket.object(Method::Head, key);
    object.apply_sse_c(&mut req);
    req
}

/// GET of an object or of a range of it; `if_match` pins the ETag so a read
/// resumed after a failure cannot splice two versions of the object together.
pub fn get_object(
    bucket: &Bucket,
    key: &str,
    range: Option<ByteRange>,
    if_match: Option<&str>,
    object: &ObjectOptions,
) -> Request {
    let mut req = bucket.object(Method::Get, key);
    if let Some(range) = range {
        req.set_header("range", &format!("bytes={}-{}", range.first, range.last));
    }
    if let Some(etag) = if_match {
        req.set_header("if-match", &format!("\"{etag}\""));
    }
    object.apply_sse_c(&mut req);
    req
}

pub fn put_object(
    bucket: &Bucket,
    key: &str,
    content_md5_base64: &str,
    options: &WriteOptions<'_>,
) -> Request {
    let mut req = bucket.object(Method::Put, key);
    req.set_header("content-md5", content_md5_base64);
    if options.if_none_match {
        req.set_header("if-none-match", "*");
    }
    options.apply(&mut req);
    req
}

/// GetObjectTagging of the current version.
pub fn get_object_tagging(bucket: &Bucket, key: &str) -> Request {
    bucket.object(Method::Get, key).query("tagging", "")
}

pub fn delete_object(bucket: &Bucket, key: &str) -> Request {
    bucket.object(Method::Delete, key)
}

/// A ListObjectsV2 page of at most `max_keys` keys. `encoding-type=url`
/// makes the server percent-encode keys, so a key with characters XML 1.0
/// cannot carry cannot break the page.
pub fn list_objects_v2(
    bucket: &Bucket,
    prefix: &str,
    token: Option<&str>,
    max_keys: u32,
) -> Request {
    let mut req = bucket
        .request(Method::Get)
        .query("list-type", "2")
        .query("encoding-type", "url")
        .query("max-keys", &max_keys.to_string())
        .query("prefix", prefix);
    if let Some(token) = token {
        req = req.query("continuation-token", token);
    }
    req
}

pub fn create_multipart(bucket: &Bucket, key: &str, options: &WriteOptions<'_>) -> Request {
    let mut req = bucket.object(Method::Post, key).query("uploads", "");
    options.apply(&mut req);
    req
}

pub fn upload_part(
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
    part_number: u32,
    content_md5_base64: &str,
    object: &ObjectOptions,
) -> Request {
    let mut req = bucket
        .object(Method::Put, key)
        .query("partNumber", &part_number.to_string())
        .query("uploadId", upload_id);
    req.set_header("content-md5", content_md5_base64);
    object.apply_sse_c(&mut req);
    req
}

pub fn complete_multipart(
    bucket: &Bucket,
    key: &str,
    upload_id: &str,
    body_md5_base64: &str,
    if_none_match: bool,
    object: &ObjectOptions,
) -> Request {
    let mut req = bucket
        .object(Method::Post, key)
        .query("uploadId", upload_id);
    req.set_header("content-md5", body_md5_base64);
    req.set_header("content-type", "application/xml");
    if if_none_match {
        req.set_header("if-none-match", "*");
    }
    object.apply_sse_c(&mut req);
    req
}

/// ListMultipartUploads of the uploads in progress on keys starting with
/// `prefix` (one page: the uploads of one key are few).
pub fn list_multipart_uploads(bucket: &Bucket, prefix: &str) -> Request {
    bucket
        .request(Method::Get)
        .query("uploads", "")
        .query("prefix", prefix)
}

pub fn abort_multipart(bucket: &Bucket, key: &str, upload_id: &str) -> Request {
    bucket
        .object(Method::Delete, key)
        .query("uploadId", upload_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn bucket() -> Bucket {
        let pairs: Vec<(String, String)> = [
            ("location", "s3://127.0.0.1:9000/bkt/pfx"),
            ("access_key", "a"),
            ("secret_access_key", "s"),
            ("use_tls", "false"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Bucket::new(&Config::parse(&pairs).expect("valid config"))
    }

    #[test]
    fn list_asks_for_url_encoded_full_pages() {
        let r = list_objects_v2(&bucket(), "pfx/packfiles/", Some("tok/+="), LIST_PAGE);
        assert_eq!(
            r.path_and_query(),
            "/bkt?continuation-token=tok%2F%2B%3D&encoding-type=url&list-type=2\
             &max-keys=1000&prefix=pfx%2Fpackfiles%2F"
        );
    }

    #[test]
    fn ranged_get_pins_the_etag() {
        let r = get_object(
            &bucket(),
            "pfx/k",
            Some(ByteRange { first: 5, last: 9 }),
            Some("abc"),
            &ObjectOptions::default(),
        );
        assert_eq!(r.header_value("range"), Some("bytes=5-9"));
        assert_eq!(r.header_value("if-match"), Some("\"abc\""));
    }

    #[test]
    fn standard_storage_class_is_not_sent() {
        let opts = WriteOptions {
            storage_class: Some(StorageClass::Standard),
            if_none_match: true,
            ..WriteOptions::default()
        };
        let r = put_object(&bucket(), "pfx/k", "bWQ1", &opts);
        assert_eq!(r.header_value("x-amz-storage-class"), None);
        assert_eq!(r.header_value("if-none-match"), Some("*"));
        assert_eq!(r.header_value("content-md5"), Some("bWQ1"));
    }

    #[test]
    fn multipart_requests_carry_upload_id_and_part() {
        let r = upload_part(
            &bucket(),
            "pfx/k",
            "u1",
            3,
            "bWQ1",
            &ObjectOptions::default(),
        );
        assert_eq!(r.path_and_query(), "/bkt/pfx/k?partNumber=3&uploadId=u1");
        let r = abort_multipart(&bucket(), "pfx/k", "u1");
        assert_eq!(r.method, Method::Delete);
        assert_eq!(r.path_and_query(), "/bkt/pfx/k?uploadId=u1");
    }
}
