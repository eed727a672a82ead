//! [`StorePool`]: one store used from many tasks at once, as kloset calls
//! Put and Get from many goroutines.
//!
//! A [`StoreHandle`] runs one instance whose calls are sequential (the WIT
//! interface says so), so concurrency comes from several instances of the
//! same store, each checked out for one call (or a few) and given back.
//! Instances are opened on demand, up to the pool's size, from the one
//! compiled component of the [`Host`]: opening one takes tens of
//! microseconds and costs no request. An instance that trapped or was
//! closed is dropped instead of going back; the next checkout opens a fresh
//! one.

use std::num::NonZeroUsize;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::HostError;
use crate::host::Host;
use crate::store::StoreHandle;

/// Up to `size` instances of one store, shared by every clone of the pool.
#[derive(Clone)]
pub struct StorePool {
    shared: Arc<Shared>,
}

struct Shared {
    host: Host,
    config: Vec<(String, String)>,
    idle: Mutex<Vec<StoreHandle>>,
    /// One permit per instance that may exist: checked out or idle.
    permits: Arc<Semaphore>,
    size: usize,
}

impl Shared {
    fn idle(&self) -> MutexGuard<'_, Vec<StoreHandle>> {
        // Nothing panics while the lock is held: a poisoned list is intact.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl StorePool {
    /// A pool of the store `config` describes (the same pairs as
    /// [`Host::open`]). No instance is opened yet, so a bad configuration
    /// shows at the first [`checkout`](Self::checkout).
    pub fn new(host: Host, config: Vec<(String, String)>, size: NonZeroUsize) -> StorePool {
        StorePool {
            shared: Arc::new(Shared {
                host,
                config,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(size.get())),
                size: size.get(),
            }),
        }
    }

    /// The most instances the pool runs at once.
    pub fn size(&self) -> usize {
        self.shared.size
    }

    /// An instance of the store for this task alone: an idle one, else a
    /// new one while fewer than [`size`](Self::size) exist, else the first
    /// one given back. It returns to the pool when the [`PooledStore`] drops.
    pub async fn checkout(&self) -> Result<PooledStore, HostError> {
        let permit = self
            .shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HostError::Setup("the store pool was shut down".into()))?;
        let idle = self.shared.idle().pop();
        let handle = match idle {
            Some(handle) => handle,
            None => self.shared.host.open(&self.shared.config).await?,
        };
        Ok(PooledStore {
            handle: Some(handle),
            shared: self.shared.clone(),
            _permit: permit,
        })
    }

    /// The most linear memory any idle instance held since it was opened or
    /// since [`reset_peak_memory`](Self::reset_peak_memory). Instances
    /// checked out at the time are not counted.
    pub fn peak_memory_bytes(&self) -> usize {
        let idle = self.shared.idle();
        idle.iter()
            .map(StoreHandle::peak_memory_bytes)
            .max()
            .unwrap_or(0)
    }

    pub fn reset_peak_memory(&self) {
        self.shared
            .idle()
            .iter_mut()
            .for_each(StoreHandle::reset_peak_memory);
    }
}

/// A store checked out of a [`StorePool`]: a [`StoreHandle`] for this task
/// until dropped.
pub struct PooledStore {
    handle: Option<StoreHandle>,
    shared: Arc<Shared>,
    // Released after the handle is back among the idle ones (fields drop
    // after `Drop::drop`), so a waiting checkout finds it.
    _permit: OwnedSemaphorePermit,
}

impl Deref for PooledStore {
    type Target = StoreHandle;

    fn deref(&self) -> &StoreHandle {
        self.handle
            .as_ref()
            .expect("a pooled store holds its handle until dropped")
    }
}

impl DerefMut for PooledStore {
    fn deref_mut(&mut self) -> &mut StoreHandle {
        self.handle
            .as_mut()
            .expect("a pooled store holds its handle until dropped")
    }
}

impl Drop for PooledStore {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take().filter(StoreHandle::is_usable) {
            self.shared.idle().push(handle);
        }
    }
}
