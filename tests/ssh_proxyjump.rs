//! ProxyJump loops in ssh_config, through the real binary against a real sshd: the
//! looping hosts are refused with their chain, promptly, and a host beside them that
//! needs no loop is measured as usual.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::bin;
use common::client::{host_block, pub_of};
use common::sshd::{SshdOptions, TestSshd, keygen, public_key_line};

/// Only guards against a hang; it says nothing about how fast an answer must be.
const HANG_GUARD: Duration = Duration::from_secs(180);

/// A server that accepts `dir/id_ed25519`, an ssh_config where `good` reaches it
/// directly, `selfish` jumps through itself and `ping` and `pong` through each other
/// (all at the same server, so a connection attempt would find someone to talk to),
/// and an inventory of the three.
fn setup(dir: &Path) -> (TestSshd, std::path::PathBuf, std::path::PathBuf) {
    let key = dir.join("id_ed25519");
    keygen(&key, "", "client");
    let sshd = TestSshd::start(SshdOptions {
        authorized_keys: vec![public_key_line(&pub_of(&key))],
        ..SshdOptions::default()
    });
    let known_hosts = dir.join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port(),
            sshd.host_public_key_line()
        ),
    )
    .expect("write known_hosts");
    let identity = format!("IdentityFile {}", key.display());
    let common = [identity.as_str(), "IdentitiesOnly yes"];
    let with = |extra: &'static str| [common[0], common[1], extra];
    let config = [
        host_block("good", sshd.port(), &known_hosts, &common),
        host_block(
            "selfish",
            sshd.port(),
            &known_hosts,
            &with("ProxyJump selfish"),
        ),
        host_block("ping", sshd.port(), &known_hosts, &with("ProxyJump pong")),
        host_block("pong", sshd.port(), &known_hosts, &with("ProxyJump ping")),
    ]
    .concat();
    let config_file = dir.join("ssh_config");
    std::fs::write(&config_file, config).expect("write ssh_config");
    let inventory = dir.join("inventory.yml");
    std::fs::write(
        &inventory,
        "all:\n  hosts:\n    good: {}\n    selfish: {}\n    ping: {}\n",
    )
    .expect("write inventory");
    (sshd, config_file, inventory)
}

fn fleetdeck(dir: &Path, args: &[&str], config: &Path, inventory: &Path) -> Command {
    let mut command = Command::new(bin());
    command
        .args(args)
        .arg("--batch")
        .arg("-F")
        .arg(config)
        .arg("-i")
        .arg(inventory)
        .env("FLEETDECK_LOG_FILE", dir.join("fleetdeck.log"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("FLEETDECK_LAB_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs to completion, or kills it and fails when it outlives the hang guard.
fn run_guarded(mut command: Command) -> Output {
    let child = command.spawn().expect("start fleetdeck");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(HANG_GUARD) {
        Ok(output) => output.expect("fleetdeck ran"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("fleetdeck was still running after {HANG_GUARD:?}: it hangs");
        }
    }
}

fn loop_error(host: &serde_json::Value) -> String {
    host["error"].as_str().unwrap_or_default().to_owned()
}

#[test]
#[ignore = "needs root: runs sshd"]
fn status_refuses_proxy_jump_loops_with_their_chain_and_measures_the_other_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sshd, config, inventory) = setup(dir.path());
    let connections_before = sshd.log().matches("Accepted publickey").count();
    let out = run_guarded(fleetdeck(
        dir.path(),
        &["status", "--json"],
        &config,
        &inventory,
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json prints JSON ({e}); stderr: {stderr}"));
    let host = |name: &str| {
        json["hosts"]
            .as_array()
            .and_then(|hosts| hosts.iter().find(|h| h["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {json}"))
    };

    let good = host("good");
    assert_eq!(good["reachable"], true, "{good}");
    assert!(!loop_error(&good).contains("ProxyJump"), "{good}");

    let selfish = host("selfish");
    assert_eq!(selfish["reachable"], false, "{selfish}");
    let error = loop_error(&selfish);
    assert!(
        error.contains("ProxyJump loop: selfish \u{2192} selfish"),
        "{error}"
    );
    let at = |directive: &str| {
        let text = std::fs::read_to_string(&config).expect("read ssh_config");
        let line = text
            .lines()
            .position(|l| l.trim() == directive)
            .map(|index| index + 1)
            .unwrap_or_else(|| panic!("{directive} in {text}"));
        format!("{directive} at {} line {line}", config.display())
    };
    assert!(
        error.contains(&at("ProxyJump selfish")),
        "names the file and line of the ProxyJump: {error}"
    );

    let ping = host("ping");
    assert_eq!(ping["reachable"], false, "{ping}");
    let error = loop_error(&ping);
    assert!(
        error.contains("ProxyJump loop: ping \u{2192} pong \u{2192} ping"),
        "{error}"
    );
    assert!(
        error.contains(&at("ProxyJump pong")) && error.contains(&at("ProxyJump ping")),
        "{error}"
    );
    assert_eq!(out.status.code(), Some(2), "critical: {stderr}");
    // Only the good host logged in: nothing was connected for the loops.
    let logins = sshd.log().matches("Accepted publickey").count() - connections_before;
    assert_eq!(logins, 1, "{}", sshd.log());
}

#[test]
#[ignore = "needs root: runs sshd"]
fn watch_reports_a_proxy_jump_loop_for_that_host_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_sshd, config, inventory) = setup(dir.path());
    let mut child = fleetdeck(dir.path(), &["watch", "--json"], &config, &inventory)
        .spawn()
        .expect("start watch");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let (mut good_up, mut ping_loop, mut selfish_loop) = (false, false, false);
    let mut seen = Vec::new();
    while !(good_up && ping_loop && selfish_loop) {
        let Some(left) = HANG_GUARD.checked_sub(started.elapsed()) else {
            break;
        };
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        let value: serde_json::Value = serde_json::from_str(&line).expect("JSON lines");
        let host = &value["host"];
        let error = loop_error(host);
        match host["name"].as_str() {
            Some("good") => good_up |= host["reachable"] == true,
            Some("ping") => {
                ping_loop |= host["reachable"] == false
                    && error.contains("ProxyJump loop: ping \u{2192} pong \u{2192} ping");
            }
            Some("selfish") => {
                selfish_loop |= host["reachable"] == false
                    && error.contains("ProxyJump loop: selfish \u{2192} selfish");
            }
            _ => {}
        }
        seen.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        good_up && ping_loop && selfish_loop,
        "good up: {good_up}, ping loop: {ping_loop}, selfish loop: {selfish_loop}; lines: {seen:#?}"
    );
}
