//! `fleetdeck report` against the lab: client-alpha's report holds the unhealthy
//! `worker`'s health output and log lines, never the lab's `web_token`, and a second
//! run writes a second file; bad input writes nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{bin, lab, lab_docker, stderr, stdout};
use fleetdeck::lab::state::LabState;
use serde_json::Value;

const HOST: &str = "client-alpha";

fn run_report(state: &LabState, xdg: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(["-i"])
        .arg(state.plan.dir.join("inventory.yml"))
        .args(["report", HOST])
        .args(args)
        .env("XDG_STATE_HOME", xdg)
        .output()
        .expect("running fleetdeck report")
}

/// The paths `report` printed (Markdown, then JSON).
fn written(out: &Output) -> (PathBuf, PathBuf) {
    let text = stdout(out);
    let paths: Vec<PathBuf> = text.lines().map(PathBuf::from).collect();
    assert_eq!(paths.len(), 2, "two paths: {text} / {}", stderr(out));
    assert!(paths[0].extension().is_some_and(|e| e == "md"), "{text}");
    assert!(paths[1].extension().is_some_and(|e| e == "json"), "{text}");
    (paths[0].clone(), paths[1].clone())
}

/// The lab's web token for `HOST`, decrypted from its secrets file.
fn web_token(state: &LabState) -> String {
    let h = state
        .plan
        .hosts
        .iter()
        .find(|h| h.name == HOST)
        .expect("lab host");
    let out = Command::new(bin())
        .args(["secrets", "decrypt", "--key", "web_token", "--identity"])
        .arg(state.plan.dir.join("age.key"))
        .arg(state.plan.secrets_file(h))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    assert_eq!(token.len(), 32, "the lab's token is 16 random bytes in hex");
    token
}

/// The worker's last health-check output, once Docker has judged it unhealthy.
fn unhealthy_worker_output(state: &LabState) -> String {
    let docker = lab_docker(state, HOST);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = docker(&["inspect", "worker"]);
        let json: Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
        let health = &json[0]["State"]["Health"];
        if health["Status"] == "unhealthy" {
            let log = health["Log"].as_array().expect("health log");
            let last = log.last().expect("a health check ran");
            return last["Output"].as_str().unwrap_or("").trim().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "worker never became unhealthy: {health}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_report_holds_the_failing_container_and_no_secret_and_never_overwrites() {
    let state = lab();
    let health = unhealthy_worker_output(&state);
    assert!(
        !health.is_empty(),
        "the lab's worker says why it is unhealthy"
    );
    let logs = lab_docker(&state, HOST)(&["logs", "--tail", "5", "worker"]);
    let log_lines: Vec<String> = String::from_utf8_lossy(&logs.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&logs.stderr).lines())
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!log_lines.is_empty(), "the worker has logged something");
    let token = web_token(&state);
    let xdg = tempfile::tempdir().expect("tempdir");

    let first = run_report(&state, xdg.path(), &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let (md, json) = written(&first);
    assert!(
        md.starts_with(xdg.path().join("fleetdeck/reports")),
        "{}",
        md.display()
    );
    let text = std::fs::read_to_string(&md).expect("the Markdown");
    assert!(text.contains("## Container worker"), "{text}");
    assert!(text.contains(&health), "health output {health:?} in {text}");
    for line in &log_lines {
        assert!(text.contains(line.as_str()), "log line {line:?} in {text}");
    }
    let report: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("the JSON")).expect("JSON");
    assert_eq!(report["host"], HOST);
    let worker = report["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "worker"))
        .unwrap_or_else(|| panic!("worker in {report}"));
    assert_eq!(worker["status"]["health"], "unhealthy");
    assert!(
        !worker["logs"].as_array().expect("log lines").is_empty(),
        "{worker}"
    );

    // The web app, which has the token mounted, asked for by name.
    let out = tempfile::tempdir().expect("tempdir");
    let web = run_report(
        &state,
        xdg.path(),
        &[
            "--container",
            "web",
            "--out",
            out.path().to_str().expect("utf-8"),
        ],
    );
    assert_eq!(web.status.code(), Some(0), "{}", stderr(&web));
    let (web_md, _) = written(&web);
    assert!(web_md.starts_with(out.path()), "{}", web_md.display());

    // A second run: a second pair of files, the first untouched.
    let again = run_report(&state, xdg.path(), &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let (md2, json2) = written(&again);
    assert_ne!(md, md2);
    assert_ne!(json, json2);
    assert_eq!(std::fs::read_to_string(&md).expect("still there"), text);

    for dir in [xdg.path().join("fleetdeck/reports"), out.path().to_owned()] {
        for entry in std::fs::read_dir(&dir).expect("reports") {
            let path = entry.expect("entry").path();
            let content = std::fs::read_to_string(&path).expect("readable");
            assert!(
                !content.contains(&token),
                "{} holds the web token",
                path.display()
            );
        }
    }
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn bad_input_writes_nothing() {
    let state = lab();
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("reports");
    let dir_arg = dir.to_str().expect("utf-8");
    for args in [
        vec!["--container", "no-such-container", "--out", dir_arg],
        vec!["--since", "0s", "--out", dir_arg],
        vec!["--since", "soon", "--out", dir_arg],
    ] {
        let run = run_report(&state, out.path(), &args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert!(stdout(&run).is_empty(), "{args:?}");
        assert!(!dir.exists(), "{args:?} wrote {}", dir.display());
    }
    let unknown = Command::new(bin())
        .args(["-i"])
        .arg(state.plan.dir.join("inventory.yml"))
        .args(["report", "no-such-host", "--out", dir_arg])
        .env("XDG_STATE_HOME", out.path())
        .output()
        .expect("runs");
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("no-such-host"),
        "{}",
        stderr(&unknown)
    );
    assert!(!dir.exists());
}
