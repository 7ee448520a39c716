//! Helpers for tests that run against a real lab. `scripts/test.sh` starts one and
//! exports FLEETDECK_LAB_DIR; these tests are `#[ignore]`d so a plain `cargo test`
//! without a lab (and without root) skips them visibly rather than failing.

#![allow(dead_code)]

pub mod client;
pub mod http;
pub mod lab_container;
pub mod receiver;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use fleetdeck::lab::state::LabState;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fleetdeck")
}

/// The running lab the suite was given. Panics with instructions when there is none:
/// an ignored test run on purpose must not pass vacuously.
pub fn lab() -> LabState {
    let dir = std::env::var_os("FLEETDECK_LAB_DIR")
        .map(PathBuf::from)
        .expect("FLEETDECK_LAB_DIR is not set: run these tests through scripts/test.sh");
    LabState::load(&dir)
        .expect("reading lab.json")
        .unwrap_or_else(|| {
            panic!(
                "no lab in {}: run `fleetdeck lab up --dir {}`",
                dir.display(),
                dir.display()
            )
        })
}

/// The `docker` CLI against lab host `host`'s engine (its socket directly, API 1.41
/// as the lab's engines speak).
pub fn lab_docker(state: &LabState, host: &str) -> impl Fn(&[&str]) -> Output + use<> {
    let plan = state
        .plan
        .hosts
        .iter()
        .find(|h| h.name == host)
        .unwrap_or_else(|| panic!("{host} in the lab plan"));
    let socket = state.plan.engine_of(plan).socket.clone();
    move |args: &[&str]| {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(args)
            .env("DOCKER_API_VERSION", "1.41")
            .output()
            .expect("docker")
    }
}

/// OpenSSH's own client with the lab's config, strict host keys and no prompts.
pub fn ssh(dir: &Path, host: &str, extra: &[&str], remote: &str) -> Output {
    Command::new("ssh")
        .arg("-F")
        .arg(dir.join("ssh_config"))
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known_hosts").display()
        ))
        .args(extra)
        .arg(host)
        .arg(remote)
        .stdin(Stdio::null())
        .output()
        .expect("running ssh")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn created_at(state: &LabState) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        &state.created_at,
        &time::format_description::well_known::Rfc3339,
    )
    .expect("created_at is RFC 3339")
}

/// A copy of the lab's inventory in a temporary directory, with `files` (paths relative
/// to it, e.g. `host_vars/client-gamma.yml`) written beside it: a variant of the lab
/// that tests can change without touching the shared one.
pub fn inventory_overlay(state: &LabState, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        state.plan.dir.join("inventory.yml"),
        dir.path().join("inventory.yml"),
    )
    .expect("copy the lab's inventory");
    for (path, text) in files {
        let path = dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    dir
}

/// A run started with its output piped, read up to a progress line: the point a test
/// interrupts it at.
pub struct Running {
    pub child: std::process::Child,
    pub progress: std::io::BufReader<std::process::ChildStderr>,
    /// Progress (stderr) read so far.
    pub seen: String,
}

/// How a run ended after a signal.
pub struct Signalled {
    pub code: Option<i32>,
    /// All its progress (stderr), before and after the signal.
    pub progress: String,
    pub stdout: String,
}

/// Starts `command` (no stdin, output piped) and reads its progress until a line
/// contains `marker`; panics with what it said if it ends first.
// The child is handed back running: the caller signals and waits for it.
#[allow(clippy::zombie_processes)]
pub fn run_until(command: &mut Command, marker: &str) -> Running {
    use std::io::BufRead as _;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut progress = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = progress.read_line(&mut line).expect("reads progress");
        if n == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run ended before `{marker}`: {seen}");
        }
        seen.push_str(&line);
        if line.contains(marker) {
            return Running {
                child,
                progress,
                seen,
            };
        }
    }
}

impl Running {
    /// Sends `signal` (a real kill(2)) and reads the run to its end.
    pub fn signal(mut self, signal: i32) -> Signalled {
        use std::io::Read as _;
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on the child this test started and has not yet waited for.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "signal sent");
        self.progress
            .read_to_string(&mut self.seen)
            .expect("reads progress");
        let mut stdout = String::new();
        self.child
            .stdout
            .as_mut()
            .expect("stdout")
            .read_to_string(&mut stdout)
            .expect("reads stdout");
        let status = self.child.wait().expect("waits");
        Signalled {
            code: status.code(),
            progress: self.seen,
            stdout,
        }
    }
}

/// An exclusive lock on one lab host's maintenance window, across test files (they may
/// run at the same time against the same lab): held until dropped. The lock file lives
/// in the system's temporary directory, never on the host.
pub fn maintenance_lock(state: &LabState, host: &str) -> std::fs::File {
    let path = std::env::temp_dir().join(format!(
        "fleetdeck-lab-{}-{host}-maintenance.lock",
        state.plan.id
    ));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
    file
}
