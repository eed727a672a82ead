//! `kloset-host`: the command line over the host library. Parses (see
//! [`kloset_host::cli`]), runs one verb, prints a one-line error and exits
//! non-zero on failure.

use std::process::ExitCode;

use kloset_host::cli::{self, Command, Input, Verb};
use kloset_host::{
    demo, Host, HostError, HostOptions, LockMode, LockSettings, Mode, Range, ResourceKind,
    StoreHandle,
};
use tokio::io::{AsyncRead, AsyncWriteExt};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(command) => command,
        Err(message) if message == cli::USAGE => {
            println!("{message}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("kloset-host: {message}\n(see kloset-host --help)");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kloset-host: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kloset-host: {}", one_line(&message));
            ExitCode::FAILURE
        }
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn run(command: Command) -> Result<(), String> {
    let options = host_options(&command);
    match command.verb {
        Verb::Demo => return demo::run(options).await.map_err(|e| e.to_string()),
        #[cfg(feature = "bench")]
        Verb::Bench { quick } => {
            let config = store_config(&command)?;
            return kloset_host::bench::run(options, &config, quick)
                .await
                .map_err(|e| e.to_string());
        }
        #[cfg(not(feature = "bench"))]
        Verb::Bench { .. } => return Err("the benchmark is not part of this build".into()),
        _ => {}
    }
    let config = store_config(&command)?;
    let host = Host::new(options).map_err(|e| e.to_string())?;
    let mut store = host.open(&config).await.map_err(|e| e.to_string())?;
    run_verb(&mut store, command.verb)
        .await
        .map_err(|e| e.to_string())
}

fn host_options(command: &Command) -> HostOptions {
    let mut options = HostOptions {
        component: command.component.clone(),
        ca_file: command.ca_file.clone(),
        ..HostOptions::default()
    };
    if let Some(mib) = command.memory_limit_mib {
        options.memory_limit = mib << 20;
    }
    if let Some(seconds) = command.call_timeout_secs {
        options.call_timeout = std::time::Duration::from_secs(seconds);
    }
    options
}

/// The `-o` pairs after those of the `--config` files, so the command line
/// can override a file.
fn store_config(command: &Command) -> Result<Vec<(String, String)>, String> {
    let mut config = Vec::new();
    for path in &command.config_files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let pairs =
            cli::parse_config_file(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config.extend(pairs);
    }
    for (key, value) in &command.config {
        config.retain(|(k, _)| k != key);
        config.push((key.clone(), value.clone()));
    }
    Ok(config)
}

async fn run_verb(store: &mut StoreHandle, verb: Verb) -> Result<(), HostError> {
    let mut stdout = tokio::io::stdout();
    match verb {
        Verb::Create(input) => {
            let config = match input {
                Some(input) => read_all(input).await?,
                None => b"kloset-host: placeholder CONFIG (no kloset configuration given)".to_vec(),
            };
            store.create(&config).await?;
            eprintln!(
                "created {} ({} bytes of CONFIG)",
                store.root().await?,
                config.len()
            );
        }
        Verb::Open => {
            let config = store.open().await?;
            stdout.write_all(&config).await.map_err(HostError::Io)?;
        }
        Verb::Ping => {
            store.ping().await?;
            eprintln!("ok");
        }
        Verb::Info => print_info(store).await?,
        Verb::List(kind) => {
            let mut text = String::new();
            for mac in store.list(kind).await? {
                text.push_str(&kloset_s3::hex::encode(&mac));
                text.push('\n');
            }
            stdout
                .write_all(text.as_bytes())
                .await
                .map_err(HostError::Io)?;
        }
        Verb::Put(kind, mac, input) => {
            let written = match input {
                Input::Stdin => store.put(kind, &mac, tokio::io::stdin()).await?,
                Input::File(path) => store.put(kind, &mac, open(&path).await?).await?,
            };
            eprintln!("stored {written} bytes");
        }
        Verb::Get(kind, mac, range) => {
            let range = range.map(|(offset, length)| Range { offset, length });
            store.get(kind, &mac, range, &mut stdout).await?;
        }
        Verb::Remove(kind, mac) => store.delete(kind, &mac).await?,
        Verb::ExtendRetention(kind, mac) => extend_retention(store, kind, mac).await?,
        Verb::Demo | Verb::Bench { .. } => unreachable!("handled before a store is opened"),
    }
    stdout.flush().await.map_err(HostError::Io)?;
    store.close().await
}

async fn print_info(store: &mut StoreHandle) -> Result<(), HostError> {
    let mode = store.mode().await?;
    let mode = match (mode.contains(Mode::READ), mode.contains(Mode::WRITE)) {
        (true, true) => "read-write",
        (false, true) => "write-only",
        (true, false) => "read-only",
        (false, false) => "none",
    };
    println!("origin: {}", store.origin().await?);
    println!("type:   {}", store.type_name().await?);
    println!("root:   {}", store.root().await?);
    println!("flags:  {}", store.flags().await?);
    println!("mode:   {mode}");
    println!("size:   {} bytes", store.size().await?);
    println!("lock:   {}", describe_lock(&store.lock_settings().await?));
    Ok(())
}

fn describe_lock(settings: &LockSettings) -> String {
    let policy = match &settings.policy {
        Some(p) => format!(
            "new objects {} for {} days",
            mode_name(p.mode),
            p.retention_seconds as f64 / 86_400.0
        ),
        None => "new objects unlocked".to_owned(),
    };
    let bucket = match &settings.bucket {
        None => "the server has no Object Lock".to_owned(),
        Some(b) if !b.enabled => "bucket without Object Lock".to_owned(),
        Some(b) => {
            let default = match (b.default_mode, b.default_days, b.default_years) {
                (Some(mode), Some(days), _) => format!("{} {days} days", mode_name(mode)),
                (Some(mode), _, Some(years)) => format!("{} {years} years", mode_name(mode)),
                _ => "none".to_owned(),
            };
            format!("bucket Object Lock enabled, default retention {default}")
        }
    };
    format!("{policy}; {bucket}")
}

fn mode_name(mode: LockMode) -> &'static str {
    match mode {
        LockMode::Governance => "GOVERNANCE",
        LockMode::Compliance => "COMPLIANCE",
    }
}

/// One object, or every object `list` returns: one call per object, so each
/// stays within the component's per-call budget. Prints one line per object.
async fn extend_retention(
    store: &mut StoreHandle,
    kind: ResourceKind,
    mac: Option<[u8; 32]>,
) -> Result<(), HostError> {
    let macs = match mac {
        Some(mac) => vec![mac],
        None => store.list(kind).await?,
    };
    let mut extended = 0;
    for mac in &macs {
        let r = store.extend_retention(kind, mac).await?;
        extended += usize::from(r.extended);
        println!(
            "{} {} until {}{}",
            kloset_s3::hex::encode(mac),
            mode_name(r.mode),
            r.retain_until,
            if r.extended { " (extended)" } else { "" }
        );
    }
    eprintln!("{extended} of {} objects extended", macs.len());
    Ok(())
}

async fn open(path: &std::path::Path) -> Result<impl AsyncRead + Unpin, HostError> {
    tokio::fs::File::open(path).await.map_err(|e| {
        HostError::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))
    })
}

async fn read_all(input: Input) -> Result<Vec<u8>, HostError> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    match input {
        Input::Stdin => tokio::io::stdin().read_to_end(&mut out).await,
        Input::File(path) => open(&path).await?.read_to_end(&mut out).await,
    }
    .map_err(HostError::Io)?;
    Ok(out)
}
