//! Where kloset objects live in the bucket. The keys are the Go connector's,
//! byte for byte, so both connectors read and write the same kloset:
//!
//! ```text
//! <prefix>CONFIG
//! <prefix>packfiles/<mac[0]:02x>/<mac:64x>
//! <prefix>states/<mac[0]:02x>/<mac:64x>
//! <prefix>locks/<mac:64x>
//! ```
//!
//! Archive storage classes (GLACIER, DEEP_ARCHIVE) add `.frozen` keys: the
//! archive-class copy of `CONFIG` and of each state, and each packfile (see
//! [`crate::store::Shared::placement`]).

use std::fmt;

use crate::error::{Error, Result};
use crate::hex;

/// What an object is (kloset `StorageResource`, the kinds S3 stores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Packfile,
    State,
    Lock,
}

impl Kind {
    /// The name kloset gives the kind, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Packfile => "packfile",
            Kind::State => "state",
            Kind::Lock => "lock",
        }
    }

    fn directory(self) -> &'static str {
        match self {
            Kind::Packfile => "packfiles/",
            Kind::State => "states/",
            Kind::Lock => "locks/",
        }
    }

    /// Packfiles and states are spread over 256 directories by their first
    /// byte; locks are few and are not.
    fn fanned_out(self) -> bool {
        !matches!(self, Kind::Lock)
    }
}

/// A kloset object's 32-byte MAC, which names it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 32]);

impl Mac {
    pub fn from_slice(bytes: &[u8]) -> Result<Mac> {
        let array = bytes.try_into().map_err(|_| {
            Error::InvalidArgument(format!("a MAC is 32 bytes, not {}", bytes.len()))
        })?;
        Ok(Mac(array))
    }

    /// 64 lower-case hex digits (Go's `%016x` of a `[32]byte`).
    pub fn hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// Exactly 64 lower-case hex digits: what [`Mac::hex`] writes, and
    /// nothing else, so a listed key maps back to one MAC only.
    fn from_hex(text: &str) -> Option<Mac> {
        hex::decode_lower(text)?.try_into().ok().map(Mac)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The object keys of one kloset, under its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
}

impl Layout {
    /// `prefix` as [`crate::config::Config::prefix`] holds it: `""` or `a/b/`.
    pub fn new(prefix: &str) -> Layout {
        Layout {
            prefix: prefix.to_owned(),
        }
    }

    pub fn config_key(&self) -> String {
        format!("{}CONFIG", self.prefix)
    }

    /// The archive-class copy of an object (`CONFIG`, a packfile, a state)
    /// when the storage class is GLACIER or DEEP_ARCHIVE: Go's `.frozen`.
    pub fn frozen(key: &str) -> String {
        format!("{key}.frozen")
    }

    pub fn object_key(&self, kind: Kind, mac: &Mac) -> String {
        let prefix = self.list_prefix(kind);
        let hex = mac.hex();
        if kind.fanned_out() {
            format!("{prefix}{}/{hex}", &hex[..2])
        } else {
            format!("{prefix}{hex}")
        }
    }

    /// What to list to find every object of `kind`.
    pub fn list_prefix(&self, kind: Kind) -> String {
        format!("{}{}", self.prefix, kind.directory())
    }

    /// The MAC of a listed key, or `None` when the key is not exactly what
    /// [`Layout::object_key`] writes (another directory, upper case, a
    /// suffix): List skips such keys rather than return a MAC that `get`
    /// would then look up under a different key.
    pub fn parse_key(&self, kind: Kind, key: &str) -> Option<Mac> {
        let rest = key
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(kind.directory())?;
        let hex = match rest.split_once('/') {
            Some((dir, hex)) if kind.fanned_out() && hex.get(..2) == Some(dir) => hex,
            Some(_) => return None,
            None if kind.fanned_out() => return None,
            None => rest,
        };
        Mac::from_hex(hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream of MACs (xorshift64*), seeded per test.
    fn macs(seed: u64, count: usize) -> Vec<Mac> {
        let mut state = seed;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        (0..count)
            .map(|_| {
                let mut mac = [0u8; 32];
                mac.chunks_exact_mut(8)
                    .for_each(|c| c.copy_from_slice(&next().to_le_bytes()));
                Mac(mac)
            })
            .collect()
    }

    fn sample() -> Mac {
        let mut mac = [0u8; 32];
        mac.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i as u8).wrapping_mul(8).wrapping_add(0xa0));
        Mac(mac)
    }

    #[test]
    fn keys_match_the_go_connector() {
        // Go: fmt.Sprintf("%016x", mac) of the same [32]byte.
        let hex = "a0a8b0b8c0c8d0d8e0e8f0f80008101820283038404850586068707880889098";
        let layout = Layout::new("backups/host1/");
        assert_eq!(sample().hex(), hex);
        assert_eq!(layout.config_key(), "backups/host1/CONFIG");
        assert_eq!(
            Layout::frozen(&layout.config_key()),
            "backups/host1/CONFIG.frozen"
        );
        assert_eq!(
            layout.object_key(Kind::Packfile, &sample()),
            format!("backups/host1/packfiles/a0/{hex}")
        );
        assert_eq!(
            Layout::new("").object_key(Kind::State, &sample()),
            format!("states/a0/{hex}")
        );
        assert_eq!(
            Layout::new("").object_key(Kind::Lock, &sample()),
            format!("locks/{hex}")
        );
        assert_eq!(layout.list_prefix(Kind::Lock), "backups/host1/locks/");
    }

    #[test]
    fn parse_key_inverts_object_key() {
        for (prefix, seed) in [("", 1), ("p/", 2), ("a/b/c/", 3)] {
            let layout = Layout::new(prefix);
            for mac in macs(seed, 200) {
                for kind in [Kind::Packfile, Kind::State, Kind::Lock] {
                    let key = layout.object_key(kind, &mac);
                    assert_eq!(layout.parse_key(kind, &key), Some(mac), "{key}");
                }
            }
        }
    }

    #[test]
    fn parse_key_skips_keys_of_another_shape() {
        let layout = Layout::new("p/");
        let hex = sample().hex();
        let upper = hex.to_uppercase();
        let junk = [
            format!("p/packfiles/A0/{upper}"),
            format!("p/packfiles/a0/{upper}"),
            format!("p/packfiles/a1/{hex}"),
            format!("p/packfiles/a0/{}", &hex[1..]),
            format!("p/packfiles/a0/{hex}0"),
            format!("p/packfiles/a0/{hex}.frozen"),
            format!("p/packfiles/a0/x/{hex}"),
            format!("p/packfiles/{hex}"),
            format!("packfiles/a0/{hex}"),
            format!("q/packfiles/a0/{hex}"),
            format!("p/states/a0/{hex}"),
            format!("p/packfiles/a0/{hex}/"),
            "p/packfiles/a0/".to_owned(),
            "".to_owned(),
        ];
        for key in &junk {
            assert_eq!(layout.parse_key(Kind::Packfile, key), None, "{key}");
        }
        assert_eq!(
            layout.parse_key(Kind::Lock, &format!("p/locks/a0/{hex}")),
            None
        );
        assert_eq!(
            layout.parse_key(Kind::Lock, &format!("p/locks/{upper}")),
            None
        );
    }

    #[test]
    fn from_slice_names_the_wrong_length() {
        assert_eq!(Mac::from_slice(&[1; 32]), Ok(Mac([1; 32])));
        let short = Mac::from_slice(&[1; 31]).unwrap_err();
        assert_eq!(
            short,
            Error::InvalidArgument("a MAC is 32 bytes, not 31".into())
        );
        assert!(Mac::from_slice(&[]).is_err());
        assert!(Mac::from_slice(&[0; 33]).is_err());
    }

    #[test]
    fn debug_and_display_are_hex() {
        let mac = Mac([0xab; 32]);
        assert_eq!(format!("{mac:?}"), "ab".repeat(32));
        assert_eq!(format!("{mac}"), mac.hex());
    }
}
