//! The sandbox against a deliberately hostile component (tests/hostile), run
//! by the real host: every way out it tries is denied, the one allowed
//! endpoint still works, and a guest that panics, spins or hogs memory dies
//! alone while the host goes on. All targets are on the loopback.

use std::time::{Duration, Instant};

use kloset_host::{ComponentCache, Host, HostError, HostOptions, StoreHandle};
use kloset_s3_tests::hostile;
use kloset_s3_tests::script_server::{Reply, ScriptServer};
use kloset_s3_tests::secrets::secret_key;
use tokio::net::UdpSocket;

const MIB: usize = 1 << 20;
const CPU_BUDGET: Duration = Duration::from_secs(2);
const MEMORY_LIMIT: usize = 64 * MIB;

fn hostile_host() -> Host {
    Host::new(HostOptions {
        component: Some(hostile::component().to_path_buf()),
        cache: ComponentCache::Disabled,
        memory_limit: MEMORY_LIMIT,
        cpu_budget: CPU_BUDGET,
        ..HostOptions::default()
    })
    .expect("the host loads the hostile component")
}

fn config(endpoint: &str) -> Vec<(String, String)> {
    [
        ("location", format!("s3://{endpoint}/bucket")),
        ("access_key", "AKIAHOSTILE".to_owned()),
        ("secret_access_key", secret_key().to_owned()),
        ("use_tls", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// What the hostile component reports for one attempt.
async fn attempt(store: &mut StoreHandle, spec: &str) -> String {
    match store.create(spec.as_bytes()).await {
        Err(HostError::Store(kloset_s3::error::Error::Other(outcome))) => outcome,
        other => panic!("{spec}: the hostile component answered {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_way_out_is_denied_and_the_endpoint_still_works() {
    let allowed = ScriptServer::start(|_| Reply::status(200)).await;
    let other_port = ScriptServer::start(|_| Reply::status(200)).await;
    let other_address = ScriptServer::start_on("127.0.0.2:0", |_| Reply::status(200)).await;
    let udp = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let (port, other, far) = (allowed.port(), other_port.port(), other_address.endpoint());
    let udp_port = udp.local_addr().expect("udp address").port();

    let host = hostile_host();
    let mut store = host.open(&config(&allowed.endpoint())).await.expect("open");
    store
        .ping()
        .await
        .expect("the configured endpoint is reachable");
    assert_eq!(allowed.seen().len(), 1);

    // HTTP requests to anywhere but the endpoint: each is denied by the
    // egress policy and counted, except a scheme wasi-http itself cannot send.
    let http_attempts = [
        format!("http http 127.0.0.1:{other} /"),
        "http http 127.0.0.1 /".to_owned(),
        format!("http http 127.0.0.2:{port} /"),
        format!("http http {far} /"),
        format!("http http localhost:{port} /"),
        format!("http http LOCALHOST.:{port} /"),
        format!("http http [::1]:{port} /"),
        format!("http http [::ffff:127.0.0.2]:{port} /"),
        format!("http http 0.0.0.0:{port} /"),
        format!("http http 2130706433:{port} /"),
        format!("http http 127.1:{port} /"),
        format!("http https 127.0.0.1:{port} /"),
        format!("http http 127.0.0.1:{other}@127.0.0.1:{port} /"),
        format!("http http 127.0.0.1:{port}@127.0.0.1:{other} /"),
        format!("http http user:pw@127.0.0.1:{port} /"),
    ];
    for (i, spec) in http_attempts.iter().enumerate() {
        let outcome = attempt(&mut store, spec).await;
        assert_eq!(outcome, "refused: ErrorCode::HttpRequestDenied", "{spec}");
        assert_eq!(store.denied_requests(), i as u64 + 1, "{spec}");
        eprintln!("sandbox: {spec}: {outcome}");
    }
    let denied = store.denied_requests();
    let outcome = attempt(&mut store, &format!("http ftp 127.0.0.1:{port} /")).await;
    assert_eq!(outcome, "refused: ErrorCode::HttpProtocolError");
    assert_eq!(
        store.denied_requests(),
        denied,
        "wasi-http refused it before the policy"
    );

    // Raw sockets, name lookups, files, environment, arguments, stdin.
    let other_attempts = [
        format!("tcp 127.0.0.1 {port}"),
        format!("tcp 127.0.0.1 {other}"),
        format!("tcp 127.0.0.2 {}", other_address.port()),
        format!("tcp6 {port}"),
        format!("udp 127.0.0.1 {udp_port}"),
        "dns localhost".to_owned(),
        "read /etc/passwd".to_owned(),
        "read .".to_owned(),
        "stdin".to_owned(),
    ];
    for spec in &other_attempts {
        let outcome = attempt(&mut store, spec).await;
        let refused = match spec.split(' ').next() {
            Some("tcp" | "tcp6" | "udp") => outcome.contains("access-denied"),
            _ => outcome.starts_with("refused"),
        };
        assert!(refused, "{spec}: {outcome}");
        eprintln!(
            "sandbox: {spec}: {}",
            outcome.lines().next().unwrap_or_default()
        );
    }
    for (spec, want) in [
        ("preopens", "0 preopens []"),
        ("env", "0 variables (0 through std)"),
        ("args", "0 arguments"),
        ("cwd", "cwd None"),
    ] {
        assert_eq!(attempt(&mut store, spec).await, want, "{spec}");
    }

    // Nothing reached anything but the endpoint, which still answers.
    assert_eq!(other_port.connections(), 0);
    assert_eq!(other_address.connections(), 0);
    let mut datagram = [0u8; 16];
    let received = tokio::time::timeout(Duration::from_millis(200), udp.recv(&mut datagram)).await;
    assert!(received.is_err(), "a datagram arrived");
    store.ping().await.expect("the endpoint still works");
    assert_eq!(allowed.seen().len(), 2, "only the two pings reached it");
    assert_eq!(store.denied_requests(), denied);
    eprintln!(
        "sandbox attempts denied: {} ({denied} counted by the egress policy)",
        http_attempts.len() + 1 + other_attempts.len() + 4
    );
}

/// A store of the hostile component whose every call but `ping` misbehaves.
async fn hostile_store(host: &Host, endpoint: &str) -> StoreHandle {
    host.open(&config(endpoint)).await.expect("open")
}

fn trap(result: Result<impl std::fmt::Debug, HostError>, what: &str) -> String {
    match result {
        Err(HostError::Trap(message)) => message,
        other => panic!("{what}: expected a trap, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_traps_and_the_host_opens_a_fresh_store() {
    let endpoint = ScriptServer::start(|_| Reply::status(200)).await;
    let host = hostile_host();
    let mut store = hostile_store(&host, &endpoint.endpoint()).await;
    let message = trap(store.mode().await, "panic");
    assert!(!message.contains('\n'), "{message}");
    // The dead instance is not entered again.
    let again = trap(store.ping().await, "call after a trap");
    assert!(again.contains("open a new store"), "{again}");
    let mut fresh = hostile_store(&host, &endpoint.endpoint()).await;
    fresh.ping().await.expect("a fresh store works");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_loop_is_stopped_by_the_cpu_budget() {
    let endpoint = ScriptServer::start(|_| Reply::status(200)).await;
    let host = hostile_host();
    let mut store = hostile_store(&host, &endpoint.endpoint()).await;
    let start = Instant::now();
    let message = trap(store.size().await, "endless loop");
    let elapsed = start.elapsed();
    assert!(message.contains("computed for more than"), "{message}");
    assert!(
        elapsed >= CPU_BUDGET && elapsed < CPU_BUDGET * 3,
        "stopped after {elapsed:?}"
    );
    let mut fresh = hostile_store(&host, &endpoint.endpoint()).await;
    fresh.ping().await.expect("a fresh store works");
}

#[tokio::test(flavor = "multi_thread")]
async fn unbounded_allocation_hits_the_memory_limit() {
    let endpoint = ScriptServer::start(|_| Reply::status(200)).await;
    let host = hostile_host();
    let mut store = hostile_store(&host, &endpoint.endpoint()).await;
    let message = trap(
        store.list(kloset_host::ResourceKind::Packfile).await,
        "memory hog",
    );
    assert!(message.contains("memory limit"), "{message}");
    assert!(store.peak_memory_bytes() <= MEMORY_LIMIT);
    let mut fresh = hostile_store(&host, &endpoint.endpoint()).await;
    fresh.ping().await.expect("a fresh store works");
}
