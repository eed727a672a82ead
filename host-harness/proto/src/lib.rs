//! Plakar's integration protocol, generated from `proto/` at build time.
//! Modules follow the protobuf packages: `store` (the `store.Store` service
//! of a storage integration), `importer` (`importer.Importer`),
//! `plakar::exporter` (`plakar.exporter.Exporter`) and
//! `plakar::connectors` (the records they share). [`plugin`] starts a plugin
//! and connects to it as Plakar does.

pub mod plugin;

/// The well-known types the records use (`Timestamp`).
pub use prost_types;

#[allow(clippy::all, clippy::pedantic)]
pub mod store {
    tonic::include_proto!("store");
}

#[allow(clippy::all, clippy::pedantic)]
pub mod importer {
    tonic::include_proto!("importer");
}

#[allow(clippy::all, clippy::pedantic)]
pub mod plakar {
    pub mod connectors {
        tonic::include_proto!("plakar.connectors");
    }

    pub mod exporter {
        tonic::include_proto!("plakar.exporter");
    }
}

pub use tonic;
