//! Where the S3 service is: scheme, host and port, as written in `location`
//! or `endpoint`, and how requests address the bucket on it.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::pairs::quoted;
use super::quantity::parse_integer;
use crate::request::Scheme;

/// An S3 service (or, for virtual-host requests, a bucket on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Scheme,
    /// Lower case; an IPv6 address without its brackets.
    pub host: String,
    /// Always set: the scheme's default port when none was written.
    pub port: u16,
}

impl Endpoint {
    /// `host[:port]` as the `Host` header carries it: IPv6 in brackets, the
    /// scheme's default port omitted.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// How a request names the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `https://endpoint/bucket/key`: what self-hosted servers (MinIO, Ceph,
    /// Garage) expect.
    Path,
    /// `https://bucket.endpoint/key`: what AWS expects of new buckets.
    VirtualHost,
}

impl Addressing {
    pub fn as_str(self) -> &'static str {
        match self {
            Addressing::Path => "path",
            Addressing::VirtualHost => "virtual-host",
        }
    }
}

/// A `host[:port]` as written. The host keeps its case: without
/// `virtual_host`, a location's host may turn out to be a bucket name, and
/// bucket names are case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Authority {
    /// Without brackets for IPv6, without a trailing dot for names.
    pub host: String,
    pub port: Option<u16>,
}

impl Authority {
    /// Whether the host is an IP address, which cannot carry a bucket label.
    pub fn is_ip(&self) -> bool {
        self.host.contains(':') || self.host.parse::<Ipv4Addr>().is_ok()
    }

    pub fn same_host(&self, other: &Authority) -> bool {
        self.host.eq_ignore_ascii_case(&other.host)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`. A bare IPv6 address is refused:
/// there is no telling its last group from a port.
pub(super) fn parse_authority(text: &str) -> Result<Authority, String> {
    if let Some(bracketed) = text.strip_prefix('[') {
        return parse_ipv6_authority(bracketed);
    }
    if text.matches(':').count() > 1 {
        return Err(format!(
            "`{text}`: an IPv6 address must be written in brackets, like [::1]:9000"
        ));
    }
    let (host, port) = match text.split_once(':') {
        Some((host, port)) => (host, Some(parse_port(port)?)),
        None => (text, None),
    };
    check_host_name(host)?;
    let host = host.strip_suffix('.').unwrap_or(host).to_owned();
    Ok(Authority { host, port })
}

/// The part after `[` of a bracketed IPv6 authority.
fn parse_ipv6_authority(bracketed: &str) -> Result<Authority, String> {
    let (address, after) = bracketed
        .split_once(']')
        .ok_or("an IPv6 address misses its closing `]`")?;
    let address: Ipv6Addr = address
        .parse()
        .map_err(|_| format!("`{address}` is not an IPv6 address"))?;
    let port = match after {
        "" => None,
        _ => {
            let port = after
                .strip_prefix(':')
                .ok_or("`]` must be followed by `:port` or nothing")?;
            Some(parse_port(port)?)
        }
    };
    Ok(Authority {
        host: address.to_string(),
        port,
    })
}

/// Letters, digits, `-`, `_` (container names) and dots between non-empty
/// labels; one trailing dot (a fully qualified name) is allowed.
fn check_host_name(host: &str) -> Result<(), String> {
    let name = host.strip_suffix('.').unwrap_or(host);
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.is_empty() {
        return Err("the host is empty".into());
    }
    if name.len() > 255 || !name.split('.').all(valid_label) {
        return Err(format!("`{host}` is not a host name"));
    }
    Ok(())
}

/// A TCP port: digits only, 1 to 65535.
pub(super) fn parse_port(text: &str) -> Result<u16, String> {
    let not_a_port = || format!("{} is not a port (1 to 65535)", quoted(text));
    let port = parse_integer(text, 1..=65_535).map_err(|_| not_a_port())?;
    u16::try_from(port).map_err(|_| not_a_port())
}

/// The `endpoint` key: an authority, optionally with `http://` or `https://`
/// and a trailing `/` (Go's virtual-host code strips those too).
pub(super) fn parse_endpoint(text: &str) -> Result<(Option<Scheme>, Authority), String> {
    let (scheme, rest) = split_scheme(text);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let stray = |c: char| matches!(c, '/' | '@' | '?' | '#') || c.is_whitespace() || c.is_control();
    if rest.contains(stray) {
        return Err("must be host[:port], optionally after http:// or https://".into());
    }
    Ok((scheme, parse_authority(rest)?))
}

fn split_scheme(text: &str) -> (Option<Scheme>, &str) {
    for scheme in [Scheme::Https, Scheme::Http] {
        let head = format!("{}://", scheme.as_str());
        if let Some(rest) = strip_prefix_ignore_case(text, &head) {
            return (Some(scheme), rest);
        }
    }
    (None, text)
}

/// `text` without `prefix`, compared ignoring ASCII case.
pub(super) fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(host: &str, port: Option<u16>) -> Authority {
        Authority {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_names_ipv4_and_bracketed_ipv6() {
        assert_eq!(
            parse_authority("MinIO:9000"),
            Ok(authority("MinIO", Some(9000)))
        );
        assert_eq!(
            parse_authority("s3.example.com."),
            Ok(authority("s3.example.com", None))
        );
        assert_eq!(
            parse_authority("127.0.0.1"),
            Ok(authority("127.0.0.1", None))
        );
        assert_eq!(
            parse_authority("[::1]:9000"),
            Ok(authority("::1", Some(9000)))
        );
        assert_eq!(
            parse_authority("[FE80:0::1]"),
            Ok(authority("fe80::1", None))
        );
    }

    #[test]
    fn refuses_malformed_authorities() {
        let bad = [
            "",
            ":9000",
            "h:",
            "h:0",
            "h:65536",
            "h:+80",
            "h:80:81",
            "::1",
            "[::1",
            "[::1]9000",
            "[nope]",
            "a..b",
            ".a",
            "h%41",
            "h\u{e9}",
            "[::1]:",
        ];
        for text in bad {
            assert!(parse_authority(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn endpoint_may_carry_a_scheme_and_a_trailing_slash() {
        let plain = parse_endpoint("s3.fr-par.scw.cloud").unwrap();
        assert_eq!(plain, (None, authority("s3.fr-par.scw.cloud", None)));
        let http = parse_endpoint("HTTP://localhost:9000/").unwrap();
        assert_eq!(
            http,
            (Some(Scheme::Http), authority("localhost", Some(9000)))
        );
        for bad in [
            "s3://h",
            "https://h/path",
            "https://user@h",
            "h ",
            "https://",
            "ftp://h",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn authority_brackets_ipv6_and_omits_default_ports() {
        let endpoint = |scheme, host: &str, port| Endpoint {
            scheme,
            host: host.into(),
            port,
        };
        assert_eq!(endpoint(Scheme::Https, "h", 443).authority(), "h");
        assert_eq!(endpoint(Scheme::Http, "h", 80).authority(), "h");
        assert_eq!(endpoint(Scheme::Http, "h", 443).authority(), "h:443");
        assert_eq!(
            endpoint(Scheme::Http, "::1", 9000).authority(),
            "[::1]:9000"
        );
        assert_eq!(endpoint(Scheme::Https, "::1", 443).authority(), "[::1]");
    }
}
