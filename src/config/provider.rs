//! S3 providers, for what the configuration must know of them: which one an
//! endpoint belongs to, its signing region, its multipart part limit.

use super::pairs::{parse_choice, Choice};

/// An S3 implementation or hosting provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Aws,
    Minio,
    Ceph,
    B2,
    Scaleway,
    Garage,
    Wasabi,
    Ovh,
    CleverCloud,
    /// Anything else that speaks S3.
    Generic,
}

/// Hosted providers recognised by the endpoint host's domain.
const DOMAINS: &[(&str, Provider)] = &[
    (".amazonaws.com", Provider::Aws),
    (".amazonaws.com.cn", Provider::Aws),
    (".backblazeb2.com", Provider::B2),
    (".scw.cloud", Provider::Scaleway),
    (".wasabisys.com", Provider::Wasabi),
    (".clever-cloud.com", Provider::CleverCloud),
    (".ovh.net", Provider::Ovh),
];

const DEFAULT_REGION: &str = "us-east-1";

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Minio => "minio",
            Provider::Ceph => "ceph",
            Provider::B2 => "b2",
            Provider::Scaleway => "scaleway",
            Provider::Garage => "garage",
            Provider::Wasabi => "wasabi",
            Provider::Ovh => "ovh",
            Provider::CleverCloud => "clevercloud",
            Provider::Generic => "generic",
        }
    }

    /// The `provider` key: a provider, or `None` for `auto`.
    pub(super) fn parse(text: &str) -> Result<Option<Provider>, String> {
        if text.eq_ignore_ascii_case("auto") {
            return Ok(None);
        }
        parse_choice(text)
            .map(Some)
            .map_err(|m| format!("{m} or auto"))
    }

    /// `auto`: the provider whose domain the (lower-case) host is in.
    pub(super) fn detect(host: &str) -> Provider {
        DOMAINS
            .iter()
            .find(|(domain, _)| host.ends_with(domain))
            .map_or(Provider::Generic, |&(_, provider)| provider)
    }

    /// Scaleway accepts at most 1000 parts per multipart upload; everyone
    /// else follows AWS's 10000.
    pub(super) fn default_max_parts(self) -> u32 {
        match self {
            Provider::Scaleway => 1000,
            _ => 10_000,
        }
    }

    /// The signing region when `region` is not given. Go leaves it to
    /// minio-go, which asks the bucket; we cannot ask before signing, so we
    /// read it from the provider's endpoint name (`s3.<region>.<domain>`).
    /// Garage's own default region is `garage`.
    pub(super) fn default_region(self, host: &str) -> String {
        let region = match self {
            Provider::Garage => Some("garage"),
            _ => self.region_in_host(host),
        };
        region.unwrap_or(DEFAULT_REGION).to_owned()
    }

    fn region_in_host(self, host: &str) -> Option<&str> {
        let (domain, _) = DOMAINS
            .iter()
            .find(|(domain, provider)| *provider == self && host.ends_with(domain))?;
        let name = host.strip_suffix(domain)?;
        match self {
            Provider::Aws => aws_region(name),
            _ => name.strip_prefix("s3.")?.split('.').next(),
        }
    }
}

/// `s3.<region>`, `s3-<region>`, `s3.dualstack.<region>`; plain `s3` and
/// `s3-external-1` are us-east-1.
fn aws_region(name: &str) -> Option<&str> {
    let last = name.rsplit('.').next()?;
    let region = last.strip_prefix("s3-").unwrap_or(last);
    (region.contains('-') && region != "external-1").then_some(region)
}

impl Choice for Provider {
    const ALL: &'static [Self] = &[
        Provider::Aws,
        Provider::Minio,
        Provider::Ceph,
        Provider::B2,
        Provider::Scaleway,
        Provider::Garage,
        Provider::Wasabi,
        Provider::Ovh,
        Provider::CleverCloud,
        Provider::Generic,
    ];

    fn name(self) -> &'static str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_hosted_providers_by_domain() {
        let cases = [
            ("s3.eu-west-3.amazonaws.com", Provider::Aws),
            ("s3.us-west-004.backblazeb2.com", Provider::B2),
            ("s3.fr-par.scw.cloud", Provider::Scaleway),
            ("s3.wasabisys.com", Provider::Wasabi),
            ("cellar-c2.services.clever-cloud.com", Provider::CleverCloud),
            ("s3.gra.io.cloud.ovh.net", Provider::Ovh),
            ("amazonaws.com.evil.example", Provider::Generic),
            ("notamazonaws.com", Provider::Generic),
            ("127.0.0.1", Provider::Generic),
        ];
        for (host, provider) in cases {
            assert_eq!(Provider::detect(host), provider, "{host}");
        }
    }

    #[test]
    fn reads_the_region_from_the_endpoint_name() {
        let cases = [
            (Provider::Aws, "s3.eu-west-3.amazonaws.com", "eu-west-3"),
            (Provider::Aws, "s3-eu-west-1.amazonaws.com", "eu-west-1"),
            (
                Provider::Aws,
                "s3.dualstack.ap-south-1.amazonaws.com",
                "ap-south-1",
            ),
            (
                Provider::Aws,
                "s3.cn-north-1.amazonaws.com.cn",
                "cn-north-1",
            ),
            (Provider::Aws, "s3.amazonaws.com", "us-east-1"),
            (Provider::Aws, "s3-external-1.amazonaws.com", "us-east-1"),
            (Provider::Scaleway, "s3.fr-par.scw.cloud", "fr-par"),
            (
                Provider::B2,
                "s3.us-west-004.backblazeb2.com",
                "us-west-004",
            ),
            (
                Provider::Wasabi,
                "s3.eu-central-1.wasabisys.com",
                "eu-central-1",
            ),
            (Provider::Wasabi, "s3.wasabisys.com", "us-east-1"),
            (Provider::Ovh, "s3.gra.io.cloud.ovh.net", "gra"),
            (
                Provider::CleverCloud,
                "cellar-c2.services.clever-cloud.com",
                "us-east-1",
            ),
            (Provider::Scaleway, "minio.local", "us-east-1"),
            (Provider::Garage, "garage.local", "garage"),
            (Provider::Generic, "s3.fr-par.scw.cloud", "us-east-1"),
        ];
        for (provider, host, region) in cases {
            assert_eq!(provider.default_region(host), region, "{host}");
        }
    }

    #[test]
    fn parses_names_and_auto() {
        assert_eq!(Provider::parse("auto"), Ok(None));
        assert_eq!(
            Provider::parse("CleverCloud"),
            Ok(Some(Provider::CleverCloud))
        );
        assert!(Provider::parse("s3").unwrap_err().ends_with("or auto"));
    }
}
