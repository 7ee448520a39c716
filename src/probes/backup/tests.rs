use super::borg::parse_borg_time;
use super::*;
use crate::probes::Severity;
use time::OffsetDateTime;
use time::macros::datetime;

fn repo(kind: BackupKind) -> BackupRepo {
    BackupRepo {
        name: "app-data".into(),
        kind,
        repository: "/srv/backup/repo".into(),
        password_file: Some("/etc/fleetdeck/restic-password".into()),
        paths: vec![],
        warning_hours: DEFAULT_WARNING_HOURS,
        critical_hours: DEFAULT_CRITICAL_HOURS,
    }
}

/// A fixture produced by tests/fixtures/probes/generate.sh with the real tool.
macro_rules! fixture {
    ($tool:literal, $name:literal) => {{
        let exit: &str = include_str!(concat!(
            "../../../tests/fixtures/probes/",
            $tool,
            "/",
            $name,
            ".exit"
        ));
        (
            Some(exit.trim().parse::<u32>().expect("fixture exit status")),
            &include_bytes!(concat!(
                "../../../tests/fixtures/probes/",
                $tool,
                "/",
                $name,
                ".stdout"
            ))[..],
            &include_bytes!(concat!(
                "../../../tests/fixtures/probes/",
                $tool,
                "/",
                $name,
                ".stderr"
            ))[..],
        )
    }};
}

fn restic_fixture(f: (Option<u32>, &[u8], &[u8]), now: OffsetDateTime) -> BackupReport {
    parse_restic(&repo(BackupKind::Restic), f.0, f.1, f.2, now)
}

fn borg_fixture(f: (Option<u32>, &[u8], &[u8]), now: OffsetDateTime) -> BackupReport {
    parse_borg(&repo(BackupKind::Borg), f.0, f.1, f.2, now)
}

const NOW: OffsetDateTime = datetime!(2024-03-03 12:00:00 UTC);

#[test]
fn restic_command_quotes_inventory_values_and_never_locks() {
    let mut r = repo(BackupKind::Restic);
    assert_eq!(
        restic_command(&r).unwrap(),
        "restic -r /srv/backup/repo --password-file /etc/fleetdeck/restic-password \
             snapshots --json --no-lock </dev/null"
    );
    r.repository = "/srv/it's here".into();
    r.password_file = None;
    assert_eq!(
        restic_command(&r).unwrap(),
        r"restic -r '/srv/it'\''s here' snapshots --json --no-lock </dev/null"
    );
    r.repository = "a\0b".into();
    assert!(restic_command(&r).is_err());
}

#[test]
fn borg_command_quotes_the_passcommand_twice_and_forces_utc() {
    let mut r = repo(BackupKind::Borg);
    r.password_file = Some("/etc/my pass".into());
    let cmd = borg_command(&r).unwrap();
    assert!(
        cmd.starts_with(r"BORG_PASSCOMMAND='cat '\''/etc/my pass'\''' "),
        "{cmd}"
    );
    assert!(
        cmd.contains(
            " TZ=UTC0 borg list --json --log-json --bypass-lock -- /srv/backup/repo </dev/null"
        ),
        "{cmd}"
    );
    assert!(cmd.contains("BORG_RELOCATED_REPO_ACCESS_IS_OK=no"));
    r.password_file = None;
    assert!(!borg_command(&r).unwrap().contains("BORG_PASSCOMMAND"));
}

#[test]
fn restic_snapshots_are_judged_by_the_newest_instant() {
    let report = restic_fixture(fixture!("restic", "ok"), NOW);
    assert_eq!(report.state, BackupState::Listed);
    assert_eq!(report.count, 3);
    // 2024-03-02 22:00 +01:00; the Tokyo snapshot sorts last as text but is older.
    assert_eq!(report.latest, Some(datetime!(2024-03-02 21:00:00 UTC)));
    assert_eq!(report.latest_host.as_deref(), Some("otherhost"));
    assert_eq!(report.age_seconds, Some(15 * 3600));
    assert_eq!(report.severity, Severity::Ok);
    assert_eq!(report.error, None);

    let later = |h: i64| restic_fixture(fixture!("restic", "ok"), NOW + time::Duration::hours(h));
    assert_eq!(
        later(11).severity,
        Severity::Ok,
        "26 h exactly is not past 26 h"
    );
    assert_eq!(later(12).severity, Severity::Warning);
    assert_eq!(later(33).severity, Severity::Warning, "48 h exactly");
    assert_eq!(later(34).severity, Severity::Critical);
}

#[test]
fn the_snapshot_list_is_newest_first_with_what_the_tool_reported() {
    let report = restic_fixture(fixture!("restic", "ok"), NOW);
    let listed: Vec<(String, Option<&str>, Option<&str>)> = report
        .snapshots
        .iter()
        .map(|s| (s.time.to_string(), s.id.as_deref(), s.host.as_deref()))
        .collect();
    assert_eq!(
        listed,
        [
            (
                datetime!(2024-03-02 21:00:00 UTC).to_string(),
                Some("4c74455d"),
                Some("otherhost")
            ),
            (
                datetime!(2024-03-02 20:00:00 UTC).to_string(),
                Some("76f8068d"),
                Some("vm")
            ),
            (
                datetime!(2024-03-01 10:00:00 UTC).to_string(),
                Some("d1f564de"),
                Some("vm")
            ),
        ]
    );
    assert_eq!(report.snapshots[0].paths, ["/tmp/fdprobe/data"]);
    assert_eq!(report.snapshots[0].name, None);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["snapshots"][0]["time"], "2024-03-02T21:00:00Z");
    assert_eq!(json["snapshots"][0]["id"], "4c74455d");

    let borg = borg_fixture(fixture!("borg", "ok"), NOW);
    let names: Vec<Option<&str>> = borg.snapshots.iter().map(|s| s.name.as_deref()).collect();
    assert_eq!(names, [Some("second"), Some("first")]);
    assert_eq!(borg.snapshots[0].id.as_deref(), Some("49836f03"));
    assert!(borg.snapshots[0].paths.is_empty());

    let failed = restic_fixture(fixture!("restic", "wrong_password"), NOW);
    assert!(failed.snapshots.is_empty());
}

#[test]
fn the_snapshot_list_is_bounded_and_its_text_sanitized() {
    let many: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    r#"{{"time":"2024-03-01T{:02}:{:02}:00Z","paths":["/srv/\u001b[2Jdata"],"hostname":"h\u202eost","short_id":"{i:08x}"}}"#,
                    i / 60,
                    i % 60
                )
            })
            .collect();
    let stdout = format!("[{}]\n", many.join(","));
    let report = parse_restic(
        &repo(BackupKind::Restic),
        Some(0),
        stdout.as_bytes(),
        b"",
        NOW,
    );
    assert_eq!(report.count, 100);
    assert_eq!(report.snapshots.len(), MAX_LISTED_SNAPSHOTS);
    assert_eq!(report.snapshots[0].id.as_deref(), Some("00000063"));
    assert_eq!(report.snapshots[19].id.as_deref(), Some("00000050"));
    assert_eq!(report.latest_id.as_deref(), Some("00000063"));
    for entry in &report.snapshots {
        let text = format!("{:?}{:?}", entry.paths, entry.host);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}'),
            "{text}"
        );
    }
}

#[test]
fn restic_time_keeps_nanoseconds() {
    let f = fixture!("restic", "now");
    // The one snapshot of this fixture was taken at the real time, e.g.
    // "2026-11-23T11:22:38.146472557Z": its text must come back unchanged.
    let text = std::str::from_utf8(f.1).unwrap();
    let at = text.find(r#""time":""#).unwrap() + 8;
    let written = &text[at..at + text[at..].find('"').unwrap()];
    let fraction = written.split('.').nth(1).expect("a fraction");
    assert!(fraction.len() > 4, "sub-microsecond digits: {written}");
    let report = restic_fixture(f, NOW);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["latest"], written);
    assert_eq!(
        report.state,
        BackupState::FutureSnapshot,
        "NOW is before it"
    );
    assert_eq!(report.severity, Severity::Unknown);
}

#[test]
fn restic_failures_are_distinct_states_never_fresh() {
    let cases = [
        (
            fixture!("restic", "empty"),
            BackupState::NoSnapshots,
            Severity::Critical,
        ),
        (
            fixture!("restic", "wrong_password"),
            BackupState::WrongPassword,
            Severity::Critical,
        ),
        (
            fixture!("restic", "missing_repo"),
            BackupState::RepositoryNotFound,
            Severity::Critical,
        ),
        (
            fixture!("restic", "password_file_missing"),
            BackupState::PasswordUnavailable,
            Severity::Critical,
        ),
        (
            fixture!("restic", "no_password"),
            BackupState::PasswordUnavailable,
            Severity::Critical,
        ),
        (
            fixture!("restic", "locked"),
            BackupState::Locked,
            Severity::Unknown,
        ),
        (
            fixture!("restic", "not_installed"),
            BackupState::ToolMissing,
            Severity::Critical,
        ),
    ];
    for (i, (f, state, severity)) in cases.into_iter().enumerate() {
        let report = restic_fixture(f, NOW);
        assert_eq!(
            (report.state, report.severity),
            (state, severity),
            "case {i}: {report:?}"
        );
        assert_eq!(report.latest, None);
        assert!(report.error.is_some(), "case {i}");
    }
    let report = restic_fixture(fixture!("restic", "wrong_password"), NOW);
    assert_eq!(
        report.error.as_deref(),
        Some("restic failed (exit 1): Fatal: wrong password or no key found")
    );
    // The probe's --no-lock lists a repository another process holds locked.
    let report = restic_fixture(fixture!("restic", "locked_no_lock"), NOW);
    assert_eq!((report.state, report.count), (BackupState::Listed, 3));
}

#[test]
fn restic_documented_exit_codes_and_unknown_ones() {
    let r = repo(BackupKind::Restic);
    let state = |exit: Option<u32>| parse_restic(&r, exit, b"", b"Fatal: something", NOW).state;
    // restic >= 0.17 (the messages differ; the code decides).
    assert_eq!(state(Some(10)), BackupState::RepositoryNotFound);
    assert_eq!(state(Some(11)), BackupState::Locked);
    assert_eq!(state(Some(12)), BackupState::WrongPassword);
    for exit in [Some(1), Some(2), Some(3), Some(130), Some(255), None] {
        let report = parse_restic(&r, exit, b"[]", b"Fatal: something", NOW);
        assert_eq!(report.state, BackupState::Failed, "{exit:?}");
        assert_eq!(report.severity, Severity::Unknown);
    }
    // Exit 0 with the listing cut short, or with something else entirely.
    let ok = include_bytes!("../../../tests/fixtures/probes/restic/ok.stdout");
    for stdout in [
        &ok[..ok.len() / 2],
        b"",
        b"Fatal: x",
        b"{}",
        b"[{}]",
        b"\xff\xfe",
    ] {
        let report = parse_restic(&r, Some(0), stdout, b"", NOW);
        assert_eq!(report.state, BackupState::Unparsable, "{stdout:?}");
        assert_eq!(report.severity, Severity::Unknown);
    }
}

#[test]
fn hostile_restic_output_is_a_failure_not_a_panic() {
    let r = repo(BackupKind::Restic);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let inputs: Vec<Vec<u8>> = vec![
        br#"[{"time":"99999-01-01T00:00:00Z"}]"#.to_vec(),
        br#"[{"time":"2024-13-01T00:00:00Z"}]"#.to_vec(),
        br#"[{"time":1e999}]"#.to_vec(),
        br#"[{"time":"2024-03-01T10:00:00Z","hostname":123}]"#.to_vec(),
        br#"[{"time":"2024-03-01T10:00:00+99:00"}]"#.to_vec(),
        deep.into_bytes(),
        vec![b'['; 1 << 16],
    ];
    for stdout in inputs {
        let report = parse_restic(&r, Some(0), &stdout, b"", NOW);
        assert_eq!(report.state, BackupState::Unparsable);
    }
    // Extreme but valid times give extreme ages, not overflow.
    for (time, severity) in [
        ("0001-01-01T00:00:00Z", Severity::Critical),
        ("9999-12-31T23:59:59.999999999Z", Severity::Unknown),
    ] {
        let stdout = format!(r#"[{{"time":"{time}"}}]"#);
        let report = parse_restic(&r, Some(0), stdout.as_bytes(), b"", NOW);
        assert_eq!(report.severity, severity, "{time}");
    }
    // Remote text is sanitized where it enters.
    let stdout = br#"[{"time":"2024-03-03T11:00:00Z","hostname":"evil\u001b]0;pwned\u0007host"}]"#;
    let report = parse_restic(&r, Some(0), stdout, b"", NOW);
    assert_eq!(report.latest_host.as_deref(), Some("evilhost"));
    let report = parse_restic(&r, Some(1), b"", b"Fatal: \x1b[2Jboom\x07", NOW);
    assert_eq!(
        report.error.as_deref(),
        Some(r"restic failed (exit 1): Fatal: boom\x07")
    );
}

#[test]
fn thresholds_are_per_repository_and_never_overflow() {
    let mut r = repo(BackupKind::Restic);
    r.warning_hours = 1;
    r.critical_hours = 2;
    assert_eq!(age_severity(&r, 3600), Severity::Ok);
    assert_eq!(age_severity(&r, 3601), Severity::Warning);
    assert_eq!(age_severity(&r, 7201), Severity::Critical);
    r.warning_hours = u64::MAX;
    r.critical_hours = u64::MAX;
    assert_eq!(age_severity(&r, i64::MAX), Severity::Ok);
}

#[test]
fn borg_times_without_offset_are_utc_because_the_probe_sets_tz() {
    let report = borg_fixture(fixture!("borg", "ok"), NOW);
    assert_eq!(report.state, BackupState::Listed);
    assert_eq!(report.count, 2);
    assert_eq!(report.latest, Some(datetime!(2024-03-02 21:00:00 UTC)));
    assert_eq!(report.latest_id.as_deref(), Some("second"));
    assert_eq!(report.age_seconds, Some(15 * 3600));
    // The same repository listed under TZ=Asia/Tokyo without TZ=UTC0: the times
    // shift by the zone's offset and nothing in the output says so.
    let shifted = borg_fixture(fixture!("borg", "ok_tokyo"), NOW);
    assert_eq!(shifted.latest, Some(datetime!(2024-03-03 06:00:00 UTC)));
    // A time with an offset (borg 2) is read with it.
    assert_eq!(
        parse_borg_time("2024-03-03T06:00:00.000000+09:00"),
        Some(datetime!(2024-03-02 21:00:00 UTC))
    );
    assert_eq!(
        parse_borg_time("2024-03-02T21:00:00"),
        Some(datetime!(2024-03-02 21:00:00 UTC))
    );
}

#[test]
fn borg_failures_are_distinct_states() {
    let cases = [
        (fixture!("borg", "empty"), BackupState::NoSnapshots),
        (
            fixture!("borg", "wrong_passphrase"),
            BackupState::WrongPassword,
        ),
        (
            fixture!("borg", "missing_repo"),
            BackupState::RepositoryNotFound,
        ),
        (
            fixture!("borg", "invalid_repo"),
            BackupState::RepositoryNotFound,
        ),
        (
            fixture!("borg", "passcommand_failed"),
            BackupState::PasswordUnavailable,
        ),
        (
            fixture!("borg", "no_passphrase"),
            BackupState::PasswordUnavailable,
        ),
        (fixture!("borg", "relocated"), BackupState::AccessRefused),
        (
            fixture!("borg", "unknown_unencrypted"),
            BackupState::AccessRefused,
        ),
        (fixture!("borg", "lock_timeout"), BackupState::Locked),
        (fixture!("borg", "lock_timeout_cache"), BackupState::Locked),
        (fixture!("borg", "not_installed"), BackupState::ToolMissing),
    ];
    for (i, (f, state)) in cases.into_iter().enumerate() {
        let report = borg_fixture(f, NOW);
        assert_eq!(report.state, state, "case {i}: {report:?}");
        assert_eq!(report.severity, state.severity());
        assert_ne!(report.severity, Severity::Ok);
    }
    let report = borg_fixture(fixture!("borg", "wrong_passphrase"), NOW);
    assert_eq!(
        report.error.as_deref(),
        Some(
            "borg failed (exit 2): passphrase supplied in BORG_PASSPHRASE, by \
                 BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect."
        )
    );
    let report = borg_fixture(fixture!("borg", "relocated"), NOW);
    assert!(
        report
            .error
            .as_deref()
            .unwrap_or("")
            .contains("was previously located at"),
        "{report:?}"
    );
    // The probe's invocation lists while a `borg create` holds the locks.
    let report = borg_fixture(fixture!("borg", "locked_bypass"), NOW);
    assert_eq!((report.state, report.count), (BackupState::Listed, 2));
}

#[test]
fn borg_warnings_and_unknown_failures() {
    let r = repo(BackupKind::Borg);
    let ok = include_bytes!("../../../tests/fixtures/probes/borg/ok.stdout");
    let warn = br#"{"type": "log_message", "message": "some file vanished", "levelname": "WARNING", "msgid": null}"#;
    let report = parse_borg(&r, Some(1), ok, warn, NOW);
    assert_eq!(report.state, BackupState::Listed);
    assert_eq!(
        report.severity,
        Severity::Warning,
        "exit 1 is at least a warning"
    );
    for exit in [Some(2), Some(3), Some(74), None] {
        let report = parse_borg(&r, exit, ok, b"Remote: something odd", NOW);
        assert_eq!(report.state, BackupState::Failed, "{exit:?}");
        assert_eq!(report.severity, Severity::Unknown);
    }
    for stdout in [
        &ok[..ok.len() / 2],
        b"",
        b"{\"archives\": 3}",
        br#"{"archives":[{"name":"x"}]}"#,
        br#"{"archives":[{"start":"yesterday"}]}"#,
    ] {
        assert_eq!(
            parse_borg(&r, Some(0), stdout, b"", NOW).state,
            BackupState::Unparsable
        );
    }
}

#[test]
fn report_json_has_the_documented_fields() {
    let report = restic_fixture(fixture!("restic", "ok"), NOW);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["repo"], "app-data");
    assert_eq!(json["kind"], "restic");
    assert_eq!(json["latest"], "2024-03-02T21:00:00Z");
    assert_eq!(json["age_seconds"], 15 * 3600);
    assert_eq!(json["count"], 3);
    assert_eq!(json["state"], "listed");
    assert_eq!(json["severity"], "ok");
    assert_eq!(json["error"], serde_json::Value::Null);
    let failed = serde_json::to_value(BackupReport::timed_out(
        &repo(BackupKind::Borg),
        std::time::Duration::from_secs(120),
    ))
    .unwrap();
    assert_eq!(failed["state"], "timeout");
    assert_eq!(failed["severity"], "unknown");
    assert_eq!(failed["latest"], serde_json::Value::Null);
}

#[test]
fn passwords_in_repository_urls_are_redacted() {
    assert_eq!(
        redact_url_password("rest:https://user:s3cret@backup.example:8000/host1"),
        "rest:https://user:***@backup.example:8000/host1"
    );
    assert_eq!(
        redact_url_password("sftp:user@host:/srv/repo"),
        "sftp:user@host:/srv/repo"
    );
    assert_eq!(
        redact_url_password("s3:https://s3.example/bucket"),
        "s3:https://s3.example/bucket"
    );
    assert_eq!(
        redact_url_password("ssh://borg@host:2222/./repo"),
        "ssh://borg@host:2222/./repo"
    );
}
