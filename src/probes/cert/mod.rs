//! TLS endpoints: certificate expiry, name match and chain validity.
//!
//! The probe (`probe.rs`: connect, STARTTLS in `starttls.rs`, the TLS handshake)
//! hands the presented chain to `evaluate.rs`, which judges it against the trust roots
//! (`trust.rs`) with the leaf's fields read in `x509.rs`; the result is a
//! [`CertReport`] (`report.rs`). This file holds the declared endpoint and the entry
//! points.

mod evaluate;
mod probe;
mod report;
mod starttls;
mod trust;
mod x509;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use probe::{
    STEP_TIMEOUT, connect_and_probe, connect_and_probe_with_timeout, probe, probe_with_timeout,
};
pub use report::{CertReport, Lifetime, round_days};
pub(crate) use trust::system_trust_anchors;

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

impl StartTls {
    pub fn as_str(self) -> &'static str {
        match self {
            StartTls::Smtp => "smtp",
            StartTls::Imap => "imap",
        }
    }
}
