//! Whatever a server sends, no parser panics, every success is consistent, and
//! no document cut short (a dropped connection) ever reads as a success.

use super::samples::ALL;
use super::*;

/// Runs every parser on `body`; returns how many accepted it as a success and
/// checks the invariants each success promises.
fn successes(body: &[u8]) -> usize {
    let failure = parse_error(503, body);
    assert_eq!(failure.status, 503);
    let mut accepted = 0;
    if let Ok(page) = parse_list_objects_v2(body) {
        assert_eq!(page.is_truncated, page.next_token.is_some());
        assert!(page.next_token.iter().all(|t| !t.is_empty()));
        assert!(page.keys.iter().all(|o| !o.key.is_empty()));
        accepted += 1;
    }
    if let Ok(id) = parse_initiate_multipart(body) {
        assert!(!id.is_empty());
        accepted += 1;
    }
    if let Ok(etag) = parse_complete_multipart(200, body) {
        assert!(etag.iter().all(|e| !e.is_empty()));
        accepted += 1;
    }
    if let Ok(region) = parse_location_constraint(body) {
        assert!(!region.is_empty());
        accepted += 1;
    }
    if parse_object_lock_config(body).is_ok() {
        accepted += 1;
    }
    if parse_copy_object(200, body).is_ok() {
        accepted += 1;
    }
    if let Ok(retention) = parse_retention(body) {
        assert!(!retention.mode.is_empty() && !retention.retain_until.is_empty());
        accepted += 1;
    }
    if let Ok(uploads) = parse_list_multipart_uploads(body) {
        assert!(uploads
            .iter()
            .all(|u| !u.key.is_empty() && !u.upload_id.is_empty()));
        accepted += 1;
    }
    if let Ok(page) = parse_list_object_versions(body) {
        assert!(page.next.iter().all(|(key, _)| !key.trim().is_empty()));
        assert!(page
            .entries
            .iter()
            .all(|e| !e.key.is_empty() && !e.version_id.is_empty()));
        accepted += 1;
    }
    if parse_versioning(body).is_ok() {
        accepted += 1;
    }
    accepted
}

/// splitmix64: a small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}

/// Pieces of S3 documents and of attacks on XML parsers.
const FRAGMENTS: [&str; 38] = [
    "<ListVersionsResult>",
    "<DeleteMarker>",
    "<VersionId>v</VersionId><IsLatest>true</IsLatest>",
    "<LastModified>2030-01-01T00:00:00.5Z</LastModified>",
    "<ListBucketResult>",
    "</ListBucketResult>",
    "<Contents>",
    "</Contents>",
    "<Key>",
    "</Key>",
    "<Size>",
    "</Size>",
    "<IsTruncated>",
    "</IsTruncated>",
    "true",
    "false",
    "<NextContinuationToken>",
    "</NextContinuationToken>",
    "<EncodingType>url</EncodingType>",
    "<Error>",
    "</Error>",
    "<Code>SlowDown</Code>",
    "<UploadId>",
    "</UploadId>",
    "<Retention>",
    "<Mode>GOVERNANCE</Mode>",
    "<RetainUntilDate>x</RetainUntilDate>",
    "</Retention>",
    "<LocationConstraint>",
    "</LocationConstraint>",
    "<!DOCTYPE a [<!ENTITY e \"&e;&e;\">]>",
    "&e;",
    "&amp;&#0;&#x110000;&#233;",
    "%zz%C3%A9+",
    "<![CDATA[<x>]]>",
    "<?xml version=\"1.0\"?>",
    "<!-- c -->",
    "18446744073709551616",
];

#[test]
fn each_sample_is_one_kind_of_document() {
    for sample in ALL {
        let accepted = successes(sample.as_bytes());
        let is_error = !parse_error(500, sample.as_bytes()).code.is_empty();
        assert_eq!(accepted + usize::from(is_error), 1, "{sample}");
    }
}

#[test]
fn no_cut_short_document_is_a_success() {
    for sample in ALL {
        let whole = sample.trim_end().as_bytes();
        for cut in 0..whole.len() {
            let prefix = &whole[..cut];
            assert_eq!(successes(prefix), 0, "{}", String::from_utf8_lossy(prefix));
            assert_eq!(parse_error(500, prefix).code, "");
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(1);
    for _ in 0..3000 {
        let len = rng.below(300);
        let body: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        successes(&body);
    }
}

#[test]
fn random_fragment_soup_never_panics() {
    let mut rng = Rng(2);
    for _ in 0..5000 {
        let body: String = (0..rng.below(40))
            .map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())])
            .collect();
        successes(body.as_bytes());
    }
}

#[test]
fn mutated_samples_never_panic() {
    let mut rng = Rng(3);
    for sample in ALL {
        for _ in 0..500 {
            let mut body = sample.as_bytes().to_vec();
            for _ in 0..=rng.below(3) {
                let at = rng.below(body.len() + 1);
                match rng.below(3) {
                    0 if at < body.len() => body[at] = rng.byte(),
                    1 => {
                        let end = (at + rng.below(20)).min(body.len());
                        body.drain(at..end);
                    }
                    _ => {
                        let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())];
                        body.splice(at..at, fragment.bytes());
                    }
                }
            }
            successes(&body);
        }
    }
}
