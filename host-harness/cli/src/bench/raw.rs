//! The raw-HTTP peer: plain hyper requests to presigned URLs, signed
//! natively by the component's own [`Signer`]. No retries, no checksums, no
//! verification: what this machine's HTTP path does at best.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kloset_s3::actions;
use kloset_s3::bucket::Bucket;
use kloset_s3::config::Config;
use kloset_s3::layout::{Kind, Layout, Mac};
use kloset_s3::request::{Method, Request};
use kloset_s3::sigv4::Signer;

use super::BenchError;
use kloset_host::Range;

/// How long a presigned URL is valid: signed just before use, so any
/// positive value works.
const EXPIRES_SECS: u32 = 900;

#[derive(Clone)]
pub struct RawHttp {
    client: Client<HttpConnector, Full<Bytes>>,
    signer: Arc<Signer>,
    bucket: Arc<Bucket>,
    layout: Arc<Layout>,
}

impl RawHttp {
    pub fn new(config: &Config) -> RawHttp {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        RawHttp {
            client: Client::builder(TokioExecutor::new()).build(connector),
            signer: Arc::new(Signer::s3(
                &config.access_key,
                config.secret_key.clone(),
                None,
                &config.region,
            )),
            bucket: Arc::new(Bucket::new(config)),
            layout: Arc::new(Layout::new(&config.prefix)),
        }
    }

    pub async fn put(&self, mac: &[u8; 32], data: Bytes) -> Result<(), BenchError> {
        let request = self.bucket.object(Method::Put, &self.key(mac));
        let response = self.send("put", &request, None, data).await?;
        drain(response).await.map(drop)
    }

    pub async fn get(&self, mac: &[u8; 32], range: Option<Range>) -> Result<u64, BenchError> {
        let request = self.bucket.object(Method::Get, &self.key(mac));
        let response = self.send("get", &request, range, Bytes::new()).await?;
        drain(response).await
    }

    pub async fn delete(&self, mac: &[u8; 32]) -> Result<(), BenchError> {
        let request = self.bucket.object(Method::Delete, &self.key(mac));
        let response = self.send("delete", &request, None, Bytes::new()).await?;
        drain(response).await.map(drop)
    }

    /// Counts the packfiles, every page read and parsed.
    pub async fn list(&self) -> Result<u64, BenchError> {
        let prefix = self.layout.list_prefix(Kind::Packfile);
        let (mut count, mut token) = (0, None);
        loop {
            let request = actions::list_objects_v2(&self.bucket, &prefix, token.as_deref(), 1000);
            let response = self.send("list", &request, None, Bytes::new()).await?;
            let body = collect(response).await?;
            let page = kloset_s3::xml::parse_list_objects_v2(&body).map_err(failed("list"))?;
            count += page.keys.len() as u64;
            match page.next_token {
                Some(next) if page.is_truncated => token = Some(next),
                _ => return Ok(count),
            }
        }
    }

    fn key(&self, mac: &[u8; 32]) -> String {
        self.layout.object_key(Kind::Packfile, &Mac(*mac))
    }

    async fn send(
        &self,
        what: &'static str,
        request: &Request,
        range: Option<Range>,
        body: Bytes,
    ) -> Result<hyper::Response<Incoming>, BenchError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let url = self.signer.presign(request, now.as_secs(), EXPIRES_SECS);
        let mut builder = hyper::Request::builder()
            .method(request.method.as_str())
            .uri(url);
        if let Some(Range { offset, length }) = range {
            let last = offset + u64::from(length).max(1) - 1;
            builder = builder.header("range", format!("bytes={offset}-{last}"));
        }
        let request = builder.body(Full::new(body)).map_err(failed(what))?;
        let response = self.client.request(request).await.map_err(failed(what))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = collect(response).await.unwrap_or_default();
        let body = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        Err(BenchError(format!("raw_http {what}: {status}: {body}")))
    }
}

fn failed<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> BenchError {
    move |e| BenchError(format!("raw_http {what}: {e}"))
}

/// Reads and discards a body; returns its length.
async fn drain(response: hyper::Response<Incoming>) -> Result<u64, BenchError> {
    let mut body = response.into_body();
    let mut total = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(failed("reading a body"))?.into_data() {
            total += data.len() as u64;
        }
    }
    Ok(total)
}

async fn collect(response: hyper::Response<Incoming>) -> Result<Bytes, BenchError> {
    let body = response.into_body().collect().await;
    Ok(body.map_err(failed("reading a body"))?.to_bytes())
}
