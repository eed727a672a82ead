//! `kloset-host demo`: a walk-through a newcomer can run with nothing else
//! installed. It starts an S3 server in-process (s3s-fs on 127.0.0.1, SigV4
//! checked), then drives a kloset through the sandboxed component: create,
//! put (a multipart packfile among them), list, get, ranged get, an identical
//! re-put, a corruption caught on read, delete. Each step prints one line.

use std::time::Instant;

use kloset_s3::error::Error;

use kloset_host::testbed::S3sFsServer;
use kloset_host::{Host, HostError, HostOptions, Range, ResourceKind, StoreHandle};

const BUCKET: &str = "kloset-demo";
const PREFIX: &str = "repository";

pub async fn run(options: HostOptions) -> Result<(), HostError> {
    let access_key = format!("DEMO{}", std::process::id());
    let secret_key = format!("demo-secret-{:x}", random_seed());
    let server = S3sFsServer::start(&access_key, &secret_key)
        .await
        .map_err(|e| HostError::Setup(format!("starting the embedded S3 server: {e}")))?;
    println!(
        "S3 server (s3s-fs, in-process) on http://{}, data in {}",
        server.endpoint(),
        server.root().display()
    );
    let started = Instant::now();
    let host = Host::new(options)?;
    println!("component loaded in {:.1} ms", ms(started));
    let config: Vec<(String, String)> = [
        (
            "location",
            format!("s3://{}/{BUCKET}/{PREFIX}", server.endpoint()),
        ),
        ("access_key", access_key),
        ("secret_access_key", secret_key),
        ("use_tls", "false".into()),
        ("part_size", "5MiB".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut store = host.open(&config).await?;
    walk_through(&mut store, &server).await?;
    println!(
        "peak guest memory {:.1} MiB; requests the sandbox denied: {}",
        store.peak_memory_bytes() as f64 / (1 << 20) as f64,
        store.denied_requests()
    );
    store.close().await
}

async fn walk_through(store: &mut StoreHandle, server: &S3sFsServer) -> Result<(), HostError> {
    store.create(b"demo kloset configuration").await?;
    println!(
        "created the kloset at {} (bucket made)",
        store.root().await?
    );
    let objects = [
        (ResourceKind::State, 1u8, 2 << 10),
        (ResourceKind::Packfile, 2, 1 << 10),
        (ResourceKind::Packfile, 3, 4 << 20),
        (ResourceKind::Packfile, 4, 12 << 20),
    ];
    for (kind, seed, len) in objects {
        let data = bytes(seed, len);
        let started = Instant::now();
        store.put(kind, &[seed; 32], &data[..]).await?;
        println!(
            "put {} {} ({}){}",
            kind_name(kind),
            short(seed),
            size(len),
            rate(len, started)
        );
    }
    let packfiles = store.list(ResourceKind::Packfile).await?;
    println!("listed {} packfiles", packfiles.len());
    for (kind, seed, len) in objects {
        let mut back = Vec::with_capacity(len);
        let started = Instant::now();
        store.get(kind, &[seed; 32], None, &mut back).await?;
        let verdict = if back == bytes(seed, len) {
            "identical, digest verified"
        } else {
            "DIFFERENT"
        };
        println!(
            "get {} {}: {verdict}{}",
            kind_name(kind),
            short(seed),
            rate(len, started)
        );
    }
    let range = Range {
        offset: 1 << 20,
        length: 64 << 10,
    };
    let mut part = Vec::new();
    store
        .get(ResourceKind::Packfile, &[3; 32], Some(range), &mut part)
        .await?;
    let expected = &bytes(3, 4 << 20)[1 << 20..(1 << 20) + (64 << 10)];
    println!(
        "ranged get of 64 KiB at 1 MiB: {}",
        if part == expected { "exact" } else { "WRONG" }
    );
    store
        .put(ResourceKind::Packfile, &[2; 32], &bytes(2, 1 << 10)[..])
        .await?;
    println!("re-put of an identical packfile: accepted, nothing overwritten");
    show_corruption(store, server).await?;
    for (kind, seed, _) in objects {
        store.delete(kind, &[seed; 32]).await?;
    }
    let left = store.list(ResourceKind::Packfile).await?.len();
    println!("deleted every object; {left} packfiles left");
    Ok(())
}

/// Flips one byte of a stored packfile behind the client's back (s3s-fs keeps
/// objects as files) and shows the read refusing it.
async fn show_corruption(store: &mut StoreHandle, server: &S3sFsServer) -> Result<(), HostError> {
    let hex = kloset_s3::hex::encode(&[3; 32]);
    let path = server
        .root()
        .join(BUCKET)
        .join(PREFIX)
        .join("packfiles")
        .join(&hex[..2])
        .join(&hex);
    let mut stored = std::fs::read(&path).map_err(HostError::Io)?;
    stored[12_345] ^= 0x40;
    std::fs::write(&path, &stored).map_err(HostError::Io)?;
    let mut sink = Vec::new();
    match store
        .get(ResourceKind::Packfile, &[3; 32], None, &mut sink)
        .await
    {
        Err(HostError::Store(Error::Corrupted(why))) => {
            println!("after flipping one stored byte, get says: corrupted ({why})");
            Ok(())
        }
        Ok(_) => Err(HostError::Setup(
            "the demo's corrupted packfile was read back without an error".into(),
        )),
        Err(other) => Err(other),
    }
}

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    let mut state = u64::from(seed) * 0x9E37_79B9_7F4A_7C15 + 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Packfile => "packfile",
        ResourceKind::State => "state",
        ResourceKind::Lock => "lock",
        ResourceKind::EccPackfile => "ECC packfile",
        ResourceKind::EccState => "ECC state",
    }
}

fn short(seed: u8) -> String {
    format!("{}…", &kloset_s3::hex::encode(&[seed; 4]))
}

fn size(len: usize) -> String {
    match len {
        l if l >= 1 << 20 => format!("{} MiB", l >> 20),
        l => format!("{} KiB", l >> 10),
    }
}

fn rate(len: usize, started: Instant) -> String {
    if len < 1 << 20 {
        return format!(" in {:.1} ms", ms(started));
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    format!(" at {:.0} MiB/s", len as f64 / (1 << 20) as f64 / secs)
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}
