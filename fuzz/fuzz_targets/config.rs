//! The configuration parser on arbitrary key/value pairs: an error or a
//! config, never a panic; a parsed config never leaks its secret in Debug.
#![no_main]

use kloset_s3::config::Config;
use libfuzzer_sys::fuzz_target;

const KEYS: &[&str] = &[
    "location", "access_key", "secret_access_key", "use_tls", "tls_insecure_no_verify",
    "storage_class", "virtual_host", "endpoint", "port", "root", "region", "sse_customer_key",
    "session_token", "provider", "part_size", "max_parts", "checksum", "conditional_writes",
    "max_retries", "retry_budget", "connect_timeout", "object_lock_mode", "object_lock_retention",
];

const SECRET: &str = "FUZZSECRETVALUE";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut pairs = vec![
        ("access_key".to_string(), "AKID".to_string()),
        ("secret_access_key".to_string(), SECRET.to_string()),
    ];
    // Lines of `index value`: the first byte picks a key, the rest is its value.
    for line in text.split('\n') {
        let mut chars = line.chars();
        let Some(pick) = chars.next() else { continue };
        let key = KEYS[pick as usize % KEYS.len()];
        pairs.push((key.to_string(), chars.collect()));
    }
    match Config::parse(&pairs) {
        Ok(config) => {
            assert!(!format!("{config:?}").contains(SECRET));
            let _ = config.request_endpoint().authority();
            let _ = (config.origin(), config.root());
        }
        Err(error) => assert!(!error.to_string().contains(SECRET)),
    }
});
