//! Object Lock: the bucket's configuration and one object's retention. These
//! are what protects a kloset from rogue deletion, so a retention we cannot
//! read completely is an error, never a default.

use quick_xml::escape::escape;
use serde::Deserialize;

use super::document::{malformed, parse};
use super::S3_NAMESPACE;
use crate::config::LockMode;
use crate::error::Error;

const CONFIG_ROOT: &str = "ObjectLockConfiguration";
const RETENTION_ROOT: &str = "Retention";

/// A bucket's Object Lock configuration; values as the server sent them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectLockConfig {
    pub enabled: bool,
    pub default_mode: Option<LockMode>,
    pub default_days: Option<u32>,
    pub default_years: Option<u32>,
}

/// One object's retention: mode (`GOVERNANCE` or `COMPLIANCE`) and the
/// RetainUntilDate text (ISO 8601) as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub mode: String,
    pub retain_until: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigDocument {
    object_lock_enabled: Option<String>,
    rule: Option<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Rule {
    default_retention: Option<DefaultRetention>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DefaultRetention {
    mode: Option<String>,
    days: Option<u32>,
    years: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RetentionDocument {
    mode: Option<String>,
    retain_until_date: Option<String>,
}

/// Parses a GetObjectLockConfiguration answer. Lock is enabled only by the
/// exact value `Enabled`; an absent rule means no default retention.
pub fn parse_object_lock_config(body: &[u8]) -> Result<ObjectLockConfig, Error> {
    let config: ConfigDocument = parse(body, CONFIG_ROOT)?;
    let enabled = config.object_lock_enabled.as_deref().map(str::trim) == Some("Enabled");
    let Some(retention) = config.rule.and_then(|rule| rule.default_retention) else {
        return Ok(ObjectLockConfig {
            enabled,
            ..ObjectLockConfig::default()
        });
    };
    let default_mode =
        match non_empty(retention.mode) {
            None => None,
            Some(mode) => Some(LockMode::from_s3(&mode).ok_or_else(|| {
                malformed(CONFIG_ROOT, "Mode is neither GOVERNANCE nor COMPLIANCE")
            })?),
        };
    Ok(ObjectLockConfig {
        enabled,
        default_mode,
        default_days: retention.days,
        default_years: retention.years,
    })
}

/// The PutObjectRetention body. `retain_until_rfc3339` is sent as given.
pub fn retention_body(mode: &str, retain_until_rfc3339: &str) -> String {
    format!(
        "<Retention xmlns=\"{S3_NAMESPACE}\"><Mode>{}</Mode><RetainUntilDate>{}</RetainUntilDate></Retention>",
        escape(mode),
        escape(retain_until_rfc3339)
    )
}

/// Parses a GetObjectRetention answer; both elements are required.
pub fn parse_retention(body: &[u8]) -> Result<Retention, Error> {
    let retention: RetentionDocument = parse(body, RETENTION_ROOT)?;
    let mode =
        non_empty(retention.mode).ok_or_else(|| malformed(RETENTION_ROOT, "Mode is missing"))?;
    let retain_until = non_empty(retention.retain_until_date)
        .ok_or_else(|| malformed(RETENTION_ROOT, "RetainUntilDate is missing"))?;
    Ok(Retention { mode, retain_until })
}

fn non_empty(value: Option<String>) -> Option<String> {
    let value = value?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::samples::{AWS_LOCK_CONFIG, AWS_RETENTION};

    fn config(body: &str) -> ObjectLockConfig {
        parse_object_lock_config(body.as_bytes()).unwrap()
    }

    #[test]
    fn aws_lock_configuration() {
        assert_eq!(
            config(AWS_LOCK_CONFIG),
            ObjectLockConfig {
                enabled: true,
                default_mode: Some(LockMode::Compliance),
                default_days: Some(30),
                default_years: None,
            }
        );
    }

    #[test]
    fn enabled_without_rule_as_minio_sends_it() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
        assert_eq!(
            config(body),
            ObjectLockConfig {
                enabled: true,
                ..ObjectLockConfig::default()
            }
        );
        let body = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule/></ObjectLockConfiguration>";
        assert!(config(body).enabled);
    }

    #[test]
    fn years_and_reordered_elements() {
        let body = "<ObjectLockConfiguration><Rule><DefaultRetention><Years>2</Years><Mode> GOVERNANCE </Mode></DefaultRetention></Rule><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
        assert_eq!(
            config(body),
            ObjectLockConfig {
                enabled: true,
                default_mode: Some(LockMode::Governance),
                default_days: None,
                default_years: Some(2),
            }
        );
    }

    #[test]
    fn only_enabled_enables() {
        for value in [
            "",
            "<ObjectLockEnabled/>",
            "<ObjectLockEnabled>Disabled</ObjectLockEnabled>",
            "<ObjectLockEnabled>enabled</ObjectLockEnabled>",
        ] {
            let body = format!("<ObjectLockConfiguration>{value}</ObjectLockConfiguration>");
            assert!(!config(&body).enabled, "{value}");
        }
    }

    #[test]
    fn unknown_modes_are_errors() {
        let body = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>governance</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>";
        let err = parse_object_lock_config(body.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("Mode is neither"), "{err}");
    }

    #[test]
    fn bad_numbers_are_errors() {
        for days in ["-1", "x", "4294967296", ""] {
            let body = format!("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>{days}</Days></DefaultRetention></Rule></ObjectLockConfiguration>");
            let err = parse_object_lock_config(body.as_bytes()).unwrap_err();
            assert!(err
                .to_string()
                .starts_with("malformed <ObjectLockConfiguration> from server: "));
        }
    }

    #[test]
    fn retention_aws_syntax() {
        assert_eq!(
            parse_retention(AWS_RETENTION.as_bytes()).unwrap(),
            Retention {
                mode: "GOVERNANCE".into(),
                retain_until: "2030-01-01T00:00:00.000Z".into(),
            }
        );
    }

    #[test]
    fn retention_needs_both_elements() {
        for (body, missing) in [
            ("<Retention><Mode>COMPLIANCE</Mode></Retention>", "RetainUntilDate"),
            ("<Retention><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>", "Mode"),
            ("<Retention><Mode/><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>", "Mode"),
        ] {
            assert_eq!(
                parse_retention(body.as_bytes()).unwrap_err(),
                Error::Other(format!("malformed <Retention> from server: {missing} is missing"))
            );
        }
    }

    #[test]
    fn retention_body_reads_back() {
        let body = retention_body("COMPLIANCE", "2031-02-03T04:05:06Z");
        assert_eq!(
            body,
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>COMPLIANCE</Mode><RetainUntilDate>2031-02-03T04:05:06Z</RetainUntilDate></Retention>"
        );
        assert_eq!(
            parse_retention(body.as_bytes()).unwrap(),
            Retention {
                mode: "COMPLIANCE".into(),
                retain_until: "2031-02-03T04:05:06Z".into(),
            }
        );
        assert!(retention_body("<m>", "&")
            .contains("<Mode>&lt;m&gt;</Mode><RetainUntilDate>&amp;</RetainUntilDate>"));
    }
}
