//! The `wasi:http` hook through which every request of the component leaves
//! the sandbox: the [`Policy`] decides, the [`Transport`] sends. It also sets
//! how much of a request body the host buffers, and keeps what a TLS failure
//! was, for the error the caller gets.

use std::future::Future;
use std::io::ErrorKind;
use std::sync::Arc;

use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::limits::BODY_CHUNK;
use crate::policy::Policy;
use crate::tls;
use crate::transport::Transport;

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

/// The egress hooks of one store.
pub struct Egress {
    policy: Policy,
    transport: Arc<Transport>,
    denied: u64,
    /// What the last failed TLS handshake said, until taken.
    tls_failure: Option<String>,
}

impl Egress {
    pub fn new(policy: Policy, transport: Arc<Transport>) -> Self {
        Egress {
            policy,
            transport,
            denied: 0,
            tls_failure: None,
        }
    }

    /// How many requests the policy refused.
    pub fn denied(&self) -> u64 {
        self.denied
    }

    /// Lets nothing more out: the instance is dead.
    pub fn close(&self) {
        self.transport.close();
    }

    /// What failed in the last TLS handshake and what to do about it, once:
    /// the component only learns a code (`TlsCertificateError`), the host
    /// knows which check failed.
    pub fn take_tls_failure(&mut self) -> Option<String> {
        self.tls_failure.take()
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
        // wasi-http set it from the guest's spelling of the authority.
        let mut request = request;
        if let Ok(host) = http::HeaderValue::from_str(self.policy.host_header()) {
            request.headers_mut().insert(http::header::HOST, host);
        }
        let transport = self.transport.clone();
        let turn = transport.queue();
        Box::new(async move {
            let response = transport.send(turn, request, options).await?;
            // The transport drives its connections itself: nothing to report
            // through this future.
            let io: IoFuture = Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }

    fn p2_error_from_hyper(&mut self, err: &hyper::Error) -> ErrorCode {
        hyper_error_code(err)
    }

    fn p2_error_from_connect(&mut self, err: &std::io::Error) -> ErrorCode {
        connect_error_code(err)
    }

    fn p2_error_from_tls(&mut self, err: &std::io::Error) -> ErrorCode {
        self.tls_failure = Some(tls::explain_failure(err, self.policy.host_header()));
        tls_error_code(err)
    }

    /// One chunk buffered (wasi-http adds a slot): a body the guest holds
    /// costs the host at most two chunks.
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        BODY_CHUNK
    }
}

/// The component retries on what the code says, and shows it to the user:
/// a connection cut short is not a protocol violation.
fn hyper_error_code(err: &hyper::Error) -> ErrorCode {
    if err.is_timeout() {
        ErrorCode::ConnectionReadTimeout
    } else if err.is_parse() || err.is_parse_status() || err.is_user() {
        ErrorCode::HttpProtocolError
    } else {
        ErrorCode::ConnectionTerminated
    }
}

fn connect_error_code(err: &std::io::Error) -> ErrorCode {
    match err.kind() {
        ErrorKind::TimedOut => ErrorCode::ConnectionTimeout,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            ErrorCode::ConnectionTerminated
        }
        ErrorKind::NetworkUnreachable | ErrorKind::HostUnreachable => {
            ErrorCode::DestinationUnavailable
        }
        _ => ErrorCode::ConnectionRefused,
    }
}

/// A certificate problem gets its own code, so the user is told to look at
/// certificates (a private CA wants `ca_file`), not at the network.
pub(crate) fn tls_error_code(err: &std::io::Error) -> ErrorCode {
    let rustls_error = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented) => {
            ErrorCode::TlsCertificateError
        }
        Some(rustls::Error::AlertReceived(alert)) => ErrorCode::TlsAlertReceived(
            wasmtime_wasi_http::p2::bindings::http::types::TlsAlertReceivedPayload {
                alert_id: Some(u8::from(*alert)),
                alert_message: Some(format!("{alert:?}")),
            },
        ),
        _ => ErrorCode::TlsProtocolError,
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
        let policy = Policy::new(&endpoint).expect("policy");
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

    #[test]
    fn connect_failures_map_to_their_error_codes() {
        let code = |kind| connect_error_code(&std::io::Error::from(kind));
        assert!(matches!(
            code(ErrorKind::ConnectionRefused),
            ErrorCode::ConnectionRefused
        ));
        assert!(matches!(
            code(ErrorKind::TimedOut),
            ErrorCode::ConnectionTimeout
        ));
        assert!(matches!(
            code(ErrorKind::ConnectionReset),
            ErrorCode::ConnectionTerminated
        ));
        assert!(matches!(
            code(ErrorKind::HostUnreachable),
            ErrorCode::DestinationUnavailable
        ));
    }

    #[test]
    fn certificate_failures_are_told_apart_from_protocol_failures() {
        let tls =
            |e: rustls::Error| tls_error_code(&std::io::Error::new(ErrorKind::InvalidData, e));
        let unknown_issuer =
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert!(matches!(
            tls(unknown_issuer),
            ErrorCode::TlsCertificateError
        ));
        let alert = tls(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure,
        ));
        match alert {
            ErrorCode::TlsAlertReceived(payload) => assert_eq!(payload.alert_id, Some(40)),
            other => panic!("expected an alert, got {other:?}"),
        }
        let other = tls(rustls::Error::DecryptError);
        assert!(matches!(other, ErrorCode::TlsProtocolError));
    }
}
