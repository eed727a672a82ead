//! The HTTP/1.1 client the host runs for one store's endpoint: it keeps
//! connections open and reuses them (for small objects, the TCP and TLS
//! handshakes would otherwise cost more than the transfer), and enforces the
//! connect, first-byte and between-bytes timeouts (see [`timeouts`]).
//!
//! It only ever connects to the endpoint it was made for, whatever the request
//! URI says: the egress [`Policy`](crate::policy::Policy) has checked that URI
//! already, and this is the second lock on the same door.
//!
//! It has at most a set number of requests in flight (from the request's
//! start to the end of its response body); more wait for one to end.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use kloset_s3::config::{Endpoint, Timeouts};
use kloset_s3::request::Scheme;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{AcquireError, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;
use tokio::time::{sleep_until, Instant, Sleep};
use tokio_rustls::TlsConnector;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use crate::error::HostError;
use crate::quickack::QuickAck;
use crate::timeouts::{self, Expired, Upload};

/// Open connections kept per endpoint; more are opened when all are busy, and
/// closed once done.
const MAX_CONNECTIONS: usize = 16;

/// A client bound to one endpoint.
pub struct Transport {
    host: String,
    port: u16,
    /// Where to connect instead of looking `host` up, when the host's
    /// operator said so (a test's virtual host, a server without DNS).
    address: Option<IpAddr>,
    tls: Option<Tls>,
    /// One permit per request that may be in flight.
    requests: Arc<Semaphore>,
    /// The host's timeouts; a request may only shorten them.
    timeouts: Timeouts,
    /// Connections kept for reuse: idle ones, and busy ones that become idle
    /// once their response body has been read.
    connections: Mutex<Vec<SendRequest<WasiBody>>>,
    /// The task driving each connection opened and not yet ended.
    drivers: Mutex<Vec<AbortHandle>>,
}

struct Tls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl Transport {
    /// `tls` is required for an HTTPS endpoint and ignored otherwise.
    pub fn new(
        endpoint: &Endpoint,
        tls: Option<Arc<rustls::ClientConfig>>,
        timeouts: Timeouts,
    ) -> Result<Transport, HostError> {
        let tls = match (endpoint.scheme, tls) {
            (Scheme::Http, _) => None,
            (Scheme::Https, Some(config)) => Some(Tls {
                connector: TlsConnector::from(config),
                name: ServerName::try_from(endpoint.host.clone()).map_err(|e| {
                    HostError::Setup(format!("TLS server name `{}`: {e}", endpoint.host))
                })?,
            }),
            (Scheme::Https, None) => {
                return Err(HostError::Setup(
                    "HTTPS endpoint without TLS configuration".into(),
                ))
            }
        };
        Ok(Transport {
            host: endpoint.host.clone(),
            port: endpoint.port,
            address: None,
            tls,
            requests: Arc::new(Semaphore::new(crate::DEFAULT_MAX_REQUESTS)),
            timeouts,
            connections: Mutex::new(Vec::new()),
            drivers: Mutex::new(Vec::new()),
        })
    }

    /// Connects to `address` instead of resolving the endpoint's host name;
    /// TLS still checks the certificate against the host name.
    pub fn connecting_to(mut self, address: Option<IpAddr>) -> Transport {
        self.address = address;
        self
    }

    /// At most `limit` requests in flight (at least one).
    pub fn with_request_limit(mut self, limit: usize) -> Transport {
        self.requests = Arc::new(Semaphore::new(limit.max(1)));
        self
    }

    /// A request's place in the queue for one of the permits: taken now, in
    /// the order the guest sends its requests, not in the order the tasks
    /// that send them happen to run. A guest that waits for its answers in
    /// the order it asked for them then always gets them: with the turns
    /// handed out by whichever task ran first, a later request could take the
    /// last permit and hold it (its answer unread) while the guest waits for
    /// an earlier one that never gets out.
    pub fn queue(&self) -> Turn {
        let mut acquire = Box::pin(self.requests.clone().acquire_owned());
        // The first poll enqueues the waiter (the semaphore is fair); the
        // task that sends the request polls it again with a real waker.
        let mut context = Context::from_waker(std::task::Waker::noop());
        match acquire.as_mut().poll(&mut context) {
            Poll::Ready(permit) => Turn(Box::pin(std::future::ready(permit))),
            Poll::Pending => Turn(acquire),
        }
    }

    /// Sends `request` to the endpoint in its `turn` and returns the response
    /// once its head has arrived; the body streams afterwards.
    pub async fn send(
        &self,
        turn: Turn,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<Response<WasiBody>, Error> {
        let timeouts = timeouts::capped(self.timeouts, options);
        // Fails only once the transport is closed.
        let permit = turn.0.await.map_err(|_| Error::ConnectionLimitReached)?;
        let watch = Arc::new(UploadWatch::default());
        let (mut parts, body) = request.into_parts();
        // On a direct connection the request line carries the path only.
        parts.uri = origin_form(&parts.uri);
        let length = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let body = WatchedBody::new(body, watch.clone(), length).boxed_unsync();
        let mut request = Request::from_parts(parts, body);
        loop {
            let (mut connection, reused) = match self.checkout() {
                Some(connection) => (connection, true),
                None => (self.connect(timeouts.connect).await?, false),
            };
            let sent = tokio::select! {
                sent = connection.try_send_request(request) => sent,
                expired = watch.expiry(timeouts) => return Err(expired_error(expired)),
            };
            match sent {
                Ok(response) => {
                    self.checkin(connection);
                    let between = timeouts.between_bytes;
                    return Ok(response.map(|b| TimedBody::new(b, between, permit).boxed_unsync()));
                }
                // A kept connection the server closed meanwhile, before anything
                // was written: the request is intact, try another connection.
                Err(mut e) if reused && e.message().is_some() => {
                    request = e.take_message().expect("checked just above");
                }
                Err(e) => return Err(Error::from(e.into_error())),
            }
        }
    }

    /// Sends nothing more, for an instance that is dead or dropped: requests
    /// waiting for their turn fail (each request in flight dropped would
    /// otherwise let one out), and every connection closes, even one whose
    /// request is still waiting for its answer.
    pub fn close(&self) {
        self.requests.close();
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let drivers =
            std::mem::take(&mut *self.drivers.lock().unwrap_or_else(PoisonError::into_inner));
        drivers.iter().for_each(AbortHandle::abort);
    }

    fn checkout(&self) -> Option<SendRequest<WasiBody>> {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.retain(|c| !c.is_closed());
        let ready = connections.iter().position(SendRequest::is_ready)?;
        Some(connections.swap_remove(ready))
    }

    fn checkin(&self, connection: SendRequest<WasiBody>) {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.retain(|c| !c.is_closed());
        if connections.len() < MAX_CONNECTIONS {
            connections.push(connection);
        }
    }

    async fn connect(&self, timeout: Duration) -> Result<SendRequest<WasiBody>, Error> {
        tokio::time::timeout(timeout, self.open())
            .await
            .map_err(|_| Error::ConnectionTimeout)?
    }

    async fn open(&self) -> Result<SendRequest<WasiBody>, Error> {
        let tcp = match self.address {
            Some(address) => TcpStream::connect((address, self.port)).await,
            None => TcpStream::connect((self.host.as_str(), self.port)).await,
        }
        .map_err(Error::Connect)?;
        tcp.set_nodelay(true).map_err(Error::Connect)?;
        let tcp = QuickAck::new(tcp);
        let stream: Box<dyn Stream> = match &self.tls {
            Some(tls) => Box::new(
                tls.connector
                    .connect(tls.name.clone(), tcp)
                    .await
                    .map_err(Error::Tls)?,
            ),
            None => Box::new(tcp),
        };
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let driver = tokio::spawn(async move {
            // The request in flight, if any, receives the same error.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection to the endpoint ended");
            }
        });
        let mut drivers = self.drivers.lock().unwrap_or_else(PoisonError::into_inner);
        drivers.retain(|driver| !driver.is_finished());
        drivers.push(driver.abort_handle());
        Ok(sender)
    }
}

/// A request's place in the queue for a permit to be in flight (see
/// [`Transport::queue`]).
pub struct Turn(Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>);

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

fn origin_form(uri: &Uri) -> Uri {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Uri::try_from(path).unwrap_or_else(|_| Uri::from_static("/"))
}

fn expired_error(expired: Expired) -> Error {
    match expired {
        Expired::Write => Error::ConnectionWriteTimeout,
        Expired::FirstByte => Error::ConnectionReadTimeout,
    }
}

/// Where the request body stands, shared by the body (which updates it) and
/// the task waiting for the response head (which times out on it).
struct UploadWatch {
    upload: Mutex<Upload>,
    changed: Notify,
}

impl Default for UploadWatch {
    fn default() -> Self {
        UploadWatch {
            upload: Mutex::new(Upload::Writing(std::time::Instant::now())),
            changed: Notify::new(),
        }
    }
}

impl UploadWatch {
    fn get(&self) -> Upload {
        *self.upload.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, upload: Upload) {
        let mut current = self.upload.lock().unwrap_or_else(PoisonError::into_inner);
        if *current != upload {
            *current = upload;
            // A stored permit wakes the waiter even if it is not waiting yet.
            self.changed.notify_one();
        }
    }

    /// Resolves when the request has waited too long in its current stage.
    async fn expiry(&self, timeouts: Timeouts) -> Expired {
        loop {
            let upload = self.get();
            match upload.deadline(&timeouts) {
                None => self.changed.notified().await,
                Some((deadline, expired)) => tokio::select! {
                    () = sleep_until(deadline.into()) => {
                        if self.get() == upload {
                            return expired;
                        }
                    }
                    () = self.changed.notified() => {}
                },
            }
        }
    }
}

/// The request body, reporting its progress to an [`UploadWatch`].
///
/// hyper stops polling a body as soon as it has sent the `Content-Length`
/// bytes, and drops it without waiting for its end. So the upload counts as
/// sent once the last declared byte is handed over, and a body dropped
/// complete is drained until the component finishes it: its last flush must
/// not fail on a body the server has in full.
struct WatchedBody {
    inner: WasiBody,
    watch: Arc<UploadWatch>,
    /// Bytes still due according to `Content-Length`, when declared.
    remaining: Option<u64>,
    ended: bool,
}

impl WatchedBody {
    fn new(inner: WasiBody, watch: Arc<UploadWatch>, length: Option<u64>) -> Self {
        let body = WatchedBody {
            inner,
            watch,
            remaining: length,
            ended: false,
        };
        if body.complete() {
            body.watch.set(Upload::Sent(std::time::Instant::now()));
        }
        body
    }

    fn complete(&self) -> bool {
        self.ended || self.remaining == Some(0) || self.inner.is_end_stream()
    }
}

impl Body for WatchedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(remaining), Some(data)) = (&mut this.remaining, frame.data_ref()) {
                    *remaining = remaining.saturating_sub(data.len() as u64);
                }
            }
            Poll::Ready(_) => this.ended = true,
            Poll::Pending => {}
        }
        let now = std::time::Instant::now();
        this.watch.set(match &polled {
            Poll::Pending => Upload::AwaitingBody,
            Poll::Ready(_) if this.complete() => Upload::Sent(now),
            Poll::Ready(_) => Upload::Writing(now),
        });
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        if self.ended || self.remaining != Some(0) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let empty = Empty::new()
            .map_err(|e: Infallible| match e {})
            .boxed_unsync();
        let rest = std::mem::replace(&mut self.inner, empty);
        runtime.spawn(async move {
            // Nothing more is due: this only waits for the component's finish.
            let _ = rest.collect().await;
        });
    }
}

/// The response body, failing when the server goes silent for longer than
/// the between-bytes timeout. The clock only runs while the component waits
/// for the next chunk: a component busy elsewhere is not a silent server.
/// The request is in flight until the body ends or is dropped.
struct TimedBody {
    inner: hyper::body::Incoming,
    between: Duration,
    timer: Pin<Box<Sleep>>,
    waiting: bool,
    in_flight: Option<OwnedSemaphorePermit>,
}

impl TimedBody {
    fn new(inner: hyper::body::Incoming, between: Duration, permit: OwnedSemaphorePermit) -> Self {
        TimedBody {
            inner,
            between,
            timer: Box::pin(sleep_until(Instant::now() + between)),
            waiting: false,
            in_flight: Some(permit),
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if !this.waiting {
            this.timer.as_mut().reset(Instant::now() + this.between);
            this.waiting = true;
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                if !matches!(frame, Some(Ok(_))) {
                    this.in_flight = None;
                }
                Poll::Ready(frame.map(|f| f.map_err(Error::from)))
            }
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                this.in_flight = None;
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::Full;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;

    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

    fn timeouts(first_byte_ms: u64, between_bytes_ms: u64) -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            first_byte: Duration::from_millis(first_byte_ms),
            between_bytes: Duration::from_millis(between_bytes_ms),
        }
    }

    fn transport(port: u16, timeouts: Timeouts) -> Transport {
        let endpoint = Endpoint {
            scheme: Scheme::Http,
            host: "127.0.0.1".into(),
            port,
        };
        Transport::new(&endpoint, None, timeouts).expect("transport")
    }

    fn request(port: u16, body: WasiBody) -> Request<WasiBody> {
        Request::builder()
            .method("PUT")
            .uri(format!("http://127.0.0.1:{port}/bucket/key?x-id=1"))
            .header("host", format!("127.0.0.1:{port}"))
            .body(body)
            .expect("request")
    }

    fn empty() -> WasiBody {
        Empty::new()
            .map_err(|e: Infallible| match e {})
            .boxed_unsync()
    }

    /// `left` chunks of 1 MiB, each its own frame; one per `pause` when set,
    /// as a component computing or waiting on its caller would produce them.
    /// An `unfinished` body never ends: the component has written every byte
    /// but not finished the body yet.
    struct Chunks {
        left: usize,
        pause: Option<(Duration, Pin<Box<Sleep>>)>,
        unfinished: bool,
    }

    impl Chunks {
        fn new(left: usize) -> Self {
            Chunks {
                left,
                pause: None,
                unfinished: false,
            }
        }
    }

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
            if self.left == 0 {
                return match self.unfinished {
                    true => Poll::Pending,
                    false => Poll::Ready(None),
                };
            }
            if let Some((pause, timer)) = &mut self.pause {
                ready!(timer.as_mut().poll(cx));
                let next = Instant::now() + *pause;
                timer.as_mut().reset(next);
            }
            self.left -= 1;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![7; 1 << 20])))))
        }

        fn is_end_stream(&self) -> bool {
            self.left == 0 && !self.unfinished
        }
    }

    /// Reads one request head; `None` once the client closed the connection.
    async fn read_head(socket: &mut TcpStream) -> Option<String> {
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if socket.read(&mut byte).await.ok()? == 0 {
                return None;
            }
            head.push(byte[0]);
        }
        Some(String::from_utf8_lossy(&head).into_owned())
    }

    async fn listener() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        (listener, port)
    }

    async fn body_text(response: Response<WasiBody>) -> Result<Bytes, Error> {
        Ok(response.into_body().collect().await?.to_bytes())
    }

    #[tokio::test]
    async fn reuses_one_connection_for_sequential_requests() {
        let (listener, port) = listener().await;
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.expect("accept");
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    while read_head(&mut socket).await.is_some() {
                        socket.write_all(OK).await.expect("answer");
                    }
                });
            }
        });
        let transport = transport(port, timeouts(5000, 5000));
        for _ in 0..5 {
            let response = transport
                .send(transport.queue(), request(port, empty()), None)
                .await
                .expect("send");
            assert_eq!(body_text(response).await.expect("body"), "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn sends_the_path_and_query_only_on_the_request_line() {
        let (listener, port) = listener().await;
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let head = read_head(&mut socket).await.expect("head");
            socket.write_all(OK).await.expect("answer");
            head
        });
        let transport = transport(port, timeouts(5000, 5000));
        let response = transport
            .send(transport.queue(), request(port, empty()), None)
            .await
            .expect("send");
        body_text(response).await.expect("body");
        let head = server.await.expect("server");
        assert!(
            head.starts_with("PUT /bucket/key?x-id=1 HTTP/1.1\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out_at_first_byte() {
        let (listener, port) = listener().await;
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            read_head(&mut socket).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let transport = transport(port, timeouts(200, 5000));
        let started = std::time::Instant::now();
        let err = transport
            .send(transport.queue(), request(port, empty()), None)
            .await
            .expect_err("timeout");
        assert!(matches!(err, Error::ConnectionReadTimeout), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn the_guest_can_shorten_but_not_lengthen_the_first_byte_timeout() {
        let (listener, port) = listener().await;
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.expect("accept");
                tokio::spawn(async move {
                    read_head(&mut socket).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                });
            }
        });
        let transport = transport(port, timeouts(300, 5000));
        let asks = |ms| {
            Some(RequestOptions {
                first_byte_timeout: Some(Duration::from_millis(ms)),
                ..RequestOptions::default()
            })
        };
        let started = std::time::Instant::now();
        let err = transport
            .send(transport.queue(), request(port, empty()), asks(3_600_000))
            .await
            .expect_err("capped");
        assert!(matches!(err, Error::ConnectionReadTimeout), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let started = std::time::Instant::now();
        transport
            .send(transport.queue(), request(port, empty()), asks(50))
            .await
            .expect_err("shortened");
        assert!(started.elapsed() < Duration::from_millis(300));
    }

    #[tokio::test]
    async fn a_body_that_stops_flowing_times_out_between_bytes() {
        let (listener, port) = listener().await;
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            read_head(&mut socket).await;
            let head = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello";
            socket.write_all(head).await.expect("answer");
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let transport = transport(port, timeouts(5000, 200));
        let response = transport
            .send(transport.queue(), request(port, empty()), None)
            .await
            .expect("head");
        let err = body_text(response).await.expect_err("stalled body");
        assert!(matches!(err, Error::ConnectionReadTimeout), "{err}");
    }

    #[tokio::test]
    async fn a_server_that_stops_reading_the_body_is_a_write_timeout() {
        let (listener, port) = listener().await;
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            read_head(&mut socket).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let transport = transport(port, timeouts(5000, 300));
        let body = Chunks::new(256).boxed_unsync();
        let err = transport
            .send(transport.queue(), request(port, body), None)
            .await
            .expect_err("stall");
        assert!(matches!(err, Error::ConnectionWriteTimeout), "{err}");
    }

    #[tokio::test]
    async fn the_first_byte_clock_starts_once_the_body_is_sent() {
        // The body takes ~1 s to produce, the server answers as soon as it has
        // it all: a 300 ms first-byte timeout counted from the request start
        // would fail, as would a between-bytes timeout on the upload.
        let (listener, port) = listener().await;
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            read_head(&mut socket).await;
            let mut body = vec![0; 8 << 20];
            socket.read_exact(&mut body).await.expect("read body");
            socket.write_all(OK).await.expect("answer");
        });
        let transport = transport(port, timeouts(300, 300));
        let pause = Duration::from_millis(125);
        let body = Chunks {
            pause: Some((pause, Box::pin(sleep_until(Instant::now() + pause)))),
            ..Chunks::new(8)
        };
        let mut req = request(port, body.boxed_unsync());
        let length = (8u64 << 20).to_string().parse().expect("value");
        req.headers_mut().insert("content-length", length);
        let started = std::time::Instant::now();
        let response = transport
            .send(transport.queue(), req, None)
            .await
            .expect("send");
        assert_eq!(body_text(response).await.expect("body"), "ok");
        assert!(started.elapsed() > Duration::from_millis(900));
    }

    #[tokio::test]
    async fn a_body_complete_by_content_length_waits_for_first_byte_only() {
        // hyper never polls the body again after its declared length: the
        // server's slow answer must be a first-byte wait, not a write stall.
        let (listener, port) = listener().await;
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            read_head(&mut socket).await;
            let mut body = vec![0; 2 << 20];
            socket.read_exact(&mut body).await.expect("read body");
            tokio::time::sleep(Duration::from_millis(600)).await;
            socket.write_all(OK).await.expect("answer");
        });
        let transport = transport(port, timeouts(3000, 200));
        let mut req = request(
            port,
            Chunks {
                unfinished: true,
                ..Chunks::new(2)
            }
            .boxed_unsync(),
        );
        let length = (2u64 << 20).to_string().parse().expect("value");
        req.headers_mut().insert("content-length", length);
        let response = transport
            .send(transport.queue(), req, None)
            .await
            .expect("send");
        assert_eq!(body_text(response).await.expect("body"), "ok");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let (listener, port) = listener().await;
        drop(listener);
        let transport = transport(port, timeouts(1000, 1000));
        let body = Full::new(Bytes::from_static(b"x")).map_err(|e: Infallible| match e {});
        let err = transport
            .send(transport.queue(), request(port, body.boxed_unsync()), None)
            .await
            .expect_err("refused");
        assert!(matches!(err, Error::Connect(_)), "{err}");
    }

    #[tokio::test]
    async fn connects_to_the_endpoint_whatever_the_uri_says() {
        let (listener, port) = listener().await;
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            read_head(&mut socket).await;
            socket.write_all(OK).await.expect("answer");
        });
        let transport = transport(port, timeouts(5000, 5000));
        let mut req = request(port, empty());
        *req.uri_mut() = Uri::from_static("http://127.0.0.2:1/elsewhere");
        let response = transport
            .send(transport.queue(), req, None)
            .await
            .expect("sent to the endpoint");
        assert_eq!(body_text(response).await.expect("body"), "ok");
    }

    #[tokio::test]
    async fn connects_to_the_address_given_for_the_endpoint_name() {
        let (listener, port) = listener().await;
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let head = read_head(&mut socket).await.expect("head");
            socket.write_all(OK).await.expect("answer");
            head
        });
        let endpoint = Endpoint {
            scheme: Scheme::Http,
            host: "bucket.s3.kloset.test".into(),
            port,
        };
        let transport = Transport::new(&endpoint, None, timeouts(5000, 5000))
            .expect("transport")
            .connecting_to(Some(IpAddr::from([127, 0, 0, 1])));
        let mut req = request(port, empty());
        *req.uri_mut() = format!("http://bucket.s3.kloset.test:{port}/key")
            .parse()
            .expect("uri");
        let response = transport
            .send(transport.queue(), req, None)
            .await
            .expect("send");
        assert_eq!(body_text(response).await.expect("body"), "ok");
        assert!(server.await.expect("server").starts_with("PUT /key "));
    }

    #[tokio::test]
    async fn requests_past_the_limit_wait_for_a_response_body_to_end() {
        let (listener, port) = listener().await;
        let heads = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        let counter = heads.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.expect("accept");
                let (counter, mut released) = (counter.clone(), released.clone());
                tokio::spawn(async move {
                    while read_head(&mut socket).await.is_some() {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let _ = released.wait_for(|go| *go).await;
                        socket.write_all(OK).await.expect("answer");
                    }
                });
            }
        });
        let transport = Arc::new(transport(port, timeouts(10_000, 10_000)).with_request_limit(2));
        let sends: Vec<_> = (0..3)
            .map(|_| {
                let transport = transport.clone();
                tokio::spawn(async move {
                    let response = transport
                        .send(transport.queue(), request(port, empty()), None)
                        .await?;
                    body_text(response).await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(heads.load(Ordering::SeqCst), 2, "the third went out");
        release.send(true).expect("release");
        for send in sends {
            assert_eq!(send.await.expect("task").expect("send"), "ok");
        }
        assert_eq!(heads.load(Ordering::SeqCst), 3);
    }

    /// Past the limit, requests go out in the order they were queued (the
    /// order the guest sent them), whatever order their tasks run in.
    #[tokio::test]
    async fn waiting_requests_go_out_in_the_order_they_were_queued() {
        let (listener, port) = listener().await;
        let (paths, mut arrived) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.expect("accept");
                let paths = paths.clone();
                tokio::spawn(async move {
                    while let Some(head) = read_head(&mut socket).await {
                        let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                        let _ = paths.send(path);
                        socket.write_all(OK).await.expect("answer");
                    }
                });
            }
        });
        let transport = Arc::new(transport(port, timeouts(10_000, 10_000)).with_request_limit(1));
        let turns: Vec<Turn> = (0..4).map(|_| transport.queue()).collect();
        // The last queued sends first, the first queued last.
        let mut sends = Vec::new();
        for (i, turn) in turns.into_iter().enumerate().rev() {
            let transport = transport.clone();
            let uri = format!("http://127.0.0.1:{port}/request-{i}");
            let request = Request::get(uri).body(empty()).expect("request");
            sends.push(tokio::spawn(async move {
                let response = transport.send(turn, request, None).await?;
                body_text(response).await
            }));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for send in sends {
            assert_eq!(send.await.expect("task").expect("send"), "ok");
        }
        let mut order = Vec::new();
        while let Ok(path) = arrived.try_recv() {
            order.push(path);
        }
        assert_eq!(
            order,
            ["/request-0", "/request-1", "/request-2", "/request-3"]
        );
    }

    #[tokio::test]
    async fn a_closed_transport_lets_no_waiting_request_out() {
        let (listener, port) = listener().await;
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.expect("accept");
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    read_head(&mut socket).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                });
            }
        });
        let transport = Arc::new(transport(port, timeouts(30_000, 30_000)).with_request_limit(1));
        let sends: Vec<_> = (0..3)
            .map(|_| {
                let transport = transport.clone();
                tokio::spawn(async move {
                    transport
                        .send(transport.queue(), request(port, empty()), None)
                        .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        transport.close();
        let mut sends = sends.into_iter();
        let first = sends.next().expect("first");
        for waiting in sends {
            let err = waiting.await.expect("task").expect_err("refused");
            assert!(matches!(err, Error::ConnectionLimitReached), "{err}");
        }
        // The one in flight lost its connection.
        let err = first.await.expect("task").expect_err("cut");
        assert!(matches!(err, Error::Hyper(_)), "{err}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// A TLS server for 127.0.0.1 whose certificate `testdata/test-ca.pem`
    /// signed; it answers one request.
    async fn tls_server() -> u16 {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain =
            vec![
                CertificateDer::from_pem_slice(include_bytes!("../testdata/test-server.pem"))
                    .expect("server certificate"),
            ];
        let key = PrivateKeyDer::from_pem_slice(include_bytes!("../testdata/test-server.key"))
            .expect("server key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (listener, port) = listener().await;
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.expect("accept");
            let Ok(mut tls) = acceptor.accept(socket).await else {
                return;
            };
            let mut head = Vec::new();
            let mut byte = [0; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match tls.read(&mut byte).await {
                    Ok(1) => head.push(byte[0]),
                    _ => return,
                }
            }
            let _ = tls.write_all(OK).await;
            let _ = tls.flush().await;
        });
        port
    }

    fn https_transport(port: u16, tls: Arc<rustls::ClientConfig>) -> Transport {
        let endpoint = Endpoint {
            scheme: Scheme::Https,
            host: "127.0.0.1".into(),
            port,
        };
        Transport::new(&endpoint, Some(tls), timeouts(5000, 5000)).expect("transport")
    }

    fn https_request(port: u16) -> Request<WasiBody> {
        let mut req = request(port, empty());
        *req.uri_mut() = format!("https://127.0.0.1:{port}/bucket")
            .parse()
            .expect("uri");
        req
    }

    #[tokio::test]
    async fn https_trusts_the_ca_file() {
        let port = tls_server().await;
        let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/test-ca.pem");
        let tls = crate::tls::verifying_config(Some(&ca)).expect("TLS config");
        let transport = https_transport(port, tls);
        let response = transport
            .send(transport.queue(), https_request(port), None)
            .await
            .expect("send");
        assert_eq!(body_text(response).await.expect("body"), "ok");
    }

    #[tokio::test]
    async fn https_refuses_a_server_no_trusted_ca_signed() {
        let port = tls_server().await;
        let tls = crate::tls::verifying_config(None).expect("TLS config");
        let transport = https_transport(port, tls);
        let err = transport
            .send(transport.queue(), https_request(port), None)
            .await
            .expect_err("untrusted");
        let Error::Tls(io) = err else {
            panic!("expected a TLS error, got {err}");
        };
        let code = crate::egress::tls_error_code(&io);
        assert!(matches!(code, ErrorCode::TlsCertificateError), "{code:?}");
    }

    #[tokio::test]
    async fn https_without_verification_accepts_any_server() {
        let port = tls_server().await;
        let tls = crate::tls::insecure_config().expect("TLS config");
        let transport = https_transport(port, tls);
        let response = transport
            .send(transport.queue(), https_request(port), None)
            .await
            .expect("send");
        assert_eq!(body_text(response).await.expect("body"), "ok");
    }
}
