//! An object's metadata as extended attributes and back, so that a bucket
//! backed up by the importer and restored by the exporter keeps what Plakar's
//! Go importer loses (content type, user metadata, cache and encoding
//! headers, storage class, tags).
//!
//! The names (all under `s3.`, so they never collide with a file's own
//! attributes; a Linux filesystem keeps them as `user.s3.*`):
//!
//! | attribute | S3 |
//! |---|---|
//! | `s3.content-type`, `s3.content-encoding`, `s3.content-disposition`, `s3.content-language`, `s3.cache-control`, `s3.expires` | the header of the same name |
//! | `s3.meta.<name>` | `x-amz-meta-<name>` (user metadata) |
//! | `s3.storage-class` | the storage class (`STANDARD`, ...) |
//! | `s3.etag` | the ETag, without quotes (read only: the server makes it) |
//! | `s3.tagging` | the tag set, URL-encoded (`k1=v1&k2=v2`), as `x-amz-tagging` takes it |

use crate::actions::META_PART_SIZE;
use crate::client::header;
use crate::config::StorageClass;
use crate::request::uri_encode;

/// Attributes named from a header of the same name.
const PLAIN: [&str; 6] = [
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
];
const NAMESPACE: &str = "s3.";
const META: &str = "s3.meta.";
const USER_METADATA: &str = "x-amz-meta-";
pub const STORAGE_CLASS: &str = "s3.storage-class";
pub const ETAG: &str = "s3.etag";
pub const TAGGING: &str = "s3.tagging";

/// What an object is, as it was listed and answered a HEAD.
pub struct Described<'a> {
    pub headers: &'a [(String, String)],
    /// The listing's, used when the HEAD does not say (S3 omits STANDARD).
    pub storage_class: &'a str,
    pub etag: &'a str,
    /// None when the server keeps no tags.
    pub tags: Option<&'a [(String, String)]>,
}

/// The attributes of an object, in a stable order.
pub fn of_object(object: &Described<'_>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = PLAIN
        .iter()
        .filter_map(|name| {
            header(object.headers, name).map(|v| (format!("{NAMESPACE}{name}"), v.to_owned()))
        })
        .collect();
    let mut meta: Vec<(String, String)> = object
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            let user = name.strip_prefix(USER_METADATA)?;
            Some((format!("{META}{user}"), value.clone()))
        })
        .collect();
    meta.sort();
    out.extend(meta);
    let class = header(object.headers, "x-amz-storage-class").unwrap_or(object.storage_class);
    if !class.is_empty() {
        out.push((STORAGE_CLASS.into(), class.to_owned()));
    }
    if !object.etag.is_empty() {
        out.push((ETAG.into(), object.etag.to_owned()));
    }
    if let Some(tags) = object.tags.filter(|tags| !tags.is_empty()) {
        out.push((TAGGING.into(), encode_tags(tags)));
    }
    out
}

/// A tag set as `x-amz-tagging` takes it: `k1=v1&k2=v2`, each percent-encoded.
pub fn encode_tags(tags: &[(String, String)]) -> String {
    let pairs: Vec<String> = tags
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k, true), uri_encode(v, true)))
        .collect();
    pairs.join("&")
}

/// What a restored object is written with.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Sent as given with the PUT or CreateMultipartUpload.
    pub headers: Vec<(String, String)>,
    pub storage_class: Option<StorageClass>,
}

/// The headers that restore `attributes`. Attributes outside `s3.` are
/// other tools' and ignored; `s3.etag` is the server's to make, and
/// `s3.meta.kloset-part-size` says how the backed-up object was cut, not how
/// the restored one is, so neither is written. An unknown `s3.` name, or a
/// value no header can carry, is refused naming the attribute.
pub fn to_headers(attributes: &[(String, String)]) -> Result<Restored, String> {
    let mut restored = Restored::default();
    let skipped = format!("{META}{}", &META_PART_SIZE[USER_METADATA.len()..]);
    for (name, value) in attributes {
        if !name.starts_with(NAMESPACE) || name == ETAG || *name == skipped {
            continue;
        }
        if !value
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            return Err(format!(
                "attribute `{name}`: its value is not printable ASCII, which no S3 header carries"
            ));
        }
        let header = header_of(name)?;
        if name == STORAGE_CLASS {
            let class = StorageClass::parse(value.trim())
                .map_err(|e| format!("attribute `{name}`: {e}"))?;
            restored.storage_class = Some(class);
            continue;
        }
        if restored.headers.iter().any(|(h, _)| *h == header) {
            return Err(format!("attribute `{name}` is given twice"));
        }
        restored.headers.push((header, value.clone()));
    }
    Ok(restored)
}

/// The header an `s3.` attribute is written as.
fn header_of(name: &str) -> Result<String, String> {
    if let Some(user) = name.strip_prefix(META) {
        let token = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
        if user.is_empty() || !user.bytes().all(token) {
            return Err(format!(
                "attribute `{name}`: user metadata names are letters, digits, `-`, `_` and `.`"
            ));
        }
        return Ok(format!("{USER_METADATA}{}", user.to_ascii_lowercase()));
    }
    let short = &name[NAMESPACE.len()..];
    match short {
        _ if PLAIN.contains(&short) => Ok(short.to_owned()),
        "storage-class" => Ok("x-amz-storage-class".into()),
        "tagging" => Ok("x-amz-tagging".into()),
        _ => Err(format!(
            "unknown attribute `{name}` (the s3. attributes are s3.content-type, \
             s3.content-encoding, s3.content-disposition, s3.content-language, \
             s3.cache-control, s3.expires, s3.meta.<name>, s3.storage-class, s3.etag, \
             s3.tagging)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_objects_metadata_becomes_attributes() {
        let headers = pairs(&[
            ("content-length", "5"),
            ("content-type", "text/plain"),
            ("cache-control", "no-cache"),
            ("x-amz-meta-Zeta", "z"),
            ("x-amz-meta-alpha", "a b"),
            ("x-amz-request-id", "r"),
        ]);
        let tags = pairs(&[("project", "kloset s3"), ("a&b", "=")]);
        let attributes = of_object(&Described {
            headers: &headers,
            storage_class: "STANDARD",
            etag: "abc",
            tags: Some(&tags),
        });
        assert_eq!(
            attributes,
            pairs(&[
                ("s3.content-type", "text/plain"),
                ("s3.cache-control", "no-cache"),
                ("s3.meta.alpha", "a b"),
                ("s3.meta.zeta", "z"),
                ("s3.storage-class", "STANDARD"),
                ("s3.etag", "abc"),
                ("s3.tagging", "project=kloset%20s3&a%26b=%3D"),
            ])
        );
        let none = of_object(&Described {
            headers: &[],
            storage_class: "",
            etag: "",
            tags: Some(&[]),
        });
        assert_eq!(none, []);
    }

    #[test]
    fn attributes_restore_the_same_headers() {
        let headers = pairs(&[
            ("content-type", "text/plain"),
            ("expires", "Thu, 01 Dec 2094 16:00:00 GMT"),
            ("x-amz-meta-alpha", "a b"),
            ("x-amz-meta-kloset-xxh3", "00"),
            ("x-amz-meta-kloset-part-size", "5242880"),
            ("x-amz-storage-class", "STANDARD_IA"),
        ]);
        let tags = pairs(&[("k", "v w")]);
        let mut attributes = of_object(&Described {
            headers: &headers,
            storage_class: "",
            etag: "e",
            tags: Some(&tags),
        });
        attributes.push(("user.other-tool".into(), "ignored".into()));
        let restored = to_headers(&attributes).unwrap();
        assert_eq!(restored.storage_class, Some(StorageClass::StandardIa));
        assert_eq!(
            restored.headers,
            pairs(&[
                ("content-type", "text/plain"),
                ("expires", "Thu, 01 Dec 2094 16:00:00 GMT"),
                ("x-amz-meta-alpha", "a b"),
                ("x-amz-meta-kloset-xxh3", "00"),
                ("x-amz-tagging", "k=v%20w"),
            ])
        );
    }

    #[test]
    fn bad_attributes_are_refused_naming_them() {
        for (name, value, expected) in [
            ("s3.colour", "red", "unknown attribute `s3.colour`"),
            ("s3.meta.", "x", "attribute `s3.meta.`"),
            ("s3.meta.a b", "x", "attribute `s3.meta.a b`"),
            ("s3.content-type", "é", "attribute `s3.content-type`"),
            ("s3.cache-control", "a\nb", "attribute `s3.cache-control`"),
            ("s3.storage-class", "WARM", "attribute `s3.storage-class`"),
        ] {
            let err = to_headers(&pairs(&[(name, value)])).unwrap_err();
            assert!(err.contains(expected), "{name}: {err}");
        }
        let twice = pairs(&[("s3.meta.a", "1"), ("s3.meta.A", "2")]);
        assert!(to_headers(&twice).unwrap_err().contains("twice"));
    }
}
