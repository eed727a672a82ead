//! The SigV4 timestamp. The clock is injected (unix seconds), so signing is a
//! pure function and tests reproduce published signatures exactly; the calendar
//! arithmetic lives in [`crate::calendar`] rather than in a date crate.

use crate::calendar::utc_fields;

/// `YYYYMMDD'T'HHMMSS'Z'` (UTC) for a unix time, the form of `x-amz-date`.
pub fn amz_date(unix_time: u64) -> String {
    let [year, month, day, hour, minute, second] = utc_fields(unix_time);
    format!("{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z")
}

/// The `YYYYMMDD` part of an [`amz_date`]: the date of the credential scope.
pub(super) fn date_stamp(amz_date: &str) -> &str {
    amz_date.split_once('T').map_or(amz_date, |(date, _)| date)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from GNU `date -u -d @<secs>`, an independent oracle.
    #[test]
    fn formats_known_instants() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(253_402_300_799), "99991231T235959Z");
    }

    #[test]
    fn handles_leap_days() {
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(951_782_400 - 1), "20000228T235959Z");
        // 2100 is not a leap year: 28 February is followed by 1 March.
        assert_eq!(amz_date(4_107_542_400), "21000301T000000Z");
        assert_eq!(amz_date(4_107_542_400 - 1), "21000228T235959Z");
    }

    #[test]
    fn goes_past_2038() {
        assert_eq!(amz_date(2_147_483_647), "20380119T031407Z");
        assert_eq!(amz_date(2_147_483_648), "20380119T031408Z");
    }

    #[test]
    fn never_overflows() {
        assert!(amz_date(u64::MAX).ends_with('Z'));
    }

    #[test]
    fn date_stamp_is_the_day() {
        assert_eq!(date_stamp("20150830T123600Z"), "20150830");
    }
}
