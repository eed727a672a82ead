//! Every kloset verb through the real component in the real host, against
//! every configured S3 server (s3s-fs always; moto and radosgw under CI).

use kloset_host::{Range, ResourceKind};
use kloset_s3::error::Error;
use kloset_s3_tests::{data, get, mac, servers, store_error, unique_bucket};

const KINDS: [ResourceKind; 3] = [
    ResourceKind::Packfile,
    ResourceKind::State,
    ResourceKind::Lock,
];

#[tokio::test(flavor = "multi_thread")]
async fn every_verb_round_trips() {
    for server in servers().await {
        let name = server.name;
        let (bucket, mut store) = server.open("verbs", &[]).await;
        store.create(b"kloset config v1").await.unwrap();
        assert_eq!(store.open().await.unwrap(), b"kloset config v1", "{name}");
        store.ping().await.unwrap();
        assert_eq!(store.type_name().await.unwrap(), "s3");
        assert_eq!(store.root().await.unwrap(), format!("/{bucket}"));
        assert_eq!(store.origin().await.unwrap(), server.endpoint);
        assert_eq!(store.flags().await.unwrap(), 0);
        let mode = store.mode().await.unwrap();
        assert!(mode.contains(kloset_host::Mode::READ | kloset_host::Mode::WRITE));

        for (i, kind) in KINDS.into_iter().enumerate() {
            let body = data(i as u64, 1000 + i * 77);
            let m = mac(i as u64);
            let written = store.put(kind, &m, &body[..]).await.unwrap();
            assert_eq!(written, body.len() as u64, "{name} {kind:?}");
            assert_eq!(get(&mut store, kind, &m, None).await.unwrap(), body);
            assert_eq!(store.list(kind).await.unwrap(), vec![m], "{name} {kind:?}");
        }
        assert!(store.size().await.unwrap() > 3000, "{name}");

        for (i, kind) in KINDS.into_iter().enumerate() {
            store.delete(kind, &mac(i as u64)).await.unwrap();
            assert!(store.list(kind).await.unwrap().is_empty(), "{name}");
            // Deleting what is gone is not an error.
            store.delete(kind, &mac(i as u64)).await.unwrap();
        }
        store.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_objects_round_trip_and_list() {
    for server in servers().await {
        let (_, mut store) = server.open("multipart", &[("part_size", "5MiB")]).await;
        store.create(b"c").await.unwrap();
        // 12 MiB + 3 bytes: three parts, the last one short.
        let body = data(7, (12 << 20) + 3);
        let m = mac(7);
        let n = store
            .put(ResourceKind::Packfile, &m, &body[..])
            .await
            .unwrap();
        assert_eq!(n, body.len() as u64);
        let back = get(&mut store, ResourceKind::Packfile, &m, None)
            .await
            .unwrap();
        assert!(back == body, "{}: multipart object differs", server.name);
        // An exact multiple of the part size: no empty last part.
        let exact = data(8, 10 << 20);
        store
            .put(ResourceKind::Packfile, &mac(8), &exact[..])
            .await
            .unwrap();
        let back = get(&mut store, ResourceKind::Packfile, &mac(8), None)
            .await
            .unwrap();
        assert!(back == exact, "{}", server.name);
        let mut listed = store.list(ResourceKind::Packfile).await.unwrap();
        listed.sort();
        let mut want = vec![m, mac(8)];
        want.sort();
        assert_eq!(listed, want);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_return_exactly_what_was_asked() {
    for server in servers().await {
        let name = server.name;
        let (_, mut store) = server.open("ranges", &[]).await;
        store.create(b"c").await.unwrap();
        let body = data(3, 100_000);
        let m = mac(3);
        store
            .put(ResourceKind::Packfile, &m, &body[..])
            .await
            .unwrap();
        for (offset, length) in [(0u64, 1u32), (10, 4096), (99_000, 1000), (99_999, 1)] {
            let got = get(
                &mut store,
                ResourceKind::Packfile,
                &m,
                Some(Range { offset, length }),
            )
            .await
            .unwrap();
            let end = offset as usize + length as usize;
            assert_eq!(got, body[offset as usize..end], "{name} {offset}+{length}");
        }
        let empty = Range {
            offset: 5,
            length: 0,
        };
        assert!(get(&mut store, ResourceKind::Packfile, &m, Some(empty))
            .await
            .unwrap()
            .is_empty());
        for (offset, length) in [(99_999u64, 2u32), (100_000, 1), (1 << 40, 10)] {
            let err = get(
                &mut store,
                ResourceKind::Packfile,
                &m,
                Some(Range { offset, length }),
            )
            .await
            .unwrap_err();
            assert!(
                matches!(store_error(err), Error::InvalidArgument(_)),
                "{name}: range {offset}+{length} past the end"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_pages_past_a_thousand_keys() {
    for server in servers().await {
        let (_, mut store) = server.open("list1100", &[]).await;
        store.create(b"c").await.unwrap();
        let mut want: Vec<[u8; 32]> = (0..1100).map(|i| mac(10_000 + i)).collect();
        for m in &want {
            store
                .put(ResourceKind::Packfile, m, &b"p"[..])
                .await
                .unwrap();
        }
        let mut got = store.list(ResourceKind::Packfile).await.unwrap();
        got.sort();
        want.sort();
        assert_eq!(got.len(), 1100, "{}", server.name);
        assert_eq!(got, want, "{}", server.name);
        assert!(store.list(ResourceKind::State).await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_skips_keys_that_are_not_macs() {
    for server in servers().await {
        let Some(fs) = server.in_process() else {
            continue;
        };
        let (bucket, mut store) = server.open("junk", &[]).await;
        store.create(b"c").await.unwrap();
        let m = mac(1);
        store
            .put(ResourceKind::Packfile, &m, &b"p"[..])
            .await
            .unwrap();
        // Put junk beside it behind the client's back (s3s-fs keeps objects as files).
        let hex: String = m.iter().map(|b| format!("{b:02x}")).collect();
        let dir = fs.root().join(&bucket).join("packfiles");
        for junk in [
            format!("{}/{}", &hex[..2], hex.to_uppercase()),
            format!("{}/{hex}.tmp", &hex[..2]),
            format!("ff/{hex}"),
            format!("{}/{}", &hex[..2], &hex[..63]),
            "README".to_string(),
        ] {
            let path = dir.join(junk);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"junk").unwrap();
        }
        assert_eq!(store.list(ResourceKind::Packfile).await.unwrap(), vec![m]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_refuses_an_existing_kloset() {
    for server in servers().await {
        let (bucket, mut store) = server.open("twice", &[]).await;
        store.create(b"first").await.unwrap();
        let err = store_error(store.create(b"second").await.unwrap_err());
        assert!(
            matches!(err, Error::AlreadyExists(_)),
            "{}: {err}",
            server.name
        );
        assert_eq!(store.open().await.unwrap(), b"first");
        // Another prefix of the same bucket is another kloset.
        let config = server.config(&bucket, "other/place", &[]);
        let mut other = kloset_s3_tests::host().open(&config).await.unwrap();
        other.create(b"second").await.unwrap();
        assert_eq!(other.open().await.unwrap(), b"second");
        assert_eq!(
            other.root().await.unwrap(),
            format!("/{bucket}/other/place")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn small_puts_take_one_request_once_the_server_refused_a_conditional_one() {
    for server in servers().await {
        let name = server.name;
        let (_, mut store) = server.open("conditional", &[]).await;
        // CONFIG's put finds out: HEAD, PUT, the same PUT again (refused).
        store.create(b"c").await.unwrap();
        let before = store.stats().await.unwrap().requests;
        let body = data(30, 1000);
        for i in 0..3 {
            store
                .put(ResourceKind::Packfile, &mac(30 + i), &body[..])
                .await
                .unwrap();
        }
        let sent = store.stats().await.unwrap().requests - before;
        assert_eq!(sent, 3, "{name}: one PUT per small put");
        // Still never overwritten: the same bytes succeed, others are refused.
        store
            .put(ResourceKind::Packfile, &mac(30), &body[..])
            .await
            .unwrap();
        let other = data(31, 1000);
        let err = store_error(
            store
                .put(ResourceKind::Packfile, &mac(30), &other[..])
                .await
                .unwrap_err(),
        );
        assert!(matches!(err, Error::AlreadyExists(_)), "{name}: {err}");
        assert_eq!(
            get(&mut store, ResourceKind::Packfile, &mac(30), None)
                .await
                .unwrap(),
            body,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn open_tells_a_missing_bucket_from_an_empty_one() {
    for server in servers().await {
        let (bucket, mut store) = server.open("missing", &[]).await;
        let err = store_error(store.open().await.unwrap_err());
        assert!(
            matches!(&err, Error::NotFound(m) if m.contains(&bucket) && m.contains("does not exist")),
            "{}: {err}",
            server.name
        );
        let err = store_error(store.ping().await.unwrap_err());
        assert!(matches!(err, Error::NotFound(_)), "{}: {err}", server.name);
        // An existing bucket without CONFIG.
        store.create(b"c").await.unwrap();
        let config = server.config(&bucket, "elsewhere", &[]);
        let mut empty = kloset_s3_tests::host().open(&config).await.unwrap();
        let err = store_error(empty.open().await.unwrap_err());
        assert!(
            matches!(&err, Error::NotFound(m) if m.contains("no kloset")),
            "{}: {err}",
            server.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_objects_are_not_found() {
    for server in servers().await {
        let (_, mut store) = server.open("notfound", &[]).await;
        store.create(b"c").await.unwrap();
        for kind in KINDS {
            let err = store_error(get(&mut store, kind, &mac(99), None).await.unwrap_err());
            assert!(matches!(err, Error::NotFound(_)), "{}: {err}", server.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_an_auth_error_naming_the_s3_code() {
    for server in servers().await {
        let bucket = unique_bucket("auth");
        let mut config = server.config(&bucket, "", &[]);
        for (k, v) in &mut config {
            if k == "secret_access_key" {
                *v = "definitely-not-the-secret".into();
            }
        }
        let mut store = kloset_s3_tests::host().open(&config).await.unwrap();
        let err = store_error(store.create(b"c").await.unwrap_err());
        match err {
            Error::Auth(failure) => {
                assert_eq!(failure.status, 403, "{}", server.name);
                assert_eq!(failure.code, "SignatureDoesNotMatch", "{}", server.name);
            }
            other => panic!("{}: expected an auth error, got {other}", server.name),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ecc_kinds_are_unsupported() {
    let servers = servers().await;
    let (_, mut store) = servers[0].open("ecc", &[]).await;
    for kind in [ResourceKind::EccPackfile, ResourceKind::EccState] {
        let err = store_error(store.list(kind).await.unwrap_err());
        assert!(matches!(err, Error::Unsupported(_)), "{err}");
        let err = store_error(store.put(kind, &mac(1), &b"x"[..]).await.unwrap_err());
        assert!(matches!(err, Error::Unsupported(_)), "{err}");
    }
}
