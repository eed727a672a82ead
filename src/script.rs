//! A scripted transport for the stateful core's unit tests: every request is
//! recorded and answered by the test — a canned answer, a body cut after so
//! many bytes, or no answer at all — on a fake clock that only moves when
//! the client sleeps (or a request takes its [`LATENCY`]). Retries, region
//! switches, multipart failures, conflicts, Object Lock on every path,
//! resumed reads and cut bodies run in milliseconds, exactly, with no server.
//!
//! Answers come from a [`Steps`] list the test writes in order (each step
//! names the request it expects), so a test also pins which requests are
//! sent, and in what order.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use crate::client::{header, Response, ResponseBody, Transport, TransportError};
use crate::config::{Config, Timeouts};
use crate::request::{Method, Request};
use crate::store::Store;

/// 2026-11-25T13:38:54Z: the fake wall clock's start.
pub const EPOCH: u64 = 1_795_613_934;
/// How long each request takes on the fake clock.
pub const LATENCY: Duration = Duration::from_millis(1);

/// A request as the transport saw it, signed.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    /// Path and query, encoded as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// `METHOD /path?query`, what steps match against.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.target)
    }
}

/// How the script answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        /// The body breaks off (a connection error) after this many bytes.
        cut_after: Option<usize>,
    },
    /// No answer at all.
    Fail(TransportError),
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            cut_after: None,
        }
    }

    /// 200 with an ETag, as S3 answers a PUT.
    pub fn stored(etag: &str) -> Reply {
        Reply::status(200).with("etag", &format!("\"{etag}\""))
    }

    pub fn xml(status: u16, body: &str) -> Reply {
        Reply::status(status).body(body.as_bytes())
    }

    /// An S3 error document.
    pub fn error(status: u16, code: &str) -> Reply {
        Reply::xml(
            status,
            &format!("<Error><Code>{code}</Code><Message>scripted</Message></Error>"),
        )
    }

    /// A connection reset before any answer.
    pub fn reset() -> Reply {
        Reply::Fail(TransportError::Connection("scripted reset".into()))
    }

    pub fn with(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Answer { headers, .. } = &mut self {
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
        self
    }

    /// The body, with its Content-Length.
    pub fn body(mut self, data: &[u8]) -> Reply {
        if let Reply::Answer { headers, body, .. } = &mut self {
            headers.retain(|(name, _)| name != "content-length");
            headers.push(("content-length".into(), data.len().to_string()));
            *body = data.to_vec();
        }
        self
    }

    pub fn cut_after(mut self, n: usize) -> Reply {
        if let Reply::Answer { cut_after, .. } = &mut self {
            *cut_after = Some(n);
        }
        self
    }
}

/// The answers, in order, each for a request whose [`Seen::line`] starts
/// with its pattern (`"PUT /bkt/packfiles/"`).
pub type Steps = Vec<(&'static str, Reply)>;

#[derive(Clone)]
pub struct Script(Rc<RefCell<Inner>>);

struct Inner {
    steps: VecDeque<(&'static str, Reply)>,
    seen: Vec<Seen>,
    clock: Duration,
    slept: Vec<Duration>,
}

impl Script {
    pub fn new(steps: Steps) -> Script {
        Script(Rc::new(RefCell::new(Inner {
            steps: steps.into(),
            seen: Vec::new(),
            clock: Duration::ZERO,
            slept: Vec::new(),
        })))
    }

    /// A store over this script, on `s3://127.0.0.1:9000/bkt`, with `extra`
    /// configuration pairs.
    pub fn store(&self, extra: &[(&str, &str)]) -> Store<Script> {
        Store::new(config(extra), self.clone())
    }

    /// Every request sent so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.0.borrow().seen.clone()
    }

    /// The requests sent so far, as `METHOD /path?query` lines.
    pub fn lines(&self) -> Vec<String> {
        self.0.borrow().seen.iter().map(Seen::line).collect()
    }

    /// Every backoff the client slept.
    pub fn slept(&self) -> Vec<Duration> {
        self.0.borrow().slept.clone()
    }

    /// Panics unless every step was used: a test must see the requests it
    /// scripted.
    pub fn assert_done(&self) {
        let inner = self.0.borrow();
        let left: Vec<&str> = inner.steps.iter().map(|(pattern, _)| *pattern).collect();
        assert!(
            left.is_empty(),
            "steps not reached: {left:?}; requests sent: {:#?}",
            inner.seen.iter().map(Seen::line).collect::<Vec<_>>()
        );
    }
}

/// The store configuration the scripted tests use, plus `extra`.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let base = [
        ("location", "s3://127.0.0.1:9000/bkt"),
        ("access_key", "AKIDSCRIPT"),
        ("secret_access_key", "scripted-secret"),
        ("use_tls", "false"),
    ];
    let pairs: Vec<(String, String)> = base
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::parse(&pairs).expect("a valid scripted configuration")
}

pub struct Body {
    data: Vec<u8>,
    at: usize,
    cut_after: Option<usize>,
}

impl ResponseBody for Body {
    fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>, TransportError> {
        let end = self
            .cut_after
            .unwrap_or(self.data.len())
            .min(self.data.len());
        if self.at == end {
            return match self.cut_after {
                Some(_) => Err(TransportError::Connection("scripted cut".into())),
                None => Ok(None),
            };
        }
        let n = max.min(end - self.at);
        let chunk = self.data[self.at..self.at + n].to_vec();
        self.at += n;
        Ok(Some(chunk))
    }
}

impl Transport for Script {
    type Body = Body;

    fn send(
        &self,
        req: &Request,
        body: &[u8],
        _timeouts: &Timeouts,
    ) -> Result<Response<Body>, TransportError> {
        let mut inner = self.0.borrow_mut();
        inner.clock += LATENCY;
        let seen = Seen {
            method: req.method,
            target: req.path_and_query(),
            headers: req.headers.clone(),
            body: body.to_vec(),
        };
        let line = seen.line();
        inner.seen.push(seen);
        let Some((pattern, reply)) = inner.steps.pop_front() else {
            panic!("unscripted request: {line}");
        };
        assert!(
            line.starts_with(pattern),
            "expected a request `{pattern}...`, got `{line}`"
        );
        match reply {
            Reply::Answer {
                status,
                headers,
                body,
                cut_after,
            } => Ok(Response {
                status,
                headers,
                body: Body {
                    data: body,
                    at: 0,
                    cut_after,
                },
            }),
            Reply::Fail(e) => Err(e),
        }
    }

    fn unix_time(&self) -> u64 {
        EPOCH + self.0.borrow().clock.as_secs()
    }

    fn monotonic(&self) -> Duration {
        self.0.borrow().clock
    }

    fn sleep(&self, duration: Duration) {
        let mut inner = self.0.borrow_mut();
        inner.clock += duration;
        inner.slept.push(duration);
    }

    /// The middle of the range: each backoff is half its ceiling.
    fn random_u64(&self) -> u64 {
        u64::MAX / 2
    }
}

/// An empty, complete ListObjectsV2 page.
pub const EMPTY_LISTING: &str =
    "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";

/// A HEAD answer for an object of `data` as we store it single-part (its
/// XXH3 metadata), with `extra` headers.
pub fn head_of(data: &[u8], extra: &[(&str, &str)]) -> Reply {
    let xxh3 = crate::hex::encode(&crate::integrity::xxh3(data));
    let mut reply = Reply::status(200)
        .with("content-length", &data.len().to_string())
        .with(crate::actions::META_XXH3, &xxh3)
        .with(
            "etag",
            &format!("\"{}\"", crate::hex::encode(&crate::integrity::md5(data))),
        );
    for (name, value) in extra {
        reply = reply.with(name, value);
    }
    reply
}
