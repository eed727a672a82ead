//! SSE-C (`sse_customer_key`): every request that touches object data carries
//! the key, reads of SSE-C objects are verified, and a wrong or missing key
//! is named as such, never quoted. radosgw enforces SSE-C; s3s-fs and moto
//! ignore the headers, so there the round trips only show that nothing breaks.

use kloset_host::{Range, ResourceKind};
use kloset_s3::error::Error;
use kloset_s3::request::Method;
use kloset_s3_tests::proxy::{Fault, FaultProxy, Target};
use kloset_s3_tests::{data, get, host, mac, servers, servers_enforcing, store_error};

/// Two AES-256 keys (32 bytes, base64).
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const OTHER_KEY: &str = "a2xvc2V0LXMzIHRlc3Qga2V5IG51bWJlciB0d28hISE=";

fn with_key(key: &'static str) -> [(&'static str, &'static str); 2] {
    [("sse_customer_key", key), ("part_size", "5MiB")]
}

#[tokio::test(flavor = "multi_thread")]
async fn sse_c_objects_round_trip_single_and_multipart() {
    for server in servers().await {
        let name = server.name;
        let (_, mut store) = server.open("ssec-trip", &with_key(KEY)).await;
        store.create(b"encrypted config").await.unwrap();
        assert_eq!(store.open().await.unwrap(), b"encrypted config", "{name}");
        let small = data(1, 4000);
        let large = data(2, (11 << 20) + 7);
        for (i, body) in [(1, &small), (2, &large)] {
            let m = mac(i);
            store
                .put(ResourceKind::Packfile, &m, &body[..])
                .await
                .unwrap();
            assert!(
                get(&mut store, ResourceKind::Packfile, &m, None)
                    .await
                    .unwrap()
                    == *body,
                "{name}: object {i} differs"
            );
            let range = Range {
                offset: 5 << 20,
                length: 1000,
            };
            if body.len() > (5 << 20) + 1000 {
                let part = get(&mut store, ResourceKind::Packfile, &m, Some(range))
                    .await
                    .unwrap();
                assert!(
                    part == body[5 << 20..(5 << 20) + 1000],
                    "{name}: range differs"
                );
            }
            // Writing it again goes through HEAD with the key (exists_as).
            store
                .put(ResourceKind::Packfile, &m, &body[..])
                .await
                .unwrap();
        }
        store.delete(ResourceKind::Packfile, &mac(1)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_stores_sse_c_objects_encrypted() {
    for server in servers_enforcing("SSE-C", |c| c.sse_c_enforced).await {
        let (bucket, mut store) = server.open("ssec-stored", &with_key(KEY)).await;
        store.create(b"c").await.unwrap();
        let m = mac(3);
        store
            .put(ResourceKind::State, &m, &data(3, 100)[..])
            .await
            .unwrap();
        let key = format!(
            "/{bucket}/states/{:02x}/{}",
            m[0],
            kloset_s3::hex::encode(&m)
        );
        let plain = server.raw(Method::Get, &key, &[], &[], b"").await;
        assert_eq!(plain.status, 400, "{}: read without the key", server.name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_wrong_key_is_named_and_never_quoted() {
    for server in servers_enforcing("SSE-C", |c| c.sse_c_enforced).await {
        let name = server.name;
        let (bucket, mut store) = server.open("ssec-wrong", &with_key(KEY)).await;
        store.create(b"c").await.unwrap();
        let m = mac(4);
        let body = data(4, 2000);
        store
            .put(ResourceKind::Packfile, &m, &body[..])
            .await
            .unwrap();

        let mut without = host().open(&server.config(&bucket, "", &[])).await.unwrap();
        let e = store_error(
            get(&mut without, ResourceKind::Packfile, &m, None)
                .await
                .unwrap_err(),
        );
        assert_config_error(&e, "set sse_customer_key", name);

        let mut wrong = host()
            .open(&server.config(&bucket, "", &with_key(OTHER_KEY)))
            .await
            .unwrap();
        let e = store_error(
            get(&mut wrong, ResourceKind::Packfile, &m, None)
                .await
                .unwrap_err(),
        );
        assert_config_error(&e, "wrong", name);
        // CONFIG is encrypted too: opening with the wrong key says so.
        assert_config_error(&store_error(wrong.open().await.unwrap_err()), "wrong", name);
        // A write that finds the object already there checks it with HEAD,
        // whose refusal has no body: it is explained all the same.
        let e = store_error(
            wrong
                .put(ResourceKind::Packfile, &m, &body[..])
                .await
                .unwrap_err(),
        );
        assert_config_error(&e, "wrong", name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sse_c_read_cut_short_resumes_with_the_key() {
    for server in servers_enforcing("SSE-C", |c| c.sse_c_enforced).await {
        let name = server.name;
        let upstream = server.endpoint.parse().expect("a socket address");
        let proxy = FaultProxy::start(upstream).await.unwrap();
        let through = server.through(proxy.addr().to_string());
        let (_, mut store) = through.open("ssec-resume", &with_key(KEY)).await;
        store.create(b"c").await.unwrap();
        let m = mac(5);
        let body = data(5, 3 << 20);
        store
            .put(ResourceKind::Packfile, &m, &body[..])
            .await
            .unwrap();
        proxy.script(&[
            (Target::ObjectGet, Fault::Truncate(100_000)),
            (Target::ObjectGet, Fault::Truncate(1_000_000)),
        ]);
        let back = get(&mut store, ResourceKind::Packfile, &m, None)
            .await
            .unwrap();
        assert!(back == body, "{name}: resumed read differs");
        assert_eq!(
            proxy.pending(),
            0,
            "{name}: the faults were not all injected"
        );
    }
}

fn assert_config_error(e: &Error, says: &str, server: &str) {
    match e {
        Error::InvalidConfig { key, message } => {
            assert_eq!(key, "sse_customer_key", "{server}: {e}");
            assert!(message.contains(says), "{server}: {message}");
        }
        other => panic!("{server}: expected a configuration error naming the key, got {other}"),
    }
    let text = e.to_string();
    for secret in [KEY, OTHER_KEY, &KEY[..20], &OTHER_KEY[..20]] {
        assert!(!text.contains(secret), "{server}: the key leaked: {text}");
    }
}
