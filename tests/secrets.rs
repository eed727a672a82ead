//! No secret (secret key, session token, SSE-C key) ever shows in an error,
//! a Debug output or a log line. Representative failures run with the
//! distinctive values of tests/support/secrets.txt; every error string, Debug
//! output and captured log line is checked here, and also written to the test's
//! stderr (past the harness's capture) so that `.ci/run`'s grep of the whole
//! test log checks them once more.

use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use kloset_host::testbed::S3sFsServer;
use kloset_host::{ComponentCache, Host, HostError, HostOptions, ResourceKind};
use kloset_s3::config::Config;
use kloset_s3_tests::script_server::{Reply, ScriptServer};
use kloset_s3_tests::secrets::{
    leaked, secret_key, session_token, sse_customer_key, sse_customer_key_short,
};
use kloset_s3_tests::{host, hostile, mac};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Every log line of the process, whatever its level.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every log line at every level, but for the in-process s3s-fs
/// server's: it stands for a remote S3 server, which sees the session token
/// and SSE-C key by design (and logs them at debug level).
fn capture_logs() {
    let ours = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("s3s", LevelFilter::OFF)
        .with_target("s3s_fs", LevelFilter::OFF);
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(|| Capture)
        .with_filter(ours);
    tracing_subscriber::registry().with(layer).init();
}

/// What the failures produced: error strings, Debug outputs.
#[derive(Default)]
struct Transcript(Vec<String>);

impl Transcript {
    fn error<T>(&mut self, what: &str, result: Result<T, HostError>) {
        match result {
            Ok(_) => self.0.push(format!("{what}: ok")),
            Err(e) => {
                self.0.push(format!("{what}: {e}"));
                self.0.push(format!("{what}: {e:?}"));
            }
        }
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A configuration holding every secret, on `endpoint`.
fn config(endpoint: &str, access_key: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let location = format!("s3://{endpoint}/bucket");
    let mut config = pairs(&[
        ("location", &location),
        ("access_key", access_key),
        ("secret_access_key", secret_key()),
        ("session_token", session_token()),
        ("sse_customer_key", sse_customer_key()),
        ("use_tls", "false"),
        ("max_retries", "0"),
        ("first_byte_timeout", "1s"),
    ]);
    config.extend(pairs(extra));
    config
}

fn with(mut config: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    config.retain(|(k, _)| k != key);
    config.push((key.to_owned(), value.to_owned()));
    config
}

async fn bad_configurations(t: &mut Transcript) {
    let good = config("127.0.0.1:9", "AKIASECRETS", &[]);
    let parsed = Config::parse(&good).expect("the base configuration parses");
    t.0.push(format!("Config: {parsed:?}"));
    let token = format!("{} with a space", session_token());
    let unpadded = sse_customer_key().trim_end_matches('=');
    for (what, bad) in [
        (
            "short SSE-C key",
            with(good.clone(), "sse_customer_key", sse_customer_key_short()),
        ),
        (
            "unpadded SSE-C key",
            with(good.clone(), "sse_customer_key", unpadded),
        ),
        (
            "SSE-C key with a space",
            with(
                good.clone(),
                "sse_customer_key",
                &format!("{} ", sse_customer_key()),
            ),
        ),
        (
            "session token with a space",
            with(good.clone(), "session_token", &token),
        ),
        (
            "bad port beside secrets",
            with(good.clone(), "port", "http"),
        ),
        ("secret twice", {
            let mut twice = good.clone();
            twice.push(("secret_access_key".into(), secret_key().into()));
            twice
        }),
    ] {
        t.error(&format!("open: {what}"), host().open(&bad).await);
        let checked = host().check_config_in_component(&bad).await;
        t.error(&format!("component: {what}"), checked);
        t.0.push(format!(
            "parse: {what}: {:?}",
            Config::parse(&bad).map(drop)
        ));
    }
}

async fn real_server_failures(t: &mut Transcript) {
    let server = S3sFsServer::start("AKIASECRETS", secret_key())
        .await
        .expect("s3s-fs");
    let endpoint = server.endpoint().to_string();
    // The right keys: a session token and an SSE-C key the server ignores.
    let mut store = host()
        .open(&config(&endpoint, "AKIASECRETS", &[]))
        .await
        .expect("open");
    t.error("create", store.create(b"c").await);
    t.error(
        "put",
        store.put(ResourceKind::Packfile, &mac(1), &b"x"[..]).await,
    );
    t.error(
        "get missing",
        store
            .get(ResourceKind::Packfile, &mac(2), None, tokio::io::sink())
            .await,
    );
    // Wrong access key, then a secret the server does not know.
    let mut store = host()
        .open(&config(&endpoint, "AKIAUNKNOWN", &[]))
        .await
        .expect("open");
    t.error("unknown access key", store.ping().await);
    let other = S3sFsServer::start("AKIASECRETS", "another-secret-entirely")
        .await
        .expect("s3s-fs");
    let mut store = host()
        .open(&config(&other.endpoint().to_string(), "AKIASECRETS", &[]))
        .await
        .expect("open");
    t.error("wrong secret", store.create(b"c").await);
    t.error(
        "wrong secret, get",
        store
            .get(ResourceKind::State, &mac(3), None, tokio::io::sink())
            .await,
    );
}

async fn hostile_server_failures(t: &mut Transcript) {
    let echo = ScriptServer::start(|seen| {
        let all: Vec<String> = seen
            .headers
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Reply::error(400, "InvalidRequest", &all.join(" "))
    })
    .await;
    let mut store = host()
        .open(&config(&echo.endpoint(), "AKIASECRETS", &[]))
        .await
        .expect("open");
    t.error("echoing server, ping", store.ping().await);
    t.error(
        "echoing server, get",
        store
            .get(ResourceKind::Packfile, &mac(4), None, tokio::io::sink())
            .await,
    );
    t.error(
        "echoing server, put",
        store.put(ResourceKind::Packfile, &mac(4), &b"x"[..]).await,
    );
    let seen = echo.seen();
    assert!(
        seen.iter()
            .any(|s| s.header("x-amz-security-token") == Some(session_token())),
        "the session token was never sent: the echo test is void"
    );
    let slow = ScriptServer::start(|_| {
        Reply::Delayed(Duration::from_secs(3), Box::new(Reply::status(200)))
    })
    .await;
    let mut store = host()
        .open(&config(&slow.endpoint(), "AKIASECRETS", &[]))
        .await
        .expect("open");
    t.error("slow server", store.ping().await);
}

async fn hostile_component_failures(t: &mut Transcript) {
    let endpoint = ScriptServer::start(|_| Reply::status(200)).await;
    let host = Host::new(HostOptions {
        component: Some(hostile::component().to_path_buf()),
        cache: ComponentCache::Disabled,
        ..HostOptions::default()
    })
    .expect("hostile host");
    let mut store = host
        .open(&config(&endpoint.endpoint(), "AKIASECRETS", &[]))
        .await
        .expect("open");
    let port = endpoint.port();
    for spec in [
        format!("http http user:{}@127.0.0.1:{port} /", session_token()),
        format!(
            "http http 127.0.0.1:{port} /?X-Amz-Security-Token={}",
            session_token()
        ),
        format!("http http {}:{port} /", "secrets.invalid"),
    ] {
        // The spec holds a secret: only the outcome is recorded.
        t.error("hostile request", store.create(spec.as_bytes()).await);
    }
    t.error("hostile panic", store.mode().await);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_in_any_error_debug_output_or_log_line() {
    capture_logs();
    let mut t = Transcript::default();
    bad_configurations(&mut t).await;
    real_server_failures(&mut t).await;
    hostile_server_failures(&mut t).await;
    let real_component = LOG.lock().unwrap_or_else(PoisonError::into_inner).len();
    hostile_component_failures(&mut t).await;

    let log = LOG.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let (real, hostile) = log.split_at(real_component);
    let (real, hostile) = (
        String::from_utf8_lossy(real),
        String::from_utf8_lossy(hostile),
    );
    // wasmtime traces the arguments of every call a guest makes to the host:
    // here the hostile guest's own URLs, where it put the token on purpose
    // (the real component's calls, traced above, are all checked). The
    // host's own lines about them, like the egress denials, are checked.
    let guest_calls = "wasmtime_wasi_http::p2::bindings::generated";
    let hostile = hostile.lines().filter(|line| !line.contains(guest_calls));
    let lines: Vec<&str> =
        t.0.iter()
            .map(String::as_str)
            .chain(real.lines())
            .chain(hostile)
            .collect();
    // Past the harness's capture, for .ci/run's grep of the whole log (the
    // TRACE lines, wasmtime's account of each guest call, only counted).
    let mut stderr = std::io::stderr().lock();
    for line in lines.iter().filter(|line| !line.contains(" TRACE ")) {
        let _ = writeln!(stderr, "[secrets] {line}");
    }
    let _ = writeln!(stderr, "[secrets] {} lines checked", lines.len());
    let leaks: Vec<String> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| leaked(line).map(|name| format!("line {i}: the {name}")))
        .collect();
    let denials = lines
        .iter()
        .filter(|l| l.contains("request of the component denied"));
    // The userinfo and the other host; the query goes to the endpoint itself.
    assert_eq!(denials.count(), 2, "the egress denials were not logged");
    assert!(leaks.is_empty(), "secrets leaked: {}", leaks.join(", "));
}
