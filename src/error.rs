//! The one error type of the component. Each variant is one case of the WIT
//! `error` variant, so the export layer converts without losing anything.
//!
//! Messages are built from what the server said and from configuration *keys*,
//! never from secret values: nothing in this module ever sees a secret.

use std::fmt;

/// An error answered by the S3 server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct S3Failure {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: String,
}

impl fmt::Display for S3Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if !self.request_id.is_empty() {
            write!(f, " (request id {})", self.request_id)?;
        }
        Ok(())
    }
}

/// Every failure of the store (WIT `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    NotFound(String),
    AlreadyExists(String),
    InvalidConfig { key: String, message: String },
    InvalidArgument(String),
    Auth(S3Failure),
    PermissionDenied(String),
    Unsupported(String),
    Corrupted(String),
    Unavailable(String),
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A configuration error naming the key at fault.
    pub fn config(key: &str, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// Classifies a final (no longer retried) S3 error answer; `what` names the
    /// object or bucket the request was about, for the message.
    pub fn from_s3(what: &str, failure: S3Failure) -> Self {
        match (failure.status, failure.code.as_str()) {
            (
                _,
                "SignatureDoesNotMatch"
                | "InvalidAccessKeyId"
                | "NotSignedUp"
                | "RequestTimeTooSkewed"
                | "ExpiredToken"
                | "InvalidToken"
                | "TokenRefreshRequired"
                | "AuthorizationHeaderMalformed"
                | "InvalidSecurity"
                | "MissingSecurityHeader",
            ) => Error::Auth(failure),
            (_, "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "NoSuchVersion") => {
                Error::NotFound(format!("{what}: {failure}"))
            }
            (_, "AccessDenied" | "AllAccessDisabled" | "AccountProblem") => {
                Error::PermissionDenied(format!("{what}: {failure}"))
            }
            (_, "BucketAlreadyExists") => Error::AlreadyExists(format!("{what}: {failure}")),
            (_, "NotImplemented") => Error::Unsupported(format!("{what}: {failure}")),
            (401, _) => Error::Auth(failure),
            (403, _) => Error::PermissionDenied(format!("{what}: {failure}")),
            (404, _) => Error::NotFound(format!("{what}: {failure}")),
            (501, _) => Error::Unsupported(format!("{what}: {failure}")),
            (500..=599, _) => Error::Unavailable(format!("{what}: {failure}")),
            _ => Error::Other(format!("{what}: {failure}")),
        }
    }
}

impl Error {
    /// The same error with its message rewritten by `f` (for an S3 failure,
    /// the server's message): to say in what state a failure left things.
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Error {
        match self {
            Error::NotFound(m) => Error::NotFound(f(m)),
            Error::AlreadyExists(m) => Error::AlreadyExists(f(m)),
            Error::InvalidConfig { key, message } => Error::InvalidConfig {
                key,
                message: f(message),
            },
            Error::InvalidArgument(m) => Error::InvalidArgument(f(m)),
            Error::Auth(failure) => Error::Auth(S3Failure {
                message: f(failure.message),
                ..failure
            }),
            Error::PermissionDenied(m) => Error::PermissionDenied(f(m)),
            Error::Unsupported(m) => Error::Unsupported(f(m)),
            Error::Corrupted(m) => Error::Corrupted(f(m)),
            Error::Unavailable(m) => Error::Unavailable(f(m)),
            Error::Other(m) => Error::Other(f(m)),
        }
    }

    /// This error with every occurrence of each of `secrets` replaced by
    /// `<redacted>`. Our messages never hold a secret, but a server's may: it
    /// can echo a request header (the session token, the SSE-C key) in its
    /// error message or anywhere in a document we quote.
    pub fn redacted(self, secrets: &[&str]) -> Error {
        let scrub = |text: String| {
            secrets
                .iter()
                .filter(|secret| !secret.is_empty())
                .fold(text, |text, secret| without_secret(&text, secret))
        };
        match self {
            Error::NotFound(m) => Error::NotFound(scrub(m)),
            Error::AlreadyExists(m) => Error::AlreadyExists(scrub(m)),
            Error::InvalidConfig { key, message } => Error::InvalidConfig {
                key: scrub(key),
                message: scrub(message),
            },
            Error::InvalidArgument(m) => Error::InvalidArgument(scrub(m)),
            Error::Auth(failure) => Error::Auth(S3Failure {
                status: failure.status,
                code: scrub(failure.code),
                message: scrub(failure.message),
                request_id: scrub(failure.request_id),
            }),
            Error::PermissionDenied(m) => Error::PermissionDenied(scrub(m)),
            Error::Unsupported(m) => Error::Unsupported(scrub(m)),
            Error::Corrupted(m) => Error::Corrupted(scrub(m)),
            Error::Unavailable(m) => Error::Unavailable(scrub(m)),
            Error::Other(m) => Error::Other(scrub(m)),
        }
    }
}

const REDACTED: &str = "<redacted>";
/// The shortest cut-off start of a secret that is removed: shorter ones are
/// ordinary text too often, and give too little away to matter.
const MIN_SECRET_START: usize = 4;

/// `text` without `secret`, whole or cut short: a quoted excerpt that was
/// truncated ends in `...`, and the cut may fall inside a secret.
fn without_secret(text: &str, secret: &str) -> String {
    let text = text.replace(secret, REDACTED);
    let mut out = String::with_capacity(text.len());
    let mut pieces = text.split("...").peekable();
    while let Some(piece) = pieces.next() {
        if pieces.peek().is_none() {
            out.push_str(piece);
            break;
        }
        let cut = (MIN_SECRET_START..secret.len())
            .rev()
            .filter(|&n| secret.is_char_boundary(n))
            .find(|&n| piece.ends_with(&secret[..n]));
        match cut {
            Some(n) => {
                out.push_str(&piece[..piece.len() - n]);
                out.push_str(REDACTED);
            }
            None => out.push_str(piece),
        }
        out.push_str("...");
    }
    out
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(m) => write!(f, "not found: {m}"),
            Error::AlreadyExists(m) => write!(f, "already exists: {m}"),
            Error::InvalidConfig { key, message } => {
                write!(f, "invalid configuration key `{key}`: {message}")
            }
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::Auth(failure) => write!(f, "authentication failed: {failure}"),
            Error::PermissionDenied(m) => write!(f, "permission denied: {m}"),
            Error::Unsupported(m) => write!(f, "unsupported: {m}"),
            Error::Corrupted(m) => write!(f, "corrupted: {m}"),
            Error::Unavailable(m) => write!(f, "unavailable: {m}"),
            Error::Other(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, code: &str) -> S3Failure {
        S3Failure {
            status,
            code: code.into(),
            message: "m".into(),
            request_id: "r".into(),
        }
    }

    #[test]
    fn classifies_by_code_before_status() {
        assert!(matches!(
            Error::from_s3("x", failure(403, "SignatureDoesNotMatch")),
            Error::Auth(_)
        ));
        assert!(matches!(
            Error::from_s3("x", failure(403, "AccessDenied")),
            Error::PermissionDenied(_)
        ));
        // s3s-fs answers a missing bucket on GET with NoSuchKey and status 404.
        assert!(matches!(
            Error::from_s3("x", failure(404, "NoSuchBucket")),
            Error::NotFound(_)
        ));
        assert!(matches!(
            Error::from_s3("x", failure(503, "SlowDown")),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from_s3("x", failure(400, "InvalidArgument")),
            Error::Other(_)
        ));
    }

    #[test]
    fn redacted_removes_every_secret_from_every_field() {
        let token = "FwoGZXIvYXdzEBYaDH";
        let echoed = S3Failure {
            status: 400,
            code: format!("Bad{token}"),
            message: format!("you sent {token} and {token}, and key K3Y=="),
            request_id: token.into(),
        };
        let redacted = Error::Auth(echoed).redacted(&[token, "", "K3Y=="]);
        let text = format!("{redacted} {redacted:?}");
        assert!(!text.contains(token) && !text.contains("K3Y=="), "{text}");
        assert!(text.contains("you sent <redacted> and <redacted>, and key <redacted>"));
        for error in [
            Error::NotFound(token.into()),
            Error::Other(format!("x{token}x")),
            Error::InvalidConfig {
                key: "k".into(),
                message: token.into(),
            },
        ] {
            let redacted = error.redacted(&[token]);
            assert!(!format!("{redacted:?}").contains(token), "{redacted:?}");
        }
        // An excerpt cut short inside the secret, whatever follows it.
        let cut = Error::Other(format!("echo {}... (request id r)", &token[..10]));
        assert_eq!(
            cut.redacted(&[token]).to_string(),
            "echo <redacted>... (request id r)"
        );
        let short = Error::Other("FwoG... Fwo... and more...".into());
        assert_eq!(
            short.redacted(&[token]).to_string(),
            "<redacted>... Fwo... and more..."
        );
        let untouched = Error::Unavailable("nothing secret".into());
        assert_eq!(untouched.clone().redacted(&[token, ""]), untouched);
    }

    #[test]
    fn display_names_code_message_and_request_id() {
        let e = Error::from_s3("packfiles/ab/cd", failure(500, "InternalError"));
        assert_eq!(
            e.to_string(),
            "unavailable: packfiles/ab/cd: HTTP 500 InternalError: m (request id r)"
        );
    }
}
