//! Point-in-time view and recovery (issue 11) on the servers that keep
//! versions (moto and radosgw; Object Lock buckets are versioned), through
//! the real component: the "rogue deletion" and "ransomware" scenarios, bad
//! times, and s3s-fs (no versioning) answering with a clear error. The
//! attacker's writes go around the component, with the tests' own signed
//! requests (`TestServer::raw`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kloset_host::{Mode, RecoveryAction, RecoveryStep, ResourceKind, StoreHandle};
use kloset_s3::calendar::iso8601;
use kloset_s3::error::Error;
use kloset_s3::request::Method;
use kloset_s3_tests::{data, get, host, mac, servers, servers_enforcing, store_error, TestServer};

const GOVERNANCE_1D: [(&str, &str); 3] = [
    ("object_lock_mode", "GOVERNANCE"),
    ("object_lock_retention", "1d"),
    ("part_size", "5MiB"),
];
/// Larger than a part: written as a multipart upload.
const MULTIPART: usize = (5 << 20) + 1000;

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// A moment strictly after every write so far and strictly before every
/// write to come, in the whole seconds S3 dates have on some servers (moto):
/// wait for the next second, take it, and wait for the one after.
async fn moment_between_writes() -> String {
    let next_second = |ms: u128| Duration::from_millis((1000 - (ms % 1000)) as u64 + 50);
    tokio::time::sleep(next_second(now_ms())).await;
    let at = (now_ms() / 1000) as u64;
    tokio::time::sleep(next_second(now_ms())).await;
    iso8601(at)
}

fn key_of(kind: ResourceKind, m: &[u8; 32]) -> String {
    let hex = kloset_s3::hex::encode(m);
    match kind {
        ResourceKind::State => format!("states/{}/{hex}", &hex[..2]),
        _ => format!("packfiles/{}/{hex}", &hex[..2]),
    }
}

/// The objects of a kloset: (kind, MAC, bytes). The first packfile is
/// written as a multipart upload.
fn objects(seed: u64, count: u64) -> Vec<(ResourceKind, [u8; 32], Vec<u8>)> {
    (0..count)
        .map(|i| {
            let kind = if i % 4 == 3 {
                ResourceKind::State
            } else {
                ResourceKind::Packfile
            };
            let len = if i == 0 {
                MULTIPART
            } else {
                1000 + i as usize * 37
            };
            (kind, mac(seed + i), data(seed + i, len))
        })
        .collect()
}

async fn put_all(store: &mut StoreHandle, objects: &[(ResourceKind, [u8; 32], Vec<u8>)]) {
    for (kind, m, bytes) in objects {
        store.put(*kind, m, &bytes[..]).await.unwrap();
    }
}

async fn listed(store: &mut StoreHandle) -> BTreeSet<(u8, [u8; 32])> {
    let mut all = BTreeSet::new();
    for (tag, kind) in [(0, ResourceKind::Packfile), (1, ResourceKind::State)] {
        all.extend(
            store
                .list(kind)
                .await
                .unwrap()
                .into_iter()
                .map(|m| (tag, m)),
        );
    }
    all
}

fn expected(objects: &[(ResourceKind, [u8; 32], Vec<u8>)]) -> BTreeSet<(u8, [u8; 32])> {
    objects
        .iter()
        .map(|(kind, m, _)| (u8::from(*kind == ResourceKind::State), *m))
        .collect()
}

/// Every object reads back byte-identical (and verified) from `store`.
async fn reads_back(
    store: &mut StoreHandle,
    objects: &[(ResourceKind, [u8; 32], Vec<u8>)],
    what: &str,
) {
    for (kind, m, bytes) in objects {
        let read = get(store, *kind, m, None)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(read == *bytes, "{what}: {} differs", key_of(*kind, m));
    }
}

/// Plans and applies a whole recovery; returns the actions and the time.
async fn recover(store: &mut StoreHandle, to: &str) -> (Vec<RecoveryAction>, Duration) {
    let started = Instant::now();
    let mut recovery = store.recovery(to).await.unwrap();
    let mut actions = Vec::new();
    while let Some(page) = recovery.plan_page().await.unwrap() {
        for action in page {
            recovery.apply(&action).await.unwrap();
            actions.push(action);
        }
    }
    recovery.release().await.unwrap();
    (actions, started.elapsed())
}

async fn view_at(server: &TestServer, bucket: &str, at: &str) -> StoreHandle {
    host()
        .open(&server.config(bucket, "", &[("point_in_time", at)]))
        .await
        .unwrap_or_else(|e| panic!("{}: opening the view: {e}", server.name))
}

/// The view at `at` shows exactly `objects`, byte-identical, read-only.
async fn view_shows(
    server: &TestServer,
    bucket: &str,
    at: &str,
    objects: &[(ResourceKind, [u8; 32], Vec<u8>)],
) {
    let name = server.name;
    let mut view = view_at(server, bucket, at).await;
    assert_eq!(view.open().await.unwrap(), b"kloset config", "{name}");
    assert_eq!(view.mode().await.unwrap(), Mode::READ, "{name}");
    assert_eq!(listed(&mut view).await, expected(objects), "{name}");
    reads_back(&mut view, objects, &format!("{name}: view at {at}")).await;
    // A range of the multipart one, by version too.
    let range = kloset_host::Range {
        offset: 5 << 20,
        length: 100,
    };
    let (kind, m, bytes) = &objects[0];
    let part = get(&mut view, *kind, m, Some(range)).await.unwrap();
    assert_eq!(part, bytes[5 << 20..(5 << 20) + 100], "{name}");
    // Writes name the key.
    let put = view.put(ResourceKind::Packfile, &mac(999), &b"x"[..]).await;
    let delete = view.delete(*kind, m).await;
    for refused in [put.unwrap_err(), delete.unwrap_err()] {
        let e = store_error(refused);
        assert!(
            matches!(&e, Error::InvalidArgument(m) if m.contains("point_in_time")),
            "{name}: {e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rogue_deletion_is_read_and_recovered_from_the_versions() {
    for server in servers_enforcing("versioning", |c| c.object_lock).await {
        let name = server.name;
        let (bucket, mut store) = server.open("pit-rogue", &GOVERNANCE_1D).await;
        store.create(b"kloset config").await.unwrap();
        let objects = objects(100, 12);
        put_all(&mut store, &objects).await;
        let at = moment_between_writes().await;

        // A compromised key deletes everything through the store.
        for (kind, m, _) in &objects {
            store.delete(*kind, m).await.unwrap();
        }
        assert!(listed(&mut store).await.is_empty(), "{name}");

        view_shows(&server, &bucket, &at, &objects).await;

        let (actions, _) = recover(&mut store, &at).await;
        assert_eq!(actions.len(), objects.len(), "{name}: {actions:?}");
        assert!(
            actions.iter().all(|a| a.step == RecoveryStep::Restore),
            "{name}"
        );
        assert_eq!(listed(&mut store).await, expected(&objects), "{name}");
        reads_back(&mut store, &objects, &format!("{name}: recovered")).await;

        // Done is done: a second run plans nothing.
        let (again, _) = recover(&mut store, &at).await;
        assert!(again.is_empty(), "{name}: {again:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ransomware_overwrites_are_read_past_and_undone() {
    for server in servers_enforcing("versioning", |c| c.object_lock).await {
        let name = server.name;
        let (bucket, mut store) = server.open("pit-ransom", &GOVERNANCE_1D).await;
        store.create(b"kloset config").await.unwrap();
        let objects = objects(200, 8);
        put_all(&mut store, &objects).await;
        let at = moment_between_writes().await;
        let before = versions(&server, &bucket).await;

        // The attacker overwrites objects in the bucket directly and adds junk.
        for (kind, m, _) in &objects {
            attacker_put(
                &server,
                &bucket,
                &key_of(*kind, m),
                b"encrypted by ransomware",
            )
            .await;
        }
        let junk = [mac(900), mac(901)];
        attacker_put(
            &server,
            &bucket,
            &key_of(ResourceKind::Packfile, &junk[0]),
            b"junk",
        )
        .await;
        attacker_put(
            &server,
            &bucket,
            &key_of(ResourceKind::State, &junk[1]),
            b"junk",
        )
        .await;
        let (kind, m, original) = &objects[1];
        let now = get(&mut store, *kind, m, None).await.unwrap();
        assert!(now != *original, "{name}: the overwrite did not land");

        view_shows(&server, &bucket, &at, &objects).await;

        let (actions, _) = recover(&mut store, &at).await;
        let restored = actions
            .iter()
            .filter(|a| a.step == RecoveryStep::Restore)
            .count();
        let hidden: BTreeSet<String> = actions
            .iter()
            .filter(|a| a.step == RecoveryStep::Hide)
            .map(|a| a.key.clone())
            .collect();
        assert_eq!(restored, objects.len(), "{name}: {actions:?}");
        let junk_keys: BTreeSet<String> = [
            key_of(ResourceKind::Packfile, &junk[0]),
            key_of(ResourceKind::State, &junk[1]),
        ]
        .into();
        assert_eq!(hidden, junk_keys, "{name}");
        assert_eq!(listed(&mut store).await, expected(&objects), "{name}");
        reads_back(&mut store, &objects, &format!("{name}: recovered")).await;

        // No version was removed: the originals and the attacker's are all kept.
        let after = versions(&server, &bucket).await;
        assert!(before.is_subset(&after), "{name}: a version disappeared");
        let (again, _) = recover(&mut store, &at).await;
        assert!(again.is_empty(), "{name}: {again:?}");
    }
}

/// A PUT around the component, as an attacker holding the keys sends it.
async fn attacker_put(server: &TestServer, bucket: &str, key: &str, body: &[u8]) {
    let md5 = kloset_s3::integrity::content_md5_of(body);
    let put = server
        .raw(
            Method::Put,
            &format!("/{bucket}/{key}"),
            &[],
            &[("content-md5", &md5)],
            body,
        )
        .await;
    assert_eq!(
        put.status,
        200,
        "{}: attacker PUT {key}: {}",
        server.name,
        put.text()
    );
}

/// Every `(key, version id)` of the bucket (one page: the tests' buckets
/// are small).
async fn versions(server: &TestServer, bucket: &str) -> BTreeSet<(String, String)> {
    let answer = server
        .raw(
            Method::Get,
            &format!("/{bucket}"),
            &[("versions", "")],
            &[],
            b"",
        )
        .await;
    let text = answer.text();
    assert_eq!(answer.status, 200, "{}: {text}", server.name);
    assert!(
        !text.contains("<IsTruncated>true"),
        "{}: more than a page",
        server.name
    );
    let page = kloset_s3::xml::parse_list_object_versions(&answer.body).unwrap();
    page.entries
        .into_iter()
        .filter(|e| !e.delete_marker)
        .map(|e| (e.key, e.version_id))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_times_are_clear_errors() {
    for server in servers().await {
        let name = server.name;
        let bucket = kloset_s3_tests::unique_bucket("pit-bad");
        // Malformed or future: refused when the store is made, naming the key.
        for bad in [
            "yesterday",
            "2026-11-30 12:00:00",
            "2026-11-30T12:00:00+02:00",
            "2999-01-01T00:00:00Z",
        ] {
            let opened = host()
                .open(&server.config(&bucket, "", &[("point_in_time", bad)]))
                .await;
            let e = store_error(
                opened
                    .err()
                    .unwrap_or_else(|| panic!("{name}: {bad} accepted")),
            );
            assert!(
                matches!(&e, Error::InvalidConfig { key, .. } if key == "point_in_time"),
                "{name}: {bad}: {e}"
            );
        }
        let lock: &[(&str, &str)] = if server.caps.object_lock {
            &GOVERNANCE_1D
        } else {
            &[]
        };
        let mut store = host()
            .open(&server.config(&bucket, "", lock))
            .await
            .unwrap();
        store.create(b"kloset config").await.unwrap();
        let mut view = view_at(&server, &bucket, "2d").await;
        let early = store_error(view.open().await.unwrap_err());
        let recovery = store.recovery("2d").await.err().map(store_error);
        if server.caps.object_lock {
            // Before the kloset existed: nothing to show, nothing to recover to.
            assert!(
                matches!(&early, Error::NotFound(m) if m.contains("did not exist then")),
                "{name}: {early}"
            );
            let recovery = recovery.expect("refused");
            assert!(
                matches!(&recovery, Error::NotFound(_)),
                "{name}: {recovery}"
            );
            let e = store_error(store.recovery("2999-01-01T00:00:00Z").await.err().unwrap());
            assert!(
                matches!(&e, Error::InvalidArgument(m) if m.contains("future")),
                "{name}: {e}"
            );
        } else {
            // s3s-fs keeps no versions: the view and the recovery say so.
            for e in [early, recovery.expect("refused")] {
                assert!(
                    matches!(&e, Error::InvalidConfig { message, .. } if message.contains("enable versioning"))
                        || matches!(&e, Error::Unsupported(m) if m.contains("versioning")),
                    "{name}: {e}"
                );
            }
        }
    }
}

/// Figures: versions listed per second through the view, and the time a
/// recovery of many objects takes (stderr; `KLOSET_TEST_RECOVERY_OBJECTS`,
/// 200 by default: 1000 take about a minute on radosgw, too long for every
/// run). The setup writes and deletes through several handles at once.
#[tokio::test(flavor = "multi_thread")]
async fn figures_of_a_large_recovery() {
    let count: u64 = std::env::var("KLOSET_TEST_RECOVERY_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for server in servers_enforcing("versioning", |c| c.object_lock).await {
        let name = server.name;
        let lock = &GOVERNANCE_1D[..2];
        let (bucket, mut store) = server.open("pit-figures", lock).await;
        store.create(b"kloset config").await.unwrap();
        let macs: Vec<[u8; 32]> = (0..count).map(|i| mac(10_000 + i)).collect();
        let config = server.config(&bucket, "", lock);
        in_parallel(&config, &macs, false).await;
        let at = moment_between_writes().await;
        in_parallel(&config, &macs, true).await;
        assert!(
            store.list(ResourceKind::Packfile).await.unwrap().is_empty(),
            "{name}"
        );

        let mut view = view_at(&server, &bucket, &at).await;
        let started = Instant::now();
        let listed = view.list(ResourceKind::Packfile).await.unwrap();
        let listing = started.elapsed().as_secs_f64();
        assert_eq!(listed.len() as u64, count, "{name}");
        let (actions, took) = recover(&mut store, &at).await;
        assert_eq!(actions.len() as u64, count, "{name}");
        assert_eq!(
            store.list(ResourceKind::Packfile).await.unwrap().len() as u64,
            count,
            "{name}"
        );
        let entries = 2 * count;
        eprintln!(
            "FIGURES {name}: view listed {entries} versions and delete markers in {listing:.2}s \
             ({:.0}/s); recovery of {count} objects in {:.2}s ({:.0} objects/s)",
            entries as f64 / listing,
            took.as_secs_f64(),
            count as f64 / took.as_secs_f64()
        );
    }
}

/// Puts (or deletes) every MAC's packfile (its bytes: the MAC) through 4
/// handles at once.
async fn in_parallel(config: &[(String, String)], macs: &[[u8; 32]], delete: bool) {
    let mut tasks = Vec::new();
    for share in macs.chunks(macs.len().div_ceil(4).max(1)) {
        let (share, config) = (share.to_vec(), config.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut handle = host().open(&config).await.unwrap();
            for m in &share {
                match delete {
                    true => handle.delete(ResourceKind::Packfile, m).await.unwrap(),
                    false => drop(handle.put(ResourceKind::Packfile, m, &m[..]).await.unwrap()),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// With SSE-C the view reads each version with the key (radosgw enforces
/// SSE-C; moto ignores it). A restore sends the key for the copy and its
/// source, but radosgw 16 does not implement CopyObject of an SSE-C version
/// (501, measured): there the recovery stops with `unsupported`, saying so.
#[tokio::test(flavor = "multi_thread")]
async fn an_sse_c_kloset_is_read_with_its_key_and_radosgw_cannot_copy_it_back() {
    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let enforcing = |c: &kloset_s3_tests::Caps| c.object_lock && c.sse_c_enforced;
    for server in servers_enforcing("versioning and SSE-C", enforcing).await {
        let name = server.name;
        let config = [&GOVERNANCE_1D[..], &[("sse_customer_key", KEY)]].concat();
        let (bucket, mut store) = server.open("pit-ssec", &config).await;
        store.create(b"kloset config").await.unwrap();
        let objects = objects(300, 3);
        put_all(&mut store, &objects).await;
        let at = moment_between_writes().await;
        for (kind, m, _) in &objects {
            store.delete(*kind, m).await.unwrap();
        }
        let pit = [("point_in_time", at.as_str()), ("sse_customer_key", KEY)];
        let mut view = host()
            .open(&server.config(&bucket, "", &pit))
            .await
            .unwrap();
        assert_eq!(view.open().await.unwrap(), b"kloset config", "{name}");
        reads_back(&mut view, &objects, &format!("{name}: SSE-C view")).await;
        // Without the key, the versions cannot be read.
        let mut keyless = view_at(&server, &bucket, &at).await;
        let (kind, m, _) = &objects[1];
        assert!(get(&mut keyless, *kind, m, None).await.is_err(), "{name}");

        let mut recovery = store.recovery(&at).await.unwrap();
        let mut refused = None;
        while let Some(page) = recovery.plan_page().await.unwrap() {
            if let Some(action) = page.first() {
                refused = recovery.apply(action).await.err();
                break;
            }
        }
        recovery.release().await.unwrap();
        let e = store_error(refused.expect("radosgw refuses the copy"));
        assert!(
            matches!(&e, Error::Unsupported(m) if m.contains("restoring") && m.contains("NotImplemented")),
            "{name}: {e}"
        );
    }
}
