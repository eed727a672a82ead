//! Acknowledging what the server sends at once, so that a server which
//! writes a response in two pieces without `TCP_NODELAY` is not held up.
//!
//! Some servers (radosgw's beast frontend by default, measured) write a small
//! response's head and body separately with Nagle's algorithm on: the body
//! waits until the head is acknowledged. Linux delays that acknowledgement
//! (up to 40 ms) once a connection looks interactive, as a kept-alive one
//! serving request after request does; a 1 KiB GET then takes 40 ms more on
//! loopback, and one round trip plus that on a real link. `TCP_QUICKACK`
//! turns the delay off, but only until the kernel decides otherwise, so it is
//! set again whenever a read has to wait.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP stream that keeps asking the kernel for immediate ACKs.
pub struct QuickAck(TcpStream);

impl QuickAck {
    pub fn new(stream: TcpStream) -> QuickAck {
        quick_ack(&stream);
        QuickAck(stream)
    }
}

/// Best effort: a kernel without the option acknowledges as it always did.
#[cfg(target_os = "linux")]
fn quick_ack(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads one c_int from a live local, on a socket the
    // stream owns for as long as this call.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_: &TcpStream) {}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.0).poll_read(cx, buf);
        if polled.is_pending() {
            // What arrives next, the rest of a response, is acknowledged at
            // once (and an acknowledgement already scheduled leaves now).
            quick_ack(&self.0);
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn bytes_pass_both_ways_unchanged() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut asked = [0; 4];
            socket.read_exact(&mut asked).await.expect("read");
            socket.write_all(b"head").await.expect("head");
            tokio::task::yield_now().await;
            socket.write_all(b"body").await.expect("body");
            asked
        });
        let stream = TcpStream::connect(address).await.expect("connect");
        let mut stream = QuickAck::new(stream);
        stream.write_all(b"ask?").await.expect("write");
        let mut answer = [0; 8];
        stream.read_exact(&mut answer).await.expect("read");
        assert_eq!(&answer, b"headbody");
        assert_eq!(&server.await.expect("server"), b"ask?");
    }
}
