//! Judging a presented chain, pure: the leaf's dates against the thresholds, the chain
//! against the trust roots (webpki, as a rustls client would), the name against the
//! certificate's SANs; the worst finding is the severity.

use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use time::OffsetDateTime;

use super::report::days_and_hours;
use super::trust::Roots;
use super::x509::Leaf;
use super::{CertEndpoint, CertReport};
use crate::probes::Severity;
use crate::util::time::rfc3339;

/// Judges a presented chain (leaf first) as of `now`. Pure: no I/O.
///
/// The leaf's fields are read with x509-cert, acceptance is decided by webpki (as a
/// rustls client would): a leaf that webpki takes but x509-cert cannot read leaves the
/// dates unknown (severity unknown), never a false critical.
pub(super) fn evaluate(
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
                problems.push(format!("expired {}", rfc3339(leaf.not_after)));
            } else if now < leaf.not_before {
                severity = Severity::Critical;
                problems.push(format!("not valid before {}", rfc3339(leaf.not_before)));
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
