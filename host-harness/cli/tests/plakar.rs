//! `kloset-host plakar` driven as Plakar drives an integration: the real
//! executable spawned with pipes for stdin and stdout, one gRPC connection
//! over them (HTTP/2 prior knowledge), `Init` first, against every S3 server
//! of the test bed. The client is generated from the same `.proto` files as
//! the server (`kloset-plakar-proto`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kloset_plakar_proto::plugin::Plugin;
use kloset_plakar_proto::store::get_request::Range;
use kloset_plakar_proto::store::store_client::StoreClient;
use kloset_plakar_proto::store::{
    CloseRequest, CreateRequest, DeleteRequest, GetRequest, InitRequest, InitResponse, ListRequest,
    ModeRequest, OpenRequest, PingRequest, PutRequest, SizeRequest,
};
use kloset_plakar_proto::tonic::transport::Channel;
use kloset_plakar_proto::tonic::{Code, Status};
use kloset_s3::request::Method;
use kloset_s3_tests::proxy::{Fault, FaultProxy, Target};
use kloset_s3_tests::script_server::{Reply, ScriptServer};
use kloset_s3_tests::{data, hostile, mac, secrets, servers, unique_bucket, TestServer};
use tokio::io::AsyncReadExt;

const PACKFILE: i32 = 1;
const STATE: i32 = 2;
const LOCK: i32 = 3;
const ECC_PACKFILE: i32 = 4;
const HOT: i32 = 1;
const MIB: usize = 1 << 20;
/// Plakar's Put chunks.
const CHUNK: usize = MIB;
/// How long a plugin may take to exit once its stdin is closed.
const EXIT_WITHIN: Duration = Duration::from_secs(10);

type Client = StoreClient<Channel>;

async fn spawn(args: &[&str]) -> Plugin {
    let mut words = args.to_vec();
    words.push("plakar");
    Plugin::spawn(env!("CARGO_BIN_EXE_kloset-host"), &words, false)
        .await
        .expect("the plugin starts and serves")
}

fn init_request(config: &[(String, String)]) -> InitRequest {
    InitRequest {
        proto: "s3".into(),
        config: config.iter().cloned().collect::<HashMap<_, _>>(),
    }
}

async fn init(client: &mut Client, config: &[(String, String)]) -> InitResponse {
    client
        .init(init_request(config))
        .await
        .unwrap_or_else(|e| panic!("Init: {e}"))
        .into_inner()
}

/// A plugin initialised on a fresh bucket of `server` (through `via`, a
/// proxy, when given), with `extra` configuration pairs, and a kloset
/// created there.
async fn plugin_on(
    server: &TestServer,
    tag: &str,
    via: Option<&FaultProxy>,
    extra: &[(&str, &str)],
) -> (Plugin, Client, String) {
    let bucket = unique_bucket(tag);
    let config = match via {
        Some(proxy) => server.config_via(proxy.addr(), &bucket, extra),
        None => server.config(&bucket, "", extra),
    };
    let plugin = spawn(&[]).await;
    let mut client = plugin.store();
    init(&mut client, &config).await;
    let create = CreateRequest {
        config: Bytes::from_static(b"kloset config"),
    };
    client
        .create(create)
        .await
        .unwrap_or_else(|e| panic!("{}: Create: {e}", server.name));
    (plugin, client, bucket)
}

fn put_messages(kind: i32, mac: &[u8], data: &[u8], flags: i32) -> Vec<PutRequest> {
    let mut messages = vec![PutRequest {
        mac: Bytes::copy_from_slice(mac),
        r#type: kind,
        chunk: Bytes::new(),
        flags,
    }];
    messages.extend(data.chunks(CHUNK).map(|chunk| PutRequest {
        chunk: Bytes::copy_from_slice(chunk),
        ..PutRequest::default()
    }));
    messages
}

async fn put_flagged(
    client: &mut Client,
    kind: i32,
    mac: &[u8],
    data: &[u8],
    flags: i32,
) -> Result<i64, Status> {
    let messages = put_messages(kind, mac, data, flags);
    let reply = client.put(futures::stream::iter(messages)).await?;
    Ok(reply.into_inner().bytes_written)
}

async fn put(client: &mut Client, kind: i32, mac: &[u8], data: &[u8]) -> Result<i64, Status> {
    put_flagged(client, kind, mac, data, 0).await
}

async fn get(
    client: &mut Client,
    kind: i32,
    mac: &[u8],
    range: Option<(u64, u32)>,
) -> Result<Vec<u8>, Status> {
    let request = GetRequest {
        mac: Bytes::copy_from_slice(mac),
        r#type: kind,
        range: range.map(|(offset, length)| Range { offset, length }),
        flags: 0,
    };
    let mut chunks = client.get(request).await?.into_inner();
    let mut out = Vec::new();
    while let Some(message) = chunks.message().await? {
        out.extend_from_slice(&message.chunk);
    }
    Ok(out)
}

async fn list(client: &mut Client, kind: i32) -> Result<Vec<Vec<u8>>, Status> {
    let request = ListRequest {
        r#type: kind,
        flags: 0,
    };
    let macs = client.list(request).await?.into_inner().macs;
    Ok(macs.into_iter().map(|m| m.to_vec()).collect())
}

async fn delete(client: &mut Client, kind: i32, mac: &[u8]) -> Result<(), Status> {
    let request = DeleteRequest {
        mac: Bytes::copy_from_slice(mac),
        r#type: kind,
        flags: 0,
    };
    client.delete(request).await.map(drop)
}

/// Closes the connection (every client of it is dropped with `client`);
/// the plugin must exit 0 soon after.
async fn finish(plugin: Plugin, client: Client, what: &str) {
    drop(client);
    let status = tokio::time::timeout(EXIT_WITHIN, plugin.finish())
        .await
        .unwrap_or_else(|_| panic!("{what}: the plugin did not exit within {EXIT_WITHIN:?} of EOF"))
        .expect("wait for the plugin");
    assert!(status.success(), "{what}: the plugin exited with {status}");
}

fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, what: &str) -> Status {
    match result {
        Err(status) if status.code() == code => status,
        other => panic!("{what}: expected {code:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rpc_does_what_kloset_expects() {
    for server in servers().await {
        let name = server.name;
        let bucket = unique_bucket("plugin-rpc");
        let config = server.config(&bucket, "repo", &[("part_size", "5MiB")]);
        let plugin = spawn(&[]).await;
        let mut client = plugin.store();
        let reply = init(&mut client, &config).await;
        assert_eq!(reply.r#type, "s3", "{name}");
        assert_eq!(reply.root, format!("/{bucket}/repo"), "{name}");
        assert_eq!(reply.origin, server.endpoint, "{name}");
        assert_eq!(reply.flags, 0, "{name}");

        let missing = client.open(OpenRequest {}).await;
        expect_code(missing, Code::NotFound, name);
        let kloset_config = data(7, 333);
        let create = CreateRequest {
            config: kloset_config.clone().into(),
        };
        client.create(create.clone()).await.unwrap();
        // A create retried with the same CONFIG completes; another kloset's
        // CONFIG is refused.
        client
            .create(create)
            .await
            .expect("create again, same CONFIG");
        let other = CreateRequest {
            config: data(8, 333).into(),
        };
        expect_code(client.create(other).await, Code::AlreadyExists, name);
        let opened = client.open(OpenRequest {}).await.unwrap().into_inner();
        assert_eq!(
            opened.config, kloset_config,
            "{name}: Open returns what Create got"
        );
        client.ping(PingRequest {}).await.unwrap();
        let mode = client.mode(ModeRequest {}).await.unwrap().into_inner();
        assert_eq!(mode.mode, 2 | 4, "{name}: read and write");

        // A multipart packfile (12 MiB in 1 MiB messages, 5 MiB parts), a
        // state (in one message: the first and only one), a lock.
        let large = data(1, 12 * MIB + 12_345);
        let state = data(2, 4096);
        let lock = b"lock".to_vec();
        let objects = [
            (PACKFILE, mac(1), &large),
            (STATE, mac(2), &state),
            (LOCK, mac(3), &lock),
        ];
        for (kind, m, bytes) in objects {
            let written = put(&mut client, kind, &m, bytes).await.unwrap();
            assert_eq!(written, bytes.len() as i64, "{name}: bytes_written");
        }
        let mut whole = put_messages(STATE, &mac(4), b"", 0);
        whole[0].chunk = Bytes::from_static(b"one message");
        let reply = client.put(futures::stream::iter(whole)).await.unwrap();
        assert_eq!(reply.into_inner().bytes_written, 11, "{name}");
        // A Put with no chunk at all: kloset writes no empty object, so the
        // store takes one for a failed writer and refuses it; nothing is stored.
        let empty = put(&mut client, LOCK, &mac(5), b"").await;
        let status = expect_code(empty, Code::InvalidArgument, name);
        assert!(status.message().contains("empty"), "{name}: {status:?}");
        let absent = get(&mut client, LOCK, &mac(5), None).await;
        expect_code(absent, Code::NotFound, name);
        for (kind, m, bytes) in objects {
            let read = get(&mut client, kind, &m, None).await.unwrap();
            assert!(read == *bytes, "{name}: kind {kind} read back differs");
        }
        let read = get(&mut client, STATE, &mac(4), None).await.unwrap();
        assert_eq!(read, b"one message", "{name}");
        for (offset, length) in [
            (0, 1),
            (5 * MIB as u64 - 3, 100_000),
            (12 * MIB as u64, 12_345),
        ] {
            let read = get(&mut client, PACKFILE, &mac(1), Some((offset, length))).await;
            let at = offset as usize;
            assert!(
                read.unwrap() == large[at..at + length as usize],
                "{name}: range {offset}+{length}"
            );
        }
        assert_eq!(
            list(&mut client, PACKFILE).await.unwrap(),
            [mac(1).to_vec()]
        );
        let mut states = list(&mut client, STATE).await.unwrap();
        states.sort();
        let mut expected = vec![mac(2).to_vec(), mac(4).to_vec()];
        expected.sort();
        assert_eq!(states, expected, "{name}");
        assert_eq!(list(&mut client, LOCK).await.unwrap(), [mac(3).to_vec()]);
        let size = client.size(SizeRequest {}).await.unwrap().into_inner().size;
        let stored = (large.len() + state.len() + lock.len() + 11 + kloset_config.len()) as i64;
        assert!(size >= stored, "{name}: Size {size} < {stored}");

        delete(&mut client, PACKFILE, &mac(1)).await.unwrap();
        delete(&mut client, LOCK, &mac(3)).await.unwrap();
        assert!(
            list(&mut client, PACKFILE).await.unwrap().is_empty(),
            "{name}"
        );
        assert!(list(&mut client, LOCK).await.unwrap().is_empty(), "{name}");
        let gone = get(&mut client, PACKFILE, &mac(1), None).await;
        expect_code(gone, Code::NotFound, name);

        client.close(CloseRequest {}).await.unwrap();
        let closed = client.ping(PingRequest {}).await;
        expect_code(closed, Code::FailedPrecondition, name);
        finish(plugin, client, name).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_returns_every_page() {
    const KEYS: u64 = 1003;
    for server in servers().await {
        let name = server.name;
        let (plugin, client, _) = plugin_on(&server, "plugin-list", None, &[]).await;
        let mut tasks = Vec::new();
        for worker in 0..16 {
            let mut client = client.clone();
            tasks.push(tokio::spawn(async move {
                for seed in (worker..KEYS).step_by(16) {
                    put(&mut client, PACKFILE, &mac(seed), b"k").await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let mut client = client;
        let mut listed = list(&mut client, PACKFILE).await.unwrap();
        listed.sort();
        let mut expected: Vec<Vec<u8>> = (0..KEYS).map(|s| mac(s).to_vec()).collect();
        expected.sort();
        assert_eq!(listed.len(), expected.len(), "{name}");
        assert!(listed == expected, "{name}: the listing differs");
        finish(plugin, client, name).await;
    }
}

/// The objects of the concurrency test: large enough to be multipart on no
/// server, small enough to stay quick.
const OBJECT: usize = 64 << 10;
const PARALLEL: u64 = 16;
/// What the proxy adds to each object GET (before each body chunk): the
/// latency of a distant server, which parallel reads must overlap.
const GET_DELAY: Duration = Duration::from_millis(100);

async fn put_get_delete(mut client: Client, seed: u64) {
    let bytes = data(seed, OBJECT);
    let m = mac(seed);
    let written = put(&mut client, PACKFILE, &m, &bytes).await.unwrap();
    assert_eq!(written, OBJECT as i64);
    let read = get(&mut client, PACKFILE, &m, None).await.unwrap();
    assert!(read == bytes, "object {seed} read back differs");
    delete(&mut client, PACKFILE, &m).await.unwrap();
}

async fn timed<F: std::future::Future<Output = ()>>(work: F) -> Duration {
    let started = Instant::now();
    work.await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_on_one_connection_run_in_parallel() {
    for server in servers().await {
        let name = server.name;
        let upstream = server.endpoint.parse().expect("a socket address");
        let proxy = FaultProxy::start(upstream).await.expect("proxy starts");
        let (plugin, client, _) = plugin_on(&server, "plugin-par", Some(&proxy), &[]).await;
        let slow_gets = vec![(Target::ObjectGet, Fault::Slow(GET_DELAY)); PARALLEL as usize];

        proxy.script(&slow_gets);
        let serial = timed(async {
            for seed in 0..PARALLEL {
                put_get_delete(client.clone(), seed).await;
            }
        })
        .await;
        proxy.script(&slow_gets);
        let parallel = timed(async {
            let tasks: Vec<_> = (PARALLEL..2 * PARALLEL)
                .map(|seed| tokio::spawn(put_get_delete(client.clone(), seed)))
                .collect();
            for task in tasks {
                task.await.expect("a Put+Get+Delete task");
            }
        })
        .await;
        assert_eq!(proxy.pending(), 0, "{name}: every Get was slowed");

        // N Gets at once against one alone.
        let mut c = client.clone();
        for seed in 100..100 + PARALLEL {
            put(&mut c, PACKFILE, &mac(seed), &data(seed, OBJECT))
                .await
                .unwrap();
        }
        proxy.script(&slow_gets[..1]);
        let one = timed(async {
            get(&mut c, PACKFILE, &mac(100), None).await.unwrap();
        })
        .await;
        proxy.script(&slow_gets);
        let all = timed(async {
            let tasks: Vec<_> = (100..100 + PARALLEL)
                .map(|seed| {
                    let mut c = client.clone();
                    tokio::spawn(async move { get(&mut c, PACKFILE, &mac(seed), None).await })
                })
                .collect();
            for task in tasks {
                assert_eq!(task.await.unwrap().unwrap().len(), OBJECT);
            }
        })
        .await;
        eprintln!(
            "{name}: {PARALLEL} Put+Get+Delete: serial {serial:.2?}, concurrent {parallel:.2?}; \
             {PARALLEL} Gets at once {all:.2?}, one Get {one:.2?} (each Get delayed {GET_DELAY:?})"
        );
        // Serially the Gets alone wait PARALLEL × GET_DELAY; in parallel they
        // overlap. Half the serial time is a generous bound on a loaded
        // machine; one Get's time × PARALLEL / 4 likewise.
        assert!(
            parallel < serial / 2,
            "{name}: {parallel:?} concurrent vs {serial:?} serial"
        );
        assert!(
            all < one * PARALLEL as u32 / 4,
            "{name}: {all:?} for {PARALLEL} Gets vs {one:?} for one"
        );
        drop(c);
        finish(plugin, client, name).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_byte_ends_the_get_with_data_loss() {
    for server in servers().await {
        let name = server.name;
        let upstream = server.endpoint.parse().expect("a socket address");
        let proxy = FaultProxy::start(upstream).await.expect("proxy starts");
        let (plugin, mut client, _) = plugin_on(&server, "plugin-flip", Some(&proxy), &[]).await;
        let bytes = data(5, 3 * MIB);
        put(&mut client, PACKFILE, &mac(5), &bytes).await.unwrap();
        proxy.script(&[(Target::ObjectGet, Fault::FlipByte(2 * MIB as u64 + 7))]);
        let corrupted = get(&mut client, PACKFILE, &mac(5), None).await;
        let status = expect_code(corrupted, Code::DataLoss, name);
        assert!(status.message().contains("corrupted"), "{name}: {status:?}");
        assert_eq!(proxy.pending(), 0, "{name}: the fault was not injected");
        let read = get(&mut client, PACKFILE, &mac(5), None).await.unwrap();
        assert!(read == bytes, "{name}: the stored object is intact");
        finish(plugin, client, name).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_status_and_the_plugin_goes_on() {
    for server in servers().await {
        let name = server.name;
        let bucket = unique_bucket("plugin-bad");
        let config = server.config(&bucket, "", &[]);
        let plugin = spawn(&[]).await;
        let mut client = plugin.store();

        // Nothing before Init.
        let early = client.ping(PingRequest {}).await;
        assert!(expect_code(early, Code::FailedPrecondition, name)
            .message()
            .contains("Init"));
        let early = put(&mut client, PACKFILE, &mac(1), b"x").await;
        expect_code(early, Code::FailedPrecondition, name);
        let early = get(&mut client, PACKFILE, &mac(1), None).await;
        expect_code(early, Code::FailedPrecondition, name);

        // A configuration the component refuses names its key; the plugin
        // can then be initialised properly, once.
        let mut unknown = config.clone();
        unknown.push(("colour".into(), "blue".into()));
        let refused = client.init(init_request(&unknown)).await;
        assert!(expect_code(refused, Code::InvalidArgument, name)
            .message()
            .contains("`colour`"));
        let mut pool = config.clone();
        pool.push(("pool_size".into(), "0".into()));
        let refused = client.init(init_request(&pool)).await;
        assert!(expect_code(refused, Code::InvalidArgument, name)
            .message()
            .contains("`pool_size`"));
        let mut plakars = config.clone();
        plakars.push(("passphrase".into(), "not the store's".into()));
        init(&mut client, &plakars).await;
        let second = client.init(init_request(&config)).await;
        expect_code(second, Code::FailedPrecondition, name);
        client
            .create(CreateRequest {
                config: Bytes::from_static(b"c"),
            })
            .await
            .unwrap();

        // MACs, resource types.
        for bad_mac in [&[1u8; 31][..], &[1u8; 33][..], &[][..]] {
            let r = get(&mut client, PACKFILE, bad_mac, None).await;
            assert!(expect_code(r, Code::InvalidArgument, name)
                .message()
                .contains("32 bytes"));
            let r = delete(&mut client, STATE, bad_mac).await;
            expect_code(r, Code::InvalidArgument, name);
        }
        for kind in [0, 9, -1] {
            let r = list(&mut client, kind).await;
            expect_code(r, Code::InvalidArgument, name);
            let r = put(&mut client, kind, &mac(1), b"x").await;
            expect_code(r, Code::InvalidArgument, name);
        }
        let r = list(&mut client, ECC_PACKFILE).await;
        expect_code(r, Code::Unimplemented, name);
        let r = get(&mut client, ECC_PACKFILE, &mac(1), None).await;
        expect_code(r, Code::Unimplemented, name);
        let r = put(&mut client, ECC_PACKFILE, &mac(1), b"x").await;
        expect_code(r, Code::Unimplemented, name);

        // Malformed Put streams leave nothing behind.
        let no_mac = put(&mut client, PACKFILE, &[], b"data").await;
        expect_code(no_mac, Code::InvalidArgument, name);
        let mut messages = put_messages(PACKFILE, &mac(8), &data(8, 3 * MIB), 0);
        messages[2].mac = Bytes::copy_from_slice(&mac(8));
        let late_mac = client.put(futures::stream::iter(messages)).await;
        assert!(expect_code(late_mac, Code::InvalidArgument, name)
            .message()
            .contains("message 3"));
        let nothing = client.put(futures::stream::iter(Vec::new())).await;
        expect_code(nothing, Code::InvalidArgument, name);
        // A Put the client gives up on half-way (its stream is reset).
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        for message in put_messages(PACKFILE, &mac(9), &data(9, 2 * MIB), 0) {
            sender.send(message).await.unwrap();
        }
        let stream =
            futures::stream::unfold(
                receiver,
                |mut r| async move { r.recv().await.map(|m| (m, r)) },
            );
        let mut c = client.clone();
        let abandoned = tokio::spawn(async move { c.put(stream).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        abandoned.abort();
        let _ = abandoned.await;
        drop(sender);
        tokio::time::sleep(Duration::from_millis(300)).await;
        for m in [mac(8), mac(9)] {
            let absent = get(&mut client, PACKFILE, &m, None).await;
            expect_code(absent, Code::NotFound, name);
        }
        assert!(
            list(&mut client, PACKFILE).await.unwrap().is_empty(),
            "{name}"
        );

        // Ranges past the end.
        put(&mut client, PACKFILE, &mac(10), &data(10, 1000))
            .await
            .unwrap();
        for range in [(1000, 1), (990, 11), (u64::MAX, 1)] {
            let r = get(&mut client, PACKFILE, &mac(10), Some(range)).await;
            expect_code(r, Code::InvalidArgument, name);
        }

        // Still serving.
        let read = get(&mut client, PACKFILE, &mac(10), None).await.unwrap();
        assert!(read == data(10, 1000), "{name}");
        finish(plugin, client, name).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_one_clear_error_that_names_the_key() {
    for server in servers().await {
        let name = server.name;
        let bucket = unique_bucket("plugin-auth");
        let mut config = server.config(&bucket, "", &[]);
        // A secret of tests/support/secrets.txt: .ci/run fails if it shows
        // up anywhere in the test output.
        let wrong = secrets::secret_key();
        for pair in &mut config {
            if pair.0 == "secret_access_key" {
                pair.1 = wrong.into();
            }
        }
        let mut plugin = Plugin::spawn(env!("CARGO_BIN_EXE_kloset-host"), &["plakar"], true)
            .await
            .expect("the plugin starts");
        let mut stderr = plugin.stderr().expect("stderr captured");
        let mut client = plugin.store();
        init(&mut client, &config).await;
        let refused = client
            .create(CreateRequest {
                config: Bytes::from_static(b"c"),
            })
            .await;
        let status = expect_code(refused, Code::Unauthenticated, name);
        let message = status.message();
        secrets::assert_no_secret(message, name);
        assert!(message.contains("access_key"), "{name}: {message}");
        finish(plugin, client, name).await;
        let mut logged = String::new();
        stderr.read_to_string(&mut logged).await.unwrap();
        secrets::assert_no_secret(&logged, name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_holds_through_the_plugin() {
    let allowed = ScriptServer::start(|_| Reply::status(200)).await;
    let other = ScriptServer::start(|_| Reply::status(200)).await;
    let component = hostile::component().display().to_string();
    let plugin = spawn(&["--component", &component, "--memory-limit", "64"]).await;
    let mut client = plugin.store();
    let config: Vec<(String, String)> = [
        ("location", format!("s3://{}/bucket", allowed.endpoint())),
        ("access_key", "AKIAHOSTILE".into()),
        ("secret_access_key", secrets::secret_key().into()),
        ("use_tls", "false".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let reply = init(&mut client, &config).await;
    assert_eq!(reply.r#type, "hostile");
    client
        .ping(PingRequest {})
        .await
        .expect("the endpoint is allowed");

    for spec in [
        format!("http http {} /", other.endpoint()),
        format!("http http localhost:{} /", allowed.port()),
        format!("http http 127.0.0.2:{} /", allowed.port()),
        format!("tcp 127.0.0.1 {}", other.port()),
        "read /etc/passwd".to_owned(),
    ] {
        let attempt = client
            .create(CreateRequest {
                config: Bytes::from(spec.clone()),
            })
            .await;
        let outcome = expect_code(attempt, Code::Unknown, &spec);
        assert!(
            outcome.message().starts_with("refused"),
            "{spec}: {outcome:?}"
        );
    }
    assert!(
        other.seen().is_empty(),
        "a denied request reached another server"
    );

    // A guest that panics or exhausts its memory dies alone: the call fails,
    // the next one gets a fresh instance.
    let panicked = client.mode(ModeRequest {}).await;
    expect_code(panicked, Code::Internal, "mode");
    client
        .ping(PingRequest {})
        .await
        .expect("served after a trap");
    let hog = list(&mut client, PACKFILE).await;
    let status = expect_code(hog, Code::Internal, "list");
    assert!(status.message().contains("memory limit"), "{status:?}");
    client
        .ping(PingRequest {})
        .await
        .expect("served after a trap");
    assert_eq!(allowed.seen().len(), 3);
    finish(plugin, client, "hostile").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn eof_without_close_ends_the_plugin_cleanly() {
    let plugin = spawn(&[]).await;
    let client = plugin.store();
    finish(plugin, client, "EOF before Init").await;
    let mut plugin = Plugin::spawn(
        env!("CARGO_BIN_EXE_kloset-host"),
        &["-o", "a=b", "plakar"],
        true,
    )
    .await
    .expect("spawned");
    let mut stderr = plugin.stderr().expect("captured");
    let status = tokio::time::timeout(EXIT_WITHIN, plugin.finish())
        .await
        .expect("exits")
        .expect("waited");
    assert!(!status.success(), "a plugin that cannot start fails");
    let mut message = String::new();
    stderr.read_to_string(&mut message).await.unwrap();
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("Init"), "{message}");
}

/// On a server with archive classes, a packfile kloset marks HOT stays
/// readable in STANDARD (and is copied to the tier), one without goes to the
/// tier only, as Plakar's Go connector places them.
#[tokio::test(flavor = "multi_thread")]
async fn hot_packfiles_stay_readable_in_an_archive_class() {
    let archive: Vec<TestServer> = servers()
        .await
        .into_iter()
        .filter(|s| s.name == "moto")
        .collect();
    if archive.is_empty() {
        eprintln!("SKIPPED: no configured S3 server stores GLACIER objects (moto does)");
    }
    for server in archive {
        let name = server.name;
        let (plugin, mut client, bucket) =
            plugin_on(&server, "plugin-hot", None, &[("storage_class", "GLACIER")]).await;
        let mode = client.mode(ModeRequest {}).await.unwrap().into_inner().mode;
        assert_eq!(mode, 2, "{name}: an archive class is write-only");
        let (hot, cold) = (data(1, 3000), data(2, 3000));
        put_flagged(&mut client, PACKFILE, &mac(1), &hot, HOT)
            .await
            .unwrap();
        put_flagged(&mut client, PACKFILE, &mac(2), &cold, 0)
            .await
            .unwrap();
        let class = |m: [u8; 32], suffix: &'static str| {
            let key = format!(
                "/{bucket}/packfiles/{:02x}/{}{suffix}",
                m[0],
                kloset_s3::hex::encode(&m)
            );
            let server = &server;
            async move {
                let head = server.raw(Method::Head, &key, &[], &[], b"").await;
                match head.status {
                    404 => None,
                    _ => Some(
                        head.header("x-amz-storage-class")
                            .unwrap_or("STANDARD")
                            .to_owned(),
                    ),
                }
            }
        };
        assert_eq!(
            class(mac(1), "").await.as_deref(),
            Some("STANDARD"),
            "{name}"
        );
        assert_eq!(
            class(mac(1), ".frozen").await.as_deref(),
            Some("GLACIER"),
            "{name}"
        );
        assert_eq!(class(mac(2), "").await, None, "{name}");
        assert_eq!(
            class(mac(2), ".frozen").await.as_deref(),
            Some("GLACIER"),
            "{name}"
        );
        let read = get(&mut client, PACKFILE, &mac(1), None).await.unwrap();
        assert!(read == hot, "{name}: the hot packfile reads back");
        let frozen = get(&mut client, PACKFILE, &mac(2), None).await;
        let status = expect_code(frozen, Code::Unimplemented, name);
        assert!(status.message().contains("restore"), "{name}: {status:?}");
        delete(&mut client, PACKFILE, &mac(1)).await.unwrap();
        let gone = get(&mut client, PACKFILE, &mac(1), None).await;
        expect_code(gone, Code::NotFound, name);
        assert_eq!(
            class(mac(1), ".frozen").await,
            None,
            "{name}: both keys deleted"
        );
        finish(plugin, client, name).await;
    }
}
