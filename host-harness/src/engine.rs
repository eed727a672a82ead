//! The one wasmtime [`Engine`] of the process, and the clock that lets a store
//! interrupt a guest that computes for too long.
//!
//! Nothing in the engine's configuration depends on [`HostOptions`]
//! (limits are per store), so every [`Host`] shares it and its compiled code.
//! The on-demand instance allocator is used: instantiating from an
//! `InstancePre` takes tens of microseconds with it, so the pooling allocator
//! (and the virtual memory it reserves up front) would buy nothing.
//!
//! [`HostOptions`]: crate::HostOptions
//! [`Host`]: crate::Host

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine};

use crate::error::HostError;

/// How often the epoch advances: the granularity of the CPU budget, and how
/// often a computing guest yields to the async runtime.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The shared engine, created (and its epoch clock started) on first use.
pub fn shared() -> Result<&'static Engine, HostError> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let engine = Engine::new(&config()).map_err(|e| format!("wasmtime engine: {e}"))?;
            start_epoch_clock(&engine)?;
            Ok(engine)
        })
        .as_ref()
        .map_err(|e| HostError::Setup(e.clone()))
}

fn config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config
}

/// The engine lives as long as the process, so the thread does too; it holds
/// a weak reference all the same, so it never keeps an engine alive.
fn start_epoch_clock(engine: &Engine) -> Result<(), String> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("kloset-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
        .map_err(|e| format!("cannot start the epoch clock thread: {e}"))
}
