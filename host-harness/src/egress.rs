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

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::pin::Pin;

    use http_body_util::{BodyExt, Empty};
    use kloset_s3::config::{Endpoint, Timeouts};
    use kloset_s3::request::Scheme;

    use super::*;

    fn egress() -> Egress {
        // Port 9 (discard): nothing here may ever be sent anyway.
        let endpoint = Endpoint {
            scheme: Scheme::Http,
            host: "127.0.0.1".into(),
            port: 9,
        };
        let second = std::time::Duration::from_secs(1);
        let timeouts = Timeouts {
            connect: second,
            first_byte: second,
            between_bytes: second,
        };
        let transport = Transport::new(&endpoint, None, timeouts).expect("transport");
        let policy = Policy::new(endpoint.scheme, &endpoint.host, endpoint.port).expect("policy");
        Egress::new(policy, Arc::new(transport))
    }

    fn request(uri: &str) -> http::Request<WasiBody> {
        let body = Empty::new()
            .map_err(|e: Infallible| match e {})
            .boxed_unsync();
        http::Request::get(uri).body(body).expect("request")
    }

    #[tokio::test]
    async fn denied_requests_fail_with_http_request_denied_and_are_counted() {
        let mut egress = egress();
        for uri in [
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:10/",
            "https://127.0.0.1:9/",
            "http://user:secret@127.0.0.1:9/",
        ] {
            let sent = egress.send_request(request(uri), None, Box::new(async { Ok(()) }));
            let err = Pin::from(sent).await.err().expect("denied");
            assert!(matches!(err, Error::HttpRequestDenied), "{uri}: {err}");
        }
        assert_eq!(egress.denied(), 4);
    }
}
