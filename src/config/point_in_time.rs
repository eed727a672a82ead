//! `point_in_time`: the kloset as it was at a past moment, read from the
//! versions a versioned bucket keeps (see [`crate::versions`]).
//!
//! Written as an RFC 3339 UTC time (`2026-11-30T12:00:00Z`) or as a
//! duration before now (`30m`, `12h`, `2d`). The configuration is parsed
//! without a clock, so a relative time is resolved, and a time in the future
//! refused, when the store is made ([`PointInTime::resolve`]).

use std::time::Duration;

use super::quantity::parse_duration;
use crate::calendar::{iso8601, parse_iso8601};
use crate::error::{Error, Result};

/// The configuration key, for messages.
pub const KEY: &str = "point_in_time";

/// A duration before now: a second at least, a century at most.
const BEFORE: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(36_500 * 86_400);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointInTime {
    /// Unix seconds, UTC.
    At(u64),
    /// That long before the store is made.
    Before(Duration),
}

impl PointInTime {
    /// A time as the key (or the `recover --to` argument) takes it. Only
    /// whole seconds and UTC: a local time would silently shift by hours.
    pub fn parse(text: &str) -> Result<PointInTime, String> {
        let text = text.trim();
        if text.starts_with(|c: char| c.is_ascii_digit()) && text.contains(['T', 't']) {
            if text.contains('.') {
                return Err(format!(
                    "`{text}`: give whole seconds (like 2026-11-30T12:00:00Z)"
                ));
            }
            return parse_iso8601(text).map(PointInTime::At).ok_or_else(|| {
                format!(
                    "`{text}` is not an RFC 3339 UTC time (like 2026-11-30T12:00:00Z; the \
                     offset must be Z or +00:00)"
                )
            });
        }
        parse_duration(text, BEFORE)
            .map(PointInTime::Before)
            .map_err(|_| {
                format!(
                    "`{text}` is neither an RFC 3339 UTC time (like 2026-11-30T12:00:00Z) nor a \
                     duration before now (like 30m, 12h, 2d)"
                )
            })
    }

    /// The moment, in unix seconds, given the time `now`; a moment after
    /// now is refused: the future has no versions yet.
    pub fn resolve(self, now: u64) -> Result<u64, String> {
        match self {
            PointInTime::At(at) if at > now => Err(format!(
                "{} is in the future (it is now {})",
                iso8601(at),
                iso8601(now)
            )),
            PointInTime::At(at) => Ok(at),
            PointInTime::Before(before) => now
                .checked_sub(before.as_secs())
                .ok_or_else(|| format!("{}s before now is before 1970", before.as_secs())),
        }
    }

    /// [`PointInTime::resolve`] as a configuration error naming the key.
    pub fn resolve_config(self, now: u64) -> Result<u64> {
        self.resolve(now).map_err(|m| Error::config(KEY, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_613_934; // 2026-11-25T13:38:54Z

    #[test]
    fn absolute_and_relative_times() {
        assert_eq!(
            PointInTime::parse("2026-11-25T12:00:00Z"),
            Ok(PointInTime::At(NOW - 5934))
        );
        assert_eq!(
            PointInTime::parse("2026-11-25T12:00:00+00:00"),
            Ok(PointInTime::At(NOW - 5934))
        );
        for (text, secs) in [("30m", 1800), ("12h", 43_200), ("2d", 172_800), ("90s", 90)] {
            let p = PointInTime::parse(text).unwrap();
            assert_eq!(p, PointInTime::Before(Duration::from_secs(secs)), "{text}");
            assert_eq!(p.resolve(NOW), Ok(NOW - secs), "{text}");
        }
    }

    #[test]
    fn the_future_and_bad_spellings_are_refused() {
        let later = PointInTime::parse("2026-11-25T13:38:55Z").unwrap();
        let err = later.resolve(NOW).unwrap_err();
        assert!(err.contains("in the future"), "{err}");
        assert_eq!(
            PointInTime::parse("2026-11-25T13:38:54Z")
                .unwrap()
                .resolve(NOW),
            Ok(NOW)
        );
        for bad in [
            "",
            "yesterday",
            "2026-11-25",
            "2026-11-25T12:00:00",
            "2026-11-25T12:00:00+01:00",
            "2026-11-25T12:00:00.5Z",
            "2026-13-25T12:00:00Z",
            "-2d",
            "0s",
            "2 days",
        ] {
            assert!(PointInTime::parse(bad).is_err(), "{bad:?}");
        }
        let err = PointInTime::At(NOW + 1).resolve_config(NOW).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { key, .. } if key == KEY),
            "{err}"
        );
    }
}
