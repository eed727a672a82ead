//! HTTPS and virtual-host addressing end to end, without DNS: s3s-fs behind a
//! TLS front whose certificate a CA made at test time signed, for
//! `s3.kloset.test` and its sub-domains; the host connects those names to
//! 127.0.0.1 (`HostOptions::resolve`), and checks certificates against them.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use kloset_host::testbed::S3sFsServer;
use kloset_host::{Host, HostError, HostOptions, ResourceKind, StoreHandle};
use kloset_s3::error::Error;
use kloset_s3_tests::tls::{TestCa, TlsFront};
use kloset_s3_tests::{data, get, mac, unique_bucket};

const DOMAIN: &str = "s3.kloset.test";
const ACCESS_KEY: &str = "AKIATLSTEST";
const SECRET_KEY: &str = "tls-test-secret-key";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// s3s-fs (answering virtual hosts of [`DOMAIN`]) behind a TLS front.
struct Bed {
    ca: TestCa,
    server: S3sFsServer,
    front: TlsFront,
}

impl Bed {
    /// The front's certificate names `names`.
    async fn start(names: &[&str]) -> Bed {
        let ca = TestCa::new();
        let server = S3sFsServer::start_virtual_host(ACCESS_KEY, SECRET_KEY, DOMAIN)
            .await
            .expect("s3s-fs");
        let front = TlsFront::start(server.endpoint(), ca.server_certificate(names)).await;
        Bed { ca, server, front }
    }
}

/// A host that reaches `names` at 127.0.0.1 and trusts `ca_file` if given.
fn host(ca_file: Option<&Path>, names: &[String]) -> Host {
    Host::new(HostOptions {
        ca_file: ca_file.map(Path::to_path_buf),
        resolve: names.iter().map(|name| (name.clone(), LOOPBACK)).collect(),
        ..HostOptions::default()
    })
    .expect("host")
}

/// The pairs for `s3://<authority>/<path>`.
fn config(authority: &str, path: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs = vec![
        ("location".to_owned(), format!("s3://{authority}/{path}")),
        ("access_key".to_owned(), ACCESS_KEY.to_owned()),
        ("secret_access_key".to_owned(), SECRET_KEY.to_owned()),
    ];
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    pairs
}

/// Creates a kloset, writes, reads and lists a packfile.
async fn round_trip(store: &mut StoreHandle) {
    store.create(b"kloset over TLS").await.expect("create");
    let body = data(3, 300_000);
    let written = store
        .put(ResourceKind::Packfile, &mac(3), &body[..])
        .await
        .expect("put");
    assert_eq!(written, body.len() as u64);
    let read = get(store, ResourceKind::Packfile, &mac(3), None).await;
    assert_eq!(read.expect("get"), body);
    let listed = store.list(ResourceKind::Packfile).await.expect("list");
    assert_eq!(listed, vec![mac(3)]);
}

/// The store error of a failed `ping`.
async fn ping_error(host: &Host, config: &[(String, String)]) -> String {
    let mut store = host.open(config).await.expect("open sends nothing");
    match store.ping().await {
        Err(HostError::Store(e @ Error::Other(_))) => e.to_string(),
        other => panic!("expected a store error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn https_round_trips_with_the_ca_file() {
    let bed = Bed::start(&[DOMAIN]).await;
    let host = host(Some(bed.ca.pem_file()), &[DOMAIN.to_owned()]);
    let authority = format!("{DOMAIN}:{}", bed.front.port());
    let mut store = host
        .open(&config(&authority, &unique_bucket("tls"), &[]))
        .await
        .expect("open");
    round_trip(&mut store).await;
    assert!(bed.front.handshakes() >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untrusted_certificate_says_what_failed_and_what_to_do() {
    let bed = Bed::start(&[DOMAIN]).await;
    let host = host(None, &[DOMAIN.to_owned()]);
    let authority = format!("{DOMAIN}:{}", bed.front.port());
    let message = ping_error(&host, &config(&authority, &unique_bucket("tls"), &[])).await;
    eprintln!("tls: untrusted: {message}");
    assert!(message.contains("TlsCertificateError"), "{message}");
    assert!(
        message.contains(&format!(
            "the certificate of {authority} is not signed by a trusted CA"
        )),
        "{message}"
    );
    assert!(message.contains("--ca-file"), "{message}");
    assert_eq!(bed.front.handshakes(), 0);
    assert_eq!(bed.server.connections(), 0, "a request got through");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_for_another_host_name_is_refused_naming_its_names() {
    let bed = Bed::start(&[DOMAIN]).await;
    let host = host(Some(bed.ca.pem_file()), &[]);
    // The right server at the right address, under a name its certificate
    // does not carry.
    let authority = format!("127.0.0.1:{}", bed.front.port());
    let message = ping_error(&host, &config(&authority, &unique_bucket("tls"), &[])).await;
    eprintln!("tls: wrong name: {message}");
    assert!(
        message.contains(&format!(
            "the certificate of {authority} does not name that host"
        )),
        "{message}"
    );
    assert!(message.contains(DOMAIN), "{message}");
    assert!(message.contains("`location` or `endpoint`"), "{message}");
    assert_eq!(bed.server.connections(), 0, "a request got through");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_insecure_no_verify_accepts_a_certificate_nobody_trusts() {
    let bed = Bed::start(&["somewhere.else.test"]).await;
    let host = host(None, &[DOMAIN.to_owned()]);
    let authority = format!("{DOMAIN}:{}", bed.front.port());
    let insecure = [("tls_insecure_no_verify", "true")];
    let mut store = host
        .open(&config(&authority, &unique_bucket("tls"), &insecure))
        .await
        .expect("open");
    round_trip(&mut store).await;
}

/// Virtual-host addressing puts the bucket in the host name; the server
/// reads it from there, so the object lands at `<bucket>/<key>` only if the
/// request named the bucket that way and the key alone in its path.
async fn virtual_host_round_trip(bed: &Bed, port: u16, extra: &[(&str, &str)]) {
    let bucket = unique_bucket("vhost");
    let bucket_host = format!("{bucket}.{DOMAIN}");
    // Only the bucket's name resolves: a path-style request could not connect.
    let host = host(Some(bed.ca.pem_file()), &[bucket_host]);
    // Go's form: the location's host is `<bucket>.<endpoint>`.
    let endpoint = format!("{DOMAIN}:{port}");
    let mut config = config(&format!("{bucket}.{endpoint}"), "", extra);
    config.push(("endpoint".into(), endpoint));
    config.push(("virtual_host".into(), "true".into()));
    let mut store = host.open(&config).await.expect("open");
    round_trip(&mut store).await;
    let key = kloset_s3::hex::encode(&mac(3));
    let stored = bed
        .server
        .root()
        .join(&bucket)
        .join("packfiles")
        .join(&key[..2])
        .join(&key);
    assert!(stored.is_file(), "{} is missing", stored.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn virtual_host_addressing_round_trips_over_http() {
    let bed = Bed::start(&[DOMAIN]).await;
    let port = bed.server.endpoint().port();
    virtual_host_round_trip(&bed, port, &[("use_tls", "false")]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn virtual_host_addressing_round_trips_over_https() {
    let wildcard = format!("*.{DOMAIN}");
    let bed = Bed::start(&[DOMAIN, &wildcard]).await;
    let port = bed.front.port();
    virtual_host_round_trip(&bed, port, &[]).await;
    assert!(bed.front.handshakes() >= 1);
}
