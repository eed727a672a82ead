//! [`S3sFsServer`]: s3s-fs on a free loopback port, data in a temporary
//! directory.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use s3s::auth::SimpleAuth;
use s3s::host::{S3Host, VirtualHost};
use s3s::service::S3ServiceBuilder;
use s3s::S3Result;
use tempfile::TempDir;

use super::Serving;

/// An s3s-fs S3 server on `127.0.0.1:<free port>`, storing buckets as
/// directories under a fresh temporary directory, accepting only requests
/// signed (SigV4) with the one key pair it was started with.
///
/// Dropping it stops the server (requests in flight get a few seconds to
/// finish) and then deletes its data directory.
#[derive(Debug)]
pub struct S3sFsServer {
    serving: Serving,
    // Declared last: dropped after the server has stopped.
    root: TempDir,
}

impl S3sFsServer {
    /// Starts the server. It accepts connections as soon as this returns.
    ///
    /// # Errors
    /// When the temporary directory, the listening socket or the server's
    /// thread or runtime cannot be created.
    pub async fn start(access_key: &str, secret_key: &str) -> io::Result<S3sFsServer> {
        Self::start_with(access_key, secret_key, None)
    }

    /// [`start`](Self::start), answering virtual-host requests too: a `Host`
    /// of `<bucket>.<domain>[:port]` names the bucket; any other is path style.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub async fn start_virtual_host(
        access_key: &str,
        secret_key: &str,
        domain: &str,
    ) -> io::Result<S3sFsServer> {
        let domain = VirtualHosts(domain.to_ascii_lowercase());
        Self::start_with(access_key, secret_key, Some(domain))
    }

    fn start_with(
        access_key: &str,
        secret_key: &str,
        virtual_hosts: Option<VirtualHosts>,
    ) -> io::Result<S3sFsServer> {
        let root = tempfile::Builder::new()
            .prefix("kloset-s3s-fs-")
            .tempdir()?;
        let fs = s3s_fs::FileSystem::new(root.path()).map_err(|e| {
            io::Error::other(format!(
                "s3s-fs cannot use {}: {e:?}",
                root.path().display()
            ))
        })?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
        if let Some(virtual_hosts) = virtual_hosts {
            builder.set_host(virtual_hosts);
        }
        let serving = Serving::start("s3s-fs", builder.build())?;
        Ok(S3sFsServer { serving, root })
    }

    /// Where to send requests (path-style, plain HTTP).
    pub fn endpoint(&self) -> SocketAddr {
        self.serving.endpoint
    }

    /// The data directory: bucket `b`, key `k` is the file `root/b/k`. Tests
    /// corrupt or delete objects behind the client's back through it.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// How many connections the server has accepted so far.
    pub fn connections(&self) -> usize {
        self.serving.connections()
    }
}

/// Buckets as sub-domains of one domain, whatever the port (s3s's own
/// `SingleDomain` compares it too, and the port is only known once bound).
#[derive(Debug)]
struct VirtualHosts(String);

impl S3Host for VirtualHosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        let bucket = name
            .strip_suffix(self.0.as_str())
            .and_then(|prefix| prefix.strip_suffix('.'))
            .filter(|bucket| !bucket.is_empty());
        Ok(match bucket {
            Some(bucket) => VirtualHost::new(self.0.as_str()).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::{Timestamp, TimestampFormat};
    use sha2::{Digest, Sha256};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const ACCESS_KEY: &str = "AKIDTESTBED";
    const SECRET_KEY: &str = "testbed-secret-key";

    #[tokio::test]
    async fn checks_sigv4_and_stores_under_root() {
        let server = S3sFsServer::start(ACCESS_KEY, SECRET_KEY).await.unwrap();
        let endpoint = server.endpoint();
        assert!(endpoint.ip().is_loopback());

        let (status, body) = request(endpoint, "PUT", "/unsigned", None).await;
        assert_eq!(status, 403, "an unsigned request must be refused: {body}");
        let (status, body) = request(endpoint, "PUT", "/forged", Some("not-the-secret")).await;
        assert_eq!(status, 403, "a wrong signature must be refused: {body}");
        assert!(body.contains("SignatureDoesNotMatch"), "{body}");
        assert!(!server.root().join("unsigned").exists() && !server.root().join("forged").exists());

        let (status, body) = request(endpoint, "PUT", "/signed", Some(SECRET_KEY)).await;
        assert_eq!(status, 200, "a correctly signed request must pass: {body}");
        assert!(server.root().join("signed").is_dir());

        let root = server.root().to_path_buf();
        drop(server);
        assert!(
            !root.exists(),
            "dropping the server removes its data directory"
        );
        assert!(
            tokio::net::TcpStream::connect(endpoint).await.is_err(),
            "dropping the server closes its port"
        );
    }

    /// Sends an empty-bodied request, signed with `secret` when given, and
    /// returns the status and the whole response.
    async fn request(
        endpoint: SocketAddr,
        method: &str,
        path: &str,
        secret: Option<&str>,
    ) -> (u16, String) {
        let empty_sha256 = hex(&Sha256::digest(b""));
        let amz_date = amz_date_now();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {endpoint}\r\nx-amz-content-sha256: {empty_sha256}\r\n\
             x-amz-date: {amz_date}\r\ncontent-length: 0\r\nconnection: close\r\n"
        );
        if let Some(secret) = secret {
            let canonical = format!(
                "{method}\n{path}\n\nhost:{endpoint}\nx-amz-content-sha256:{empty_sha256}\nx-amz-date:{amz_date}\n\n\
                 host;x-amz-content-sha256;x-amz-date\n{empty_sha256}"
            );
            let scope = format!("{}/us-east-1/s3/aws4_request", &amz_date[..8]);
            let to_sign = format!(
                "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
                hex(&Sha256::digest(canonical))
            );
            let mut key = hmac(
                format!("AWS4{secret}").as_bytes(),
                &amz_date.as_bytes()[..8],
            );
            for part in ["us-east-1", "s3", "aws4_request"] {
                key = hmac(&key, part.as_bytes());
            }
            let signature = hex(&hmac(&key, to_sign.as_bytes()));
            head += &format!(
                "authorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, \
                 SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}\r\n"
            );
        }
        let mut stream = tokio::net::TcpStream::connect(endpoint).await.unwrap();
        stream
            .write_all(format!("{head}\r\n").as_bytes())
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        (response[9..12].parse().unwrap(), response)
    }

    fn amz_date_now() -> String {
        let mut rfc3339 = Vec::new(); // 2026-11-25T12:44:03.123Z
        Timestamp::from(std::time::SystemTime::now())
            .format(TimestampFormat::DateTime, &mut rfc3339)
            .unwrap();
        let compact: String = rfc3339[..19]
            .iter()
            .map(|&b| char::from(b))
            .filter(|c| !"-:".contains(*c))
            .collect();
        compact + "Z"
    }

    /// HMAC-SHA256 (RFC 2104) for keys up to one block, which SigV4 keys are.
    fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        let inner = Sha256::new()
            .chain_update(block.map(|b| b ^ 0x36))
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(block.map(|b| b ^ 0x5c))
            .chain_update(inner)
            .finalize()
            .into()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
