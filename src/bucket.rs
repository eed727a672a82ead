//! Bucket addressing: how a bucket and an object key become a request target.
//! Path style (`host/bucket/key`) is what self-hosted servers (MinIO, Ceph,
//! Garage) need; virtual-host style (`bucket.host/key`) is what AWS prefers.

use crate::config::{Addressing, Config};
use crate::request::{Method, Request, Scheme};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    name: String,
    scheme: Scheme,
    authority: String,
    /// `/bucket` in path style, empty in virtual-host style.
    path_prefix: String,
}

impl Bucket {
    pub fn new(config: &Config) -> Bucket {
        let endpoint = config.request_endpoint();
        let path_prefix = match config.addressing {
            Addressing::Path => format!("/{}", config.bucket),
            Addressing::VirtualHost => String::new(),
        };
        Bucket {
            name: config.bucket.clone(),
            scheme: endpoint.scheme,
            authority: endpoint.authority(),
            path_prefix,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A request on the bucket itself (list, location, create...).
    pub fn request(&self, method: Method) -> Request {
        let path = if self.path_prefix.is_empty() {
            "/"
        } else {
            &self.path_prefix
        };
        Request::new(method, self.scheme, &self.authority, path)
    }

    /// A request on one object of the bucket.
    pub fn object(&self, method: Method, key: &str) -> Request {
        let path = format!("{}/{}", self.path_prefix, key);
        Request::new(method, self.scheme, &self.authority, &path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut all = vec![("access_key", "a"), ("secret_access_key", "s")];
        all.extend_from_slice(pairs);
        let owned: Vec<(String, String)> = all
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(&owned).expect("valid config")
    }

    #[test]
    fn path_style_puts_the_bucket_in_the_path() {
        let b = Bucket::new(&config(&[
            ("location", "s3://127.0.0.1:9000/backups/pfx"),
            ("use_tls", "false"),
        ]));
        let r = b.object(Method::Get, "pfx/CONFIG");
        assert_eq!(r.url(), "http://127.0.0.1:9000/backups/pfx/CONFIG");
        assert_eq!(
            b.request(Method::Get).url(),
            "http://127.0.0.1:9000/backups"
        );
    }

    #[test]
    fn virtual_host_puts_the_bucket_in_the_host() {
        let b = Bucket::new(&config(&[
            ("location", "s3://backups.s3.eu-west-3.amazonaws.com/pfx"),
            ("endpoint", "s3.eu-west-3.amazonaws.com"),
            ("virtual_host", "true"),
        ]));
        assert_eq!(
            b.object(Method::Get, "pfx/CONFIG").url(),
            "https://backups.s3.eu-west-3.amazonaws.com/pfx/CONFIG"
        );
        assert_eq!(
            b.request(Method::Get).url(),
            "https://backups.s3.eu-west-3.amazonaws.com/"
        );
    }

    #[test]
    fn virtual_host_on_a_self_hosted_endpoint_keeps_scheme_and_port() {
        // MinIO with MINIO_DOMAIN=minio.local: buckets as host names.
        let config = config(&[
            ("location", "s3://backups.minio.local:9000/host1"),
            ("endpoint", "minio.local:9000"),
            ("virtual_host", "true"),
            ("use_tls", "false"),
        ]);
        assert_eq!(
            config.request_endpoint().authority(),
            "backups.minio.local:9000"
        );
        // kloset's Origin is the service, not the bucket's host.
        assert_eq!(config.origin(), "minio.local:9000");
        let b = Bucket::new(&config);
        let r = b.object(Method::Put, "host1/states/ab/cd");
        assert_eq!(
            r.url(),
            "http://backups.minio.local:9000/host1/states/ab/cd"
        );
        assert_eq!(r.authority, "backups.minio.local:9000");
        let list = b.request(Method::Get).query("list-type", "2");
        assert_eq!(list.url(), "http://backups.minio.local:9000/?list-type=2");
    }

    #[test]
    fn virtual_host_requests_sign_the_bucket_host() {
        use crate::sigv4::{Payload, Signer};
        let config = config(&[
            ("location", "s3://backups.s3.eu-west-3.amazonaws.com/pfx"),
            ("endpoint", "s3.eu-west-3.amazonaws.com"),
            ("virtual_host", "true"),
            ("session_token", "TOKEN"),
        ]);
        assert_eq!(config.region, "eu-west-3");
        let mut r = Bucket::new(&config).object(Method::Get, "pfx/CONFIG");
        let signer = Signer::s3(
            &config.access_key,
            config.secret_key.clone(),
            config.session_token.clone(),
            &config.region,
        );
        signer.sign(&mut r, Payload::Empty, 1_440_938_160);
        let auth = r.header_value("authorization").unwrap();
        assert!(
            auth.contains("Credential=a/20150830/eu-west-3/s3/aws4_request"),
            "{auth}"
        );
        assert!(
            auth.contains(
                "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
            ),
            "{auth}"
        );
        assert_eq!(r.header_value("x-amz-security-token"), Some("TOKEN"));
        assert_eq!(r.authority, "backups.s3.eu-west-3.amazonaws.com");
    }

    #[test]
    fn aws_buckets_go_virtual_host_unless_the_name_cannot() {
        // minio-go's choice, which Go users get without asking.
        let aws = |location: &str| {
            let c = config(&[("location", location)]);
            Bucket::new(&c).object(Method::Get, "k").url()
        };
        assert_eq!(
            aws("s3://s3.eu-west-3.amazonaws.com/backups"),
            "https://backups.s3.eu-west-3.amazonaws.com/k"
        );
        // A dot would fall outside the certificate's `*.s3...amazonaws.com`.
        assert_eq!(
            aws("s3://s3.eu-west-3.amazonaws.com/my.backups"),
            "https://s3.eu-west-3.amazonaws.com/my.backups/k"
        );
    }
}
