use std::collections::BTreeMap;
use std::sync::Arc;

use time::macros::datetime;

use super::*;
use crate::fleet::containers::{ContainerReport, Pinning};
use crate::fleet::model::{DeclaredThresholds, Expectations};
use crate::probes::backup::{BackupKind, BackupReport, BackupState};
use crate::probes::cert::CertReport;
use crate::probes::firewall::{Drift, FirewallReport};
use crate::probes::maintenance::Maintenance;

const NOW: OffsetDateTime = datetime!(2027-03-01 12:00 UTC);

/// One sample of the exposition: its name, labels (unescaped) and value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A strict reader of the text format: `# HELP`/`# TYPE` lines, `# EOF` last, and
/// samples `name{label="value",…} number` whose label values use only the escapes
/// `\\`, `\"` and `\n`. Panics on anything else.
fn parse(text: &str) -> Vec<Sample> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.pop(), Some(""), "ends with a newline");
    assert_eq!(lines.pop(), Some("# EOF"), "ends with # EOF");
    let mut samples = Vec::new();
    for line in lines {
        assert!(
            !line.chars().any(|c| c.is_control()),
            "control character in {line:?}"
        );
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line:?}");
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let name = &line[..name_end];
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name {name:?}"
        );
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(after) = rest.strip_prefix('{') {
            let mut chars = after.char_indices().peekable();
            loop {
                let (start, _) = *chars.peek().expect("label or }");
                if after[start..].starts_with('}') {
                    chars.next();
                    rest = &after[start + 1..];
                    break;
                }
                let eq = after[start..].find("=\"").expect("label=\"") + start;
                let key = after[start..eq].to_owned();
                while chars.peek().is_some_and(|(i, _)| *i <= eq + 1) {
                    chars.next();
                }
                let mut value = String::new();
                loop {
                    let (_, c) = chars.next().expect("closing quote");
                    match c {
                        '"' => break,
                        '\\' => match chars.next().expect("escaped").1 {
                            '\\' => value.push('\\'),
                            '"' => value.push('"'),
                            'n' => value.push('\n'),
                            other => panic!("bad escape \\{other} in {line:?}"),
                        },
                        c => value.push(c),
                    }
                }
                if chars.peek().is_some_and(|(_, c)| *c == ',') {
                    chars.next();
                }
                assert!(labels.insert(key, value).is_none(), "label twice: {line:?}");
            }
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no space before the value: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

fn find<'a>(samples: &'a [Sample], name: &str, want: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

fn one(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    let found = find(samples, name, want);
    assert_eq!(found.len(), 1, "{name} {want:?}: {found:?}");
    found[0].value
}

fn container(name: &str, state: &str, health: Option<&str>, severity: Severity) -> ContainerReport {
    ContainerReport {
        name: name.into(),
        id: "0123456789ab".into(),
        state: state.into(),
        health: health.map(str::to_owned),
        health_output: None,
        restart_count: 0,
        exit_code: None,
        oom_killed: false,
        started_at: None,
        uptime_seconds: None,
        image: "nginx:1.27".into(),
        image_pinned: Pinning::Tag,
        severity,
        problem: None,
        app: None,
        service: None,
        config_hash: None,
        findings: Vec::new(),
        published: Vec::new(),
    }
}

fn up_host(name: &str) -> HostState {
    let mut host = HostState::new(name, Vec::new(), Expectations::default());
    host.reachable = Some(true);
    host.last_contact = Some(NOW);
    host
}

fn backup(repo: &str, latest: Option<OffsetDateTime>, severity: Severity) -> BackupReport {
    BackupReport {
        repo: repo.into(),
        kind: BackupKind::Restic,
        repository: "/srv/restic".into(),
        latest,
        age_seconds: latest.map(|l| (NOW - l).whole_seconds()),
        count: 3,
        latest_id: None,
        latest_host: None,
        snapshots: Vec::new(),
        state: BackupState::Listed,
        severity,
        error: None,
    }
}

fn cert(endpoint: &str, not_after: OffsetDateTime, severity: Severity) -> CertReport {
    CertReport {
        endpoint: endpoint.into(),
        host: "10.0.0.1".into(),
        port: 443,
        server_name: "example.test".into(),
        checked_at: NOW,
        not_after: Some(not_after),
        not_before: None,
        days_left: Some((not_after - NOW).whole_days()),
        issuer: None,
        subject: None,
        names: Vec::new(),
        chain_valid: true,
        chain_error: None,
        name_matches: true,
        severity,
        error: None,
    }
}

#[test]
fn a_host_reads_as_its_state() {
    let mut host = up_host("web1");
    host.containers.set(
        vec![
            container("api", "running", Some("healthy"), Severity::Ok),
            container("worker", "running", Some("unhealthy"), Severity::Critical),
            container("loop", "restarting", None, Severity::Critical),
            // A kept revision, stopped: Docker still says its last check failed.
            container("web.prev", "exited", Some("unhealthy"), Severity::Ok),
        ],
        NOW,
    );
    let stale = datetime!(2027-02-27 12:00 UTC);
    host.backups.set(
        vec![backup("nightly", Some(stale), Severity::Critical)],
        NOW,
    );
    let mut thresholds = DeclaredThresholds::default();
    thresholds.backups.insert("nightly".into(), (12, 36));
    host.thresholds = Arc::new(thresholds);
    host.expects.backups = true;
    let not_after = datetime!(2027-03-04 12:00 UTC);
    host.certs
        .set(vec![cert("https", not_after, Severity::Critical)], NOW);
    let drift = Drift {
        kind: DriftKind::ExtraPort,
        severity: Severity::Critical,
        message: "5432/tcp is open from anywhere but not declared".into(),
        port: Some(5432),
        port_end: None,
        proto: None,
    };
    host.firewall.set(
        FirewallReport {
            backend: None,
            severity: Severity::Critical,
            drift: vec![drift],
            observed: None,
            unknown: Vec::new(),
            error: None,
        },
        NOW,
    );
    let until = datetime!(2027-03-01 14:00 UTC);
    host.maintenance.set(
        Some(Maintenance {
            by: "ops@desk".into(),
            started_at: datetime!(2027-03-01 11:00 UTC),
            until,
            reason: "kernel".into(),
        }),
        NOW,
    );
    let mut down = HostState::new("db1", Vec::new(), Expectations::default());
    down.reachable = Some(false);
    down.error = Some("connection refused".into());
    let never = HostState::new("new1", Vec::new(), Expectations::default());

    let samples = parse(&render(&[host, down, never], NOW));
    let web = [("host", "web1")];
    assert_eq!(one(&samples, "fleetdeck_host_up", &web), 1.0);
    assert_eq!(one(&samples, "fleetdeck_host_up", &[("host", "db1")]), 0.0);
    assert!(find(&samples, "fleetdeck_host_up", &[("host", "new1")]).is_empty());
    assert_eq!(one(&samples, "fleetdeck_host_severity", &web), 2.0);
    assert_eq!(
        one(&samples, "fleetdeck_host_severity", &[("host", "new1")]),
        3.0
    );
    assert_eq!(one(&samples, "fleetdeck_host_maintenance", &web), 1.0);
    assert_eq!(
        one(
            &samples,
            "fleetdeck_host_maintenance_end_timestamp_seconds",
            &web
        ),
        until.unix_timestamp() as f64
    );
    assert_eq!(
        one(&samples, "fleetdeck_host_maintenance", &[("host", "db1")]),
        0.0
    );
    let worker = [("host", "web1"), ("container", "worker")];
    assert_eq!(one(&samples, "fleetdeck_container_unhealthy", &worker), 1.0);
    assert_eq!(one(&samples, "fleetdeck_container_running", &worker), 1.0);
    assert_eq!(
        one(
            &samples,
            "fleetdeck_container_restarting",
            &[("container", "loop")]
        ),
        1.0
    );
    assert_eq!(
        one(
            &samples,
            "fleetdeck_container_unhealthy",
            &[("container", "api")]
        ),
        0.0
    );
    assert_eq!(
        one(
            &samples,
            "fleetdeck_container_unhealthy",
            &[("container", "web.prev")]
        ),
        0.0,
        "a stopped container's last health says nothing about it now"
    );
    let repo = [("host", "web1"), ("repo", "nightly")];
    assert_eq!(
        one(
            &samples,
            "fleetdeck_backup_newest_snapshot_timestamp_seconds",
            &repo
        ),
        stale.unix_timestamp() as f64
    );
    assert_eq!(
        one(&samples, "fleetdeck_backup_warning_age_seconds", &repo),
        12.0 * 3600.0
    );
    assert_eq!(
        one(&samples, "fleetdeck_backup_critical_age_seconds", &repo),
        36.0 * 3600.0
    );
    let https = [("host", "web1"), ("endpoint", "https")];
    assert_eq!(
        one(
            &samples,
            "fleetdeck_certificate_not_after_timestamp_seconds",
            &https
        ),
        not_after.unix_timestamp() as f64
    );
    assert_eq!(one(&samples, "fleetdeck_certificate_verified", &https), 1.0);
    // No thresholds declared for the endpoint: fleetdeck's defaults, 21 and 7 days.
    assert_eq!(
        one(
            &samples,
            "fleetdeck_certificate_warning_threshold_seconds",
            &https
        ),
        21.0 * 86400.0
    );
    assert_eq!(
        one(
            &samples,
            "fleetdeck_certificate_critical_threshold_seconds",
            &https
        ),
        7.0 * 86400.0
    );
    assert_eq!(
        one(
            &samples,
            "fleetdeck_firewall_drift",
            &[
                ("host", "web1"),
                ("kind", "extra_port"),
                ("severity", "critical")
            ]
        ),
        1.0
    );
    assert_eq!(
        one(
            &samples,
            "fleetdeck_firewall_drift",
            &[
                ("host", "web1"),
                ("kind", "extra_port"),
                ("severity", "warning")
            ]
        ),
        0.0
    );
    // The problems counted are status's: two containers, one backup, one certificate,
    // one drift, all critical.
    for (signal, n) in [("containers", 2.0), ("backups", 1.0), ("certs", 1.0)] {
        assert_eq!(
            one(
                &samples,
                "fleetdeck_problems",
                &[
                    ("host", "web1"),
                    ("signal", signal),
                    ("severity", "critical")
                ]
            ),
            n,
            "{signal}"
        );
    }
    assert_eq!(
        one(
            &samples,
            "fleetdeck_signal_measured_timestamp_seconds",
            &[("host", "web1"), ("signal", "backups")]
        ),
        NOW.unix_timestamp() as f64
    );
    assert_eq!(one(&samples, "fleetdeck_exporter_hosts", &[]), 3.0);
}

#[test]
fn hostile_label_values_stay_one_line_and_bounded() {
    let hostile = [
        "quo\"te",
        "back\\slash\\",
        "new\nline",
        "\u{1b}[31mred\u{1b}[0m",
        "\u{1b}]0;title\u{7}osc",
        "nul\u{0}byte",
        "bidi\u{202e}txt",
    ];
    let long = "x".repeat(10_000);
    let mut host = up_host("web1");
    let mut containers = Vec::new();
    for (i, text) in hostile.iter().chain([&long.as_str()]).enumerate() {
        let mut c = container(&format!("c{i}"), "running", None, Severity::Ok);
        c.app = Some((*text).to_owned());
        c.service = Some(format!("{text}{text}"));
        c.image = (*text).to_owned();
        containers.push(c);
    }
    containers.push(container(&long, "exited", None, Severity::Warning));
    host.containers.set(containers, NOW);
    host.backups
        .set(vec![backup("ba\"ck\\up\n", Some(NOW), Severity::Ok)], NOW);
    let text = render(&[host], NOW);
    let samples = parse(&text);
    assert!(!text.contains('\u{1b}'), "an escape sequence got through");
    for sample in &samples {
        for (key, value) in &sample.labels {
            assert!(
                value.chars().count() <= MAX_LABEL_CHARS + 1,
                "{key} is {} characters",
                value.chars().count()
            );
            assert!(!value.contains('\n'), "{key}={value:?}");
            assert!(!value.chars().any(char::is_control), "{key}={value:?}");
        }
    }
    for (i, text) in hostile.iter().enumerate() {
        let app = one(
            &samples,
            "fleetdeck_container_info",
            &[("container", &format!("c{i}"))],
        );
        assert_eq!(app, 1.0);
        let info = find(
            &samples,
            "fleetdeck_container_info",
            &[("container", &format!("c{i}"))],
        );
        assert_eq!(info[0].labels["app"], label(text), "{text:?}");
    }
    // Quotes and backslashes are kept, escaped by the encoder, and read back as such.
    let quoted = find(&samples, "fleetdeck_container_info", &[("container", "c0")]);
    assert_eq!(quoted[0].labels["app"], "quo\"te");
    let slashed = find(&samples, "fleetdeck_container_info", &[("container", "c1")]);
    assert_eq!(slashed[0].labels["app"], "back\\slash\\");
    let repo = find(&samples, "fleetdeck_backup_snapshots", &[("host", "web1")]);
    assert_eq!(repo[0].labels["repo"], "ba\"ck\\up ");
    let cut = label(&long);
    assert_eq!(
        cut.chars().count(),
        MAX_LABEL_CHARS + 1,
        "the cut is marked"
    );
    assert!(cut.ends_with('…'));
    assert_eq!(
        find(
            &samples,
            "fleetdeck_container_running",
            &[("container", cut.as_str())]
        )
        .len(),
        1
    );
}

#[test]
fn ten_thousand_containers_stay_within_the_bound() {
    let mut host = up_host("big");
    let mut containers: Vec<ContainerReport> = (0..10_000)
        .map(|i| container(&format!("c{i:05}"), "running", None, Severity::Ok))
        .collect();
    containers[9_999] = container("sick", "running", Some("unhealthy"), Severity::Critical);
    host.containers.set(containers, NOW);
    let limits = Limits::default();
    let samples = parse(&render(&[host], NOW));
    let running = find(&samples, "fleetdeck_container_running", &[]);
    assert_eq!(running.len(), limits.containers);
    let container_series = samples
        .iter()
        .filter(|s| s.name.starts_with("fleetdeck_container_"))
        .count();
    assert_eq!(container_series, 6 * limits.containers);
    assert!(
        samples.len() < 6 * limits.containers + 200,
        "{} series in all",
        samples.len()
    );
    assert_eq!(
        one(
            &samples,
            "fleetdeck_exporter_series_dropped",
            &[("host", "big"), ("kind", "containers")]
        ),
        (10_000 - limits.containers) as f64
    );
    assert_eq!(
        one(
            &samples,
            "fleetdeck_container_unhealthy",
            &[("container", "sick")]
        ),
        1.0,
        "the worst are kept"
    );
    assert_eq!(
        one(
            &samples,
            "fleetdeck_exporter_series_dropped",
            &[("host", "big"), ("kind", "backups")]
        ),
        0.0
    );
}

#[test]
fn severities_are_the_exit_codes() {
    assert_eq!(severity_value(Severity::Ok), 0);
    assert_eq!(severity_value(Severity::Warning), 1);
    assert_eq!(severity_value(Severity::Critical), 2);
    assert_eq!(severity_value(Severity::Unknown), 3);
}

#[test]
fn every_family_is_documented() {
    let doc = include_str!("../../docs/exporter.md");
    for name in families::NAMES {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/exporter.md does not describe {name}"
        );
    }
}
