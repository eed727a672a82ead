//! The egress policy: the component may reach exactly one destination, the
//! endpoint of its own configuration. Everything else (another host, another
//! port, another scheme, credentials smuggled in the authority, anything
//! after the host but the port) is denied.
//!
//! [`Policy::check`] is a pure decision on a URI: no DNS, no I/O. The whole
//! authority must be `host[:port]`, and hosts are compared canonically
//! (case-insensitive names, one trailing dot ignored, IP literals as
//! addresses), never by resolving them: `localhost` is not `127.0.0.1`. A
//! request the policy allows carries the configured authority as its `Host`
//! ([`Policy::host_header`]), whatever spelling of it the guest used.

use std::fmt;
use std::net::IpAddr;

use kloset_s3::config::Endpoint;
use kloset_s3::request::Scheme;

/// The one destination a store may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    scheme: Scheme,
    host: CanonicalHost,
    port: u16,
    /// `host[:port]` as the configuration writes it (and the component signs it).
    authority: String,
}

/// Why a request was refused. Never carries the URI's user information, path or
/// query, which may hold secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The authority carries `user[:password]@`.
    UserInfo,
    Scheme(String),
    Host(String),
    Port(u16),
    /// The authority is not `host[:port]`: text after an IPv6 literal's `]`,
    /// an empty or non-numeric port.
    Authority(String),
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::UserInfo => f.write_str("the request URI carries user information"),
            Denied::Scheme(s) => write!(f, "scheme `{s}` is not the endpoint's"),
            Denied::Host(h) => write!(f, "host `{h}` is not the endpoint's"),
            Denied::Port(p) => write!(f, "port {p} is not the endpoint's"),
            Denied::Authority(a) => write!(f, "authority `{a}` is not host[:port]"),
        }
    }
}

impl std::error::Error for Denied {}

impl Policy {
    /// The policy allowing `endpoint` only. `None` if its host is not a usable
    /// host (a name or an IP literal, IPv6 with or without brackets).
    pub fn new(endpoint: &Endpoint) -> Option<Policy> {
        Some(Policy {
            scheme: endpoint.scheme,
            host: CanonicalHost::parse(&endpoint.host)?,
            port: endpoint.port,
            authority: endpoint.authority(),
        })
    }

    /// Whether a request to `uri` may leave the sandbox.
    pub fn check(&self, uri: &http::Uri) -> Result<(), Denied> {
        let scheme = uri.scheme_str().unwrap_or_default();
        if !scheme.eq_ignore_ascii_case(self.scheme.as_str()) {
            return Err(Denied::Scheme(scheme.to_owned()));
        }
        // `http::Uri` refuses a scheme without an authority; stay total anyway.
        let authority = uri.authority().ok_or(Denied::Host(String::new()))?;
        let authority = authority.as_str();
        if authority.contains('@') {
            return Err(Denied::UserInfo);
        }
        // Split by hand: `http::uri::Authority` reads `[::1]evil:80` as host
        // `[::1]`, port 80, and would let the text between through.
        let (host, port) =
            split_authority(authority).ok_or_else(|| Denied::Authority(authority.to_owned()))?;
        if CanonicalHost::parse(host).as_ref() != Some(&self.host) {
            return Err(Denied::Host(host.to_owned()));
        }
        let port = port.unwrap_or_else(|| self.scheme.default_port());
        if port != self.port {
            return Err(Denied::Port(port));
        }
        Ok(())
    }

    /// The `Host` of every allowed request: the configured authority, so the
    /// server sees the virtual host the configuration names and no other.
    pub fn host_header(&self) -> &str {
        &self.authority
    }
}

/// `host` and `port` of `host[:port]`, the host an IPv6 literal in brackets
/// or text without `:`, `[` or `]`; the port, when written, decimal digits.
/// `None` for anything else.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, rest) = match authority.strip_prefix('[') {
        Some(v6) => {
            let close = v6.find(']')?;
            authority.split_at(close + 2)
        }
        None => match authority.find(':') {
            Some(colon) => authority.split_at(colon),
            None => (authority, ""),
        },
    };
    if host.is_empty() || (!host.starts_with('[') && host.contains([']', '['])) {
        return None;
    }
    let port = match rest {
        "" => None,
        _ => {
            let digits = rest.strip_prefix(':')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(digits.parse().ok()?)
        }
    };
    Some((host, port))
}

/// A host in the one form two spellings of the same destination share.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CanonicalHost {
    /// IPv4-mapped IPv6 addresses are stored as IPv4.
    Ip(IpAddr),
    /// Lower case, without the trailing dot of a fully qualified name.
    Name(String),
}

impl CanonicalHost {
    fn parse(host: &str) -> Option<CanonicalHost> {
        let unbracketed = host.strip_prefix('[').map(|h| h.strip_suffix(']'));
        match unbracketed {
            Some(Some(v6)) => v6.parse::<IpAddr>().ok().filter(IpAddr::is_ipv6),
            Some(None) => None,
            None => host.parse::<IpAddr>().ok(),
        }
        .map(|ip| CanonicalHost::Ip(ip.to_canonical()))
        .or_else(|| Self::name(host))
    }

    fn name(host: &str) -> Option<CanonicalHost> {
        let name = host.strip_suffix('.').unwrap_or(host);
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        valid.then(|| CanonicalHost::Name(name.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(scheme: Scheme, host: &str, port: u16) -> Endpoint {
        Endpoint {
            scheme,
            host: host.to_owned(),
            port,
        }
    }

    fn policy(scheme: Scheme, host: &str, port: u16) -> Policy {
        Policy::new(&endpoint(scheme, host, port)).expect("valid policy host")
    }

    fn check(policy: &Policy, uri: &str) -> Result<(), Denied> {
        policy.check(&uri.parse().expect("test URI parses"))
    }

    fn local(port: u16) -> Policy {
        policy(Scheme::Http, "127.0.0.1", port)
    }

    #[test]
    fn allows_the_endpoint_itself() {
        assert_eq!(
            check(&local(9000), "http://127.0.0.1:9000/bucket?list-type=2"),
            Ok(())
        );
    }

    #[test]
    fn fills_in_the_default_port_of_the_scheme() {
        let https = policy(Scheme::Https, "s3.example.com", 443);
        assert_eq!(check(&https, "https://s3.example.com/bucket"), Ok(()));
        assert_eq!(check(&https, "https://s3.example.com:443/bucket"), Ok(()));
        let http = policy(Scheme::Http, "s3.example.com", 80);
        assert_eq!(check(&http, "http://s3.example.com/"), Ok(()));
        assert_eq!(
            check(&http, "http://s3.example.com:443/"),
            Err(Denied::Port(443))
        );
    }

    #[test]
    fn denies_another_port() {
        assert_eq!(
            check(&local(9000), "http://127.0.0.1:9001/"),
            Err(Denied::Port(9001))
        );
        assert_eq!(
            check(&local(9000), "http://127.0.0.1/"),
            Err(Denied::Port(80))
        );
    }

    #[test]
    fn denies_another_scheme() {
        assert_eq!(
            check(&local(9000), "https://127.0.0.1:9000/"),
            Err(Denied::Scheme("https".into()))
        );
        let https = policy(Scheme::Https, "s3.example.com", 443);
        assert_eq!(
            check(&https, "http://s3.example.com:443/"),
            Err(Denied::Scheme("http".into()))
        );
        assert_eq!(
            check(&https, "ftp://s3.example.com:443/"),
            Err(Denied::Scheme("ftp".into()))
        );
    }

    #[test]
    fn denies_a_relative_uri() {
        assert_eq!(
            local(9000).check(&http::Uri::from_static("/bucket")),
            Err(Denied::Scheme(String::new()))
        );
    }

    #[test]
    fn denies_user_information_whatever_host_follows() {
        for uri in [
            "http://127.0.0.1:9000@127.0.0.1:9001/",
            "http://127.0.0.1:9001@127.0.0.1:9000/",
            "http://user:secret@127.0.0.1:9000/",
            "http://@127.0.0.1:9000/",
        ] {
            let denied = check(&local(9000), uri).expect_err(uri);
            assert_eq!(denied, Denied::UserInfo, "{uri}");
            assert!(!denied.to_string().contains("secret"));
        }
    }

    #[test]
    fn denies_other_loopback_addresses_and_localhost() {
        for (uri, host) in [
            ("http://127.0.0.2:9000/", "127.0.0.2"),
            ("http://localhost:9000/", "localhost"),
            ("http://[::1]:9000/", "[::1]"),
            ("http://0.0.0.0:9000/", "0.0.0.0"),
        ] {
            assert_eq!(
                check(&local(9000), uri),
                Err(Denied::Host(host.into())),
                "{uri}"
            );
        }
        let by_name = policy(Scheme::Http, "localhost", 9000);
        assert_eq!(
            check(&by_name, "http://127.0.0.1:9000/"),
            Err(Denied::Host("127.0.0.1".into()))
        );
    }

    #[test]
    fn denies_non_loopback_destinations() {
        for (uri, host) in [
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
            ),
            ("http://169.254.169.254:9000/", "169.254.169.254"),
            ("http://10.0.0.1:9000/", "10.0.0.1"),
            ("http://example.com:9000/", "example.com"),
            ("http://s3.amazonaws.com:9000/", "s3.amazonaws.com"),
            (
                "http://metadata.google.internal:9000/",
                "metadata.google.internal",
            ),
        ] {
            assert_eq!(
                check(&local(9000), uri),
                Err(Denied::Host(host.into())),
                "{uri}"
            );
        }
    }

    #[test]
    fn denies_ipv6_variants_and_metadata_addresses() {
        for uri in [
            // AWS's IPv6 instance metadata, link-local, and NAT64 for 169.254.169.254.
            "http://[fd00:ec2::254]:9000/",
            "http://[fe80::a9fe:a9fe]:9000/",
            "http://[64:ff9b::a9fe:a9fe]:9000/",
            "http://[::]:9000/",
            "http://[2001:db8::1]:9000/",
            // IPv4-compatible (deprecated) is not IPv4-mapped: another address.
            "http://[::127.0.0.1]:9000/",
            // A name, however much it looks like the address.
            "http://127.0.0.1.:9000/",
        ] {
            assert!(
                matches!(check(&local(9000), uri), Err(Denied::Host(_))),
                "{uri}"
            );
        }
        let v6 = policy(Scheme::Http, "::1", 9000);
        for uri in [
            "http://[::ffff:127.0.0.1]:9000/",
            "http://[::1%25lo]:9000/",
            "http://localhost:9000/",
        ] {
            let denied = uri.parse::<http::Uri>().map(|u| v6.check(&u));
            assert!(!matches!(denied, Ok(Ok(()))), "{uri}");
        }
    }

    #[test]
    fn denies_alternative_spellings_of_ipv4_addresses() {
        // Browsers read these as 127.0.0.1; they are names to us, and unequal.
        for uri in [
            "http://127.1:9000/",
            "http://2130706433:9000/",
            "http://0x7f.0.0.1:9000/",
            "http://0177.0.0.1:9000/",
        ] {
            assert!(
                matches!(check(&local(9000), uri), Err(Denied::Host(_))),
                "{uri}"
            );
        }
    }

    #[test]
    fn compares_host_names_case_insensitively() {
        let p = policy(Scheme::Https, "S3.Example.COM", 443);
        assert_eq!(check(&p, "https://s3.example.com/"), Ok(()));
        assert_eq!(check(&p, "https://S3.EXAMPLE.com/"), Ok(()));
    }

    #[test]
    fn ignores_one_trailing_dot_of_a_fully_qualified_name() {
        let p = policy(Scheme::Https, "s3.example.com", 443);
        assert_eq!(check(&p, "https://s3.example.com./"), Ok(()));
        let fqdn = policy(Scheme::Https, "s3.example.com.", 443);
        assert_eq!(check(&fqdn, "https://s3.example.com/"), Ok(()));
        assert!(matches!(
            check(&p, "https://s3.example.com../"),
            Err(Denied::Host(_))
        ));
    }

    #[test]
    fn denies_names_that_only_share_a_prefix_or_suffix() {
        let p = policy(Scheme::Https, "s3.example.com", 443);
        for uri in [
            "https://s3.example.com.evil.net/",
            "https://evil-s3.example.com/",
            "https://s3.example.co/",
            "https://xs3.example.com/",
        ] {
            assert!(matches!(check(&p, uri), Err(Denied::Host(_))), "{uri}");
        }
    }

    #[test]
    fn compares_ipv6_addresses_canonically() {
        let p = policy(Scheme::Http, "::1", 9000);
        assert_eq!(check(&p, "http://[::1]:9000/"), Ok(()));
        assert_eq!(check(&p, "http://[0:0:0:0:0:0:0:1]:9000/"), Ok(()));
        assert_eq!(check(&p, "http://[0000::0001]:9000/"), Ok(()));
        assert!(matches!(
            check(&p, "http://[::2]:9000/"),
            Err(Denied::Host(_))
        ));
        assert!(matches!(
            check(&p, "http://127.0.0.1:9000/"),
            Err(Denied::Host(_))
        ));
        let bracketed = policy(Scheme::Http, "[::1]", 9000);
        assert_eq!(check(&bracketed, "http://[::1]:9000/"), Ok(()));
    }

    #[test]
    fn reads_ipv4_mapped_ipv6_as_the_ipv4_address() {
        assert_eq!(
            check(&local(9000), "http://[::ffff:127.0.0.1]:9000/"),
            Ok(())
        );
        assert!(matches!(
            check(&local(9000), "http://[::ffff:169.254.169.254]:9000/"),
            Err(Denied::Host(_))
        ));
    }

    #[test]
    fn rejects_unusable_policy_hosts() {
        for host in ["", ".", "[::1", "[127.0.0.1]", "a b", "a/b", "%31"] {
            assert_eq!(
                Policy::new(&endpoint(Scheme::Http, host, 80)),
                None,
                "{host:?}"
            );
        }
    }

    #[test]
    fn denial_messages_name_what_differs() {
        let denied = check(&local(9000), "http://169.254.169.254/x?X-Amz-Signature=abc");
        let message = denied.expect_err("denied").to_string();
        assert_eq!(message, "host `169.254.169.254` is not the endpoint's");
    }

    #[test]
    fn the_whole_authority_must_be_host_and_port() {
        let p = local(18080);
        for uri in [
            // wasi-http and `http::Uri` read the host up to `]`, and the rest
            // became the Host header: another virtual host on the same socket.
            "http://[::ffff:127.0.0.1]evil.example.com:18080/",
            "http://[::ffff:127.0.0.1]:18080evil/",
            "http://127.0.0.1:/",
            "http://127.0.0.1:+18080/",
            "http://127.0.0.1:18080:18080/",
        ] {
            // What `http` refuses to parse cannot be sent either.
            if let Ok(parsed) = uri.parse::<http::Uri>() {
                let checked = p.check(&parsed);
                assert!(
                    matches!(checked, Err(Denied::Authority(_))),
                    "{uri}: {checked:?}"
                );
            }
        }
        let message = check(&p, "http://[::ffff:127.0.0.1]evil.example.com:18080/")
            .expect_err("denied")
            .to_string();
        assert_eq!(
            message,
            "authority `[::ffff:127.0.0.1]evil.example.com:18080` is not host[:port]"
        );
    }

    #[test]
    fn split_authority_takes_exactly_host_and_port() {
        assert_eq!(split_authority("a.b:9000"), Some(("a.b", Some(9000))));
        assert_eq!(split_authority("a.b"), Some(("a.b", None)));
        assert_eq!(split_authority("[::1]:80"), Some(("[::1]", Some(80))));
        assert_eq!(split_authority("[::1]"), Some(("[::1]", None)));
        assert_eq!(split_authority("a.b:09000"), Some(("a.b", Some(9000))));
        for bad in [
            "", ":80", "[::1", "[::1]x", "[::1]:", "a:b", "a:99999", "a]b:1", "a:1:2",
        ] {
            assert_eq!(split_authority(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_host_header_is_the_configured_authority() {
        assert_eq!(local(9000).host_header(), "127.0.0.1:9000");
        let https = policy(Scheme::Https, "bucket.s3.example.com", 443);
        assert_eq!(https.host_header(), "bucket.s3.example.com");
        assert_eq!(
            policy(Scheme::Http, "::1", 9000).host_header(),
            "[::1]:9000"
        );
        // Any spelling the guest used of the same destination.
        assert_eq!(
            check(&local(9000), "http://[::ffff:127.0.0.1]:9000/"),
            Ok(())
        );
    }
}
