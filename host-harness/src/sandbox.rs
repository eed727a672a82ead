//! What a guest instance sees of the world: nothing but its configured
//! endpoint. Its WASI context has no preopened directory, no environment
//! variable, no argument, a closed stdin, stdout and stderr that discard what
//! is written (a guest cannot flood the host's terminal or logs, nor leak
//! through them), no socket and no name lookup. HTTP goes through
//! [`Egress`].
//!
//! What it may hold of the host is bounded too (see [`limits`]): its wasi
//! resources in number (the resource table's capacity) and each in size
//! (header fields, request-body buffers), and what one host call may do
//! (`wasi:random` bytes).
//!
//! [`limits`]: crate::limits

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::egress::Egress;
use crate::limits::{self, CallMeter, MemoryLimiter};

/// The data of one store: one guest instance and what bounds it.
pub struct Sandbox {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub egress: Egress,
    pub memory: MemoryLimiter,
    /// The limits of the call in progress; the handle drives calls with it.
    pub call: Arc<CallMeter>,
}

impl Sandbox {
    pub fn new(egress: Egress, memory: MemoryLimiter, call: Arc<CallMeter>) -> Self {
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(limits::MAX_RANDOM_BYTES)
            .build();
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(limits::FIELD_SIZE_LIMIT);
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits::max_resources(memory.limit()));
        Sandbox {
            wasi,
            http,
            table,
            egress,
            memory,
            call,
        }
    }

    /// How many wasi resources the instance may hold at once.
    pub fn max_resources(&self) -> usize {
        self.table.max_capacity()
    }

    /// How many wasi resources the instance holds now.
    pub fn resources_in_use(&mut self) -> usize {
        self.table.iter_mut().count()
    }

    /// Drops every wasi resource of a dead instance: its requests in flight
    /// (closing their connections; none waiting goes out), bodies, header
    /// fields. Nothing can use
    /// them any more, and the handle may be kept a while before it is dropped.
    pub fn release_resources(&mut self) {
        // First, so that no request waiting for its turn goes out as those
        // in flight are dropped.
        self.egress.close();
        let capacity = self.table.max_capacity();
        self.table = ResourceTable::new();
        self.table.set_max_capacity(capacity);
    }
}

impl Drop for Sandbox {
    /// Before the resource table drops: see [`release_resources`](Self::release_resources).
    fn drop(&mut self) {
        self.egress.close();
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Sandbox {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}
