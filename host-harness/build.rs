//! Builds the kloset-s3 component (the workspace root package) for `wasm32-wasip2`
//! and leaves it in `OUT_DIR`, where `src/component.rs` embeds it: the host binary
//! then always carries the component it was built and tested with.
//!
//! The component is built by a nested `cargo` with its own target directory, so
//! it never waits on the lock the outer build holds, and with the environment of
//! the outer build (target, flags, wrappers) removed, so what is built does not
//! depend on how the host was built (`cargo build`, `cargo clippy`, coverage...).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "component";
const PACKAGE: &str = "kloset-s3";
const ARTIFACT: &str = "kloset_s3.wasm";

/// Variables cargo sets for build scripts (or users set for the outer build)
/// that the nested cargo would read as its own configuration. The jobserver
/// variables (`CARGO_MAKEFLAGS`...) are kept on purpose: the nested build then
/// shares the outer build's job slots instead of oversubscribing the machine.
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

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .parent()
        .expect("host-harness lives inside the workspace")
        .to_path_buf();
    for input in ["src", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }

    check_target_installed();
    let target_dir = workspace.join("target").join(PROFILE);
    build_component(&workspace, &target_dir);

    let built = target_dir.join(TARGET).join(PROFILE).join(ARTIFACT);
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join(ARTIFACT);
    if let Err(e) = std::fs::copy(&built, &out) {
        fail(&format!(
            "the component build succeeded but {} cannot be copied to {}: {e}",
            built.display(),
            out.display()
        ));
    }
}

/// A missing target would otherwise fail deep inside the nested build with
/// "can't find crate for `core`".
fn check_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output();
    let installed = match libdir {
        Ok(output) if output.status.success() => {
            Path::new(String::from_utf8_lossy(&output.stdout).trim()).is_dir()
        }
        _ => false,
    };
    if !installed {
        fail(&format!(
            "the Rust target {TARGET} is not installed; run `rustup target add {TARGET}`"
        ));
    }
}

fn build_component(workspace: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--package", PACKAGE, "--target", TARGET])
        .args(["--profile", PROFILE, "--target-dir"])
        .arg(target_dir);
    for var in LEAKING_VARS {
        command.env_remove(var);
    }
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "building the component ({PACKAGE} for {TARGET}) failed with {status}; see the output above"
        )),
        Err(e) => fail(&format!("cannot run cargo to build the component: {e}")),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
