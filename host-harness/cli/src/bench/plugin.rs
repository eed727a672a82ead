//! The plugin peer: this program's `plakar` verb, spawned as Plakar spawns
//! an integration and driven over its pipes by the gRPC client generated from
//! the same `.proto` files, with Plakar's message sizes (1 MiB Put chunks).

use std::num::NonZeroUsize;

use bytes::Bytes;
use kloset_host::{HostOptions, Range};
use kloset_plakar_proto::plugin::Plugin;
use kloset_plakar_proto::store::store_client::StoreClient;
use kloset_plakar_proto::store::{
    get_request, DeleteRequest, GetRequest, InitRequest, ListRequest, PutRequest,
};
use kloset_plakar_proto::tonic::transport::Channel;
use kloset_plakar_proto::tonic::Status;

use super::BenchError;

const PACKFILE: i32 = 1;
/// The chunks Plakar's client sends.
const CHUNK: usize = 1 << 20;

pub struct PluginPeer {
    // Kept for its process: dropping it ends the plugin.
    _plugin: Plugin,
    client: StoreClient<Channel>,
}

impl PluginPeer {
    /// Starts this very executable with `args` (see [`args`]) and
    /// initialises it with `pairs` and the pool size the component peer gets.
    pub async fn start(
        args: &[String],
        mut pairs: Vec<(String, String)>,
        pool: NonZeroUsize,
    ) -> Result<PluginPeer, BenchError> {
        let program = std::env::current_exe()
            .map_err(|e| BenchError(format!("plugin: cannot find this executable: {e}")))?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let plugin = Plugin::spawn(program, &args, false)
            .await
            .map_err(|e| BenchError(format!("plugin: cannot start it: {e}")))?;
        let mut client = plugin.store();
        pairs.push(("pool_size".into(), pool.to_string()));
        let init = InitRequest {
            proto: "s3".into(),
            config: pairs.into_iter().collect(),
        };
        client.init(init).await.map_err(failed("init"))?;
        Ok(PluginPeer {
            _plugin: plugin,
            client,
        })
    }

    pub async fn put(&self, mac: &[u8; 32], data: Bytes) -> Result<(), BenchError> {
        let first = PutRequest {
            mac: Bytes::copy_from_slice(mac),
            r#type: PACKFILE,
            ..PutRequest::default()
        };
        let chunks = (0..data.len()).step_by(CHUNK).map(move |at| PutRequest {
            chunk: data.slice(at..(at + CHUNK).min(data.len())),
            ..PutRequest::default()
        });
        let messages = futures::stream::iter(std::iter::once(first).chain(chunks));
        let mut client = self.client.clone();
        client.put(messages).await.map_err(failed("put"))?;
        Ok(())
    }

    pub async fn get(&self, mac: &[u8; 32], range: Option<Range>) -> Result<u64, BenchError> {
        let request = GetRequest {
            mac: Bytes::copy_from_slice(mac),
            r#type: PACKFILE,
            range: range.map(|r| get_request::Range {
                offset: r.offset,
                length: r.length,
            }),
            flags: 0,
        };
        let mut client = self.client.clone();
        let mut chunks = client
            .get(request)
            .await
            .map_err(failed("get"))?
            .into_inner();
        let mut total = 0;
        while let Some(message) = chunks.message().await.map_err(failed("get"))? {
            total += message.chunk.len() as u64;
        }
        Ok(total)
    }

    pub async fn delete(&self, mac: &[u8; 32]) -> Result<(), BenchError> {
        let request = DeleteRequest {
            mac: Bytes::copy_from_slice(mac),
            r#type: PACKFILE,
            flags: 0,
        };
        let mut client = self.client.clone();
        client.delete(request).await.map_err(failed("delete"))?;
        Ok(())
    }

    pub async fn list(&self) -> Result<u64, BenchError> {
        let request = ListRequest {
            r#type: PACKFILE,
            flags: 0,
        };
        let mut client = self.client.clone();
        let reply = client.list(request).await.map_err(failed("list"))?;
        Ok(reply.into_inner().macs.len() as u64)
    }
}

/// `kloset-host plakar` with the benchmark's host options, so that the
/// plugin runs the same component under the same limits.
pub fn args(options: &HostOptions) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(path) = &options.component {
        args.extend(["--component".to_owned(), path.display().to_string()]);
    }
    if let Some(path) = &options.ca_file {
        args.extend(["--ca-file".to_owned(), path.display().to_string()]);
    }
    let mib = (options.memory_limit >> 20).to_string();
    args.extend(["--memory-limit".to_owned(), mib, "plakar".to_owned()]);
    args
}

fn failed(what: &'static str) -> impl Fn(Status) -> BenchError {
    move |status| BenchError(format!("plugin {what}: {}", status.message()))
}
