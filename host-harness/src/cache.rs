//! Compiled components, kept on disk so that a host starts in milliseconds
//! instead of compiling the component with Cranelift every time.
//!
//! A compiled artifact is native code that wasmtime loads without checking it,
//! so the cache trusts a file only when (1) its name is the SHA-256 of the
//! wasm bytes and of the engine's compatibility hash (which covers the
//! wasmtime version, target and every compilation setting), and (2) its
//! trailing SHA-256 matches its contents. A file failing either check, or
//! that wasmtime refuses, is recompiled and replaced. Files are written to a
//! temporary name and renamed, so a reader never sees half a file.
//!
//! The cache directory must be as private as the binaries of the user running
//! the host: whoever can write into it can make the host run their code.
//! Entries of older builds are not removed.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use crate::error::HostError;

/// Bumped whenever the file format below changes.
const FORMAT: &[u8] = b"kloset-host compiled component v1\0";
const DIGEST_LEN: usize = 32;

/// Where compiled components are kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ComponentCache {
    /// `$XDG_CACHE_HOME/kloset-s3`, else `$HOME/.cache/kloset-s3`, else none.
    #[default]
    Default,
    At(PathBuf),
    /// Compile every time.
    Disabled,
}

impl ComponentCache {
    fn dir(&self) -> Option<PathBuf> {
        match self {
            ComponentCache::Default => default_dir(),
            ComponentCache::At(dir) => Some(dir.clone()),
            ComponentCache::Disabled => None,
        }
    }
}

fn default_dir() -> Option<PathBuf> {
    let non_empty = |var| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = non_empty("XDG_CACHE_HOME").or_else(|| non_empty("HOME").map(|h| h.join(".cache")));
    base.map(|b| b.join("kloset-s3"))
}

/// Whether a component came from the cache (for tests and diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cached,
    Compiled,
}

/// The component of `wasm`, from the cache when a valid entry exists. A cache
/// that cannot be read or written only costs a compilation.
pub fn load(
    engine: &Engine,
    wasm: &[u8],
    cache: &ComponentCache,
) -> Result<(Component, Source), HostError> {
    let Some(dir) = cache.dir() else {
        return Ok((compile(engine, wasm)?.0, Source::Compiled));
    };
    let path = dir.join(format!("{}.cwasm", key(engine, wasm)));
    if let Some(component) = read(engine, &path) {
        return Ok((component, Source::Cached));
    }
    let (component, artifact) = compile(engine, wasm)?;
    if let Err(e) = write(&dir, &path, &artifact) {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the component cache");
    }
    Ok((component, Source::Compiled))
}

fn compile(engine: &Engine, wasm: &[u8]) -> Result<(Component, Vec<u8>), HostError> {
    let setup = |e: wasmtime::Error| HostError::Setup(format!("compiling the component: {e}"));
    let component = Component::new(engine, wasm).map_err(setup)?;
    let artifact = component.serialize().map_err(setup)?;
    Ok((component, artifact))
}

/// The cache file name: what the artifact was compiled from, and how.
fn key(engine: &Engine, wasm: &[u8]) -> String {
    let mut hasher = DigestHasher(Sha256::new());
    hasher.0.update(FORMAT);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.update(Sha256::digest(wasm));
    kloset_s3::hex::encode(&hasher.0.finalize())
}

/// The entry at `path` if it is intact and wasmtime accepts it.
fn read(engine: &Engine, path: &Path) -> Option<Component> {
    let file = std::fs::read(path).ok()?;
    let (artifact, digest) = file.split_at_checked(file.len().checked_sub(DIGEST_LEN)?)?;
    if Sha256::digest(artifact).as_slice() != digest {
        tracing::warn!(path = %path.display(), "corrupt component cache entry; recompiling");
        return None;
    }
    // SAFETY: `deserialize` runs the artifact's native code unchecked. This
    // artifact is one this module wrote: its name is the hash of the wasm bytes
    // and of this engine's compatibility hash, and its contents match the
    // digest written after them, so it is the serialization of this very
    // component by a compatible engine, byte for byte. Wasmtime still checks
    // the header (version, target, settings) and reports a mismatch as an
    // error, handled as a cache miss.
    match unsafe { Component::deserialize(engine, artifact) } {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "stale component cache entry; recompiling");
            None
        }
    }
}

/// Writes the artifact and its digest under a name of its own, then renames
/// it into place: a reader (another process sharing the cache) sees the
/// whole entry or none, never a half-written one.
fn write(dir: &Path, path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    create_private_dir(dir)?;
    let temporary = temporary_name(path);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, artifact)?;
            std::io::Write::write_all(&mut file, &Sha256::digest(artifact))
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// `path` with a suffix no other writer uses at the same time: this
/// process's id and a per-process counter.
fn temporary_name(path: &Path) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.{n}.tmp", std::process::id()));
    name.into()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Feeds a `Hash` value into SHA-256. Only `write` matters: the digest, not a
/// `u64`, is the key.
struct DigestHasher(Sha256);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(
            digest[..8]
                .try_into()
                .expect("a SHA-256 digest has 32 bytes"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_COMPONENT;

    fn engine() -> &'static Engine {
        crate::engine::shared().expect("engine")
    }

    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .collect();
        paths.sort();
        paths
    }

    fn cached_in(dir: &Path) -> ComponentCache {
        ComponentCache::At(dir.to_path_buf())
    }

    #[test]
    fn the_key_depends_on_the_wasm_bytes_only_for_one_engine() {
        let a = key(engine(), b"\0asm one");
        assert_eq!(a, key(engine(), b"\0asm one"));
        assert_ne!(a, key(engine(), b"\0asm two"));
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn compiles_once_then_loads_from_the_cache() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = cached_in(dir.path());
        let (_, first) = load(engine(), DEFAULT_COMPONENT, &cache).expect("compile");
        assert_eq!(first, Source::Compiled);
        let files = entries(dir.path());
        let expected = dir
            .path()
            .join(format!("{}.cwasm", key(engine(), DEFAULT_COMPONENT)));
        assert_eq!(files, vec![expected]);
        let (_, second) = load(engine(), DEFAULT_COMPONENT, &cache).expect("load");
        assert_eq!(second, Source::Cached);
    }

    #[test]
    fn a_corrupt_entry_is_recompiled_and_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = cached_in(dir.path());
        load(engine(), DEFAULT_COMPONENT, &cache).expect("compile");
        let path = entries(dir.path()).remove(0);
        let mut bytes = std::fs::read(&path).expect("entry");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&path, &bytes).expect("corrupt entry");

        let (_, source) = load(engine(), DEFAULT_COMPONENT, &cache).expect("recompile");
        assert_eq!(source, Source::Compiled);
        let (_, source) = load(engine(), DEFAULT_COMPONENT, &cache).expect("load");
        assert_eq!(source, Source::Cached);
    }

    #[test]
    fn garbage_and_truncated_entries_are_recompiled() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = cached_in(dir.path());
        let path = dir
            .path()
            .join(format!("{}.cwasm", key(engine(), DEFAULT_COMPONENT)));
        for junk in [&b""[..], b"short", &[0u8; 4096]] {
            std::fs::write(&path, junk).expect("junk entry");
            let (_, source) = load(engine(), DEFAULT_COMPONENT, &cache).expect("recompile");
            assert_eq!(source, Source::Compiled);
        }
    }

    #[test]
    fn an_entry_with_a_valid_digest_that_wasmtime_refuses_is_recompiled() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir
            .path()
            .join(format!("{}.cwasm", key(engine(), DEFAULT_COMPONENT)));
        write(dir.path(), &path, b"not an ELF artifact").expect("write entry");
        let (_, source) = load(engine(), DEFAULT_COMPONENT, &cached_in(dir.path())).expect("load");
        assert_eq!(source, Source::Compiled);
    }

    #[test]
    fn an_unwritable_cache_only_costs_a_compilation() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").expect("file");
        let cache = cached_in(&blocker.join("cache"));
        let (_, source) = load(engine(), DEFAULT_COMPONENT, &cache).expect("compile");
        assert_eq!(source, Source::Compiled);
    }

    #[test]
    fn a_disabled_cache_compiles_every_time() {
        let (_, source) =
            load(engine(), DEFAULT_COMPONENT, &ComponentCache::Disabled).expect("compile");
        assert_eq!(source, Source::Compiled);
    }
}
