//! Sends S3 requests: signs each attempt, retries what the policy says may be
//! retried, and turns every final failure into a typed answer. Generic over
//! [`Transport`], the seam behind which the one WASI-facing module sits.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use crate::config::{Config, Timeouts};
use crate::error::{Error, S3Failure};
use crate::region;
use crate::request::{Method, Request};
use crate::retry::{Decision, Outcome, RetryPolicy};
use crate::sigv4::{Payload, Signer};
use crate::xml;

/// How much of an error response body is read: S3 error documents are small,
/// and a hostile server must not make us buffer an endless body.
const MAX_ERROR_BODY: usize = 64 << 10;

/// A failure below HTTP: the request got no complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The host's egress policy refused the request: never retried.
    Denied(String),
    /// Connect, first-byte or between-bytes timeout.
    Timeout(String),
    /// Refused, reset or closed connection; a body cut short.
    Connection(String),
    /// Anything the HTTP layer rejected (invalid header, protocol error).
    Protocol(String),
}

impl TransportError {
    fn outcome(&self) -> Outcome<'static> {
        match self {
            TransportError::Denied(_) => Outcome::Denied,
            TransportError::Timeout(_) => Outcome::Timeout,
            TransportError::Connection(_) => Outcome::Connection,
            TransportError::Protocol(_) => Outcome::Denied,
        }
    }

    /// The final error once retries are over.
    pub fn into_error(self, what: &str) -> Error {
        match self {
            TransportError::Denied(m) => {
                Error::PermissionDenied(format!("{what}: the host refused the request: {m}"))
            }
            TransportError::Timeout(m) => Error::Unavailable(format!("{what}: timed out: {m}")),
            TransportError::Connection(m) => {
                Error::Unavailable(format!("{what}: connection failed: {m}"))
            }
            TransportError::Protocol(m) => Error::Other(format!("{what}: HTTP error: {m}")),
        }
    }
}

/// A response head and its still unread body.
pub struct Response<B> {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: B,
}

impl<B> Response<B> {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The ETag without its quotes, if the server sent a non-empty one. S3
    /// answers every write with one: a write answered without it came from
    /// something that is not S3 (a proxy, a broken server), which may well
    /// not have stored anything.
    pub fn etag(&self) -> Option<&str> {
        let etag = self.header("etag")?.trim().trim_matches('"');
        (!etag.is_empty()).then_some(etag)
    }
}

/// The value of header `name` (lower case) among response headers.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A response body, read in chunks.
pub trait ResponseBody {
    /// Up to `max` bytes; `None` at the end of the body.
    fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>, TransportError>;
}

/// Everything the client needs from the outside world. Time and randomness
/// come through here too, so the rest of the crate stays pure.
pub trait Transport {
    type Body: ResponseBody;
    fn send(
        &self,
        req: &Request,
        body: &[u8],
        timeouts: &Timeouts,
    ) -> Result<Response<Self::Body>, TransportError>;
    /// Wall-clock seconds since the Unix epoch, for signatures.
    fn unix_time(&self) -> u64;
    /// A monotonic reading, for the retry budget.
    fn monotonic(&self) -> Duration;
    fn sleep(&self, duration: Duration);
    fn random_u64(&self) -> u64;
}

/// Why a request failed in the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The server answered with an error status.
    Rejected(S3Failure),
    /// No usable answer.
    Transport(TransportError),
}

impl SendError {
    pub fn status(&self) -> Option<u16> {
        match self {
            SendError::Rejected(f) => Some(f.status),
            SendError::Transport(_) => None,
        }
    }

    pub fn into_error(self, what: &str) -> Error {
        match self {
            SendError::Rejected(failure) => Error::from_s3(what, failure),
            SendError::Transport(e) => e.into_error(what),
        }
    }
}

/// Counters a host can read back (the fault-injection tests report them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub retries: u64,
}

pub struct Client<T> {
    transport: T,
    signer: RefCell<Signer>,
    retry: RetryPolicy,
    timeouts: Timeouts,
    stats: Cell<Stats>,
}

impl<T: Transport> Client<T> {
    pub fn new(config: &Config, transport: T) -> Self {
        let signer = Signer::s3(
            &config.access_key,
            config.secret_key.clone(),
            config.session_token.clone(),
            &config.region,
        );
        Client {
            transport,
            signer: RefCell::new(signer),
            retry: RetryPolicy {
                max_retries: config.max_retries,
                budget: config.retry_budget,
            },
            timeouts: config.timeouts,
            stats: Cell::new(Stats::default()),
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// Counts a retry made outside [`Client::send`] (a resumed download).
    pub fn count_retry(&self) {
        let mut s = self.stats.get();
        s.retries += 1;
        self.stats.set(s);
    }

    /// Sends `req` with `body`, signed afresh for each attempt, and returns the
    /// first 2xx response. Retryable failures are retried with backoff within
    /// the policy's limits; the last failure is returned otherwise.
    pub fn send(
        &self,
        req: &Request,
        body: &[u8],
        payload: Payload<'_>,
    ) -> Result<Response<T::Body>, SendError> {
        self.send_with(req, body, payload, Ok)
    }

    /// [`Client::send`], with `accept` judging each 2xx response: S3 may hide
    /// an error in a 200 (CompleteMultipartUpload does), and such an error is
    /// retried like any other. A server that names the bucket's region after
    /// a request signed for another gets the request once more, signed for
    /// its region, which later requests keep.
    pub fn send_with<R>(
        &self,
        req: &Request,
        body: &[u8],
        payload: Payload<'_>,
        accept: impl Fn(Response<T::Body>) -> Result<R, S3Failure>,
    ) -> Result<R, SendError> {
        self.send_within(&mut self.budget(), req, body, payload, accept)
    }

    /// A fresh retry budget for one operation.
    pub fn budget(&self) -> Budget {
        Budget {
            start: self.transport.monotonic(),
            retries: 0,
        }
    }

    /// Waits before another try if the policy still allows one within
    /// `budget`, and spends it; `false` means give up.
    pub fn back_off(&self, budget: &mut Budget, outcome: &Outcome<'_>) -> bool {
        let elapsed = self.transport.monotonic().saturating_sub(budget.start);
        let random = self.transport.random_u64();
        match self.retry.decide(outcome, budget.retries, elapsed, random) {
            Decision::Retry(delay) => {
                self.count_retry();
                self.transport.sleep(delay);
                budget.retries += 1;
                true
            }
            Decision::GiveUp => false,
        }
    }

    /// [`Client::send_with`], spending retries from an operation's `budget`
    /// that other requests of the same operation share.
    pub fn send_within<R>(
        &self,
        budget: &mut Budget,
        req: &Request,
        body: &[u8],
        payload: Payload<'_>,
        accept: impl Fn(Response<T::Body>) -> Result<R, S3Failure>,
    ) -> Result<R, SendError> {
        let mut region_switched = false;
        loop {
            let Rejection {
                error,
                retry_after,
                region,
            } = match self.attempt(req, body, payload) {
                Ok(response) => match accept(response) {
                    Ok(accepted) => return Ok(accepted),
                    Err(failure) => Rejection::from(SendError::Rejected(failure)),
                },
                Err(rejection) => rejection,
            };
            if let Some(region) = region.filter(|r| !region_switched && r != self.region().as_str())
            {
                region_switched = true;
                self.signer.borrow_mut().set_region(&region);
                self.count_retry();
                continue;
            }
            let outcome = match &error {
                SendError::Rejected(f) => Outcome::Status {
                    status: f.status,
                    code: &f.code,
                    retry_after,
                },
                SendError::Transport(e) => e.outcome(),
            };
            if !self.back_off(budget, &outcome) {
                return Err(error);
            }
        }
    }

    /// The region requests are signed for: the configured one, or the one
    /// the server named.
    pub fn region(&self) -> String {
        self.signer.borrow().region().to_owned()
    }

    /// One signed attempt. A non-2xx answer becomes a [`SendError::Rejected`]
    /// with the server's error document, its `Retry-After` and the bucket
    /// region it names, if any.
    fn attempt(
        &self,
        req: &Request,
        body: &[u8],
        payload: Payload<'_>,
    ) -> Result<Response<T::Body>, Rejection> {
        let mut signed = req.clone();
        // PUT and POST always say how long their body is: without it the HTTP
        // layer would fall back to chunked encoding, which S3 rejects.
        if !body.is_empty() || matches!(req.method, Method::Put | Method::Post) {
            signed.set_header("content-length", &body.len().to_string());
        }
        let now = self.transport.unix_time();
        self.signer.borrow().sign(&mut signed, payload, now);
        let mut s = self.stats.get();
        s.requests += 1;
        self.stats.set(s);
        let mut response = self
            .transport
            .send(&signed, body, &self.timeouts)
            .map_err(|e| Rejection::from(SendError::Transport(e)))?;
        if (200..300).contains(&response.status) {
            return Ok(response);
        }
        let retry_after = response
            .header("retry-after")
            .and_then(|v| crate::retry::parse_retry_after(v, now));
        let document = read_capped(&mut response.body, MAX_ERROR_BODY);
        let mut failure = xml::parse_error(response.status, &document);
        if failure.request_id.is_empty() {
            failure.request_id = response
                .header("x-amz-request-id")
                .unwrap_or_default()
                .to_owned();
        }
        let region = region::from_refusal(
            failure.status,
            &failure.code,
            response.header(region::BUCKET_REGION_HEADER),
            xml::parse_error_region(&document).as_deref(),
        );
        Err(Rejection {
            error: SendError::Rejected(failure),
            retry_after,
            region,
        })
    }
}

/// What one operation has spent of the retry policy. Every request of the
/// operation draws on it, so a read that breaks off and resumes gets
/// `max_retries` and the time budget in all, not per request.
pub struct Budget {
    start: Duration,
    retries: u32,
}

impl Budget {
    /// Restarts the time budget (not the count): an operation that made
    /// progress since its last failure (a long read, say) is judged on the
    /// time it has spent failing since, not on its whole duration.
    pub fn restart_clock(&mut self, now: Duration) {
        self.start = now;
    }
}

/// A failed attempt and what its answer said about trying again.
struct Rejection {
    error: SendError,
    retry_after: Option<Duration>,
    /// The bucket's region, when the server says the signature named another.
    region: Option<String>,
}

impl From<SendError> for Rejection {
    fn from(error: SendError) -> Self {
        Rejection {
            error,
            retry_after: None,
            region: None,
        }
    }
}

/// Reads a body to its end or to `cap` bytes, whichever comes first. A body
/// that fails half-way yields what was read: it only feeds an error message.
pub fn read_capped<B: ResponseBody>(body: &mut B, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < cap {
        match body.read(cap - out.len()) {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    out
}
