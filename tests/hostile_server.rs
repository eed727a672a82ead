//! A hostile or broken S3 server (tests/support/script_server.rs) against the
//! real component in the real host. Every case must end in a clear typed
//! error (or, for hostile content that can be ignored, a safe answer) within
//! the configured timeouts, never a trap; guest memory stays bounded; no
//! secret shows in the error; and the host goes on serving stores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kloset_host::{HostError, Range, ResourceKind, StoreHandle};
use kloset_s3::error::Error;
use kloset_s3_tests::script_server::{empty_listing, Reply, ScriptServer, Seen};
use kloset_s3_tests::secrets::{assert_no_secret, secret_key, session_token, sse_customer_key};
use kloset_s3_tests::{data, host, mac, servers};

const MIB: usize = 1 << 20;
/// Guest memory no case may exceed. The largest buffer a server can make the
/// component fill is one XML document, capped at 16 MiB; read into a growing
/// buffer (which doubles: 32 MiB) and parsed, it peaks near 64 MiB.
const MEMORY_BOUND: usize = 72 * MIB;
/// The timeouts the hostile configurations set (`1s`).
const TIMEOUT: Duration = Duration::from_secs(1);
/// CI runs on a loaded 2-core machine: a case bounded by the timeouts gets
/// this many of them, still far below what an unbounded wait would take.
const MARGIN: u32 = 5;

type Script = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;
type RequestCheck = fn(&[Seen]) -> bool;

/// What a case asks of the store.
#[derive(Debug, Clone, Copy)]
enum Op {
    Ping,
    List,
    Size,
    Get(Option<Range>),
    Put(usize),
}

/// What a case must end with.
enum Expect {
    /// A store error this predicate accepts.
    Error(fn(&Error) -> bool),
    /// Success, with this summary of the answer.
    Answer(&'static str),
}

struct Case {
    name: &'static str,
    script: Script,
    op: Op,
    expect: Expect,
    /// The whole call must end within this.
    within: Duration,
    extra: Vec<(&'static str, &'static str)>,
    /// What the requests the server saw must satisfy, and what that means.
    requests: Option<(RequestCheck, &'static str)>,
}

fn case(
    name: &'static str,
    op: Op,
    expect: Expect,
    script: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> Case {
    Case {
        name,
        script: Arc::new(script),
        op,
        expect,
        within: Duration::from_secs(10),
        extra: Vec::new(),
        requests: None,
    }
}

impl Case {
    fn within(mut self, limit: Duration) -> Case {
        self.within = limit;
        self
    }

    fn with(mut self, key: &'static str, value: &'static str) -> Case {
        self.extra.push((key, value));
        self
    }

    fn requests(mut self, check: RequestCheck, meaning: &'static str) -> Case {
        self.requests = Some((check, meaning));
        self
    }
}

/// The multipart upload was aborted (its parts deleted).
fn aborted(seen: &[Seen]) -> bool {
    seen.iter()
        .any(|s| s.method == "DELETE" && s.param("uploadId") == Some("hostile-upload"))
}

fn other_containing(error: &Error, needle: &str) -> bool {
    matches!(error, Error::Other(m) if m.contains(needle))
}

fn unavailable(error: &Error) -> bool {
    matches!(error, Error::Unavailable(_))
}

/// A byte string's MD5 in hex (what S3 puts in a plain ETag).
fn md5_hex(bytes: &[u8]) -> String {
    kloset_s3::hex::encode(&kloset_s3::integrity::md5(bytes))
}

/// Answers the requests around the one a case is about as a sane server
/// would: listings empty, HEAD 404, object PUTs and parts with their ETag,
/// multipart starts with an upload id, aborts 204.
fn sane(seen: &Seen) -> Reply {
    match seen.method.as_str() {
        "GET" if seen.is_list() => Reply::xml(200, empty_listing()),
        "HEAD" => Reply::status(404),
        "POST" if seen.has_param("uploads") => Reply::xml(
            200,
            "<InitiateMultipartUploadResult><Bucket>bucket</Bucket><Key>k</Key>\
             <UploadId>hostile-upload</UploadId></InitiateMultipartUploadResult>",
        ),
        "PUT" => Reply::status(200).with("ETag", "\"0123456789abcdef0123456789abcdef\""),
        "DELETE" => Reply::status(204),
        _ => Reply::error(400, "InvalidRequest", "unexpected request"),
    }
}

/// A GET answer of `body` that declares `length` bytes and the MD5 of `body`
/// (as its ETag).
fn object_answer(length: usize, body: &[u8]) -> Reply {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nETag: \"{}\"",
        md5_hex(body)
    );
    let mut raw = format!("{head}\r\n\r\n").into_bytes();
    raw.extend_from_slice(body);
    Reply::Raw(raw)
}

fn listing_page(keys: &[&str], token: Option<&str>) -> String {
    let mut xml = String::from("<ListBucketResult>");
    for key in keys {
        xml.push_str(&format!(
            "<Contents><Key>{key}</Key><Size>1</Size><ETag>\"x\"</ETag></Contents>"
        ));
    }
    match token {
        Some(token) => xml.push_str(&format!(
            "<IsTruncated>true</IsTruncated><NextContinuationToken>{token}</NextContinuationToken>"
        )),
        None => xml.push_str("<IsTruncated>false</IsTruncated>"),
    }
    xml.push_str("</ListBucketResult>");
    xml
}

fn cases() -> Vec<Case> {
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]><ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&lol4;</Key></Contents></ListBucketResult>"#;
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&xxe;</Key></Contents></ListBucketResult>"#;
    let deep = "<ListBucketResult>".to_owned()
        + &"<a>".repeat(100_000)
        + &"</a>".repeat(100_000)
        + "</ListBucketResult>";
    let mut huge = b"<ListBucketResult><IsTruncated>false</IsTruncated>".to_vec();
    huge.resize(17 * MIB, b' ');
    huge.extend_from_slice(b"</ListBucketResult>");
    let huge = Arc::new(huge);
    let body = data(5, 20);
    let many_headers = {
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..5000 {
            head.push_str(&format!("x-junk-{i}: {i}\r\n"));
        }
        head + "Content-Length: 0\r\n\r\n"
    };
    let escape_message = format!(
        "<Error><Code>AccessDenied</Code><Message>\u{1b}[2J\u{1b}[31mpwned\r\nforged log line {}</Message></Error>",
        "x".repeat(200_000)
    );
    let pages = AtomicUsize::new(0);
    vec![
        // Malformed and malicious XML.
        case("not XML", Op::List, Expect::Error(|e| other_containing(e, "malformed")), |s| {
            match s.is_list() {
                true => Reply::xml(200, "this is not XML at all"),
                false => sane(s),
            }
        }),
        case("truncated XML", Op::List, Expect::Error(|e| other_containing(e, "malformed")), |s| {
            match s.is_list() {
                true => Reply::xml(200, "<ListBucketResult><IsTruncated>false</IsTr"),
                false => sane(s),
            }
        }),
        case("a 200 <Error> for a listing", Op::List, Expect::Error(|e| other_containing(e, "malformed")), |s| {
            match s.is_list() {
                true => Reply::error(200, "InternalError", "surprise"),
                false => sane(s),
            }
        }),
        case("billion laughs", Op::List, Expect::Error(|e| other_containing(e, "DOCTYPE")), move |s| {
            match s.is_list() {
                true => Reply::xml(200, laughs),
                false => sane(s),
            }
        }),
        case("external entity", Op::List, Expect::Error(|e| other_containing(e, "DOCTYPE")), move |s| {
            match s.is_list() {
                true => Reply::xml(200, xxe),
                false => sane(s),
            }
        }),
        case("undeclared entity", Op::List, Expect::Error(|e| other_containing(e, "entity")), |s| {
            match s.is_list() {
                true => Reply::xml(200, "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&lol;</Key></Contents></ListBucketResult>"),
                false => sane(s),
            }
        }),
        case("deep nesting", Op::List, Expect::Error(|e| other_containing(e, "deeper")), move |s| {
            match s.is_list() {
                true => Reply::xml(200, deep.clone()),
                false => sane(s),
            }
        }),
        case("a 17 MiB document", Op::List, Expect::Error(|e| other_containing(e, "exceeds")), move |s| {
            match s.is_list() {
                true => Reply::xml(200, huge.as_slice()),
                false => sane(s),
            }
        }),
        case("an endless chunked listing", Op::List, Expect::Error(|e| other_containing(e, "exceeds")), |s| {
            match s.is_list() {
                true => Reply::Endless { head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked".into() },
                false => sane(s),
            }
        }),
        case("an endless listing until close", Op::Size, Expect::Error(|e| other_containing(e, "exceeds")), |s| {
            match s.is_list() {
                true => Reply::Endless { head: "HTTP/1.1 200 OK\r\nConnection: close".into() },
                false => sane(s),
            }
        }),
        case("an endless error body", Op::Ping, Expect::Error(unavailable), |_| {
            Reply::Endless { head: "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked".into() }
        }),
        case("an endless object body", Op::Get(None), Expect::Error(|e| other_containing(e, "Content-Length")), |s| {
            match s.method.as_str() {
                "GET" => Reply::Endless { head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked".into() },
                _ => sane(s),
            }
        }),
        // Numbers from the server.
        case("a part size of 2^32 in the metadata", Op::Get(None), Expect::Answer("20 bytes read"), {
            let body = body.clone();
            move |s| match s.method.as_str() {
                // One part of a multipart upload: its ETag is the MD5 of its MD5.
                "GET" => {
                    let etag = md5_hex(&kloset_s3::integrity::md5(&body));
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: 20\r\nETag: \"{etag}-1\"\r\n\
                         x-amz-meta-kloset-part-size: 4294967296\r\n\r\n"
                    );
                    let mut raw = head.into_bytes();
                    raw.extend_from_slice(&body);
                    Reply::Raw(raw)
                }
                _ => sane(s),
            }
        }),
        // Not S3 at all.
        case("a web page answering the bucket", Op::Ping, Expect::Error(|e| other_containing(e, "not as S3")), |_| {
            Reply::Full {
                status: 200,
                headers: vec![("Content-Type".into(), "text/html".into())],
                body: b"<html><body>Welcome to the hotel Wi-Fi</body></html>".to_vec(),
            }
        }),
        // HTTP framing lies.
        case("Content-Length shorter than the body", Op::Get(None), Expect::Error(|e| matches!(e, Error::Corrupted(_))), {
            let body = body.clone();
            move |s| match s.method.as_str() {
                "GET" => object_answer(10, &body),
                _ => sane(s),
            }
        }),
        case("Content-Length longer than the body", Op::Get(None), Expect::Error(|e| matches!(e, Error::Unavailable(m) if m.contains("broke off"))), {
            let body = body.clone();
            move |s| match (s.method.as_str(), s.header("range")) {
                ("GET", None) => object_answer(40, &body),
                // Each resume gets a right head for the bytes it asks (the cut
                // may have lost some of the first 20) and then never a byte.
                ("GET", Some(range)) => {
                    let first: u64 = range
                        .trim_start_matches("bytes=")
                        .split('-')
                        .next()
                        .and_then(|first| first.parse().ok())
                        .unwrap_or(0);
                    Reply::Raw(
                        format!("HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {first}-39/40\r\nETag: \"{}\"\r\n\r\n", 40 - first.min(40), md5_hex(&body)).into_bytes(),
                    )
                }
                _ => sane(s),
            }
        }),
        case("a 200 for a range", Op::Get(Some(Range { offset: 5, length: 5 })), Expect::Error(|e| other_containing(e, "instead of 206")), {
            let body = body.clone();
            move |s| match s.method.as_str() {
                "GET" => object_answer(20, &body),
                _ => sane(s),
            }
        }),
        case("a Content-Range for other bytes", Op::Get(Some(Range { offset: 5, length: 5 })), Expect::Error(|e| other_containing(e, "asked bytes")), |s| {
            match s.method.as_str() {
                "GET" => Reply::Raw(b"HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nContent-Range: bytes 0-4/20\r\n\r\nabcde".to_vec()),
                _ => sane(s),
            }
        }),
        case("broken chunk framing", Op::Get(None), Expect::Error(|e| matches!(e, Error::Other(_) | Error::Unavailable(_))), |s| {
            match s.method.as_str() {
                "GET" => Reply::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n".to_vec()),
                _ => sane(s),
            }
        }),
        case("a negative Content-Length", Op::Ping, Expect::Error(unavailable), |_| {
            Reply::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n".to_vec())
        }),
        case("garbage instead of HTTP", Op::Ping, Expect::Error(unavailable), |_| {
            Reply::Raw(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec())
        }),
        case("a status line without a status", Op::Ping, Expect::Error(unavailable), |_| {
            Reply::Raw(b"HTTP/1.1 abc\r\n\r\n".to_vec())
        }),
        case("5000 response headers", Op::Ping, Expect::Error(unavailable), move |_| {
            Reply::Raw(many_headers.clone().into_bytes())
        }),
        case("a closed connection", Op::Ping, Expect::Error(unavailable), |_| Reply::Close),
        // Missing ETags.
        case("a PUT answered without ETag", Op::Put(1000), Expect::Error(|e| other_containing(e, "ETag")), |s| {
            match (s.method.as_str(), s.has_param("partNumber")) {
                ("PUT", false) => Reply::status(200),
                _ => sane(s),
            }
        }),
        case("an UploadPart answered without ETag", Op::Put(6 * MIB), Expect::Error(|e| other_containing(e, "ETag")), |s| {
            match (s.method.as_str(), s.has_param("partNumber")) {
                ("PUT", true) => Reply::status(200),
                _ => sane(s),
            }
        })
        .with("part_size", "5MiB")
        .requests(aborted, "the upload was aborted"),
        // Listings that never end.
        case("a listing repeating its token", Op::List, Expect::Error(|e| other_containing(e, "continuation token")), |s| {
            match s.is_list() {
                true => Reply::xml(200, listing_page(&[], Some("same"))),
                false => sane(s),
            }
        }),
        case("a listing cycling two tokens", Op::List, Expect::Error(|e| other_containing(e, "continuation token")), move |s| {
            match (s.is_list(), s.param("continuation-token")) {
                // A client still asking after 100 pages is looping: stop it with
                // an error the case does not accept.
                (true, _) if pages.fetch_add(1, Ordering::SeqCst) > 100 => {
                    Reply::error(400, "Looping", "the client looped")
                }
                (true, Some("a")) => Reply::xml(200, listing_page(&[], Some("b"))),
                (true, _) => Reply::xml(200, listing_page(&[], Some("a"))),
                (false, _) => sane(s),
            }
        }),
        case("a truncated listing without a token", Op::List, Expect::Error(|e| other_containing(e, "malformed")), |s| {
            match s.is_list() {
                true => Reply::xml(200, "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"),
                false => sane(s),
            }
        }),
        case("listed keys that climb out of the prefix", Op::List, Expect::Answer("0 MACs"), |s| {
            match s.is_list() {
                true => Reply::xml(200, listing_page(&["../../etc/passwd", "packfiles/../../x", "packfiles/ab/..%2F..%2Fx", "/absolute"], None)),
                false => sane(s),
            }
        }),
        case("listed sizes that overflow", Op::Size, Expect::Answer("9223372036854775807 bytes"), |s| {
            match s.is_list() {
                true => Reply::xml(200, "<ListBucketResult><IsTruncated>false</IsTruncated>\
                    <Contents><Key>a</Key><Size>18446744073709551615</Size></Contents>\
                    <Contents><Key>b</Key><Size>18446744073709551615</Size></Contents></ListBucketResult>"),
                false => sane(s),
            }
        }),
        // Redirects are not followed (see the decoy check in the runner).
        case("a 301 to another host", Op::Ping, Expect::Error(|e| matches!(e, Error::Other(m) if m.contains("301"))), |_| {
            Reply::error(301, "PermanentRedirect", "go elsewhere").with("Location", "http://127.0.0.1:DECOY/bucket")
        }),
        case("a 307 to another host", Op::Get(None), Expect::Error(|e| matches!(e, Error::Other(m) if m.contains("307"))), |s| {
            match s.method.as_str() {
                "GET" => Reply::error(307, "TemporaryRedirect", "go elsewhere").with("Location", "http://127.0.0.1:DECOY/bucket/x"),
                _ => sane(s),
            }
        }),
        // An error hidden in a 200.
        case("a 200 <Error> completing a multipart upload", Op::Put(6 * MIB), Expect::Error(|e| e.to_string().contains("InternalError")), |s| {
            match (s.method.as_str(), s.has_param("uploadId")) {
                ("POST", true) => Reply::error(200, "InternalError", "We encountered an internal error."),
                _ => sane(s),
            }
        })
        .with("part_size", "5MiB")
        .requests(
            |seen| aborted(seen) && seen.iter().filter(|s| s.method == "POST" && s.has_param("uploadId")).count() == 2,
            "the completion was retried once, then the upload aborted",
        ),
        // Errors that try to trick the client.
        case("an error message with escapes, 200 KB long", Op::Ping, Expect::Error(|e| {
            let m = e.to_string();
            matches!(e, Error::PermissionDenied(_)) && m.len() < 2048 && !m.contains('\u{1b}') && !m.contains('\n')
        }), move |_| Reply::xml(403, escape_message.clone())),
        case("an error echoing the request's secrets", Op::Get(None), Expect::Error(|e| {
            matches!(e, Error::Other(m) if m.contains("you sent <redacted> and <redacted>"))
        }), |s| {
            let secret_headers = ["x-amz-security-token", "x-amz-server-side-encryption-customer-key"];
            let echo: Vec<&str> = secret_headers.iter().filter_map(|h| s.header(h)).collect();
            Reply::error(400, "InvalidRequest", &format!("you sent {}", echo.join(" and ")))
        }),
        case("an error cutting an echoed token short", Op::Ping, Expect::Error(|e| {
            let start = &session_token()[..8];
            matches!(e, Error::Other(m) if m.contains("<redacted>...") && !m.contains(start))
        }), |s| {
            // 512 characters of message are kept: the cut falls in the token.
            let token = s.header("x-amz-security-token").unwrap_or_default();
            Reply::error(400, "InvalidRequest", &format!("{} {token}", "a".repeat(500)))
        }),
        case("a Retry-After of a day", Op::Ping, Expect::Error(unavailable), |_| {
            Reply::error(503, "SlowDown", "wait a day").with("Retry-After", "86400")
        })
        .within(MARGIN * TIMEOUT)
        .requests(|seen| seen.len() == 1, "no retry was attempted"),
        // Too slow.
        case("a first byte after the timeout", Op::Ping, Expect::Error(|e| matches!(e, Error::Unavailable(m) if m.contains("timed out"))), |s| {
            Reply::Delayed(4 * MARGIN * TIMEOUT, Box::new(sane(s)))
        })
        .within(MARGIN * TIMEOUT)
        .with("max_retries", "0"),
        case("a body stalling between bytes", Op::Get(None), Expect::Error(|e| matches!(e, Error::Unavailable(m) if m.contains("broke off"))), |s| {
            match s.method.as_str() {
                "GET" => Reply::Stall {
                    head: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nETag: \"0123456789abcdef0123456789abcdef\"".into(),
                    body: b"0123456789".to_vec(),
                },
                _ => sane(s),
            }
        })
        .within(MARGIN * TIMEOUT)
        .with("max_retries", "0"),
    ]
}

/// The configuration of a store on `server`, with every secret set (so every
/// error can be checked for them) and short timeouts.
fn config(endpoint: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let location = format!("s3://{endpoint}/bucket");
    let mut pairs = vec![
        ("location", location.as_str()),
        ("access_key", "AKIAHOSTILE"),
        ("secret_access_key", secret_key()),
        ("session_token", session_token()),
        ("sse_customer_key", sse_customer_key()),
        ("use_tls", "false"),
        ("connect_timeout", "1s"),
        ("first_byte_timeout", "1s"),
        ("between_bytes_timeout", "1s"),
        ("retry_budget", "5s"),
    ];
    if !extra.iter().any(|(k, _)| *k == "max_retries") {
        pairs.push(("max_retries", "1"));
    }
    pairs
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn run(store: &mut StoreHandle, op: Op) -> Result<String, HostError> {
    match op {
        Op::Ping => store.ping().await.map(|()| "pong".into()),
        Op::List => Ok(format!(
            "{} MACs",
            store.list(ResourceKind::Packfile).await?.len()
        )),
        Op::Size => Ok(format!("{} bytes", store.size().await?)),
        Op::Get(range) => {
            let n = store
                .get(ResourceKind::Packfile, &mac(1), range, tokio::io::sink())
                .await?;
            Ok(format!("{n} bytes read"))
        }
        Op::Put(len) => {
            let body = data(2, len);
            let n = store
                .put(ResourceKind::Packfile, &mac(2), &body[..])
                .await?;
            Ok(format!("{n} bytes written"))
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hostile_answer_ends_in_a_clear_error_within_the_timeouts() {
    let cases = cases();
    let healthy = servers().await.remove(0);
    // Where the redirects point: nothing may ever connect to it.
    let decoy = ScriptServer::start(|_| Reply::status(200)).await;
    let mut failures = Vec::new();
    for case in &cases {
        let script = case.script.clone();
        let decoy_port = decoy.port().to_string();
        let server = ScriptServer::start(move |seen| match script(seen) {
            Reply::Full {
                status,
                headers,
                body,
            } => Reply::Full {
                status,
                headers: headers
                    .into_iter()
                    .map(|(k, v)| (k, v.replace("DECOY", &decoy_port)))
                    .collect(),
                body,
            },
            other => other,
        })
        .await;
        let mut store = host()
            .open(&config(&server.endpoint(), &case.extra))
            .await
            .unwrap_or_else(|e| panic!("{}: open: {e}", case.name));
        store.reset_peak_memory();
        let start = Instant::now();
        let result = run(&mut store, case.op).await;
        let elapsed = start.elapsed();
        let peak = store.peak_memory_bytes();
        let outcome = match &result {
            Ok(answer) => answer.clone(),
            Err(e) => format!("{e} {e:?}"),
        };
        assert_no_secret(&outcome, case.name);
        let fine = match (&case.expect, result) {
            (Expect::Error(accept), Err(HostError::Store(e))) => accept(&e),
            (Expect::Answer(want), Ok(answer)) => answer == *want,
            _ => false,
        };
        if !fine {
            failures.push(format!("{}: unexpected outcome: {outcome}", case.name));
        }
        if elapsed > case.within {
            failures.push(format!("{}: took {elapsed:?}", case.name));
        }
        if peak > MEMORY_BOUND {
            failures.push(format!(
                "{}: guest memory peaked at {peak} bytes",
                case.name
            ));
        }
        if let Some((check, meaning)) = case.requests {
            if !check(&server.seen()) {
                failures.push(format!("{}: not so: {meaning}", case.name));
            }
        }
        // The instance survived: it still answers.
        assert_eq!(store.type_name().await.unwrap(), "s3", "{}", case.name);
        eprintln!(
            "hostile server: {}: {elapsed:.1?}, peak {} MiB: {}",
            case.name,
            peak / MIB,
            outcome.split(" Store(").next().unwrap_or_default()
        );
    }
    assert_eq!(decoy.connections(), 0, "a redirect was followed");
    // The host goes on serving stores.
    let (_, mut fresh) = healthy.open("after-hostile", &[]).await;
    fresh.create(b"c").await.expect("a fresh store works");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    eprintln!("hostile server cases: {}", cases.len());
}
