//! The bucket's region, when the server says the signature named another
//! one. minio-go asks GetBucketLocation before its first request; we sign with
//! the configured (or endpoint-derived) region and, if the server answers
//! that the bucket lives elsewhere, re-sign once with the region it names.
//! The host's egress policy allows one authority, so only the region can
//! change, never the endpoint.

/// Longer than any region name of any provider we know.
const MAX_REGION: usize = 64;

/// The header AWS adds to wrong-region answers (on HEAD too, which has no body).
pub const BUCKET_REGION_HEADER: &str = "x-amz-bucket-region";

/// A plain region name: what may go into a credential scope. MinIO and
/// Garage let operators name regions freely, so only the characters are
/// checked.
pub fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_REGION
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The region to re-sign with, from a refusal that means "wrong region": a
/// 301 PermanentRedirect (AWS, a bucket of another region) or a 400
/// AuthorizationHeaderMalformed (AWS, MinIO: the signature names the wrong
/// region), or a 400 HEAD answer (no body) carrying the region header.
/// `header` is `x-amz-bucket-region`; `document_region` the error
/// document's `<Region>`. `None` when the refusal is about something else
/// or names no usable region.
pub fn from_refusal(
    status: u16,
    code: &str,
    header: Option<&str>,
    document_region: Option<&str>,
) -> Option<String> {
    let wrong_region = match status {
        301 => true,
        400 => code == "AuthorizationHeaderMalformed" || (code.is_empty() && header.is_some()),
        _ => false,
    };
    if !wrong_region {
        return None;
    }
    [header, document_region]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|region| is_name(region))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_redirect_names_the_region_in_a_header() {
        // Path style on s3.amazonaws.com for a bucket in eu-west-3.
        assert_eq!(
            from_refusal(301, "PermanentRedirect", Some("eu-west-3"), None).as_deref(),
            Some("eu-west-3")
        );
        // A HEAD redirect has no body at all.
        assert_eq!(
            from_refusal(301, "", Some("eu-west-3"), None).as_deref(),
            Some("eu-west-3")
        );
    }

    #[test]
    fn malformed_authorization_names_it_in_the_document() {
        // AWS and MinIO: "the region 'us-east-1' is wrong; expecting 'eu-west-1'".
        assert_eq!(
            from_refusal(
                400,
                "AuthorizationHeaderMalformed",
                None,
                Some(" eu-west-1 ")
            )
            .as_deref(),
            Some("eu-west-1")
        );
        // The header wins when both are there.
        assert_eq!(
            from_refusal(
                400,
                "AuthorizationHeaderMalformed",
                Some("ap-south-1"),
                Some("x")
            )
            .as_deref(),
            Some("ap-south-1")
        );
        // A HEAD answer: no document, the header says it.
        assert_eq!(
            from_refusal(400, "", Some("garage"), None).as_deref(),
            Some("garage")
        );
    }

    #[test]
    fn other_refusals_change_nothing() {
        assert_eq!(
            from_refusal(400, "InvalidArgument", Some("eu-west-3"), None),
            None
        );
        assert_eq!(
            from_refusal(403, "AccessDenied", Some("eu-west-3"), None),
            None
        );
        assert_eq!(
            from_refusal(404, "NoSuchBucket", Some("eu-west-3"), None),
            None
        );
        assert_eq!(from_refusal(301, "PermanentRedirect", None, None), None);
        assert_eq!(
            from_refusal(400, "AuthorizationHeaderMalformed", None, None),
            None
        );
    }

    #[test]
    fn strange_regions_are_never_signed_with() {
        for bad in ["", "us-east-1/../x", "a b", "r\u{e9}gion", &"a".repeat(65)] {
            assert_eq!(
                from_refusal(301, "PermanentRedirect", Some(bad), None),
                None,
                "{bad}"
            );
            assert!(!is_name(bad));
        }
        // A bad header does not hide a good document region.
        assert_eq!(
            from_refusal(
                400,
                "AuthorizationHeaderMalformed",
                Some("a b"),
                Some("eu-west-1")
            )
            .as_deref(),
            Some("eu-west-1")
        );
    }
}
