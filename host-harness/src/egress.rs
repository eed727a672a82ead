//! The `wasi:http` hook through which every request of the component leaves
//! the sandbox: the [`Policy`] decides, the [`Transport`] sends.

use std::future::Future;
use std::sync::Arc;

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::policy::Policy;
use crate::transport::Transport;

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

/// The egress hooks of one store.
pub struct Egress {
    policy: Policy,
    transport: Arc<Transport>,
    denied: u64,
}

impl Egress {
    pub fn new(policy: Policy, transport: Arc<Transport>) -> Self {
        Egress {
            policy,
            transport,
            denied: 0,
        }
    }

    /// How many requests the policy refused.
    pub fn denied(&self) -> u64 {
        self.denied
    }
}

impl WasiHttpHooks for Egress {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: IoFuture,
    ) -> SendFuture {
        if let Err(denied) = self.policy.check(request.uri()) {
            self.denied += 1;
            // The reason names scheme, host or port only: never the path,
            // query or user information, where credentials may hide.
            tracing::warn!(reason = %denied, "request of the component denied");
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let transport = self.transport.clone();
        Box::new(async move {
            let response = transport.send(request, options).await?;
            // The transport drives its connections itself: nothing to report
            // through this future.
            let io: IoFuture = Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}
