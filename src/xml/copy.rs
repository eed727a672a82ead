//! The CopyObject answer: like CompleteMultipartUpload it may be a 200 whose
//! body is an `<Error>` (AWS starts answering before the copy is done), so
//! only a complete `<CopyObjectResult>` counts as a copy made.

use super::error_doc::result_or_error;
use crate::error::S3Failure;

const ROOT: &str = "CopyObjectResult";

/// `Ok` only for a 2xx status with a complete `<CopyObjectResult>`.
pub fn parse_copy_object(status: u16, body: &[u8]) -> Result<(), S3Failure> {
    result_or_error(status, body, ROOT).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::samples::{AWS_COMPLETE_ERROR, AWS_COPY};

    #[test]
    fn aws_example_is_a_copy() {
        assert_eq!(parse_copy_object(200, AWS_COPY.as_bytes()), Ok(()));
    }

    #[test]
    fn an_error_inside_200_is_that_error() {
        let failure = parse_copy_object(200, AWS_COMPLETE_ERROR.as_bytes()).unwrap_err();
        assert_eq!(
            (failure.status, failure.code.as_str()),
            (200, "InternalError")
        );
    }

    #[test]
    fn truncated_foreign_or_refused_answers_are_failures() {
        for body in [&b""[..], b"  \n", b"<CopyObjectResult><ETag>", b"<html/>"] {
            let failure = parse_copy_object(200, body).unwrap_err();
            assert_eq!(failure.code, "", "{body:?}");
            assert!(failure.message.starts_with("malformed <CopyObjectResult>"));
        }
        let refused = b"<Error><Code>NotImplemented</Code></Error>";
        let failure = parse_copy_object(501, refused).unwrap_err();
        assert_eq!(
            (failure.status, failure.code.as_str()),
            (501, "NotImplemented")
        );
    }
}
