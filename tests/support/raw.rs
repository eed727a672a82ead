//! Plain S3 calls made natively (our signer, hyper), to look behind the
//! component's back: what really is in a bucket, what uploads are pending.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kloset_s3::request::{Method, Request, Scheme};
use kloset_s3::secret::Secret;
use kloset_s3::sigv4::{Payload, Signer};

use crate::TestServer;

/// Sends one signed request to `server` and returns (status, body).
pub async fn call(server: &TestServer, req: Request) -> (u16, Vec<u8>) {
    let signer = Signer::s3(
        &server.access_key,
        Secret::new(server.secret_key.clone()),
        None,
        "us-east-1",
    );
    let mut signed = req;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    signer.sign(&mut signed, Payload::Empty, now);
    let mut builder = hyper::Request::builder()
        .method(signed.method.as_str())
        .uri(signed.url());
    for (name, value) in &signed.headers {
        builder = builder.header(name, value);
    }
    let request = builder
        .body(Full::new(Bytes::new()))
        .expect("a valid request");
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.expect("the server answers");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a whole body")
        .to_bytes()
        .to_vec();
    (status, body)
}

/// The keys of `bucket` with a multipart upload in progress, or `None` when the
/// server does not implement ListMultipartUploads (s3s-fs answers 501).
pub async fn pending_uploads(server: &TestServer, bucket: &str) -> Option<Vec<String>> {
    let req = Request::new(
        Method::Get,
        Scheme::Http,
        &server.endpoint,
        &format!("/{bucket}"),
    )
    .query("uploads", "");
    let (status, body) = call(server, req).await;
    if status == 501 {
        return None;
    }
    assert_eq!(
        status,
        200,
        "ListMultipartUploads: {}",
        String::from_utf8_lossy(&body)
    );
    let text = String::from_utf8_lossy(&body);
    Some(
        text.split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split("</Key>").next())
            .map(str::to_owned)
            .collect(),
    )
}
