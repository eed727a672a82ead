//! Numbers as people write them in a configuration: counts (`10`), byte sizes
//! (`16MiB`) and durations (`30s`). Each parser takes the accepted range, so
//! the message for an out-of-range value says what would have been accepted.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::pairs::quoted;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Size suffixes: binary multiples only. `MB` is refused because half the
/// world reads it as 10^6 and half as 2^20.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("k", KIB),
    ("kib", KIB),
    ("m", MIB),
    ("mib", MIB),
    ("g", GIB),
    ("gib", GIB),
];

const SECOND_MS: u64 = 1000;
const DAY_MS: u64 = 86_400 * SECOND_MS;

/// Duration suffixes, in milliseconds; a bare number is seconds.
const DURATION_UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("", SECOND_MS),
    ("s", SECOND_MS),
    ("m", 60 * SECOND_MS),
    ("h", 3600 * SECOND_MS),
    ("d", DAY_MS),
    ("y", 365 * DAY_MS),
];

/// A plain decimal integer (digits only: no sign, no spaces) within `range`.
pub(super) fn parse_integer(text: &str, range: RangeInclusive<u32>) -> Result<u32, String> {
    let Some((value, "")) = split_number(text) else {
        return Err(format!("{} is not a whole number", quoted(text)));
    };
    let wide = u64::from(*range.start())..=u64::from(*range.end());
    // Within a u32 range, so the cast is exact.
    within(text, value, wide, |n| n.to_string()).map(|n| n as u32)
}

/// Bytes: `5242880`, `16MiB`, `16M` (K, M, G are powers of 1024).
pub(super) fn parse_size(text: &str, range: RangeInclusive<u64>) -> Result<u64, String> {
    let bytes = scaled(text, |unit| {
        SIZE_UNITS
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(unit))
    })
    .ok_or_else(|| {
        let text = quoted(text);
        format!("{text} is not a size (bytes, or a number with KiB, MiB or GiB)")
    })?;
    within(text, bytes, range, describe_size)
}

/// A duration: `500ms`, `30s`, `5m`, `2h`, `30d`, `1y` (365 days); a bare
/// number is seconds.
pub(super) fn parse_duration(
    text: &str,
    range: RangeInclusive<Duration>,
) -> Result<Duration, String> {
    let ms =
        scaled(text, |unit| DURATION_UNITS.iter().find(|(u, _)| *u == unit)).ok_or_else(|| {
            let text = quoted(text);
            format!("{text} is not a duration (like 500ms, 30s, 5m, 2h, 30d, 1y)")
        })?;
    within(text, Duration::from_millis(ms), range, describe_duration)
}

/// `value` if in `range`, else a message naming the bound it crosses.
fn within<T: PartialOrd + Copy>(
    text: &str,
    value: T,
    range: RangeInclusive<T>,
    show: impl Fn(T) -> String,
) -> Result<T, String> {
    if value < *range.start() {
        Err(format!(
            "{} is less than {}",
            quoted(text),
            show(*range.start())
        ))
    } else if value > *range.end() {
        Err(format!(
            "{} is more than {}",
            quoted(text),
            show(*range.end())
        ))
    } else {
        Ok(value)
    }
}

/// The number times the multiple of its unit, or `None` when the text is not
/// digits followed by a known unit, or the product overflows.
fn scaled<'u>(text: &str, unit: impl Fn(&str) -> Option<&'u (&'u str, u64)>) -> Option<u64> {
    let (number, suffix) = split_number(text)?;
    let (_, multiple) = unit(suffix)?;
    number.checked_mul(*multiple)
}

/// The leading decimal digits (at least one) and whatever follows them.
fn split_number(text: &str) -> Option<(u64, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, rest) = text.split_at(digits);
    Some((number.parse().ok()?, rest))
}

/// `bytes` in the largest unit that divides it exactly, for messages.
fn describe_size(bytes: u64) -> String {
    largest_exact(bytes, &[(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")])
        .unwrap_or_else(|| format!("{bytes} bytes"))
}

/// `duration` in the largest unit that divides it exactly, for messages.
fn describe_duration(duration: Duration) -> String {
    let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let units = [
        (DAY_MS, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (SECOND_MS, "s"),
    ];
    largest_exact(ms, &units).unwrap_or_else(|| format!("{ms}ms"))
}

fn largest_exact(value: u64, units: &[(u64, &str)]) -> Option<String> {
    let (multiple, name) = units
        .iter()
        .find(|(m, _)| value != 0 && value.is_multiple_of(*m))?;
    Some(format!("{}{name}", value / multiple))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: RangeInclusive<Duration> = Duration::ZERO..=Duration::MAX;

    #[test]
    fn sizes_are_binary_multiples() {
        let all = 0..=u64::MAX;
        assert_eq!(parse_size("5242880", all.clone()), Ok(5 * MIB));
        assert_eq!(parse_size("16MiB", all.clone()), Ok(16 * MIB));
        assert_eq!(parse_size("16m", all.clone()), Ok(16 * MIB));
        assert_eq!(parse_size("1GiB", all.clone()), Ok(GIB));
        assert_eq!(parse_size("64K", all.clone()), Ok(64 * KIB));
        for bad in [
            "",
            "MiB",
            "16MB",
            "16 MiB",
            "-1",
            "+5",
            "1.5GiB",
            "99999999999999999999G",
        ] {
            assert!(parse_size(bad, all.clone()).is_err(), "{bad:?}");
        }
        let message = parse_size("1MiB", 5 * MIB..=5 * GIB).unwrap_err();
        assert_eq!(message, "`1MiB` is less than 5MiB");
        let message = parse_size("6GiB", 5 * MIB..=5 * GIB).unwrap_err();
        assert_eq!(message, "`6GiB` is more than 5GiB");
    }

    #[test]
    fn durations_take_one_unit_and_bare_seconds() {
        assert_eq!(parse_duration("500ms", ANY), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30", ANY), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s", ANY), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m", ANY), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h", ANY), Ok(Duration::from_secs(7200)));
        assert_eq!(
            parse_duration("30d", ANY),
            Ok(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(
            parse_duration("1y", ANY),
            Ok(Duration::from_secs(365 * 86_400))
        );
        for bad in [
            "",
            "s",
            "1h30m",
            "1.5h",
            "5M",
            "5 s",
            "-1s",
            "1w",
            "18446744073709551615y",
        ] {
            assert!(parse_duration(bad, ANY).is_err(), "{bad:?}");
        }
        let day = Duration::from_secs(86_400);
        let message = parse_duration("12h", day..=day * 36_500).unwrap_err();
        assert_eq!(message, "`12h` is less than 1d");
        let message = parse_duration("100001d", day..=day * 36_500).unwrap_err();
        assert_eq!(message, "`100001d` is more than 36500d");
        let message = parse_duration("0", Duration::from_millis(1)..=Duration::MAX).unwrap_err();
        assert_eq!(message, "`0` is less than 1ms");
    }

    #[test]
    fn integers_are_digits_within_range() {
        assert_eq!(parse_integer("10000", 1..=10_000), Ok(10_000));
        for bad in ["0", "10001", "", "+1", " 1", "1e3", "4294967296"] {
            assert!(parse_integer(bad, 1..=10_000).is_err(), "{bad:?}");
        }
    }
}
