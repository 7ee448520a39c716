//! The audit log's results as `action` timeline entries: one per action that ended
//! (ok, failed, refused), keyed by the action's id so that ingesting the log again
//! records nothing twice. An intent without its result (an action still running, or
//! a fleetdeck that stopped mid-way) is not an entry until its result is written.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit::{AuditRecord, AuditResult};
use crate::fleet::timeline::{TimelineEntry, TimelineKind};
use crate::probes::Severity;
use crate::sanitize;

/// Each result line of `records` as an entry; lines whose time does not parse are
/// skipped.
pub fn audit_entries(records: &[AuditRecord]) -> Vec<TimelineEntry> {
    records
        .iter()
        .filter_map(|record| {
            let (severity, outcome) = match record.result {
                AuditResult::Intent => return None,
                AuditResult::Ok => (Severity::Ok, "ok".to_owned()),
                AuditResult::Failed => (
                    Severity::Critical,
                    match &record.error {
                        Some(error) => format!("failed: {error}"),
                        None => "failed".to_owned(),
                    },
                ),
                AuditResult::Refused => (Severity::Warning, "refused (read-only)".to_owned()),
            };
            let at = OffsetDateTime::parse(&record.time, &Rfc3339).ok()?;
            let reason = record
                .reason
                .as_deref()
                .map(|r| format!(" — {r}"))
                .unwrap_or_default();
            Some(TimelineEntry {
                at,
                host: sanitize::line(&record.host),
                severity,
                kind: TimelineKind::Action,
                text: sanitize::line(&format!(
                    "{} {} by {}: {outcome}{reason}",
                    record.action, record.target, record.operator
                )),
                key: Some(format!("audit:{}", sanitize::line(&record.id))),
            })
        })
        .collect()
}
