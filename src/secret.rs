//! Secret values (secret key, session token, SSE-C key). The type has no
//! `Display` and its `Debug` prints a placeholder, so a secret cannot reach an
//! error message, a log line or `{:?}` output by accident: the only way to the
//! value is [`Secret::expose`], called where the value is really needed (signing,
//! the SSE-C headers).

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG");
        assert!(!format!("{s:?}").contains("wJalr"));
        assert!(!format!("{:?}", Some(&s)).contains("wJalr"));
    }
}
