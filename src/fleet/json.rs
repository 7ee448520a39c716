//! A host as JSON (docs/status.md is the contract): what `status --json` prints per
//! host, `watch` prints per change, and reports embed, with ages computed at a given
//! time.

use serde::Serialize;
use time::OffsetDateTime;

use super::apps::AppsReport;
use super::facts::{self, HostFacts};
use super::model::{HostState, Signal};
use crate::fleet::containers::ContainerReport;
use crate::probes::Severity;
use crate::probes::backup::BackupReport;
use crate::probes::cert::CertReport;
use crate::probes::firewall::FirewallReport;
use crate::probes::host::ResourcesReport;
use crate::probes::maintenance::Maintenance;
use crate::probes::posture::PostureReport;

impl HostState {
    /// The JSON shape of docs/status.md, with ages computed at `now`.
    pub fn to_json(&self, now: OffsetDateTime) -> HostJson<'_> {
        let stale = self.reachable == Some(false);
        // Only a current measurement is a round-trip time; the last one of a host that
        // went away says nothing about it now.
        let rtt_ms = match (self.reachable, &self.rtt.error) {
            (Some(true), None) => self.rtt.value.map(facts::rtt_ms),
            _ => None,
        };
        let posture = self.posture();
        let posture_at = self.posture_measured_at();
        let posture_signal = SignalJson::derived(
            posture_at,
            posture.is_some(),
            self.host_posture
                .error
                .clone()
                .or_else(|| self.containers.error.clone()),
            now,
            stale,
        );
        let apps = self.apps();
        let apps_at = apps.as_ref().and(self.containers.measured_at);
        let apps_signal = SignalJson::derived(
            apps_at,
            apps.is_some(),
            apps.as_ref().and(self.containers.error.clone()),
            now,
            stale,
        );
        HostJson {
            name: &self.name,
            groups: &self.groups,
            reachable: self.reachable.unwrap_or(false),
            error: self.error.as_deref(),
            severity: self.severity(),
            last_contact: self.last_contact.map(crate::util::time::rfc3339),
            rtt_ms,
            facts: self.facts.value.as_ref(),
            containers: self.containers.value.as_deref().unwrap_or_default(),
            backups: self.backups.value.as_deref().unwrap_or_default(),
            certs: self.certs.value.as_deref().unwrap_or_default(),
            firewall: self.firewall.value.as_ref(),
            last_drill: self
                .last_drill
                .value
                .as_ref()
                .filter(|d| !d.apps.is_empty())
                .map(|d| d.to_json(now)),
            resources: self.resources.value.as_ref().map(|report| Measured {
                measured_at: self.resources.measured_at.map(crate::util::time::rfc3339),
                report,
            }),
            posture: posture.map(|report| Measured {
                measured_at: posture_at.map(crate::util::time::rfc3339),
                report,
            }),
            apps: apps.map(|report| Measured {
                measured_at: apps_at.map(crate::util::time::rfc3339),
                report,
            }),
            maintenance: self.in_maintenance(now),
            silenced: self.in_maintenance(now).is_some(),
            signals: SignalsJson {
                containers: SignalJson::of(&self.containers, now, stale),
                backups: SignalJson::of(&self.backups, now, stale),
                certs: SignalJson::of(&self.certs, now, false),
                firewall: SignalJson::of(&self.firewall, now, stale),
                rtt: SignalJson::of(&self.rtt, now, stale),
                facts: SignalJson::of(&self.facts, now, stale),
                last_drill: SignalJson::of(&self.last_drill, now, false),
                resources: SignalJson::of(&self.resources, now, stale),
                posture: posture_signal,
                apps: apps_signal,
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HostJson<'a> {
    pub name: &'a str,
    pub groups: &'a [String],
    pub reachable: bool,
    pub error: Option<&'a str>,
    pub severity: Severity,
    pub last_contact: Option<String>,
    /// Round trip of Docker's `/_ping` over the session, in milliseconds (0.1 ms
    /// resolution); `null` unless the host is up and the latest ping answered.
    pub rtt_ms: Option<f64>,
    /// From Docker's `/info` when the session was made.
    pub facts: Option<&'a HostFacts>,
    pub containers: &'a [ContainerReport],
    pub backups: &'a [BackupReport],
    pub certs: &'a [CertReport],
    pub firewall: Option<&'a FirewallReport>,
    /// The last successful restore drill (docs/status.md); null when the host declares
    /// no drill and has no drill history.
    pub last_drill: Option<crate::probes::drill::history::LastDrillJson>,
    /// Filesystems, memory, load, reboot and updates (docs/status.md); null when the
    /// host round is not made (the local engine) or has not answered yet.
    pub resources: Option<Measured<&'a ResourcesReport>>,
    /// The host's and its containers' findings, exceptions applied; null before either
    /// was measured.
    pub posture: Option<Measured<PostureReport>>,
    /// `fleetdeck_apps` against what runs; null without declared apps.
    pub apps: Option<Measured<AppsReport>>,
    /// The maintenance window open now (docs/maintenance.md); null when none.
    pub maintenance: Option<&'a Maintenance>,
    /// The host is in maintenance: its problems are listed but left out of the exit
    /// code and of notifications.
    pub silenced: bool,
    pub signals: SignalsJson,
}

/// A signal's report with when it was measured (RFC 3339) beside its own fields.
#[derive(Debug, Serialize)]
pub struct Measured<T> {
    pub measured_at: Option<String>,
    #[serde(flatten)]
    pub report: T,
}

#[derive(Debug, Serialize)]
pub struct SignalsJson {
    pub containers: SignalJson,
    pub backups: SignalJson,
    pub certs: SignalJson,
    pub firewall: SignalJson,
    pub rtt: SignalJson,
    pub facts: SignalJson,
    pub last_drill: SignalJson,
    pub resources: SignalJson,
    pub posture: SignalJson,
    pub apps: SignalJson,
}

/// When a signal was measured and whether it is current.
#[derive(Debug, Serialize)]
pub struct SignalJson {
    pub measured_at: Option<String>,
    pub age_seconds: Option<i64>,
    /// The value is the last one measured before the host (or the probe) stopped
    /// answering.
    pub stale: bool,
    pub error: Option<String>,
}

impl SignalJson {
    fn of<T>(signal: &Signal<T>, now: OffsetDateTime, host_unreachable: bool) -> SignalJson {
        SignalJson::derived(
            signal.measured_at,
            signal.value.is_some(),
            signal.error.clone(),
            now,
            host_unreachable,
        )
    }

    /// For a signal made of others (posture, apps): when, whether it has a value, and
    /// why its latest measurement failed.
    fn derived(
        measured_at: Option<OffsetDateTime>,
        has_value: bool,
        error: Option<String>,
        now: OffsetDateTime,
        host_unreachable: bool,
    ) -> SignalJson {
        SignalJson {
            measured_at: measured_at.map(crate::util::time::rfc3339),
            age_seconds: measured_at.map(|at| (now - at).whole_seconds().max(0)),
            stale: has_value && (host_unreachable || error.is_some()),
            error,
        }
    }
}

/// `fleetdeck status --json`.
#[derive(Debug, Serialize)]
pub struct FleetJson<'a> {
    pub generated_at: String,
    pub severity: Severity,
    pub hosts: Vec<HostJson<'a>>,
}

pub fn fleet_json(hosts: &[HostState], now: OffsetDateTime) -> FleetJson<'_> {
    FleetJson {
        generated_at: crate::util::time::rfc3339(now),
        severity: Severity::worst(hosts.iter().map(HostState::severity)),
        hosts: hosts.iter().map(|h| h.to_json(now)).collect(),
    }
}
