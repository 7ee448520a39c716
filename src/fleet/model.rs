//! The fleet as fleetdeck knows it: per host, each signal with when it was measured.
//! `status` prints one of these, `watch` prints the hosts that changed, the console
//! draws it. Field names here are the JSON contract (docs/status.md). The host
//! actors' reports ([`HostEvent`]) are applied here by [`HostState::apply`], which
//! says what changed ([`HostChange`]) for the console's timeline.

use serde::Serialize;
use time::OffsetDateTime;

use super::containers::{ContainerReport, ContainerUpdate};
use super::facts::{self, HostFacts};
use crate::probes::Severity;
use crate::probes::backup::BackupReport;
use crate::probes::cert::CertReport;
use crate::probes::firewall::FirewallReport;
use crate::probes::host::{HostReport, ResourcesReport};
use crate::probes::posture::{Finding, PosturePolicy};

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
    /// Filesystems, memory, load, reboot and updates, from the host round.
    pub resources: Signal<ResourcesReport>,
    /// The host's own posture findings (sshd, fail2ban, unattended upgrades), from the
    /// host round; the containers' findings are on each container.
    pub host_posture: Signal<Vec<Finding>>,
    /// `fleetdeck_posture`: thresholds and accepted exceptions.
    pub posture_policy: std::sync::Arc<PosturePolicy>,
    /// What a deploy would run now, per declared app; `None` until computed (and for
    /// the local engine, which has no inventory).
    pub expected_apps: Option<std::sync::Arc<super::apps::ExpectedApps>>,
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
    /// The host round (resources and host posture): every inventory host.
    pub host_round: bool,
}

/// What a host actor reports.
#[derive(Debug, Clone)]
pub enum HostEvent {
    Up {
        at: OffsetDateTime,
    },
    Down {
        cause: String,
    },
    Containers(ContainerUpdate),
    Backups(Vec<BackupReport>, OffsetDateTime),
    Firewall(Box<FirewallReport>, OffsetDateTime),
    Certs(Vec<CertReport>, OffsetDateTime),
    /// A `/_ping` round trip over the session, or why it failed (sanitized).
    Rtt(Result<std::time::Duration, String>, OffsetDateTime),
    /// The host's facts, read once per connection, or why they could not be.
    Facts(Result<Box<HostFacts>, String>, OffsetDateTime),
    /// The last successful restore drills, from the local drill history.
    LastDrill(Box<crate::probes::drill::LastDrill>, OffsetDateTime),
    /// One host round: resources and the host's own posture.
    Host(Box<HostReport>, OffsetDateTime),
}

/// What applying one event changed, in the terms the console's timeline shows
/// ([`HostState::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostChange {
    /// The host answers (again).
    Connected,
    /// The host stopped answering, and why.
    Unreachable {
        cause: String,
    },
    /// A container appeared or changed its state or health.
    Container {
        name: String,
        state: String,
        health: Option<String>,
        severity: Severity,
    },
    ContainerRemoved {
        name: String,
    },
    /// The worst backup severity is now this.
    Backups(Severity),
    /// The worst certificate severity is now this.
    Certificates(Severity),
    /// The firewall's severity or its number of differences from the declaration.
    Firewall {
        severity: Severity,
        differences: usize,
    },
}

impl HostChange {
    fn container(report: &ContainerReport) -> HostChange {
        HostChange::Container {
            name: report.name.clone(),
            state: report.state.clone(),
            health: report.health.clone(),
            severity: report.severity,
        }
    }
}

/// Whether a container's state and health are as before (the rest is detail).
fn same_condition(before: &ContainerReport, after: &ContainerReport) -> bool {
    before.state == after.state && before.health == after.health
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

    /// Applies one report of the host's actor and says what changed that the console's
    /// timeline shows: connection, container state and health, and the worst severity
    /// of backups, certificates and firewall. Round trips, facts and drills change
    /// quietly.
    pub fn apply(&mut self, event: HostEvent) -> Vec<HostChange> {
        let mut changes = Vec::new();
        match event {
            HostEvent::Up { at } => {
                if self.reachable != Some(true) {
                    changes.push(HostChange::Connected);
                }
                self.reachable = Some(true);
                self.error = None;
                self.last_contact = Some(at);
            }
            HostEvent::Down { cause } => {
                if self.reachable != Some(false) {
                    changes.push(HostChange::Unreachable {
                        cause: cause.clone(),
                    });
                }
                self.reachable = Some(false);
                self.error = Some(cause);
            }
            HostEvent::Containers(update) => changes = self.apply_containers(update),
            HostEvent::Backups(reports, at) => {
                let worst =
                    |list: &Vec<BackupReport>| Severity::worst(list.iter().map(|b| b.severity));
                let now = worst(&reports);
                if self.backups.value.as_ref().map(worst) != Some(now) {
                    changes.push(HostChange::Backups(now));
                }
                self.backups.set(reports, at);
            }
            HostEvent::Firewall(report, at) => {
                let drift = |f: &FirewallReport| (f.severity, f.drift.len());
                let now = drift(&report);
                if self.firewall.value.as_ref().map(drift) != Some(now) {
                    changes.push(HostChange::Firewall {
                        severity: now.0,
                        differences: now.1,
                    });
                }
                self.firewall.set(*report, at);
            }
            HostEvent::Certs(reports, at) => {
                let worst =
                    |list: &Vec<CertReport>| Severity::worst(list.iter().map(|c| c.severity));
                let now = worst(&reports);
                if self.certs.value.as_ref().map(worst) != Some(now) {
                    changes.push(HostChange::Certificates(now));
                }
                self.certs.set(reports, at);
            }
            HostEvent::Rtt(Ok(rtt), at) => self.rtt.set(rtt, at),
            HostEvent::Rtt(Err(error), _) => self.rtt.fail(error),
            HostEvent::Facts(Ok(facts), at) => self.facts.set(*facts, at),
            HostEvent::Facts(Err(error), _) => self.facts.fail(error),
            HostEvent::LastDrill(drill, at) => self.last_drill.set(*drill, at),
            HostEvent::Host(report, at) => {
                let report = *report;
                self.resources.set(report.resources, at);
                match report.posture_error {
                    Some(error) => self.host_posture.fail(error),
                    None => self.host_posture.set(report.posture, at),
                }
            }
        }
        changes
    }

    /// Applies a container watcher update; the containers that appeared (not on the
    /// first listing, which is no news), changed state or health, or were removed.
    pub fn apply_containers(&mut self, update: ContainerUpdate) -> Vec<HostChange> {
        let mut changes = Vec::new();
        match update {
            ContainerUpdate::All(all, at) => {
                if let Some(old) = &self.containers.value {
                    for container in &all {
                        let previous = old.iter().find(|c| c.id == container.id);
                        if previous.is_none_or(|p| !same_condition(p, container)) {
                            changes.push(HostChange::container(container));
                        }
                    }
                    for gone in old.iter().filter(|c| !all.iter().any(|n| n.id == c.id)) {
                        changes.push(HostChange::ContainerRemoved {
                            name: gone.name.clone(),
                        });
                    }
                }
                self.containers.set(all, at);
            }
            ContainerUpdate::Changed(report, at) => {
                let first_listing = self.containers.value.is_none();
                let list = self.containers.value.get_or_insert_with(Vec::new);
                match list.iter_mut().find(|c| c.id == report.id) {
                    Some(existing) => {
                        if !same_condition(existing, &report) {
                            changes.push(HostChange::container(&report));
                        }
                        *existing = *report;
                    }
                    None => {
                        if !first_listing {
                            changes.push(HostChange::container(&report));
                        }
                        list.push(*report);
                        list.sort_by(super::containers::listing_order);
                    }
                }
                self.containers.measured_at = Some(at);
                self.containers.error = None;
            }
            ContainerUpdate::Gone { id, at } => {
                if let Some(list) = self.containers.value.as_mut() {
                    for gone in list.iter().filter(|c| c.id == id) {
                        changes.push(HostChange::ContainerRemoved {
                            name: gone.name.clone(),
                        });
                    }
                    list.retain(|c| c.id != id);
                }
                self.containers.measured_at = Some(at);
            }
            ContainerUpdate::Failed(error, _) => self.containers.fail(error),
        }
        changes
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::containers::Pinning;
    use crate::probes::backup::{BackupKind, BackupRepo, BackupState};
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2027-01-01 10:00 UTC);

    /// The reducer keeps the last backups and firewall when the host goes down (the
    /// probes send nothing for a round the link dropped under): the values survive,
    /// marked stale with their age, and only the host's own error says why.
    #[test]
    fn a_disconnect_keeps_the_last_values_and_marks_them_stale() {
        let repo = BackupRepo {
            name: "app-data".into(),
            kind: BackupKind::Restic,
            repository: "/srv/backup/repo".into(),
            password_file: None,
            paths: vec![],
            warning_hours: 26,
            critical_hours: 48,
        };
        let measured = datetime!(2027-01-01 10:00 UTC);
        let mut host = HostState::new(
            "web1",
            vec![],
            Expectations {
                backups: true,
                certs: false,
                firewall: true,
                host_round: true,
            },
        );
        host.apply(HostEvent::Up { at: measured });
        let backup = BackupReport::failed(&repo, BackupState::NoSnapshots, "none yet");
        host.apply(HostEvent::Backups(vec![backup.clone()], measured));
        host.apply(HostEvent::Firewall(
            Box::new(FirewallReport::failed("nft: permission denied")),
            measured,
        ));
        host.apply(HostEvent::Down {
            cause: "keepalive timeout".into(),
        });
        let json = serde_json::to_value(host.to_json(measured + time::Duration::minutes(3)))
            .expect("json");
        assert_eq!(json["reachable"], false);
        assert_eq!(json["backups"][0]["state"], "no_snapshots", "{json}");
        assert_eq!(
            json["firewall"]["error"], "nft: permission denied",
            "{json}"
        );
        for signal in ["backups", "firewall"] {
            let s = &json["signals"][signal];
            assert_eq!(
                (&s["stale"], &s["age_seconds"]),
                (&true.into(), &180.into()),
                "{s}"
            );
            assert!(s["error"].is_null(), "{s}");
        }
    }

    fn container(id: &str, name: &str, state: &str, health: Option<&str>) -> ContainerReport {
        ContainerReport {
            name: name.into(),
            id: id.into(),
            state: state.into(),
            health: health.map(str::to_owned),
            health_output: None,
            restart_count: 0,
            exit_code: None,
            oom_killed: false,
            started_at: None,
            uptime_seconds: None,
            image: "nginx:1.25".into(),
            image_pinned: Pinning::Tag,
            severity: if health == Some("unhealthy") {
                Severity::Critical
            } else {
                Severity::Ok
            },
            problem: None,
            app: None,
            service: None,
            config_hash: None,
            findings: Vec::new(),
            published: Vec::new(),
        }
    }

    fn containers(update: ContainerUpdate) -> HostEvent {
        HostEvent::Containers(update)
    }

    #[test]
    fn connecting_and_dropping_are_changes_only_when_the_state_flips() {
        let mut host = HostState::new("web1", vec![], Expectations::default());
        assert_eq!(
            host.apply(HostEvent::Up { at: AT }),
            [HostChange::Connected]
        );
        assert_eq!(host.apply(HostEvent::Up { at: AT }), []);
        let down = || HostEvent::Down {
            cause: "keepalive timeout".into(),
        };
        assert_eq!(
            host.apply(down()),
            [HostChange::Unreachable {
                cause: "keepalive timeout".into()
            }]
        );
        assert_eq!(host.apply(down()), []);
        assert_eq!(
            host.apply(HostEvent::Up { at: AT }),
            [HostChange::Connected]
        );
        // Round trips, facts and drills change nothing the timeline shows.
        assert_eq!(
            host.apply(HostEvent::Rtt(Ok(std::time::Duration::from_millis(3)), AT)),
            []
        );
        assert_eq!(host.apply(HostEvent::Rtt(Err("timeout".into()), AT)), []);
    }

    #[test]
    fn the_first_listing_is_no_news_and_later_ones_say_what_changed() {
        let mut host = HostState::new("web1", vec![], Expectations::default());
        let web = container("aaa", "web", "running", Some("healthy"));
        let db = container("bbb", "db", "running", None);
        let listing = vec![web.clone(), db.clone()];
        assert_eq!(
            host.apply(containers(ContainerUpdate::All(listing.clone(), AT))),
            []
        );
        assert_eq!(
            host.apply(containers(ContainerUpdate::All(listing, AT))),
            [],
            "the same listing again"
        );
        let sick = container("aaa", "web", "running", Some("unhealthy"));
        let job = container("ccc", "job", "exited", None);
        assert_eq!(
            host.apply(containers(ContainerUpdate::All(vec![sick, job], AT))),
            [
                HostChange::Container {
                    name: "web".into(),
                    state: "running".into(),
                    health: Some("unhealthy".into()),
                    severity: Severity::Critical,
                },
                HostChange::Container {
                    name: "job".into(),
                    state: "exited".into(),
                    health: None,
                    severity: Severity::Ok,
                },
                HostChange::ContainerRemoved { name: "db".into() },
            ]
        );
        assert_eq!(
            host.apply(containers(ContainerUpdate::Failed(
                "engine down".into(),
                AT
            ))),
            []
        );
    }

    #[test]
    fn one_container_changing_appearing_or_going_is_one_change() {
        let mut host = HostState::new("web1", vec![], Expectations::default());
        // Before any listing, an event's container is the first thing known: no news.
        let web = container("aaa", "web", "running", None);
        let changed =
            |c: &ContainerReport| containers(ContainerUpdate::Changed(Box::new(c.clone()), AT));
        assert_eq!(host.apply(changed(&web)), []);
        assert_eq!(host.apply(changed(&web)), [], "state and health as before");
        let stopped = container("aaa", "web", "exited", None);
        assert_eq!(
            host.apply(changed(&stopped)),
            [HostChange::Container {
                name: "web".into(),
                state: "exited".into(),
                health: None,
                severity: Severity::Ok,
            }]
        );
        let new = container("ddd", "worker", "created", None);
        assert_eq!(host.apply(changed(&new)).len(), 1);
        assert_eq!(
            host.apply(containers(ContainerUpdate::Gone {
                id: "aaa".into(),
                at: AT
            })),
            [HostChange::ContainerRemoved { name: "web".into() }]
        );
        assert_eq!(
            host.apply(containers(ContainerUpdate::Gone {
                id: "aaa".into(),
                at: AT
            })),
            [],
            "already gone"
        );
        let names: Vec<_> = host
            .containers
            .value
            .iter()
            .flatten()
            .map(|c| &c.name)
            .collect();
        assert_eq!(names, ["worker"]);
    }

    #[test]
    fn backups_certificates_and_firewall_report_their_worst_severity_when_it_moves() {
        let mut host = HostState::new("web1", vec![], Expectations::default());
        let repo = BackupRepo {
            name: "app-data".into(),
            kind: BackupKind::Restic,
            repository: "/srv/backup/repo".into(),
            password_file: None,
            paths: vec![],
            warning_hours: 26,
            critical_hours: 48,
        };
        let failed = BackupReport::failed(&repo, BackupState::NoSnapshots, "none yet");
        let severity = failed.severity;
        assert_eq!(
            host.apply(HostEvent::Backups(vec![failed.clone()], AT)),
            [HostChange::Backups(severity)]
        );
        assert_eq!(host.apply(HostEvent::Backups(vec![failed], AT)), []);
        assert_eq!(
            host.apply(HostEvent::Certs(vec![], AT)),
            [HostChange::Certificates(Severity::Ok)]
        );
        assert_eq!(host.apply(HostEvent::Certs(vec![], AT)), []);
        let firewall = || Box::new(FirewallReport::failed("nft: permission denied"));
        assert_eq!(
            host.apply(HostEvent::Firewall(firewall(), AT)),
            [HostChange::Firewall {
                severity: Severity::Unknown,
                differences: 0
            }]
        );
        assert_eq!(host.apply(HostEvent::Firewall(firewall(), AT)), []);
    }
}
