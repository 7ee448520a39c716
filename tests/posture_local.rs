//! Container posture and Docker-published firewall drift against a real engine (one of
//! the lab's dockerd, through its unix socket): containers are created with the docker
//! CLI and never started — a configuration is audited whatever the state, and
//! `--privileged` could not start on this machine's kernel anyway — then inspected
//! through fleetdeck's own cleaning inspect and audited.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use fleetdeck::docker::transport::{LocalSocket, connect_negotiated};
use fleetdeck::fleet::containers;
use fleetdeck::probes::Severity;
use fleetdeck::probes::firewall::{
    AllowRule, DeclaredPolicy, DriftKind, FirewallBackend, Protocol, Verdict,
    docker_published_drift,
};
use fleetdeck::probes::posture::containers::{self as posture, audit};
use time::OffsetDateTime;

const TEST_PREFIX: &str = "fd-test-";
const IMAGE: &str = "fleetdeck-lab/app:1.0";
/// Planted in the environment; must come out nowhere.
const PLANTED: &str = "s3cr3t-value";
/// What keeps a container clear of every check but the ones a test plants.
const CLEAN: &[&str] = &[
    "--memory",
    "64m",
    "--user",
    "1000",
    "--health-cmd",
    "true",
    "--restart",
    "unless-stopped",
    "--log-opt",
    "max-size=10m",
];

/// The real docker CLI against one engine's socket; the lab's dockerd is 20.10.
fn docker_cli(socket: &Path, args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .env("DOCKER_API_VERSION", "1.41")
        .arg("-H")
        .arg(format!("unix://{}", socket.display()))
        .args(args)
        .output()
        .expect("running the docker CLI")
}

/// Force-removes the test's containers and image tags when dropped, so a failed
/// assertion leaves nothing behind. Only ever holds `fd-test-` names.
struct Cleanup {
    socket: PathBuf,
    run: String,
    containers: Vec<String>,
    tags: Vec<String>,
}

impl Cleanup {
    fn new(socket: PathBuf) -> Cleanup {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        Cleanup {
            socket,
            run: format!("{TEST_PREFIX}posture-{}-{nanos}", std::process::id()),
            containers: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// Creates (never starts) container `RUN-what` from `image` with `args`.
    fn create(&mut self, what: &str, args: &[&str], image: &str) -> String {
        let name = format!("{}-{what}", self.run);
        self.containers.push(name.clone());
        let mut all = vec!["create", "--name", name.as_str()];
        all.extend_from_slice(args);
        all.extend_from_slice(&[image, "sleep", "1"]);
        let out = docker_cli(&self.socket, &all);
        assert!(
            out.status.success(),
            "docker create {what}: {}",
            common::stderr(&out)
        );
        name
    }

    /// Tags the lab image as `RUN:latest`: an unpinned reference.
    fn unpinned_image(&mut self) -> String {
        let reference = format!("{}:latest", self.run);
        self.tags.push(reference.clone());
        let out = docker_cli(&self.socket, &["tag", IMAGE, &reference]);
        assert!(out.status.success(), "docker tag: {}", common::stderr(&out));
        reference
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in self.containers.iter().chain(&self.tags) {
            assert!(name.starts_with(TEST_PREFIX));
        }
        // Absent already is the normal case; nothing to report.
        for name in &self.containers {
            let _ = docker_cli(&self.socket, &["rm", "-f", name]);
        }
        for tag in &self.tags {
            let _ = docker_cli(&self.socket, &["rmi", tag]);
        }
    }
}

fn clean_with(extra: &[&'static str]) -> Vec<&'static str> {
    extra.iter().chain(CLEAN).copied().collect()
}

fn checks(findings: &[fleetdeck::probes::posture::Finding]) -> Vec<(&str, Severity)> {
    findings
        .iter()
        .map(|f| (f.check.as_str(), f.severity))
        .collect()
}

#[tokio::test]
#[ignore = "needs the lab: scripts/test.sh"]
async fn created_containers_show_exactly_what_their_configuration_allows() {
    let lab = common::lab();
    let socket = lab.plan.engines[0].socket.clone();
    let mut run = Cleanup::new(socket.clone());
    let privileged = run.create("privileged", &clean_with(&["--privileged"]), IMAGE);
    let planted_env = format!("DB_PASSWORD={PLANTED}");
    let rogue_args: Vec<&str> = [
        "--cap-add",
        "SYS_ADMIN",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        "-v",
        "/:/host",
        "-e",
        planted_env.as_str(),
    ]
    .into_iter()
    .chain(CLEAN.iter().copied())
    .collect();
    let rogue = run.create("rogue", &rogue_args, IMAGE);
    let published = run.create(
        "published",
        &clean_with(&["-p", "0.0.0.0:6380:6379", "-p", "127.0.0.1:6381:6379"]),
        IMAGE,
    );
    let clean = run.create("clean", CLEAN, IMAGE);
    let unpinned = run.unpinned_image();
    let bare = run.create("bare", &["--log-driver", "local"], &unpinned);

    let docker = connect_negotiated(Arc::new(LocalSocket::new(&socket)), 30)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", socket.display()));
    let mut inspected = Vec::new();
    for name in [&privileged, &rogue, &published, &clean, &bare] {
        let details = fleetdeck::docker::clean::inspect_container(&docker, name)
            .await
            .unwrap_or_else(|e| panic!("inspecting {name}: {e}"));
        assert_eq!(
            details
                .state
                .as_ref()
                .and_then(|s| s.status)
                .map(|s| s.to_string()),
            Some("created".to_owned()),
            "{name} was never started"
        );
        inspected.push(details);
    }
    let findings: Vec<_> = inspected.iter().map(|d| audit(d, &[])).collect();
    use Severity::{Critical, Warning};
    assert_eq!(
        checks(&findings[0]),
        [(posture::PRIVILEGED, Critical)],
        "{:#?}",
        findings[0]
    );
    assert_eq!(
        checks(&findings[1]),
        [
            (posture::DOCKER_SOCKET, Critical),
            (posture::HOST_PATH, Critical),
            (posture::CAPABILITY, Critical),
            (posture::SECRET_ENV, Warning),
        ],
        "{:#?}",
        findings[1]
    );
    let reasons: Vec<&str> = findings[1].iter().map(|f| f.reason.as_str()).collect();
    assert!(reasons[0].contains("/var/run/docker.sock"), "{reasons:?}");
    assert_eq!(reasons[1], "mounts the host's / at /host");
    assert_eq!(reasons[2], "adds the capability SYS_ADMIN");
    assert!(reasons[3].starts_with("has DB_PASSWORD in its environment"));
    assert_eq!(
        checks(&findings[2]),
        [(posture::PUBLISHED_ALL_ADDRESSES, Warning)],
        "only the binding on all addresses: {:#?}",
        findings[2]
    );
    assert_eq!(findings[3], Vec::new());
    assert_eq!(
        checks(&findings[4]),
        [
            (posture::NO_MEMORY_LIMIT, Warning),
            (posture::ROOT_USER, Warning),
            (posture::UNPINNED_IMAGE, Warning),
            (posture::NO_HEALTHCHECK, Warning),
            (posture::NO_RESTART_POLICY, Warning),
        ],
        "{:#?}",
        findings[4]
    );
    for (details, found) in inspected.iter().zip(&findings) {
        let name = details
            .name
            .as_deref()
            .unwrap_or("")
            .trim_start_matches('/');
        assert!(found.iter().all(|f| f.container.as_deref() == Some(name)));
    }

    // The value is in the engine's answer, and in nothing fleetdeck builds from it.
    let env = inspected[1].config.as_ref().and_then(|c| c.env.clone());
    assert!(env.iter().flatten().any(|e| e.contains(PLANTED)));
    let now = OffsetDateTime::now_utc();
    let reports: Vec<_> = inspected
        .iter()
        .map(|d| containers::report(d, now))
        .collect();
    assert_eq!(
        reports[1].findings, findings[1],
        "the watcher's report carries them"
    );
    for text in [
        format!("{findings:?}"),
        format!("{reports:?}"),
        serde_json::to_string(&reports).expect("json"),
    ] {
        assert!(!text.contains(PLANTED));
    }

    // The binding on all addresses is firewall drift where the policy does not allow
    // it; the one on 127.0.0.1 is not.
    let ports: Vec<(String, _)> = reports
        .iter()
        .flat_map(|r| r.published.iter().map(|p| (r.name.clone(), p.clone())))
        .collect();
    assert_eq!(ports.len(), 2, "{ports:?}");
    let mut declared = DeclaredPolicy {
        backend: FirewallBackend::Auto,
        input_policy: Verdict::Drop,
        allow: vec![AllowRule {
            port: 22,
            proto: Protocol::Tcp,
            from: vec![],
        }],
    };
    let drift = docker_published_drift(&declared, &ports);
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(
        (drift[0].kind, drift[0].severity, drift[0].port),
        (DriftKind::DockerPublished, Critical, Some(6380))
    );
    assert_eq!(
        drift[0].message,
        format!(
            "6380/tcp is published by Docker for `{published}` on all addresses; Docker's own \
             chains bypass the host firewall; the declared policy does not allow it"
        )
    );
    declared.allow.push(AllowRule {
        port: 6380,
        proto: Protocol::Tcp,
        from: vec![],
    });
    assert_eq!(docker_published_drift(&declared, &ports), Vec::new());
}

#[tokio::test]
#[ignore = "needs the lab: scripts/test.sh"]
async fn stack_marked_secrets_count_kept_revisions_do_not_and_removal_clears() {
    let lab = common::lab();
    let socket = lab.plan.engines[0].socket.clone();
    let mut run = Cleanup::new(socket.clone());
    let env = format!("SHOP_DSN=postgres://shop:{PLANTED}@db/shop");
    let args: Vec<&str> = [
        "-e",
        env.as_str(),
        "--label",
        "fleetdeck.app=shop",
        "--label",
        "fleetdeck.secret-env=SHOP_DSN",
    ]
    .into_iter()
    .chain(CLEAN.iter().copied())
    .chain(["--privileged"])
    .collect();
    let live = run.create("shop", &args, IMAGE);
    let kept = run.create("shop.prev", &args, IMAGE);

    let docker = connect_negotiated(Arc::new(LocalSocket::new(&socket)), 30)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", socket.display()));
    let now = OffsetDateTime::now_utc();
    let report = |name: String| {
        let docker = docker.clone();
        async move {
            containers::inspect(&docker, &name, now)
                .await
                .unwrap_or_else(|e| panic!("inspecting {name}: {e}"))
        }
    };
    let live_report = report(live.clone()).await.expect("the live container");
    assert_eq!(
        checks(&live_report.findings),
        [
            (posture::PRIVILEGED, Severity::Critical),
            (posture::SECRET_ENV, Severity::Warning),
        ]
    );
    assert!(
        live_report.findings[1]
            .reason
            .contains("SHOP_DSN in its environment (marked secret by its stack)"),
        "{:?}",
        live_report.findings[1]
    );
    assert!(!format!("{live_report:?}").contains(PLANTED));
    let kept_report = report(kept).await.expect("the kept revision");
    assert_eq!(
        kept_report.findings,
        Vec::new(),
        "a stopped copy is not counted"
    );

    let out = docker_cli(&socket, &["rm", "-f", &live]);
    assert!(out.status.success(), "docker rm: {}", common::stderr(&out));
    assert_eq!(report(live).await, None, "removed: no report, no findings");
}
