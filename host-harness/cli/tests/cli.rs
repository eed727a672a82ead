//! The `kloset-host` command line, run as a user runs it: each verb of the
//! README's table against every S3 server of the test bed.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use kloset_s3_tests::{data, servers, unique_bucket, TestServer};

const MAC: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Runs `kloset-host --config FILE ARGS` with `stdin` as its input.
fn run(config: &std::path::Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kloset-host"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kloset-host starts");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("kloset-host ends")
}

fn ok(output: Output, what: &str) -> Vec<u8> {
    assert!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A `--config` file for a fresh bucket of `server` (secrets stay out of argv).
fn config_file(server: &TestServer) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    for (key, value) in server.config(&unique_bucket("cli"), "repo", &[]) {
        writeln!(file, "{key}={value}").expect("write the config");
    }
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn every_store_verb_works_from_the_command_line() {
    for server in servers().await {
        let name = server.name;
        let config = config_file(&server);
        let path = config.path();
        ok(run(path, &["create", "-"], b"kloset CONFIG"), name);
        assert_eq!(ok(run(path, &["open"], b""), name), b"kloset CONFIG");
        ok(run(path, &["ping"], b""), name);
        let body = data(3, 300_000);
        ok(
            run(path, &["put", "packfile", MAC, "-", "--hot"], &body),
            name,
        );
        let listed = ok(run(path, &["ls", "packfile"], b""), name);
        assert_eq!(
            String::from_utf8(listed).unwrap(),
            format!("{MAC}\n"),
            "{name}"
        );
        let read = ok(run(path, &["get", "packfile", MAC], b""), name);
        assert!(read == body, "{name}: get");
        let range = ["get", "packfile", MAC, "--offset", "1000", "--length", "10"];
        assert_eq!(
            ok(run(path, &range, b""), name),
            &body[1000..1010],
            "{name}"
        );
        let info = String::from_utf8(ok(run(path, &["info"], b""), name)).unwrap();
        assert!(
            info.contains("type:   s3") && info.contains("mode:   read-write"),
            "{name}: {info}"
        );
        ok(run(path, &["rm", "packfile", MAC], b""), name);
        assert!(
            ok(run(path, &["ls", "packfile"], b""), name).is_empty(),
            "{name}"
        );
        let missing = run(path, &["get", "packfile", MAC], b"");
        assert!(!missing.status.success(), "{name}");
        let message = String::from_utf8_lossy(&missing.stderr);
        assert_eq!(message.lines().count(), 1, "{name}: {message}");
        assert!(message.contains("not found"), "{name}: {message}");
    }
}

#[test]
fn help_and_version_come_from_the_parser() {
    let version = Command::new(env!("CARGO_BIN_EXE_kloset-host"))
        .arg("--version")
        .output()
        .expect("runs");
    assert!(version.status.success());
    let text = String::from_utf8(version.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!("kloset-host {}", env!("CARGO_PKG_VERSION"))
    );
    let usage = Command::new(env!("CARGO_BIN_EXE_kloset-host"))
        .arg("frobnicate")
        .output()
        .expect("runs");
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("unrecognized subcommand"));
}
