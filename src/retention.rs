//! Object Lock retention of one object: what a write asks for, what a HEAD
//! says is in force, and how far an extension may go. Pure: the clock is a
//! parameter (the transport's), so every decision is unit-tested.
//!
//! The rule that makes retention a protection rather than a setting: kloset-s3
//! never shortens a retention and never changes its mode. An extension only
//! ever moves the retain-until date later. (S3 lets nobody weaken COMPLIANCE,
//! and changes a GOVERNANCE mode only with the bypass permission that a
//! backup key must not hold, so the configured mode applies to new objects.)

use crate::calendar;
use crate::config::{LockMode, ObjectLock};
use crate::error::{Error, Result};

/// The response headers that carry an object's retention (HEAD, GET).
pub const MODE_HEADER: &str = "x-amz-object-lock-mode";
pub const UNTIL_HEADER: &str = "x-amz-object-lock-retain-until-date";

/// A retention: the object cannot be deleted (nor its version) before `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub mode: LockMode,
    /// Unix seconds.
    pub until: u64,
}

impl Retention {
    /// What an object written at `now` is locked with: the configured
    /// duration from the transport's clock. The server refuses a write whose
    /// clock is far off (RequestTimeTooSkewed), which bounds how wrong this
    /// date can be.
    pub fn for_write(lock: &ObjectLock, now: u64) -> Retention {
        Retention {
            mode: lock.mode,
            until: now.saturating_add(lock.retention.as_secs()),
        }
    }

    /// The retain-until date as S3 wants it (ISO 8601, UTC).
    pub fn until_text(&self) -> String {
        calendar::iso8601(self.until)
    }

    /// The retention an object's headers report; `None` when it has none. A
    /// retention present but unreadable is an error: guessing could shorten it.
    pub fn from_headers(header: impl Fn(&str) -> Option<String>) -> Result<Option<Retention>> {
        let (mode, until) = match (header(MODE_HEADER), header(UNTIL_HEADER)) {
            (None, None) => return Ok(None),
            (Some(mode), Some(until)) => (mode, until),
            (Some(_), None) => return Err(unreadable(&format!("{MODE_HEADER} without a date"))),
            (None, Some(_)) => return Err(unreadable(&format!("{UNTIL_HEADER} without a mode"))),
        };
        let mode = LockMode::from_s3(&mode)
            .ok_or_else(|| unreadable(&format!("unknown mode `{}`", excerpt(&mode))))?;
        let until = calendar::parse_iso8601(&until)
            .ok_or_else(|| unreadable(&format!("unreadable date `{}`", excerpt(&until))))?;
        Ok(Some(Retention { mode, until }))
    }

    /// The retention that keeps an object locked for the configured duration
    /// from `now`, or `None` when `current` already does (see
    /// [`Retention::raising`]).
    pub fn extension(current: Option<Retention>, lock: &ObjectLock, now: u64) -> Option<Retention> {
        Retention::for_write(lock, now).raising(current)
    }

    /// What must be set for an object under `current` to be locked at least
    /// until this retention's date, or `None` when it already is: the date
    /// only moves later, in the object's own mode; an object without
    /// retention gets this one's mode.
    pub fn raising(self, current: Option<Retention>) -> Option<Retention> {
        let Some(current) = current else {
            return Some(self);
        };
        (self.until > current.until).then_some(Retention {
            mode: current.mode,
            until: self.until,
        })
    }

    /// For messages: `COMPLIANCE until 2030-01-01T00:00:00Z`.
    pub fn describe(&self) -> String {
        format!("{} until {}", self.mode.as_str(), self.until_text())
    }
}

fn unreadable(why: &str) -> Error {
    Error::Other(format!(
        "unreadable Object Lock retention from server: {why}"
    ))
}

/// Header values are the server's: cut and keep printable before quoting.
fn excerpt(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const DAY: u64 = 86_400;
    /// 2026-11-25T13:38:54Z.
    const NOW: u64 = 1_795_613_934;

    fn lock(mode: LockMode, days: u64) -> ObjectLock {
        ObjectLock {
            mode,
            retention: Duration::from_secs(days * DAY),
        }
    }

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn a_write_is_locked_for_the_configured_duration_from_now() {
        let r = Retention::for_write(&lock(LockMode::Compliance, 30), NOW);
        assert_eq!(r.until, NOW + 30 * DAY);
        // `date -u -d @$((1795613934 + 30*86400)) +%FT%TZ`
        assert_eq!(r.until_text(), "2026-12-25T13:38:54Z");
        assert_eq!(r.describe(), "COMPLIANCE until 2026-12-25T13:38:54Z");
    }

    #[test]
    fn reads_retention_headers_as_servers_send_them() {
        // radosgw sends microseconds; they round up.
        let r = Retention::from_headers(headers(&[
            (MODE_HEADER, "GOVERNANCE"),
            (UNTIL_HEADER, "2030-01-01T00:00:00.551189Z"),
        ]));
        assert_eq!(
            r,
            Ok(Some(Retention {
                mode: LockMode::Governance,
                until: 1_893_456_001
            }))
        );
        assert_eq!(Retention::from_headers(headers(&[])), Ok(None));
    }

    #[test]
    fn a_partial_or_unreadable_retention_is_an_error() {
        for pairs in [
            &[(MODE_HEADER, "COMPLIANCE")][..],
            &[(UNTIL_HEADER, "2030-01-01T00:00:00Z")],
            &[
                (MODE_HEADER, "compliance"),
                (UNTIL_HEADER, "2030-01-01T00:00:00Z"),
            ],
            &[
                (MODE_HEADER, "COMPLIANCE"),
                (UNTIL_HEADER, "Tue, 01 Jan 2030"),
            ],
        ] {
            let e = Retention::from_headers(headers(pairs)).unwrap_err();
            assert!(e.to_string().starts_with("unreadable Object Lock"), "{e}");
        }
    }

    #[test]
    fn an_object_without_retention_gets_the_configured_one() {
        let l = lock(LockMode::Governance, 7);
        assert_eq!(
            Retention::extension(None, &l, NOW),
            Some(Retention::for_write(&l, NOW))
        );
    }

    #[test]
    fn extension_only_moves_the_date_later() {
        let l = lock(LockMode::Compliance, 30);
        let short = Retention {
            mode: LockMode::Compliance,
            until: NOW + DAY,
        };
        assert_eq!(
            Retention::extension(Some(short), &l, NOW).map(|r| r.until),
            Some(NOW + 30 * DAY)
        );
        let long = Retention {
            mode: LockMode::Compliance,
            until: NOW + 90 * DAY,
        };
        assert_eq!(Retention::extension(Some(long), &l, NOW), None);
        let exact = Retention::for_write(&l, NOW);
        assert_eq!(Retention::extension(Some(exact), &l, NOW), None);
    }

    #[test]
    fn extension_keeps_the_objects_mode() {
        let compliance = Retention {
            mode: LockMode::Compliance,
            until: NOW + DAY,
        };
        assert_eq!(
            Retention::extension(Some(compliance), &lock(LockMode::Governance, 30), NOW),
            Some(Retention {
                mode: LockMode::Compliance,
                until: NOW + 30 * DAY
            })
        );
        // GOVERNANCE stays GOVERNANCE (S3 wants the bypass permission to
        // change it), and a date that suffices is left alone.
        let governance = Retention {
            mode: LockMode::Governance,
            until: NOW + DAY,
        };
        let compliance_30 = lock(LockMode::Compliance, 30);
        assert_eq!(
            Retention::extension(Some(governance), &compliance_30, NOW).map(|r| r.mode),
            Some(LockMode::Governance)
        );
        let long_governance = Retention {
            until: NOW + 90 * DAY,
            ..governance
        };
        assert_eq!(
            Retention::extension(Some(long_governance), &compliance_30, NOW),
            None
        );
    }
}
