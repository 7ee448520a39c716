//! The probe over the network: connect (from the console, or over any stream such as
//! an SSH channel), STARTTLS when declared, a TLS handshake that accepts whatever
//! certificate is presented, then the chain judged by [`evaluate`].

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::SignatureScheme;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::evaluate::evaluate;
use super::starttls::starttls;
use super::trust::trust_roots;
use super::{CertEndpoint, CertReport};
use crate::sanitize;

/// How long each network step (connect, STARTTLS exchange, handshake, close) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects from the console over TCP (with [`STEP_TIMEOUT`]) and probes. For `via:
/// host` endpoints the caller opens a `direct-tcpip` channel through the host's SSH
/// session instead and calls [`probe`] with it.
pub async fn connect_and_probe(endpoint: &CertEndpoint, now: OffsetDateTime) -> CertReport {
    connect_and_probe_with_timeout(endpoint, now, STEP_TIMEOUT).await
}

/// [`connect_and_probe`] with a chosen per-step timeout.
pub async fn connect_and_probe_with_timeout(
    endpoint: &CertEndpoint,
    now: OffsetDateTime,
    step: Duration,
) -> CertReport {
    let addr = format!("{}:{}", endpoint.host, endpoint.port);
    let connect = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port));
    let stream = match tokio::time::timeout(step, connect).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            return CertReport::unreachable(endpoint, now, format!("connecting to {addr}: {e}"));
        }
        Err(_) => {
            return CertReport::unreachable(
                endpoint,
                now,
                format!("connecting to {addr}: timed out after {step:?}"),
            );
        }
    };
    let _ = stream.set_nodelay(true);
    probe_with_timeout(endpoint, stream, now, step).await
}

/// Probes `endpoint` over `stream`, any byte stream to it: a TCP connection from the
/// console, an SSH `direct-tcpip` channel (e.g. a
/// [`BoxedIo`](crate::docker::transport::BoxedIo)), or an in-memory pipe. Performs
/// STARTTLS first when declared, then a TLS handshake that accepts whatever
/// certificate is presented (handshake signatures are still verified) so expired,
/// untrusted and mismatched certificates can be reported rather than refused; the
/// chain and the name are then checked separately. Never fails: problems are in the
/// report. `now` is the measurement time (days left, chain validity).
pub async fn probe<S>(endpoint: &CertEndpoint, stream: S, now: OffsetDateTime) -> CertReport
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    probe_with_timeout(endpoint, stream, now, STEP_TIMEOUT).await
}

/// [`probe`] with a chosen per-step timeout.
pub async fn probe_with_timeout<S>(
    endpoint: &CertEndpoint,
    stream: S,
    now: OffsetDateTime,
    step: Duration,
) -> CertReport
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let server_name = match ServerName::try_from(endpoint.effective_server_name().to_string()) {
        Ok(name) => name,
        Err(_) => {
            return CertReport::unreachable(
                endpoint,
                now,
                format!(
                    "{:?} is not a valid DNS name or IP address",
                    endpoint.effective_server_name()
                ),
            );
        }
    };
    let stream = match endpoint.starttls {
        None => stream,
        Some(kind) => match tokio::time::timeout(step, starttls(kind, stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                return CertReport::unreachable(
                    endpoint,
                    now,
                    format!("STARTTLS ({}): {e}", kind.as_str()),
                );
            }
            Err(_) => {
                return CertReport::unreachable(
                    endpoint,
                    now,
                    format!("STARTTLS ({}): timed out after {step:?}", kind.as_str()),
                );
            }
        },
    };
    let chain = match handshake(server_name.clone(), stream, step).await {
        Ok(chain) => chain,
        Err(e) => return CertReport::unreachable(endpoint, now, format!("TLS handshake: {e}")),
    };
    let roots = trust_roots(endpoint).await;
    evaluate(endpoint, &server_name, &chain, &roots, now)
}

/// Runs the handshake (within `step`) and returns the presented chain, leaf first;
/// then sends close_notify (within `step` again, so a slow close never costs the
/// chain already seen).
async fn handshake<S>(
    server_name: ServerName<'static>,
    stream: S,
    step: Duration,
) -> Result<Vec<CertificateDer<'static>>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let config = client_config()?;
    let connect = tokio_rustls::TlsConnector::from(config).connect(server_name, stream);
    let mut tls = match tokio::time::timeout(step, connect).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return Err(sanitize::line(&e.to_string())),
        Err(_) => return Err(format!("timed out after {step:?}")),
    };
    let chain: Vec<CertificateDer<'static>> = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    let _ = tokio::time::timeout(step, tls.shutdown()).await;
    if chain.is_empty() {
        return Err("the server presented no certificate".into());
    }
    Ok(chain)
}

/// The client configuration, built once: its own ring provider (independent of any
/// process-wide default), safe protocol versions (TLS 1.2 and 1.3), no client
/// certificate, and [`AcceptAnyCert`].
fn client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS configuration: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert { provider }))
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// Accepts any certificate chain during the handshake (the chain is judged afterwards
/// by [`evaluate`], so a bad one is reported instead of aborting the handshake), but
/// verifies the handshake signatures with the provider's algorithms, so the peer must
/// hold the private key of the certificate it presents.
#[derive(Debug)]
struct AcceptAnyCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCert {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
