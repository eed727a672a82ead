//! What a guest instance sees of the world: nothing but its configured
//! endpoint. Its WASI context has no preopened directory, no environment
//! variable, no argument, a closed stdin, stdout and stderr that discard what
//! is written (a guest cannot flood the host's terminal or logs, nor leak
//! through them), no socket and no name lookup. HTTP goes through
//! [`Egress`].

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::egress::Egress;
use crate::limits::{CpuMeter, MemoryLimiter};

/// The data of one store: one guest instance and what bounds it.
pub struct Sandbox {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub egress: Egress,
    pub memory: MemoryLimiter,
    pub cpu: CpuMeter,
}

impl Sandbox {
    pub fn new(egress: Egress, memory: MemoryLimiter, cpu: CpuMeter) -> Self {
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Sandbox {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            egress,
            memory,
            cpu,
        }
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
