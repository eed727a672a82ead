//! The secret values the adversarial tests put in store configurations. They
//! live in `secrets.txt`, which `.ci/run` reads too: it fails the run if any of
//! them shows up anywhere in the test output. So a test must never print a
//! configuration; [`assert_no_secret`] names a leaked secret, never its value.

const FILE: &str = include_str!("secrets.txt");

/// The value of `name` in `secrets.txt`.
///
/// # Panics
/// If the file has no such line: the file and the tests disagree.
pub fn value(name: &str) -> &'static str {
    entries()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("tests/support/secrets.txt has no `{name}`"))
}

/// The secret key of every adversarial configuration.
pub fn secret_key() -> &'static str {
    value("secret_access_key")
}

pub fn session_token() -> &'static str {
    value("session_token")
}

/// A valid SSE-C key (base64 of 32 bytes).
pub fn sse_customer_key() -> &'static str {
    value("sse_customer_key")
}

/// A base64 SSE-C key of the wrong length.
pub fn sse_customer_key_short() -> &'static str {
    value("sse_customer_key_short")
}

fn entries() -> impl Iterator<Item = (&'static str, &'static str)> {
    FILE.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
}

/// The name of the first secret that `text` contains, if any.
pub fn leaked(text: &str) -> Option<&'static str> {
    entries()
        .find(|(_, value)| text.contains(value))
        .map(|(name, _)| name)
}

/// Fails the test if `text` (described by `context`) holds a secret value;
/// the message names the secret, never its value.
pub fn assert_no_secret(text: &str, context: &str) {
    if let Some(name) = leaked(text) {
        panic!("{context}: the {name} leaked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_is_distinctive_and_found() {
        let names = [
            "secret_access_key",
            "session_token",
            "sse_customer_key",
            "sse_customer_key_raw",
            "sse_customer_key_short",
        ];
        for name in names {
            assert!(value(name).len() >= 16, "{name} is too short to grep for");
            let text = format!("before {} after", value(name));
            assert_eq!(leaked(&text), Some(name));
        }
        assert_eq!(leaked("nothing secret here"), None);
    }
}
