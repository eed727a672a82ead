//! `info`: what kloset asks a store (origin, type, root, flags, mode, size)
//! and its Object Lock settings.

use clap::Args;
use kloset_host::{HostError, LockSettings, Mode, StoreHandle};

use super::mode_name;

/// Print origin, type, root, flags, mode, size and the Object Lock settings
#[derive(Debug, Args)]
pub struct Info {}

impl Info {
    pub async fn run(self, store: &mut StoreHandle) -> Result<(), HostError> {
        let mode = store.mode().await?;
        let mode = match (mode.contains(Mode::READ), mode.contains(Mode::WRITE)) {
            (true, true) => "read-write",
            (false, true) => "write-only",
            (true, false) => "read-only",
            (false, false) => "none",
        };
        println!("origin: {}", store.origin().await?);
        println!("type:   {}", store.type_name().await?);
        println!("root:   {}", store.root().await?);
        println!("flags:  {}", store.flags().await?);
        println!("mode:   {mode}");
        println!("size:   {} bytes", store.size().await?);
        println!("lock:   {}", describe_lock(&store.lock_settings().await?));
        Ok(())
    }
}

fn describe_lock(settings: &LockSettings) -> String {
    let policy = match &settings.policy {
        Some(p) => format!(
            "new objects {} for {} days",
            mode_name(p.mode),
            p.retention_seconds as f64 / 86_400.0
        ),
        None => "new objects unlocked".to_owned(),
    };
    let bucket = match &settings.bucket {
        None => "the server has no Object Lock".to_owned(),
        Some(b) if !b.enabled => "bucket without Object Lock".to_owned(),
        Some(b) => {
            let default = match (b.default_mode, b.default_days, b.default_years) {
                (Some(mode), Some(days), _) => format!("{} {days} days", mode_name(mode)),
                (Some(mode), _, Some(years)) => format!("{} {years} years", mode_name(mode)),
                _ => "none".to_owned(),
            };
            format!("bucket Object Lock enabled, default retention {default}")
        }
    };
    format!("{policy}; {bucket}")
}
