//! Runs every case of the AWS SigV4 test suite (`testdata/aws4_testsuite`,
//! Apache-2.0, see its LICENSE and NOTICE): parses each `.req`, signs it with
//! the suite's generic signer, and compares the canonical request, string to
//! sign and `Authorization` value byte for byte with `.creq`, `.sts`, `.authz`.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{KeyCache, Payload, Signer};
use crate::request::{Method, Request, Scheme};
use crate::secret::Secret;

const SUITE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/aws4_testsuite");
/// 24 top-level cases, 8 under `normalize-path/`, 2 under `post-sts-token/`.
const CASE_COUNT: usize = 34;
/// 20150830T123600Z, the `X-Amz-Date` of every case.
const SUITE_TIME: u64 = 1_440_938_160;

/// The suite's signer: service `service`, normalised paths, no
/// `x-amz-content-sha256` header.
fn suite_signer(session_token: Option<Secret>) -> Signer {
    Signer {
        access_key: "AKIDEXAMPLE".to_owned(),
        secret_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        session_token,
        region: "us-east-1".to_owned(),
        service: "service".to_owned(),
        normalize_path: true,
        content_sha256_header: false,
        keys: KeyCache::default(),
    }
}

/// Every directory holding a `<dir name>.req`, found by walking the suite, so
/// a case cannot be skipped by forgetting to list it.
fn case_dirs(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read the test suite directory")
        .map(|e| e.expect("read a test suite entry").path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for entry in entries {
        if case_file(&entry, "req").is_file() {
            found.push(entry.clone());
        }
        case_dirs(&entry, found);
    }
}

fn case_file(dir: &Path, ext: &str) -> PathBuf {
    let name = dir.file_name().expect("case directory name");
    dir.join(name).with_extension(ext)
}

fn read(dir: &Path, ext: &str) -> String {
    let path = case_file(dir, ext);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `.req` file: the request, its body and any `X-Amz-Security-Token` it
/// carries (which the signer adds itself from its session token).
struct SuiteRequest {
    request: Request,
    body: String,
    token: Option<String>,
}

fn parse_req(text: &str) -> SuiteRequest {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let (request_line, header_block) = head.split_once('\n').unwrap_or((head, ""));
    // Split by hand: httparse rejects the suite's raw targets (`/example space/`).
    let (method, rest) = request_line.split_once(' ').expect("request method");
    let (target, _version) = rest.rsplit_once(' ').expect("HTTP version");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        other => panic!("unexpected method {other}"),
    };
    let mut request = Request::new(method, Scheme::Https, "", path);
    request.query = parse_query(query);
    let mut token = None;
    for (name, value) in parse_headers(header_block) {
        match name.as_str() {
            "host" => request.authority = value,
            "x-amz-security-token" => token = Some(value),
            _ => request.headers.push((name, value)),
        }
    }
    let body = body.to_owned();
    SuiteRequest {
        request,
        body,
        token,
    }
}

/// Headers through httparse, after unfolding continuation lines (obs-fold)
/// into the line they continue, as RFC 7230 §3.2.4 tells a recipient to.
fn parse_headers(block: &str) -> Vec<(String, String)> {
    let mut unfolded = String::new();
    for line in block.lines() {
        if line.starts_with([' ', '\t']) {
            unfolded.push(' ');
        } else if !unfolded.is_empty() {
            unfolded.push_str("\r\n");
        }
        unfolded.push_str(line);
    }
    unfolded.push_str("\r\n\r\n");
    let mut storage = [httparse::EMPTY_HEADER; 16];
    let parsed = httparse::parse_headers(unfolded.as_bytes(), &mut storage)
        .expect("valid headers")
        .unwrap();
    parsed
        .1
        .iter()
        .map(|h| {
            let value = String::from_utf8(h.value.to_vec()).expect("UTF-8 header value");
            (h.name.to_ascii_lowercase(), value)
        })
        .collect()
}

/// The file's query is raw (percent-encoded); `Request.query` is decoded.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).expect("two hex digits after %");
            out.push(u8::from_str_radix(hex, 16).expect("hex digits after %"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8 after percent-decoding")
}

/// The session token a case signs with: the one `.sreq` sends, when `.creq`
/// shows it signed (`post-sts-header-after` adds it after signing instead).
fn signed_token(dir: &Path, creq: &str) -> Option<Secret> {
    if !creq.contains("\nx-amz-security-token:") {
        return None;
    }
    let sreq = read(dir, "sreq");
    let line = sreq
        .lines()
        .find_map(|l| l.strip_prefix("X-Amz-Security-Token:"))
        .expect("the .sreq of a token case carries the token");
    Some(Secret::new(line.trim()))
}

/// Signs one case; returns a description of every mismatch.
fn check_case(dir: &Path) -> Vec<String> {
    let parsed = parse_req(&read(dir, "req"));
    let creq = read(dir, "creq");
    let token = signed_token(dir, &creq);
    if let Some(in_req) = &parsed.token {
        let signed = token.as_ref().map(Secret::expose);
        assert_eq!(signed, Some(in_req.as_str()), "{}: token", dir.display());
    }
    let digest: [u8; 32] = Sha256::digest(parsed.body.as_bytes()).into();
    let payload = if parsed.body.is_empty() {
        Payload::Empty
    } else {
        Payload::Sha256(&digest)
    };
    let signer = suite_signer(token);
    let mut request = parsed.request;
    let canonical = signer.prepare(&mut request.clone(), payload, SUITE_TIME);
    signer.sign(&mut request, payload, SUITE_TIME);
    let authorization = request.header_value("authorization").unwrap_or_default();
    let mut mismatches = Vec::new();
    for (what, got, ext) in [
        ("canonical request", canonical.request.as_str(), "creq"),
        ("string to sign", &canonical.string_to_sign(), "sts"),
        ("authorization", authorization, "authz"),
    ] {
        let want = read(dir, ext);
        if got != want {
            mismatches.push(format!(
                "{}: {what}\n--- got\n{got}\n--- want\n{want}",
                dir.display()
            ));
        }
    }
    mismatches
}

#[test]
fn every_case_of_the_aws_test_suite() {
    let mut dirs = Vec::new();
    case_dirs(Path::new(SUITE_DIR), &mut dirs);
    assert_eq!(dirs.len(), CASE_COUNT, "cases found: {dirs:#?}");
    let mismatches: Vec<String> = dirs.iter().flat_map(|d| check_case(d)).collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn suite_files_are_parsed_as_raw_requests() {
    let dir = Path::new(SUITE_DIR).join("get-vanilla-query-order-encoded");
    let parsed = parse_req(&read(&dir, "req"));
    assert_eq!(parsed.request.authority, "example.amazonaws.com");
    assert_eq!(
        parsed.request.query[2],
        ("ሴ".to_owned(), "Value1".to_owned())
    );
    let multiline = Path::new(SUITE_DIR).join("get-header-value-multiline");
    let parsed = parse_req(&read(&multiline, "req"));
    assert_eq!(
        parsed.request.header_value("my-header1"),
        Some("value1   value2      value3")
    );
}
