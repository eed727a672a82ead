//! The `location` URL and the keys that refine it (`endpoint`, `port`,
//! `root`, `use_tls`, `virtual_host`), resolved as Plakar's Go connector
//! resolves them, so both find the same bucket and prefix. Where Go silently
//! picks one of two contradicting values, we refuse and name the key.

use super::endpoint::{parse_authority, parse_endpoint, parse_port, strip_prefix_ignore_case};
use super::endpoint::{Authority, Endpoint};
use super::pairs::Pairs;
use crate::error::{Error, Result};
use crate::request::Scheme;

/// The service, bucket and prefix a configuration designates.
pub(super) struct Site {
    pub endpoint: Endpoint,
    pub bucket: String,
    /// `""` or `a/b/`.
    pub prefix: String,
}

/// `s3://<host[:port]>[/<segments>]`, taken apart.
struct Location {
    host: Authority,
    /// The decoded path, split at `/`.
    segments: Vec<String>,
}

pub(super) fn resolve(keys: &Pairs, virtual_host: bool) -> Result<Site> {
    let location = keys
        .parse("location", parse_location)?
        .ok_or_else(|| Error::config("location", "required"))?;
    let endpoint = keys.parse_text("endpoint", parse_endpoint)?;
    let root = keys.parse_text("root", segments)?.unwrap_or_default();
    let server = endpoint.as_ref().map(|(_, authority)| authority);
    let (bucket, prefix) = place(&location, server, root, virtual_host)?;
    Ok(Site {
        endpoint: service(keys, location.host, endpoint)?,
        bucket,
        prefix: prefix.iter().map(|s| format!("{s}/")).collect(),
    })
}

/// Strict where Go's `url.Parse` is lax: a location with credentials, a
/// query or a fragment is a mistake, not something to drop silently.
fn parse_location(text: &str) -> Result<Location, String> {
    if text.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    let rest = strip_prefix_ignore_case(text, "s3://").ok_or("must start with s3://")?;
    if rest.contains(['?', '#']) {
        return Err("must not contain a query (`?`) or a fragment (`#`)".into());
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return Err(
            "must not contain credentials (`user@`): use access_key and secret_access_key".into(),
        );
    }
    Ok(Location {
        host: parse_authority(authority)?,
        segments: segments(&percent_decode(path)?)?,
    })
}

/// Go decodes the location path (`%20` is a space), so we do too.
fn percent_decode(text: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        if byte != b'%' {
            out.push(byte);
            continue;
        }
        let hex = tail
            .get(..2)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
        let hex = hex.ok_or("has a `%` not followed by two hex digits")?;
        out.push(hex.iter().fold(0, |n, &h| n * 16 + hex_value(h)));
        rest = &tail[2..];
    }
    String::from_utf8(out).map_err(|_| "percent-decodes to invalid UTF-8".into())
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        _ => (digit | 0x20) - b'a' + 10,
    }
}

/// The names of a `/`-separated path; the leading and one trailing `/` are
/// optional. Empty, `.` and `..` names are refused: servers and clients
/// disagree on what they mean.
fn segments(path: &str) -> Result<Vec<String>, String> {
    if path.contains(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let inner = path.strip_prefix('/').unwrap_or(path);
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    inner
        .split('/')
        .map(|segment| match segment {
            "" => Err("has an empty path segment (`//`)".to_owned()),
            "." | ".." => Err(format!("has a `{segment}` path segment")),
            _ => Ok(segment.to_owned()),
        })
        .collect()
}

/// The bucket and prefix segments.
fn place(
    location: &Location,
    endpoint: Option<&Authority>,
    root: Vec<String>,
    virtual_host: bool,
) -> Result<(String, Vec<String>)> {
    match endpoint {
        None if virtual_host => Err(Error::config(
            "virtual_host",
            "needs `endpoint`: the service host that the location host ends with",
        )),
        Some(endpoint) if virtual_host => virtual_hosted(location, endpoint, root),
        Some(endpoint) if !endpoint.same_host(&location.host) => {
            path_style(&bucket_in_host(location)?, &root)
        }
        _ => path_style(&location.segments, &root),
    }
}

/// Go: with an `endpoint` that is not the location's host, that host is the
/// bucket (`s3://mybucket/pfx` + `endpoint=s3.fr-par.scw.cloud`).
fn bucket_in_host(location: &Location) -> Result<Vec<String>> {
    if let Some(port) = location.host.port {
        return Err(Error::config(
            "location",
            format!(
                "its host `{}` differs from `endpoint`, so it names the bucket, which cannot have a port ({port})",
                location.host.host
            ),
        ));
    }
    let mut segments = vec![location.host.host.clone()];
    segments.extend(location.segments.iter().cloned());
    Ok(segments)
}

/// Go's `SplitPathStyle`: the path is `<bucket>/<prefix>`; a root that starts
/// with that bucket reads as `/<bucket>/<prefix>`, any other root is the
/// prefix. Go ignores a location prefix that disagrees with root; we refuse.
fn path_style(location: &[String], root: &[String]) -> Result<(String, Vec<String>)> {
    let Some((bucket, location_prefix)) = location.split_first() else {
        let (bucket, prefix) = root.split_first().ok_or_else(|| {
            Error::config(
                "location",
                "names no bucket: write s3://<host>/<bucket>[/<prefix>]",
            )
        })?;
        return Ok((checked_bucket(bucket, "root")?, prefix.to_vec()));
    };
    let bucket = checked_bucket(bucket, "location")?;
    let root_prefix = match root.split_first() {
        None => return Ok((bucket, location_prefix.to_vec())),
        Some((first, prefix)) if *first == bucket => prefix,
        Some(_) => root,
    };
    if !location_prefix.is_empty() && location_prefix != root_prefix {
        return Err(prefix_conflict(location_prefix, root_prefix));
    }
    Ok((bucket, root_prefix.to_vec()))
}

/// Go's `SplitVirtualHost`: the location host is `<bucket>.<endpoint>`, and
/// the prefix comes from the location path or from `root`.
fn virtual_hosted(
    location: &Location,
    endpoint: &Authority,
    root: Vec<String>,
) -> Result<(String, Vec<String>)> {
    if endpoint.is_ip() {
        return Err(Error::config(
            "virtual_host",
            "needs a host name as `endpoint`, not an IP address",
        ));
    }
    let host = location.host.host.to_ascii_lowercase();
    let suffix = format!(".{}", endpoint.host.to_ascii_lowercase());
    let bucket = host
        .strip_suffix(&suffix)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            let message = format!("the location host `{host}` is not <bucket>{suffix}");
            Error::config("endpoint", message)
        })?;
    let bucket = checked_bucket(bucket, "location")?;
    let path = &location.segments;
    if !path.is_empty() && !root.is_empty() && *path != root {
        return Err(prefix_conflict(path, &root));
    }
    let prefix = if path.is_empty() { root } else { path.clone() };
    Ok((bucket, prefix))
}

fn prefix_conflict(location: &[String], root: &[String]) -> Error {
    let prefix = |segments: &[String]| match segments {
        [] => "no prefix".to_owned(),
        _ => format!("prefix `{}`", segments.join("/")),
    };
    let message = format!(
        "gives {} where the location gives {}",
        prefix(root),
        prefix(location)
    );
    Error::config("root", message)
}

/// Any name S3 ever accepted, legacy buckets included (upper case, `_`).
fn checked_bucket(name: &str, key: &str) -> Result<String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    if (1..=255).contains(&name.len()) && name.bytes().all(allowed) {
        return Ok(name.to_owned());
    }
    let message = format!("`{name}` is not a bucket name (1 to 255 of A-Z a-z 0-9 . _ -)");
    Err(Error::config(key, message))
}

/// The service endpoint: host from `endpoint` or the location; port and
/// scheme from wherever they are given, as long as no two sources disagree.
fn service(
    keys: &Pairs,
    location: Authority,
    endpoint: Option<(Option<Scheme>, Authority)>,
) -> Result<Endpoint> {
    let (scheme, server) = endpoint.unwrap_or((None, location.clone()));
    let port = agree(location.port, server.port, "endpoint", "the location's")?;
    let port_key = keys.parse_text("port", parse_port)?;
    let port = agree(port, port_key, "port", "the location's or endpoint's")?;
    let scheme = scheme_of(keys.bool("use_tls")?, scheme)?;
    Ok(Endpoint {
        scheme,
        host: server.host.to_ascii_lowercase(),
        port: port.unwrap_or(scheme.default_port()),
    })
}

/// One port from two optional sources; `key` names the second on conflict.
fn agree(first: Option<u16>, second: Option<u16>, key: &str, whose: &str) -> Result<Option<u16>> {
    match (first, second) {
        (Some(a), Some(b)) if a != b => Err(Error::config(
            key,
            format!("port {b} differs from {whose} port {a}"),
        )),
        _ => Ok(first.or(second)),
    }
}

/// `use_tls` and the endpoint's `http://`/`https://` must agree; either
/// decides alone, and HTTPS is the default.
fn scheme_of(use_tls: Option<bool>, written: Option<Scheme>) -> Result<Scheme> {
    let from_flag = |tls: bool| if tls { Scheme::Https } else { Scheme::Http };
    match (use_tls.map(from_flag), written) {
        (Some(flag), Some(written)) if flag != written => Err(Error::config(
            "endpoint",
            format!(
                "says {}:// but use_tls says {}",
                written.as_str(),
                flag.as_str()
            ),
        )),
        (flag, written) => Ok(flag.or(written).unwrap_or(Scheme::Https)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn segments_refuse_empty_and_dot_names() {
        assert_eq!(segments("/"), Ok(vec![]));
        assert_eq!(segments("/b/p/q/"), Ok(names(&["b", "p", "q"])));
        assert_eq!(segments("pfx"), Ok(names(&["pfx"])));
        for bad in ["//", "/b//p", "/b/./p", "/b/..", "/b/p//", "/b/\u{7}"] {
            assert!(segments(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn percent_decoding_matches_go() {
        assert_eq!(
            percent_decode("/b/my%20prefix%2fx").as_deref(),
            Ok("/b/my prefix/x")
        );
        assert_eq!(percent_decode("/%C3%A9").as_deref(), Ok("/\u{e9}"));
        for bad in ["/%", "/%2", "/%zz", "/%+f", "/%FF"] {
            assert!(percent_decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn go_split_path_style_cases() {
        let split = |location: &[&str], root: &[&str]| path_style(&names(location), &names(root));
        let ok = |bucket: &str, prefix: &[&str]| Ok((bucket.to_owned(), names(prefix)));
        assert_eq!(split(&["b", "p"], &[]), ok("b", &["p"]));
        assert_eq!(split(&["b"], &["p", "q"]), ok("b", &["p", "q"]));
        assert_eq!(split(&["b"], &["b", "p"]), ok("b", &["p"]));
        assert_eq!(split(&["b", "p"], &["b", "p"]), ok("b", &["p"]));
        assert_eq!(split(&["b", "p"], &["p"]), ok("b", &["p"]));
        assert_eq!(split(&[], &["b", "p"]), ok("b", &["p"]));
        // Go answers ("b", "") and ("b", "q") here, dropping the location's prefix.
        assert!(split(&["b", "p"], &["b"]).is_err());
        assert!(split(&["b", "p"], &["q"]).is_err());
        assert!(split(&[], &[]).is_err());
    }
}
