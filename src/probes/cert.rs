//! TLS endpoints: certificate expiry, name match and chain validity.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::SignatureScheme;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

use super::Severity;
use crate::sanitize;

/// One endpoint, as declared in `fleetdeck_certificates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertEndpoint {
    /// A short name shown in the console, e.g. `https`.
    pub name: String,
    /// Address or name to connect to.
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// SNI and the name the certificate must match; defaults to `host`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// A CA (PEM file on the machine running fleetdeck) to verify the chain against
    /// instead of the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// `console` (default): connect from where fleetdeck runs; `host`: through the
    /// host's SSH session, for endpoints only reachable inside.
    #[serde(default)]
    pub via: CertVia,
    /// `smtp` or `imap` to upgrade a plain connection with STARTTLS first.
    #[serde(default)]
    pub starttls: Option<StartTls>,
    #[serde(default = "default_warning_days")]
    pub warning_days: i64,
    #[serde(default = "default_critical_days")]
    pub critical_days: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertVia {
    #[default]
    Console,
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartTls {
    Smtp,
    Imap,
}

pub const DEFAULT_WARNING_DAYS: i64 = 21;
pub const DEFAULT_CRITICAL_DAYS: i64 = 7;

fn default_port() -> u16 {
    443
}

fn default_warning_days() -> i64 {
    DEFAULT_WARNING_DAYS
}

fn default_critical_days() -> i64 {
    DEFAULT_CRITICAL_DAYS
}

impl CertEndpoint {
    /// The name sent as SNI and checked against the certificate: `server_name`, else
    /// `host`.
    pub fn effective_server_name(&self) -> &str {
        self.server_name.as_deref().unwrap_or(&self.host)
    }
}

// ---- report -----------------------------------------------------------------------

/// What one probe of one endpoint found.
///
/// Severity, from the leaf certificate and the checks, worst wins:
/// - **critical**: expired (`days_left < 0`), not yet valid, `days_left <
///   critical_days`, a chain that does not lead to the declared CA / system roots, a
///   name that the certificate does not cover, or a certificate webpki rejects as
///   malformed: a client would refuse the endpoint (or soon will).
/// - **warning**: `days_left < warning_days`.
/// - **unknown**: the connection, STARTTLS or the handshake failed, the trust roots
///   could not be loaded, or the leaf's dates could not be read: the endpoint may be
///   fine, fleetdeck could not see it.
/// - **ok**: none of the above.
///
/// `error` says in words why the severity is critical or unknown (all reasons, joined
/// with "; "), a critical threshold included ("4d 3h left, under the critical
/// threshold of 7 days"); a mere threshold warning leaves it empty since `days_left`
/// says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertReport {
    /// The endpoint's declared `name`.
    pub endpoint: String,
    pub host: String,
    pub port: u16,
    /// The SNI name sent and matched against the certificate.
    pub server_name: String,
    /// When the probe ran (RFC 3339 UTC).
    #[serde(serialize_with = "ser_time")]
    pub checked_at: OffsetDateTime,
    /// The leaf's notAfter (RFC 3339 UTC); `None` when no certificate was seen.
    #[serde(serialize_with = "ser_opt_time")]
    pub not_after: Option<OffsetDateTime>,
    #[serde(serialize_with = "ser_opt_time")]
    pub not_before: Option<OffsetDateTime>,
    /// Whole days until notAfter, rounded down: `floor((not_after - checked_at) / 1
    /// day)`. So it is negative exactly once the certificate has expired (−1 during
    /// the first day after expiry, −4 for a certificate that expired 3 days and an hour
    /// ago), and 4 for one with 4 days and 23 hours left.
    pub days_left: Option<i64>,
    /// The issuer's common name, or its full DN (RFC 4514) when it has none.
    pub issuer: Option<String>,
    /// The subject's common name, or its full DN when it has none.
    pub subject: Option<String>,
    /// Subject alternative names: DNS names and IP addresses as written; e-mail and
    /// URI names prefixed `email:` / `uri:`; others shown as `other:<kind>`.
    pub names: Vec<String>,
    /// The presented chain leads to a trusted root (`ca_file` or the system roots) and
    /// is valid for server authentication. Checked at `checked_at`, or at the leaf's
    /// own notBefore/notAfter when `checked_at` is outside them, so an expired leaf is
    /// reported by `days_left`, not as a broken chain.
    pub chain_valid: bool,
    pub chain_error: Option<String>,
    /// The certificate's SANs cover `server_name` (IP addresses as IP SANs; like
    /// browsers, a name only in the subject CN does not count).
    pub name_matches: bool,
    pub severity: Severity,
    pub error: Option<String>,
}

/// Whole days in `seconds` as a person reads them: rounded to the nearest day, half a
/// day up (89 days 23 hours is 90; 3 days 17 minutes is 3).
pub fn round_days(seconds: i64) -> i64 {
    (seconds.unsigned_abs().saturating_add(43_200) / 86_400)
        .try_into()
        .unwrap_or(i64::MAX)
}

/// A duration as days and hours, rounded down to the hour: `6d 23h`.
fn days_and_hours(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    format!("{}d {}h", s / 86_400, s % 86_400 / 3_600)
}

/// How a certificate's remaining life is shown to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Days left ([`round_days`]; 0 when it expires within half a day).
    Left(i64),
    /// Expired this many days ago ([`round_days`]; 0 within half a day).
    Expired(i64),
}

impl Lifetime {
    /// `90d left`, `expired 3d ago`, `expired today`: the table and problem lines.
    pub fn text(self) -> String {
        match self {
            Lifetime::Left(days) => format!("{days}d left"),
            Lifetime::Expired(0) => "expired today".to_owned(),
            Lifetime::Expired(days) => format!("expired {days}d ago"),
        }
    }

    /// `90d`, `expired 3d`: the console's overview column.
    pub fn short(self) -> String {
        match self {
            Lifetime::Left(days) => format!("{days}d"),
            Lifetime::Expired(0) => "expired".to_owned(),
            Lifetime::Expired(days) => format!("expired {days}d"),
        }
    }

    /// Signed days, negative once expired (`-0` within half a day of expiry): the
    /// console's certificate pane.
    pub fn signed(self) -> String {
        match self {
            Lifetime::Left(days) => days.to_string(),
            Lifetime::Expired(days) => format!("-{days}"),
        }
    }
}

impl CertReport {
    /// The remaining life as a person reads it, from the exact times (rounded to the
    /// nearest day, see [`round_days`]); `days_left`, rounded down, is what the
    /// thresholds judge. `None` when no certificate was seen.
    pub fn lifetime(&self) -> Option<Lifetime> {
        let seconds = (self.not_after? - self.checked_at).whole_seconds();
        Some(if seconds < 0 {
            Lifetime::Expired(round_days(seconds))
        } else {
            Lifetime::Left(round_days(seconds))
        })
    }

    /// A report for an endpoint that could not be reached at all (e.g. the SSH
    /// channel for a `via: host` endpoint did not open): severity unknown.
    pub fn unreachable(
        endpoint: &CertEndpoint,
        now: OffsetDateTime,
        error: impl Into<String>,
    ) -> Self {
        let mut report = Self::blank(endpoint, now);
        report.error = Some(error.into());
        report
    }

    fn blank(endpoint: &CertEndpoint, now: OffsetDateTime) -> Self {
        Self {
            endpoint: endpoint.name.clone(),
            host: endpoint.host.clone(),
            port: endpoint.port,
            server_name: endpoint.effective_server_name().to_string(),
            checked_at: now,
            not_after: None,
            not_before: None,
            days_left: None,
            issuer: None,
            subject: None,
            names: Vec::new(),
            chain_valid: false,
            chain_error: None,
            name_matches: false,
            severity: Severity::Unknown,
            error: None,
        }
    }
}

fn ser_time<S: serde::Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    let text = t
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}

fn ser_opt_time<S: serde::Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ser_time(t, s),
        None => s.serialize_none(),
    }
}

// ---- probing ----------------------------------------------------------------------

/// How long each network step (connect, STARTTLS exchange, handshake, close) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest STARTTLS response line accepted, and most lines in one response: a hostile
/// server cannot make the probe buffer without bound.
const MAX_LINE: usize = 4096;
const MAX_LINES: usize = 100;

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

// ---- STARTTLS ---------------------------------------------------------------------

impl StartTls {
    pub fn as_str(self) -> &'static str {
        match self {
            StartTls::Smtp => "smtp",
            StartTls::Imap => "imap",
        }
    }
}

/// Upgrades a plain SMTP (RFC 3207) or IMAP (RFC 3501) connection: returns the stream
/// positioned where the TLS handshake starts. Refuses a server that sends anything
/// after accepting STARTTLS: such bytes would be read as if they came through TLS
/// (the classic STARTTLS command-injection hole).
async fn starttls<S>(kind: StartTls, stream: S) -> Result<S, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut io = BufReader::new(stream);
    match kind {
        StartTls::Smtp => smtp_starttls(&mut io).await?,
        StartTls::Imap => imap_starttls(&mut io).await?,
    }
    if !io.buffer().is_empty() {
        return Err(
            "the server sent data right after accepting STARTTLS; refusing to continue".into(),
        );
    }
    Ok(io.into_inner())
}

async fn smtp_starttls<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
) -> Result<(), String> {
    let (code, text) = smtp_reply(io).await?;
    if code != 220 {
        return Err(format!("unexpected greeting: {code} {text}"));
    }
    send(io, b"EHLO fleetdeck.invalid\r\n").await?;
    let (code, text) = smtp_reply(io).await?;
    if code != 250 {
        return Err(format!("EHLO refused: {code} {text}"));
    }
    send(io, b"STARTTLS\r\n").await?;
    let (code, reply) = smtp_reply(io).await?;
    if code != 220 {
        let advertised = text
            .lines()
            .any(|l| l.trim().eq_ignore_ascii_case("STARTTLS"));
        let hint = if advertised {
            ""
        } else {
            " (not advertised in EHLO)"
        };
        return Err(format!("STARTTLS refused: {code} {reply}{hint}"));
    }
    Ok(())
}

/// One SMTP reply, possibly multi-line (`250-…` continued, `250 …` last): the code and
/// the text of every line, newline-separated.
async fn smtp_reply<R: AsyncBufRead + Unpin>(io: &mut R) -> Result<(u16, String), String> {
    let mut text = String::new();
    for _ in 0..MAX_LINES {
        let line = read_line(io).await?;
        let code = line
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("not an SMTP reply: {line:?}"))?;
        let sep = line.as_bytes().get(3).copied();
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(line.get(4..).unwrap_or(""));
        match sep {
            Some(b'-') => continue,
            None | Some(b' ') => return Ok((code, text)),
            Some(_) => return Err(format!("not an SMTP reply: {line:?}")),
        }
    }
    Err(format!("SMTP reply longer than {MAX_LINES} lines"))
}

async fn imap_starttls<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
) -> Result<(), String> {
    let greeting = read_line(io).await?;
    let upper = greeting.to_ascii_uppercase();
    if upper.starts_with("* PREAUTH") {
        // RFC 3501: STARTTLS is only valid before authentication.
        return Err(format!(
            "server pre-authenticated the connection, STARTTLS not possible: {greeting}"
        ));
    }
    if !upper.starts_with("* OK") {
        return Err(format!("unexpected greeting: {greeting}"));
    }
    send(io, b"a001 STARTTLS\r\n").await?;
    for _ in 0..MAX_LINES {
        let line = read_line(io).await?;
        if line.starts_with("* ") {
            continue; // untagged data, e.g. a CAPABILITY response
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("A001 OK") {
            return Ok(());
        }
        return Err(format!("STARTTLS refused: {line}"));
    }
    Err(format!("no answer to STARTTLS within {MAX_LINES} lines"))
}

async fn send<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8]) -> Result<(), String> {
    io.write_all(bytes)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    io.flush().await.map_err(|e| format!("sending: {e}"))
}

/// One CRLF- (or LF-) terminated line, without the terminator, sanitized; at most
/// [`MAX_LINE`] bytes.
async fn read_line<R: AsyncBufRead + Unpin>(io: &mut R) -> Result<String, String> {
    let mut line = Vec::new();
    loop {
        let buf = io.fill_buf().await.map_err(|e| format!("reading: {e}"))?;
        if buf.is_empty() {
            return Err("the server closed the connection".into());
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        io.consume(take);
        if line.len() > MAX_LINE {
            return Err(format!("a line longer than {MAX_LINE} bytes"));
        }
        if done {
            break;
        }
    }
    let text = String::from_utf8_lossy(&line);
    Ok(sanitize::line(text.trim_end_matches(['\r', '\n'])))
}

// ---- trust ------------------------------------------------------------------------

/// What the chain is verified against; `Err` says why no roots are available (the
/// chain then cannot be judged: severity unknown unless something worse is known).
type Roots = Result<Arc<Trust>, String>;

struct Trust {
    anchors: Vec<TrustAnchor<'static>>,
    /// The certificates of a declared `ca_file` as they are: a server presenting one
    /// of them exactly is trusted (a pinned self-signed certificate), which webpki
    /// alone refuses when that certificate says `CA:TRUE`, as `openssl req -x509`
    /// makes them.
    pinned: Vec<CertificateDer<'static>>,
}

async fn trust_roots(endpoint: &CertEndpoint) -> Roots {
    match &endpoint.ca_file {
        Some(path) => match tokio::fs::read(path).await {
            Ok(pem) => {
                anchors_from_pem(&pem).map_err(|e| format!("CA file {}: {e}", path.display()))
            }
            Err(e) => Err(format!("CA file {}: {e}", path.display())),
        },
        None => system_roots().await,
    }
}

/// Trust anchors from every certificate in a PEM file; other PEM sections (keys) are
/// skipped.
fn anchors_from_pem(pem: &[u8]) -> Roots {
    let mut anchors = Vec::new();
    let mut pinned = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("not PEM: {e}"))?;
        let anchor = webpki::anchor_from_trusted_cert(&cert)
            .map_err(|e| format!("unusable certificate: {e}"))?;
        anchors.push(anchor.to_owned());
        pinned.push(cert);
    }
    if anchors.is_empty() {
        return Err("no certificate in it".into());
    }
    Ok(Arc::new(Trust { anchors, pinned }))
}

/// The system's roots (rustls-native-certs: `SSL_CERT_FILE`/`SSL_CERT_DIR` or the
/// platform store), loaded once per process off the async threads.
async fn system_roots() -> Roots {
    static ROOTS: OnceLock<Roots> = OnceLock::new();
    if let Some(roots) = ROOTS.get() {
        return roots.clone();
    }
    let loaded = tokio::task::spawn_blocking(load_system_roots)
        .await
        .unwrap_or_else(|e| Err(format!("loading the system roots: {e}")));
    ROOTS.get_or_init(|| loaded).clone()
}

/// The system's trust anchors, loaded once per process: the deploy gate's HTTP probes
/// trust what the certificate probe trusts.
pub(crate) async fn system_trust_anchors() -> Result<Vec<TrustAnchor<'static>>, String> {
    system_roots().await.map(|trust| trust.anchors.clone())
}

fn load_system_roots() -> Roots {
    let found = rustls_native_certs::load_native_certs();
    let anchors: Vec<TrustAnchor<'static>> = found
        .certs
        .iter()
        .filter_map(|c| {
            webpki::anchor_from_trusted_cert(c)
                .ok()
                .map(|a| a.to_owned())
        })
        .collect();
    if anchors.is_empty() {
        let why: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
        return Err(
            format!("no system root certificates found {}", why.join("; "))
                .trim_end()
                .to_string(),
        );
    }
    Ok(Arc::new(Trust {
        anchors,
        pinned: Vec::new(),
    }))
}

// ---- evaluation -------------------------------------------------------------------

/// Judges a presented chain (leaf first) as of `now`. Pure: no I/O.
///
/// The leaf's fields are read with x509-cert, acceptance is decided by webpki (as a
/// rustls client would): a leaf that webpki takes but x509-cert cannot read leaves the
/// dates unknown (severity unknown), never a false critical.
fn evaluate(
    endpoint: &CertEndpoint,
    server_name: &ServerName<'_>,
    chain: &[CertificateDer<'_>],
    roots: &Roots,
    now: OffsetDateTime,
) -> CertReport {
    let mut report = CertReport::blank(endpoint, now);
    let Some(leaf_der) = chain.first() else {
        report.error = Some("the server presented no certificate".into());
        return report;
    };
    let mut problems: Vec<String> = Vec::new();
    let mut severity = Severity::Ok;

    // Dates and names.
    let mut check_at = now;
    let mut self_issued = false;
    match Leaf::parse(leaf_der) {
        Ok(leaf) => {
            let days_left = (leaf.not_after - now).whole_seconds().div_euclid(86_400);
            report.not_after = Some(leaf.not_after);
            report.not_before = Some(leaf.not_before);
            report.days_left = Some(days_left);
            report.issuer = Some(leaf.issuer);
            report.subject = Some(leaf.subject);
            report.names = leaf.names;
            self_issued = leaf.self_issued;
            if now > leaf.not_after {
                severity = Severity::Critical;
                problems.push(format!("expired {}", fmt_time(leaf.not_after)));
            } else if now < leaf.not_before {
                severity = Severity::Critical;
                problems.push(format!("not valid before {}", fmt_time(leaf.not_before)));
            } else if days_left < endpoint.critical_days {
                severity = Severity::Critical;
                problems.push(format!(
                    "{} left, under the critical threshold of {} days",
                    days_and_hours((leaf.not_after - now).whole_seconds()),
                    endpoint.critical_days
                ));
            } else if days_left < endpoint.warning_days {
                severity = Severity::Warning;
            }
            // The chain is judged inside the leaf's own window (see `chain_valid`);
            // max/min rather than clamp: a hostile notBefore > notAfter must not panic.
            check_at = now.min(leaf.not_after).max(leaf.not_before);
        }
        Err(e) => {
            severity = Severity::Unknown;
            problems.push(format!("cannot read the certificate's fields: {e}"));
        }
    }

    // Chain.
    let end_entity = webpki::EndEntityCert::try_from(leaf_der);
    let check_time = UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(check_at.unix_timestamp()).unwrap_or(0),
    ));
    let chain_result = match (&end_entity, roots) {
        (Err(e), _) => Err(describe_webpki(e)),
        (Ok(_), Err(why)) => {
            report.chain_error = Some(format!("cannot verify: {why}"));
            severity = severity.max(Severity::Unknown);
            problems.push(format!("chain not verified: {why}"));
            Ok(())
        }
        (Ok(_), Ok(trust)) if trust.pinned.iter().any(|c| c == leaf_der) => {
            report.chain_valid = true;
            Ok(())
        }
        (Ok(ee), Ok(trust)) => {
            let algorithms =
                rustls::crypto::ring::default_provider().signature_verification_algorithms;
            ee.verify_for_usage(
                algorithms.all,
                &trust.anchors,
                chain.get(1..).unwrap_or(&[]),
                check_time,
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map(|_| report.chain_valid = true)
            .map_err(|e| match e {
                webpki::Error::UnknownIssuer | webpki::Error::CaUsedAsEndEntity
                    if self_issued && chain.len() == 1 =>
                {
                    "self-signed, not issued by a trusted CA".to_string()
                }
                e => describe_webpki(&e),
            })
        }
    };
    if let Err(why) = chain_result {
        severity = Severity::Critical;
        problems.push(format!("untrusted chain: {why}"));
        report.chain_error = Some(why);
    }

    // Name.
    report.name_matches = match &end_entity {
        Ok(ee) => ee.verify_is_valid_for_subject_name(server_name).is_ok(),
        Err(_) => false,
    };
    if !report.name_matches {
        severity = Severity::Critical;
        let covered = if report.names.is_empty() {
            "it has no subject alternative names".to_string()
        } else {
            format!("it covers {}", report.names.join(", "))
        };
        problems.push(format!("not valid for {}: {covered}", report.server_name));
    }

    report.severity = severity;
    report.error = (!problems.is_empty()).then(|| problems.join("; "));
    report
}

fn fmt_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn describe_webpki(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => "not issued by a trusted CA (unknown issuer)".into(),
        E::CertExpired { .. } => "a certificate in the chain has expired".into(),
        E::CertNotValidYet { .. } => "a certificate in the chain is not valid yet".into(),
        E::CaUsedAsEndEntity => "the server certificate is a CA certificate".into(),
        E::EndEntityUsedAsCa => "a server certificate is used as a CA".into(),
        E::RequiredEkuNotFoundContext(_) => {
            "not valid for TLS server authentication (extended key usage)".into()
        }
        E::InvalidSignatureForPublicKey => "a signature in the chain is invalid".into(),
        E::BadDer | E::BadDerTime | E::TrailingData(_) => "malformed certificate".into(),
        other => format!("{other:?}"),
    }
}

/// The fields of the leaf certificate the report shows. Everything textual is
/// sanitized: it is the server's to choose.
struct Leaf {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    issuer: String,
    subject: String,
    names: Vec<String>,
    /// Issuer and subject are the same name: self-signed, as far as names tell.
    self_issued: bool,
}

impl Leaf {
    fn parse(der: &CertificateDer<'_>) -> Result<Leaf, String> {
        let cert = Certificate::from_der(der.as_ref()).map_err(|e| e.to_string())?;
        let tbs = cert.tbs_certificate();
        let validity = tbs.validity();
        let names = match tbs.get_extension::<SubjectAltName>() {
            Ok(Some((_, san))) => san.0.iter().map(general_name).collect(),
            Ok(None) => Vec::new(),
            Err(e) => return Err(format!("subject alternative names: {e}")),
        };
        Ok(Leaf {
            not_before: x509_time(validity.not_before)?,
            not_after: x509_time(validity.not_after)?,
            issuer: name_text(tbs.issuer()),
            subject: name_text(tbs.subject()),
            names,
            self_issued: tbs.issuer() == tbs.subject(),
        })
    }
}

fn x509_time(t: x509_cert::time::Time) -> Result<OffsetDateTime, String> {
    let secs = i64::try_from(t.to_unix_duration().as_secs())
        .map_err(|_| "time out of range".to_string())?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string())
}

/// The common name when there is one, else the whole DN (RFC 4514).
fn name_text(name: &Name) -> String {
    match name.common_name() {
        Ok(Some(cn)) => sanitize::line(&cn.value()),
        _ => sanitize::line(&name.to_string()),
    }
}

fn general_name(name: &GeneralName) -> String {
    match name {
        GeneralName::DnsName(dns) => sanitize::line(dns.as_str()),
        GeneralName::IpAddress(ip) => {
            let bytes = ip.as_bytes();
            match bytes.len() {
                4 => <[u8; 4]>::try_from(bytes)
                    .map(|b| IpAddr::from(b).to_string())
                    .unwrap_or_default(),
                16 => <[u8; 16]>::try_from(bytes)
                    .map(|b| IpAddr::from(b).to_string())
                    .unwrap_or_default(),
                _ => format!("ip:{}", hex::encode(bytes)),
            }
        }
        GeneralName::Rfc822Name(mail) => format!("email:{}", sanitize::line(mail.as_str())),
        GeneralName::UniformResourceIdentifier(uri) => {
            format!("uri:{}", sanitize::line(uri.as_str()))
        }
        GeneralName::DirectoryName(dn) => format!("dirname:{}", sanitize::line(&dn.to_string())),
        GeneralName::OtherName(_) => "other:othername".into(),
        GeneralName::EdiPartyName(_) => "other:edipartyname".into(),
        GeneralName::RegisteredId(oid) => format!("other:registeredid:{oid}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const CA: &[u8] = include_bytes!("../../tests/fixtures/cert/ca.pem");
    const LEAF: &[u8] = include_bytes!("../../tests/fixtures/cert/leaf.pem");
    const NOSAN: &[u8] = include_bytes!("../../tests/fixtures/cert/nosan.pem");
    const HOSTILE: &[u8] = include_bytes!("../../tests/fixtures/cert/hostile.pem");
    const SELF_SIGNED: &[u8] = include_bytes!("../../tests/fixtures/cert/selfsigned.pem");

    fn endpoint(server_name: &str) -> CertEndpoint {
        serde_yaml::from_str(&format!(
            "{{name: https, host: 192.0.2.1, server_name: '{server_name}'}}"
        ))
        .expect("endpoint yaml")
    }

    fn der(pem: &[u8]) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem).expect("fixture PEM")
    }

    fn ca_roots() -> Roots {
        anchors_from_pem(CA)
    }

    fn judge(pem: &[u8], server_name: &str, now: OffsetDateTime) -> CertReport {
        judge_with(&endpoint(server_name), pem, &ca_roots(), now)
    }

    fn judge_with(ep: &CertEndpoint, pem: &[u8], roots: &Roots, now: OffsetDateTime) -> CertReport {
        let name =
            ServerName::try_from(ep.effective_server_name().to_string()).expect("server name");
        evaluate(ep, &name, &[der(pem)], roots, now)
    }

    #[test]
    fn a_valid_certificate_is_ok_with_its_fields() {
        let r = judge(LEAF, "www.example.test", datetime!(2027-02-01 00:00 UTC));
        assert_eq!(r.severity, Severity::Ok, "{r:?}");
        assert_eq!(r.days_left, Some(59));
        assert_eq!(r.not_after, Some(datetime!(2027-04-01 00:00 UTC)));
        assert_eq!(r.not_before, Some(datetime!(2027-01-01 00:00 UTC)));
        assert_eq!(r.issuer.as_deref(), Some("fleetdeck fixture CA"));
        assert_eq!(r.subject.as_deref(), Some("www.example.test"));
        assert_eq!(
            r.names,
            [
                "www.example.test",
                "*.apps.example.test",
                "127.0.0.1",
                "::1",
                "email:ops@example.test",
                "uri:https://example.test/"
            ]
        );
        assert!(r.chain_valid && r.name_matches);
        assert_eq!((r.chain_error, r.error), (None, None));
    }

    #[test]
    fn days_left_is_the_floor_and_negative_exactly_once_expired() {
        let at = |now| judge(LEAF, "www.example.test", now);
        let cases = [
            (datetime!(2027-03-31 00:00:00 UTC), 1, Severity::Critical),
            (datetime!(2027-03-31 00:00:01 UTC), 0, Severity::Critical),
            // notAfter itself is still valid (RFC 5280: inclusive).
            (datetime!(2027-04-01 00:00:00 UTC), 0, Severity::Critical),
            (datetime!(2027-04-01 00:00:01 UTC), -1, Severity::Critical),
            (datetime!(2027-04-04 00:00:00 UTC), -3, Severity::Critical),
            (datetime!(2027-04-04 01:00:00 UTC), -4, Severity::Critical),
        ];
        for (now, days, severity) in cases {
            let r = at(now);
            assert_eq!(
                (r.days_left, r.severity),
                (Some(days), severity),
                "at {now}"
            );
            let expired = r
                .error
                .as_deref()
                .is_some_and(|e| e.contains("expired 2027-04-01T00:00:00Z"));
            assert_eq!(expired, days < 0, "at {now}: {:?}", r.error);
            // An expired leaf is not a broken chain: the chain is judged in its window.
            assert!(r.chain_valid, "at {now}: {:?}", r.chain_error);
        }
    }

    #[test]
    fn thresholds_are_strictly_below_and_configurable() {
        let at = |now| judge(LEAF, "www.example.test", now);
        // 21 days left: ok; 20: warning; 7: warning; 6: critical.
        assert_eq!(
            at(datetime!(2027-03-11 00:00:00 UTC)).severity,
            Severity::Ok
        );
        assert_eq!(
            at(datetime!(2027-03-11 00:00:01 UTC)).severity,
            Severity::Warning
        );
        let seven = at(datetime!(2027-03-25 00:00:00 UTC));
        assert_eq!(
            (seven.days_left, seven.severity),
            (Some(7), Severity::Warning)
        );
        let six = at(datetime!(2027-03-25 00:00:01 UTC));
        // Critical by the threshold alone: the error says so.
        assert_eq!(
            (six.days_left, six.severity, six.error.as_deref()),
            (
                Some(6),
                Severity::Critical,
                Some("6d 23h left, under the critical threshold of 7 days")
            )
        );
        assert_eq!(seven.error, None, "a warning leaves it to days_left");

        let mut ep = endpoint("www.example.test");
        (ep.warning_days, ep.critical_days) = (60, 30);
        let r = judge_with(&ep, LEAF, &ca_roots(), datetime!(2027-02-01 00:00 UTC));
        assert_eq!((r.days_left, r.severity), (Some(59), Severity::Warning));
    }

    #[test]
    fn day_counts_shown_round_to_the_nearest_day() {
        let at = |now| judge(LEAF, "www.example.test", now).lifetime();
        // notAfter is 2027-04-01T00:00:00Z.
        let cases = [
            // 89 days 23 hours: a 90-day certificate an hour after it was made.
            (
                datetime!(2027-01-01 01:00 UTC),
                Lifetime::Left(90),
                "90d left",
            ),
            (
                datetime!(2027-03-27 12:00 UTC),
                Lifetime::Left(5),
                "5d left",
            ),
            (
                datetime!(2027-03-27 12:00:01 UTC),
                Lifetime::Left(4),
                "4d left",
            ),
            (
                datetime!(2027-03-31 18:00 UTC),
                Lifetime::Left(0),
                "0d left",
            ),
            (
                datetime!(2027-04-01 05:00 UTC),
                Lifetime::Expired(0),
                "expired today",
            ),
            // Expired 3 days 17 minutes ago.
            (
                datetime!(2027-04-04 00:17 UTC),
                Lifetime::Expired(3),
                "expired 3d ago",
            ),
            (
                datetime!(2027-04-04 12:00 UTC),
                Lifetime::Expired(4),
                "expired 4d ago",
            ),
        ];
        for (now, lifetime, text) in cases {
            assert_eq!(at(now), Some(lifetime), "at {now}");
            assert_eq!(lifetime.text(), text, "at {now}");
        }
        assert_eq!(Lifetime::Expired(3).short(), "expired 3d");
        assert_eq!(Lifetime::Left(90).short(), "90d");
        assert_eq!(Lifetime::Expired(3).signed(), "-3");
        // days_left, which the thresholds judge, stays rounded down.
        let r = judge(LEAF, "www.example.test", datetime!(2027-04-04 00:17 UTC));
        assert_eq!(r.days_left, Some(-4));
    }

    #[test]
    fn not_yet_valid_is_critical() {
        let r = judge(LEAF, "www.example.test", datetime!(2026-12-31 00:00 UTC));
        assert_eq!(r.severity, Severity::Critical);
        assert!(
            r.error
                .as_deref()
                .is_some_and(|e| e.contains("not valid before 2027-01-01")),
            "{r:?}"
        );
    }

    #[test]
    fn names_match_dns_wildcards_and_ip_sans_only() {
        let now = datetime!(2027-02-01 00:00 UTC);
        for name in [
            "www.example.test",
            "api.apps.example.test",
            "127.0.0.1",
            "::1",
        ] {
            let r = judge(LEAF, name, now);
            assert!(r.name_matches, "{name}: {r:?}");
            assert_eq!(r.severity, Severity::Ok, "{name}");
        }
        for name in ["example.test", "a.b.apps.example.test", "127.0.0.2", "::2"] {
            let r = judge(LEAF, name, now);
            assert!(!r.name_matches, "{name}");
            assert!(
                r.chain_valid,
                "{name}: the chain is fine, only the name is wrong"
            );
            assert_eq!(r.severity, Severity::Critical, "{name}");
            let error = r.error.unwrap_or_default();
            assert!(
                error.starts_with(&format!("not valid for {name}: it covers www.example.test")),
                "{error}"
            );
        }
        // Host is an IP and no server_name: the IP is matched against IP SANs.
        let ep: CertEndpoint =
            serde_yaml::from_str("{name: https, host: 127.0.0.1}").expect("yaml");
        assert!(judge_with(&ep, LEAF, &ca_roots(), now).name_matches);
    }

    #[test]
    fn a_name_only_in_the_common_name_does_not_match() {
        let r = judge(NOSAN, "www.example.test", datetime!(2027-02-01 00:00 UTC));
        assert!(!r.name_matches && r.chain_valid);
        assert_eq!(r.severity, Severity::Critical);
        assert!(
            r.error
                .unwrap_or_default()
                .contains("it has no subject alternative names")
        );
    }

    #[test]
    fn an_unknown_issuer_is_an_invalid_chain() {
        let r = judge(
            SELF_SIGNED,
            "www.example.test",
            datetime!(2027-02-01 00:00 UTC),
        );
        assert!(!r.chain_valid && r.name_matches);
        assert_eq!(r.severity, Severity::Critical);
        assert_eq!(
            r.chain_error.as_deref(),
            Some("self-signed, not issued by a trusted CA")
        );
        assert!(r.error.unwrap_or_default().contains("untrusted chain"));
        // Issued by a CA that is not trusted: the leaf of another CA.
        let other_ca = anchors_from_pem(SELF_SIGNED);
        let ep = endpoint("www.example.test");
        let r = judge_with(&ep, LEAF, &other_ca, datetime!(2027-02-01 00:00 UTC));
        assert_eq!(
            r.chain_error.as_deref(),
            Some("not issued by a trusted CA (unknown issuer)")
        );
        assert_eq!(r.severity, Severity::Critical);
    }

    #[test]
    fn a_self_signed_certificate_declared_as_ca_file_is_trusted() {
        let pinned = anchors_from_pem(SELF_SIGNED);
        let ep = endpoint("www.example.test");
        let r = judge_with(&ep, SELF_SIGNED, &pinned, datetime!(2027-02-01 00:00 UTC));
        assert!(r.chain_valid, "{r:?}");
        assert_eq!(r.severity, Severity::Ok);
    }

    #[test]
    fn without_roots_the_chain_is_unknown_not_critical() {
        let roots: Roots = Err("CA file /nope: No such file".into());
        let ep = endpoint("www.example.test");
        let r = judge_with(&ep, LEAF, &roots, datetime!(2027-02-01 00:00 UTC));
        assert_eq!(r.severity, Severity::Unknown);
        assert!(!r.chain_valid);
        assert_eq!(
            r.chain_error.as_deref(),
            Some("cannot verify: CA file /nope: No such file")
        );
        // …but what is known to be bad still wins.
        let r = judge_with(&ep, LEAF, &roots, datetime!(2027-05-01 00:00 UTC));
        assert_eq!(r.severity, Severity::Critical);
    }

    #[test]
    fn text_from_the_certificate_cannot_drive_the_terminal() {
        let r = judge(HOSTILE, "www.example.test", datetime!(2027-02-01 00:00 UTC));
        let subject = r.subject.unwrap_or_default();
        assert!(
            !subject.contains('\u{1b}')
                && !subject.contains('\u{7}')
                && !subject.contains('\u{202e}')
        );
        assert_eq!(subject, "evilname\\u{202e}txt");
    }

    #[test]
    fn hostile_der_never_panics_and_is_never_ok() {
        let good = der(LEAF).as_ref().to_vec();
        let ep = endpoint("www.example.test");
        let name = ServerName::try_from("www.example.test").expect("name");
        let roots = ca_roots();
        let now = datetime!(2027-02-01 00:00 UTC);
        let mut inputs: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                inputs.push(bad);
            }
        }
        inputs.push(b"\x30\x84\xff\xff\xff\xff".to_vec());
        for (i, input) in inputs.into_iter().enumerate() {
            let r = evaluate(&ep, &name, &[CertificateDer::from(input)], &roots, now);
            assert_ne!(r.severity, Severity::Ok, "mutation {i} judged ok");
        }
        let empty = evaluate(&ep, &name, &[], &roots, now);
        assert_eq!(empty.severity, Severity::Unknown);
    }

    #[test]
    fn ca_files_must_hold_certificates() {
        assert!(anchors_from_pem(b"").is_err_and(|e| e == "no certificate in it"));
        assert!(
            anchors_from_pem(
                b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
            )
            .is_err()
        );
        assert_eq!(ca_roots().map(|t| t.anchors.len()), Ok(1));
    }

    #[test]
    fn json_has_the_documented_fields() {
        let r = judge(LEAF, "www.example.test", datetime!(2027-03-30 12:00 +02:00));
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["endpoint"], "https");
        assert_eq!(json["not_after"], "2027-04-01T00:00:00Z");
        assert_eq!(json["checked_at"], "2027-03-30T10:00:00Z");
        assert_eq!(json["days_left"], 1);
        assert_eq!(json["severity"], "critical");
        assert_eq!(json["chain_valid"], true);
        assert_eq!(
            json["error"],
            "1d 14h left, under the critical threshold of 7 days"
        );
        let unreachable = CertReport::unreachable(
            &endpoint("x.test"),
            datetime!(2027-01-01 0:00 UTC),
            "refused",
        );
        let json = serde_json::to_value(&unreachable).expect("json");
        assert_eq!(
            (json["not_after"].is_null(), json["days_left"].is_null()),
            (true, true)
        );
        assert_eq!(
            (&json["severity"], &json["error"]),
            (&"unknown".into(), &"refused".into())
        );
    }

    // ---- STARTTLS, against a scripted server on an in-memory pipe ----

    /// Runs `starttls` against a server that answers each client line with the next
    /// scripted reply (the first reply is sent unprompted); returns the result and
    /// what the client sent.
    async fn scripted(kind: StartTls, replies: &[&str]) -> (Result<(), String>, String) {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let replies: Vec<String> = replies.iter().map(|r| r.to_string()).collect();
        let server = tokio::spawn(async move {
            let mut server = BufReader::new(server);
            let mut heard = String::new();
            for (i, reply) in replies.iter().enumerate() {
                if i > 0 {
                    let mut line = String::new();
                    if server.read_line(&mut line).await.unwrap_or(0) == 0 {
                        break;
                    }
                    heard.push_str(&line);
                }
                if server.get_mut().write_all(reply.as_bytes()).await.is_err() {
                    break;
                }
            }
            heard
        });
        let result = tokio::time::timeout(Duration::from_secs(5), starttls(kind, client))
            .await
            .expect("starttls hung")
            .map(|_| ());
        let heard = server.await.expect("server task");
        (result, heard)
    }

    #[tokio::test]
    async fn smtp_starttls_speaks_rfc_3207() {
        let (result, heard) = scripted(
            StartTls::Smtp,
            &[
                "220-mail.example.test ESMTP\r\n220 welcome\r\n",
                "250-mail.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
                "220 2.0.0 Ready to start TLS\r\n",
            ],
        )
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(heard, "EHLO fleetdeck.invalid\r\nSTARTTLS\r\n");
    }

    #[tokio::test]
    async fn smtp_starttls_refusals_say_why() {
        let (result, _) = scripted(
            StartTls::Smtp,
            &[
                "220 hi\r\n",
                "250-mail\r\n250 PIPELINING\r\n",
                "454 4.7.0 TLS not available\r\n",
            ],
        )
        .await;
        assert_eq!(
            result,
            Err("STARTTLS refused: 454 4.7.0 TLS not available (not advertised in EHLO)".into())
        );
        let (result, _) = scripted(StartTls::Smtp, &["554 go away\r\n"]).await;
        assert_eq!(result, Err("unexpected greeting: 554 go away".into()));
        let (result, _) = scripted(StartTls::Smtp, &["SSH-2.0-OpenSSH_9.2\r\n"]).await;
        assert!(result.is_err_and(|e| e.starts_with("not an SMTP reply")));
        // Remote text is sanitized before it reaches a message.
        let (result, _) = scripted(StartTls::Smtp, &["554 \u{1b}]0;owned\u{7}bye\r\n"]).await;
        assert_eq!(result, Err("unexpected greeting: 554 bye".into()));
    }

    #[tokio::test]
    async fn data_pipelined_after_starttls_is_refused() {
        let (result, _) = scripted(
            StartTls::Smtp,
            &[
                "220 hi\r\n",
                "250 STARTTLS\r\n",
                "220 go ahead\r\n250 injected\r\n",
            ],
        )
        .await;
        assert!(result.is_err_and(|e| e.contains("sent data right after accepting STARTTLS")));
    }

    #[tokio::test]
    async fn imap_starttls_speaks_rfc_3501() {
        let (result, heard) = scripted(
            StartTls::Imap,
            &[
                "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
                "* CAPABILITY IMAP4rev1\r\na001 OK Begin TLS\r\n",
            ],
        )
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(heard, "a001 STARTTLS\r\n");
        let (result, _) =
            scripted(StartTls::Imap, &["* OK ready\r\n", "a001 NO not now\r\n"]).await;
        assert_eq!(result, Err("STARTTLS refused: a001 NO not now".into()));
        let (result, _) = scripted(StartTls::Imap, &["* PREAUTH logged in\r\n"]).await;
        assert!(result.is_err_and(|e| e.contains("pre-authenticated")));
    }

    #[tokio::test]
    async fn endless_lines_and_closed_connections_end_the_exchange() {
        let long = "2".repeat(MAX_LINE * 3);
        let (result, _) = scripted(StartTls::Smtp, &[&long]).await;
        assert_eq!(result, Err(format!("a line longer than {MAX_LINE} bytes")));
        let (result, _) = scripted(StartTls::Imap, &[]).await;
        assert_eq!(result, Err("the server closed the connection".into()));
    }

    #[tokio::test]
    async fn a_silent_server_times_out_as_unknown() {
        let (client, _server) = tokio::io::duplex(1024);
        let mut ep = endpoint("www.example.test");
        let now = datetime!(2027-02-01 00:00 UTC);
        let r = probe_with_timeout(&ep, client, now, Duration::from_millis(200)).await;
        assert_eq!(r.severity, Severity::Unknown);
        assert_eq!(
            r.error.as_deref(),
            Some("TLS handshake: timed out after 200ms")
        );

        ep.starttls = Some(StartTls::Imap);
        let (client, _server) = tokio::io::duplex(1024);
        let r = probe_with_timeout(&ep, client, now, Duration::from_millis(200)).await;
        assert_eq!(
            r.error.as_deref(),
            Some("STARTTLS (imap): timed out after 200ms")
        );
    }

    #[tokio::test]
    async fn a_non_tls_peer_is_unknown_with_the_error() {
        let (client, mut server) = tokio::io::duplex(4096);
        tokio::spawn(async move {
            let _ = server.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            let _ = server.shutdown().await;
        });
        let r = probe(
            &endpoint("www.example.test"),
            client,
            datetime!(2027-02-01 00:00 UTC),
        )
        .await;
        assert_eq!(r.severity, Severity::Unknown);
        assert!(r.error.unwrap_or_default().starts_with("TLS handshake: "));
    }

    #[test]
    fn an_invalid_server_name_is_reported() {
        let ep = endpoint("not a name");
        let r = futures_util::FutureExt::now_or_never(probe(
            &ep,
            tokio::io::empty(),
            datetime!(2027-01-01 0:00 UTC),
        ));
        let r = r.expect("returns without I/O");
        assert_eq!(r.severity, Severity::Unknown);
        assert_eq!(
            r.error.as_deref(),
            Some("\"not a name\" is not a valid DNS name or IP address")
        );
    }
}
