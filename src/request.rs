//! A plain HTTP request as S3 sees it: what the signer signs and the transport
//! sends. Path and query are kept *decoded*; [`Request::path_and_query`] encodes
//! them with the same [`uri_encode`] the signer uses, so what goes on the wire is
//! byte for byte what was signed.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An HTTP request before or after signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub scheme: Scheme,
    /// `host` or `host:port`, exactly as the `Host` header will carry it (the
    /// default port of the scheme is omitted).
    pub authority: String,
    /// Decoded path, starting with `/`.
    pub path: String,
    /// Decoded query parameters, in any order (the signer sorts).
    pub query: Vec<(String, String)>,
    /// Header names in lower case. `host` is never here: the HTTP layer sets it
    /// from `authority`.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn new(method: Method, scheme: Scheme, authority: &str, path: &str) -> Self {
        Request {
            method,
            scheme,
            authority: authority.to_owned(),
            path: path.to_owned(),
            query: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.set_header(name, value);
        self
    }

    /// Sets a header, replacing any earlier value of the same name.
    pub fn set_header(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.to_owned()));
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The encoded path and sorted query, as sent on the request line.
    pub fn path_and_query(&self) -> String {
        let mut out = uri_encode(&self.path, false);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&canonical_query(&self.query));
        }
        out
    }

    /// The full URL, for messages (it carries no credential).
    pub fn url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority,
            self.path_and_query()
        )
    }
}

/// Percent-encodes everything but the unreserved characters of RFC 3986
/// (`A-Z a-z 0-9 - . _ ~`), as SigV4 requires; `/` is kept when `encode_slash` is
/// false (paths) and encoded when true (query names and values).
pub fn uri_encode(input: &str, encode_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
    out
}

/// The SigV4 canonical query string: each name and value encoded, pairs sorted
/// by encoded name then value, `name=value` joined with `&` (a parameter without
/// value still gets its `=`).
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_each_path_segment_once() {
        assert_eq!(uri_encode("/a b/ሴ/~x", false), "/a%20b/%E1%88%B4/~x");
        assert_eq!(uri_encode("a/b+c=", true), "a%2Fb%2Bc%3D");
    }

    #[test]
    fn path_and_query_sorts_and_encodes() {
        let r = Request::new(Method::Get, Scheme::Http, "127.0.0.1:9000", "/bucket")
            .query("prefix", "packfiles/")
            .query("list-type", "2")
            .query("continuation-token", "a+b/c=");
        assert_eq!(
            r.path_and_query(),
            "/bucket?continuation-token=a%2Bb%2Fc%3D&list-type=2&prefix=packfiles%2F"
        );
    }

    #[test]
    fn set_header_replaces_case_insensitively() {
        let mut r = Request::new(Method::Put, Scheme::Https, "h", "/");
        r.set_header("Content-MD5", "a");
        r.set_header("content-md5", "b");
        assert_eq!(r.headers, vec![("content-md5".into(), "b".into())]);
        assert_eq!(r.header_value("CONTENT-MD5"), Some("b"));
    }
}
