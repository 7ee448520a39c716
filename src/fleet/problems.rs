//! What is wrong on a host, one [`Problem`] per thing: the one list the table's problem
//! lines, the severity (the exit code), the notifications, the monitoring-plugin
//! outputs and maintenance's silencing are all made of, so they never disagree.

use serde::Serialize;
use time::OffsetDateTime;

use super::model::HostState;
use crate::probes::Severity;
use crate::probes::posture::Finding;

/// The signals a problem belongs to, as `status --signal` names them. `host` is the
/// host's reachability: it belongs to every selection, since nothing measured on a
/// host that does not answer is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Host,
    Containers,
    Backups,
    Certs,
    Firewall,
    /// Disk, memory, load, reboot, updates, clock (the host round).
    Resources,
    /// The host's and its containers' security findings.
    Posture,
    /// `fleetdeck_apps` against what runs.
    Apps,
}

impl SignalKind {
    pub const ALL: [SignalKind; 8] = [
        SignalKind::Host,
        SignalKind::Containers,
        SignalKind::Backups,
        SignalKind::Certs,
        SignalKind::Firewall,
        SignalKind::Resources,
        SignalKind::Posture,
        SignalKind::Apps,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Host => "host",
            SignalKind::Containers => "containers",
            SignalKind::Backups => "backups",
            SignalKind::Certs => "certs",
            SignalKind::Firewall => "firewall",
            SignalKind::Resources => "resources",
            SignalKind::Posture => "posture",
            SignalKind::Apps => "apps",
        }
    }
}

/// One thing wrong (or not known) on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub signal: SignalKind,
    /// What it is about within its signal, stable from one round to the next so that
    /// a problem can be followed: a container, a repository, an endpoint, a mount, a
    /// check id, a drift; empty for the signal as a whole (not measured, unreachable).
    pub subject: String,
    pub severity: Severity,
    /// One line for people, from text sanitized where it entered.
    pub summary: String,
}

impl Problem {
    fn new(signal: SignalKind, subject: &str, severity: Severity, summary: String) -> Problem {
        Problem {
            signal,
            subject: subject.to_owned(),
            severity,
            summary,
        }
    }

    /// Whether `selection` (empty: every signal) includes this problem; reachability
    /// is in every selection.
    pub fn selected_by(&self, selection: &[SignalKind]) -> bool {
        selection.is_empty() || self.signal == SignalKind::Host || selection.contains(&self.signal)
    }
}

impl HostState {
    /// Everything wrong or unknown on the host, in signal order. A host that does not
    /// answer has one `host` problem, plus its certificates' (they are measured from
    /// here); a declared signal never measured, or whose last attempt failed, is an
    /// `unknown` problem of its own.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        match self.reachable {
            None => {
                out.push(Problem::new(
                    SignalKind::Host,
                    "",
                    Severity::Unknown,
                    "not contacted yet".to_owned(),
                ));
                return out;
            }
            Some(false) => {
                let why = self.error.as_deref().unwrap_or("no answer");
                out.push(Problem::new(
                    SignalKind::Host,
                    "",
                    Severity::Critical,
                    format!("unreachable: {why}"),
                ));
                self.cert_problems(&mut out);
                return out;
            }
            Some(true) => {}
        }
        self.container_problems(&mut out);
        self.backup_problems(&mut out);
        self.cert_problems(&mut out);
        self.firewall_problems(&mut out);
        self.resource_problems(&mut out);
        self.posture_problems(&mut out);
        self.app_problems(&mut out);
        out
    }

    /// The worst severity of the problems `selection` includes (empty: all), `ok`
    /// without any. With an empty selection this is [`HostState::severity`].
    pub fn severity_of(&self, selection: &[SignalKind]) -> Severity {
        Severity::worst(
            self.problems()
                .into_iter()
                .filter(|p| p.selected_by(selection))
                .map(|p| p.severity),
        )
    }

    fn container_problems(&self, out: &mut Vec<Problem>) {
        for c in self.containers.value.iter().flatten() {
            if c.severity == Severity::Ok {
                continue;
            }
            let what = c.problem.as_deref().unwrap_or(c.severity.as_str());
            out.push(Problem::new(
                SignalKind::Containers,
                &c.name,
                c.severity,
                format!("container {}: {what}", c.name),
            ));
        }
        gap(out, SignalKind::Containers, &self.containers, true);
    }

    fn backup_problems(&self, out: &mut Vec<Problem>) {
        for b in self.backups.value.iter().flatten() {
            if b.severity == Severity::Ok {
                continue;
            }
            let what = match (&b.error, b.age_seconds) {
                (Some(error), _) => error.clone(),
                (None, Some(age)) => {
                    format!("latest snapshot {} ago", crate::util::time::age_text(age))
                }
                (None, None) => "no snapshot".to_owned(),
            };
            out.push(Problem::new(
                SignalKind::Backups,
                &b.repo,
                b.severity,
                format!("backup {}: {what}", b.repo),
            ));
        }
        gap(
            out,
            SignalKind::Backups,
            &self.backups,
            self.expects.backups,
        );
    }

    fn cert_problems(&self, out: &mut Vec<Problem>) {
        for c in self.certs.value.iter().flatten() {
            if c.severity == Severity::Ok {
                continue;
            }
            let what = match (&c.error, c.lifetime()) {
                (Some(error), _) => error.clone(),
                (None, Some(lifetime)) => lifetime.text(),
                (None, None) => "not measured".to_owned(),
            };
            out.push(Problem::new(
                SignalKind::Certs,
                &c.endpoint,
                c.severity,
                format!("certificate {} ({}:{}): {what}", c.endpoint, c.host, c.port),
            ));
        }
        gap(out, SignalKind::Certs, &self.certs, self.expects.certs);
    }

    fn firewall_problems(&self, out: &mut Vec<Problem>) {
        if let Some(f) = &self.firewall.value {
            for drift in &f.drift {
                out.push(Problem::new(
                    SignalKind::Firewall,
                    &drift.message,
                    drift.severity,
                    format!("firewall: {}", drift.message),
                ));
            }
            if let Some(error) = &f.error {
                out.push(Problem::new(
                    SignalKind::Firewall,
                    "",
                    f.severity,
                    format!("firewall: {error}"),
                ));
            }
            let listed = Severity::worst(f.drift.iter().map(|d| d.severity));
            if f.error.is_none() && f.severity > listed {
                let first = f.unknown.first().map(String::as_str).unwrap_or("");
                out.push(Problem::new(
                    SignalKind::Firewall,
                    "not understood",
                    f.severity,
                    format!(
                        "firewall: {} rule(s) not understood (they may open anything): {first}",
                        f.unknown.len()
                    ),
                ));
            }
        }
        gap(
            out,
            SignalKind::Firewall,
            &self.firewall,
            self.expects.firewall,
        );
    }

    /// The counted findings; the disk's and inodes' carry their mount as subject.
    fn resource_problems(&self, out: &mut Vec<Problem>) {
        if let Some(resources) = &self.resources.value {
            for finding in resources.findings.iter().filter(|f| f.counts()) {
                out.push(finding_problem(SignalKind::Resources, finding));
            }
            if let Some(error) = &resources.error {
                out.push(Problem::new(
                    SignalKind::Resources,
                    "",
                    resources.severity,
                    format!("resources: {error}"),
                ));
            }
        }
        gap(
            out,
            SignalKind::Resources,
            &self.resources,
            self.expects.host_round,
        );
    }

    fn posture_problems(&self, out: &mut Vec<Problem>) {
        if let Some(posture) = self.posture() {
            for finding in posture.findings.iter().filter(|f| f.counts()) {
                out.push(finding_problem(SignalKind::Posture, finding));
            }
        }
        gap(
            out,
            SignalKind::Posture,
            &self.host_posture,
            self.expects.host_round,
        );
    }

    fn app_problems(&self, out: &mut Vec<Problem>) {
        let Some(apps) = self.apps() else {
            return;
        };
        for entry in apps.apps.iter().filter(|e| e.severity != Severity::Ok) {
            let subject = match &entry.service {
                Some(service) => format!("{}/{service}", entry.app),
                None => entry.app.clone(),
            };
            out.push(Problem::new(
                SignalKind::Apps,
                &subject,
                entry.severity,
                format!("app {}: {}", entry.app, entry.reason),
            ));
        }
    }
}

/// A finding as a problem: its subject is its check, with the container or mount it
/// is about.
fn finding_problem(signal: SignalKind, finding: &Finding) -> Problem {
    let (subject, whose) = match (&finding.container, &finding.mount) {
        (Some(container), _) => (
            format!("{}:{container}", finding.check),
            format!("container {container}: "),
        ),
        (None, Some(mount)) => (format!("{}:{mount}", finding.check), String::new()),
        (None, None) => (finding.check.clone(), String::new()),
    };
    Problem::new(
        signal,
        &subject,
        finding.severity,
        format!("{whose}{}: {}", finding.check, finding.reason),
    )
}

/// An expected signal with no current measurement: `unknown`, with the failure when
/// there is one.
fn gap<T>(
    out: &mut Vec<Problem>,
    signal: SignalKind,
    measured: &super::model::Signal<T>,
    expected: bool,
) {
    if !expected {
        return;
    }
    let summary = match (&measured.error, measured.measured_at) {
        (Some(error), _) => format!("{}: {error}", signal.as_str()),
        (None, None) => format!("{}: not measured yet", signal.as_str()),
        (None, Some(_)) => return,
    };
    // A signal whose report carries its own failure already said so above.
    if out
        .iter()
        .any(|p| p.signal == signal && p.subject.is_empty() && p.summary == summary)
    {
        return;
    }
    out.push(Problem::new(signal, "", Severity::Unknown, summary));
}

/// The fleet's severity for an exit code: the worst of the selected problems of the
/// hosts not in maintenance at `now` (theirs are silenced).
pub fn fleet_severity(
    hosts: &[HostState],
    selection: &[SignalKind],
    now: OffsetDateTime,
) -> Severity {
    Severity::worst(
        hosts
            .iter()
            .filter(|h| h.in_maintenance(now).is_none())
            .map(|h| h.severity_of(selection)),
    )
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::fleet::containers::{ContainerReport, Pinning};
    use crate::fleet::model::{Expectations, HostEvent};
    use crate::probes::backup::{BackupRepo, BackupReport, BackupState};
    use crate::probes::firewall::{Drift, DriftKind, FirewallReport};
    use crate::probes::host::{HostReport, ResourcesReport};
    use crate::probes::maintenance::Maintenance;

    const AT: OffsetDateTime = datetime!(2027-01-01 10:00 UTC);

    fn everything() -> Expectations {
        Expectations {
            backups: true,
            certs: true,
            firewall: true,
            host_round: true,
        }
    }

    fn container(name: &str, severity: Severity, problem: Option<&str>) -> ContainerReport {
        ContainerReport {
            name: name.into(),
            id: format!("{name}-id"),
            state: "running".into(),
            health: None,
            health_output: None,
            restart_count: 0,
            exit_code: None,
            oom_killed: false,
            started_at: None,
            uptime_seconds: None,
            image: "nginx:1.25".into(),
            image_pinned: Pinning::Tag,
            severity,
            problem: problem.map(str::to_owned),
            app: None,
            service: None,
            config_hash: None,
            findings: Vec::new(),
            published: Vec::new(),
        }
    }

    fn repo(name: &str) -> BackupRepo {
        serde_json::from_value(serde_json::json!({
            "name": name, "kind": "restic", "repository": "/srv/backup/repo"
        }))
        .expect("a repository")
    }

    fn backup(name: &str, age_hours: i64, severity: Severity) -> BackupReport {
        let mut report = BackupReport::failed(&repo(name), BackupState::Listed, "");
        report.error = None;
        report.age_seconds = Some(age_hours * 3600);
        report.latest = Some(AT - time::Duration::hours(age_hours));
        report.count = 3;
        report.severity = severity;
        report
    }

    fn drift(message: &str, severity: Severity) -> Drift {
        Drift {
            kind: DriftKind::ExtraPort,
            severity,
            message: message.into(),
            port: Some(5432),
            port_end: None,
            proto: None,
        }
    }

    fn firewall(drifts: Vec<Drift>) -> FirewallReport {
        let mut report = FirewallReport::failed("");
        report.error = None;
        report.severity = Severity::worst(drifts.iter().map(|d| d.severity));
        report.drift = drifts;
        report
    }

    fn resources(findings: Vec<Finding>) -> HostReport {
        let mut resources = ResourcesReport::failed("");
        resources.error = None;
        resources.severity = Severity::worst(findings.iter().map(|f| f.severity));
        resources.findings = findings;
        HostReport {
            resources,
            posture: vec![Finding::new(
                "sshd_password_login",
                None,
                Severity::Critical,
                "sshd accepts password logins",
                "PasswordAuthentication no",
            )],
            posture_error: None,
        }
    }

    /// A host that answered and had every declared signal measured at `at`, with one
    /// problem in each: a failing container, a stale backup, a drift, a full disk and
    /// a posture finding (certificates are measured with no problem).
    fn measured_host(at: OffsetDateTime, backup_age_hours: i64) -> HostState {
        let mut host = HostState::new("web1", vec![], everything());
        host.apply(HostEvent::Up { at });
        host.apply(HostEvent::Containers(
            crate::fleet::containers::ContainerUpdate::All(
                vec![
                    container("worker", Severity::Critical, Some("unhealthy: refused")),
                    container("web", Severity::Ok, None),
                ],
                at,
            ),
        ));
        host.apply(HostEvent::Backups(
            vec![
                backup("app-data", backup_age_hours, Severity::Critical),
                backup("db", 2, Severity::Ok),
            ],
            at,
        ));
        host.apply(HostEvent::Certs(Vec::new(), at));
        host.apply(HostEvent::Firewall(
            Box::new(firewall(vec![drift(
                "5432/tcp is open from anywhere but not declared",
                Severity::Critical,
            )])),
            at,
        ));
        host.apply(HostEvent::Host(
            Box::new(resources(vec![
                Finding::new("disk", None, Severity::Warning, "/srv is 85 % full", "")
                    .on_mount("/srv"),
            ])),
            at,
        ));
        host
    }

    fn keys(problems: &[Problem]) -> Vec<(SignalKind, &str, Severity)> {
        problems
            .iter()
            .map(|p| (p.signal, p.subject.as_str(), p.severity))
            .collect()
    }

    #[test]
    fn each_signal_lists_its_problems_with_their_subjects_in_signal_order() {
        let host = measured_host(AT, 50);
        let problems = host.problems();
        assert_eq!(
            keys(&problems),
            [
                (SignalKind::Containers, "worker", Severity::Critical),
                (SignalKind::Backups, "app-data", Severity::Critical),
                (
                    SignalKind::Firewall,
                    "5432/tcp is open from anywhere but not declared",
                    Severity::Critical
                ),
                (SignalKind::Resources, "disk:/srv", Severity::Warning),
                (
                    SignalKind::Posture,
                    "sshd_password_login",
                    Severity::Critical
                ),
            ]
        );
        assert_eq!(problems[0].summary, "container worker: unhealthy: refused");
        assert_eq!(
            problems[1].summary,
            "backup app-data: latest snapshot 50h ago"
        );
        assert_eq!(host.severity(), Severity::Critical);
    }

    #[test]
    fn subjects_stay_the_same_from_one_round_to_the_next() {
        let first = measured_host(AT, 50);
        let later = measured_host(AT + time::Duration::minutes(30), 51);
        let subjects = |h: &HostState| -> Vec<(SignalKind, String)> {
            h.problems()
                .into_iter()
                .map(|p| (p.signal, p.subject))
                .collect()
        };
        assert_eq!(subjects(&first), subjects(&later));
        // The summaries move with the measurement; the subjects do not.
        assert_ne!(first.problems()[1].summary, later.problems()[1].summary);
    }

    #[test]
    fn selections_judge_their_signals_and_reachability_is_in_every_one() {
        let mut host = measured_host(AT, 10);
        // The backup is fresh now: only the disk warns among resources and backups.
        host.apply(HostEvent::Backups(
            vec![backup("app-data", 10, Severity::Ok)],
            AT,
        ));
        assert_eq!(host.severity_of(&[SignalKind::Backups]), Severity::Ok);
        assert_eq!(
            host.severity_of(&[SignalKind::Resources]),
            Severity::Warning
        );
        assert_eq!(
            host.severity_of(&[SignalKind::Backups, SignalKind::Resources]),
            Severity::Warning
        );
        assert_eq!(host.severity_of(&[SignalKind::Certs]), Severity::Ok);
        assert_eq!(host.severity_of(&[SignalKind::Host]), Severity::Ok);
        assert_eq!(host.severity_of(&[]), Severity::Critical);
        assert_eq!(host.severity_of(&[]), host.severity());

        host.apply(HostEvent::Down {
            cause: "keepalive timeout".into(),
        });
        for signal in SignalKind::ALL {
            assert_eq!(
                host.severity_of(&[signal]),
                Severity::Critical,
                "{signal:?}"
            );
        }
        let problems = host.problems();
        assert_eq!(problems[0].signal, SignalKind::Host);
        assert_eq!(problems[0].subject, "");
        assert_eq!(problems[0].summary, "unreachable: keepalive timeout");
        assert!(problems[0].selected_by(&[SignalKind::Backups]));
        assert!(!problems.iter().any(|p| p.signal == SignalKind::Backups));

        let never = HostState::new("new", vec![], everything());
        assert_eq!(
            keys(&never.problems()),
            [(SignalKind::Host, "", Severity::Unknown)]
        );
        assert_eq!(
            never.severity_of(&[SignalKind::Firewall]),
            Severity::Unknown
        );
    }

    #[test]
    fn a_declared_signal_without_a_current_measurement_is_unknown() {
        let mut host = HostState::new("web1", vec![], everything());
        host.apply(HostEvent::Up { at: AT });
        let gaps: Vec<(SignalKind, String)> = host
            .problems()
            .into_iter()
            .map(|p| {
                assert_eq!((p.severity, p.subject.as_str()), (Severity::Unknown, ""));
                (p.signal, p.summary)
            })
            .collect();
        let expected: Vec<(SignalKind, String)> = [
            SignalKind::Containers,
            SignalKind::Backups,
            SignalKind::Certs,
            SignalKind::Firewall,
            SignalKind::Resources,
            SignalKind::Posture,
        ]
        .into_iter()
        .map(|s| (s, format!("{}: not measured yet", s.as_str())))
        .collect();
        assert_eq!(gaps, expected);

        // A failed attempt is named; one that succeeds again closes the gap.
        let mut host = measured_host(AT, 10);
        host.backups.fail("restic: repository is locked".into());
        let backups: Vec<Problem> = host
            .problems()
            .into_iter()
            .filter(|p| p.signal == SignalKind::Backups)
            .collect();
        assert_eq!(
            keys(&backups),
            [
                (SignalKind::Backups, "app-data", Severity::Critical),
                (SignalKind::Backups, "", Severity::Unknown),
            ]
        );
        assert_eq!(backups[1].summary, "backups: restic: repository is locked");
        host.apply(HostEvent::Backups(
            vec![backup("app-data", 10, Severity::Ok)],
            AT,
        ));
        assert_eq!(host.severity_of(&[SignalKind::Backups]), Severity::Ok);

        // A firewall report carrying its own failure says so once, not twice.
        host.apply(HostEvent::Firewall(
            Box::new(FirewallReport::failed("nft: permission denied")),
            AT,
        ));
        host.firewall.fail("nft: permission denied".into());
        let firewall: Vec<Problem> = host
            .problems()
            .into_iter()
            .filter(|p| p.signal == SignalKind::Firewall)
            .collect();
        assert_eq!(firewall.len(), 1, "{firewall:?}");
        assert_eq!(firewall[0].summary, "firewall: nft: permission denied");

        // Undeclared signals are absent, not unknown.
        let mut bare = HostState::new("bare", vec![], Expectations::default());
        bare.apply(HostEvent::Up { at: AT });
        bare.apply(HostEvent::Containers(
            crate::fleet::containers::ContainerUpdate::All(Vec::new(), AT),
        ));
        assert_eq!(bare.problems(), Vec::new());
    }

    #[test]
    fn a_host_in_maintenance_is_left_out_of_the_fleet_severity_until_it_ends() {
        let mut quiet = measured_host(AT, 10);
        quiet.apply(HostEvent::Containers(
            crate::fleet::containers::ContainerUpdate::All(Vec::new(), AT),
        ));
        quiet.apply(HostEvent::Backups(Vec::new(), AT));
        quiet.apply(HostEvent::Firewall(Box::new(firewall(Vec::new())), AT));
        let mut warning_only = resources(vec![
            Finding::new("disk", None, Severity::Warning, "/srv is 85 % full", "").on_mount("/srv"),
        ]);
        warning_only.posture.clear();
        quiet.apply(HostEvent::Host(Box::new(warning_only), AT));
        assert_eq!(quiet.severity(), Severity::Warning);

        let mut broken = measured_host(AT, 50);
        let until = AT + time::Duration::hours(2);
        broken.apply(HostEvent::Maintenance(
            Ok(Some(Maintenance {
                by: "ops@laptop".into(),
                started_at: AT - time::Duration::minutes(5),
                until,
                reason: "kernel upgrade".into(),
            })),
            AT,
        ));
        let hosts = [quiet, broken];
        assert_eq!(fleet_severity(&hosts, &[], AT), Severity::Warning);
        assert_eq!(
            fleet_severity(&hosts, &[SignalKind::Backups], AT),
            Severity::Ok
        );
        // The window is still listed on the host: its own severity is unchanged.
        assert_eq!(hosts[1].severity(), Severity::Critical);
        // Just before its end, still silenced; at `until`, counted again.
        let before = until - time::Duration::seconds(1);
        assert_eq!(fleet_severity(&hosts, &[], before), Severity::Warning);
        assert_eq!(fleet_severity(&hosts, &[], until), Severity::Critical);
        assert_eq!(
            fleet_severity(&hosts, &[SignalKind::Backups], until),
            Severity::Critical
        );
        // An empty fleet is OK.
        assert_eq!(fleet_severity(&[], &[], AT), Severity::Ok);
    }
}
