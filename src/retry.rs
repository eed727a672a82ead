//! When to send a failed S3 request again, and after how long. Pure decisions:
//! the caller measures time and draws the random number, so every decision is
//! reproducible in a test. A connection lost mid-answer may be retried
//! because a request sent twice ends as if sent once: GETs, HEADs, DELETEs,
//! part uploads and retention settings are idempotent; a conditional PUT or
//! CompleteMultipartUpload whose first attempt landed answers 412 or 404,
//! and the write then settles on what the key holds (see `upload`). The one
//! exception, CreateMultipartUpload, cleans up before it is sent again
//! (`Client::send_non_idempotent`).
//!
//! Backoff is "full jitter" (AWS Architecture Blog, "Exponential Backoff and
//! Jitter"): the delay is uniform in `[0, min(MAX_BACKOFF, INITIAL_BACKOFF *
//! BACKOFF_BASE^attempt)]`, which spreads many clients' retries the most.

use std::time::Duration;

use crate::calendar::{days_from_civil, days_in_month};

/// The backoff ceiling of the first retry.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// No backoff ceiling grows beyond this (a server's Retry-After may).
const MAX_BACKOFF: Duration = Duration::from_secs(20);
/// Each retry multiplies the ceiling by this.
const BACKOFF_BASE: u32 = 2;

/// HTTP statuses that say "not now" rather than "never".
const RETRYABLE_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// S3 error codes that are transient whatever the status (S3 answers
/// RequestTimeout with 400, and an error inside a 200 CompleteMultipartUpload).
const RETRYABLE_CODES: [&str; 8] = [
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequests",
];

/// How hard to try: at most `max_retries` retries, none starting after
/// `budget` has passed since the first try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub budget: Duration,
}

impl Default for RetryPolicy {
    /// object_store's defaults: 10 retries within 3 minutes.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 10,
            budget: Duration::from_secs(180),
        }
    }
}

/// How a try failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// An HTTP answer; `code` is the S3 error code, `""` if none.
    Status {
        status: u16,
        code: &'a str,
        retry_after: Option<Duration>,
    },
    /// Refused, reset or closed before a complete answer.
    Connection,
    /// Connect, first byte or between bytes took too long.
    Timeout,
    /// The host's egress policy refused the request: retrying cannot help.
    Denied,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Retry(Duration),
    GiveUp,
}

impl RetryPolicy {
    /// Decides after a failed try. `attempt` is the number of retries already
    /// made (0 after the first try failed), `elapsed` the time since the first
    /// try began, `random` a fresh random number. A server's Retry-After wins
    /// when longer than our backoff, but never stretches past the budget.
    pub fn decide(
        &self,
        outcome: &Outcome<'_>,
        attempt: u32,
        elapsed: Duration,
        random: u64,
    ) -> Decision {
        let retry_after = match *outcome {
            Outcome::Denied => return Decision::GiveUp,
            Outcome::Status {
                status,
                code,
                retry_after,
            } => {
                if !is_retryable(status, code) {
                    return Decision::GiveUp;
                }
                retry_after
            }
            Outcome::Connection | Outcome::Timeout => None,
        };
        if attempt >= self.max_retries {
            return Decision::GiveUp;
        }
        let delay = jittered_backoff(attempt, random).max(retry_after.unwrap_or_default());
        match elapsed.checked_add(delay) {
            Some(resume) if resume <= self.budget => Decision::Retry(delay),
            _ => Decision::GiveUp,
        }
    }
}

/// Whether an S3 answer is worth trying again. Authentication errors, missing
/// objects, failed preconditions and other client errors never are.
pub fn is_retryable(status: u16, code: &str) -> bool {
    RETRYABLE_CODES.contains(&code) || RETRYABLE_STATUSES.contains(&status)
}

/// Reads a Retry-After header: delta-seconds or an IMF-fixdate (RFC 9110
/// §10.2.3), relative to `now_unix`. A date in the past means "now"; a number
/// too large for u64 saturates. `None` if it is neither form.
pub fn parse_retry_after(value: &str, now_unix: u64) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let wait = i128::from(parse_imf_fixdate(value)?) - i128::from(now_unix);
    Some(Duration::from_secs(u64::try_from(wait).unwrap_or(0)))
}

fn backoff_ceiling(attempt: u32) -> Duration {
    INITIAL_BACKOFF
        .saturating_mul(BACKOFF_BASE.saturating_pow(attempt))
        .min(MAX_BACKOFF)
}

/// Uniform in `[0, ceiling]`: `random / u64::MAX` of the ceiling.
fn jittered_backoff(attempt: u32, random: u64) -> Duration {
    let ceiling = backoff_ceiling(attempt).as_nanos();
    let nanos = ceiling * u128::from(random) / u128::from(u64::MAX);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Sun, 06 Nov 1994 08:49:37 GMT` → Unix seconds (may be negative).
fn parse_imf_fixdate(value: &str) -> Option<i64> {
    let (day_name, rest) = value.split_once(", ")?;
    if !DAY_NAMES.contains(&day_name) {
        return None;
    }
    let fields: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = fields[..] else {
        return None;
    };
    let month = MONTH_NAMES.iter().position(|m| *m == month)? + 1;
    let month = i64::try_from(month).ok()?;
    let year = digits(year, 4)?;
    let day = digits(day, 2)?;
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let time: Vec<&str> = time.split(':').collect();
    let [hour, minute, second] = time[..] else {
        return None;
    };
    let (hour, minute, second) = (digits(hour, 2)?, digits(minute, 2)?, digits(second, 2)?);
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Exactly `count` ASCII digits.
fn digits(text: &str, count: usize) -> Option<i64> {
    if text.len() != count || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_RANDOM: u64 = u64::MAX;
    const MID_RANDOM: u64 = u64::MAX / 2;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            budget: Duration::from_secs(60),
        }
    }

    fn status(status: u16, code: &str) -> Outcome<'_> {
        Outcome::Status {
            status,
            code,
            retry_after: None,
        }
    }

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(s, ""), "{s}");
        }
        for s in [
            200, 204, 301, 304, 400, 401, 403, 404, 405, 409, 411, 412, 413, 416, 501, 505,
        ] {
            assert!(!is_retryable(s, ""), "{s}");
        }
    }

    #[test]
    fn retryable_codes_whatever_the_status() {
        for code in RETRYABLE_CODES {
            for s in [200, 400, 403, 503] {
                assert!(is_retryable(s, code), "{s} {code}");
            }
        }
    }

    #[test]
    fn never_retried_codes() {
        for (s, code) in [
            (403, "SignatureDoesNotMatch"),
            (403, "InvalidAccessKeyId"),
            (403, "RequestTimeTooSkewed"),
            (403, "AccessDenied"),
            (400, "ExpiredToken"),
            (404, "NoSuchKey"),
            (404, "NoSuchBucket"),
            (412, "PreconditionFailed"),
            (400, "InvalidArgument"),
            (400, "BadDigest"),
            (409, "BucketNotEmpty"),
            (501, "NotImplemented"),
            (200, ""),
        ] {
            assert!(!is_retryable(s, code), "{s} {code}");
            assert_eq!(
                policy().decide(&status(s, code), 0, Duration::ZERO, MAX_RANDOM),
                Decision::GiveUp
            );
        }
    }

    #[test]
    fn backoff_doubles_from_100ms_up_to_20s() {
        let expected = [
            100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 20_000, 20_000,
        ];
        for (attempt, millis) in (0..).zip(expected) {
            assert_eq!(backoff_ceiling(attempt), ms(millis), "attempt {attempt}");
            assert_eq!(jittered_backoff(attempt, MAX_RANDOM), ms(millis));
            assert_eq!(jittered_backoff(attempt, 0), Duration::ZERO);
            let half = jittered_backoff(attempt, MID_RANDOM);
            assert!(ms(millis) / 2 - half <= Duration::from_nanos(1), "{half:?}");
        }
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        for attempt in [31, 32, 64, 1000, u32::MAX] {
            assert_eq!(backoff_ceiling(attempt), MAX_BACKOFF);
            assert_eq!(jittered_backoff(attempt, MAX_RANDOM), MAX_BACKOFF);
        }
        let generous = RetryPolicy {
            max_retries: u32::MAX,
            budget: Duration::MAX,
        };
        assert_eq!(
            generous.decide(&Outcome::Timeout, 1000, Duration::from_secs(1), MAX_RANDOM),
            Decision::Retry(MAX_BACKOFF)
        );
        assert_eq!(
            generous.decide(&Outcome::Timeout, 1000, Duration::MAX, 0),
            Decision::Retry(Duration::ZERO)
        );
        assert_eq!(
            generous.decide(&Outcome::Timeout, 1000, Duration::MAX, MAX_RANDOM),
            Decision::GiveUp
        );
    }

    #[test]
    fn decides_with_jitter_for_retryable_failures() {
        let p = policy();
        assert_eq!(
            p.decide(&status(503, "SlowDown"), 0, Duration::ZERO, MAX_RANDOM),
            Decision::Retry(ms(100))
        );
        assert_eq!(
            p.decide(
                &status(400, "RequestTimeout"),
                2,
                Duration::ZERO,
                MAX_RANDOM
            ),
            Decision::Retry(ms(400))
        );
        assert_eq!(
            p.decide(&Outcome::Connection, 3, Duration::ZERO, 0),
            Decision::Retry(Duration::ZERO)
        );
        assert_eq!(
            p.decide(&Outcome::Timeout, 1, Duration::ZERO, MAX_RANDOM),
            Decision::Retry(ms(200))
        );
    }

    #[test]
    fn denied_is_never_retried() {
        let generous = RetryPolicy {
            max_retries: u32::MAX,
            budget: Duration::MAX,
        };
        assert_eq!(
            generous.decide(&Outcome::Denied, 0, Duration::ZERO, 0),
            Decision::GiveUp
        );
    }

    #[test]
    fn stops_after_max_retries() {
        let p = policy();
        assert_eq!(
            p.decide(&Outcome::Connection, 4, Duration::ZERO, 0),
            Decision::Retry(Duration::ZERO)
        );
        assert_eq!(
            p.decide(&Outcome::Connection, 5, Duration::ZERO, 0),
            Decision::GiveUp
        );
        let never = RetryPolicy {
            max_retries: 0,
            ..policy()
        };
        assert_eq!(
            never.decide(&Outcome::Connection, 0, Duration::ZERO, 0),
            Decision::GiveUp
        );
    }

    #[test]
    fn stops_when_the_budget_is_spent() {
        let p = policy();
        // 59.9 s elapsed + 100 ms = exactly the budget: still allowed.
        assert_eq!(
            p.decide(&Outcome::Timeout, 0, ms(59_900), MAX_RANDOM),
            Decision::Retry(ms(100))
        );
        assert_eq!(
            p.decide(&Outcome::Timeout, 0, ms(59_901), MAX_RANDOM),
            Decision::GiveUp
        );
        assert_eq!(
            p.decide(&Outcome::Timeout, 0, ms(60_001), 0),
            Decision::GiveUp
        );
    }

    #[test]
    fn retry_after_wins_when_longer_within_budget() {
        let p = policy();
        let asks = |secs| Outcome::Status {
            status: 503,
            code: "SlowDown",
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            p.decide(&asks(30), 0, Duration::ZERO, MAX_RANDOM),
            Decision::Retry(Duration::from_secs(30))
        );
        // Longer than MAX_BACKOFF is honoured too.
        assert_eq!(
            p.decide(&asks(50), 0, Duration::ZERO, 0),
            Decision::Retry(Duration::from_secs(50))
        );
        let shorter = Outcome::Status {
            status: 429,
            code: "",
            retry_after: Some(ms(50)),
        };
        assert_eq!(
            p.decide(&shorter, 3, Duration::ZERO, MAX_RANDOM),
            Decision::Retry(ms(800))
        );
        assert_eq!(
            p.decide(&asks(30), 0, Duration::from_secs(31), 0),
            Decision::GiveUp
        );
        // Retry-After never makes a non-retryable answer retryable.
        let forbidden = Outcome::Status {
            status: 403,
            code: "AccessDenied",
            retry_after: Some(ms(1)),
        };
        assert_eq!(p.decide(&forbidden, 0, Duration::ZERO, 0), Decision::GiveUp);
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after("120", 0), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", 5), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", 0),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in ["", " ", "-1", "+5", "1.5", "5s", "0x10", "1 2"] {
            assert_eq!(parse_retry_after(bad, 0), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_as_http_date() {
        // RFC 9110's example date is 784111777 in Unix time.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(
            parse_retry_after(date, 784_111_777 - 10),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after(date, 784_111_777), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(date, 784_111_777 + 500),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(date, u64::MAX), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Fri, 01 Mar 2024 00:00:30 GMT", 1_709_251_200),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Thu, 29 Feb 2024 23:59:60 GMT", 1_709_251_200),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_imf_fixdate("Wed, 31 Dec 1969 23:59:59 GMT"), Some(-1));
    }

    #[test]
    fn malformed_http_dates_are_refused() {
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 nov 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 29 Feb 2023 08:49:37 GMT",
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 08:49:61 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov +994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, 0), None, "{bad}");
        }
    }
}
