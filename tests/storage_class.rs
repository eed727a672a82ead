//! Archive storage classes (GLACIER, DEEP_ARCHIVE): the store is write-only,
//! keeps what must stay readable in STANDARD and places objects as Plakar's
//! Go connector does (`<key>.frozen` in the archive tier), so either
//! connector continues the other's kloset. moto implements storage classes
//! (a GET of an archived object answers InvalidObjectState); radosgw (no such
//! placement in a default zone) and s3s-fs refuse GLACIER (measured).

use kloset_host::{Mode, ResourceKind};
use kloset_s3::error::Error;
use kloset_s3::request::Method;
use kloset_s3_tests::{data, get, mac, servers, store_error, TestServer};

const GLACIER: [(&str, &str); 1] = [("storage_class", "GLACIER")];

fn key(kind: &str, m: &[u8; 32]) -> String {
    format!("{kind}/{:02x}/{}", m[0], kloset_s3::hex::encode(m))
}

/// The storage class the server reports for `key` (HEAD), `None` when the
/// object is missing; STANDARD when the header is absent (S3 omits it then).
async fn class_of(server: &TestServer, bucket: &str, key: &str) -> Option<String> {
    let head = server
        .raw(Method::Head, &format!("/{bucket}/{key}"), &[], &[], b"")
        .await;
    match head.status {
        404 => None,
        200 => Some(
            head.header("x-amz-storage-class")
                .unwrap_or("STANDARD")
                .to_owned(),
        ),
        other => panic!("{}: HEAD {key} answered {other}", server.name),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn archive_classes_place_objects_as_the_go_connector_does() {
    for server in servers().await {
        let name = server.name;
        let (bucket, mut store) = server.open("glacier", &GLACIER).await;
        let created = store.create(b"c").await;
        if name != "moto" {
            // Refused (radosgw: InvalidArgument without a message; s3s-fs:
            // InvalidStorageClass): named, not obscure.
            let e = store_error(created.unwrap_err());
            assert!(
                matches!(&e, Error::InvalidConfig { key, .. } if key == "storage_class"),
                "{name}: {e}"
            );
            continue;
        }
        created.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(store.mode().await.unwrap(), Mode::WRITE, "{name}");
        let archived = |class: Option<String>| {
            assert_eq!(class.as_deref(), Some("GLACIER"), "{name}");
        };
        assert_eq!(
            class_of(&server, &bucket, "CONFIG").await.as_deref(),
            Some("STANDARD")
        );
        archived(class_of(&server, &bucket, "CONFIG.frozen").await);

        let (p, s, l) = (mac(1), mac(2), mac(3));
        let body = data(1, 2500);
        store
            .put(ResourceKind::Packfile, &p, &body[..])
            .await
            .unwrap();
        store.put(ResourceKind::State, &s, &body[..]).await.unwrap();
        store.put(ResourceKind::Lock, &l, &body[..]).await.unwrap();
        // A packfile goes to the tier as `.frozen` only.
        assert_eq!(
            class_of(&server, &bucket, &key("packfiles", &p)).await,
            None,
            "{name}"
        );
        archived(
            class_of(
                &server,
                &bucket,
                &format!("{}.frozen", key("packfiles", &p)),
            )
            .await,
        );
        // A state stays readable in STANDARD, with its archive copy.
        let state = key("states", &s);
        assert_eq!(
            class_of(&server, &bucket, &state).await.as_deref(),
            Some("STANDARD")
        );
        archived(class_of(&server, &bucket, &format!("{state}.frozen")).await);

        // What Go lists and reads, we list and read.
        assert_eq!(
            store.list(ResourceKind::State).await.unwrap(),
            vec![s],
            "{name}"
        );
        assert!(
            store.list(ResourceKind::Packfile).await.unwrap().is_empty(),
            "{name}"
        );
        assert_eq!(
            get(&mut store, ResourceKind::State, &s, None)
                .await
                .unwrap(),
            body
        );
        assert_eq!(
            get(&mut store, ResourceKind::Lock, &l, None).await.unwrap(),
            body
        );
        let frozen = store_error(
            get(&mut store, ResourceKind::Packfile, &p, None)
                .await
                .unwrap_err(),
        );
        assert!(
            matches!(&frozen, Error::Unsupported(m) if m.contains("restore")),
            "{name}: {frozen}"
        );
        // Writing it again is fine (identical content, found by HEAD).
        store
            .put(ResourceKind::Packfile, &p, &body[..])
            .await
            .unwrap();

        // Delete removes every copy.
        store.delete(ResourceKind::Packfile, &p).await.unwrap();
        store.delete(ResourceKind::State, &s).await.unwrap();
        for k in [
            format!("{}.frozen", key("packfiles", &p)),
            state.clone(),
            format!("{state}.frozen"),
        ] {
            assert_eq!(
                class_of(&server, &bucket, &k).await,
                None,
                "{name}: {k} left"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_an_archived_object_says_it_needs_a_restore() {
    for server in servers().await.into_iter().filter(|s| s.name == "moto") {
        // A kloset whose packfile sits in GLACIER under its plain key (as the
        // Go connector before `.frozen` wrote them).
        let (bucket, mut store) = server.open("archived", &[]).await;
        store.create(b"c").await.unwrap();
        let m = mac(9);
        let put = server
            .raw(
                Method::Put,
                &format!("/{bucket}/{}", key("packfiles", &m)),
                &[],
                &[("x-amz-storage-class", "GLACIER")],
                &data(9, 100),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text());
        let e = store_error(
            get(&mut store, ResourceKind::Packfile, &m, None)
                .await
                .unwrap_err(),
        );
        assert!(
            matches!(&e, Error::Unsupported(m) if m.contains("must be restored") && m.contains("InvalidObjectState")),
            "{e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_copy_left_by_a_create_that_stopped_does_not_block_the_next() {
    for server in servers().await.into_iter().filter(|s| s.name == "moto") {
        // A create wrote CONFIG.frozen, then its CONFIG PUT failed: no
        // kloset, only a stray copy (with the bytes the next run will not
        // send again: Plakar makes a new configuration each time).
        let (bucket, mut store) = server.open("straycopy", &GLACIER).await;
        store.create(b"first").await.unwrap();
        let config = server
            .raw(Method::Delete, &format!("/{bucket}/CONFIG"), &[], &[], b"")
            .await;
        assert!((200..300).contains(&config.status), "{}", config.text());
        assert!(store.open().await.is_err(), "no kloset without CONFIG");

        store.create(b"second").await.unwrap();
        assert_eq!(store.open().await.unwrap(), b"second");
        let copy = server
            .raw(
                Method::Head,
                &format!("/{bucket}/CONFIG.frozen"),
                &[],
                &[],
                b"",
            )
            .await;
        let want = kloset_s3::hex::encode(&kloset_s3::integrity::xxh3(b"second"));
        assert_eq!(copy.header("x-amz-meta-kloset-xxh3"), Some(want.as_str()));
        assert_eq!(copy.header("x-amz-storage-class"), Some("GLACIER"));
        // Now a kloset exists: other bytes are refused, the same complete.
        let e = store_error(store.create(b"third").await.unwrap_err());
        assert!(matches!(e, Error::AlreadyExists(_)), "{e}");
        store.create(b"second").await.unwrap();
    }
}
