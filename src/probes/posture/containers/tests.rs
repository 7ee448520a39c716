use super::*;

/// `docker inspect` of containers created (never started) on the lab's dockerd 20.10,
/// cleaned as fleetdeck cleans them; tests/fixtures/probes/generate-posture.sh made them.
fn fixture(name: &str) -> ContainerInspectResponse {
    let text = match name {
        "clean" => include_str!("../../../../tests/fixtures/probes/posture/clean.json"),
        "rogue" => include_str!("../../../../tests/fixtures/probes/posture/rogue.json"),
        "privileged" => include_str!("../../../../tests/fixtures/probes/posture/privileged.json"),
        "bare" => include_str!("../../../../tests/fixtures/probes/posture/bare.json"),
        other => panic!("no fixture {other}"),
    };
    let mut list: Vec<ContainerInspectResponse> = serde_json::from_str(text).expect("inspect JSON");
    let mut details = list.remove(0);
    crate::docker::clean::inspect(&mut details);
    details
}

fn checks(findings: &[Finding]) -> Vec<(&str, Severity)> {
    findings
        .iter()
        .map(|f| (f.check.as_str(), f.severity))
        .collect()
}

/// The value planted in rogue.json's environment.
const PLANTED: &str = "s3cr3t-value";

#[test]
fn a_clean_container_has_no_findings() {
    assert_eq!(audit(&fixture("clean"), &[]), Vec::new());
}

#[test]
fn the_rogue_container_shows_exactly_what_it_was_given() {
    let findings = audit(&fixture("rogue"), &[]);
    use Severity::{Critical, Warning};
    assert_eq!(
        checks(&findings),
        [
            (DOCKER_SOCKET, Critical),
            (HOST_PATH, Critical),
            (HOST_PATH, Warning),
            (CAPABILITY, Critical),
            (NO_MEMORY_LIMIT, Warning),
            (ROOT_USER, Warning),
            (SECRET_ENV, Warning),
            (PUBLISHED_ALL_ADDRESSES, Warning),
            (NO_HEALTHCHECK, Warning),
            (NO_RESTART_POLICY, Warning),
            (NO_LOG_ROTATION, Warning),
        ]
    );
    let reason = |i: usize| findings[i].reason.as_str();
    assert_eq!(
        reason(0),
        "mounts the Docker socket /var/run/docker.sock at /var/run/docker.sock: control of \
         the engine is root on the host"
    );
    assert_eq!(reason(1), "mounts the host's / at /host");
    assert_eq!(reason(2), "mounts the host's /etc at /host-etc");
    assert_eq!(reason(3), "adds the capability SYS_ADMIN");
    assert_eq!(reason(5), "runs as root (no user set)");
    // POSTGRES_PASSWORD_FILE says where the secret is: no finding.
    assert_eq!(
        reason(6),
        "has DB_PASSWORD in its environment (named like a secret): anyone who can inspect \
         it reads it"
    );
    // 127.0.0.1:8080 is not on all addresses.
    assert_eq!(
        reason(7),
        "publishes 6379/tcp on all addresses as host port 6380; Docker's own rules bypass \
         the host firewall"
    );
    let name = findings[0].container.as_deref().expect("container");
    assert!(name.starts_with("fd-test-posture-fixture-") && name.ends_with("-rogue"));
    assert!(
        findings
            .iter()
            .all(|f| f.container.as_deref() == Some(name))
    );
    assert!(
        findings
            .iter()
            .all(|f| !f.fix.is_empty() && f.accepted.is_none())
    );
}

#[test]
fn the_environment_value_reaches_no_finding_debug_output_or_json() {
    let details = fixture("rogue");
    // The fixture does hold it, where a careless reader would find it.
    let env = details
        .config
        .as_ref()
        .and_then(|c| c.env.as_ref())
        .expect("env");
    assert!(env.iter().any(|e| e.contains(PLANTED)), "{env:?}");
    for marked in [vec![], vec!["DB_PASSWORD".to_owned(), "s3cr3t".to_owned()]] {
        let findings = audit(&details, &marked);
        assert!(findings.iter().any(|f| f.check == SECRET_ENV));
        let debug = format!("{findings:?} {findings:#?}");
        let json = serde_json::to_string(&findings).expect("json");
        for text in [debug, json] {
            assert!(!text.contains(PLANTED), "{text}");
            assert!(!text.contains("s3cr3t"), "{text}");
        }
    }
}

#[test]
fn a_variable_the_stack_marks_secret_is_a_finding_whatever_its_name() {
    let mut details = fixture("clean");
    if let Some(config) = details.config.as_mut() {
        config.env = Some(vec![
            "SHOP_DSN=postgres://shop:hunter2@db/shop".to_owned(),
            "LANG=C.UTF-8".to_owned(),
        ]);
    }
    assert_eq!(
        audit(&details, &[]),
        Vec::new(),
        "SHOP_DSN is not named like one"
    );
    let findings = audit(&details, &["SHOP_DSN".to_owned(), "ABSENT".to_owned()]);
    assert_eq!(checks(&findings), [(SECRET_ENV, Severity::Warning)]);
    assert_eq!(
        findings[0].reason,
        "has SHOP_DSN in its environment (marked secret by its stack): anyone who can \
         inspect it reads it"
    );
    assert!(!format!("{findings:?}").contains("hunter2"));
}

#[test]
fn privileged_is_critical_on_a_container_never_started() {
    let details = fixture("privileged");
    assert_eq!(
        details.state.as_ref().and_then(|s| s.status),
        Some(bollard::models::ContainerStateStatusEnum::CREATED)
    );
    let findings = audit(&details, &[]);
    assert_eq!(checks(&findings), [(PRIVILEGED, Severity::Critical)]);
}

#[test]
fn a_bare_container_from_latest_with_every_port_published() {
    let findings = audit(&fixture("bare"), &[]);
    use Severity::Warning;
    // CAP_CHOWN is in Docker's default set: no finding.
    assert_eq!(
        checks(&findings),
        [
            (CAPABILITY, Warning),
            (NO_MEMORY_LIMIT, Warning),
            (ROOT_USER, Warning),
            (UNPINNED_IMAGE, Warning),
            (PUBLISHED_ALL_ADDRESSES, Warning),
            (NO_HEALTHCHECK, Warning),
            (NO_RESTART_POLICY, Warning),
            (NO_LOG_ROTATION, Warning),
        ]
    );
    assert_eq!(findings[0].reason, "adds the capability NET_ADMIN");
    assert!(
        findings[3]
            .reason
            .ends_with(":latest with no tag or `latest`: the next pull changes what runs")
    );
    assert_eq!(
        findings[4].reason,
        "publishes 9000/tcp on all addresses as a host port Docker picks; Docker's own rules \
         bypass the host firewall"
    );
}

#[test]
fn published_ports_come_from_the_configuration() {
    let rogue = published_ports(&fixture("rogue"));
    assert_eq!(
        rogue,
        [
            Binding {
                host_ip: "127.0.0.1".into(),
                host_ports: Some((8080, 8080)),
                container_port: 80,
                proto: "tcp".into(),
            },
            Binding {
                host_ip: "0.0.0.0".into(),
                host_ports: Some((6380, 6380)),
                container_port: 6379,
                proto: "tcp".into(),
            },
        ]
    );
    let firewall: Vec<_> = rogue.iter().filter_map(Binding::firewall_port).collect();
    assert_eq!(firewall[1].host_port, Some(6380));
    assert_eq!(firewall[1].host_port_end, None);
    assert!(firewall[1].on_all_addresses() && !firewall[0].on_all_addresses());
    assert_eq!(published_ports(&fixture("clean")), Vec::new());

    let mut ranged = fixture("clean");
    if let Some(host) = ranged.host_config.as_mut() {
        host.port_bindings = Some(std::collections::HashMap::from([
            (
                "53/udp".to_owned(),
                Some(vec![PortBinding {
                    host_ip: Some(String::new()),
                    host_port: Some("5300-5302".to_owned()),
                }]),
            ),
            (
                "9/sctp".to_owned(),
                Some(vec![PortBinding {
                    host_ip: Some("::".to_owned()),
                    host_port: Some("9".to_owned()),
                }]),
            ),
        ]));
    }
    let bindings = published_ports(&ranged);
    assert_eq!(bindings.len(), 2);
    assert_eq!(bindings[0].host_ports, Some((9, 9)));
    assert_eq!(bindings[1].host_ports, Some((5300, 5302)));
    let firewall: Vec<_> = bindings.iter().filter_map(Binding::firewall_port).collect();
    assert_eq!(firewall.len(), 1, "sctp has no place in a declared policy");
    assert_eq!(
        (firewall[0].host_port, firewall[0].host_port_end),
        (Some(5300), Some(5302))
    );
    // Both are on all addresses: posture says so for sctp too.
    assert_eq!(
        audit(&ranged, &[])
            .iter()
            .filter(|f| f.check == PUBLISHED_ALL_ADDRESSES)
            .count(),
        2
    );
}

#[test]
fn host_paths_are_compared_canonical_and_only_the_directories_themselves() {
    let mut details = fixture("clean");
    let with_binds = |details: &mut ContainerInspectResponse, binds: &[&str]| {
        if let Some(host) = details.host_config.as_mut() {
            host.binds = Some(binds.iter().map(|b| b.to_string()).collect());
        }
    };
    with_binds(
        &mut details,
        &[
            "//etc/:/e:ro",
            "/srv/../root:/r",
            "/etc/localtime:/etc/localtime:ro",
            "data:/var/run",
            "/run/user/1000/docker.sock:/sock",
            "/srv/.:/.",
        ],
    );
    let findings = audit(&details, &[]);
    let reasons: Vec<&str> = findings.iter().map(|f| f.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "mounts the Docker socket /run/user/1000/docker.sock at /sock: control of the \
             engine is root on the host",
            "mounts the host's /etc at /e",
            "mounts the host's /root at /r",
        ]
    );
}

#[test]
fn users_capabilities_health_checks_and_restart_policies() {
    let with = |user: &str, caps: &[&str], test: Option<&[&str]>, restart| {
        let mut details = fixture("clean");
        if let Some(config) = details.config.as_mut() {
            config.user = Some(user.to_owned());
            config.healthcheck = test.map(|t| bollard::models::HealthConfig {
                test: Some(t.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            });
        }
        if let Some(host) = details.host_config.as_mut() {
            host.cap_add = Some(caps.iter().map(|c| c.to_string()).collect());
            if let Some(policy) = host.restart_policy.as_mut() {
                policy.name = Some(restart);
            }
        }
        checks(&audit(&details, &[]))
            .into_iter()
            .map(|(c, s)| (c.to_owned(), s))
            .collect::<Vec<_>>()
    };
    let ok: &[&str] = &["CMD-SHELL", "true"];
    use RestartPolicyNameEnum as R;
    for root in ["", "root", "0", "0:0", "root:staff"] {
        assert_eq!(
            with(root, &[], Some(ok), R::ALWAYS),
            [(ROOT_USER.to_owned(), Severity::Warning)],
            "{root:?}"
        );
    }
    for user in ["1000", "app", "1000:0", "10"] {
        assert_eq!(with(user, &[], Some(ok), R::ON_FAILURE), [], "{user:?}");
    }
    assert_eq!(
        with(
            "1000",
            &["all", "CAP_SYS_MODULE", "sys_ptrace", "NET_BIND_SERVICE"],
            Some(ok),
            R::ALWAYS
        ),
        [
            (CAPABILITY.to_owned(), Severity::Critical),
            (CAPABILITY.to_owned(), Severity::Critical),
            (CAPABILITY.to_owned(), Severity::Warning),
        ]
    );
    let none: &[&str] = &["NONE"];
    for test in [None, Some(none)] {
        assert_eq!(
            with("1000", &[], test, R::ALWAYS),
            [(NO_HEALTHCHECK.to_owned(), Severity::Warning)]
        );
    }
    for restart in [R::NO, R::EMPTY] {
        assert_eq!(
            with("1000", &[], Some(ok), restart),
            [(NO_RESTART_POLICY.to_owned(), Severity::Warning)]
        );
    }
}

#[test]
fn log_rotation_is_json_file_with_a_max_size() {
    let with = |driver: &str, options: &[(&str, &str)]| {
        let mut details = fixture("clean");
        if let Some(host) = details.host_config.as_mut() {
            host.log_config = Some(bollard::models::HostConfigLogConfig {
                typ: Some(driver.to_owned()),
                config: Some(
                    options
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            });
        }
        audit(&details, &[]).len()
    };
    assert_eq!(with("json-file", &[("max-file", "3")]), 1);
    assert_eq!(with("json-file", &[("max-size", "")]), 1);
    assert_eq!(with("json-file", &[("max-size", "10m")]), 0);
    // `local` rotates by itself; journald and syslog hand logs to the host's rotation.
    for driver in ["local", "journald", "syslog", "none"] {
        assert_eq!(with(driver, &[]), 0, "{driver}");
    }
}

#[test]
fn secret_names() {
    for secret in [
        "DB_PASSWORD",
        "MYSQL_ROOT_PASSWORD",
        "db_pass",
        "REDIS_PASSWD",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "GITHUB_TOKEN",
        "STRIPE_API_KEY",
        "SENTRY_APIKEY",
        "SSH_PRIVATE_KEY",
        "GPG_PASSPHRASE",
        "GOOGLE_APPLICATION_CREDENTIALS_JSON",
        "django.secret-key",
        "SMTP_PWD",
    ] {
        assert!(looks_secret(secret), "{secret}");
    }
    for public in [
        "PATH",
        "PWD",
        "OLDPWD",
        "HOME",
        "GPG_KEY",
        "LANG",
        "POSTGRES_PASSWORD_FILE",
        "TOKEN_PATH",
        "SECRETS_DIR",
        "PASSAGE_COUNT",
        "KEYCLOAK_URL",
        "NGINX_VERSION",
    ] {
        assert!(!looks_secret(public), "{public}");
    }
}

#[test]
fn host_controlled_text_is_cleaned_in_reasons() {
    let mut details = fixture("clean");
    if let Some(config) = details.config.as_mut() {
        config.env = Some(vec!["EVIL\u{1b}]0;title\u{7}_TOKEN=x".to_owned()]);
    }
    if let Some(host) = details.host_config.as_mut() {
        host.binds = Some(vec!["/:/host\u{1b}[2J".to_owned()]);
    }
    let findings = audit(&details, &[]);
    assert_eq!(findings.len(), 2);
    for finding in &findings {
        assert!(!finding.reason.contains('\u{1b}'), "{:?}", finding.reason);
    }
    assert!(
        findings[1].reason.starts_with("has EVIL_TOKEN in"),
        "{}",
        findings[1].reason
    );
}

#[test]
fn image_pinning() {
    assert_eq!(pinning("nginx"), Pinning::None);
    assert_eq!(pinning("nginx:latest"), Pinning::None);
    assert_eq!(pinning("nginx:1.25"), Pinning::Tag);
    assert_eq!(pinning("registry:5000/app"), Pinning::None);
    assert_eq!(pinning("registry:5000/app:2"), Pinning::Tag);
    assert_eq!(pinning("app@sha256:abcd"), Pinning::Digest);
}

#[test]
fn every_check_id_is_documented() {
    let doc = include_str!("../../../../docs/posture.md");
    for check in CONTAINER_CHECKS {
        assert!(doc.contains(&format!("`{check}`")), "{check}");
    }
}
