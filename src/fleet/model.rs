//! The fleet as fleetdeck knows it: per host, each signal with when it was measured.
//! `status` prints one of these, `watch` prints the hosts that changed, the console
//! draws it. Field names here are the JSON contract (docs/status.md). The host
//! actors' reports ([`HostEvent`]) are applied here by [`HostState::apply`], which
//! says what changed ([`HostChange`]) for the console's timeline.

use time::OffsetDateTime;

use super::apps::{AppCondition, AppsReport};
use super::containers::{ContainerReport, ContainerUpdate};
use super::facts::HostFacts;
use crate::probes::Severity;
use crate::probes::backup::BackupReport;
use crate::probes::cert::CertReport;
use crate::probes::firewall::{DeclaredPolicy, FirewallReport};
use crate::probes::host::{HostReport, ResourcesReport};
use crate::probes::maintenance::Maintenance;
use crate::probes::posture::{Finding, PosturePolicy, PostureReport};

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
    /// The host's maintenance window as stored on the host (`None` inside: none).
    pub maintenance: Signal<Option<Maintenance>>,
    /// `fleetdeck_posture`: thresholds and accepted exceptions.
    pub posture_policy: std::sync::Arc<PosturePolicy>,
    /// What a deploy would run now, per declared app; `None` until computed (and for
    /// the local engine, which has no inventory).
    pub expected_apps: Option<std::sync::Arc<super::apps::ExpectedApps>>,
    /// `fleetdeck_firewall`: what the ports Docker publishes are judged against.
    pub declared_firewall: Option<std::sync::Arc<DeclaredPolicy>>,
    /// The host's own rules against the declaration, as the firewall probe last read
    /// them; `firewall` adds the ports Docker publishes past them.
    pub firewall_rules: Option<FirewallReport>,
    /// Whether these signals were asked for (a host without declared backups has none).
    pub expects: Expectations,
    /// The thresholds the inventory declares per backup repository and certificate
    /// endpoint, for the exporter to show beside the readings they judge.
    pub thresholds: std::sync::Arc<DeclaredThresholds>,
}

/// Per backup repository and per certificate endpoint (by declared name): the ages and
/// days the probes judge them by, the defaults where the inventory sets none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredThresholds {
    /// `(warning_hours, critical_hours)` per repository.
    pub backups: std::collections::BTreeMap<String, (u64, u64)>,
    /// `(warning_days, critical_days)` per endpoint.
    pub certs: std::collections::BTreeMap<String, (i64, i64)>,
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
    /// The host's maintenance file read (`None`: no window), or why it could not be
    /// (sanitized).
    Maintenance(Result<Option<Maintenance>, String>, OffsetDateTime),
    /// Container events the engine recorded before this connection (a backfill).
    Past(Vec<crate::docker::past::PastEvent>),
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
    /// The resources' severity is now this.
    Resources(Severity),
    /// A counted posture finding appeared (accepted and unknown ones do not count).
    FindingAppeared {
        check: String,
        container: Option<String>,
        severity: Severity,
        reason: String,
    },
    /// A counted posture finding is gone: fixed, accepted, or its container removed.
    FindingCleared {
        check: String,
        container: Option<String>,
        /// The severity it had.
        severity: Severity,
    },
    /// A declared app (or one of its services) compares differently now.
    App {
        app: String,
        service: Option<String>,
        condition: AppCondition,
        severity: Severity,
    },
    /// An entry of the apps comparison is gone (an undeclared container removed, a
    /// missing app now listed per service).
    AppCleared {
        app: String,
        service: Option<String>,
        /// The condition it had.
        condition: AppCondition,
    },
    /// The host's maintenance window was started, changed or ended (by anyone: it is
    /// read from the host). Not reported for the first read, nor when a window merely
    /// reaches its end.
    Maintenance(Option<Maintenance>),
    /// A container event from before this connection, read back from the engine.
    Past(crate::docker::past::PastEvent),
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

/// What the timeline compares across an update: the counted posture findings and the
/// apps comparison, and which sources of findings had been measured.
struct Watched {
    host_posture_measured: bool,
    containers_measured: bool,
    findings: Vec<Finding>,
    apps: Option<AppsReport>,
}

/// The same finding in two measurements: its reason may carry a reading that moves
/// (a count, a percentage), so it is not part of what makes it the same.
fn same_finding(a: &Finding, b: &Finding) -> bool {
    a.check == b.check && a.container == b.container && a.severity == b.severity
}

/// The entries of the apps comparison (by app and service) whose condition changed,
/// appeared or went.
fn app_changes(before: &AppsReport, after: &AppsReport) -> Vec<HostChange> {
    let mut changes = Vec::new();
    for entry in &after.apps {
        let previous = before
            .apps
            .iter()
            .find(|b| b.app == entry.app && b.service == entry.service);
        if previous.is_none_or(|p| p.condition != entry.condition) {
            changes.push(HostChange::App {
                app: entry.app.clone(),
                service: entry.service.clone(),
                condition: entry.condition,
                severity: entry.severity,
            });
        }
    }
    for gone in before.apps.iter().filter(|b| {
        !after
            .apps
            .iter()
            .any(|a| a.app == b.app && a.service == b.service)
    }) {
        changes.push(HostChange::AppCleared {
            app: gone.app.clone(),
            service: gone.service.clone(),
            condition: gone.condition,
        });
    }
    changes
}

/// The word `status --json` uses for an apps condition (`missing`, `drifted`, …).
pub fn condition_word(condition: AppCondition) -> &'static str {
    match condition {
        AppCondition::Deployed => "deployed",
        AppCondition::Missing => "missing",
        AppCondition::Undeclared => "undeclared",
        AppCondition::Drifted => "drifted",
        AppCondition::Unknown => "unknown",
    }
}

/// What the timeline follows of a firewall report: its severity and how many
/// differences from the declaration it has.
fn firewall_drift(report: &FirewallReport) -> (Severity, usize) {
    (report.severity, report.drift.len())
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
            HostEvent::Firewall(report, at) => changes.extend(self.set_firewall(*report, at)),
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
            HostEvent::Past(events) => changes.extend(events.into_iter().map(HostChange::Past)),
            HostEvent::Maintenance(read, at) => match read {
                Ok(window) => {
                    if let Some(before) = &self.maintenance.value
                        && *before != window
                    {
                        changes.push(HostChange::Maintenance(window.clone()));
                    }
                    self.maintenance.set(window, at);
                }
                Err(error) => self.maintenance.fail(error),
            },
            HostEvent::Host(report, at) => {
                let before = self.watched();
                let report = *report;
                let now = report.resources.severity;
                if self.resources.value.as_ref().map(|r| r.severity) != Some(now) {
                    changes.push(HostChange::Resources(now));
                }
                self.resources.set(report.resources, at);
                match report.posture_error {
                    Some(error) => self.host_posture.fail(error),
                    None => self.host_posture.set(report.posture, at),
                }
                changes.extend(self.changes_since(before));
            }
        }
        changes
    }

    /// Sets what a deploy would run now and says which apps compare differently (none
    /// the first time: the first comparison is no news).
    pub fn set_expected_apps(
        &mut self,
        expected: Option<std::sync::Arc<super::apps::ExpectedApps>>,
    ) -> Vec<HostChange> {
        let before = self.watched();
        self.expected_apps = expected;
        self.changes_since(before)
    }

    /// The posture signal's severity, as [`HostState::posture`]'s, without building
    /// the report: the overview asks it of every host on every frame.
    pub fn posture_severity(&self) -> Option<Severity> {
        self.posture_findings()
            .map(|findings| self.posture_policy.severity_of(findings))
    }

    /// The host's own findings and every container's, as measured; `None` until
    /// either was measured.
    fn posture_findings(&self) -> Option<impl Iterator<Item = &Finding>> {
        let host = self.host_posture.value.as_ref();
        let containers = self.containers.value.as_ref();
        if host.is_none() && containers.is_none() {
            return None;
        }
        Some(
            host.into_iter()
                .flatten()
                .chain(containers.into_iter().flatten().flat_map(|c| &c.findings)),
        )
    }

    /// The posture signal: the host's own findings and every container's, with
    /// `fleetdeck_posture`'s exceptions applied; `None` until either was measured.
    pub fn posture(&self) -> Option<PostureReport> {
        let findings = self.posture_findings()?.cloned().collect();
        Some(PostureReport::new(findings, &self.posture_policy))
    }

    /// When the posture was measured: the older of its sources (the host round and the
    /// container listing), so that everything in it is at least that fresh.
    pub fn posture_measured_at(&self) -> Option<OffsetDateTime> {
        [self.host_posture.measured_at, self.containers.measured_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The declared apps against what runs; `None` when the host has no declared apps
    /// computed (the local engine) or its containers were not listed yet.
    pub fn apps(&self) -> Option<AppsReport> {
        let containers = self.containers.value.as_deref()?;
        self.expected_apps
            .as_ref()
            .map(|expected| super::apps::compare(expected, containers))
    }

    fn watched(&self) -> Watched {
        Watched {
            host_posture_measured: self.host_posture.value.is_some(),
            containers_measured: self.containers.value.is_some(),
            findings: self
                .posture()
                .map(|p| p.findings.into_iter().filter(Finding::counts).collect())
                .unwrap_or_default(),
            apps: self.apps(),
        }
    }

    /// The counted findings that appeared or cleared since `before`, and the apps that
    /// compare differently. Findings of a source measured for the first time are no
    /// news, as a first container listing is not.
    fn changes_since(&self, before: Watched) -> Vec<HostChange> {
        let after = self.watched();
        let mut changes = Vec::new();
        let mut previous = before.findings;
        for finding in after.findings {
            let source_known = match finding.container {
                None => before.host_posture_measured,
                Some(_) => before.containers_measured,
            };
            if let Some(index) = previous.iter().position(|p| same_finding(p, &finding)) {
                previous.remove(index);
            } else if source_known {
                changes.push(HostChange::FindingAppeared {
                    check: finding.check,
                    container: finding.container,
                    severity: finding.severity,
                    reason: finding.reason,
                });
            }
        }
        changes.extend(previous.into_iter().map(|gone| HostChange::FindingCleared {
            check: gone.check,
            container: gone.container,
            severity: gone.severity,
        }));
        if let (Some(before), Some(after)) = (&before.apps, &after.apps) {
            changes.extend(app_changes(before, after));
        }
        changes
    }

    /// Applies a container watcher update; the containers that appeared (not on the
    /// first listing, which is no news), changed state or health, or were removed.
    /// Their findings appearing or clearing (a removed container's clear), and the apps
    /// comparison moving, come after.
    pub fn apply_containers(&mut self, update: ContainerUpdate) -> Vec<HostChange> {
        let before = self.watched();
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
        changes.extend(self.changes_since(before));
        let firewall_before = self.firewall.value.as_ref().map(firewall_drift);
        changes.extend(self.refresh_firewall(firewall_before));
        changes
    }

    /// Sets what the firewall probe read, with the ports Docker publishes past it.
    pub fn set_firewall(
        &mut self,
        rules: FirewallReport,
        at: OffsetDateTime,
    ) -> Option<HostChange> {
        let before = self.firewall.value.as_ref().map(firewall_drift);
        self.firewall.set(rules.clone(), at);
        self.firewall_rules = Some(rules);
        self.refresh_firewall(before)
    }

    /// The firewall signal: the rules' report plus a `docker_published` drift for every
    /// port a live container publishes on all addresses that the declaration does not
    /// allow (Docker's own chains let it in whatever the host's rules say). Says when
    /// its severity or number of differences moved from `before`.
    fn refresh_firewall(&mut self, before: Option<(Severity, usize)>) -> Option<HostChange> {
        let rules = self.firewall_rules.as_ref()?;
        let mut report = rules.clone();
        if let Some(declared) = &self.declared_firewall {
            let published: Vec<_> = self
                .containers
                .value
                .iter()
                .flatten()
                .flat_map(|c| c.published.iter().map(|p| (c.name.clone(), p.clone())))
                .collect();
            let extra = crate::probes::firewall::docker_published_drift(declared, &published);
            report.severity = report
                .severity
                .max(Severity::worst(extra.iter().map(|d| d.severity)));
            report.drift.extend(extra);
        }
        let now = firewall_drift(&report);
        self.firewall.value = Some(report);
        (before != Some(now)).then_some(HostChange::Firewall {
            severity: now.0,
            differences: now.1,
        })
    }

    /// The host's severity: critical when unreachable; otherwise the worst signal, and
    /// unknown for a declared signal that could not be measured — the worst of
    /// [`HostState::problems`].
    pub fn severity(&self) -> Severity {
        self.severity_of(&[])
    }

    /// The maintenance window open at `now`, if any: the host's problems are then
    /// silenced (listed, not counted in an exit code, not notified). The last window
    /// read stands while the host does not answer, and ends by itself at `until`.
    pub fn in_maintenance(&self, now: OffsetDateTime) -> Option<&Maintenance> {
        self.maintenance
            .value
            .as_ref()
            .and_then(Option::as_ref)
            .filter(|window| window.active_at(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::containers::Pinning;
    use crate::probes::backup::{BackupKind, BackupRepo, BackupState};
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2027-01-01 10:00 UTC);

    #[test]
    fn a_window_started_or_ended_by_anyone_is_news_once_and_ends_by_itself() {
        let mut host = HostState::new("web1", Vec::new(), Expectations::default());
        let window = Maintenance {
            by: "ops@laptop".to_owned(),
            started_at: AT,
            until: AT + time::Duration::hours(2),
            reason: "kernel".to_owned(),
        };
        let read = |window: Option<&Maintenance>| HostEvent::Maintenance(Ok(window.cloned()), AT);
        // The first read is what is, not news.
        assert!(host.apply(read(None)).is_empty());
        assert!(host.in_maintenance(AT).is_none());
        assert_eq!(
            host.apply(read(Some(&window))),
            [HostChange::Maintenance(Some(window.clone()))]
        );
        // Read again every round: no news while it is the same window.
        assert!(host.apply(read(Some(&window))).is_empty());
        assert_eq!(host.in_maintenance(AT), Some(&window));
        assert!(
            host.in_maintenance(window.until).is_none(),
            "it ends by itself"
        );
        // A failed read keeps the window known.
        assert!(
            host.apply(HostEvent::Maintenance(Err("timeout".into()), AT))
                .is_empty()
        );
        assert_eq!(host.in_maintenance(AT), Some(&window));
        assert_eq!(host.apply(read(None)), [HostChange::Maintenance(None)]);
    }

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

    fn finding(check: &str, container: Option<&str>, severity: Severity) -> Finding {
        Finding::new(
            check,
            container,
            severity,
            format!("{check} found"),
            format!("fix {check}"),
        )
    }

    /// A host round: a data filesystem at `used` percent and the host's findings.
    fn round(used: u8, posture: Vec<Finding>) -> HostEvent {
        let severity = match used {
            90.. => Severity::Critical,
            80.. => Severity::Warning,
            _ => Severity::Ok,
        };
        let mut resources = ResourcesReport::failed("");
        resources.error = None;
        resources.severity = severity;
        resources.filesystems = vec![crate::probes::host::FilesystemUse {
            mount: "/srv".into(),
            source: "/dev/vdb".into(),
            fstype: "ext4".into(),
            size_bytes: 100 << 20,
            used_bytes: u64::from(used) << 20,
            available_bytes: u64::from(100 - used) << 20,
            used_percent: used,
            inodes_used_percent: Some(1),
            severity,
        }];
        if severity != Severity::Ok {
            resources.findings = vec![finding("disk", None, severity)];
        }
        HostEvent::Host(
            Box::new(HostReport {
                resources,
                posture,
                posture_error: None,
            }),
            AT,
        )
    }

    fn inventory_host() -> HostState {
        let mut host = HostState::new(
            "web1",
            vec![],
            Expectations {
                host_round: true,
                ..Expectations::default()
            },
        );
        host.apply(HostEvent::Up { at: AT });
        host
    }

    #[test]
    fn posture_joins_the_hosts_and_the_containers_findings_with_the_exceptions_applied() {
        let mut host = inventory_host();
        assert_eq!(host.posture(), None, "nothing measured yet");
        let mut proxy = container("aaa", "socket-proxy", "running", None);
        proxy.findings = vec![finding(
            "docker_socket",
            Some("socket-proxy"),
            Severity::Critical,
        )];
        let mut web = container("bbb", "web", "running", None);
        web.findings = vec![finding("root_user", Some("web"), Severity::Warning)];
        host.apply(containers(ContainerUpdate::All(vec![proxy, web], AT)));
        host.apply(round(
            40,
            vec![finding("fail2ban", None, Severity::Unknown)],
        ));
        host.posture_policy = std::sync::Arc::new(PosturePolicy {
            accept: vec![crate::probes::posture::AcceptedException {
                container: "socket-proxy".into(),
                check: "docker_socket".into(),
                reason: "filters the API".into(),
            }],
            ..PosturePolicy::default()
        });
        let posture = host.posture().expect("measured");
        let checks: Vec<_> = posture.findings.iter().map(|f| f.check.as_str()).collect();
        assert_eq!(checks, ["fail2ban", "docker_socket", "root_user"]);
        assert_eq!(
            posture.findings[1].accepted.as_deref(),
            Some("filters the API")
        );
        // The accepted socket and the unknown fail2ban do not count; root does.
        assert_eq!(posture.severity, Severity::Warning);
        assert_eq!(host.severity(), Severity::Warning);
    }

    #[test]
    fn resources_and_posture_raise_the_hosts_severity_and_a_missing_round_is_unknown() {
        let mut host = inventory_host();
        host.apply(containers(ContainerUpdate::All(vec![], AT)));
        assert_eq!(
            host.severity(),
            Severity::Unknown,
            "the host round is expected and has not answered"
        );
        host.apply(round(40, vec![]));
        assert_eq!(host.severity(), Severity::Ok);
        host.apply(round(85, vec![]));
        assert_eq!(host.severity(), Severity::Warning);
        host.apply(round(
            40,
            vec![finding("sshd_password_login", None, Severity::Critical)],
        ));
        assert_eq!(host.severity(), Severity::Critical);
        // Host findings that cannot be read leave the last ones, and the gap is unknown.
        host.apply(round(40, vec![]));
        host.apply(HostEvent::Host(
            Box::new(HostReport {
                posture_error: Some("sshd -T: permission denied".into()),
                ..match round(40, vec![]) {
                    HostEvent::Host(report, _) => *report,
                    _ => unreachable!(),
                }
            }),
            AT,
        ));
        assert_eq!(host.severity(), Severity::Unknown);

        // The local engine makes no host round: its absence is no gap.
        let mut local = HostState::new("localhost", vec![], Expectations::default());
        local.apply(HostEvent::Up { at: AT });
        local.apply(containers(ContainerUpdate::All(vec![], AT)));
        assert_eq!(local.severity(), Severity::Ok);
        let json = serde_json::to_value(local.to_json(AT)).expect("json");
        assert!(json["resources"].is_null(), "{json}");
        assert!(json["apps"].is_null(), "{json}");
        assert_eq!(json["posture"]["severity"], "ok", "{json}");
    }

    #[test]
    fn the_timeline_hears_resources_move_and_findings_appear_and_clear() {
        let mut host = inventory_host();
        host.apply(containers(ContainerUpdate::All(vec![], AT)));
        // The first round says the resources' severity; the findings it finds are the
        // first measurement of them, no news.
        assert_eq!(
            host.apply(round(
                40,
                vec![finding(
                    "sshd_keyboard_interactive",
                    None,
                    Severity::Warning
                )]
            )),
            [HostChange::Resources(Severity::Ok)]
        );
        assert_eq!(
            host.apply(round(
                93,
                vec![
                    finding("sshd_keyboard_interactive", None, Severity::Warning),
                    finding("sshd_password_login", None, Severity::Critical),
                    finding("fail2ban", None, Severity::Unknown),
                ]
            )),
            [
                HostChange::Resources(Severity::Critical),
                HostChange::FindingAppeared {
                    check: "sshd_password_login".into(),
                    container: None,
                    severity: Severity::Critical,
                    reason: "sshd_password_login found".into(),
                }
            ],
            "an unknown finding is listed but is no news"
        );
        assert_eq!(
            host.apply(round(40, vec![])),
            [
                HostChange::Resources(Severity::Ok),
                HostChange::FindingCleared {
                    check: "sshd_keyboard_interactive".into(),
                    container: None,
                    severity: Severity::Warning,
                },
                HostChange::FindingCleared {
                    check: "sshd_password_login".into(),
                    container: None,
                    severity: Severity::Critical,
                },
            ]
        );
        assert_eq!(host.apply(round(40, vec![])), []);
    }

    #[test]
    fn a_containers_findings_appear_with_it_and_clear_when_it_is_removed() {
        let mut host = inventory_host();
        let mut web = container("aaa", "web", "running", None);
        web.findings = vec![finding("no_healthcheck", Some("web"), Severity::Warning)];
        assert_eq!(
            host.apply(containers(ContainerUpdate::All(vec![web], AT))),
            [],
            "the first listing is no news, findings included"
        );
        let mut rogue = container("ccc", "rogue", "running", None);
        rogue.findings = vec![
            finding("capability", Some("rogue"), Severity::Critical),
            finding("docker_socket", Some("rogue"), Severity::Critical),
            finding("secret_env", Some("rogue"), Severity::Warning),
        ];
        let changes = host.apply(containers(ContainerUpdate::Changed(
            Box::new(rogue.clone()),
            AT,
        )));
        assert_eq!(changes[0], HostChange::container(&rogue));
        let appeared: Vec<_> = changes[1..]
            .iter()
            .map(|c| match c {
                HostChange::FindingAppeared {
                    check, container, ..
                } => (check.as_str(), container.as_deref()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            appeared,
            [
                ("capability", Some("rogue")),
                ("docker_socket", Some("rogue")),
                ("secret_env", Some("rogue"))
            ]
        );
        // Accepting an exception is not the finding appearing again.
        host.posture_policy = std::sync::Arc::new(PosturePolicy {
            accept: vec![crate::probes::posture::AcceptedException {
                container: "rogue".into(),
                check: "secret_env".into(),
                reason: "reviewed".into(),
            }],
            ..PosturePolicy::default()
        });
        let changes = host.apply(containers(ContainerUpdate::Gone {
            id: "ccc".into(),
            at: AT,
        }));
        assert_eq!(
            changes,
            [
                HostChange::ContainerRemoved {
                    name: "rogue".into()
                },
                HostChange::FindingCleared {
                    check: "capability".into(),
                    container: Some("rogue".into()),
                    severity: Severity::Critical,
                },
                HostChange::FindingCleared {
                    check: "docker_socket".into(),
                    container: Some("rogue".into()),
                    severity: Severity::Critical,
                },
            ],
            "the accepted secret_env no longer counted, so it does not clear"
        );
    }

    #[test]
    fn apps_entries_changing_condition_are_changes() {
        use crate::fleet::apps::AppEntry;
        let entry = |app: &str, service: Option<&str>, condition, severity| AppEntry {
            app: app.into(),
            service: service.map(str::to_owned),
            condition,
            severity,
            reason: format!("{app} {condition:?}"),
            running_image: None,
            expected_image: None,
        };
        let report = |apps: Vec<AppEntry>| AppsReport {
            severity: Severity::worst(apps.iter().map(|a| a.severity)),
            apps,
        };
        let before = report(vec![
            entry("web", Some("web"), AppCondition::Deployed, Severity::Ok),
            entry("api", None, AppCondition::Missing, Severity::Critical),
            entry("old", None, AppCondition::Undeclared, Severity::Warning),
        ]);
        assert_eq!(app_changes(&before, &before), []);
        let after = report(vec![
            entry("web", Some("web"), AppCondition::Drifted, Severity::Warning),
            entry("api", Some("api"), AppCondition::Deployed, Severity::Ok),
        ]);
        assert_eq!(
            app_changes(&before, &after),
            [
                HostChange::App {
                    app: "web".into(),
                    service: Some("web".into()),
                    condition: AppCondition::Drifted,
                    severity: Severity::Warning,
                },
                HostChange::App {
                    app: "api".into(),
                    service: Some("api".into()),
                    condition: AppCondition::Deployed,
                    severity: Severity::Ok,
                },
                HostChange::AppCleared {
                    app: "api".into(),
                    service: None,
                    condition: AppCondition::Missing,
                },
                HostChange::AppCleared {
                    app: "old".into(),
                    service: None,
                    condition: AppCondition::Undeclared,
                },
            ]
        );
    }

    #[test]
    fn resources_posture_and_apps_in_json_carry_their_time_and_stay_with_their_age() {
        let mut host = inventory_host();
        let json = serde_json::to_value(host.to_json(AT)).expect("json");
        for signal in ["resources", "posture", "apps"] {
            assert!(json[signal].is_null(), "{signal}: {json}");
            assert!(json["signals"][signal]["measured_at"].is_null(), "{json}");
        }
        host.apply(containers(ContainerUpdate::All(vec![], AT)));
        host.apply(round(
            93,
            vec![finding("sshd_password_login", None, Severity::Critical)],
        ));
        host.expected_apps = Some(std::sync::Arc::new(
            crate::fleet::apps::ExpectedApps::default(),
        ));
        host.apply(HostEvent::Down {
            cause: "keepalive timeout".into(),
        });
        let later = AT + time::Duration::minutes(2);
        let json = serde_json::to_value(host.to_json(later)).expect("json");
        let resources = &json["resources"];
        assert_eq!(resources["severity"], "critical", "{json}");
        assert_eq!(resources["measured_at"], "2027-01-01T10:00:00Z", "{json}");
        assert_eq!(resources["filesystems"][0]["mount"], "/srv", "{json}");
        assert_eq!(resources["findings"][0]["check"], "disk", "{json}");
        let posture = &json["posture"];
        assert_eq!(posture["severity"], "critical", "{json}");
        assert_eq!(posture["measured_at"], "2027-01-01T10:00:00Z", "{json}");
        assert_eq!(
            posture["findings"][0]["check"], "sshd_password_login",
            "{json}"
        );
        assert_eq!(
            json["apps"]["measured_at"], "2027-01-01T10:00:00Z",
            "{json}"
        );
        assert!(json["apps"]["apps"].is_array(), "{json}");
        for signal in ["resources", "posture", "apps"] {
            let s = &json["signals"][signal];
            assert_eq!(
                (&s["stale"], &s["age_seconds"]),
                (&true.into(), &120.into()),
                "{signal}: {s}"
            );
        }
    }

    /// A port a container publishes on all addresses, past the declaration, is firewall
    /// drift as long as the container exists: Docker's chains let it in whatever the
    /// host's rules say. The rules' own report is kept apart and comes back unchanged.
    #[test]
    fn a_port_docker_publishes_past_the_declaration_is_firewall_drift_while_it_exists() {
        use crate::probes::firewall::{
            AllowRule, DeclaredPolicy, FirewallBackend, ObservedBackend, ObservedPolicy, Protocol,
            PublishedPort, Verdict, compare,
        };
        let declared = DeclaredPolicy {
            backend: FirewallBackend::Auto,
            input_policy: Verdict::Drop,
            allow: vec![AllowRule {
                port: 443,
                proto: Protocol::Tcp,
                from: vec![],
            }],
        };
        let rules = compare(
            &declared,
            ObservedPolicy {
                backend: ObservedBackend::Nftables,
                input_policy: Verdict::Drop,
                open: vec![crate::probes::firewall::OpenPort {
                    port: 443,
                    port_end: None,
                    proto: Protocol::Tcp,
                    sources: vec![],
                    interface: None,
                }],
                unknown: vec![],
                notes: vec![],
            },
        );
        assert_eq!(rules.severity, Severity::Ok, "{rules:?}");
        let mut host = HostState::new("web1", vec![], Expectations::default());
        host.declared_firewall = Some(std::sync::Arc::new(declared));
        assert_eq!(
            host.apply(HostEvent::Firewall(Box::new(rules.clone()), AT)),
            [HostChange::Firewall {
                severity: Severity::Ok,
                differences: 0
            }]
        );
        let mut redis = container("rrr", "redis", "created", None);
        redis.published = vec![PublishedPort {
            host_ip: "0.0.0.0".into(),
            host_port: Some(6380),
            host_port_end: None,
            container_port: 6379,
            proto: Protocol::Tcp,
        }];
        let mut local = container("lll", "cache", "running", None);
        local.published = vec![PublishedPort {
            host_ip: "127.0.0.1".into(),
            host_port: Some(6381),
            host_port_end: None,
            container_port: 6379,
            proto: Protocol::Tcp,
        }];
        let changes = host.apply(containers(ContainerUpdate::All(vec![redis, local], AT)));
        assert!(
            changes.contains(&HostChange::Firewall {
                severity: Severity::Critical,
                differences: 1
            }),
            "{changes:?}"
        );
        let firewall = host.firewall.value.as_ref().expect("firewall");
        assert_eq!(firewall.drift[0].port, Some(6380), "{firewall:?}");
        assert_eq!(host.firewall_rules.as_ref(), Some(&rules));
        // The rules measured again keep the container's drift.
        assert_eq!(host.apply(HostEvent::Firewall(Box::new(rules), AT)), []);
        let changes = host.apply(containers(ContainerUpdate::Gone {
            id: "rrr".into(),
            at: AT,
        }));
        assert!(
            changes.contains(&HostChange::Firewall {
                severity: Severity::Ok,
                differences: 0
            }),
            "{changes:?}"
        );
    }
}
