//! kloset-s3: a Plakar kloset in an S3-compatible bucket, as a WASI 0.2 component.
//!
//! Data flows one way: [`config`] → request ([`request`], [`layout`]) → signed
//! request ([`sigv4`]) → transport (the only WASI-facing module, wasm32 only) →
//! response ([`xml`]) → typed result ([`error`]). Everything but the transport and
//! the export glue is pure and unit-tested natively.

pub mod config;
pub mod error;
pub mod layout;
pub mod request;
pub mod retry;
pub mod secret;
pub mod sigv4;
pub mod xml;
