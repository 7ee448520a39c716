//! `fleetdeck drill` against the lab: a drill of a healthy repository passes and its
//! report shows RTO, RPO and every check; a repository with a corrupted pack file
//! restores fine and fails at verification with restic's own words; a scratch target
//! overlapping the live data directory (directly, or through a symbolic link) is
//! refused before anything is written; a wrong password, a missing snapshot and a
//! full scratch filesystem each end in a failed report with nothing left behind; the
//! history survives the process and feeds `status --json`'s `last_drill`.
//!
//! Every test drills client-gamma's `web` app. Broken repositories are COPIES of the
//! lab's, reached through an overlay inventory (the lab's inventory.yml plus
//! host_vars/client-gamma.yml), so the shared lab stays intact. Each test keeps its
//! drill history (and audit log) in a temporary XDG_STATE_HOME.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use common::{Signalled, bin, lab, run_until, stderr, stdout};
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

/// `fleetdeck -i INVENTORY drill --host client-gamma --app web --yes --json ARGS`,
/// its history and audit log in `state_home`.
fn drill(inventory: &Path, state_home: &Path, args: &[&str]) -> Run {
    let out = Command::new(bin())
        .env("XDG_STATE_HOME", state_home)
        .arg("-i")
        .arg(inventory)
        .arg("--batch")
        .args(["drill", "--host", HOST, "--app", "web", "--yes", "--json"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running fleetdeck drill");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    Run {
        code: out.status.code(),
        json,
        stdout: stdout(&out),
        stderr: stderr(&out),
    }
}

fn host_dir(state: &LabState) -> PathBuf {
    let h = state
        .plan
        .hosts
        .iter()
        .find(|h| h.name == HOST)
        .expect("lab host");
    state.plan.host_dir(h)
}

fn data_dir(state: &LabState) -> PathBuf {
    host_dir(state).join("srv")
}

fn scratch_dir(state: &LabState) -> PathBuf {
    host_dir(state).join("drill-scratch")
}

/// Every file and directory below `dir` with its size and modification time.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(entry.path());
            }
            out.insert(entry.path(), (meta.len(), meta.modified().expect("mtime")));
        }
    }
    out
}

/// The scratch directory holds nothing (no drill left data behind).
fn assert_no_scratch_data(state: &LabState) {
    let dir = scratch_dir(state);
    if dir.exists() {
        let left: Vec<_> = std::fs::read_dir(&dir)
            .expect("read scratch")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "scratch data left behind: {left:?}");
    }
    assert!(
        !host_dir(state).join("state").join("deploy.lock").exists(),
        "the host's lock was released"
    );
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("check {name} in {report}"))
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == name))
        .unwrap_or_else(|| panic!("step {name} in {report}"))
}

/// The lab's inventory plus `host_vars/client-gamma.yml` holding `vars`.
fn overlay(state: &LabState, vars: &str) -> tempfile::TempDir {
    common::inventory_overlay(state, &[(&format!("host_vars/{HOST}.yml"), vars)])
}

/// client-gamma's backups and drill as the lab declares them, with the repository,
/// password file and scratch directory replaced.
fn vars(state: &LabState, repository: &Path, password_file: &Path, scratch: &Path) -> String {
    let data = data_dir(state);
    format!(
        "fleetdeck_backups:\n\
         - name: app-data\n\
         \x20 kind: restic\n\
         \x20 repository: {repo}\n\
         \x20 password_file: {pw}\n\
         \x20 paths: [{data}]\n\
         fleetdeck_drills:\n\
         \x20 web:\n\
         \x20   repository: app-data\n\
         \x20   scratch_dir: {scratch}\n\
         \x20   live_paths: [{data}]\n\
         \x20   read_data_subset: 100%\n\
         \x20   checks:\n\
         \x20     files: [web/index.html, web/generation.txt, customers.csv]\n\
         \x20     manifest: MANIFEST.sha256\n\
         \x20     container:\n\
         \x20       image: fleetdeck-lab/app:1.0\n\
         \x20       command: [grep, ',active$', /data/customers.csv]\n",
        repo = repository.display(),
        pw = password_file.display(),
        data = data.display(),
        scratch = scratch.display(),
    )
}

fn lab_repo(state: &LabState) -> (PathBuf, PathBuf) {
    let backup = host_dir(state).join("backup");
    (backup.join("restic-repo"), backup.join("restic-password"))
}

/// A copy of client-gamma's repository (the lab's own is never touched).
fn copy_repo(state: &LabState, into: &Path) -> PathBuf {
    let (repo, _) = lab_repo(state);
    let copy = into.join("restic-repo");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&repo)
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(status.success());
    copy
}

fn restic(repo: &Path, password_file: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("restic")
        .arg("-r")
        .arg(repo)
        .arg("--password-file")
        .arg(password_file)
        .arg("--no-cache")
        .args(args)
        .output()
        .expect("restic");
    assert!(
        out.status.success(),
        "restic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_healthy_repository_passes_with_rto_rpo_and_every_check() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    let home = tempfile::tempdir().expect("tempdir");
    let live_before = tree(&data_dir(&state));
    let run = drill(&state.plan.dir.join("inventory.yml"), home.path(), &[]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let r = &run.json;
    assert_eq!(r["result"], "passed", "{r}");
    assert_eq!(r["failed_step"], Value::Null);
    let rto = r["rto_seconds"].as_f64().expect("RTO");
    assert!(rto > 0.0 && rto < 60.0, "{rto}");
    // The lab's newest snapshot is two hours old when `lab up` ran.
    let rpo = r["rpo_seconds"].as_i64().expect("RPO");
    assert!(rpo >= 2 * 3600 - 60, "{rpo}");
    for name in [
        "scratch_target",
        "lock",
        "repository",
        "free_space",
        "integrity",
        "size",
        "files",
        "manifest",
        "container",
    ] {
        assert_eq!(check(r, name)["outcome"], "passed", "{name}: {r}");
    }
    assert_eq!(r["size"]["matches"], true);
    assert!(
        check(r, "container")["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("returned 200 row(s)"),
        "{r}"
    );
    assert!(
        check(r, "manifest")["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3 file(s) match")
    );
    assert_eq!(r["cleanup"]["removed"], true);
    for s in [
        "choose",
        "preflight",
        "restore",
        "verify",
        "measure",
        "cleanup",
        "report",
    ] {
        assert_ne!(step(r, s)["outcome"], "failed", "{s}: {r}");
    }
    assert_no_scratch_data(&state);
    assert_eq!(tree(&data_dir(&state)), live_before, "live data untouched");

    // The Markdown report beside the JSON one shows RTO, RPO and each check.
    let dir = home.path().join("fleetdeck/drills").join(HOST).join("web");
    let md: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("history dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    assert_eq!(md.len(), 1, "{md:?}");
    let text = std::fs::read_to_string(&md[0]).expect("markdown");
    assert!(text.contains("— PASSED"), "{text}");
    assert!(text.contains("| RTO (restore duration) | "), "{text}");
    assert!(text.contains("| RPO (snapshot age) | "), "{text}");
    for line in [
        "| verify | integrity | passed |",
        "| verify | manifest | passed |",
        "| verify | container | passed |",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    // The password never reaches a report.
    let (_, password_file) = lab_repo(&state);
    let password = std::fs::read_to_string(password_file).expect("password");
    assert!(!text.contains(password.trim()));
    assert!(!run.stdout.contains(password.trim()));
    // The drill is in the audit logs, local and on the host.
    let audit = std::fs::read_to_string(home.path().join("fleetdeck/audit.log")).expect("audit");
    assert!(
        audit.contains("\"action\":\"drill\"") && audit.contains("\"result\":\"ok\""),
        "{audit}"
    );
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_corrupted_pack_restores_but_fails_at_verification_with_restics_words() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    let home = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let (_, password_file) = lab_repo(&state);
    let repo = copy_repo(&state, work.path());

    // Corrupt the blob only the OLDER snapshot needs (generation.txt = "1\n"): the
    // latest snapshot restores without reading it — so restore succeeds, as it would
    // in production with a rotting pack nobody restored from yet — and only the
    // checker, reading every pack, can tell.
    use sha2::Digest as _;
    let blob = hex::encode(sha2::Sha256::digest(b"1\n"));
    let indexes =
        String::from_utf8(restic(&repo, &password_file, &["list", "index"])).expect("utf8");
    let mut found = None;
    for index in indexes.lines() {
        let json: Value =
            serde_json::from_slice(&restic(&repo, &password_file, &["cat", "index", index]))
                .expect("index JSON");
        for pack in json["packs"].as_array().into_iter().flatten() {
            for b in pack["blobs"].as_array().into_iter().flatten() {
                if b["id"] == blob.as_str() {
                    found = Some((
                        pack["id"].as_str().expect("pack id").to_owned(),
                        b["offset"].as_u64().expect("offset"),
                        b["length"].as_u64().expect("length"),
                    ));
                }
            }
        }
    }
    let (pack, offset, length) = found.expect("the generation-1 blob is in an index");
    let pack_file = repo.join("data").join(&pack[..2]).join(&pack);
    let mut bytes = std::fs::read(&pack_file).expect("pack");
    let at = usize::try_from(offset + length / 2).expect("offset");
    bytes[at] ^= 0xff;
    // Pack files are read-only (0400) in a restic repository.
    let mut perms = std::fs::metadata(&pack_file).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&pack_file, perms).expect("chmod");
    std::fs::write(&pack_file, &bytes).expect("corrupt");

    let inv = overlay(
        &state,
        &vars(&state, &repo, &password_file, &scratch_dir(&state)),
    );
    let run = drill(&inv.path().join("inventory.yml"), home.path(), &[]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let r = &run.json;
    assert_eq!(r["result"], "failed", "{r}");
    assert_eq!(r["failed_step"], "verify", "{r}");
    // Everything before verification passed: the restore itself worked.
    assert_eq!(step(r, "restore")["outcome"], "passed", "{r}");
    assert!(r["rto_seconds"].as_f64().is_some());
    assert_eq!(check(r, "size")["outcome"], "passed", "{r}");
    assert_eq!(check(r, "manifest")["outcome"], "passed", "{r}");
    let integrity = check(r, "integrity");
    assert_eq!(integrity["outcome"], "failed", "{r}");
    let words = integrity["detail"].as_str().unwrap_or_default();
    assert!(
        words.starts_with("restic check failed (exit 1):"),
        "{words}"
    );
    assert!(
        words.contains(&pack[..8]) || words.contains("does not match"),
        "{words}"
    );
    let error = r["error"].as_str().unwrap_or_default();
    assert!(error.contains("restic check failed"), "{error}");
    assert_eq!(r["cleanup"]["removed"], true);
    assert_no_scratch_data(&state);
    // The Markdown says where and why.
    assert!(
        run.stderr.contains("integrity: restic check failed"),
        "{}",
        run.stderr
    );
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_scratch_target_overlapping_live_data_is_refused_before_any_write() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    let home = tempfile::tempdir().expect("tempdir");
    let (repo, password_file) = lab_repo(&state);
    let live = data_dir(&state);
    let state_dir = host_dir(&state).join("state");
    let before = tree(&live);
    let state_before = tree(&state_dir);

    // Inside the live directory, declared as such.
    let inside = live.join("drill-scratch");
    let inv = overlay(&state, &vars(&state, &repo, &password_file, &inside));
    let run = drill(&inv.path().join("inventory.yml"), home.path(), &[]);
    assert_eq!(run.code, Some(2), "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json["result"], "refused", "{}", run.json);
    let why = run.json["error"].as_str().unwrap_or_default();
    assert!(why.contains("is inside the backed-up path"), "{why}");
    assert!(!inside.exists(), "nothing was made");

    // Through a symbolic link: apart on paper, inside once the host resolves it.
    let links = tempfile::tempdir().expect("tempdir");
    let link = links.path().join("scratch-link");
    std::os::unix::fs::symlink(&live, &link).expect("symlink");
    let inv = overlay(
        &state,
        &vars(&state, &repo, &password_file, &link.join("drills")),
    );
    let run = drill(&inv.path().join("inventory.yml"), home.path(), &[]);
    assert_eq!(run.code, Some(2), "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json["result"], "refused", "{}", run.json);
    assert_eq!(run.json["failed_step"], "preflight");
    assert!(
        run.json["error"]
            .as_str()
            .unwrap_or_default()
            .contains("(resolved)"),
        "{}",
        run.json
    );
    assert_eq!(check(&run.json, "scratch_target")["outcome"], "failed");
    assert_eq!(run.json["target"], Value::Null);
    assert!(!live.join("drills").exists(), "nothing was made");

    // Nothing at all was written: the live data, and the host's state directory
    // (no lock taken, no audit line there) are as before.
    assert_eq!(tree(&live), before);
    assert_eq!(tree(&state_dir), state_before);
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn wrong_password_missing_snapshot_and_full_target_fail_cleanly() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    let home = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let (repo, password_file) = lab_repo(&state);

    let wrong = work.path().join("wrong-password");
    std::fs::write(&wrong, "not the password\n").expect("write");
    let inv = overlay(&state, &vars(&state, &repo, &wrong, &scratch_dir(&state)));
    let run = drill(&inv.path().join("inventory.yml"), home.path(), &[]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json["failed_step"], "choose", "{}", run.json);
    let why = run.json["error"].as_str().unwrap_or_default();
    assert!(why.contains("wrong password"), "{why}");
    assert!(!why.contains("not the password"), "{why}");
    assert_no_scratch_data(&state);

    let run = drill(
        &state.plan.dir.join("inventory.yml"),
        home.path(),
        &["--snapshot", "deadbeef"],
    );
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json["failed_step"], "choose");
    assert!(
        run.json["error"]
            .as_str()
            .unwrap_or_default()
            .contains("snapshot deadbeef not found"),
        "{}",
        run.json
    );
    assert_no_scratch_data(&state);

    // A scratch filesystem too small for the restore: a 1 MiB tmpfs, mounted where
    // the drill's commands run (sshd's mount namespace on the lab host).
    let small = work.path().join("small");
    std::fs::create_dir(&small).expect("mkdir");
    let on_host = |command: &str| {
        let out = common::ssh(&state.plan.dir, HOST, &[], command);
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        stdout(&out)
    };
    on_host(&format!(
        "mount -t tmpfs -o size=1m fleetdeck-drill-test {}",
        small.display()
    ));
    let inv = overlay(&state, &vars(&state, &repo, &password_file, &small));
    let run = drill(&inv.path().join("inventory.yml"), home.path(), &[]);
    let left = on_host(&format!("ls -A {}", small.display()));
    on_host(&format!("umount {}", small.display()));
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json["failed_step"], "preflight", "{}", run.json);
    assert_eq!(check(&run.json, "free_space")["outcome"], "failed");
    assert!(
        run.json["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not enough free space"),
        "{}",
        run.json
    );
    assert!(
        left.is_empty(),
        "nothing written to the full target: {left:?}"
    );
    assert!(!host_dir(&state).join("state/deploy.lock").exists());
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn drill_history_survives_the_process_and_feeds_status_last_drill() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    let home = tempfile::tempdir().expect("tempdir");
    let inventory = state.plan.dir.join("inventory.yml");
    let status = || {
        let out = Command::new(bin())
            .env("XDG_STATE_HOME", home.path())
            .arg("-i")
            .arg(&inventory)
            .args(["--batch", "--limit", HOST, "status", "--json"])
            .stdin(Stdio::null())
            .output()
            .expect("status");
        let json: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
        json["hosts"][0].clone()
    };
    // Never drilled: a warning in its own field, the host itself still OK.
    let before = status();
    assert_eq!(before["last_drill"]["time"], Value::Null, "{before}");
    assert_eq!(before["last_drill"]["severity"], "warning");
    assert_eq!(before["last_drill"]["app"], "web");
    assert_eq!(before["last_drill"]["warning_days"], 30);
    assert_eq!(
        before["severity"], "ok",
        "an overdue drill is not an incident"
    );

    let run = drill(&inventory, home.path(), &[]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    // A failed drill afterwards does not hide the last success.
    let failed = drill(&inventory, home.path(), &["--snapshot", "deadbeef"]);
    assert_eq!(failed.code, Some(1));

    // Another process, later: the history is read from disk.
    let after = status();
    let last = &after["last_drill"];
    assert_eq!(last["time"], run.json["started_at"], "{after}");
    assert_eq!(last["severity"], "ok");
    assert!(
        last["age_seconds"].as_i64().is_some_and(|a| a < 600),
        "{last}"
    );
    let web = &last["apps"][0];
    assert_eq!(web["app"], "web");
    assert_eq!(web["rto_seconds"], run.json["rto_seconds"]);
    assert_eq!(web["rpo_seconds"], run.json["rpo_seconds"]);
    assert_eq!(web["last_result"], "failed", "the latest run failed: {web}");
    assert_eq!(after["signals"]["last_drill"]["error"], Value::Null);

    let history = fleetdeck::probes::drill::History::at(home.path().join("fleetdeck/drills"));
    let success = history.last_success(HOST).expect("a passed drill");
    assert_eq!(Value::String(success.id), run.json["id"]);
    assert_eq!(history.load(HOST, "web").len(), 2);
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn sigterm_during_a_drill_removes_the_scratch_data_releases_the_lock_and_exits_143() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    let home = tempfile::tempdir().expect("tempdir");
    let running = run_until(
        Command::new(bin())
            .env("XDG_STATE_HOME", home.path())
            .arg("-i")
            .arg(state.plan.dir.join("inventory.yml"))
            .arg("--batch")
            .args(["drill", "--host", HOST, "--app", "web", "--yes", "--json"]),
        "client-gamma drill restore",
    );
    let Signalled {
        code,
        progress: seen,
        stdout: out,
    } = running.signal(libc::SIGTERM);
    assert_eq!(code, Some(143), "{seen}{out}");
    assert!(
        seen.contains("drill interrupted by SIGTERM: its scratch data is removed; its lock in")
            && seen.contains("is released"),
        "says what was done: {seen}"
    );
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(report["result"], "failed", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("interrupted by SIGTERM")),
        "{report}"
    );
    assert_no_scratch_data(&state);
}
