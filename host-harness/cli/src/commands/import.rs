//! `import [--data DIR]`: backs up the bucket (below the location's prefix)
//! with the component's importer: one JSON line per record on stdout, page
//! by page; `--data` also writes each object's bytes to DIR + its path, with
//! its attributes as `user.s3.*` extended attributes where the filesystem
//! keeps them. A progress line goes to stderr. Keys that could not be backed
//! up are records too (`{"key", "error"}`), and make the verb fail at the end.

use std::path::{Path, PathBuf};

use clap::Args;
use kloset_host::{Entry, HostError, ImporterHandle, Item};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::progress::Progress;
use crate::xattrs;

/// Back up the bucket: one JSON line per object (path, size, mtime, attributes)
#[derive(Debug, Args)]
pub struct Import {
    /// Also write each object's bytes to DIR + its path
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

impl Import {
    pub async fn run(self, importer: &mut ImporterHandle) -> Result<(), String> {
        let mut stdout = tokio::io::stdout();
        let mut progress = Progress::new("imported");
        let mut failed = 0u64;
        while let Some(page) = importer.next_page().await.map_err(|e| e.to_string())? {
            for item in page {
                let line = match item {
                    Item::Entry(entry) => {
                        if let Some(dir) = &self.data {
                            save(importer, dir, &entry).await?;
                        }
                        progress.add(entry.size);
                        entry_json(&entry)
                    }
                    Item::Failure(f) => {
                        failed += 1;
                        json!({ "key": f.key, "error": f.message })
                    }
                };
                let text = format!("{line}\n");
                stdout
                    .write_all(text.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            progress.show();
        }
        stdout.flush().await.map_err(|e| e.to_string())?;
        progress.done();
        match failed {
            0 => Ok(()),
            n => Err(format!(
                "{n} keys could not be backed up (see their records)"
            )),
        }
    }
}

fn entry_json(entry: &Entry) -> serde_json::Value {
    let attributes: serde_json::Map<String, serde_json::Value> = entry
        .attributes
        .iter()
        .map(|(name, value)| (name.clone(), value.clone().into()))
        .collect();
    json!({
        "path": entry.path,
        "size": entry.size,
        "mtime": entry.mtime,
        "directory": entry.directory,
        "etag": entry.etag,
        "attributes": attributes,
    })
}

/// Writes a file (its bytes, then its attributes) or makes a directory under `dir`.
async fn save(importer: &mut ImporterHandle, dir: &Path, entry: &Entry) -> Result<(), String> {
    // The component checked the path: no `..`, no empty segment.
    let target = dir.join(entry.path.trim_start_matches('/'));
    let fail = |e: std::io::Error| format!("{}: {e}", target.display());
    if entry.directory {
        return tokio::fs::create_dir_all(&target).await.map_err(fail);
    }
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(fail)?;
    }
    let file = tokio::fs::File::create(&target).await.map_err(fail)?;
    let mut file = tokio::io::BufWriter::new(file);
    importer
        .read(&entry.path, &entry.etag, &mut file)
        .await
        .map_err(|e: HostError| format!("{}: {e}", entry.path))?;
    for (name, value) in &entry.attributes {
        if let Err(e) = xattrs::set(&target, name, value) {
            eprintln!(
                "kloset-host: {}: attribute {name} not kept ({e})",
                target.display()
            );
        }
    }
    Ok(())
}
