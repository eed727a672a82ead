//! kloset-s3: a Plakar kloset in an S3-compatible bucket, as a WASI 0.2 component.
//!
//! Data flows one way: [`config`] → request ([`actions`], [`bucket`], [`layout`])
//! → signed request ([`sigv4`]) → transport (the only WASI-facing module, wasm32
//! only) → response ([`xml`], [`integrity`]) → typed result ([`error`]).
//! [`client`] adds signing and retries; [`store`] is kloset's semantics, over
//! [`upload`], [`download`], [`listing`], [`existing`] (what a key holds) and
//! [`object_lock`], all built on one [`context`] (none depends on `store`).
//! [`import`] and [`export`] (a bucket backed up as files and restored from
//! them) are the store's siblings over the same core, with [`paths`] (keys
//! as paths) and [`attributes`] (metadata as extended attributes);
//! [`versions`] is the kloset at a point in time, and its recovery.
//! The pure half is unit-tested natively as is; the stateful half over a
//! scripted transport with a fake clock (`script`, tests only). Only the
//! transport and the export glue are not.

pub mod actions;
pub mod attributes;
pub mod bucket;
pub mod calendar;
pub mod client;
pub mod config;
pub mod context;
pub mod download;
pub mod error;
pub mod existing;
pub mod export;
pub mod hex;
pub mod import;
pub mod integrity;
pub mod layout;
pub mod listing;
pub mod object_lock;
pub mod paths;
pub mod provision;
pub mod refusal;
pub mod region;
pub mod request;
pub mod retention;
pub mod retry;
#[cfg(test)]
mod script;
pub mod secret;
pub mod sigv4;
pub mod store;
pub mod upload;
pub mod versions;
pub mod xml;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod transport;
