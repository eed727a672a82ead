//! Bucket location: GetBucketLocation's answer and CreateBucket's body. The
//! region read here ends up in every signature's scope, so it is checked to be
//! a plain region name, not whatever text the server sent.

use quick_xml::escape::escape;
use serde::Deserialize;

use super::document::{malformed, parse};
use super::S3_NAMESPACE;
use crate::error::Error;

const ROOT: &str = "LocationConstraint";

/// The region S3 means by an empty location constraint.
const DEFAULT_REGION: &str = "us-east-1";

#[derive(Deserialize)]
struct LocationConstraint {
    #[serde(rename = "$text", default)]
    region: String,
}

/// The bucket's region from a GetBucketLocation answer. Empty means
/// `us-east-1`; the legacy `EU` means `eu-west-1`.
pub fn parse_location_constraint(body: &[u8]) -> Result<String, Error> {
    let location: LocationConstraint = parse(body, ROOT)?;
    let region = match location.region.trim() {
        "" => DEFAULT_REGION,
        "EU" => "eu-west-1",
        other => other,
    };
    if crate::region::is_name(region) {
        Ok(region.to_owned())
    } else {
        Err(malformed(ROOT, "not a region name"))
    }
}

/// The CreateBucket body naming `region`; `None` for `us-east-1`, where S3
/// wants no body (it rejects an explicit us-east-1 constraint).
pub fn create_bucket_body(region: &str) -> Option<String> {
    if region.is_empty() || region == DEFAULT_REGION {
        return None;
    }
    Some(format!(
        "<CreateBucketConfiguration xmlns=\"{S3_NAMESPACE}\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
        escape(region)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::samples::AWS_LOCATION;

    fn region(body: &str) -> Result<String, Error> {
        parse_location_constraint(body.as_bytes())
    }

    #[test]
    fn aws_example_eu_is_eu_west_1() {
        assert_eq!(region(AWS_LOCATION).unwrap(), "eu-west-1");
    }

    #[test]
    fn empty_constraint_is_us_east_1() {
        for body in [
            "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></LocationConstraint>",
            "<LocationConstraint>\r\n  \r\n</LocationConstraint>",
        ] {
            assert_eq!(region(body).unwrap(), "us-east-1", "{body}");
        }
    }

    #[test]
    fn other_regions_pass_through() {
        assert_eq!(
            region("<LocationConstraint>eu-central-1</LocationConstraint>").unwrap(),
            "eu-central-1"
        );
        // MinIO and Garage let operators name regions freely.
        assert_eq!(
            region("<s3:LocationConstraint xmlns:s3=\"x\">garage</s3:LocationConstraint>").unwrap(),
            "garage"
        );
        assert_eq!(
            region("<LocationConstraint> fr-par </LocationConstraint>").unwrap(),
            "fr-par"
        );
    }

    #[test]
    fn strange_regions_are_refused() {
        for value in [
            "us-east-1/../x",
            "a b",
            "r\u{e9}gion",
            "x&amp;y",
            &"a".repeat(65),
        ] {
            let body = format!("<LocationConstraint>{value}</LocationConstraint>");
            assert_eq!(
                region(&body).unwrap_err(),
                Error::Other(
                    "malformed <LocationConstraint> from server: not a region name".into()
                ),
                "{value}"
            );
        }
        assert!(region("<Error><Code>AccessDenied</Code></Error>").is_err());
    }

    #[test]
    fn create_bucket_body_only_outside_us_east_1() {
        assert_eq!(create_bucket_body("us-east-1"), None);
        assert_eq!(create_bucket_body(""), None);
        assert_eq!(
            create_bucket_body("eu-west-3").as_deref(),
            Some("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-3</LocationConstraint></CreateBucketConfiguration>")
        );
        assert!(create_bucket_body("a<b").unwrap().contains("a&lt;b"));
    }
}
