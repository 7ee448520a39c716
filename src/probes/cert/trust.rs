//! What a chain is verified against: the certificates of a declared CA file, or the
//! system's roots loaded once per process (also the deploy gate's HTTP probes' roots).

use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};

use super::CertEndpoint;

/// What the chain is verified against; `Err` says why no roots are available (the
/// chain then cannot be judged: severity unknown unless something worse is known).
pub(super) type Roots = Result<Arc<Trust>, String>;

pub(super) struct Trust {
    pub(super) anchors: Vec<TrustAnchor<'static>>,
    /// The certificates of a declared `ca_file` as they are: a server presenting one
    /// of them exactly is trusted (a pinned self-signed certificate), which webpki
    /// alone refuses when that certificate says `CA:TRUE`, as `openssl req -x509`
    /// makes them.
    pub(super) pinned: Vec<CertificateDer<'static>>,
}

pub(super) async fn trust_roots(endpoint: &CertEndpoint) -> Roots {
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
pub(super) fn anchors_from_pem(pem: &[u8]) -> Roots {
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
