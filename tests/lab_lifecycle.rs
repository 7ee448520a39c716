//! `lab up` / `lab down` as a whole: idempotent, and leaving nothing behind — also
//! after a `lab up` killed half-way. Each test builds its own small lab beside the
//! suite's main one (labs are keyed by directory), so they need root.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{bin, stderr, stdout};
use fleetdeck::lab::state::LabState;

/// The residue snapshots look at the whole machine: one lifecycle test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// What a lab could leave behind, seen from outside.
#[derive(Debug, PartialEq, Eq)]
struct Machine {
    links: BTreeSet<String>,
    namespaces: BTreeSet<String>,
    mounts: BTreeSet<String>,
    run_entries: BTreeSet<String>,
    /// Backing files of attached loop devices (the hosts' data filesystems).
    loop_devices: BTreeSet<String>,
    etc_docker: bool,
    /// Long-lived daemons by name (zombies and transient health-check processes
    /// excluded: the suite's main lab keeps running meanwhile).
    daemons: Vec<String>,
}

fn live_processes() -> Vec<(String, String)> {
    let mut out = vec![];
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if !fleetdeck::lab::sys::pid_alive(pid) {
            continue;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let cmdline = fleetdeck::lab::sys::cmdline(pid).unwrap_or_default();
        if !cmdline.is_empty() {
            out.push((comm.trim().to_string(), cmdline));
        }
    }
    out
}

fn machine(foreign: &[PathBuf]) -> Machine {
    let lines = |args: &[&str]| -> BTreeSet<String> {
        let o = Command::new("ip").args(args).output().expect("ip");
        stdout(&o)
            .lines()
            .filter_map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .map(|s| s.trim_end_matches(':').to_string())
            })
            .collect()
    };
    let namespaces = std::fs::read_dir("/run/netns")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        // The main lab's restarting container mounts and unmounts its rootfs.
        .filter(|m| !foreign.iter().any(|f| Path::new(m).starts_with(f)))
        .collect();
    let loop_devices = loop_backing_files()
        .into_iter()
        .filter(|b| !foreign.iter().any(|f| Path::new(b).starts_with(f)))
        .collect();
    let run_entries = std::fs::read_dir("/run")
        .expect("/run")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut daemons: Vec<String> = live_processes()
        .into_iter()
        // The main lab's crash-looping container gets a new shim per restart, so
        // its shims come and go; they name the main lab's run dir.
        .filter(|(_, cmdline)| {
            !foreign
                .iter()
                .any(|f| cmdline.contains(&*f.to_string_lossy()))
        })
        .map(|(comm, _)| comm)
        .filter(|c| {
            [
                "dockerd",
                "containerd",
                "containerd-shim",
                "sshd",
                "fail2ban",
                "openssl",
                "busybox",
                "httpd",
                "sleep",
            ]
            .iter()
            .any(|d| c.starts_with(d))
        })
        .collect();
    daemons.sort();
    Machine {
        links: lines(&["-o", "link"]),
        namespaces,
        mounts,
        run_entries,
        loop_devices,
        etc_docker: Path::new("/etc/docker").exists(),
        daemons,
    }
}

/// What every attached loop device reads from, as the kernel reports it.
fn loop_backing_files() -> BTreeSet<String> {
    std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("loop"))
        .filter_map(|e| std::fs::read_to_string(e.path().join("loop/backing_file")).ok())
        .map(|b| b.trim_end().to_string())
        .collect()
}

/// Where a lab host's view mounts things in its own namespace.
const VIEW_MOUNT_POINTS: &[&str] = &[
    "/etc/ssh",
    "/etc/apt/apt.conf.d",
    "/var/lib/apt/lists",
    "/srv",
    "/boot",
    "/usr/bin",
    "/run",
];

/// Mounts of the machine's own mount table on a lab host view's mount points, or
/// from a loop device reading a file in `dir`.
fn leaked_view_mounts(dir: &Path) -> Vec<String> {
    let lab_devices: Vec<String> = std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("loop/backing_file"))
                .is_ok_and(|b| Path::new(b.trim_end()).starts_with(dir))
        })
        .map(|e| format!("/dev/{}", e.file_name().to_string_lossy()))
        .collect();
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let point = fields.get(4).copied().unwrap_or_default();
            // After the " - " separator: filesystem type, then source.
            let source = line
                .split(" - ")
                .nth(1)
                .and_then(|rest| rest.split(' ').nth(1))
                .unwrap_or_default();
            VIEW_MOUNT_POINTS.contains(&point) || lab_devices.iter().any(|d| d == source)
        })
        .map(str::to_string)
        .collect()
}

/// The suite's main lab, whose moving parts the snapshots must ignore.
fn foreign_paths() -> Vec<PathBuf> {
    let Some(dir) = std::env::var_os("FLEETDECK_LAB_DIR").map(PathBuf::from) else {
        return vec![];
    };
    match LabState::load(&dir) {
        Ok(Some(s)) => vec![s.plan.dir.clone(), s.plan.run_dir.clone()],
        _ => vec![],
    }
}

fn lab_cmd(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(bin())
        .arg("lab")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("fleetdeck lab")
}

fn assert_no_process_mentions(markers: &[String]) {
    let left: Vec<_> = live_processes()
        .into_iter()
        .filter(|(_, c)| markers.iter().any(|m| c.contains(m)))
        .collect();
    assert!(
        left.is_empty(),
        "lab processes survived `lab down`: {left:?}"
    );
}

#[test]
#[ignore = "needs root: run scripts/test.sh"]
fn up_is_idempotent_and_down_leaves_no_residue() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let foreign = foreign_paths();
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("lab");
    // A directory the user already had, with a file of theirs: it must survive.
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("notes.txt"), "mine").expect("write");
    let before = machine(&foreign);
    // The machine's own mounts on those points (a tmpfs /run, a /boot partition).
    let view_mounts_before = leaked_view_mounts(&dir);

    let up = lab_cmd(&["up", "--hosts", "3"], &dir);
    assert!(up.status.success(), "lab up: {}", stderr(&up));
    let state = LabState::load(&dir).expect("load").expect("lab.json");
    assert!(state.complete);
    // The hosts' own views (data filesystems, /etc/ssh, /run, …) are mounted in the
    // hosts' namespaces only: the machine's mount table has none of them, and each
    // host holds one loop device.
    assert_eq!(
        leaked_view_mounts(&dir),
        view_mounts_before,
        "lab host mounts in the machine's table"
    );
    let lab_loops: Vec<String> = loop_backing_files()
        .into_iter()
        .filter(|b| Path::new(b).starts_with(&dir))
        .collect();
    assert_eq!(lab_loops.len(), state.plan.hosts.len(), "{lab_loops:?}");
    for name in [
        "inventory.yml",
        "ssh_config",
        "known_hosts",
        "id_ed25519",
        "age.key",
        "lab.json",
    ] {
        assert!(dir.join(name).exists(), "{name} missing");
    }
    let age_key = std::fs::read_to_string(dir.join("age.key")).expect("age.key");
    assert!(age_key.contains("# public key: age1") && age_key.contains("AGE-SECRET-KEY-1"));
    let pids = |s: &LabState| -> Vec<Option<i32>> {
        s.plan
            .hosts
            .iter()
            .map(|h| fleetdeck::lab::sys::read_pidfile(&s.plan.host_dir(h).join("sshd.pid")))
            .collect()
    };
    let sshd_pids = pids(&state);
    let inventory = std::fs::read_to_string(dir.join("inventory.yml")).expect("inventory");

    // Second `up`: nothing restarted, nothing rewritten differently.
    let again = lab_cmd(&["up"], &dir);
    assert!(again.status.success(), "second lab up: {}", stderr(&again));
    assert_eq!(
        pids(&state),
        sshd_pids,
        "a second `up` must not restart sshd"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("inventory.yml")).expect("inventory"),
        inventory
    );
    let status = lab_cmd(&["status"], &dir);
    assert_eq!(status.status.code(), Some(0), "{}", stdout(&status));

    // Another size on the same directory is refused, and changes nothing.
    let resize = lab_cmd(&["up", "--hosts", "4"], &dir);
    assert!(!resize.status.success());
    assert!(
        stderr(&resize).contains("has 3 hosts, not 4"),
        "{}",
        stderr(&resize)
    );

    rekeyed_host_is_refused_until_up_trusts_it_again(&dir, &state);

    let down = lab_cmd(&["down"], &dir);
    assert!(down.status.success(), "lab down: {}", stderr(&down));
    assert_no_process_mentions(&[
        dir.display().to_string(),
        state.plan.run_dir.display().to_string(),
    ]);
    let after = machine(&foreign);
    assert_eq!(before, after, "lab down left residue");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("user dir kept")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        vec!["notes.txt".to_string()],
        "only the user's file remains"
    );

    // `down` again is a no-op, not an error.
    let twice = lab_cmd(&["down"], &dir);
    assert!(twice.status.success(), "{}", stderr(&twice));
    let missing = lab_cmd(&["status"], &dir);
    assert_eq!(missing.status.code(), Some(3));
}

#[test]
#[ignore = "needs root: run scripts/test.sh"]
fn down_after_a_killed_up_leaves_no_residue() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let foreign = foreign_paths();
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("lab");
    let before = machine(&foreign);

    let (mut up, state) = start_up_and_wait_half_way(&dir);
    up.kill().expect("SIGKILL lab up");
    up.wait().expect("reap");
    assert!(!state.complete);

    let down = lab_cmd(&["down"], &dir);
    assert!(
        down.status.success(),
        "lab down after crash: {}",
        stderr(&down)
    );
    assert_no_process_mentions(&[
        dir.display().to_string(),
        state.plan.run_dir.display().to_string(),
    ]);
    assert_eq!(
        before,
        machine(&foreign),
        "lab down after a crashed up left residue"
    );
    assert!(!dir.exists(), "the lab created DIR, so down removes it");
}

/// Starts `lab up` and waits until it is half-way: engines answer, namespaces exist.
fn start_up_and_wait_half_way(dir: &Path) -> (std::process::Child, LabState) {
    let mut up = Command::new(bin())
        .args(["lab", "up", "--hosts", "3", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lab up");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(s)) = LabState::load(dir) {
            let engine_up = s.plan.engines.iter().any(|e| e.socket.exists());
            let netns_up = s
                .plan
                .hosts
                .iter()
                .any(|h| Path::new("/run/netns").join(&h.netns).exists());
            if engine_up && netns_up {
                return (up, s);
            }
        }
        assert!(Instant::now() < deadline, "lab up never got half-way");
        assert!(
            up.try_wait().expect("wait").is_none(),
            "lab up finished before it could be interrupted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "needs root: run scripts/test.sh"]
fn an_interrupted_first_up_removes_what_it_created() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let foreign = foreign_paths();
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("lab");
    let before = machine(&foreign);

    let (up, state) = start_up_and_wait_half_way(&dir);
    // Ctrl-C: the same signal a terminal sends.
    // SAFETY: kill(2) on the child we spawned and have not reaped.
    unsafe { libc::kill(up.id() as i32, libc::SIGINT) };
    let out = up.wait_with_output().expect("lab up exits");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("everything it had created was removed"),
        "{}",
        stderr(&out)
    );
    assert_no_process_mentions(&[
        dir.display().to_string(),
        state.plan.run_dir.display().to_string(),
    ]);
    assert_eq!(before, machine(&foreign), "an interrupted up left residue");
    assert!(!dir.exists());
}

#[test]
#[ignore = "needs root: run scripts/test.sh"]
fn not_root_is_a_clear_error_and_creates_nothing() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("lab");
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin(),
            "lab",
            "up",
            "--dir",
        ])
        .arg(&dir)
        .env("HOME", parent.path())
        .stdin(Stdio::null())
        .output()
        .expect("setpriv");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the lab needs root"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.exists(), "nothing may be created");
}

/// `lab rekey`: the host presents a new key while known_hosts keeps the old one, so
/// OpenSSH and fleetdeck both refuse it and write nothing; `lab up` trusts it again.
fn rekeyed_host_is_refused_until_up_trusts_it_again(dir: &Path, state: &LabState) {
    use fleetdeck::ssh::hostkey::HostKeyErrorKind;
    use fleetdeck::ssh::session::ConnectError;
    let known_hosts = dir.join("known_hosts");
    let trusted = std::fs::read(&known_hosts).expect("known_hosts");
    let sshd_pid = |s: &LabState| {
        let host = &s.plan.hosts[1];
        fleetdeck::lab::sys::read_pidfile(&s.plan.host_dir(host).join("sshd.pid"))
    };
    let pid_before = sshd_pid(state);

    let rekey = lab_cmd(&["rekey", "client-alpha"], dir);
    assert!(rekey.status.success(), "lab rekey: {}", stderr(&rekey));
    assert!(
        stderr(&rekey).contains("new host key"),
        "{}",
        stderr(&rekey)
    );
    let refused = common::ssh(dir, "client-alpha", &[], "true");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        stderr(&refused)
    );

    let scratch = tempfile::tempdir().expect("tempdir");
    let config = format!("Include {}\n", dir.join("ssh_config").display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let result = runtime.block_on(async {
        let ctx = common::client::context_from_text(
            scratch.path(),
            &config,
            std::sync::Arc::new(fleetdeck::ssh::auth::NeverAsk),
            None,
        );
        common::client::try_connect(&ctx, "client-alpha", None)
            .await
            .map(|_| ())
    });
    match result {
        Err(ConnectError::HostKey(error)) => {
            assert!(
                matches!(error.kind, HostKeyErrorKind::Changed { .. }),
                "{error}"
            );
        }
        other => panic!("fleetdeck must refuse a changed key: {other:?}"),
    }
    assert_eq!(
        std::fs::read(&known_hosts).expect("known_hosts"),
        trusted,
        "known_hosts untouched"
    );
    assert!(!scratch.path().join("own_known_hosts").exists());

    let up = lab_cmd(&["up"], dir);
    assert!(up.status.success(), "lab up: {}", stderr(&up));
    let back = common::ssh(dir, "client-alpha", &[], "true");
    assert!(back.status.success(), "{}", stderr(&back));
    assert_eq!(sshd_pid(state), pid_before, "sshd re-executed in place");
}
