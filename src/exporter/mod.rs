//! The fleet as Prometheus metrics (`fleetdeck serve`, docs/exporter.md): every scrape
//! is the OpenMetrics text of the hosts' last known state, built here from the fleet's
//! model and the time of the scrape, never from a probe run for it.
//!
//! Label values that come from hosts (container, repository, endpoint, mount, app
//! names; a container's `fleetdeck.app` label and image) are sanitized and shortened
//! ([`label`]); the encoder escapes what is left (`\`, `"`). The series of one host
//! are bounded per kind ([`Limits`]): past a bound the worst items are kept and the
//! rest counted in `fleetdeck_exporter_series_dropped`.

mod families;

use std::cmp::Reverse;

use prometheus_client::encoding::text::encode;
use time::OffsetDateTime;

use crate::fleet::model::HostState;
use crate::fleet::problems::SignalKind;
use crate::probes::Severity;
use crate::probes::firewall::DriftKind;
use crate::sanitize;
use families::{Families, Labels};

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The longest label value kept, in characters (a cut is marked `…`).
pub const MAX_LABEL_CHARS: usize = 128;

/// How many items of each kind one host may put in the metrics: enough for any real
/// host, few enough that a host with thousands of containers cannot flood Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub containers: usize,
    pub backups: usize,
    pub certificates: usize,
    pub filesystems: usize,
    pub drills: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            containers: 200,
            backups: 50,
            certificates: 50,
            filesystems: 50,
            drills: 50,
        }
    }
}

/// The number a severity is exported as: the monitoring-plugin exit codes (0 ok,
/// 1 warning, 2 critical, 3 unknown).
pub fn severity_value(severity: Severity) -> i64 {
    match severity {
        Severity::Ok => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
        Severity::Unknown => 3,
    }
}

/// A label value from remote text: one line without control characters or escape
/// sequences, at most [`MAX_LABEL_CHARS`] characters.
pub fn label(text: &str) -> String {
    sanitize::head(sanitize::line(text), MAX_LABEL_CHARS)
}

/// The metrics of `hosts` at `now`, in the OpenMetrics text format, with the default
/// [`Limits`].
pub fn render(hosts: &[HostState], now: OffsetDateTime) -> String {
    render_with(hosts, now, Limits::default())
}

/// [`render`] with explicit limits.
pub fn render_with(hosts: &[HostState], now: OffsetDateTime, limits: Limits) -> String {
    let families = Families::new();
    families
        .exporter_hosts
        .get_or_create(&Vec::new())
        .set(i64::try_from(hosts.len()).unwrap_or(i64::MAX));
    families
        .exporter_build_info
        .get_or_create(&vec![(
            "version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        )])
        .set(1);
    for host in hosts {
        export_host(&families, host, now, limits);
    }
    let mut out = String::new();
    // Writing into a String cannot fail; an encoder error would be a bug in a family.
    if encode(&mut out, &families.registry).is_err() {
        out.clear();
        out.push_str("# EOF\n");
    }
    out
}

/// Seconds since the Unix epoch.
fn seconds(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn flag(on: bool) -> i64 {
    i64::from(on)
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The first `max` of `items`, worst severity first (the listed order otherwise), and
/// how many were left out.
fn bounded<T>(items: &[T], max: usize, severity: impl Fn(&T) -> Severity) -> (Vec<&T>, usize) {
    let mut kept: Vec<&T> = items.iter().collect();
    if kept.len() <= max {
        return (kept, 0);
    }
    kept.sort_by_key(|item| Reverse(severity(item)));
    let dropped = kept.len() - max;
    kept.truncate(max);
    (kept, dropped)
}

fn export_host(f: &Families, host: &HostState, now: OffsetDateTime, limits: Limits) {
    let name = label(&host.name);
    let h = labels(&[("host", &name)]);
    if let Some(up) = host.reachable {
        f.host_up.get_or_create(&h).set(flag(up));
    }
    f.host_severity
        .get_or_create(&h)
        .set(severity_value(host.severity()));
    if let Some(at) = host.last_contact {
        f.host_last_contact.get_or_create(&h).set(seconds(at));
    }
    let window = host.in_maintenance(now);
    f.host_maintenance
        .get_or_create(&h)
        .set(flag(window.is_some()));
    if let Some(window) = window {
        f.host_maintenance_end
            .get_or_create(&h)
            .set(seconds(window.until));
    }
    if let Some(rtt) = host.rtt.value {
        f.host_rtt.get_or_create(&h).set(rtt.as_secs_f64());
    }
    export_problems(f, host, &name);
    export_signals(f, host, &name);
    let dropped = |kind: &str, n: usize| {
        f.series_dropped
            .get_or_create(&labels(&[("host", &name), ("kind", kind)]))
            .set(count(n));
    };
    dropped("containers", export_containers(f, host, &name, limits));
    dropped("backups", export_backups(f, host, &name, limits));
    dropped("certificates", export_certs(f, host, &name, limits));
    dropped("filesystems", export_resources(f, host, &name, limits));
    dropped("drills", export_drills(f, host, &name, limits));
    export_firewall(f, host, &name);
    export_posture(f, host, &name);
}

/// The count of problems per signal and severity, zeros included, so that a rule can
/// tell "none" from "not exported".
fn export_problems(f: &Families, host: &HostState, name: &str) {
    let problems = host.problems();
    for signal in SignalKind::ALL {
        for severity in [Severity::Warning, Severity::Critical, Severity::Unknown] {
            let n = problems
                .iter()
                .filter(|p| p.signal == signal && p.severity == severity)
                .count();
            f.problems
                .get_or_create(&labels(&[
                    ("host", name),
                    ("signal", signal.as_str()),
                    ("severity", severity.as_str()),
                ]))
                .set(count(n));
        }
    }
}

/// When each signal was last measured, and whether its latest attempt failed.
fn export_signals(f: &Families, host: &HostState, name: &str) {
    let signals: [(&str, Option<OffsetDateTime>, bool); 9] = [
        (
            "containers",
            host.containers.measured_at,
            host.containers.error.is_some(),
        ),
        (
            "backups",
            host.backups.measured_at,
            host.backups.error.is_some(),
        ),
        ("certs", host.certs.measured_at, host.certs.error.is_some()),
        (
            "firewall",
            host.firewall.measured_at,
            host.firewall.error.is_some(),
        ),
        (
            "resources",
            host.resources.measured_at,
            host.resources.error.is_some(),
        ),
        (
            "posture",
            host.host_posture.measured_at,
            host.host_posture.error.is_some(),
        ),
        (
            "maintenance",
            host.maintenance.measured_at,
            host.maintenance.error.is_some(),
        ),
        ("facts", host.facts.measured_at, host.facts.error.is_some()),
        (
            "drills",
            host.last_drill.measured_at,
            host.last_drill.error.is_some(),
        ),
    ];
    for (signal, measured_at, failing) in signals {
        let l = labels(&[("host", name), ("signal", signal)]);
        if let Some(at) = measured_at {
            f.signal_measured.get_or_create(&l).set(seconds(at));
        }
        if measured_at.is_some() || failing {
            f.signal_failing.get_or_create(&l).set(flag(failing));
        }
    }
}

fn export_containers(f: &Families, host: &HostState, name: &str, limits: Limits) -> usize {
    let Some(containers) = &host.containers.value else {
        return 0;
    };
    let (kept, dropped) = bounded(containers, limits.containers, |c| c.severity);
    for c in kept {
        let container = label(&c.name);
        let l = labels(&[("host", name), ("container", &container)]);
        f.container_running
            .get_or_create(&l)
            .set(flag(c.state == "running"));
        f.container_restarting
            .get_or_create(&l)
            .set(flag(c.state == "restarting"));
        f.container_unhealthy
            .get_or_create(&l)
            .set(flag(c.is_unhealthy()));
        f.container_restart_count
            .get_or_create(&l)
            .set(c.restart_count);
        f.container_severity
            .get_or_create(&l)
            .set(severity_value(c.severity));
        let app = label(c.app.as_deref().unwrap_or(""));
        let service = label(c.service.as_deref().unwrap_or(""));
        let image = label(&c.image);
        let state = label(&c.state);
        f.container_info
            .get_or_create(&labels(&[
                ("host", name),
                ("container", &container),
                ("app", &app),
                ("service", &service),
                ("image", &image),
                ("state", &state),
            ]))
            .set(1);
    }
    dropped
}

fn export_backups(f: &Families, host: &HostState, name: &str, limits: Limits) -> usize {
    let Some(backups) = &host.backups.value else {
        return 0;
    };
    let (kept, dropped) = bounded(backups, limits.backups, |b| b.severity);
    for b in kept {
        let repo = label(&b.repo);
        let l = labels(&[("host", name), ("repo", &repo)]);
        if let Some(latest) = b.latest {
            f.backup_newest.get_or_create(&l).set(seconds(latest));
        }
        f.backup_snapshots.get_or_create(&l).set(count(b.count));
        f.backup_severity
            .get_or_create(&l)
            .set(severity_value(b.severity));
        let (warning, critical) = host.thresholds.backups.get(&b.repo).copied().unwrap_or((
            crate::probes::backup::DEFAULT_WARNING_HOURS,
            crate::probes::backup::DEFAULT_CRITICAL_HOURS,
        ));
        let hours = |h: u64| i64::try_from(h.saturating_mul(3600)).unwrap_or(i64::MAX);
        f.backup_warning_age.get_or_create(&l).set(hours(warning));
        f.backup_critical_age.get_or_create(&l).set(hours(critical));
    }
    dropped
}

fn export_certs(f: &Families, host: &HostState, name: &str, limits: Limits) -> usize {
    let Some(certs) = &host.certs.value else {
        return 0;
    };
    let (kept, dropped) = bounded(certs, limits.certificates, |c| c.severity);
    for c in kept {
        let endpoint = label(&c.endpoint);
        let l = labels(&[("host", name), ("endpoint", &endpoint)]);
        if let Some(not_after) = c.not_after {
            f.cert_not_after.get_or_create(&l).set(seconds(not_after));
            f.cert_verified
                .get_or_create(&l)
                .set(flag(c.chain_valid && c.name_matches));
        }
        f.cert_severity
            .get_or_create(&l)
            .set(severity_value(c.severity));
        let (warning, critical) = host.thresholds.certs.get(&c.endpoint).copied().unwrap_or((
            crate::probes::cert::DEFAULT_WARNING_DAYS,
            crate::probes::cert::DEFAULT_CRITICAL_DAYS,
        ));
        f.cert_warning
            .get_or_create(&l)
            .set(warning.saturating_mul(86_400));
        f.cert_critical
            .get_or_create(&l)
            .set(critical.saturating_mul(86_400));
    }
    dropped
}

fn export_firewall(f: &Families, host: &HostState, name: &str) {
    let Some(firewall) = &host.firewall.value else {
        return;
    };
    let h = labels(&[("host", name)]);
    f.firewall_severity
        .get_or_create(&h)
        .set(severity_value(firewall.severity));
    f.firewall_not_understood
        .get_or_create(&h)
        .set(count(firewall.unknown.len()));
    for kind in DRIFT_KINDS {
        for severity in [Severity::Warning, Severity::Critical] {
            let n = firewall
                .drift
                .iter()
                .filter(|d| d.kind == kind && d.severity == severity)
                .count();
            f.firewall_drift
                .get_or_create(&labels(&[
                    ("host", name),
                    ("kind", drift_kind(kind)),
                    ("severity", severity.as_str()),
                ]))
                .set(count(n));
        }
    }
}

const DRIFT_KINDS: [DriftKind; 7] = [
    DriftKind::ExtraPort,
    DriftKind::MissingRule,
    DriftKind::WiderSource,
    DriftKind::NarrowerSource,
    DriftKind::DefaultPolicy,
    DriftKind::BackendMismatch,
    DriftKind::DockerPublished,
];

/// The kind as `status --json` names it.
fn drift_kind(kind: DriftKind) -> &'static str {
    match kind {
        DriftKind::ExtraPort => "extra_port",
        DriftKind::MissingRule => "missing_rule",
        DriftKind::WiderSource => "wider_source",
        DriftKind::NarrowerSource => "narrower_source",
        DriftKind::DefaultPolicy => "default_policy",
        DriftKind::BackendMismatch => "backend_mismatch",
        DriftKind::DockerPublished => "docker_published",
    }
}

/// The filesystems (bounded) and the host's other readings.
fn export_resources(f: &Families, host: &HostState, name: &str, limits: Limits) -> usize {
    let Some(resources) = &host.resources.value else {
        return 0;
    };
    let h = labels(&[("host", name)]);
    if let Some(required) = resources.reboot.required {
        f.reboot_required.get_or_create(&h).set(flag(required));
    }
    if let Some(pending) = resources.updates.pending {
        f.updates_pending.get_or_create(&h).set(i64::from(pending));
    }
    if let Some(security) = resources.updates.security {
        f.updates_security
            .get_or_create(&h)
            .set(i64::from(security));
    }
    if let Some(memory) = &resources.memory {
        f.memory_used
            .get_or_create(&h)
            .set(f64::from(memory.used_percent) / 100.0);
    }
    let (kept, dropped) = bounded(&resources.filesystems, limits.filesystems, |fs| fs.severity);
    for fs in kept {
        let mount = label(&fs.mount);
        let l = labels(&[("host", name), ("mount", &mount)]);
        f.fs_used
            .get_or_create(&l)
            .set(f64::from(fs.used_percent) / 100.0);
        if let Some(inodes) = fs.inodes_used_percent {
            f.fs_inodes_used
                .get_or_create(&l)
                .set(f64::from(inodes) / 100.0);
        }
        f.fs_size
            .get_or_create(&l)
            .set(i64::try_from(fs.size_bytes).unwrap_or(i64::MAX));
        let thresholds = host.posture_policy.disk_for(&fs.mount);
        f.fs_warning
            .get_or_create(&l)
            .set(f64::from(thresholds.warning) / 100.0);
        f.fs_critical
            .get_or_create(&l)
            .set(f64::from(thresholds.critical) / 100.0);
    }
    dropped
}

/// The findings not accepted by the inventory, per severity; and the accepted ones.
fn export_posture(f: &Families, host: &HostState, name: &str) {
    let Some(posture) = host.posture() else {
        return;
    };
    for severity in [Severity::Warning, Severity::Critical, Severity::Unknown] {
        let n = posture
            .findings
            .iter()
            .filter(|x| x.accepted.is_none() && x.severity == severity)
            .count();
        f.posture_findings
            .get_or_create(&labels(&[("host", name), ("severity", severity.as_str())]))
            .set(count(n));
    }
    let accepted = posture
        .findings
        .iter()
        .filter(|x| x.accepted.is_some())
        .count();
    f.posture_accepted
        .get_or_create(&labels(&[("host", name)]))
        .set(count(accepted));
}

fn export_drills(f: &Families, host: &HostState, name: &str, limits: Limits) -> usize {
    let Some(drills) = &host.last_drill.value else {
        return 0;
    };
    // The apps never drilled, then the oldest successes, are the ones kept.
    let mut apps: Vec<_> = drills.apps.iter().collect();
    apps.sort_by_key(|a| a.last_success);
    let dropped = apps.len().saturating_sub(limits.drills);
    apps.truncate(limits.drills);
    for a in apps {
        let app = label(&a.app);
        let l = labels(&[("host", name), ("app", &app)]);
        if let Some(at) = a.last_success {
            f.drill_last_success.get_or_create(&l).set(seconds(at));
        }
        let limit = i64::try_from(a.warning_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
        f.drill_warning_age.get_or_create(&l).set(limit);
    }
    dropped
}

#[cfg(test)]
mod tests;
