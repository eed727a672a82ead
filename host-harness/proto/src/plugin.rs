//! The client side of a plugin, as Plakar runs one: the executable started
//! with its stdin and stdout as pipes, and one gRPC connection over them
//! (plaintext HTTP/2 with prior knowledge, no port, no TLS). The benchmark
//! and the tests drive the real `kloset-host plakar` through it.

use std::ffi::OsStr;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::process::{Child, ChildStderr, Command};
use tonic::transport::{Channel, Endpoint, Uri};

use crate::importer::importer_client::ImporterClient;
use crate::store::store_client::StoreClient;

/// The largest reply accepted: Plakar's Go client keeps gRPC's default of
/// 4 MiB, so a plugin whose replies pass here passes there.
pub const PLAKAR_MAX_REPLY: usize = 4 << 20;

/// A running plugin and the connection to it.
pub struct Plugin {
    child: Child,
    channel: Channel,
}

impl Plugin {
    /// Starts `program` with `args` and connects to it. stderr is piped
    /// when `capture_stderr` (read it with [`Plugin::stderr`]), else inherited,
    /// as Plakar does.
    pub async fn spawn(
        program: impl AsRef<OsStr>,
        args: &[&str],
        capture_stderr: bool,
    ) -> io::Result<Plugin> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if capture_stderr {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .kill_on_drop(true)
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(io::Error::other("the plugin's pipes were not made"));
        };
        // The connector hands out the one connection once: Plakar never
        // reconnects either.
        let pipes = Arc::new(Mutex::new(Some(tokio::io::join(stdout, stdin))));
        let connector = tower::service_fn(move |_: Uri| {
            let pipes = pipes.lock().map(|mut p| p.take()).unwrap_or(None);
            async move {
                pipes
                    .map(TokioIo::new)
                    .ok_or_else(|| io::Error::other("the plugin's one connection is closed"))
            }
        });
        let channel = Endpoint::from_static("http://plakar-plugin.invalid")
            .connect_timeout(Duration::from_secs(20))
            .connect_with_connector(connector)
            .await
            .map_err(io::Error::other)?;
        Ok(Plugin { child, channel })
    }

    /// A `store.Store` client on the connection; clones share it.
    pub fn store(&self) -> StoreClient<Channel> {
        StoreClient::new(self.channel.clone()).max_decoding_message_size(PLAKAR_MAX_REPLY)
    }

    /// An `importer.Importer` client on the connection; clones share it.
    pub fn importer(&self) -> ImporterClient<Channel> {
        ImporterClient::new(self.channel.clone()).max_decoding_message_size(PLAKAR_MAX_REPLY)
    }

    /// The plugin's stderr, when it was captured.
    pub fn stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Closes the connection (the plugin's stdin reaches EOF) and waits for
    /// the plugin to exit.
    pub async fn finish(self) -> io::Result<ExitStatus> {
        let Plugin { mut child, channel } = self;
        drop(channel);
        child.wait().await
    }
}
