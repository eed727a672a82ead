//! Reading an object, or a range of it, as a stream that is checked end to end
//! and survives a connection cut mid-body.
//!
//! A full read is verified against the digest recorded at write time (see
//! [`crate::integrity`]); its end is reported only after the check, so a reader
//! that sees the end has the right bytes. A ranged read is checked for its exact
//! `Content-Range` and length. When the body fails half-way, the read resumes
//! with a `Range` from the first byte not yet delivered and `If-Match` on the
//! ETag, so no byte is delivered twice and no other version is spliced in.

use std::rc::Rc;

use crate::actions::{self, ByteRange};
use crate::client::{header, Budget, ResponseBody, Transport, TransportError};
use crate::context::Shared;
use crate::error::{Error, Result};
use crate::integrity::{self, Verifier};
use crate::retry::Outcome;
use crate::sigv4::Payload;

pub struct Download<T: Transport> {
    shared: Rc<Shared<T>>,
    key: String,
    /// The version read (a point-in-time view), or the current one.
    version: Option<String>,
    /// The absolute byte range delivered, when a range was asked for.
    range: Option<ByteRange>,
    etag: String,
    body: Option<T::Body>,
    length: u64,
    delivered: u64,
    verifier: Option<Verifier>,
    /// Set once the stream ended, well or badly: every later read repeats it.
    end: Option<Result<()>>,
    /// Shared by the first GET and every resume: the whole read gets the
    /// policy's retries once.
    budget: Budget,
    /// `delivered` at the last break.
    delivered_at_break: u64,
}

impl<T: Transport> Download<T> {
    /// Starts the GET. `range` is kloset's (offset, length).
    pub fn open(shared: Rc<Shared<T>>, key: String, range: Option<(u64, u32)>) -> Result<Self> {
        Self::start(shared, key, None, range, None)
    }

    /// [`Download::open`] of one version of the object (`versionId`), or
    /// of the current one.
    pub fn open_version(
        shared: Rc<Shared<T>>,
        key: String,
        version: Option<String>,
        range: Option<(u64, u32)>,
    ) -> Result<Self> {
        Self::start(shared, key, version, range, None)
    }

    /// Starts the GET of the whole object as it was when listed with ETag
    /// `etag` (`If-Match`, and the answer's ETag checked too, for servers
    /// that ignore the condition): an object rewritten since is an error,
    /// never the other version's bytes.
    pub fn open_pinned(shared: Rc<Shared<T>>, key: String, etag: &str) -> Result<Self> {
        Self::start(shared, key, None, None, Some(etag))
    }

    fn start(
        shared: Rc<Shared<T>>,
        key: String,
        version: Option<String>,
        range: Option<(u64, u32)>,
        pin: Option<&str>,
    ) -> Result<Self> {
        let range = match range {
            Some((_, 0)) => return Ok(Self::empty(shared, key)),
            // Servers read byte positions as signed 64-bit numbers (s3s-fs
            // answers 400 past that): such a range is past any object's end.
            Some((offset, length)) => Some(ByteRange {
                first: offset,
                last: offset
                    .checked_add(u64::from(length) - 1)
                    .filter(|&last| i64::try_from(last).is_ok())
                    .ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "range of {length} bytes at offset {offset} ends past any object's end"
                        ))
                    })?,
            }),
            None => None,
        };
        let req = request(&shared, &key, version.as_deref(), range, pin);
        let mut budget = shared.client.budget();
        let response = match shared
            .client
            .send_within(&mut budget, &req, &[], Payload::Empty)
        {
            Ok(response) => response,
            Err(e) if pin.is_some() && e.status() == Some(412) => return Err(changed(&key)),
            Err(e) if e.status() == Some(416) => {
                return Err(Error::InvalidArgument(format!(
                    "range {} of {key} starts past the end of the object",
                    describe(range)
                )))
            }
            Err(e) => return Err(shared.refusal(&key, e, shared.object.sent())),
        };
        let etag = response
            .header("etag")
            .map(|v| v.trim().trim_matches('"').to_owned())
            .unwrap_or_default();
        if pin.is_some_and(|pin| pin != etag) {
            return Err(changed(&key));
        }
        let length = body_length(&response.headers, &key, range, response.status)?;
        let verifier = match range {
            None => Some(Verifier::new(integrity::expected(
                &response.headers,
                length,
                shared.config.verify_etag,
            )?)),
            Some(_) => None,
        };
        Ok(Download {
            shared,
            key,
            version,
            range,
            etag,
            body: Some(response.body),
            length,
            delivered: 0,
            verifier,
            end: None,
            budget,
            delivered_at_break: 0,
        })
    }

    fn empty(shared: Rc<Shared<T>>, key: String) -> Self {
        let budget = shared.client.budget();
        Download {
            shared,
            key,
            version: None,
            range: None,
            etag: String::new(),
            body: None,
            length: 0,
            delivered: 0,
            verifier: None,
            end: Some(Ok(())),
            budget,
            delivered_at_break: 0,
        }
    }

    /// How many bytes the download delivers in all.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The next bytes (at most `max`), or `None` at a verified end.
    pub fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>> {
        self.shared.check_open()?;
        if let Some(end) = &self.end {
            return end.clone().map(|()| None);
        }
        if self.delivered == self.length {
            let end = self.verify();
            self.end = Some(end.clone());
            return end.map(|()| None);
        }
        let want = (self.length - self.delivered).min(max.max(1) as u64) as usize;
        match self.next_chunk(want) {
            Ok(chunk) => {
                if let Some(verifier) = &mut self.verifier {
                    verifier.update(&chunk);
                }
                self.delivered += chunk.len() as u64;
                Ok(Some(chunk))
            }
            Err(error) => {
                self.end = Some(Err(error.clone()));
                Err(error)
            }
        }
    }

    fn verify(&mut self) -> Result<()> {
        match self.verifier.take() {
            Some(verifier) => verifier
                .finish()
                .map_err(|why| Error::Corrupted(format!("{}: {why}", self.key))),
            None => Ok(()),
        }
    }

    /// One non-empty chunk of at most `want` bytes, resuming the GET as often
    /// as the retry policy allows when the body breaks off.
    fn next_chunk(&mut self, want: usize) -> Result<Vec<u8>> {
        loop {
            let failure = match self.body.as_mut().map(|b| b.read(want)) {
                Some(Ok(Some(chunk))) if chunk.len() <= want && !chunk.is_empty() => {
                    return Ok(chunk)
                }
                Some(Ok(Some(chunk))) if chunk.is_empty() => continue,
                Some(Ok(Some(_))) => {
                    TransportError::Protocol("the server sent more bytes than announced".into())
                }
                Some(Ok(None)) => TransportError::Connection(format!(
                    "body ended after {} of {} bytes",
                    self.delivered, self.length
                )),
                Some(Err(e)) => e,
                None => TransportError::Connection("no body".into()),
            };
            self.body = None;
            self.resume(failure)?;
        }
    }

    /// Re-requests the bytes not yet delivered, after the policy's delay.
    fn resume(&mut self, failure: TransportError) -> Result<()> {
        let outcome = match &failure {
            TransportError::Timeout(_) => Outcome::Timeout,
            TransportError::Connection(_) => Outcome::Connection,
            TransportError::Denied(_) | TransportError::Protocol(_) => Outcome::Denied,
        };
        let client = &self.shared.client;
        if self.delivered > self.delivered_at_break {
            // A read that took its time and then broke off is not out of time.
            self.budget.restart_clock(client.transport().monotonic());
        }
        self.delivered_at_break = self.delivered;
        if !client.back_off(&mut self.budget, &outcome) {
            return Err(Error::Unavailable(format!(
                "reading {} broke off after {} of {} bytes: {}",
                self.key,
                self.delivered,
                self.length,
                failure_text(&failure)
            )));
        }
        let start = self.range.map_or(0, |r| r.first) + self.delivered;
        let rest = ByteRange {
            first: start,
            last: self.range.map_or(self.length - 1, |r| r.last),
        };
        let etag = (!self.etag.is_empty()).then_some(self.etag.as_str());
        let s = &self.shared;
        let req = request(s, &self.key, self.version.as_deref(), Some(rest), etag);
        let response = s
            .client
            .send_within(&mut self.budget, &req, &[], Payload::Empty)
            .map_err(|e| match e.status() {
                Some(412) => {
                    Error::Corrupted(format!("{} changed while it was being read", self.key))
                }
                _ => s.refusal(&self.key, e, s.object.sent()),
            })?;
        body_length(&response.headers, &self.key, Some(rest), response.status)?;
        self.body = Some(response.body);
        Ok(())
    }
}

/// The GET of `key` (of `version` when given).
fn request<T: Transport>(
    s: &Shared<T>,
    key: &str,
    version: Option<&str>,
    range: Option<ByteRange>,
    if_match: Option<&str>,
) -> crate::request::Request {
    match version {
        Some(v) => actions::get_object_version(&s.bucket, key, v, range, if_match, &s.object),
        None => actions::get_object(&s.bucket, key, range, if_match, &s.object),
    }
}

fn changed(key: &str) -> Error {
    Error::Corrupted(format!(
        "{key} changed since it was listed: not read, so no mix of two versions is delivered"
    ))
}

fn failure_text(failure: &TransportError) -> &str {
    match failure {
        TransportError::Denied(m)
        | TransportError::Timeout(m)
        | TransportError::Connection(m)
        | TransportError::Protocol(m) => m,
    }
}

fn describe(range: Option<ByteRange>) -> String {
    range.map_or_else(|| "all".into(), |r| format!("{}-{}", r.first, r.last))
}

/// The number of bytes the response must deliver, checked against what was
/// asked: a ranged answer must cover exactly the range (a range that runs past
/// the end of the object is an error, never a short read).
fn body_length(
    headers: &[(String, String)],
    key: &str,
    range: Option<ByteRange>,
    status: u16,
) -> Result<u64> {
    let length = header(headers, "content-length")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| Error::Other(format!("GET {key}: the server sent no Content-Length")))?;
    let Some(range) = range else {
        return Ok(length);
    };
    if status != 206 {
        return Err(Error::Other(format!(
            "GET {key} bytes {}: the server answered {status} instead of 206 Partial Content",
            describe(Some(range))
        )));
    }
    let content_range = header(headers, "content-range").unwrap_or_default();
    let (first, last, total) = parse_content_range(content_range).ok_or_else(|| {
        Error::Other(format!(
            "GET {key}: unreadable Content-Range `{content_range}`"
        ))
    })?;
    if first != range.first || last > range.last || length != last - first + 1 {
        return Err(Error::Other(format!(
            "GET {key}: asked bytes {}, the server sent {content_range} ({length} bytes)",
            describe(Some(range))
        )));
    }
    if last < range.last {
        return Err(Error::InvalidArgument(format!(
            "range {} of {key} runs past the end of the object ({total} bytes)",
            describe(Some(range))
        )));
    }
    Ok(length)
}

/// `bytes first-last/total` (total may be `*`).
fn parse_content_range(value: &str) -> Option<(u64, u64, String)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let (first, last) = (first.parse().ok()?, last.parse().ok()?);
    (first <= last).then(|| (first, last, total.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::META_PART_SIZE;
    use crate::integrity::tests::headers;
    use crate::layout::{Kind, Mac};
    use crate::script::{head_of, Reply, Script};

    const MAC: Mac = Mac([0xcd; 32]);

    fn read_all(script: &Script, extra: &[(&str, &str)]) -> Result<Vec<u8>> {
        let store = script.store(extra);
        let mut download = store.get(Kind::Packfile, &MAC, None)?;
        let mut out = Vec::new();
        while let Some(chunk) = download.read(7)? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// The 206 answer to a resume from byte `from` of `data`.
    fn rest(data: &[u8], from: usize) -> Reply {
        let etag = crate::hex::encode(&crate::integrity::md5(data));
        let last = data.len() - 1;
        Reply::status(206)
            .with("etag", &format!("\"{etag}\""))
            .with(
                "content-range",
                &format!("bytes {from}-{last}/{}", data.len()),
            )
            .body(&data[from..])
    }

    #[test]
    fn a_cut_body_resumes_from_the_first_missing_byte_pinned_to_its_etag() {
        let data = b"0123456789abcdefghij";
        let script = Script::new(vec![
            (
                "GET /bkt/packfiles/cd/",
                head_of(data, &[]).body(data).cut_after(9),
            ),
            ("GET /bkt/packfiles/cd/", rest(data, 9)),
        ]);
        assert_eq!(read_all(&script, &[]).unwrap(), data);
        script.assert_done();
        let resume = &script.seen()[1];
        assert_eq!(resume.header("range"), Some("bytes=9-19"));
        let etag = crate::hex::encode(&crate::integrity::md5(data));
        assert_eq!(
            resume.header("if-match"),
            Some(format!("\"{etag}\"").as_str())
        );
    }

    #[test]
    fn an_object_replaced_while_being_read_is_not_spliced() {
        let data = b"0123456789abcdefghij";
        let script = Script::new(vec![
            (
                "GET /bkt/packfiles/cd/",
                head_of(data, &[]).body(data).cut_after(9),
            ),
            (
                "GET /bkt/packfiles/cd/",
                Reply::error(412, "PreconditionFailed"),
            ),
        ]);
        let err = read_all(&script, &[]).unwrap_err();
        assert!(
            matches!(&err, Error::Corrupted(m) if m.contains("changed")),
            "{err}"
        );
        script.assert_done();
    }

    #[test]
    fn a_body_cut_on_every_try_ends_after_max_retries() {
        let data = b"0123456789abcdefghij";
        let cut = |from: usize| rest(data, from).cut_after(1);
        let script = Script::new(vec![
            (
                "GET /bkt/packfiles/cd/",
                head_of(data, &[]).body(data).cut_after(1),
            ),
            ("GET /bkt/packfiles/cd/", cut(1)),
            ("GET /bkt/packfiles/cd/", cut(2)),
        ]);
        let err = read_all(&script, &[("max_retries", "2")]).unwrap_err();
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("broke off after 3 of 20 bytes")),
            "{err}"
        );
        script.assert_done();
    }

    #[test]
    fn a_part_size_past_32_bits_is_read_as_one_part() {
        // x-amz-meta-kloset-part-size comes from the server: 2^32 once wrapped
        // to 0 on wasm32 and the check never advanced.
        let data = b"one part of twenty b";
        let mut digests = crate::integrity::PartDigests::default();
        digests.push(&crate::integrity::md5(data));
        let answer = Reply::status(200)
            .with("etag", &format!("\"{}\"", digests.etag()))
            .with(META_PART_SIZE, "4294967296")
            .body(data);
        let script = Script::new(vec![("GET /bkt/packfiles/cd/", answer)]);
        assert_eq!(read_all(&script, &[]).unwrap(), data);
    }

    #[test]
    fn ranged_answers_must_cover_the_range_exactly() {
        let range = Some(ByteRange {
            first: 10,
            last: 19,
        });
        let good = [
            ("content-length", "10"),
            ("content-range", "bytes 10-19/100"),
        ];
        assert_eq!(body_length(&headers(&good), "k", range, 206), Ok(10));
        let short = [("content-length", "5"), ("content-range", "bytes 10-14/15")];
        assert!(matches!(
            body_length(&headers(&short), "k", range, 206),
            Err(Error::InvalidArgument(_))
        ));
        let shifted = [
            ("content-length", "10"),
            ("content-range", "bytes 11-20/100"),
        ];
        assert!(matches!(
            body_length(&headers(&shifted), "k", range, 206),
            Err(Error::Other(_))
        ));
        let lying = [
            ("content-length", "9"),
            ("content-range", "bytes 10-19/100"),
        ];
        assert!(body_length(&headers(&lying), "k", range, 206).is_err());
        assert!(body_length(&headers(&good), "k", range, 200).is_err());
    }

    #[test]
    fn full_answers_need_a_length() {
        assert_eq!(
            body_length(&headers(&[("content-length", "7")]), "k", None, 200),
            Ok(7)
        );
        assert!(body_length(&headers(&[]), "k", None, 200).is_err());
    }

    #[test]
    fn content_range_parses_strictly() {
        assert_eq!(
            parse_content_range("bytes 0-9/10"),
            Some((0, 9, "10".into()))
        );
        assert_eq!(parse_content_range("bytes 0-9/*").map(|r| r.1), Some(9));
        assert_eq!(parse_content_range("bytes 9-0/10"), None);
        assert_eq!(parse_content_range("0-9/10"), None);
        assert_eq!(parse_content_range("bytes x-9/10"), None);
    }
}
