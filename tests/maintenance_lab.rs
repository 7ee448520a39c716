//! Maintenance windows against the lab, through the real binary: a window started
//! from one state directory is seen by a second fleetdeck with another
//! `$XDG_STATE_HOME` (`maintenance list`, `status`), silences client-beta's planted
//! problems in `status` (listed as silenced, left out of the exit code), ends on
//! `maintenance end` and by itself; read-only refuses and leaves the host unchanged;
//! every change leaves audit lines locally and on the host.
//!
//! client-beta's window is removed by a guard whatever happens, so other tests see the
//! host as usual.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, lab, ssh, stderr, stdout};
use fleetdeck::audit::{AuditLog, AuditRecord, AuditResult};
use fleetdeck::lab::state::LabState;
use serde_json::Value;

const HOST: &str = "client-beta";

/// client-beta's `fleetdeck_state_dir`, as the lab's inventory sets it.
fn state_dir(dir: &Path) -> String {
    let inventory = fleetdeck::inventory::Inventory::load(&dir.join("inventory.yml"))
        .expect("the lab's inventory loads");
    inventory
        .host(HOST)
        .map(|h| h.settings().state_dir.clone())
        .expect("client-beta in the inventory")
}

fn window_file(dir: &Path) -> String {
    format!("{}/maintenance.json", state_dir(dir))
}

/// One fleetdeck "instance": its own state (audit log) and configuration.
struct Home {
    state: tempfile::TempDir,
    config: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            state: tempfile::tempdir().expect("tempdir"),
            config: tempfile::tempdir().expect("tempdir"),
        }
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

    fn audit(&self) -> Vec<AuditRecord> {
        let path = self.state.path().join("fleetdeck").join("audit.log");
        if !path.is_file() {
            return Vec::new();
        }
        AuditLog::read(&path).expect("the audit log parses")
    }
}

/// Removes client-beta's window when dropped (the test passed or not).
struct EndWindow<'a>(&'a Path);

impl Drop for EndWindow<'_> {
    fn drop(&mut self) {
        let out = ssh(self.0, HOST, &[], &format!("rm -f {}", window_file(self.0)));
        if !out.status.success() {
            eprintln!("removing {HOST}'s window failed: {}", stderr(&out));
        }
    }
}

fn inventory(state: &LabState) -> PathBuf {
    state.plan.dir.join("inventory.yml")
}

/// Whether client-beta has a window file, and the host's audit lines.
fn on_host(dir: &Path) -> (bool, Vec<AuditRecord>) {
    let exists = ssh(dir, HOST, &[], &format!("test -e {}", window_file(dir)))
        .status
        .success();
    let log = ssh(
        dir,
        HOST,
        &[],
        &format!("cat {}/audit.log 2>/dev/null || true", state_dir(dir)),
    );
    let lines = stdout(&log)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (exists, lines)
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}): {}{}", stdout(out), stderr(out)))
}

fn beta_in(status: &Value) -> &Value {
    status["hosts"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|h| h["name"] == HOST))
        .unwrap_or_else(|| panic!("{HOST} in {status}"))
}

/// The results of `action` in `lines`, in order.
fn results(lines: &[AuditRecord], action: &str) -> Vec<AuditResult> {
    lines
        .iter()
        .filter(|r| r.action == action && r.host == HOST)
        .map(|r| r.result)
        .collect()
}

#[test]
#[ignore = "needs the lab: scripts/test.sh, or FLEETDECK_LAB_DIR"]
fn a_window_from_one_instance_silences_the_host_for_another_until_it_ends() {
    let state = lab();
    // Every test that changes client-beta's window, in any file: one at a time.
    let _lock = common::maintenance_lock(&state, HOST);
    let dir = state.plan.dir.clone();
    let inventory = inventory(&state);
    let guard = EndWindow(&dir);
    drop(ssh(
        &dir,
        HOST,
        &[],
        &format!("rm -f {}", window_file(&dir)),
    ));
    let (first, second) = (Home::new(), Home::new());
    let host_audit_before = on_host(&dir).1.len();

    // Without a window, client-beta's planted problems make status critical.
    let out = second.run(&inventory, &["-l", HOST, "status"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));

    // Started from the first instance.
    let reason = "swap the /srv disk (ticket 4711)";
    let out = first.run(
        &inventory,
        &[
            "maintenance",
            "start",
            HOST,
            "--for",
            "1h",
            "--reason",
            reason,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(&format!("{HOST}: in maintenance until")),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        results(&first.audit(), "maintenance-start"),
        vec![AuditResult::Intent, AuditResult::Ok]
    );

    // Seen by the second, from the host itself.
    let out = second.run(&inventory, &["maintenance", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = json_of(&out);
    for host in list["hosts"].as_array().expect("hosts") {
        if host["host"] == HOST {
            assert_eq!(host["active"], true, "{host}");
            assert_eq!(host["maintenance"]["reason"], reason, "{host}");
            let by = host["maintenance"]["by"].as_str().expect("by");
            assert!(by.contains('@'), "user@machine: {by}");
        } else {
            assert_eq!(host["maintenance"], Value::Null, "{host}");
        }
    }
    let out = second.run(&inventory, &["maintenance", "list"]);
    assert!(stdout(&out).contains("in maintenance"), "{}", stdout(&out));
    assert!(stdout(&out).contains(reason), "{}", stdout(&out));

    let out = second.run(&inventory, &["-l", HOST, "status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "silenced: {}", stdout(&out));
    let status = json_of(&out);
    let beta = beta_in(&status);
    assert_eq!(beta["silenced"], true, "{beta}");
    assert_eq!(beta["maintenance"]["reason"], reason, "{beta}");
    assert_eq!(
        beta["severity"], "critical",
        "the problems are still there: {beta}"
    );
    let out = second.run(&inventory, &["-l", HOST, "status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let table = stdout(&out);
    assert!(table.contains("(maintenance)"), "{table}");
    assert!(table.contains(reason), "{table}");
    assert!(
        table.contains("5432/tcp is open from anywhere but not declared (silenced)"),
        "{table}"
    );
    // The rest of the fleet still counts: client-alpha's problems are critical.
    let out = second.run(
        &inventory,
        &["-l", &format!("{HOST}:client-alpha"), "status"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));

    // Ended by the second instance.
    let out = second.run(&inventory, &["maintenance", "end", HOST]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("maintenance ended"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        results(&second.audit(), "maintenance-end"),
        vec![AuditResult::Intent, AuditResult::Ok]
    );
    let out = first.run(&inventory, &["-l", HOST, "status", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "counted again: {}",
        stdout(&out)
    );
    let status = json_of(&out);
    assert_eq!(beta_in(&status)["silenced"], false);
    assert_eq!(beta_in(&status)["maintenance"], Value::Null);

    // A short window ends by itself: nobody removes the file.
    let started = Instant::now();
    let out = first.run(
        &inventory,
        &[
            "maintenance",
            "start",
            HOST,
            "--for",
            "15s",
            "--reason",
            "short",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = second.run(&inventory, &["-l", HOST, "status", "--json"]);
    if started.elapsed() < Duration::from_secs(14) {
        assert_eq!(out.status.code(), Some(0), "still open: {}", stdout(&out));
    }
    let deadline = started + Duration::from_secs(90);
    loop {
        let out = second.run(&inventory, &["-l", HOST, "status", "--json"]);
        if out.status.code() == Some(2) {
            let status = json_of(&out);
            assert_eq!(beta_in(&status)["silenced"], false, "{status}");
            assert!(started.elapsed() >= Duration::from_secs(15));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the window never ended: {}",
            stdout(&out)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        on_host(&dir).0,
        "it ended by itself: the file is still there"
    );
    let out = second.run(&inventory, &["maintenance", "list"]);
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with(HOST))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(line.contains("ended"), "{}", stdout(&out));
    drop(ssh(
        &dir,
        HOST,
        &[],
        &format!("rm -f {}", window_file(&dir)),
    ));

    // Every change is in the host's own audit log too.
    let (_, host_lines) = on_host(&dir);
    let new = &host_lines[host_audit_before.min(host_lines.len())..];
    let actions: Vec<(&str, AuditResult)> =
        new.iter().map(|r| (r.action.as_str(), r.result)).collect();
    assert_eq!(
        actions,
        vec![
            ("maintenance-start", AuditResult::Ok),
            ("maintenance-end", AuditResult::Ok),
            ("maintenance-start", AuditResult::Ok),
        ],
        "{new:?}"
    );
    drop(guard);
}

#[test]
#[ignore = "needs the lab: scripts/test.sh, or FLEETDECK_LAB_DIR"]
fn read_only_and_bad_input_refuse_and_leave_the_host_unchanged() {
    let state = lab();
    // Every test that changes client-beta's window, in any file: one at a time.
    let _lock = common::maintenance_lock(&state, HOST);
    let dir = state.plan.dir.clone();
    let inventory = inventory(&state);
    let _guard = EndWindow(&dir);
    let home = Home::new();
    let start = [
        "maintenance",
        "start",
        HOST,
        "--for",
        "1h",
        "--reason",
        "refused",
    ];

    // The whole run read-only: refused before any host is contacted.
    let mut args = vec!["--read-only"];
    args.extend(start);
    let out = home.run(&inventory, &args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    assert!(!on_host(&dir).0, "nothing written");
    let refused = home.audit();
    assert_eq!(
        results(&refused, "maintenance-start"),
        vec![AuditResult::Refused]
    );

    // The host read-only in the inventory.
    let overlay = common::inventory_overlay(
        &state,
        &[(
            &format!("host_vars/{HOST}.yml"),
            "fleetdeck_read_only: true\n",
        )],
    );
    let out = home.run(&overlay.path().join("inventory.yml"), &start);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("fleetdeck_read_only"),
        "{}",
        stdout(&out)
    );
    assert!(!on_host(&dir).0, "nothing written");
    assert_eq!(
        results(&home.audit(), "maintenance-start"),
        vec![AuditResult::Refused, AuditResult::Refused]
    );

    // An unknown host among good ones: nothing changes on any host.
    let out = home.run(
        &inventory,
        &[
            "maintenance",
            "start",
            HOST,
            "client-nosuch",
            "--for",
            "1h",
            "--reason",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("client-nosuch"), "{}", stderr(&out));
    // Bad lengths and reasons.
    for (length, reason, says) in [
        ("0s", "x", "more than zero"),
        ("31d", "x", "not a duration"),
        ("800h", "x", "at most 30 days"),
        ("1h", " ", "reason"),
        ("1h", "two\nlines", "one line"),
    ] {
        let out = home.run(
            &inventory,
            &[
                "maintenance",
                "start",
                HOST,
                "--for",
                length,
                "--reason",
                reason,
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{length} {reason:?}");
        assert!(stderr(&out).contains(says), "{length}: {}", stderr(&out));
    }
    assert!(!on_host(&dir).0, "nothing written");
    assert_eq!(results(&home.audit(), "maintenance-start").len(), 2);
}
