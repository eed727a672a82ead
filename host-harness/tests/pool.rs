//! [`StorePool`]: many tasks putting and getting through one pool against
//! s3s-fs get their own bytes back, and a dead instance is replaced.

use std::num::NonZeroUsize;
use std::sync::Arc;

use kloset_host::testbed::S3sFsServer;
use kloset_host::{ComponentCache, Host, HostError, HostOptions, ResourceKind, StorePool};

const ACCESS_KEY: &str = "AKIAPOOLTEST";
const SECRET_KEY: &str = "pool-test-secret-key";
const MIB: usize = 1 << 20;

fn config(server: &S3sFsServer, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let location = format!("s3://{}/bucket/pool", server.endpoint());
    [
        ("location", location.as_str()),
        ("use_tls", "false"),
        ("access_key", ACCESS_KEY),
        ("secret_access_key", SECRET_KEY),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn host(cache: &std::path::Path, memory_limit: usize) -> Host {
    Host::new(HostOptions {
        cache: ComponentCache::At(cache.to_path_buf()),
        memory_limit,
        ..HostOptions::default()
    })
    .expect("host")
}

/// Object `i`: its own length and contents, some over one transport chunk.
fn object(i: usize) -> Vec<u8> {
    let len = 1 + i * 97_531 % (3 * MIB);
    (0..len)
        .map(|j| (j * 31 + j / 257 + i * 13) as u8)
        .collect()
}

fn mac(i: usize) -> [u8; 32] {
    let mut mac = [0; 32];
    mac[..8].copy_from_slice(
        &(i as u64 + 1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .to_be_bytes(),
    );
    mac
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_and_gets_through_a_pool_give_back_each_object() {
    let cache = tempfile::tempdir().expect("cache dir");
    let server = S3sFsServer::start(ACCESS_KEY, SECRET_KEY)
        .await
        .expect("server");
    let size = NonZeroUsize::new(4).expect("non-zero");
    let pool = StorePool::new(host(cache.path(), 512 * MIB), config(&server, &[]), size);
    assert_eq!(pool.size(), 4);
    pool.checkout()
        .await
        .expect("checkout")
        .create(b"pool")
        .await
        .expect("create");

    const TASKS: usize = 24;
    let puts: Vec<_> = (0..TASKS)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let data = object(i);
                let mut store = pool.checkout().await?;
                store.put(ResourceKind::Packfile, &mac(i), &data[..]).await
            })
        })
        .collect();
    for (i, put) in puts.into_iter().enumerate() {
        let written = put.await.expect("task").expect("put");
        assert_eq!(written, object(i).len() as u64);
    }

    let pool = Arc::new(pool);
    let gets: Vec<_> = (0..TASKS)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                let mut store = pool.checkout().await?;
                store
                    .get(ResourceKind::Packfile, &mac(i), None, &mut out)
                    .await?;
                Ok::<_, HostError>(out)
            })
        })
        .collect();
    for (i, get) in gets.into_iter().enumerate() {
        let back = get.await.expect("task").expect("get");
        assert!(back == object(i), "object {i} came back different");
    }
    let mut listed = pool
        .checkout()
        .await
        .expect("checkout")
        .list(ResourceKind::Packfile)
        .await
        .expect("list");
    listed.sort_unstable();
    let mut macs: Vec<_> = (0..TASKS).map(mac).collect();
    macs.sort_unstable();
    assert_eq!(listed, macs);
    assert!(
        pool.peak_memory_bytes() > 0,
        "idle instances report their memory"
    );
}

#[tokio::test]
async fn a_trapped_instance_is_not_given_out_again() {
    let cache = tempfile::tempdir().expect("cache dir");
    let server = S3sFsServer::start(ACCESS_KEY, SECRET_KEY)
        .await
        .expect("server");
    // Too little memory for one 16 MiB part: the guest's allocation fails.
    let host = host(cache.path(), 12 * MIB);
    let pool = StorePool::new(
        host,
        config(&server, &[("part_size", "16MiB")]),
        NonZeroUsize::MIN,
    );
    pool.checkout()
        .await
        .expect("checkout")
        .create(b"c")
        .await
        .expect("create");

    let big = vec![7u8; 20 * MIB];
    let mut store = pool.checkout().await.expect("checkout");
    let err = store
        .put(ResourceKind::Packfile, &[1; 32], &big[..])
        .await
        .expect_err("out of memory");
    assert!(matches!(err, HostError::Trap(_)), "{err}");
    assert!(!store.is_usable());
    drop(store);

    // The pool holds one instance at most: this checkout waits for none and
    // gets a fresh one, not the dead one.
    let mut store = pool.checkout().await.expect("checkout");
    assert!(store.is_usable());
    store
        .put(ResourceKind::Packfile, &[2; 32], &b"small"[..])
        .await
        .expect("put on a fresh instance");
    let closed = store.close().await;
    assert!(
        closed.is_ok() && !store.is_usable(),
        "a closed store is not reused"
    );
}
