//! The one door every server document goes through.
//!
//! serde alone would read the fields it knows and stop: it ignores the root
//! element's name (a 200 carrying `<Error>` would read as an empty listing),
//! ignores whatever follows the root, and never looks inside elements it skips.
//! So the whole body is first walked once with the plain reader — size, UTF-8,
//! one root element, balanced tags, bounded depth, no DOCTYPE (never expanded:
//! refused), only the predefined entities and valid character references, even in
//! attributes and skipped elements — and only then handed to serde.
//!
//! A listing page, the one large document and the one read a hundred times in
//! a row, skips serde: its [`Visitor`] reads the fields during that same walk
//! (serde's second pass cost four times the walk).

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use serde::de::DeserializeOwned;

use super::MAX_XML_BODY;
use crate::error::Error;

/// Deeper than any S3 document (ListBucketResult/Contents/Owner/ID is 4); the
/// bound keeps a hostile nesting from costing anything.
const MAX_DEPTH: usize = 32;

/// How much of a server's text (a reason, a body excerpt) goes into our messages.
pub(super) const MAX_EXCERPT: usize = 200;

/// A body that passed the structural checks.
#[derive(Debug)]
pub(super) struct Document<'a> {
    text: &'a str,
    root: String,
}

impl<'a> Document<'a> {
    /// Checks `body` as a whole; the error is a reason for a message (unsanitised).
    pub(super) fn read(body: &'a [u8]) -> Result<Self, String> {
        let text = decode_body(body)?;
        let root = walk(text, &mut ())?;
        Ok(Document { text, root })
    }

    /// The local name (namespace prefix dropped) of the root element.
    pub(super) fn root(&self) -> &str {
        &self.root
    }

    /// Reads the fields of `T` (matched by local name, unknown ones ignored).
    pub(super) fn decode<T: DeserializeOwned>(&self) -> Result<T, String> {
        quick_xml::de::from_str(self.text).map_err(|e| e.to_string())
    }
}

/// What a single-pass reader is told while a document is checked. Depth 0 is
/// the root element; an element gets `open`, its text, then `close`, all at
/// its depth.
pub(super) trait Visitor {
    fn open(&mut self, _depth: usize, _local_name: &[u8]) -> Result<(), String> {
        Ok(())
    }

    /// A piece of the element's character data: text with its references
    /// resolved, or a CDATA section. An element's text may come in pieces.
    fn text(&mut self, _depth: usize, _text: &str) -> Result<(), String> {
        Ok(())
    }

    fn close(&mut self, _depth: usize) -> Result<(), String> {
        Ok(())
    }
}

/// Checking only.
impl Visitor for () {}

/// Checks `body` as [`Document::read`] does while `visitor` reads it, for a
/// document whose root element is `<root>`.
pub(super) fn visit(body: &[u8], root: &str, visitor: &mut impl Visitor) -> Result<(), Error> {
    let text = decode_body(body).map_err(|reason| malformed(root, &reason))?;
    let mut checked = RootIs {
        root,
        inner: visitor,
    };
    walk(text, &mut checked).map_err(|reason| malformed(root, &reason))?;
    Ok(())
}

/// Refuses another root element before the visitor reads anything of it.
struct RootIs<'a, V> {
    root: &'a str,
    inner: &'a mut V,
}

impl<V: Visitor> Visitor for RootIs<'_, V> {
    fn open(&mut self, depth: usize, local_name: &[u8]) -> Result<(), String> {
        if depth == 0 && local_name != self.root.as_bytes() {
            let name = String::from_utf8_lossy(local_name);
            return Err(format!("the root element is <{name}>"));
        }
        self.inner.open(depth, local_name)
    }

    fn text(&mut self, depth: usize, text: &str) -> Result<(), String> {
        self.inner.text(depth, text)
    }

    fn close(&mut self, depth: usize) -> Result<(), String> {
        self.inner.close(depth)
    }
}

/// Parses `body` as the document whose root element is `<root>`.
pub(super) fn parse<T: DeserializeOwned>(body: &[u8], root: &str) -> Result<T, Error> {
    let document = Document::read(body).map_err(|reason| malformed(root, &reason))?;
    if document.root() != root {
        let reason = format!("the root element is <{}>", document.root());
        return Err(malformed(root, &reason));
    }
    document.decode().map_err(|reason| malformed(root, &reason))
}

/// The error for a document that is not what S3 specifies.
pub(super) fn malformed(root: &str, reason: &str) -> Error {
    Error::Other(malformed_message(root, reason))
}

pub(super) fn malformed_message(root: &str, reason: &str) -> String {
    format!(
        "malformed <{root}> from server: {}",
        sanitise(reason, MAX_EXCERPT)
    )
}

/// Makes server-controlled text safe to show: printable ASCII only (no terminal
/// escapes, no line breaks to forge log lines with), whitespace runs collapsed,
/// at most `max_chars` characters (then `...`).
pub(super) fn sanitise(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(
            word.chars()
                .map(|c| if c.is_ascii_graphic() { c } else { '?' }),
        );
        if out.len() > max_chars {
            // Only ASCII was pushed: byte length is character count.
            out.truncate(max_chars);
            out.push_str("...");
            break;
        }
    }
    out
}

/// ETags travel quoted (`"abc"`, or `&quot;abc&quot;` in listings); we keep them bare.
pub(super) fn strip_quotes(etag: &str) -> &str {
    let etag = etag.trim();
    let etag = etag.strip_prefix('"').unwrap_or(etag);
    etag.strip_suffix('"').unwrap_or(etag)
}

/// The body as text: bounded in size, UTF-8, byte-order mark dropped.
fn decode_body(body: &[u8]) -> Result<&str, String> {
    if body.len() > MAX_XML_BODY {
        return Err(format!(
            "body of {} bytes exceeds the limit of {MAX_XML_BODY} bytes",
            body.len()
        ));
    }
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Walks the whole document, telling `visitor`; returns the root element's
/// local name.
fn walk(text: &str, visitor: &mut impl Visitor) -> Result<String, String> {
    let mut reader = Reader::from_str(text);
    let mut root: Option<String> = None;
    let mut depth = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} (at byte {})", reader.error_position()))?;
        match event {
            Event::Start(element) => {
                open(&element, &mut root, depth)?;
                visitor.open(depth, element.local_name().as_ref())?;
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("elements nested deeper than {MAX_DEPTH}"));
                }
            }
            Event::Empty(element) => {
                open(&element, &mut root, depth)?;
                visitor.open(depth, element.local_name().as_ref())?;
                visitor.close(depth)?;
            }
            Event::End(_) => {
                depth = depth.checked_sub(1).ok_or("end tag without a start tag")?;
                visitor.close(depth)?;
            }
            Event::Text(text) if depth == 0 && !text.iter().all(u8::is_ascii_whitespace) => {
                return Err("text outside the root element".into());
            }
            Event::CData(_) | Event::GeneralRef(_) if depth == 0 => {
                return Err("text outside the root element".into());
            }
            Event::Text(text) if depth > 0 => {
                let text = text.xml10_content().map_err(|e| e.to_string())?;
                visitor.text(depth - 1, &text)?;
            }
            Event::CData(data) => {
                let data = data.xml10_content().map_err(|e| e.to_string())?;
                visitor.text(depth - 1, &data)?;
            }
            Event::GeneralRef(reference) => {
                let c = resolve(&reference)?;
                visitor.text(depth - 1, c.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => return Err("DOCTYPE declarations are refused".into()),
            Event::Decl(_) if root.is_some() => {
                return Err("XML declaration after the root element".into());
            }
            Event::Eof if depth > 0 => return Err("unexpected end of document".into()),
            Event::Eof => return root.ok_or_else(|| "no root element".into()),
            _ => {}
        }
    }
}

/// Records the root's name, refuses a second root, and checks attribute values
/// (duplicates, entities) even though we read none.
fn open(element: &BytesStart<'_>, root: &mut Option<String>, depth: usize) -> Result<(), String> {
    if depth == 0 {
        if root.is_some() {
            return Err("more than one root element".into());
        }
        let name = String::from_utf8_lossy(element.local_name().as_ref()).into_owned();
        *root = Some(name);
    }
    for attribute in element.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The character a reference stands for: a character reference, or one of
/// the five predefined entities; any other entity is refused (no DOCTYPE could
/// have defined it).
fn resolve(reference: &BytesRef<'_>) -> Result<char, String> {
    let name = String::from_utf8_lossy(reference);
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(format!("&{name}; is not a character")),
            Err(e) => Err(e.to_string()),
        };
    }
    resolve_predefined_entity(&name)
        .and_then(|entity| entity.chars().next())
        .ok_or_else(|| format!("unknown entity &{name};"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_of(xml: &str) -> Result<String, String> {
        Document::read(xml.as_bytes()).map(|d| d.root().to_owned())
    }

    #[test]
    fn root_is_the_local_name_with_or_without_prolog() {
        assert_eq!(root_of("<A/>").unwrap(), "A");
        assert_eq!(
            root_of("\u{feff}<?xml version='1.0' encoding='UTF-8'?>\r\n<!-- c --><s3:A xmlns:s3=\"x\"></s3:A>\r\n")
                .unwrap(),
            "A"
        );
    }

    #[test]
    fn refuses_doctype_anywhere_without_expanding() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><Error><Code>&lol2;</Code></Error>"#;
        assert!(root_of(laughs).unwrap_err().contains("DOCTYPE"));
        let xxe = r#"<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Error><Code>&xxe;</Code></Error>"#;
        assert!(root_of(xxe).unwrap_err().contains("DOCTYPE"));
        assert!(root_of("<A><!DOCTYPE b></A>")
            .unwrap_err()
            .contains("DOCTYPE"));
    }

    #[test]
    fn refuses_unknown_entities_even_where_nothing_is_read() {
        for xml in [
            "<A>&foo;</A>",
            "<A><Ignored><Deep>&foo;</Deep></Ignored></A>",
            "<A><B attr=\"&foo;\"/></A>",
        ] {
            assert!(root_of(xml).unwrap_err().contains("foo"), "{xml}");
        }
        assert!(root_of("<A>&#0;</A>").is_err());
        assert!(root_of("<A>&#x110000;</A>").is_err());
        assert!(root_of("<A>&amp;&lt;&gt;&quot;&apos;&#233;&#x263A;</A>").is_ok());
    }

    #[test]
    fn refuses_broken_structure() {
        for (xml, why) in [
            ("", "no root"),
            ("  \r\n ", "no root"),
            ("<A>", "end of document"),
            ("<A></B>", "B"),
            ("</A>", ""),
            ("<A/><B/>", "more than one root"),
            ("<A/>trailing", "outside"),
            ("text<A/>", "outside"),
            ("<A/>&amp;", "outside"),
            ("<A/><![CDATA[x]]>", "outside"),
            ("<A/><?xml version=\"1.0\"?>", "declaration"),
            ("<A><B a=\"1\" a=\"2\"/></A>", ""),
        ] {
            let err = root_of(xml).unwrap_err();
            assert!(err.contains(why), "{xml:?}: {err}");
        }
        assert!(root_of("<A/>\r\n<!-- after -->\n").is_ok());
    }

    #[test]
    fn bounds_depth_and_size() {
        let deep = "<A>".repeat(MAX_DEPTH + 1) + &"</A>".repeat(MAX_DEPTH + 1);
        assert!(root_of(&deep).unwrap_err().contains("deeper"));
        let ok = "<A>".repeat(MAX_DEPTH) + &"</A>".repeat(MAX_DEPTH);
        assert!(root_of(&ok).is_ok());

        let mut body = b"<A/>".to_vec();
        body.resize(MAX_XML_BODY, b' ');
        assert!(Document::read(&body).is_ok());
        body.push(b' ');
        assert!(Document::read(&body).unwrap_err().contains("exceeds"));
    }

    #[test]
    fn refuses_non_utf8() {
        assert!(Document::read(b"<A>\xff</A>")
            .unwrap_err()
            .contains("UTF-8"));
    }

    #[test]
    fn sanitise_keeps_printable_ascii_only() {
        assert_eq!(
            sanitise("a\x1b[31mb\r\n\tc  d\u{202e}é", 200),
            "a?[31mb c d??"
        );
        assert_eq!(sanitise(&"x".repeat(300), 200), "x".repeat(200) + "...");
        assert_eq!(sanitise("   ", 200), "");
    }

    #[test]
    fn strip_quotes_removes_one_pair() {
        assert_eq!(strip_quotes("\"abc\""), "abc");
        assert_eq!(strip_quotes(" \"abc-2\" "), "abc-2");
        assert_eq!(strip_quotes("abc"), "abc");
        assert_eq!(strip_quotes("\""), "");
    }

    #[test]
    fn malformed_names_the_document_and_sanitises_the_reason() {
        let e = malformed("Retention", "bad\n\x1bthing");
        assert_eq!(
            e,
            Error::Other("malformed <Retention> from server: bad ?thing".into())
        );
    }
}
