//! One page of ListObjectsV2. The listing decides what a kloset believes it
//! holds, so a page is either complete and consistent or an error: a truncated
//! page without a continuation token (which would restart or end the listing
//! silently) is refused, and so is a missing `IsTruncated`.

use std::mem::take;

use super::document::{malformed, strip_quotes, visit, Visitor};
use crate::error::Error;

const ROOT: &str = "ListBucketResult";

/// One page of a listing. `next_token` is `Some` exactly when `is_truncated`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    pub keys: Vec<ListedObject>,
    pub next_token: Option<String>,
    pub is_truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    /// Without its quotes.
    pub etag: String,
    /// As the server wrote it (ISO 8601), or empty.
    pub last_modified: String,
    /// As the server wrote it (`STANDARD`, `GLACIER`, ...), or empty.
    pub storage_class: String,
}

/// Reads a page while the document is checked: the root's children by local
/// name, in any order and interleaving (servers differ), and inside each
/// `Contents` its `Key`, `Size`, `ETag`, `LastModified` and `StorageClass`;
/// everything else is skipped.
#[derive(Default)]
struct PageReader {
    child: Option<Child>,
    /// The `Contents` field being read.
    field: Option<Field>,
    /// The text of the child or field being read.
    text: String,
    contents: Vec<Contents>,
    is_truncated: Option<bool>,
    token: Option<String>,
    encoding: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Child {
    Contents,
    IsTruncated,
    NextContinuationToken,
    EncodingType,
    Ignored,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Key,
    Size,
    ETag,
    LastModified,
    StorageClass,
    Ignored,
}

#[derive(Default)]
struct Contents {
    key: Option<String>,
    size: Option<u64>,
    etag: Option<String>,
    last_modified: Option<String>,
    storage_class: Option<String>,
}

impl Child {
    fn of(name: &[u8]) -> Child {
        match name {
            b"Contents" => Child::Contents,
            b"IsTruncated" => Child::IsTruncated,
            b"NextContinuationToken" => Child::NextContinuationToken,
            b"EncodingType" => Child::EncodingType,
            _ => Child::Ignored,
        }
    }

    /// Whether its text is read.
    fn has_value(self) -> bool {
        !matches!(self, Child::Contents | Child::Ignored)
    }
}

impl Field {
    fn of(name: &[u8]) -> Field {
        match name {
            b"Key" => Field::Key,
            b"Size" => Field::Size,
            b"ETag" => Field::ETag,
            b"LastModified" => Field::LastModified,
            b"StorageClass" => Field::StorageClass,
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
                if child == Child::Contents {
                    self.contents.push(Contents::default());
                }
                self.text.clear();
                false
            }
            2 if self.child == Some(Child::Contents) => {
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
                Some(Child::NextContinuationToken) => {
                    set_once(&mut self.token, take(text), "NextContinuationToken")
                }
                Some(Child::EncodingType) => {
                    set_once(&mut self.encoding, take(text), "EncodingType")
                }
                _ => Ok(()),
            },
            2 => match (self.field.take(), self.contents.last_mut()) {
                (Some(Field::Key), Some(c)) => set_once(&mut c.key, take(text), "Key"),
                (Some(Field::Size), Some(c)) => set_once(&mut c.size, byte_count(text)?, "Size"),
                (Some(Field::ETag), Some(c)) => set_once(&mut c.etag, take(text), "ETag"),
                (Some(Field::LastModified), Some(c)) => {
                    set_once(&mut c.last_modified, take(text), "LastModified")
                }
                (Some(Field::StorageClass), Some(c)) => {
                    set_once(&mut c.storage_class, take(text), "StorageClass")
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

pub(super) fn boolean(text: &str) -> Result<bool, String> {
    match text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(format!("IsTruncated `{other}` is not a boolean")),
    }
}

fn byte_count(text: &str) -> Result<u64, String> {
    let text = text.trim();
    text.parse()
        .map_err(|_| format!("Size `{text}` is not a byte count (u64)"))
}

/// Parses a ListObjectsV2 answer. Keys are percent-decoded when the document
/// declares `<EncodingType>url</EncodingType>`, as minio-go and botocore do:
/// a server that ignored our `encoding-type=url` sends raw keys and no such
/// element, so the document, not the request, says how to read them.
pub fn parse_list_objects_v2(body: &[u8]) -> Result<ListPage, Error> {
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
    let next_token = match page.token.as_deref().map(str::trim) {
        _ if !is_truncated => None,
        Some(t) if !t.is_empty() => Some(t.to_owned()),
        _ => {
            return Err(malformed(
                ROOT,
                "IsTruncated is true but NextContinuationToken is missing",
            ))
        }
    };
    let keys = page
        .contents
        .into_iter()
        .map(|c| listed_object(c, url_encoded))
        .collect::<Result<_, _>>()?;
    Ok(ListPage {
        keys,
        next_token,
        is_truncated,
    })
}

pub(super) fn set_once<T>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), String> {
    match slot.replace(value) {
        None => Ok(()),
        Some(_) => Err(format!("{name} appears twice")),
    }
}

fn listed_object(contents: Contents, url_encoded: bool) -> Result<ListedObject, Error> {
    let key = contents
        .key
        .ok_or_else(|| malformed(ROOT, "Contents without Key"))?;
    let key = if url_encoded {
        url_decode(&key).ok_or_else(|| malformed(ROOT, "Key is not valid URL encoding"))?
    } else {
        key
    };
    if key.is_empty() {
        return Err(malformed(ROOT, "empty Key"));
    }
    let size = contents
        .size
        .ok_or_else(|| malformed(ROOT, "Contents without Size"))?;
    let etag = strip_quotes(contents.etag.as_deref().unwrap_or("")).to_owned();
    Ok(ListedObject {
        key,
        size,
        etag,
        last_modified: contents.last_modified.unwrap_or_default().trim().to_owned(),
        storage_class: contents.storage_class.unwrap_or_default().trim().to_owned(),
    })
}

/// Decodes `encoding-type=url` keys: `%XX` escapes and `+` for space (AWS and
/// MinIO encode a space as `+` and a plus as `%2B`). `None` if malformed or not
/// UTF-8 once decoded.
pub(super) fn url_decode(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let high = hex_value(*bytes.get(i + 1)?)?;
                let low = hex_value(*bytes.get(i + 2)?)?;
                out.push(high << 4 | low);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::samples::{AWS_LIST, AWS_LIST_TRUNCATED};

    fn object(key: &str, size: u64, etag: &str) -> ListedObject {
        ListedObject {
            key: key.into(),
            size,
            etag: etag.into(),
            last_modified: String::new(),
            storage_class: String::new(),
        }
    }

    /// What a test of the other fields compares.
    fn without_dates(keys: Vec<ListedObject>) -> Vec<ListedObject> {
        keys.into_iter()
            .map(|o| object(&o.key, o.size, &o.etag))
            .collect()
    }

    fn error_text(body: &str) -> String {
        parse_list_objects_v2(body.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn aws_example() {
        let mut page = parse_list_objects_v2(AWS_LIST.as_bytes()).unwrap();
        let classes: Vec<&str> = page.keys.iter().map(|o| o.storage_class.as_str()).collect();
        assert_eq!(classes, ["STANDARD", "STANDARD_IA"]);
        assert_eq!(page.keys[1].last_modified, "2009-10-12T17:50:30.000Z");
        page.keys = without_dates(page.keys);
        assert_eq!(
            page,
            ListPage {
                keys: vec![
                    object("my-image.jpg", 434234, "fba9dede5f27731c9771645a39863328"),
                    object(
                        "my-third-image.jpg",
                        64994,
                        "1b2cf535f27731c974343645a3985328"
                    ),
                ],
                next_token: None,
                is_truncated: false,
            }
        );
    }

    #[test]
    fn aws_continuation_example() {
        let page = parse_list_objects_v2(AWS_LIST_TRUNCATED.as_bytes()).unwrap();
        assert!(page.is_truncated);
        assert_eq!(
            page.next_token.as_deref(),
            Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        );
        assert_eq!(
            without_dates(page.keys),
            vec![object(
                "happyface.jpg",
                11,
                "70ee1738b6b21e2c8a43f3a5ab0eee71"
            )]
        );
    }

    #[test]
    fn minio_and_ceph_extras_and_interleaving_are_ignored() {
        // MinIO adds Owner and checksum elements; Ceph adds Type; a server may put
        // CommonPrefixes or unknown elements between Contents; moto escapes
        // quotes as &#34;.
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Contents><Key>a</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&#34;e1&#34;</ETag><Size>1</Size><Owner><ID>02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4</ID><DisplayName>minio</DisplayName></Owner><StorageClass>STANDARD</StorageClass><ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm></Contents><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes><Contents><Type>Normal</Type><Size>2</Size><Key>b</Key></Contents><Unknown attr=\"x\">text<Deep/></Unknown><IsTruncated>false</IsTruncated><Contents><Key>c</Key><Size>0</Size><ETag></ETag></Contents><Name>bucket</Name></ListBucketResult>\r\n";
        let page = parse_list_objects_v2(body.as_bytes()).unwrap();
        assert_eq!(page.keys[0].last_modified, "2024-01-01T00:00:00.000Z");
        assert_eq!(
            without_dates(page.keys),
            vec![object("a", 1, "e1"), object("b", 2, ""), object("c", 0, "")]
        );
        assert!(!page.is_truncated);
    }

    #[test]
    fn namespace_prefixes_are_ignored() {
        let body = r#"<s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><s3:IsTruncated>true</s3:IsTruncated><s3:NextContinuationToken>t</s3:NextContinuationToken><s3:Contents><s3:Key>k</s3:Key><s3:Size>5</s3:Size></s3:Contents></s3:ListBucketResult>"#;
        let page = parse_list_objects_v2(body.as_bytes()).unwrap();
        assert_eq!(page.keys, vec![object("k", 5, "")]);
        assert_eq!(page.next_token.as_deref(), Some("t"));
    }

    #[test]
    fn keys_with_entities_unicode_and_spaces_are_kept_exactly() {
        let body = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key> a &amp; b &lt;c&gt; </Key><Size>1</Size></Contents><Contents><Key>données/é🙂 x</Key><Size>2</Size></Contents><Contents><Key>&#x263A;&#233;</Key><Size>3</Size></Contents><Contents><Key><![CDATA[<raw>&]]></Key><Size>4</Size></Contents></ListBucketResult>";
        let keys: Vec<String> = parse_list_objects_v2(body.as_bytes())
            .unwrap()
            .keys
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(keys, [" a & b <c> ", "données/é🙂 x", "☺é", "<raw>&"]);
    }

    #[test]
    fn url_encoded_keys_are_decoded_when_the_document_says_so() {
        let body = "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated><Contents><Key>a%20b+c%2Bd%26%C3%A9%2F%01</Key><Size>1</Size></Contents></ListBucketResult>";
        let page = parse_list_objects_v2(body.as_bytes()).unwrap();
        assert_eq!(page.keys[0].key, "a b c+d&é/\u{1}");

        // The element may come last; the token is never decoded.
        let body = "<ListBucketResult><Contents><Key>x%2By</Key><Size>1</Size></Contents><IsTruncated>true</IsTruncated><NextContinuationToken>a%2Bb</NextContinuationToken><EncodingType>URL</EncodingType></ListBucketResult>";
        let page = parse_list_objects_v2(body.as_bytes()).unwrap();
        assert_eq!(page.keys[0].key, "x+y");
        assert_eq!(page.next_token.as_deref(), Some("a%2Bb"));
    }

    #[test]
    fn keys_stay_raw_without_encoding_type() {
        let body = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a%20b+c</Key><Size>1</Size></Contents></ListBucketResult>";
        let page = parse_list_objects_v2(body.as_bytes()).unwrap();
        assert_eq!(page.keys[0].key, "a%20b+c");
    }

    #[test]
    fn bad_url_encoding_is_an_error() {
        for key in ["a%2", "a%zz", "a%+1", "%FF", "%C3", "%"] {
            let body = format!("<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated><Contents><Key>{key}</Key><Size>1</Size></Contents></ListBucketResult>");
            assert!(error_text(&body).contains("URL encoding"), "{key}");
        }
        let body = "<ListBucketResult><EncodingType>base64</EncodingType><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert!(error_text(body).contains("EncodingType"));
    }

    #[test]
    fn truncated_without_token_is_an_error() {
        for token in [
            "",
            "<NextContinuationToken/>",
            "<NextContinuationToken> </NextContinuationToken>",
        ] {
            let body = format!("<ListBucketResult><IsTruncated>true</IsTruncated>{token}<Contents><Key>a</Key><Size>1</Size></Contents></ListBucketResult>");
            assert_eq!(
                error_text(&body),
                "malformed <ListBucketResult> from server: IsTruncated is true but NextContinuationToken is missing"
            );
        }
    }

    #[test]
    fn is_truncated_reads_as_xml_schema_booleans() {
        for (text, truncated) in [
            ("true", true),
            (" 1 ", true),
            ("false", false),
            ("0", false),
        ] {
            let body = format!("<ListBucketResult><IsTruncated>{text}</IsTruncated><NextContinuationToken>t</NextContinuationToken></ListBucketResult>");
            let page = parse_list_objects_v2(body.as_bytes()).unwrap();
            assert_eq!(page.is_truncated, truncated, "{text}");
        }
    }

    #[test]
    fn token_of_a_complete_page_is_dropped() {
        let body = "<ListBucketResult><IsTruncated>false</IsTruncated><NextContinuationToken>t</NextContinuationToken></ListBucketResult>";
        let page = parse_list_objects_v2(body.as_bytes()).unwrap();
        assert_eq!(page.next_token, None);
        assert!(page.keys.is_empty());
    }

    #[test]
    fn empty_listing() {
        let body = r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>none/</Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>"#;
        let page = parse_list_objects_v2(body.as_bytes()).unwrap();
        assert_eq!(
            page,
            ListPage {
                keys: vec![],
                next_token: None,
                is_truncated: false
            }
        );
    }

    #[test]
    fn inconsistent_pages_are_errors() {
        for (body, why) in [
            ("<ListBucketResult></ListBucketResult>", "IsTruncated is missing"),
            ("<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>", "boolean"),
            ("<ListBucketResult><IsTruncated/></ListBucketResult>", "boolean"),
            ("<ListBucketResult><IsTruncated>false</IsTruncated><IsTruncated>true</IsTruncated></ListBucketResult>", "IsTruncated appears twice"),
            ("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Size>1</Size></Contents></ListBucketResult>", "without Key"),
            ("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key/><Size>1</Size></Contents></ListBucketResult>", "empty Key"),
            ("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key></Contents></ListBucketResult>", "without Size"),
            ("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>", "-1"),
            ("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>18446744073709551616</Size></Contents></ListBucketResult>", "u64"),
            ("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key><Key>b</Key><Size>1</Size></Contents></ListBucketResult>", "Key"),
            ("<ListBucketResult><IsTruncated>false</IsTruncated><Contents>text</Contents></ListBucketResult>", "without Key"),
            ("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a<b/>c</Key><Size>1</Size></Contents></ListBucketResult>", "unexpected <b> in a value"),
            ("<ListBucketResult><IsTruncated>fa<x>l</x>se</IsTruncated></ListBucketResult>", "unexpected <x> in a value"),
            ("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>1</Size><Size>1</Size></Contents></ListBucketResult>", "Size appears twice"),
        ] {
            let err = error_text(body);
            assert!(err.starts_with("malformed <ListBucketResult> from server: "), "{err}");
            assert!(err.contains(why), "{body}: {err}");
        }
    }

    #[test]
    fn an_error_document_is_not_an_empty_listing() {
        let body = "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>";
        assert_eq!(
            error_text(body),
            "malformed <ListBucketResult> from server: the root element is <Error>"
        );
    }
}
