//! `kloset-host`: the command line over the `kloset-host` library. clap parses
//! the words (help, `--version` and usage errors come from it); one verb runs
//! ([`commands`]); a failure prints one line on stderr and exits non-zero.

mod commands;
mod demo;
mod options;
mod plakar;
mod xattrs;

#[cfg(feature = "bench")]
mod bench;

use std::process::ExitCode;

use clap::Parser;

use commands::Verb;
use options::Options;

/// Runs the kloset-s3 component in its sandbox against one S3 store.
#[derive(Debug, Parser)]
#[command(name = "kloset-host", version, about, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    options: Options,
    #[command(subcommand)]
    verb: Verb,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kloset-host: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.verb.run(cli.options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kloset-host: {}", one_line(&message));
            ExitCode::FAILURE
        }
    }
}

/// A multi-line message (a server's, say) on one line: what a log reader and
/// Plakar's plugin runner expect of a failure.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn failures_print_on_one_line() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
