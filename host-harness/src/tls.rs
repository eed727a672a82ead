//! TLS for the connections the host opens on the component's behalf: the
//! Mozilla roots (webpki-roots), plus the CA certificates of a PEM file for
//! self-hosted servers with a private CA.
//!
//! `tls_insecure_no_verify` is honoured here only, and only because the store's
//! configuration asked for it: the connection is then encrypted but not
//! authenticated, and anyone on the path can read and change the traffic,
//! credentials included. It exists for test servers with throwaway
//! certificates.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::HostError;

/// The verifying configuration: webpki roots plus those of `ca_file`.
pub fn verifying_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, HostError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        add_pem_file(&mut roots, path)?;
    }
    let config = builder()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(http1_only(config)))
}

/// The configuration that accepts any certificate. Dangerous: see the module
/// documentation.
pub fn insecure_config() -> Result<Arc<ClientConfig>, HostError> {
    let verifier = AcceptAnyCertificate {
        algorithms: provider().signature_verification_algorithms,
    };
    let config = builder()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(http1_only(config)))
}

/// The provider is named rather than taken from the process default, which
/// panics when a dependency enables a second one.
fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, HostError> {
    ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| HostError::Setup(format!("TLS: {e}")))
}

/// The transport speaks HTTP/1.1; say so, so a server never picks h2.
fn http1_only(mut config: ClientConfig) -> ClientConfig {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<(), HostError> {
    let invalid = |what: String| HostError::Setup(format!("CA file {}: {what}", path.display()));
    let pem = std::fs::read(path).map_err(|e| invalid(e.to_string()))?;
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| invalid(format!("not PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| invalid(format!("unusable certificate: {e}")))?;
        count += 1;
    }
    if count == 0 {
        return Err(invalid("no CERTIFICATE block".to_owned()));
    }
    Ok(())
}

/// What failed in a TLS handshake with `authority`, and what to do about it,
/// in one sentence for the user. `err` is the handshake's error, rustls' own
/// inside when it is one.
pub fn explain_failure(err: &std::io::Error, authority: &str) -> String {
    use rustls::CertificateError as Cert;
    let rustls_error = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    let Some(rustls::Error::InvalidCertificate(cert)) = rustls_error else {
        return format!("TLS handshake with {authority} failed: {err}");
    };
    let what = format!("the certificate of {authority}");
    match cert {
        Cert::UnknownIssuer => format!(
            "{what} is not signed by a trusted CA: for a server with its own CA, \
             give the CA's PEM certificate to --ca-file (HostOptions::ca_file)"
        ),
        Cert::NotValidForNameContext { presented, .. } => {
            // rustls writes them `DnsName("a.example")`: keep the name.
            let names: Vec<&str> = presented
                .iter()
                .map(|name| name.split('"').nth(1).unwrap_or(name))
                .collect();
            format!(
                "{what} does not name that host (it names {}): use a host name the \
                 certificate names in `location` or `endpoint`",
                names.join(", ")
            )
        }
        Cert::NotValidForName => format!(
            "{what} does not name that host: use a host name the certificate \
             names in `location` or `endpoint`"
        ),
        Cert::Expired | Cert::ExpiredContext { .. } => {
            format!("{what} has expired (or this machine's clock is wrong): renew it")
        }
        Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
            format!("{what} is not valid yet (or this machine's clock is wrong)")
        }
        other => format!("{what} was refused: {other}"),
    }
}

/// Accepts any server certificate, yet still checks the handshake signatures
/// against the presented key (which proves nothing without the certificate
/// check, but keeps rustls' protocol invariants).
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for AcceptAnyCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AcceptAnyCertificate")
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A public self-signed root (ISRG Root X1, from Mozilla's store).
    const ISRG_ROOT_X1: &str = include_str!("../testdata/isrg-root-x1.pem");

    fn write_temp(contents: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), contents).expect("write temp file");
        file
    }

    fn setup_error(result: Result<Arc<ClientConfig>, HostError>) -> String {
        match result {
            Err(HostError::Setup(message)) => message,
            Err(other) => panic!("expected a setup error, got {other}"),
            Ok(_) => panic!("expected a setup error, got a configuration"),
        }
    }

    #[test]
    fn builds_with_webpki_roots_only() {
        let config = verifying_config(None).expect("config");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn adds_the_certificates_of_a_pem_file() {
        let file = write_temp(ISRG_ROOT_X1);
        verifying_config(Some(file.path())).expect("config with extra CA");
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let message = setup_error(verifying_config(Some(Path::new("/nonexistent/ca.pem"))));
        assert!(
            message.starts_with("CA file /nonexistent/ca.pem: "),
            "{message}"
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_named() {
        let file = write_temp("not a certificate\n");
        let message = setup_error(verifying_config(Some(file.path())));
        let expected = format!("CA file {}: no CERTIFICATE block", file.path().display());
        assert_eq!(message, expected);
    }

    #[test]
    fn a_corrupt_certificate_is_named() {
        let corrupt = "-----BEGIN CERTIFICATE-----\nMIIFazCC!!!!\n-----END CERTIFICATE-----\n";
        let file = write_temp(corrupt);
        let message = setup_error(verifying_config(Some(file.path())));
        assert!(
            message.starts_with(&format!("CA file {}: ", file.path().display())),
            "{message}"
        );
    }

    #[test]
    fn a_certificate_that_is_not_der_is_named() {
        let garbage = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
        let file = write_temp(garbage);
        let message = setup_error(verifying_config(Some(file.path())));
        let prefix = format!("CA file {}: unusable certificate: ", file.path().display());
        assert!(message.starts_with(&prefix), "{message}");
    }

    fn explained(e: rustls::Error) -> String {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        explain_failure(&io, "s3.example.com:9000")
    }

    #[test]
    fn an_unknown_issuer_points_to_the_ca_file() {
        let message = explained(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert!(
            message.starts_with("the certificate of s3.example.com:9000 is not signed"),
            "{message}"
        );
        assert!(message.contains("--ca-file"), "{message}");
    }

    #[test]
    fn a_wrong_name_says_which_names_the_certificate_has() {
        let message = explained(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("s3.example.com").expect("name"),
                presented: vec!["DnsName(\"other.example.com\")".into()],
            },
        ));
        assert!(message.contains("does not name that host"), "{message}");
        assert!(
            message.contains("(it names other.example.com)"),
            "{message}"
        );
        assert!(message.contains("`location`"), "{message}");
    }

    #[test]
    fn other_failures_say_what_happened() {
        let expired = explained(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Expired,
        ));
        assert!(expired.contains("has expired"), "{expired}");
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let message = explain_failure(&reset, "h:1");
        assert!(
            message.starts_with("TLS handshake with h:1 failed: "),
            "{message}"
        );
    }

    #[test]
    fn the_insecure_verifier_accepts_any_certificate() {
        let verifier = AcceptAnyCertificate {
            algorithms: provider().signature_verification_algorithms,
        };
        let name = ServerName::try_from("s3.example.com").expect("name");
        let garbage = CertificateDer::from(vec![1, 2, 3]);
        assert!(verifier
            .verify_server_cert(&garbage, &[], &name, &[], UnixTime::now())
            .is_ok());
        assert!(!verifier.supported_verify_schemes().is_empty());
    }
}
