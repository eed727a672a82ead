//! Failures as gRPC statuses. Plakar shows a status's message and nothing
//! else (and `UNAVAILABLE` as "I/O error communicating with the
//! integration"), so the message is what the user needs: the component's
//! own (the key, the S3 code and message, the object), with what to do for
//! the failures a user fixes in the configuration. Secrets never reach here:
//! the component removes them from its errors, and the host's messages name
//! keys, not values.

use kloset_host::HostError;
use kloset_s3::error::{Error, S3Failure};
use tonic::{Code, Status};

/// The status of a failed call of the host library.
pub fn of(error: HostError) -> Status {
    match error {
        HostError::Store(e) => of_store(e),
        HostError::Trap(_) => Status::internal(format!(
            "{error} (that instance of the component was discarded; the next call gets a new one)"
        )),
        HostError::Setup(_) => Status::failed_precondition(error.to_string()),
        HostError::Io(_) => Status::internal(error.to_string()),
    }
}

/// The typed error of the component, one gRPC code per case.
fn of_store(error: Error) -> Status {
    let code = match &error {
        Error::NotFound(_) => Code::NotFound,
        Error::AlreadyExists(_) => Code::AlreadyExists,
        Error::InvalidConfig { .. } | Error::InvalidArgument(_) => Code::InvalidArgument,
        Error::Auth(_) => Code::Unauthenticated,
        Error::PermissionDenied(_) => Code::PermissionDenied,
        Error::Unsupported(_) => Code::Unimplemented,
        Error::Corrupted(_) => Code::DataLoss,
        Error::Unavailable(_) => Code::Unavailable,
        Error::Other(_) => Code::Unknown,
    };
    let advice = match &error {
        Error::Auth(failure) => auth_advice(failure),
        _ => None,
    };
    match advice {
        Some(advice) => Status::new(code, format!("{error}; {advice}")),
        None => Status::new(code, error.to_string()),
    }
}

/// Which configuration key (or what else) to check for a refused signature.
fn auth_advice(failure: &S3Failure) -> Option<&'static str> {
    Some(match failure.code.as_str() {
        "SignatureDoesNotMatch" => {
            "check secret_access_key (and that access_key is the key it goes with)"
        }
        "InvalidAccessKeyId" | "NotSignedUp" => "check access_key",
        "RequestTimeTooSkewed" => "set this machine's clock right (NTP)",
        "ExpiredToken" | "InvalidToken" | "TokenRefreshRequired" => {
            "renew session_token (and the keys it came with)"
        }
        "AuthorizationHeaderMalformed" => "check region",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: &str) -> S3Failure {
        S3Failure {
            status: 403,
            code: code.into(),
            message: "m".into(),
            request_id: String::new(),
        }
    }

    #[test]
    fn every_store_error_has_its_code() {
        let cases = [
            (Error::NotFound("x".into()), Code::NotFound),
            (Error::AlreadyExists("x".into()), Code::AlreadyExists),
            (Error::config("location", "bad"), Code::InvalidArgument),
            (Error::InvalidArgument("x".into()), Code::InvalidArgument),
            (Error::Auth(failure("AccessDenied")), Code::Unauthenticated),
            (Error::PermissionDenied("x".into()), Code::PermissionDenied),
            (Error::Unsupported("x".into()), Code::Unimplemented),
            (Error::Corrupted("x".into()), Code::DataLoss),
            (Error::Unavailable("x".into()), Code::Unavailable),
            (Error::Other("x".into()), Code::Unknown),
        ];
        for (error, code) in cases {
            let text = error.to_string();
            let status = of(HostError::Store(error));
            assert_eq!(status.code(), code, "{text}");
            assert!(status.message().starts_with(&text), "{}", status.message());
        }
    }

    #[test]
    fn a_refused_signature_says_which_key_to_check() {
        let status = of(HostError::Store(Error::Auth(failure(
            "SignatureDoesNotMatch",
        ))));
        assert_eq!(status.code(), Code::Unauthenticated);
        assert!(
            status.message().contains("SignatureDoesNotMatch"),
            "{status:?}"
        );
        assert!(
            status.message().contains("check secret_access_key"),
            "{status:?}"
        );
        let status = of(HostError::Store(Error::Auth(failure("InvalidAccessKeyId"))));
        assert!(status.message().ends_with("check access_key"), "{status:?}");
    }

    #[test]
    fn a_trap_says_the_instance_was_replaced() {
        let status = of(HostError::Trap("wasm trap: unreachable".into()));
        assert_eq!(status.code(), Code::Internal);
        assert!(status.message().contains("unreachable"));
        assert!(status.message().contains("new one"));
        let status = of(HostError::Setup("component x: no such file".into()));
        assert_eq!(status.code(), Code::FailedPrecondition);
    }

    #[test]
    fn a_config_error_names_the_key() {
        let status = of(HostError::Store(Error::config(
            "storage_class",
            "`X` is not one of",
        )));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("`storage_class`"), "{status:?}");
    }
}
