//! The fleet as fleetdeck knows it: per host, each signal with when it was measured.
//! `status` prints one of these, `watch` prints the hosts that changed, the console
//! draws it. Field names here are the JSON contract (docs/status.md).

use serde::Serialize;
use time::OffsetDateTime;

use super::containers::{ContainerReport, ContainerUpdate};
use super::facts::{self, HostFacts};
use crate::probes::Severity;
use crate::probes::backup::BackupReport;
use crate::probes::cert::CertReport;
use crate::probes::firewall::FirewallReport;

/// One measured value: the last good value is kept when a measurement fails or the
/// host stops answering, and is then marked stale with its age — never shown as
/// current.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal<T> {
    pub value: Option<T>,
    pub measured_at: Option<OffsetDateTime>,
    /// Why the latest attempt failed (the value, if any, is from before).
    pub error: Option<String>,
}

impl<T> Default for Signal<T> {
    fn default() -> Self {
        Signal {
            value: None,
            measured_at: None,
            error: None,
        }
    }
}

impl<T> Signal<T> {
    pub fn set(&mut self, value: T, at: OffsetDateTime) {
        self.value = Some(value);
        self.measured_at = Some(at);
        self.error = None;
    }

    pub fn fail(&mut self, error: String) {
        self.error = Some(error);
    }

    /// Unknown when the signal is expected but has no current measurement.
    fn gap(&self, expected: bool) -> Option<Severity> {
        (expected && (self.measured_at.is_none() || self.error.is_some()))
            .then_some(Severity::Unknown)
    }
}

/// What is known about one host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostState {
    pub name: String,
    pub groups: Vec<String>,
    /// `None` until the first connection attempt ends.
    pub reachable: Option<bool>,
    /// Why the host is unreachable (or the last connection failed).
    pub error: Option<String>,
    /// When the host last answered.
    pub last_contact: Option<OffsetDateTime>,
    pub containers: Signal<Vec<ContainerReport>>,
    pub backups: Signal<Vec<BackupReport>>,
    pub certs: Signal<Vec<CertReport>>,
    pub firewall: Signal<FirewallReport>,
    /// The round trip of Docker's `/_ping` over the host's session.
    pub rtt: Signal<std::time::Duration>,
    /// What the host is (OS, kernel, Docker, CPUs, memory), read once per connection.
    pub facts: Signal<HostFacts>,
    /// The last successful restore drill per declared app, read from the local drill
    /// history (docs/drills.md). Its own severity (warning past the threshold) is
    /// shown with it and does not raise the host's: an overdue drill is hygiene, not
    /// an incident.
    pub last_drill: Signal<crate::probes::drill::LastDrill>,
    /// Whether these signals were asked for (a host without declared backups has none).
    pub expects: Expectations,
}

/// Which signals the inventory declares for the host; a declared signal never
/// measured is unknown, an undeclared one is simply absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expectations {
    pub backups: bool,
    pub certs: bool,
    pub firewall: bool,
}

impl HostState {
    pub fn new(name: &str, groups: Vec<String>, expects: Expectations) -> Self {
        HostState {
            name: name.to_owned(),
            groups,
            expects,
            ..HostState::default()
        }
    }

    /// Applies a container watcher update.
    pub fn apply_containers(&mut self, update: ContainerUpdate) {
        match update {
            ContainerUpdate::All(all, at) => self.containers.set(all, at),
            ContainerUpdate::Changed(report, at) => {
                let list = self.containers.value.get_or_insert_with(Vec::new);
                match list.iter_mut().find(|c| c.id == report.id) {
                    Some(existing) => *existing = *report,
                    None => {
                        list.push(*report);
                        list.sort_by(super::containers::listing_order);
                    }
                }
                self.containers.measured_at = Some(at);
                self.containers.error = None;
            }
            ContainerUpdate::Gone { id, at } => {
                if let Some(list) = self.containers.value.as_mut() {
                    list.retain(|c| c.id != id);
                }
                self.containers.measured_at = Some(at);
            }
            ContainerUpdate::Failed(error, _) => self.containers.fail(error),
        }
    }

    /// The host's severity: critical when unreachable; otherwise the worst signal, and
    /// unknown for a declared signal that could not be measured.
    pub fn severity(&self) -> Severity {
        match self.reachable {
            Some(false) => return Severity::Critical,
            None => return Severity::Unknown,
            Some(true) => {}
        }
        let measured = self
            .containers
            .value
            .iter()
            .flatten()
            .map(|c| c.severity)
            .chain(self.backups.value.iter().flatten().map(|b| b.severity))
            .chain(self.certs.value.iter().flatten().map(|c| c.severity))
            .chain(self.firewall.value.iter().map(|f| f.severity));
        let gaps = [
            self.containers.gap(true),
            self.backups.gap(self.expects.backups),
            self.certs.gap(self.expects.certs),
            self.firewall.gap(self.expects.firewall),
        ];
        Severity::worst(measured.chain(gaps.into_iter().flatten()))
    }

    /// The JSON shape of docs/status.md, with ages computed at `now`.
    pub fn to_json(&self, now: OffsetDateTime) -> HostJson<'_> {
        let stale = self.reachable == Some(false);
        // Only a current measurement is a round-trip time; the last one of a host that
        // went away says nothing about it now.
        let rtt_ms = match (self.reachable, &self.rtt.error) {
            (Some(true), None) => self.rtt.value.map(facts::rtt_ms),
            _ => None,
        };
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
            signals: SignalsJson {
                containers: SignalJson::of(&self.containers, now, stale),
                backups: SignalJson::of(&self.backups, now, stale),
                certs: SignalJson::of(&self.certs, now, false),
                firewall: SignalJson::of(&self.firewall, now, stale),
                rtt: SignalJson::of(&self.rtt, now, stale),
                facts: SignalJson::of(&self.facts, now, stale),
                last_drill: SignalJson::of(&self.last_drill, now, false),
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
    pub signals: SignalsJson,
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
        SignalJson {
            measured_at: signal.measured_at.map(crate::util::time::rfc3339),
            age_seconds: signal
                .measured_at
                .map(|at| (now - at).whole_seconds().max(0)),
            stale: signal.value.is_some() && (host_unreachable || signal.error.is_some()),
            error: signal.error.clone(),
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
