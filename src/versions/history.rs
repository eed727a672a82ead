//! What one key held at a moment and holds now, folded from its versions and
//! delete markers as ListObjectVersions lists them: pure, and O(1) per key
//! whatever the number of versions (a key's versions may span pages).

use crate::xml::VersionEntry;

/// One key's two states: at the point in time, and now. `None` is absent
/// (never written yet, or behind a delete marker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub key: String,
    pub then: Option<VersionEntry>,
    pub now: Option<VersionEntry>,
}

/// The versions of one key seen so far.
struct History {
    key: String,
    /// The newest entry written at or before the moment.
    then: Option<VersionEntry>,
    /// The entry the server marks latest (else the newest seen).
    now: Option<VersionEntry>,
}

impl History {
    fn new(entry: VersionEntry, at_ms: u64) -> History {
        let mut history = History {
            key: entry.key.clone(),
            then: None,
            now: None,
        };
        history.add(entry, at_ms);
        history
    }

    /// Entries of one key come newest first on every server we know, but the
    /// dates decide: on a tie, the one marked latest, else the first listed.
    fn add(&mut self, entry: VersionEntry, at_ms: u64) {
        if entry.last_modified_ms <= at_ms && newer(&entry, self.then.as_ref()) {
            self.then = Some(entry.clone());
        }
        let now_wins = match &self.now {
            None => true,
            Some(now) if now.is_latest => false,
            Some(now) => entry.is_latest || newer(&entry, Some(now)),
        };
        if now_wins {
            self.now = Some(entry);
        }
    }

    fn resolve(self) -> Resolved {
        let present = |e: Option<VersionEntry>| e.filter(|e| !e.delete_marker);
        Resolved {
            key: self.key,
            then: present(self.then),
            now: present(self.now),
        }
    }
}

fn newer(entry: &VersionEntry, than: Option<&VersionEntry>) -> bool {
    match than {
        None => true,
        Some(than) => {
            entry.last_modified_ms > than.last_modified_ms
                || entry.last_modified_ms == than.last_modified_ms
                    && entry.is_latest
                    && !than.is_latest
        }
    }
}

/// Folds a listing, in key order, into one [`Resolved`] per key.
pub struct Fold {
    at_ms: u64,
    open: Option<History>,
}

impl Fold {
    pub fn new(at_ms: u64) -> Fold {
        Fold { at_ms, open: None }
    }

    /// Adds one entry; returns the previous key once this one starts another.
    /// A key listed again after a later one is an error (a listing out of
    /// order would count a key twice).
    pub fn push(&mut self, entry: VersionEntry) -> Result<Option<Resolved>, String> {
        match &mut self.open {
            Some(history) if history.key == entry.key => {
                history.add(entry, self.at_ms);
                Ok(None)
            }
            Some(history) if history.key > entry.key => Err(format!(
                "the server listed `{}` after `{}`: versions out of key order",
                entry.key, history.key
            )),
            _ => {
                let done = self.open.replace(History::new(entry, self.at_ms));
                Ok(done.map(History::resolve))
            }
        }
    }

    /// The last key, once the listing ended.
    pub fn finish(&mut self) -> Option<Resolved> {
        self.open.take().map(History::resolve)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An entry of `key` at second `at`.
    pub fn version(key: &str, id: &str, at: u64, latest: bool) -> VersionEntry {
        VersionEntry {
            key: key.into(),
            version_id: id.into(),
            is_latest: latest,
            last_modified_ms: at * 1000,
            etag: format!("etag-{id}"),
            size: 10,
            delete_marker: false,
        }
    }

    pub fn marker(key: &str, id: &str, at: u64, latest: bool) -> VersionEntry {
        VersionEntry {
            delete_marker: true,
            etag: String::new(),
            size: 0,
            ..version(key, id, at, latest)
        }
    }

    fn fold(at: u64, entries: Vec<VersionEntry>) -> Vec<Resolved> {
        let mut fold = Fold::new(at * 1000);
        let mut out: Vec<Resolved> = entries
            .into_iter()
            .filter_map(|e| fold.push(e).unwrap())
            .collect();
        out.extend(fold.finish());
        out
    }

    fn ids(r: &Resolved) -> (Option<&str>, Option<&str>) {
        (
            r.then.as_ref().map(|e| e.version_id.as_str()),
            r.now.as_ref().map(|e| e.version_id.as_str()),
        )
    }

    #[test]
    fn the_newest_version_at_or_before_the_moment_unless_a_marker() {
        let resolved = fold(
            100,
            vec![
                // Deleted after the moment.
                marker("a", "a2", 150, true),
                version("a", "a1", 50, false),
                // Overwritten after the moment; exactly at it counts.
                version("b", "b3", 101, true),
                version("b", "b2", 100, false),
                version("b", "b1", 10, false),
                // Created after the moment.
                version("c", "c1", 120, true),
                // Deleted before the moment.
                marker("d", "d2", 90, true),
                version("d", "d1", 80, false),
                // Untouched.
                version("e", "e1", 5, true),
            ],
        );
        let states: Vec<_> = resolved.iter().map(ids).collect();
        assert_eq!(
            states,
            [
                (Some("a1"), None),
                (Some("b2"), Some("b3")),
                (None, Some("c1")),
                (None, None),
                (Some("e1"), Some("e1")),
            ]
        );
    }

    #[test]
    fn dates_decide_whatever_the_listing_order() {
        // moto lists delete markers after the versions.
        let resolved = fold(
            100,
            vec![
                version("a", "a1", 50, false),
                version("a", "a3", 200, false),
                marker("a", "a4", 300, true),
                marker("a", "a2", 60, false),
            ],
        );
        assert_eq!(ids(&resolved[0]), (None, None));
        // Same second: the one marked latest is the newer.
        let tie = fold(
            100,
            vec![
                version("k", "old", 100, false),
                version("k", "new", 100, true),
            ],
        );
        assert_eq!(ids(&tie[0]), (Some("new"), Some("new")));
    }

    #[test]
    fn a_key_spanning_pages_is_one_key_and_order_is_checked() {
        let mut fold = Fold::new(100_000);
        assert_eq!(fold.push(version("a", "a2", 200, true)), Ok(None));
        // (page break)
        assert_eq!(fold.push(version("a", "a1", 50, false)), Ok(None));
        let a = fold.push(version("b", "b1", 50, true)).unwrap().unwrap();
        assert_eq!(ids(&a), (Some("a1"), Some("a2")));
        let err = fold.push(version("a", "a0", 1, false)).unwrap_err();
        assert!(err.contains("out of key order"), "{err}");
        assert_eq!(fold.finish().map(|r| r.key), Some("b".into()));
        assert_eq!(fold.finish(), None);
    }
}
