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

    /// Whether the server may have carried the request out though we got no
    /// usable answer: the connection failed after the request left (we
    /// cannot tell when it failed), or a success answer could not be read.
    /// An error answer means it did not; the host's refusal, that it never
    /// left.
    pub fn may_have_landed(&self) -> bool {
        match self {
            SendError::Transport(TransportError::Denied(_)) => false,
            SendError::Transport(_) => true,
            SendError::Rejected(failure) => (200..300).contains(&failure.status),
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
    /// first 2xx response, its body unread. Retryable failures are retried
    /// with backoff within the policy's limits; the last failure is returned
    /// otherwise. For requests that are safe to repeat, which are all but
    /// CreateMultipartUpload (see [`Client::send_non_idempotent`]).
    pub fn send(
        &self,
        req: &Request,
        body: &[u8],
        payload: Payload<'_>,
    ) -> Result<Response<T::Body>, SendError> {
        self.send_within(&mut self.budget(), req, body, payload)
    }

    /// [`Client::send`], spending retries from an operation's `budget` that
    /// other requests of the same operation share.
    pub fn send_within(
        &self,
        budget: &mut Budget,
        req: &Request,
        body: &[u8],
        payload: Payload<'_>,
    ) -> Result<Response<T::Body>, SendError> {
        self.run(budget, req, body, payload, &mut Ok, None)
    }

    /// Sends a request whose answer is a document, read whole inside the
    /// retry loop: a connection cut in the body of a 2xx answer is retried
    /// like any other cut. `accept` judges each answer: S3 may hide an error
    /// in a 200 (CompleteMultipartUpload and CopyObject do), and such an
    /// error is retried like any other.
    pub fn send_document<R>(
        &self,
        req: &Request,
        body: &[u8],
        payload: Payload<'_>,
        accept: impl Fn(Answer) -> Result<R, S3Failure>,
    ) -> Result<R, SendError> {
        let budget = &mut self.budget();
        self.run(budget, req, body, payload, &mut reading(accept), None)
    }

    /// [`Client::send_document`] for a request that does not simply end the
    /// same when sent twice: each CreateMultipartUpload that lands starts an
    /// upload; a CompleteMultipartUpload that landed makes the next attempt
    /// fail. After a failure that may have landed all the same — no complete
    /// answer, or a 2xx answer that cannot be read — `recover` is told, to
    /// undo or remember what it may have done, before the request is retried
    /// or given up.
    pub fn send_non_idempotent<R>(
        &self,
        req: &Request,
        body: &[u8],
        payload: Payload<'_>,
        accept: impl Fn(Answer) -> Result<R, S3Failure>,
        mut recover: impl FnMut(&SendError),
    ) -> Result<R, SendError> {
        let budget = &mut self.budget();
        let accept = &mut reading(accept);
        self.run(budget, req, body, payload, accept, Some(&mut recover))
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

    /// The retry loop. `accept` turns a 2xx response into the result or a
    /// failure (retried as the policy says); `recover` is told of every
    /// failure after which the request may have landed. A server that names
    /// the bucket's region after a request signed for another gets the
    /// request once more, signed for its region, which later requests keep.
    fn run<R>(
        &self,
        budget: &mut Budget,
        req: &Request,
        body: &[u8],
        payload: Payload<'_>,
        accept: &mut dyn FnMut(Response<T::Body>) -> Result<R, SendError>,
        mut recover: Option<&mut dyn FnMut(&SendError)>,
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
                    Err(error) => Rejection::from(error),
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
            if let Some(recover) = recover.as_mut().filter(|_| error.may_have_landed()) {
                recover(&error);
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
        let document = read_excerpt(&mut response.body, MAX_ERROR_BODY);
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

/// A 2xx answer read whole (see [`Client::send_document`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// At most [`MAX_DOCUMENT`] bytes: the parsers refuse a body that long.
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// How much of a document answer is read: one byte more than any parser
/// accepts, so that an endless body is refused rather than cut to size.
const MAX_DOCUMENT: usize = xml::MAX_XML_BODY + 1;

/// Reads each 2xx answer whole and has `accept` judge it.
fn reading<B: ResponseBody, R>(
    accept: impl Fn(Answer) -> Result<R, S3Failure>,
) -> impl FnMut(Response<B>) -> Result<R, SendError> {
    move |response| read_answer(response).and_then(|a| accept(a).map_err(SendError::Rejected))
}

/// Reads a 2xx answer's body; a body that breaks off is a transport failure,
/// retried like a connection that failed before the answer.
fn read_answer<B: ResponseBody>(response: Response<B>) -> Result<Answer, SendError> {
    let Response {
        status,
        headers,
        mut body,
    } = response;
    let mut out = Vec::new();
    while out.len() < MAX_DOCUMENT {
        match body.read(MAX_DOCUMENT - out.len()) {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(SendError::Transport(e)),
        }
    }
    Ok(Answer {
        status,
        headers,
        body: out,
    })
}

/// Reads an error body to its end or to `cap` bytes, whichever comes first.
/// A body that fails half-way yields what was read: it only feeds a message.
fn read_excerpt<B: ResponseBody>(body: &mut B, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < cap {
        match body.read(cap - out.len()) {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions;
    use crate::bucket::Bucket;
    use crate::script::{config, Reply, Script, EMPTY_LISTING};

    fn scripted(script: &Script, extra: &[(&str, &str)]) -> (Client<Script>, Bucket) {
        let config = config(extra);
        (Client::new(&config, script.clone()), Bucket::new(&config))
    }

    fn delete(client: &Client<Script>, bucket: &Bucket) -> Result<(), SendError> {
        let req = actions::delete_object(bucket, "k");
        client.send(&req, &[], Payload::Empty).map(drop)
    }

    fn list(client: &Client<Script>, bucket: &Bucket) -> Result<Vec<u8>, SendError> {
        let req = actions::list_objects_v2(bucket, "", None, 1);
        client.send_document(&req, &[], Payload::Empty, |answer| Ok(answer.body))
    }

    /// The region in a signed request's credential scope.
    fn signed_region(seen: &crate::script::Seen) -> String {
        let auth = seen.header("authorization").unwrap_or_default();
        auth.split('/').nth(2).unwrap_or_default().to_owned()
    }

    #[test]
    fn transient_failures_are_retried_after_a_jittered_backoff() {
        let script = Script::new(vec![
            ("DELETE /bkt/k", Reply::error(503, "SlowDown")),
            ("DELETE /bkt/k", Reply::reset()),
            ("DELETE /bkt/k", Reply::status(204)),
        ]);
        let (client, bucket) = scripted(&script, &[]);
        assert_eq!(delete(&client, &bucket), Ok(()));
        script.assert_done();
        // Half of each ceiling (the script's random number is mid-range).
        let slept: Vec<u128> = script
            .slept()
            .iter()
            .map(|d| d.as_micros().div_ceil(1000))
            .collect();
        assert_eq!(slept, [50, 100]);
        assert_eq!(
            client.stats(),
            Stats {
                requests: 3,
                retries: 2
            }
        );
    }

    #[test]
    fn retries_stop_at_max_retries_and_final_answers_are_not_retried() {
        let script = Script::new(vec![
            ("DELETE /bkt/k", Reply::error(500, "InternalError"));
            3
        ]);
        let (client, bucket) = scripted(&script, &[("max_retries", "2")]);
        let err = delete(&client, &bucket).unwrap_err();
        assert_eq!(err.status(), Some(500));
        script.assert_done();

        let script = Script::new(vec![("DELETE /bkt/k", Reply::error(403, "AccessDenied"))]);
        let (client, bucket) = scripted(&script, &[]);
        assert_eq!(delete(&client, &bucket).unwrap_err().status(), Some(403));
        assert_eq!(client.stats().retries, 0);
    }

    #[test]
    fn the_retry_budget_bounds_the_time_spent_failing() {
        // 1 s of budget: backoffs of 50, 100, 200, 400 ms fit; 800 does not.
        let script = Script::new(vec![("DELETE /bkt/k", Reply::reset()); 5]);
        let (client, bucket) = scripted(&script, &[("retry_budget", "1s")]);
        assert!(delete(&client, &bucket).is_err());
        script.assert_done();
        assert_eq!(script.slept().len(), 4);
    }

    #[test]
    fn a_wrong_region_is_re_signed_once_and_kept() {
        let wrong = "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region \
                     'us-east-1' is wrong; expecting 'eu-west-3'</Message><Region>eu-west-3\
                     </Region></Error>";
        let script = Script::new(vec![
            ("GET /bkt?", Reply::xml(400, wrong)),
            ("GET /bkt?", Reply::xml(200, EMPTY_LISTING)),
            ("DELETE /bkt/k", Reply::status(204)),
        ]);
        let (client, bucket) = scripted(&script, &[]);
        assert!(list(&client, &bucket).is_ok());
        assert_eq!(delete(&client, &bucket), Ok(()));
        script.assert_done();
        let regions: Vec<String> = script.seen().iter().map(signed_region).collect();
        assert_eq!(regions, ["us-east-1", "eu-west-3", "eu-west-3"]);
        assert_eq!(client.region(), "eu-west-3");
        // The switch is not a backoff.
        assert!(script.slept().is_empty());
    }

    #[test]
    fn a_region_is_switched_only_once() {
        let redirect = |region: &str| {
            Reply::error(301, "PermanentRedirect").with(region::BUCKET_REGION_HEADER, region)
        };
        let script = Script::new(vec![
            ("DELETE /bkt/k", redirect("eu-west-3")),
            ("DELETE /bkt/k", redirect("eu-west-1")),
        ]);
        let (client, bucket) = scripted(&script, &[]);
        assert_eq!(delete(&client, &bucket).unwrap_err().status(), Some(301));
        script.assert_done();
    }

    #[test]
    fn a_document_cut_mid_body_is_retried_like_any_cut() {
        let script = Script::new(vec![
            ("GET /bkt?", Reply::xml(200, EMPTY_LISTING).cut_after(12)),
            ("GET /bkt?", Reply::xml(200, EMPTY_LISTING)),
        ]);
        let (client, bucket) = scripted(&script, &[]);
        assert_eq!(list(&client, &bucket).unwrap(), EMPTY_LISTING.as_bytes());
        script.assert_done();
        assert_eq!(client.stats().retries, 1);
    }

    #[test]
    fn an_error_inside_a_200_is_retried_and_final_documents_are_read_once() {
        let req = actions::complete_multipart(
            &Bucket::new(&config(&[])),
            "k",
            "u",
            "bWQ1",
            false,
            &Default::default(),
        );
        let script = Script::new(vec![
            ("POST /bkt/k", Reply::error(200, "InternalError")),
            (
                "POST /bkt/k",
                Reply::xml(200, "<CompleteMultipartUploadResult/>"),
            ),
        ]);
        let (client, _) = scripted(&script, &[]);
        let done = client.send_document(&req, b"<x/>", Payload::Unsigned, |answer| {
            xml::parse_complete_multipart(answer.status, &answer.body)
        });
        assert_eq!(done, Ok(None));
        script.assert_done();
    }

    #[test]
    fn a_non_idempotent_request_recovers_only_when_it_may_have_landed() {
        let script = Script::new(vec![
            ("POST /bkt/k", Reply::error(503, "SlowDown")),
            ("POST /bkt/k", Reply::reset()),
            ("POST /bkt/k", Reply::xml(200, "<Unreadable").cut_after(3)),
            ("POST /bkt/k", Reply::xml(200, "<Ok/>")),
        ]);
        let (client, bucket) = scripted(&script, &[]);
        let req = bucket.object(Method::Post, "k");
        let mut recovered = Vec::new();
        let answer = client.send_non_idempotent(
            &req,
            &[],
            Payload::Empty,
            |answer| Ok(answer.body),
            |error| recovered.push(error.clone()),
        );
        assert_eq!(answer.unwrap(), b"<Ok/>");
        script.assert_done();
        assert_eq!(
            recovered.len(),
            2,
            "after the reset and the cut: {recovered:?}"
        );
        assert!(recovered
            .iter()
            .all(|e| matches!(e, SendError::Transport(TransportError::Connection(_)))));
        assert!(!SendError::Transport(TransportError::Denied("policy".into())).may_have_landed());
    }
}
