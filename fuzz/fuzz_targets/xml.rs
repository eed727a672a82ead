//! Every S3 document parser on the same bytes: none may panic, and what they
//! accept must be self-consistent.
#![no_main]

use kloset_s3::xml;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let failure = xml::parse_error(500, data);
    assert!(failure.message.len() <= 4096);
    if let Ok(page) = xml::parse_list_objects_v2(data) {
        assert_eq!(page.is_truncated, page.next_token.is_some());
    }
    let _ = xml::parse_initiate_multipart(data);
    let _ = xml::parse_complete_multipart(200, data);
    let _ = xml::parse_location_constraint(data);
    let _ = xml::parse_object_lock_config(data);
    let _ = xml::parse_retention(data);
    if let Ok(uploads) = xml::parse_list_multipart_uploads(data) {
        assert!(uploads.iter().all(|u| !u.key.is_empty() && !u.upload_id.is_empty()));
    }
    if let Ok(page) = xml::parse_list_object_versions(data) {
        assert!(page.entries.iter().all(|e| !e.key.is_empty() && !e.version_id.is_empty()));
    }
    let _ = xml::parse_versioning(data);
    let _ = xml::parse_millis(&String::from_utf8_lossy(data));
});
