//! Bad store configurations, through the real component in the real host.
//! Each must be refused with `InvalidConfig` naming the key at fault, never a
//! trap, both by `Host::open` (which parses in the host first) and by the
//! component's own `new-store` (asked alone through
//! `Host::check_config_in_component`): the two must give the same answer.

use kloset_host::HostError;
use kloset_s3::error::Error;
use kloset_s3_tests::host;
use kloset_s3_tests::secrets::{
    assert_no_secret, secret_key, session_token, sse_customer_key, sse_customer_key_short,
};

/// Port 9 (discard): nothing is ever sent, the configurations are refused first.
const LOCATION: &str = "s3://127.0.0.1:9/bucket";

/// A configuration that both parsers accept, so each case tests one change.
fn base() -> Vec<(String, String)> {
    [
        ("location", LOCATION),
        ("access_key", "AKIAADVERSARIAL"),
        ("secret_access_key", secret_key()),
        ("use_tls", "false"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// One bad configuration: `base()` with `changes`, refused naming `key`.
struct Case {
    name: &'static str,
    changes: Vec<(&'static str, Change)>,
    key: &'static str,
}

#[derive(Clone)]
enum Change {
    /// Gives the key this value, replacing the base's.
    Set(String),
    /// Gives the key once more, after the base's.
    Repeat(String),
    Remove,
}

fn case(name: &'static str, key: &'static str, changes: &[(&'static str, Change)]) -> Case {
    Case {
        name,
        changes: changes.to_vec(),
        key,
    }
}

fn set(key: &'static str, value: &str) -> (&'static str, Change) {
    (key, Change::Set(value.to_owned()))
}

fn repeat(key: &'static str, value: &str) -> (&'static str, Change) {
    (key, Change::Repeat(value.to_owned()))
}

fn unset(key: &'static str) -> (&'static str, Change) {
    (key, Change::Remove)
}

impl Case {
    fn config(&self) -> Vec<(String, String)> {
        let mut config = base();
        for (key, change) in &self.changes {
            let given = config.iter().position(|(k, _)| k == key);
            match (change, given) {
                (Change::Remove, _) => config.retain(|(k, _)| k != key),
                (Change::Set(value), Some(i)) => config[i].1.clone_from(value),
                (Change::Set(value) | Change::Repeat(value), _) => {
                    config.push(((*key).to_owned(), value.clone()));
                }
            }
        }
        config
    }
}

fn cases() -> Vec<Case> {
    let location = |value: &'static str| [set("location", value)];
    vec![
        // Required keys.
        case("location missing", "location", &[unset("location")]),
        case("location empty", "location", &location("")),
        case("access_key missing", "access_key", &[unset("access_key")]),
        case("access_key empty", "access_key", &[set("access_key", "")]),
        case(
            "access_key with a slash",
            "access_key",
            &[set("access_key", "AK/IA")],
        ),
        case(
            "access_key with a space",
            "access_key",
            &[set("access_key", "AK IA")],
        ),
        case(
            "secret missing",
            "secret_access_key",
            &[unset("secret_access_key")],
        ),
        case(
            "secret empty",
            "secret_access_key",
            &[set("secret_access_key", "")],
        ),
        // Malformed locations.
        case("no bucket", "location", &location("s3://127.0.0.1:9")),
        case(
            "no bucket, slash",
            "location",
            &location("s3://127.0.0.1:9/"),
        ),
        case("no scheme", "location", &location("127.0.0.1:9/bucket")),
        case(
            "https scheme",
            "location",
            &location("https://127.0.0.1:9/bucket"),
        ),
        case(
            "http scheme",
            "location",
            &location("http://127.0.0.1:9/bucket"),
        ),
        case("file scheme", "location", &location("file:///etc/passwd")),
        case(
            "space in bucket",
            "location",
            &location("s3://127.0.0.1:9/my bucket"),
        ),
        case(
            "space before",
            "location",
            &location(" s3://127.0.0.1:9/bucket"),
        ),
        case(
            "tab in prefix",
            "location",
            &location("s3://127.0.0.1:9/b/p\tq"),
        ),
        case(
            "dot-dot segment",
            "location",
            &location("s3://127.0.0.1:9/b/../c"),
        ),
        case(
            "dot segment",
            "location",
            &location("s3://127.0.0.1:9/b/./c"),
        ),
        case(
            "empty segment",
            "location",
            &location("s3://127.0.0.1:9/b//c"),
        ),
        case(
            "encoded dot-dot",
            "location",
            &location("s3://127.0.0.1:9/b/%2e%2e"),
        ),
        case(
            "bad percent",
            "location",
            &location("s3://127.0.0.1:9/b/%zz"),
        ),
        case(
            "query",
            "location",
            &location("s3://127.0.0.1:9/bucket?x=1"),
        ),
        case(
            "empty query",
            "location",
            &location("s3://127.0.0.1:9/bucket?"),
        ),
        case(
            "fragment",
            "location",
            &location("s3://127.0.0.1:9/bucket#f"),
        ),
        case(
            "userinfo",
            "location",
            &location("s3://user:pw@127.0.0.1:9/b"),
        ),
        case("bare IPv6", "location", &location("s3://::1/bucket")),
        case(
            "bare IPv6 and port",
            "location",
            &location("s3://::1:9000/bucket"),
        ),
        case(
            "IPv6 unclosed",
            "location",
            &location("s3://[::1:9000/bucket"),
        ),
        case(
            "IPv6 port glued",
            "location",
            &location("s3://[::1]9000/bucket"),
        ),
        case(
            "IPv6 not an address",
            "location",
            &location("s3://[::g]:9000/b"),
        ),
        case(
            "IPv6 empty port",
            "location",
            &location("s3://[::1]:/bucket"),
        ),
        case(
            "port zero",
            "location",
            &location("s3://127.0.0.1:0/bucket"),
        ),
        case(
            "port too big",
            "location",
            &location("s3://127.0.0.1:65536/bucket"),
        ),
        case(
            "port signed",
            "location",
            &location("s3://127.0.0.1:+9/bucket"),
        ),
        case(
            "two ports",
            "location",
            &location("s3://127.0.0.1:9:10/bucket"),
        ),
        case("empty host", "location", &location("s3:///bucket")),
        case(
            "host with percent",
            "location",
            &location("s3://h%41st:9/bucket"),
        ),
        case(
            "bad bucket name",
            "location",
            &location("s3://127.0.0.1:9/b*cket"),
        ),
        case(
            "non-ASCII host",
            "location",
            &location("s3://h\u{e9}:9/bucket"),
        ),
        // Bad booleans.
        case("use_tls yes", "use_tls", &[set("use_tls", "yes")]),
        case("use_tls empty", "use_tls", &[set("use_tls", "")]),
        case(
            "virtual_host on",
            "virtual_host",
            &[set("virtual_host", "on")],
        ),
        case(
            "insecure 2",
            "tls_insecure_no_verify",
            &[set("tls_insecure_no_verify", "2")],
        ),
        case(
            "conditional tRUE",
            "conditional_writes",
            &[set("conditional_writes", "tRUE")],
        ),
        case(
            "verify_etag spaced",
            "verify_etag",
            &[set("verify_etag", " true")],
        ),
        // Unknown choices and bad numbers.
        case(
            "storage class",
            "storage_class",
            &[set("storage_class", "GLACIERX")],
        ),
        case(
            "storage class empty",
            "storage_class",
            &[set("storage_class", "")],
        ),
        case("checksum", "checksum", &[set("checksum", "crc32")]),
        case("provider", "provider", &[set("provider", "s3")]),
        case("port letters", "port", &[set("port", "abc")]),
        case("port zero key", "port", &[set("port", "0")]),
        case("port 70000", "port", &[set("port", "70000")]),
        case("port negative", "port", &[set("port", "-1")]),
        case("part_size small", "part_size", &[set("part_size", "1MiB")]),
        case("part_size unit", "part_size", &[set("part_size", "16MB!")]),
        // S3 takes parts up to 5 GiB; the component buffers one part in its
        // 32-bit memory, where 4 GiB wrapped to 0.
        case("part_size 4GiB", "part_size", &[set("part_size", "4GiB")]),
        case("part_size 2GiB", "part_size", &[set("part_size", "2GiB")]),
        case("max_parts zero", "max_parts", &[set("max_parts", "0")]),
        case(
            "max_retries 101",
            "max_retries",
            &[set("max_retries", "101")],
        ),
        case(
            "timeout zero",
            "first_byte_timeout",
            &[set("first_byte_timeout", "0s")],
        ),
        case(
            "timeout words",
            "connect_timeout",
            &[set("connect_timeout", "soon")],
        ),
        case(
            "retry budget",
            "retry_budget",
            &[set("retry_budget", "-5s")],
        ),
        case("region slash", "region", &[set("region", "eu/west")]),
        // Secrets of the wrong form: refused without being quoted.
        case(
            "sse not base64",
            "sse_customer_key",
            &[set("sse_customer_key", "not base64!")],
        ),
        case(
            "sse short",
            "sse_customer_key",
            &[set("sse_customer_key", sse_customer_key_short())],
        ),
        case(
            "sse unpadded",
            "sse_customer_key",
            &[set(
                "sse_customer_key",
                sse_customer_key().trim_end_matches('='),
            )],
        ),
        case(
            "session token spaced",
            "session_token",
            &[set("session_token", &format!("{} x", session_token()))],
        ),
        // Unknown and repeated keys.
        case(
            "unknown key",
            "secret_acces_key",
            &[set("secret_acces_key", "x")],
        ),
        case("unknown upper", "Location", &[set("Location", LOCATION)]),
        case(
            "twice location",
            "location",
            &[repeat("location", LOCATION)],
        ),
        case(
            "twice secret",
            "secret_access_key",
            &[repeat("secret_access_key", "y")],
        ),
        // Keys that contradict each other.
        case(
            "endpoint port",
            "endpoint",
            &[set("endpoint", "127.0.0.1:10")],
        ),
        case(
            "endpoint scheme",
            "endpoint",
            &[set("endpoint", "https://127.0.0.1:9")],
        ),
        case(
            "endpoint path",
            "endpoint",
            &[set("endpoint", "http://127.0.0.1:9/x")],
        ),
        case(
            "endpoint userinfo",
            "endpoint",
            &[set("endpoint", "http://u@127.0.0.1:9")],
        ),
        case(
            "endpoint ftp",
            "endpoint",
            &[set("endpoint", "ftp://127.0.0.1:9")],
        ),
        case("port vs location", "port", &[set("port", "10")]),
        case(
            "virtual_host alone",
            "virtual_host",
            &[set("virtual_host", "true")],
        ),
        case(
            "virtual_host on an IP",
            "virtual_host",
            &[set("virtual_host", "true"), set("endpoint", "127.0.0.1:9")],
        ),
        case(
            "virtual_host wrong suffix",
            "endpoint",
            &[
                set("virtual_host", "true"),
                set("location", "s3://bucket.s3.example.com:9"),
                set("endpoint", "s3.example.org:9"),
            ],
        ),
        case(
            "root vs location prefix",
            "root",
            &[
                set("location", "s3://127.0.0.1:9/bucket/a"),
                set("root", "/bucket/b"),
            ],
        ),
        case("root dot-dot", "root", &[set("root", "/bucket/../x")]),
    ]
}

/// The configuration error of a refused open, or what happened instead.
fn config_error(result: Result<(), HostError>) -> Result<(String, String), String> {
    match result {
        Err(HostError::Store(Error::InvalidConfig { key, message })) => Ok((key, message)),
        Err(other) => Err(format!("expected an invalid configuration, got {other}")),
        Ok(()) => Err("the configuration was accepted".into()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_base_configuration_is_accepted_by_host_and_component() {
    let host = host();
    host.open(&base()).await.expect("the host accepts the base");
    host.check_config_in_component(&base())
        .await
        .expect("the component accepts the base");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bad_configuration_is_refused_naming_its_key_by_host_and_component() {
    let host = host();
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let config = case.config();
        let by_host = config_error(host.open(&config).await.map(drop));
        let by_guest = config_error(host.check_config_in_component(&config).await);
        for (who, answer) in [("host", &by_host), ("component", &by_guest)] {
            match answer {
                Ok((key, message)) => {
                    assert_no_secret(message, case.name);
                    if key != case.key {
                        failures.push(format!(
                            "{}: the {who} names `{key}` ({message}), expected `{}`",
                            case.name, case.key
                        ));
                    }
                }
                Err(wrong) => failures.push(format!("{}: the {who}: {wrong}", case.name)),
            }
        }
        if by_host != by_guest {
            failures.push(format!("{}: host and component disagree", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("bad configurations refused: {}", cases.len());
}
