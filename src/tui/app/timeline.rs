//! The fleet timeline: its entries, their filters, and the entries a host's changes
//! make.

use crate::fleet::model::HostState;
use crate::probes::Severity;
use std::collections::VecDeque;
use time::OffsetDateTime;

/// One entry of the fleet timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: OffsetDateTime,
    pub host: String,
    pub severity: Severity,
    pub kind: TimelineKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineKind {
    Connection,
    Container,
    Backup,
    Certificate,
    Firewall,
}

impl TimelineKind {
    pub const ALL: [TimelineKind; 5] = [
        TimelineKind::Connection,
        TimelineKind::Container,
        TimelineKind::Backup,
        TimelineKind::Certificate,
        TimelineKind::Firewall,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TimelineKind::Connection => "connection",
            TimelineKind::Container => "container",
            TimelineKind::Backup => "backup",
            TimelineKind::Certificate => "certificate",
            TimelineKind::Firewall => "firewall",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct TimelineState {
    pub entries: VecDeque<TimelineEntry>,
    pub selected: usize,
    pub host: Option<String>,
    pub min_severity: Option<Severity>,
    pub kind: Option<TimelineKind>,
}

impl TimelineState {
    /// Newest first, filtered.
    pub fn visible(&self) -> Vec<&TimelineEntry> {
        self.entries
            .iter()
            .rev()
            .filter(|e| self.host.as_ref().is_none_or(|h| &e.host == h))
            .filter(|e| self.min_severity.is_none_or(|s| e.severity >= s))
            .filter(|e| self.kind.is_none_or(|k| e.kind == k))
            .collect()
    }
}

/// What changed on a host, as timeline entries.
pub fn changes(before: &HostState, after: &HostState, now: OffsetDateTime) -> Vec<TimelineEntry> {
    let mut out = Vec::new();
    let entry = |severity, kind, text: String| TimelineEntry {
        at: now,
        host: after.name.clone(),
        severity,
        kind,
        text,
    };
    if before.reachable != after.reachable {
        match after.reachable {
            Some(true) => out.push(entry(
                Severity::Ok,
                TimelineKind::Connection,
                "connected".to_owned(),
            )),
            Some(false) => out.push(entry(
                Severity::Critical,
                TimelineKind::Connection,
                format!(
                    "unreachable: {}",
                    after.error.as_deref().unwrap_or("no answer")
                ),
            )),
            None => {}
        }
    }
    if let Some(new) = &after.containers.value {
        let old = before.containers.value.as_deref().unwrap_or_default();
        let first_listing = before.containers.value.is_none();
        for container in new {
            let previous = old.iter().find(|c| c.id == container.id);
            let changed = match previous {
                None => !first_listing,
                Some(p) => p.state != container.state || p.health != container.health,
            };
            if changed {
                let state = match &container.health {
                    Some(health) => format!("{} ({health})", container.state),
                    None => container.state.clone(),
                };
                out.push(entry(
                    container.severity,
                    TimelineKind::Container,
                    format!("{}: {state}", container.name),
                ));
            }
        }
        for gone in old.iter().filter(|c| !new.iter().any(|n| n.id == c.id)) {
            out.push(entry(
                Severity::Ok,
                TimelineKind::Container,
                format!("{}: removed", gone.name),
            ));
        }
    }
    let b_before = worst_of(before.backups.value.as_ref(), |b| b.severity);
    let b_after = worst_of(after.backups.value.as_ref(), |b| b.severity);
    if let Some(severity) = b_after.filter(|_| b_before != b_after) {
        out.push(entry(
            severity,
            TimelineKind::Backup,
            format!("backups {}", severity.as_str()),
        ));
    }
    let c_before = worst_of(before.certs.value.as_ref(), |c| c.severity);
    let c_after = worst_of(after.certs.value.as_ref(), |c| c.severity);
    if let Some(severity) = c_after.filter(|_| c_before != c_after) {
        out.push(entry(
            severity,
            TimelineKind::Certificate,
            format!("certificates {}", severity.as_str()),
        ));
    }
    let drift = |h: &HostState| {
        h.firewall
            .value
            .as_ref()
            .map(|f| (f.severity, f.drift.len()))
    };
    if let (Some((severity, count)), true) = (drift(after), drift(before) != drift(after)) {
        let text = if count == 0 {
            "firewall as declared".to_owned()
        } else {
            format!("firewall drift: {count} difference(s)")
        };
        out.push(entry(severity, TimelineKind::Firewall, text));
    }
    out
}

fn worst_of<T>(list: Option<&Vec<T>>, severity: impl Fn(&T) -> Severity) -> Option<Severity> {
    list.map(|l| Severity::worst(l.iter().map(&severity)))
}
