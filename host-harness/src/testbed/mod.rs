//! In-process S3 servers for the demo, the integration tests and the benchmark.
//!
//! Why in-process: every test run and every demo needs a real S3 endpoint that
//! checks SigV4 strictly (signature, clock skew, payload hash), with nothing to
//! install. Two are offered:
//! - [`S3sFsServer`]: s3s-fs, the `s3s` crate's file-system backend. Objects
//!   are files, so tests can corrupt them behind the client's back; but it
//!   reads them in 4 KiB chunks, which caps GET near 100 MiB/s.
//! - [`MemoryServer`]: objects in RAM, served without copies, so that a
//!   benchmark measures the client and not the server.
//!
//! Each runs on a thread and tokio runtime of its own ([`Serving`]), so it
//! keeps serving whatever the caller does with its own runtime (a
//! current-thread test runtime, a blocking call).

mod memory;
mod s3s_fs;

pub use memory::MemoryServer;
pub use s3s_fs::S3sFsServer;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::service::S3Service;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long a stopping server lets requests in flight finish before it drops
/// them: long enough for a test's last request, short enough not to stall a drop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// An S3 service answering HTTP/1.1 on `127.0.0.1:<free port>` from a thread
/// and runtime of its own. Dropping it stops the server (requests in flight
/// get [`SHUTDOWN_GRACE`] to finish) and joins the thread.
#[derive(Debug)]
struct Serving {
    endpoint: SocketAddr,
    /// Connections accepted so far: tests check that clients reuse them.
    accepted: Arc<AtomicUsize>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Serving {
    /// Starts serving; connections are accepted as soon as this returns.
    /// `name` names the threads, so their CPU time can be told apart.
    fn start(name: &str, service: S3Service) -> io::Result<Serving> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()?;
        // Bound here, before returning, so that the endpoint is known and
        // connections queue even before the server thread runs.
        let listener = {
            let _in_runtime = runtime.enter();
            TcpListener::from_std(bind_loopback()?)?
        };
        let endpoint = listener.local_addr()?;
        let (shutdown, stop) = oneshot::channel();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || runtime.block_on(serve(listener, service, counter, stop)))?;
        Ok(Serving {
            endpoint,
            accepted,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // Err only if the server already stopped: nothing left to tell.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // Err only if the server thread panicked; a drop must not panic too.
            let _ = thread.join();
        }
    }
}

fn bind_loopback() -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves HTTP/1.1 connections until `stop` fires (or its sender is dropped),
/// then lets open connections finish for at most [`SHUTDOWN_GRACE`].
async fn serve(
    listener: TcpListener,
    service: S3Service,
    accepted: Arc<AtomicUsize>,
    mut stop: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let http = http1::Builder::new();
    loop {
        tokio::select! {
            accepted_now = listener.accept() => {
                // An accept error (say, out of file descriptors) concerns one
                // connection; the server keeps going, as s3s-fs's own binary does.
                let Ok((stream, _)) = accepted_now else { continue };
                accepted.fetch_add(1, Ordering::SeqCst);
                // Without it, a response written in two pieces (head, body)
                // waits out the client's delayed ACK: 40 ms per small GET.
                let _ = stream.set_nodelay(true);
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
                // A connection error (client gone mid-request) ends only that connection.
                tokio::spawn(async move { let _ = connection.await; });
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    // Elapsed: the connections still open are dropped with the runtime.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}
