//! Checks the `TestSshd` / `TestAgent` fixture against OpenSSH's own client, so a
//! failing fleetdeck SSH test can be blamed on the client, not on the fixture.
//! Needs root (sshd's privilege separation): `cargo test --test sshd_fixture -- --ignored`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::sshd::{
    SshdOptions, TestAgent, TestSshd, keygen, make_ca, public_key_line, sign_host_key,
};
use common::stderr;

/// A client key authorized on a fresh server, plus a known_hosts pinning its host key.
struct Setup {
    _tmp: tempfile::TempDir,
    key: PathBuf,
    known_hosts: PathBuf,
    sshd: TestSshd,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("id_ed25519");
    keygen(&key, "", "client");
    let sshd = TestSshd::start(SshdOptions {
        authorized_keys: vec![public_key_line(&tmp.path().join("id_ed25519.pub"))],
        ..Default::default()
    });
    let known_hosts = tmp.path().join("known_hosts");
    write_known_hosts(&known_hosts, &sshd, "", &sshd.host_public_key_line());
    Setup {
        _tmp: tmp,
        key,
        known_hosts,
        sshd,
    }
}

fn write_known_hosts(path: &Path, sshd: &TestSshd, marker: &str, key_line: &str) {
    std::fs::write(
        path,
        format!("{marker}[{}]:{} {key_line}\n", sshd.addr(), sshd.port()),
    )
    .unwrap();
}

/// OpenSSH's client, isolated from the user's config, agent and known_hosts.
fn ssh_cmd(
    sshd: &TestSshd,
    known_hosts: &Path,
    key: Option<&Path>,
    extra: &[&str],
    remote: &str,
) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.args(["-F", "/dev/null", "-p"])
        .arg(sshd.port().to_string())
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .args([
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=2",
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null());
    if let Some(key) = key {
        cmd.args(["-o", "IdentitiesOnly=yes", "-i"]).arg(key);
    }
    cmd.args(extra)
        .arg(format!("root@{}", sshd.addr()))
        .arg(remote);
    cmd
}

fn ssh(s: &Setup, remote: &str) -> Output {
    ssh_cmd(&s.sshd, &s.known_hosts, Some(&s.key), &[], remote)
        .output()
        .expect("running ssh")
}

fn assert_ok(out: &Output, sshd: &TestSshd) {
    assert!(
        out.status.success(),
        "ssh failed ({}): {}\nsshd log:\n{}",
        out.status,
        stderr(out),
        sshd.log()
    );
}

/// Starts `ssh ... sleep 30` and waits until the server runs the `sleep`.
fn open_session(s: &Setup) -> Child {
    let client = ssh_cmd(&s.sshd, &s.known_hosts, Some(&s.key), &[], "sleep 30")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running ssh");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !s
        .sshd
        .connection_pids()
        .into_iter()
        .any(|p| comm(p) == "sleep")
    {
        assert!(
            Instant::now() < deadline,
            "no session; log:\n{}",
            s.sshd.log()
        );
        sleep(Duration::from_millis(10));
    }
    client
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// State letter of /proc/PID/stat ('T' when stopped), None once gone.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        sleep(Duration::from_millis(10));
    }
}

#[test]
#[ignore = "needs root: runs sshd"]
fn openssh_connects_with_pinned_host_key() {
    let s = setup();
    let out = ssh(&s, "echo hi");
    assert_ok(&out, &s.sshd);
    assert_eq!(common::stdout(&out), "hi\n");
    assert!(s.sshd.log().contains("Accepted publickey for root"));
}

#[test]
#[ignore = "needs root: runs sshd"]
fn sessions_do_not_run_the_machines_bashrc() {
    // bash reads ~/.bashrc for every command run over SSH; this machine's (version
    // managers and their locks) must not slow down or break the test server's.
    let s = setup();
    let out = ssh(&s, "wc -c < ~/.bashrc 2>/dev/null || echo 0");
    assert_ok(&out, &s.sshd);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
}

#[test]
#[ignore = "needs root: runs sshd"]
fn wrong_host_key_is_refused() {
    let s = setup();
    let other = tempfile::tempdir().unwrap();
    keygen(&other.path().join("k"), "", "other");
    let line = public_key_line(&other.path().join("k.pub"));
    write_known_hosts(&s.known_hosts, &s.sshd, "", &line);
    let out = ssh(&s, "true");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        stderr(&out)
    );
}

#[test]
#[ignore = "needs root: runs sshd"]
fn kill_refuses_and_restart_serves_same_port_and_key() {
    let mut s = setup();
    let port = s.sshd.port();
    assert_ok(&ssh(&s, "true"), &s.sshd);
    s.sshd.kill();
    let out = ssh(&s, "true");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Connection refused"),
        "{}",
        stderr(&out)
    );
    s.sshd.restart();
    assert_eq!(s.sshd.port(), port);
    // The known_hosts written before the kill still matches.
    assert_ok(&ssh(&s, "true"), &s.sshd);
}

#[test]
#[ignore = "needs root: runs sshd"]
fn kill_closes_established_connections() {
    let mut s = setup();
    let mut client = open_session(&s);
    let pids = s.sshd.connection_pids();
    s.sshd.kill();
    let status =
        wait_exit(&mut client, Duration::from_secs(1)).expect("ssh still connected after kill()");
    assert_eq!(status.code(), Some(255), "ssh exit after kill: {status}");
    for pid in pids {
        assert!(
            matches!(state(pid), None | Some('Z')),
            "connection process {pid} survived kill()"
        );
    }
}

#[test]
#[ignore = "needs root: runs sshd"]
fn drop_leaves_no_sshd_behind() {
    let s = setup();
    let mut client = open_session(&s);
    let mut pids = s.sshd.connection_pids();
    pids.push(s.sshd.pid().unwrap());
    drop(s);
    for pid in pids {
        assert!(
            matches!(state(pid), None | Some('Z')),
            "{pid} survived drop"
        );
    }
    assert!(wait_exit(&mut client, Duration::from_secs(1)).is_some());
}

#[test]
#[ignore = "needs root: runs sshd"]
fn frozen_connections_are_stopped_while_new_ones_work() {
    let s = setup();
    // The remote command finishes only if the session runs again after thaw.
    let mut client = ssh_cmd(
        &s.sshd,
        &s.known_hosts,
        Some(&s.key),
        &[],
        "sleep 0.3; echo done",
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !s
        .sshd
        .connection_pids()
        .into_iter()
        .any(|p| comm(p) == "sleep")
    {
        assert!(
            Instant::now() < deadline,
            "no session; log:\n{}",
            s.sshd.log()
        );
        sleep(Duration::from_millis(10));
    }
    s.sshd.freeze_connections();
    let frozen = s.sshd.connection_pids();
    assert!(
        frozen.len() >= 3,
        "expected monitor, session and sleep: {frozen:?}"
    );
    for &pid in &frozen {
        assert_eq!(state(pid), Some('T'), "{pid} ({}) not stopped", comm(pid));
    }
    assert_ne!(
        state(s.sshd.pid().unwrap()),
        Some('T'),
        "the listener must keep running"
    );
    // A new connection is served while the old one is frozen.
    assert_ok(&ssh(&s, "true"), &s.sshd);
    sleep(Duration::from_millis(400));
    assert!(
        client.try_wait().unwrap().is_none(),
        "frozen session finished"
    );
    s.sshd.thaw_connections();
    let status = wait_exit(&mut client, Duration::from_secs(2)).expect("thawed session hung");
    assert!(status.success());
    let mut out = String::new();
    std::io::Read::read_to_string(&mut client.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(out, "done\n");
}

/// Host key, its certificate from `ca` for 127.0.0.1 with `validity`, a server
/// serving both, and a known_hosts trusting only the CA.
fn cert_setup(validity: &str) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("id_ed25519");
    keygen(&key, "", "client");
    let ca = make_ca(tmp.path());
    let host_key = tmp.path().join("host");
    keygen(&host_key, "", "host");
    let cert = sign_host_key(&ca, &tmp.path().join("host.pub"), &["127.0.0.1"], validity);
    let sshd = TestSshd::start(SshdOptions {
        host_key: Some(host_key),
        host_certificate: Some(cert),
        authorized_keys: vec![public_key_line(&tmp.path().join("id_ed25519.pub"))],
        ..Default::default()
    });
    let known_hosts = tmp.path().join("known_hosts");
    let ca_line = public_key_line(&tmp.path().join("ca.pub"));
    write_known_hosts(&known_hosts, &sshd, "@cert-authority ", &ca_line);
    Setup {
        _tmp: tmp,
        key,
        known_hosts,
        sshd,
    }
}

#[test]
#[ignore = "needs root: runs sshd"]
fn host_certificate_from_trusted_ca_is_accepted() {
    let s = cert_setup("-5m:+1h");
    assert_ok(&ssh(&s, "true"), &s.sshd);
}

#[test]
#[ignore = "needs root: runs sshd"]
fn expired_host_certificate_is_refused() {
    let s = cert_setup("20200101:20200102");
    let out = ssh(&s, "true");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
}

#[test]
#[ignore = "needs root: runs sshd"]
fn agent_key_authenticates() {
    let s = setup();
    let agent = TestAgent::start();
    let run = || {
        ssh_cmd(
            &s.sshd,
            &s.known_hosts,
            None,
            &["-o", "IdentitiesOnly=no"],
            "true",
        )
        .env("SSH_AUTH_SOCK", agent.socket())
        .output()
        .unwrap()
    };
    // An empty agent does not get in: the key really comes from the agent.
    assert!(!run().status.success());
    agent.add(&s.key);
    assert_ok(&run(), &s.sshd);
}
