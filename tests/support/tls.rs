//! HTTPS for the test servers: a certificate authority made at test time (no
//! key or certificate is kept in the repository), and a front on 127.0.0.1
//! that terminates TLS with a certificate the CA signed and passes the bytes
//! on to a plain-HTTP S3 server behind it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tempfile::NamedTempFile;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// A throwaway certificate authority, its certificate in a PEM file.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem_file: NamedTempFile,
}

impl TestCa {
    /// # Panics
    /// When a key cannot be generated or the file written: no test can run.
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "kloset-s3 test CA");
        let cert = params.self_signed(&key).expect("CA certificate");
        let pem_file = NamedTempFile::new().expect("CA file");
        std::fs::write(pem_file.path(), cert.pem()).expect("write the CA file");
        TestCa {
            issuer: Issuer::new(params, key),
            pem_file,
        }
    }

    /// The CA certificate as PEM, for `--ca-file`.
    pub fn pem_file(&self) -> &Path {
        self.pem_file.path()
    }

    /// A server certificate for `names` (DNS names, wildcards, IP addresses)
    /// and its key.
    pub fn server_certificate(
        &self,
        names: &[&str],
    ) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = CertificateParams::new(names).expect("server names");
        let cert = params.signed_by(&key, &self.issuer).expect("server cert");
        let key = PrivatePkcs8KeyDer::from(key.serialize_der());
        (cert.der().clone(), key.into())
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

/// A TLS listener on 127.0.0.1 in front of a plain-HTTP server; it stops when
/// dropped.
pub struct TlsFront {
    addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// Serves `certificate` and forwards every connection whose handshake
    /// succeeds to `behind`.
    pub async fn start(
        behind: SocketAddr,
        (cert, key): (CertificateDer<'static>, PrivateKeyDer<'static>),
    ) -> TlsFront {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("server TLS configuration");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counter = handshakes.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, counter) = (acceptor.clone(), counter.clone());
                connections.spawn(async move {
                    // A refused handshake ends here: nothing reaches the server.
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut plain) = TcpStream::connect(behind).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        TlsFront {
            addr,
            handshakes,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// TLS handshakes that succeeded so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
