//! A hostile or broken "S3 server" on 127.0.0.1: raw TCP, so that it can break
//! HTTP itself (wrong `Content-Length`, endless bodies, garbage, silence). Each
//! request is answered by a script, a function of the request seen; every
//! request and connection is recorded for the test to check.
//!
//! This is not a mock of S3 for testing features: features are tested against
//! real servers. It stands for the server that lies, loops or stalls, which no
//! real server does on demand.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The largest request head read; the component's are a few KiB.
const MAX_HEAD: usize = 64 << 10;
/// An endless body stops after this much, in case a client never hangs up.
const ENDLESS_CAP: u64 = 1 << 30;
/// How long a stalled answer holds its connection open.
const STALL: Duration = Duration::from_secs(120);

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body_len: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query has this parameter (`uploads`, `list-type`, `partNumber`...).
    pub fn has_param(&self, name: &str) -> bool {
        let Some((_, query)) = self.target.split_once('?') else {
            return false;
        };
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(name))
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// A ListObjectsV2 request.
    pub fn is_list(&self) -> bool {
        self.method == "GET" && self.has_param("list-type")
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A well-formed response with a correct `Content-Length`; the connection
    /// stays open for the next request.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// These bytes exactly, then the connection closes.
    Raw(Vec<u8>),
    /// This head (status line and headers, without the blank line), then an
    /// endless body: chunked if the head says so, else until the close.
    Endless { head: String },
    /// This head and these body bytes, then silence on an open connection.
    Stall { head: String, body: Vec<u8> },
    /// Waits, then answers.
    Delayed(Duration, Box<Reply>),
    /// Closes the connection without a byte.
    Close,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn xml(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Full {
            status,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: body.into(),
        }
    }

    /// An S3 error document.
    pub fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::xml(
            status,
            format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>"),
        )
    }

    /// Adds a header to a [`Reply::Full`].
    pub fn with(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Full { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

/// A `ListBucketResult` page of no keys.
pub fn empty_listing() -> String {
    "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>".into()
}

type Script = dyn Fn(&Seen) -> Reply + Send + Sync;

/// The server; it stops when dropped.
pub struct ScriptServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl ScriptServer {
    /// Starts a server answering every request with `script`.
    pub async fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> ScriptServer {
        Self::start_on("127.0.0.1:0", script).await
    }

    /// [`ScriptServer::start`] on a given loopback address (`127.0.0.2:0`...).
    pub async fn start_on(
        addr: &str,
        script: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> ScriptServer {
        let listener = TcpListener::bind(addr)
            .await
            .expect("bind the script server");
        let addr = listener.local_addr().expect("script server address");
        assert!(addr.ip().is_loopback(), "{addr}");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let script: Arc<Script> = Arc::new(script);
        let counters = (connections.clone(), open.clone());
        let task = tokio::spawn(accept(listener, script, seen.clone(), counters));
        ScriptServer {
            addr,
            seen,
            connections,
            open,
            task,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request read so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections accepted and not yet closed (by either side).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for ScriptServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts connections accepted, and those still open.
async fn accept(
    listener: TcpListener,
    script: Arc<Script>,
    seen: Arc<Mutex<Vec<Seen>>>,
    (connections, open): (Arc<AtomicUsize>, Arc<AtomicUsize>),
) {
    // Connection tasks are aborted with the server: a stalled one must not
    // outlive its test.
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        connections.fetch_add(1, Ordering::SeqCst);
        open.fetch_add(1, Ordering::SeqCst);
        let (script, seen, open) = (script.clone(), seen.clone(), open.clone());
        tasks.spawn(async move {
            serve(socket, script, seen).await;
            open.fetch_sub(1, Ordering::SeqCst);
        });
        while tasks.try_join_next().is_some() {}
    }
}

async fn serve(mut socket: TcpStream, script: Arc<Script>, seen: Arc<Mutex<Vec<Seen>>>) {
    let _ = socket.set_nodelay(true);
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut socket, &mut buffer).await {
        let reply = script(&request);
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
        if !answer(&mut socket, reply).await {
            return;
        }
    }
}

/// Reads one request (head and `Content-Length` body); `None` at the end of
/// the connection or on anything unreadable. `buffer` keeps bytes read past
/// the request for the next one.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Seen> {
    let head_end = loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            break end + 4;
        }
        if buffer.len() > MAX_HEAD || !read_more(socket, buffer).await {
            return None;
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    request.parse(&buffer[..head_end]).ok()?;
    let seen_headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let mut seen = Seen {
        method: request.method?.to_owned(),
        target: request.path?.to_owned(),
        headers: seen_headers,
        body_len: 0,
    };
    let length: usize = seen
        .header("content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    buffer.drain(..head_end);
    // The body is counted, not kept: it may be a whole part.
    let mut remaining = length;
    loop {
        let take = remaining.min(buffer.len());
        buffer.drain(..take);
        remaining -= take;
        seen.body_len += take;
        if remaining == 0 {
            return Some(seen);
        }
        if !read_more(socket, buffer).await {
            return None;
        }
    }
}

async fn read_more(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 64 << 10];
    match socket.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends `reply`; whether the connection may serve another request.
async fn answer(socket: &mut TcpStream, reply: Reply) -> bool {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            let mut bytes = head.into_bytes();
            bytes.extend_from_slice(&body);
            socket.write_all(&bytes).await.is_ok()
        }
        Reply::Raw(bytes) => {
            let _ = socket.write_all(&bytes).await;
            false
        }
        Reply::Endless { head } => {
            endless(socket, &head).await;
            false
        }
        Reply::Stall { head, body } => {
            let mut bytes = format!("{head}\r\n\r\n").into_bytes();
            bytes.extend_from_slice(&body);
            if socket.write_all(&bytes).await.is_ok() {
                // Until the client gives up (reads 0) or the stall ends.
                let mut sink = [0u8; 1024];
                let _ = tokio::time::timeout(STALL, async {
                    while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                })
                .await;
            }
            false
        }
        Reply::Delayed(delay, reply) => {
            // A client that gives up meanwhile closes the connection now,
            // not once the delay is over.
            let closed = tokio::select! {
                () = tokio::time::sleep(delay) => false,
                () = closed_by_client(socket) => true,
            };
            !closed && Box::pin(answer(socket, *reply)).await
        }
        Reply::Close => false,
    }
}

/// Resolves when the client closes the connection; never if it sends more
/// (a next request, read once this one is answered).
async fn closed_by_client(socket: &TcpStream) {
    let mut byte = [0u8; 1];
    match socket.peek(&mut byte).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

/// An endless `<ListBucketResult>` of spaces, chunked when the head says so.
async fn endless(socket: &mut TcpStream, head: &str) {
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    if socket
        .write_all(format!("{head}\r\n\r\n").as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let mut data = b"<ListBucketResult>".to_vec();
    data.resize(64 << 10, b' ');
    let mut frame = Vec::new();
    let mut sent = 0u64;
    while sent < ENDLESS_CAP {
        frame.clear();
        if chunked {
            frame.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
            frame.extend_from_slice(&data);
            frame.extend_from_slice(b"\r\n");
        } else {
            frame.extend_from_slice(&data);
        }
        if socket.write_all(&frame).await.is_err() {
            return;
        }
        sent += data.len() as u64;
        data.fill(b' ');
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        412 => "Precondition Failed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
