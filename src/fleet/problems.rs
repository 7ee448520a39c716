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
