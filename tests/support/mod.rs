//! The test bed every integration test uses: the S3 servers to run each test
//! against, their keys, and what each can be trusted to check.
//!
//! Why several servers: each S3 implementation lets different mistakes through
//! (see `Caps`), so a test that passes on one server proves little. The
//! in-process s3s-fs always runs. The external servers run when `.ci/run` (or
//! a developer) starts them and describes them in the environment:
//!
//! - `KLOSET_TEST_SERVERS=moto,radosgw`: the external servers to use;
//! - per server NAME (upper case): `KLOSET_TEST_<NAME>_ENDPOINT=127.0.0.1:PORT`,
//!   `KLOSET_TEST_<NAME>_ACCESS_KEY`, `KLOSET_TEST_<NAME>_SECRET_KEY`;
//! - `KLOSET_TEST_REQUIRE=moto,radosgw`: servers that must be configured. CI
//!   sets it so that a run can never pass by silently skipping a server.

pub mod hostile;
pub mod proxy;
pub mod raw;
pub mod script_server;
pub mod secrets;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use kloset_host::testbed::S3sFsServer;
use kloset_host::{Host, HostError, HostOptions, StoreHandle};

/// One S3 server to run a test against.
pub struct TestServer {
    /// `"s3s-fs"`, `"moto"` or `"radosgw"`: for messages and `Caps`.
    pub name: &'static str,
    /// `127.0.0.1:PORT`, plain HTTP, path-style.
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub caps: Caps,
    /// Keeps the in-process server running as long as this value lives.
    in_process: Option<S3sFsServer>,
}

/// What a server enforces, measured on these servers (see
/// `/work/shared/notes/s3-servers.md`). A test of a check that the client
/// relies on the server for runs only where the server does it; a test that
/// the client itself catches a fault runs everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Versioning and Object Lock (retention, legal hold) are implemented.
    pub object_lock: bool,
    /// SSE-C headers are honoured: a GET without (or with another) key fails.
    pub sse_c_enforced: bool,
    /// A wrong `Content-MD5` is refused (400 BadDigest).
    pub content_md5_checked: bool,
    /// `PUT` with `If-None-Match: *` is refused (412) when the key exists.
    pub conditional_put: bool,
    /// `PUT` with `If-Match: <current ETag>` succeeds (radosgw 16 wrongly 412s).
    pub if_match_put: bool,
    /// Signature, clock skew and `x-amz-content-sha256` are all checked.
    pub strict_sigv4: bool,
    /// ListObjectsV2 returns at most 1000 keys whatever `max-keys` asks.
    pub list_max_keys_capped: bool,
    /// ListMultipartUploads is implemented (s3s-fs answers 501).
    pub list_uploads: bool,
}

/// s3s-fs 0.14.1 with its SigV4 auth on, as `kloset_host::testbed` runs it.
const S3S_FS: Caps = Caps {
    object_lock: false,
    sse_c_enforced: false,
    content_md5_checked: true,
    conditional_put: true,
    if_match_put: true,
    strict_sigv4: true,
    list_max_keys_capped: false,
    list_uploads: false,
};

/// With IAM auth on (as .ci/start-moto.sh runs it) moto checks signatures,
/// but neither clock skew nor payload hashes. Its GetObjectRetention answers 500.
const MOTO: Caps = Caps {
    object_lock: true,
    sse_c_enforced: false,
    content_md5_checked: false,
    conditional_put: true,
    if_match_put: true,
    strict_sigv4: false,
    list_max_keys_capped: false,
    list_uploads: true,
};

/// Ceph 16 (Pacific), as .ci/start-radosgw.sh runs it.
const RADOSGW: Caps = Caps {
    object_lock: true,
    sse_c_enforced: true,
    content_md5_checked: true,
    conditional_put: true,
    if_match_put: false,
    strict_sigv4: true,
    list_max_keys_capped: true,
    list_uploads: true,
};

/// The external servers this test bed knows how to describe.
const EXTERNAL: [(&str, Caps); 2] = [("moto", MOTO), ("radosgw", RADOSGW)];

/// Every server to run a test against: a fresh in-process s3s-fs, then each
/// external server configured in the environment. Call it once per test and
/// keep the result alive for the whole test: dropping it stops s3s-fs.
///
/// # Panics
/// When the environment is inconsistent (an unknown server name, a missing
/// or non-loopback endpoint, a missing key, a required server not configured):
/// a misconfigured run must fail, never test less than it claims.
pub async fn servers() -> Vec<TestServer> {
    let external = external_servers();
    let mut servers = Vec::with_capacity(external.len() + 1);
    servers.push(s3s_fs().await);
    servers.extend(external);
    servers
}

/// The servers of [`servers`] that enforce `feature` (as `enforces` reads
/// their [`Caps`]). A test of a protection the client relies on the server for
/// runs only there. None at all is a failure when `KLOSET_TEST_REQUIRE` is set
/// (CI must never pass by testing nothing); otherwise the test says on stderr
/// that it checked nothing.
pub async fn servers_enforcing(feature: &str, enforces: fn(&Caps) -> bool) -> Vec<TestServer> {
    let enforcing: Vec<TestServer> = servers()
        .await
        .into_iter()
        .filter(|server| enforces(&server.caps))
        .collect();
    if enforcing.is_empty() {
        let required = std::env::var("KLOSET_TEST_REQUIRE").unwrap_or_default();
        assert!(
            required.trim().is_empty(),
            "no configured S3 server enforces {feature}, though KLOSET_TEST_REQUIRE={required}"
        );
        eprintln!(
            "SKIPPED: no configured S3 server enforces {feature} (run through .ci/run to test it)"
        );
    }
    enforcing
}

async fn s3s_fs() -> TestServer {
    // Fresh keys for each server: a test cannot pass by hard-coding them.
    let access_key = format!("S3SFS{}", unique_token()).to_ascii_uppercase();
    let secret_key = format!("secret-{}", unique_token());
    let server = S3sFsServer::start(&access_key, &secret_key)
        .await
        .unwrap_or_else(|e| panic!("cannot start the in-process s3s-fs server: {e}"));
    TestServer {
        name: "s3s-fs",
        endpoint: server.endpoint().to_string(),
        access_key,
        secret_key,
        caps: S3S_FS,
        in_process: Some(server),
    }
}

fn external_servers() -> Vec<TestServer> {
    let configured = names("KLOSET_TEST_SERVERS");
    for (name, _) in names("KLOSET_TEST_REQUIRE") {
        assert!(
            configured.iter().any(|(configured, _)| *configured == name),
            "KLOSET_TEST_REQUIRE requires the S3 server `{name}` but KLOSET_TEST_SERVERS does not list it; \
             run the tests through .ci/run, which starts it"
        );
    }
    configured
        .into_iter()
        .map(|(name, caps)| external_server(name, caps))
        .collect()
}

fn external_server(name: &'static str, caps: Caps) -> TestServer {
    let var = |field: &str| {
        let key = format!("KLOSET_TEST_{}_{field}", name.to_ascii_uppercase());
        match std::env::var(&key) {
            Ok(value) if !value.is_empty() => value,
            _ => panic!("KLOSET_TEST_SERVERS lists `{name}` but {key} is not set"),
        }
    };
    let endpoint = var("ENDPOINT");
    let loopback = endpoint
        .parse::<SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    assert!(
        loopback,
        "KLOSET_TEST_{}_ENDPOINT is `{endpoint}`: tests talk only to 127.0.0.1:PORT",
        name.to_ascii_uppercase()
    );
    TestServer {
        name,
        endpoint,
        access_key: var("ACCESS_KEY"),
        secret_key: var("SECRET_KEY"),
        caps,
        in_process: None,
    }
}

/// The servers named in a comma-separated variable; unset means none.
fn names(var: &str) -> Vec<(&'static str, Caps)> {
    let value = std::env::var(var).unwrap_or_default();
    value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            EXTERNAL
                .into_iter()
                .find(|(known, _)| *known == name)
                .unwrap_or_else(|| {
                    let known: Vec<&str> = EXTERNAL.iter().map(|(known, _)| *known).collect();
                    panic!(
                        "{var} names `{name}`; known S3 servers: {}",
                        known.join(", ")
                    )
                })
        })
        .collect()
}

/// A valid S3 bucket name (lowercase letters, digits, hyphens; 3–63
/// characters) that no other call returns, in this process or another: the
/// external servers live for a whole CI run and are shared by every test.
/// `tag` (the test's name, say) only helps a human reading server logs.
pub fn unique_bucket(tag: &str) -> String {
    let tag: String = tag
        .chars()
        .take(30)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("kt-{tag}-{}", unique_token())
}

/// `<pid>-<ms since epoch>-<counter>`, in hex: unique per call within a
/// process (counter), across concurrent processes (pid), and across runs
/// against a long-lived server that sees a pid again (time).
fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}-{millis:x}-{count:x}", std::process::id())
}

impl TestServer {
    /// The store configuration (the component's key/value pairs) for
    /// `bucket`/`prefix` on this server, plus `extra` pairs. Plain HTTP: the
    /// test servers have no TLS. An empty `prefix` means the bucket's root.
    pub fn config(
        &self,
        bucket: &str,
        prefix: &str,
        extra: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let location = match prefix {
            "" => format!("s3://{}/{bucket}", self.endpoint),
            _ => format!("s3://{}/{bucket}/{prefix}", self.endpoint),
        };
        let mut config = vec![
            ("location".to_owned(), location),
            ("access_key".to_owned(), self.access_key.clone()),
            ("secret_access_key".to_owned(), self.secret_key.clone()),
            ("use_tls".to_owned(), "false".to_owned()),
        ];
        config.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        config
    }

    /// [`TestServer::config`] with requests sent to `endpoint` instead (a
    /// proxy in front of this server): same keys, same bucket.
    pub fn config_via(
        &self,
        endpoint: SocketAddr,
        bucket: &str,
        extra: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut config = self.config(bucket, "", extra);
        config[0].1 = format!("s3://{endpoint}/{bucket}");
        config
    }

    /// The same server reached at `endpoint` (a proxy in front of it), with
    /// the same keys and caps. The in-process server stays owned by `self`.
    pub fn through(&self, endpoint: String) -> TestServer {
        TestServer {
            name: self.name,
            endpoint,
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            caps: self.caps,
            in_process: None,
        }
    }

    /// The in-process server, for tests that reach behind the client (e.g.
    /// corrupt a stored object through its data directory); `None` for
    /// external servers.
    pub fn in_process(&self) -> Option<&S3sFsServer> {
        self.in_process.as_ref()
    }
}

/// One host for the whole test binary: the component is loaded (and compiled,
/// or taken from the cache) once, as a long-running host would.
pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::new(HostOptions::default()).expect("the host loads the component"))
}

impl TestServer {
    /// Opens a store on a fresh bucket of this server, with `extra` pairs.
    pub async fn open(&self, tag: &str, extra: &[(&str, &str)]) -> (String, StoreHandle) {
        let bucket = unique_bucket(tag);
        let store = host()
            .open(&self.config(&bucket, "", extra))
            .await
            .unwrap_or_else(|e| panic!("{}: opening a store: {e}", self.name));
        (bucket, store)
    }
}

/// A MAC for test objects: distinct per `seed`, spread over all first bytes.
pub fn mac(seed: u64) -> [u8; 32] {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66_D1CE_4E5B;
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        chunk.copy_from_slice(&splitmix(&mut state).to_le_bytes());
    }
    out
}

/// `len` bytes of deterministic, incompressible data.
pub fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed ^ 0xA076_1D64_78BD_642F;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&splitmix(&mut state).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The store error inside a host error; panics (failing the test) on a trap
/// or a host failure, which no store test expects.
pub fn store_error(error: HostError) -> kloset_s3::error::Error {
    match error {
        HostError::Store(e) => e,
        other => panic!("expected a store error, got {other}"),
    }
}

/// Reads a whole object (or range) into memory.
pub async fn get(
    store: &mut StoreHandle,
    kind: kloset_host::ResourceKind,
    mac: &[u8],
    range: Option<kloset_host::Range>,
) -> Result<Vec<u8>, HostError> {
    let mut out = Vec::new();
    store.get(kind, mac, range, &mut out).await?;
    Ok(out)
}

impl std::fmt::Debug for TestServer {
    /// Names the server and endpoint, never the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid_bucket_name(name: &str) -> bool {
        (3..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric())
    }

    #[test]
    fn unique_bucket_names_are_valid_and_distinct() {
        let long = "Some_Test::with a VERY long name that goes on and on and on";
        let names: Vec<String> = ["x", "", long, long]
            .iter()
            .map(|t| unique_bucket(t))
            .collect();
        for name in &names {
            assert!(is_valid_bucket_name(name), "{name}");
        }
        assert_ne!(names[2], names[3]);
    }

    /// In CI this checks the wiring from .ci/run's environment to here.
    #[tokio::test]
    async fn servers_are_s3s_fs_then_the_configured_ones() {
        let servers = servers().await;
        assert_eq!(servers[0].name, "s3s-fs");
        assert!(servers[0].in_process().is_some());
        for (name, _) in names("KLOSET_TEST_REQUIRE") {
            assert!(servers.iter().any(|s| s.name == name), "{name} missing");
        }
        for server in &servers {
            assert!(server.endpoint.starts_with("127.0.0.1:"), "{server:?}");
        }
    }

    #[test]
    fn config_names_endpoint_bucket_prefix_and_keys() {
        let server = TestServer {
            name: "moto",
            endpoint: "127.0.0.1:9000".into(),
            access_key: "AK".into(),
            secret_key: "SECRETVALUE".into(),
            caps: MOTO,
            in_process: None,
        };
        let pairs = server.config("b", "p/q", &[("part_size", "5MiB")]);
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("location"), Some("s3://127.0.0.1:9000/b/p/q"));
        assert_eq!(get("access_key"), Some("AK"));
        assert_eq!(get("secret_access_key"), Some("SECRETVALUE"));
        assert_eq!(get("use_tls"), Some("false"));
        assert_eq!(get("part_size"), Some("5MiB"));
        assert_eq!(server.config("b", "", &[])[0].1, "s3://127.0.0.1:9000/b");
        assert!(!format!("{server:?}").contains("SECRETVALUE"));
    }
}
