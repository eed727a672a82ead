//! The raw `key = value` pairs of a store configuration, read through typed
//! getters so that every bad value becomes an error naming its key.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Every key a store configuration may hold: the Go connector's keys first
/// (same names and meanings, so one configuration serves both), then ours.
pub const KEYS: &[&str] = &[
    "location",
    "access_key",
    "secret_access_key",
    "use_tls",
    "tls_insecure_no_verify",
    "storage_class",
    "virtual_host",
    "endpoint",
    "port",
    "root",
    "region",
    "sse_customer_key",
    "session_token",
    "provider",
    "part_size",
    "max_parts",
    "checksum",
    "conditional_writes",
    "verify_etag",
    "max_retries",
    "retry_budget",
    "connect_timeout",
    "first_byte_timeout",
    "between_bytes_timeout",
    "object_lock_mode",
    "object_lock_retention",
    "point_in_time",
];

/// A closed set of named values (storage classes, providers, ...). Names match
/// case-insensitively, as Go matches `storage_class`.
pub(super) trait Choice: Copy + 'static {
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
}

/// The value of `T` called `text`, or a message listing the accepted names.
pub(super) fn parse_choice<T: Choice>(text: &str) -> Result<T, String> {
    T::ALL
        .iter()
        .copied()
        .find(|c| c.name().eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            let names: Vec<&str> = T::ALL.iter().map(|c| c.name()).collect();
            format!("{} is not one of {}", quoted(text), names.join(", "))
        })
}

/// Go's `strconv.ParseBool`: exactly these spellings, nothing else.
pub(super) fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("{} is not a boolean (true or false)", quoted(text))),
    }
}

/// A (non-secret) value for a message; an empty one is named as such.
pub(super) fn quoted(text: &str) -> String {
    if text.is_empty() {
        "an empty value".to_owned()
    } else {
        format!("`{text}`")
    }
}

/// The pairs, checked: only known keys, each at most once.
pub(super) struct Pairs<'a>(BTreeMap<&'a str, &'a str>);

impl<'a> Pairs<'a> {
    /// A repeated key is an error rather than "last one wins": the two values
    /// may disagree and there is no telling which one the user meant.
    pub fn new(pairs: &'a [(String, String)]) -> Result<Self> {
        let mut map = BTreeMap::new();
        for (key, value) in pairs {
            if !KEYS.contains(&key.as_str()) {
                return Err(Error::config(
                    key,
                    "unknown key (see the README for the keys)",
                ));
            }
            if map.insert(key.as_str(), value.as_str()).is_some() {
                return Err(Error::config(key, "given more than once"));
            }
        }
        Ok(Pairs(map))
    }

    /// The value of a key given with a non-empty value. Go reads an empty
    /// `endpoint`, `port`, `root`, `region` or `sse_customer_key` as absent.
    pub fn text(&self, key: &str) -> Option<&'a str> {
        self.0.get(key).copied().filter(|v| !v.is_empty())
    }

    /// The non-empty value of a key that must be given.
    pub fn required(&self, key: &str) -> Result<&'a str> {
        match self.0.get(key).copied() {
            None => Err(Error::config(key, "required")),
            Some("") => Err(Error::config(key, "must not be empty")),
            Some(v) => Ok(v),
        }
    }

    /// `parse` applied to the value of a given key (even empty: an empty
    /// boolean or number is as wrong as any other bad spelling).
    pub fn parse<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>> {
        self.0.get(key).map(|v| with_key(key, parse(v))).transpose()
    }

    /// `parse` applied to the value of a key given non-empty (see [`Pairs::text`]).
    pub fn parse_text<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>> {
        self.text(key).map(|v| with_key(key, parse(v))).transpose()
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        self.parse(key, parse_bool)
    }

    pub fn choice<T: Choice>(&self, key: &str) -> Result<Option<T>> {
        self.parse(key, parse_choice::<T>)
    }
}

fn with_key<T>(key: &str, parsed: Result<T, String>) -> Result<T> {
    parsed.map_err(|message| Error::config(key, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn key_of(e: Error) -> String {
        match e {
            Error::InvalidConfig { key, .. } => key,
            other => panic!("not a config error: {other:?}"),
        }
    }

    #[test]
    fn rejects_unknown_and_repeated_keys() {
        let unknown = pairs(&[("location", "x"), ("secret_acess_key", "s")]);
        assert_eq!(
            key_of(Pairs::new(&unknown).err().unwrap()),
            "secret_acess_key"
        );
        let twice = pairs(&[("region", "a"), ("region", "a")]);
        assert_eq!(key_of(Pairs::new(&twice).err().unwrap()), "region");
    }

    #[test]
    fn bool_accepts_exactly_go_spellings() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        for bad in ["", "yes", "tRUE", " true", "2", "on"] {
            assert!(parse_bool(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn empty_text_is_absent_but_empty_bool_is_an_error() {
        let list = pairs(&[("endpoint", ""), ("use_tls", "")]);
        let keys = Pairs::new(&list).unwrap();
        assert_eq!(keys.text("endpoint"), None);
        assert_eq!(key_of(keys.bool("use_tls").unwrap_err()), "use_tls");
        assert_eq!(key_of(keys.required("endpoint").unwrap_err()), "endpoint");
        assert_eq!(key_of(keys.required("location").unwrap_err()), "location");
    }
}
