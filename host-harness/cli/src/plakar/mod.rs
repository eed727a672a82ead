//! `kloset-host plakar`: the executable Plakar starts for an integration. It
//! serves Plakar's gRPC services over its own stdin (what Plakar writes) and
//! stdout (what Plakar reads): plaintext HTTP/2 with prior knowledge on that
//! one connection, which lives as long as the process. Nothing but HTTP/2
//! frames ever goes to stdout; messages go to stderr.
//!
//! One module per gRPC service, each a mapping of its RPCs onto the host
//! library: [`store`] (`store.Store`), [`importer`] (`importer.Importer`).
//! The exporter service joins [`routes`] the same way.
//!
//! The connection is served at once (Plakar gives up if the server's HTTP/2
//! SETTINGS take more than about 20 s); the component compiles meanwhile, on
//! a blocking thread, and `Init` waits for it.

mod chunks;
mod config;
mod importer;
mod status;
mod stdio;
mod store;

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use kloset_host::{Host, HostOptions};
use kloset_plakar_proto::importer::importer_server::ImporterServer;
use kloset_plakar_proto::store::store_server::StoreServer;
use tonic::service::Routes;

/// The largest message accepted: a Put chunk is about 1 MiB; Plakar's own
/// client accepts replies of 4 MiB at most, and so every reply stays under.
const MAX_MESSAGE: usize = 16 << 20;
/// HTTP/2 flow control. A Put stream waiting for a pooled instance does not
/// read its body, so its window stays filled; the connection window holds
/// every stream's, so that waiting streams can never starve the ones being
/// served (which would deadlock the connection).
const STREAM_WINDOW: u32 = 1 << 20;
const MAX_STREAMS: u32 = 128;
const CONNECTION_WINDOW: u32 = STREAM_WINDOW * MAX_STREAMS;
/// Fewer frames per chunk than HTTP/2's 16 KiB default.
const MAX_FRAME: u32 = 256 << 10;

/// Serves until Plakar closes the connection (stdin reaches EOF). Fails only
/// when the pipes cannot be used at all.
pub async fn serve(options: HostOptions) -> Result<(), String> {
    let io = stdio::open()?;
    let importer = importer::ImporterService::new(options.clone());
    let compiling = tokio::task::spawn_blocking(move || Host::new(options));
    let store = store::StoreService::new(compiling);
    let service = TowerToHyperService::new(routes(store, importer));
    let mut http = http2::Builder::new(TokioExecutor::new());
    http.initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_concurrent_streams(MAX_STREAMS)
        .max_frame_size(MAX_FRAME);
    if let Err(e) = http.serve_connection(TokioIo::new(io), service).await {
        // The connection is over either way; Plakar closing its end
        // abruptly (it was killed, say) is no failure of ours.
        eprintln!("kloset-host plakar: the connection ended: {e}");
    }
    Ok(())
}

/// Every service the plugin serves, on the one connection.
fn routes(store: store::StoreService, importer: importer::ImporterService) -> Routes {
    Routes::new(
        StoreServer::new(store)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE),
    )
    .add_service(
        ImporterServer::new(importer)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE),
    )
}
