//! The Docker transport and event follower against the lab's real engines, through
//! their unix sockets (the same client the SSH transport uses, with a local opener).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, EventMessage};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use fleetdeck::docker::events::{EventCursor, Follower, follow};
use fleetdeck::docker::transport::{
    CountingOpener, LocalSocket, StreamOpener, connect_negotiated, docker_over, local,
};
use futures_util::StreamExt;

const TEST_PREFIX: &str = "fd-test-";
const IMAGE: &str = "fleetdeck-lab/app:1.0";
const WAIT: Duration = Duration::from_secs(30);

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

/// The socket of the engine that serves `host` in the running lab.
fn engine_of(host: &str) -> PathBuf {
    let lab = common::lab();
    let host = lab
        .plan
        .hosts
        .iter()
        .find(|h| h.name == host)
        .unwrap_or_else(|| panic!("the lab has no host {host}"));
    lab.plan.engine_of(host).socket.clone()
}

async fn connect(socket: &Path) -> Docker {
    connect_negotiated(Arc::new(LocalSocket::new(socket)), 30)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", socket.display()))
}

/// A name no lab container has, unique per test run.
fn unique_name(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("{TEST_PREFIX}{}-{nanos}-{what}", std::process::id())
}

/// Force-removes the named test containers when dropped, so a failed assertion does
/// not leave them behind. Only ever holds `fd-test-` names.
struct Cleanup {
    socket: PathBuf,
    names: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.names {
            assert!(name.starts_with(TEST_PREFIX));
            // Absent already is the normal case; nothing to report.
            let _ = docker_cli(&self.socket, &["rm", "-f", name]);
        }
    }
}

/// Creates (never starts) and removes a container: a `create` and a `destroy` event.
async fn create_and_remove(docker: &Docker, name: &str) {
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    let body = ContainerCreateBody {
        image: Some(IMAGE.to_owned()),
        cmd: Some(vec!["true".to_owned()]),
        ..Default::default()
    };
    docker
        .create_container(Some(options), body)
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e}"));
    docker
        .remove_container(
            name,
            Some(RemoveContainerOptionsBuilder::new().force(true).build()),
        )
        .await
        .unwrap_or_else(|e| panic!("removing {name}: {e}"));
}

fn container_name(event: &EventMessage) -> Option<&str> {
    event
        .actor
        .as_ref()?
        .attributes
        .as_ref()?
        .get("name")
        .map(String::as_str)
}

fn identity(event: &EventMessage) -> (Option<i64>, String, String, String) {
    (
        event.time_nano,
        event.typ.map(|t| t.to_string()).unwrap_or_default(),
        event.action.clone().unwrap_or_default(),
        event
            .actor
            .as_ref()
            .and_then(|a| a.id.clone())
            .unwrap_or_default(),
    )
}

/// Reads events until one for container `name` with `action` arrives; returns all
/// events read, in order.
async fn read_until(follower: &mut Follower, name: &str, action: &str) -> Vec<EventMessage> {
    let mut seen = Vec::new();
    let wait = async {
        while let Some(event) = follower.next().await {
            let event = event.expect("reading events");
            let done =
                container_name(&event) == Some(name) && event.action.as_deref() == Some(action);
            seen.push(event);
            if done {
                return;
            }
        }
        panic!("the event stream ended before {action} of {name}");
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("no {action} event for {name} within {WAIT:?}"));
    seen
}

fn actions_for<'a>(events: &'a [EventMessage], name: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|e| container_name(e) == Some(name))
        .filter_map(|e| e.action.as_deref())
        .collect()
}

#[tokio::test]
#[ignore = "needs the lab: scripts/test.sh"]
async fn lists_the_lab_containers_through_the_custom_transport() {
    let lab = common::lab();
    for engine in &lab.plan.engines {
        // The embedded default's client, unnegotiated: it must work as built.
        let docker = local(&engine.socket).expect("building the client");
        let all = ListContainersOptionsBuilder::new().all(true).build();
        let containers = docker
            .list_containers(Some(all))
            .await
            .unwrap_or_else(|e| panic!("listing containers of {}: {e}", engine.socket.display()));
        let ours: BTreeSet<String> = containers
            .iter()
            .flat_map(|c| c.names.iter().flatten())
            .map(|n| n.trim_start_matches('/').to_owned())
            .filter(|n| !n.starts_with(TEST_PREFIX))
            .collect();

        let cli = docker_cli(&engine.socket, &["ps", "-a", "--format", "{{.Names}}"]);
        assert!(cli.status.success(), "docker ps: {}", common::stderr(&cli));
        let theirs: BTreeSet<String> = common::stdout(&cli)
            .lines()
            .map(str::to_owned)
            .filter(|n| !n.starts_with(TEST_PREFIX))
            .collect();
        assert_eq!(ours, theirs, "engine {}", engine.socket.display());

        let planned: BTreeSet<String> = lab
            .plan
            .hosts
            .iter()
            .filter(|h| h.engine == engine.index)
            .flat_map(|h| h.containers.iter().map(|c| c.name.clone()))
            .collect();
        // Deploys (other tests) keep the previous revision of what they replaced.
        let live: BTreeSet<String> = ours
            .iter()
            .filter(|n| !n.ends_with(".prev"))
            .cloned()
            .collect();
        assert_eq!(live, planned, "engine {}", engine.socket.display());

        // The host label names the lab host, as the console will show it.
        for c in &containers {
            let Some(host) = c.labels.as_ref().and_then(|l| l.get("lab.fleetdeck.host")) else {
                continue;
            };
            assert!(
                lab.plan
                    .hosts
                    .iter()
                    .any(|h| &h.name == host && h.engine == engine.index),
                "container {:?} claims host {host}",
                c.names
            );
        }
    }
}

#[tokio::test]
#[ignore = "needs the lab: scripts/test.sh"]
async fn sequential_requests_reuse_one_stream_and_events_get_their_own() {
    let socket = engine_of("client-alpha");
    let opener = Arc::new(CountingOpener::new(LocalSocket::new(&socket)));
    let docker = connect_negotiated(opener.clone(), 30)
        .await
        .expect("negotiating the API version");
    for i in 0..10 {
        docker
            .list_containers(None::<bollard::query_parameters::ListContainersOptions>)
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
    }
    assert_eq!(
        opener.opened(),
        1,
        "the version request and 10 listings should share one stream"
    );

    // A long-lived `/events` request holds its stream; other requests open another.
    let mut follower = follow(&docker, EventCursor::new(), None);
    let name = unique_name("reuse");
    let _cleanup = Cleanup {
        socket: socket.clone(),
        names: vec![name.clone()],
    };
    // Drive the follower until its request is in flight (nothing to read yet).
    let _ = tokio::time::timeout(Duration::from_millis(500), follower.next()).await;
    let opened_with_events = opener.opened();

    create_and_remove(&docker, &name).await;
    docker.ping().await.expect("ping while /events is open");
    let events = read_until(&mut follower, &name, "destroy").await;
    assert_eq!(actions_for(&events, &name), ["create", "destroy"]);
    assert_eq!(
        opener.opened(),
        opened_with_events + 1,
        "requests during /events should share one more stream"
    );
    assert!(
        opened_with_events <= 2,
        "the events request opened more than one stream"
    );
}

#[tokio::test]
#[ignore = "needs the lab: scripts/test.sh"]
async fn a_resumed_follower_delivers_the_gap_exactly_once() {
    let socket = engine_of("client-gamma");
    let docker = connect(&socket).await;
    let before = unique_name("before");
    let during = unique_name("during");
    let _cleanup = Cleanup {
        socket: socket.clone(),
        names: vec![before.clone(), during.clone()],
    };

    let mut follower = follow(&docker, EventCursor::new(), None);
    // Start the stream, then cause events it sees.
    let _ = tokio::time::timeout(Duration::from_millis(500), follower.next()).await;
    create_and_remove(&docker, &before).await;
    let first = read_until(&mut follower, &before, "destroy").await;
    assert_eq!(actions_for(&first, &before), ["create", "destroy"]);
    let cursor = follower.into_cursor();

    // While nobody follows.
    create_and_remove(&docker, &during).await;

    let mut follower = follow(&docker, cursor, None);
    let second = read_until(&mut follower, &during, "destroy").await;
    assert_eq!(
        actions_for(&second, &during),
        ["create", "destroy"],
        "the gap's events, exactly once"
    );
    assert!(
        actions_for(&second, &before).is_empty(),
        "events before the cursor came again: {:?}",
        actions_for(&second, &before)
    );
    let delivered: BTreeSet<_> = first.iter().map(identity).collect();
    let repeated: Vec<_> = second
        .iter()
        .map(identity)
        .filter(|id| delivered.contains(id))
        .collect();
    assert!(repeated.is_empty(), "delivered twice: {repeated:?}");
    assert_eq!(follower.cursor().possible_gaps(), 0);
}

/// No lab needed: a socket that does not exist.
#[tokio::test]
async fn errors_name_the_socket_they_could_not_reach() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let opener = LocalSocket::new(dir.path().join("docker.sock"));
    let docker = docker_over(Arc::new(opener.clone()), 5).expect("building the client");
    let err = docker.ping().await.expect_err("ping a missing socket");
    let text = err.to_string();
    assert!(
        text.contains(&opener.describe()),
        "error does not say what it talked to: {text}"
    );
    match err {
        bollard::errors::Error::IOError { err } => {
            assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}")
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

/// No lab needed: what goes over the stream. Docker answers 400 to a request without
/// a `Host` header, and expects origin-form paths.
#[tokio::test]
async fn requests_carry_a_host_header_and_an_origin_form_path() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("docker.sock");
    let listener = tokio::net::UnixListener::bind(&path).expect("binding a unix socket");
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accepting");
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.expect("reading the request");
            assert!(n > 0, "the client closed before a full request head");
            head.extend_from_slice(&buf[..n]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
            .await
            .expect("answering");
        String::from_utf8_lossy(&head).into_owned()
    });
    let docker = docker_over(Arc::new(LocalSocket::new(&path)), 5).expect("building the client");
    docker.ping().await.expect("ping");
    let head = server.await.expect("the server task");
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    assert!(
        request_line.starts_with("GET /") && request_line.ends_with("/_ping HTTP/1.1"),
        "{request_line}"
    );
    assert!(
        lines.any(|l| l.eq_ignore_ascii_case("host: docker")),
        "no Host header in:\n{head}"
    );
}

/// Whether `s` holds anything a terminal would obey or break a line at.
fn has_controls(s: &str) -> bool {
    s.chars().any(|c| {
        let n = c as u32;
        n < 0x20 || (0x7f..0xa0).contains(&n) || matches!(n, 0x2028 | 0x2029)
    })
}

#[tokio::test]
#[ignore = "needs the lab: scripts/test.sh"]
async fn hostile_labels_are_cleaned_where_they_enter_listing_inspecting_and_events() {
    use fleetdeck::docker::clean;
    // An OSC title, an OSC 52 clipboard write, a line separator and an unterminated
    // OSC, as `docker run --label` lets anyone on the host write.
    const HOSTILE: &str =
        "web\u{1b}]0;owned\u{7}\u{1b}]52;c;ZXZpbA==\u{1b}\\\u{2028}x\u{1b}]8;;http://evil";
    let socket = engine_of("client-alpha");
    let docker = connect(&socket).await;
    let name = unique_name("hostile-label");
    let _cleanup = Cleanup {
        socket: socket.clone(),
        names: vec![name.clone()],
    };
    let mut follower = follow(&docker, EventCursor::new(), None);
    let _ = tokio::time::timeout(Duration::from_millis(500), follower.next()).await;

    let body = ContainerCreateBody {
        image: Some(IMAGE.to_owned()),
        cmd: Some(vec!["true".to_owned()]),
        labels: Some(std::collections::HashMap::from([
            ("fleetdeck.app".to_owned(), HOSTILE.to_owned()),
            ("note\u{2029}\u{1b}[2J".to_owned(), HOSTILE.to_owned()),
        ])),
        ..Default::default()
    };
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            body,
        )
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e}"));
    let filters = std::collections::HashMap::from([("name", vec![name.as_str()])]);
    let options = || {
        Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        )
    };

    // The engine really hands the raw bytes back.
    let raw = docker.list_containers(options()).await.unwrap();
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].labels.as_ref().unwrap()["fleetdeck.app"], HOSTILE);

    let listed = clean::list_containers(&docker, options()).await.unwrap();
    assert_eq!(listed.len(), 1);
    let labels = listed[0].labels.as_ref().unwrap();
    assert_eq!(labels["fleetdeck.app"], "web x");
    assert_eq!(labels["note "], "web x");

    let inspected = clean::inspect_container(&docker, &name).await.unwrap();
    let labels = inspected.config.unwrap().labels.unwrap();
    assert_eq!(labels["fleetdeck.app"], "web x");
    assert!(labels.keys().all(|k| !has_controls(k)), "{labels:?}");

    let events = read_until(&mut follower, &name, "create").await;
    let create = events
        .iter()
        .find(|e| container_name(e) == Some(name.as_str()))
        .unwrap();
    let attributes = create.actor.as_ref().unwrap().attributes.as_ref().unwrap();
    assert_eq!(attributes["fleetdeck.app"], "web x", "{attributes:?}");
    assert!(
        attributes
            .iter()
            .all(|(k, v)| !has_controls(k) && !has_controls(v)),
        "{attributes:?}"
    );
}

/// A container that exited with code 0 under restart policy `always` or
/// `unless-stopped` was stopped by hand or given up on: its service is down although
/// its policy says it should run — critical, the judgement deploy's plan shares. Under
/// `no` or `on-failure` the same clean exit is a finished job.
#[tokio::test]
#[ignore = "needs the lab: scripts/test.sh"]
async fn a_clean_exit_under_a_policy_that_says_run_is_a_problem() {
    use fleetdeck::probes::Severity;
    let socket = engine_of("bastion");
    let docker = connect(&socket).await;
    let mut cleanup = Cleanup {
        socket: socket.clone(),
        names: Vec::new(),
    };
    for (policy, expected) in [
        ("always", Severity::Critical),
        ("unless-stopped", Severity::Critical),
        ("no", Severity::Ok),
        ("on-failure", Severity::Ok),
    ] {
        let name = unique_name(policy);
        cleanup.names.push(name.clone());
        let run = docker_cli(
            &socket,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "--restart",
                policy,
                IMAGE,
                "sh",
                "-c",
                "trap 'exit 0' TERM; echo ready; while true; do sleep 1; done",
            ],
        );
        assert!(run.status.success(), "{}", common::stderr(&run));
        // Stopped only once its trap is set: before that, PID 1 ignores SIGTERM.
        let deadline = std::time::Instant::now() + WAIT;
        while !common::stdout(&docker_cli(&socket, &["logs", &name])).contains("ready") {
            assert!(std::time::Instant::now() < deadline, "{name} never started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let stop = docker_cli(&socket, &["stop", "-t", "10", &name]);
        assert!(stop.status.success(), "{}", common::stderr(&stop));
        let report =
            fleetdeck::fleet::containers::inspect(&docker, &name, time::OffsetDateTime::now_utc())
                .await
                .unwrap_or_else(|e| panic!("inspecting {name}: {e}"))
                .unwrap_or_else(|| panic!("{name} is gone"));
        assert_eq!(
            (report.state.as_str(), report.exit_code),
            ("exited", Some(0)),
            "{policy}: {report:?}"
        );
        assert_eq!(report.severity, expected, "{policy}: {report:?}");
        if expected == Severity::Critical {
            assert_eq!(
                report.problem.as_deref(),
                Some(
                    format!(
                        "stopped (exit code 0) although its restart policy ({policy}) says it \
                         should run"
                    )
                    .as_str()
                ),
                "{policy}"
            );
        } else {
            assert_eq!(report.problem, None, "{policy}");
        }
    }
}

/// `watch` without an inventory follows the local engine (`$DOCKER_HOST`), as `status`
/// and the console do: its containers, as the engine lists them.
#[tokio::test]
#[ignore = "needs the lab: scripts/test.sh"]
async fn watch_without_an_inventory_follows_the_local_engine() {
    use std::io::{BufRead, BufReader};
    let socket = engine_of("bastion");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut watch = Command::new(common::bin())
        .args(["watch", "--json"])
        .env("FLEETDECK_LOG_FILE", tmp.path().join("log"))
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .env_remove("FLEETDECK_INVENTORY")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("fleetdeck watch");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str(&line)
                && tx.send(value).is_err()
            {
                return;
            }
        }
    });
    let listed = docker_cli(&socket, &["ps", "-a", "--format", "{{.Names}}"]);
    let expected: BTreeSet<String> = common::stdout(&listed)
        .lines()
        .filter(|n| !n.starts_with(TEST_PREFIX))
        .map(str::to_owned)
        .collect();
    assert!(!expected.is_empty(), "the lab engine has containers");
    let deadline = std::time::Instant::now() + WAIT;
    let host = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("watch shows the local engine's containers");
        let host = line["host"].clone();
        if host["containers"].as_array().is_some_and(|c| !c.is_empty()) {
            break host;
        }
    };
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(host["name"], "localhost", "{host}");
    assert_eq!(host["reachable"], true, "{host}");
    let seen: BTreeSet<String> = host["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .filter(|n| !n.starts_with(TEST_PREFIX))
        .map(str::to_owned)
        .collect();
    assert_eq!(seen, expected, "{host}");
}
