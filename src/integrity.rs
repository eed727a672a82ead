//! End-to-end integrity: the digests recorded when an object is written, and
//! the check of every full read against them.
//!
//! Writes: each PUT and UploadPart carries its Content-MD5 (the server rejects a
//! body that does not match it). A single-part object also records the
//! XXH3-128 of its bytes as metadata ([`META_XXH3`]): a non-cryptographic but
//! collision-resistant-enough digest for corruption (tampering is kloset's MACs'
//! business), ten times cheaper than MD5 in the component. A multipart object's
//! digest cannot be known when its metadata is set (at CreateMultipartUpload),
//! so it records its part size ([`META_PART_SIZE`]) instead, and its ETag — the
//! MD5 of the parts' MD5s — is recomputed by a reader.
//!
//! Reads: [`expected`] picks the strongest digest the response allows and a
//! [`Verifier`] checks the bytes as they stream. Objects written by other tools
//! (Plakar's Go connector) carry no metadata: their plain-MD5 ETag is used, unless
//! the server encrypts with SSE-C or KMS (their ETags are not MD5s) or the
//! operator turned `verify_etag` off. Ranged reads are checked for their exact
//! length and `Content-Range` only: no digest covers an arbitrary range.

use md5::{Digest as _, Md5};
use xxhash_rust::xxh3::Xxh3;

use crate::actions::{META_PART_SIZE, META_XXH3};
use crate::client::header;
use crate::error::Error;
use crate::hex;

/// What a full read must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// XXH3-128 of the whole body (our single-part objects).
    Xxh3([u8; 16]),
    /// MD5 of the whole body (plain ETags).
    Md5([u8; 16]),
    /// An S3 multipart ETag: MD5 of the concatenated MD5s of `parts` parts of
    /// `part_size` bytes (the last one shorter).
    PartMd5s {
        part_size: u64,
        parts: u64,
        digest: [u8; 16],
    },
    /// Nothing to check but the length.
    LengthOnly,
}

impl Expected {
    /// Whether comparing this digest with `other` tells same bytes from
    /// different ones: the same function over the same cut of the bytes.
    pub fn comparable(&self, other: &Expected) -> bool {
        match (self, other) {
            (Expected::Xxh3(_), Expected::Xxh3(_)) | (Expected::Md5(_), Expected::Md5(_)) => true,
            (Expected::PartMd5s { part_size: a, .. }, Expected::PartMd5s { part_size: b, .. }) => {
                a == b
            }
            _ => false,
        }
    }
}

/// The digest a full GET response must match, from its headers.
pub fn expected(
    headers: &[(String, String)],
    length: u64,
    verify_etag: bool,
) -> Result<Expected, Error> {
    if let Some(value) = header(headers, META_XXH3) {
        return digest_from_hex(value)
            .map(Expected::Xxh3)
            .ok_or_else(|| Error::Corrupted(format!("unreadable {META_XXH3} metadata")));
    }
    let etag = header(headers, "etag").unwrap_or_default();
    let etag = etag.trim().trim_matches('"');
    if !verify_etag || encrypted_etag(headers) {
        return Ok(Expected::LengthOnly);
    }
    match etag.split_once('-') {
        None => Ok(digest_from_hex(etag).map_or(Expected::LengthOnly, Expected::Md5)),
        Some((digest, parts)) => Ok(part_md5s(
            digest,
            parts,
            header(headers, META_PART_SIZE),
            length,
        )),
    }
}

/// SSE-C and SSE-KMS objects have ETags that are not MD5s of their bytes.
fn encrypted_etag(headers: &[(String, String)]) -> bool {
    let kms = header(headers, "x-amz-server-side-encryption")
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("aws:kms"));
    kms || header(headers, "x-amz-server-side-encryption-customer-algorithm").is_some()
}

/// A multipart ETag is only checkable when the part size is known (we record
/// it) and agrees with the part count: guessing it could fail a good object.
fn part_md5s(digest: &str, parts: &str, part_size: Option<&str>, length: u64) -> Expected {
    let (Some(digest), Ok(parts), Some(Ok(part_size))) = (
        digest_from_hex(digest),
        parts.parse::<u64>(),
        part_size.map(str::parse::<u64>),
    ) else {
        return Expected::LengthOnly;
    };
    if part_size == 0 || length.div_ceil(part_size).max(1) != parts {
        return Expected::LengthOnly;
    }
    Expected::PartMd5s {
        part_size,
        parts,
        digest,
    }
}

/// A 128-bit digest written as 32 hex digits.
fn digest_from_hex(text: &str) -> Option<[u8; 16]> {
    hex::decode(text)?.try_into().ok()
}

/// Checks a body as it streams, without holding it.
pub struct Verifier {
    expected: Expected,
    fast: Xxh3,
    whole: Md5,
    /// For multipart ETags: MD5 of the part being read, bytes in it so far.
    part: Md5,
    part_len: u64,
    part_digests: Md5,
    parts_done: u64,
}

impl Verifier {
    pub fn new(expected: Expected) -> Self {
        Verifier {
            expected,
            fast: Xxh3::new(),
            whole: Md5::new(),
            part: Md5::new(),
            part_len: 0,
            part_digests: Md5::new(),
            parts_done: 0,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        match self.expected {
            Expected::Xxh3(_) => self.fast.update(data),
            Expected::Md5(_) => self.whole.update(data),
            Expected::LengthOnly => {}
            Expected::PartMd5s { part_size, .. } => {
                while !data.is_empty() {
                    // The part size is the server's (metadata): on a 32-bit
                    // target a cast would wrap 2^32 to 0 and never advance.
                    let room = usize::try_from(part_size - self.part_len).unwrap_or(usize::MAX);
                    let take = room.min(data.len());
                    self.part.update(&data[..take]);
                    self.part_len += take as u64;
                    data = &data[take..];
                    if self.part_len == part_size {
                        self.close_part();
                    }
                }
            }
        }
    }

    fn close_part(&mut self) {
        let digest = std::mem::take(&mut self.part).finalize();
        self.part_digests.update(digest);
        self.part_len = 0;
        self.parts_done += 1;
    }

    /// Whether the whole body matched; the message says what did not.
    pub fn finish(mut self) -> Result<(), String> {
        match self.expected {
            Expected::LengthOnly => Ok(()),
            Expected::Xxh3(want) => compare("XXH3", &want, &xxh3_bytes(&self.fast)),
            Expected::Md5(want) => compare("MD5", &want, &self.whole.finalize()),
            Expected::PartMd5s { parts, digest, .. } => {
                if self.part_len > 0 || self.parts_done == 0 {
                    self.close_part();
                }
                if self.parts_done != parts {
                    return Err(format!(
                        "body has {} parts where its ETag says {parts}",
                        self.parts_done
                    ));
                }
                compare("multipart ETag", &digest, &self.part_digests.finalize())
            }
        }
    }
}

fn compare(what: &str, want: &[u8], got: &[u8]) -> Result<(), String> {
    if want == got {
        Ok(())
    } else {
        Err(format!(
            "{what} of the bytes read is {} but {} was recorded when the object was written",
            hex::encode(got),
            hex::encode(want)
        ))
    }
}

/// The MD5s of a multipart object's parts, which its ETag is made of.
#[derive(Default)]
pub struct PartDigests {
    part_digests: Md5,
    parts: u64,
}

impl PartDigests {
    /// Records one part's MD5.
    pub fn push(&mut self, part_md5: &[u8; 16]) {
        self.part_digests.update(part_md5);
        self.parts += 1;
    }

    /// The ETag S3 computes for the completed multipart object.
    #[cfg(test)]
    pub fn etag(&self) -> String {
        format!("{}-{}", hex::encode(&self.digest()), self.parts)
    }

    /// What a full read of the object these parts of `part_size` bytes
    /// make up must match.
    pub fn expected(&self, part_size: u64) -> Expected {
        Expected::PartMd5s {
            part_size,
            parts: self.parts,
            digest: self.digest(),
        }
    }

    fn digest(&self) -> [u8; 16] {
        self.part_digests.clone().finalize().into()
    }
}

pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

pub fn xxh3(data: &[u8]) -> [u8; 16] {
    xxhash_rust::xxh3::xxh3_128(data).to_be_bytes()
}

fn xxh3_bytes(hasher: &Xxh3) -> [u8; 16] {
    hasher.digest128().to_be_bytes()
}

/// The `Content-MD5` header value of a body whose MD5 is `md5`.
pub fn content_md5(md5: &[u8; 16]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(md5)
}

/// The `Content-MD5` header value of `data` (the small XML bodies we send).
pub fn content_md5_of(data: &[u8]) -> String {
    content_md5(&md5(data))
}

/// SHA-256, for payload hashes in signatures.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

/// The digests of a single-part body, each computed once: MD5 for the
/// server's check (Content-MD5), XXH3 for readers'.
pub struct SinglePart {
    pub md5: [u8; 16],
    pub xxh3: [u8; 16],
}

impl SinglePart {
    pub fn of(data: &[u8]) -> Self {
        SinglePart {
            md5: md5(data),
            xxh3: xxh3(data),
        }
    }

    /// Every digest an identical object may be recorded with: ours (XXH3
    /// metadata) or another tool's (MD5 ETag).
    pub fn identities(&self) -> [Expected; 2] {
        [Expected::Xxh3(self.xxh3), Expected::Md5(self.md5)]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Response headers as the transport hands them over.
    pub(crate) fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn verify(expected: Expected, body: &[u8], chunk: usize) -> Result<(), String> {
        let mut v = Verifier::new(expected);
        body.chunks(chunk.max(1)).for_each(|c| v.update(c));
        v.finish()
    }

    #[test]
    fn metadata_digest_wins_over_the_etag() {
        let want = xxh3(b"hello");
        let h = [
            (META_XXH3, hex::encode(&want)),
            ("etag", "\"ffffffffffffffffffffffffffffffff\"".to_string()),
        ];
        let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let e = expected(&headers(&pairs), 5, true).unwrap();
        assert_eq!(e, Expected::Xxh3(want));
        assert_eq!(verify(e.clone(), b"hello", 2), Ok(()));
        assert!(verify(e, b"hellp", 2).is_err());
    }

    #[test]
    fn plain_etag_is_an_md5_unless_encrypted() {
        let etag = format!("\"{}\"", hex::encode(&md5(b"abc")));
        let plain = [("etag", etag.as_str())];
        assert_eq!(
            expected(&headers(&plain), 3, true).unwrap(),
            Expected::Md5(md5(b"abc"))
        );
        let kms = [
            ("etag", etag.as_str()),
            ("x-amz-server-side-encryption", "aws:kms"),
        ];
        assert_eq!(
            expected(&headers(&kms), 3, true).unwrap(),
            Expected::LengthOnly
        );
        assert_eq!(
            expected(&headers(&plain), 3, false).unwrap(),
            Expected::LengthOnly
        );
    }

    #[test]
    fn multipart_etag_needs_a_consistent_part_size() {
        let body: Vec<u8> = (0..25u32).map(|i| i as u8).collect();
        let mut digests = PartDigests::default();
        for part in body.chunks(10) {
            digests.push(&md5(part));
        }
        let etag = digests.etag();
        assert!(etag.ends_with("-3"));
        let good = [("etag", etag.as_str()), (META_PART_SIZE, "10")];
        let e = expected(&headers(&good), 25, true).unwrap();
        assert!(matches!(e, Expected::PartMd5s { parts: 3, .. }));
        for chunk in [1, 3, 10, 7, 100] {
            assert_eq!(verify(e.clone(), &body, chunk), Ok(()));
        }
        let mut flipped = body.clone();
        flipped[12] ^= 1;
        assert!(verify(e.clone(), &flipped, 4).is_err());
        assert!(verify(e, &body[..24], 4).is_err());
        // A part size that disagrees with the count is not trusted.
        let bad = [("etag", etag.as_str()), (META_PART_SIZE, "5")];
        assert_eq!(
            expected(&headers(&bad), 25, true).unwrap(),
            Expected::LengthOnly
        );
        let none = [("etag", etag.as_str())];
        assert_eq!(
            expected(&headers(&none), 25, true).unwrap(),
            Expected::LengthOnly
        );
    }

    #[test]
    fn md5_mismatch_names_both_digests() {
        let err = verify(Expected::Md5(md5(b"abc")), b"abd", 2).unwrap_err();
        assert!(err.contains(&hex::encode(&md5(b"abc"))));
        assert!(err.contains(&hex::encode(&md5(b"abd"))));
    }

    #[test]
    fn unreadable_metadata_is_corruption() {
        let h = [(META_XXH3, "zz")];
        assert!(matches!(
            expected(&headers(&h), 1, true),
            Err(Error::Corrupted(_))
        ));
    }
}
