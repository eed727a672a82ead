//! kloset-host: runs the kloset-s3 component in a wasmtime sandbox that lets
//! it reach its configured S3 endpoint and nothing else.
//!
//! [`Host`] compiles the component once (cached on disk, see
//! [`ComponentCache`]) and opens a [`StoreHandle`] per store configuration:
//! a fresh instance with bounded memory, host resources, CPU and wall-clock
//! time per call, no filesystem, environment or socket, and an HTTP client
//! that only connects to the endpoint. [`ImporterHandle`] and
//! [`ExporterHandle`] run the component's importer (a bucket backed up as
//! files) and exporter (files restored into a bucket) the same way.
//!
//! This is the only crate of the workspace that knows wasmtime. The
//! `kloset-host` program (command line, Plakar plugin, benchmark) is the
//! `kloset-host-cli` package on top of it; the in-process S3 servers of the
//! demo and the tests are the `testbed` feature.

mod bindings;
mod cache;
mod egress;
mod engine;
mod error;
mod exporter;
mod host;
mod importer;
mod limits;
mod outgoing;
pub mod policy;
pub mod pool;
mod quickack;
mod sandbox;
mod store;
#[cfg(feature = "testbed")]
pub mod testbed;
mod timeouts;
mod tls;
mod transport;

pub use bindings::{
    BucketLock, Entry, Item, KeyFailure, LockMode, LockPolicy, LockSettings, Mode, Range,
    RecoveryAction, RecoveryStep, ResourceKind, Retention, Stats, StorageFlags,
};
pub use cache::ComponentCache;
pub use error::HostError;
pub use exporter::ExporterHandle;
pub use host::{
    Host, HostOptions, DEFAULT_CALL_TIMEOUT, DEFAULT_CPU_BUDGET, DEFAULT_MAX_REQUESTS,
    DEFAULT_MEMORY_LIMIT,
};
pub use importer::ImporterHandle;
pub use pool::{PooledStore, StorePool};
pub use store::{Download, Listing, Recovery, StoreHandle, Upload, CHUNK};

/// The component this host was built with (`host-harness/build.rs`).
pub const DEFAULT_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kloset_s3.wasm"));
