//! An object's tag set: GetObjectTagging's answer. The importer keeps it as
//! an attribute so a restore puts the same tags back.

use serde::Deserialize;

use super::document::parse;
use crate::error::Error;

const ROOT: &str = "Tagging";

#[derive(Deserialize)]
struct Tagging {
    #[serde(rename = "TagSet", default)]
    tag_set: TagSet,
}

#[derive(Deserialize, Default)]
struct TagSet {
    #[serde(rename = "Tag", default)]
    tags: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: String,
    #[serde(default)]
    value: String,
}

/// The tags of a GetObjectTagging answer, in the server's order.
pub fn parse_tagging(body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let tagging: Tagging = parse(body, ROOT)?;
    Ok(tagging
        .tag_set
        .tags
        .into_iter()
        .map(|tag| (tag.key, tag.value))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_example_and_an_empty_set() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>tag1</Key><Value>val1</Value></Tag><Tag><Key>a &amp; b</Key><Value></Value></Tag></TagSet></Tagging>"#;
        assert_eq!(
            parse_tagging(body.as_bytes()).unwrap(),
            [
                ("tag1".to_owned(), "val1".to_owned()),
                ("a & b".to_owned(), String::new())
            ]
        );
        let empty = "<Tagging><TagSet/></Tagging>";
        assert_eq!(parse_tagging(empty.as_bytes()).unwrap(), []);
    }

    #[test]
    fn another_document_is_refused() {
        let err = parse_tagging(b"<Error><Code>NoSuchKey</Code></Error>").unwrap_err();
        assert!(err.to_string().contains("malformed <Tagging>"), "{err}");
    }
}
