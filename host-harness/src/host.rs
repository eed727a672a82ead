//! The entry point for Rust programs: a [`Host`] holds the compiled component,
//! ready to instantiate, and opens one sandboxed [`StoreHandle`] per store
//! configuration.

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kloset_s3::config::{Config, Endpoint, Timeouts};
use kloset_s3::error::Error;
use kloset_s3::request::Scheme;
use wasmtime::component::Linker;

use crate::bindings::KlosetS3Pre;
use crate::cache::{self, ComponentCache};
use crate::egress::Egress;
use crate::engine;
use crate::error::HostError;
use crate::exporter::ExporterHandle;
use crate::importer::ImporterHandle;
use crate::limits::{CallLimits, CallMeter, MemoryLimiter};
use crate::outgoing;
use crate::policy::Policy;
use crate::sandbox::Sandbox;
use crate::store::{Role, StoreHandle};
use crate::transport::Transport;
use crate::{tls, DEFAULT_COMPONENT};

/// How a [`Host`] is set up. `HostOptions::default()` runs the embedded
/// component with the default limits.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// A component file to run instead of the embedded one.
    pub component: Option<PathBuf>,
    /// Where compiled components are kept.
    pub cache: ComponentCache,
    /// Bytes of linear memory one instance may use. The wasi resources it may
    /// hold on the host (header fields, bodies, streams) are bounded by the
    /// same amount (see the README's sandbox section).
    pub memory_limit: usize,
    /// CPU time one call may spend, in the component and in the host calls it
    /// makes (time spent waiting for the network does not count).
    pub cpu_budget: Duration,
    /// Wall-clock time one call may take, whatever the component is doing;
    /// then its instance is stopped.
    pub call_timeout: Duration,
    /// Requests one instance may have in flight; more wait for one to end.
    pub max_requests: usize,
    /// A PEM file of CA certificates trusted in addition to the Mozilla
    /// roots, for self-hosted servers.
    pub ca_file: Option<PathBuf>,
    /// Host names to connect to at a given address instead of looking them
    /// up, as curl's `--resolve` does: for a virtual-host bucket name
    /// without DNS, or a test server. Names compare case-insensitively; TLS
    /// still checks the certificate against the name. Only the configured
    /// endpoint is ever reached: this changes where it is, not what is
    /// allowed.
    pub resolve: Vec<(String, IpAddr)>,
}

pub const DEFAULT_MEMORY_LIMIT: usize = 512 << 20;
pub const DEFAULT_CPU_BUDGET: Duration = Duration::from_secs(60);
/// The longest legitimate call is a write or finish that uploads one part:
/// a 64 MiB part at 1 Mbit/s takes 9 minutes, and its retries may spend the
/// default 5-minute `retry_budget` more. A `size` over ten million objects
/// reads 10 000 pages. Half an hour covers both with room to spare.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Far more than the component's one request at a time, leaving room for
/// the parts of a multipart upload in flight together.
pub const DEFAULT_MAX_REQUESTS: usize = 16;

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            component: None,
            cache: ComponentCache::Default,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            cpu_budget: DEFAULT_CPU_BUDGET,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_requests: DEFAULT_MAX_REQUESTS,
            ca_file: None,
            resolve: Vec::new(),
        }
    }
}

/// A compiled component ready to run stores. Cheap to clone and shareable
/// between threads; every [`open`](Host::open) gets a fresh instance.
#[derive(Clone)]
pub struct Host {
    shared: Arc<Shared>,
}

struct Shared {
    pre: KlosetS3Pre<Sandbox>,
    verifying_tls: Arc<rustls::ClientConfig>,
    memory_limit: usize,
    call_limits: CallLimits,
    max_requests: usize,
    resolve: Vec<(String, IpAddr)>,
}

impl Host {
    pub fn new(options: HostOptions) -> Result<Host, HostError> {
        let engine = engine::shared()?;
        let wasm = match &options.component {
            Some(path) => Cow::Owned(
                std::fs::read(path)
                    .map_err(|e| HostError::Setup(format!("component {}: {e}", path.display())))?,
            ),
            None => Cow::Borrowed(DEFAULT_COMPONENT),
        };
        let (component, _) = cache::load(engine, &wasm, &options.cache)?;
        let setup = |e: wasmtime::Error| HostError::Setup(format!("linking the component: {e}"));
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(setup)?;
        outgoing::add_to_linker(&mut linker).map_err(setup)?;
        let pre = linker.instantiate_pre(&component).map_err(setup)?;
        let pre = KlosetS3Pre::new(pre).map_err(setup)?;
        Ok(Host {
            shared: Arc::new(Shared {
                pre,
                verifying_tls: tls::verifying_config(options.ca_file.as_deref())?,
                memory_limit: options.memory_limit,
                call_limits: CallLimits {
                    cpu: options.cpu_budget,
                    wall: options.call_timeout,
                },
                max_requests: options.max_requests,
                resolve: options.resolve,
            }),
        })
    }

    /// Opens the store `config` describes (kloset `Open`'s first half: no
    /// request is sent). The configuration is parsed here too, for what the
    /// host enforces: the one endpoint the instance may reach, its TLS
    /// settings and timeouts.
    pub async fn open(&self, config: &[(String, String)]) -> Result<StoreHandle, HostError> {
        let sandbox = self.sandbox_for(config)?;
        StoreHandle::start(&self.shared.pre, sandbox, config).await
    }

    /// Opens an importer of the bucket `config` describes (no request is
    /// sent yet), in its own sandboxed instance like a store.
    pub async fn open_importer(
        &self,
        config: &[(String, String)],
    ) -> Result<ImporterHandle, HostError> {
        let sandbox = self.sandbox_for(config)?;
        StoreHandle::start_as(&self.shared.pre, sandbox, config, Role::Importer)
            .await
            .map(ImporterHandle::new)
    }

    /// Opens an exporter into the bucket `config` describes (no request is
    /// sent yet), in its own sandboxed instance like a store.
    pub async fn open_exporter(
        &self,
        config: &[(String, String)],
    ) -> Result<ExporterHandle, HostError> {
        let sandbox = self.sandbox_for(config)?;
        StoreHandle::start_as(&self.shared.pre, sandbox, config, Role::Exporter)
            .await
            .map(ExporterHandle::new)
    }

    /// The sandbox an instance for `config` runs in: it reaches the
    /// configured endpoint, with its TLS settings and timeouts, and nothing
    /// else.
    fn sandbox_for(&self, config: &[(String, String)]) -> Result<Sandbox, HostError> {
        let parsed = Config::parse(config)?;
        let endpoint = parsed.request_endpoint();
        let policy = Policy::new(&endpoint)
            .ok_or_else(|| Error::config("location", "the endpoint host is not a valid host"))?;
        let tls = match endpoint.scheme {
            Scheme::Http => None,
            Scheme::Https if parsed.tls_insecure_no_verify => Some(tls::insecure_config()?),
            Scheme::Https => Some(self.shared.verifying_tls.clone()),
        };
        let address = self
            .shared
            .resolve
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&endpoint.host))
            .map(|(_, address)| *address);
        let transport = Transport::new(&endpoint, tls, parsed.timeouts)?.connecting_to(address);
        Ok(self.sandbox(policy, transport))
    }

    /// Asks the component alone to parse `config` (its `new-store`), without
    /// the host's own parse in front: [`open`](Host::open) refuses a bad
    /// configuration before the component sees it, so this is how tests (and
    /// a host running another build of the component) learn that the
    /// component's checks hold by themselves. No request can be sent: the
    /// instance is dropped once `new-store` answers, and its egress allows
    /// only port 0 of the loopback, where nothing listens.
    pub async fn check_config_in_component(
        &self,
        config: &[(String, String)],
    ) -> Result<(), HostError> {
        let nowhere = Endpoint {
            scheme: Scheme::Http,
            host: "127.0.0.1".into(),
            port: 0,
        };
        let policy = Policy::new(&nowhere)
            .ok_or_else(|| HostError::Setup("the loopback is not a valid host".into()))?;
        let second = Duration::from_secs(1);
        let timeouts = Timeouts {
            connect: second,
            first_byte: second,
            between_bytes: second,
        };
        let transport = Transport::new(&nowhere, None, timeouts)?;
        let sandbox = self.sandbox(policy, transport);
        StoreHandle::start(&self.shared.pre, sandbox, config)
            .await
            .map(drop)
    }

    /// A fresh sandbox with this host's limits, reaching what `policy` allows
    /// through `transport`.
    fn sandbox(&self, policy: Policy, transport: Transport) -> Sandbox {
        let transport = transport.with_request_limit(self.shared.max_requests);
        Sandbox::new(
            Egress::new(policy, Arc::new(transport)),
            MemoryLimiter::new(self.shared.memory_limit),
            Arc::new(CallMeter::new(self.shared.call_limits, Instant::now())),
        )
    }
}
