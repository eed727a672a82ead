//! The embedded component in the host, against an in-process s3s-fs server on
//! 127.0.0.1: the host API end to end, its limits and its trap recovery, and
//! [`StorePool`]: many tasks putting and getting through one pool get their
//! own bytes back, and a dead instance is replaced.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use kloset_host::testbed::S3sFsServer;
use kloset_host::{
    ComponentCache, Host, HostError, HostOptions, Range, ResourceKind, StoreHandle, StorePool,
};
use kloset_s3::error::Error;
use tempfile::TempDir;

const ACCESS_KEY: &str = "AKIAHOSTTEST";
const SECRET_KEY: &str = "host-test-secret-key";
const MIB: usize = 1 << 20;

/// An s3s-fs server and a host with a fresh component cache.
struct Bed {
    server: S3sFsServer,
    _cache: TempDir,
    port: u16,
    host: Host,
}

impl Bed {
    async fn new(memory_limit: usize) -> Bed {
        let server = S3sFsServer::start(ACCESS_KEY, SECRET_KEY)
            .await
            .expect("server");
        let cache = tempfile::tempdir().expect("cache dir");
        let host = host(cache.path(), memory_limit);
        Bed {
            port: server.endpoint().port(),
            server,
            _cache: cache,
            host,
        }
    }

    fn config(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        config(self.port, extra)
    }

    /// A pool of `size` instances of the store, on a kloset created with the
    /// config `c`.
    async fn pool(&self, extra: &[(&str, &str)], size: NonZeroUsize) -> StorePool {
        let pool = StorePool::new(self.host.clone(), self.config(extra), size);
        let mut store = pool.checkout().await.expect("checkout");
        store.create(b"c").await.expect("create");
        drop(store);
        pool
    }

    /// A store on a kloset created with the config `c`.
    async fn kloset(&self, extra: &[(&str, &str)]) -> StoreHandle {
        let mut store = self.host.open(&self.config(extra)).await.expect("open");
        store.create(b"c").await.expect("create");
        store
    }
}

fn config(port: u16, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let location = format!("s3://127.0.0.1:{port}/bucket/kloset");
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

fn host(cache: &Path, memory_limit: usize) -> Host {
    Host::new(HostOptions {
        cache: ComponentCache::At(cache.to_path_buf()),
        memory_limit,
        ..HostOptions::default()
    })
    .expect("host")
}

/// Deterministic, not periodic in any chunk size.
fn object(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn stores_and_reads_back_a_kloset() {
    let bed = Bed::new(512 * MIB).await;
    let port = bed.port;
    let mut store = bed.host.open(&bed.config(&[])).await.expect("open");

    store
        .create(b"serialized kloset config")
        .await
        .expect("create");
    assert_eq!(
        store.open().await.expect("open kloset"),
        b"serialized kloset config"
    );
    store.ping().await.expect("ping");
    assert_eq!(store.type_name().await.expect("type"), "s3");
    assert_eq!(store.root().await.expect("root"), "/bucket/kloset");
    assert_eq!(
        store.origin().await.expect("origin"),
        format!("127.0.0.1:{port}")
    );

    let mac = [0xab; 32];
    let bytes = object(3 * MIB + 123);
    let written = store
        .put(ResourceKind::Packfile, &mac, &bytes[..])
        .await
        .expect("put");
    assert_eq!(written, bytes.len() as u64);

    let mut read = Vec::new();
    let n = store
        .get(ResourceKind::Packfile, &mac, None, &mut read)
        .await
        .expect("get");
    assert_eq!(n, bytes.len() as u64);
    assert!(read == bytes, "object read back differs");

    let range = Range {
        offset: 1_000_000,
        length: 70_000,
    };
    let mut slice = Vec::new();
    store
        .get(ResourceKind::Packfile, &mac, Some(range), &mut slice)
        .await
        .expect("ranged get");
    assert!(
        slice == bytes[1_000_000..1_070_000],
        "range read back differs"
    );

    assert_eq!(
        store.list(ResourceKind::Packfile).await.expect("list"),
        vec![mac]
    );
    assert!(store
        .list(ResourceKind::State)
        .await
        .expect("list")
        .is_empty());
    assert!(store.size().await.expect("size") >= bytes.len() as i64);

    assert_eq!(store.denied_requests(), 0);
    store.close().await.expect("close");
}

#[tokio::test]
async fn deletes_objects() {
    let bed = Bed::new(512 * MIB).await;
    let mut store = bed.kloset(&[]).await;
    let mac = [0x11; 32];
    let state = &b"state"[..];
    store
        .put(ResourceKind::State, &mac, state)
        .await
        .expect("put");

    store
        .delete(ResourceKind::State, &mac)
        .await
        .expect("delete");
    let listed = store.list(ResourceKind::State).await.expect("list");
    assert!(listed.is_empty());
    let again = store.delete(ResourceKind::State, &mac).await;
    again.expect("deleting a missing object succeeds");
}

/// Every call of the store once, on object `i`.
async fn every_call(store: &mut StoreHandle, i: u8) {
    let kinds = [
        ResourceKind::Packfile,
        ResourceKind::State,
        ResourceKind::Lock,
    ];
    let kind = kinds[usize::from(i) % kinds.len()];
    let mac = [i; 32];
    store.put(kind, &mac, &[i; 100][..]).await.expect("put");
    let _ = store.put(kind, &mac, &[i; 100][..]).await;
    let mut out = Vec::new();
    store.get(kind, &mac, None, &mut out).await.expect("get");
    let range = Some(Range {
        offset: 1,
        length: 10,
    });
    store.get(kind, &mac, range, &mut out).await.expect("range");
    store.list(kind).await.expect("list");
    store.size().await.expect("size");
    store.delete(kind, &mac).await.expect("delete");
    let missing = store.get(kind, &mac, None, &mut out).await;
    assert!(missing.is_err(), "a deleted object reads");
}

/// A long-lived instance (a plugin's pool keeps them for a whole backup)
/// must not accumulate host resources: every request, whatever its kind,
/// gives back all it took, so thousands of them fit in the resource limit.
#[tokio::test]
async fn requests_leave_no_host_resource_behind() {
    let bed = Bed::new(512 * MIB).await;
    let mut store = bed.kloset(&[]).await;
    every_call(&mut store, 0).await;
    let baseline = store.resources_in_use();
    for i in 1..=30 {
        every_call(&mut store, i).await;
    }
    assert_eq!(
        store.resources_in_use(),
        baseline,
        "30 rounds of every call left host resources behind"
    );
}

#[tokio::test]
async fn objects_stream_through_bounded_guest_memory() {
    let bed = Bed::new(512 * MIB).await;
    let mut store = bed.kloset(&[("part_size", "5MiB")]).await;

    let bytes = object(24 * MIB);
    store.reset_peak_memory();
    let mac = [7; 32];
    store
        .put(ResourceKind::Packfile, &mac, &bytes[..])
        .await
        .expect("put");
    let mut read = Vec::new();
    store
        .get(ResourceKind::Packfile, &mac, None, &mut read)
        .await
        .expect("get");
    assert!(read == bytes, "object read back differs");
    let peak = store.peak_memory_bytes();
    // One 5 MiB part plus chunks in flight, nowhere near the 24 MiB object.
    assert!(peak < 16 * MIB, "guest peak memory {peak} bytes");
}

#[tokio::test]
async fn a_trapped_instance_is_dead_and_the_host_opens_a_fresh_one() {
    // Too little memory for a 1 MiB chunk of a write: the guest's allocation
    // of the call's argument fails. (A part too large for the limit is a
    // clear error instead: the component reserves it with a fallible call.)
    let bed = Bed::new(2 * MIB).await;
    let config = bed.config(&[]);
    let mut store = bed.kloset(&[]).await;

    let bytes = object(20 * MIB);
    let err = store
        .put(ResourceKind::Packfile, &[1; 32], &bytes[..])
        .await
        .expect_err("out of memory");
    let HostError::Trap(message) = &err else {
        panic!("expected a trap, got {err}");
    };
    assert!(message.contains("memory limit"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    assert!(matches!(store.ping().await, Err(HostError::Trap(_))));

    let mut fresh = bed.host.open(&config).await.expect("open again");
    fresh.ping().await.expect("ping on a fresh instance");
    assert_eq!(fresh.open().await.expect("open kloset"), b"c");
}

#[tokio::test]
async fn an_invalid_configuration_is_a_store_error_naming_the_key() {
    let cache = tempfile::tempdir().expect("cache dir");
    let host = host(cache.path(), 512 * MIB);
    let mut config = config(1, &[]);
    config.retain(|(k, _)| k != "secret_access_key");
    let err = host
        .open(&config)
        .await
        .err()
        .expect("invalid configuration");
    match err {
        HostError::Store(Error::InvalidConfig { key, .. }) => assert_eq!(key, "secret_access_key"),
        other => panic!("expected an invalid configuration, got {other}"),
    }
}

#[tokio::test]
async fn the_host_cannot_be_built_from_a_missing_component_file() {
    let options = HostOptions {
        component: Some("/nonexistent/kloset.wasm".into()),
        cache: ComponentCache::Disabled,
        ..HostOptions::default()
    };
    match Host::new(options) {
        Err(HostError::Setup(message)) => assert!(message.contains("/nonexistent/kloset.wasm")),
        Err(other) => panic!("expected a setup error, got {other}"),
        Ok(_) => panic!("a missing component file was accepted"),
    }
}

/// Yields `good` bytes, then fails.
struct FailingReader {
    good: usize,
}

impl tokio::io::AsyncRead for FailingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.good == 0 {
            let broken = std::io::Error::other("source went away");
            return std::task::Poll::Ready(Err(broken));
        }
        let n = self.good.min(buf.remaining());
        buf.put_slice(&vec![9; n]);
        self.good -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_failing_reader_aborts_the_upload_and_leaves_nothing() {
    let bed = Bed::new(512 * MIB).await;
    let mut store = bed.kloset(&[("part_size", "5MiB")]).await;

    // More than one part: one is sent before the reader fails.
    let reader = FailingReader { good: 7 * MIB };
    let err = store
        .put(ResourceKind::Packfile, &[3; 32], reader)
        .await
        .expect_err("reader failure");
    assert!(matches!(err, HostError::Io(_)), "{err}");
    assert!(store
        .list(ResourceKind::Packfile)
        .await
        .expect("list")
        .is_empty());
    store.ping().await.expect("the store is still usable");
}

#[tokio::test]
async fn a_corrupted_object_is_reported_as_corrupted() {
    let bed = Bed::new(512 * MIB).await;
    let mut store = bed.kloset(&[]).await;
    let mac = [0x5a; 32];
    let bytes = object(2 * MIB);
    store
        .put(ResourceKind::Packfile, &mac, &bytes[..])
        .await
        .expect("put");

    // s3s-fs keeps each object in a file named after its key.
    let name = "5a".repeat(32);
    let file = bed
        .server
        .root()
        .join("bucket/kloset/packfiles/5a")
        .join(name);
    let mut stored = std::fs::read(&file).expect("stored object");
    stored[MIB] ^= 1;
    std::fs::write(&file, stored).expect("corrupt the object");

    let err = store
        .get(ResourceKind::Packfile, &mac, None, tokio::io::sink())
        .await
        .expect_err("corruption");
    assert!(
        matches!(err, HostError::Store(Error::Corrupted(_))),
        "{err}"
    );
}

/// A pool of stores over one host is the way to run requests in parallel.
#[test]
fn hosts_are_shareable_and_stores_movable_between_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    fn movable<T: Send + 'static>() {}
    shareable::<Host>();
    movable::<kloset_host::StoreHandle>();
}

#[tokio::test]
async fn requests_reuse_a_kept_connection() {
    let bed = Bed::new(512 * MIB).await;
    let mut store = bed.kloset(&[]).await;
    for i in 0..10u8 {
        let mac = [i; 32];
        let bytes = object(1000 + usize::from(i));
        store
            .put(ResourceKind::State, &mac, &bytes[..])
            .await
            .expect("put");
        let mut read = Vec::new();
        store
            .get(ResourceKind::State, &mac, None, &mut read)
            .await
            .expect("get");
        assert!(read == bytes);
    }
    let connections = bed.server.connections();
    assert!(
        connections <= 2,
        "{connections} connections for 20+ requests"
    );
}

/// Object `i`: its own length and contents, some over one transport chunk.
fn pool_object(i: usize) -> Vec<u8> {
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
    let bed = Bed::new(512 * MIB).await;
    let pool = bed.pool(&[], NonZeroUsize::new(4).expect("non-zero")).await;
    assert_eq!(pool.size(), 4);

    const TASKS: usize = 24;
    let puts: Vec<_> = (0..TASKS)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let data = pool_object(i);
                let mut store = pool.checkout().await?;
                store.put(ResourceKind::Packfile, &mac(i), &data[..]).await
            })
        })
        .collect();
    for (i, put) in puts.into_iter().enumerate() {
        let written = put.await.expect("task").expect("put");
        assert_eq!(written, pool_object(i).len() as u64);
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
        assert!(back == pool_object(i), "object {i} came back different");
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
    // Too little memory for a 1 MiB chunk of a write: the guest's allocation
    // of the call's argument fails.
    let bed = Bed::new(2 * MIB).await;
    let pool = bed.pool(&[], NonZeroUsize::MIN).await;

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
