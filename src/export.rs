//! The exporter: files restored as objects at the prefix + their path (Plakar's
//! `exporter`), with the metadata and tags their attributes carry (see
//! [`crate::attributes`]).
//!
//! Each file goes through the same bounded upload as kloset's objects
//! (multipart above `part_size`, Content-MD5 on every part, aborted on
//! failure, visible only once complete), as a plain overwrite: a restore
//! replaces what the user asked it to, never with a half-written object.
//! Directories need no object.

use std::cell::Cell;
use std::rc::Rc;

use crate::attributes;
use crate::client::Transport;
use crate::config::Config;
use crate::context::{Owner, Placement, Shared};
use crate::error::{Error, Result};
use crate::paths::key_of_path;
use crate::provision;
use crate::upload::Upload;

pub struct Exporter<T: Transport> {
    shared: Rc<Shared<T>>,
    /// The bucket was found or created: asked once, before the first file.
    bucket_ready: Cell<bool>,
}

impl<T: Transport> Exporter<T> {
    /// Only keeps the configuration: no request is sent.
    pub fn new(config: Config, transport: T) -> Self {
        Exporter {
            shared: Rc::new(Shared::new(config, transport)),
            bucket_ready: Cell::new(false),
        }
    }

    pub fn shared(&self) -> &Shared<T> {
        &self.shared
    }

    /// Starts writing the file at `path` (the bytes go into the upload),
    /// with the metadata `attributes` describe.
    pub fn create_file(&self, path: &str, attributes: &[(String, String)]) -> Result<Upload<T>> {
        let s = &self.shared;
        s.check_open()?;
        let key = key_of_path(&s.config.prefix, path)
            .map_err(|why| Error::InvalidArgument(format!("`{path}` cannot be restored: {why}")))?;
        let restored = attributes::to_headers(attributes)
            .map_err(|why| Error::InvalidArgument(format!("{path}: {why}")))?;
        self.ensure_bucket()?;
        let placement = Placement {
            key,
            class: restored.storage_class.unwrap_or(s.config.storage_class),
            locked: false,
            archive_copy: None,
            immutable: false,
            what: "file",
            owner: Owner::File {
                headers: restored.headers,
            },
        };
        Upload::new(s.clone(), placement)
    }

    fn ensure_bucket(&self) -> Result<()> {
        if !self.bucket_ready.get() {
            if !provision::bucket_exists(&self.shared)? {
                provision::create_bucket(&self.shared)?;
            }
            self.bucket_ready.set(true);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{config, Reply, Script, EMPTY_LISTING};

    fn attrs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_file_is_written_with_its_metadata_over_what_is_there() {
        let script = Script::new(vec![
            ("GET /bkt?", Reply::error(404, "NoSuchBucket")),
            ("PUT /bkt", Reply::status(200)),
            ("PUT /bkt/d/f%201", Reply::stored("e")),
            (
                "PUT /bkt/empty",
                Reply::stored("d41d8cd98f00b204e9800998ecf8427e"),
            ),
        ]);
        let exporter = Exporter::new(config(&[]), script.clone());
        let attributes = attrs(&[
            ("s3.content-type", "text/plain"),
            ("s3.meta.colour", "blue"),
            ("s3.tagging", "k=v"),
            ("s3.etag", "ignored"),
            ("user.mime_type", "ignored"),
        ]);
        let mut upload = exporter.create_file("/d/f 1", &attributes).unwrap();
        upload.write(b"hello").unwrap();
        assert_eq!(upload.finish(), Ok(5));
        let mut empty = exporter.create_file("/empty", &[]).unwrap();
        assert_eq!(empty.finish(), Ok(0));
        script.assert_done();
        let put = &script.seen()[2];
        assert_eq!(put.header("content-type"), Some("text/plain"));
        assert_eq!(put.header("x-amz-meta-colour"), Some("blue"));
        assert_eq!(put.header("x-amz-tagging"), Some("k=v"));
        // A plain overwrite with nothing of ours: no condition, no digest metadata.
        assert_eq!(put.header("if-none-match"), None);
        assert_eq!(put.header(crate::actions::META_XXH3), None);
        assert!(put.header("content-md5").is_some());
        assert_eq!(put.body, b"hello");
    }

    #[test]
    fn bad_paths_and_attributes_are_refused_before_any_request() {
        let script = Script::new(vec![]);
        let exporter = Exporter::new(config(&[]), script.clone());
        for (path, attributes) in [
            ("/a/../../b", vec![]),
            ("relative", vec![]),
            ("/ok", attrs(&[("s3.colour", "red")])),
        ] {
            let err = exporter.create_file(path, &attributes).err().unwrap();
            assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        }
        assert!(script.seen().is_empty());
    }

    #[test]
    fn an_existing_bucket_is_asked_once() {
        let script = Script::new(vec![
            ("GET /bkt?", Reply::xml(200, EMPTY_LISTING)),
            ("PUT /bkt/a", Reply::stored("e")),
            ("PUT /bkt/b", Reply::stored("e")),
        ]);
        let exporter = Exporter::new(config(&[]), script.clone());
        for path in ["/a", "/b"] {
            let mut upload = exporter.create_file(path, &[]).unwrap();
            upload.write(b"x").unwrap();
            upload.finish().unwrap();
        }
        script.assert_done();
    }
}
