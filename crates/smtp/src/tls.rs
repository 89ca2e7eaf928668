//! TLS for relay connections: STARTTLS (RFC 3207) and implicit TLS
//! (`smtps`, RFC 8314), with rustls on the `ring` provider and the Mozilla
//! root certificates from `webpki-roots`.
//!
//! Certificates are verified against the relay's host name. The one escape
//! hatch, [`crate::Relay::tls_insecure`], accepts any certificate (handshake
//! signatures are still checked); it exists for test relays with
//! self-signed certificates and must be switched on explicitly.

use std::sync::{Arc, OnceLock};

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{self, CryptoProvider, WebPkiSupportedAlgorithms};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{ClientConfig, DigitallySignedStruct, Error as RustlsError, RootCertStore, SignatureScheme};

use crate::error::SmtpError;

static VERIFYING: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
static INSECURE: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

/// The shared client configuration (built once per process).
pub(crate) fn client_config(insecure: bool) -> Result<Arc<ClientConfig>, SmtpError> {
    let cell = if insecure { &INSECURE } else { &VERIFYING };
    cell.get_or_init(|| build(insecure).map_err(|e| e.to_string()))
        .clone()
        .map_err(|reason| SmtpError::TlsConfig { reason })
}

fn build(insecure: bool) -> Result<Arc<ClientConfig>, RustlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth()
    } else {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Runs the TLS handshake on `tcp` for `host`.
pub(crate) async fn handshake(tcp: TcpStream, host: &str, insecure: bool) -> Result<TlsStream<TcpStream>, SmtpError> {
    let config = client_config(insecure)?;
    let name =
        ServerName::try_from(host.to_string()).map_err(|_| SmtpError::InvalidServerName { host: host.to_string() })?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|source| SmtpError::Tls { host: host.to_string(), source })
}

/// Accepts any server certificate; checks handshake signatures.
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, RustlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, RustlsError> {
        crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, RustlsError> {
        crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
