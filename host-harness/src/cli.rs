//! Command-line parsing for `kloset-host`: words in, a [`Command`] out. No I/O
//! here, so every error message is unit-tested.

use std::path::PathBuf;

use crate::ResourceKind;

pub const USAGE: &str = "\
usage: kloset-host [OPTIONS] VERB [ARGS]

Runs the kloset-s3 component in its sandbox against one S3 store.

options:
  -o KEY=VALUE         a store configuration pair (location, access_key, ...)
  --config FILE        read KEY=VALUE lines from FILE (keeps secrets out of argv)
  --component PATH     run this component instead of the embedded one
  --ca-file PATH       trust these PEM CA certificates too (self-hosted servers)
  --memory-limit MIB   guest linear-memory limit (default 512)
  --call-timeout SECS  wall-clock limit of one component call (default 1800)

verbs:
  create [FILE|-]                 create the kloset; CONFIG from FILE or stdin
  open                            write the kloset's CONFIG to stdout
  ping                            check the bucket answers
  info                            origin, type, root, flags, mode, size, Object Lock
  ls KIND                         list MACs (KIND: packfile, state, lock)
  put KIND MAC FILE|-             store an object
  get KIND MAC [--offset N --length N]   write an object (or a range) to stdout
  rm KIND MAC                     delete an object
  extend-retention KIND [MAC]     extend the Object Lock retention of one object,
                                  or of every listed object of KIND (packfile, state)
  demo                            run a walk-through on an embedded S3 server
  bench [--quick]                 measure the component against native clients";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Create(Option<Input>),
    Open,
    Ping,
    Info,
    List(ResourceKind),
    Put(ResourceKind, [u8; 32], Input),
    /// The range as (offset, length).
    Get(ResourceKind, [u8; 32], Option<(u64, u32)>),
    Remove(ResourceKind, [u8; 32]),
    /// One object, or every listed object of the kind.
    ExtendRetention(ResourceKind, Option<[u8; 32]>),
    Demo,
    Bench {
        quick: bool,
    },
}

/// Where bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub config: Vec<(String, String)>,
    pub config_files: Vec<PathBuf>,
    pub component: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub memory_limit_mib: Option<usize>,
    pub call_timeout_secs: Option<u64>,
    pub verb: Verb,
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut words = args.iter().map(String::as_str);
    let mut command = Command {
        config: Vec::new(),
        config_files: Vec::new(),
        component: None,
        ca_file: None,
        memory_limit_mib: None,
        call_timeout_secs: None,
        verb: Verb::Ping,
    };
    let verb = loop {
        let word = words.next().ok_or("no verb given")?;
        match word {
            "-o" => command.config.push(pair(value(&mut words, "-o")?)?),
            "--config" => command.config_files.push(value(&mut words, word)?.into()),
            "--component" => command.component = Some(value(&mut words, word)?.into()),
            "--ca-file" => command.ca_file = Some(value(&mut words, word)?.into()),
            "--memory-limit" => {
                command.memory_limit_mib = Some(number(value(&mut words, word)?, word)?)
            }
            "--call-timeout" => match number(value(&mut words, word)?, word)? {
                0 => return Err("`--call-timeout` must be at least 1 second".into()),
                seconds => command.call_timeout_secs = Some(seconds),
            },
            "-h" | "--help" => return Err(USAGE.into()),
            _ if word.starts_with('-') => return Err(format!("unknown option `{word}`")),
            _ => break word,
        }
    };
    let rest: Vec<&str> = words.collect();
    command.verb = parse_verb(verb, &rest)?;
    Ok(command)
}

fn parse_verb(verb: &str, args: &[&str]) -> Result<Verb, String> {
    let arity = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "`{verb}` takes {n} argument(s), got {}",
                args.len()
            ))
        }
    };
    match verb {
        "create" => match args {
            [] => Ok(Verb::Create(None)),
            [input] => Ok(Verb::Create(Some(input_of(input)))),
            _ => Err("`create` takes at most one argument: FILE or -".into()),
        },
        "open" => arity(0).map(|()| Verb::Open),
        "ping" => arity(0).map(|()| Verb::Ping),
        "info" => arity(0).map(|()| Verb::Info),
        "demo" => arity(0).map(|()| Verb::Demo),
        "ls" => {
            arity(1)?;
            Ok(Verb::List(kind(args[0])?))
        }
        "put" => {
            arity(3)?;
            Ok(Verb::Put(kind(args[0])?, mac(args[1])?, input_of(args[2])))
        }
        "get" => parse_get(args),
        "rm" => {
            arity(2)?;
            Ok(Verb::Remove(kind(args[0])?, mac(args[1])?))
        }
        "extend-retention" => match args {
            [kind_word] => Ok(Verb::ExtendRetention(kind(kind_word)?, None)),
            [kind_word, mac_word] => Ok(Verb::ExtendRetention(
                kind(kind_word)?,
                Some(mac(mac_word)?),
            )),
            _ => Err("`extend-retention` takes KIND [MAC]".into()),
        },
        "bench" => match args {
            [] => Ok(Verb::Bench { quick: false }),
            ["--quick"] => Ok(Verb::Bench { quick: true }),
            _ => Err("`bench` takes only --quick".into()),
        },
        _ => Err(format!("unknown verb `{verb}`")),
    }
}

fn parse_get(args: &[&str]) -> Result<Verb, String> {
    let [kind_word, mac_word, options @ ..] = args else {
        return Err("`get` takes KIND MAC [--offset N --length N]".into());
    };
    let (mut offset, mut length) = (None, None);
    let mut options = options.iter().copied();
    while let Some(option) = options.next() {
        let text = value(&mut options, option)?;
        match option {
            "--offset" => offset = Some(number::<u64>(text, option)?),
            "--length" => length = Some(number::<u32>(text, option)?),
            _ => return Err(format!("unknown option `{option}` for `get`")),
        }
    }
    let range = match (offset, length) {
        (None, None) => None,
        (Some(offset), Some(length)) => Some((offset, length)),
        _ => return Err("`get` needs both --offset and --length, or neither".into()),
    };
    Ok(Verb::Get(kind(kind_word)?, mac(mac_word)?, range))
}

fn value<'a>(words: &mut impl Iterator<Item = &'a str>, option: &str) -> Result<&'a str, String> {
    words
        .next()
        .ok_or_else(|| format!("`{option}` needs a value"))
}

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
pub fn parse_config_file(text: &str) -> Result<Vec<(String, String)>, String> {
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

fn number<T: std::str::FromStr>(text: &str, option: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("`{option}` takes a number, got `{text}`"))
}

fn kind(text: &str) -> Result<ResourceKind, String> {
    match text {
        "packfile" => Ok(ResourceKind::Packfile),
        "state" => Ok(ResourceKind::State),
        "lock" => Ok(ResourceKind::Lock),
        _ => Err(format!("unknown kind `{text}`: packfile, state or lock")),
    }
}

fn mac(text: &str) -> Result<[u8; 32], String> {
    let bytes =
        kloset_s3::hex::decode(text).ok_or_else(|| format!("MAC `{text}` is not hexadecimal"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("a MAC is 32 bytes (64 hex digits), got {}", b.len()))
}

fn input_of(text: &str) -> Input {
    match text {
        "-" => Input::Stdin,
        path => Input::File(path.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    const MAC: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn options_come_before_the_verb() {
        let c = parse(&args(
            "-o location=s3://h/b -o use_tls=false --memory-limit 64 --call-timeout 90 ls state",
        ))
        .unwrap();
        assert_eq!(c.config.len(), 2);
        assert_eq!(c.config[1], ("use_tls".into(), "false".into()));
        assert_eq!(c.memory_limit_mib, Some(64));
        assert_eq!(c.call_timeout_secs, Some(90));
        assert_eq!(c.verb, Verb::List(ResourceKind::State));
    }

    #[test]
    fn get_takes_a_whole_range_or_none() {
        let c = parse(&args(&format!("get packfile {MAC} --offset 10 --length 5"))).unwrap();
        assert!(matches!(
            c.verb,
            Verb::Get(ResourceKind::Packfile, _, Some((10, 5)))
        ));
        assert!(parse(&args(&format!("get packfile {MAC} --offset 10"))).is_err());
        assert!(parse(&args(&format!("get packfile {MAC} --length x --offset 1"))).is_err());
    }

    #[test]
    fn extend_retention_takes_a_kind_and_maybe_a_mac() {
        let c = parse(&args("extend-retention state")).unwrap();
        assert_eq!(c.verb, Verb::ExtendRetention(ResourceKind::State, None));
        let c = parse(&args(&format!("extend-retention packfile {MAC}"))).unwrap();
        assert!(matches!(
            c.verb,
            Verb::ExtendRetention(ResourceKind::Packfile, Some(m)) if m[1] == 0x11
        ));
        for line in [
            "extend-retention",
            "extend-retention state a b",
            "extend-retention tree",
        ] {
            assert!(parse(&args(line)).is_err(), "{line}");
        }
    }

    #[test]
    fn bad_words_are_named() {
        for (line, needle) in [
            ("", "no verb"),
            ("frobnicate", "unknown verb `frobnicate`"),
            ("--bogus ping", "unknown option `--bogus`"),
            ("ls tree", "unknown kind `tree`"),
            ("rm lock abcd", "32 bytes"),
            ("rm lock zz", "not hexadecimal"),
            ("put lock", "takes 3 argument"),
            ("-o", "needs a value"),
            ("-o access_key ping", "not KEY=VALUE"),
            ("--call-timeout 1m ping", "`--call-timeout` takes a number"),
            ("--call-timeout 0 ping", "at least 1 second"),
        ] {
            let err = parse(&args(line)).unwrap_err();
            assert!(err.contains(needle), "{line:?}: {err}");
        }
    }

    #[test]
    fn a_malformed_pair_never_echoes_its_value() {
        let err = parse(&args("-o secret_access_key:wJalrXUtnFEMI ping")).unwrap_err();
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
}
