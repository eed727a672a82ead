//! SigV4 task 1: the canonical request, the exact text client and server both
//! hash. Any byte of difference is a `SignatureDoesNotMatch` with no hint why,
//! so every rule here is pinned by the AWS test suite.

use std::borrow::Cow;

use crate::request::{uri_encode, Method};

/// The signed headers in canonical form.
pub(super) struct CanonicalHeaders {
    /// `name:value\n` per header name, sorted by name.
    lines: String,
    /// `name;name;…`, the `SignedHeaders` list.
    pub(super) names: String,
}

impl CanonicalHeaders {
    /// `host` (the authority the HTTP layer sends as `Host`) plus every request
    /// header. Values of a repeated name are joined with `,` in request order,
    /// which is why the sort must be stable.
    pub(super) fn new(authority: &str, headers: &[(String, String)]) -> Self {
        let mut all: Vec<(String, String)> = std::iter::once(("host", authority))
            .chain(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .map(|(name, value)| (name.to_ascii_lowercase(), canonical_value(value)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lines = String::new();
        let mut names = Vec::new();
        for group in all.chunk_by(|a, b| a.0 == b.0) {
            let values: Vec<&str> = group.iter().map(|(_, v)| v.as_str()).collect();
            lines.push_str(&format!("{}:{}\n", group[0].0, values.join(",")));
            names.push(group[0].0.as_str());
        }
        let names = names.join(";");
        CanonicalHeaders { lines, names }
    }
}

/// Trims the value and collapses each run of whitespace to one space. A folded
/// (multi-line) value arrives with its line breaks replaced by spaces (RFC 7230
/// §3.2.4) or still containing them; both collapse the same way.
fn canonical_value(value: &str) -> String {
    value.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// The encoded path. S3 signs the path as sent (`/a/../b` and `//` are object
/// key bytes there); other services sign it with dot segments removed and
/// empty segments collapsed. Each segment is encoded once.
pub(super) fn canonical_path(path: &str, normalize: bool) -> String {
    let path = if normalize {
        Cow::Owned(normalized_path(path))
    } else {
        Cow::Borrowed(path)
    };
    uri_encode(&path, false)
}

/// RFC 3986 §5.2.4 dot-segment removal, plus the collapsing of `//` the SigV4
/// suite expects; a trailing `/` (or a trailing `.`/`..`, which denote a
/// directory) is kept.
fn normalized_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = format!("/{}", segments.join("/"));
    let ends_as_directory = matches!(path.rsplit('/').next(), Some("" | "." | ".."));
    if !segments.is_empty() && ends_as_directory {
        out.push('/');
    }
    out
}

/// The six lines of the canonical request; the headers block ends with its own
/// newline, hence the blank line before the signed-header list.
pub(super) fn canonical_request(
    method: Method,
    canonical_path: &str,
    canonical_query: &str,
    headers: &CanonicalHeaders,
    payload_hash: &str,
) -> String {
    format!(
        "{method}\n{canonical_path}\n{canonical_query}\n{}\n{}\n{payload_hash}",
        headers.lines, headers.names
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn s3_paths_are_signed_as_sent() {
        assert_eq!(canonical_path("/b/a/../k", false), "/b/a/../k");
        assert_eq!(canonical_path("/b//k/./x", false), "/b//k/./x");
        assert_eq!(
            canonical_path("/b/test$file.text", false),
            "/b/test%24file.text"
        );
        // A key holding a `%` is encoded once more, never passed through.
        assert_eq!(canonical_path("/b/100%", false), "/b/100%25");
    }

    #[test]
    fn normalized_paths_follow_rfc_3986() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("/a/b/../c", "/a/c"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/../a", "/a"),
            ("//a//b//", "/a/b/"),
            ("/a/b/../../..", "/"),
        ];
        for (path, want) in cases {
            assert_eq!(canonical_path(path, true), want, "path {path:?}");
        }
    }

    #[test]
    fn header_names_are_lower_cased_and_sorted_with_host() {
        let h = CanonicalHeaders::new(
            "127.0.0.1:9000",
            &headers(&[("X-Amz-Date", "d"), ("Content-Type", "t")]),
        );
        assert_eq!(h.names, "content-type;host;x-amz-date");
        assert_eq!(
            h.lines,
            "content-type:t\nhost:127.0.0.1:9000\nx-amz-date:d\n"
        );
    }

    #[test]
    fn values_are_trimmed_collapsed_and_joined() {
        let h = CanonicalHeaders::new(
            "h",
            &headers(&[("a", "  x \t y\n  z "), ("b", "2"), ("a", "1")]),
        );
        assert_eq!(h.lines, "a:x y z,1\nb:2\nhost:h\n");
    }
}
