//! S3 Object Lock for new objects (`object_lock_mode` and
//! `object_lock_retention`): the defence against a rogue delete or
//! ransomware holding the credentials.

use std::time::Duration;

use super::pairs::{Choice, Pairs};
use super::quantity::parse_duration;
use crate::error::{Error, Result};

const DAY: Duration = Duration::from_secs(86_400);

/// A day at least (a shorter lock protects nothing a backup cares about), a
/// century at most (beyond that, retain-until dates stop making sense).
const RETENTION: std::ops::RangeInclusive<Duration> = DAY..=Duration::from_secs(36_500 * 86_400);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Users with `s3:BypassGovernanceRetention` may still delete.
    Governance,
    /// Nobody, root included, can delete before the retention ends.
    Compliance,
}

impl LockMode {
    /// The `x-amz-object-lock-mode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }

    /// A mode as S3 writes it in headers and documents (exactly upper case).
    pub fn from_s3(text: &str) -> Option<LockMode> {
        match text.trim() {
            "GOVERNANCE" => Some(LockMode::Governance),
            "COMPLIANCE" => Some(LockMode::Compliance),
            _ => None,
        }
    }
}

impl Choice for LockMode {
    const ALL: &'static [Self] = &[LockMode::Governance, LockMode::Compliance];

    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// Every object written is locked in `mode` until `retention` after its write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLock {
    pub mode: LockMode,
    pub retention: Duration,
}

impl ObjectLock {
    /// Both keys or neither: half a lock configuration is a mistake.
    pub(super) fn parse(keys: &Pairs) -> Result<Option<ObjectLock>> {
        let mode = keys.choice::<LockMode>("object_lock_mode")?;
        let retention = keys.parse("object_lock_retention", |v| parse_duration(v, RETENTION))?;
        match (mode, retention) {
            (Some(mode), Some(retention)) => Ok(Some(ObjectLock { mode, retention })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(Error::config(
                "object_lock_retention",
                "required when object_lock_mode is set",
            )),
            (None, Some(_)) => Err(Error::config(
                "object_lock_mode",
                "required when object_lock_retention is set",
            )),
        }
    }
}
