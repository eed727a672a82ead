//! ListObjectVersions pages under a prefix, following the key and version
//! markers, folded into one [`Resolved`] per key. Bounded as
//! [`crate::listing`] is: a marker pair sent again is refused, and a server
//! that keeps sending new ones is stopped after [`MAX_PAGES`] pages.

use std::collections::HashSet;
use std::rc::Rc;

use super::history::{Fold, Resolved};
use crate::actions;
use crate::client::Transport;
use crate::context::Shared;
use crate::error::{Error, Result};
use crate::integrity::sha256;
use crate::listing::MAX_PAGES;
use crate::sigv4::Payload;
use crate::xml;

/// The keys under a prefix, as they were at a moment and as they are now.
pub struct Histories<T> {
    shared: Rc<Shared<T>>,
    prefix: String,
    markers: Option<(String, String)>,
    /// The SHA-256 of every marker pair followed.
    followed: HashSet<[u8; 32]>,
    pages: u64,
    max_pages: u64,
    fold: Fold,
    done: bool,
    /// Versions and delete markers listed so far, for figures.
    entries: u64,
}

impl<T: Transport> Histories<T> {
    /// `at_ms`: the moment, in milliseconds since 1970.
    pub fn new(shared: Rc<Shared<T>>, prefix: String, at_ms: u64) -> Self {
        Histories {
            shared,
            prefix,
            markers: None,
            followed: HashSet::new(),
            pages: 0,
            max_pages: MAX_PAGES,
            fold: Fold::new(at_ms),
            done: false,
            entries: 0,
        }
    }

    /// The keys whose versions all came by the end of the next page (the
    /// last key listed may continue on the page after); `None` at the end.
    pub fn next_page(&mut self) -> Result<Option<Vec<Resolved>>> {
        self.shared.check_open()?;
        if self.done {
            return Ok(None);
        }
        let what = format!("listing the versions of `{}`", self.prefix);
        if self.pages == self.max_pages {
            self.done = true;
            return Err(Error::Other(format!(
                "{what}: stopped after {} pages: the server keeps sending markers",
                self.max_pages
            )));
        }
        let page = self.fetch(&what)?;
        let mut entries = page.entries;
        // Servers list by key, but not all interleave versions and delete
        // markers (moto lists the markers last): by key, stably.
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        self.entries += entries.len() as u64;
        let mut resolved = Vec::new();
        for entry in entries {
            if !entry.key.starts_with(&self.prefix) {
                continue;
            }
            let done = self.fold.push(entry).map_err(|m| {
                self.done = true;
                Error::Other(format!("{what}: {m}"))
            })?;
            resolved.extend(done);
        }
        match page.next {
            Some(next)
                if !self
                    .followed
                    .insert(sha256(format!("{}\n{}", next.0, next.1).as_bytes())) =>
            {
                self.done = true;
                return Err(Error::Other(format!(
                    "{what}: the server sent markers it had sent before: the listing would never end"
                )));
            }
            Some(next) => self.markers = Some(next),
            None => {
                self.done = true;
                resolved.extend(self.fold.finish());
            }
        }
        Ok(Some(resolved))
    }

    /// Every version and delete marker listed so far.
    pub fn entries_listed(&self) -> u64 {
        self.entries
    }

    fn fetch(&mut self, what: &str) -> Result<xml::VersionsPage> {
        let s = &self.shared;
        let markers = self
            .markers
            .as_ref()
            .map(|(key, version)| (key.as_str(), version.as_str()));
        let req =
            actions::list_object_versions(&s.bucket, &self.prefix, markers, actions::LIST_PAGE);
        let body = s
            .client
            .send_document(&req, &[], Payload::Empty, |answer| Ok(answer.body))
            .map_err(|e| e.into_error(what))?;
        self.pages += 1;
        xml::parse_list_object_versions(&body)
    }
}

/// What `key` held at the moment and holds now; `None` when it never existed.
pub fn one_key<T: Transport>(
    shared: &Rc<Shared<T>>,
    key: &str,
    at_ms: u64,
) -> Result<Option<Resolved>> {
    let mut histories = Histories::new(shared.clone(), key.to_owned(), at_ms);
    while let Some(page) = histories.next_page()? {
        for resolved in page {
            match resolved.key.as_str().cmp(key) {
                std::cmp::Ordering::Equal => return Ok(Some(resolved)),
                std::cmp::Ordering::Greater => return Ok(None),
                std::cmp::Ordering::Less => {}
            }
        }
    }
    Ok(None)
}
