//! The plugin's end of the connection: stdin and stdout as one byte stream.
//!
//! Plakar hands the plugin two pipes; read and written as pipes (non-blocking,
//! driven by the runtime's reactor) they carry about twice what the runtime's
//! generic stdin/stdout do, which hand every read to a blocking thread. Any
//! other kind of file (a socket, a terminal) gets the generic ones.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite, Join};
use tokio::net::unix::pipe;

type Reader = Pin<Box<dyn AsyncRead + Send>>;
type Writer = Pin<Box<dyn AsyncWrite + Send>>;

pub type Stdio = Join<Reader, Writer>;

/// Must run inside the runtime (the pipes register with its reactor).
pub fn open() -> Result<Stdio, String> {
    let reader: Reader = match pipe_end(io::stdin().as_fd(), "stdin")? {
        Some(fd) => Box::pin(pipe::Receiver::from_owned_fd(fd).map_err(cannot("stdin"))?),
        None => Box::pin(tokio::io::stdin()),
    };
    let writer: Writer = match pipe_end(io::stdout().as_fd(), "stdout")? {
        Some(fd) => Box::pin(pipe::Sender::from_owned_fd(fd).map_err(cannot("stdout"))?),
        None => Box::pin(tokio::io::stdout()),
    };
    Ok(tokio::io::join(reader, writer))
}

/// A duplicate of `fd` when it is a pipe (made as large as the system lets
/// an unprivileged process: a 1 MiB chunk then crosses in one write instead
/// of sixteen), else `None`.
fn pipe_end(fd: std::os::fd::BorrowedFd<'_>, name: &str) -> Result<Option<OwnedFd>, String> {
    use std::os::unix::fs::FileTypeExt;
    let fd = fd.try_clone_to_owned().map_err(cannot(name))?;
    let file = std::fs::File::from(fd);
    let kind = file.metadata().map_err(cannot(name))?.file_type();
    if !kind.is_fifo() {
        return Ok(None);
    }
    let fd = OwnedFd::from(file);
    grow(&fd);
    Ok(Some(fd))
}

/// Best effort: a pipe keeps its size when the system refuses.
#[cfg(target_os = "linux")]
fn grow(fd: &OwnedFd) {
    use std::os::fd::AsRawFd;
    const PIPE_SIZE: libc::c_int = 1 << 20;
    // SAFETY: F_SETPIPE_SZ takes an int and touches no memory of ours.
    unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE);
    }
}

#[cfg(not(target_os = "linux"))]
fn grow(_: &OwnedFd) {}

fn cannot(name: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("cannot use {name} as the connection to Plakar: {e}")
}
