//! The readable form of a snapshot for a terminal: one line per host, then one line per
//! problem, worst first — what to look at before anything else.

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::model::HostState;
use crate::probes::Severity;
use crate::util::time::age_text;

pub fn render(hosts: &[HostState], now: OffsetDateTime) -> String {
    let mut rows = vec![
        [
            "HOST",
            "SEVERITY",
            "CONTAINERS",
            "BACKUPS",
            "CERTIFICATES",
            "FIREWALL",
            "DISK",
            "POSTURE",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    let mut problems = Vec::new();
    let mut windows = Vec::new();
    for host in hosts {
        let window = host.in_maintenance(now);
        let severity_cell = severity_cell(host.severity(), window.is_some());
        windows.extend(window.map(|window| window_line(&host.name, window)));
        if host.reachable == Some(false) {
            rows.push(vec![
                host.name.clone(),
                severity_cell,
                "unreachable".to_owned(),
                "-".to_owned(),
                certs_cell(host),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ]);
        } else {
            rows.push(vec![
                host.name.clone(),
                severity_cell,
                containers_cell(host),
                backups_cell(host, now),
                certs_cell(host),
                firewall_cell(host),
                disk_cell(host),
                posture_cell(host),
            ]);
        }
        for problem in host.problems() {
            problems.push(ProblemLine {
                severity: problem.severity,
                silenced: window.is_some(),
                host: host.name.clone(),
                text: problem.summary,
            });
        }
    }
    layout(&rows, &windows, problems)
}

/// One problem line under the table.
pub(super) struct ProblemLine {
    pub severity: Severity,
    /// Its host is in maintenance: listed after every other, marked.
    pub silenced: bool,
    pub host: String,
    pub text: String,
}

/// The severity column: a host in maintenance says so beside its severity.
pub(super) fn severity_cell(severity: Severity, in_maintenance: bool) -> String {
    if in_maintenance {
        format!("{} (maintenance)", label(severity))
    } else {
        label(severity)
    }
}

/// One line per open maintenance window, under the table.
pub(super) fn window_line(host: &str, window: &crate::probes::maintenance::Maintenance) -> String {
    format!(
        "{host}  maintenance until {} by {}: {}",
        crate::util::time::rfc3339(window.until),
        window.by,
        window.reason
    )
}

/// The rows in aligned columns, then the open windows, then the problems: the
/// silenced last, the worst first.
pub(super) fn layout(
    rows: &[Vec<String>],
    windows: &[String],
    mut problems: Vec<ProblemLine>,
) -> String {
    let mut out = String::new();
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
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
    if !windows.is_empty() {
        out.push('\n');
        for window in windows {
            let _ = writeln!(out, "{window}");
        }
    }
    problems.sort_by(|a, b| {
        (a.silenced.cmp(&b.silenced))
            .then(b.severity.cmp(&a.severity))
            .then(a.host.cmp(&b.host))
    });
    if !problems.is_empty() {
        out.push('\n');
        for line in problems {
            let silenced = if line.silenced { " (silenced)" } else { "" };
            let _ = writeln!(
                out,
                "{:<8}  {}  {}{silenced}",
                label(line.severity),
                line.host,
                line.text
            );
        }
    }
    out
}

pub(super) fn label(severity: Severity) -> String {
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
