//! How a store names its server, bucket, region and credentials, through the
//! real component on every configured server. Virtual-host addressing needs a
//! DNS name per bucket (`<bucket>.127.0.0.1` resolves nowhere): it is tested
//! end to end in `tests/tls.rs`, where the host resolves the bucket's name
//! itself (`HostOptions::resolve`), and purely in `src/bucket.rs`. No server
//! of ours checks the region a request is signed for (measured), so a proxy
//! in front of each refuses every other region as AWS does, to test region
//! re-signing end to end.

use kloset_host::ResourceKind;
use kloset_s3::error::Error;
use kloset_s3::request::Method;
use kloset_s3_tests::proxy::FaultProxy;
use kloset_s3_tests::{data, get, host, mac, servers, store_error, unique_bucket, TestServer};

/// Creates a kloset with `config`, writes, reads, lists and deletes one state.
async fn round_trip(server: &TestServer, config: &[(String, String)], root: &str) {
    let name = server.name;
    let mut store = host()
        .open(config)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(store.root().await.unwrap(), root, "{name}");
    store
        .create(b"c")
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let body = data(1, 1500);
    store
        .put(ResourceKind::State, &mac(1), &body[..])
        .await
        .unwrap();
    assert_eq!(
        get(&mut store, ResourceKind::State, &mac(1), None)
            .await
            .unwrap(),
        body
    );
    assert_eq!(store.list(ResourceKind::State).await.unwrap(), vec![mac(1)]);
    store.delete(ResourceKind::State, &mac(1)).await.unwrap();
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn self_hosted_servers_take_an_explicit_endpoint_and_bucket() {
    for server in servers().await {
        // Scaleway/Garage style: the location names the bucket, `endpoint`
        // the server; requests are path style.
        let bucket = unique_bucket("explicit");
        let location = format!("s3://{bucket}/backups/host1");
        let config = pairs(&[
            ("location", &location),
            ("endpoint", &server.endpoint),
            ("access_key", &server.access_key),
            ("secret_access_key", &server.secret_key),
            ("use_tls", "false"),
        ]);
        round_trip(&server, &config, &format!("/{bucket}/backups/host1")).await;

        // `root` names the bucket and prefix; the location only the server.
        let bucket = unique_bucket("root");
        let root = format!("/{bucket}/pfx");
        let config = pairs(&[
            ("location", &format!("s3://{}", server.endpoint)),
            ("root", &root),
            ("access_key", &server.access_key),
            ("secret_access_key", &server.secret_key),
            ("use_tls", "false"),
        ]);
        round_trip(&server, &config, &root).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_region_signs_every_request() {
    for server in servers().await {
        // A strict server recomputes the signature with the scope it was
        // given, so a region used inconsistently anywhere would fail here.
        // The bucket exists already (made in the server's own region), as a
        // bucket in a provider's region would.
        for extra in [
            &[("region", "eu-west-3")][..],
            &[("provider", "garage")],
            &[("region", "fr-par"), ("provider", "scaleway")],
        ] {
            let bucket = unique_bucket("region");
            let made = server
                .raw(Method::Put, &format!("/{bucket}"), &[], &[], b"")
                .await;
            assert_eq!(made.status, 200, "{}: {}", server.name, made.text());
            let config = server.config(&bucket, "p", extra);
            round_trip(&server, &config, &format!("/{bucket}/p")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_region_the_server_cannot_create_buckets_in_is_named() {
    for server in servers().await.into_iter().filter(|s| s.name == "radosgw") {
        // radosgw's zonegroup is `default`: it refuses any other constraint.
        let bucket = unique_bucket("bad-region");
        let mut store = host()
            .open(&server.config(&bucket, "", &[("region", "eu-west-3")]))
            .await
            .unwrap();
        let e = store_error(store.create(b"c").await.unwrap_err());
        match &e {
            Error::InvalidConfig { key, message } => {
                assert_eq!(key, "region");
                assert!(message.contains("InvalidLocationConstraint"), "{message}");
            }
            other => panic!("expected a configuration error naming region, got {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_token_travels_signed() {
    const TOKEN: &str = "FQoGZXIvYXdzEXAMPLEkloset-test-token";
    for server in servers().await {
        let name = server.name;
        let bucket = unique_bucket("token");
        let mut store = host()
            .open(&server.config(&bucket, "", &[("session_token", TOKEN)]))
            .await
            .unwrap();
        let answer = store.create(b"c").await;
        if server.name == "moto" {
            // moto (IAM auth on) looks the token up: a made-up one is refused,
            // which shows it was sent in x-amz-security-token.
            let Error::Auth(failure) = store_error(answer.unwrap_err()) else {
                panic!("{name}: expected an auth error");
            };
            assert_eq!(failure.code, "InvalidToken", "{name}: {failure}");
            assert!(!failure.to_string().contains(TOKEN), "{name}: token leaked");
        } else {
            // s3s-fs and radosgw (no STS configured) ignore the header; the
            // signature that covers it must still verify.
            answer.unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_in_another_region_is_reached_by_re_signing_once() {
    for server in servers().await {
        let name = server.name;
        let upstream = server.endpoint.parse().expect("a socket address");
        let proxy = FaultProxy::start(upstream).await.unwrap();
        proxy.live_in_region("eu-test-1");
        let through = server.through(proxy.addr().to_string());
        // The bucket exists (made in the server's own region); the configured
        // region, us-east-1 by default, is not the one the proxy says it is in.
        let bucket = unique_bucket("region");
        let made = server
            .raw(Method::Put, &format!("/{bucket}"), &[], &[], b"")
            .await;
        assert_eq!(made.status, 200, "{name}: {}", made.text());
        round_trip(
            &through,
            &through.config(&bucket, "", &[]),
            &format!("/{bucket}"),
        )
        .await;
        let regions: Vec<String> = proxy
            .seen()
            .iter()
            .map(|s| s.signed_region().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(regions[0], "us-east-1", "{name}");
        assert!(
            regions[1..].iter().all(|r| r == "eu-test-1"),
            "{name}: the region was not kept: {regions:?}"
        );
        let refused = proxy
            .tally()
            .statuses
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(refused, 1, "{name}: one refusal, then the right region");
    }
}
