//! The hostile component (`tests/hostile`), built on first use for
//! wasm32-wasip2 by a nested cargo into its own target directory, as
//! `host-harness/build.rs` builds the real one. It is not a workspace member:
//! the workspace never builds it for the host.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const TARGET: &str = "wasm32-wasip2";

/// What the environment of a test run may set that the nested cargo would
/// read as its own configuration (same list as host-harness/build.rs).
const LEAKING_VARS: &[&str] = &[
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
];

/// The hostile component's `.wasm`, built once per test process (cargo keeps
/// it up to date across runs).
///
/// # Panics
/// When the build fails: the sandbox tests cannot run without it.
pub fn component() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build)
}

fn build() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = tests.join("hostile").join("Cargo.toml");
    let target_dir = tests.join("..").join("target").join("hostile");
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--locked", "--target", TARGET])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    for var in LEAKING_VARS {
        command.env_remove(var);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the hostile component: {e}"));
    assert!(
        status.success(),
        "building the hostile component failed ({status}); see the output above"
    );
    target_dir
        .join(TARGET)
        .join("release")
        .join("kloset_hostile.wasm")
}

/// The host process's memory as the kernel counts it, to check that what a
/// guest makes the host allocate stays bounded. Linux only (`/proc`).
pub mod rss {
    /// Bytes resident now.
    pub fn current() -> u64 {
        status_kib("VmRSS:") * 1024
    }

    /// The most bytes resident since the last [`reset_peak`] (or since the
    /// process started, where the kernel does not let it be reset).
    pub fn peak() -> u64 {
        status_kib("VmHWM:") * 1024
    }

    /// Starts a new peak from the current resident size.
    pub fn reset_peak() {
        // "5" resets the peak resident size (Linux 4.0+, proc(5)).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }

    fn status_kib(field: &str) -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
    }
}
