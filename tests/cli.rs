//! The binary as a newcomer meets it: help text, exit codes, and logs that go to a
//! file rather than the terminal. Needs neither root nor a lab.

mod common;

use std::process::{Command, Stdio};

use common::{bin, stderr, stdout};

fn fleetdeck(args: &[&str], log: &std::path::Path) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .env("FLEETDECK_LOG_FILE", log)
        .env_remove("FLEETDECK_LAB_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run fleetdeck")
}

#[test]
fn help_names_the_lab_commands_and_how_to_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = fleetdeck(&["--help"], &tmp.path().join("log"));
    assert!(out.status.success());
    let help = stdout(&out);
    assert!(help.contains("fleetdeck lab up"), "{help}");
    assert!(help.contains("lab"), "{help}");
    let lab = fleetdeck(&["lab", "--help"], &tmp.path().join("log"));
    let lab_help = stdout(&lab);
    for sub in ["up", "status", "down"] {
        assert!(lab_help.contains(sub), "{lab_help}");
    }
    let up = stdout(&fleetdeck(
        &["lab", "up", "--help"],
        &tmp.path().join("log"),
    ));
    assert!(up.contains("--hosts") && up.contains("--dir"), "{up}");
}

#[test]
fn status_without_a_lab_exits_3_and_logs_only_to_the_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("fleetdeck.log");
    let dir = tmp.path().join("nolab");
    let out = fleetdeck(
        &["lab", "status", "--dir", dir.to_str().expect("utf-8")],
        &log,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).contains("no lab in"), "{}", stdout(&out));
    assert!(
        stderr(&out).is_empty(),
        "nothing on stderr: {}",
        stderr(&out)
    );
    let logged = std::fs::read_to_string(&log).expect("log file written");
    assert!(logged.contains("fleetdeck starting"), "{logged}");
    assert!(!stdout(&out).contains("fleetdeck starting"));

    let json = fleetdeck(
        &[
            "lab",
            "status",
            "--json",
            "--dir",
            dir.to_str().expect("utf-8"),
        ],
        &log,
    );
    assert_eq!(json.status.code(), Some(3));
    let v: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("JSON even without a lab");
    assert_eq!(v["up"], false);
}

#[test]
fn the_console_without_a_terminal_points_at_status_and_exits_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = fleetdeck(&[], &tmp.path().join("log"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty(), "no escape sequences into a pipe");
    assert!(
        stderr(&out).contains("fleetdeck status"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unwritable_log_file_warns_but_does_not_stop_the_command() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A directory cannot be opened as a log file, even by root.
    let out = fleetdeck(&["lab", "status", "--dir", "/nonexistent/lab"], tmp.path());
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("logging disabled"),
        "{}",
        stderr(&out)
    );
}

/// `status` problems with the command itself: exit 3 (UNKNOWN), the reason on stderr
/// with file and line, nothing on stdout for a script to misread.
#[test]
fn status_with_bad_input_exits_3_and_prints_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("log");
    let inventory = tmp.path().join("inventory.yml");
    std::fs::write(
        &inventory,
        "all:\n  hosts:\n    web1:\n      fleetdeck_aps: [nextcloud]\n",
    )
    .expect("write");
    let path = inventory.to_str().expect("utf-8");
    let out = fleetdeck(&["status", "-i", path], &log);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(&format!("{path}:4:")) && stderr(&out).contains("fleetdeck_aps"),
        "{}",
        stderr(&out)
    );

    std::fs::write(&inventory, "all:\n  hosts:\n    web1:\n").expect("write");
    let out = fleetdeck(&["status", "-i", path, "--limit", "nosuchhost"], &log);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("nosuchhost"), "{}", stderr(&out));

    let config = tmp.path().join("ssh_config");
    std::fs::write(&config, "Host web1\n  Port eighty\n").expect("write");
    let out = fleetdeck(
        &["status", "-i", path, "-F", config.to_str().expect("utf-8")],
        &log,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));

    let out = fleetdeck(&["watch", "--json", "--limit", "web1"], &log);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs an inventory"),
        "{}",
        stderr(&out)
    );
}

/// Without an inventory `watch` watches this machine's engine, as `status` and the
/// console do: with no engine at `$DOCKER_HOST`, a line says `localhost` is
/// unreachable and why.
#[test]
fn watch_without_an_inventory_watches_the_local_engine() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("docker.sock");
    let mut watch = Command::new(bin())
        .args(["watch", "--json"])
        .env("FLEETDECK_LOG_FILE", tmp.path().join("log"))
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .env_remove("FLEETDECK_INVENTORY")
        .env_remove("FLEETDECK_LAB_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fleetdeck");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let line = BufReader::new(stdout).lines().next();
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(30));
    let _ = watch.kill();
    let finished = watch.wait_with_output().expect("wait");
    let line = match line {
        Ok(Some(Ok(line))) => line,
        other => panic!(
            "a line from watch: {other:?}; stderr: {}",
            stderr(&finished)
        ),
    };
    let json: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    let host = &json["host"];
    assert_eq!(host["name"], "localhost", "{line}");
    assert_eq!(host["reachable"], false, "{line}");
    assert!(
        host["error"]
            .as_str()
            .is_some_and(|e| e.contains(&socket.display().to_string())),
        "{line}"
    );
}

/// A host nobody answers for is reported, not waited on: CRITICAL, with the reason.
#[test]
fn status_reports_an_unreachable_host_as_critical() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let inventory = tmp.path().join("inventory.yml");
    std::fs::write(
        &inventory,
        format!(
            "all:\n  hosts:\n    gone:\n      ansible_host: 127.0.0.1\n      ansible_port: {port}\n"
        ),
    )
    .expect("write");
    let config = tmp.path().join("ssh_config");
    std::fs::write(&config, "").expect("write");
    let out = fleetdeck(
        &[
            "status",
            "--json",
            "--batch",
            "-F",
            config.to_str().expect("utf-8"),
            "-i",
            inventory.to_str().expect("utf-8"),
        ],
        &tmp.path().join("log"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let host = &json["hosts"][0];
    assert_eq!(host["name"], "gone");
    assert_eq!(host["reachable"], false);
    assert_eq!(host["severity"], "critical");
    let error = host["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot reach") && error.contains("refused"),
        "{error}"
    );
}

#[test]
fn an_error_in_the_config_file_stops_every_command_naming_its_place() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("config/fleetdeck");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("config.yaml");
    std::fs::write(&file, "theme: light\nreadonly: true\n").expect("config.yaml");
    let inventory = tmp.path().join("inventory.yml");
    std::fs::write(&inventory, "all:\n  hosts:\n    a:\n").expect("inventory");
    let inventory = inventory.to_str().expect("utf-8 path");
    for args in [
        &["-i", inventory, "inventory", "--list"][..],
        &["-i", inventory, "deploy", "--app", "web", "--dry-run"],
        &["secrets", "decrypt", "nothing.yml"],
    ] {
        let out = Command::new(bin())
            .args(args)
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .env("XDG_STATE_HOME", tmp.path().join("state"))
            .env_remove("FLEETDECK_LAB_DIR")
            .stdin(Stdio::null())
            .output()
            .expect("run fleetdeck");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("{}:2:", file.display())) && err.contains("readonly"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn deploy_help_says_the_old_container_stops_before_the_new_one_starts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = fleetdeck(&["deploy", "--help"], &tmp.path().join("log"));
    let help = stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        help.contains("the new container is created, the old one stopped (the service is down for a few seconds), the new one started and put through its health gate"),
        "{help}"
    );
    assert!(help.contains("130/143"), "{help}");
}

/// Every subcommand, as a completion script and the manual page must name it.
const SUBCOMMANDS: &[&str] = &[
    "lab",
    "inventory",
    "secrets",
    "status",
    "watch",
    "deploy",
    "rollback",
    "canary",
    "drill",
    "completions",
    "man",
];

/// Runs `program` with `args`, `input` on its stdin; `None` when it is not installed.
fn run_with_input(program: &str, args: &[&str], input: &[u8]) -> Option<std::process::Output> {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(input)
        .expect("write the input");
    Some(child.wait_with_output().expect("wait"))
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish_naming_every_subcommand() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for shell in ["bash", "zsh", "fish"] {
        let out = fleetdeck(&["completions", shell], &tmp.path().join("log"));
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} script lacks {sub}: {script}");
        }
        assert!(script.contains("log-file"), "{shell}: {script}");
        // Where the shell is installed, it must accept the script's syntax.
        let check = match shell {
            "bash" => run_with_input("bash", &["-n"], script.as_bytes()),
            "zsh" => run_with_input("zsh", &["-n"], script.as_bytes()),
            _ => run_with_input("fish", &["--no-execute"], script.as_bytes()),
        };
        if let Some(check) = check {
            assert!(
                check.status.success(),
                "{shell} rejects the script: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
    let bad = fleetdeck(&["completions", "tcsh"], &tmp.path().join("log"));
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn the_man_page_is_generated_and_names_every_subcommand() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = fleetdeck(&["man"], &tmp.path().join("log"));
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.starts_with(".ie"), "roff: {page}");
    assert!(page.contains(".TH fleetdeck"), "{page}");
    for sub in SUBCOMMANDS {
        assert!(page.contains(sub), "the man page lacks {sub}: {page}");
    }
    // Where groff is installed, it must format the page without a warning.
    if let Some(formatted) =
        run_with_input("groff", &["-k", "-man", "-Tutf8", "-ww"], page.as_bytes())
    {
        assert!(formatted.status.success());
        let text = String::from_utf8_lossy(&formatted.stdout);
        assert!(text.contains("fleetdeck"), "{text}");
        let warnings = String::from_utf8_lossy(&formatted.stderr);
        assert!(warnings.trim().is_empty(), "groff: {warnings}");
    }
}
