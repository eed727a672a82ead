//! What a host call can fail with. The store's own failures keep the
//! component's typed error; everything else says which side failed.

use std::fmt;

/// A failure of [`Host`](crate::Host) or [`StoreHandle`](crate::StoreHandle).
#[derive(Debug)]
pub enum HostError {
    /// The store answered an error (WIT `error`, converted 1:1).
    Store(kloset_s3::error::Error),
    /// The component trapped (panicked) or went over a limit of its sandbox
    /// (memory, host resources, CPU budget, wall-clock time of a call); the
    /// message names the limit. Its instance is dead: open a new store.
    Trap(String),
    /// The host could not be set up: component, engine, cache, TLS roots.
    Setup(String),
    /// The caller's reader or writer failed while streaming an object.
    Io(std::io::Error),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Store(e) => e.fmt(f),
            HostError::Trap(m) => write!(f, "the component trapped: {m}"),
            HostError::Setup(m) => write!(f, "host setup failed: {m}"),
            HostError::Io(e) => write!(f, "streaming the object failed: {e}"),
        }
    }
}

impl std::error::Error for HostError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HostError::Store(e) => Some(e),
            HostError::Io(e) => Some(e),
            HostError::Trap(_) | HostError::Setup(_) => None,
        }
    }
}

impl From<kloset_s3::error::Error> for HostError {
    fn from(e: kloset_s3::error::Error) -> Self {
        HostError::Store(e)
    }
}
