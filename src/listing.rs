//! Listings: ListObjectsV2 pages under a prefix, following continuation
//! tokens, and the MACs of one resource kind read from them.
//!
//! A listing is bounded whatever the server sends: a token sent again would
//! loop (refused at once), and a server that keeps sending new ones is
//! stopped after [`MAX_PAGES`] pages — a hundred million keys at the 1000
//! per page we ask for, far beyond any kloset.

use std::collections::HashSet;
use std::rc::Rc;

use crate::actions;
use crate::client::Transport;
use crate::context::Shared;
use crate::error::{Error, Result};
use crate::integrity::sha256;
use crate::layout::{Kind, Mac};
use crate::sigv4::Payload;
use crate::xml;

/// The most pages one listing follows.
pub const MAX_PAGES: u64 = 100_000;

/// ListObjectsV2 pages under a prefix.
pub struct Pages<T> {
    shared: Rc<Shared<T>>,
    prefix: String,
    token: Option<String>,
    /// The SHA-256 of every token followed: a server that sends one again
    /// (`a, b, a, ...`) would make the listing endless.
    followed: HashSet<[u8; 32]>,
    pages: u64,
    max_pages: u64,
    done: bool,
}

impl<T: Transport> Pages<T> {
    pub fn new(shared: Rc<Shared<T>>, prefix: String) -> Self {
        Pages {
            shared,
            prefix,
            token: None,
            followed: HashSet::new(),
            pages: 0,
            max_pages: MAX_PAGES,
            done: false,
        }
    }

    pub fn next_page(&mut self) -> Result<Option<xml::ListPage>> {
        self.shared.check_open()?;
        if self.done {
            return Ok(None);
        }
        let s = &self.shared;
        let what = format!("listing `{}`", self.prefix);
        if self.pages == self.max_pages {
            self.done = true;
            return Err(Error::Other(format!(
                "{what}: stopped after {} pages of up to {} keys: the server keeps sending \
                 continuation tokens",
                self.max_pages,
                actions::LIST_PAGE
            )));
        }
        let req = actions::list_objects_v2(
            &s.bucket,
            &self.prefix,
            self.token.as_deref(),
            actions::LIST_PAGE,
        );
        let body = s
            .client
            .send_document(&req, &[], Payload::Empty, |answer| Ok(answer.body))
            .map_err(|e| e.into_error(&what))?;
        self.pages += 1;
        let page = xml::parse_list_objects_v2(&body)?;
        match (&page.next_token, page.is_truncated) {
            (Some(next), true) if !self.followed.insert(sha256(next.as_bytes())) => {
                self.done = true;
                return Err(Error::Other(format!(
                    "{what}: the server sent a continuation token it had sent before: the listing would never end"
                )));
            }
            (Some(next), true) => self.token = Some(next.clone()),
            _ => self.done = true,
        }
        Ok(Some(page))
    }
}

/// The MACs of one resource kind, a page at a time.
pub struct Listing<T> {
    kind: Kind,
    pages: Pages<T>,
}

impl<T: Transport> Listing<T> {
    pub fn new(shared: Rc<Shared<T>>, kind: Kind) -> Self {
        let prefix = shared.layout.list_prefix(kind);
        Listing {
            kind,
            pages: Pages::new(shared, prefix),
        }
    }

    pub fn next_page(&mut self) -> Result<Option<Vec<Mac>>> {
        let Some(page) = self.pages.next_page()? else {
            return Ok(None);
        };
        let layout = &self.pages.shared.layout;
        Ok(Some(
            page.keys
                .iter()
                .filter_map(|object| layout.parse_key(self.kind, &object.key))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{Reply, Script};

    fn page(keys: &[String], token: Option<&str>) -> Reply {
        let mut xml = String::from("<ListBucketResult>");
        for key in keys {
            xml.push_str(&format!(
                "<Contents><Key>{key}</Key><Size>1</Size></Contents>"
            ));
        }
        match token {
            Some(t) => xml.push_str(&format!(
                "<IsTruncated>true</IsTruncated><NextContinuationToken>{t}</NextContinuationToken>"
            )),
            None => xml.push_str("<IsTruncated>false</IsTruncated>"),
        }
        xml.push_str("</ListBucketResult>");
        Reply::xml(200, &xml)
    }

    fn packfile(byte: u8) -> String {
        format!("packfiles/{byte:02x}/{}", crate::hex::encode(&[byte; 32]))
    }

    fn listing(script: &Script) -> Listing<Script> {
        let shared = Shared::new(crate::script::config(&[]), script.clone());
        Listing::new(Rc::new(shared), Kind::Packfile)
    }

    #[test]
    fn pages_follow_tokens_and_a_cut_page_is_read_again() {
        let script = Script::new(vec![
            ("GET /bkt?", page(&[packfile(1)], Some("t1"))),
            (
                "GET /bkt?continuation-token=t1",
                page(&[packfile(2)], None).cut_after(30),
            ),
            ("GET /bkt?continuation-token=t1", page(&[packfile(2)], None)),
        ]);
        let mut listing = listing(&script);
        assert_eq!(listing.next_page(), Ok(Some(vec![Mac([1; 32])])));
        assert_eq!(listing.next_page(), Ok(Some(vec![Mac([2; 32])])));
        assert_eq!(listing.next_page(), Ok(None));
        script.assert_done();
    }

    #[test]
    fn a_token_sent_again_ends_the_listing() {
        let script = Script::new(vec![
            ("GET /bkt?", page(&[], Some("a"))),
            ("GET /bkt?continuation-token=a", page(&[], Some("b"))),
            ("GET /bkt?continuation-token=b", page(&[], Some("a"))),
        ]);
        let mut listing = listing(&script);
        assert!(listing.next_page().unwrap().is_some());
        assert!(listing.next_page().unwrap().is_some());
        let err = listing.next_page().unwrap_err();
        assert!(err.to_string().contains("sent before"), "{err}");
        assert_eq!(listing.next_page(), Ok(None));
        script.assert_done();
    }

    #[test]
    fn a_server_that_keeps_sending_new_tokens_is_stopped() {
        const PAGES: u64 = 40;
        let steps = (0..PAGES)
            .map(|i| ("GET /bkt?", page(&[], Some(&format!("t{i}")))))
            .collect();
        let script = Script::new(steps);
        let mut listing = listing(&script);
        listing.pages.max_pages = PAGES;
        for _ in 0..PAGES {
            assert!(listing.next_page().unwrap().is_some());
        }
        let err = listing.next_page().unwrap_err();
        assert!(err.to_string().contains("stopped after 40 pages"), "{err}");
        assert_eq!(listing.next_page(), Ok(None), "it stays ended");
        script.assert_done();
    }
}
