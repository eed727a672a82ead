//! A component download sent as a gRPC server stream: the body of the
//! store's `Get` and of the importer's `Open`, one message per chunk read.

use kloset_host::{Download, HostError};
use tokio::sync::mpsc;
use tonic::Status;

use super::status;

/// Sends each chunk of `download` as the message `message` makes of it, then
/// releases the download in the component. A failure, opening included, ends
/// the stream with its status, so a digest mismatch found at the end is never
/// taken for a complete body. When the client goes away the read stops.
pub async fn send<M>(
    download: Result<Download<'_>, HostError>,
    sender: &mpsc::Sender<Result<M, Status>>,
    message: impl Fn(Vec<u8>) -> M,
) {
    let sent = async {
        let mut download = download?;
        let read = async {
            while let Some(chunk) = download.read().await? {
                if sender.send(Ok(message(chunk))).await.is_err() {
                    break;
                }
            }
            Ok(())
        }
        .await;
        download.release().await?;
        read
    }
    .await;
    if let Err(e) = sent {
        // Err only when the client went away: no one to tell.
        let _ = sender.send(Err(status::of(e))).await;
    }
}
