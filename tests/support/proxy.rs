//! A fault-injecting HTTP proxy on 127.0.0.1, between the component and a real
//! S3 server: it forwards requests untouched (the SigV4 signature stays valid,
//! the Host header is kept) and, as a script or a seeded random plan says,
//! answers 500/503 itself, resets the connection, truncates, corrupts or slows
//! a response body. What it injected is counted, so a test can report it.

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
    /// Forward, then cut the response body after this many bytes.
    Truncate(u64),
    /// Forward, then flip one bit of the response body's byte at this offset.
    FlipByte(u64),
    /// Forward, then wait this long before each body chunk.
    Slow(Duration),
}

impl Fault {
    fn touches_body(self) -> bool {
        matches!(
            self,
            Fault::Truncate(_) | Fault::FlipByte(_) | Fault::Slow(_)
        )
    }
}

/// Which requests a fault may hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Any,
    /// GET requests of object data (not listings).
    ObjectGet,
    Put,
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
    pub truncations: AtomicU64,
    pub corruptions: AtomicU64,
    pub slowdowns: AtomicU64,
}

impl Tally {
    pub fn injected(&self) -> u64 {
        [
            &self.statuses,
            &self.resets,
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
}

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

fn target_of(req: &Request<Incoming>) -> Target {
    let is_list = req.uri().query().is_some_and(|q| q.contains("list-type"));
    match *req.method() {
        hyper::Method::GET if !is_list => Target::ObjectGet,
        hyper::Method::PUT => Target::Put,
        _ => Target::Any,
    }
}

/// The fault for this request, if the plan has one.
fn choose(state: &State, target: Target, ranged: bool) -> Option<Fault> {
    let mut plan = state.plan.lock().unwrap();
    match &mut *plan {
        Plan::Pass => None,
        Plan::Script(queue) => {
            let position = queue
                .iter()
                .position(|(t, _)| *t == Target::Any || *t == target)?;
            queue.remove(position).map(|(_, fault)| fault)
        }
        Plan::Random { state, per_mille } => {
            if splitmix(state) % 1000 >= *per_mille {
                return None;
            }
            let pick = splitmix(state);
            let fault = match pick % 6 {
                0 => Fault::Status(500, "InternalError"),
                1 => Fault::Status(503, "SlowDown"),
                2 => Fault::Reset,
                3 => Fault::Truncate(splitmix(state) % 4096),
                4 => Fault::FlipByte(splitmix(state) % 4096),
                _ => Fault::Slow(Duration::from_millis(5)),
            };
            // Body faults only make sense where bytes come back.
            let fits = match fault {
                Fault::FlipByte(_) => target == Target::ObjectGet && !ranged,
                _ => target == Target::ObjectGet || !fault.touches_body(),
            };
            fits.then_some(fault)
        }
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<ProxyBody>, std::io::Error> {
    state.tally.requests.fetch_add(1, Ordering::Relaxed);
    let fault = choose(&state, target_of(&req), ranged(&req));
    if let Some(fault) = fault {
        state.tally.count(fault);
    }
    match fault {
        Some(Fault::Status(status, code)) => return Ok(error_response(status, code)),
        Some(Fault::Reset) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected reset",
            ))
        }
        _ => {}
    }
    let (mut parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    parts.uri = format!("http://{}{}", state.upstream, path)
        .parse()
        .map_err(std::io::Error::other)?;
    let response = state
        .client
        .request(Request::from_parts(parts, body))
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = response.into_parts();
    let body = body.map_err(std::io::Error::other);
    let body: ProxyBody = match fault {
        Some(fault) if parts.status.is_success() => Faulty::new(body, fault).boxed(),
        _ => body.boxed(),
    };
    Ok(Response::from_parts(parts, body))
}

fn error_response(status: u16, code: &str) -> Response<ProxyBody> {
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the test proxy</Message><RequestId>proxy</RequestId></Error>"
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
