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

/// `recover` and `-o point_in_time=...` as the README shows them: on the
/// servers that keep versions, a deleted packfile is listed by the view,
/// planned by a dry run that changes nothing, put back by the real run, and
/// a second run has nothing to do; s3s-fs answers one clear line.
#[tokio::test(flavor = "multi_thread")]
async fn recover_and_the_point_in_time_view_work_from_the_command_line() {
    for server in servers().await {
        let name = server.name;
        let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
        let lock: &[(&str, &str)] = match server.caps.object_lock {
            true => &[
                ("object_lock_mode", "GOVERNANCE"),
                ("object_lock_retention", "1d"),
            ],
            false => &[],
        };
        for (key, value) in server.config(&unique_bucket("cli-recover"), "repo", lock) {
            writeln!(file, "{key}={value}").expect("write the config");
        }
        let path = file.path();
        ok(run(path, &["create", "-"], b"kloset CONFIG"), name);
        ok(
            run(path, &["put", "packfile", MAC, "-"], &data(4, 2000)),
            name,
        );
        if !server.caps.object_lock {
            let refused = run(path, &["recover", "--to", "1m"], b"");
            let message = String::from_utf8_lossy(&refused.stderr);
            assert!(!refused.status.success(), "{name}");
            assert_eq!(message.lines().count(), 1, "{name}: {message}");
            assert!(message.contains("versioning"), "{name}: {message}");
            continue;
        }
        let at = moment_between_writes().await;
        ok(run(path, &["rm", "packfile", MAC], b""), name);

        let pit = format!("point_in_time={at}");
        let then = ok(run(path, &["-o", &pit, "ls", "packfile"], b""), name);
        assert_eq!(
            String::from_utf8(then).unwrap(),
            format!("{MAC}\n"),
            "{name}"
        );
        let info = String::from_utf8(ok(run(path, &["-o", &pit, "info"], b""), name)).unwrap();
        assert!(info.contains("mode:   read-only"), "{name}: {info}");

        let dry = run(path, &["recover", "--to", &at, "--dry-run"], b"");
        let plan = String::from_utf8_lossy(&dry.stdout).into_owned();
        let summary = String::from_utf8_lossy(&dry.stderr).into_owned();
        assert!(dry.status.success(), "{name}: {summary}");
        assert!(
            plan.starts_with(&format!("restore repo/packfiles/00/{MAC} ")),
            "{name}: {plan}"
        );
        assert!(
            summary.contains("would restore 1 objects"),
            "{name}: {summary}"
        );
        assert!(
            ok(run(path, &["ls", "packfile"], b""), name).is_empty(),
            "{name}"
        );

        let real = ok(run(path, &["recover", "--to", &at], b""), name);
        assert_eq!(
            String::from_utf8(real).unwrap().lines().count(),
            1,
            "{name}"
        );
        assert_eq!(
            ok(run(path, &["get", "packfile", MAC], b""), name),
            data(4, 2000)
        );
        let again = run(path, &["recover", "--to", &at], b"");
        assert!(again.status.success() && again.stdout.is_empty(), "{name}");
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("nothing to do"),
            "{name}"
        );
    }
}

/// A time after every write so far and before every later one, in whole
/// seconds (moto dates versions to the second).
async fn moment_between_writes() -> String {
    let wait = || {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        std::time::Duration::from_millis((1000 - (ms % 1000)) as u64 + 50)
    };
    tokio::time::sleep(wait()).await;
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    tokio::time::sleep(wait()).await;
    kloset_s3::calendar::iso8601(at)
}
