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
    }
    let mut out = String::new();
    let widths: Vec<usize> = (0..6)
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
