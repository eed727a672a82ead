//! Calls a kloset must never make, through the real component in the real
//! host, against every configured S3 server: each is a clear typed error,
//! never a trap, and the store stays usable after it.

use std::sync::atomic::Ordering;

use kloset_host::{Host, HostOptions, Mode, Range, ResourceKind, StoreHandle};
use kloset_s3::error::Error;
use kloset_s3_tests::proxy::{Fault, FaultProxy, Target};
use kloset_s3_tests::{data, get, host, mac, servers, store_error, TestServer};

const MIB: usize = 1 << 20;

fn assert_invalid_argument(error: Error, what: &str) {
    assert!(
        matches!(error, Error::InvalidArgument(_)),
        "{what}: expected an invalid argument, got {error}"
    );
}

/// A store with a kloset, on a fresh bucket.
async fn kloset(server: &TestServer, tag: &str, extra: &[(&str, &str)]) -> (String, StoreHandle) {
    let (bucket, mut store) = server.open(tag, extra).await;
    store.create(b"kloset").await.expect("create");
    (bucket, store)
}

#[tokio::test(flavor = "multi_thread")]
async fn macs_that_are_not_32_bytes_are_invalid_arguments() {
    for server in servers().await {
        let name = server.name;
        let (_, mut store) = kloset(&server, "badmac", &[]).await;
        let mut count = 0;
        for len in [0, 1, 31, 33, 64] {
            let bad = vec![0xab; len];
            let what = format!("{name}: MAC of {len} bytes");
            let err = store.put(ResourceKind::Packfile, &bad, &b"x"[..]).await;
            assert_invalid_argument(store_error(err.unwrap_err()), &format!("put {what}"));
            let err = get(&mut store, ResourceKind::State, &bad, None).await;
            assert_invalid_argument(store_error(err.unwrap_err()), &format!("get {what}"));
            let err = store.delete(ResourceKind::Lock, &bad).await;
            assert_invalid_argument(store_error(err.unwrap_err()), &format!("delete {what}"));
            count += 3;
        }
        assert!(store.list(ResourceKind::Packfile).await.unwrap().is_empty());
        store.ping().await.expect("usable after bad MACs");
        eprintln!("{name}: {count} bad MAC calls refused");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_past_the_end_or_overflowing_are_invalid_arguments() {
    for server in servers().await {
        let name = server.name;
        let (_, mut store) = kloset(&server, "badrange", &[]).await;
        let body = data(1, 1000);
        let m = mac(1);
        store
            .put(ResourceKind::Packfile, &m, &body[..])
            .await
            .unwrap();
        for (offset, length) in [
            (1000u64, 1u32),
            (999, 2),
            (0, 1001),
            (5000, 10),
            (u64::MAX, 1),
            (u64::MAX, 2),
            (u64::MAX - 10, u32::MAX),
        ] {
            let range = Some(Range { offset, length });
            let err = get(&mut store, ResourceKind::Packfile, &m, range).await;
            let what = format!("{name}: range {offset}+{length} of 1000 bytes");
            assert_invalid_argument(store_error(err.unwrap_err()), &what);
        }
        // The object is intact and readable after all that.
        assert_eq!(
            get(&mut store, ResourceKind::Packfile, &m, None)
                .await
                .unwrap(),
            body
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_object_is_refused_and_not_stored() {
    for server in servers().await {
        let (_, mut store) = kloset(&server, "empty", &[]).await;
        for kind in [
            ResourceKind::Packfile,
            ResourceKind::State,
            ResourceKind::Lock,
        ] {
            let err = store.put(kind, &mac(2), &b""[..]).await.unwrap_err();
            assert_invalid_argument(
                store_error(err),
                &format!("{}: empty {kind:?}", server.name),
            );
            assert!(
                store.list(kind).await.unwrap().is_empty(),
                "{}",
                server.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ecc_kinds_are_unsupported_for_every_verb() {
    for server in servers().await {
        let (_, mut store) = kloset(&server, "ecc", &[]).await;
        for kind in [ResourceKind::EccPackfile, ResourceKind::EccState] {
            let what = format!("{}: {kind:?}", server.name);
            let unsupported = |e: Error| matches!(e, Error::Unsupported(_));
            let put = store.put(kind, &mac(3), &b"x"[..]).await.unwrap_err();
            assert!(unsupported(store_error(put)), "put {what}");
            let got = get(&mut store, kind, &mac(3), None).await.unwrap_err();
            assert!(unsupported(store_error(got)), "get {what}");
            let listed = store.list(kind).await.unwrap_err();
            assert!(unsupported(store_error(listed)), "list {what}");
            let deleted = store.delete(kind, &mac(3)).await.unwrap_err();
            assert!(unsupported(store_error(deleted)), "delete {what}");
        }
        store.ping().await.expect("usable after ECC calls");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_after_close_is_an_invalid_argument() {
    for server in servers().await {
        let name = server.name;
        let (bucket, mut store) = kloset(&server, "closed", &[]).await;
        let m = mac(4);
        store
            .put(ResourceKind::State, &m, &b"state"[..])
            .await
            .unwrap();
        store.close().await.expect("close");
        let mut refused = Vec::new();
        refused.push(("create", store.create(b"again").await.map(drop)));
        refused.push(("open", store.open().await.map(drop)));
        refused.push(("ping", store.ping().await));
        refused.push(("mode", store.mode().await.map(drop)));
        refused.push(("size", store.size().await.map(drop)));
        refused.push(("list", store.list(ResourceKind::State).await.map(drop)));
        let put = store.put(ResourceKind::State, &mac(5), &b"x"[..]).await;
        refused.push(("put", put.map(drop)));
        let got = get(&mut store, ResourceKind::State, &m, None).await;
        refused.push(("get", got.map(drop)));
        refused.push(("delete", store.delete(ResourceKind::State, &m).await));
        refused.push(("close", store.close().await));
        for (verb, result) in refused {
            let err = result.expect_err(verb);
            assert_invalid_argument(store_error(err), &format!("{name}: {verb} after close"));
        }
        // What needs no server still answers.
        assert_eq!(store.type_name().await.unwrap(), "s3");
        assert_eq!(store.root().await.unwrap(), format!("/{bucket}"));
        // Nothing was deleted or written by the refused calls.
        let mut fresh = host().open(&server.config(&bucket, "", &[])).await.unwrap();
        assert_eq!(fresh.open().await.unwrap(), b"kloset", "{name}");
        assert_eq!(fresh.list(ResourceKind::State).await.unwrap(), vec![m]);
        assert!(fresh.mode().await.unwrap().contains(Mode::READ));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn open_without_a_kloset_and_create_twice_are_refused() {
    for server in servers().await {
        let name = server.name;
        let (bucket, mut store) = kloset(&server, "nokloset", &[]).await;
        let err = store_error(store.create(b"second").await.unwrap_err());
        assert!(matches!(err, Error::AlreadyExists(_)), "{name}: {err}");
        assert_eq!(store.open().await.unwrap(), b"kloset", "{name}");
        let mut elsewhere = host()
            .open(&server.config(&bucket, "no/kloset/here", &[]))
            .await
            .unwrap();
        let err = store_error(elsewhere.open().await.unwrap_err());
        assert!(
            matches!(&err, Error::NotFound(m) if m.contains("no kloset")),
            "{name}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_immutable_object_is_never_overwritten_with_other_bytes() {
    for server in servers().await {
        let name = server.name;
        let (_, mut store) = kloset(&server, "overwrite", &[]).await;
        let m = mac(6);
        let first = data(6, 5000);
        store
            .put(ResourceKind::Packfile, &m, &first[..])
            .await
            .unwrap();
        // The same bytes again are fine (a retried backup), other bytes are not.
        store
            .put(ResourceKind::Packfile, &m, &first[..])
            .await
            .unwrap();
        let other = data(7, 5000);
        let err = store
            .put(ResourceKind::Packfile, &m, &other[..])
            .await
            .unwrap_err();
        let err = store_error(err);
        assert!(matches!(err, Error::AlreadyExists(_)), "{name}: {err}");
        let back = get(&mut store, ResourceKind::Packfile, &m, None)
            .await
            .unwrap();
        assert!(back == first, "{name}: the packfile was overwritten");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_refuses_calls_once_finished_or_aborted() {
    for server in servers().await {
        let name = server.name;
        let (_, mut store) = kloset(&server, "finished", &[]).await;
        let mut upload = store.upload(ResourceKind::State, &mac(8)).await.unwrap();
        upload.write(b"state").await.unwrap();
        assert_eq!(upload.finish().await.unwrap(), 5);
        for (verb, result) in [
            ("write", upload.write(b"more").await),
            ("finish", upload.finish().await.map(drop)),
            ("abort", upload.abort().await),
        ] {
            let err = store_error(result.expect_err(verb));
            assert_invalid_argument(err, &format!("{name}: {verb} after finish"));
        }
        upload.release().await.unwrap();
        let stored = get(&mut store, ResourceKind::State, &mac(8), None).await;
        assert_eq!(stored.unwrap(), b"state", "{name}");

        let mut upload = store.upload(ResourceKind::State, &mac(9)).await.unwrap();
        upload.write(b"doomed").await.unwrap();
        upload.abort().await.unwrap();
        for (verb, result) in [
            ("write", upload.write(b"more").await),
            ("finish", upload.finish().await.map(drop)),
            ("abort", upload.abort().await),
        ] {
            let err = store_error(result.expect_err(verb));
            assert_invalid_argument(err, &format!("{name}: {verb} after abort"));
        }
        upload.release().await.unwrap();
        // A failed finish (nothing written) fails the upload for good too.
        let mut upload = store.upload(ResourceKind::Lock, &mac(10)).await.unwrap();
        assert_invalid_argument(
            store_error(upload.finish().await.unwrap_err()),
            &format!("{name}: empty finish"),
        );
        let err = store_error(upload.write(b"late").await.unwrap_err());
        assert_invalid_argument(err, &format!("{name}: write after a failed finish"));
        upload.release().await.unwrap();

        assert_eq!(
            store.list(ResourceKind::State).await.unwrap(),
            vec![mac(8)],
            "{name}"
        );
        assert!(store.list(ResourceKind::Lock).await.unwrap().is_empty());
    }
}

/// Incomplete multipart uploads s3s-fs holds: it keeps each as
/// `.upload-<id>.json` (and its parts as `.upload_id-<id>.part-N`) in its root.
fn incomplete_uploads(server: &TestServer) -> Option<Vec<String>> {
    let fs = server.in_process()?;
    let entries = std::fs::read_dir(fs.root()).expect("s3s-fs root");
    Some(
        entries
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(".upload"))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_released_mid_way_leaves_nothing() {
    for server in servers().await {
        let name = server.name;
        let (_, mut store) = kloset(&server, "dropped", &[("part_size", "5MiB")]).await;
        // Still in the buffer: nothing was sent.
        let mut upload = store
            .upload(ResourceKind::Packfile, &mac(11))
            .await
            .unwrap();
        upload.write(&data(11, 1000)).await.unwrap();
        upload.release().await.unwrap();
        // One part sent, the second buffered: a multipart upload is open.
        let mut upload = store
            .upload(ResourceKind::Packfile, &mac(12))
            .await
            .unwrap();
        upload.write(&data(12, 3 * MIB)).await.unwrap();
        upload.write(&data(13, 3 * MIB)).await.unwrap();
        if let Some(open) = incomplete_uploads(&server) {
            assert!(!open.is_empty(), "{name}: no multipart upload was open");
        }
        upload.release().await.unwrap();
        assert!(
            store.list(ResourceKind::Packfile).await.unwrap().is_empty(),
            "{name}: a released upload is visible"
        );
        if let Some(left) = incomplete_uploads(&server) {
            assert!(left.is_empty(), "{name}: left behind {left:?}");
        }
        for m in [mac(11), mac(12)] {
            let err = store_error(
                get(&mut store, ResourceKind::Packfile, &m, None)
                    .await
                    .unwrap_err(),
            );
            assert!(matches!(err, Error::NotFound(_)), "{name}: {err}");
        }
        // The store goes on: the same MAC can be written in full afterwards.
        let body = data(12, 6 * MIB);
        store
            .put(ResourceKind::Packfile, &mac(12), &body[..])
            .await
            .unwrap();
        assert_eq!(
            store.list(ResourceKind::Packfile).await.unwrap(),
            vec![mac(12)]
        );
    }
}

/// Puts `first` then `second` (other bytes, same length) under one MAC, single
/// part and multipart: the second is refused and the first stays.
async fn assert_never_overwritten(store: &mut StoreHandle, what: &str) {
    for (i, len) in [(0u64, 5000usize), (1, 6 * MIB)] {
        let m = mac(90 + i);
        let first = data(90 + i, len);
        let mut second = first.clone();
        second[len / 2] ^= 1;
        store
            .put(ResourceKind::Packfile, &m, &first[..])
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let err = store
            .put(ResourceKind::Packfile, &m, &second[..])
            .await
            .unwrap_err();
        let err = store_error(err);
        assert!(
            matches!(err, Error::AlreadyExists(_)),
            "{what}, {len} bytes: {err}"
        );
        let back = get(store, ResourceKind::Packfile, &m, None).await.unwrap();
        assert!(back == first, "{what}, {len} bytes: overwritten");
        // The same bytes again are still fine.
        store
            .put(ResourceKind::Packfile, &m, &first[..])
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn other_bytes_never_overwrite_without_conditional_writes() {
    for server in servers().await {
        let name = server.name;
        let extra = [("conditional_writes", "false"), ("part_size", "5MiB")];
        let (_, mut store) = kloset(&server, "noconditional", &extra).await;
        assert_never_overwritten(&mut store, name).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn other_bytes_never_overwrite_on_a_server_that_ignores_if_none_match() {
    for server in servers().await {
        let name = server.name;
        let upstream = server.endpoint.parse().expect("a socket address");
        let proxy = FaultProxy::start(upstream).await.unwrap();
        proxy.ignore_if_none_match(&server.access_key, &server.secret_key);
        let through = server.through(proxy.addr().to_string());
        let (_, mut store) = kloset(&through, "ignoresinm", &[("part_size", "5MiB")]).await;
        assert_never_overwritten(&mut store, name).await;
        let stripped = proxy.tally().stripped.load(Ordering::Relaxed);
        assert!(
            stripped >= 3,
            "{name}: only {stripped} headers were ignored"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_again_completes_with_the_same_bytes_and_refuses_others() {
    for server in servers().await {
        let name = server.name;
        let upstream = server.endpoint.parse().expect("a socket address");
        let proxy = FaultProxy::start(upstream).await.unwrap();
        let through = server.through(proxy.addr().to_string());
        let (bucket, mut store) = through.open("createagain", &[]).await;
        // The CreateBucket and CONFIG PUTs land, their answers are lost: the
        // retries' refusals (409 BucketAlreadyExists on s3s-fs, 412) are our
        // own bucket and CONFIG, not another's.
        proxy.script(&[(Target::Put, Fault::Lost), (Target::Put, Fault::Lost)]);
        store
            .create(b"config")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(proxy.pending(), 0, "{name}: the faults were not injected");
        // The user runs the same create again.
        store
            .create(b"config")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let err = store_error(store.create(b"other").await.unwrap_err());
        assert!(
            matches!(&err, Error::AlreadyExists(m) if m.contains("already holds a kloset")),
            "{name}: {err}"
        );
        let mut fresh = host().open(&server.config(&bucket, "", &[])).await.unwrap();
        assert_eq!(fresh.open().await.unwrap(), b"config", "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_part_larger_than_the_memory_limit_is_a_clear_error_not_a_trap() {
    let servers = servers().await;
    let server = &servers[0];
    let small = Host::new(HostOptions {
        memory_limit: 12 * MIB,
        ..HostOptions::default()
    })
    .unwrap();
    let bucket = kloset_s3_tests::unique_bucket("bigpart");
    let mut store = small
        .open(&server.config(&bucket, "", &[("part_size", "16MiB")]))
        .await
        .unwrap();
    store.create(b"c").await.unwrap();
    let err = store
        .put(ResourceKind::Packfile, &mac(95), &data(95, 20 * MIB)[..])
        .await
        .unwrap_err();
    match store_error(err) {
        Error::InvalidConfig { key, message } => {
            assert_eq!(key, "part_size");
            assert!(message.contains("memory limit"), "{message}");
        }
        other => panic!("expected a configuration error, got {other}"),
    }
    // The instance lives on.
    store.ping().await.unwrap();
    assert!(store.list(ResourceKind::Packfile).await.unwrap().is_empty());
}
