//! AWS Signature Version 4, hand-rolled over `hmac` + `sha2`: the SDKs do not
//! build for a WASI component, and the algorithm is small enough to pin down
//! completely with the AWS test suite and the S3 documentation's examples.
//!
//! Signing is a pure function of the request, the credentials and an injected
//! unix time. The three SigV4 tasks live in their own modules:
//! `canonical_request`, `signature` (string to sign, key, signature) and
//! `date` (the timestamp).

mod canonical_request;
mod date;
mod signature;

#[cfg(test)]
mod aws_test_suite;

pub use date::amz_date;

use crate::request::{canonical_query, Request};
use crate::secret::Secret;
use canonical_request::{canonical_path, canonical_request, CanonicalHeaders};
use signature::{hex, hmac, signing_key, string_to_sign, KeyCache, ALGORITHM};

/// SHA-256 of the empty string, the payload hash of every body-less request.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// What the signer puts in `x-amz-content-sha256` and the canonical request's
/// payload line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// No body (the SHA-256 of `""`).
    Empty,
    /// The SHA-256 of the body, which S3 then verifies on receipt.
    Sha256(&'a [u8; 32]),
}

impl Payload<'_> {
    fn hash(self) -> String {
        match self {
            Payload::Unsigned => UNSIGNED_PAYLOAD.to_owned(),
            Payload::Empty => EMPTY_SHA256.to_owned(),
            Payload::Sha256(digest) => hex(digest),
        }
    }
}

/// Signs requests for one set of credentials, region and service. `Debug` is
/// safe: the secret and token are [`Secret`]s and the key cache is redacted.
#[derive(Debug, Clone)]
pub struct Signer {
    access_key: String,
    secret_key: Secret,
    session_token: Option<Secret>,
    region: String,
    service: String,
    /// Remove dot segments and `//` from the signed path: every service but S3,
    /// where they are part of the object key.
    normalize_path: bool,
    /// Send the payload hash as `x-amz-content-sha256`, as S3 requires.
    content_sha256_header: bool,
    keys: KeyCache,
}

/// A request in canonical form with its credential scope: everything the
/// signature covers. A value of its own so the tests can compare each SigV4
/// step (canonical request, string to sign) with the published vectors.
struct Canonical {
    request: String,
    amz_date: String,
    scope: String,
    signed_headers: String,
}

impl Canonical {
    fn string_to_sign(&self) -> String {
        string_to_sign(&self.amz_date, &self.scope, &self.request)
    }
}

impl Signer {
    /// An S3 signer: service `s3`, no path normalisation, adds
    /// `x-amz-content-sha256`.
    pub fn s3(
        access_key: &str,
        secret_key: Secret,
        session_token: Option<Secret>,
        region: &str,
    ) -> Signer {
        Signer {
            access_key: access_key.to_owned(),
            secret_key,
            session_token,
            region: region.to_owned(),
            service: "s3".to_owned(),
            normalize_path: false,
            content_sha256_header: true,
            keys: KeyCache::default(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Used when the server names another region (auto-detection); the key
    /// cache is keyed by scope, so no stale key can survive the change.
    pub fn set_region(&mut self, region: &str) {
        region.clone_into(&mut self.region);
    }

    /// Signs in place: sets `x-amz-date`, `x-amz-content-sha256` (S3),
    /// `x-amz-security-token` (with a session token), then `authorization`.
    /// Signed headers are `host` (from `req.authority`) and every header of
    /// `req.headers`. Signing an already signed request (a retry, a region
    /// change) replaces the earlier signature.
    pub fn sign(&self, req: &mut Request, payload: Payload<'_>, unix_time: u64) {
        let canonical = self.prepare(req, payload, unix_time);
        let authorization = format!(
            "{ALGORITHM} Credential={}, SignedHeaders={}, Signature={}",
            self.credential(&canonical.scope),
            canonical.signed_headers,
            self.signature(&canonical)
        );
        req.set_header("authorization", &authorization);
    }

    /// A presigned URL (query-string authentication) valid `expires_secs`
    /// seconds from `unix_time`. The payload is `UNSIGNED-PAYLOAD`: whoever
    /// uses the URL sends a body the signer has never seen. Headers in
    /// `req.headers` are signed and must be sent with the URL.
    pub fn presign(&self, req: &Request, unix_time: u64, expires_secs: u32) -> String {
        let amz_date = amz_date(unix_time);
        let headers = CanonicalHeaders::new(&req.authority, &req.headers);
        let mut url_req = req.clone();
        let auth_query = [
            ("X-Amz-Algorithm", ALGORITHM.to_owned()),
            ("X-Amz-Credential", self.credential(&self.scope(&amz_date))),
            ("X-Amz-Date", amz_date.clone()),
            ("X-Amz-Expires", expires_secs.to_string()),
            ("X-Amz-SignedHeaders", headers.names.clone()),
        ];
        for (name, value) in auth_query {
            url_req.query.push((name.to_owned(), value));
        }
        if let Some(token) = &self.session_token {
            let token = token.expose().to_owned();
            url_req
                .query
                .push(("X-Amz-Security-Token".to_owned(), token));
        }
        let canonical = self.canonical(&url_req, &headers, UNSIGNED_PAYLOAD, amz_date);
        format!(
            "{}&X-Amz-Signature={}",
            url_req.url(),
            self.signature(&canonical)
        )
    }

    /// Adds the headers the signature covers, drops any earlier
    /// `authorization` (it must not sign itself), and canonicalises.
    fn prepare(&self, req: &mut Request, payload: Payload<'_>, unix_time: u64) -> Canonical {
        let amz_date = amz_date(unix_time);
        let payload_hash = payload.hash();
        req.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
        req.set_header("x-amz-date", &amz_date);
        if self.content_sha256_header {
            req.set_header("x-amz-content-sha256", &payload_hash);
        }
        if let Some(token) = &self.session_token {
            req.set_header("x-amz-security-token", token.expose());
        }
        let headers = CanonicalHeaders::new(&req.authority, &req.headers);
        self.canonical(req, &headers, &payload_hash, amz_date)
    }

    fn canonical(
        &self,
        req: &Request,
        headers: &CanonicalHeaders,
        payload_hash: &str,
        amz_date: String,
    ) -> Canonical {
        Canonical {
            request: canonical_request(
                req.method,
                &canonical_path(&req.path, self.normalize_path),
                &canonical_query(&req.query),
                headers,
                payload_hash,
            ),
            scope: self.scope(&amz_date),
            amz_date,
            signed_headers: headers.names.clone(),
        }
    }

    fn signature(&self, canonical: &Canonical) -> String {
        let key = self.keys.get(&canonical.scope, || {
            let date = date::date_stamp(&canonical.amz_date);
            signing_key(&self.secret_key, date, &self.region, &self.service)
        });
        hex(&hmac(&key, canonical.string_to_sign().as_bytes()))
    }

    /// `date/region/service/aws4_request`: what the signature is valid for.
    fn scope(&self, amz_date: &str) -> String {
        let date = date::date_stamp(amz_date);
        format!("{date}/{}/{}/aws4_request", self.region, self.service)
    }

    fn credential(&self, scope: &str) -> String {
        format!("{}/{scope}", self.access_key)
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::request::{Method, Scheme};

    // The examples of the S3 API reference, "Signature Calculations for the
    // Authorization Header: Transferring Payload in a Single Chunk" and
    // "Authenticating Requests: Using Query Parameters".
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const HOST: &str = "examplebucket.s3.amazonaws.com";
    /// 20130524T000000Z
    const DOC_TIME: u64 = 1_369_353_600;

    fn doc_signer() -> Signer {
        Signer::s3(
            "AKIAIOSFODNN7EXAMPLE",
            Secret::new(SECRET),
            None,
            "us-east-1",
        )
    }

    fn get(path: &str) -> Request {
        Request::new(Method::Get, Scheme::Https, HOST, path)
    }

    fn authorization(req: &Request) -> &str {
        req.header_value("authorization").expect("signed")
    }

    fn doc_authorization(signed_headers: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders={signed_headers}, Signature={signature}"
        )
    }

    #[test]
    fn s3_doc_get_object() {
        let mut req = get("/test.txt").header("range", "bytes=0-9");
        doc_signer().sign(&mut req, Payload::Empty, DOC_TIME);
        assert_eq!(
            authorization(&req),
            doc_authorization(
                "host;range;x-amz-content-sha256;x-amz-date",
                "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            )
        );
        assert_eq!(req.header_value("x-amz-content-sha256"), Some(EMPTY_SHA256));
        assert_eq!(req.header_value("x-amz-date"), Some("20130524T000000Z"));
    }

    #[test]
    fn s3_doc_put_object() {
        let body = b"Welcome to Amazon S3.";
        let digest: [u8; 32] = Sha256::digest(body).into();
        let mut req = Request::new(Method::Put, Scheme::Https, HOST, "/test$file.text")
            .header("date", "Fri, 24 May 2013 00:00:00 GMT")
            .header("x-amz-storage-class", "REDUCED_REDUNDANCY");
        let signer = doc_signer();
        let canonical = signer.prepare(&mut req.clone(), Payload::Sha256(&digest), DOC_TIME);
        signer.sign(&mut req, Payload::Sha256(&digest), DOC_TIME);
        assert_eq!(
            canonical.request,
            "PUT\n/test%24file.text\n\n\
             date:Fri, 24 May 2013 00:00:00 GMT\n\
             host:examplebucket.s3.amazonaws.com\n\
             x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n\
             x-amz-date:20130524T000000Z\n\
             x-amz-storage-class:REDUCED_REDUNDANCY\n\n\
             date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n\
             44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        assert_eq!(
            canonical.string_to_sign(),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d"
        );
        assert_eq!(
            authorization(&req),
            doc_authorization(
                "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
            )
        );
        assert_eq!(
            req.header_value("x-amz-content-sha256"),
            Some("44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        );
    }

    #[test]
    fn s3_doc_get_bucket_lifecycle() {
        let mut req = get("/").query("lifecycle", "");
        doc_signer().sign(&mut req, Payload::Empty, DOC_TIME);
        assert_eq!(
            authorization(&req),
            doc_authorization(
                "host;x-amz-content-sha256;x-amz-date",
                "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
            )
        );
    }

    #[test]
    fn s3_doc_list_objects() {
        let mut req = get("/").query("prefix", "J").query("max-keys", "2");
        doc_signer().sign(&mut req, Payload::Empty, DOC_TIME);
        assert_eq!(
            authorization(&req),
            doc_authorization(
                "host;x-amz-content-sha256;x-amz-date",
                "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
            )
        );
    }

    #[test]
    fn s3_doc_presigned_url() {
        let url = doc_signer().presign(&get("/test.txt"), DOC_TIME, 86_400);
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test.txt\
             ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn presign_signs_the_session_token() {
        let token = Secret::new("tok/en+");
        let signer = Signer::s3("AK", Secret::new("sk"), Some(token), "us-east-1");
        let url = signer.presign(&get("/k"), DOC_TIME, 60);
        assert!(url.contains("&X-Amz-Security-Token=tok%2Fen%2B&"), "{url}");
        let without = doc_signer().presign(&get("/k"), DOC_TIME, 60);
        assert!(!without.contains("X-Amz-Security-Token"), "{without}");
    }

    #[test]
    fn empty_sha256_is_the_hash_of_nothing() {
        assert_eq!(hex(&Sha256::digest(b"")), EMPTY_SHA256);
        assert_eq!(Payload::Unsigned.hash(), "UNSIGNED-PAYLOAD");
    }

    #[test]
    fn unsigned_payload_is_signed_and_sent_as_such() {
        let mut req = get("/k");
        doc_signer().sign(&mut req, Payload::Unsigned, DOC_TIME);
        assert_eq!(
            req.header_value("x-amz-content-sha256"),
            Some(UNSIGNED_PAYLOAD)
        );
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        let token = Secret::new("FQoGZXIvYXdzEXAMPLE");
        let signer = Signer::s3("AK", Secret::new("sk"), Some(token), "us-east-1");
        let mut req = get("/k");
        signer.sign(&mut req, Payload::Empty, DOC_TIME);
        assert_eq!(
            req.header_value("x-amz-security-token"),
            Some("FQoGZXIvYXdzEXAMPLE")
        );
        assert!(authorization(&req)
            .contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
    }

    #[test]
    fn s3_paths_are_not_normalized() {
        let mut req = get("/bucket/a/../b//c");
        let canonical = doc_signer().prepare(&mut req, Payload::Empty, DOC_TIME);
        assert!(canonical.request.starts_with("GET\n/bucket/a/../b//c\n"));
    }

    #[test]
    fn signed_host_is_the_authority_with_its_port() {
        let mut req = Request::new(Method::Get, Scheme::Http, "127.0.0.1:9000", "/b");
        let canonical = doc_signer().prepare(&mut req, Payload::Empty, DOC_TIME);
        assert!(canonical.request.contains("\nhost:127.0.0.1:9000\n"));
    }

    #[test]
    fn re_signing_replaces_the_signature() {
        let signer = doc_signer();
        let mut once = get("/test.txt").header("range", "bytes=0-9");
        signer.sign(&mut once, Payload::Empty, DOC_TIME);
        let mut twice = once.clone();
        signer.sign(&mut twice, Payload::Empty, DOC_TIME);
        assert_eq!(once, twice);
        assert_eq!(
            twice
                .headers
                .iter()
                .filter(|(n, _)| n == "authorization")
                .count(),
            1
        );
    }

    #[test]
    fn region_change_and_new_day_use_the_right_key() {
        // A reused signer (cached key) must agree with a fresh one (no cache).
        let mut reused = doc_signer();
        let sign = |signer: &Signer, time: u64| {
            let mut req = get("/test.txt");
            signer.sign(&mut req, Payload::Empty, time);
            authorization(&req).to_owned()
        };
        sign(&reused, DOC_TIME);
        reused.set_region("eu-west-3");
        assert_eq!(reused.region(), "eu-west-3");
        let mut fresh = doc_signer();
        fresh.set_region("eu-west-3");
        assert_eq!(sign(&reused, DOC_TIME), sign(&fresh, DOC_TIME));
        assert!(sign(&reused, DOC_TIME).contains("/20130524/eu-west-3/s3/"));
        let next_day = DOC_TIME + 86_400;
        assert_eq!(sign(&reused, next_day), sign(&fresh.clone(), next_day));
    }

    #[test]
    fn debug_shows_no_secret() {
        let token = Secret::new("SESSIONTOKENVALUE");
        let signer = Signer::s3(
            "AKIAIOSFODNN7EXAMPLE",
            Secret::new(SECRET),
            Some(token),
            "r",
        );
        signer.sign(&mut get("/"), Payload::Empty, DOC_TIME);
        let shown = format!("{signer:?} {:?}", signer.clone());
        assert!(shown.contains("AKIAIOSFODNN7EXAMPLE"), "{shown}");
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(!shown.contains("SESSIONTOKEN"), "{shown}");
    }
}
