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
