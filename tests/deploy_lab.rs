//! `fleetdeck deploy` and `fleetdeck rollback` against the lab: a new version deploys
//! and a second run changes nothing; a version whose health check fails rolls back by
//! itself; a killed deploy leaves a lock the next run reports, and that run converges;
//! secrets land as read-only files `docker inspect` does not show; bad input is refused
//! before any host changes.
//!
//! Every test works on client-gamma's `web` app, starts from the lab's default
//! (version 1.0) and puts it back before it ends, so the other lab tests see the lab
//! they expect.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Running, Signalled, bin, lab, run_until, ssh, stderr, stdout};
use fleetdeck::lab::state::LabState;
use serde_json::Value;

const HOST: &str = "client-gamma";
static SERIAL: Mutex<()> = Mutex::new(());

struct Run {
    code: Option<i32>,
    json: Value,
    stdout: String,
    stderr: String,
}

fn deploy_with(inventory: &Path, args: &[&str]) -> Run {
    let out = Command::new(bin())
        .arg("-i")
        .arg(inventory)
        .arg("--batch")
        .arg("deploy")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running fleetdeck deploy");
    let json = if args.contains(&"--json") {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "deploy --json prints JSON ({e}): {}\nstderr: {}",
                stdout(&out),
                stderr(&out)
            )
        })
    } else {
        Value::Null
    };
    Run {
        code: out.status.code(),
        json,
        stdout: stdout(&out),
        stderr: stderr(&out),
    }
}

fn deploy(state: &LabState, args: &[&str]) -> Run {
    deploy_with(&state.plan.dir.join("inventory.yml"), args)
}

/// `docker inspect NAME` on the lab host, through its sshd like an operator would.
fn inspect(state: &LabState, name: &str) -> Option<Value> {
    let out = ssh(
        &state.plan.dir,
        HOST,
        &[],
        &format!("docker inspect {name}"),
    );
    if !out.status.success() {
        return None;
    }
    let list: Value = serde_json::from_slice(&out.stdout).expect("docker inspect prints JSON");
    list.get(0).cloned()
}

fn image(c: &Value) -> &str {
    c["Config"]["Image"].as_str().unwrap_or_default()
}

fn label<'a>(c: &'a Value, key: &str) -> &'a str {
    c["Config"]["Labels"][key].as_str().unwrap_or_default()
}

/// Waits until the container's health check says healthy.
fn wait_healthy(state: &LabState, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = inspect(state, name).unwrap_or_else(|| panic!("{name} exists"));
        if c["State"]["Health"]["Status"] == "healthy" {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never became healthy: {c}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn host<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["hosts"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|h| h["name"] == name))
        .unwrap_or_else(|| panic!("{name} in {json}"))
}

/// Back to the lab's defaults, and checks it got there.
fn restore(state: &LabState) {
    let run = deploy(
        state,
        &["--limit", HOST, "--app", "web", "--yes", "--break-lock"],
    );
    assert_eq!(
        run.code,
        Some(0),
        "restoring web: {}{}",
        run.stdout,
        run.stderr
    );
    let web = wait_healthy(state, "web");
    assert_eq!(image(&web), "fleetdeck-lab/app:1.0");
}

fn state_dir(state: &LabState) -> PathBuf {
    let h = state
        .plan
        .hosts
        .iter()
        .find(|h| h.name == HOST)
        .expect("lab host");
    state.plan.state_dir(h)
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_new_version_deploys_a_second_run_changes_nothing_and_rollback_is_instant() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    restore(&state);
    let before = inspect(&state, "web").expect("web runs");

    // Read-only mode refuses before anything connects.
    let out = Command::new(bin())
        .arg("-i")
        .arg(state.plan.dir.join("inventory.yml"))
        .args(["--read-only", "deploy", "--limit", HOST, "--yes"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));

    // The plan, and nothing else.
    let dry = deploy(
        &state,
        &[
            "--limit",
            HOST,
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--dry-run",
        ],
    );
    assert_eq!(dry.code, Some(0), "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("~ web (web) fleetdeck-lab/app:1.0 -> fleetdeck-lab/app:1.1"),
        "{}",
        dry.stdout
    );
    assert_eq!(inspect(&state, "web").expect("web")["Id"], before["Id"]);

    let run = deploy(
        &state,
        &[
            "--limit",
            HOST,
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--yes",
            "--json",
            "--reason",
            "release 1.1",
        ],
    );
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let h = host(&run.json, HOST);
    assert_eq!(h["result"], "deployed", "{h}");
    let service = &h["services"][0];
    assert_eq!(service["result"], "deployed");
    assert_eq!(service["from_image"], "fleetdeck-lab/app:1.0");
    assert_eq!(service["to_image"], "fleetdeck-lab/app:1.1");
    assert!(service["gate_seconds"].as_f64().is_some(), "{service}");

    let web = wait_healthy(&state, "web");
    assert_eq!(image(&web), "fleetdeck-lab/app:1.1");
    assert_eq!(label(&web, "fleetdeck.app"), "web");
    assert_eq!(label(&web, "fleetdeck.service"), "web");
    let hash = label(&web, "fleetdeck.config-hash");
    assert_eq!(hash.len(), 64, "a SHA-256: {hash}");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(hash, label(&before, "fleetdeck.config-hash"));
    // The previous revision is kept, stopped, for an instant rollback.
    let prev = inspect(&state, "web.prev").expect("web.prev kept");
    assert_eq!(prev["Id"], before["Id"]);
    assert_eq!(prev["State"]["Running"], false);
    assert!(inspect(&state, "web.next").is_none());
    assert!(inspect(&state, "web.old").is_none());
    // Audited here and on the host; the lock is gone, its journal kept.
    let host_audit =
        std::fs::read_to_string(state_dir(&state).join("audit.log")).expect("host audit log");
    assert!(
        host_audit.contains("\"reason\":\"release 1.1\""),
        "{host_audit}"
    );
    assert!(!state_dir(&state).join("deploy.lock").exists());
    let journal = std::fs::read_to_string(state_dir(&state).join("last-deploy.journal"))
        .expect("journal kept");
    for step in ["create", "stop", "start", "gate"] {
        assert!(
            journal.contains(&format!("\"step\":\"{step}\"")),
            "{journal}"
        );
    }

    // Nothing changed: nothing done.
    let again = deploy(
        &state,
        &[
            "--limit",
            HOST,
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--yes",
            "--json",
        ],
    );
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(host(&again.json, HOST)["result"], "unchanged");
    assert_eq!(inspect(&state, "web").expect("web")["Id"], web["Id"]);

    // Rollback swaps the two revisions at once; the operator sees the old version.
    let out = Command::new(bin())
        .arg("-i")
        .arg(state.plan.dir.join("inventory.yml"))
        .args([
            "--batch", "rollback", "--limit", HOST, "--app", "web", "--yes", "--json",
        ])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let rolled = wait_healthy(&state, "web");
    assert_eq!(rolled["Id"], before["Id"], "the kept container runs again");
    assert_eq!(
        inspect(&state, "web.prev").expect("1.1 kept in turn")["Id"],
        web["Id"]
    );
    // Back at the lab's defaults: a deploy finds nothing to do.
    let settled = deploy(
        &state,
        &["--limit", HOST, "--app", "web", "--yes", "--json"],
    );
    assert_eq!(
        host(&settled.json, HOST)["result"],
        "unchanged",
        "{}",
        settled.json
    );
    restore(&state);
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_release_whose_health_check_fails_is_rolled_back_automatically() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    restore(&state);
    let before = wait_healthy(&state, "web");

    let run = deploy(
        &state,
        &[
            "--limit",
            HOST,
            "--app",
            "web",
            "-e",
            "web_version=1.2-broken",
            "--yes",
            "--json",
        ],
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let h = host(&run.json, HOST);
    assert_eq!(h["result"], "rolled_back", "{h}");
    let service = &h["services"][0];
    assert_eq!(service["result"], "rolled_back");
    let error = service["error"].as_str().expect("why");
    // The health check's own words reach the operator.
    assert!(error.contains("release 1.2-broken"), "{error}");
    assert!(
        !service["logs"].as_array().expect("logs").is_empty(),
        "{service}"
    );

    // The previous version runs again, and is healthy.
    let web = wait_healthy(&state, "web");
    assert_eq!(web["Id"], before["Id"]);
    assert_eq!(image(&web), "fleetdeck-lab/app:1.0");
    assert!(
        inspect(&state, "web.next").is_none(),
        "the broken one is gone"
    );

    // A healthy container whose HTTP probe fails (asked from here, over the lab's
    // network) does not pass either.
    let run = deploy(
        &state,
        &[
            "--limit",
            HOST,
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "-e",
            "web_probe_path=/missing",
            "-e",
            "web_gate_timeout=10",
            "--yes",
            "--json",
        ],
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let h = host(&run.json, HOST);
    assert_eq!(h["result"], "rolled_back", "{h}");
    let error = h["services"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("HTTP probe: GET http://") && error.contains("/missing answered 404"),
        "{error}"
    );
    let web = wait_healthy(&state, "web");
    assert_eq!(web["Id"], before["Id"]);
    restore(&state);
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn an_interrupted_deploy_leaves_a_lock_the_next_run_reports_and_converges() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    restore(&state);
    let lock = state_dir(&state).join("deploy.lock");

    // Killed while the new container is in its health gate.
    let mut child = Command::new(bin())
        .arg("-i")
        .arg(state.plan.dir.join("inventory.yml"))
        .args(["--batch", "deploy", "--limit", HOST, "--app", "web"])
        .args(["-e", "web_version=1.1", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let pid = child.id();
    let mut progress = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = progress.read_line(&mut line).expect("reads progress");
        assert!(n > 0, "deploy ended before its gate: {seen}");
        seen.push_str(&line);
        if line.contains(": gate ") {
            break;
        }
    }
    // SIGKILL: no cleanup of any kind.
    child.kill().expect("kill");
    let _ = child.wait();
    let holder =
        std::fs::read_to_string(lock.join("holder.json")).expect("the killed run's lock stays");
    assert!(holder.contains(&format!("\"pid\":{pid}")), "{holder}");

    // Someone else's lock (another machine) is never broken silently.
    let foreign = state_dir(&state).join("foreign.json");
    std::fs::write(
        &foreign,
        r#"{"operator":"alice@laptop","machine":"alice-laptop","pid":1,"since":"2026-11-23T10:00:00Z","action":"deploy","reason":"hotfix","id":"x"}"#,
    )
    .expect("write");
    let ours = std::fs::read(lock.join("holder.json")).expect("read");
    std::fs::rename(&foreign, lock.join("holder.json")).expect("swap holder");
    let refused = deploy(
        &state,
        &["--limit", HOST, "--app", "web", "--yes", "--json"],
    );
    assert_eq!(refused.code, Some(1));
    let h = host(&refused.json, HOST);
    assert_eq!(h["result"], "locked", "{h}");
    let error = h["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("alice@laptop") && error.contains("hotfix"),
        "{error}"
    );
    assert!(error.contains("--break-lock"), "{error}");
    std::fs::write(lock.join("holder.json"), ours).expect("restore holder");

    // The killed run was ours, on this machine: reported, taken over, converged.
    let run = deploy(
        &state,
        &[
            "--limit",
            HOST,
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--yes",
            "--json",
        ],
    );
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let h = host(&run.json, HOST);
    assert!(
        matches!(h["result"].as_str(), Some("deployed" | "unchanged")),
        "{h}"
    );
    let interrupted = &h["interrupted"];
    assert!(
        interrupted["holder"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("pid {pid}"))),
        "{h}"
    );
    let steps = interrupted["steps"].as_array().expect("journal");
    assert!(
        steps
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.contains("gate"))),
        "the journal shows where it stopped: {interrupted}"
    );
    let web = wait_healthy(&state, "web");
    assert_eq!(image(&web), "fleetdeck-lab/app:1.1");
    for leftover in ["web.next", "web.old"] {
        assert!(inspect(&state, leftover).is_none(), "{leftover} removed");
    }
    assert!(!lock.exists(), "the lock is released");
    restore(&state);
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn secrets_are_read_only_files_that_docker_inspect_does_not_show() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    let web = wait_healthy(&state, "web");
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

    let mode = ssh(
        &state.plan.dir,
        HOST,
        &[],
        "docker exec web stat -c '%a %u' /run/secrets/web_token",
    );
    // Readable by the app's user only (the lab's apps run as nobody, 65534).
    assert_eq!(stdout(&mode).trim(), "400 65534", "{}", stderr(&mode));
    let read = ssh(
        &state.plan.dir,
        HOST,
        &[],
        "docker exec web cat /run/secrets/web_token",
    );
    assert_eq!(stdout(&read), token, "the container reads the value");

    let inspected = web.to_string();
    assert!(
        !inspected.contains(&token),
        "docker inspect shows the secret"
    );
    let mount = web["Mounts"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|m| m["Destination"] == "/run/secrets/web_token")
        })
        .unwrap_or_else(|| panic!("secret mount in {web}"));
    assert_eq!(mount["RW"], false, "mounted read-only: {mount}");
    let env = web["Config"]["Env"].to_string();
    assert!(!env.contains("web_token") && !env.contains(&token), "{env}");
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_missing_variable_or_an_unpinned_image_is_refused_before_any_host_changes() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    // The lab's inventory, with client-gamma's stacks replaced by two bad ones (in a
    // stacks directory given relative to the inventory, as platforms write it).
    let overlay = common::inventory_overlay(
        &state,
        &[
            (
                &format!("host_vars/{HOST}.yml"),
                "fleetdeck_stacks_dir: stacks\n",
            ),
            (
                "stacks/web.yml",
                "services:\n  web:\n    image: \"fleetdeck-lab/app:{{ web_release }}\"\n",
            ),
            (
                "stacks/worker.yml",
                "services:\n  worker:\n    image: fleetdeck-lab/app:latest\n",
            ),
        ],
    );
    let stacks = overlay.path().join("stacks");

    let audit_before: Vec<_> = state
        .plan
        .hosts
        .iter()
        .map(|h| std::fs::read_to_string(state.plan.state_dir(h).join("audit.log")).ok())
        .collect();
    let alpha_web = || {
        let out = ssh(
            &state.plan.dir,
            "client-alpha",
            &[],
            "docker inspect -f '{{.Id}} {{.Config.Image}} {{.State.StartedAt}}' web",
        );
        stdout(&out)
    };
    let alpha_before = alpha_web();
    // Every host would change (a new web version) if the run went ahead.
    let run = deploy_with(
        &overlay.path().join("inventory.yml"),
        &["-e", "web_version=1.1", "--yes"],
    );
    assert_eq!(run.code, Some(2), "{}{}", run.stdout, run.stderr);
    let web_file = stacks.join("web.yml").display().to_string();
    assert!(
        run.stderr.contains(&format!("{web_file}:3:")) && run.stderr.contains("web_release"),
        "names file, line and variable: {}",
        run.stderr
    );
    assert!(run.stderr.contains(HOST), "names the host: {}", run.stderr);
    let worker_file = stacks.join("worker.yml").display().to_string();
    assert!(
        run.stderr.contains(&format!("{worker_file}:3:")) && run.stderr.contains("latest"),
        "the unpinned image too: {}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);

    let audit_after: Vec<_> = state
        .plan
        .hosts
        .iter()
        .map(|h| std::fs::read_to_string(state.plan.state_dir(h).join("audit.log")).ok())
        .collect();
    assert_eq!(audit_before, audit_after, "no host was touched");
    assert_eq!(alpha_web(), alpha_before, "client-alpha's web is as it was");
}

/// Starts `deploy --limit client-gamma --app web -e web_version=VERSION --yes --json`
/// and reads its progress until a line contains `until`; returns the child and the
/// progress read so far. The caller waits for the child.
#[allow(clippy::zombie_processes)]
fn deploy_until(state: &LabState, version: &str, until: &str) -> Running {
    run_until(
        Command::new(bin())
            .arg("-i")
            .arg(state.plan.dir.join("inventory.yml"))
            .args(["--batch", "deploy", "--limit", HOST, "--app", "web"])
            .args(["-e", &format!("web_version={version}"), "--yes", "--json"]),
        until,
    )
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_deploy_killed_in_its_gate_is_gated_again_by_the_next_run_and_rolled_back() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    restore(&state);
    let before = wait_healthy(&state, "web");

    // SIGKILL while the broken release waits in its gate: no cleanup of any kind.
    let Running {
        mut child,
        progress: _progress,
        ..
    } = deploy_until(&state, "1.2-broken", "client-gamma web: gate web");
    child.kill().expect("kill");
    let _ = child.wait();
    let web = inspect(&state, "web").expect("web");
    assert_eq!(
        image(&web),
        "fleetdeck-lab/app:1.2-broken",
        "switched, unconfirmed"
    );

    // The same command again: the gate that never passed is run again, fails, and
    // the previous revision comes back. Never "deployed".
    let run = deploy(
        &state,
        &[
            "--limit",
            HOST,
            "--app",
            "web",
            "-e",
            "web_version=1.2-broken",
            "--yes",
            "--json",
        ],
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let h = host(&run.json, HOST);
    assert_eq!(h["result"], "rolled_back", "{h}");
    let resumed = h["interrupted"]["resumed"].to_string();
    assert!(
        resumed.contains("web: the interrupted run was switching it over to fleetdeck-lab/app:1.2-broken and its health gate never passed"),
        "the resume says what it found: {h}"
    );
    let service = &h["services"][0];
    assert_eq!(service["result"], "rolled_back", "{service}");
    assert!(
        service["error"]
            .as_str()
            .is_some_and(|e| e.contains("release 1.2-broken")),
        "gated again, with the health check's words: {service}"
    );
    let journal = std::fs::read_to_string(state_dir(&state).join("last-deploy.journal"))
        .expect("the rerun's journal");
    let steps: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).expect("journal line"))
        .collect();
    let at = |step: &str| steps.iter().position(|s| s["step"] == step);
    let (resume, gate) = (at("resume"), at("gate"));
    assert!(
        resume.is_some() && gate.is_some() && resume < gate && at("revert") > gate,
        "resumed, gated, reverted: {journal}"
    );

    let web = wait_healthy(&state, "web");
    assert_eq!(web["Id"], before["Id"], "the previous revision runs again");
    assert_eq!(image(&web), "fleetdeck-lab/app:1.0");
    for leftover in ["web.next", "web.old"] {
        assert!(inspect(&state, leftover).is_none(), "{leftover} removed");
    }
    assert!(!state_dir(&state).join("deploy.lock").exists());
    restore(&state);
}

/// Deploys 1.1 and sends `signal` right after the old container was stopped.
fn interrupted_after_stop(state: &LabState, signal: i32, code: i32, name: &str) {
    let before = wait_healthy(state, "web");
    let running = deploy_until(state, "1.1", "client-gamma web: stop web");
    let Signalled {
        code: exit,
        progress: seen,
        stdout: out,
    } = running.signal(signal);
    assert_eq!(exit, Some(code), "{name}: {seen}{out}");
    assert!(
        seen.contains(&format!("deploy interrupted by {name}")),
        "says what happened: {seen}"
    );
    let json: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let h = host(&json, HOST);
    assert_eq!(h["result"], "interrupted", "{h}");
    assert!(
        h["error"]
            .as_str()
            .is_some_and(|e| e.contains(&format!("interrupted by {name}"))
                && e.contains("1 service(s) rolled back")
                && e.contains("lock released")),
        "{h}"
    );
    let service = &h["services"][0];
    assert_eq!(service["result"], "rolled_back", "{service}");
    assert!(
        service["error"]
            .as_str()
            .is_some_and(|e| e.contains("during its health gate")),
        "{service}"
    );
    // The service runs: the revision that ran before, healthy.
    let web = wait_healthy(state, "web");
    assert_eq!(
        web["Id"], before["Id"],
        "{name}: the previous revision runs"
    );
    assert_eq!(image(&web), "fleetdeck-lab/app:1.0");
    assert!(inspect(state, "web.next").is_none());
    assert!(
        !state_dir(state).join("deploy.lock").exists(),
        "lock released"
    );
    let journal = std::fs::read_to_string(state_dir(state).join("last-deploy.journal"))
        .expect("journal kept");
    assert!(journal.contains("\"step\":\"revert\""), "{journal}");
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn sigint_or_sigterm_after_the_old_container_stopped_rolls_back_to_a_running_service() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    restore(&state);
    interrupted_after_stop(&state, libc::SIGINT, 130, "SIGINT");
    interrupted_after_stop(&state, libc::SIGTERM, 143, "SIGTERM");
    // Nothing left to resume: the next run deploys normally.
    let run = deploy(
        &state,
        &[
            "--limit",
            HOST,
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--yes",
            "--json",
        ],
    );
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let h = host(&run.json, HOST);
    assert_eq!(h["result"], "deployed", "{h}");
    assert!(h["interrupted"].is_null(), "{h}");
    restore(&state);
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_second_deploy_while_one_runs_says_it_is_running_whose_and_since_when() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    restore(&state);
    let Running {
        child: mut first,
        mut progress,
        ..
    } = deploy_until(&state, "1.1", "client-gamma web: gate web");
    let pid = first.id();
    let second = deploy(
        &state,
        &[
            "--limit",
            HOST,
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--yes",
        ],
    );
    assert_eq!(second.code, Some(1), "{}{}", second.stdout, second.stderr);
    let text = format!("{}{}", second.stdout, second.stderr);
    assert!(text.contains("LOCKED"), "{text}");
    assert!(
        text.contains("another deploy is running on this host")
            && text.contains(&format!("(pid {pid} on "))
            && text.contains(" since ")
            && text.contains(" ago"),
        "says it runs, whose and since when: {text}"
    );
    assert!(!text.contains("was interrupted"), "{text}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut progress, &mut rest).expect("reads");
    let status = first.wait().expect("waits");
    assert_eq!(
        status.code(),
        Some(0),
        "the first run was not disturbed: {rest}"
    );
    restore(&state);
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn sigint_during_a_rollback_finishes_the_swap_and_releases_the_lock() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    restore(&state);
    let before = wait_healthy(&state, "web");
    let run = deploy(
        &state,
        &[
            "--limit",
            HOST,
            "--app",
            "web",
            "-e",
            "web_version=1.1",
            "--yes",
        ],
    );
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);

    let running = run_until(
        Command::new(bin())
            .arg("-i")
            .arg(state.plan.dir.join("inventory.yml"))
            .args([
                "--batch", "rollback", "--limit", HOST, "--app", "web", "--yes",
            ]),
        "client-gamma web: rollback web.prev -> web",
    );
    let Signalled {
        code,
        progress: seen,
        stdout: out,
    } = running.signal(libc::SIGINT);
    assert_eq!(code, Some(130), "{seen}{out}");
    assert!(out.contains("INTERRUPTED"), "{out}");
    assert!(
        seen.contains("rollback interrupted by SIGINT"),
        "says what happened: {seen}"
    );
    // The swap under way finished: the previous revision runs; the lock is gone.
    let web = wait_healthy(&state, "web");
    assert_eq!(web["Id"], before["Id"], "{out}");
    assert_eq!(image(&web), "fleetdeck-lab/app:1.0");
    assert!(inspect(&state, "web.rollback").is_none(), "nothing parked");
    assert!(
        !state_dir(&state).join("deploy.lock").exists(),
        "lock released"
    );
    restore(&state);
}
