//! The binary as a newcomer meets it: help text, exit codes, and logs that go to a
//! file rather than the terminal. Needs neither root nor a lab.

mod common;

use std::process::{Command, Stdio};

use common::{bin, stderr, stdout};

fn fleetdeck(args: &[&str], log: &std::path::Path) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .env("FLEETDECK_LOG_FILE", log)
        .env_remove("FLEETDECK_LAB_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run fleetdeck")
}

#[test]
fn help_names_the_lab_commands_and_how_to_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = fleetdeck(&["--help"], &tmp.path().join("log"));
    assert!(out.status.success());
    let help = stdout(&out);
    assert!(help.contains("fleetdeck lab up"), "{help}");
    assert!(help.contains("lab"), "{help}");
    let lab = fleetdeck(&["lab", "--help"], &tmp.path().join("log"));
    let lab_help = stdout(&lab);
    for sub in ["up", "status", "down"] {
        assert!(lab_help.contains(sub), "{lab_help}");
    }
    let up = stdout(&fleetdeck(
        &["lab", "up", "--help"],
        &tmp.path().join("log"),
    ));
    assert!(up.contains("--hosts") && up.contains("--dir"), "{up}");
}

#[test]
fn status_without_a_lab_exits_3_and_logs_only_to_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("fleetdeck.log");
    let dir = tmp.path().join("nolab");
    let out = fleetdeck(
        &["lab", "status", "--dir", dir.to_str().expect("utf-8")],
        &log,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("no lab in"), "{}", stdout(&out));
    assert!(
        stderr(&out).is_empty(),
        "nothing on stderr: {}",
        stderr(&out)
    );
    let logged = std::fs::read_to_string(&log).expect("log file written");
    assert!(logged.contains("fleetdeck starting"), "{logged}");
    assert!(!stdout(&out).contains("fleetdeck starting"));

    let json = fleetdeck(
        &[
            "lab",
            "status",
            "--json",
            "--dir",
            dir.to_str().expect("utf-8"),
        ],
        &log,
    );
    assert_eq!(json.status.code(), Some(3));
    let v: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("JSON even without a lab");
    assert_eq!(v["up"], false);
}

#[test]
fn no_subcommand_says_what_exists_and_exits_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = fleetdeck(&[], &tmp.path().join("log"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("fleetdeck lab up"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unwritable_log_file_warns_but_does_not_stop_the_command() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A directory cannot be opened as a log file, even by root.
    let out = fleetdeck(&["lab", "status", "--dir", "/nonexistent/lab"], tmp.path());
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("logging disabled"),
        "{}",
        stderr(&out)
    );
}
