//! The S3 `<Error>` document. Servers differ: AWS and moto send Code, Message,
//! RequestId and HostId; Ceph adds BucketName and may leave Message empty;
//! s3s-fs sends only Code; proxies in front of any of them answer HTML or
//! nothing at all. Whatever arrives becomes an [`S3Failure`]: the code decides
//! retries and classification, so it is never guessed.

use serde::Deserialize;

use super::document::{malformed_message, sanitise, Document, MAX_EXCERPT};
use crate::error::S3Failure;

/// Codes and request ids are short identifiers; longer ones are cut.
const MAX_IDENTIFIER: usize = 128;
const MAX_MESSAGE: usize = 512;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ErrorDocument {
    code: String,
    message: String,
    request_id: String,
    region: String,
}

/// An S3 `<Error>` document. Missing elements are empty strings. Never fails: a
/// body that is no error document gives code `""` and a message naming the
/// status with a short sanitised excerpt of the body.
pub fn parse_error(status: u16, body: &[u8]) -> S3Failure {
    Document::read(body)
        .ok()
        .and_then(|document| from_document(status, &document))
        .unwrap_or_else(|| not_an_error_document(status, body))
}

/// The `<Region>` of an `<Error>` document (AWS and MinIO name the bucket's
/// region when the signature named another), as sent: unchecked.
pub fn parse_error_region(body: &[u8]) -> Option<String> {
    let document = Document::read(body).ok()?;
    if document.root() != "Error" {
        return None;
    }
    let error: ErrorDocument = document.decode().ok()?;
    let region = error.region.trim();
    (!region.is_empty()).then(|| region.to_owned())
}

/// The failure an `<Error>` document describes; `None` if it is no (valid) one.
fn from_document(status: u16, document: &Document<'_>) -> Option<S3Failure> {
    if document.root() != "Error" {
        return None;
    }
    let error: ErrorDocument = document.decode().ok()?;
    Some(S3Failure {
        status,
        code: sanitise(&error.code, MAX_IDENTIFIER),
        message: sanitise(&error.message, MAX_MESSAGE),
        request_id: sanitise(&error.request_id, MAX_IDENTIFIER),
    })
}

/// The result document `<root>` of an action that may answer 200 and still
/// fail (CompleteMultipartUpload, CopyObject: AWS commits to 200 early, then
/// sends the result *or* an `<Error>`). Only a complete `<root>` document
/// under a 2xx status counts as success; a truncated or foreign body is a
/// failure with code `""`.
pub(super) fn result_or_error<'a>(
    status: u16,
    body: &'a [u8],
    root: &str,
) -> Result<Document<'a>, S3Failure> {
    if !(200..300).contains(&status) {
        return Err(parse_error(status, body));
    }
    let document = Document::read(body).map_err(|reason| unreadable(status, root, &reason))?;
    match document.root() {
        r if r == root => Ok(document),
        "Error" => {
            Err(from_document(status, &document).unwrap_or_else(|| parse_error(status, body)))
        }
        other => Err(unreadable(
            status,
            root,
            &format!("the root element is <{other}>"),
        )),
    }
}

/// A success status whose `<root>` document cannot be read.
pub(super) fn unreadable(status: u16, root: &str, reason: &str) -> S3Failure {
    S3Failure {
        status,
        message: malformed_message(root, reason),
        ..S3Failure::default()
    }
}

fn not_an_error_document(status: u16, body: &[u8]) -> S3Failure {
    // A few bytes per excerpt character is enough; never decode the whole body.
    let head = &body[..body.len().min(MAX_EXCERPT * 4)];
    let excerpt = sanitise(&String::from_utf8_lossy(head), MAX_EXCERPT);
    let message = if excerpt.is_empty() {
        format!("{} (no error document)", status_text(status))
    } else {
        format!(
            "{} (not an S3 error document: {excerpt})",
            status_text(status)
        )
    };
    S3Failure {
        status,
        message,
        ..S3Failure::default()
    }
}

/// The reason phrase of the statuses S3 and the proxies before it answer with.
fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => match status / 100 {
            3 => "redirection",
            4 => "client error",
            5 => "server error",
            _ => "unexpected status",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::samples::AWS_ERROR;

    #[test]
    fn region_of_a_wrong_region_answer() {
        // AWS's answer to a request signed for us-east-1 on a eu-west-1 bucket.
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1</Region><RequestId>R</RequestId></Error>";
        assert_eq!(parse_error_region(body).as_deref(), Some("eu-west-1"));
        assert_eq!(parse_error_region(AWS_ERROR.as_bytes()), None);
        assert_eq!(parse_error_region(b"<Region>eu-west-1</Region>"), None);
        assert_eq!(
            parse_error_region(b"<Error><Region> </Region></Error>"),
            None
        );
        assert_eq!(parse_error_region(b""), None);
    }

    fn failure(status: u16, code: &str, message: &str, request_id: &str) -> S3Failure {
        S3Failure {
            status,
            code: code.into(),
            message: message.into(),
            request_id: request_id.into(),
        }
    }

    #[test]
    fn aws_documentation_sample() {
        assert_eq!(
            parse_error(404, AWS_ERROR.as_bytes()),
            failure(
                404,
                "NoSuchKey",
                "The resource you requested does not exist",
                "4442587FB7D0A2F9"
            )
        );
    }

    #[test]
    fn s3s_fs_sends_code_only() {
        let body =
            br#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code></Error>"#;
        assert_eq!(parse_error(404, body), failure(404, "NoSuchKey", "", ""));
    }

    #[test]
    fn ceph_adds_bucket_name_and_host_id() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message></Message><BucketName>missing</BucketName><RequestId>tx00000a1b2c3d4e5f6-0065f1e2d3-1234-default</RequestId><HostId>1234-default-default</HostId></Error>"#;
        assert_eq!(
            parse_error(404, body),
            failure(
                404,
                "NoSuchBucket",
                "",
                "tx00000a1b2c3d4e5f6-0065f1e2d3-1234-default"
            )
        );
    }

    #[test]
    fn minio_and_namespaced_and_reordered() {
        let minio = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Resource requested is unreadable, please reduce your request rate</Message><Key>a &amp; b</Key><BucketName>b</BucketName><Resource>/b/a &amp; b</Resource><RequestId>17A8B8F3E5D1C2A4</RequestId><HostId>dd9025bab4ad464b</HostId></Error>";
        let parsed = parse_error(503, minio);
        assert_eq!(parsed.code, "SlowDown");
        assert_eq!(parsed.request_id, "17A8B8F3E5D1C2A4");

        let namespaced = b"<Error xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\r\n<RequestId>r1</RequestId>\r\n<Message>m &amp; n</Message>\r\n<Code>AccessDenied</Code>\r\n</Error>\r\n";
        assert_eq!(
            parse_error(403, namespaced),
            failure(403, "AccessDenied", "m & n", "r1")
        );
    }

    #[test]
    fn server_text_is_sanitised_and_bounded() {
        let body = format!(
            "<Error><Code>Bad\x1b[2J</Code><Message>line1\nline2 {}</Message></Error>",
            "x".repeat(2000)
        );
        let parsed = parse_error(400, body.as_bytes());
        assert_eq!(parsed.code, "Bad?[2J");
        assert!(parsed.message.starts_with("line1 line2 xxx"));
        assert_eq!(parsed.message.len(), MAX_MESSAGE + 3);
    }

    #[test]
    fn empty_body_names_the_status() {
        assert_eq!(
            parse_error(404, b""),
            failure(404, "", "Not Found (no error document)", "")
        );
        assert_eq!(
            parse_error(599, b" \r\n"),
            failure(599, "", "server error (no error document)", "")
        );
    }

    #[test]
    fn html_from_a_proxy_gives_an_excerpt() {
        let body =
            b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body></html>";
        assert_eq!(
            parse_error(502, body),
            failure(
                502,
                "",
                "Bad Gateway (not an S3 error document: <html> <head><title>502 Bad Gateway</title></head> <body>nginx</body></html>)",
                ""
            )
        );
    }

    #[test]
    fn excerpt_is_printable_ascii_and_short() {
        let mut body = b"\x00\xff\x1b[31m".to_vec();
        body.extend(std::iter::repeat_n(b'y', 10_000));
        let parsed = parse_error(500, &body);
        assert_eq!(parsed.code, "");
        assert!(parsed
            .message
            .starts_with("Internal Server Error (not an S3 error document: ???[31myyy"));
        assert!(parsed
            .message
            .chars()
            .all(|c| c.is_ascii_graphic() || c == ' '));
        assert!(parsed.message.len() < MAX_EXCERPT + 60);
    }

    #[test]
    fn broken_error_documents_fall_back() {
        for body in [
            &b"<Error><Code>NoSuchKey</Code>"[..],
            b"<Error><Code>A</Code><Code>B</Code></Error>",
            b"<Error><Code>&xxe;</Code></Error>",
            b"<!DOCTYPE e [<!ENTITY x \"y\">]><Error><Code>&x;</Code></Error>",
            b"<NotError><Code>NoSuchKey</Code></NotError>",
        ] {
            let parsed = parse_error(400, body);
            assert_eq!(parsed.code, "", "{}", String::from_utf8_lossy(body));
            assert!(parsed
                .message
                .starts_with("Bad Request (not an S3 error document: <"));
        }
    }
}
