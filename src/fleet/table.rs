//! The readable form of a snapshot for a terminal: one line per host, then one line per
//! problem, worst first — what to look at before anything else.

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::model::HostState;
use crate::probes::Severity;

pub fn render(hosts: &[HostState], now: OffsetDateTime) -> String {
    let mut rows = vec![[
        "HOST".to_owned(),
        "SEVERITY".to_owned(),
        "CONTAINERS".to_owned(),
        "BACKUPS".to_owned(),
        "CERTIFICATES".to_owned(),
        "FIREWALL".to_owned(),
        "DISK".to_owned(),
        "POSTURE".to_owned(),
    ]];
    let mut problems: Vec<(Severity, String, String)> = Vec::new();
    for host in hosts {
        let severity = host.severity();
        if host.reachable == Some(false) {
            rows.push([
                host.name.clone(),
                label(severity),
                "unreachable".to_owned(),
                "-".to_owned(),
                certs_cell(host),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ]);
            problems.push((
                Severity::Critical,
                host.name.clone(),
                format!(
                    "unreachable: {}",
                    host.error.as_deref().unwrap_or("no answer")
                ),
            ));
            collect_cert_problems(host, &mut problems);
            continue;
        }
        rows.push([
            host.name.clone(),
            label(severity),
            containers_cell(host),
            backups_cell(host, now),
            certs_cell(host),
            firewall_cell(host),
            disk_cell(host),
            posture_cell(host),
        ]);
        for c in host.containers.value.iter().flatten() {
            if let Some(problem) = &c.problem {
                problems.push((
                    c.severity,
                    host.name.clone(),
                    format!("container {}: {problem}", c.name),
                ));
            }
        }
        if let Some(error) = &host.containers.error {
            problems.push((
                Severity::Unknown,
                host.name.clone(),
                format!("containers: {error}"),
            ));
        }
        for b in host.backups.value.iter().flatten() {
            if b.severity != Severity::Ok {
                let what = match (&b.error, b.age_seconds) {
                    (Some(error), _) => error.clone(),
                    (None, Some(age)) => format!("latest snapshot {} ago", age_text(age)),
                    (None, None) => "no snapshot".to_owned(),
                };
                problems.push((
                    b.severity,
                    host.name.clone(),
                    format!("backup {}: {what}", b.repo),
                ));
            }
        }
        collect_cert_problems(host, &mut problems);
        if let Some(f) = &host.firewall.value {
            for drift in &f.drift {
                problems.push((
                    drift.severity,
                    host.name.clone(),
                    format!("firewall: {}", drift.message),
                ));
            }
            if let Some(error) = &f.error {
                problems.push((f.severity, host.name.clone(), format!("firewall: {error}")));
            }
        }
        collect_signal_problems(host, &mut problems);
    }
    let mut out = String::new();
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    problems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    if !problems.is_empty() {
        out.push('\n');
        for (severity, host, text) in problems {
            let _ = writeln!(out, "{:<8}  {host}  {text}", label(severity));
        }
    }
    out
}

fn collect_cert_problems(host: &HostState, problems: &mut Vec<(Severity, String, String)>) {
    for c in host.certs.value.iter().flatten() {
        if c.severity == Severity::Ok {
            continue;
        }
        let what = match (&c.error, c.lifetime()) {
            (Some(error), _) => error.clone(),
            (None, Some(lifetime)) => lifetime.text(),
            (None, None) => "not measured".to_owned(),
        };
        problems.push((
            c.severity,
            host.name.clone(),
            format!("certificate {} ({}:{}): {what}", c.endpoint, c.host, c.port),
        ));
    }
}

/// The counted findings of resources and posture, and the apps that differ from the
/// declaration; findings that could not be told or are accepted are not problems.
fn collect_signal_problems(host: &HostState, problems: &mut Vec<(Severity, String, String)>) {
    if let Some(resources) = &host.resources.value {
        for finding in resources.findings.iter().filter(|f| f.counts()) {
            problems.push((
                finding.severity,
                host.name.clone(),
                format!("{}: {}", finding.check, finding.reason),
            ));
        }
        if let Some(error) = &resources.error {
            problems.push((
                resources.severity,
                host.name.clone(),
                format!("resources: {error}"),
            ));
        }
    }
    if let Some(posture) = host.posture() {
        for finding in posture.findings.iter().filter(|f| f.counts()) {
            let whose = match &finding.container {
                Some(container) => format!("container {container}: "),
                None => String::new(),
            };
            problems.push((
                finding.severity,
                host.name.clone(),
                format!("{whose}{}: {}", finding.check, finding.reason),
            ));
        }
    }
    if let Some(error) = &host.host_posture.error {
        problems.push((
            Severity::Unknown,
            host.name.clone(),
            format!("posture: {error}"),
        ));
    }
    if let Some(apps) = host.apps() {
        for entry in apps
            .apps
            .iter()
            .filter(|e| !matches!(e.severity, Severity::Ok | Severity::Unknown))
        {
            problems.push((
                entry.severity,
                host.name.clone(),
                format!("app {}: {}", entry.app, entry.reason),
            ));
        }
    }
}

fn label(severity: Severity) -> String {
    match severity {
        Severity::Ok => "ok".to_owned(),
        other => other.as_str().to_uppercase(),
    }
}

fn containers_cell(host: &HostState) -> String {
    match &host.containers.value {
        None => host
            .containers
            .error
            .as_ref()
            .map(|_| "unknown".to_owned())
            .unwrap_or_else(|| "-".to_owned()),
        Some(list) => {
            let fine = list.iter().filter(|c| c.severity == Severity::Ok).count();
            format!("{fine}/{} ok", list.len())
        }
    }
}

fn backups_cell(host: &HostState, _now: OffsetDateTime) -> String {
    let Some(list) = &host.backups.value else {
        return "-".to_owned();
    };
    let worst = list.iter().max_by_key(|b| b.severity);
    match worst {
        None => "-".to_owned(),
        Some(b) => match b.age_seconds {
            Some(age) => format!("{} ago{}", age_text(age), marker(b.severity)),
            None => format!("{:?}{}", b.state, marker(b.severity)).to_lowercase(),
        },
    }
}

fn certs_cell(host: &HostState) -> String {
    let Some(list) = &host.certs.value else {
        return "-".to_owned();
    };
    match list.iter().max_by_key(|c| c.severity) {
        None => "-".to_owned(),
        Some(c) => match c.lifetime() {
            Some(lifetime) => format!("{}{}", lifetime.text(), marker(c.severity)),
            None => format!("unknown{}", marker(c.severity)),
        },
    }
}

fn firewall_cell(host: &HostState) -> String {
    match &host.firewall.value {
        None => "-".to_owned(),
        Some(f) if f.error.is_some() => format!("unreadable{}", marker(f.severity)),
        Some(f) if f.drift.is_empty() => "as declared".to_owned(),
        Some(f) => format!("drift ({}){}", f.drift.len(), marker(f.severity)),
    }
}

/// The fullest filesystem's use (space or inodes, whichever is fuller): `93% CRITICAL`.
fn disk_cell(host: &HostState) -> String {
    match &host.resources.value {
        None => "-".to_owned(),
        Some(r) => match r.fullest() {
            Some(f) => format!(
                "{}%{}",
                f.used_percent
                    .max(f.inodes_used_percent.unwrap_or_default()),
                marker(f.severity)
            ),
            None if r.error.is_some() => format!("unknown{}", marker(r.severity)),
            None => "-".to_owned(),
        },
    }
}

/// How many findings count, and the worst: `ok`, `3 CRITICAL`.
fn posture_cell(host: &HostState) -> String {
    match host.posture() {
        None => "-".to_owned(),
        Some(p) => match p.findings.iter().filter(|f| f.counts()).count() {
            0 => "ok".to_owned(),
            n => format!("{n}{}", marker(p.severity)),
        },
    }
}

fn marker(severity: Severity) -> String {
    match severity {
        Severity::Ok => String::new(),
        other => format!(" {}", label(other)),
    }
}

/// `50h`, `3d`, `12m`: enough to judge at a glance.
pub fn age_text(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 4 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::containers::{ContainerUpdate, Pinning};
    use crate::fleet::model::{Expectations, HostEvent};
    use crate::probes::host::{FilesystemUse, HostReport, ResourcesReport};
    use crate::probes::posture::{AcceptedException, Finding, PosturePolicy};
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2027-01-01 10:00 UTC);

    fn filesystem(mount: &str, used: u8, inodes: u8, severity: Severity) -> FilesystemUse {
        FilesystemUse {
            mount: mount.into(),
            source: "/dev/vdb".into(),
            fstype: "ext4".into(),
            size_bytes: 100 << 30,
            used_bytes: u64::from(used) << 30,
            available_bytes: u64::from(100 - used) << 30,
            used_percent: used,
            inodes_used_percent: Some(inodes),
            severity,
        }
    }

    fn host(name: &str, filesystems: Vec<FilesystemUse>, findings: Vec<Finding>) -> HostState {
        let mut host = HostState::new(
            name,
            vec![],
            Expectations {
                host_round: true,
                ..Expectations::default()
            },
        );
        host.apply(HostEvent::Up { at: AT });
        let socket_proxy = crate::fleet::containers::ContainerReport {
            name: "socket-proxy".into(),
            id: "aaaaaaaaaaaa".into(),
            state: "running".into(),
            health: None,
            health_output: None,
            restart_count: 0,
            exit_code: None,
            oom_killed: false,
            started_at: None,
            uptime_seconds: Some(60),
            image: "tecnativa/docker-socket-proxy:0.2".into(),
            image_pinned: Pinning::Tag,
            severity: Severity::Ok,
            problem: None,
            app: None,
            service: None,
            config_hash: None,
            findings: vec![Finding::new(
                "docker_socket",
                Some("socket-proxy"),
                Severity::Critical,
                "mounts /var/run/docker.sock",
                "mount a filtering proxy",
            )],
            published: Vec::new(),
        };
        host.apply(HostEvent::Containers(ContainerUpdate::All(
            vec![socket_proxy],
            AT,
        )));
        host.posture_policy = std::sync::Arc::new(PosturePolicy {
            accept: vec![AcceptedException {
                container: "socket-proxy".into(),
                check: "docker_socket".into(),
                reason: "it filters the API".into(),
            }],
            ..PosturePolicy::default()
        });
        let mut resources = ResourcesReport::failed("");
        resources.error = None;
        resources.severity = Severity::worst(filesystems.iter().map(|f| f.severity));
        resources.findings = filesystems
            .iter()
            .filter(|f| f.severity != Severity::Ok)
            .map(|f| {
                Finding::new(
                    "disk",
                    None,
                    f.severity,
                    format!("{} is {}% full", f.mount, f.used_percent),
                    "free space",
                )
            })
            .collect();
        resources.filesystems = filesystems;
        host.apply(HostEvent::Host(
            Box::new(HostReport {
                resources,
                posture: findings,
                posture_error: None,
            }),
            AT,
        ));
        host
    }

    #[test]
    fn disk_shows_the_fullest_filesystem_and_posture_the_counted_findings() {
        let clean = host(
            "clean",
            vec![filesystem("/", 41, 12, Severity::Ok)],
            vec![Finding::new(
                "fail2ban",
                None,
                Severity::Unknown,
                "fail2ban is not installed",
                "install fail2ban",
            )],
        );
        let full = host(
            "full",
            vec![
                filesystem("/", 41, 12, Severity::Ok),
                filesystem("/srv", 93, 3, Severity::Critical),
            ],
            vec![
                Finding::new(
                    "sshd_password_login",
                    None,
                    Severity::Critical,
                    "sshd accepts passwords",
                    "PasswordAuthentication no",
                ),
                Finding::new(
                    "sshd_max_auth_tries",
                    None,
                    Severity::Warning,
                    "sshd allows 10 tries",
                    "MaxAuthTries 3",
                ),
            ],
        );
        let out = render(&[clean, full], AT);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].ends_with("FIREWALL  DISK          POSTURE"),
            "{out}"
        );
        // The unknown fail2ban and the accepted socket do not count.
        assert!(lines[1].ends_with("41%           ok"), "{out}");
        assert!(lines[2].ends_with("93% CRITICAL  2 CRITICAL"), "{out}");
        assert!(
            out.contains("CRITICAL  full  disk: /srv is 93% full"),
            "{out}"
        );
        assert!(
            out.contains("CRITICAL  full  sshd_password_login: sshd accepts passwords"),
            "{out}"
        );
        assert!(
            out.contains("WARNING   full  sshd_max_auth_tries: sshd allows 10 tries"),
            "{out}"
        );
        assert!(
            !out.contains("fail2ban") && !out.contains("docker.sock"),
            "{out}"
        );
    }
}
