//! Where the benchmark runs: the embedded in-memory S3 server (default), or
//! the server the command line names with `-o location=... -o access_key=...
//! -o secret_access_key=...`. Other `-o` pairs configure the component on
//! either (say `-o part_size=64MiB`). Every peer works under its own prefix
//! below the configured one, so runs never see each other's objects. With
//! `--rtt` (or `--link-mibps`), every peer reaches the server through the
//! same emulated [`Link`].

use kloset_s3::config::Config;
use kloset_s3::request::Scheme;

use super::link::{Link, LinkSpec};
use super::workload::Gauges;
use super::BenchError;
use kloset_host::testbed::MemoryServer;

/// Keys that say where the store is: replaced for each peer's prefix.
const LOCATION_KEYS: [&str; 6] = [
    "location",
    "endpoint",
    "port",
    "root",
    "use_tls",
    "virtual_host",
];

/// Keys never shown.
const CREDENTIAL_KEYS: [&str; 4] = [
    "access_key",
    "secret_access_key",
    "session_token",
    "sse_customer_key",
];

pub struct Target {
    pairs: Vec<(String, String)>,
    config: Config,
    /// The embedded server, kept running while the benchmark runs.
    server: Option<MemoryServer>,
    /// The link every peer goes through, when there is one.
    link: Option<Link>,
    /// Threads of this process whose CPU time is not the client's.
    not_client: Vec<&'static str>,
}

impl Target {
    pub async fn new(
        pairs: &[(String, String)],
        link: Option<LinkSpec>,
    ) -> Result<Target, BenchError> {
        let (pairs, server) = if pairs.iter().any(|(key, _)| key == "location") {
            (pairs.to_vec(), None)
        } else {
            let (mut embedded, server) = embedded().await?;
            embedded.extend_from_slice(pairs);
            (embedded, server)
        };
        let mut config = Config::parse(&pairs).map_err(|e| BenchError(e.to_string()))?;
        if config.endpoint.scheme == Scheme::Https {
            return Err(BenchError(
                "the benchmark's native peers speak plain HTTP only: set use_tls=false".into(),
            ));
        }
        let link = match link {
            Some(spec) => Some(through_link(&mut config, spec).await?),
            None => None,
        };
        let mut not_client = Vec::new();
        if server.is_some() {
            not_client.push(MemoryServer::THREAD_NAME);
        }
        if link.is_some() {
            not_client.push(Link::THREAD_NAME);
        }
        Ok(Target {
            pairs,
            config,
            server,
            link,
            not_client,
        })
    }

    pub fn describe(&self) -> String {
        let server = match self.server {
            Some(_) => "in-process memory S3 server",
            None => "S3 server",
        };
        let base = format!("{}/{}", self.config.bucket, self.config.prefix);
        let options: Vec<String> = self
            .pairs
            .iter()
            .filter(|(key, _)| {
                !LOCATION_KEYS.contains(&key.as_str()) && !CREDENTIAL_KEYS.contains(&key.as_str())
            })
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        let options = match options.is_empty() {
            true => String::new(),
            false => format!("; component options {}", options.join(" ")),
        };
        let link = match &self.link {
            Some(link) => format!(" through {}", link.spec().describe()),
            None => String::new(),
        };
        format!(
            "{server}{link} at http://{}, under {base}{options}",
            self.config.endpoint.authority()
        )
    }

    /// The link's shape, when there is one.
    pub fn link(&self) -> Option<LinkSpec> {
        self.link.as_ref().map(Link::spec)
    }

    /// What a batch reads besides the clock: the CPU time of the client's
    /// threads, the link's counts.
    pub fn gauges(&self) -> Gauges {
        Gauges {
            not_client: self.not_client.clone(),
            link: self.link.as_ref().map(Link::counter),
        }
    }

    /// Whether the server is the embedded one, thrown away at the end.
    pub fn embedded(&self) -> bool {
        self.server.is_some()
    }

    /// The configuration of the store at `sub` below the configured prefix.
    pub fn config(&self, sub: &str) -> Config {
        let mut config = self.config.clone();
        config.prefix = format!("{}{sub}/", config.prefix);
        config
    }

    /// The component's configuration pairs for the store at `sub`: the
    /// command line's pairs, located at that prefix.
    pub fn component_pairs(&self, sub: &str) -> Vec<(String, String)> {
        let config = self.config(sub);
        let location = format!(
            "s3://{}/{}/{}",
            config.endpoint.authority(),
            config.bucket,
            config.prefix.trim_end_matches('/')
        );
        let mut pairs: Vec<_> = self
            .pairs
            .iter()
            .filter(|(key, _)| !LOCATION_KEYS.contains(&key.as_str()))
            .cloned()
            .collect();
        pairs.push(("location".into(), location));
        pairs.push(("use_tls".into(), "false".into()));
        pairs
    }
}

/// Starts a link to the server `config` names and points `config` at it.
/// Requests are signed for the link's address, which is what the server
/// then sees in `Host` (path-style requests only: the benchmark's peers).
async fn through_link(config: &mut Config, spec: LinkSpec) -> Result<Link, BenchError> {
    let authority = (config.endpoint.host.as_str(), config.endpoint.port);
    let upstream = tokio::net::lookup_host(authority)
        .await
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| BenchError(format!("cannot resolve {}", config.endpoint.authority())))?;
    let link = Link::start(spec, upstream)
        .map_err(|e| BenchError(format!("starting the emulated link: {e}")))?;
    config.endpoint.host = link.address().ip().to_string();
    config.endpoint.port = link.address().port();
    Ok(link)
}

/// Starts the memory server with a key pair of this run's own.
async fn embedded() -> Result<(Vec<(String, String)>, Option<MemoryServer>), BenchError> {
    let access_key = format!("BENCH{}", std::process::id());
    let secret_key = format!("bench-secret-{:x}", super::workload::seed());
    let server = MemoryServer::start(&access_key, &secret_key)
        .await
        .map_err(|e| BenchError(format!("starting the embedded S3 server: {e}")))?;
    let pairs = [
        (
            "location",
            format!("s3://{}/kloset-bench", server.endpoint()),
        ),
        ("use_tls", "false".into()),
        ("access_key", access_key),
        ("secret_access_key", secret_key),
    ];
    let pairs = pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Ok((pairs, Some(server)))
}
