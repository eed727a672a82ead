//! The sandbox against a deliberately hostile component (tests/hostile), run
//! by the real host: every way out it tries is denied, the one allowed
//! endpoint still works, and a guest that panics, spins, waits forever, hogs
//! memory or host resources, or floods the endpoint dies alone (or waits)
//! while the host goes on, its memory and the listener's view checked. All
//! targets are on the loopback.
//!
//! The tests run one at a time ([`serial`]): they measure the process's
//! memory, which another test's guest would disturb.

use std::time::{Duration, Instant};

use kloset_host::{ComponentCache, Host, HostError, HostOptions, StoreHandle};
use kloset_s3_tests::hostile::{self, rss};
use kloset_s3_tests::script_server::{Reply, ScriptServer};
use kloset_s3_tests::secrets::secret_key;
use tokio::net::UdpSocket;
use tokio::sync::{Mutex, MutexGuard};

const MIB: usize = 1 << 20;
const CPU_BUDGET: Duration = Duration::from_secs(2);
const MEMORY_LIMIT: usize = 64 * MIB;
/// Long enough that only the test that means to hit it does.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

fn options() -> HostOptions {
    HostOptions {
        component: Some(hostile::component().to_path_buf()),
        cache: ComponentCache::Disabled,
        memory_limit: MEMORY_LIMIT,
        cpu_budget: CPU_BUDGET,
        call_timeout: CALL_TIMEOUT,
        ..HostOptions::default()
    }
}

fn hostile_host() -> Host {
    host_with(options())
}

fn host_with(options: HostOptions) -> Host {
    Host::new(options).expect("the host loads the hostile component")
}

async fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::const_new(());
    SERIAL.lock().await
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
    let _serial = serial().await;
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
        // Read as host `[::ffff:127.0.0.1]` by `http::Uri`, the rest became the
        // Host header: another virtual host on the allowed socket.
        format!("http http [::ffff:127.0.0.1]evil.example.com:{port} /"),
        format!("http http 127.0.0.1:{port}evil /"),
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

    // Another spelling of the endpoint is the endpoint, under its configured
    // name: the server sees the Host the configuration names.
    let outcome = attempt(
        &mut store,
        &format!("http http [::ffff:127.0.0.1]:{port} /"),
    )
    .await;
    assert_eq!(outcome, "response 200");
    let hosts: Vec<String> = allowed
        .seen()
        .iter()
        .map(|seen| seen.header("host").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(hosts, vec![format!("127.0.0.1:{port}"); 2], "{hosts:?}");

    // Nothing reached anything but the endpoint, which still answers.
    assert_eq!(other_port.connections(), 0);
    assert_eq!(other_address.connections(), 0);
    let mut datagram = [0u8; 16];
    let received = tokio::time::timeout(Duration::from_millis(200), udp.recv(&mut datagram)).await;
    assert!(received.is_err(), "a datagram arrived");
    store.ping().await.expect("the endpoint still works");
    assert_eq!(
        allowed.seen().len(),
        3,
        "only the two pings and the other spelling reached it"
    );
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
    let _serial = serial().await;
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
    let _serial = serial().await;
    let endpoint = ScriptServer::start(|_| Reply::status(200)).await;
    let host = hostile_host();
    let mut store = hostile_store(&host, &endpoint.endpoint()).await;
    let start = Instant::now();
    let message = trap(store.size().await, "endless loop");
    let elapsed = start.elapsed();
    assert!(message.contains("computed for more than 2s"), "{message}");
    // CPU time never runs faster than the wall clock; a loaded machine may
    // give the guest less than all of it.
    assert!(
        elapsed >= CPU_BUDGET && elapsed < CALL_TIMEOUT,
        "stopped after {elapsed:?}"
    );
    let mut fresh = hostile_store(&host, &endpoint.endpoint()).await;
    fresh.ping().await.expect("a fresh store works");
}

#[tokio::test(flavor = "multi_thread")]
async fn unbounded_allocation_hits_the_memory_limit() {
    let _serial = serial().await;
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

/// What the host holds for a guest beyond its linear memory, at most: the
/// resource limit is sized so its resources fit in as much again.
const HOST_SIDE_BOUND: u64 = 2 * MEMORY_LIMIT as u64;

/// Runs `spec`, expecting the instance to die of its resource limit, and
/// returns how much the process's peak memory grew meanwhile.
async fn hoard(spec: &str) -> u64 {
    let endpoint = ScriptServer::start(|_| Reply::status(200)).await;
    let host = hostile_host();
    let mut store = hostile_store(&host, &endpoint.endpoint()).await;
    let before = rss::current();
    rss::reset_peak();
    let message = trap(store.create(spec.as_bytes()).await, spec);
    let grown = rss::peak().saturating_sub(before);
    assert!(
        message.contains("wasi resources") && message.contains("memory limit of 64 MiB"),
        "{spec}: {message}"
    );
    assert!(
        message.contains(&format!("holds {}", store.max_resources())),
        "{message}"
    );
    eprintln!(
        "sandbox: {spec}: stopped at {} resources, host peak memory +{} MiB: {message}",
        store.max_resources(),
        grown >> 20
    );
    drop(store);
    let mut fresh = hostile_store(&host, &endpoint.endpoint()).await;
    fresh.ping().await.expect("a fresh store works");
    grown
}

#[tokio::test(flavor = "multi_thread")]
async fn header_fields_a_guest_hoards_are_bounded() {
    let _serial = serial().await;
    // 4096 fields of 120 KiB would be 480 MiB of host memory.
    let grown = hoard("fields 4096 122880").await;
    assert!(grown < HOST_SIDE_BOUND, "host memory grew {grown} bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn request_bodies_a_guest_hoards_are_bounded() {
    let _serial = serial().await;
    // 1000 bodies of two 1 MiB chunks would be 2 GiB of host memory.
    let grown = hoard("bodies 1000").await;
    assert!(grown < HOST_SIDE_BOUND, "host memory grew {grown} bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_header_over_the_field_limit_traps() {
    let _serial = serial().await;
    let endpoint = ScriptServer::start(|_| Reply::status(200)).await;
    let host = hostile_host();
    let mut store = hostile_store(&host, &endpoint.endpoint()).await;
    let message = trap(store.create(b"fields 1 140000").await, "oversized header");
    assert!(message.contains("exceeds limit"), "{message}");
    assert!(!message.contains(secret_key()), "{message}");
}

/// A host whose guests may compute for [`CPU_BUDGET`] and wait for `timeout`.
fn host_timing_out_after(timeout: Duration, memory_limit: usize) -> Host {
    host_with(HostOptions {
        call_timeout: timeout,
        memory_limit,
        ..options()
    })
}

/// Runs `spec` on a fresh store of `host` and returns why and after how long
/// the instance was stopped; a fresh store works after it.
async fn stopped(host: &Host, spec: &str) -> (String, Duration) {
    let endpoint = ScriptServer::start(|_| Reply::status(200)).await;
    let mut store = hostile_store(host, &endpoint.endpoint()).await;
    let start = Instant::now();
    let message = trap(store.create(spec.as_bytes()).await, spec);
    let elapsed = start.elapsed();
    eprintln!("sandbox: {spec}: stopped after {elapsed:?}: {message}");
    let again = trap(store.ping().await, "a call after the stop");
    assert!(again.contains("open a new store"), "{again}");
    let mut fresh = hostile_store(host, &endpoint.endpoint()).await;
    fresh.ping().await.expect("a fresh store works");
    (message, elapsed)
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_fill_in_a_loop_is_stopped_by_the_cpu_budget() {
    let _serial = serial().await;
    // Each `memory.fill` of 256 MiB runs for tens of milliseconds between two
    // epoch checks: a meter that took long gaps for waits never stopped it.
    let host = host_timing_out_after(CALL_TIMEOUT, 320 * MIB);
    let (message, elapsed) = stopped(&host, "fill 256").await;
    assert!(message.contains("computed for more than 2s"), "{message}");
    assert!(
        elapsed >= CPU_BUDGET && elapsed < CALL_TIMEOUT,
        "{elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn time_in_host_calls_counts_against_the_cpu_budget() {
    let _serial = serial().await;
    let host = hostile_host();
    // Within the host's cap per call, so the guest spends its time in them.
    let (message, elapsed) = stopped(&host, "random 65536").await;
    assert!(message.contains("computed for more than 2s"), "{message}");
    assert!(
        elapsed >= CPU_BUDGET && elapsed < CALL_TIMEOUT,
        "{elapsed:?}"
    );
    // Beyond it, refused before the host allocates anything.
    let (message, elapsed) = stopped(&host, "random 50331648").await;
    assert!(
        message.contains("requested len 50331648 exceeds limit 65536"),
        "{message}"
    );
    assert!(elapsed < CPU_BUDGET, "{elapsed:?}");
}

const SHORT_TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread")]
async fn a_call_waiting_forever_is_stopped_at_its_deadline() {
    let _serial = serial().await;
    let host = host_timing_out_after(SHORT_TIMEOUT, MEMORY_LIMIT);
    let (message, elapsed) = stopped(&host, "sleep 75").await;
    assert!(
        message.contains("ran for more than 2s") && message.contains("--call-timeout"),
        "{message}"
    );
    assert!(
        elapsed >= SHORT_TIMEOUT && elapsed < SHORT_TIMEOUT * 5,
        "{elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_body_never_written_ends_with_the_call_and_its_connection() {
    let _serial = serial().await;
    let server = ScriptServer::start(|_| Reply::status(200)).await;
    let host = host_timing_out_after(SHORT_TIMEOUT, MEMORY_LIMIT);
    let mut store = hostile_store(&host, &server.endpoint()).await;
    let start = Instant::now();
    let spec = format!("hang-body {}", server.endpoint());
    let message = trap(store.create(spec.as_bytes()).await, &spec);
    let elapsed = start.elapsed();
    assert!(message.contains("ran for more than 2s"), "{message}");
    assert!(elapsed < SHORT_TIMEOUT * 5, "{elapsed:?}");
    // The server got the request's head and waited for its body; the dead
    // instance's connection is closed though the handle is still alive.
    assert_eq!(server.connections(), 1);
    let closed = Instant::now();
    while server.open_connections() > 0 {
        assert!(
            closed.elapsed() < Duration::from_secs(5),
            "the connection stayed open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        server.seen().is_empty(),
        "a body arrived: {:?}",
        server.seen()
    );
    eprintln!("sandbox: {spec}: stopped after {elapsed:?}, connection closed");
    drop(store);
}

#[tokio::test(flavor = "multi_thread")]
async fn simultaneous_requests_past_the_cap_wait_their_turn() {
    let _serial = serial().await;
    let server = ScriptServer::start(|_| {
        Reply::Delayed(Duration::from_millis(100), Box::new(Reply::status(200)))
    })
    .await;
    let host = host_with(HostOptions {
        max_requests: 4,
        ..options()
    });
    let mut store = hostile_store(&host, &server.endpoint()).await;
    let spec = format!("flood 40 {}", server.endpoint());
    assert_eq!(attempt(&mut store, &spec).await, "40 of 40 answered");
    assert_eq!(server.seen().len(), 40);
    assert!(
        server.connections() <= 4,
        "{} connections",
        server.connections()
    );
    eprintln!(
        "sandbox: {spec}: all answered over {} connections",
        server.connections()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_requests_reaches_the_server_only_up_to_the_cap() {
    let _serial = serial().await;
    // Never answers: every request the host lets out stays in flight.
    let server = ScriptServer::start(|_| {
        Reply::Delayed(Duration::from_secs(120), Box::new(Reply::status(200)))
    })
    .await;
    // Room for 2000 requests in the resource table (4096 resources at 1 GiB).
    let host = host_with(HostOptions {
        max_requests: 4,
        memory_limit: 1024 * MIB,
        call_timeout: SHORT_TIMEOUT,
        ..options()
    });
    let mut store = hostile_store(&host, &server.endpoint()).await;
    let spec = format!("flood 2000 {}", server.endpoint());
    let message = trap(store.create(spec.as_bytes()).await, &spec);
    assert!(message.contains("ran for more than 2s"), "{message}");
    assert_eq!(server.connections(), 4, "the requests the cap let out");
    let closed = Instant::now();
    while server.open_connections() > 0 {
        assert!(closed.elapsed() < Duration::from_secs(5), "left open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nothing waiting went out as the instance was torn down.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.connections(), 4);
    eprintln!(
        "sandbox: {spec}: {} connections reached the server, closed when the call was stopped: {message}",
        server.connections()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_buffers_two_chunks_of_a_request_body_at_most() {
    let _serial = serial().await;
    let endpoint = ScriptServer::start(|_| Reply::status(200)).await;
    let host = hostile_host();
    let mut store = hostile_store(&host, &endpoint.endpoint()).await;
    // The guest offers 4 MiB per write; the host takes 128 KiB, twice.
    let outcome = attempt(&mut store, "bodies 4").await;
    assert_eq!(
        outcome,
        format!("held 4 bodies, {} bytes buffered", 4 * 2 * (128 << 10))
    );
}
