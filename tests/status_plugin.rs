//! `status --format nagios|checkmk` on hosts whose every name and message is hostile
//! (quotes, `|`, `=`, newlines, escape sequences, backslashes): the outputs still
//! parse by the tools' documented grammars (tests/common/plugin_grammar.rs), the
//! Monitoring::Plugin library reads every performance-data item, nothing hostile
//! reaches the output raw, and a host in maintenance is listed as silenced.

#[path = "common/plugin_grammar.rs"]
mod grammar;

use fleetdeck::fleet::containers::{ContainerReport, Pinning};
use fleetdeck::fleet::model::{Expectations, HostState};
use fleetdeck::fleet::plugin::{self, Check, Limits};
use fleetdeck::fleet::problems::SignalKind;
use fleetdeck::probes::Severity;
use fleetdeck::probes::backup::{BackupRepo, BackupReport, BackupState};
use fleetdeck::probes::cert::{CertEndpoint, CertReport};
use fleetdeck::probes::host::{FilesystemUse, ResourcesReport};
use fleetdeck::probes::maintenance::Maintenance;
use fleetdeck::probes::posture::Finding;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2027-03-01 12:00 UTC);

/// Every kind of text a hostile host (or a careless inventory) could hand over.
const HOSTILE: &str = "x'y\"z|a=b;c\nnext line\r\x1b[31mred\x1b[0m \\n back\\slash\t%";

fn container(name: &str, severity: Severity, problem: Option<&str>) -> ContainerReport {
    ContainerReport {
        name: name.into(),
        id: "0123456789ab".into(),
        state: "running".into(),
        health: (severity != Severity::Ok).then(|| "unhealthy".to_owned()),
        health_output: problem.map(str::to_owned),
        restart_count: 0,
        exit_code: None,
        oom_killed: false,
        started_at: None,
        uptime_seconds: Some(60),
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

/// A reachable host with one hostile problem in each of containers, backups, certs and
/// resources (and a hostile name).
fn hostile_host(name: &str) -> HostState {
    let mut host = HostState::new(
        name,
        vec![],
        Expectations {
            backups: true,
            certs: true,
            firewall: false,
            host_round: true,
        },
    );
    host.reachable = Some(true);
    host.last_contact = Some(NOW);
    host.containers.set(
        vec![
            container(&format!("web{HOSTILE}"), Severity::Critical, Some(HOSTILE)),
            container("db", Severity::Ok, None),
        ],
        NOW,
    );
    let repo: BackupRepo = serde_json::from_value(serde_json::json!({
        "name": format!("data{HOSTILE}"),
        "kind": "restic",
        "repository": "/srv/backup/repo",
    }))
    .expect("a backup repository");
    let mut backup = BackupReport::failed(&repo, BackupState::Listed, HOSTILE);
    backup.error = None;
    backup.age_seconds = Some(200_000);
    backup.severity = Severity::Critical;
    host.backups.set(vec![backup], NOW);
    let endpoint: CertEndpoint = serde_json::from_value(serde_json::json!({
        "name": format!("https{HOSTILE}"),
        "host": "10.0.0.1",
    }))
    .expect("an endpoint");
    let mut cert = CertReport::unreachable(&endpoint, NOW, HOSTILE);
    cert.error = None;
    cert.days_left = Some(-3);
    cert.not_after = Some(NOW - time::Duration::days(3));
    cert.severity = Severity::Critical;
    host.certs.set(vec![cert], NOW);
    let mount = format!("/srv/{HOSTILE}");
    let mut resources = ResourcesReport::failed("");
    resources.error = None;
    resources.severity = Severity::Critical;
    resources.filesystems.push(FilesystemUse {
        mount: mount.clone(),
        source: "/dev/vda1".into(),
        fstype: "ext4".into(),
        size_bytes: 100,
        used_bytes: 96,
        available_bytes: 4,
        used_percent: 96,
        inodes_used_percent: Some(3),
        severity: Severity::Critical,
    });
    resources.findings.push(
        Finding::new("disk", None, Severity::Critical, HOSTILE, "free space").on_mount(&mount),
    );
    host.resources.set(resources, NOW);
    host.host_posture.set(Vec::new(), NOW);
    host
}

/// `hostile_host` in a maintenance window whose text is hostile too.
fn host_in_maintenance(name: &str) -> HostState {
    let mut host = hostile_host(name);
    host.maintenance.set(
        Some(Maintenance {
            by: format!("ops{HOSTILE}"),
            started_at: NOW - time::Duration::hours(1),
            until: NOW + time::Duration::hours(1),
            reason: format!("kernel{HOSTILE}"),
        }),
        NOW,
    );
    host
}

fn fleet() -> Vec<HostState> {
    vec![
        hostile_host(&format!("alpha{HOSTILE}")),
        host_in_maintenance("beta"),
    ]
}

/// Nothing raw of the hostile text: no control character anywhere but the line ends,
/// and no escape sequence.
fn assert_no_raw_control(output: &str) {
    for line in output.lines() {
        assert!(
            !line.chars().any(char::is_control),
            "a control character in {line:?}"
        );
    }
}

#[test]
fn nagios_output_keeps_its_grammar_with_hostile_names_and_messages() {
    let hosts = fleet();
    let limits = Limits::default();
    let output = plugin::nagios(&Check {
        hosts: &hosts,
        limits: &limits,
        selection: &[],
        now: NOW,
    });
    assert_no_raw_control(&output);
    let parsed = grammar::nagios(&output);
    // beta is in maintenance: its critical problems do not count.
    assert_eq!(parsed.state, "CRITICAL", "{output}");
    assert!(parsed.text.contains("(1 in maintenance)"), "{output}");
    // One long line per problem of alpha (containers, backups, certs, disk), then
    // beta's window and its four problems, silenced.
    assert_eq!(parsed.long.len(), 4 + 1 + 4, "{output}");
    assert_eq!(
        parsed
            .long
            .iter()
            .filter(|l| l.ends_with("(silenced)"))
            .count(),
        4,
        "{output}"
    );
    assert!(parsed.long[4].starts_with("beta: in maintenance until 2027-03-01T13:00:00Z by ops"));
    // Per host: reachable, 3 container counts, a backup age, a certificate's days, a
    // disk's use and the posture findings.
    assert_eq!(parsed.perfdata.len(), 2 * 8, "{output}");
    let by_perl = grammar::perl_perfdata(&parsed.perf_raw);
    let labels: Vec<&str> = by_perl.iter().map(|(label, _, _)| label.as_str()).collect();
    let ours: Vec<&str> = parsed
        .perfdata
        .iter()
        .map(|(label, _)| label.as_str())
        .collect();
    assert_eq!(labels, ours, "Monitoring::Plugin reads the same items");
    let backup = by_perl
        .iter()
        .find(|(label, _, _)| label.starts_with("alpha") && label.contains("backup_age"))
        .expect("alpha's backup age");
    assert_eq!((backup.1.as_str(), backup.2.as_str()), ("200000", "s"));
    let cert = parsed
        .perfdata
        .iter()
        .find(|(label, _)| label.starts_with("beta cert_days_left"))
        .expect("beta's certificate");
    assert_eq!(cert.1, "-3");
    let disk = parsed
        .perfdata
        .iter()
        .find(|(label, _)| label.starts_with("beta disk_used"))
        .expect("beta's disk");
    assert_eq!(disk.1, "96%;80;90;0;100", "the default disk thresholds");
}

#[test]
fn checkmk_section_has_one_service_per_host_and_signal_and_keeps_its_grammar() {
    let hosts = fleet();
    let limits = Limits::default();
    let output = plugin::checkmk(&Check {
        hosts: &hosts,
        limits: &limits,
        selection: &[],
        now: NOW,
    });
    assert_no_raw_control(&output);
    let services = grammar::checkmk(&output);
    // host, containers, backups, certs, resources, posture for each (no firewall or
    // apps declared).
    assert_eq!(services.len(), 2 * 6, "{output}");
    let mut names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        services.len(),
        "service names are unique: {output}"
    );
    let status = |name: &str| {
        services
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} in {output}"))
    };
    let alpha = services
        .iter()
        .find(|s| s.name.starts_with("fleetdeck_alpha") && s.name.ends_with("_containers"))
        .expect("alpha's containers");
    assert_eq!(alpha.status, 2);
    assert!(
        alpha.details.starts_with("critical: container web"),
        "{alpha:?}"
    );
    assert_eq!(
        alpha.metrics,
        vec![
            ("containers_running".to_owned(), "2;;;0".to_owned()),
            ("containers_unhealthy".to_owned(), "1;;;0".to_owned()),
            ("containers_failing".to_owned(), "1;;;0".to_owned()),
        ]
    );
    assert_eq!(status("fleetdeck_beta_host").status, 0);
    // beta is in maintenance: OK, with the window first and the problems silenced.
    for signal in ["containers", "backups", "certs", "resources"] {
        let service = status(&format!("fleetdeck_beta_{signal}"));
        assert_eq!(service.status, 0, "{service:?}");
        let mut lines = service.details.lines();
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with("in maintenance until 2027-03-01T13:00:00Z")),
            "{service:?}"
        );
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with("critical: ") && l.ends_with("(silenced)")),
            "{service:?}"
        );
    }
    // The window's own text: one line, its `|` and `\` replaced, escape sequences gone.
    let posture = &status("fleetdeck_beta_posture").details;
    assert!(
        posture
            .starts_with("in maintenance until 2027-03-01T13:00:00Z by opsx'y\"z/a=b;c next line")
            && posture.contains(": kernelx'y")
            && !posture.contains(['\n', '|', '\\'])
            && !posture.contains("[31m"),
        "{posture:?}"
    );
}

#[test]
fn a_selection_judges_only_its_signals_and_reachability() {
    let mut hosts = fleet();
    hosts[1].maintenance.set(None, NOW);
    let limits = Limits::default();
    let selection = [SignalKind::Backups];
    let check = Check {
        hosts: &hosts,
        limits: &limits,
        selection: &selection,
        now: NOW,
    };
    let services = grammar::checkmk(&plugin::checkmk(&check));
    let names: Vec<String> = services
        .iter()
        .map(|s| s.name.rsplit('_').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["host", "backups", "host", "backups"]);
    let parsed = grammar::nagios(&plugin::nagios(&check));
    assert_eq!(parsed.state, "CRITICAL");
    assert!(parsed.text.ends_with("[backups]"), "{parsed:?}");
    assert_eq!(
        parsed.long.len(),
        2,
        "one backup problem per host: {parsed:?}"
    );
    assert!(parsed.long.iter().all(|l| l.contains(": backup data")));
    let json = plugin::json(&hosts, &selection, NOW);
    assert_eq!(json["selected_signals"], serde_json::json!(["backups"]));
    assert_eq!(json["severity"], "critical");
    for host in json["hosts"].as_array().expect("hosts") {
        let problems = host["problems"].as_array().expect("problems");
        assert_eq!(problems.len(), 1, "{host}");
        assert_eq!(problems[0]["signal"], "backups");
    }
    let table = plugin::table(&hosts, &selection, NOW);
    assert!(table.starts_with("HOST"), "{table}");
    assert_eq!(
        table.lines().filter(|l| l.starts_with("CRITICAL")).count(),
        2,
        "{table}"
    );
    assert_no_raw_control(&table);

    // Reachability is in every selection: an unreachable host is critical for it.
    hosts[1].reachable = Some(false);
    hosts[1].error = Some("connection refused".into());
    let selection = [SignalKind::Firewall];
    let check = Check {
        hosts: &hosts[1..],
        limits: &limits,
        selection: &selection,
        now: NOW,
    };
    let parsed = grammar::nagios(&plugin::nagios(&check));
    assert_eq!(parsed.state, "CRITICAL", "{parsed:?}");
    assert_eq!(
        parsed.long,
        ["CRITICAL beta: unreachable: connection refused"]
    );
    let services = grammar::checkmk(&plugin::checkmk(&check));
    assert_eq!(
        services.len(),
        1,
        "firewall is not declared on beta: {services:?}"
    );
    assert_eq!(
        (services[0].name.as_str(), services[0].status),
        ("fleetdeck_beta_host", 2)
    );
}

/// contrib/nagios/check_fleetdeck and contrib/checkmk/fleetdeck when fleetdeck cannot
/// start (here: an inventory that does not exist): one UNKNOWN line saying why, in
/// each tool's grammar, rather than nothing.
#[test]
fn the_contrib_wrappers_turn_a_failed_start_into_an_unknown_with_the_reason() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let missing = "/nonexistent/fleetdeck-inventory.yml";
    let out = std::process::Command::new(root.join("contrib/nagios/check_fleetdeck"))
        .args(["-i", missing, "--signal", "backups"])
        .env("FLEETDECK_BIN", env!("CARGO_BIN_EXE_fleetdeck"))
        .env_remove("FLEETDECK_INVENTORY")
        .output()
        .expect("running check_fleetdeck");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(3), "{text}");
    let parsed = grammar::nagios(&text);
    assert_eq!(parsed.state, "UNKNOWN");
    assert!(
        parsed
            .text
            .starts_with("fleetdeck status printed nothing (exit 3): ")
            && parsed.text.contains(missing),
        "{text}"
    );

    let confdir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        confdir.path().join("fleetdeck.cfg"),
        format!(
            "FLEETDECK_INVENTORY={missing}\nFLEETDECK_BIN={}\n",
            env!("CARGO_BIN_EXE_fleetdeck")
        ),
    )
    .expect("writing fleetdeck.cfg");
    let out = std::process::Command::new(root.join("contrib/checkmk/fleetdeck"))
        .env("MK_CONFDIR", confdir.path())
        .env_remove("FLEETDECK_INVENTORY")
        .output()
        .expect("running the Checkmk plugin");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "an agent plugin exits 0: {text}");
    let services = grammar::checkmk(&text);
    assert_eq!(services.len(), 1, "{text}");
    assert_eq!(
        (services[0].name.as_str(), services[0].status),
        ("fleetdeck_status", 3)
    );
    assert!(services[0].details.contains(missing), "{text}");
}
