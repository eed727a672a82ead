//! [`MemoryServer`]: an S3 server keeping objects in RAM, for throughput
//! figures that measure the client rather than the server, and for tests.
//!
//! It speaks the part of S3 a kloset uses, with S3's semantics: SigV4
//! checked by s3s (`SimpleAuth`), objects with Range and If-Match, HEAD,
//! DELETE (one object or many), ListObjectsV2 pages (prefix, continuation token, max-keys capped
//! at 1000 as AWS does), multipart uploads, conditional writes
//! (If-None-Match), Content-MD5 checked, ETags as MD5 (multipart:
//! MD5-of-MD5s-N) and user metadata kept and returned.

mod bucket;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use s3s::auth::SimpleAuth;
use s3s::crypto::{Checksum, Md5};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CreateBucketInput, CreateBucketOutput,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, DeleteObjectInput, DeleteObjectOutput,
    DeleteObjectsInput, DeleteObjectsOutput, DeletedObject, ETag, EncodingType,
    GetBucketLocationInput, GetBucketLocationOutput, GetObjectInput, GetObjectOutput,
    HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput, ListObjectsV2Input,
    ListObjectsV2Output, Object, PutObjectInput, PutObjectOutput, StreamingBlob, UploadPartInput,
    UploadPartOutput,
};
use s3s::service::S3ServiceBuilder;
use s3s::stream::ByteStream;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};

use super::Serving;
use bucket::{Bucket, Stored};

/// The most keys a ListObjectsV2 page holds, whatever `max-keys` asks (AWS).
const MAX_KEYS: i32 = 1000;

/// An in-memory S3 server on `127.0.0.1:<free port>`, accepting only
/// requests signed (SigV4) with the one key pair it was started with.
/// Dropping it stops the server and frees every object.
#[derive(Debug)]
pub struct MemoryServer {
    serving: Serving,
}

impl MemoryServer {
    /// The name of the server's threads, so their CPU time can be told from
    /// the client's in the same process.
    pub const THREAD_NAME: &str = "s3-memory";

    /// Starts the server, with no bucket. It accepts connections as soon as
    /// this returns.
    ///
    /// # Errors
    /// When the listening socket or the server's thread or runtime cannot be
    /// created.
    pub async fn start(access_key: &str, secret_key: &str) -> io::Result<MemoryServer> {
        let mut builder = S3ServiceBuilder::new(Memory::default());
        builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
        let serving = Serving::start(Self::THREAD_NAME, builder.build())?;
        Ok(MemoryServer { serving })
    }

    /// Where to send requests (path-style, plain HTTP).
    pub fn endpoint(&self) -> SocketAddr {
        self.serving.endpoint
    }
}

#[derive(Debug, Default)]
struct Memory {
    buckets: Mutex<HashMap<String, Bucket>>,
    uploads: AtomicU64,
}

impl Memory {
    /// Runs `f` on bucket `name` under the lock; never held across an await.
    fn bucket<R>(&self, name: &str, f: impl FnOnce(&mut Bucket) -> S3Result<R>) -> S3Result<R> {
        // A panic under the lock leaves the maps consistent (no step of the
        // bucket's methods panics half-way), so a poisoned lock is usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets
            .get_mut(name)
            .ok_or_else(|| s3_error!(NoSuchBucket))?;
        f(bucket)
    }
}

/// A request body, whole, with its MD5 checked against `content_md5`.
async fn receive(
    body: Option<StreamingBlob>,
    content_md5: Option<&str>,
) -> S3Result<(Bytes, [u8; 16])> {
    let mut body = body.ok_or_else(|| s3_error!(IncompleteBody))?;
    let mut data = BytesMut::with_capacity(body.remaining_length().exact().unwrap_or(0));
    let mut md5 = Md5::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
        md5.update(&chunk);
        data.extend_from_slice(&chunk);
    }
    let md5 = md5.finalize();
    if let Some(expected) = content_md5 {
        let expected = base64::engine::general_purpose::STANDARD
            .decode(expected)
            .map_err(|_| s3_error!(InvalidDigest))?;
        if expected != md5 {
            return Err(s3_error!(BadDigest));
        }
    }
    Ok((data.freeze(), md5))
}

fn etag(value: &str) -> Option<ETag> {
    Some(ETag::Strong(value.to_owned()))
}

fn ok<T>(output: T) -> S3Result<S3Response<T>> {
    Ok(S3Response::new(output))
}

#[async_trait::async_trait]
impl S3 for Memory {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.contains_key(&req.input.bucket) {
            return Err(s3_error!(BucketAlreadyOwnedByYou));
        }
        buckets.insert(req.input.bucket, Bucket::default());
        ok(CreateBucketOutput::default())
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.bucket(&req.input.bucket, |_| Ok(()))?;
        ok(HeadBucketOutput::default())
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        // No constraint: us-east-1, the region every client defaults to.
        self.bucket(&req.input.bucket, |_| Ok(()))?;
        ok(GetBucketLocationOutput::default())
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        let (data, md5) = receive(input.body, input.content_md5.as_deref()).await?;
        let stored = Stored::new(data, kloset_s3::hex::encode(&md5), input.metadata);
        let e_tag = etag(&stored.etag);
        self.bucket(&input.bucket, |b| {
            b.insert(input.key, stored, input.if_none_match.as_ref())
        })?;
        ok(PutObjectOutput {
            e_tag,
            ..Default::default()
        })
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let stored = self.bucket(&input.bucket, |b| b.object(&input.key))?;
        stored.check_if_match(input.if_match.as_ref())?;
        let full = stored.data.len() as u64;
        let (range, content_range) = match input.range {
            None => (0..full, None),
            Some(asked) => {
                let range = asked.check(full)?;
                let header = format!("bytes {}-{}/{full}", range.start, range.end - 1);
                (range, Some(header))
            }
        };
        // In range of a buffer in memory, hence of usize, by `check`.
        let body = stored.data.slice(range.start as usize..range.end as usize);
        let content_length = Some(body.len() as i64);
        let body = futures::stream::iter([Ok::<_, Infallible>(body)]);
        ok(GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length,
            content_range,
            e_tag: etag(&stored.etag),
            last_modified: Some(stored.modified),
            metadata: stored.metadata,
            ..Default::default()
        })
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let stored = self.bucket(&input.bucket, |b| b.object(&input.key))?;
        stored.check_if_match(input.if_match.as_ref())?;
        ok(HeadObjectOutput {
            content_length: Some(stored.data.len() as i64),
            e_tag: etag(&stored.etag),
            last_modified: Some(stored.modified),
            metadata: stored.metadata,
            ..Default::default()
        })
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        self.bucket(&input.bucket, |b| {
            b.remove(&input.key);
            Ok(())
        })?;
        ok(DeleteObjectOutput::default())
    }

    /// Multi-object delete (object_store deletes even one object this way).
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        let keys: Vec<String> = input.delete.objects.into_iter().map(|o| o.key).collect();
        self.bucket(&input.bucket, |b| {
            keys.iter().for_each(|key| b.remove(key));
            Ok(())
        })?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let deleted = keys.into_iter().map(|key| DeletedObject {
            key: Some(key),
            ..Default::default()
        });
        ok(DeleteObjectsOutput {
            deleted: (!quiet).then(|| deleted.collect()),
            ..Default::default()
        })
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        if input.delimiter.as_deref().is_some_and(|d| !d.is_empty()) {
            return Err(s3_error!(NotImplemented, "listing with a delimiter"));
        }
        let prefix = input.prefix.clone().unwrap_or_default();
        let max_keys = input.max_keys.unwrap_or(MAX_KEYS).clamp(0, MAX_KEYS);
        // Tokens are the last key of the previous page.
        let after = input
            .continuation_token
            .as_deref()
            .max(input.start_after.as_deref());
        let url = input
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL);
        let (contents, more) = self.bucket(&input.bucket, |b| {
            let (page, more) = b.page(&prefix, after, max_keys as usize);
            Ok((
                page.into_iter()
                    .map(|(k, s)| listed(k, s, url))
                    .collect::<Vec<_>>(),
                more,
            ))
        })?;
        let next_continuation_token = if more {
            contents.last().map(|(key, _)| key.clone())
        } else {
            None
        };
        let key_count = contents.len() as i32;
        let contents: Vec<Object> = contents.into_iter().map(|(_, o)| o).collect();
        ok(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            max_keys: Some(max_keys),
            key_count: Some(key_count),
            is_truncated: Some(more),
            contents: (!contents.is_empty()).then_some(contents),
            continuation_token: input.continuation_token,
            next_continuation_token,
            encoding_type: input.encoding_type,
            start_after: input.start_after,
            ..Default::default()
        })
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let id = format!("upload-{}", self.uploads.fetch_add(1, Ordering::Relaxed));
        self.bucket(&input.bucket, |b| {
            b.create_upload(id.clone(), input.key.clone(), input.metadata);
            Ok(())
        })?;
        ok(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            ..Default::default()
        })
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        let (data, md5) = receive(input.body, input.content_md5.as_deref()).await?;
        self.bucket(&input.bucket, |b| {
            b.add_part(&input.upload_id, &input.key, input.part_number, (data, md5))
        })?;
        ok(UploadPartOutput {
            e_tag: etag(&kloset_s3::hex::encode(&md5)),
            ..Default::default()
        })
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let listed = input
            .multipart_upload
            .and_then(|upload| upload.parts)
            .unwrap_or_default();
        let (id, key) = (&input.upload_id, &input.key);
        let assembly = self.bucket(&input.bucket, |b| b.assemble(id, key, &listed))?;
        // Joined unlocked: other requests go on while the bytes are copied.
        let stored = assembly.join();
        let e_tag = etag(&stored.etag);
        self.bucket(&input.bucket, |b| {
            b.complete_upload(id, key, stored, input.if_none_match.as_ref())
        })?;
        ok(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag,
            ..Default::default()
        })
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        self.bucket(&input.bucket, |b| {
            b.abort_upload(&input.upload_id, &input.key)
        })?;
        ok(AbortMultipartUploadOutput::default())
    }
}

/// A listing entry, and its raw key (the next page's token).
fn listed(key: &str, stored: &Stored, url: bool) -> (String, Object) {
    let shown = if url {
        kloset_s3::request::uri_encode(key, false)
    } else {
        key.to_owned()
    };
    let object = Object {
        key: Some(shown),
        size: Some(stored.data.len() as i64),
        e_tag: etag(&stored.etag),
        last_modified: Some(stored.modified.clone()),
        ..Default::default()
    };
    (key.to_owned(), object)
}
