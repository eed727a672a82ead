//! The in-memory S3 server of the testbed, through the real component:
//! what a kloset does (objects of every size, ranges, conditional writes,
//! listings over several pages, deletes) and SigV4 refusals.

use kloset_host::testbed::MemoryServer;
use kloset_host::{ComponentCache, Host, HostError, HostOptions, Range, ResourceKind, StoreHandle};
use kloset_s3::error::Error;

const ACCESS_KEY: &str = "AKIAMEMORYTEST";
const SECRET_KEY: &str = "memory-test-secret-key";
const MIB: usize = 1 << 20;

fn config(server: &MemoryServer, secret: &str) -> Vec<(String, String)> {
    [
        (
            "location",
            format!("s3://{}/bucket/kloset", server.endpoint()),
        ),
        ("use_tls", "false".into()),
        ("access_key", ACCESS_KEY.into()),
        ("secret_access_key", secret.into()),
        // Multipart from 5 MiB on, so a 12 MiB object has three parts.
        ("part_size", "5MiB".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

async fn store(server: &MemoryServer, cache: &std::path::Path) -> StoreHandle {
    let host = Host::new(HostOptions {
        cache: ComponentCache::At(cache.to_path_buf()),
        ..HostOptions::default()
    })
    .expect("host");
    host.open(&config(server, SECRET_KEY)).await.expect("open")
}

/// Deterministic, not periodic in any chunk or part size.
fn object(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251 + seed) as u8).collect()
}

async fn get(
    store: &mut StoreHandle,
    mac: &[u8; 32],
    range: Option<Range>,
) -> Result<Vec<u8>, HostError> {
    let mut out = Vec::new();
    store
        .get(ResourceKind::Packfile, mac, range, &mut out)
        .await?;
    Ok(out)
}

#[tokio::test]
async fn objects_round_trip_whole_and_in_ranges() {
    let cache = tempfile::tempdir().expect("cache dir");
    let server = MemoryServer::start(ACCESS_KEY, SECRET_KEY)
        .await
        .expect("server");
    let mut store = store(&server, cache.path()).await;
    store
        .create(b"memory kloset")
        .await
        .expect("create (makes the bucket)");
    assert_eq!(store.open().await.expect("open"), b"memory kloset");

    let sizes = [1, 1024, MIB + 3, 12 * MIB + 5];
    for (seed, &len) in sizes.iter().enumerate() {
        let data = object(len, seed);
        let mac = [seed as u8; 32];
        let stored = store
            .put(ResourceKind::Packfile, &mac, &data[..])
            .await
            .expect("put");
        assert_eq!(stored, len as u64);
        // Whole reads are verified against the digest stored as metadata
        // (single PUT) or the multipart ETag: both must come back right.
        assert!(
            get(&mut store, &mac, None).await.expect("get") == data,
            "{len} bytes"
        );
    }

    let mac = [3; 32];
    let data = object(12 * MIB + 5, 3);
    for (offset, length) in [
        (0, 1),
        (5 * MIB as u64 - 2, 4),
        (12 * MIB as u64, 5),
        (7, 64 << 10),
    ] {
        let part = get(&mut store, &mac, Some(Range { offset, length }))
            .await
            .expect("ranged get");
        let start = offset as usize;
        assert!(
            part == data[start..start + length as usize],
            "range {offset}+{length}"
        );
    }
    let past_end = Range {
        offset: 12 * MIB as u64 + 5,
        length: 1,
    };
    let err = get(&mut store, &mac, Some(past_end))
        .await
        .expect_err("range past the end");
    assert!(
        matches!(err, HostError::Store(Error::InvalidArgument(_))),
        "{err}"
    );
    assert_eq!(
        store.size().await.expect("size"),
        (sizes.iter().sum::<usize>() + 13) as i64
    );
}

#[tokio::test]
async fn conditional_writes_keep_the_first_object_and_deletes_remove_it() {
    let cache = tempfile::tempdir().expect("cache dir");
    let server = MemoryServer::start(ACCESS_KEY, SECRET_KEY)
        .await
        .expect("server");
    let mut store = store(&server, cache.path()).await;
    store.create(b"c").await.expect("create");
    let mac = [9; 32];
    let first = object(2048, 1);
    store
        .put(ResourceKind::Packfile, &mac, &first[..])
        .await
        .expect("put");
    // The server answers 412 to If-None-Match: *; the component then finds
    // the same bytes there (identical: success) or others (refused).
    store
        .put(ResourceKind::Packfile, &mac, &first[..])
        .await
        .expect("identical re-put");
    let other = object(2048, 2);
    let err = store
        .put(ResourceKind::Packfile, &mac, &other[..])
        .await
        .expect_err("a different object under the same MAC");
    assert!(matches!(err, HostError::Store(_)), "{err}");
    assert!(get(&mut store, &mac, None).await.expect("get") == first);

    store
        .delete(ResourceKind::Packfile, &mac)
        .await
        .expect("delete");
    let err = get(&mut store, &mac, None).await.expect_err("deleted");
    assert!(matches!(err, HostError::Store(Error::NotFound(_))), "{err}");
    store
        .delete(ResourceKind::Packfile, &mac)
        .await
        .expect("deleting a missing object");
}

#[tokio::test]
async fn listings_page_through_every_key_of_their_prefix() {
    let cache = tempfile::tempdir().expect("cache dir");
    let server = MemoryServer::start(ACCESS_KEY, SECRET_KEY)
        .await
        .expect("server");
    let mut store = store(&server, cache.path()).await;
    store.create(b"c").await.expect("create");
    let mut macs: Vec<[u8; 32]> = (0..1100u32)
        .map(|i| {
            let mut mac = [0; 32];
            mac[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
            mac
        })
        .collect();
    for mac in &macs {
        store
            .put(ResourceKind::Packfile, mac, &b"p"[..])
            .await
            .expect("put");
    }
    store
        .put(ResourceKind::State, &[1; 32], &b"s"[..])
        .await
        .expect("put state");

    let mut listed = store.list(ResourceKind::Packfile).await.expect("list");
    listed.sort_unstable();
    macs.sort_unstable();
    assert_eq!(listed, macs, "1100 keys over two pages, nothing else");
    assert_eq!(
        store.list(ResourceKind::State).await.expect("list"),
        vec![[1; 32]]
    );
}

#[tokio::test]
async fn requests_signed_with_another_secret_are_refused() {
    let cache = tempfile::tempdir().expect("cache dir");
    let server = MemoryServer::start(ACCESS_KEY, SECRET_KEY)
        .await
        .expect("server");
    let host = Host::new(HostOptions {
        cache: ComponentCache::At(cache.path().to_path_buf()),
        ..HostOptions::default()
    })
    .expect("host");
    let mut store = host
        .open(&config(&server, "not-the-secret"))
        .await
        .expect("open");
    let err = store.create(b"c").await.expect_err("wrong secret");
    assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
}
