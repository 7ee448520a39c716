//! What monitoring systems that run checks read from `status`: a Nagios plugin's
//! output (`--format nagios`, also read by Icinga and Naemon) and a Checkmk
//! local-check section (`--format checkmk`), plus the `--signal` views of the table
//! and the JSON. Pure formatting, made of [`HostState::problems`] like everything
//! else, so that an exit code, a service's state and a problem line never disagree.
//!
//! Every piece of remote text is sanitized to one line here, and the characters each
//! grammar reserves are replaced where they would end a field: `|` in Nagios text
//! (it starts the performance data), `'` and `=` in a Nagios label, quotes and blanks
//! in a Checkmk service name, `|`, `;` and `=` in a Checkmk metric name (which is
//! kept to `[A-Za-z0-9_]`).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use time::OffsetDateTime;

use super::model::HostState;
use super::problems::{Problem, SignalKind, fleet_severity};
use super::table::{self, label};
use super::target::Target;
use crate::probes::Severity;
use crate::sanitize;

/// The thresholds the hosts' reports are judged with that the reports do not carry:
/// backup age and certificate days, per host and declared name (the disk's are in
/// each host's posture policy). Performance data shows them beside each value.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    hosts: HashMap<String, HostLimits>,
}

#[derive(Debug, Clone, Default)]
struct HostLimits {
    /// Repository → (warning, critical) age in seconds.
    backups: HashMap<String, (u64, u64)>,
    /// Endpoint → (warning, critical) days left.
    certs: HashMap<String, (i64, i64)>,
}

impl Limits {
    /// The declared thresholds of `targets`.
    pub fn from_targets(targets: &[Target]) -> Limits {
        let hosts = targets
            .iter()
            .map(|t| {
                let backups = t
                    .settings
                    .backups
                    .iter()
                    .map(|b| {
                        let hours = |h: u64| h.saturating_mul(3600);
                        (
                            b.name.clone(),
                            (hours(b.warning_hours), hours(b.critical_hours)),
                        )
                    })
                    .collect();
                let certs = t
                    .settings
                    .certificates
                    .iter()
                    .map(|c| (c.name.clone(), (c.warning_days, c.critical_days)))
                    .collect();
                (t.name.clone(), HostLimits { backups, certs })
            })
            .collect();
        Limits { hosts }
    }

    fn backup(&self, host: &str, repo: &str) -> Option<(u64, u64)> {
        self.hosts.get(host)?.backups.get(repo).copied()
    }

    fn cert(&self, host: &str, endpoint: &str) -> Option<(i64, i64)> {
        self.hosts.get(host)?.certs.get(endpoint).copied()
    }
}

/// One check run: the hosts measured, what to judge, and when.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    pub hosts: &'a [HostState],
    pub limits: &'a Limits,
    /// The signals judged; empty: all.
    pub selection: &'a [SignalKind],
    pub now: OffsetDateTime,
}

/// A value for performance data (Nagios) or a metric (Checkmk).
#[derive(Debug, Clone, PartialEq)]
struct Metric {
    /// What is measured, `[a-z_]`: `backup_age`, `disk_used`, …
    what: &'static str,
    /// Which one (a repository, an endpoint, a mount); empty for the signal's own.
    subject: String,
    value: i64,
    /// Nagios's unit: `s`, `%` or none.
    uom: &'static str,
    /// Thresholds as ranges: `N` (above N), `N:` (below N), or empty.
    warn: String,
    crit: String,
    min: Option<i64>,
    max: Option<i64>,
}

impl Metric {
    fn new(what: &'static str, subject: &str, value: i64) -> Metric {
        Metric {
            what,
            subject: subject.to_owned(),
            value,
            uom: "",
            warn: String::new(),
            crit: String::new(),
            min: Some(0),
            max: None,
        }
    }

    /// `value;warn;crit;min;max`, the part both grammars share (`uom` after the value
    /// for Nagios only).
    fn fields(&self, uom: &str) -> String {
        let bound = |b: Option<i64>| b.map(|v| v.to_string()).unwrap_or_default();
        let text = format!(
            "{}{uom};{};{};{};{}",
            self.value,
            self.warn,
            self.crit,
            bound(self.min),
            bound(self.max)
        );
        text.trim_end_matches(';').to_owned()
    }
}

/// The signals a host has a service for, of those `selection` asks for (empty: all):
/// reachability and containers always, the others when the inventory declares them.
pub fn host_signals(host: &HostState, selection: &[SignalKind]) -> Vec<SignalKind> {
    SignalKind::ALL
        .into_iter()
        .filter(|s| selection.is_empty() || *s == SignalKind::Host || selection.contains(s))
        .filter(|s| match s {
            SignalKind::Host | SignalKind::Containers => true,
            SignalKind::Backups => host.expects.backups,
            SignalKind::Certs => host.expects.certs,
            SignalKind::Firewall => host.expects.firewall,
            SignalKind::Resources | SignalKind::Posture => host.expects.host_round,
            SignalKind::Apps => host
                .expected_apps
                .as_ref()
                .is_some_and(|e| !e.apps.is_empty()),
        })
        .collect()
}

/// The metrics of one signal of one host.
fn metrics(host: &HostState, signal: SignalKind, limits: &Limits) -> Vec<Metric> {
    let mut out = Vec::new();
    match signal {
        SignalKind::Host => {
            if let Some(reachable) = host.reachable {
                let mut m = Metric::new("reachable", "", i64::from(reachable));
                m.crit = "1:".to_owned();
                m.max = Some(1);
                out.push(m);
            }
        }
        SignalKind::Containers => {
            if let Some(containers) = &host.containers.value {
                let count = |f: &dyn Fn(&super::containers::ContainerReport) -> bool| {
                    i64::try_from(containers.iter().filter(|c| f(c)).count()).unwrap_or(i64::MAX)
                };
                out.push(Metric::new(
                    "containers_running",
                    "",
                    count(&|c| c.state == "running"),
                ));
                out.push(Metric::new(
                    "containers_unhealthy",
                    "",
                    count(&|c| c.is_unhealthy()),
                ));
                out.push(Metric::new(
                    "containers_failing",
                    "",
                    count(&|c| c.severity != Severity::Ok),
                ));
            }
        }
        SignalKind::Backups => {
            for b in host.backups.value.iter().flatten() {
                let Some(age) = b.age_seconds else { continue };
                let mut m = Metric::new("backup_age", &b.repo, age);
                m.uom = "s";
                if let Some((warn, crit)) = limits.backup(&host.name, &b.repo) {
                    m.warn = warn.to_string();
                    m.crit = crit.to_string();
                }
                out.push(m);
            }
        }
        SignalKind::Certs => {
            for c in host.certs.value.iter().flatten() {
                let Some(days) = c.days_left else { continue };
                let mut m = Metric::new("cert_days_left", &c.endpoint, days);
                m.min = None;
                if let Some((warn, crit)) = limits.cert(&host.name, &c.endpoint) {
                    m.warn = format!("{warn}:");
                    m.crit = format!("{crit}:");
                }
                out.push(m);
            }
        }
        SignalKind::Firewall => {
            if let Some(f) = host.firewall.value.as_ref().filter(|f| f.error.is_none()) {
                let drift = i64::try_from(f.drift.len()).unwrap_or(i64::MAX);
                out.push(Metric::new("firewall_drift", "", drift));
            }
        }
        SignalKind::Resources => {
            for fs in host.resources.value.iter().flat_map(|r| &r.filesystems) {
                let limits = host.posture_policy.disk_for(&fs.mount);
                let mut m = Metric::new("disk_used", &fs.mount, i64::from(fs.used_percent));
                m.uom = "%";
                m.warn = limits.warning.to_string();
                m.crit = limits.critical.to_string();
                m.max = Some(100);
                out.push(m);
            }
        }
        SignalKind::Posture => {
            if let Some(posture) = host.posture() {
                let counted = posture.findings.iter().filter(|f| f.counts()).count();
                let counted = i64::try_from(counted).unwrap_or(i64::MAX);
                out.push(Metric::new("posture_findings", "", counted));
            }
        }
        SignalKind::Apps => {
            if let Some(apps) = host.apps() {
                let differing = apps.apps.iter().filter(|e| e.severity != Severity::Ok);
                let differing = i64::try_from(differing.count()).unwrap_or(i64::MAX);
                out.push(Metric::new("apps_differing", "", differing));
            }
        }
    }
    out
}

/// Remote or declared text on one line, with `|` (which would start performance data
/// in a Nagios plugin's output) and `\` (which Checkmk reads as an escape) replaced.
fn text(raw: &str) -> String {
    sanitize::line(raw).replace(['|', '\\'], "/")
}

fn state_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Ok => "OK",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
        Severity::Unknown => "UNKNOWN",
    }
}

/// The monitoring-plugin state number (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
fn state_number(severity: Severity) -> u8 {
    match severity {
        Severity::Ok => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
        Severity::Unknown => 3,
    }
}

/// A host's problems that `selection` includes, worst first.
fn selected_problems(host: &HostState, selection: &[SignalKind]) -> Vec<Problem> {
    let mut problems: Vec<Problem> = host
        .problems()
        .into_iter()
        .filter(|p| p.selected_by(selection))
        .collect();
    problems.sort_by_key(|p| std::cmp::Reverse(p.severity));
    problems
}

/// How a maintenance window is named where a host's problems are silenced.
fn window_text(host: &HostState, now: OffsetDateTime) -> Option<String> {
    host.in_maintenance(now).map(|w| {
        text(&format!(
            "in maintenance until {} by {}: {}",
            crate::util::time::rfc3339(w.until),
            w.by,
            w.reason
        ))
    })
}

/// A Nagios performance-data label: quoted, with `'` and `=` (which the Monitoring
/// Plugins guidelines and Icinga's forbid in a label) replaced.
fn nagios_label(host: &str, metric: &Metric) -> String {
    let mut label = format!("{host} {}", metric.what);
    if !metric.subject.is_empty() {
        label.push(' ');
        label.push_str(&metric.subject);
    }
    let label = text(&label).replace(['\'', '='], "_");
    format!("'{}'", label.trim())
}

/// `--format nagios`: `FLEETDECK <STATE> - <summary> | <perfdata>`, then one line per
/// selected problem (long output). The state is the exit code's: hosts in maintenance
/// are left out, their problems listed as silenced.
pub fn nagios(check: &Check) -> String {
    let Check {
        hosts,
        limits,
        selection,
        now,
    } = *check;
    let severity = fleet_severity(hosts, selection, now);
    let mut counted: Vec<(String, Problem)> = Vec::new();
    let mut long = Vec::new();
    let mut silenced = Vec::new();
    let mut in_maintenance = 0;
    let mut perfdata = Vec::new();
    for host in hosts {
        let window = window_text(host, now);
        let problems = selected_problems(host, selection);
        if let Some(window) = &window {
            in_maintenance += 1;
            silenced.push(format!("{}: {window}", text(&host.name)));
            for p in &problems {
                silenced.push(format!(
                    "{} {}: {} (silenced)",
                    state_word(p.severity),
                    text(&host.name),
                    text(&p.summary)
                ));
            }
        } else {
            for p in &problems {
                long.push((
                    p.severity,
                    format!(
                        "{} {}: {}",
                        state_word(p.severity),
                        text(&host.name),
                        text(&p.summary)
                    ),
                ));
            }
            counted.extend(problems.into_iter().map(|p| (host.name.clone(), p)));
        }
        let mut seen = BTreeSet::new();
        for signal in host_signals(host, selection) {
            for metric in metrics(host, signal, limits) {
                let label = nagios_label(&host.name, &metric);
                // Two subjects that read the same once cleaned keep the first value.
                if seen.insert(label.clone()) {
                    perfdata.push(format!("{label}={}", metric.fields(metric.uom)));
                }
            }
        }
    }
    long.sort_by_key(|l| std::cmp::Reverse(l.0));
    // The worst problem of the first host that has one of that severity.
    let mut summary = match counted.iter().rev().max_by_key(|(_, p)| p.severity) {
        None => format!("{} host(s), no problems", hosts.len()),
        Some((host, worst)) => {
            let count = |s: Severity| counted.iter().filter(|(_, p)| p.severity == s).count();
            let mut parts = Vec::new();
            for s in [Severity::Critical, Severity::Unknown, Severity::Warning] {
                if count(s) > 0 {
                    parts.push(format!("{} {}", count(s), s.as_str()));
                }
            }
            let affected: BTreeSet<&str> = counted.iter().map(|(h, _)| h.as_str()).collect();
            format!(
                "{} on {} of {} host(s); {}: {}",
                parts.join(", "),
                affected.len(),
                hosts.len(),
                text(host),
                text(&worst.summary)
            )
        }
    };
    if in_maintenance > 0 {
        let _ = write!(summary, " ({in_maintenance} in maintenance)");
    }
    if !selection.is_empty() {
        let names: Vec<&str> = selection.iter().map(|s| s.as_str()).collect();
        let _ = write!(summary, " [{}]", names.join(","));
    }
    let mut out = format!("FLEETDECK {} - {summary}", state_word(severity));
    if !perfdata.is_empty() {
        let _ = write!(out, " | {}", perfdata.join(" "));
    }
    out.push('\n');
    for line in long.into_iter().map(|(_, l)| l).chain(silenced) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A Checkmk service name: no blanks or quotes, so that every Checkmk version reads
/// it without quoting.
fn service_name(host: &str, signal: SignalKind) -> String {
    let name = format!("fleetdeck_{}_{}", text(host), signal.as_str());
    name.chars()
        .map(|c| {
            if c.is_whitespace() || c == '"' || c == '\'' {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// A Checkmk metric name: `[A-Za-z0-9_]`.
fn metric_name(metric: &Metric) -> String {
    let raw = match metric.subject.as_str() {
        "" => metric.what.to_owned(),
        "/" => format!("{}_root", metric.what),
        subject => format!("{}_{}", metric.what, subject.trim_start_matches('/')),
    };
    raw.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `--format checkmk`: a local-check section, one service per host and signal (of
/// those selected and declared), OK ones included. A host in maintenance has its
/// services OK, the problems named as silenced in their details, as fleetdeck's own
/// exit code leaves them out.
pub fn checkmk(check: &Check) -> String {
    let Check {
        hosts,
        limits,
        selection,
        now,
    } = *check;
    let mut out = String::from("<<<local:sep(0)>>>\n");
    for host in hosts {
        let window = window_text(host, now);
        for signal in host_signals(host, selection) {
            let only = [signal];
            let problems = selected_problems(host, &only);
            let severity = Severity::worst(problems.iter().map(|p| p.severity));
            let mut lines: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.severity.as_str(), text(&p.summary)))
                .collect();
            let status = match &window {
                Some(window) => {
                    for line in &mut lines {
                        line.push_str(" (silenced)");
                    }
                    lines.insert(0, window.clone());
                    Severity::Ok
                }
                None => severity,
            };
            // The first line is Checkmk's summary, the others its details.
            let details = match (&window, problems.len()) {
                (None, 0) => vec!["no problems".to_owned()],
                (None, n) if n > 1 => {
                    let first = format!("{n} problems, worst: {}", lines[0]);
                    std::iter::once(first).chain(lines).collect()
                }
                _ => lines,
            };
            let mut names = BTreeSet::new();
            let metrics: Vec<String> = metrics(host, signal, limits)
                .into_iter()
                .filter_map(|m| {
                    let name = metric_name(&m);
                    names
                        .insert(name.clone())
                        .then(|| format!("{name}={}", m.fields("")))
                })
                .collect();
            let metrics = if metrics.is_empty() {
                "-".to_owned()
            } else {
                metrics.join("|")
            };
            let _ = writeln!(
                out,
                "{} {} {metrics} {}",
                state_number(status),
                service_name(&host.name, signal),
                details.join("\\n")
            );
        }
    }
    out
}

/// `status --format json`: the fleet's JSON (docs/status.md) with the selection
/// applied: the fleet's `severity` is the exit code's (hosts in maintenance left out),
/// each host's is that of its selected problems, listed under `problems`, and
/// `selected_signals` says which were judged (empty: all).
pub fn json(
    hosts: &[HostState],
    selection: &[SignalKind],
    now: OffsetDateTime,
) -> serde_json::Value {
    let mut fleet = match serde_json::to_value(super::json::fleet_json(hosts, now)) {
        Ok(value) => value,
        Err(error) => serde_json::json!({ "error": error.to_string() }),
    };
    if let Some(object) = fleet.as_object_mut() {
        object.insert(
            "severity".to_owned(),
            serde_json::json!(fleet_severity(hosts, selection, now)),
        );
        object.insert("selected_signals".to_owned(), serde_json::json!(selection));
    }
    if let Some(list) = fleet.get_mut("hosts").and_then(|h| h.as_array_mut()) {
        for (value, host) in list.iter_mut().zip(hosts) {
            if let Some(object) = value.as_object_mut() {
                object.insert(
                    "severity".to_owned(),
                    serde_json::json!(host.severity_of(selection)),
                );
                let problems: Vec<Problem> = host
                    .problems()
                    .into_iter()
                    .filter(|p| p.selected_by(selection))
                    .collect();
                object.insert("problems".to_owned(), serde_json::json!(problems));
            }
        }
    }
    fleet
}

/// `status --signal … --format table`: one row per host with its severity and each
/// selected signal's, then the selected problems, worst first (a host in maintenance
/// last, its problems marked silenced).
pub fn table(hosts: &[HostState], selection: &[SignalKind], now: OffsetDateTime) -> String {
    let columns: Vec<SignalKind> = selection
        .iter()
        .copied()
        .filter(|s| *s != SignalKind::Host)
        .collect();
    let mut rows = vec![
        ["HOST", "SEVERITY"]
            .into_iter()
            .map(str::to_owned)
            .chain(columns.iter().map(|s| s.as_str().to_uppercase()))
            .collect::<Vec<_>>(),
    ];
    let mut problems = Vec::new();
    let mut windows = Vec::new();
    for host in hosts {
        let window = host.in_maintenance(now);
        windows.extend(window.map(|window| table::window_line(&text(&host.name), window)));
        let declared = host_signals(host, selection);
        let mut row = vec![
            text(&host.name),
            table::severity_cell(host.severity_of(selection), window.is_some()),
        ];
        for signal in &columns {
            row.push(
                if host.reachable == Some(false) && *signal != SignalKind::Certs {
                    "unreachable".to_owned()
                } else if declared.contains(signal) {
                    label(Severity::worst(
                        host.problems()
                            .iter()
                            .filter(|p| p.signal == *signal)
                            .map(|p| p.severity),
                    ))
                } else {
                    "-".to_owned()
                },
            );
        }
        rows.push(row);
        for p in selected_problems(host, selection) {
            problems.push(table::ProblemLine {
                severity: p.severity,
                silenced: window.is_some(),
                host: text(&host.name),
                text: text(&p.summary),
            });
        }
    }
    table::layout(&rows, &windows, problems)
}
