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
}
