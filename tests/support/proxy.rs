//! A fault-injecting HTTP proxy on 127.0.0.1, between the component and a real
//! S3 server: it forwards requests untouched (the SigV4 signature stays valid,
//! the Host header is kept) and, as a script or a seeded random plan says,
//! answers 500/503 itself, resets the connection, lets a request through and
//! loses its answer, truncates, corrupts or slows a response body. What it
//! injected is counted, and every request it saw is recorded, so a test can
//! report and check them.
//!
//! It can also make the real server behave as others do: ignore
//! `If-None-Match` (Garage and others: the header is removed and the request
//! signed again with the server's keys), live in another region (requests
//! signed for any other are refused as AWS refuses them), or send ETags that
//! are no MD5 of the object.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

type ProxyBody = BoxBody<Bytes, std::io::Error>;

/// One misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with an S3 error document of this code, without
    /// forwarding the request.
    Status(u16, &'static str),
    /// Close the connection without answering.
    Reset,
    /// Forward, let the server carry the request out, then close the
    /// connection without its answer.
    Lost,
    /// Forward, then cut the response body after this many bytes.
    Truncate(u64),
    /// Forward, then flip one bit of the response body's byte at this offset.
    FlipByte(u64),
    /// Forward, then wait this long before each body chunk.
    Slow(Duration),
}

/// Which requests a fault may hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Any,
    /// GET requests of object data (not listings).
    ObjectGet,
    /// Every PUT: objects, parts, copies, retention.
    Put,
    /// ListObjectsV2.
    List,
    /// CreateMultipartUpload (`POST ?uploads`).
    CreateMultipart,
    /// CompleteMultipartUpload (`POST ?uploadId=`).
    CompleteMultipart,
    /// AbortMultipartUpload (`DELETE ?uploadId=`).
    AbortMultipart,
    /// HEAD of an object.
    Head,
}

impl Target {
    fn matches(self, req: &Request<Incoming>) -> bool {
        let query = req.uri().query().unwrap_or_default();
        let has = |name: &str| {
            query
                .split('&')
                .any(|pair| pair.split('=').next() == Some(name))
        };
        let method = req.method();
        match self {
            Target::Any => true,
            Target::ObjectGet => method == hyper::Method::GET && !has("list-type"),
            Target::Put => method == hyper::Method::PUT,
            Target::List => method == hyper::Method::GET && has("list-type"),
            Target::CreateMultipart => method == hyper::Method::POST && has("uploads"),
            Target::CompleteMultipart => method == hyper::Method::POST && has("uploadId"),
            Target::AbortMultipart => method == hyper::Method::DELETE && has("uploadId"),
            Target::Head => method == hyper::Method::HEAD,
        }
    }
}

#[derive(Debug)]
enum Plan {
    Pass,
    /// Faults applied in order to the requests they target.
    Script(VecDeque<(Target, Fault)>),
    /// Each request gets a fault with probability `per_mille`/1000.
    Random {
        state: u64,
        per_mille: u64,
    },
}

/// How many faults of each kind were injected.
#[derive(Debug, Default)]
pub struct Tally {
    pub requests: AtomicU64,
    pub statuses: AtomicU64,
    pub resets: AtomicU64,
    pub lost: AtomicU64,
    pub truncations: AtomicU64,
    pub corruptions: AtomicU64,
    pub slowdowns: AtomicU64,
    /// `If-None-Match` headers removed (see [`FaultProxy::ignore_if_none_match`]).
    pub stripped: AtomicU64,
}

impl Tally {
    pub fn injected(&self) -> u64 {
        [
            &self.statuses,
            &self.resets,
            &self.lost,
            &self.truncations,
            &self.corruptions,
            &self.slowdowns,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }

    fn count(&self, fault: Fault) {
        let counter = match fault {
            Fault::Status(..) => &self.statuses,
            Fault::Reset => &self.resets,
            Fault::Lost => &self.lost,
            Fault::Truncate(_) => &self.truncations,
            Fault::FlipByte(_) => &self.corruptions,
            Fault::Slow(_) => &self.slowdowns,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

struct State {
    upstream: SocketAddr,
    plan: Mutex<Plan>,
    tally: Tally,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Incoming>,
    seen: Mutex<Vec<Seen>>,
    behaviour: Mutex<Behaviour>,
}

/// How the server behind the proxy seems to behave.
#[derive(Default)]
struct Behaviour {
    /// Drop `If-None-Match` and sign again with these keys.
    ignore_if_none_match: Option<(String, String)>,
    /// Refuse requests signed for another region than this one.
    region: Option<String>,
    /// Send this ETag instead of the server's on object GETs and HEADs.
    opaque_etag: bool,
}

/// One request as the proxy received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The region of the SigV4 credential scope.
    pub fn signed_region(&self) -> Option<&str> {
        self.header("authorization")?.split('/').nth(2)
    }
}

/// The ETag an opaque-ETag server sends: hex, but no MD5 of anything kept.
pub const OPAQUE_ETAG: &str = "\"0123456789abcdef0123456789abcdef\"";

pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy to `upstream`, passing everything through until told otherwise.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            upstream,
            plan: Mutex::new(Plan::Pass),
            tally: Tally::default(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            seen: Mutex::new(Vec::new()),
            behaviour: Mutex::new(Behaviour::default()),
        });
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        Ok(FaultProxy { addr, state, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues faults for the next requests each targets.
    pub fn script(&self, faults: &[(Target, Fault)]) {
        *self.state.plan.lock().unwrap() = Plan::Script(faults.iter().copied().collect());
    }

    /// Random faults from a fixed seed: the same seed, the same run.
    pub fn random(&self, seed: u64, per_mille: u64) {
        *self.state.plan.lock().unwrap() = Plan::Random {
            state: seed,
            per_mille,
        };
    }

    pub fn pass(&self) {
        *self.state.plan.lock().unwrap() = Plan::Pass;
    }

    /// Faults of a script not yet used.
    pub fn pending(&self) -> usize {
        match &*self.state.plan.lock().unwrap() {
            Plan::Script(queue) => queue.len(),
            _ => 0,
        }
    }

    pub fn tally(&self) -> &Tally {
        &self.state.tally
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// From now on the server seems to ignore `If-None-Match`, as Garage
    /// and others do: the header is removed and the request signed again
    /// with `access_key` and `secret_key` (the server's).
    pub fn ignore_if_none_match(&self, access_key: &str, secret_key: &str) {
        self.state.behaviour.lock().unwrap().ignore_if_none_match =
            Some((access_key.to_owned(), secret_key.to_owned()));
    }

    /// From now on the bucket seems to live in `region`: a request signed
    /// for another is refused with 400 AuthorizationHeaderMalformed naming
    /// it, as AWS refuses it.
    pub fn live_in_region(&self, region: &str) {
        self.state.behaviour.lock().unwrap().region = Some(region.to_owned());
    }

    /// From now on object GETs and HEADs carry [`OPAQUE_ETAG`], as a server
    /// whose ETags are not MD5s sends.
    pub fn opaque_etags(&self) {
        self.state.behaviour.lock().unwrap().opaque_etag = true;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    while let Ok((stream, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, state.clone()));
            // Errors here are the faults we inject (or the client hanging up).
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Ranged reads carry no digest to check (see `src/integrity.rs`): a corrupted
/// range is caught by kloset's own MACs, not by the store, so random runs
/// spare ranged GETs the corruption fault.
fn ranged(req: &Request<Incoming>) -> bool {
    req.headers().contains_key(hyper::header::RANGE)
}

/// The fault for this request, if the plan has one.
fn choose(state: &State, req: &Request<Incoming>) -> Option<Fault> {
    let mut plan = state.plan.lock().unwrap();
    match &mut *plan {
        Plan::Pass => None,
        Plan::Script(queue) => {
            let position = queue.iter().position(|(t, _)| t.matches(req))?;
            queue.remove(position).map(|(_, fault)| fault)
        }
        Plan::Random { state, per_mille } => {
            if splitmix(state) % 1000 >= *per_mille {
                return None;
            }
            let pick = splitmix(state);
            let fault = match pick % 7 {
                0 => Fault::Status(500, "InternalError"),
                1 => Fault::Status(503, "SlowDown"),
                2 => Fault::Reset,
                3 => Fault::Truncate(splitmix(state) % 4096),
                4 => Fault::FlipByte(splitmix(state) % 4096),
                5 => Fault::Lost,
                _ => Fault::Slow(Duration::from_millis(5)),
            };
            random_fault_fits(fault, req).then_some(fault)
        }
    }
}

/// Where a random fault may strike. Bodies are cut where bytes come back
/// (objects, listing pages, the Complete document) and corrupted only in
/// full object reads: nothing checks a listing's bytes (TLS does, in real
/// life) and no digest covers a range. CreateMultipartUpload is spared the
/// faults that let it land unanswered: the upload it starts can only be
/// found and aborted on a server with ListMultipartUploads, which s3s-fs
/// lacks (tests/integrity.rs tests that path on the servers that have it).
fn random_fault_fits(fault: Fault, req: &Request<Incoming>) -> bool {
    let answered_with_bytes = [Target::ObjectGet, Target::List, Target::CompleteMultipart]
        .iter()
        .any(|t| t.matches(req));
    match fault {
        Fault::FlipByte(_) => Target::ObjectGet.matches(req) && !ranged(req),
        Fault::Truncate(_) | Fault::Slow(_) => answered_with_bytes,
        Fault::Lost => !Target::CreateMultipart.matches(req),
        Fault::Status(..) | Fault::Reset => true,
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn record(state: &State, req: &Request<Incoming>) {
    let seen = Seen {
        method: req.method().as_str().to_owned(),
        target: req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    };
    state.seen.lock().unwrap().push(seen);
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<ProxyBody>, std::io::Error> {
    state.tally.requests.fetch_add(1, Ordering::Relaxed);
    record(&state, &req);
    if let Some(refusal) = wrong_region(&state, &req) {
        return Ok(refusal);
    }
    let fault = choose(&state, &req);
    if let Some(fault) = fault {
        state.tally.count(fault);
    }
    match fault {
        Some(Fault::Status(status, code)) => return Ok(error_response(status, code, "")),
        Some(Fault::Reset) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected reset",
            ))
        }
        _ => {}
    }
    let object_read = matches!(*req.method(), hyper::Method::GET | hyper::Method::HEAD)
        && !Target::List.matches(&req);
    let (mut parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    parts.uri = format!("http://{}{}", state.upstream, path)
        .parse()
        .map_err(std::io::Error::other)?;
    let keys = state.behaviour.lock().unwrap().ignore_if_none_match.clone();
    if let Some((access_key, secret_key)) = keys {
        if parts.headers.remove(hyper::header::IF_NONE_MATCH).is_some() {
            state.tally.stripped.fetch_add(1, Ordering::Relaxed);
            resign(
                &mut parts,
                &path,
                "if-none-match",
                (&access_key, &secret_key),
            );
        }
    }
    let response = state
        .client
        .request(Request::from_parts(parts, body))
        .await
        .map_err(std::io::Error::other)?;
    let (mut parts, body) = response.into_parts();
    if fault == Some(Fault::Lost) {
        // The server has answered: what it did is done. Its answer is not
        // passed on.
        let _ = body.collect().await;
        return Err(std::io::Error::other("injected lost answer"));
    }
    if object_read && state.behaviour.lock().unwrap().opaque_etag {
        parts
            .headers
            .insert(hyper::header::ETAG, OPAQUE_ETAG.parse().unwrap());
    }
    let body = body.map_err(std::io::Error::other);
    let body: ProxyBody = match fault {
        Some(fault) if parts.status.is_success() => Faulty::new(body, fault).boxed(),
        _ => body.boxed(),
    };
    Ok(Response::from_parts(parts, body))
}

/// AWS's answer to a request signed for another region than the bucket's.
fn wrong_region(state: &State, req: &Request<Incoming>) -> Option<Response<ProxyBody>> {
    let region = state.behaviour.lock().unwrap().region.clone()?;
    let signed = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split('/').nth(2))
        .unwrap_or_default();
    if signed == region {
        return None;
    }
    state.tally.statuses.fetch_add(1, Ordering::Relaxed);
    let extra = format!("<Region>{region}</Region>");
    Some(error_response(400, "AuthorizationHeaderMalformed", &extra))
}

/// Signs a forwarded request again, once `removed` (a signed header) is
/// gone: the same headers, payload hash and keys, a fresh date.
fn resign(
    parts: &mut hyper::http::request::Parts,
    path: &str,
    removed: &str,
    (access_key, secret_key): (&str, &str),
) {
    use kloset_s3::request::{Method, Request as S3Request, Scheme};
    use kloset_s3::sigv4::{Payload, Signer};
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let authorization = header("authorization");
    let signed: Vec<&str> = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default()
        .split(';')
        .collect();
    let method = match parts.method.as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        _ => Method::Put,
    };
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut req = S3Request::new(
        method,
        Scheme::Http,
        &header("host"),
        &percent_decode(raw_path),
    );
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        req = req.query(&percent_decode(name), &percent_decode(value));
    }
    for name in signed {
        if !matches!(name, "host" | "x-amz-date" | "x-amz-content-sha256") && name != removed {
            req.set_header(name, &header(name));
        }
    }
    let hash: Option<[u8; 32]> =
        kloset_s3::hex::decode(&header("x-amz-content-sha256")).and_then(|h| h.try_into().ok());
    let payload = match &hash {
        Some(hash) => Payload::Sha256(hash),
        None => Payload::Unsigned,
    };
    let region = authorization.split('/').nth(2).unwrap_or("us-east-1");
    let secret = kloset_s3::secret::Secret::new(secret_key);
    let signer = Signer::s3(access_key, secret, None, region);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    signer.sign(&mut req, payload, now);
    for name in ["authorization", "x-amz-date", "x-amz-content-sha256"] {
        if let Some(value) = req.header_value(name) {
            parts.headers.insert(
                hyper::header::HeaderName::from_static(name),
                value.parse().unwrap(),
            );
        }
    }
}

/// `%XX` escapes decoded (paths and query values as the component encodes them).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An S3 error document; `extra` elements go inside `<Error>`.
fn error_response(status: u16, code: &str, extra: &str) -> Response<ProxyBody> {
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the test proxy</Message>{extra}<RequestId>proxy</RequestId></Error>"
    );
    let mut response = Response::new(
        Full::new(Bytes::from(document))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert("content-type", "application/xml".parse().unwrap());
    response
}

/// A response body with one fault applied as it streams.
struct Faulty<B> {
    inner: B,
    fault: Fault,
    offset: u64,
    /// Set once a truncation cut the body: the next poll fails the stream.
    cut: bool,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> Faulty<B> {
    fn new(inner: B, fault: Fault) -> Self {
        Faulty {
            inner,
            fault,
            offset: 0,
            cut: false,
            sleep: None,
        }
    }
}

impl<B> Body for Faulty<B>
where
    B: Body<Data = Bytes, Error = std::io::Error> + Unpin,
{
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.cut {
            return Poll::Ready(Some(Err(std::io::Error::other("injected truncation"))));
        }
        if let Fault::Slow(delay) = self.fault {
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        let Ok(data) = frame.into_data() else {
            return Poll::Ready(None);
        };
        let start = self.offset;
        self.offset += data.len() as u64;
        match self.fault {
            Fault::Truncate(at) if self.offset > at => {
                self.cut = true;
                let keep = at.saturating_sub(start) as usize;
                if keep == 0 {
                    return Poll::Ready(Some(Err(std::io::Error::other("injected truncation"))));
                }
                Poll::Ready(Some(Ok(Frame::data(data.slice(..keep)))))
            }
            Fault::FlipByte(at) if (start..self.offset).contains(&at) => {
                let mut bytes = data.to_vec();
                bytes[(at - start) as usize] ^= 0x01;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(bytes)))))
            }
            _ => Poll::Ready(Some(Ok(Frame::data(data)))),
        }
    }
}
