//! Signed S3 requests a test sends itself, around the component: to set up
//! what kloset-s3 never does (a bucket policy that denies deletes) and to look
//! behind it (the versions a delete left, an object's raw headers). Real
//! requests to the real server, signed with the component's own signer.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kloset_s3::request::{Method, Request, Scheme};
use kloset_s3::secret::Secret;
use kloset_s3::sigv4::{Payload, Signer};

use crate::TestServer;

/// A server's answer.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl TestServer {
    /// Sends `method /<path>?<query>` with `headers` and `body`, signed with
    /// this server's keys (region us-east-1, payload hash signed).
    ///
    /// # Panics
    /// When the server cannot be reached: no test expects that.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        let mut req = Request::new(method, Scheme::Http, &self.endpoint, path);
        for (name, value) in query {
            req = req.query(name, value);
        }
        for (name, value) in headers {
            req.set_header(name, value);
        }
        req.set_header("content-length", &body.len().to_string());
        let signer = Signer::s3(
            &self.access_key,
            Secret::new(&self.secret_key),
            None,
            "us-east-1",
        );
        let hash = kloset_s3::integrity::sha256(body);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        signer.sign(&mut req, Payload::Sha256(&hash), now);

        let mut builder = hyper::Request::builder()
            .method(method.as_str())
            .uri(req.url())
            .header("host", &req.authority);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(Bytes::copy_from_slice(body)))
            .expect("a valid request");
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = client
            .request(request)
            .await
            .unwrap_or_else(|e| panic!("{}: raw {} {path}: {e}", self.name, method.as_str()));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .unwrap_or_default();
        RawResponse {
            status,
            headers,
            body,
        }
    }
}

/// The keys of `bucket` with a multipart upload in progress, or `None` when the
/// server does not implement ListMultipartUploads (s3s-fs answers 501).
pub async fn pending_uploads(server: &TestServer, bucket: &str) -> Option<Vec<String>> {
    let response = server
        .raw(
            Method::Get,
            &format!("/{bucket}"),
            &[("uploads", "")],
            &[],
            &[],
        )
        .await;
    if response.status == 501 {
        return None;
    }
    let text = response.text();
    assert_eq!(response.status, 200, "ListMultipartUploads: {text}");
    Some(
        text.split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split("</Key>").next())
            .map(str::to_owned)
            .collect(),
    )
}
