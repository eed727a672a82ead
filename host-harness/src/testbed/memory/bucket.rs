//! One bucket of the memory server: objects in key order (for listings) and
//! multipart uploads in progress. Plain data and S3's rules over it; no I/O.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use bytes::{Bytes, BytesMut};
use s3s::crypto::{Checksum, Md5};
use s3s::dto::{CompletedPart, ETag, ETagCondition, Metadata, Timestamp};
use s3s::{s3_error, S3Result};

/// S3's smallest part but the last.
const MIN_PART_SIZE: usize = 5 << 20;

/// An object as stored: its bytes are shared, never copied, by the GETs
/// that serve them.
#[derive(Debug, Clone)]
pub struct Stored {
    pub data: Bytes,
    /// The ETag's value, without quotes: the MD5 of the bytes, or of the
    /// parts' MD5s followed by `-<parts>` for a multipart object.
    pub etag: String,
    pub metadata: Option<Metadata>,
    pub modified: Timestamp,
}

impl Stored {
    pub fn new(data: Bytes, etag: String, metadata: Option<Metadata>) -> Stored {
        Stored {
            data,
            etag,
            metadata,
            modified: Timestamp::from(std::time::SystemTime::now()),
        }
    }

    fn matches(&self, condition: &ETagCondition) -> bool {
        match condition {
            ETagCondition::Any => true,
            ETagCondition::ETag(etag) => etag.value() == self.etag,
        }
    }

    /// `If-Match`: a read resumed with the ETag it started with must not
    /// get another version's bytes.
    pub fn check_if_match(&self, condition: Option<&ETagCondition>) -> S3Result<()> {
        match condition {
            Some(condition) if !self.matches(condition) => Err(s3_error!(PreconditionFailed)),
            _ => Ok(()),
        }
    }
}

/// A multipart upload in progress: parts by number, each with its MD5.
#[derive(Debug)]
struct Pending {
    key: String,
    metadata: Option<Metadata>,
    parts: BTreeMap<i32, (Bytes, [u8; 16])>,
}

/// What completing an upload needs once the bucket is unlocked: the parts'
/// bytes in order, to be joined without holding the lock.
pub struct Assembly {
    parts: Vec<Bytes>,
    md5s: Md5,
    count: usize,
    metadata: Option<Metadata>,
}

impl Assembly {
    pub fn join(self) -> Stored {
        let mut data = BytesMut::with_capacity(self.parts.iter().map(Bytes::len).sum());
        for part in &self.parts {
            data.extend_from_slice(part);
        }
        let etag = format!(
            "{}-{}",
            kloset_s3::hex::encode(&self.md5s.finalize()),
            self.count
        );
        Stored::new(data.freeze(), etag, self.metadata)
    }
}

#[derive(Debug, Default)]
pub struct Bucket {
    objects: BTreeMap<String, Stored>,
    uploads: HashMap<String, Pending>,
}

impl Bucket {
    pub fn object(&self, key: &str) -> S3Result<Stored> {
        self.objects
            .get(key)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey))
    }

    /// Stores `stored` at `key` unless `if_none_match` matches the object
    /// already there (`*`: any object), which is S3's conditional write.
    pub fn insert(
        &mut self,
        key: String,
        stored: Stored,
        if_none_match: Option<&ETagCondition>,
    ) -> S3Result<()> {
        if let (Some(condition), Some(existing)) = (if_none_match, self.objects.get(&key)) {
            if existing.matches(condition) {
                return Err(s3_error!(PreconditionFailed, "the object exists"));
            }
        }
        self.objects.insert(key, stored);
        Ok(())
    }

    pub fn remove(&mut self, key: &str) {
        self.objects.remove(key);
    }

    /// At most `max` objects whose key starts with `prefix`, after `after`,
    /// and whether more follow.
    pub fn page(
        &self,
        prefix: &str,
        after: Option<&str>,
        max: usize,
    ) -> (Vec<(&str, &Stored)>, bool) {
        let lower = match after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let mut keys = self
            .objects
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, stored)| (key.as_str(), stored));
        let page: Vec<_> = keys.by_ref().take(max).collect();
        let more = keys.next().is_some();
        (page, more)
    }

    pub fn create_upload(&mut self, id: String, key: String, metadata: Option<Metadata>) {
        let parts = BTreeMap::new();
        self.uploads.insert(
            id,
            Pending {
                key,
                metadata,
                parts,
            },
        );
    }

    pub fn add_part(
        &mut self,
        id: &str,
        key: &str,
        number: i32,
        part: (Bytes, [u8; 16]),
    ) -> S3Result<()> {
        if !(1..=10_000).contains(&number) {
            return Err(s3_error!(
                InvalidArgument,
                "part number {number} is not in 1..=10000"
            ));
        }
        self.upload(id, key)?.parts.insert(number, part);
        Ok(())
    }

    pub fn abort_upload(&mut self, id: &str, key: &str) -> S3Result<()> {
        self.upload(id, key)?;
        self.uploads.remove(id);
        Ok(())
    }

    /// Checks the client's part list against the parts received (S3's
    /// rules: ascending numbers, matching ETags, all but the last at least
    /// 5 MiB) and gathers them.
    pub fn assemble(
        &mut self,
        id: &str,
        key: &str,
        listed: &[CompletedPart],
    ) -> S3Result<Assembly> {
        let pending = self.upload(id, key)?;
        if listed.is_empty() {
            return Err(s3_error!(MalformedXML, "no parts listed"));
        }
        let mut assembly = Assembly {
            parts: Vec::with_capacity(listed.len()),
            md5s: Md5::new(),
            count: listed.len(),
            metadata: pending.metadata.clone(),
        };
        let mut previous = 0;
        for (index, part) in listed.iter().enumerate() {
            let number = part.part_number.unwrap_or_default();
            if number <= previous {
                return Err(s3_error!(InvalidPartOrder));
            }
            previous = number;
            let (data, md5) = pending
                .parts
                .get(&number)
                .ok_or_else(|| s3_error!(InvalidPart))?;
            if part.e_tag.as_ref().map(ETag::value) != Some(kloset_s3::hex::encode(md5).as_str()) {
                return Err(s3_error!(InvalidPart, "part {number}: wrong ETag"));
            }
            if index + 1 < listed.len() && data.len() < MIN_PART_SIZE {
                return Err(s3_error!(EntityTooSmall, "part {number} is under 5 MiB"));
            }
            assembly.md5s.update(md5);
            assembly.parts.push(data.clone());
        }
        Ok(assembly)
    }

    /// Makes the assembled object visible and forgets the upload.
    pub fn complete_upload(
        &mut self,
        id: &str,
        key: &str,
        stored: Stored,
        if_none_match: Option<&ETagCondition>,
    ) -> S3Result<()> {
        self.upload(id, key)?;
        self.insert(key.to_owned(), stored, if_none_match)?;
        self.uploads.remove(id);
        Ok(())
    }

    fn upload(&mut self, id: &str, key: &str) -> S3Result<&mut Pending> {
        self.uploads
            .get_mut(id)
            .filter(|pending| pending.key == key)
            .ok_or_else(|| s3_error!(NoSuchUpload))
    }
}
