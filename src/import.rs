//! The importer: the objects below a bucket's prefix as a tree of files, for
//! a backup of the bucket (Plakar's `importer`).
//!
//! Records come a listing page at a time, never the whole bucket at once.
//! Each object is described by one HEAD (and GetObjectTagging where the
//! server keeps tags) whose ETag must be the listed one; its bytes are read
//! later, on demand, by a GET pinned to that ETag and verified as it streams
//! (see [`Download::open_pinned`]): an object rewritten or deleted during the
//! backup is a record error, never a mix of two versions.
//!
//! What fails for one object (a key that is no path, an object gone or
//! changed, an SSE-C object without the key) is that object's record error;
//! what fails for all (credentials, an unreachable server, a missing bucket)
//! fails the call.

use std::cell::Cell;
use std::rc::Rc;

use crate::actions;
use crate::attributes::{self, Described};
use crate::calendar::parse_iso8601;
use crate::client::{header, Transport};
use crate::config::Config;
use crate::context::Shared;
use crate::download::Download;
use crate::error::{Error, Result};
use crate::listing::Pages;
use crate::paths::{key_of_path, node_of_key, Node};
use crate::sigv4::Payload;
use crate::xml::{self, ListedObject};

/// One file or directory of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `/` + the key below the prefix (without a folder marker's `/`).
    pub path: String,
    pub size: u64,
    /// LastModified, in seconds since 1970.
    pub mtime: u64,
    pub directory: bool,
    /// The listed ETag, which [`Importer::open`] pins the read to.
    pub etag: String,
    /// See [`crate::attributes`].
    pub attributes: Vec<(String, String)>,
}

/// What the importer says of one listed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Entry(Entry),
    /// The key could not be backed up, and why.
    Failure {
        key: String,
        message: String,
    },
}

pub struct Importer<T: Transport> {
    shared: Rc<Shared<T>>,
    pages: Pages<T>,
    /// Whether tags are asked for: a server that keeps none (s3s-fs answers
    /// NotImplemented) is asked once, not once per object.
    tags: Cell<bool>,
}

impl<T: Transport> Importer<T> {
    /// Only keeps the configuration: no request is sent.
    pub fn new(config: Config, transport: T) -> Self {
        let shared = Rc::new(Shared::new(config, transport));
        let prefix = shared.config.prefix.clone();
        Importer {
            pages: Pages::new(shared.clone(), prefix),
            shared,
            tags: Cell::new(true),
        }
    }

    pub fn shared(&self) -> &Shared<T> {
        &self.shared
    }

    /// The records of the next listing page, or `None` after the last.
    pub fn next_page(&mut self) -> Result<Option<Vec<Record>>> {
        let page = match self.pages.next_page() {
            Err(Error::NotFound(m)) => return Err(self.missing_bucket(&m)),
            other => other?,
        };
        let Some(page) = page else {
            return Ok(None);
        };
        page.keys
            .iter()
            .map(|object| self.record(object))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// Starts reading the file at `path` as it was listed with `etag`.
    pub fn open(&self, path: &str, etag: &str) -> Result<Download<T>> {
        self.shared.check_open()?;
        let key = key_of_path(&self.shared.config.prefix, path)
            .map_err(|why| Error::InvalidArgument(format!("`{path}` is not a file path: {why}")))?;
        Download::open_pinned(self.shared.clone(), key, etag)
    }

    fn record(&self, object: &ListedObject) -> Result<Record> {
        let key = &object.key;
        let failure = |message: String| {
            Ok(Record::Failure {
                key: key.clone(),
                message,
            })
        };
        let below = key
            .strip_prefix(self.shared.config.prefix.as_str())
            .unwrap_or(key);
        let node = match node_of_key(below) {
            Ok(node) => node,
            Err(why) => return failure(format!("`{key}` is not a valid path: {why}")),
        };
        let Some(mtime) = parse_iso8601(&object.last_modified) else {
            let date = &object.last_modified;
            return failure(format!("`{key}`: unreadable LastModified `{date}`"));
        };
        let (path, directory) = match node {
            Node::File(path) => (path, false),
            Node::Directory(path) => (path, true),
        };
        let (etag, attributes) = match directory {
            true => (object.etag.clone(), Vec::new()),
            false => match self.describe(object) {
                Ok(described) => described,
                Err(e @ (Error::Auth(_) | Error::Unavailable(_))) => return Err(e),
                Err(e) => return failure(e.to_string()),
            },
        };
        Ok(Record::Entry(Entry {
            path,
            size: if directory { 0 } else { object.size },
            mtime,
            directory,
            etag,
            attributes,
        }))
    }

    /// The object's ETag and attributes, from a HEAD that must find the
    /// listed version. A listing without ETags (s3s-fs sends none) pins the
    /// version the HEAD found, whose size must be the listed one.
    fn describe(&self, object: &ListedObject) -> Result<(String, Vec<(String, String)>)> {
        let key = &object.key;
        let headers = self
            .shared
            .head(key)?
            .ok_or_else(|| Error::NotFound(format!("{key} was deleted since it was listed")))?;
        let etag = header(&headers, "etag")
            .unwrap_or_default()
            .trim()
            .trim_matches('"')
            .to_owned();
        let size = header(&headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let same = match object.etag.is_empty() {
            true => size == Some(object.size),
            false => etag == object.etag,
        };
        if !same || etag.is_empty() {
            return Err(Error::Corrupted(format!(
                "{key} changed since it was listed (ETag \"{etag}\", listed \"{}\")",
                object.etag
            )));
        }
        let tags = self.tags_of(key)?;
        let attributes = attributes::of_object(&Described {
            headers: &headers,
            storage_class: &object.storage_class,
            etag: &etag,
            tags: tags.as_deref(),
        });
        Ok((etag, attributes))
    }

    /// The object's tags, `None` where the server keeps none.
    fn tags_of(&self, key: &str) -> Result<Option<Vec<(String, String)>>> {
        if !self.tags.get() {
            return Ok(None);
        }
        let s = &self.shared;
        let req = actions::get_object_tagging(&s.bucket, key);
        match s
            .client
            .send_document(&req, &[], Payload::Empty, |answer| Ok(answer.body))
        {
            Ok(body) => xml::parse_tagging(&body).map(Some),
            Err(e) if matches!(e.status(), Some(405 | 501)) => {
                self.tags.set(false);
                Ok(None)
            }
            Err(e) => Err(s.refusal(key, e, s.object.sent())),
        }
    }

    fn missing_bucket(&self, message: &str) -> Error {
        Error::NotFound(format!(
            "bucket `{}` does not exist ({message})",
            self.shared.bucket.name()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{config, Reply, Script};

    fn listing(objects: &[(&str, &str)]) -> Reply {
        let contents: String = objects
            .iter()
            .map(|(key, etag)| {
                format!(
                    "<Contents><Key>{key}</Key><LastModified>2024-01-02T03:04:05.000Z\
                     </LastModified><ETag>\"{etag}\"</ETag><Size>5</Size>\
                     <StorageClass>STANDARD</StorageClass></Contents>"
                )
            })
            .collect();
        Reply::xml(
            200,
            &format!(
                "<ListBucketResult><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
            ),
        )
    }

    fn importer(script: &Script) -> Importer<Script> {
        Importer::new(config(&[]), script.clone())
    }

    fn failure_of(record: &Record) -> &str {
        match record {
            Record::Failure { message, .. } => message,
            other => panic!("not a failure: {other:?}"),
        }
    }

    #[test]
    fn a_page_of_records_with_metadata_tags_and_failures() {
        let tags = "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>";
        let script = Script::new(vec![
            (
                "GET /bkt?",
                listing(&[
                    ("a b/é.txt", "e1"),
                    ("dir/", "e2"),
                    ("bad//key", "e3"),
                    ("gone", "e4"),
                    ("changed", "e5"),
                ]),
            ),
            (
                "HEAD /bkt/a%20b/%C3%A9.txt",
                Reply::stored("e1")
                    .with("content-type", "text/plain")
                    .with("x-amz-meta-colour", "blue"),
            ),
            ("GET /bkt/a%20b/%C3%A9.txt?tagging", Reply::xml(200, tags)),
            ("HEAD /bkt/gone", Reply::status(404)),
            ("HEAD /bkt/changed", Reply::stored("other")),
        ]);
        let mut importer = importer(&script);
        let page = importer.next_page().unwrap().unwrap();
        script.assert_done();
        assert_eq!(
            page[0],
            Record::Entry(Entry {
                path: "/a b/é.txt".into(),
                size: 5,
                mtime: 1_704_164_645,
                directory: false,
                etag: "e1".into(),
                attributes: [
                    ("s3.content-type", "text/plain"),
                    ("s3.meta.colour", "blue"),
                    ("s3.storage-class", "STANDARD"),
                    ("s3.etag", "e1"),
                    ("s3.tagging", "k=v"),
                ]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            })
        );
        assert!(
            matches!(&page[1], Record::Entry(e) if e.directory && e.path == "/dir" && e.size == 0)
        );
        assert!(failure_of(&page[2]).contains("`bad//key` is not a valid path"));
        assert!(failure_of(&page[3]).contains("deleted since it was listed"));
        assert!(failure_of(&page[4]).contains("changed since it was listed"));
        assert_eq!(importer.next_page().unwrap(), None);
    }

    #[test]
    fn a_server_without_tags_is_asked_once() {
        let script = Script::new(vec![
            ("GET /bkt?", listing(&[("a", "e1"), ("b", "e2")])),
            ("HEAD /bkt/a", Reply::stored("e1")),
            ("GET /bkt/a?tagging", Reply::error(501, "NotImplemented")),
            ("HEAD /bkt/b", Reply::stored("e2")),
        ]);
        let page = importer(&script).next_page().unwrap().unwrap();
        script.assert_done();
        assert!(page.iter().all(|r| matches!(r, Record::Entry(_))));
    }

    #[test]
    fn a_listing_without_etags_pins_what_the_head_found() {
        let body = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key>\
                    <LastModified>2024-01-02T03:04:05Z</LastModified><Size>5</Size></Contents>\
                    <Contents><Key>b</Key><LastModified>2024-01-02T03:04:05Z</LastModified>\
                    <Size>5</Size></Contents></ListBucketResult>";
        let script = Script::new(vec![
            ("GET /bkt?", Reply::xml(200, body)),
            (
                "HEAD /bkt/a",
                Reply::stored("e1").with("content-length", "5"),
            ),
            ("GET /bkt/a?tagging", Reply::error(501, "NotImplemented")),
            (
                "HEAD /bkt/b",
                Reply::stored("e2").with("content-length", "6"),
            ),
        ]);
        let page = importer(&script).next_page().unwrap().unwrap();
        script.assert_done();
        assert!(
            matches!(&page[0], Record::Entry(e) if e.etag == "e1"),
            "{page:?}"
        );
        assert!(failure_of(&page[1]).contains("changed since it was listed"));
    }

    #[test]
    fn credentials_refused_fail_the_call_not_a_record() {
        let script = Script::new(vec![
            ("GET /bkt?", listing(&[("a", "e1")])),
            ("HEAD /bkt/a", Reply::status(403)),
            ("GET /bkt/a", Reply::error(403, "SignatureDoesNotMatch")),
        ]);
        let err = importer(&script).next_page().unwrap_err();
        assert!(matches!(err, Error::Auth(_)), "{err}");

        let missing = Script::new(vec![("GET /bkt?", Reply::error(404, "NoSuchBucket"))]);
        let err = importer(&missing).next_page().unwrap_err();
        assert!(
            matches!(&err, Error::NotFound(m) if m.contains("`bkt`")),
            "{err}"
        );
    }

    #[test]
    fn reads_are_pinned_to_the_listed_version() {
        let script = Script::new(vec![
            ("GET /bkt/a/b", Reply::error(412, "PreconditionFailed")),
            // A server that ignores If-Match answers the new version.
            ("GET /bkt/a/b", Reply::stored("new").body(b"12345")),
        ]);
        let importer = importer(&script);
        for _ in 0..2 {
            let err = importer.open("/a/b", "old").err().unwrap();
            assert!(
                matches!(&err, Error::Corrupted(m) if m.contains("changed since it was listed")),
                "{err}"
            );
        }
        script.assert_done();
        assert_eq!(script.seen()[0].header("if-match"), Some("\"old\""));
        let err = importer.open("/a/../b", "e").err().unwrap();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    }
}
