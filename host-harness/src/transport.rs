//! The HTTP/1.1 client the host runs for one store's endpoint: it keeps
//! connections open and reuses them (for small objects, the TCP and TLS
//! handshakes would otherwise cost more than the transfer), and enforces the
//! connect, first-byte and between-bytes timeouts (see [`timeouts`]).
//!
//! It only ever connects to the endpoint it was made for, whatever the request
//! URI says: the egress [`Policy`](crate::policy::Policy) has checked that URI
//! already, and this is the second lock on the same door.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use kloset_s3::config::{Endpoint, Timeouts};
use kloset_s3::request::Scheme;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant, Sleep};
use tokio_rustls::TlsConnector;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use crate::error::HostError;
use crate::timeouts::{self, Expired, Upload};

/// Open connections kept per endpoint; more are opened when all are busy, and
/// closed once done.
const MAX_CONNECTIONS: usize = 16;

/// A client bound to one endpoint.
pub struct Transport {
    host: String,
    port: u16,
    tls: Option<Tls>,
    /// The host's timeouts; a request may only shorten them.
    timeouts: Timeouts,
    /// Connections kept for reuse: idle ones, and busy ones that become idle
    /// once their response body has been read.
    connections: Mutex<Vec<SendRequest<WasiBody>>>,
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
            tls,
            timeouts,
            connections: Mutex::new(Vec::new()),
        })
    }

    /// Sends `request` to the endpoint and returns the response once its head
    /// has arrived; the body streams afterwards.
    pub async fn send(
        &self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<Response<WasiBody>, Error> {
        let timeouts = timeouts::capped(self.timeouts, options);
        let watch = Arc::new(UploadWatch::default());
        let (mut parts, body) = request.into_parts();
        // On a direct connection the request line carries the path only.
        parts.uri = origin_form(&parts.uri);
        let body = WatchedBody::new(body, watch.clone()).boxed_unsync();
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
                    return Ok(response.map(|b| TimedBody::new(b, between).boxed_unsync()));
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
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(Error::Connect)?;
        tcp.set_nodelay(true).map_err(Error::Connect)?;
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
        tokio::spawn(async move {
            // The request in flight, if any, receives the same error.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection to the endpoint ended");
            }
        });
        Ok(sender)
    }
}

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
struct WatchedBody {
    inner: WasiBody,
    watch: Arc<UploadWatch>,
}

impl WatchedBody {
    fn new(inner: WasiBody, watch: Arc<UploadWatch>) -> Self {
        if inner.is_end_stream() {
            watch.set(Upload::Sent(std::time::Instant::now()));
        }
        WatchedBody { inner, watch }
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
        let now = std::time::Instant::now();
        this.watch.set(match &polled {
            Poll::Pending => Upload::AwaitingBody,
            Poll::Ready(Some(Ok(_))) if !this.inner.is_end_stream() => Upload::Writing(now),
            Poll::Ready(_) => Upload::Sent(now),
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

/// The response body, failing when the server goes silent for longer than
/// the between-bytes timeout. The clock only runs while the component waits
/// for the next chunk: a component busy elsewhere is not a silent server.
struct TimedBody {
    inner: hyper::body::Incoming,
    between: Duration,
    timer: Pin<Box<Sleep>>,
    waiting: bool,
}

impl TimedBody {
    fn new(inner: hyper::body::Incoming, between: Duration) -> Self {
        TimedBody {
            inner,
            between,
            timer: Box::pin(sleep_until(Instant::now() + between)),
            waiting: false,
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
                Poll::Ready(frame.map(|f| f.map_err(Error::from)))
            }
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
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
