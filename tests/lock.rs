//! Object Lock, kloset-s3's defence against rogue deletion and ransomware,
//! through the real component on the servers that enforce it (moto and
//! radosgw: s3s-fs ignores lock headers, so a test there would prove nothing).
//! What the component claims is checked behind its back with signed requests
//! of the test's own (`TestServer::raw`): the headers the server stored, the
//! versions a delete left.

use std::time::{SystemTime, UNIX_EPOCH};

use kloset_host::{LockMode, ResourceKind};
use kloset_s3::calendar::parse_iso8601;
use kloset_s3::error::Error;
use kloset_s3::request::Method;
use kloset_s3_tests::proxy::{Fault, FaultProxy, Target};
use kloset_s3_tests::{
    data, get, host, mac, servers, servers_enforcing, store_error, unique_bucket, TestServer,
};

const DAY: u64 = 86_400;
const GOVERNANCE_1D: [(&str, &str); 2] = [
    ("object_lock_mode", "GOVERNANCE"),
    ("object_lock_retention", "1d"),
];

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A retain-until date `days` from now, give or take the test's own duration.
fn assert_about_days_from_now(until: &str, days: u64, what: &str) {
    let until = parse_iso8601(until).unwrap_or_else(|| panic!("{what}: bad date `{until}`"));
    let want = now() + days * DAY;
    assert!(
        until + 300 >= want && until <= want + 5,
        "{what}: retain-until {until} is not {days} day(s) from now ({want})"
    );
}

/// The object's key in the bucket, as the layout writes it (no prefix).
fn packfile_key(m: &[u8; 32]) -> String {
    format!("packfiles/{:02x}/{}", m[0], kloset_s3::hex::encode(m))
}

/// Opens a second store on `bucket` (another handle, as another process would).
async fn reopen(
    server: &TestServer,
    bucket: &str,
    extra: &[(&str, &str)],
) -> kloset_host::StoreHandle {
    host()
        .open(&server.config(bucket, "", extra))
        .await
        .unwrap_or_else(|e| panic!("{}: reopening: {e}", server.name))
}

/// What the server says of an object's lock, read with a plain HEAD.
async fn stored_lock(server: &TestServer, bucket: &str, key: &str) -> (String, String) {
    let head = server
        .raw(Method::Head, &format!("/{bucket}/{key}"), &[], &[], b"")
        .await;
    assert_eq!(head.status, 200, "{}: HEAD {key}", server.name);
    let field = |name: &str| {
        head.header(name)
            .unwrap_or_else(|| panic!("{}: {key} has no {name}", server.name))
            .to_owned()
    };
    (
        field("x-amz-object-lock-mode"),
        field("x-amz-object-lock-retain-until-date"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn create_makes_a_locked_bucket_and_every_write_is_locked() {
    for server in servers_enforcing("Object Lock", |c| c.object_lock).await {
        let name = server.name;
        let (bucket, mut store) = server
            .open(
                "lock-create",
                &[&GOVERNANCE_1D[..], &[("part_size", "5MiB")]].concat(),
            )
            .await;
        store.create(b"locked config").await.unwrap();
        let settings = store.lock_settings().await.unwrap();
        let policy = settings.policy.expect("the configured policy");
        assert_eq!(
            (policy.mode, policy.retention_seconds),
            (LockMode::Governance, DAY),
            "{name}"
        );
        let bucket_lock = settings.bucket.expect("the server has Object Lock");
        assert!(
            bucket_lock.enabled,
            "{name}: the bucket was created without lock"
        );
        assert_eq!(store.open().await.unwrap(), b"locked config");

        // A single PUT, a multipart upload (the headers go on Create), a state.
        let small = data(1, 3000);
        let large = data(2, (6 << 20) + 1);
        store
            .put(ResourceKind::Packfile, &mac(1), &small[..])
            .await
            .unwrap();
        store
            .put(ResourceKind::Packfile, &mac(2), &large[..])
            .await
            .unwrap();
        store
            .put(ResourceKind::State, &mac(3), &small[..])
            .await
            .unwrap();
        store
            .put(ResourceKind::Lock, &mac(4), &small[..])
            .await
            .unwrap();
        let state_key = format!(
            "states/{:02x}/{}",
            mac(3)[0],
            kloset_s3::hex::encode(&mac(3))
        );
        for key in [
            "CONFIG".to_owned(),
            packfile_key(&mac(1)),
            packfile_key(&mac(2)),
            state_key,
        ] {
            let (mode, until) = stored_lock(&server, &bucket, &key).await;
            assert_eq!(mode, "GOVERNANCE", "{name}: {key}");
            assert_about_days_from_now(&until, 1, &format!("{name}: {key}"));
        }
        // kloset's own locks come and go: never under Object Lock.
        let lock_key = format!("locks/{}", kloset_s3::hex::encode(&mac(4)));
        let head = server
            .raw(
                Method::Head,
                &format!("/{bucket}/{lock_key}"),
                &[],
                &[],
                b"",
            )
            .await;
        assert_eq!(head.header("x-amz-object-lock-mode"), None, "{name}");
        assert!(
            get(&mut store, ResourceKind::Packfile, &mac(2), None)
                .await
                .unwrap()
                == large
        );
        // Writing the same content again is still a success under lock.
        store
            .put(ResourceKind::Packfile, &mac(1), &small[..])
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_put_that_succeeds_leaves_its_object_locked() {
    for server in servers_enforcing("Object Lock", |c| c.object_lock).await {
        let name = server.name;
        let upstream = server.endpoint.parse().expect("a socket address");
        let proxy = FaultProxy::start(upstream).await.unwrap();
        let through = server.through(proxy.addr().to_string());
        let locked = [&GOVERNANCE_1D[..], &[("part_size", "5MiB")]].concat();
        let (bucket, mut store) = through.open("lock-paths", &locked).await;
        store.create(b"c").await.unwrap();

        // A Complete whose first attempt landed: the retry answers 404, and
        // the object the server holds is ours. moto and Ceph dropped the lock
        // headers of CreateMultipartUpload.
        let retried = data(40, (5 << 20) + 9);
        proxy.script(&[(Target::CompleteMultipart, Fault::Lost)]);
        store
            .put(ResourceKind::Packfile, &mac(40), &retried[..])
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(proxy.pending(), 0, "{name}: the fault was not injected");

        // The same bytes, first written by a store without Object Lock (an
        // older configuration, another tool): the locked store's put locks them.
        let unlocked = data(41, 4000);
        let mut plain = reopen(&server, &bucket, &[]).await;
        plain
            .put(ResourceKind::Packfile, &mac(41), &unlocked[..])
            .await
            .unwrap();
        assert_eq!(
            server
                .raw(
                    Method::Head,
                    &format!("/{bucket}/{}", packfile_key(&mac(41))),
                    &[],
                    &[],
                    b""
                )
                .await
                .header("x-amz-object-lock-mode"),
            None,
            "{name}: written without lock"
        );
        store
            .put(ResourceKind::Packfile, &mac(41), &unlocked[..])
            .await
            .unwrap();

        // The same multipart bytes again, found by the check before any part.
        store
            .put(ResourceKind::Packfile, &mac(40), &retried[..])
            .await
            .unwrap();

        for key in [packfile_key(&mac(40)), packfile_key(&mac(41))] {
            let (mode, until) = stored_lock(&server, &bucket, &key).await;
            assert_eq!(mode, "GOVERNANCE", "{name}: {key}");
            assert_about_days_from_now(&until, 1, &format!("{name}: {key}"));
        }
        assert!(
            get(&mut store, ResourceKind::Packfile, &mac(40), None)
                .await
                .unwrap()
                == retried,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_extends_but_never_shortens() {
    for server in servers_enforcing("Object Lock", |c| c.object_lock).await {
        let name = server.name;
        let (bucket, mut store) = server.open("lock-extend", &GOVERNANCE_1D).await;
        store.create(b"c").await.unwrap();
        let m = mac(10);
        store
            .put(ResourceKind::Packfile, &m, &data(10, 500)[..])
            .await
            .unwrap();
        let key = packfile_key(&m);

        let longer = [
            ("object_lock_mode", "GOVERNANCE"),
            ("object_lock_retention", "3d"),
        ];
        let mut three_days = reopen(&server, &bucket, &longer).await;
        let r = three_days
            .extend_retention(ResourceKind::Packfile, &m)
            .await
            .unwrap();
        assert!(r.extended, "{name}");
        assert_eq!(r.mode, LockMode::Governance);
        assert_about_days_from_now(&r.retain_until, 3, name);
        let (_, stored) = stored_lock(&server, &bucket, &key).await;
        assert_eq!(
            parse_iso8601(&stored),
            parse_iso8601(&r.retain_until),
            "{name}"
        );

        // The 1-day store finds 3 days in force and leaves them.
        let r = store
            .extend_retention(ResourceKind::Packfile, &m)
            .await
            .unwrap();
        assert!(!r.extended, "{name}: a shorter retention was applied");
        assert_about_days_from_now(&r.retain_until, 3, name);
        let (_, after) = stored_lock(&server, &bucket, &key).await;
        assert_eq!(after, stored, "{name}: the stored retention moved");

        // An object keeps its mode: a COMPLIANCE store extends a GOVERNANCE
        // object's date in GOVERNANCE (changing the mode would need the bypass
        // permission a backup key must not hold).
        let compliance = [
            ("object_lock_mode", "COMPLIANCE"),
            ("object_lock_retention", "4d"),
        ];
        let mut strict = reopen(&server, &bucket, &compliance).await;
        let r = strict
            .extend_retention(ResourceKind::Packfile, &m)
            .await
            .unwrap();
        assert!(
            r.extended && r.mode == LockMode::Governance,
            "{name}: {r:?}"
        );
        assert_about_days_from_now(&r.retain_until, 4, name);
        assert_eq!(stored_lock(&server, &bucket, &key).await.0, "GOVERNANCE");
        // And what COMPLIANCE locks, it writes in COMPLIANCE.
        let n = mac(12);
        strict
            .put(ResourceKind::Packfile, &n, &data(12, 50)[..])
            .await
            .unwrap();
        let (mode, until) = stored_lock(&server, &bucket, &packfile_key(&n)).await;
        assert_eq!(mode, "COMPLIANCE", "{name}");
        assert_about_days_from_now(&until, 4, name);

        let missing = store.extend_retention(ResourceKind::State, &mac(11)).await;
        assert!(
            matches!(store_error(missing.unwrap_err()), Error::NotFound(_)),
            "{name}"
        );
        let lock = store.extend_retention(ResourceKind::Lock, &m).await;
        assert!(
            matches!(store_error(lock.unwrap_err()), Error::InvalidArgument(_)),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_hides_a_locked_object_but_its_data_stays() {
    for server in servers_enforcing("Object Lock", |c| c.object_lock).await {
        let name = server.name;
        let (bucket, mut store) = server.open("lock-delete", &GOVERNANCE_1D).await;
        store.create(b"c").await.unwrap();
        let m = mac(20);
        store
            .put(ResourceKind::Packfile, &m, &data(20, 700)[..])
            .await
            .unwrap();

        // kloset's Delete succeeds: a delete marker hides the object.
        store.delete(ResourceKind::Packfile, &m).await.unwrap();
        assert!(
            store.list(ResourceKind::Packfile).await.unwrap().is_empty(),
            "{name}"
        );
        let gone = get(&mut store, ResourceKind::Packfile, &m, None).await;
        assert!(
            matches!(store_error(gone.unwrap_err()), Error::NotFound(_)),
            "{name}"
        );

        // Behind it, the locked version is still there...
        let key = packfile_key(&m);
        let versions = server
            .raw(
                Method::Get,
                &format!("/{bucket}"),
                &[("versions", ""), ("prefix", &key)],
                &[],
                b"",
            )
            .await;
        let listing = versions.text();
        assert!(listing.contains("<DeleteMarker>"), "{name}: {listing}");
        let version = between(&listing, "<Version>", "</Version>")
            .and_then(|v| between(v, "<VersionId>", "</VersionId>"))
            .unwrap_or_else(|| panic!("{name}: no version left: {listing}"))
            .to_owned();
        // ...and whoever holds the keys cannot destroy it.
        let destroy = server
            .raw(
                Method::Delete,
                &format!("/{bucket}/{key}"),
                &[("versionId", &version)],
                &[],
                b"",
            )
            .await;
        assert_eq!(destroy.status, 403, "{name}: a locked version was deleted");
        let read = server
            .raw(
                Method::Get,
                &format!("/{bucket}/{key}"),
                &[("versionId", &version)],
                &[],
                b"",
            )
            .await;
        assert_eq!(read.body, data(20, 700), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_delete_says_until_when_the_object_is_locked() {
    for server in servers_enforcing("Object Lock", |c| c.object_lock).await {
        let name = server.name;
        let (bucket, mut store) = server.open("lock-refused", &GOVERNANCE_1D).await;
        store.create(b"c").await.unwrap();
        let m = mac(30);
        store
            .put(ResourceKind::State, &m, &data(30, 100)[..])
            .await
            .unwrap();
        // The threat model's bucket policy: nobody deletes.
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
        );
        let put = server
            .raw(
                Method::Put,
                &format!("/{bucket}"),
                &[("policy", "")],
                &[],
                policy.as_bytes(),
            )
            .await;
        assert!((200..300).contains(&put.status), "{name}: {}", put.text());

        let refused = store.delete(ResourceKind::State, &m).await.unwrap_err();
        let Error::PermissionDenied(message) = store_error(refused) else {
            panic!("{name}: expected permission-denied");
        };
        assert!(
            message.contains("is under Object Lock (GOVERNANCE until 20"),
            "{name}: {message}"
        );
        assert_eq!(
            store.list(ResourceKind::State).await.unwrap(),
            vec![m],
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn object_lock_needs_a_bucket_and_server_with_it() {
    for server in servers().await {
        let name = server.name;
        // A bucket made without Object Lock (a kloset without lock creates it).
        let bucket = unique_bucket("lock-missing");
        let mut plain = host()
            .open(&server.config(&bucket, "plain", &[]))
            .await
            .unwrap();
        plain.create(b"c").await.unwrap();
        let mut locked = host()
            .open(&server.config(&bucket, "locked", &GOVERNANCE_1D))
            .await
            .unwrap();
        let refused = store_error(locked.create(b"c").await.unwrap_err());
        match refused {
            Error::InvalidConfig { key, message } if server.caps.object_lock => {
                assert_eq!(key, "object_lock_mode", "{name}");
                assert!(
                    message.contains("does not have Object Lock"),
                    "{name}: {message}"
                );
            }
            Error::Unsupported(message) if !server.caps.object_lock => {
                assert!(
                    message.contains("does not implement Object Lock"),
                    "{name}: {message}"
                );
            }
            other => panic!("{name}: {other}"),
        }
        // Nothing was written, and opening the plain kloset with lock is refused too.
        assert!(locked.open().await.is_err(), "{name}");
        let mut reopened = host()
            .open(&server.config(&bucket, "plain", &GOVERNANCE_1D))
            .await
            .unwrap();
        assert!(reopened.open().await.is_err(), "{name}");
        // Without lock configured, extending retention is a configuration error.
        let e = store_error(
            plain
                .extend_retention(ResourceKind::State, &mac(1))
                .await
                .unwrap_err(),
        );
        assert!(
            matches!(&e, Error::InvalidConfig { key, .. } if key == "object_lock_mode"),
            "{name}: {e}"
        );
        let settings = plain.lock_settings().await.unwrap();
        assert!(settings.policy.is_none(), "{name}");
        assert_eq!(
            settings.bucket.map(|b| b.enabled),
            server.caps.object_lock.then_some(false),
            "{name}"
        );
    }
}

/// The text between the first `start` and the next `end`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}
