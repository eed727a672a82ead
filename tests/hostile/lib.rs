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

use exports::kloset::s3::kloset_store as wit;

struct Component;

export!(Component);

type WitResult<T> = Result<T, wit::Error>;

impl wit::Guest for Component {
    type Store = Hostile;
    type Listing = Nothing;
    type Upload = Nothing;
    type Download = Nothing;

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
    fn list(&self, _: wit::ResourceKind) -> WitResult<wit::Listing> {
        let mut hog: Vec<Vec<u8>> = Vec::new();
        loop {
            hog.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }

    fn put(&self, _: wit::ResourceKind, _: Vec<u8>) -> WitResult<wit::Upload> {
        unsupported()
    }

    fn get(
        &self,
        _: wit::ResourceKind,
        _: Vec<u8>,
        _: Option<wit::Range>,
    ) -> WitResult<wit::Download> {
        unsupported()
    }

    fn delete(&self, _: wit::ResourceKind, _: Vec<u8>) -> WitResult<()> {
        unsupported()
    }

    fn lock_settings(&self) -> WitResult<wit::LockSettings> {
        unsupported()
    }

    fn extend_retention(&self, _: wit::ResourceKind, _: Vec<u8>) -> WitResult<wit::Retention> {
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

/// The listing, upload and download types the world requires; never handed out.
struct Nothing;

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
        ["stdin"] => match wasi::cli::stdin::get_stdin().blocking_read(64) {
            Ok(bytes) => format!("read {} bytes from stdin", bytes.len()),
            Err(e) => format!("refused: stdin {e:?}"),
        },
        _ => format!("unknown spec {spec:?}"),
    }
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
