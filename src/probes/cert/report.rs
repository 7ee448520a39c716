//! What one probe of one endpoint found ([`CertReport`], its JSON under
//! `certificates[]`) and how a certificate's remaining life is shown ([`Lifetime`]).

use serde::Serialize;
use time::OffsetDateTime;

use super::CertEndpoint;
use crate::probes::Severity;

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
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub checked_at: OffsetDateTime,
    /// The leaf's notAfter (RFC 3339 UTC); `None` when no certificate was seen.
    #[serde(with = "crate::util::time::serde_rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
    #[serde(with = "crate::util::time::serde_rfc3339::option")]
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
pub(super) fn days_and_hours(seconds: i64) -> String {
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

    pub(super) fn blank(endpoint: &CertEndpoint, now: OffsetDateTime) -> Self {
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
