//! The hostile component. `store.create(spec)` makes the one attempt `spec`
//! names and answers what happened as an `other` error, so the test sees every
//! outcome as text; a few methods misbehave on purpose (panic, spin, hog
//! memory). `store.ping` is the one well-behaved request: a GET of the
//! configured endpoint.
//!
//! Specs (space-separated):
//! - `http <scheme> <authority> <path>`: a wasi:http request;
//! - `tcp <ipv4> <port>`, `tcp6 <port>` (to `::1`), `udp <ipv4> <port>`: raw
//!   wasi:sockets;
//! - `dns <name>`: wasi:sockets name lookup;
//! - `preopens`, `read <path>`, `env`, `args`, `cwd`, `stdin`: wasi:filesystem
//!   and wasi:cli.
//!
//! And attacks on the host's limits, each holding what it made until the end:
//! - `fields <count> <bytes>`: that many wasi:http `fields` of one header of
//!   `bytes` each;
//! - `bodies <count>`: that many requests with a body the host buffers (two
//!   writes of what `check-write` allows), never sent;
//! - `fill <MiB>`: `memory.fill` over that much memory, forever;
//! - `random <bytes>`: `get-random-bytes(bytes)`, forever;
//! - `sleep <seconds>`: waits on a clock pollable;
//! - `hang-body <authority>`: a PUT whose body is never written, waiting for
//!   its answer;
//! - `flood <count> <authority>`: that many GETs at once, then waits for
//!   every answer.

use std::cell::Cell;

use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
use wasi::sockets::network::Ipv6SocketAddress;
use wasi::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};

wit_bindgen::generate!({
    world: "kloset-s3",
    path: "../../wit",
    with: {
        "wasi:http/outgoing-handler@0.2.12": wasi::http::outgoing_handler,
        "wasi:http/types@0.2.12": wasi::http::types,
        "wasi:io/poll@0.2.12": wasi::io::poll,
        "wasi:io/streams@0.2.12": wasi::io::streams,
        "wasi:io/error@0.2.12": wasi::io::error,
        "wasi:clocks/monotonic-clock@0.2.12": wasi::clocks::monotonic_clock,
        "wasi:clocks/wall-clock@0.2.12": wasi::clocks::wall_clock,
        "wasi:random/random@0.2.12": wasi::random::random,
    },
});

use exports::kloset::s3::exporter as wit_exporter;
use exports::kloset::s3::importer as wit_importer;
use exports::kloset::s3::kloset_store as wit;

struct Component;

export!(Component);

type WitResult<T> = Result<T, wit::Error>;

impl wit::Guest for Component {
    type Store = Hostile;
    type Listing = Nothing;
    type Upload = Nothing;
    type Download = Nothing;
    type Recovery = Nothing;

    fn new_store(config: Vec<(String, String)>) -> WitResult<wit::Store> {
        let location = config
            .iter()
            .find(|(k, _)| k == "location")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let rest = location.strip_prefix("s3://").unwrap_or(location);
        let authority = rest.split('/').next().unwrap_or_default().to_owned();
        Ok(wit::Store::new(Hostile {
            authority,
            spins: Cell::new(0),
        }))
    }
}

struct Hostile {
    /// `127.0.0.1:PORT` of the configured location.
    authority: String,
    spins: Cell<u64>,
}

fn unsupported<T>() -> WitResult<T> {
    Err(wit::Error::Unsupported("hostile component".into()))
}

impl wit::GuestStore for Hostile {
    fn create(&self, spec: Vec<u8>) -> WitResult<()> {
        let spec = String::from_utf8_lossy(&spec).into_owned();
        Err(wit::Error::Other(attempt(&spec)))
    }

    fn open(&self) -> WitResult<Vec<u8>> {
        unsupported()
    }

    fn ping(&self) -> WitResult<()> {
        match http("http", &self.authority, "/") {
            outcome if outcome.starts_with("response") => Ok(()),
            outcome => Err(wit::Error::Unavailable(outcome)),
        }
    }

    fn origin(&self) -> String {
        self.authority.clone()
    }

    fn type_(&self) -> String {
        "hostile".into()
    }

    fn root(&self) -> String {
        "/".into()
    }

    fn flags(&self) -> u32 {
        0
    }

    /// Panics on purpose.
    fn mode(&self) -> WitResult<wit::Mode> {
        panic!("the hostile component panics on purpose")
    }

    /// Computes forever.
    fn size(&self) -> WitResult<i64> {
        loop {
            self.spins.set(std::hint::black_box(self.spins.get() + 1));
        }
    }

    /// Allocates without bound.
    fn list(&self, _: wit::ResourceKind, _: wit::StorageFlags) -> WitResult<wit::Listing> {
        let mut hog: Vec<Vec<u8>> = Vec::new();
        loop {
            hog.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }

    fn put(&self, _: wit::ResourceKind, _: Vec<u8>, _: wit::StorageFlags) -> WitResult<wit::Upload> {
        unsupported()
    }

    fn get(
        &self,
        _: wit::ResourceKind,
        _: Vec<u8>,
        _: Option<wit::Range>,
        _: wit::StorageFlags,
    ) -> WitResult<wit::Download> {
        unsupported()
    }

    fn delete(&self, _: wit::ResourceKind, _: Vec<u8>, _: wit::StorageFlags) -> WitResult<()> {
        unsupported()
    }

    fn lock_settings(&self) -> WitResult<wit::LockSettings> {
        unsupported()
    }

    fn extend_retention(&self, _: wit::ResourceKind, _: Vec<u8>) -> WitResult<wit::Retention> {
        unsupported()
    }

    fn recovery(&self, _: String) -> WitResult<wit::Recovery> {
        unsupported()
    }

    fn close(&self) -> WitResult<()> {
        Ok(())
    }

    fn stats(&self) -> wit::Stats {
        wit::Stats {
            requests: 0,
            retries: 0,
        }
    }

    fn take_warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The listing, upload, download and recovery types the world requires;
/// never handed out.
struct Nothing;

impl wit::GuestRecovery for Nothing {
    fn at(&self) -> String {
        String::new()
    }

    fn plan_page(&self) -> WitResult<Option<Vec<wit::RecoveryAction>>> {
        unsupported()
    }

    fn apply(&self, _: wit::RecoveryAction) -> WitResult<()> {
        unsupported()
    }
}

/// The importer and exporter the world requires: refused, the attacks go
/// through the store.
impl wit_importer::Guest for Component {
    type Importer = Nothing;

    fn new_importer(_: Vec<(String, String)>) -> WitResult<wit_importer::Importer> {
        unsupported()
    }
}

impl wit_importer::GuestImporter for Nothing {
    fn next_page(&self) -> WitResult<Option<Vec<wit_importer::Item>>> {
        unsupported()
    }

    fn open(&self, _: String, _: String) -> WitResult<wit::Download> {
        unsupported()
    }
}

impl wit_exporter::Guest for Component {
    type Exporter = Nothing;

    fn new_exporter(_: Vec<(String, String)>) -> WitResult<wit_exporter::Exporter> {
        unsupported()
    }
}

impl wit_exporter::GuestExporter for Nothing {
    fn create_file(&self, _: String, _: Vec<(String, String)>) -> WitResult<wit::Upload> {
        unsupported()
    }
}

impl wit::GuestListing for Nothing {
    fn next_page(&self) -> WitResult<Option<Vec<Vec<u8>>>> {
        unsupported()
    }
}

impl wit::GuestUpload for Nothing {
    fn write(&self, _: Vec<u8>) -> WitResult<()> {
        unsupported()
    }

    fn finish(&self) -> WitResult<u64> {
        unsupported()
    }

    fn abort(&self) -> WitResult<()> {
        unsupported()
    }
}

impl wit::GuestDownload for Nothing {
    fn length(&self) -> u64 {
        0
    }

    fn read(&self, _: u32) -> WitResult<Option<Vec<u8>>> {
        unsupported()
    }
}

/// Runs one spec and says what happened: `refused: <why>` when the sandbox
/// stopped it, anything else when the attempt got through.
fn attempt(spec: &str) -> String {
    let words: Vec<&str> = spec.split(' ').collect();
    match words.as_slice() {
        ["http", scheme, authority, path] => http(scheme, authority, path),
        ["tcp", ip, port] => tcp(ipv4_socket(ip, port)),
        ["tcp6", port] => tcp(IpSocketAddress::Ipv6(Ipv6SocketAddress {
            port: port.parse().unwrap_or(0),
            flow_info: 0,
            address: (0, 0, 0, 0, 0, 0, 0, 1),
            scope_id: 0,
        })),
        ["udp", ip, port] => udp(ipv4_socket(ip, port)),
        ["dns", name] => dns(name),
        ["preopens"] => {
            let dirs = wasi::filesystem::preopens::get_directories();
            let names: Vec<String> = dirs.into_iter().map(|(_, name)| name).collect();
            format!("{} preopens {names:?}", names.len())
        }
        ["read", path] => match std::fs::read(path) {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("refused: {e}"),
        },
        ["env"] => {
            let vars = wasi::cli::environment::get_environment();
            let std_vars = std::env::vars().count();
            format!("{} variables ({std_vars} through std)", vars.len())
        }
        ["args"] => format!(
            "{} arguments",
            wasi::cli::environment::get_arguments().len()
        ),
        ["cwd"] => format!("cwd {:?}", wasi::cli::environment::initial_cwd()),
        ["fields", count, bytes] => fields(number(count), number(bytes)),
        ["bodies", count] => bodies(number(count)),
        ["fill", mib] => fill(number(mib)),
        ["random", bytes] => random(number(bytes)),
        ["sleep", seconds] => {
            let nanos = number(seconds) * 1_000_000_000;
            wasi::clocks::monotonic_clock::subscribe_duration(nanos).block();
            format!("slept {seconds} s")
        }
        ["hang-body", authority] => hang_body(authority),
        ["flood", count, authority] => flood(number(count), authority),
        ["stdin"] => match wasi::cli::stdin::get_stdin().blocking_read(64) {
            Ok(bytes) => format!("read {} bytes from stdin", bytes.len()),
            Err(e) => format!("refused: stdin {e:?}"),
        },
        _ => format!("unknown spec {spec:?}"),
    }
}

fn number(text: &str) -> u64 {
    text.parse().unwrap_or(0)
}

fn fields(count: u64, bytes: u64) -> String {
    let value = vec![b'a'; bytes as usize];
    let mut held = Vec::new();
    for i in 0..count {
        let fields = Fields::new();
        if let Err(e) = fields.append("x-hog", &value) {
            return format!("refused: fields {i}: {e:?}");
        }
        held.push(fields);
    }
    format!("held {} fields of {bytes} bytes", held.len())
}

fn bodies(count: u64) -> String {
    let chunk = vec![b'b'; 4 << 20];
    let mut held = Vec::new();
    let mut buffered = 0u64;
    for i in 0..count {
        let request = OutgoingRequest::new(Fields::new());
        let Ok(body) = request.body() else {
            return format!("refused: body {i}");
        };
        let Ok(stream) = body.write() else {
            return format!("refused: body stream {i}");
        };
        for _ in 0..2 {
            match stream.check_write() {
                Ok(0) => break,
                Ok(n) => {
                    let n = (n as usize).min(chunk.len());
                    if stream.write(&chunk[..n]).is_err() {
                        return format!("refused: write {i}");
                    }
                    buffered += n as u64;
                }
                Err(e) => return format!("refused: check-write {i}: {e:?}"),
            }
        }
        // Dropped in this order: a stream before its body.
        held.push((stream, body, request));
    }
    format!("held {} bodies, {buffered} bytes buffered", held.len())
}

fn fill(mib: u64) -> String {
    let mut memory = vec![0u8; (mib as usize) << 20];
    let mut byte = 0u8;
    loop {
        // One `memory.fill` instruction over the whole buffer.
        memory.fill(byte);
        byte = std::hint::black_box(byte.wrapping_add(1));
    }
}

fn random(bytes: u64) -> String {
    let mut total = 0u64;
    loop {
        let got = wasi::random::random::get_random_bytes(bytes);
        total = std::hint::black_box(total + got.len() as u64);
    }
}

fn request(headers: Fields, method: &Method, authority: &str, path: &str) -> OutgoingRequest {
    let request = OutgoingRequest::new(headers);
    let _ = request.set_method(method);
    let _ = request.set_scheme(Some(&Scheme::Http));
    let _ = request.set_authority(Some(authority));
    let _ = request.set_path_with_query(Some(path));
    request
}

fn hang_body(authority: &str) -> String {
    let headers = Fields::new();
    let _ = headers.append("content-length", b"10");
    let request = request(headers, &Method::Put, authority, "/bucket/hang");
    // Held, never written nor finished.
    let Ok(_body) = request.body() else {
        return "refused: body".into();
    };
    let future = match outgoing_handler::handle(request, None) {
        Ok(future) => future,
        Err(code) => return format!("refused: {code:?}"),
    };
    // Waits for an answer to a request whose body never comes.
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return format!("response {}", response.status()),
            Some(Ok(Err(code))) => return format!("refused: {code:?}"),
            Some(Err(())) => return "refused: response taken".into(),
            None => future.subscribe().block(),
        }
    }
}

fn flood(count: u64, authority: &str) -> String {
    let mut futures = Vec::new();
    for i in 0..count {
        let path = format!("/bucket/flood-{i}");
        let request = request(Fields::new(), &Method::Get, authority, &path);
        match outgoing_handler::handle(request, None) {
            Ok(future) => futures.push(future),
            Err(code) => return format!("refused: request {i}: {code:?}"),
        }
    }
    let mut answered = 0;
    for future in &futures {
        loop {
            match future.get() {
                Some(Ok(Ok(_response))) => {
                    answered += 1;
                    break;
                }
                Some(Ok(Err(code))) => return format!("refused: {code:?}"),
                Some(Err(())) => return "refused: response taken".into(),
                None => future.subscribe().block(),
            }
        }
    }
    format!("{answered} of {count} answered")
}

fn ipv4_socket(ip: &str, port: &str) -> IpSocketAddress {
    let octets: Vec<u8> = ip.split('.').map(|o| o.parse().unwrap_or(0)).collect();
    let octet = |i: usize| octets.get(i).copied().unwrap_or(0);
    IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: port.parse().unwrap_or(0),
        address: (octet(0), octet(1), octet(2), octet(3)),
    })
}

fn http(scheme: &str, authority: &str, path: &str) -> String {
    let request = OutgoingRequest::new(Fields::new());
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    };
    if request.set_method(&Method::Get).is_err() {
        return "refused: method".into();
    }
    if request.set_scheme(Some(&scheme)).is_err() {
        return "refused: scheme".into();
    }
    if request.set_authority(Some(authority)).is_err() {
        return "refused: authority".into();
    }
    if request.set_path_with_query(Some(path)).is_err() {
        return "refused: path".into();
    }
    let future = match outgoing_handler::handle(request, None) {
        Ok(future) => future,
        Err(code) => return format!("refused: {code:?}"),
    };
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return format!("response {}", response.status()),
            Some(Ok(Err(code))) => return format!("refused: {code:?}"),
            Some(Err(())) => return "refused: response taken".into(),
            None => future.subscribe().block(),
        }
    }
}

fn family(address: &IpSocketAddress) -> IpAddressFamily {
    match address {
        IpSocketAddress::Ipv4(_) => IpAddressFamily::Ipv4,
        IpSocketAddress::Ipv6(_) => IpAddressFamily::Ipv6,
    }
}

fn tcp(address: IpSocketAddress) -> String {
    let network = wasi::sockets::instance_network::instance_network();
    let socket = match wasi::sockets::tcp_create_socket::create_tcp_socket(family(&address)) {
        Ok(socket) => socket,
        Err(code) => return format!("refused: create {code:?}"),
    };
    if let Err(code) = socket.start_connect(&network, address) {
        return format!("refused: connect {code:?}");
    }
    loop {
        match socket.finish_connect() {
            Ok(_) => return "connected".into(),
            Err(wasi::sockets::network::ErrorCode::WouldBlock) => socket.subscribe().block(),
            Err(code) => return format!("refused: connect {code:?}"),
        }
    }
}

fn udp(address: IpSocketAddress) -> String {
    let network = wasi::sockets::instance_network::instance_network();
    let socket = match wasi::sockets::udp_create_socket::create_udp_socket(family(&address)) {
        Ok(socket) => socket,
        Err(code) => return format!("refused: create {code:?}"),
    };
    let any = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: 0,
        address: (0, 0, 0, 0),
    });
    if let Err(code) = socket.start_bind(&network, any) {
        return format!("refused: bind {code:?}");
    }
    match socket.finish_bind() {
        Ok(()) => {}
        Err(code) => return format!("refused: bind {code:?}"),
    }
    match socket.stream(Some(address)) {
        Ok((_, outgoing)) => {
            let datagram = wasi::sockets::udp::OutgoingDatagram {
                data: b"escape".to_vec(),
                remote_address: None,
            };
            match outgoing
                .check_send()
                .and_then(|_| outgoing.send(&[datagram]))
            {
                Ok(n) => format!("sent {n} datagrams"),
                Err(code) => format!("refused: send {code:?}"),
            }
        }
        Err(code) => format!("refused: stream {code:?}"),
    }
}

fn dns(name: &str) -> String {
    let network = wasi::sockets::instance_network::instance_network();
    let stream = match wasi::sockets::ip_name_lookup::resolve_addresses(&network, name) {
        Ok(stream) => stream,
        Err(code) => return format!("refused: {code:?}"),
    };
    loop {
        match stream.resolve_next_address() {
            Ok(Some(address)) => return format!("resolved {address:?}"),
            Ok(None) => return "refused: no address".into(),
            Err(wasi::sockets::network::ErrorCode::WouldBlock) => stream.subscribe().block(),
            Err(code) => return format!("refused: {code:?}"),
        }
    }
}
