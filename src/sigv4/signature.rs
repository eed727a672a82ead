//! SigV4 tasks 2 and 3: the string to sign and the HMAC-SHA256 signature over it,
//! with the derived signing key cached per credential scope.

use std::fmt;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

pub(super) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The string to sign: algorithm, timestamp, scope and the hash of the
/// canonical request, one per line.
pub(super) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let hash = hex(&Sha256::digest(canonical_request.as_bytes()));
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{hash}")
}

/// The signing key: the secret is never used directly, only through this
/// HMAC chain over the scope, so a leaked key is limited to one day, region
/// and service.
pub(super) fn signing_key(secret: &Secret, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{}", secret.expose());
    let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

pub(super) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC hashes keys longer than a block and pads shorter ones: every length
    // is valid, the error case of the generic `KeyInit` API cannot occur.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Lower-case hex, the encoding of every hash and signature in SigV4.
pub(super) use crate::hex::encode as hex;

/// The signing key of the last credential scope signed for. The scope names
/// everything the key derives from but the secret (date, region, service), so
/// a new day or a region change is a cache miss, never a stale key. Saves four
/// HMACs per request; a `Mutex` keeps [`super::Signer`] `Send + Sync`.
#[derive(Default)]
pub(super) struct KeyCache(Mutex<Option<(String, [u8; 32])>>);

impl KeyCache {
    pub(super) fn get(&self, scope: &str, derive: impl FnOnce() -> [u8; 32]) -> [u8; 32] {
        // A poisoned lock only means another signer call panicked; the cached
        // pair is still a consistent (scope, key), so keep using it.
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some((cached, key)) if cached == scope => *key,
            _ => {
                let key = derive();
                *slot = Some((scope.to_owned(), key));
                key
            }
        }
    }
}

/// A clone starts empty: the key is cheap to derive again.
impl Clone for KeyCache {
    fn clone(&self) -> Self {
        KeyCache::default()
    }
}

/// The derived key is a credential (valid for a day): never printed.
impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyCache(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2: a key shorter than the block.
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    // The derived key published in the AWS SigV4 documentation ("Derive a
    // signing key": 20150830 / us-east-1 / iam).
    #[test]
    fn signing_key_matches_aws_example() {
        let secret = Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        assert_eq!(
            hex(&signing_key(&secret, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn cache_derives_once_per_scope() {
        let cache = KeyCache::default();
        let mut derivations = 0;
        let mut get = |scope: &str, key: u8| {
            cache.get(scope, || {
                derivations += 1;
                [key; 32]
            })
        };
        assert_eq!(get("d1/r/s/aws4_request", 1), [1; 32]);
        assert_eq!(get("d1/r/s/aws4_request", 2), [1; 32]);
        assert_eq!(get("d2/r/s/aws4_request", 3), [3; 32]);
        assert_eq!(derivations, 2);
    }

    #[test]
    fn cache_debug_hides_the_key() {
        let cache = KeyCache::default();
        cache.get("scope", || [0xab; 32]);
        let shown = format!("{cache:?}");
        assert!(!shown.contains("171") && !shown.contains("ab"), "{shown}");
    }
}
