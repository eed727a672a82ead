//! Multipart upload bodies. CompleteMultipartUpload is the one S3 action that
//! may answer 200 and still fail: AWS commits to 200 early, sends whitespace
//! while it assembles the parts, then the result *or* an `<Error>`. Only a
//! complete result document counts as success.

use std::fmt::Write as _;

use quick_xml::escape::escape;
use serde::Deserialize;

use super::document::{malformed, parse, strip_quotes};
use super::error_doc::{result_or_error, unreadable};
use super::S3_NAMESPACE;
use crate::error::{Error, S3Failure};

const INITIATE_ROOT: &str = "InitiateMultipartUploadResult";
const COMPLETE_ROOT: &str = "CompleteMultipartUploadResult";
const UPLOADS_ROOT: &str = "ListMultipartUploadsResult";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateResult {
    upload_id: Option<String>,
}

#[derive(Deserialize)]
struct CompleteResult {
    #[serde(rename = "ETag")]
    etag: Option<String>,
}

#[derive(Deserialize)]
struct UploadsResult {
    #[serde(rename = "Upload", default)]
    uploads: Vec<UploadEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadEntry {
    key: Option<String>,
    upload_id: Option<String>,
}

/// A multipart upload in progress, as ListMultipartUploads names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
}

/// The uploads of a ListMultipartUploads answer (one page). An entry
/// without its key or upload id is refused: what it names would be aborted.
pub fn parse_list_multipart_uploads(body: &[u8]) -> Result<Vec<PendingUpload>, Error> {
    let result: UploadsResult = parse(body, UPLOADS_ROOT)?;
    result
        .uploads
        .into_iter()
        .map(|entry| match (entry.key, entry.upload_id) {
            (Some(key), Some(id)) if !key.is_empty() && !id.trim().is_empty() => {
                Ok(PendingUpload {
                    key,
                    upload_id: id.trim().to_owned(),
                })
            }
            _ => Err(malformed(UPLOADS_ROOT, "Upload without Key or UploadId")),
        })
        .collect()
}

/// The UploadId of a CreateMultipartUpload answer.
pub fn parse_initiate_multipart(body: &[u8]) -> Result<String, Error> {
    let result: InitiateResult = parse(body, INITIATE_ROOT)?;
    match result.upload_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(malformed(INITIATE_ROOT, "UploadId is missing")),
    }
}

/// The CompleteMultipartUpload request body for `(part number, ETag)` pairs, in
/// the order given (S3 wants ascending part numbers). ETags are sent quoted, as
/// the AWS SDKs send them, whether or not the caller kept the quotes.
pub fn complete_multipart_body(parts: &[(u32, String)]) -> String {
    let mut body = format!("<CompleteMultipartUpload xmlns=\"{S3_NAMESPACE}\">");
    for (number, etag) in parts {
        let etag = escape(strip_quotes(etag));
        // Writing to a String cannot fail.
        let _ = write!(
            body,
            "<Part><PartNumber>{number}</PartNumber><ETag>&quot;{etag}&quot;</ETag></Part>"
        );
    }
    body.push_str("</CompleteMultipartUpload>");
    body
}

/// Reads a CompleteMultipartUpload answer: `Ok(ETag)` only for a 2xx status with
/// a complete result document (the ETag, unquoted, is `None` when the server
/// sends none or an empty one, as Ceph does). An `<Error>` body, even under 200,
/// is that error; a truncated or foreign body is a failure with code `""`.
pub fn parse_complete_multipart(status: u16, body: &[u8]) -> Result<Option<String>, S3Failure> {
    let document = result_or_error(status, body, COMPLETE_ROOT)?;
    let result: CompleteResult = document
        .decode()
        .map_err(|reason| unreadable(status, COMPLETE_ROOT, &reason))?;
    let etag = result.etag.as_deref().map(strip_quotes).unwrap_or("");
    Ok((!etag.is_empty()).then(|| etag.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::samples::{AWS_COMPLETE, AWS_COMPLETE_ERROR, AWS_INITIATE};

    #[test]
    fn list_uploads_aws_example_and_empty() {
        // From the ListMultipartUploads documentation, trimmed.
        let aws = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>my-movie.m2ts</NextKeyMarker><MaxUploads>3</MaxUploads><IsTruncated>true</IsTruncated>
  <Upload><Key>my-divisor</Key><UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>
    <Initiator><ID>arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de</ID><DisplayName>user1</DisplayName></Initiator>
    <StorageClass>STANDARD</StorageClass><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>
  <Upload><Key>my-movie.m2ts</Key><UploadId>VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
    <StorageClass>STANDARD</StorageClass><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>
</ListMultipartUploadsResult>"#;
        let uploads = parse_list_multipart_uploads(aws).unwrap();
        assert_eq!(
            uploads,
            vec![
                PendingUpload {
                    key: "my-divisor".into(),
                    upload_id: "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw".into()
                },
                PendingUpload {
                    key: "my-movie.m2ts".into(),
                    upload_id: "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA".into()
                },
            ]
        );
        let empty = b"<ListMultipartUploadsResult><Bucket>b</Bucket><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";
        assert_eq!(parse_list_multipart_uploads(empty).unwrap(), vec![]);
        let partial = b"<ListMultipartUploadsResult><Upload><Key>k</Key></Upload></ListMultipartUploadsResult>";
        assert!(parse_list_multipart_uploads(partial).is_err());
        assert!(
            parse_list_multipart_uploads(b"<Error><Code>NotImplemented</Code></Error>").is_err()
        );
    }

    #[test]
    fn initiate_aws_example() {
        assert_eq!(
            parse_initiate_multipart(AWS_INITIATE.as_bytes()).unwrap(),
            "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
        );
    }

    #[test]
    fn initiate_ceph_and_minio_variants() {
        // Ceph: no namespace prefix issues, "2~" ids; MinIO: UUID-like ids, extra elements.
        let ceph = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Tenant></Tenant><Bucket>b</Bucket><Key>k</Key><UploadId>2~iCw_lDY8VoBhoRrIJbPMrUqnE3Z-3Qh</UploadId></InitiateMultipartUploadResult>";
        assert_eq!(
            parse_initiate_multipart(ceph).unwrap(),
            "2~iCw_lDY8VoBhoRrIJbPMrUqnE3Z-3Qh"
        );
        let reordered = b"<InitiateMultipartUploadResult><UploadId>\r\n  id-1\r\n</UploadId><Key>k</Key></InitiateMultipartUploadResult>";
        assert_eq!(parse_initiate_multipart(reordered).unwrap(), "id-1");
    }

    #[test]
    fn initiate_without_upload_id_is_an_error() {
        for body in [
            &b"<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>"[..],
            b"<InitiateMultipartUploadResult><UploadId> </UploadId></InitiateMultipartUploadResult>",
        ] {
            assert_eq!(
                parse_initiate_multipart(body).unwrap_err(),
                Error::Other(
                    "malformed <InitiateMultipartUploadResult> from server: UploadId is missing"
                        .into()
                )
            );
        }
        let error = b"<Error><Code>AccessDenied</Code></Error>";
        assert!(parse_initiate_multipart(error)
            .unwrap_err()
            .to_string()
            .contains("the root element is <Error>"));
    }

    #[test]
    fn complete_body_quotes_and_escapes_etags() {
        let parts = [
            (1, "\"a54357aff0632cce46d942af68356b38\"".to_owned()),
            (2, "0c78aef83f66abc1fa1e8477f296d394".to_owned()),
            (10000, "x<&>".to_owned()),
        ];
        assert_eq!(
            complete_multipart_body(&parts),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Part><PartNumber>1</PartNumber><ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>&quot;0c78aef83f66abc1fa1e8477f296d394&quot;</ETag></Part>\
             <Part><PartNumber>10000</PartNumber><ETag>&quot;x&lt;&amp;&gt;&quot;</ETag></Part>\
             </CompleteMultipartUpload>"
        );
        assert_eq!(
            complete_multipart_body(&[]),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></CompleteMultipartUpload>"
        );
    }

    #[test]
    fn complete_aws_example() {
        assert_eq!(
            parse_complete_multipart(200, AWS_COMPLETE.as_bytes()).unwrap(),
            Some("3858f62230ac3c915f300c664312c11f-9".to_owned())
        );
    }

    #[test]
    fn complete_with_empty_or_missing_etag() {
        // Ceph Pacific answers with an empty ETag.
        let ceph = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>http://127.0.0.1:8000/b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag></ETag></CompleteMultipartUploadResult>";
        assert_eq!(parse_complete_multipart(200, ceph).unwrap(), None);
        let bare = b"<CompleteMultipartUploadResult/>";
        assert_eq!(parse_complete_multipart(200, bare).unwrap(), None);
    }

    #[test]
    fn complete_error_inside_200_is_that_error() {
        let failure = parse_complete_multipart(200, AWS_COMPLETE_ERROR.as_bytes()).unwrap_err();
        assert_eq!(
            failure,
            S3Failure {
                status: 200,
                code: "InternalError".into(),
                message: "We encountered an internal error. Please try again.".into(),
                request_id: "656c76696e6727732072657175657374".into(),
            }
        );
    }

    #[test]
    fn complete_error_status_is_parsed_as_error() {
        let body = b"<Error><Code>InvalidPart</Code><Message>One or more of the specified parts could not be found.</Message></Error>";
        let failure = parse_complete_multipart(400, body).unwrap_err();
        assert_eq!(
            (failure.status, failure.code.as_str()),
            (400, "InvalidPart")
        );
        // Even a well-formed result under an error status is a failure.
        let failure = parse_complete_multipart(500, AWS_COMPLETE.as_bytes()).unwrap_err();
        assert_eq!(failure.status, 500);
    }

    #[test]
    fn complete_truncated_or_foreign_body_is_a_failure() {
        // The connection dropped while AWS was still sending keep-alive whitespace.
        for body in [
            &b""[..],
            b"\n\n   \n",
            b"<CompleteMultipartUploadResult><ETag>\"e\"</ETag>",
        ] {
            let failure = parse_complete_multipart(200, body).unwrap_err();
            assert_eq!((failure.status, failure.code.as_str()), (200, ""));
            assert!(failure
                .message
                .starts_with("malformed <CompleteMultipartUploadResult> from server: "));
        }
        let foreign = parse_complete_multipart(200, b"<html>ok</html>").unwrap_err();
        assert_eq!(
            foreign.message,
            "malformed <CompleteMultipartUploadResult> from server: the root element is <html>"
        );
        // A broken <Error> still fails (with code "", the body excerpted).
        let broken = parse_complete_multipart(200, b"<Error><Code>A</Code><Code>B</Code></Error>")
            .unwrap_err();
        assert_eq!(broken.code, "");
    }
}
