//! The view and the recovery over the scripted transport: which requests
//! they send (by version, never deleting one), and what they make of the
//! answers.

use crate::error::Error;
use crate::layout::{Kind, Mac};
use crate::script::{head_of, Reply, Script};
use crate::versions::{Action, Step};

/// 2026-11-25T13:00:00Z, 2334 s before the scripted clock's start.
const T: &str = "2026-11-25T13:00:00Z";
const BEFORE: &str = "2026-11-25T12:00:00.000Z";
const AFTER: &str = "2026-11-25T13:30:00.000Z";
const MAC: Mac = Mac([0xab; 32]);

fn view(script: &Script) -> crate::store::Store<Script> {
    script.store(&[("point_in_time", T)])
}

fn versioned() -> (&'static str, Reply) {
    (
        "GET /bkt?versioning",
        Reply::xml(
            200,
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ),
    )
}

fn version(key: &str, id: &str, when: &str, latest: bool, etag: &str) -> String {
    format!(
        "<Version><Key>{key}</Key><VersionId>{id}</VersionId><IsLatest>{latest}</IsLatest>\
         <LastModified>{when}</LastModified><ETag>\"{etag}\"</ETag><Size>6</Size></Version>"
    )
}

fn marker(key: &str, id: &str, when: &str, latest: bool) -> String {
    format!(
        "<DeleteMarker><Key>{key}</Key><VersionId>{id}</VersionId><IsLatest>{latest}</IsLatest>\
         <LastModified>{when}</LastModified></DeleteMarker>"
    )
}

fn page(entries: &[String], next: Option<(&str, &str)>) -> Reply {
    let tail = match next {
        Some((key, version)) => format!(
            "<IsTruncated>true</IsTruncated><NextKeyMarker>{key}</NextKeyMarker>\
             <NextVersionIdMarker>{version}</NextVersionIdMarker>"
        ),
        None => "<IsTruncated>false</IsTruncated>".into(),
    };
    Reply::xml(
        200,
        &format!(
            "<ListVersionsResult>{}{tail}</ListVersionsResult>",
            entries.concat()
        ),
    )
}

fn packfile(byte: u8) -> String {
    format!("packfiles/{byte:02x}/{}", crate::hex::encode(&[byte; 32]))
}

const LIST_CONFIG: &str = "GET /bkt?encoding-type=url&max-keys=1000&prefix=CONFIG&versions";
const LIST_PACKFILES: &str =
    "GET /bkt?encoding-type=url&max-keys=1000&prefix=packfiles%2F&versions";
const LIST_STATES: &str = "GET /bkt?encoding-type=url&max-keys=1000&prefix=states%2F&versions";

#[test]
fn open_reads_config_as_it_was_by_version() {
    let script = Script::new(vec![
        versioned(),
        (
            LIST_CONFIG,
            page(
                &[
                    marker("CONFIG", "v2", AFTER, true),
                    version("CONFIG", "v1", BEFORE, false, "e1"),
                ],
                None,
            ),
        ),
        (
            "GET /bkt/CONFIG?versionId=v1",
            head_of(b"config", &[]).body(b"config"),
        ),
    ]);
    assert_eq!(view(&script).open().unwrap(), b"config");
    script.assert_done();
}

#[test]
fn a_kloset_created_after_the_moment_did_not_exist_then() {
    let script = Script::new(vec![
        versioned(),
        (
            LIST_CONFIG,
            page(&[version("CONFIG", "v1", AFTER, true, "e")], None),
        ),
    ]);
    let err = view(&script).open().unwrap_err();
    assert!(
        matches!(&err, Error::NotFound(m) if m.contains("did not exist then") && m.contains(T)),
        "{err}"
    );
    script.assert_done();
}

#[test]
fn a_bucket_without_versioning_is_a_configuration_error() {
    for (answer, status) in [
        ("<VersioningConfiguration/>", "not enabled"),
        (
            "<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>",
            "Suspended",
        ),
    ] {
        let script = Script::new(vec![("GET /bkt?versioning", Reply::xml(200, answer))]);
        let err = view(&script).open().unwrap_err();
        assert!(
            matches!(&err, Error::InvalidConfig { key, message }
                if key == "point_in_time" && message.contains(status) && message.contains("enable versioning")),
            "{err}"
        );
    }
    let script = Script::new(vec![(
        "GET /bkt?versioning",
        Reply::error(501, "NotImplemented"),
    )]);
    let err = view(&script).list(Kind::State).err().unwrap();
    assert!(
        matches!(&err, Error::Unsupported(m) if m.contains("point_in_time")),
        "{err}"
    );
}

#[test]
fn list_pages_through_versions_and_a_key_may_span_pages() {
    let (p1, p2, p3) = (packfile(1), packfile(2), packfile(3));
    let script = Script::new(vec![
        versioned(),
        (
            LIST_PACKFILES,
            page(
                &[
                    // Deleted since: listed. Its versions continue on page 2.
                    version(&p1, "a3", AFTER, false, "x"),
                    marker(&p1, "a4", AFTER, true),
                ],
                Some((&p1, "a3")),
            ),
        ),
        (
            "GET /bkt?encoding-type=url&key-marker=packfiles%2F01%2F",
            page(
                &[
                    version(&p1, "a1", BEFORE, false, "x"),
                    // Created since: not listed.
                    version(&p2, "b1", AFTER, true, "y"),
                    // Deleted before: not listed.
                    marker(&p3, "c2", BEFORE, true),
                    version(&p3, "c1", "2026-11-25T11:00:00Z", false, "z"),
                ],
                None,
            ),
        ),
    ]);
    let store = view(&script);
    let mut listing = store.list(Kind::Packfile).unwrap();
    assert_eq!(listing.next_page(), Ok(Some(vec![])));
    assert_eq!(listing.next_page(), Ok(Some(vec![Mac([1; 32])])));
    assert_eq!(listing.next_page(), Ok(None));
    script.assert_done();
    assert!(script.seen()[2].target.contains("version-id-marker=a3"));
}

#[test]
fn get_reads_the_version_of_then_and_answers_not_found_otherwise() {
    let key = crate::layout::Layout::new("").object_key(Kind::State, &MAC);
    let list = "GET /bkt?encoding-type=url&max-keys=1000&prefix=states%2Fab%2F";
    let script = Script::new(vec![
        versioned(),
        (
            list,
            page(
                &[
                    version(&key, "new", AFTER, true, "n"),
                    version(&key, "old", BEFORE, false, "o"),
                ],
                None,
            ),
        ),
        (
            "GET /bkt/states/ab/",
            head_of(b"before", &[]).body(b"before"),
        ),
        (list, page(&[version(&key, "new", AFTER, true, "n")], None)),
    ]);
    let store = view(&script);
    let mut download = store.get(Kind::State, &MAC, None).unwrap();
    assert_eq!(download.read(100).unwrap().unwrap(), b"before");
    assert_eq!(download.read(100), Ok(None));
    assert!(
        script.seen()[2].target.ends_with("?versionId=old"),
        "{}",
        script.seen()[2].target
    );
    let err = store.get(Kind::State, &MAC, None).err().unwrap();
    assert!(matches!(&err, Error::NotFound(m) if m.contains(T)), "{err}");
    script.assert_done();
}

#[test]
fn the_view_is_read_only_and_refuses_the_future() {
    let script = Script::new(vec![]);
    let store = view(&script);
    assert!(!store.writable());
    let refusals = [
        store.put(Kind::Packfile, &MAC, false).err(),
        store.delete(Kind::Packfile, &MAC).err(),
        store.create(b"c").err(),
        store.extend_retention(Kind::Packfile, &MAC).err(),
        store.recovery("1d").err(),
    ];
    for err in refusals {
        let err = err.expect("refused");
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("point_in_time") && m.contains(T)),
            "{err}"
        );
    }
    assert!(script.seen().is_empty());

    assert_eq!(view(&script).check_config(), Ok(()));
    let future = script.store(&[("point_in_time", "2026-11-25T14:00:00Z")]);
    let err = future.check_config().unwrap_err();
    assert!(
        matches!(&err, Error::InvalidConfig { key, message } if key == "point_in_time" && message.contains("future")),
        "{err}"
    );
}

/// The scripted bucket for a recovery to T: CONFIG unchanged; packfile 1
/// deleted since, 2 overwritten since, 3 created since, 4 untouched, 5
/// restored by an earlier run (a copy: same ETag, new version).
fn recovery_script(then: &[(&'static str, Reply)]) -> Script {
    let config = version("CONFIG", "c1", BEFORE, true, "cc");
    let packfiles = [
        marker(&packfile(1), "p1b", AFTER, true),
        version(&packfile(1), "p1a", BEFORE, false, "e1"),
        version(&packfile(2), "p2b", AFTER, true, "evil"),
        version(&packfile(2), "p2a", BEFORE, false, "e2"),
        version(&packfile(3), "p3a", AFTER, true, "junk"),
        version(&packfile(4), "p4a", BEFORE, true, "e4"),
        version(&packfile(5), "p5c", AFTER, true, "e5"),
        marker(&packfile(5), "p5b", AFTER, false),
        version(&packfile(5), "p5a", BEFORE, false, "e5"),
    ];
    let mut steps = vec![
        versioned(),
        (LIST_CONFIG, page(std::slice::from_ref(&config), None)),
        (LIST_CONFIG, page(&[config], None)),
        (LIST_PACKFILES, page(&packfiles, None)),
        (LIST_STATES, page(&[], None)),
    ];
    steps.extend(then.iter().cloned());
    Script::new(steps)
}

#[test]
fn recovery_restores_the_deleted_and_overwritten_and_hides_the_new() {
    let script = recovery_script(&[
        (
            "PUT /bkt/packfiles/01/",
            Reply::xml(200, crate::xml::samples::AWS_COPY).with("x-amz-version-id", "p1c"),
        ),
        (
            "HEAD /bkt/packfiles/01/",
            Reply::status(200)
                .with("x-amz-object-lock-mode", "GOVERNANCE")
                .with(
                    "x-amz-object-lock-retain-until-date",
                    "2030-01-01T00:00:00Z",
                ),
        ),
        ("DELETE /bkt/packfiles/03/", Reply::status(204)),
    ]);
    let store = script.store(&[
        ("object_lock_mode", "GOVERNANCE"),
        ("object_lock_retention", "1d"),
    ]);
    let mut recovery = store.recovery(T).unwrap();
    let mut planned = Vec::new();
    while let Some(page) = recovery.plan_page().unwrap() {
        planned.extend(page);
    }
    let steps: Vec<(Step, &str, &str)> = planned
        .iter()
        .map(|a| (a.step, a.key.as_str(), a.version_id.as_str()))
        .collect();
    let (p1, p2, p3) = (packfile(1), packfile(2), packfile(3));
    assert_eq!(
        steps,
        [
            (Step::Restore, p1.as_str(), "p1a"),
            (Step::Restore, p2.as_str(), "p2a"),
            (Step::Hide, p3.as_str(), "p3a"),
        ]
    );
    recovery.apply(&planned[0]).unwrap();
    recovery.apply(&planned[2]).unwrap();
    script.assert_done();

    let seen = script.seen();
    let copy = &seen[seen.len() - 3];
    assert_eq!(
        copy.header("x-amz-copy-source"),
        Some(format!("/bkt/{p1}?versionId=p1a").as_str())
    );
    assert_eq!(copy.header("x-amz-metadata-directive"), Some("COPY"));
    assert_eq!(copy.header("x-amz-object-lock-mode"), Some("GOVERNANCE"));
    assert!(copy.header("x-amz-object-lock-retain-until-date").is_some());
    let hide = &seen[seen.len() - 1];
    assert!(!hide.target.contains("versionId"), "{}", hide.target);
}

#[test]
fn recovery_refuses_what_is_not_the_klosets_and_times_it_cannot_use() {
    let script = recovery_script(&[]);
    let store = script.store(&[]);
    let recovery = store.recovery("2026-11-25T13:00:00Z").unwrap();
    let stranger = Action {
        step: Step::Hide,
        key: "elsewhere/x".into(),
        version_id: String::new(),
        size: 0,
        last_modified_ms: 0,
    };
    assert!(matches!(
        recovery.apply(&stranger),
        Err(Error::InvalidArgument(_))
    ));
    let nameless = Action {
        step: Step::Restore,
        key: packfile(1),
        ..stranger
    };
    assert!(matches!(
        recovery.apply(&nameless),
        Err(Error::InvalidArgument(_))
    ));

    for bad in ["2026-11-25T14:00:00Z", "yesterday", ""] {
        let err = store.recovery(bad).err().unwrap();
        assert!(
            matches!(&err, Error::InvalidArgument(m) if m.contains("recovery time")),
            "{bad}: {err}"
        );
    }

    let early = Script::new(vec![
        versioned(),
        (
            LIST_CONFIG,
            page(&[version("CONFIG", "c1", AFTER, true, "cc")], None),
        ),
    ]);
    let err = early.store(&[]).recovery(T).err().unwrap();
    assert!(
        matches!(&err, Error::NotFound(m) if m.contains("did not exist then")),
        "{err}"
    );
}

#[test]
fn a_restore_sends_the_sse_c_key_for_both_sides() {
    let config = version("CONFIG", "c1", BEFORE, true, "cc");
    let script = Script::new(vec![
        versioned(),
        (LIST_CONFIG, page(&[config], None)),
        (
            "PUT /bkt/packfiles/01/",
            Reply::xml(200, crate::xml::samples::AWS_COPY),
        ),
    ]);
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let store = script.store(&[("sse_customer_key", key)]);
    let recovery = store.recovery(T).unwrap();
    let restore = Action {
        step: Step::Restore,
        key: packfile(1),
        version_id: "p1a".into(),
        size: 6,
        last_modified_ms: 0,
    };
    recovery.apply(&restore).unwrap();
    let seen = script.seen();
    let copy = seen.last().unwrap();
    for side in [
        "x-amz-server-side-encryption-customer",
        "x-amz-copy-source-server-side-encryption-customer",
    ] {
        assert_eq!(copy.header(&format!("{side}-key")), Some(key), "{side}");
        assert_eq!(copy.header(&format!("{side}-algorithm")), Some("AES256"));
    }
    // No lock configured: no lock header, and no HEAD after the copy.
    assert_eq!(copy.header("x-amz-object-lock-mode"), None);
    script.assert_done();
}
