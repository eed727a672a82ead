//! What a final S3 refusal means, given what the request carried. S3 answers
//! the same few codes for many causes (`InvalidArgument` for a wrong SSE-C key
//! and for an unknown storage class; 403 for a missing permission, a wrong
//! SSE-C key or an archived object); knowing which headers went out turns
//! those into errors that name the configuration key to fix. Pure: the
//! messages are unit-tested. Never quotes a secret: only the server's code and
//! message, and configuration *keys*.

use crate::config::StorageClass;
use crate::error::{Error, S3Failure};

/// What a refused request carried, besides signature and body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// SSE-C headers (`sse_customer_key` is set).
    pub sse_c: bool,
    /// `x-amz-storage-class` with this (non-STANDARD) class.
    pub storage_class: Option<StorageClass>,
    /// Object Lock headers (`object_lock_mode` is set).
    pub lock: bool,
}

/// The error for `failure`, a refusal of a request about `what` that carried
/// `sent`; [`Error::from_s3`] when the context adds nothing.
pub fn explain(what: &str, failure: S3Failure, sent: Sent) -> Error {
    let code = failure.code.as_str();
    if code == "InvalidObjectState" {
        return Error::Unsupported(format!(
            "{what} is in an archive storage class (GLACIER, DEEP_ARCHIVE) and must be \
             restored before it can be read: {failure}"
        ));
    }
    if encryption_refused(&failure, sent.sse_c) {
        return sse_c_error(what, failure, sent.sse_c);
    }
    if let Some(class) = sent.storage_class {
        if matches!(code, "InvalidStorageClass" | "InvalidArgument") {
            return Error::config(
                "storage_class",
                format!(
                    "the server refused to write {what} in storage class {}: {failure}",
                    class.as_str()
                ),
            );
        }
    }
    if sent.lock && code == "InvalidRequest" {
        return Error::config(
            "object_lock_mode",
            format!(
                "the server refused the Object Lock headers of {what}: is Object Lock \
                 enabled on the bucket? {failure}"
            ),
        );
    }
    if sent.sse_c && failure.status == 403 && code != "SignatureDoesNotMatch" {
        // AWS answers a wrong SSE-C key on GET/HEAD with a bare 403.
        let error = Error::from_s3(what, failure);
        if let Error::PermissionDenied(message) = error {
            return Error::PermissionDenied(format!(
                "{message} (or {what} was written with another sse_customer_key)"
            ));
        }
        return error;
    }
    Error::from_s3(what, failure)
}

/// SSE-C refusals come as 400 InvalidArgument/InvalidRequest (AWS, Ceph)
/// whose message speaks of encryption, or of the key when one was sent.
fn encryption_refused(failure: &S3Failure, sse_c_sent: bool) -> bool {
    let message = failure.message.to_ascii_lowercase();
    failure.status == 400
        && matches!(failure.code.as_str(), "InvalidArgument" | "InvalidRequest")
        && (message.contains("encrypt") || (sse_c_sent && message.contains("key")))
}

fn sse_c_error(what: &str, failure: S3Failure, key_configured: bool) -> Error {
    let message = failure.message.to_ascii_lowercase();
    let hint = if !key_configured {
        format!("{what} is encrypted with a customer key (SSE-C): set sse_customer_key to that key")
    } else if message.contains("not applicable") {
        format!("{what} is not encrypted with SSE-C, but sse_customer_key is set")
    } else {
        format!("the server cannot use this sse_customer_key for {what}: it is wrong (the object was written with another key)")
    };
    Error::config("sse_customer_key", format!("{hint}: {failure}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, code: &str, message: &str) -> S3Failure {
        S3Failure {
            status,
            code: code.into(),
            message: message.into(),
            request_id: String::new(),
        }
    }

    fn key_of(error: &Error) -> &str {
        match error {
            Error::InvalidConfig { key, .. } => key,
            other => panic!("expected a configuration error, got {other}"),
        }
    }

    const SSE_C: Sent = Sent {
        sse_c: true,
        storage_class: None,
        lock: false,
    };

    #[test]
    fn ceph_sse_c_refusals_name_the_key() {
        // radosgw 16, GET without a key, then with a wrong key (measured).
        let missing = failure(
            400,
            "InvalidArgument",
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
        );
        let e = explain("packfiles/ab/cd", missing, Sent::default());
        assert_eq!(key_of(&e), "sse_customer_key");
        assert!(e.to_string().contains("set sse_customer_key"), "{e}");
        let wrong = failure(
            400,
            "InvalidArgument",
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        );
        let e = explain("packfiles/ab/cd", wrong, SSE_C);
        assert_eq!(key_of(&e), "sse_customer_key");
        assert!(e.to_string().contains("wrong"), "{e}");
    }

    #[test]
    fn aws_sse_c_refusals_name_the_key() {
        // AWS documentation's messages for a missing key and a key on a plain object.
        let e = explain(
            "k",
            failure(400, "InvalidRequest", "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."),
            Sent::default(),
        );
        assert_eq!(key_of(&e), "sse_customer_key");
        let e = explain(
            "k",
            failure(
                400,
                "InvalidRequest",
                "The encryption parameters are not applicable to this object.",
            ),
            SSE_C,
        );
        assert!(e.to_string().contains("not encrypted with SSE-C"), "{e}");
        let e = explain("k", failure(403, "AccessDenied", "Forbidden"), SSE_C);
        assert!(matches!(e, Error::PermissionDenied(_)));
        assert!(e.to_string().contains("another sse_customer_key"), "{e}");
    }

    #[test]
    fn archived_objects_say_restore() {
        // moto 5: GET of a GLACIER object.
        let e = explain(
            "packfiles/ab/cd",
            failure(
                403,
                "InvalidObjectState",
                "The operation is not valid for the object's storage class",
            ),
            Sent::default(),
        );
        assert!(matches!(e, Error::Unsupported(_)));
        assert!(e.to_string().contains("restored"), "{e}");
    }

    #[test]
    fn refused_storage_classes_name_the_key() {
        // radosgw 16 refuses classes it has no placement for, without a message.
        let sent = Sent {
            storage_class: Some(StorageClass::Glacier),
            ..Sent::default()
        };
        let e = explain("k", failure(400, "InvalidArgument", ""), sent);
        assert_eq!(key_of(&e), "storage_class");
        assert!(e.to_string().contains("GLACIER"), "{e}");
        // Without a class sent, the same answer is just an S3 error.
        let e = explain("k", failure(400, "InvalidArgument", ""), Sent::default());
        assert!(matches!(e, Error::Other(_)), "{e}");
    }

    #[test]
    fn lock_headers_on_a_bucket_without_lock_name_the_key() {
        // moto 5's answer; radosgw sends the same code without a message.
        let sent = Sent {
            lock: true,
            ..Sent::default()
        };
        let e = explain(
            "k",
            failure(
                400,
                "InvalidRequest",
                "Bucket is missing ObjectLockConfiguration",
            ),
            sent,
        );
        assert_eq!(key_of(&e), "object_lock_mode");
    }

    #[test]
    fn other_key_complaints_are_not_sse_c_without_a_key_sent() {
        let e = explain(
            "k",
            failure(400, "InvalidArgument", "Invalid key marker"),
            Sent::default(),
        );
        assert!(matches!(e, Error::Other(_)), "{e}");
    }

    #[test]
    fn auth_failures_stay_auth_failures() {
        let e = explain("k", failure(403, "SignatureDoesNotMatch", "m"), SSE_C);
        assert!(matches!(e, Error::Auth(_)));
    }

    #[test]
    fn messages_never_carry_more_than_the_server_said() {
        let e = explain("k", failure(400, "InvalidArgument", "bad key"), SSE_C);
        assert!(
            e.to_string().ends_with("HTTP 400 InvalidArgument: bad key"),
            "{e}"
        );
    }
}
