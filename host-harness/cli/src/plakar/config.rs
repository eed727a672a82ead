//! What the plugin takes from `Init`'s configuration before the component
//! sees it: its own key (`pool_size`), and Plakar's keys for the repository
//! (`passphrase`, `passphrase_cmd`), which Plakar leaves in the map it sends
//! (`plakar sync` does) and which are no store's business.

use std::num::NonZeroUsize;
use std::ops::RangeInclusive;

/// Keys of the plugin, beside the component's (`kloset_s3::config::KEYS`):
/// the package's validator lists both.
#[cfg(test)]
pub const PLUGIN_KEYS: &[&str] = &[POOL_SIZE];

/// How many instances of the component serve calls at once.
const POOL_SIZE: &str = "pool_size";
/// Enough to keep a restore's concurrent reads busy; each instance holds at
/// most one part (`part_size`, 16 MiB by default) while it uploads.
pub const DEFAULT_POOL_SIZE: NonZeroUsize = NonZeroUsize::new(16).unwrap();
const POOL_SIZES: RangeInclusive<usize> = 1..=256;

/// Keys Plakar keeps in a repository's configuration for itself.
const PLAKAR_KEYS: &[&str] = &["passphrase", "passphrase_cmd"];

/// The component's pairs and the pool size, or the message naming the key
/// at fault (never its value: it may be a secret in the wrong place).
pub fn split(
    config: impl IntoIterator<Item = (String, String)>,
) -> Result<(Vec<(String, String)>, NonZeroUsize), String> {
    let mut pool_size = DEFAULT_POOL_SIZE;
    let mut pairs = Vec::new();
    for (key, value) in config {
        match key.as_str() {
            POOL_SIZE => pool_size = parse_pool_size(&value)?,
            _ if PLAKAR_KEYS.contains(&key.as_str()) => {}
            _ => pairs.push((key, value)),
        }
    }
    // A map has no order; the component names the first bad key it meets,
    // so the same configuration always gets the same message.
    pairs.sort();
    Ok((pairs, pool_size))
}

fn parse_pool_size(value: &str) -> Result<NonZeroUsize, String> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| POOL_SIZES.contains(n))
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| {
            format!(
                "invalid configuration key `{POOL_SIZE}`: `{value}` is not a whole number from {} to {}",
                POOL_SIZES.start(),
                POOL_SIZES.end()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_pool_size_and_plakars_keys_stay_out_of_the_components_pairs() {
        let (component, size) = split(pairs(&[
            ("location", "s3://h/b"),
            ("pool_size", "4"),
            ("passphrase", "p"),
            ("passphrase_cmd", "cat p"),
            ("access_key", "a"),
        ]))
        .unwrap();
        assert_eq!(
            component,
            pairs(&[("access_key", "a"), ("location", "s3://h/b")])
        );
        assert_eq!(size.get(), 4);
    }

    /// A point-in-time view is the component's key: it reaches the
    /// component as given (and makes its mode read-only there).
    #[test]
    fn point_in_time_reaches_the_component() {
        let (component, _) = split(pairs(&[
            ("location", "s3://h/b"),
            ("point_in_time", "2026-11-30T12:00:00Z"),
        ]))
        .unwrap();
        assert!(component.contains(&("point_in_time".into(), "2026-11-30T12:00:00Z".into())));
    }

    /// The package's validator (plakar/storage-schema.json) lists exactly
    /// the keys the component parses and the plugin's own.
    #[test]
    fn the_validator_lists_every_key_and_no_other() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../plakar/storage-schema.json"
        );
        let text = std::fs::read_to_string(path).expect("the validator");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let mut listed: Vec<&str> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        listed.sort_unstable();
        let mut keys: Vec<&str> = kloset_s3::config::KEYS
            .iter()
            .chain(PLUGIN_KEYS)
            .copied()
            .collect();
        keys.sort_unstable();
        assert_eq!(listed, keys);
        assert_eq!(schema["additionalProperties"], false);
        for required in schema["required"].as_array().expect("required") {
            assert!(
                keys.contains(&required.as_str().expect("a key")),
                "{required}"
            );
        }
    }

    /// The manifest runs this verb of the executable the Makefile builds,
    /// with this validator.
    #[test]
    fn the_manifest_names_the_executable_its_verb_and_validator() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plakar/");
        let manifest = std::fs::read_to_string(format!("{dir}manifest.yaml")).unwrap();
        let makefile = std::fs::read_to_string(format!("{dir}Makefile")).unwrap();
        for line in [
            "api_version: v1.1.0",
            "- type: storage",
            "  protocols: [s3]",
            "  executable: kloset-host",
            "  args: [plakar]",
            "  validator: ./storage-schema.json",
        ] {
            assert!(
                manifest.lines().any(|l| l == line),
                "manifest lacks `{line}`"
            );
        }
        assert!(makefile.contains("cp $(TARGET_DIR)/release/kloset-host ./kloset-host"));
        assert!(makefile.starts_with('#') && makefile.contains("\nall: build\n"));
    }

    #[test]
    fn the_pool_size_has_a_default_and_bounds() {
        let (_, size) = split(pairs(&[("location", "s3://h/b")])).unwrap();
        assert_eq!(size, DEFAULT_POOL_SIZE);
        for bad in ["0", "257", "-1", "x", ""] {
            let err = split(pairs(&[("pool_size", bad)])).unwrap_err();
            assert!(
                err.contains("`pool_size`") && err.contains("1 to 256"),
                "{bad}: {err}"
            );
        }
        assert_eq!(split(pairs(&[("pool_size", "256")])).unwrap().1.get(), 256);
    }
}
