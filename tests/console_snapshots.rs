//! Every console panel in its main states, drawn into ratatui's `TestBackend` and
//! compared with a reviewed snapshot (insta). The clock is fixed, so ages are stable;
//! colours are asserted where they carry meaning.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fleetdeck::fleet::containers::{ContainerReport, ContainerUpdate, Pinning};
use fleetdeck::fleet::facts::HostFacts;
use fleetdeck::fleet::model::HostEvent;
use fleetdeck::fleet::model::{Expectations, HostState};
use fleetdeck::probes::Severity;
use fleetdeck::probes::backup::{BackupKind, BackupReport, BackupState, SnapshotEntry};
use fleetdeck::probes::cert::CertReport;
use fleetdeck::probes::firewall::{
    Drift, DriftKind, FirewallReport, ObservedBackend, ObservedPolicy, OpenPort, Protocol, Verdict,
};
use fleetdeck::probes::host::{
    DockerDiskUse, FilesystemUse, HostReport, LoadUse, MemoryUse, RebootState, ResourcesReport,
    UpdatesState,
};
use fleetdeck::probes::posture::{AcceptedException, Finding, PosturePolicy};
use fleetdeck::tui::app::{App, Command, Msg, OpenWizard, Screen};
use fleetdeck::tui::keymap::Keymap;
use fleetdeck::tui::theme::{Role, Theme};
use fleetdeck::wizard::deploy::DeployOutput;
use fleetdeck::wizard::{OpRequest, ProgressEvent, Tone};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00:00 UTC);

fn container(
    name: &str,
    state: &str,
    health: Option<&str>,
    severity: Severity,
    problem: Option<&str>,
) -> ContainerReport {
    ContainerReport {
        name: name.to_owned(),
        id: format!("{name:0<12}").chars().take(12).collect(),
        state: state.to_owned(),
        health: health.map(str::to_owned),
        health_output: None,
        restart_count: if state == "restarting" { 12 } else { 0 },
        exit_code: (state == "exited").then_some(3),
        oom_killed: false,
        started_at: None,
        uptime_seconds: (state == "running").then_some(7200),
        image: "fleetdeck-lab/app:1.0".to_owned(),
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

fn backup(age_hours: i64, severity: Severity) -> BackupReport {
    BackupReport {
        repo: "app-data".to_owned(),
        kind: BackupKind::Restic,
        repository: "/srv/backup/restic".to_owned(),
        latest: Some(NOW - time::Duration::hours(age_hours)),
        age_seconds: Some(age_hours * 3600),
        count: 2,
        latest_id: Some("92cd0ba0".to_owned()),
        latest_host: None,
        snapshots: vec![
            SnapshotEntry {
                time: NOW - time::Duration::hours(age_hours),
                id: Some("92cd0ba0".to_owned()),
                name: None,
                host: Some("client-alpha".to_owned()),
                paths: vec!["/srv/app/data".to_owned()],
            },
            SnapshotEntry {
                time: NOW - time::Duration::hours(age_hours + 24),
                id: Some("5e1f0c33".to_owned()),
                name: None,
                host: Some("client-alpha".to_owned()),
                paths: vec!["/srv/app/data".to_owned(), "/etc/app".to_owned()],
            },
        ],
        state: BackupState::Listed,
        severity,
        error: None,
    }
}

fn cert(days: i64, severity: Severity) -> CertReport {
    CertReport {
        endpoint: "https".to_owned(),
        host: "10.89.0.11".to_owned(),
        port: 443,
        server_name: "web.example".to_owned(),
        checked_at: NOW,
        not_after: Some(NOW + time::Duration::days(days)),
        not_before: None,
        days_left: Some(days),
        issuer: Some("Example CA".to_owned()),
        subject: Some("web.example".to_owned()),
        names: vec!["web.example".to_owned()],
        chain_valid: true,
        chain_error: None,
        name_matches: true,
        severity,
        error: (severity != Severity::Ok).then(|| format!("{days} days left")),
    }
}

fn firewall(drift: bool) -> FirewallReport {
    let mut open = vec![
        OpenPort {
            port: 22,
            port_end: None,
            proto: Protocol::Tcp,
            sources: vec!["10.89.0.1".to_owned()],
            interface: None,
        },
        OpenPort {
            port: 443,
            port_end: None,
            proto: Protocol::Tcp,
            sources: vec![],
            interface: None,
        },
    ];
    let mut drifts = Vec::new();
    if drift {
        open.push(OpenPort {
            port: 5432,
            port_end: None,
            proto: Protocol::Tcp,
            sources: vec![],
            interface: None,
        });
        drifts.push(Drift {
            kind: DriftKind::ExtraPort,
            severity: Severity::Critical,
            message: "5432/tcp is open from anywhere but not declared".to_owned(),
            port: Some(5432),
            port_end: None,
            proto: Some(Protocol::Tcp),
        });
    }
    FirewallReport {
        backend: Some(ObservedBackend::Nftables),
        severity: if drift {
            Severity::Critical
        } else {
            Severity::Ok
        },
        drift: drifts,
        observed: Some(ObservedPolicy {
            backend: ObservedBackend::Nftables,
            input_policy: Verdict::Drop,
            open,
            unknown: vec![],
            notes: vec![],
        }),
        unknown: vec![],
        error: None,
    }
}

fn host(name: &str, group: &str) -> HostState {
    let mut h = HostState::new(
        name,
        vec![group.to_owned()],
        Expectations {
            backups: true,
            certs: true,
            firewall: true,
            host_round: false,
        },
    );
    h.reachable = Some(true);
    h.last_contact = Some(NOW);
    h.rtt.set(std::time::Duration::from_micros(12_300), NOW);
    h
}

fn facts() -> HostFacts {
    HostFacts {
        hostname: Some("client-alpha".to_owned()),
        os: Some("Debian GNU/Linux 12 (bookworm)".to_owned()),
        kernel: Some("6.1.0-18-amd64".to_owned()),
        architecture: Some("x86_64".to_owned()),
        docker_version: Some("20.10.24+dfsg1".to_owned()),
        cpus: Some(2),
        memory_bytes: Some(24 << 30),
        containers: Some(2),
        containers_running: Some(2),
        containers_stopped: Some(0),
        images: Some(3),
        ssh_address: Some("root@10.89.0.11:22".to_owned()),
    }
}

/// A host round's resources: a root filesystem and a data filesystem at `data_used`
/// percent (80/90 thresholds), the rest in order.
fn resources(data_used: u8) -> ResourcesReport {
    let judge = |used: u8| match used {
        90.. => Severity::Critical,
        80.. => Severity::Warning,
        _ => Severity::Ok,
    };
    let filesystem = |mount: &str, source: &str, size: u64, used: u8, inodes: u8| FilesystemUse {
        mount: mount.to_owned(),
        source: source.to_owned(),
        fstype: "ext4".to_owned(),
        size_bytes: size,
        used_bytes: size / 100 * u64::from(used),
        available_bytes: size / 100 * u64::from(100 - used),
        used_percent: used,
        inodes_used_percent: Some(inodes),
        severity: judge(used),
    };
    let data = filesystem("/srv/data", "/dev/loop3", 256 << 20, data_used, 2);
    let findings = match data.severity {
        Severity::Ok => Vec::new(),
        severity => vec![Finding::new(
            "disk",
            None,
            severity,
            format!("/srv/data is {data_used}% full"),
            "free space or grow the filesystem",
        )],
    };
    ResourcesReport {
        severity: data.severity,
        filesystems: vec![filesystem("/", "/dev/vda1", 40 << 30, 38, 11), data],
        docker_disk: Some(DockerDiskUse {
            images_bytes: 1_288_490_189,
            containers_bytes: 12 << 20,
            volumes_bytes: 300 << 20,
            build_cache_bytes: 0,
            reclaimable_bytes: 805_306_368,
        }),
        memory: Some(MemoryUse {
            total_bytes: 24 << 30,
            available_bytes: 18 << 30,
            used_percent: 25,
            swap_total_bytes: 1 << 30,
            swap_used_bytes: 0,
        }),
        load: Some(LoadUse {
            load1: 0.42,
            load5: 0.35,
            load15: 0.3,
            cpus: 2,
        }),
        uptime_seconds: Some(3 * 86_400 + 7200),
        reboot: RebootState {
            required: Some(false),
            why: None,
        },
        updates: UpdatesState {
            pending: Some(4),
            security: Some(0),
            unattended_upgrades: Some(true),
        },
        clock_synchronized: Some(true),
        findings,
        error: None,
    }
}

fn finding(
    check: &str,
    container: Option<&str>,
    severity: Severity,
    reason: &str,
    fix: &str,
) -> Finding {
    Finding::new(check, container, severity, reason, fix)
}

/// The lab's story: a healthy bastion, an alpha with an unhealthy worker, a stale
/// backup and a certificate about to expire, a beta with a restarting and a failed
/// container and firewall drift, and a gamma that stopped answering.
fn fleet() -> Vec<HostState> {
    let at = NOW - time::Duration::seconds(30);
    let mut bastion = host("bastion", "bastions");
    bastion.apply_containers(ContainerUpdate::All(
        vec![container(
            "proxy",
            "running",
            Some("healthy"),
            Severity::Ok,
            None,
        )],
        at,
    ));
    bastion.backups.set(vec![backup(2, Severity::Ok)], at);
    bastion.rtt.set(std::time::Duration::from_micros(420), at);
    bastion.certs.set(vec![cert(89, Severity::Ok)], at);
    bastion.firewall.set(firewall(false), at);
    bastion.resources.set(resources(41), at);
    bastion.host_posture.set(Vec::new(), at);

    let mut alpha = host("client-alpha", "canary");
    alpha.apply_containers(ContainerUpdate::All(
        vec![
            ContainerReport {
                findings: vec![finding(
                    "published_all_addresses",
                    Some("web"),
                    Severity::Warning,
                    "publishes 443/tcp on 0.0.0.0",
                    "publish on one address (-p 10.89.0.11:443:443)",
                )],
                ..container("web", "running", Some("healthy"), Severity::Ok, None)
            },
            ContainerReport {
                findings: vec![finding(
                    "root_user",
                    Some("worker"),
                    Severity::Warning,
                    "runs as root (no USER)",
                    "set user: in the stack",
                )],
                ..container(
                    "worker",
                    "running",
                    Some("unhealthy"),
                    Severity::Critical,
                    Some("unhealthy: dial tcp queue:5672: connection refused"),
                )
            },
        ],
        at,
    ));
    alpha.resources.set(resources(85), at);
    alpha.host_posture.set(
        vec![
            finding(
                "sshd_password_login",
                None,
                Severity::Critical,
                "sshd accepts password logins (passwordauthentication yes)",
                "PasswordAuthentication no in /etc/ssh/sshd_config",
            ),
            finding(
                "fail2ban",
                None,
                Severity::Unknown,
                "fail2ban is not installed",
                "install fail2ban with an sshd jail",
            ),
        ],
        at,
    );
    alpha.posture_policy = std::sync::Arc::new(PosturePolicy {
        accept: vec![AcceptedException {
            container: "web".to_owned(),
            check: "published_all_addresses".to_owned(),
            reason: "the public HTTPS entry point; nftables limits who reaches it".to_owned(),
        }],
        ..PosturePolicy::default()
    });
    alpha.backups.set(vec![backup(50, Severity::Critical)], at);
    alpha.certs.set(vec![cert(4, Severity::Critical)], at);
    alpha.firewall.set(firewall(false), at);
    alpha.facts.set(facts(), at);

    let mut beta = host("client-beta", "production");
    beta.apply_containers(ContainerUpdate::All(
        vec![
            container(
                "cron",
                "restarting",
                None,
                Severity::Critical,
                Some("restarting (12 restarts)"),
            ),
            container(
                "migrate",
                "exited",
                None,
                Severity::Critical,
                Some("exited with code 3"),
            ),
            container("web", "running", Some("healthy"), Severity::Ok, None),
        ],
        at,
    ));
    beta.backups.set(vec![backup(2, Severity::Ok)], at);
    beta.certs.set(vec![cert(-3, Severity::Critical)], at);
    beta.firewall.set(firewall(true), at);
    beta.resources.set(resources(93), at);
    beta.host_posture.set(Vec::new(), at);
    beta.rtt
        .fail("Docker /_ping: no answer within 5s".to_owned());

    let mut gamma = host("client-gamma", "production");
    gamma.apply_containers(ContainerUpdate::All(
        vec![container(
            "web",
            "running",
            Some("healthy"),
            Severity::Ok,
            None,
        )],
        NOW - time::Duration::minutes(5),
    ));
    gamma.backups.set(
        vec![backup(2, Severity::Ok)],
        NOW - time::Duration::minutes(5),
    );
    gamma.certs.set(vec![cert(89, Severity::Ok)], at);
    gamma
        .firewall
        .set(firewall(false), NOW - time::Duration::minutes(5));
    gamma
        .resources
        .set(resources(50), NOW - time::Duration::minutes(5));
    gamma.reachable = Some(false);
    gamma.error = Some("no answer to keepalives for 15s (3 × 5s)".to_owned());
    vec![bastion, alpha, beta, gamma]
}

fn app(read_only: bool) -> App {
    let dir = tempfile::tempdir().expect("tempdir");
    App::new(
        fleet(),
        Keymap::load(None, dir.path()).expect("keymap"),
        read_only,
    )
}

fn theme() -> Theme {
    let dir = tempfile::tempdir().expect("tempdir");
    Theme::load(None, dir.path(), false).expect("theme")
}

fn keys(app: &mut App, keys: &str) {
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\u{1b}' => KeyCode::Esc,
            '\t' => KeyCode::Tab,
            c => KeyCode::Char(c),
        };
        let modifiers = if c.is_uppercase() {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        app.update(Msg::Key(KeyEvent::new(code, modifiers)));
    }
}

fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    let theme = theme();
    terminal
        .draw(|frame| fleetdeck::tui::ui::draw_at(frame, app, &theme, NOW))
        .expect("draw");
    terminal
}

fn text(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        for x in 0..buffer.area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn snapshot(app: &App, width: u16, height: u16) -> String {
    text(&render(app, width, height))
}

/// The style the theme gives `role`, for colour assertions.
fn fg(role: Role) -> Option<ratatui::style::Color> {
    theme().style(role).fg
}

fn cell_fg(terminal: &Terminal<TestBackend>, needle: &str) -> Option<ratatui::style::Color> {
    let buffer = terminal.backend().buffer();
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_owned())
            .collect();
        if let Some(col) = line.find(needle) {
            let x = line[..col].chars().count() as u16;
            return buffer[(x, y)].fg.into();
        }
    }
    None
}

#[test]
fn overview() {
    let app = app(false);
    let terminal = render(&app, 110, 16);
    insta::assert_snapshot!(text(&terminal));
    assert_eq!(
        cell_fg(&terminal, "client-alpha"),
        fg(Role::Critical),
        "a critical host is drawn critical"
    );
    assert_eq!(cell_fg(&terminal, "DOWN"), fg(Role::Critical));
}

#[test]
fn overview_shows_each_hosts_last_successful_drill() {
    use fleetdeck::probes::drill::history::{AppDrill, LastDrill};
    let drill = |app: &str, days_ago: Option<i64>| AppDrill {
        app: app.to_owned(),
        last_success: days_ago.map(|d| NOW - time::Duration::days(d)),
        rto_seconds: Some(0.5),
        rpo_seconds: Some(7200),
        last_run: days_ago.map(|d| NOW - time::Duration::days(d)),
        last_result: None,
        warning_days: 30,
    };
    let mut app = app(false);
    app.hosts[0].last_drill.set(
        LastDrill {
            apps: vec![drill("proxy", Some(3))],
        },
        NOW,
    );
    // The worst app decides: one drilled 41 days ago outweighs a fresh one.
    app.hosts[1].last_drill.set(
        LastDrill {
            apps: vec![drill("web", Some(2)), drill("worker", Some(41))],
        },
        NOW,
    );
    app.hosts[2].last_drill.set(
        LastDrill {
            apps: vec![drill("web", None)],
        },
        NOW,
    );
    let terminal = render(&app, 110, 16);
    let screen = text(&terminal);
    for (host, shown) in [
        ("bastion", "3d ago"),
        ("client-alpha", "41d ago"),
        ("client-beta", "never"),
    ] {
        let line = screen
            .lines()
            .find(|l| l.contains(host))
            .unwrap_or_else(|| panic!("{host} in {screen}"));
        assert!(
            line.trim_end_matches('│').trim_end().ends_with(shown),
            "{line}"
        );
    }
    assert_eq!(cell_fg(&terminal, "3d ago"), fg(Role::Ok));
    assert_eq!(cell_fg(&terminal, "41d ago"), fg(Role::Warning));
    assert_eq!(cell_fg(&terminal, "never"), fg(Role::Warning));
}

#[test]
fn overview_at_80x24_problems_first_filtered_grouped() {
    let mut app = app(false);
    insta::assert_snapshot!("overview_80x24", snapshot(&app, 80, 24));
    keys(&mut app, "p");
    insta::assert_snapshot!("overview_problems_first", snapshot(&app, 110, 12));
    keys(&mut app, "p/client-b\n");
    insta::assert_snapshot!("overview_filtered", snapshot(&app, 110, 10));
    keys(&mut app, "\u{1b}b");
    insta::assert_snapshot!("overview_grouped", snapshot(&app, 110, 12));
}

#[test]
fn host_detail_panes() {
    let mut app = app(false);
    keys(&mut app, "j\n");
    // CPU and memory readings become sparklines (the `web` container's id).
    let web = app.containers(1)[0].id.clone();
    for (cpu, mem) in [(5.0, 40u64), (20.0, 42), (80.0, 44), (35.0, 48)] {
        app.update(Msg::Stats {
            host: 1,
            container_id: web.clone(),
            sample: fleetdeck::docker::stats::Sample {
                cpu_percent: cpu,
                memory_bytes: mem << 20,
            },
        });
    }
    let screen = snapshot(&app, 130, 12);
    assert!(screen.contains("35%") && screen.contains("48M"), "{screen}");
    insta::assert_snapshot!("host_containers", screen);
    keys(&mut app, "\t");
    insta::assert_snapshot!("host_backups", snapshot(&app, 110, 10));
    keys(&mut app, "\t");
    insta::assert_snapshot!("host_certificates", snapshot(&app, 110, 10));
    keys(&mut app, "\u{1b}j\n\t\t\t");
    insta::assert_snapshot!("host_firewall_drift", snapshot(&app, 110, 14));
}

/// client-alpha's posture: the host's password logins and the worker's root user
/// count, fail2ban could not be told (listed, not counted) and the web server's
/// published port is an accepted exception, dimmed with the inventory's reason.
#[test]
fn posture_pane_lists_each_finding_with_its_fix_and_the_exceptions() {
    let mut app = app(false);
    keys(&mut app, "j\n\t\t\t\t\t\t");
    let terminal = render(&app, 130, 14);
    let screen = text(&terminal);
    for expected in [
        "Posture: 2 counted, 1 accepted, 1 unknown — 30s ago",
        "fix: PasswordAuthentication no in /etc/ssh/sshd_config",
        "accepted: the public HTTPS entry point; nftables limits who reaches it",
    ] {
        assert!(screen.contains(expected), "{expected}:\n{screen}");
    }
    let order: Vec<usize> = [
        "sshd_password_login",
        "root_user",
        "fail2ban",
        "published_all",
    ]
    .iter()
    .map(|check| {
        screen
            .find(check)
            .unwrap_or_else(|| panic!("{check}:\n{screen}"))
    })
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "counted worst first, then unknown, then accepted:\n{screen}"
    );
    insta::assert_snapshot!("host_posture", screen);
    assert_eq!(cell_fg(&terminal, "fail2ban"), fg(Role::Unknown));
    assert_eq!(cell_fg(&terminal, "published_all"), fg(Role::Muted));
    assert_eq!(cell_fg(&terminal, "root_user"), fg(Role::Warning));

    // The selection walks the findings.
    keys(&mut app, "jjjj");
    assert_eq!(app.pane_selected, 3, "four findings, the last selected");
}

#[test]
fn resources_pane_shows_filesystems_against_their_thresholds_and_the_rest() {
    let mut app = app(false);
    keys(&mut app, "j\n\t\t\t\t\t");
    let host = &mut app.hosts[1];
    host.posture_policy = std::sync::Arc::new(PosturePolicy {
        mounts: [(
            "/srv/data".to_owned(),
            fleetdeck::probes::posture::DiskThresholds {
                warning: 85,
                critical: 95,
            },
        )]
        .into(),
        ..(*host.posture_policy).clone()
    });
    if let Some(report) = host.resources.value.as_mut() {
        report.reboot = RebootState {
            required: Some(true),
            why: Some("/var/run/reboot-required is present (linux-image-6.1.0-28)".to_owned()),
        };
    }
    let terminal = render(&app, 110, 20);
    let screen = text(&terminal);
    for expected in [
        "/srv/data",
        "85%/95%",
        "80%/90%",
        "25% in use of 24.0G (18.0G available); swap 0K of 1.0G",
        "0.42 0.35 0.30 on 2 CPUs",
        "required: /var/run/reboot-required is present",
        "4 pending, 0 security",
        "768M reclaimable",
        "/srv/data is 85% full — free space or grow the filesystem",
    ] {
        assert!(screen.contains(expected), "{expected}:\n{screen}");
    }
    insta::assert_snapshot!("host_resources", screen);
    assert_eq!(cell_fg(&terminal, "/srv/data "), fg(Role::Warning));
    assert_eq!(cell_fg(&terminal, "required:"), fg(Role::Warning));

    // A host that went away keeps its last reading, said to be stale with its age.
    keys(&mut app, "\u{1b}jj\n\t\t\t\t\t");
    let screen = snapshot(&app, 110, 8);
    assert!(
        screen.contains("Resources — stale, measured 5m ago"),
        "{screen}"
    );
    // And without declared apps, the apps pane says so.
    keys(&mut app, "\t\t");
    let screen = snapshot(&app, 110, 8);
    assert!(screen.contains("no apps declared"), "{screen}");
}

#[test]
fn backups_pane_lists_the_selected_repositorys_snapshots_newest_first() {
    let mut app = app(false);
    keys(&mut app, "j\n\t");
    let screen = snapshot(&app, 110, 14);
    let newest = screen.find("92cd0ba0").expect("newest snapshot listed");
    let older = screen.find("5e1f0c33").expect("older snapshot listed");
    assert!(newest < older, "newest first:\n{screen}");
    assert!(screen.contains("2026-11-21 10:00"), "{screen}");
    assert!(screen.contains("/srv/app/data /etc/app"), "{screen}");
    insta::assert_snapshot!("host_backups_snapshots", screen);

    // A bounded list says how many it shows of how many; borg names its archives.
    let host = &mut app.hosts[1];
    if let Some(reports) = host.backups.value.as_mut() {
        reports[0].count = 340;
        reports[0].kind = BackupKind::Borg;
        for entry in &mut reports[0].snapshots {
            entry.name = Some(format!("nightly-{}", entry.time.date()));
            entry.host = None;
            entry.paths.clear();
        }
    }
    let screen = snapshot(&app, 110, 14);
    assert!(screen.contains("newest 2 of 340"), "{screen}");
    assert!(
        screen.contains("ARCHIVE") && screen.contains("nightly-2026-11-21"),
        "{screen}"
    );
}

#[test]
fn round_trip_in_the_overview_and_host_facts_pane() {
    let mut app = app(false);
    let terminal = render(&app, 110, 8);
    let screen = text(&terminal);
    assert!(screen.contains("up 0.4ms"), "bastion's ping:\n{screen}");
    assert!(screen.contains("up 12ms"), "{screen}");
    assert!(
        screen.contains("up ?"),
        "a failed ping is not a number:\n{screen}"
    );
    assert_eq!(cell_fg(&terminal, "up 12ms"), fg(Role::Ok));

    keys(&mut app, "j\n\t\t\t\t");
    let screen = snapshot(&app, 110, 16);
    for expected in [
        "Debian GNU/Linux 12 (bookworm) (x86_64)",
        "6.1.0-18-amd64",
        "20.10.24+dfsg1",
        "24.0G",
        "2 (2 running, 0 stopped)",
        "root@10.89.0.11:22",
        "12ms (Docker /_ping over SSH)",
    ] {
        assert!(screen.contains(expected), "{expected}:\n{screen}");
    }
    insta::assert_snapshot!("host_facts", screen);

    // A host whose facts were never read says so, and a failed ping says why.
    keys(&mut app, "\u{1b}j\n\t\t\t\t");
    let screen = snapshot(&app, 110, 10);
    assert!(screen.contains("not read yet"), "{screen}");
    assert!(screen.contains("no answer within 5s"), "{screen}");
}

#[test]
fn a_read_only_host_hides_and_refuses_mutations_the_others_keep_them() {
    let mut app = app(false);
    app.host_read_only = vec![false, true, false, false];
    keys(&mut app, "j\njS");
    assert!(app.confirm.is_none(), "no confirmation on a read-only host");
    let screen = snapshot(&app, 100, 10);
    assert!(
        screen.contains("client-alpha is read-only (fleetdeck_read_only)"),
        "{screen}"
    );
    assert!(
        screen.contains("read-only"),
        "marked in the host line:\n{screen}"
    );
    assert!(
        !screen.contains("READ-ONLY"),
        "the console as a whole is not:\n{screen}"
    );
    keys(&mut app, "?");
    let help = snapshot(&app, 100, 30);
    assert!(!help.contains("stop container"), "{help}");
    // Another host of the same fleet may still be changed.
    keys(&mut app, "?\u{1b}j\njS");
    assert!(app.confirm.is_some(), "client-beta is not read-only");
    keys(&mut app, "n?");
    let help = snapshot(&app, 100, 30);
    assert!(help.contains("stop container"), "{help}");
}

#[test]
fn unreachable_host_shows_stale_values_with_their_age() {
    let mut app = app(false);
    keys(&mut app, "jjj\n");
    let screen = snapshot(&app, 110, 10);
    assert!(screen.contains("stale, measured 5m ago"), "{screen}");
    insta::assert_snapshot!("host_unreachable", screen);
}

#[test]
fn logs_with_search_highlight() {
    let mut app = app(false);
    keys(&mut app, "j\njl");
    for i in 0..12 {
        let text = if i % 4 == 0 {
            "ERROR queue unreachable"
        } else {
            "retrying in 5s"
        };
        app.update(Msg::LogLine(format!("2026-11-23T11:59:{i:02}Z {text}")));
    }
    keys(&mut app, "/queue\n");
    let terminal = render(&app, 100, 12);
    insta::assert_snapshot!("logs_search", text(&terminal));
    let highlight = theme().style(Role::Highlight);
    let buffer = terminal.backend().buffer();
    let highlighted = (0..buffer.area.height).any(|y| {
        (0..buffer.area.width).any(|x| {
            buffer[(x, y)].symbol() == "q"
                && buffer[(x, y)].style().add_modifier == highlight.add_modifier
                && buffer[(x, y)].bg == highlight.bg.unwrap_or(buffer[(x, y)].bg)
        })
    });
    assert!(highlighted, "the match is highlighted");
    keys(&mut app, "T");
    insta::assert_snapshot!("logs_timestamps", snapshot(&app, 100, 12));
}

#[test]
fn timeline_help_and_confirm() {
    let mut app = app(false);
    // A container goes unhealthy and a host drops: both land in the timeline.
    let mut worse = container(
        "web",
        "running",
        Some("unhealthy"),
        Severity::Critical,
        Some("unhealthy: 502"),
    );
    worse.id = "web000000000".to_owned();
    app.update(Msg::Fleet(
        0,
        HostEvent::Containers(ContainerUpdate::Changed(Box::new(worse), NOW)),
    ));
    app.update(Msg::Fleet(
        1,
        HostEvent::Down {
            cause: "connection lost: early eof".to_owned(),
        },
    ));
    keys(&mut app, "t");
    let screen = snapshot(&app, 100, 10);
    assert!(screen.contains("unreachable: connection lost"), "{screen}");
    insta::assert_snapshot!("timeline", mask_times(&screen));
    keys(&mut app, "?");
    insta::assert_snapshot!("help_timeline", mask_times(&snapshot(&app, 100, 24)));
    keys(&mut app, "?\u{1b}\u{1b}j\n");
    keys(&mut app, "jS");
    insta::assert_snapshot!("confirm_stop", snapshot(&app, 100, 16));
    keys(&mut app, "n");
    assert!(app.confirm.is_none());
}

/// A rogue container with the Docker socket mounted appears on the bastion and is
/// removed; sshd starts taking passwords there: each finding appears, then clears.
#[test]
fn timeline_records_findings_appearing_and_clearing() {
    let mut app = app(false);
    let rogue = ContainerReport {
        findings: vec![
            finding(
                "docker_socket",
                Some("rogue"),
                Severity::Critical,
                "mounts /var/run/docker.sock",
                "mount a filtering socket proxy instead",
            ),
            finding(
                "capability",
                Some("rogue"),
                Severity::Critical,
                "adds capability SYS_ADMIN",
                "drop cap_add SYS_ADMIN",
            ),
        ],
        ..container("rogue", "running", None, Severity::Ok, None)
    };
    let id = rogue.id.clone();
    app.update(Msg::Fleet(
        0,
        HostEvent::Containers(ContainerUpdate::Changed(Box::new(rogue), NOW)),
    ));
    let round = |posture: Vec<Finding>| {
        HostEvent::Host(
            Box::new(HostReport {
                resources: resources(41),
                posture,
                posture_error: None,
            }),
            NOW,
        )
    };
    app.update(Msg::Fleet(
        0,
        round(vec![finding(
            "sshd_password_login",
            None,
            Severity::Critical,
            "sshd accepts password logins",
            "PasswordAuthentication no",
        )]),
    ));
    app.update(Msg::Fleet(
        0,
        HostEvent::Containers(ContainerUpdate::Gone { id, at: NOW }),
    ));
    app.update(Msg::Fleet(0, round(Vec::new())));
    keys(&mut app, "t");
    let terminal = render(&app, 100, 14);
    let screen = text(&terminal);
    for expected in [
        "rogue: docker_socket critical: mounts /var/run/docker.sock",
        "rogue: docker_socket cleared (was critical)",
        "sshd_password_login critical: sshd accepts password logins",
        "sshd_password_login cleared (was critical)",
    ] {
        assert!(screen.contains(expected), "{expected}:\n{screen}");
    }
    insta::assert_snapshot!("timeline_findings", mask_times(&screen));
    assert_eq!(
        cell_fg(&terminal, "rogue: capability critical"),
        fg(Role::Critical)
    );
    assert_eq!(
        cell_fg(&terminal, "rogue: capability cleared"),
        fg(Role::Ok)
    );
    // The kind filter knows posture.
    keys(&mut app, "eeeeeee");
    let screen = snapshot(&app, 100, 14);
    assert!(screen.contains("· posture"), "{screen}");
    assert!(!screen.contains("rogue: running"), "{screen}");
}

#[test]
fn read_only_hides_and_refuses_mutations() {
    let mut app = app(true);
    keys(&mut app, "j\njS");
    assert!(
        app.confirm.is_none(),
        "no confirmation for something that would be refused"
    );
    let screen = snapshot(&app, 100, 10);
    assert!(screen.contains("READ-ONLY"), "{screen}");
    assert!(screen.contains("read-only mode"), "{screen}");
    keys(&mut app, "?");
    let help = snapshot(&app, 100, 30);
    assert!(
        !help.contains("stop container"),
        "mutating actions are not offered:\n{help}"
    );
    assert!(
        help.contains("open logs") || help.contains("logs"),
        "{help}"
    );
}

#[test]
fn read_only_refusals_of_container_actions_are_recorded_in_the_audit_log() {
    use fleetdeck::audit::{AuditLog, AuditResult};
    use fleetdeck::core::{Core, HOST_READ_ONLY_WHY, READ_ONLY_WHY};

    // `S` on client-alpha's second container: refused by the read-only console, and
    // by client-alpha's own fleetdeck_read_only in a console that is not.
    let stop = |app: &mut App| {
        keys(app, "j\nj");
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('S'),
            KeyModifiers::SHIFT,
        )))
    };
    let mut whole = app(true);
    let by_console = stop(&mut whole);
    let container = whole.containers(1)[1].name.clone();
    assert_eq!(
        refused(&by_console),
        [("client-alpha", "stop", container.as_str())]
    );
    let mut one_host = app(false);
    one_host.host_read_only = vec![false, true, false, false];
    let by_host = stop(&mut one_host);
    assert_eq!(
        refused(&by_host),
        [("client-alpha", "stop", container.as_str())]
    );
    assert!(whole.confirm.is_none() && one_host.confirm.is_none());

    // What the event loop does with them: one `refused` line each, saying which rule.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    let core = Core::new(true, AuditLog::new(&path));
    for commands in [&by_console, &by_host] {
        let [Command::RecordRefusals(list)] = commands.as_slice() else {
            panic!("{commands:?}");
        };
        fleetdeck::tui::run::record_refusals(&core, list).expect("recorded");
    }
    let lines = AuditLog::read(&path).expect("audit log");
    let seen: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l.host.as_str(),
                l.action.as_str(),
                l.target.as_str(),
                l.result,
                l.error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "client-alpha",
                "stop",
                container.as_str(),
                AuditResult::Refused,
                Some(READ_ONLY_WHY)
            ),
            (
                "client-alpha",
                "stop",
                container.as_str(),
                AuditResult::Refused,
                Some(HOST_READ_ONLY_WHY)
            ),
        ]
    );

    // A key that is about nothing (no container selected) records nothing.
    let mut overview = app(true);
    let nothing = overview.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('S'),
        KeyModifiers::SHIFT,
    )));
    assert!(nothing.is_empty(), "{nothing:?}");
}

/// Timeline entries carry the wall-clock time they were recorded; masked as `hh:mm:ss`.
fn mask_times(screen: &str) -> String {
    let chars: Vec<char> = screen.chars().collect();
    let mut out = String::with_capacity(screen.len());
    let mut i = 0;
    while i < chars.len() {
        let is_time = i + 8 <= chars.len()
            && (0..8).all(|k| {
                if k == 2 || k == 5 {
                    chars[i + k] == ':'
                } else {
                    chars[i + k].is_ascii_digit()
                }
            });
        if is_time {
            out.push_str("hh:mm:ss");
            i += 8;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn passphrase_modal_masks_the_input_and_answers_the_asker() {
    use fleetdeck::tui::app::PassphraseRequest;
    let mut app = app(false);
    let key = std::path::Path::new("/root/.ssh/id_ed25519");
    let (request, mut answer) = PassphraseRequest::new(1, key, false);
    app.update(Msg::Passphrase(request));
    // Keys go to the modal, not to the views behind it: `j` and `q` are text here.
    keys(&mut app, "jq s3cret");
    assert_eq!(app.overview_selected, 0);
    assert!(!app.should_quit);
    let screen = snapshot(&app, 100, 16);
    assert!(
        !screen.contains("s3cret") && !screen.contains("jq"),
        "never echoed:\n{screen}"
    );
    assert!(
        !screen.contains("*********"),
        "not even its length:\n{screen}"
    );
    assert!(screen.contains("/root/.ssh/id_ed25519"), "{screen}");
    insta::assert_snapshot!("passphrase_modal", screen);
    assert!(answer.try_recv().is_err(), "not answered before Enter");
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Backspace,
        KeyModifiers::NONE,
    )));
    keys(&mut app, "\n");
    let given = answer.try_recv().expect("answered").expect("a passphrase");
    assert_eq!(
        given.as_str(),
        "jq s3cre",
        "backspace deleted one character"
    );
    assert!(app.passphrase.current().is_none(), "the modal is gone");

    // A wrong one asks again, saying so; Esc cancels: the asker gets no passphrase.
    let (request, mut answer) = PassphraseRequest::new(2, key, true);
    app.update(Msg::Passphrase(request));
    let screen = snapshot(&app, 100, 16);
    assert!(screen.contains("Bad passphrase, try again."), "{screen}");
    keys(&mut app, "abc\u{1b}");
    assert_eq!(answer.try_recv().expect("answered"), None);
    let screen = snapshot(&app, 100, 16);
    assert!(screen.contains("not given"), "{screen}");

    // An asker that gave up (its authentication timed out) takes its modal with it.
    let (request, _answer) = PassphraseRequest::new(3, key, false);
    app.update(Msg::Passphrase(request));
    keys(&mut app, "x");
    app.update(Msg::PassphraseWithdrawn(3));
    assert!(app.passphrase.current().is_none());
    assert!(!app.passphrase.has_input(), "what was typed is wiped");
    keys(&mut app, "j");
    assert_eq!(app.overview_selected, 1, "keys reach the views again");
}

// The deploy wizard's panel, walked with keys through its main states. Plans and
// outcomes are the core's own types, as the wizard's operations report them.

mod wizard_fixtures {
    use fleetdeck::core::deploy::plan::{Change, Current, HostPlan, ServicePlan};
    use fleetdeck::core::deploy::{HostOutcome, HostResult, ServiceOutcome, ServiceResult};
    use fleetdeck::wizard::deploy::{PlannedHost, Setup, TargetInfo};

    pub fn setup(preselected: Vec<String>) -> Setup {
        let target = |name: &str, apps: &[&str], read_only: bool| TargetInfo {
            name: name.to_owned(),
            apps: apps.iter().map(|a| a.to_string()).collect(),
            read_only,
        };
        Setup {
            targets: vec![
                target("bastion", &[], false),
                target("client-alpha", &["web", "db"], true),
                target("client-beta", &["web", "db"], false),
                target("client-gamma", &["web"], false),
            ],
            preselected: Some(preselected),
            read_only_disabled: true,
        }
    }

    fn web(from: &str, to: &str) -> ServicePlan {
        ServicePlan {
            app: "web".into(),
            service: "web".into(),
            container: "web".into(),
            change: Change::Replace,
            image: format!("fleetdeck-lab/app:{to}"),
            hash: "9f2c1e7a4b3d55aa".into(),
            current: Some(Current {
                id: "c0ffee".into(),
                image: format!("fleetdeck-lab/app:{from}"),
                hash: "1a2b3c4d5e6f7788".into(),
                state: "running".into(),
            }),
            leftovers: vec![],
        }
    }

    pub fn plans() -> Vec<PlannedHost> {
        let mut db = web("1.0", "1.0");
        db.app = "db".into();
        db.service = "db".into();
        db.container = "db".into();
        db.change = Change::Unchanged;
        db.image = "fleetdeck-lab/db:15".into();
        db.current = None;
        vec![
            PlannedHost {
                name: "client-beta".into(),
                plan: Ok(HostPlan {
                    host: "client-beta".into(),
                    services: vec![web("1.0", "1.1"), db],
                    orphans: vec!["legacy".into()],
                }),
            },
            PlannedHost {
                name: "client-gamma".into(),
                plan: Ok(HostPlan {
                    host: "client-gamma".into(),
                    services: vec![web("1.0", "1.1")],
                    orphans: vec![],
                }),
            },
            PlannedHost {
                name: "client-delta".into(),
                plan: Err("connecting to 10.89.1.14:22: connection refused".into()),
            },
        ]
    }

    pub fn outcomes() -> Vec<HostOutcome> {
        let service = |result, error: Option<&str>, logs: &[&str], gate| ServiceOutcome {
            app: "web".into(),
            service: "web".into(),
            container: "web".into(),
            change: Change::Replace,
            from_image: Some("fleetdeck-lab/app:1.0".into()),
            to_image: "fleetdeck-lab/app:1.1".into(),
            result,
            gate_seconds: gate,
            error: error.map(str::to_owned),
            logs: logs.iter().map(|l| l.to_string()).collect(),
        };
        let gate_error = "web is unhealthy: release 1.1: cannot read /srv/web/config.json";
        vec![
            HostOutcome {
                name: "client-beta".into(),
                result: HostResult::Deployed,
                error: None,
                interrupted: None,
                services: vec![service(ServiceResult::Deployed, None, &[], Some(5.0))],
                duration_seconds: 6.6,
            },
            HostOutcome {
                name: "client-gamma".into(),
                result: HostResult::RolledBack,
                error: Some(gate_error.into()),
                interrupted: None,
                services: vec![service(
                    ServiceResult::RolledBack,
                    Some(gate_error),
                    &["serving /srv/web on :8080", "config.json: no such file"],
                    None,
                )],
                duration_seconds: 11.9,
            },
            HostOutcome::new(
                "client-delta",
                HostResult::Unreachable,
                Some("connecting to 10.89.1.14:22: connection refused".into()),
            ),
        ]
    }
}

/// The `refused` audit lines a key asked for (read-only mode refused the mutation):
/// `(host, action, target)`. Nothing else may come back with them.
fn refused(commands: &[Command]) -> Vec<(&str, &str, &str)> {
    match commands {
        [Command::RecordRefusals(list)] => list
            .iter()
            .map(|r| (r.host.as_str(), r.action.as_str(), r.target.as_str()))
            .collect(),
        other => panic!("expected one RecordRefusals, got {other:?}"),
    }
}

fn wizard_app() -> App {
    let mut app = app(false);
    app.host_read_only = vec![false, true, false, false];
    app
}

fn open_wizard(app: &mut App, preselected: Vec<String>) {
    use fleetdeck::wizard::WizardState;
    use fleetdeck::wizard::deploy::wizard;
    let state = WizardState::new(wizard(wizard_fixtures::setup(preselected)), 1).with_clock(|| NOW);
    app.update(Msg::WizardOpened(Box::new(OpenWizard::Deploy(Box::new(
        state,
    )))));
}

fn running_op(commands: Vec<Command>) -> OpRequest {
    match commands.as_slice() {
        [Command::RunWizardOp(op)] => op.clone(),
        other => panic!("expected an operation to start, got {other:?}"),
    }
}

fn key(app: &mut App, code: KeyCode) -> Vec<Command> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn progress(host: &str, step: &str, detail: &str, seconds_ago: i64) -> ProgressEvent {
    ProgressEvent {
        item: host.to_owned(),
        label: "web".to_owned(),
        step: step.to_owned(),
        detail: detail.to_owned(),
        tone: if step == "revert" {
            Tone::Warning
        } else {
            Tone::Normal
        },
        at: NOW - time::Duration::seconds(seconds_ago),
    }
}

#[test]
fn deploy_wizard_opens_on_the_selection_and_not_in_read_only() {
    // The selected host without a filter; read-only hosts are left out.
    let mut app = wizard_app();
    let commands = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('D'),
        KeyModifiers::SHIFT,
    )));
    assert_eq!(
        commands,
        [Command::OpenDeployWizard {
            preselect: vec!["bastion".into()]
        }]
    );
    // With a filter: the filtered hosts.
    keys(&mut app, "/client\n");
    let commands = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('D'),
        KeyModifiers::SHIFT,
    )));
    assert_eq!(
        commands,
        [Command::OpenDeployWizard {
            preselect: vec!["client-beta".into(), "client-gamma".into()]
        }]
    );
    // Only a read-only host selected: it does not open, and says why.
    let mut app = wizard_app();
    keys(&mut app, "j");
    let commands = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('D'),
        KeyModifiers::SHIFT,
    )));
    assert_eq!(
        refused(&commands),
        [("client-alpha", "deploy", "deploy wizard")]
    );
    assert!(
        app.notice
            .as_deref()
            .is_some_and(|n| n.contains("client-alpha is read-only")),
        "{:?}",
        app.notice
    );
    // Read-only console: refused, and left out of the help.
    let mut app = self::app(true);
    let commands = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('D'),
        KeyModifiers::SHIFT,
    )));
    assert_eq!(refused(&commands), [("bastion", "deploy", "deploy wizard")]);
    assert_eq!(
        app.notice.as_deref(),
        Some("read-only mode: no changes can be made")
    );
    keys(&mut app, "?");
    assert!(!snapshot(&app, 100, 30).contains("deploy wizard"));
    let mut app = wizard_app();
    keys(&mut app, "?");
    assert!(snapshot(&app, 100, 30).contains("deploy wizard"));
}

#[test]
fn deploy_wizard_panels() {
    let mut app = wizard_app();
    open_wizard(&mut app, vec!["client-beta".into(), "client-gamma".into()]);
    // Targets: the preselection checked, the read-only host not selectable.
    insta::assert_snapshot!("wizard_targets", snapshot(&app, 100, 14));
    keys(&mut app, "jj ");
    let screen = snapshot(&app, 100, 14);
    assert!(
        screen.contains("[ ] client-alpha"),
        "read-only stays unchecked:\n{screen}"
    );
    assert!(
        screen.contains("read-only (fleetdeck_read_only)"),
        "{screen}"
    );

    // Apps of the chosen hosts; then the variables.
    keys(&mut app, "\n");
    let screen = snapshot(&app, 100, 14);
    assert!(screen.contains("step 2: Choose the apps"), "{screen}");
    assert!(screen.contains("[x] web"), "{screen}");
    keys(&mut app, "\n");
    keys(&mut app, "web_version");
    let commands = key(&mut app, KeyCode::Enter);
    assert!(commands.is_empty(), "invalid variables stay on the step");
    assert!(
        snapshot(&app, 100, 14).contains("expected KEY=VALUE"),
        "{}",
        snapshot(&app, 100, 14)
    );
    keys(&mut app, "=1.1");
    let plan = running_op(key(&mut app, KeyCode::Enter));
    assert_eq!(plan.op, "plan");
    let screen = snapshot(&app, 100, 14);
    assert!(
        screen.contains("Connecting to each host and planning"),
        "{screen}"
    );

    // Review: the diff per host, the unreachable host shown.
    app.update(Msg::WizardDone {
        op: plan,
        result: Ok(DeployOutput::Plan(wizard_fixtures::plans()).into()),
    });
    insta::assert_snapshot!("wizard_review", snapshot(&app, 100, 14));
    let terminal = render(&app, 100, 14);
    assert_eq!(
        cell_fg(&terminal, "client-delta: unreachable"),
        fg(Role::Critical)
    );

    // Confirm.
    keys(&mut app, "\n");
    insta::assert_snapshot!("wizard_confirm", snapshot(&app, 100, 10));

    // Progress mid-apply: Esc and quit do not interrupt it.
    let apply = running_op(keys_commands(&mut app, "y"));
    assert_eq!(apply.op, "apply");
    for event in [
        progress(
            "client-beta",
            "create",
            "web.next from fleetdeck-lab/app:1.1",
            12,
        ),
        progress("client-beta", "gate", "web", 12),
        progress(
            "client-gamma",
            "create",
            "web.next from fleetdeck-lab/app:1.1",
            9,
        ),
        progress("client-gamma", "revert", "web is unhealthy", 9),
    ] {
        app.update(Msg::WizardProgress { wizard: 1, event });
    }
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert!(
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL
        )))
        .is_empty()
    );
    assert!(!app.should_quit, "no quitting mid-apply");
    let screen = snapshot(&app, 100, 14);
    insta::assert_snapshot!("wizard_progress", screen);
    let terminal = render(&app, 100, 14);
    assert_eq!(cell_fg(&terminal, "web revert"), fg(Role::Warning));

    // Summary with a rolled-back host: its gate error and log lines.
    app.update(Msg::WizardDone {
        op: apply,
        result: Ok(DeployOutput::Applied(wizard_fixtures::outcomes()).into()),
    });
    insta::assert_snapshot!("wizard_summary", snapshot(&app, 100, 16));
    let terminal = render(&app, 100, 16);
    assert_eq!(
        cell_fg(&terminal, "client-gamma         ROLLED BACK"),
        fg(Role::Warning)
    );

    // Then the rollback offer: client-gamma rolled back by itself, so what this deploy
    // switched (web on client-beta) is offered back — exactly that; no closes.
    keys(&mut app, "\n");
    insta::assert_snapshot!("wizard_rollback_offer", snapshot(&app, 100, 10));
    let screen = snapshot(&app, 100, 10);
    assert!(screen.contains("client-beta (web)"), "{screen}");
    assert!(!screen.contains("client-gamma (web)"), "{screen}");
    assert_eq!(keys_commands(&mut app, "n"), [Command::CloseWizard]);
    assert_eq!(app.screen(), &Screen::Overview);
    assert!(app.wizard.is_none());
}

#[test]
fn deploy_wizard_esc_goes_back_then_leaves_and_a_refusal_changes_nothing() {
    let mut app = wizard_app();
    open_wizard(&mut app, vec!["client-gamma".into()]);
    keys(&mut app, "\n\n");
    assert!(snapshot(&app, 100, 10).contains("step 3: Extra variables"));
    key(&mut app, KeyCode::Esc);
    assert!(snapshot(&app, 100, 10).contains("Choose the apps"));
    key(&mut app, KeyCode::Esc);
    assert!(snapshot(&app, 100, 10).contains("Choose the target hosts"));
    assert_eq!(key(&mut app, KeyCode::Esc), [Command::CloseWizard]);
    assert_eq!(
        app.notice.as_deref(),
        Some("deploy wizard left: nothing was changed")
    );

    let mut app = wizard_app();
    open_wizard(&mut app, vec!["client-gamma".into()]);
    keys(&mut app, "\n\n");
    let plan = running_op(key(&mut app, KeyCode::Enter));
    app.update(Msg::WizardDone {
        op: plan,
        result: Ok(DeployOutput::Plan(wizard_fixtures::plans()).into()),
    });
    keys(&mut app, "\n");
    assert_eq!(keys_commands(&mut app, "n"), [Command::CloseWizard]);
    assert_eq!(
        app.notice.as_deref(),
        Some("not confirmed: nothing was changed")
    );

    // A plan that cannot be made: the panel stays with the problems.
    let mut app = wizard_app();
    open_wizard(&mut app, vec!["client-gamma".into()]);
    keys(&mut app, "\n\n");
    let plan = running_op(key(&mut app, KeyCode::Enter));
    app.update(Msg::WizardDone {
        op: plan,
        result: Err(vec![
            "stacks/web.yml:3:12: web_version is not defined".into(),
        ]),
    });
    let screen = snapshot(&app, 100, 10);
    assert!(screen.contains("web_version is not defined"), "{screen}");
    assert!(
        screen.contains("Nothing was changed on any host."),
        "{screen}"
    );
    assert_eq!(key(&mut app, KeyCode::Esc), [Command::CloseWizard]);
}

fn keys_commands(app: &mut App, keys: &str) -> Vec<Command> {
    let mut commands = Vec::new();
    for c in keys.chars() {
        commands.extend(app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        ))));
    }
    commands
}

// The canary wizard and its board, walked with keys and fed the rollout as the core
// reports it (`Rollout` values built as `plan_rollout` and `run` build them: waves
// from `canary::waves`, stages moved as `run` moves them).

mod canary_fixtures {
    use fleetdeck::core::canary::{
        HostStage, Rollout, RolloutHost, RolloutRequest, RolloutStatus, Wave, WaveSize, WaveStage,
        waves,
    };
    use fleetdeck::core::deploy::plan::{Change, Current, HostPlan, ServicePlan};
    use fleetdeck::wizard::deploy::{PlannedHost, Setup, TargetInfo};

    pub const HOSTS: [&str; 5] = [
        "client-alpha",
        "client-beta",
        "client-gamma",
        "client-delta",
        "client-epsilon",
    ];

    pub fn setup() -> Setup {
        Setup {
            targets: HOSTS
                .iter()
                .map(|h| TargetInfo {
                    name: h.to_string(),
                    apps: vec!["web".into()],
                    read_only: false,
                })
                .collect(),
            preselected: Some(HOSTS.iter().map(|h| h.to_string()).collect()),
            read_only_disabled: true,
        }
    }

    /// As `plan_rollout` makes it: the canary (client-alpha) first, waves of 2.
    pub fn planned() -> Rollout {
        let selected: Vec<String> = HOSTS.iter().map(|h| h.to_string()).collect();
        let split = waves(&selected, &["client-alpha".to_owned()], WaveSize::Hosts(2));
        Rollout {
            id: "1795435200-4242".into(),
            started: "2026-11-23T12:00:00Z".into(),
            finished: None,
            request: RolloutRequest {
                inventory: "/srv/fleet/inventory.yml".into(),
                limit: None,
                apps: vec![],
                extra_vars: serde_json::Map::from_iter([(
                    "web_version".to_owned(),
                    serde_json::Value::String("1.1".into()),
                )]),
                canary: "canary".into(),
                wave_size: WaveSize::Hosts(2),
                max_failures: 0,
                soak_seconds: 60,
                strict_soak: false,
                rollback_all: false,
                reason: None,
            },
            status: RolloutStatus::Running,
            hosts: split
                .iter()
                .enumerate()
                .flat_map(|(i, w)| {
                    w.iter().map(move |h| RolloutHost {
                        name: h.clone(),
                        wave: i,
                        stage: HostStage::Pending,
                        deployed: vec![],
                        error: None,
                        notes: vec![],
                    })
                })
                .collect(),
            waves: split
                .into_iter()
                .enumerate()
                .map(|(index, hosts)| Wave {
                    index,
                    hosts,
                    stage: WaveStage::Pending,
                })
                .collect(),
            error: None,
        }
    }

    pub fn plans() -> Vec<PlannedHost> {
        HOSTS
            .iter()
            .map(|h| PlannedHost {
                name: h.to_string(),
                plan: Ok(HostPlan {
                    host: h.to_string(),
                    services: vec![ServicePlan {
                        app: "web".into(),
                        service: "web".into(),
                        container: "web".into(),
                        change: Change::Replace,
                        image: "fleetdeck-lab/app:1.1".into(),
                        hash: "9f2c1e7a4b3d55aa".into(),
                        current: Some(Current {
                            id: "c0ffee".into(),
                            image: "fleetdeck-lab/app:1.0".into(),
                            hash: "1a2b3c4d5e6f7788".into(),
                            state: "running".into(),
                        }),
                        leftovers: vec![],
                    }],
                    orphans: vec![],
                }),
            })
            .collect()
    }

    /// Sets a wave and its hosts to a stage, as `run` does.
    pub fn stage(r: &mut Rollout, wave: usize, w: WaveStage, h: HostStage) {
        r.waves[wave].stage = w;
        for host in r.hosts.iter_mut().filter(|x| x.wave == wave) {
            host.stage = h;
            if matches!(h, HostStage::Soaking | HostStage::Passed) {
                host.deployed = vec!["web".into()];
            }
        }
    }
}

fn canary_app() -> App {
    let at = NOW - time::Duration::seconds(5);
    let hosts = canary_fixtures::HOSTS
        .iter()
        .map(|name| {
            let mut h = host(
                name,
                if *name == "client-alpha" {
                    "canary"
                } else {
                    "production"
                },
            );
            let web = if *name == "client-gamma" {
                container(
                    "web",
                    "running",
                    Some("unhealthy"),
                    Severity::Critical,
                    Some("unhealthy: release 1.1: cannot read /srv/web/config.json"),
                )
            } else {
                container("web", "running", Some("healthy"), Severity::Ok, None)
            };
            h.apply_containers(ContainerUpdate::All(vec![web], at));
            h
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = App::new(
        hosts,
        Keymap::load(None, dir.path()).expect("keymap"),
        false,
    );
    app.host_read_only = vec![false; 5];
    app
}

fn open_canary(app: &mut App, unfinished: Option<fleetdeck::core::canary::Rollout>) {
    use fleetdeck::tui::app::CanaryWizard;
    use fleetdeck::wizard::WizardState;
    use fleetdeck::wizard::canary::{CanarySetup, wizard};
    let setup = CanarySetup {
        deploy: canary_fixtures::setup(),
        unfinished,
    };
    // The rollout started 75 s before the screens are drawn.
    let state = WizardState::new(wizard(setup), 1).with_clock(|| NOW - time::Duration::seconds(75));
    app.update(Msg::WizardOpened(Box::new(OpenWizard::Canary(Box::new(
        CanaryWizard::new(state),
    )))));
}

fn board(app: &mut App, rollout: &fleetdeck::core::canary::Rollout) {
    use fleetdeck::wizard::canary::BoardUpdate;
    app.update(Msg::CanaryBoard {
        wizard: 1,
        update: BoardUpdate::Board(Box::new(rollout.clone())),
    });
}

fn canary_progress(host: &str, step: &str, detail: &str, seconds_ago: i64) -> ProgressEvent {
    ProgressEvent {
        label: "web".to_owned(),
        ..progress(host, step, detail, seconds_ago)
    }
}

/// Walks the settings to the review (waves of 2) and starts the rollout.
fn canary_to_rollout(app: &mut App) -> OpRequest {
    use fleetdeck::wizard::canary::CanaryOutput;
    // Targets, apps, variables, canary pattern.
    keys(app, "\n\nweb_version=1.1\n\n");
    // Wave size: N% or N, checked by WaveSize::parse.
    keys(app, "x\n");
    let screen = snapshot(app, 100, 12);
    assert!(screen.contains("--wave-size \"25%x\""), "{screen}");
    let backspace = |app: &mut App| {
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Backspace,
            KeyModifiers::NONE,
        )))
    };
    for _ in 0..4 {
        backspace(app);
    }
    keys(app, "2\n");
    // Soak (60), max failures (0), roll back the failed wave.
    keys(app, "\n\n");
    let screen = snapshot(app, 100, 12);
    assert!(screen.contains("(•) the failed wave"), "{screen}");
    let plan = running_op(key(app, KeyCode::Enter));
    assert_eq!(plan.op, "plan");
    app.update(Msg::WizardDone {
        op: plan,
        result: Ok(CanaryOutput::Plan {
            rollout: Box::new(canary_fixtures::planned()),
            hosts: canary_fixtures::plans(),
        }
        .into()),
    });
    insta::assert_snapshot!("canary_review", snapshot(app, 100, 26));
    keys(app, "\n");
    let screen = snapshot(app, 100, 10);
    assert!(
        screen.contains("Start the rollout: 3 wave(s), 5 host(s), soak 60 s"),
        "{screen}"
    );
    let rollout = running_op(keys_commands(app, "y"));
    assert_eq!(rollout.op, "rollout");
    rollout
}

#[test]
fn canary_wizard_opens_on_the_shown_hosts_and_not_in_read_only() {
    let mut app = wizard_app();
    let commands = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('C'),
        KeyModifiers::SHIFT,
    )));
    // Every shown host but the read-only one.
    assert_eq!(
        commands,
        [Command::OpenCanaryWizard {
            preselect: vec![
                "bastion".into(),
                "client-beta".into(),
                "client-gamma".into()
            ]
        }]
    );
    keys(&mut app, "/client\n");
    let commands = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('C'),
        KeyModifiers::SHIFT,
    )));
    assert_eq!(
        commands,
        [Command::OpenCanaryWizard {
            preselect: vec!["client-beta".into(), "client-gamma".into()]
        }]
    );
    let mut app = self::app(true);
    let commands = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('C'),
        KeyModifiers::SHIFT,
    )));
    assert_eq!(
        refused(&commands),
        ["bastion", "client-alpha", "client-beta", "client-gamma"].map(|h| (
            h,
            "canary",
            "canary wizard"
        ))
    );
    assert_eq!(
        app.notice.as_deref(),
        Some("read-only mode: no changes can be made")
    );
    keys(&mut app, "?");
    assert!(!snapshot(&app, 100, 30).contains("canary rollout wizard"));
    let mut app = wizard_app();
    keys(&mut app, "?");
    assert!(snapshot(&app, 100, 30).contains("canary rollout wizard"));
}

#[test]
fn canary_board_through_a_halted_rollout() {
    use canary_fixtures::stage;
    use fleetdeck::core::canary::{HostStage, RolloutStatus, WaveStage};
    use fleetdeck::wizard::canary::{BoardUpdate, CanaryOutput};

    let mut app = canary_app();
    open_canary(&mut app, None);
    let op = canary_to_rollout(&mut app);
    let mut r = canary_fixtures::planned();

    // Mid-deploy of the canary.
    stage(&mut r, 0, WaveStage::Deploying, HostStage::Deploying);
    board(&mut app, &r);
    for event in [
        canary_progress("client-alpha", "pull", "fleetdeck-lab/app:1.1", 14),
        canary_progress("client-alpha", "gate", "web", 14),
    ] {
        app.update(Msg::WizardProgress { wizard: 1, event });
    }
    insta::assert_snapshot!("canary_board_deploying", snapshot(&app, 120, 18));

    // Esc and quit do not stop a rollout.
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert_eq!(
        app.notice.as_deref(),
        Some("a rollout cannot be cancelled: answer no-go at the next gate to halt it")
    );
    assert!(
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL
        )))
        .is_empty()
    );
    assert!(!app.should_quit);

    // Soaking, with the countdown (45 s left 3 s ago) and the wave's live health.
    stage(&mut r, 0, WaveStage::Soaking, HostStage::Soaking);
    board(&mut app, &r);
    app.update(Msg::WizardProgress {
        wizard: 1,
        event: canary_progress("client-alpha", "done", "web passed its gate in 5.0s", 14),
    });
    if let Some(w) = app.wizard.as_mut() {
        w.on_board(
            1,
            BoardUpdate::Soak { wave: 0, left: 45 },
            NOW - time::Duration::seconds(3),
        );
    }
    let screen = snapshot(&app, 120, 18);
    insta::assert_snapshot!("canary_board_soaking", screen);
    assert!(screen.contains("soaking, 42 s left"), "{screen}");

    // At the gate: the go / no-go, answered yes over the oneshot.
    stage(&mut r, 0, WaveStage::Gate, HostStage::Passed);
    board(&mut app, &r);
    let (answer, mut asked) = tokio::sync::oneshot::channel();
    app.update(Msg::CanaryBoard {
        wizard: 1,
        update: BoardUpdate::Gate { wave: 0, answer },
    });
    insta::assert_snapshot!("canary_board_gate", snapshot(&app, 120, 22));
    assert!(asked.try_recv().is_err(), "not answered yet");
    assert!(keys_commands(&mut app, "y").is_empty());
    assert_eq!(asked.try_recv(), Ok(true));
    assert_eq!(app.notice.as_deref(), Some("go: wave 1 starts"));

    // Wave 1 fails on client-gamma (rolled back by its gate): halted, client-beta
    // rolled back, wave 2 skipped.
    stage(&mut r, 0, WaveStage::Passed, HostStage::Passed);
    stage(&mut r, 1, WaveStage::RolledBack, HostStage::RolledBack);
    let gamma = "web is unhealthy: release 1.1: cannot read /srv/web/config.json";
    for h in r.hosts.iter_mut().filter(|h| h.wave == 1) {
        h.deployed.clear();
    }
    if let Some(h) = r.hosts.iter_mut().find(|h| h.name == "client-gamma") {
        h.error = Some(gamma.into());
    }
    stage(&mut r, 2, WaveStage::Skipped, HostStage::Skipped);
    r.status = RolloutStatus::Halted;
    r.error = Some(format!("wave 1 failed: client-gamma: {gamma}"));
    r.finished = Some("2026-11-23T12:03:10Z".into());
    board(&mut app, &r);
    for event in [
        canary_progress("client-beta", "rollback", "web", 20),
        canary_progress("client-gamma", "revert", "web is unhealthy", 40),
    ] {
        app.update(Msg::WizardProgress { wizard: 1, event });
    }
    let screen = snapshot(&app, 120, 18);
    insta::assert_snapshot!("canary_board_halted", screen);
    let terminal = render(&app, 120, 18);
    assert_eq!(cell_fg(&terminal, "HALTED"), fg(Role::Critical));

    // The summary: each host's final state and error, the journal.
    app.update(Msg::WizardDone {
        op,
        result: Ok(CanaryOutput::Finished(Box::new(r)).into()),
    });
    let screen = snapshot(&app, 120, 14);
    insta::assert_snapshot!("canary_summary", mask_journal(&screen));
    assert!(screen.contains("rollouts/1795435200-4242.json"), "{screen}");
    assert_eq!(key(&mut app, KeyCode::Enter), [Command::CloseWizard]);
    assert!(app.wizard.is_none());
}

/// The journal lives under the state directory of whoever runs the tests.
fn mask_journal(screen: &str) -> String {
    screen
        .lines()
        .map(|l| match l.find("journal: ") {
            Some(at) => {
                let tail = l[at..].rsplit_once("/rollouts/").map_or("", |(_, t)| t);
                format!(
                    "{}journal: $XDG_STATE_HOME/fleetdeck/rollouts/{tail}",
                    &l[..at]
                )
            }
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn canary_board_no_go_and_passed() {
    use canary_fixtures::stage;
    use fleetdeck::core::canary::{HostStage, RolloutStatus, WaveStage};
    use fleetdeck::wizard::canary::BoardUpdate;

    let mut app = canary_app();
    open_canary(&mut app, None);
    canary_to_rollout(&mut app);
    let mut r = canary_fixtures::planned();
    stage(&mut r, 0, WaveStage::Gate, HostStage::Passed);
    board(&mut app, &r);
    let (answer, mut asked) = tokio::sync::oneshot::channel();
    app.update(Msg::CanaryBoard {
        wizard: 1,
        update: BoardUpdate::Gate { wave: 0, answer },
    });
    // No-go: answered false; the question is gone, the rollout still cannot be left.
    assert!(keys_commands(&mut app, "n").is_empty());
    assert_eq!(asked.try_recv(), Ok(false));
    assert!(
        app.notice
            .as_deref()
            .is_some_and(|n| n.starts_with("no-go")),
        "{:?}",
        app.notice
    );
    assert!(!snapshot(&app, 120, 18).contains("Go / no-go"));

    // A rollout that passed every wave.
    let mut app = canary_app();
    open_canary(&mut app, None);
    canary_to_rollout(&mut app);
    let mut r = canary_fixtures::planned();
    for wave in 0..3 {
        stage(&mut r, wave, WaveStage::Passed, HostStage::Passed);
    }
    r.status = RolloutStatus::Passed;
    r.finished = Some("2026-11-23T12:05:40Z".into());
    board(&mut app, &r);
    for (i, host) in canary_fixtures::HOSTS.iter().enumerate() {
        app.update(Msg::WizardProgress {
            wizard: 1,
            event: canary_progress(
                host,
                "done",
                "web passed its gate in 5.0s",
                70 - 12 * i as i64,
            ),
        });
    }
    insta::assert_snapshot!("canary_board_passed", snapshot(&app, 120, 18));
}

#[test]
fn canary_wizard_offers_an_unfinished_rollout_for_resuming() {
    use fleetdeck::core::canary::{HostStage, WaveStage};
    let mut app = canary_app();
    let mut unfinished = canary_fixtures::planned();
    canary_fixtures::stage(&mut unfinished, 0, WaveStage::Passed, HostStage::Passed);
    canary_fixtures::stage(
        &mut unfinished,
        1,
        WaveStage::Deploying,
        HostStage::Deploying,
    );
    open_canary(&mut app, Some(unfinished.clone()));
    let screen = snapshot(&app, 120, 10);
    assert!(screen.contains("(•) resume it"), "{screen}");
    assert!(
        screen.contains("rollout 1795435200-4242 started"),
        "{screen}"
    );
    assert!(screen.contains("passed: wave 0 (canary)"), "{screen}");
    // Resuming skips every setting: straight to the plan.
    let plan = running_op(key(&mut app, KeyCode::Enter));
    assert_eq!(plan.op, "plan");
}

// The restore-drill wizard, walked with keys and fed the drill's report as the core
// builds it (`Drill::new`, then each step's records and checks).

mod drill_fixtures {
    use std::path::PathBuf;

    use fleetdeck::probes::backup::BackupKind;
    use fleetdeck::probes::drill::report::{
        CheckRecord, CleanupRecord, FORMAT_VERSION, Outcome, RepositoryInfo, SizeComparison,
        StepRecord,
    };
    use fleetdeck::probes::drill::{DrillReport, DrillResult, SnapshotInfo, Step};
    use fleetdeck::wizard::drill::{
        DrillApp, DrillHost, DrillOutput, Finished, Listed, RepoSummary, Setup, Stage,
    };
    use time::macros::datetime;

    pub const TARGET: &str =
        "/var/tmp/fleetdeck-drills/fleetdeck-drill-web-187a9c3e5b2f4d00-4242-0";

    fn repo(name: &str, location: &str) -> RepoSummary {
        RepoSummary {
            name: name.to_owned(),
            kind: BackupKind::Restic,
            location: location.to_owned(),
        }
    }

    pub fn setup() -> Setup {
        Setup {
            hosts: vec![
                DrillHost {
                    name: "client-alpha".to_owned(),
                    read_only: true,
                    apps: vec![DrillApp {
                        app: "web".to_owned(),
                        repository: "app-data".to_owned(),
                        checks: vec!["files"],
                    }],
                    repositories: vec![repo("app-data", "/srv/backup/alpha")],
                },
                DrillHost {
                    name: "client-gamma".to_owned(),
                    read_only: false,
                    apps: vec![DrillApp {
                        app: "web".to_owned(),
                        repository: "app-data".to_owned(),
                        checks: vec!["files", "manifest"],
                    }],
                    repositories: vec![
                        repo("system", "sftp:backup@vault:/srv/restic/system"),
                        repo("app-data", "/srv/backup/gamma"),
                    ],
                },
            ],
            preselected: Some("client-gamma".to_owned()),
        }
    }

    fn snapshot(
        id: &str,
        time: time::OffsetDateTime,
        paths: &[&str],
        size: Option<(u64, u64)>,
    ) -> SnapshotInfo {
        SnapshotInfo {
            id: id.to_owned(),
            full_id: format!("{id}0c1d2e3f4a5b6c7d8e9f"),
            time,
            host: Some("client-gamma".to_owned()),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            size_bytes: size.map(|s| s.1),
            entries: size.map(|s| s.0),
        }
    }

    pub fn snapshots() -> Vec<SnapshotInfo> {
        vec![
            snapshot(
                "9e1f04aa",
                datetime!(2026-11-23 11:00:00 UTC),
                &["/etc/nginx"],
                Some((41, 180_224)),
            ),
            snapshot(
                "4c74455d",
                datetime!(2026-11-23 10:00:00 UTC),
                &["/srv/app"],
                Some((1_204, 48_234_496)),
            ),
            snapshot(
                "2b9d7c01",
                datetime!(2026-11-22 10:00:00 UTC),
                &["/srv/app"],
                Some((1_198, 48_103_424)),
            ),
            snapshot(
                "77aa0e52",
                datetime!(2026-11-10 10:00:00 UTC),
                &["/srv/app"],
                None,
            ),
        ]
    }

    /// As `Drill::new` makes it.
    fn new_report() -> DrillReport {
        let started = datetime!(2026-11-23 11:59:50 UTC);
        DrillReport {
            version: FORMAT_VERSION,
            id: "187a9c3e5b2f4d00-4242-0".to_owned(),
            host: "client-gamma".to_owned(),
            app: "web".to_owned(),
            operator: "ops@laptop".to_owned(),
            started_at: started,
            finished_at: started,
            result: DrillResult::Failed,
            failed_step: None,
            error: None,
            repository: RepositoryInfo {
                name: "app-data".to_owned(),
                kind: BackupKind::Restic,
                location: "/srv/backup/gamma".to_owned(),
            },
            snapshot: None,
            scratch_dir: "/var/tmp/fleetdeck-drills".to_owned(),
            target: None,
            rto_seconds: None,
            rpo_seconds: None,
            steps: vec![],
            checks: vec![],
            size: None,
            cleanup: CleanupRecord {
                removed: true,
                error: None,
            },
        }
    }

    pub fn listed() -> DrillOutput {
        DrillOutput::Listed(Box::new(Listed {
            snapshots: snapshots(),
            latest: Some("4c74455d0c1d2e3f4a5b6c7d8e9f".to_owned()),
            root: Some("/srv/app".to_owned()),
            target: TARGET.to_owned(),
            report: new_report(),
        }))
    }

    fn step(r: &mut DrillReport, step: Step, outcome: Outcome, seconds: f64, detail: &str) {
        r.steps.push(StepRecord {
            step,
            outcome,
            seconds,
            detail: detail.to_owned(),
        });
    }

    fn check(r: &mut DrillReport, step: Step, name: &str, outcome: Outcome, detail: &str) {
        r.checks.push(CheckRecord {
            step,
            name: name.to_owned(),
            outcome,
            detail: detail.to_owned(),
        });
    }

    pub fn after_preflight() -> DrillReport {
        let mut r = new_report();
        let chosen = snapshots().remove(1);
        r.rpo_seconds = Some((r.started_at - chosen.time).whole_seconds());
        step(
            &mut r,
            Step::Choose,
            Outcome::Passed,
            0.8,
            "snapshot 4c74455d of 2026-11-23T10:00:00Z (48234496 bytes in 1204 entries, paths /srv/app)",
        );
        r.snapshot = Some(chosen);
        check(
            &mut r,
            Step::Preflight,
            "scratch_target",
            Outcome::Passed,
            "/var/tmp/fleetdeck-drills is apart from 2 live path(s)",
        );
        check(
            &mut r,
            Step::Preflight,
            "lock",
            Outcome::Passed,
            "held by this drill",
        );
        check(
            &mut r,
            Step::Preflight,
            "repository",
            Outcome::Passed,
            "config readable, `restic check` (metadata) passed",
        );
        check(
            &mut r,
            Step::Preflight,
            "free_space",
            Outcome::Passed,
            "8123456512 bytes free, 120168857 needed",
        );
        step(
            &mut r,
            Step::Preflight,
            Outcome::Passed,
            1.6,
            "app-data ready, lock held, 48234496 bytes to restore",
        );
        r
    }

    pub fn after_restore() -> DrillReport {
        let mut r = after_preflight();
        r.target = Some(TARGET.to_owned());
        r.rto_seconds = Some(3.4);
        step(
            &mut r,
            Step::Restore,
            Outcome::Passed,
            3.4,
            &format!("snapshot 4c74455d restored into {TARGET}/restore in 3.4 s"),
        );
        r
    }

    pub fn after_verify(corrupted: bool) -> DrillReport {
        let mut r = after_restore();
        if corrupted {
            check(
                &mut r,
                Step::Verify,
                "integrity",
                Outcome::Failed,
                "restic check failed (exit 1): Pack ID does not match, want 5b0c2a1f, got 9d3e77c2 / Fatal: repository contains errors",
            );
        } else {
            check(
                &mut r,
                Step::Verify,
                "integrity",
                Outcome::Passed,
                "`restic check --read-data-subset=10%` found no errors",
            );
        }
        let size = SizeComparison::of((1_204, 48_234_496), (1_204, 48_234_496));
        r.size = Some(size);
        check(
            &mut r,
            Step::Verify,
            "size",
            Outcome::Passed,
            &size.describe(),
        );
        check(
            &mut r,
            Step::Verify,
            "files",
            Outcome::Passed,
            "all 2 expected file(s) present",
        );
        check(
            &mut r,
            Step::Verify,
            "manifest",
            Outcome::Passed,
            "1187 file(s) match MANIFEST.sha256 (sha256sum -c)",
        );
        if corrupted {
            let e = "restic check failed (exit 1): Pack ID does not match, want 5b0c2a1f, got 9d3e77c2 / Fatal: repository contains errors";
            r.failed_step = Some(Step::Verify);
            r.error = Some(e.to_owned());
            step(&mut r, Step::Verify, Outcome::Failed, 6.1, e);
        } else {
            step(
                &mut r,
                Step::Verify,
                Outcome::Passed,
                6.1,
                "4 check(s) passed",
            );
            step(
                &mut r,
                Step::Measure,
                Outcome::Passed,
                0.0,
                "RTO 3.4 s, RPO 7190 s",
            );
        }
        r
    }

    pub fn stage(report: DrillReport) -> DrillOutput {
        DrillOutput::Stage(Box::new(Stage {
            report,
            target: TARGET.to_owned(),
            root: Some("/srv/app".to_owned()),
        }))
    }

    /// As `Drill::finish` ends it: cleaned up, the result decided, the report step.
    pub fn finished(mut r: DrillReport) -> DrillOutput {
        step(
            &mut r,
            Step::Cleanup,
            Outcome::Passed,
            0.2,
            &format!("{TARGET} removed"),
        );
        r.result = if r.failed_step.is_none() {
            DrillResult::Passed
        } else {
            DrillResult::Failed
        };
        step(
            &mut r,
            Step::Report,
            Outcome::Passed,
            0.0,
            "Markdown and JSON under /home/ops/.local/state/fleetdeck/drills",
        );
        r.finished_at = datetime!(2026-11-23 12:00:02 UTC);
        let base = PathBuf::from(
            "/home/ops/.local/state/fleetdeck/drills/client-gamma/web/20261123T115950Z-187a9c3e5b2f4d00-4242-0",
        );
        DrillOutput::Finished(Box::new(Finished {
            report: r,
            saved: Ok((base.with_extension("json"), base.with_extension("md"))),
        }))
    }
}

fn open_drill(app: &mut App) {
    use fleetdeck::wizard::WizardState;
    use fleetdeck::wizard::drill::wizard;
    let state = WizardState::new(wizard(drill_fixtures::setup()), 1)
        .with_clock(|| NOW - time::Duration::seconds(12));
    app.update(Msg::WizardOpened(Box::new(OpenWizard::Drill(Box::new(
        state,
    )))));
}

fn drill_done(
    app: &mut App,
    op: OpRequest,
    output: fleetdeck::wizard::drill::DrillOutput,
) -> Vec<Command> {
    app.update(Msg::WizardDone {
        op,
        result: Ok(output.into()),
    })
}

fn drill_event(
    app: &mut App,
    step: fleetdeck::probes::drill::Step,
    detail: &str,
    seconds_ago: i64,
) {
    let event = fleetdeck::wizard::drill::progress_event(
        &fleetdeck::core::drill::DrillEvent {
            step,
            detail: detail.to_owned(),
        },
        NOW - time::Duration::seconds(seconds_ago),
    );
    app.update(Msg::WizardProgress { wizard: 1, event });
}

/// Host, app and repository taken, the listing done: on the snapshot step.
fn drill_to_snapshots(app: &mut App) {
    open_drill(app);
    keys(app, "\n\n");
    let list = running_op(key(app, KeyCode::Enter));
    assert_eq!(list.op, "list");
    drill_done(app, list, drill_fixtures::listed());
}

/// Through the preflight, the confirmation and the restore: verifying.
fn drill_to_verify(app: &mut App) -> OpRequest {
    drill_to_snapshots(app);
    let preflight = running_op(key(app, KeyCode::Enter));
    drill_done(
        app,
        preflight,
        drill_fixtures::stage(drill_fixtures::after_preflight()),
    );
    keys(app, "\n");
    let restore = running_op(keys_commands(app, "y"));
    assert_eq!(restore.op, "restore");
    let verify = running_op(drill_done(
        app,
        restore,
        drill_fixtures::stage(drill_fixtures::after_restore()),
    ));
    assert_eq!(verify.op, "verify");
    verify
}

#[test]
fn drill_wizard_opens_on_the_selected_host_and_not_in_read_only() {
    let shift_r = |app: &mut App| {
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('R'),
            KeyModifiers::SHIFT,
        )))
    };
    let mut app = wizard_app();
    assert_eq!(
        shift_r(&mut app),
        [Command::OpenDrillWizard {
            preselect: Some("bastion".into())
        }]
    );
    // From a host's detail: that host.
    keys(&mut app, "jj\n");
    assert_eq!(
        shift_r(&mut app),
        [Command::OpenDrillWizard {
            preselect: Some("client-beta".into())
        }]
    );
    // A read-only host: refused, saying why.
    let mut app = wizard_app();
    keys(&mut app, "j");
    assert_eq!(
        refused(&shift_r(&mut app)),
        [("client-alpha", "drill", "drill wizard")]
    );
    assert!(
        app.notice
            .as_deref()
            .is_some_and(|n| n.contains("client-alpha is read-only")),
        "{:?}",
        app.notice
    );
    // Read-only console: refused, and left out of the help.
    let mut app = self::app(true);
    assert_eq!(
        refused(&shift_r(&mut app)),
        [("bastion", "drill", "drill wizard")]
    );
    keys(&mut app, "?");
    assert!(!snapshot(&app, 100, 40).contains("restore drill wizard"));
    let mut app = wizard_app();
    keys(&mut app, "?");
    assert!(snapshot(&app, 100, 40).contains("restore drill wizard"));
}

#[test]
fn drill_wizard_panels() {
    let mut app = wizard_app();
    open_drill(&mut app);
    let screen = snapshot(&app, 110, 12);
    assert!(screen.contains("(•) client-gamma"), "{screen}");
    assert!(
        screen.contains("read-only (fleetdeck_read_only)"),
        "{screen}"
    );
    keys(&mut app, "\n\n");
    let screen = snapshot(&app, 110, 12);
    assert!(screen.contains("(•) app-data"), "{screen}");
    assert!(screen.contains("the drill declares app-data"), "{screen}");
    let list = running_op(key(&mut app, KeyCode::Enter));
    drill_event(
        &mut app,
        fleetdeck::probes::drill::Step::Choose,
        "listing snapshots",
        2,
    );
    assert!(snapshot(&app, 110, 12).contains("listing snapshots"));
    drill_done(&mut app, list, drill_fixtures::listed());
    insta::assert_snapshot!("drill_snapshots", snapshot(&app, 110, 12));

    let preflight = running_op(key(&mut app, KeyCode::Enter));
    assert_eq!(preflight.op, "preflight");
    drill_done(
        &mut app,
        preflight,
        drill_fixtures::stage(drill_fixtures::after_preflight()),
    );
    insta::assert_snapshot!("drill_review", snapshot(&app, 110, 20));
    keys(&mut app, "\n");
    let screen = snapshot(&app, 110, 12);
    assert!(
        screen.contains("Restore snapshot 4c74455d (46M) of app-data"),
        "{screen}"
    );
    let restore = running_op(keys_commands(&mut app, "y"));
    let verify = running_op(drill_done(
        &mut app,
        restore,
        drill_fixtures::stage(drill_fixtures::after_restore()),
    ));

    // Verification: a row per check, each as the core reports it.
    use fleetdeck::probes::drill::Step;
    drill_event(&mut app, Step::Verify, "verifying", 9);
    drill_event(
        &mut app,
        Step::Verify,
        "integrity: `restic check --read-data-subset=10%` found no errors",
        4,
    );
    drill_event(
        &mut app,
        Step::Verify,
        "size: 1204 entries / 1204 restored, 48234496 / 48234496 bytes restored: match",
        3,
    );
    drill_event(
        &mut app,
        Step::Verify,
        "files: all 2 expected file(s) present",
        3,
    );
    insta::assert_snapshot!("drill_verifying", snapshot(&app, 110, 14));
    // Nothing interrupts it.
    keys(&mut app, "\u{1b}");
    assert!(matches!(app.wizard, Some(OpenWizard::Drill(_))));

    drill_done(
        &mut app,
        verify,
        drill_fixtures::stage(drill_fixtures::after_verify(false)),
    );
    let screen = snapshot(&app, 110, 24);
    assert!(screen.contains("every check passed"), "{screen}");
    // Quitting with the lock and scratch data held is refused.
    let commands = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert!(commands.is_empty(), "{commands:?}");
    assert!(
        app.notice
            .as_deref()
            .is_some_and(|n| n.contains("a drill holds client-gamma's lock")),
        "{:?}",
        app.notice
    );
    keys(&mut app, "\n");
    let screen = snapshot(&app, 110, 12);
    assert!(screen.contains("Keep the restored data at"), "{screen}");
    assert!(
        screen.contains("no, remove it now and save the report"),
        "{screen}"
    );
    // Keep it for a look: where it is; going on removes it.
    keys(&mut app, "y");
    let screen = snapshot(&app, 110, 14);
    assert!(
        screen.contains(&format!("{}/restore/srv/app", drill_fixtures::TARGET)),
        "{screen}"
    );
    let finish = running_op(key(&mut app, KeyCode::Enter));
    assert_eq!(finish.op, "finish");
    drill_done(
        &mut app,
        finish,
        drill_fixtures::finished(drill_fixtures::after_verify(false)),
    );
    insta::assert_snapshot!("drill_report", snapshot(&app, 130, 34));
    let commands = key(&mut app, KeyCode::Enter);
    assert_eq!(commands, [Command::CloseWizard]);
}

#[test]
fn drill_wizard_a_failed_verification_ends_with_the_failed_report() {
    let mut app = wizard_app();
    let verify = drill_to_verify(&mut app);
    drill_done(
        &mut app,
        verify,
        drill_fixtures::finished(drill_fixtures::after_verify(true)),
    );
    insta::assert_snapshot!("drill_failed", snapshot(&app, 130, 34));
}

#[test]
fn drill_wizard_closed_after_the_preflight_says_the_drill_is_finished() {
    let mut app = wizard_app();
    drill_to_snapshots(&mut app);
    let preflight = running_op(key(&mut app, KeyCode::Enter));
    drill_done(
        &mut app,
        preflight,
        drill_fixtures::stage(drill_fixtures::after_preflight()),
    );
    let commands = key(&mut app, KeyCode::Esc);
    assert_eq!(commands, [Command::CloseWizard]);
    assert!(
        app.notice
            .as_deref()
            .is_some_and(|n| n.contains("drill on client-gamma is being finished")),
        "{:?}",
        app.notice
    );
}

#[test]
fn a_host_in_maintenance_is_marked_and_does_not_shout() {
    use fleetdeck::probes::maintenance::Maintenance;
    let mut app = app(false);
    let window = Maintenance {
        by: "ops@laptop".to_owned(),
        started_at: NOW - time::Duration::minutes(10),
        until: NOW + time::Duration::hours(2),
        reason: "swap the /srv disk".to_owned(),
    };
    app.update(Msg::Fleet(1, HostEvent::Maintenance(Ok(Some(window)), NOW)));
    let terminal = render(&app, 110, 16);
    let screen = text(&terminal);
    insta::assert_snapshot!("overview_maintenance", screen);
    assert!(screen.contains("maint"), "{screen}");
    assert_eq!(
        cell_fg(&terminal, "client-alpha"),
        fg(Role::Muted),
        "a silenced host is muted, not critical"
    );
    keys(&mut app, "j\n");
    let screen = snapshot(&app, 110, 10);
    assert!(
        screen.contains(
            "in maintenance until 2026-11-23T14:00:00Z (by ops@laptop): swap the /srv disk"
        ),
        "{screen}"
    );
}

// ---- straight to the problem ------------------------------------------------------

/// Keys as typed (uppercase with Shift), and the commands they gave.
fn press(app: &mut App, typed: &str) -> Vec<Command> {
    let mut commands = Vec::new();
    for c in typed.chars() {
        let (code, modifiers) = match c {
            '\n' => (KeyCode::Enter, KeyModifiers::NONE),
            '\u{1b}' => (KeyCode::Esc, KeyModifiers::NONE),
            c if c.is_uppercase() => (KeyCode::Char(c), KeyModifiers::SHIFT),
            c => (KeyCode::Char(c), KeyModifiers::NONE),
        };
        commands.extend(app.update(Msg::Key(KeyEvent::new(code, modifiers))));
    }
    commands
}

/// The fixture fleet's hosts as they are at launch (not heard from yet), and the
/// events that bring each to its fixture state.
fn launching(order: Option<fleetdeck::config::OverviewOrder>) -> (App, Vec<(usize, HostEvent)>) {
    let fleet = fleet();
    let mut events = Vec::new();
    let mut hosts = Vec::new();
    for (i, h) in fleet.iter().enumerate() {
        let mut fresh = HostState::new(&h.name, h.groups.clone(), h.expects);
        fresh.reachable = None;
        hosts.push(fresh);
        if h.reachable == Some(false) {
            events.push((
                i,
                HostEvent::Down {
                    cause: "no answer".to_owned(),
                },
            ));
        } else {
            events.push((i, HostEvent::Up { at: NOW }));
            events.push((
                i,
                HostEvent::Containers(ContainerUpdate::All(
                    h.containers.value.clone().unwrap_or_default(),
                    NOW,
                )),
            ));
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = App::new(
        hosts,
        Keymap::load(None, dir.path()).expect("keymap"),
        false,
    );
    app.set_overview_order(order);
    (app, events)
}

fn row_names(app: &App) -> Vec<String> {
    app.overview_rows()
        .into_iter()
        .map(|i| app.hosts[i].name.clone())
        .collect()
}

#[test]
fn at_launch_a_critical_host_puts_problems_first_once_every_host_is_heard_from() {
    let (mut app, events) = launching(None);
    let last = events.len() - 1;
    for (n, (host, event)) in events.into_iter().enumerate() {
        if n == last {
            assert_eq!(
                row_names(&app),
                ["bastion", "client-alpha", "client-beta", "client-gamma"],
                "inventory order until every host has been heard from"
            );
        }
        app.update(Msg::Fleet(host, event));
    }
    assert_eq!(
        row_names(&app),
        ["client-alpha", "client-beta", "client-gamma", "bastion"],
        "worst first, then by name"
    );
    assert_eq!(app.selected_host(), Some(1));
}

#[test]
fn the_launch_order_does_not_move_rows_someone_is_reading_nor_a_chosen_order() {
    let (mut app, events) = launching(None);
    press(&mut app, "j");
    for (host, event) in events {
        app.update(Msg::Fleet(host, event));
    }
    assert_eq!(
        row_names(&app)[0],
        "bastion",
        "a key was pressed before the decision"
    );
    assert_eq!(app.selected_host(), Some(1), "the selection did not move");

    let (mut app, events) = launching(Some(fleetdeck::config::OverviewOrder::Inventory));
    for (host, event) in events {
        app.update(Msg::Fleet(host, event));
    }
    assert_eq!(row_names(&app)[0], "bastion", "overview_order: inventory");

    let (app, _) = launching(Some(fleetdeck::config::OverviewOrder::Problems));
    assert_eq!(app.sort, fleetdeck::tui::app::SortKey::Severity);
}

#[test]
fn under_a_severity_order_the_selection_stays_on_its_host_when_rows_move() {
    let mut app = app(false);
    press(&mut app, "s");
    // Severity order: alpha, beta, gamma, bastion. Select beta.
    press(&mut app, "j");
    assert_eq!(app.selected_host(), Some(2));
    // Alpha recovers and moves below beta; the cursor stays on beta.
    app.hosts[1].backups.value = None;
    app.hosts[1].certs.value = None;
    app.hosts[1].host_posture.value = None;
    app.hosts[1].expects.backups = false;
    app.hosts[1].expects.certs = false;
    assert_eq!(app.selected_host(), Some(2));
    app.update(Msg::Fleet(
        1,
        HostEvent::Containers(ContainerUpdate::All(
            vec![container(
                "web",
                "running",
                Some("healthy"),
                Severity::Ok,
                None,
            )],
            NOW,
        )),
    ));
    assert_eq!(row_names(&app)[0], "client-beta", "alpha moved down");
    assert_eq!(app.selected_host(), Some(2), "{:?}", row_names(&app));
}

#[test]
fn the_host_detail_preselects_its_worst_container() {
    let mut app = app(false);
    press(&mut app, "j\n");
    assert_eq!(*app.screen(), Screen::Host { host: 1 });
    assert_eq!(app.containers(1)[app.pane_selected].name, "worker");
    press(&mut app, "\u{1b}j\n");
    // Two critical containers: the first listed.
    assert_eq!(app.containers(2)[app.pane_selected].name, "cron");
    press(&mut app, "\u{1b}kkk\n");
    assert_eq!(*app.screen(), Screen::Host { host: 0 });
    assert_eq!(app.pane_selected, 0, "no problem: the first row");
}

#[test]
fn next_problem_then_logs_reaches_the_unhealthy_container_in_two_keys() {
    let mut app = app(false);
    let commands = press(&mut app, "n");
    assert_eq!(*app.screen(), Screen::Host { host: 1 });
    assert!(
        matches!(commands.as_slice(), [Command::WatchStats { host: 1, .. }]),
        "{commands:?}"
    );
    let commands = press(&mut app, "l");
    assert_eq!(
        *app.screen(),
        Screen::Logs {
            host: 1,
            container: "worker".to_owned()
        }
    );
    let worker = app.containers(1)[1].id.clone();
    assert_eq!(
        commands,
        [Command::FollowLogs {
            host: 1,
            container_id: worker
        }]
    );
}

#[test]
fn next_problem_walks_hosts_worst_first_and_each_hosts_problems_worst_first() {
    let mut app = app(false);
    let stops: Vec<(String, &str, usize)> = app
        .problem_stops()
        .iter()
        .map(|s| (app.hosts[s.host].name.clone(), s.pane.title(), s.row))
        .collect();
    let alpha = |pane: &'static str, row| ("client-alpha".to_owned(), pane, row);
    assert_eq!(
        stops[..4],
        [
            alpha("Containers", 1),
            alpha("Backups", 0),
            alpha("Certificates", 0),
            alpha("Posture", 0)
        ]
    );
    let beta = stops
        .iter()
        .position(|s| s.0 == "client-beta")
        .expect("beta has problems");
    assert!(
        stops[..beta].iter().all(|s| s.0 == "client-alpha"),
        "{stops:?}"
    );
    assert_eq!(stops[beta], ("client-beta".to_owned(), "Containers", 0));
    assert_eq!(stops[beta + 1], ("client-beta".to_owned(), "Containers", 1));
    assert!(stops.iter().all(|(h, _, _)| h != "bastion"), "{stops:?}");
    assert_eq!(stops.last().map(|s| s.0.as_str()), Some("client-gamma"));

    // Walking: each `n` is the next stop, across hosts; `N` goes back.
    press(&mut app, "n");
    for stop in &stops[1..beta + 2] {
        press(&mut app, "n");
        let Screen::Host { host } = *app.screen() else {
            panic!("not a host: {:?}", app.screen());
        };
        assert_eq!(
            (
                app.hosts[host].name.clone(),
                app.pane.title(),
                app.pane_selected
            ),
            *stop
        );
    }
    assert_eq!(app.selected_host(), Some(2), "the overview follows");
    let commands = press(&mut app, "NN");
    assert_eq!(*app.screen(), Screen::Host { host: 1 });
    let alpha_last = &stops[beta - 1];
    assert_eq!(
        (app.pane.title(), app.pane_selected),
        (alpha_last.1, alpha_last.2)
    );
    assert!(commands.contains(&Command::StopStats), "{commands:?}");
    // From the first stop, back wraps to the last.
    for _ in 1..beta {
        press(&mut app, "N");
    }
    assert_eq!((app.pane.title(), app.pane_selected), ("Containers", 1));
    press(&mut app, "N");
    assert_eq!(*app.screen(), Screen::Host { host: 3 });
    press(&mut app, "\u{1b}");
    assert_eq!(app.screens.len(), 1, "one host detail over the overview");
}

#[test]
fn logs_from_the_overview_open_the_hosts_worst_container() {
    let mut app = app(false);
    // bastion: nothing wrong, nothing opened.
    assert!(press(&mut app, "l").is_empty());
    assert_eq!(*app.screen(), Screen::Overview);
    assert!(
        app.notice.as_deref().is_some_and(|n| n.contains("bastion")),
        "{:?}",
        app.notice
    );
    let commands = press(&mut app, "jjl");
    assert_eq!(
        *app.screen(),
        Screen::Logs {
            host: 2,
            container: "cron".to_owned()
        }
    );
    assert!(
        matches!(
            commands.as_slice(),
            [
                Command::WatchStats { host: 2, .. },
                Command::FollowLogs { host: 2, .. }
            ]
        ),
        "{commands:?}"
    );
    // Back lands in the host's detail, on that container.
    assert_eq!(press(&mut app, "\u{1b}"), [Command::StopLogs]);
    assert_eq!(*app.screen(), Screen::Host { host: 2 });
    assert_eq!(app.containers(2)[app.pane_selected].name, "cron");
}

#[test]
fn uptimes_move_with_the_clock_and_live_panes_say_so() {
    let mut app = app(false);
    let started = NOW - time::Duration::minutes(10);
    let mut web = container("web", "running", Some("healthy"), Severity::Ok, None);
    web.started_at = Some(
        started
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format"),
    );
    // The listing said 11s (it is a minute old): the uptime is counted from the start.
    web.uptime_seconds = Some(11);
    app.update(Msg::Fleet(
        0,
        HostEvent::Containers(ContainerUpdate::All(vec![web], NOW)),
    ));
    press(&mut app, "\n");
    let theme = theme();
    let draw = |app: &App, at: OffsetDateTime| {
        let mut terminal = Terminal::new(TestBackend::new(110, 8)).expect("terminal");
        terminal
            .draw(|frame| fleetdeck::tui::ui::draw_at(frame, app, &theme, at))
            .expect("draw");
        text(&terminal)
    };
    let first = draw(&app, NOW);
    assert!(first.contains("10m"), "{first}");
    assert!(first.contains("Containers — live"), "{first}");
    let later = draw(&app, NOW + time::Duration::minutes(5));
    assert!(later.contains("15m"), "{later}");
    assert!(
        later.contains("Containers — not live, measured 5m ago"),
        "the re-list is overdue: {later}"
    );
    app.update(Msg::Fleet(
        0,
        HostEvent::Down {
            cause: "gone".to_owned(),
        },
    ));
    let down = draw(&app, NOW + time::Duration::seconds(30));
    assert!(
        down.contains("Containers — stale, measured 30s ago"),
        "{down}"
    );
}

#[test]
fn the_footer_shows_the_views_keys_from_the_active_keymap() {
    let mut app = app(false);
    let footer = |app: &App| {
        snapshot(app, 110, 10)
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned()
    };
    insta::assert_snapshot!("footer_overview", footer(&app));
    press(&mut app, "j\n");
    insta::assert_snapshot!("footer_host", footer(&app));
    press(&mut app, "l");
    insta::assert_snapshot!("footer_logs", footer(&app));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut arrows = App::new(
        fleet(),
        Keymap::load(Some("arrows"), dir.path()).expect("keymap"),
        false,
    );
    let overview = footer(&arrows);
    assert!(overview.contains("ctrl-n next problem"), "{overview}");
    insta::assert_snapshot!("footer_overview_arrows", overview);
    arrows.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    insta::assert_snapshot!("footer_host_arrows", footer(&arrows));
    // Read-only: no mutating key offered.
    let mut read_only = self::app(true);
    press(&mut read_only, "\n");
    let host = footer(&read_only);
    assert!(!host.contains("restart"), "{host}");
}

#[test]
fn the_help_key_column_fits_every_binding() {
    let mut app = app(false);
    press(&mut app, "?");
    let screen = snapshot(&app, 110, 34);
    assert!(screen.contains("ctrl-u, pageup  page up"), "{screen}");
    insta::assert_snapshot!("help_overview", screen);
}
