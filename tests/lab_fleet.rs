//! The practice fleet, checked with the real tools an operator would use: OpenSSH,
//! the Docker API through an SSH-forwarded socket, restic, nft and openssl.
//! Run by scripts/test.sh against the lab it starts (FLEETDECK_LAB_DIR).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{created_at, lab, ssh, stderr, stdout};
use fleetdeck::lab::engine;

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn every_host_answers_openssh_with_strict_host_keys() {
    let state = lab();
    let dir = &state.plan.dir;
    for host in &state.plan.hosts {
        let out = ssh(dir, &host.name, &[], "hostname");
        assert!(out.status.success(), "{}: {}", host.name, stderr(&out));
        assert_eq!(
            stdout(&out).trim(),
            host.name,
            "the lab host reports its own name"
        );
    }
}

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn a_host_key_that_does_not_match_is_refused() {
    let state = lab();
    let dir = &state.plan.dir;
    let host = &state.plan.hosts[1];
    // Pair the host's address with another host's key: OpenSSH must refuse.
    let other_key = std::fs::read_to_string(
        fleetdeck::lab::services::host_key_path(&state.plan, &state.plan.hosts[0])
            .with_extension("pub"),
    )
    .expect("bastion host key");
    let tmp = tempfile::tempdir().expect("tempdir");
    let wrong = tmp.path().join("known_hosts");
    std::fs::write(&wrong, format!("{} {}", host.addr, other_key)).expect("write");
    let out = Command::new("ssh")
        .arg("-F")
        .arg(dir.join("ssh_config"))
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", wrong.display()))
        .arg(&host.name)
        .arg("true")
        .stdin(Stdio::null())
        .output()
        .expect("ssh");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("HOST IDENTIFICATION HAS CHANGED")
            || stderr(&out).contains("Host key verification failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn the_internal_host_is_reachable_only_through_the_bastion() {
    let state = lab();
    let dir = &state.plan.dir;
    let internal: Vec<_> = state.plan.hosts.iter().filter(|h| h.via_bastion).collect();
    assert!(
        !internal.is_empty(),
        "the lab has a host behind the bastion"
    );
    for host in internal {
        let direct = ssh(
            dir,
            &host.name,
            &["-o", "ProxyJump=none", "-o", "ConnectTimeout=3"],
            "true",
        );
        assert!(
            !direct.status.success(),
            "{} must not answer directly",
            host.name
        );
        assert!(
            stderr(&direct).contains("timed out") || stderr(&direct).contains("refused"),
            "{}",
            stderr(&direct)
        );
        let jumped = ssh(dir, &host.name, &[], "hostname");
        assert!(jumped.status.success(), "{}", stderr(&jumped));
        assert_eq!(stdout(&jumped).trim(), host.name);
    }
    // And the config really routes it: `ssh -G` shows the jump.
    let g = Command::new("ssh")
        .arg("-G")
        .arg("-F")
        .arg(dir.join("ssh_config"))
        .arg(&state.plan.hosts[2].name)
        .output()
        .expect("ssh -G");
    assert!(stdout(&g).contains("proxyjump bastion"), "{}", stdout(&g));
}

/// Forwards a local unix socket to the host's docker socket with OpenSSH (`-L`),
/// the way an operator would reach a remote engine without exposing it.
struct Forward {
    child: std::process::Child,
    socket: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Forward {
    fn open(dir: &Path, host: &str, remote_socket: &Path) -> Forward {
        let tmp = tempfile::tempdir().expect("tempdir");
        let socket = tmp.path().join("docker.sock");
        let child = Command::new("ssh")
            .arg("-F")
            .arg(dir.join("ssh_config"))
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "ExitOnForwardFailure=yes",
                "-N",
            ])
            .arg("-L")
            .arg(format!("{}:{}", socket.display(), remote_socket.display()))
            .arg(host)
            .stdin(Stdio::null())
            .spawn()
            .expect("ssh -L");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "forward to {host} did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Forward {
            child,
            socket,
            _tmp: tmp,
        }
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn each_docker_api_answers_through_ssh_with_the_intended_container_states() {
    let state = lab();
    let plan = &state.plan;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut seen_states = BTreeMap::new();
    for host in &plan.hosts {
        let fwd = Forward::open(&plan.dir, &host.name, &plan.engine_of(host).socket);
        rt.block_on(async {
            let docker = engine::connect(&fwd.socket)
                .await
                .expect("docker API over ssh");
            let version = docker.version().await.expect("version");
            assert!(version.api_version.is_some());
            for c in &host.containers {
                let observed = engine::observed_state(&docker, &c.name)
                    .await
                    .unwrap_or_else(|e| panic!("{} on {}: {e}", c.name, host.name));
                let expected = engine::expected_state(c.behaviour);
                assert!(
                    engine::state_matches(c.behaviour, &observed),
                    "{} on {}: expected {expected}, saw {observed}",
                    c.name,
                    host.name
                );
                seen_states.insert(expected, host.name.clone());
            }
        });
    }
    for state in ["healthy", "unhealthy", "restarting", "exited(3)"] {
        assert!(
            seen_states.contains_key(state),
            "no container in state {state}: {seen_states:?}"
        );
    }
}

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn restic_lists_the_snapshots_with_the_intended_times() {
    let state = lab();
    let plan = &state.plan;
    let inventory: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(plan.dir.join("inventory.yml")).expect("inventory"),
    )
    .expect("inventory is YAML");
    let created = created_at(&state);
    let mut stale_hosts = vec![];
    for host in &plan.hosts {
        let group = &host.groups[0];
        let repo = &inventory["all"]["children"][group.as_str()]["hosts"][host.name.as_str()]["fleetdeck_backups"]
            [0];
        let (repository, password_file) = (
            repo["repository"].as_str().expect("repository"),
            repo["password_file"].as_str().expect("password_file"),
        );
        // Run restic on the host, over SSH, as a probe will.
        let out = ssh(
            &plan.dir,
            &host.name,
            &[],
            &format!(
                "restic --no-cache -r {repository} --password-file {password_file} snapshots --json"
            ),
        );
        assert!(out.status.success(), "{}: {}", host.name, stderr(&out));
        let snaps: Vec<serde_json::Value> =
            serde_json::from_str(&stdout(&out)).expect("restic json");
        assert_eq!(snaps.len(), host.snapshot_ages_hours.len(), "{}", host.name);
        let mut ages: Vec<i64> = snaps
            .iter()
            .map(|s| {
                let t = time::OffsetDateTime::parse(
                    s["time"].as_str().expect("time"),
                    &time::format_description::well_known::Rfc3339,
                )
                .expect("restic time");
                (created - t).whole_minutes()
            })
            .collect();
        ages.sort_unstable_by(|a, b| b.cmp(a));
        for (age, planned_hours) in ages.iter().zip(&host.snapshot_ages_hours) {
            let planned = *planned_hours as i64 * 60;
            assert!(
                (age - planned).abs() <= 15,
                "{}: snapshot {age} min old, planned {planned} min",
                host.name
            );
        }
        if ages.last().is_some_and(|newest| *newest > 48 * 60) {
            stale_hosts.push(host.name.clone());
        }
    }
    assert_eq!(
        stale_hosts,
        vec!["client-alpha".to_string()],
        "exactly one stale backup"
    );
}

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn nft_shows_the_intended_policy_and_the_drift() {
    let state = lab();
    let management = state.plan.management_addr();
    let bastion = state.plan.bastion().addr;
    for host in &state.plan.hosts {
        let out = Command::new("ip")
            .args(["netns", "exec", &host.netns, "nft", "list", "ruleset"])
            .output()
            .expect("nft");
        assert!(out.status.success(), "{}", stderr(&out));
        let rules = stdout(&out);
        assert!(
            rules.contains("hook input priority filter; policy drop;"),
            "{}: {rules}",
            host.name
        );
        let ssh_from = if host.via_bastion {
            bastion
        } else {
            management
        };
        assert!(
            rules.contains(&format!("ip saddr {ssh_from} tcp dport 22 accept")),
            "{rules}"
        );
        assert!(rules.contains("tcp dport { 80, 443 } accept"), "{rules}");
        assert_eq!(
            rules.contains("tcp dport 5432 accept"),
            !host.drift_ports.is_empty(),
            "{rules}"
        );
    }
    assert_eq!(
        state
            .plan
            .hosts
            .iter()
            .filter(|h| !h.drift_ports.is_empty())
            .count(),
        1
    );
}

fn parse_openssl_date(s: &str) -> time::OffsetDateTime {
    // "Nov 20 09:11:31 2026 GMT" (day space-padded)
    let fmt = time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
    );
    time::PrimitiveDateTime::parse(s.trim(), &fmt)
        .unwrap_or_else(|e| panic!("openssl date {s:?}: {e}"))
        .assume_utc()
}

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn tls_endpoints_present_certificates_with_the_intended_expiry() {
    let state = lab();
    let created = created_at(&state);
    let ca = state.plan.dir.join("ca").join("ca.crt");
    for host in &state.plan.hosts {
        let out = Command::new("openssl")
            .args(["s_client", "-connect", &format!("{}:443", host.addr)])
            .args(["-servername", &host.cert.server_name])
            .arg("-CAfile")
            .arg(&ca)
            .stdin(Stdio::null())
            .output()
            .expect("openssl s_client");
        let session = stdout(&out);
        let pem_start = session
            .find("-----BEGIN CERTIFICATE-----")
            .expect("a certificate");
        let pem_end = session.find("-----END CERTIFICATE-----").expect("pem end") + 25;
        let mut x509 = Command::new("openssl")
            .args(["x509", "-noout", "-enddate", "-subject"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("openssl x509");
        use std::io::Write;
        x509.stdin
            .take()
            .expect("stdin")
            .write_all(&session.as_bytes()[pem_start..pem_end])
            .expect("pem");
        let info = stdout(&x509.wait_with_output().expect("x509"));
        assert!(info.contains(&host.cert.server_name), "{info}");
        let not_after = info
            .lines()
            .find_map(|l| l.strip_prefix("notAfter="))
            .map(parse_openssl_date)
            .expect("notAfter");
        let planned = created + time::Duration::days(host.cert.not_after_days);
        assert!(
            (not_after - planned).whole_minutes().abs() <= 15,
            "{}: notAfter {not_after}, planned {planned}",
            host.name
        );
        // The chain verifies against the lab CA unless the certificate has expired.
        if host.cert.not_after_days < 0 {
            assert!(
                session.contains("Verify return code: 10 (certificate has expired)"),
                "{session}"
            );
        } else {
            assert!(session.contains("Verify return code: 0 (ok)"), "{session}");
        }
    }
}

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn lab_status_reports_every_host_up() {
    let state = lab();
    let out = Command::new(common::bin())
        .args(["lab", "status", "--json", "--dir"])
        .arg(&state.plan.dir)
        .output()
        .expect("fleetdeck lab status");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(status["up"], true);
    assert_eq!(
        status["hosts"].as_array().map(Vec::len),
        Some(state.plan.hosts.len())
    );
}

/// What `sshd -T` says, as `key value` pairs.
fn sshd_settings(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `df -P -T -B1 MOUNT` on the host: (type, used %).
fn df(text: &str) -> (String, u8) {
    let fields: Vec<&str> = text
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("df output: {text}"))
        .split_whitespace()
        .collect();
    let percent = fields[5].trim_end_matches('%').parse().expect("capacity");
    (fields[1].to_string(), percent)
}

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn each_host_sees_its_own_system_with_one_planted_problem() {
    let state = lab();
    let dir = &state.plan.dir;
    let run = |host: &str, command: &str| {
        let out = ssh(dir, host, &[], command);
        assert!(out.status.success(), "{host}: {command}: {}", stderr(&out));
        stdout(&out)
    };
    let release = stdout(&Command::new("uname").arg("-r").output().expect("uname"));
    for host in &state.plan.hosts {
        let name = host.name.as_str();
        let system = &host.system;

        // sshd's effective settings, as the host's own `sshd -T` reports them.
        let sshd = sshd_settings(&run(name, "sshd -T"));
        let expected_password = if system.password_logins { "yes" } else { "no" };
        assert_eq!(sshd["passwordauthentication"], expected_password, "{name}");
        assert_eq!(sshd["kbdinteractiveauthentication"], "no", "{name}");
        assert_eq!(sshd["permitrootlogin"], "without-password", "{name}");
        assert_eq!(sshd["maxauthtries"], "6", "{name}");
        // And they are what runs: the host's sshd was started with that file.
        let pid = fleetdeck::lab::services::sshd_running(&state.plan, host).expect("sshd");
        let cmdline = fleetdeck::lab::sys::cmdline(pid).expect("cmdline");
        assert!(cmdline.contains("-f /etc/ssh/sshd_config"), "{cmdline}");

        // Its own data filesystem: ext4 on a loop device, full only on client-beta.
        let (fstype, used) = df(&run(name, "df -P -T -B1 /srv"));
        assert_eq!(fstype, "ext4", "{name}");
        match system.data_fill_percent {
            Some(_) => assert!((93..100).contains(&used), "{name}: /srv {used} % full"),
            None => assert!(used < 80, "{name}: /srv {used} % full"),
        }

        // A reboot marker only where one is planted; the newest kernel in its /boot
        // is the one it runs.
        let marker = ssh(dir, name, &[], "test -e /var/run/reboot-required");
        assert_eq!(marker.status.success(), system.reboot_required, "{name}");
        assert_eq!(
            run(name, "ls /boot"),
            format!("vmlinuz-{release}"),
            "{name}"
        );

        // fail2ban with an sshd jail, answering on the host's own socket; absent on
        // the host planted without it.
        if system.fail2ban {
            // Its jail reads this host's sshd log, nobody else's.
            let status = run(name, "fail2ban-client status sshd");
            let log = fleetdeck::lab::view::sshd_log(&state.plan, host);
            assert!(status.contains(&*log.to_string_lossy()), "{name}: {status}");
        } else {
            let absent = ssh(dir, name, &[], "command -v fail2ban-client");
            assert!(!absent.status.success(), "{name}: fail2ban-client present");
        }

        // Unattended upgrades on, and nothing pending for apt.
        let apt = run(name, "apt-config dump");
        assert!(
            apt.contains("APT::Periodic::Unattended-Upgrade \"1\";"),
            "{name}: {apt}"
        );
        run(name, "command -v unattended-upgrade");
        let pending = run(name, "apt-get -s upgrade");
        assert!(
            !pending.lines().any(|l| l.starts_with("Inst ")),
            "{name}: {pending}"
        );
    }

    // Each plant is on exactly one host of the five.
    if state.plan.hosts.len() >= 5 {
        let on = |f: fn(&fleetdeck::lab::plan::SystemPlan) -> bool| -> Vec<&str> {
            state
                .plan
                .hosts
                .iter()
                .filter(|h| f(&h.system))
                .map(|h| h.name.as_str())
                .collect()
        };
        assert_eq!(on(|s| s.password_logins), ["client-alpha"]);
        assert_eq!(on(|s| s.data_fill_percent.is_some()), ["client-beta"]);
        assert_eq!(on(|s| s.reboot_required), ["client-delta"]);
        assert_eq!(on(|s| !s.fail2ban), ["client-gamma"]);
    }

    // None of it is in the machine's own mount table.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    for line in mounts.lines() {
        let point = line.split(' ').nth(4).unwrap_or_default();
        assert!(
            !["/srv", "/etc/ssh", "/boot", "/run", "/etc/apt/apt.conf.d"].contains(&point),
            "a host's view leaked into the machine's mounts: {line}"
        );
    }
}

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn a_fail2ban_ban_leaves_the_firewall_as_it_was() {
    let state = lab();
    let dir = &state.plan.dir;
    let Some(host) = state
        .plan
        .hosts
        .iter()
        .find(|h| h.system.fail2ban && !h.via_bastion && h.index > 0)
    else {
        panic!("no direct host with fail2ban in the lab");
    };
    let name = host.name.as_str();
    let ruleset = || {
        let out = Command::new("ip")
            .args(["netns", "exec", &host.netns, "nft", "list", "ruleset"])
            .output()
            .expect("nft");
        stdout(&out)
    };
    let before = ruleset();
    let management = state.plan.management_addr().to_string();
    // Six logins as a user that does not exist: past the jail's maxretry of 5.
    for _ in 0..6 {
        let out = ssh(dir, &format!("nosuchuser@{name}"), &[], "true");
        assert!(!out.status.success());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let banned = loop {
        let status = stdout(&ssh(dir, name, &[], "fail2ban-client status sshd"));
        if status.contains(&management) {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never banned {management}: {status}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(banned.contains("Currently banned:\t1"), "{banned}");
    assert_eq!(
        ruleset(),
        before,
        "the ban changed {name}'s nftables ruleset"
    );
    // The ban is recorded in the host's own /run, and the lab's key still gets in.
    let recorded = ssh(dir, name, &[], "cat /run/fail2ban/fail2ban.dummy");
    assert!(
        stdout(&recorded).contains(&format!("+{management}")),
        "{}",
        stdout(&recorded)
    );
    let unban = ssh(
        dir,
        name,
        &[],
        &format!("fail2ban-client set sshd unbanip {management}"),
    );
    assert!(unban.status.success(), "{}", stderr(&unban));
}

#[test]
#[ignore = "needs a running lab (root): run scripts/test.sh"]
fn every_lab_container_passes_the_container_posture_checks() {
    let state = lab();
    let plan = &state.plan;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for host in &plan.hosts {
        let fwd = Forward::open(&plan.dir, &host.name, &plan.engine_of(host).socket);
        rt.block_on(async {
            let docker = engine::connect(&fwd.socket)
                .await
                .expect("docker API over ssh");
            for c in &host.containers {
                let info = docker
                    .inspect_container(&c.name, None)
                    .await
                    .unwrap_or_else(|e| panic!("{} on {}: {e}", c.name, host.name));
                let what = format!("{} on {}", c.name, host.name);
                let config = info.config.clone().expect("config");
                let hc = info.host_config.clone().expect("host config");
                let user = config.user.clone().unwrap_or_default();
                assert!(
                    !user.is_empty() && user != "root" && user != "0" && !user.starts_with("0:"),
                    "{what} runs as root ({user:?})"
                );
                assert!(hc.memory.unwrap_or(0) > 0, "{what}: no memory limit");
                assert_eq!(hc.privileged, Some(false), "{what}");
                assert!(
                    hc.cap_add.unwrap_or_default().is_empty(),
                    "{what}: capabilities added"
                );
                let log = hc.log_config.clone().expect("log config");
                assert_eq!(log.typ.as_deref(), Some("json-file"), "{what}");
                assert!(
                    log.config.unwrap_or_default().contains_key("max-size"),
                    "{what}: logs without rotation"
                );
                assert!(
                    hc.port_bindings.unwrap_or_default().is_empty(),
                    "{what}: publishes ports"
                );
                let image = config.image.clone().unwrap_or_default();
                assert!(
                    image.contains(':') && !image.ends_with(":latest"),
                    "{what}: unpinned image {image}"
                );
                for var in config.env.clone().unwrap_or_default() {
                    let name = var.split('=').next().unwrap_or_default().to_uppercase();
                    for word in [
                        "PASSWORD",
                        "PASSWD",
                        "SECRET",
                        "TOKEN",
                        "API_KEY",
                        "PRIVATE_KEY",
                        "CREDENTIAL",
                    ] {
                        assert!(
                            !name.contains(word),
                            "{what}: secret-looking variable {name}"
                        );
                    }
                }
                for mount in info.mounts.clone().unwrap_or_default() {
                    let source = mount.source.unwrap_or_default();
                    assert!(!source.ends_with("docker.sock"), "{what} mounts {source}");
                    assert!(
                        !["/", "/etc", "/root", "/var/run", "/run"].contains(&source.as_str()),
                        "{what} mounts {source}"
                    );
                }
                // The one-shot migrate job keeps these two findings on purpose (the
                // inventory accepts them); every other container has both.
                let restart = hc
                    .restart_policy
                    .and_then(|r| r.name)
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                let checked = config.healthcheck.is_some_and(|h| {
                    h.test
                        .is_some_and(|t| t.first().is_some_and(|t| t != "NONE"))
                });
                if c.app == "migrate" {
                    assert_eq!(restart, "no", "{what}");
                    assert!(!checked, "{what}");
                } else {
                    assert!(
                        !restart.is_empty() && restart != "no",
                        "{what}: restart {restart:?}"
                    );
                    assert!(checked, "{what}: no health check");
                }
            }
        });
    }
}
