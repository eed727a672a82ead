//! The host side of `wit/kloset-s3.wit`. The WASI interfaces the world
//! imports are wasmtime-wasi's own.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "kloset:s3/kloset-s3",
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:random": wasmtime_wasi::p2::bindings::random,
    },
});

pub use exports::kloset::s3::importer::{Entry, Item, KeyFailure};
pub use exports::kloset::s3::kloset_store::{
    BucketLock, Error as WitError, GuestStore, LockMode, LockPolicy, LockSettings, Mode, Range,
    RecoveryAction, RecoveryStep, ResourceKind, Retention, Stats, StorageFlags,
};

/// The WIT error, as the component's own error type (they map 1:1).
pub fn store_error(e: WitError) -> kloset_s3::error::Error {
    use kloset_s3::error::{Error, S3Failure};
    match e {
        WitError::NotFound(m) => Error::NotFound(m),
        WitError::AlreadyExists(m) => Error::AlreadyExists(m),
        WitError::InvalidConfig(c) => Error::InvalidConfig {
            key: c.key,
            message: c.message,
        },
        WitError::InvalidArgument(m) => Error::InvalidArgument(m),
        WitError::Auth(f) => Error::Auth(S3Failure {
            status: f.status,
            code: f.code,
            message: f.message,
            request_id: f.request_id,
        }),
        WitError::PermissionDenied(m) => Error::PermissionDenied(m),
        WitError::Unsupported(m) => Error::Unsupported(m),
        WitError::Corrupted(m) => Error::Corrupted(m),
        WitError::Unavailable(m) => Error::Unavailable(m),
        WitError::Other(m) => Error::Other(m),
    }
}
