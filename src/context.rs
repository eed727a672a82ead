//! What a store shares with the uploads, downloads and listings it hands out
//! (separate WIT resources that outlive the call creating them): the client,
//! the bucket, the layout, the configuration, where each object goes, and the
//! warnings of work that went wrong without failing a call.
//!
//! Its own module so that `store`, `upload`, `download` and `listing` depend
//! on it and not on each other.

use std::cell::{Cell, RefCell};

use crate::actions::{self, ObjectOptions};
use crate::bucket::Bucket;
use crate::client::{Client, SendError, Transport};
use crate::config::{Config, StorageClass};
use crate::error::{Error, Result};
use crate::layout::{Kind, Layout, Mac};
use crate::refusal::{self, Sent};
use crate::retention::Retention;
use crate::sigv4::Payload;

/// Warnings kept until the host takes them: an instance nobody asks keeps
/// the first ones and a count of the rest, never an unbounded list.
const MAX_WARNINGS: usize = 100;

pub struct Shared<T> {
    pub client: Client<T>,
    pub bucket: Bucket,
    pub layout: Layout,
    pub config: Config,
    pub object: ObjectOptions,
    closed: Cell<bool>,
    warnings: RefCell<Warnings>,
    conditional_writes: Cell<ConditionalWrites>,
}

/// What this store has seen the server do with `If-None-Match: *` on a
/// key that exists (see [`crate::upload`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionalWrites {
    /// Not seen yet.
    Unknown,
    /// It refused the write (412): a write carrying the header cannot
    /// replace anything, so no HEAD needs to ask first.
    Honoured,
    /// It accepted the write, or the probe failed: ask first, always.
    Ignored,
}

#[derive(Default)]
struct Warnings {
    kept: Vec<String>,
    dropped: usize,
}

/// Where one kloset object is written (see [`Shared::placement`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The key the upload writes.
    pub key: String,
    pub class: StorageClass,
    /// Written under Object Lock (when configured): packfiles, states, `CONFIG`.
    pub locked: bool,
    /// Archive tiers: the key of the archive-class copy made once the
    /// object is written (`<key>.frozen`).
    pub archive_copy: Option<String>,
    /// Content-addressed (packfiles, states) or the kloset's identity
    /// (`CONFIG`): never replaced by other bytes. kloset's locks come and go.
    pub immutable: bool,
    /// What the object is, for messages: `packfile`, `state`, `lock`,
    /// `CONFIG`, `file`.
    pub what: &'static str,
    pub owner: Owner,
}

/// Whose object an upload writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// kloset's: never empty (kloset writes no empty object, so an empty
    /// one means its writer failed), and our digests are recorded as
    /// metadata for reads to check.
    Kloset,
    /// A file the exporter restores: it may be empty, and it carries its
    /// own headers exactly as given, nothing of ours, so the restored
    /// object has the metadata the backed-up one had.
    File { headers: Vec<(String, String)> },
}

impl<T: Transport> Shared<T> {
    pub fn new(config: Config, transport: T) -> Self {
        Shared {
            client: Client::new(&config, transport),
            bucket: Bucket::new(&config),
            layout: Layout::new(&config.prefix),
            object: ObjectOptions {
                sse_c: config.sse_customer_key.clone(),
            },
            config,
            closed: Cell::new(false),
            warnings: RefCell::default(),
            conditional_writes: Cell::new(ConditionalWrites::Unknown),
        }
    }

    /// Whether the server was seen refusing a write that `If-None-Match: *`
    /// forbade, and this store sends that header.
    pub fn honours_conditional_writes(&self) -> bool {
        self.config.conditional_writes
            && self.conditional_writes.get() == ConditionalWrites::Honoured
    }

    pub fn conditional_writes(&self) -> ConditionalWrites {
        self.conditional_writes.get()
    }

    /// What the server did with the header; a refusal (412) is proof
    /// enough, and is never unlearnt.
    pub fn learn_conditional_writes(&self, seen: ConditionalWrites) {
        if self.conditional_writes.get() != ConditionalWrites::Honoured {
            self.conditional_writes.set(seen);
        }
    }

    /// Every operation starts here, so nothing runs on a closed store.
    pub fn check_open(&self) -> Result<()> {
        if self.closed.get() {
            return Err(Error::InvalidArgument("the store is closed".into()));
        }
        Ok(())
    }

    pub fn close(&self) {
        self.closed.set(true);
    }

    pub fn archive(&self) -> bool {
        self.config.storage_class.is_archive()
    }

    /// Where an object is written, as Plakar's Go connector places it, so
    /// either connector continues the other's kloset. Locks stay in STANDARD.
    /// Archive tiers (GLACIER, DEEP_ARCHIVE), which cannot be read without a
    /// restore: a packfile goes straight to the tier as `<key>.frozen`; a
    /// state, and a packfile kloset marks `hot` (it reads it back soon), is
    /// written readable in STANDARD at `<key>` and copied to the tier as
    /// `<key>.frozen`.
    pub fn placement(&self, kind: Kind, mac: &Mac, hot: bool) -> Placement {
        let key = self.layout.object_key(kind, mac);
        let tier = self.config.storage_class;
        let (key, class, archive_copy) = match kind {
            Kind::Lock => (key, StorageClass::Standard, None),
            _ if !self.archive() => (key, tier, None),
            Kind::Packfile if !hot => (Layout::frozen(&key), tier, None),
            Kind::Packfile | Kind::State => {
                let copy = Layout::frozen(&key);
                (key, StorageClass::Standard, Some(copy))
            }
        };
        Placement {
            key,
            class,
            locked: kind != Kind::Lock,
            archive_copy,
            immutable: kind != Kind::Lock,
            what: kind.as_str(),
            owner: Owner::Kloset,
        }
    }

    /// Where `CONFIG` goes: readable in STANDARD, locked like packfiles (a
    /// kloset whose CONFIG can be destroyed is lost), never replaced.
    pub fn config_placement(&self) -> Placement {
        Placement {
            key: self.layout.config_key(),
            class: StorageClass::Standard,
            locked: true,
            archive_copy: None,
            immutable: true,
            what: "CONFIG",
            owner: Owner::Kloset,
        }
    }

    /// Archive tiers: where the copy of `CONFIG` in the tier goes
    /// (`CONFIG.frozen`, as the Go connector keeps it). It is written before
    /// CONFIG, which alone says whether a kloset exists: a tier the server
    /// refuses then leaves no kloset behind. Hence it is not immutable: a
    /// copy left by a create that never wrote CONFIG is replaced by the next.
    pub fn config_copy_placement(&self) -> Option<Placement> {
        self.archive().then(|| Placement {
            key: Layout::frozen(&self.layout.config_key()),
            class: self.config.storage_class,
            locked: true,
            archive_copy: None,
            immutable: false,
            what: "CONFIG",
            owner: Owner::Kloset,
        })
    }

    /// Every key an object may occupy: on archive tiers, also its
    /// `.frozen` copy (what Delete and retention extensions must reach).
    pub fn stored_keys(&self, kind: Kind, mac: &Mac) -> Vec<String> {
        let key = self.layout.object_key(kind, mac);
        if self.archive() && kind != Kind::Lock {
            vec![Layout::frozen(&key), key]
        } else {
            vec![key]
        }
    }

    /// The Object Lock retention a write sent now carries, when configured.
    pub fn retention_now(&self) -> Option<Retention> {
        let now = self.client.transport().unix_time();
        self.config
            .object_lock
            .map(|lock| Retention::for_write(&lock, now))
    }

    /// A final failure of a request about `what` that carried `sent`.
    pub fn refusal(&self, what: &str, error: SendError, sent: Sent) -> Error {
        match error {
            SendError::Rejected(failure) => refusal::explain(what, failure, sent),
            other => other.into_error(what),
        }
    }

    /// HEAD of an object: its headers, or `None` when it does not exist.
    pub fn head(&self, key: &str) -> Result<Option<Vec<(String, String)>>> {
        let req = actions::head_object(&self.bucket, key, &self.object);
        match self.client.send(&req, &[], Payload::Empty) {
            Ok(response) => Ok(Some(response.headers)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) if matches!(e.status(), Some(400 | 403)) => Err(self.explain_refusal(key)),
            Err(e) => Err(e.into_error(key)),
        }
    }

    /// A HEAD refusal has no body, so no S3 code to tell bad credentials from
    /// a missing permission or a wrong SSE-C key: the same question as a GET
    /// gets the document.
    fn explain_refusal(&self, key: &str) -> Error {
        let range = actions::ByteRange { first: 0, last: 0 };
        let req = actions::get_object(&self.bucket, key, Some(range), None, &self.object);
        match self.client.send(&req, &[], Payload::Empty) {
            Err(e) => self.refusal(key, e, self.object.sent()),
            Ok(_) => Error::PermissionDenied(format!("{key}: HEAD refused but GET allowed")),
        }
    }

    /// Something went wrong that does not fail the call (an upload the
    /// server refused to abort): kept for the host to take and report.
    pub fn warn(&self, warning: String) {
        let mut warnings = self.warnings.borrow_mut();
        if warnings.kept.len() < MAX_WARNINGS {
            warnings.kept.push(warning);
        } else {
            warnings.dropped += 1;
        }
    }

    /// The warnings since the last call, oldest first.
    pub fn take_warnings(&self) -> Vec<String> {
        let Warnings { mut kept, dropped } = self.warnings.take();
        if dropped > 0 {
            kept.push(format!("{dropped} more warnings were dropped"));
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::{Kind, Mac};
    use crate::script::Script;

    const MAC: Mac = Mac([0xab; 32]);

    /// As the Go connector: on an archive tier a packfile goes to the tier
    /// only, unless kloset marks it hot, when it stays readable in STANDARD
    /// with a copy in the tier; states always do; locks never touch the tier.
    #[test]
    fn hot_packfiles_stay_readable_on_archive_tiers() {
        let store = Script::new(vec![]).store(&[("storage_class", "GLACIER")]);
        let shared = store.shared();
        let cold = shared.placement(Kind::Packfile, &MAC, false);
        assert!(cold.key.ends_with(".frozen"), "{cold:?}");
        assert_eq!(cold.archive_copy, None);
        assert!(cold.class.is_archive());
        for (kind, hot) in [
            (Kind::Packfile, true),
            (Kind::State, false),
            (Kind::State, true),
        ] {
            let p = shared.placement(kind, &MAC, hot);
            assert!(!p.key.ends_with(".frozen"), "{kind:?} hot={hot}: {p:?}");
            assert!(!p.class.is_archive(), "{kind:?} hot={hot}: {p:?}");
            assert_eq!(p.archive_copy, Some(format!("{}.frozen", p.key)));
        }
        let lock = shared.placement(Kind::Lock, &MAC, true);
        assert_eq!((lock.archive_copy, lock.class.is_archive()), (None, false));
    }

    /// Without an archive tier the flag changes nothing.
    #[test]
    fn the_hot_flag_changes_nothing_on_readable_classes() {
        let store = Script::new(vec![]).store(&[]);
        let shared = store.shared();
        for kind in [Kind::Packfile, Kind::State, Kind::Lock] {
            assert_eq!(
                shared.placement(kind, &MAC, true),
                shared.placement(kind, &MAC, false)
            );
        }
    }
}
