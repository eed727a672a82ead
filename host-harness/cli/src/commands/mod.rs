//! The verbs, one module each: its arguments (a clap `Args`) and what it
//! does. A store verb runs against one store opened from the command line's
//! configuration, which is closed once the verb is done.

mod bench;
mod create;
mod demo;
mod export;
mod extend_retention;
mod get;
mod import;
mod info;
mod ls;
mod open;
mod ping;
mod plakar;
mod progress;
mod put;
mod recover;
mod rm;

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use kloset_host::{Host, HostError, ResourceKind, StorageFlags, StoreHandle};

use crate::options::Options;

#[derive(Debug, Subcommand)]
pub enum Verb {
    Create(create::Create),
    Open(open::Open),
    Ping(ping::Ping),
    Info(info::Info),
    Ls(ls::Ls),
    Put(put::Put),
    Get(get::Get),
    Rm(rm::Rm),
    ExtendRetention(extend_retention::ExtendRetention),
    Recover(recover::Recover),
    Import(import::Import),
    Export(export::Export),
    Demo(demo::Demo),
    Bench(bench::Bench),
    Plakar(plakar::Plakar),
}

impl Verb {
    pub async fn run(self, options: Options) -> Result<(), String> {
        match self {
            Verb::Demo(demo) => demo.run(&options).await,
            Verb::Bench(bench) => bench.run(&options).await,
            Verb::Plakar(plakar) => plakar.run(&options).await,
            Verb::Import(import) => {
                let (host, config) = host_and_config(&options)?;
                let mut importer = host
                    .open_importer(&config)
                    .await
                    .map_err(|e| e.to_string())?;
                import.run(&mut importer).await
            }
            Verb::Export(export) => {
                let (host, config) = host_and_config(&options)?;
                let mut exporter = host
                    .open_exporter(&config)
                    .await
                    .map_err(|e| e.to_string())?;
                export.run(&mut exporter).await
            }
            verb => {
                let config = options.store_config()?;
                let host = Host::new(options.host_options()).map_err(|e| e.to_string())?;
                let mut store = host.open(&config).await.map_err(|e| e.to_string())?;
                verb.run_on(&mut store).await.map_err(|e| e.to_string())?;
                store.close().await.map_err(|e| e.to_string())
            }
        }
    }

    async fn run_on(self, store: &mut StoreHandle) -> Result<(), HostError> {
        match self {
            Verb::Create(verb) => verb.run(store).await,
            Verb::Open(verb) => verb.run(store).await,
            Verb::Ping(verb) => verb.run(store).await,
            Verb::Info(verb) => verb.run(store).await,
            Verb::Ls(verb) => verb.run(store).await,
            Verb::Put(verb) => verb.run(store).await,
            Verb::Get(verb) => verb.run(store).await,
            Verb::Rm(verb) => verb.run(store).await,
            Verb::ExtendRetention(verb) => verb.run(store).await,
            Verb::Recover(verb) => verb.run(store).await,
            Verb::Demo(_)
            | Verb::Bench(_)
            | Verb::Plakar(_)
            | Verb::Import(_)
            | Verb::Export(_) => {
                unreachable!("they open no store of the command line")
            }
        }
    }
}

/// The host and the command line's configuration, for the verbs that open
/// an importer or exporter rather than a store.
fn host_and_config(options: &Options) -> Result<(Host, Vec<(String, String)>), String> {
    let config = options.store_config()?;
    let host = Host::new(options.host_options()).map_err(|e| e.to_string())?;
    Ok((host, config))
}

/// What an object is, as the verbs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Packfile,
    State,
    Lock,
}

impl From<Kind> for ResourceKind {
    fn from(kind: Kind) -> ResourceKind {
        match kind {
            Kind::Packfile => ResourceKind::Packfile,
            Kind::State => ResourceKind::State,
            Kind::Lock => ResourceKind::Lock,
        }
    }
}

/// A MAC as 64 hex digits (clap's value parser).
pub fn mac(text: &str) -> Result<[u8; 32], String> {
    let bytes =
        kloset_s3::hex::decode(text).ok_or_else(|| format!("`{text}` is not hexadecimal"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("a MAC is 32 bytes (64 hex digits), got {}", b.len()))
}

/// `-` for stdin, else a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl From<&str> for Input {
    fn from(text: &str) -> Input {
        match text {
            "-" => Input::Stdin,
            path => Input::File(path.into()),
        }
    }
}

impl Input {
    /// The bytes to read, as one reader whatever the source.
    pub async fn open(&self) -> Result<Box<dyn tokio::io::AsyncRead + Unpin + Send>, HostError> {
        match self {
            Input::Stdin => Ok(Box::new(tokio::io::stdin())),
            Input::File(path) => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    HostError::Io(std::io::Error::new(
                        e.kind(),
                        format!("{}: {e}", path.display()),
                    ))
                })?;
                Ok(Box::new(file))
            }
        }
    }
}

/// The flags of a verb's `--hot`.
pub fn flags(hot: bool) -> StorageFlags {
    if hot {
        StorageFlags::HOT
    } else {
        StorageFlags::empty()
    }
}

/// An Object Lock mode as S3 spells it.
pub fn mode_name(mode: kloset_host::LockMode) -> &'static str {
    match mode {
        kloset_host::LockMode::Governance => "GOVERNANCE",
        kloset_host::LockMode::Compliance => "COMPLIANCE",
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Words {
        #[command(flatten)]
        options: Options,
        #[command(subcommand)]
        verb: Verb,
    }

    const MAC: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn parse(line: &str) -> Result<Words, String> {
        let words = std::iter::once("kloset-host").chain(line.split_whitespace());
        Words::try_parse_from(words).map_err(|e| e.to_string())
    }

    #[test]
    fn options_come_before_the_verb() {
        let c = parse("-o location=s3://h/b --memory-limit 64 -o use_tls=false ls state").unwrap();
        assert_eq!(c.options.pairs, ["location=s3://h/b", "use_tls=false"]);
        assert_eq!(c.options.memory_limit, Some(64));
        assert!(matches!(c.verb, Verb::Ls(ls) if ls.kind == Kind::State));
        let err = parse("ls state -o use_tls=false").unwrap_err();
        assert!(err.contains("unexpected argument '-o'"), "{err}");
    }

    #[test]
    fn get_takes_a_whole_range_or_none() {
        let c = parse(&format!("get packfile {MAC} --offset 10 --length 5")).unwrap();
        let Verb::Get(get) = c.verb else {
            panic!("{c:?}")
        };
        assert_eq!((get.offset, get.length), (Some(10), Some(5)));
        assert!(!get.hot);
        assert!(parse(&format!("get packfile {MAC} --offset 10")).is_err());
        assert!(parse(&format!("get packfile {MAC} --length 1")).is_err());
        assert!(parse(&format!("get packfile {MAC} --length x --offset 1")).is_err());
    }

    #[test]
    fn put_get_and_rm_take_the_hot_flag() {
        for line in [
            format!("put packfile {MAC} - --hot"),
            format!("get packfile {MAC} --hot"),
            format!("rm packfile {MAC} --hot"),
        ] {
            let c = parse(&line).unwrap();
            let hot = match c.verb {
                Verb::Put(v) => v.hot,
                Verb::Get(v) => v.hot,
                Verb::Rm(v) => v.hot,
                other => panic!("{other:?}"),
            };
            assert!(hot, "{line}");
        }
    }

    #[test]
    fn extend_retention_takes_a_kind_and_maybe_a_mac() {
        let c = parse("extend-retention state").unwrap();
        assert!(
            matches!(c.verb, Verb::ExtendRetention(v) if v.kind == Kind::State && v.mac.is_none())
        );
        let c = parse(&format!("extend-retention packfile {MAC}")).unwrap();
        assert!(matches!(
            c.verb,
            Verb::ExtendRetention(v) if v.mac.is_some_and(|m| m[1] == 0x11)
        ));
        for line in [
            "extend-retention",
            "extend-retention state a b",
            "extend-retention tree",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
    }

    #[test]
    fn recover_needs_a_time() {
        let c = parse("recover --to 2d --dry-run").unwrap();
        assert!(matches!(c.verb, Verb::Recover(v) if v.to == "2d" && v.dry_run));
        let c = parse("recover --to 2026-11-30T12:00:00Z").unwrap();
        assert!(matches!(c.verb, Verb::Recover(v) if !v.dry_run));
        for line in ["recover", "recover 2d", "recover --to"] {
            assert!(parse(line).is_err(), "{line}");
        }
    }

    #[test]
    fn bad_words_are_named() {
        for (line, needle) in [
            ("", "Usage"),
            ("frobnicate", "unrecognized subcommand 'frobnicate'"),
            ("--bogus ping", "unexpected argument '--bogus'"),
            ("ls tree", "invalid value 'tree'"),
            ("rm lock abcd", "32 bytes"),
            ("rm lock zz", "not hexadecimal"),
            ("put lock", "required"),
            ("-o", "a value is required"),
            ("bench --slow", "unexpected argument '--slow'"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(needle), "{line:?}: {err}");
        }
    }
}
