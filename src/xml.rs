//! The XML bodies of S3: the documents servers answer with, parsed defensively
//! (AWS, MinIO, Ceph, s3s-fs, moto, B2 and Garage differ in namespaces, element
//! order and optional elements; a hostile server may send anything), and the
//! few request bodies we send.
//!
//! Every server document goes through [`document`], which checks the whole body
//! (size, UTF-8, one root element of the expected name, no DOCTYPE, only the
//! predefined entities) before serde reads the fields we need.

mod bucket;
mod copy;
mod document;
mod error_doc;
mod list;
mod multipart;
mod object_lock;
#[cfg(test)]
mod robustness;
#[cfg(test)]
pub(crate) mod samples;
mod tagging;
mod versions;

pub use bucket::{create_bucket_body, parse_location_constraint};
pub use copy::parse_copy_object;
pub use error_doc::{parse_error, parse_error_region};
pub use list::{parse_list_objects_v2, ListPage, ListedObject};
pub use multipart::{
    complete_multipart_body, parse_complete_multipart, parse_initiate_multipart,
    parse_list_multipart_uploads, PendingUpload,
};
pub use object_lock::{
    parse_object_lock_config, parse_retention, retention_body, ObjectLockConfig, Retention,
};
pub use tagging::parse_tagging;
pub use versions::{
    parse_list_object_versions, parse_millis, parse_versioning, VersionEntry, VersionsPage,
};

/// The largest body any parser here accepts. Callers cap what they read from the
/// wire; this bound holds even if one forgets. A full ListObjectsV2 page of 1000
/// keys of 1024 bytes is about 1.3 MiB.
pub const MAX_XML_BODY: usize = 16 << 20;

/// The namespace AWS puts on its documents; we put it on the bodies we send,
/// as the AWS SDKs do, since some servers are stricter than AWS about it.
const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
