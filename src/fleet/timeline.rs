//! The fleet timeline's entries: what a host's changes (as `HostState::apply` reports
//! them) look like as lines of history, for the console's timeline, the persistent
//! history and reports.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::model::{HostChange, condition_word};
use crate::docker::past::{PastAction, PastEvent};
use crate::probes::Severity;

/// One entry of the fleet timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub at: OffsetDateTime,
    pub host: String,
    pub severity: Severity,
    pub kind: TimelineKind,
    pub text: String,
    /// What identifies the same happening when it is learnt twice (a Docker event
    /// seen live and again when the history is backfilled); `None` for changes fleetdeck
    /// itself computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    Connection,
    Container,
    Backup,
    Certificate,
    Firewall,
    Resources,
    Posture,
    Apps,
    Maintenance,
    /// An audited action: a deploy, rollback, canary rollout, drill, container action
    /// or maintenance change, as the audit log records it.
    Action,
}

impl TimelineKind {
    pub const ALL: [TimelineKind; 10] = [
        TimelineKind::Connection,
        TimelineKind::Container,
        TimelineKind::Backup,
        TimelineKind::Certificate,
        TimelineKind::Firewall,
        TimelineKind::Resources,
        TimelineKind::Posture,
        TimelineKind::Apps,
        TimelineKind::Maintenance,
        TimelineKind::Action,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TimelineKind::Connection => "connection",
            TimelineKind::Container => "container",
            TimelineKind::Backup => "backup",
            TimelineKind::Certificate => "certificate",
            TimelineKind::Firewall => "firewall",
            TimelineKind::Resources => "resources",
            TimelineKind::Posture => "posture",
            TimelineKind::Apps => "apps",
            TimelineKind::Maintenance => "maintenance",
            TimelineKind::Action => "action",
        }
    }

    /// The kind a label names (`container`), as `--kind` takes it.
    pub fn parse(label: &str) -> Option<TimelineKind> {
        TimelineKind::ALL.into_iter().find(|k| k.label() == label)
    }
}

/// What changed on a host, as timeline entries.
pub fn entries(host: &str, changes: Vec<HostChange>, now: OffsetDateTime) -> Vec<TimelineEntry> {
    changes
        .into_iter()
        .map(|change| {
            let (severity, kind, text) = match change {
                HostChange::Past(event) => return past_entry(host, event),
                HostChange::Connected => (
                    Severity::Ok,
                    TimelineKind::Connection,
                    "connected".to_owned(),
                ),
                HostChange::Unreachable { cause } => (
                    Severity::Critical,
                    TimelineKind::Connection,
                    format!("unreachable: {cause}"),
                ),
                HostChange::Container {
                    name,
                    state,
                    health,
                    severity,
                } => {
                    let state = match health {
                        Some(health) => format!("{state} ({health})"),
                        None => state,
                    };
                    (
                        severity,
                        TimelineKind::Container,
                        format!("{name}: {state}"),
                    )
                }
                HostChange::ContainerRemoved { name } => (
                    Severity::Ok,
                    TimelineKind::Container,
                    format!("{name}: removed"),
                ),
                HostChange::Backups(severity) => (
                    severity,
                    TimelineKind::Backup,
                    format!("backups {}", severity.as_str()),
                ),
                HostChange::Certificates(severity) => (
                    severity,
                    TimelineKind::Certificate,
                    format!("certificates {}", severity.as_str()),
                ),
                HostChange::Firewall {
                    severity,
                    differences,
                } => {
                    let text = if differences == 0 {
                        "firewall as declared".to_owned()
                    } else {
                        format!("firewall drift: {differences} difference(s)")
                    };
                    (severity, TimelineKind::Firewall, text)
                }
                HostChange::Resources(severity) => (
                    severity,
                    TimelineKind::Resources,
                    format!("resources {}", severity.as_str()),
                ),
                HostChange::FindingAppeared {
                    check,
                    container,
                    severity,
                    reason,
                } => (
                    severity,
                    TimelineKind::Posture,
                    format!(
                        "{}{check} {}: {reason}",
                        container_prefix(container),
                        severity.as_str()
                    ),
                ),
                HostChange::FindingCleared {
                    check,
                    container,
                    severity,
                } => (
                    Severity::Ok,
                    TimelineKind::Posture,
                    format!(
                        "{}{check} cleared (was {})",
                        container_prefix(container),
                        severity.as_str()
                    ),
                ),
                HostChange::App {
                    app,
                    service,
                    condition,
                    severity,
                } => (
                    severity,
                    TimelineKind::Apps,
                    format!("{}: {}", app_name(app, service), condition_word(condition)),
                ),
                HostChange::AppCleared {
                    app,
                    service,
                    condition,
                } => (
                    Severity::Ok,
                    TimelineKind::Apps,
                    format!(
                        "{}: no longer {}",
                        app_name(app, service),
                        condition_word(condition)
                    ),
                ),
                HostChange::Maintenance(Some(window)) => (
                    Severity::Ok,
                    TimelineKind::Maintenance,
                    format!(
                        "maintenance until {} by {}: {}",
                        crate::util::time::rfc3339(window.until),
                        window.by,
                        window.reason
                    ),
                ),
                HostChange::Maintenance(None) => (
                    Severity::Ok,
                    TimelineKind::Maintenance,
                    "maintenance ended".to_owned(),
                ),
            };
            TimelineEntry {
                at: now,
                host: host.to_owned(),
                severity,
                kind,
                text,
                key: None,
            }
        })
        .collect()
}

/// A container event from before the connection, at its own time and with its key.
fn past_entry(host: &str, event: PastEvent) -> TimelineEntry {
    let (severity, what) = match event.action {
        PastAction::Start => (Severity::Ok, "started".to_owned()),
        PastAction::Restart => (Severity::Ok, "restarted".to_owned()),
        PastAction::Die {
            exit_code: Some(code),
        } => {
            let severity = if code == 0 {
                Severity::Ok
            } else {
                Severity::Critical
            };
            (severity, format!("died (exit {code})"))
        }
        PastAction::Die { exit_code: None } => (Severity::Warning, "died".to_owned()),
        PastAction::Oom => (Severity::Critical, "out of memory".to_owned()),
        PastAction::Stop => (Severity::Ok, "stopped".to_owned()),
        PastAction::Pause => (Severity::Warning, "paused".to_owned()),
        PastAction::Unpause => (Severity::Ok, "unpaused".to_owned()),
        PastAction::Destroy => (Severity::Ok, "removed".to_owned()),
        PastAction::Health(status) => {
            let severity = if status == "unhealthy" {
                Severity::Warning
            } else {
                Severity::Ok
            };
            (severity, format!("health {status}"))
        }
    };
    TimelineEntry {
        at: event.at,
        host: host.to_owned(),
        severity,
        kind: TimelineKind::Container,
        text: format!("{}: {what}", event.container),
        key: Some(event.key),
    }
}

/// `web: ` for a container's finding, nothing for the host's own.
fn container_prefix(container: Option<String>) -> String {
    container.map(|c| format!("{c}: ")).unwrap_or_default()
}

/// `web` or `web/db`.
fn app_name(app: String, service: Option<String>) -> String {
    match service {
        Some(service) => format!("{app}/{service}"),
        None => app,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn past(action: PastAction, container: &str) -> HostChange {
        HostChange::Past(PastEvent {
            at: OffsetDateTime::from_unix_timestamp(1_796_326_503).unwrap(),
            container: container.to_owned(),
            action,
            key: format!("docker:1796326503000000000:0123456789ab:{container}"),
        })
    }

    fn one(change: HostChange) -> TimelineEntry {
        let now = OffsetDateTime::from_unix_timestamp(1_796_400_000).unwrap();
        let mut all = entries("client-delta", vec![change], now);
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn a_past_event_keeps_its_own_time_and_key() {
        let entry = one(past(
            PastAction::Die {
                exit_code: Some(137),
            },
            "worker",
        ));
        assert_eq!(entry.text, "worker: died (exit 137)");
        assert_eq!(entry.severity, Severity::Critical);
        assert_eq!(entry.kind, TimelineKind::Container);
        assert_eq!(entry.at.unix_timestamp(), 1_796_326_503);
        assert_eq!(
            entry.key.as_deref(),
            Some("docker:1796326503000000000:0123456789ab:worker")
        );
    }

    #[test]
    fn past_events_read_as_the_console_writes_them() {
        let cases = [
            (
                PastAction::Die { exit_code: Some(0) },
                "web: died (exit 0)",
                Severity::Ok,
            ),
            (
                PastAction::Die { exit_code: None },
                "web: died",
                Severity::Warning,
            ),
            (PastAction::Oom, "web: out of memory", Severity::Critical),
            (
                PastAction::Health("unhealthy".into()),
                "web: health unhealthy",
                Severity::Warning,
            ),
            (
                PastAction::Health("healthy".into()),
                "web: health healthy",
                Severity::Ok,
            ),
            (PastAction::Start, "web: started", Severity::Ok),
            (PastAction::Stop, "web: stopped", Severity::Ok),
            (PastAction::Destroy, "web: removed", Severity::Ok),
        ];
        for (action, text, severity) in cases {
            let entry = one(past(action, "web"));
            assert_eq!((entry.text.as_str(), entry.severity), (text, severity));
        }
    }

    #[test]
    fn a_computed_change_has_no_key_and_the_time_given() {
        let entry = one(HostChange::Connected);
        assert_eq!(entry.key, None);
        assert_eq!(entry.at.unix_timestamp(), 1_796_400_000);
    }
}
