//! UTC calendar arithmetic and the ISO 8601 timestamps S3 exchanges (Object
//! Lock retain-until dates). One place for what signing (`x-amz-date`),
//! `Retry-After` dates and retention dates all need, so no date crate enters
//! the component. Times are Unix seconds, injected by the caller.

const SECONDS_PER_DAY: u64 = 86_400;

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01:
/// Howard Hinnant's `civil_from_days`, restricted to non-negative days so the
/// whole computation stays in unsigned integers (no overflow for any `u64`
/// time, as the day count is at most `u64::MAX / 86400`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so the leap day ends each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

pub fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`: the RFC 3339 form minio-go and the AWS SDKs send
/// as `x-amz-object-lock-retain-until-date` and in `<RetainUntilDate>`.
pub fn iso8601(unix_time: u64) -> String {
    let [year, month, day, hour, minute, second] = utc_fields(unix_time);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

/// Year, month, day, hour, minute and second (UTC) of a unix time: what every
/// timestamp format we write is made of.
pub fn utc_fields(unix_time: u64) -> [u64; 6] {
    let (year, month, day) = civil_from_days(unix_time / SECONDS_PER_DAY);
    let secs = unix_time % SECONDS_PER_DAY;
    [year, month, day, secs / 3600, secs % 3600 / 60, secs % 60]
}

/// Reads an RFC 3339 UTC timestamp as servers send retain-until dates
/// (`2030-01-01T00:00:00Z`, `...00.000Z`, `...00.551189Z`, `...+00:00`).
/// A fraction of a second rounds *up*: a retention read back must never look
/// shorter than it is. Offsets other than zero, and dates before 1970, are
/// refused (`None`) rather than guessed.
pub fn parse_iso8601(text: &str) -> Option<u64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't'])?;
    let time = time
        .strip_suffix(['Z', 'z'])
        .or_else(|| time.strip_suffix("+00:00"))?;
    let (time, fraction) = match time.split_once('.') {
        Some((time, fraction)) => (time, Some(fraction)),
        None => (time, None),
    };
    let rounds_up = match fraction {
        None => false,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.bytes().any(|b| b != b'0')
        }
        Some(_) => return None,
    };
    let [year, month, day] = fields(date, '-', [4, 2, 2])?;
    let [hour, minute, second] = fields(time, ':', [2, 2, 2])?;
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    u64::try_from(seconds)
        .ok()?
        .checked_add(u64::from(rounds_up))
}

/// Three numbers of exactly the given digit counts, separated by `separator`.
fn fields(text: &str, separator: char, widths: [usize; 3]) -> Option<[i64; 3]> {
    let mut parts = text.split(separator);
    let mut out = [0; 3];
    for (value, width) in out.iter_mut().zip(widths) {
        let part = parts.next()?;
        if part.len() != width || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *value = part.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from GNU `date -u -d @<secs> +%Y-%m-%dT%H:%M:%SZ`, an
    // independent oracle.
    const KNOWN: [(u64, &str); 7] = [
        (0, "1970-01-01T00:00:00Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (1_440_938_160, "2015-08-30T12:36:00Z"),
        (2_147_483_648, "2038-01-19T03:14:08Z"),
        (1_795_613_934, "2026-11-25T13:38:54Z"),
        (4_107_542_399, "2100-02-28T23:59:59Z"),
        (253_402_300_799, "9999-12-31T23:59:59Z"),
    ];

    #[test]
    fn formats_known_instants() {
        for (secs, text) in KNOWN {
            assert_eq!(iso8601(secs), text);
        }
    }

    #[test]
    fn parses_what_it_formats() {
        for (secs, text) in KNOWN {
            assert_eq!(parse_iso8601(text), Some(secs), "{text}");
        }
    }

    #[test]
    fn parses_server_variants() {
        // AWS sends milliseconds, radosgw microseconds, some servers an offset.
        let base = 1_893_456_000; // 2030-01-01T00:00:00Z
        assert_eq!(parse_iso8601("2030-01-01T00:00:00.000Z"), Some(base));
        assert_eq!(parse_iso8601("2030-01-01T00:00:00+00:00"), Some(base));
        assert_eq!(parse_iso8601(" 2030-01-01t00:00:00z "), Some(base));
        // Any fraction rounds up, never down.
        assert_eq!(parse_iso8601("2030-01-01T00:00:00.551189Z"), Some(base + 1));
        assert_eq!(parse_iso8601("2030-01-01T00:00:00.001Z"), Some(base + 1));
    }

    #[test]
    fn refuses_what_it_cannot_read_exactly() {
        for text in [
            "",
            "2030-01-01",
            "2030-01-01T00:00:00",
            "2030-01-01T00:00:00+02:00",
            "2030-01-01 00:00:00Z",
            "2030-13-01T00:00:00Z",
            "2030-02-29T00:00:00Z",
            "2030-01-01T24:00:00Z",
            "2030-01-01T00:60:00Z",
            "2030-1-01T00:00:00Z",
            "2030-01-01T00:00:00.Z",
            "2030-01-01T00:00:00.5xZ",
            "1969-12-31T23:59:59Z",
            "+2030-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_iso8601(text), None, "{text:?}");
        }
    }

    #[test]
    fn civil_conversions_agree() {
        for days in (0..200_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            let back = days_from_civil(y as i64, m as i64, d as i64);
            assert_eq!(back, days as i64);
            assert!(d as i64 <= days_in_month(y as i64, m as i64));
        }
    }

    #[test]
    fn leap_years() {
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2100, 2), 28);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 2), 28);
    }
}
