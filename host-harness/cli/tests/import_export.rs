//! `kloset-host import --data DIR` then `kloset-host export DIR`, run as a
//! user runs them, on every S3 server of the test bed: a bucket's objects
//! land in DIR with their metadata as `user.s3.*` extended attributes, and
//! go back into another bucket (under a prefix) with the same bytes and
//! metadata.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use kloset_s3::request::Method;
use kloset_s3_tests::{data, servers, unique_bucket, TestServer};

/// A key, its bytes and the headers it is written with.
type Object<'a> = (&'a str, &'a [u8], &'a [(&'a str, &'a str)]);

fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kloset-host"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("kloset-host runs")
}

fn config_file(server: &TestServer, bucket: &str, prefix: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    for (key, value) in server.config(bucket, prefix, &[]) {
        writeln!(file, "{key}={value}").expect("write the config");
    }
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn import_then_export_keeps_bytes_and_metadata() {
    for server in servers().await {
        let name = server.name;
        let (source, target) = (unique_bucket("cli-import"), unique_bucket("cli-export"));
        assert_eq!(
            server
                .raw(Method::Put, &format!("/{source}"), &[], &[], b"")
                .await
                .status,
            200
        );
        let large = data(5, 300_000);
        let objects: [Object<'_>; 3] = [
            (
                "docs/é note.txt",
                b"hello",
                &[
                    ("content-type", "text/plain"),
                    ("x-amz-meta-colour", "blue"),
                ],
            ),
            ("empty", b"", &[]),
            ("data/large.bin", &large, &[]),
        ];
        for (key, body, headers) in objects {
            let r = server
                .raw(Method::Put, &format!("/{source}/{key}"), &[], headers, body)
                .await;
            assert_eq!(r.status, 200, "{name}: {}", r.text());
        }

        let dir = tempfile::tempdir().unwrap();
        let from = config_file(&server, &source, "");
        let imported = run(
            from.path(),
            &["import", "--data", dir.path().to_str().unwrap()],
        );
        assert!(
            imported.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&imported.stderr)
        );
        let records: Vec<serde_json::Value> = String::from_utf8(imported.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(records.len(), 3, "{name}: {records:?}");
        let note = records
            .iter()
            .find(|r| r["path"] == "/docs/é note.txt")
            .unwrap_or_else(|| panic!("{name}: {records:?}"));
        assert_eq!(note["size"], 5, "{name}");
        assert_eq!(
            note["attributes"]["s3.content-type"], "text/plain",
            "{name}"
        );
        assert_eq!(note["attributes"]["s3.meta.colour"], "blue", "{name}");
        for (key, body, _) in objects {
            assert!(
                std::fs::read(dir.path().join(key)).unwrap() == body,
                "{name}: {key}"
            );
        }

        let to = config_file(&server, &target, "restored");
        let exported = run(to.path(), &["export", dir.path().to_str().unwrap()]);
        assert!(
            exported.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&exported.stderr)
        );
        for (key, body, headers) in objects {
            let r = server
                .raw(
                    Method::Get,
                    &format!("/{target}/restored/{key}"),
                    &[],
                    &[],
                    b"",
                )
                .await;
            assert_eq!(r.status, 200, "{name}: {key}: {}", r.text());
            assert!(r.body == body, "{name}: {key} differs");
            for (header, value) in headers {
                assert_eq!(r.header(header), Some(*value), "{name}: {key}: {header}");
            }
        }
        eprintln!("{name}: import --data and export round trip");
    }
}
