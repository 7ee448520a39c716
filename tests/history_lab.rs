//! The persistent history against the lab (docs/history.md): a container stop recorded
//! by a `watch` that has since exited is listed by `history`; a deploy shows as an
//! action; two `watch`es writing into one history lose nothing; a damaged database is
//! a clear error from `history` and `watch` runs without it.
//!
//! Each test has its own `$XDG_STATE_HOME` (so its own history and audit log) and its
//! own container on client-delta, removed however the test ends; the deploy is a new
//! version of client-gamma's web, put back to the lab's default however the test ends.

mod common;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::lab_container::{LOOP, TestContainer};
use common::{bin, lab, stderr, stdout};
use fleetdeck::lab::state::LabState;
use serde_json::Value;

const HOST: &str = "client-delta";

/// A running `watch --json --limit HOST` with its own state directory; its stdout
/// lines and its stderr read on threads; killed on drop.
struct Watch {
    child: Child,
    lines: Receiver<Value>,
    stderr: Receiver<String>,
}

impl Watch {
    fn start(state: &LabState, home: &Path) -> Watch {
        let mut child = Command::new(bin())
            .args(["watch", "--json", "--limit", HOST, "-i"])
            .arg(state.plan.dir.join("inventory.yml"))
            .env("XDG_STATE_HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("fleetdeck watch");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line)
                    && tx.send(value).is_err()
                {
                    return;
                }
            }
        });
        let mut err = child.stderr.take().expect("stderr");
        let (tx, stderr) = channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        Watch {
            child,
            lines,
            stderr,
        }
    }

    /// Lines until one shows container `name` in `want`; every line read is kept.
    fn until_state(&self, seen: &mut Vec<Value>, name: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no line with {name} {want} within 60 s: {e}"));
            let state = container_state(&line, name);
            seen.push(line);
            if state.as_deref() == Some(want) {
                return;
            }
        }
    }

    /// Killed; what it said on stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_default()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn container_state(line: &Value, name: &str) -> Option<String> {
    line["host"]["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["state"].as_str().map(str::to_owned))
}

/// How many times the lines show container `name` going from another state to
/// `exited`.
fn stops_seen(lines: &[Value], name: &str) -> usize {
    let states: Vec<String> = lines
        .iter()
        .filter_map(|l| container_state(l, name))
        .collect();
    states
        .windows(2)
        .filter(|w| w[0] != "exited" && w[1] == "exited")
        .count()
}

fn history(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("history")
        .args(args)
        .env("XDG_STATE_HOME", home)
        .stdin(Stdio::null())
        .output()
        .expect("fleetdeck history")
}

fn history_json(home: &Path, args: &[&str]) -> Vec<Value> {
    let out = history(home, &[&["--since", "1h", "--json"], args].concat());
    assert!(out.status.success(), "history: {}", stderr(&out));
    serde_json::from_slice::<Vec<Value>>(&out.stdout)
        .unwrap_or_else(|e| panic!("history --json ({e}): {}", stdout(&out)))
}

/// The history's container entries about `name` stopping.
fn stops_recorded(home: &Path, name: &str) -> usize {
    history_json(home, &["--host", HOST, "--kind", "container"])
        .iter()
        .filter(|e| {
            e["text"]
                .as_str()
                .is_some_and(|t| t.starts_with(&format!("{name}: exited")))
        })
        .count()
}

/// Polls until the history holds `want` stops of `name` (the writer commits within
/// milliseconds, but asynchronously), then returns what it holds.
fn wait_recorded(home: &Path, name: &str, want: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = stops_recorded(home, name);
        if found >= want || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_stop_recorded_by_a_watch_that_exited_is_listed() {
    let state = lab();
    let home = tempfile::tempdir().expect("tempdir");
    let container = TestContainer::start(&state, HOST, "history-stop", LOOP);
    let watch = Watch::start(&state, home.path());
    let mut lines = Vec::new();
    watch.until_state(&mut lines, &container.name, "running");
    container.docker("stop");
    watch.until_state(&mut lines, &container.name, "exited");
    assert_eq!(wait_recorded(home.path(), &container.name, 1), 1);
    let said = watch.stop();
    assert!(!said.contains("without the history"), "{said}");
    // The watch is gone: the history still has it, with its time and severity.
    let stops: Vec<Value> = history_json(home.path(), &["--host", HOST])
        .into_iter()
        .filter(|e| {
            e["text"]
                .as_str()
                .is_some_and(|t| t.starts_with(&format!("{}: exited", container.name)))
        })
        .collect();
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(stops[0]["kind"], "container");
    assert_eq!(stops[0]["host"], HOST);
    let table = stdout(&history(home.path(), &["--since", "1h", "--host", HOST]));
    assert!(
        table.contains(&format!("{}: exited", container.name)),
        "{table}"
    );
}

/// `deploy --limit client-gamma --app web ARGS --yes` with the test's own state.
fn deploy(state: &LabState, home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("-i")
        .arg(state.plan.dir.join("inventory.yml"))
        .args([
            "--batch",
            "deploy",
            "--limit",
            "client-gamma",
            "--app",
            "web",
        ])
        .args(args)
        .arg("--yes")
        .env("XDG_STATE_HOME", home)
        .stdin(Stdio::null())
        .output()
        .expect("fleetdeck deploy")
}

/// Puts client-gamma's web back to the lab's default version however the test ends.
struct Restore<'a>(&'a LabState, &'a Path);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let out = deploy(self.0, self.1, &["--break-lock", "--reason", "restore"]);
        if !std::thread::panicking() {
            assert_eq!(out.status.code(), Some(0), "restoring: {}", stderr(&out));
        }
    }
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_deploy_shows_as_an_action() {
    let state = lab();
    let home = tempfile::tempdir().expect("tempdir");
    let restore = Restore(&state, home.path());
    // An unchanged deploy is no action (nothing is audited): a new version is.
    let out = deploy(
        &state,
        home.path(),
        &["-e", "web_version=1.1", "--reason", "history test"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let actions = history_json(home.path(), &["--kind", "action"]);
    let deploys: Vec<&Value> = actions
        .iter()
        .filter(|e| {
            e["host"] == "client-gamma"
                && e["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("deploy ") && t.contains("history test"))
        })
        .collect();
    assert_eq!(deploys.len(), 1, "{actions:?}");
    assert_eq!(deploys[0]["severity"], "ok");
    assert_eq!(deploys[0]["kind"], "action");
    // Asked again (the audit log ingested again): still once.
    assert_eq!(
        history_json(home.path(), &["--kind", "action"]).len(),
        actions.len()
    );
    drop(restore);
    let after = history_json(home.path(), &["--kind", "action"]);
    assert!(
        after[0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("restore")),
        "the restore is the newest action: {after:?}"
    );
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn two_watches_writing_at_once_lose_nothing() {
    let state = lab();
    let home = tempfile::tempdir().expect("tempdir");
    let container = TestContainer::start(&state, HOST, "history-two", LOOP);
    let watches = [
        Watch::start(&state, home.path()),
        Watch::start(&state, home.path()),
    ];
    let mut lines = [Vec::new(), Vec::new()];
    for (watch, lines) in watches.iter().zip(&mut lines) {
        watch.until_state(lines, &container.name, "running");
    }
    const CYCLES: usize = 3;
    for cycle in 0..CYCLES {
        container.docker("stop");
        for (watch, lines) in watches.iter().zip(&mut lines) {
            watch.until_state(lines, &container.name, "exited");
        }
        if cycle + 1 < CYCLES {
            container.docker("start");
            for (watch, lines) in watches.iter().zip(&mut lines) {
                watch.until_state(lines, &container.name, "running");
            }
        }
    }
    let seen: usize = lines.iter().map(|l| stops_seen(l, &container.name)).sum();
    assert_eq!(seen, 2 * CYCLES, "each watch saw each stop");
    wait_recorded(home.path(), &container.name, seen);
    for watch in watches {
        watch.stop();
    }
    assert_eq!(
        stops_recorded(home.path(), &container.name),
        seen,
        "every stop each watch printed is in the history, once per watch"
    );
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_damaged_history_is_a_clear_error_and_watch_runs_without_it() {
    let state = lab();
    let home = tempfile::tempdir().expect("tempdir");
    let db = home.path().join("fleetdeck/history.db");
    std::fs::create_dir_all(db.parent().expect("dir")).expect("mkdir");
    std::fs::write(&db, "not a database\n".repeat(500)).expect("write");
    let out = history(home.path(), &["--since", "1h"]);
    assert_eq!(out.status.code(), Some(2));
    let said = stderr(&out);
    assert!(said.contains(&db.display().to_string()), "{said}");
    assert!(said.contains("move it aside"), "{said}");
    let container = TestContainer::start(&state, HOST, "history-damaged", LOOP);
    let watch = Watch::start(&state, home.path());
    let mut lines = Vec::new();
    watch.until_state(&mut lines, &container.name, "running");
    let said = watch.stop();
    assert_eq!(
        said.matches("going on without the history").count(),
        1,
        "said once: {said}"
    );
    assert!(said.contains("move it aside"), "{said}");
    assert_eq!(
        std::fs::read(&db).expect("read"),
        "not a database\n".repeat(500).into_bytes(),
        "the damaged file is left as it was"
    );
}
