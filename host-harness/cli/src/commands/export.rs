//! `export DIR`: restores a local tree into the bucket at the location's
//! prefix with the component's exporter, parents first: each regular file
//! becomes the object at prefix + its path below DIR, with the metadata of
//! its `user.s3.*` extended attributes (as `import --data` writes them).
//! Symbolic links and other non-regular files are skipped with a warning.
//! A progress line goes to stderr.

use std::path::{Path, PathBuf};

use clap::Args;
use kloset_host::ExporterHandle;

use super::progress::Progress;
use crate::xattrs;

/// Restore a local tree into the bucket, metadata from `user.s3.*` xattrs
#[derive(Debug, Args)]
pub struct Export {
    /// The tree to restore
    pub dir: PathBuf,
}

impl Export {
    pub async fn run(self, exporter: &mut ExporterHandle) -> Result<(), String> {
        let mut progress = Progress::new("exported");
        let mut pending = vec![self.dir.clone()];
        while let Some(dir) = pending.pop() {
            let mut children = read_dir(&dir)?;
            children.sort();
            for child in children.into_iter().rev() {
                let kind = std::fs::symlink_metadata(&child)
                    .map_err(|e| format!("{}: {e}", child.display()))?
                    .file_type();
                if kind.is_dir() {
                    pending.push(child);
                } else if kind.is_file() {
                    let size = export_file(exporter, &self.dir, &child).await?;
                    progress.add(size);
                    progress.show();
                } else {
                    eprintln!(
                        "kloset-host: {}: skipped: not a regular file or directory",
                        child.display()
                    );
                }
            }
        }
        progress.done();
        Ok(())
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let fail = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::read_dir(dir)
        .map_err(fail)?
        .map(|entry| entry.map(|e| e.path()).map_err(fail))
        .collect()
}

async fn export_file(
    exporter: &mut ExporterHandle,
    root: &Path,
    file: &Path,
) -> Result<u64, String> {
    let fail = |e: String| format!("{}: {e}", file.display());
    let below = file
        .strip_prefix(root)
        .map_err(|e| fail(e.to_string()))?
        .to_str()
        .ok_or_else(|| fail("the path is not UTF-8, which no S3 key is".into()))?;
    let path = format!("/{below}");
    let attributes = xattrs::s3_attributes(file).map_err(|e| fail(e.to_string()))?;
    let data = tokio::fs::File::open(file)
        .await
        .map_err(|e| fail(e.to_string()))?;
    exporter
        .write_file(&path, &attributes, data)
        .await
        .map_err(|e| fail(e.to_string()))
}
