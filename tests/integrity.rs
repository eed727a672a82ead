//! Nothing lost, nothing silently corrupted: reads are verified end to end,
//! cut bodies resume, transient failures are retried, failed writes leave
//! nothing behind, and memory stays bounded whatever the object size. Faults
//! come from a proxy between the component and a real S3 server.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use kloset_host::{HostError, Range, ResourceKind, StoreHandle};
use kloset_s3::error::Error;
use kloset_s3::request::Method;
use kloset_s3_tests::proxy::{Fault, FaultProxy, Target};
use kloset_s3_tests::{data, get, host, mac, raw, servers, store_error, unique_bucket, TestServer};
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, ReadBuf};

/// A store on a fresh bucket of `server`, reached through a fault proxy.
async fn through_proxy(
    server: &TestServer,
    tag: &str,
    extra: &[(&str, &str)],
) -> (FaultProxy, String, StoreHandle) {
    let upstream = server.endpoint.parse().expect("a socket address");
    let proxy = FaultProxy::start(upstream).await.expect("proxy starts");
    let bucket = unique_bucket(tag);
    let config = server.config_via(proxy.addr(), &bucket, extra);
    let mut store = host().open(&config).await.expect("store opens");
    store.create(b"c").await.expect("create");
    (proxy, bucket, store)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_byte_is_reported_as_corrupted() {
    for server in servers().await {
        let name = server.name;
        let (proxy, _, mut store) = through_proxy(&server, "flip", &[("part_size", "5MiB")]).await;
        let small = data(1, 100_000);
        let large = data(2, 11 << 20);
        let kind = ResourceKind::Packfile;
        store.put(kind, &mac(1), &small[..]).await.unwrap();
        store.put(kind, &mac(2), &large[..]).await.unwrap();
        for (m, at) in [(mac(1), 77_777), (mac(2), (6 << 20) + 5)] {
            proxy.script(&[(Target::ObjectGet, Fault::FlipByte(at))]);
            let err = store_error(get(&mut store, kind, &m, None).await.unwrap_err());
            assert!(matches!(err, Error::Corrupted(_)), "{name}: {err}");
            assert_eq!(proxy.pending(), 0, "{name}: the fault was not injected");
        }
        // The stored objects are fine: read without faults, they verify.
        proxy.pass();
        assert!(get(&mut store, kind, &mac(2), None).await.unwrap() == large);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_body_resumes_from_the_first_missing_byte() {
    for server in servers().await {
        let name = server.name;
        let (proxy, _, mut store) = through_proxy(&server, "cut", &[]).await;
        let body = data(3, 300_000);
        let kind = ResourceKind::State;
        store.put(kind, &mac(3), &body[..]).await.unwrap();
        let before = store.stats().await.unwrap();
        proxy.script(&[
            (Target::ObjectGet, Fault::Truncate(100_000)),
            (Target::ObjectGet, Fault::Truncate(50_000)),
        ]);
        assert!(
            get(&mut store, kind, &mac(3), None).await.unwrap() == body,
            "{name}"
        );
        let after = store.stats().await.unwrap();
        assert_eq!(after.retries - before.retries, 2, "{name}: two resumes");
        // A ranged read resumes too, and still delivers exactly its range.
        proxy.script(&[(Target::ObjectGet, Fault::Truncate(10_000))]);
        let range = Range {
            offset: 1000,
            length: 200_000,
        };
        let got = get(&mut store, kind, &mac(3), Some(range)).await.unwrap();
        assert!(got == body[1000..201_000], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_cut_for_good_is_an_error_never_a_short_read() {
    let servers = servers().await;
    let (proxy, _, mut store) = through_proxy(&servers[0], "short", &[("max_retries", "2")]).await;
    let body = data(4, 200_000);
    store
        .put(ResourceKind::Packfile, &mac(4), &body[..])
        .await
        .unwrap();
    proxy.script(&[(Target::ObjectGet, Fault::Truncate(1000)); 3]);
    let mut out = Vec::new();
    let err = store
        .get(ResourceKind::Packfile, &mac(4), None, &mut out)
        .await
        .unwrap_err();
    assert!(matches!(store_error(err), Error::Unavailable(_)));
    assert!(out.len() < body.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_read_that_breaks_is_not_out_of_time() {
    // The reader takes longer than the whole retry budget, then the body
    // breaks: the time spent reading is not time spent failing.
    let servers = servers().await;
    let (proxy, _, mut store) =
        through_proxy(&servers[0], "longread", &[("retry_budget", "1s")]).await;
    let body = data(8, 4 << 20);
    let kind = ResourceKind::Packfile;
    store.put(kind, &mac(8), &body[..]).await.unwrap();
    proxy.script(&[(Target::ObjectGet, Fault::Truncate(2 << 20))]);
    let (writer, mut reader) = tokio::io::duplex(64 << 10);
    let slow_reader = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut got)
            .await
            .map(|_| got)
    });
    let before = store.stats().await.unwrap().retries;
    let n = store.get(kind, &mac(8), None, writer).await.unwrap();
    assert_eq!(n, body.len() as u64);
    assert!(slow_reader.await.unwrap().unwrap() == body);
    assert!(
        store.stats().await.unwrap().retries > before,
        "the break was resumed"
    );
    assert_eq!(proxy.pending(), 0, "the fault was not injected");
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_failures_are_retried_and_final_ones_are_not() {
    for server in servers().await {
        let name = server.name;
        let (proxy, _, mut store) = through_proxy(&server, "retry", &[]).await;
        let body = data(5, 5000);
        proxy.script(&[
            (Target::Put, Fault::Status(503, "SlowDown")),
            (Target::Put, Fault::Status(500, "InternalError")),
            (Target::Put, Fault::Reset),
        ]);
        let before = store.stats().await.unwrap().retries;
        store
            .put(ResourceKind::Packfile, &mac(5), &body[..])
            .await
            .unwrap();
        assert_eq!(store.stats().await.unwrap().retries - before, 3, "{name}");
        assert!(
            get(&mut store, ResourceKind::Packfile, &mac(5), None)
                .await
                .unwrap()
                == body
        );
        // Not found and bad requests are final at once.
        let before = store.stats().await.unwrap().retries;
        let err = store_error(
            get(&mut store, ResourceKind::Packfile, &mac(6), None)
                .await
                .unwrap_err(),
        );
        assert!(matches!(err, Error::NotFound(_)), "{name}: {err}");
        proxy.script(&[(Target::Any, Fault::Status(400, "InvalidArgument"))]);
        let err = store_error(
            store
                .delete(ResourceKind::Packfile, &mac(5))
                .await
                .unwrap_err(),
        );
        assert!(
            matches!(err, Error::Other(ref m) if m.contains("InvalidArgument")),
            "{name}: {err}"
        );
        assert_eq!(store.stats().await.unwrap().retries, before, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_give_up_with_a_clear_error() {
    let servers = servers().await;
    let (proxy, _, mut store) = through_proxy(&servers[0], "giveup", &[("max_retries", "3")]).await;
    proxy.script(&[(Target::Put, Fault::Status(503, "SlowDown")); 4]);
    let err = store
        .put(ResourceKind::Packfile, &mac(7), &b"payload"[..])
        .await
        .unwrap_err();
    match store_error(err) {
        Error::Unavailable(m) => assert!(m.contains("SlowDown"), "{m}"),
        other => panic!("expected unavailable, got {other}"),
    }
    proxy.pass();
    assert!(store.list(ResourceKind::Packfile).await.unwrap().is_empty());
}

/// Fails with an I/O error after `len` bytes: a writer that dies mid-object.
struct FailingReader {
    data: Vec<u8>,
    at: usize,
}

impl AsyncRead for FailingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.at == self.data.len() {
            return Poll::Ready(Err(std::io::Error::other("the writer died")));
        }
        let n = buf.remaining().min(self.data.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.data[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_put_leaves_nothing_behind() {
    for server in servers().await {
        let name = server.name;
        let (proxy, bucket, mut store) =
            through_proxy(&server, "abort", &[("part_size", "5MiB")]).await;
        // 1. The writer dies after two parts went up.
        let reader = FailingReader {
            data: data(8, 12 << 20),
            at: 0,
        };
        let err = store
            .put(ResourceKind::Packfile, &mac(8), reader)
            .await
            .unwrap_err();
        assert!(matches!(err, HostError::Io(_)), "{name}: {err}");
        // 2. The server keeps failing a part past the retries.
        let mut faults = vec![(Target::Put, Fault::Reset); 2];
        faults.extend([(Target::Put, Fault::Status(500, "InternalError")); 20]);
        let config = server.config_via(
            proxy.addr(),
            &bucket,
            &[("part_size", "5MiB"), ("max_retries", "1")],
        );
        let mut fragile = host().open(&config).await.unwrap();
        proxy.script(&faults);
        let err = fragile
            .put(ResourceKind::Packfile, &mac(9), &data(9, 12 << 20)[..])
            .await
            .unwrap_err();
        assert!(matches!(store_error(err), Error::Unavailable(_)), "{name}");
        proxy.pass();
        assert!(
            store.list(ResourceKind::Packfile).await.unwrap().is_empty(),
            "{name}"
        );
        assert_no_pending_uploads(&server, &bucket).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_multipart_answer_lost_or_cut_leaves_no_upload_behind() {
    for server in servers().await {
        let name = server.name;
        let (proxy, bucket, mut store) =
            through_proxy(&server, "lostcreate", &[("part_size", "5MiB")]).await;
        for (i, fault) in [Fault::Lost, Fault::Truncate(30)].into_iter().enumerate() {
            let m = mac(40 + i as u64);
            let body = data(40 + i as u64, (5 << 20) + 1000);
            // The server starts an upload; the component never learns its id.
            proxy.script(&[(Target::CreateMultipart, fault)]);
            store
                .put(ResourceKind::Packfile, &m, &body[..])
                .await
                .unwrap_or_else(|e| panic!("{name}: {fault:?}: {e}"));
            assert_eq!(proxy.pending(), 0, "{name}: the fault was not injected");
            let back = get(&mut store, ResourceKind::Packfile, &m, None).await;
            assert!(back.unwrap() == body, "{name}: {fault:?}");
        }
        let warnings = store.take_warnings().await.unwrap();
        if server.caps.list_uploads {
            // Found with ListMultipartUploads and aborted before the retry.
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            assert_no_pending_uploads(&server, &bucket).await;
        } else {
            // Nothing to find them with: said, not hidden.
            assert_eq!(warnings.len(), 2, "{name}: {warnings:?}");
            for warning in &warnings {
                assert!(
                    warning.contains("CreateMultipartUpload was lost")
                        && warning.contains("AbortIncompleteMultipartUpload"),
                    "{name}: {warning}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_complete_multipart_answer_lost_or_cut_settles_on_the_stored_object() {
    for server in servers().await {
        let name = server.name;
        let (proxy, bucket, mut store) =
            through_proxy(&server, "lostcomplete", &[("part_size", "5MiB")]).await;
        for (i, fault) in [Fault::Lost, Fault::Truncate(10)].into_iter().enumerate() {
            let m = mac(50 + i as u64);
            let body = data(50 + i as u64, (5 << 20) + 77);
            proxy.script(&[(Target::CompleteMultipart, fault)]);
            store
                .put(ResourceKind::Packfile, &m, &body[..])
                .await
                .unwrap_or_else(|e| panic!("{name}: {fault:?}: {e}"));
            assert_eq!(proxy.pending(), 0, "{name}: the fault was not injected");
            let back = get(&mut store, ResourceKind::Packfile, &m, None).await;
            assert!(back.unwrap() == body, "{name}: {fault:?}");
        }
        let completes = proxy
            .seen()
            .iter()
            .filter(|s| s.method == "POST" && s.target.contains("uploadId="))
            .count();
        assert_eq!(completes, 4, "{name}: each Complete was sent twice");
        assert!(store.take_warnings().await.unwrap().is_empty(), "{name}");
        assert_no_pending_uploads(&server, &bucket).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identical_object_whose_upload_cannot_be_aborted_is_a_success_with_a_warning() {
    let servers = servers().await;
    let server = &servers[0];
    let (proxy, _, mut store) = through_proxy(server, "noabort", &[("part_size", "5MiB")]).await;
    let body = data(55, (5 << 20) + 5);
    store
        .put(ResourceKind::Packfile, &mac(55), &body[..])
        .await
        .unwrap();
    // The same bytes again, as if the first put had not landed yet when the
    // check looked: the upload runs, Complete answers 412, and the server
    // refuses to abort the now useless upload.
    proxy.script(&[
        (Target::Head, Fault::Status(404, "NoSuchKey")),
        (
            Target::AbortMultipart,
            Fault::Status(405, "MethodNotAllowed"),
        ),
    ]);
    store
        .put(ResourceKind::Packfile, &mac(55), &body[..])
        .await
        .unwrap();
    assert_eq!(proxy.pending(), 0, "the faults were not injected");
    let warnings = store.take_warnings().await.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("MethodNotAllowed") && warnings[0].contains("parts stay"),
        "{}",
        warnings[0]
    );
    assert!(
        get(&mut store, ResourceKind::Packfile, &mac(55), None)
            .await
            .unwrap()
            == body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listing_page_cut_mid_body_is_read_again() {
    for server in servers().await {
        let name = server.name;
        let (proxy, _, mut store) = through_proxy(&server, "cutlist", &[]).await;
        let mut want: Vec<[u8; 32]> = (0..3).map(|i| mac(60 + i)).collect();
        for m in &want {
            store
                .put(ResourceKind::Packfile, m, &b"p"[..])
                .await
                .unwrap();
        }
        proxy.script(&[(Target::List, Fault::Truncate(100))]);
        let mut got = store.list(ResourceKind::Packfile).await.unwrap();
        assert_eq!(proxy.pending(), 0, "{name}: the fault was not injected");
        got.sort();
        want.sort();
        assert_eq!(got, want, "{name}");
        proxy.script(&[(Target::List, Fault::Truncate(40))]);
        assert!(store.size().await.unwrap() > 0, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn checksum_sha256_signs_every_body_it_sends() {
    for server in servers().await {
        let name = server.name;
        for checksum in ["md5", "sha256"] {
            let (proxy, _, mut store) = through_proxy(
                &server,
                "checksum",
                &[("checksum", checksum), ("part_size", "5MiB")],
            )
            .await;
            let small = data(70, 1000);
            let large = data(71, (5 << 20) + 10);
            for (i, body) in [&small, &large].into_iter().enumerate() {
                let m = mac(70 + i as u64);
                store
                    .put(ResourceKind::Packfile, &m, &body[..])
                    .await
                    .unwrap();
                assert!(
                    get(&mut store, ResourceKind::Packfile, &m, None)
                        .await
                        .unwrap()
                        == *body
                );
            }
            // The bodies sent: the small object, then the two parts.
            let hashes: Vec<String> = proxy
                .seen()
                .iter()
                .filter(|s| s.method == "PUT" && s.target.contains("/packfiles/"))
                .filter_map(|s| s.header("x-amz-content-sha256").map(str::to_owned))
                .collect();
            let want: Vec<String> = match checksum {
                "sha256" => [&small[..], &large[..5 << 20], &large[5 << 20..]]
                    .iter()
                    .map(|body| kloset_s3::hex::encode(&kloset_s3::integrity::sha256(body)))
                    .collect(),
                _ => vec!["UNSIGNED-PAYLOAD".to_owned(); 3],
            };
            assert_eq!(hashes, want, "{name}: checksum={checksum}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_etag_false_reads_objects_whose_etags_are_no_md5s() {
    for server in servers().await {
        let name = server.name;
        let (proxy, bucket, mut store) = through_proxy(&server, "etag", &[]).await;
        // An object another tool wrote: no kloset metadata, a plain ETag.
        let m = mac(80);
        let body = data(80, 3000);
        let key = format!("packfiles/{:02x}/{}", m[0], kloset_s3::hex::encode(&m));
        let put = server
            .raw(Method::Put, &format!("/{bucket}/{key}"), &[], &[], &body)
            .await;
        assert_eq!(put.status, 200, "{name}: {}", put.text());
        assert!(
            get(&mut store, ResourceKind::Packfile, &m, None)
                .await
                .unwrap()
                == body
        );
        // Behind a server whose ETags are something else, the check fails...
        proxy.opaque_etags();
        let err = store_error(
            get(&mut store, ResourceKind::Packfile, &m, None)
                .await
                .unwrap_err(),
        );
        assert!(matches!(err, Error::Corrupted(_)), "{name}: {err}");
        // ...unless verify_etag is off: the length is all that is checked.
        let config = server.config_via(proxy.addr(), &bucket, &[("verify_etag", "false")]);
        let mut lenient = host().open(&config).await.unwrap();
        assert!(
            get(&mut lenient, ResourceKind::Packfile, &m, None)
                .await
                .unwrap()
                == body
        );
        // Our own objects carry their digest as metadata and are checked anyway.
        let ours = data(81, 3000);
        lenient
            .put(ResourceKind::Packfile, &mac(81), &ours[..])
            .await
            .unwrap();
        assert!(
            get(&mut lenient, ResourceKind::Packfile, &mac(81), None)
                .await
                .unwrap()
                == ours
        );
    }
}

async fn assert_no_pending_uploads(server: &TestServer, bucket: &str) {
    if let Some(uploads) = raw::pending_uploads(server, bucket).await {
        assert!(
            uploads.is_empty(),
            "{}: pending uploads {uploads:?}",
            server.name
        );
        return;
    }
    // s3s-fs has no ListMultipartUploads: its pending parts are files.
    let fs = server
        .in_process()
        .expect("only s3s-fs lacks ListMultipartUploads");
    let leftovers: Vec<String> = std::fs::read_dir(fs.root())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(".upload"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "s3s-fs keeps upload files {leftovers:?}"
    );
}

/// ≥ 500 mixed operations, single-part and multipart, through a proxy
/// injecting random faults from a fixed seed. Invariants: every successful
/// get returns exactly the bytes put; every failure is the typed error its
/// fault explains — `unavailable` once retries ran out, `corrupted` for a
/// full read whose bytes were flipped — and failures stay rare; after the
/// run, with faults off, the bucket holds exactly the objects the model
/// says, and no multipart upload is left pending.
#[tokio::test(flavor = "multi_thread")]
async fn a_fault_storm_loses_and_corrupts_nothing() {
    const OPS: u64 = 600;
    const PART: usize = 5 << 20;
    let servers = servers().await;
    let server = &servers[0];
    let (proxy, bucket, mut store) = through_proxy(
        server,
        "storm",
        &[
            ("max_retries", "4"),
            ("retry_budget", "20s"),
            ("part_size", "5MiB"),
        ],
    )
    .await;
    proxy.random(0x5EED_2026, 300);
    let mut model: BTreeMap<[u8; 32], Vec<u8>> = BTreeMap::new();
    let mut maybe: BTreeMap<[u8; 32], Vec<u8>> = BTreeMap::new();
    let (mut unavailable, mut corrupted, mut state) = (0u64, 0u64, 42u64);
    let (mut puts, mut multipart) = (0u64, 0u64);
    for op in 0..OPS {
        let roll = next(&mut state) % 10;
        let existing: Vec<[u8; 32]> = model.keys().copied().collect();
        let pick =
            (!existing.is_empty()).then(|| existing[next(&mut state) as usize % existing.len()]);
        let full_read = matches!((roll, pick), (4..=5, Some(_)));
        let outcome = match (roll, pick) {
            (0..=3, _) | (_, None) => {
                let m = mac(1_000_000 + op);
                puts += 1;
                let len = match puts % 8 {
                    // Two parts: the second from 1 byte to 1 MiB.
                    0 => PART + 1 + next(&mut state) as usize % (1 << 20),
                    _ => 1 + next(&mut state) as usize % 60_000,
                };
                multipart += u64::from(len > PART);
                let body = data(op, len);
                match store.put(ResourceKind::Packfile, &m, &body[..]).await {
                    Ok(_) => {
                        model.insert(m, body);
                        Ok(())
                    }
                    Err(e) => {
                        maybe.insert(m, body);
                        Err(e)
                    }
                }
            }
            (4..=5, Some(m)) => match get(&mut store, ResourceKind::Packfile, &m, None).await {
                Ok(bytes) => {
                    assert!(bytes == model[&m], "op {op}: a get returned other bytes");
                    Ok(())
                }
                Err(e) => Err(e),
            },
            (6, Some(m)) => {
                let len = model[&m].len() as u64;
                let offset = next(&mut state) % len;
                let length = (1 + next(&mut state) % (len - offset).min(1 << 20)) as u32;
                let range = Some(Range { offset, length });
                match get(&mut store, ResourceKind::Packfile, &m, range).await {
                    Ok(bytes) => {
                        let want =
                            &model[&m][offset as usize..(offset + u64::from(length)) as usize];
                        assert!(bytes == want, "op {op}: a ranged get returned other bytes");
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            (7, Some(_)) => store.list(ResourceKind::Packfile).await.map(|_| ()),
            // The same bytes again: success, nothing overwritten.
            (8, Some(m)) => store
                .put(ResourceKind::Packfile, &m, &model[&m][..])
                .await
                .map(drop),
            (_, Some(m)) => {
                let result = store.delete(ResourceKind::Packfile, &m).await;
                let body = model.remove(&m).expect("picked from the model");
                if result.is_err() {
                    maybe.insert(m, body);
                }
                result
            }
        };
        match outcome.map_err(store_error) {
            Ok(()) => {}
            Err(Error::Unavailable(_)) => unavailable += 1,
            Err(Error::Corrupted(_)) if full_read => corrupted += 1,
            Err(other) => panic!("op {op} (roll {roll}): unexpected error {other}"),
        }
    }
    proxy.pass();
    let listed = store.list(ResourceKind::Packfile).await.unwrap();
    for m in model.keys() {
        assert!(listed.contains(m), "an object put successfully is missing");
    }
    for m in &listed {
        if let Some(body) = model.get(m).or_else(|| maybe.get(m)) {
            let stored = get(&mut store, ResourceKind::Packfile, m, None)
                .await
                .unwrap();
            assert!(
                stored == *body,
                "a listed object holds other bytes than were put"
            );
        } else {
            panic!("an object nobody put is listed");
        }
    }
    assert_no_pending_uploads(server, &bucket).await;
    let tally = proxy.tally();
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let stats = store.stats().await.unwrap();
    eprintln!(
        "fault storm: {OPS} operations ({multipart} multipart puts), {} requests, {} faults \
         injected ({} statuses, {} resets, {} lost answers, {} truncations, {} corruptions, \
         {} slow bodies), {} retries; {unavailable} operations unavailable after their \
         retries, {corrupted} reads found corrupted",
        count(&tally.requests),
        tally.injected(),
        count(&tally.statuses),
        count(&tally.resets),
        count(&tally.lost),
        count(&tally.truncations),
        count(&tally.corruptions),
        count(&tally.slowdowns),
        stats.retries,
    );
    assert!(tally.injected() >= 100, "too few faults to mean anything");
    assert!(multipart >= 20, "too few multipart puts: {multipart}");
    assert!(
        corrupted <= count(&tally.corruptions),
        "more corrupted reads than corruptions injected"
    );
    // Five tries at 30% faults each: an operation runs out of retries about
    // once in a hundred.
    assert!(
        unavailable <= OPS / 50,
        "{unavailable} of {OPS} operations ran out of retries"
    );
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Streams `len` generated bytes without holding them.
struct Generated {
    left: u64,
    state: u64,
    hash: Md5,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left) as usize / 8 * 8;
        let mut chunk = Vec::with_capacity(n);
        while chunk.len() < n {
            chunk.extend_from_slice(&next(&mut self.state).to_le_bytes());
        }
        self.hash.update(&chunk);
        buf.put_slice(&chunk);
        self.left -= n as u64;
        Poll::Ready(Ok(()))
    }
}

/// Hashes what is written to it.
struct Hashing(Md5, u64);

impl tokio::io::AsyncWrite for Hashing {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.update(buf);
        self.1 += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A 1 GiB object goes up and comes back through at most 64 MiB of guest
/// memory (the goal; the margin is generous: parts are 16 MiB).
#[tokio::test(flavor = "multi_thread")]
async fn a_gibibyte_streams_through_bounded_guest_memory() {
    const GIB: u64 = 1 << 30;
    const LIMIT: usize = 64 << 20;
    let servers = servers().await;
    let (_, mut store) = servers[0].open("gib", &[]).await;
    store.create(b"c").await.unwrap();
    store.reset_peak_memory();
    let mut source = Generated {
        left: GIB,
        state: 7,
        hash: Md5::new(),
    };
    let n = store
        .put(ResourceKind::Packfile, &mac(1), &mut source)
        .await
        .unwrap();
    assert_eq!(n, GIB);
    let put_peak = store.peak_memory_bytes();
    store.reset_peak_memory();
    let mut sink = Hashing(Md5::new(), 0);
    store
        .get(ResourceKind::Packfile, &mac(1), None, &mut sink)
        .await
        .unwrap();
    let get_peak = store.peak_memory_bytes();
    eprintln!(
        "1 GiB: guest memory peak {:.1} MiB on put, {:.1} MiB on get",
        put_peak as f64 / (1 << 20) as f64,
        get_peak as f64 / (1 << 20) as f64
    );
    assert_eq!(sink.1, GIB);
    assert_eq!(
        sink.0.finalize(),
        source.hash.finalize(),
        "the bytes differ"
    );
    assert!(put_peak <= LIMIT, "put peak {put_peak}");
    assert!(get_peak <= LIMIT, "get peak {get_peak}");
}
