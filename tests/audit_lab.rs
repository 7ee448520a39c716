//! Read-only mode and the audit log, against the lab, through the real binary:
//! read-only from any source (the config file, `--read-only`, a host's
//! `fleetdeck_read_only`) refuses deploy, rollback, canary and drill with a `refused`
//! line in the local audit log and nothing changed on the host; an audit log that
//! cannot be written stops deploy and rollback before the host changes.
//!
//! Every test works on client-gamma's `web` and changes nothing there when it passes;
//! each run gets its own `$XDG_STATE_HOME` (so its own audit log) and, where it needs
//! one, its own `$XDG_CONFIG_HOME`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use common::{bin, lab, ssh, stderr, stdout};
use fleetdeck::audit::{AuditLog, AuditRecord, AuditResult};
use fleetdeck::lab::state::LabState;
use serde_json::Value;

const HOST: &str = "client-gamma";
/// The `error` of a line refused by the run's read-only mode.
const READ_ONLY_WHY: &str = "read-only mode (--read-only or read_only in config.yaml)";
/// The `error` of a line refused by the host's own setting.
const HOST_READ_ONLY_WHY: &str = "fleetdeck_read_only is set for this host";
static SERIAL: Mutex<()> = Mutex::new(());

/// Where one run keeps its state and reads its configuration.
struct Home {
    state: tempfile::TempDir,
    config: tempfile::TempDir,
}

impl Home {
    fn new(config_yaml: Option<&str>) -> Home {
        let home = Home {
            state: tempfile::tempdir().expect("tempdir"),
            config: tempfile::tempdir().expect("tempdir"),
        };
        if let Some(text) = config_yaml {
            let dir = home.config.path().join("fleetdeck");
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join("config.yaml"), text).expect("config.yaml");
        }
        home
    }

    fn audit_path(&self) -> PathBuf {
        self.state.path().join("fleetdeck").join("audit.log")
    }

    /// Every line of this home's audit log (none when there is no log).
    fn audit(&self) -> Vec<AuditRecord> {
        let path = self.audit_path();
        if !path.is_file() {
            return Vec::new();
        }
        AuditLog::read(&path).expect("the audit log parses")
    }

    fn run(&self, inventory: &Path, args: &[&str]) -> Output {
        Command::new(bin())
            .env("XDG_STATE_HOME", self.state.path())
            .env("XDG_CONFIG_HOME", self.config.path())
            .arg("-i")
            .arg(inventory)
            .arg("--batch")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running fleetdeck")
    }
}

fn inventory(state: &LabState) -> PathBuf {
    state.plan.dir.join("inventory.yml")
}

/// The id and image of a container on the lab host, through its sshd.
fn container(state: &LabState, name: &str) -> (String, String) {
    let out = ssh(
        &state.plan.dir,
        HOST,
        &[],
        &format!("docker inspect {name}"),
    );
    assert!(
        out.status.success(),
        "docker inspect {name}: {}",
        stderr(&out)
    );
    let list: Value = serde_json::from_slice(&out.stdout).expect("docker inspect prints JSON");
    (
        list[0]["Id"].as_str().unwrap_or_default().to_owned(),
        list[0]["Config"]["Image"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn lock_dir(state: &LabState) -> PathBuf {
    let h = state
        .plan
        .hosts
        .iter()
        .find(|h| h.name == HOST)
        .expect("lab host");
    state.plan.state_dir(h).join("deploy.lock")
}

fn said(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

/// The `(host, action, target, result, error)` of each line.
fn lines(records: &[AuditRecord]) -> Vec<(String, String, String, AuditResult, Option<String>)> {
    records
        .iter()
        .map(|r| {
            (
                r.host.clone(),
                r.action.clone(),
                r.target.clone(),
                r.result,
                r.error.clone(),
            )
        })
        .collect()
}

fn refused(
    action: &str,
    target: &str,
    why: &str,
) -> (String, String, String, AuditResult, Option<String>) {
    (
        HOST.to_owned(),
        action.to_owned(),
        target.to_owned(),
        AuditResult::Refused,
        Some(why.to_owned()),
    )
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn read_only_in_the_config_file_refuses_every_mutating_command_and_records_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let state = lab();
    let before = container(&state, "web");
    let home = Home::new(Some("read_only: true\n"));
    let inventory = inventory(&state);
    let limit = ["--limit", HOST];

    let deploy = home.run(
        &inventory,
        &[
            &limit[..],
            &["deploy", "--app", "web", "-e", "web_version=1.1", "--yes"],
        ]
        .concat(),
    );
    assert_eq!(deploy.status.code(), Some(2), "{}", said(&deploy));
    assert!(
        stderr(&deploy).contains("read-only mode"),
        "{}",
        said(&deploy)
    );
    let rollback = home.run(
        &inventory,
        &[&limit[..], &["rollback", "--app", "web", "--yes"]].concat(),
    );
    assert_eq!(rollback.status.code(), Some(2), "{}", said(&rollback));
    let canary = home.run(
        &inventory,
        &[
            &limit[..],
            &["canary", "--app", "web", "-e", "web_version=1.1", "--yes"],
        ]
        .concat(),
    );
    assert_eq!(canary.status.code(), Some(2), "{}", said(&canary));
    let drill = home.run(
        &inventory,
        &["drill", "--host", HOST, "--app", "web", "--yes"],
    );
    assert_eq!(drill.status.code(), Some(2), "{}", said(&drill));
    assert!(
        stderr(&drill).contains("read-only mode"),
        "{}",
        said(&drill)
    );

    assert_eq!(
        container(&state, "web"),
        before,
        "web is the same container"
    );
    assert!(!lock_dir(&state).exists(), "no lock was taken");
    let why = READ_ONLY_WHY;
    assert_eq!(
        lines(&home.audit()),
        [
            refused("deploy", "web", why),
            refused("rollback", "web", why),
            refused("canary", "web", why),
            refused("drill", "web from app-data snapshot latest", why),
        ]
    );

    // A dry run changes nothing and is not refused.
    let dry = home.run(
        &inventory,
        &[&limit[..], &["deploy", "--app", "web", "--dry-run"]].concat(),
    );
    assert_eq!(dry.status.code(), Some(0), "{}", said(&dry));
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn the_read_only_flag_refuses_a_deploy_and_records_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let state = lab();
    let before = container(&state, "web");
    let home = Home::new(None);
    let out = home.run(
        &inventory(&state),
        &[
            "--read-only",
            "--limit",
            HOST,
            "deploy",
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--yes",
            "--reason",
            "testing",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(
        stderr(&out).contains("recorded in the audit log"),
        "{}",
        said(&out)
    );
    assert_eq!(container(&state, "web"), before);
    let records = home.audit();
    assert_eq!(lines(&records), [refused("deploy", "web", READ_ONLY_WHY)]);
    assert_eq!(records[0].reason.as_deref(), Some("testing"));
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_read_only_host_is_refused_and_recorded() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let state = lab();
    let before = container(&state, "web");
    let overlay = common::inventory_overlay(
        &state,
        &[(
            &format!("host_vars/{HOST}.yml"),
            "fleetdeck_read_only: true\n",
        )],
    );
    let home = Home::new(None);
    let inventory = overlay.path().join("inventory.yml");
    let out = home.run(
        &inventory,
        &[
            "--limit",
            HOST,
            "deploy",
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--yes",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let json: Value = serde_json::from_slice(&out.stdout).expect("deploy --json prints JSON");
    assert_eq!(json["hosts"][0]["result"], "refused", "{json}");
    let rollback = home.run(
        &inventory,
        &["--limit", HOST, "rollback", "--app", "web", "--yes"],
    );
    assert_eq!(rollback.status.code(), Some(1), "{}", said(&rollback));
    let drill = home.run(
        &inventory,
        &["drill", "--host", HOST, "--app", "web", "--yes"],
    );
    assert_eq!(drill.status.code(), Some(2), "{}", said(&drill));

    assert_eq!(container(&state, "web"), before);
    assert!(!lock_dir(&state).exists(), "no lock was taken");
    let why = HOST_READ_ONLY_WHY;
    assert_eq!(
        lines(&home.audit()),
        [
            refused("deploy", "web", why),
            refused("rollback", "web", why),
            refused("drill", "web from app-data snapshot latest", why),
        ]
    );
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn an_unwritable_audit_log_stops_deploy_and_rollback_before_the_host_changes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let state = lab();
    let before = container(&state, "web");
    let home = Home::new(None);
    // A directory where the file should be: no line can be appended to it.
    std::fs::create_dir_all(home.audit_path()).expect("mkdir");
    let inventory = inventory(&state);

    let deploy = home.run(
        &inventory,
        &[
            "--limit",
            HOST,
            "deploy",
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--yes",
        ],
    );
    assert_eq!(deploy.status.code(), Some(1), "{}", said(&deploy));
    let text = said(&deploy);
    assert!(text.contains("FAILED"), "{text}");
    assert!(
        text.contains("not attempted: the audit log") && text.contains("audit.log"),
        "{text}"
    );
    assert_eq!(
        container(&state, "web"),
        before,
        "web is the same container"
    );
    assert!(!lock_dir(&state).exists(), "no lock was taken");

    let rollback = home.run(
        &inventory,
        &["--limit", HOST, "rollback", "--app", "web", "--yes"],
    );
    assert_eq!(rollback.status.code(), Some(1), "{}", said(&rollback));
    assert!(
        said(&rollback).contains("not attempted: the audit log"),
        "{}",
        said(&rollback)
    );
    assert_eq!(
        container(&state, "web"),
        before,
        "web is the same container"
    );
    assert!(!lock_dir(&state).exists(), "no lock was taken");

    // A log that opens but takes no line (a full disk): the run gets as far as its
    // lock, and the intent line of web's replacement fails; web is not touched.
    let full = Home::new(None);
    let path = full.audit_path();
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink("/dev/full", &path).expect("symlink");
    let deploy = full.run(
        &inventory,
        &[
            "--limit",
            HOST,
            "deploy",
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--yes",
        ],
    );
    assert_eq!(deploy.status.code(), Some(1), "{}", said(&deploy));
    assert!(
        said(&deploy).contains("not attempted: the audit log"),
        "{}",
        said(&deploy)
    );
    assert!(
        stderr(&deploy)
            .lines()
            .all(|l| !l.contains(": stop ") && !l.contains(": create ")),
        "no container step was taken: {}",
        said(&deploy)
    );
    assert_eq!(
        container(&state, "web"),
        before,
        "web is the same container"
    );
    assert!(!lock_dir(&state).exists(), "the lock was released");
}
