//! The clients compared, all against the same server in the same run: the
//! component (through a [`StorePool`]), the component behind the plugin
//! protocol (this program's `plakar` verb spawned, and a gRPC client over its
//! pipes: what Plakar runs, so its overhead over the direct host API shows),
//! Rust's `object_store` (its S3 client, as an application would use it), and
//! raw presigned HTTP (the practical upper bound of this machine's HTTP path).
//!
//! Every peer writes the keys the component writes (the kloset layout,
//! packfiles fanned out by MAC) and discards what it reads, so the only
//! difference is the client.

use std::num::NonZeroUsize;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use kloset_s3::layout::{Kind, Layout, Mac};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::plugin::PluginPeer;
use super::raw::RawHttp;
use super::target::Target;
use super::BenchError;
use kloset_host::StorePool;
use kloset_host::{Host, Range, ResourceKind};

#[derive(Clone)]
pub enum Peer {
    Component(StorePool),
    Plugin(Arc<PluginPeer>),
    ObjectStore(Arc<AmazonS3>, Arc<Layout>),
    Raw(Box<RawHttp>),
}

pub const COMPONENT: &str = "component";
pub const PLUGIN: &str = "plugin";
/// The peer every ratio is taken against.
pub const REFERENCE: &str = "object_store";
pub const RAW: &str = "raw_http";

impl Peer {
    /// The four peers, each on the store at `sub(its name)`; `pool`
    /// instances of the component at most (in the plugin too).
    pub async fn all(
        host: &Host,
        target: &Target,
        pool: NonZeroUsize,
        plugin_args: &[String],
        sub: impl Fn(&str) -> String,
    ) -> Result<Vec<Peer>, BenchError> {
        let pairs = target.component_pairs(&sub(COMPONENT));
        let plugin_pairs = target.component_pairs(&sub(PLUGIN));
        let plugin = PluginPeer::start(plugin_args, plugin_pairs, pool).await?;
        Ok(vec![
            Peer::Component(StorePool::new(host.clone(), pairs, pool)),
            Peer::Plugin(Arc::new(plugin)),
            object_store(target, &sub(REFERENCE))?,
            Peer::Raw(Box::new(RawHttp::new(&target.config(&sub(RAW))))),
        ])
    }

    pub fn name(&self) -> &'static str {
        match self {
            Peer::Component(_) => COMPONENT,
            Peer::Plugin(_) => PLUGIN,
            Peer::ObjectStore(..) => REFERENCE,
            Peer::Raw(_) => RAW,
        }
    }

    fn failed(&self, what: &str, e: impl std::fmt::Display) -> BenchError {
        BenchError(format!("{} {what}: {e}", self.name()))
    }

    /// Stores `data` as the packfile `mac`; returns the bytes sent.
    pub async fn put(&self, mac: &[u8; 32], data: Bytes) -> Result<u64, BenchError> {
        let len = data.len() as u64;
        match self {
            Peer::Component(pool) => {
                let mut store = pool.checkout().await?;
                store.put(ResourceKind::Packfile, mac, &data[..]).await?;
            }
            Peer::Plugin(plugin) => plugin.put(mac, data).await?,
            Peer::ObjectStore(store, layout) => {
                let path = object_path(layout, mac);
                let sent = store.put(&path, PutPayload::from(data)).await;
                sent.map_err(|e| self.failed("put", e))?;
            }
            Peer::Raw(raw) => raw.put(mac, data).await?,
        }
        Ok(len)
    }

    /// Reads the packfile `mac` (or `range` of it) and discards it; returns
    /// the bytes received.
    pub async fn get(&self, mac: &[u8; 32], range: Option<Range>) -> Result<u64, BenchError> {
        match self {
            Peer::Component(pool) => {
                let mut store = pool.checkout().await?;
                let sink = tokio::io::sink();
                Ok(store.get(ResourceKind::Packfile, mac, range, sink).await?)
            }
            Peer::Plugin(plugin) => plugin.get(mac, range).await,
            Peer::ObjectStore(store, layout) => {
                let path = object_path(layout, mac);
                if let Some(Range { offset, length }) = range {
                    let bytes = store
                        .get_range(&path, offset..offset + u64::from(length))
                        .await;
                    return Ok(bytes.map_err(|e| self.failed("ranged get", e))?.len() as u64);
                }
                let result = store.get(&path).await.map_err(|e| self.failed("get", e))?;
                let mut body = result.into_stream();
                let mut total = 0;
                while let Some(chunk) = body.next().await {
                    total += chunk.map_err(|e| self.failed("get", e))?.len() as u64;
                }
                Ok(total)
            }
            Peer::Raw(raw) => raw.get(mac, range).await,
        }
    }

    pub async fn delete(&self, mac: &[u8; 32]) -> Result<u64, BenchError> {
        match self {
            Peer::Component(pool) => {
                pool.checkout()
                    .await?
                    .delete(ResourceKind::Packfile, mac)
                    .await?
            }
            Peer::Plugin(plugin) => plugin.delete(mac).await?,
            Peer::ObjectStore(store, layout) => {
                let path = object_path(layout, mac);
                store
                    .delete(&path)
                    .await
                    .map_err(|e| self.failed("delete", e))?;
            }
            Peer::Raw(raw) => raw.delete(mac).await?,
        }
        Ok(0)
    }

    /// Lists every packfile; returns how many there are.
    pub async fn list(&self) -> Result<u64, BenchError> {
        match self {
            Peer::Component(pool) => {
                let mut store = pool.checkout().await?;
                Ok(store.list(ResourceKind::Packfile).await?.len() as u64)
            }
            Peer::Plugin(plugin) => plugin.list().await,
            Peer::ObjectStore(store, layout) => {
                let prefix = Path::from(layout.list_prefix(Kind::Packfile));
                let mut listing = store.list(Some(&prefix));
                let mut count = 0;
                while let Some(meta) = listing.next().await {
                    meta.map_err(|e| self.failed("list", e))?;
                    count += 1;
                }
                Ok(count)
            }
            Peer::Raw(raw) => raw.list().await,
        }
    }

    /// Starts a new guest memory peak (the component only).
    pub fn reset_guest_peak(&self) {
        if let Peer::Component(pool) = self {
            pool.reset_peak_memory();
        }
    }

    /// The guest memory peak since the reset (the component only).
    pub fn guest_peak(&self) -> Option<usize> {
        match self {
            Peer::Component(pool) => Some(pool.peak_memory_bytes()),
            _ => None,
        }
    }
}

/// object_store as configured out of the box for a path-style S3 server:
/// payloads signed (SHA-256), retries on, no checksum header.
fn object_store(target: &Target, sub: &str) -> Result<Peer, BenchError> {
    // reqwest is built without a TLS provider of its own (see Cargo.toml);
    // Err only when a provider is already installed, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = target.config(sub);
    let store = AmazonS3Builder::new()
        .with_endpoint(format!("http://{}", config.endpoint.authority()))
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_bucket_name(&config.bucket)
        .with_region(&config.region)
        .with_access_key_id(&config.access_key)
        .with_secret_access_key(config.secret_key.expose())
        .build()
        .map_err(|e| BenchError(format!("{REFERENCE}: {e}")))?;
    Ok(Peer::ObjectStore(
        Arc::new(store),
        Arc::new(Layout::new(&config.prefix)),
    ))
}

fn object_path(layout: &Layout, mac: &[u8; 32]) -> Path {
    Path::from(layout.object_key(Kind::Packfile, &Mac(*mac)))
}
