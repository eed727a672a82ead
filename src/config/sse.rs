//! SSE-C: the server encrypts objects with a key the client sends on every
//! request and never stores (`sse_customer_key`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};

use crate::secret::Secret;

/// AES-256: the only algorithm SSE-C offers.
const KEY_BYTES: usize = 32;

/// The key and its MD5, both base64 as the `x-amz-server-side-encryption-
/// customer-key` and `-key-MD5` headers carry them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseCustomerKey {
    key: Secret,
    key_md5: String,
}

impl SseCustomerKey {
    /// Standard base64 of exactly 32 bytes, as Go requires. Messages never
    /// quote the value: it is a secret.
    pub(super) fn parse(text: &str) -> Result<SseCustomerKey, String> {
        let raw = STANDARD
            .decode(text)
            .map_err(|_| "must be standard base64 (with `=` padding)".to_owned())?;
        if raw.len() != KEY_BYTES {
            return Err(format!(
                "must encode {KEY_BYTES} bytes (AES-256), not {}",
                raw.len()
            ));
        }
        Ok(SseCustomerKey {
            key: Secret::new(text),
            key_md5: STANDARD.encode(Md5::digest(&raw)),
        })
    }

    pub fn key_base64(&self) -> &Secret {
        &self.key
    }

    pub fn key_md5_base64(&self) -> &str {
        &self.key_md5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_of_the_raw_key() {
        // 32 zero bytes; MD5 from `head -c32 /dev/zero | openssl md5 -binary | base64`.
        let zeros = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let key = SseCustomerKey::parse(zeros).unwrap();
        assert_eq!(key.key_md5_base64(), "cLyPS3KoaSFGi/joRB3OUQ==");
        assert_eq!(key.key_base64().expose(), zeros);
    }

    #[test]
    fn refuses_other_lengths_and_encodings() {
        let short = STANDARD.encode([7u8; 16]);
        let unpadded = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let url_safe = "____________________________________________";
        for bad in [short.as_str(), unpadded, url_safe, "not base64!"] {
            let message = SseCustomerKey::parse(bad).unwrap_err();
            assert!(!message.contains(bad), "{message}");
        }
    }
}
