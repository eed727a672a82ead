//! `recover --to TIME [--dry-run]`: makes the kloset current again as it was
//! at TIME, from the versions its bucket keeps (see the README's Object Lock
//! section).

use std::time::Instant;

use clap::Args;
use kloset_host::{HostError, Recovery, RecoveryAction, RecoveryStep, StoreHandle};

/// Make the kloset current again as it was at TIME: restore what was deleted
/// or overwritten since, hide what was created since (no version is deleted)
#[derive(Debug, Args)]
pub struct Recover {
    /// An RFC 3339 UTC time (2026-11-30T12:00:00Z) or a duration before now
    /// (30m, 12h, 2d)
    #[arg(long, value_name = "TIME")]
    pub to: String,
    /// Print what would be done, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// What a run did (or would do).
#[derive(Debug, Default)]
struct Tally {
    restored: u64,
    restored_bytes: u64,
    hidden: u64,
}

impl Recover {
    /// One line per action on stdout (`restore KEY VERSION SIZE WRITTEN`,
    /// `hide KEY VERSION`), the summary on stderr.
    pub async fn run(self, store: &mut StoreHandle) -> Result<(), HostError> {
        let started = Instant::now();
        let mut recovery = store.recovery(&self.to).await?;
        let ran = self.run_on(&mut recovery, started).await;
        recovery.release().await?;
        ran
    }

    async fn run_on(&self, recovery: &mut Recovery<'_>, started: Instant) -> Result<(), HostError> {
        let at = recovery.at().await?;
        let mut tally = Tally::default();
        while let Some(page) = recovery.plan_page().await? {
            for action in page {
                if !self.dry_run {
                    recovery.apply(&action).await?;
                }
                println!("{}", line(&action));
                tally.count(&action);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("{}", self.summary(&tally, &at, seconds));
        Ok(())
    }

    fn summary(&self, tally: &Tally, at: &str, seconds: f64) -> String {
        if tally.restored + tally.hidden == 0 {
            return format!("nothing to do: the kloset is as it was at {at}");
        }
        let verb = if self.dry_run {
            "would restore"
        } else {
            "restored"
        };
        let hid = if self.dry_run { "would hide" } else { "hid" };
        format!(
            "{verb} {} objects ({} bytes) and {hid} {} to make the kloset as it was at {at}, in {seconds:.1}s",
            tally.restored, tally.restored_bytes, tally.hidden
        )
    }
}

impl Tally {
    fn count(&mut self, action: &RecoveryAction) {
        match action.step {
            RecoveryStep::Restore => {
                self.restored += 1;
                self.restored_bytes += action.size;
            }
            RecoveryStep::Hide => self.hidden += 1,
        }
    }
}

fn line(action: &RecoveryAction) -> String {
    match action.step {
        RecoveryStep::Restore => format!(
            "restore {} {} {} {}",
            action.key, action.version_id, action.size, action.last_modified
        ),
        RecoveryStep::Hide => format!("hide {} {}", action.key, action.version_id),
    }
}
