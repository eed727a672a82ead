//! Versioning: GetBucketVersioning's answer, and one page of
//! ListObjectVersions, the listing a point-in-time view and a recovery are
//! built from. As for ListObjectsV2, a page is complete and consistent or an
//! error: a truncated page without its next markers is refused.

use std::mem::take;

use serde::Deserialize;

use super::document::{malformed, strip_quotes, visit, Document, Visitor};
use super::list::{boolean, set_once, url_decode};
use crate::error::Error;

const ROOT: &str = "ListVersionsResult";
const VERSIONING_ROOT: &str = "VersioningConfiguration";
const MOTO_VERSIONING_ROOT: &str = "GetBucketVersioningResponse";

/// One version or delete marker of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    pub key: String,
    pub version_id: String,
    /// The current state of the key.
    pub is_latest: bool,
    /// Milliseconds since 1970, rounded up.
    pub last_modified_ms: u64,
    /// Without its quotes; empty for a delete marker.
    pub etag: String,
    pub size: u64,
    pub delete_marker: bool,
}

/// One page: its entries in document order (servers differ: AWS interleaves
/// versions and delete markers by key, moto lists the markers last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionsPage {
    pub entries: Vec<VersionEntry>,
    /// `(NextKeyMarker, NextVersionIdMarker)`, exactly when truncated.
    pub next: Option<(String, String)>,
}

#[derive(Default)]
struct PageReader {
    child: Option<Child>,
    field: Option<Field>,
    text: String,
    entries: Vec<Entry>,
    is_truncated: Option<bool>,
    next_key: Option<String>,
    next_version: Option<String>,
    encoding: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Child {
    Version,
    DeleteMarker,
    IsTruncated,
    NextKeyMarker,
    NextVersionIdMarker,
    EncodingType,
    Ignored,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Key,
    VersionId,
    IsLatest,
    LastModified,
    ETag,
    Size,
    Ignored,
}

#[derive(Default)]
struct Entry {
    delete_marker: bool,
    key: Option<String>,
    version_id: Option<String>,
    is_latest: Option<bool>,
    last_modified: Option<String>,
    etag: Option<String>,
    size: Option<String>,
}

impl Child {
    fn of(name: &[u8]) -> Child {
        match name {
            b"Version" => Child::Version,
            b"DeleteMarker" => Child::DeleteMarker,
            b"IsTruncated" => Child::IsTruncated,
            b"NextKeyMarker" => Child::NextKeyMarker,
            b"NextVersionIdMarker" => Child::NextVersionIdMarker,
            b"EncodingType" => Child::EncodingType,
            _ => Child::Ignored,
        }
    }

    fn is_entry(self) -> bool {
        matches!(self, Child::Version | Child::DeleteMarker)
    }

    fn has_value(self) -> bool {
        !self.is_entry() && self != Child::Ignored
    }
}

impl Field {
    fn of(name: &[u8]) -> Field {
        match name {
            b"Key" => Field::Key,
            b"VersionId" => Field::VersionId,
            b"IsLatest" => Field::IsLatest,
            b"LastModified" => Field::LastModified,
            b"ETag" => Field::ETag,
            b"Size" => Field::Size,
            _ => Field::Ignored,
        }
    }
}

impl Visitor for PageReader {
    fn open(&mut self, depth: usize, name: &[u8]) -> Result<(), String> {
        let reading_value = match depth {
            1 => {
                let child = Child::of(name);
                self.child = Some(child);
                if child.is_entry() {
                    self.entries.push(Entry {
                        delete_marker: child == Child::DeleteMarker,
                        ..Entry::default()
                    });
                }
                self.text.clear();
                false
            }
            2 if self.child.is_some_and(Child::is_entry) => {
                self.field = Some(Field::of(name));
                self.text.clear();
                false
            }
            2 => self.child.is_some_and(Child::has_value),
            3 => self.field.is_some_and(|f| f != Field::Ignored),
            _ => false,
        };
        match reading_value {
            true => Err(format!(
                "unexpected <{}> in a value",
                String::from_utf8_lossy(name)
            )),
            false => Ok(()),
        }
    }

    fn text(&mut self, depth: usize, text: &str) -> Result<(), String> {
        let read = match depth {
            1 => self.child.is_some_and(Child::has_value),
            2 => self.field.is_some_and(|f| f != Field::Ignored),
            _ => false,
        };
        if read {
            self.text.push_str(text);
        }
        Ok(())
    }

    fn close(&mut self, depth: usize) -> Result<(), String> {
        let text = &mut self.text;
        match depth {
            1 => match self.child.take() {
                Some(Child::IsTruncated) => {
                    set_once(&mut self.is_truncated, boolean(text)?, "IsTruncated")
                }
                Some(Child::NextKeyMarker) => {
                    set_once(&mut self.next_key, take(text), "NextKeyMarker")
                }
                Some(Child::NextVersionIdMarker) => {
                    set_once(&mut self.next_version, take(text), "NextVersionIdMarker")
                }
                Some(Child::EncodingType) => {
                    set_once(&mut self.encoding, take(text), "EncodingType")
                }
                _ => Ok(()),
            },
            2 => match (self.field.take(), self.entries.last_mut()) {
                (Some(Field::Key), Some(e)) => set_once(&mut e.key, take(text), "Key"),
                (Some(Field::VersionId), Some(e)) => {
                    set_once(&mut e.version_id, take(text), "VersionId")
                }
                (Some(Field::IsLatest), Some(e)) => {
                    set_once(&mut e.is_latest, boolean(text)?, "IsLatest")
                }
                (Some(Field::LastModified), Some(e)) => {
                    set_once(&mut e.last_modified, take(text), "LastModified")
                }
                (Some(Field::ETag), Some(e)) => set_once(&mut e.etag, take(text), "ETag"),
                (Some(Field::Size), Some(e)) => set_once(&mut e.size, take(text), "Size"),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// Parses a ListObjectVersions answer; keys are percent-decoded when the
/// document says `<EncodingType>url</EncodingType>` (markers are not: they
/// go back to the server as they came).
pub fn parse_list_object_versions(body: &[u8]) -> Result<VersionsPage, Error> {
    let mut page = PageReader::default();
    visit(body, ROOT, &mut page)?;
    let url_encoded = match page.encoding.as_deref().map(str::trim) {
        None | Some("") => false,
        Some(e) if e.eq_ignore_ascii_case("url") => true,
        Some(_) => return Err(malformed(ROOT, "unknown EncodingType")),
    };
    let is_truncated = page
        .is_truncated
        .ok_or_else(|| malformed(ROOT, "IsTruncated is missing"))?;
    let next = match (is_truncated, page.next_key) {
        (false, _) => None,
        (true, Some(key)) if !key.trim().is_empty() => {
            Some((key, page.next_version.unwrap_or_default()))
        }
        (true, _) => {
            return Err(malformed(
                ROOT,
                "IsTruncated is true but NextKeyMarker is missing",
            ))
        }
    };
    let entries = page
        .entries
        .into_iter()
        .map(|e| entry(e, url_encoded))
        .collect::<Result<_, _>>()?;
    Ok(VersionsPage { entries, next })
}

fn entry(e: Entry, url_encoded: bool) -> Result<VersionEntry, Error> {
    let what = if e.delete_marker {
        "DeleteMarker"
    } else {
        "Version"
    };
    let missing = |field: &str| malformed(ROOT, &format!("{what} without {field}"));
    let key = e.key.ok_or_else(|| missing("Key"))?;
    let key = match url_encoded {
        true => url_decode(&key).ok_or_else(|| malformed(ROOT, "Key is not valid URL encoding"))?,
        false => key,
    };
    if key.is_empty() {
        return Err(malformed(ROOT, "empty Key"));
    }
    let version_id = e
        .version_id
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing("VersionId"))?;
    let last_modified = e.last_modified.ok_or_else(|| missing("LastModified"))?;
    let last_modified_ms = parse_millis(&last_modified).ok_or_else(|| {
        malformed(
            ROOT,
            &format!("LastModified `{last_modified}` is not an RFC 3339 UTC time"),
        )
    })?;
    let size = match (e.size, e.delete_marker) {
        (Some(size), _) => size
            .trim()
            .parse()
            .map_err(|_| malformed(ROOT, &format!("Size `{size}` is not a byte count (u64)")))?,
        (None, true) => 0,
        (None, false) => return Err(missing("Size")),
    };
    Ok(VersionEntry {
        key,
        version_id,
        is_latest: e.is_latest.ok_or_else(|| missing("IsLatest"))?,
        last_modified_ms,
        etag: strip_quotes(e.etag.as_deref().unwrap_or("")).to_owned(),
        size,
        delete_marker: e.delete_marker,
    })
}

/// An RFC 3339 UTC time in milliseconds, a finer fraction rounded up: a
/// version written just after a point in time must not look older.
pub fn parse_millis(text: &str) -> Option<u64> {
    let text = text.trim();
    let Some((whole, rest)) = text.split_once('.') else {
        return crate::calendar::parse_iso8601(text)?.checked_mul(1000);
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (fraction, zone) = rest.split_at(digits);
    if fraction.is_empty() {
        return None;
    }
    let seconds = crate::calendar::parse_iso8601(&format!("{whole}{zone}"))?;
    let millis: u64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    let rounds_up = fraction.bytes().skip(3).any(|b| b != b'0');
    seconds
        .checked_mul(1000)?
        .checked_add(millis + u64::from(rounds_up))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersioningDocument {
    status: Option<String>,
}

/// Whether a GetBucketVersioning answer says `Enabled`; otherwise the status
/// it gives (`Suspended`), or `None` for a bucket never versioned.
/// moto names the root `GetBucketVersioningResponse`; both are read.
pub fn parse_versioning(body: &[u8]) -> Result<Result<(), Option<String>>, Error> {
    let document = Document::read(body).map_err(|reason| malformed(VERSIONING_ROOT, &reason))?;
    if ![VERSIONING_ROOT, MOTO_VERSIONING_ROOT].contains(&document.root()) {
        let reason = format!("the root element is <{}>", document.root());
        return Err(malformed(VERSIONING_ROOT, &reason));
    }
    let document: VersioningDocument = document
        .decode()
        .map_err(|reason| malformed(VERSIONING_ROOT, &reason))?;
    let status = document
        .status
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    Ok(match status.as_deref() {
        Some("Enabled") => Ok(()),
        _ => Err(status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::samples::AWS_VERSIONS;

    const OCT_12: u64 = 1_255_369_830_000; // 2009-10-12T17:50:30Z

    #[test]
    fn aws_example() {
        let page = parse_list_object_versions(AWS_VERSIONS.as_bytes()).unwrap();
        assert_eq!(page.next, None);
        assert_eq!(page.entries.len(), 3);
        assert_eq!(
            page.entries[0],
            VersionEntry {
                key: "my-image.jpg".into(),
                version_id: "3/L4kqtJl40Nr8X8gdRQBpUMLUo".into(),
                is_latest: true,
                last_modified_ms: OCT_12,
                etag: "fba9dede5f27731c9771645a39863328".into(),
                size: 434_234,
                delete_marker: false,
            }
        );
        let marker = &page.entries[1];
        assert!(marker.delete_marker && marker.is_latest && marker.etag.is_empty());
        assert_eq!(marker.size, 0);
        assert_eq!(page.entries[2].last_modified_ms, OCT_12 - 2 * 86_400_000);
    }

    #[test]
    fn truncated_pages_carry_both_markers_and_keys_are_decoded() {
        let body = "<ListVersionsResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>\
            <NextKeyMarker>a%2Bb</NextKeyMarker><NextVersionIdMarker>v+1</NextVersionIdMarker>\
            <Version><Key>a%2Bb+c</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>\
            <LastModified>2030-01-01T00:00:00.000123Z</LastModified><ETag>\"e\"</ETag><Size>3</Size></Version>\
            </ListVersionsResult>";
        let page = parse_list_object_versions(body.as_bytes()).unwrap();
        assert_eq!(page.next, Some(("a%2Bb".into(), "v+1".into())));
        assert_eq!(page.entries[0].key, "a+b c");
        // A fraction finer than a millisecond rounds up.
        assert_eq!(page.entries[0].last_modified_ms, 1_893_456_000_001);
    }

    #[test]
    fn inconsistent_pages_are_errors() {
        let version = |inner: &str| {
            format!("<ListVersionsResult><IsTruncated>false</IsTruncated><Version>{inner}</Version></ListVersionsResult>")
        };
        let full = "<Key>k</Key><VersionId>v</VersionId><IsLatest>true</IsLatest><LastModified>2030-01-01T00:00:00Z</LastModified><Size>1</Size>";
        assert!(parse_list_object_versions(version(full).as_bytes()).is_ok());
        for (body, why) in [
            ("<ListVersionsResult/>".to_owned(), "IsTruncated is missing"),
            (
                "<ListVersionsResult><IsTruncated>true</IsTruncated></ListVersionsResult>".into(),
                "NextKeyMarker is missing",
            ),
            (version(&full.replace("<Key>k</Key>", "")), "without Key"),
            (
                version(&full.replace("<VersionId>v</VersionId>", "")),
                "without VersionId",
            ),
            (
                version(&full.replace("<IsLatest>true</IsLatest>", "")),
                "without IsLatest",
            ),
            (version(&full.replace("<Size>1</Size>", "")), "without Size"),
            (
                version(&full.replace("2030-01-01T00:00:00Z", "yesterday")),
                "LastModified",
            ),
            (
                version(&full.replace("00:00:00Z", "00:00:00+02:00")),
                "LastModified",
            ),
            (
                version(&full.replace("<Size>1</Size>", "<Size>-1</Size>")),
                "Size",
            ),
            (version(&format!("{full}<Key>k</Key>")), "Key appears twice"),
            (
                "<Error><Code>NoSuchBucket</Code></Error>".into(),
                "root element",
            ),
        ] {
            let err = parse_list_object_versions(body.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.contains("malformed <ListVersionsResult>"), "{err}");
            assert!(err.contains(why), "{body}: {err}");
        }
    }

    #[test]
    fn milliseconds() {
        assert_eq!(parse_millis("2009-10-12T17:50:30Z"), Some(OCT_12));
        assert_eq!(parse_millis("2009-10-12T17:50:30.5Z"), Some(OCT_12 + 500));
        assert_eq!(
            parse_millis("2009-10-12T17:50:30.250+00:00"),
            Some(OCT_12 + 250)
        );
        assert_eq!(
            parse_millis("2009-10-12T17:50:30.2501Z"),
            Some(OCT_12 + 251)
        );
        for bad in ["2009-10-12T17:50:30.Z", "2009-10-12T17:50:30.5", "x.5Z"] {
            assert_eq!(parse_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn versioning_status() {
        let enabled = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>";
        assert_eq!(parse_versioning(enabled.as_bytes()), Ok(Ok(())));
        let suspended =
            "<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>";
        assert_eq!(
            parse_versioning(suspended.as_bytes()),
            Ok(Err(Some("Suspended".into())))
        );
        let never = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>";
        assert_eq!(parse_versioning(never.as_bytes()), Ok(Err(None)));
        assert!(parse_versioning(b"<html/>").is_err());
        let moto = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<GetBucketVersioningResponse xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status></GetBucketVersioningResponse>";
        assert_eq!(parse_versioning(moto.as_bytes()), Ok(Ok(())));
    }
}
