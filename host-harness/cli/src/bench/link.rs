//! An emulated network link between every peer and the S3 server: a TCP
//! proxy on `127.0.0.1` that delivers each byte half a round trip after it
//! was sent, in each direction, optionally at a capped bandwidth. Latency
//! effects (round trips per operation, connections opened, a segment held
//! back) then show in the same run as everything else, on any server.
//!
//! What it models, and what not:
//! - Every chunk read from one side is written to the other at its own due
//!   time (read time + half the round trip, later under the bandwidth cap),
//!   so two writes a sender made apart arrive apart, as segments would; the
//!   delay is never added per chunk on top of the previous one.
//! - A new connection costs one round trip before its first byte leaves
//!   (the TCP handshake a real link has and loopback has not).
//! - The cap is one serialised line per direction, shared by all
//!   connections, as one access link is.
//! - Not modelled: loss, TCP slow start and windows beyond [`WINDOW`] bytes
//!   in flight per direction and connection (the link buffers that much,
//!   then stops reading, which is what a full window does to the sender).
//!
//! It counts connections and HTTP/1.1 requests going through, so the report
//! can say how many round trips each peer's operation took.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep_until, Instant};

/// The most bytes one read takes: one chunk, written out as one write.
const CHUNK: usize = 64 << 10;
/// Bytes in flight per direction and connection: read, not yet delivered.
/// 16 MiB over 10 ms one way is 1.6 GiB/s, above what loopback carries
/// through the peers here, so the window never is the limit at 20 ms.
const WINDOW: usize = 16 << 20;
/// What ends an HTTP/1.1 request line; counting them counts requests (the
/// benchmark's bodies are random bytes, which hold these 11 bytes with a
/// negligible probability).
const REQUEST_LINE_END: &[u8] = b" HTTP/1.1\r\n";

/// The link's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkSpec {
    pub rtt: Duration,
    /// Bandwidth per direction, in MiB/s; unlimited when `None`.
    pub mibps: Option<f64>,
}

impl LinkSpec {
    pub fn describe(&self) -> String {
        let rtt = self.rtt.as_secs_f64() * 1e3;
        match self.mibps {
            Some(mibps) => format!("a {rtt} ms round-trip link capped at {mibps} MiB/s"),
            None => format!("a {rtt} ms round-trip link"),
        }
    }

    /// When a chunk read at `read` may be delivered, in a direction whose
    /// line is free from `free` (updated): half a round trip after it left,
    /// and it leaves once the chunks before it are through the cap.
    fn due(&self, read: Instant, len: usize, free: &mut Instant) -> Instant {
        let leaves = match self.mibps {
            Some(mibps) => {
                let start = (*free).max(read);
                *free = start + Duration::from_secs_f64(len as f64 / (mibps * MIB));
                *free
            }
            None => read,
        };
        leaves + self.rtt / 2
    }
}

const MIB: f64 = (1u64 << 20) as f64;

/// What went through the link so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub connections: u64,
    pub requests: u64,
}

impl Counts {
    pub fn add(self, other: Counts) -> Counts {
        Counts {
            connections: self.connections + other.connections,
            requests: self.requests + other.requests,
        }
    }

    pub fn since(self, before: Counts) -> Counts {
        Counts {
            connections: self.connections.saturating_sub(before.connections),
            requests: self.requests.saturating_sub(before.requests),
        }
    }
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
}

/// Reads a link's counts, from anywhere.
#[derive(Clone)]
pub struct Counter(Arc<Counters>);

impl Counter {
    pub fn counts(&self) -> Counts {
        Counts {
            connections: self.0.connections.load(Ordering::Relaxed),
            requests: self.0.requests.load(Ordering::Relaxed),
        }
    }
}

/// The link, listening until dropped.
pub struct Link {
    address: SocketAddr,
    spec: LinkSpec,
    counters: Arc<Counters>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Link {
    /// The name of the link's threads, so that their CPU time is not taken
    /// for the client's.
    pub const THREAD_NAME: &str = "bench-link";

    /// Listens on a free loopback port and forwards every connection to
    /// `upstream`, on threads of its own.
    pub fn start(spec: LinkSpec, upstream: SocketAddr) -> io::Result<Link> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(Self::THREAD_NAME)
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let listener = {
            let _in_runtime = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let counters = Arc::new(Counters::default());
        let (shutdown, stop) = oneshot::channel();
        let lines = Lines::default();
        let serving = Serving {
            spec,
            upstream,
            counters: counters.clone(),
            lines,
        };
        let thread = std::thread::Builder::new()
            .name(Self::THREAD_NAME.into())
            .spawn(move || runtime.block_on(serving.run(listener, stop)))?;
        Ok(Link {
            address,
            spec,
            counters,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// Where the peers connect instead of the server.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn spec(&self) -> LinkSpec {
        self.spec
    }

    pub fn counter(&self) -> Counter {
        Counter(self.counters.clone())
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // Err only when the link stopped already.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Err only when the link's thread panicked; a drop must not panic.
            let _ = thread.join();
        }
    }
}

/// When each direction's line is free again (the bandwidth cap).
#[derive(Clone, Default)]
struct Lines {
    up: Arc<Mutex<Option<Instant>>>,
    down: Arc<Mutex<Option<Instant>>>,
}

struct Serving {
    spec: LinkSpec,
    upstream: SocketAddr,
    counters: Arc<Counters>,
    lines: Lines,
}

impl Serving {
    async fn run(self, listener: TcpListener, mut stop: oneshot::Receiver<()>) {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    // An accept error concerns one connection only.
                    let Ok((client, _)) = accepted else { continue };
                    self.counters.connections.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(self.connection(client));
                }
                _ = &mut stop => return,
            }
        }
    }

    /// Carries one connection both ways until both sides are done. A server
    /// that cannot be reached closes the client's connection.
    fn connection(&self, client: TcpStream) -> impl std::future::Future<Output = ()> + 'static {
        let (spec, upstream, lines) = (self.spec, self.upstream, self.lines.clone());
        let counters = self.counters.clone();
        async move {
            // The handshake's round trip: the first byte leaves after it.
            let opened = Instant::now() + spec.rtt;
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            // Each chunk goes out as soon as it is due: the link adds its
            // delay, never Nagle's.
            if client.set_nodelay(true).is_err() || server.set_nodelay(true).is_err() {
                return;
            }
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let up = Direction {
                spec,
                line: lines.up,
                not_before: opened,
                requests: Some(counters),
            };
            let down = Direction {
                spec,
                line: lines.down,
                not_before: opened,
                requests: None,
            };
            tokio::join!(
                up.carry(client_read, server_write),
                down.carry(server_read, client_write)
            );
        }
    }
}

/// One direction of one connection.
struct Direction {
    spec: LinkSpec,
    line: Arc<Mutex<Option<Instant>>>,
    /// Nothing is delivered before the connection is open at the far end.
    not_before: Instant,
    /// Where requests are counted (client to server only).
    requests: Option<Arc<Counters>>,
}

/// A chunk on its way, holding its share of the window until written.
struct InFlight {
    due: Instant,
    bytes: Bytes,
    _window: OwnedSemaphorePermit,
}

impl Direction {
    /// Reads from `from` and delivers to `to` on time, until `from` ends
    /// (then `to` is shut down for writing) or either side fails.
    async fn carry(self, from: OwnedReadHalf, to: OwnedWriteHalf) {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::join!(self.read(from, sender), deliver(receiver, to));
    }

    async fn read(self, mut from: OwnedReadHalf, sender: mpsc::UnboundedSender<InFlight>) {
        let window = Arc::new(Semaphore::new(WINDOW));
        let mut tail = Vec::new();
        loop {
            let Ok(permit) = window.clone().acquire_many_owned(CHUNK as u32).await else {
                return;
            };
            let mut buffer = BytesMut::with_capacity(CHUNK);
            match from.read_buf(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let read = Instant::now();
            let bytes = buffer.freeze();
            if let Some(counters) = &self.requests {
                let seen = count_request_lines(&mut tail, &bytes);
                counters.requests.fetch_add(seen, Ordering::Relaxed);
            }
            let due = {
                let mut line = self.line.lock().unwrap_or_else(PoisonError::into_inner);
                let mut free = line.unwrap_or(read);
                let due = self.spec.due(read, bytes.len(), &mut free);
                *line = Some(free);
                due.max(self.not_before)
            };
            let chunk = InFlight {
                due,
                bytes,
                _window: permit,
            };
            if sender.send(chunk).is_err() {
                // The other side is gone: stop reading.
                return;
            }
        }
    }
}

/// Writes each chunk at its due time, then shuts `to` down for writing
/// once the reading side has ended and everything is delivered.
async fn deliver(mut receiver: mpsc::UnboundedReceiver<InFlight>, mut to: OwnedWriteHalf) {
    while let Some(chunk) = receiver.recv().await {
        sleep_until(chunk.due).await;
        if to.write_all(&chunk.bytes).await.is_err() {
            return;
        }
    }
    // Err when the far end is gone already: nothing left to tell it.
    let _ = to.shutdown().await;
}

/// Request lines ending in `bytes`, `tail` holding the last bytes before
/// them (a line may straddle two reads), updated.
fn count_request_lines(tail: &mut Vec<u8>, bytes: &[u8]) -> u64 {
    let keep = REQUEST_LINE_END.len() - 1;
    let mut joined = std::mem::take(tail);
    joined.extend_from_slice(&bytes[..bytes.len().min(keep)]);
    // Shorter than a line end, the two parts hold no match of their own.
    let seen = count(&joined) + count(bytes);
    *tail = match bytes.len() >= keep {
        true => bytes[bytes.len() - keep..].to_vec(),
        // `joined` ends with all of `bytes`.
        false => joined.split_off(joined.len().saturating_sub(keep)),
    };
    seen
}

fn count(haystack: &[u8]) -> u64 {
    haystack
        .windows(REQUEST_LINE_END.len())
        .filter(|w| *w == REQUEST_LINE_END)
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_chunk_is_due_half_a_round_trip_after_it_was_read() {
        let spec = LinkSpec {
            rtt: ms(20),
            mibps: None,
        };
        let t0 = Instant::now();
        let mut free = t0;
        // Chunks read together stay together: no delay adds up.
        assert_eq!(spec.due(t0, CHUNK, &mut free), t0 + ms(10));
        assert_eq!(spec.due(t0, CHUNK, &mut free), t0 + ms(10));
        assert_eq!(spec.due(t0 + ms(3), 1, &mut free), t0 + ms(13));
    }

    #[test]
    fn under_a_cap_chunks_queue_for_the_line() {
        let spec = LinkSpec {
            rtt: ms(20),
            mibps: Some(1.0),
        };
        let t0 = Instant::now();
        let mut free = t0;
        // 1 MiB at 1 MiB/s leaves after a second, the next one a second later.
        assert_eq!(spec.due(t0, 1 << 20, &mut free), t0 + ms(1010));
        assert_eq!(spec.due(t0, 1 << 20, &mut free), t0 + ms(2010));
        // An idle line starts from the read.
        let later = t0 + ms(5000);
        assert_eq!(spec.due(later, 1 << 19, &mut free), later + ms(510));
    }

    #[test]
    fn request_lines_are_counted_across_reads() {
        let stream = b"GET /a HTTP/1.1\r\nhost: x\r\n\r\nPUT /b HTTP/1.1\r\n\r\nbody";
        for split in 0..=stream.len() {
            for second in split..=stream.len() {
                let mut tail = Vec::new();
                let seen = count_request_lines(&mut tail, &stream[..split])
                    + count_request_lines(&mut tail, &stream[split..second])
                    + count_request_lines(&mut tail, &stream[second..]);
                assert_eq!(seen, 2, "split at {split} and {second}");
            }
        }
    }

    #[tokio::test]
    async fn bytes_go_through_both_ways_and_are_counted() {
        let server = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let upstream = server.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = server.accept().await.unwrap();
            let mut request = vec![0; 34];
            socket.read_exact(&mut request).await.unwrap();
            socket.write_all(&request).await.unwrap();
        });
        let spec = LinkSpec {
            rtt: ms(2),
            mibps: None,
        };
        let link = Link::start(spec, upstream).unwrap();
        let mut client = TcpStream::connect(link.address()).await.unwrap();
        let request = b"GET /a HTTP/1.1\r\nGET /b HTTP/1.1\r\n";
        client.write_all(request).await.unwrap();
        let mut echoed = Vec::new();
        client.read_to_end(&mut echoed).await.unwrap();
        assert_eq!(echoed, request);
        let counts = link.counter().counts();
        assert_eq!(
            counts,
            Counts {
                connections: 1,
                requests: 2
            }
        );
    }
}
