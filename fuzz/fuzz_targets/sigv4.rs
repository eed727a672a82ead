//! SigV4 canonicalisation on arbitrary paths, queries and headers: signing
//! never panics, is deterministic, signs every header it was given, and the
//! encoded request line only holds URL-safe characters.
#![no_main]

use kloset_s3::request::{Method, Request, Scheme};
use kloset_s3::secret::Secret;
use kloset_s3::sigv4::{Payload, Signer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{0}');
    let path = format!("/{}", parts.next().unwrap_or_default());
    let mut req = Request::new(Method::Get, Scheme::Http, "127.0.0.1:9000", &path);
    for (i, part) in parts.enumerate() {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        if i % 2 == 0 {
            req = req.query(name, value);
        } else if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            req.headers.push((name.to_ascii_lowercase(), value.to_string()));
        }
    }
    let signer = Signer::s3("AKID", Secret::new("secret"), None, "us-east-1");
    let mut first = req.clone();
    signer.sign(&mut first, Payload::Empty, 1_440_938_160);
    let mut second = req.clone();
    signer.sign(&mut second, Payload::Empty, 1_440_938_160);
    assert_eq!(first, second);
    let auth = first.header_value("authorization").unwrap_or_default().to_string();
    // A given `authorization` is replaced by ours, never signed; every other
    // header is.
    for (name, _) in req.headers.iter().filter(|(n, _)| n != "authorization") {
        assert!(auth.contains(name.as_str()), "{name} not signed");
    }
    let line = first.path_and_query();
    assert!(line.bytes().all(|b| b.is_ascii_graphic()), "{line}");
    let _ = signer.presign(&req, 1_440_938_160, 3600);
});
