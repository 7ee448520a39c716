//! The round's reader on output captured on this machine with the real tools
//! (tests/fixtures/probes/host, by generate-host.sh: Debian 12, df from coreutils 9.1,
//! OpenSSH 9.2 `sshd -T`, apt 2.6, fail2ban 1.0.2), and on copies of it varied by hand
//! one section at a time for what this machine does not show (a full disk, a newer
//! kernel in /boot, a running fail2ban, a missing tool).

use time::macros::datetime;

use super::script::SCRIPT;
use super::*;
use crate::probes::posture::{DiskThresholds, PosturePolicy, severity_of};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/probes/host/", $name))
    };
}

const NOW: time::OffsetDateTime = datetime!(2026-12-03 16:00 UTC);

fn read(stdout: &str, memo: &mut RoundMemo) -> HostReport {
    report(
        &PosturePolicy::default(),
        Some(0),
        stdout.as_bytes(),
        b"",
        NOW,
        memo,
    )
}

fn fresh(stdout: &str) -> HostReport {
    read(stdout, &mut RoundMemo::default())
}

/// `stdout` with section `name`'s body and exit status replaced (`None`: the tool is
/// absent).
fn with_section(stdout: &str, name: &str, replacement: Option<(&str, i32)>) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in stdout.lines() {
        if line == format!("@@section {name}") || line == format!("@@absent {name}") {
            skipping = line.starts_with("@@section");
            match replacement {
                Some((body, exit)) => {
                    out.push_str(&format!("@@section {name}\n{body}\n@@exit {exit}\n"))
                }
                None => out.push_str(&format!("@@absent {name}\n")),
            }
            continue;
        }
        if skipping {
            skipping = !line.starts_with("@@exit ");
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn finding<'a>(findings: &'a [Finding], check: &str) -> Option<&'a Finding> {
    findings.iter().find(|f| f.check == check)
}

fn checks(findings: &[Finding]) -> Vec<(&str, Severity)> {
    findings
        .iter()
        .map(|f| (f.check.as_str(), f.severity))
        .collect()
}

#[test]
fn this_machine_as_root_reads_whole() {
    let mut memo = RoundMemo::default();
    let report = read(fixture!("root.stdout"), &mut memo);
    let resources = &report.resources;
    assert_eq!(resources.error, None);
    // Only the ext4 root: devtmpfs, tmpfs and the engines' overlays are left out.
    assert_eq!(
        resources.filesystems.len(),
        1,
        "{:?}",
        resources.filesystems
    );
    let root = &resources.filesystems[0];
    assert_eq!(
        (
            root.mount.as_str(),
            root.source.as_str(),
            root.fstype.as_str()
        ),
        ("/", "/dev/vda", "ext4")
    );
    assert_eq!(root.size_bytes, 270_553_174_016);
    // df's own rounding: 58388492288 used of 58388492288 + 39184257024 is 59.8 %.
    assert_eq!(root.used_percent, 60);
    assert_eq!(root.inodes_used_percent, Some(3));
    assert_eq!(root.severity, Severity::Ok);

    let memory = resources.memory.as_ref().expect("memory");
    assert_eq!(memory.total_bytes, 24_683_664 * 1024);
    assert_eq!(memory.swap_total_bytes, 0);
    let load = resources.load.as_ref().expect("load");
    assert_eq!(load.cpus, 2);
    assert!(load.load15 > 0.0);
    assert!(resources.uptime_seconds.is_some_and(|u| u > 0));
    assert_eq!(resources.reboot.required, Some(false));
    assert_eq!(resources.updates.pending, Some(138));
    assert_eq!(resources.updates.security, Some(92));
    assert_eq!(resources.updates.unattended_upgrades, Some(true));
    assert_eq!(resources.clock_synchronized, None);

    // No systemd here and no chrony: the clock is unknown, which does not count.
    assert_eq!(
        checks(&resources.findings),
        [
            ("security_updates", Severity::Warning),
            ("clock", Severity::Unknown)
        ]
    );
    assert_eq!(resources.severity, Severity::Warning);
    assert_eq!(
        finding(&resources.findings, "security_updates")
            .expect("security")
            .reason,
        "92 security updates pending (138 updates in all)"
    );

    // This machine's sshd takes passwords, and fail2ban is installed but stopped.
    assert_eq!(report.posture_error, None);
    assert_eq!(
        checks(&report.posture),
        [
            ("sshd_password_login", Severity::Critical),
            ("fail2ban", Severity::Warning)
        ]
    );
    let fail2ban = finding(&report.posture, "fail2ban").expect("fail2ban");
    assert!(
        fail2ban.reason.contains("does not answer")
            && fail2ban.reason.contains("Is fail2ban running?"),
        "{}",
        fail2ban.reason
    );
    // The apt answer is remembered under its key, and so is fail2ban's silence: no
    // server process, so its key is 0 and the jail files' times.
    let remembered = memo.updates.as_ref().expect("remembered");
    assert_eq!(
        remembered.value,
        PendingUpdates {
            pending: 138,
            security: 92
        }
    );
    assert!(remembered.key.starts_with("1796312977.725985-"));
    let fail2ban = memo.fail2ban.as_ref().expect("remembered");
    assert!(fail2ban.key.starts_with("0-"), "{}", fail2ban.key);
    assert!(matches!(fail2ban.value, Fail2banState::NotAnswering(_)));
}

#[test]
fn an_unchanged_apt_state_takes_the_remembered_counts() {
    let mut memo = RoundMemo::default();
    read(fixture!("root.stdout"), &mut memo);
    let key = memo.updates.as_ref().expect("remembered").key.clone();
    assert!(command(&memo, NOW).starts_with(&format!("set -- '{key}' '0-")));

    let report = read(fixture!("root-unchanged.stdout"), &mut memo);
    assert_eq!(report.resources.updates.pending, Some(138));
    assert_eq!(report.resources.updates.security, Some(92));

    // Without the earlier answer (a restarted console) nothing is made up.
    let report = fresh(fixture!("root-unchanged.stdout"));
    assert_eq!(report.resources.updates.pending, None);
    let security = finding(&report.resources.findings, "security_updates").expect("unknown");
    assert_eq!(security.severity, Severity::Unknown);
}

#[test]
fn a_user_without_sudo_cannot_tell_sshd_or_fail2ban() {
    let report = fresh(fixture!("nobody.stdout"));
    assert_eq!(
        checks(&report.posture),
        [("sshd", Severity::Unknown), ("fail2ban", Severity::Unknown)]
    );
    assert!(
        report.posture[0].reason.contains("exit 126"),
        "{}",
        report.posture[0].reason
    );
    assert_eq!(severity_of(&report.posture), Severity::Ok);
    // The resources do not need root.
    assert_eq!(report.resources.filesystems.len(), 1);
    assert_eq!(report.resources.updates.security, Some(92));
}

/// The root fixture with a data filesystem at `percent` % (space) and `inodes` %.
fn with_data_filesystem(percent: u8, inodes: u8) -> String {
    let stdout = fixture!("root.stdout");
    let df = format!(
        "Filesystem              Type         1-blocks        Used   Available Capacity Mounted on\n\
         /dev/vda                ext4     270553174016 58388492288 39184257024      60% /\n\
         /dev/loop3              ext4         25821184    22609920     1753088      {percent}% /srv/data"
    );
    let inode_lines = format!(
        "Filesystem              Type       Inodes  IUsed    IFree IUse% Mounted on\n\
         /dev/vda                ext4     16777216 504955 16272261    4% /\n\
         /dev/loop3              ext4         6400   {used}    {free}   {inodes}% /srv/data",
        used = 64 * u32::from(inodes),
        free = 6400 - 64 * u32::from(inodes),
    );
    let stdout = with_section(stdout, "df", Some((&df, 0)));
    with_section(&stdout, "inodes", Some((&inode_lines, 0)))
}

#[test]
fn a_nearly_full_filesystem_is_critical_and_named() {
    let report = fresh(&with_data_filesystem(93, 12));
    let resources = &report.resources;
    let data = resources
        .filesystems
        .iter()
        .find(|f| f.mount == "/srv/data")
        .expect("data");
    assert_eq!(data.severity, Severity::Critical);
    let disk = finding(&resources.findings, "disk").expect("disk");
    assert_eq!(disk.severity, Severity::Critical);
    assert!(
        disk.reason.starts_with("/srv/data is 93 % full"),
        "{}",
        disk.reason
    );
    assert!(
        disk.reason.contains("critical from 90 %"),
        "{}",
        disk.reason
    );
    assert!(disk.fix.contains("/srv/data"));
    assert_eq!(resources.severity, Severity::Critical);
    assert_eq!(
        resources.fullest().map(|f| f.mount.as_str()),
        Some("/srv/data")
    );

    let report = fresh(&with_data_filesystem(82, 12));
    let disk = finding(&report.resources.findings, "disk").expect("disk");
    assert_eq!(disk.severity, Severity::Warning);
}

#[test]
fn thresholds_per_mount_come_from_the_policy() {
    let mut policy = PosturePolicy::default();
    policy.mounts.insert(
        "/srv/data".into(),
        DiskThresholds {
            warning: 95,
            critical: 98,
        },
    );
    let stdout = with_data_filesystem(93, 12);
    let report = report(
        &policy,
        Some(0),
        stdout.as_bytes(),
        b"",
        NOW,
        &mut RoundMemo::default(),
    );
    assert_eq!(finding(&report.resources.findings, "disk"), None);
    // The host-wide default still applies elsewhere: lowered, it catches the root.
    policy.disk = DiskThresholds {
        warning: 60,
        critical: 70,
    };
    let report = super::report(
        &policy,
        Some(0),
        stdout.as_bytes(),
        b"",
        NOW,
        &mut RoundMemo::default(),
    );
    let disk = finding(&report.resources.findings, "disk").expect("root");
    assert!(disk.reason.starts_with("/ is 60 % full"), "{}", disk.reason);
    assert_eq!(disk.severity, Severity::Warning);
}

#[test]
fn inodes_running_out_are_a_finding_of_their_own() {
    let report = fresh(&with_data_filesystem(40, 91));
    let findings = &report.resources.findings;
    assert_eq!(finding(findings, "disk"), None);
    let inodes = finding(findings, "inodes").expect("inodes");
    assert_eq!(inodes.severity, Severity::Critical);
    assert_eq!(inodes.reason, "/srv/data has used 91 % of its inodes");
}

#[test]
fn sshd_settings_each_have_their_severity() {
    let sshd = "maxauthtries 10\npermitrootlogin yes\npasswordauthentication no\nkbdinteractiveauthentication yes";
    let report = fresh(&with_section(
        fixture!("root.stdout"),
        "sshd",
        Some((sshd, 0)),
    ));
    let sshd: Vec<_> = checks(&report.posture)
        .into_iter()
        .filter(|(c, _)| c.starts_with("sshd"))
        .collect();
    assert_eq!(
        sshd,
        [
            ("sshd_root_login", Severity::Critical),
            ("sshd_keyboard_interactive", Severity::Warning),
            ("sshd_max_auth_tries", Severity::Warning),
        ]
    );
    // A safe configuration, as an older OpenSSH names keyboard-interactive.
    let safe = "maxauthtries 3\npermitrootlogin prohibit-password\npasswordauthentication no\nchallengeresponseauthentication no";
    let report = fresh(&with_section(
        fixture!("root.stdout"),
        "sshd",
        Some((safe, 0)),
    ));
    assert!(
        !report.posture.iter().any(|f| f.check.starts_with("sshd")),
        "{:?}",
        report.posture
    );
}

#[test]
fn fail2ban_running_with_and_without_an_sshd_jail() {
    let running = |status: &str| format!("key 4242.1234567-1796290000-\n{status}");
    let mut memo = RoundMemo::default();
    let with_jail = with_section(
        fixture!("root.stdout"),
        "fail2ban",
        Some((&running(fixture!("fail2ban-sshd.stdout")), 0)),
    );
    let report = read(&with_jail, &mut memo);
    assert_eq!(finding(&report.posture, "fail2ban"), None);
    let remembered = memo.fail2ban.clone().expect("remembered");
    assert_eq!(remembered.key, "4242.1234567-1796290000-");
    assert_eq!(
        remembered.value,
        Fail2banState::Running {
            jails: vec!["recidive".into(), "sshd".into()]
        }
    );
    // The next round sends the key back; the host finds it unchanged.
    assert!(command(&memo, NOW).contains("' '4242.1234567-1796290000-'\n"));
    let unchanged = with_section(
        fixture!("root.stdout"),
        "fail2ban",
        Some(("key 4242.1234567-1796290000-\nunchanged", 0)),
    );
    let report = read(&unchanged, &mut memo);
    assert_eq!(finding(&report.posture, "fail2ban"), None);
    // A remembered answer is asked again after a while whatever its key says.
    assert!(command(&memo, NOW + FAIL2BAN_REASK).contains("' ''\n"));

    let without = with_section(
        fixture!("root.stdout"),
        "fail2ban",
        Some((&running(fixture!("fail2ban-no-sshd.stdout")), 0)),
    );
    let report = fresh(&without);
    let fail2ban = finding(&report.posture, "fail2ban").expect("no jail");
    assert_eq!(fail2ban.severity, Severity::Warning);
    assert_eq!(
        fail2ban.reason,
        "fail2ban runs without an sshd jail (jails: recidive)"
    );

    let stopped = format!("key \n{}", fixture!("fail2ban-stopped.stderr"));
    let report = fresh(&with_section(
        fixture!("root.stdout"),
        "fail2ban",
        Some((&stopped, 255)),
    ));
    let fail2ban = finding(&report.posture, "fail2ban").expect("stopped");
    assert_eq!(fail2ban.severity, Severity::Warning);
}

#[test]
fn missing_tools_are_unknown_not_problems() {
    let mut stdout = fixture!("root.stdout").to_owned();
    for tool in ["sshd", "fail2ban", "updates", "unattended"] {
        stdout = with_section(&stdout, tool, None);
    }
    let report = fresh(&stdout);
    assert_eq!(
        checks(&report.posture),
        [
            ("sshd", Severity::Unknown),
            ("fail2ban", Severity::Unknown),
            ("unattended_upgrades", Severity::Unknown)
        ]
    );
    assert_eq!(
        finding(&report.posture, "fail2ban").map(|f| f.reason.as_str()),
        Some("fail2ban is not installed")
    );
    assert_eq!(severity_of(&report.posture), Severity::Ok);
    let resources = &report.resources;
    assert_eq!(resources.updates, UpdatesState::default());
    assert_eq!(
        finding(&resources.findings, "security_updates").map(|f| f.severity),
        Some(Severity::Unknown)
    );
    assert_eq!(resources.severity, Severity::Ok);
}

#[test]
fn unattended_upgrades_need_the_setting_and_the_program() {
    let off = "APT::Periodic::Unattended-Upgrade \"0\";\nprogram present";
    let report = fresh(&with_section(
        fixture!("root.stdout"),
        "unattended",
        Some((off, 0)),
    ));
    assert_eq!(report.resources.updates.unattended_upgrades, Some(false));
    let finding = finding(&report.posture, "unattended_upgrades").expect("off");
    assert_eq!(finding.severity, Severity::Warning);
    let no_program = "APT::Periodic::Unattended-Upgrade \"1\";";
    let report = fresh(&with_section(
        fixture!("root.stdout"),
        "unattended",
        Some((no_program, 0)),
    ));
    assert_eq!(report.resources.updates.unattended_upgrades, Some(false));
}

#[test]
fn a_pending_reboot_says_why() {
    let marker = "marker 1788220800\npackage linux-image-6.1.0-28-amd64\npackage libc6\nrunning 6.1.0-28-amd64";
    let report = fresh(&with_section(
        fixture!("root.stdout"),
        "reboot",
        Some((marker, 0)),
    ));
    let reboot = &report.resources.reboot;
    assert_eq!(reboot.required, Some(true));
    assert_eq!(
        reboot.why.as_deref(),
        Some(
            "/var/run/reboot-required is present since 2026-09-01 (for linux-image-6.1.0-28-amd64, libc6)"
        )
    );
    let finding = finding(&report.resources.findings, "reboot_required").expect("reboot");
    assert_eq!(finding.severity, Severity::Warning);

    let newer = "running 6.1.0-25-amd64\ninstalled 6.1.0-25-amd64\ninstalled 6.1.0-28-amd64\ninstalled 6.1.0-9-cloud-amd64";
    let report = fresh(&with_section(
        fixture!("root.stdout"),
        "reboot",
        Some((newer, 0)),
    ));
    assert_eq!(
        report.resources.reboot.why.as_deref(),
        Some("running kernel 6.1.0-25-amd64 is older than installed 6.1.0-28-amd64")
    );
    // Another flavour of the same version is not newer.
    let same = "running 6.1.0-28-amd64\ninstalled 6.1.0-28-cloud-amd64\ninstalled 6.1.0-28-amd64";
    let report = fresh(&with_section(
        fixture!("root.stdout"),
        "reboot",
        Some((same, 0)),
    ));
    assert_eq!(report.resources.reboot.required, Some(false));
}

#[test]
fn memory_swap_and_load_thresholds() {
    let tight = "MemTotal:       2000000 kB\nMemAvailable:     80000 kB\nSwapTotal:      1000000 kB\nSwapFree:        100000 kB";
    let busy = "10.40 10.20 10.00 12/600 4242\n86400.5 1000.0\n2";
    let stdout = with_section(fixture!("root.stdout"), "memory", Some((tight, 0)));
    let stdout = with_section(&stdout, "load", Some((busy, 0)));
    let report = fresh(&stdout);
    let findings = &report.resources.findings;
    assert_eq!(
        finding(findings, "memory").map(|f| f.severity),
        Some(Severity::Critical)
    );
    assert_eq!(
        finding(findings, "swap").map(|f| f.severity),
        Some(Severity::Warning)
    );
    let load = finding(findings, "load").expect("load");
    assert_eq!(load.severity, Severity::Warning);
    assert_eq!(load.reason, "15-minute load 10.00 on 2 CPUs (5.0 per CPU)");
    assert_eq!(report.resources.uptime_seconds, Some(86400));
}

#[test]
fn a_round_cut_short_fails_whole() {
    let stdout = fixture!("root.stdout");
    let cut = &stdout[..stdout.find("@@section sshd").expect("sshd")];
    let report = report(
        &PosturePolicy::default(),
        None,
        cut.as_bytes(),
        b"",
        NOW,
        &mut RoundMemo::default(),
    );
    assert_eq!(report.resources.severity, Severity::Unknown);
    assert!(
        report
            .resources
            .error
            .as_deref()
            .is_some_and(|e| e.contains("cut short"))
    );
    assert!(report.posture_error.is_some());

    let report = super::report(
        &PosturePolicy::default(),
        Some(127),
        b"",
        b"sh: 1: set: Illegal option -\x1b]52;c;aGk=\x07",
        NOW,
        &mut RoundMemo::default(),
    );
    let error = report.resources.error.expect("error");
    assert!(error.contains("no header (exit 127)"), "{error}");
    assert!(!error.contains('\u{1b}'), "{error}");
}

#[test]
fn strings_from_the_host_are_sanitized() {
    let df = "Filesystem Type 1-blocks Used Available Capacity Mounted on\n\
              /dev/vdb ext4 1000 950 50 95% /srv/\u{1b}[2Jevil \u{202e}name";
    let report = fresh(&with_section(fixture!("root.stdout"), "df", Some((df, 0))));
    let fs = report
        .resources
        .filesystems
        .iter()
        .find(|f| f.source == "/dev/vdb")
        .expect("vdb");
    assert_eq!(fs.mount, "/srv/evil \\u{202e}name");
    let disk = finding(&report.resources.findings, "disk").expect("disk");
    assert!(!disk.reason.contains('\u{1b}') && !disk.reason.contains('\u{202e}'));
}

#[test]
fn keys_the_host_printed_go_back_only_when_harmless() {
    let memo = RoundMemo {
        updates: Some(Remembered {
            key: "1'; rm -rf / #".into(),
            value: PendingUpdates {
                pending: 0,
                security: 0,
            },
            at: NOW,
        }),
        fail2ban: None,
        docker_disk: None,
    };
    assert!(command(&memo, NOW).starts_with("set -- '' ''\n"));
}

#[test]
fn the_script_leaves_out_exactly_the_pseudo_filesystems() {
    let line = SCRIPT
        .lines()
        .find_map(|l| l.strip_prefix("pseudo='^("))
        .expect("pseudo line");
    let listed: Vec<&str> = line
        .trim_end_matches(")$'")
        .split('|')
        .filter(|t| *t != "fuse" && *t != "fuse[.].*")
        .collect();
    assert_eq!(listed, PSEUDO_FILESYSTEMS);
    assert!(is_pseudo("fuse.lxcfs") && is_pseudo("tmpfs") && !is_pseudo("ext4"));
}

#[test]
fn the_round_over_ssh_on_a_lab_host_reads_as_locally() {
    // `ssh -F LAB/ssh_config client-alpha "$SCRIPT"` on a 3-host lab (root login).
    let report = fresh(fixture!("lab-alpha.stdout"));
    assert_eq!(report.resources.error, None);
    assert_eq!(report.resources.filesystems.len(), 1);
    assert!(report.resources.memory.is_some() && report.resources.load.is_some());
    assert_eq!(
        finding(&report.posture, "sshd_password_login").map(|f| f.severity),
        Some(Severity::Critical)
    );
}

#[test]
fn docker_disk_use_as_an_api_1_41_engine_lists_it() {
    // `curl --unix-socket ENGINE http://d/system/df` on a lab engine (dockerd
    // 20.10.24): three images of 1.98 MB, one used by both running containers. The
    // figures are those `docker system df` printed for it: 5.953 MB of images,
    // 3.968 MB of them reclaimable, no container layers, volumes or build cache.
    let usage = docker_disk_use(fixture!("system-df-api1.41.json").as_bytes()).expect("reads");
    assert_eq!(
        usage,
        DockerDiskUse {
            images_bytes: 5_952_622,
            containers_bytes: 0,
            volumes_bytes: 0,
            build_cache_bytes: 0,
            reclaimable_bytes: 5_952_622 - 1_984_179,
        }
    );
}

#[test]
fn docker_disk_use_as_an_api_1_52_engine_sums_it() {
    // The summarised form of API 1.52 and later, with the fields bollard's API 1.53
    // types name; no engine of that version runs here.
    let json = br#"{
        "ImageUsage": {"ActiveCount": 2, "TotalCount": 5, "Reclaimable": 300, "TotalSize": 1000, "Items": []},
        "ContainerUsage": {"ActiveCount": 1, "TotalCount": 2, "Reclaimable": 20, "TotalSize": 50},
        "VolumeUsage": {"ActiveCount": 1, "TotalCount": 1, "Reclaimable": 0, "TotalSize": 4000},
        "BuildCacheUsage": {"ActiveCount": 0, "TotalCount": 3, "Reclaimable": 70, "TotalSize": 70}
    }"#;
    let usage = docker_disk_use(json).expect("reads");
    assert_eq!(
        usage,
        DockerDiskUse {
            images_bytes: 1000,
            containers_bytes: 50,
            volumes_bytes: 4000,
            build_cache_bytes: 70,
            reclaimable_bytes: 390,
        }
    );
    assert!(docker_disk_use(b"{}").is_err());
    assert!(docker_disk_use(b"<html>").is_err());
}
