//! The options every verb shares: where the store's configuration comes from
//! (`-o KEY=VALUE`, `--config FILE`) and how the host runs the component.

use std::path::PathBuf;

use clap::Args;
use kloset_host::HostOptions;

#[derive(Debug, Clone, Default, Args)]
pub struct Options {
    /// A store configuration pair (location, access_key, ...); repeatable,
    /// and it overrides the same key of a --config file
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    pub pairs: Vec<String>,
    /// Read KEY=VALUE lines from FILE (keeps secrets out of argv); `#` starts
    /// a comment
    #[arg(long = "config", value_name = "FILE")]
    pub config_files: Vec<PathBuf>,
    /// Run this component instead of the embedded one
    #[arg(long, value_name = "PATH")]
    pub component: Option<PathBuf>,
    /// Trust these PEM CA certificates too (self-hosted servers)
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Guest linear-memory limit in MiB [default: 512]
    #[arg(long, value_name = "MIB")]
    pub memory_limit: Option<usize>,
    /// Wall-clock limit of one component call, in seconds [default: 1800]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub call_timeout: Option<u64>,
}

impl Options {
    pub fn host_options(&self) -> HostOptions {
        let mut options = HostOptions {
            component: self.component.clone(),
            ca_file: self.ca_file.clone(),
            ..HostOptions::default()
        };
        if let Some(mib) = self.memory_limit {
            options.memory_limit = mib << 20;
        }
        if let Some(seconds) = self.call_timeout {
            options.call_timeout = std::time::Duration::from_secs(seconds);
        }
        options
    }

    /// The pairs of the `--config` files, then the `-o` pairs, a later one
    /// replacing an earlier one of the same key: the command line overrides
    /// a file.
    pub fn store_config(&self) -> Result<Vec<(String, String)>, String> {
        let mut config = Vec::new();
        for path in &self.config_files {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let pairs = parse_config_file(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            config.extend(pairs);
        }
        for text in &self.pairs {
            let (key, value) = pair(text)?;
            config.retain(|(k, _)| *k != key);
            config.push((key, value));
        }
        Ok(config)
    }
}

/// Checked here rather than by clap: clap's error would quote the whole
/// word, and a malformed `-o secret_access_key:...` holds a secret.
fn pair(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`-o {}` is not KEY=VALUE", key_only(text)))?;
    Ok((key.trim().to_owned(), value.to_owned()))
}

/// Never echo what may be a secret value back in a message.
fn key_only(text: &str) -> &str {
    text.split(['=', ':']).next().unwrap_or_default()
}

/// Parses `KEY=VALUE` lines of a configuration file; `#` starts a comment.
fn parse_config_file(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| {
            let (key, value) = pair(line).map_err(|_| format!("line {n} is not KEY=VALUE"))?;
            Ok((key, value.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[&str]) -> Options {
        Options {
            pairs: pairs.iter().map(|p| (*p).to_owned()).collect(),
            ..Options::default()
        }
    }

    #[test]
    fn a_later_pair_replaces_an_earlier_one() {
        let config = options(&["location=s3://h/b", "use_tls=false", "use_tls=true"])
            .store_config()
            .unwrap();
        assert_eq!(
            config,
            [
                ("location".to_owned(), "s3://h/b".to_owned()),
                ("use_tls".to_owned(), "true".to_owned())
            ]
        );
    }

    #[test]
    fn a_malformed_pair_is_named_by_its_key_and_never_echoes_its_value() {
        let err = options(&["secret_access_key:wJalrXUtnFEMI"])
            .store_config()
            .unwrap_err();
        assert!(
            err.contains("`-o secret_access_key` is not KEY=VALUE"),
            "{err}"
        );
        assert!(!err.contains("wJalr"), "{err}");
    }

    #[test]
    fn config_files_skip_comments_and_blank_lines() {
        let pairs =
            parse_config_file("# store\n\nlocation=s3://h/b\n secret_access_key = x=y \n").unwrap();
        assert_eq!(pairs[0], ("location".into(), "s3://h/b".into()));
        assert_eq!(pairs[1], ("secret_access_key".into(), "x=y".into()));
        assert_eq!(
            parse_config_file("oops").unwrap_err(),
            "line 1 is not KEY=VALUE"
        );
    }

    #[test]
    fn the_memory_limit_is_given_in_mib() {
        let options = Options {
            memory_limit: Some(64),
            ..Options::default()
        };
        assert_eq!(options.host_options().memory_limit, 64 << 20);
        assert_eq!(
            Options::default().host_options().memory_limit,
            kloset_host::DEFAULT_MEMORY_LIMIT
        );
    }
}
