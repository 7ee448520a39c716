//! The container view's back end against the lab's real engines: following logs
//! (hostile output included, locally and over an SSH session), the inspect pane's
//! masking, and start / stop / restart through the core with its audit trail and
//! read-only refusal. Every container here is created by the test, named
//! `fd-test-ops-<pid>-…`, and removed when the test ends, pass or fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, StartContainerOptions,
};
use fleetdeck::audit::{AuditLog, AuditResult};
use fleetdeck::core::{ContainerAction, Core, CoreError, PendingAction};
use fleetdeck::docker::inspect::{self, MASK, Section};
use fleetdeck::docker::logs::{self, LogBuffer, LogChunk, LogStream, MAX_LINE_BYTES};
use fleetdeck::docker::transport::{LocalSocket, connect_negotiated};
use fleetdeck::ssh::auth::{KeyStore, NeverAsk};
use fleetdeck::ssh::config::{ResolveEnv, SshConfig};
use fleetdeck::ssh::session::{ConnectContext, InventorySsh, Session};
use futures_util::{Stream, StreamExt};

const PREFIX: &str = "fd-test-ops-";
const IMAGE: &str = "fleetdeck-lab/app:1.0";
const HOST: &str = "client-alpha";
const WAIT: Duration = Duration::from_secs(30);

/// Output meant to misbehave on a terminal, then a pause, written by busybox `printf`
/// (octal escapes): clear screen and home, an OSC title, an OSC 52 clipboard write,
/// an 8-bit CSI (UTF-8 encoded U+009B), a raw 0x9B byte and other invalid UTF-8, a
/// carriage return, a bidi override, a line on stderr, a 100 kB line (Docker stores
/// it as 16 KiB pieces, each with its own timestamp), and a last line without a
/// newline that only the end of the stream completes.
const HOSTILE_SCRIPT: &str = r#"
printf 'plain line\n'
printf '\033[2J\033[Hscreen kept\n'
printf '\033]0;pwned\007title kept\n'
printf '\033]52;c;ZXZpbA==\007clipboard kept\n'
printf '\302\23331mred kept\n'
printf 'raw \233 byte \377 kept\n'
printf 'progress 10%%\rprogress 100%%\r\n'
printf 'bidi \342\200\256gpj.exe\n'
printf 'on stderr\n' >&2
head -c 100000 /dev/zero | tr '\000' x
printf '\nafter the long line\n'
printf 'no newline yet'
trap 'exit 0' TERM
while true; do sleep 1; done
"#;

/// Exits promptly on SIGTERM, so stop and restart do not wait out the grace period.
const IDLE_SCRIPT: &str = "trap 'exit 0' TERM; echo up; while true; do sleep 1; done";

fn engine_socket(host: &str) -> PathBuf {
    let lab = common::lab();
    let plan = lab
        .plan
        .hosts
        .iter()
        .find(|h| h.name == host)
        .unwrap_or_else(|| panic!("the lab has no host {host}"));
    lab.plan.engine_of(plan).socket.clone()
}

async fn local_engine(socket: &Path) -> Docker {
    connect_negotiated(Arc::new(LocalSocket::new(socket)), 60)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", socket.display()))
}

fn unique_name(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("{PREFIX}{}-{nanos}-{what}", std::process::id())
}

/// Force-removes this test's containers when dropped (the docker CLI, since drop
/// cannot await). Only ever holds `fd-test-ops-` names: lab containers are never
/// touched.
struct Cleanup {
    socket: PathBuf,
    names: Vec<String>,
}

impl Cleanup {
    fn new(socket: &Path) -> Self {
        Self {
            socket: socket.to_path_buf(),
            names: Vec::new(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.names {
            assert!(name.starts_with(PREFIX), "refusing to remove {name}");
            // Gone already is fine; nothing to report.
            let _ = Command::new("docker")
                .env("DOCKER_API_VERSION", "1.41")
                .arg("-H")
                .arg(format!("unix://{}", self.socket.display()))
                .args(["rm", "-f", name])
                .output();
        }
    }
}

/// Creates and starts a container running `script` under `sh -c`; returns its id.
async fn run_container(
    docker: &Docker,
    cleanup: &mut Cleanup,
    what: &str,
    script: &str,
    env: &[&str],
    labels: &[(&str, &str)],
) -> (String, String) {
    let name = unique_name(what);
    cleanup.names.push(name.clone());
    let body = ContainerCreateBody {
        image: Some(IMAGE.to_owned()),
        cmd: Some(vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()]),
        env: Some(env.iter().map(|e| e.to_string()).collect()),
        labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            body,
        )
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e}"));
    docker
        .start_container(&created.id, None::<StartContainerOptions>)
        .await
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    (created.id, name)
}

/// (status, StartedAt) as the engine reports them.
async fn state(docker: &Docker, id: &str) -> (String, time::OffsetDateTime) {
    let details = docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .expect("inspect");
    let state = details.state.expect("state");
    let started = state.started_at.unwrap_or_default();
    (
        state.status.map(|s| s.to_string()).unwrap_or_default(),
        time::OffsetDateTime::parse(&started, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("StartedAt {started:?}: {e}")),
    )
}

/// Pushes chunks into `buffer` until `done` holds or the stream ends (then held
/// partial lines are completed, as the console does), failing after [`WAIT`].
/// Returns whether the stream ended.
async fn read_until<S>(
    logs: &mut S,
    buffer: &mut LogBuffer,
    done: impl Fn(&LogBuffer) -> bool,
) -> bool
where
    S: Stream<Item = Result<LogChunk, bollard::errors::Error>> + Unpin,
{
    let reading = async {
        while !done(buffer) {
            match logs.next().await {
                Some(Ok(chunk)) => buffer.push(&chunk),
                Some(Err(e)) => panic!("log stream failed: {e}"),
                None => {
                    buffer.flush_partials();
                    return true;
                }
            }
        }
        false
    };
    match tokio::time::timeout(WAIT, reading).await {
        Ok(ended) => ended,
        Err(_) => {
            let seen: Vec<&str> = buffer.lines().map(|l| l.text.as_str()).collect();
            panic!("log lines did not arrive in time; got {seen:?}");
        }
    }
}

fn has_line(buffer: &LogBuffer, text: &str) -> bool {
    buffer.lines().any(|l| l.text == text)
}

fn assert_inert(buffer: &LogBuffer) {
    for line in buffer.lines() {
        assert!(
            !line
                .text
                .chars()
                .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "a control character reached a line: {:?}",
            line.text
        );
    }
}

#[tokio::test]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn followed_logs_arrive_sanitized_timestamped_and_bounded() {
    let socket = engine_socket(HOST);
    let docker = local_engine(&socket).await;
    let mut cleanup = Cleanup::new(&socket);
    let (id, _) = run_container(&docker, &mut cleanup, "logs", HOSTILE_SCRIPT, &[], &[]).await;

    let mut logs = logs::follow(&docker, &id, 1000, None);
    let mut buffer = LogBuffer::default();
    read_until(&mut logs, &mut buffer, |b| {
        has_line(b, "after the long line") && has_line(b, "on stderr")
    })
    .await;

    let texts: Vec<&str> = buffer.lines().map(|l| l.text.as_str()).collect();
    for expected in [
        "plain line",
        "screen kept",
        "title kept",
        "clipboard kept",
        "red kept",
        "raw \u{fffd} byte \u{fffd} kept",
        "progress 10%progress 100%",
        "bidi \\u{202e}gpj.exe",
    ] {
        assert!(texts.contains(&expected), "{expected:?} not in {texts:?}");
    }
    assert_inert(&buffer);
    let stderr = buffer
        .lines()
        .find(|l| l.text == "on stderr")
        .expect("stderr line");
    assert_eq!(stderr.stream, LogStream::Stderr);

    let now = time::OffsetDateTime::now_utc();
    for line in buffer.lines() {
        let at = line
            .at
            .unwrap_or_else(|| panic!("no timestamp on {:?}", line.text));
        assert!(
            (now - at).abs() < time::Duration::minutes(5),
            "{at} is not the engine's recent time"
        );
    }

    // The 100 kB line came in 16 KiB pieces; it is one line, cut and marked.
    let long = buffer
        .lines()
        .find(|l| l.text.starts_with("xxxx"))
        .expect("the long line");
    assert_eq!(long.text.len(), MAX_LINE_BYTES);
    assert_eq!(long.truncated, (100_000 - MAX_LINE_BYTES) as u64);

    // Search finds the lines to highlight.
    let hits = buffer.search("KEPT", true);
    assert_eq!(hits.len(), 5, "{hits:?}");

    // The last line has no newline: the engine writes it only when the process
    // exits, after the followed stream may already have closed; `follow` reads the
    // end once more, and the buffer completes the held line when the stream ends.
    assert!(!has_line(&buffer, "no newline yet"));
    let scratch = tempfile::tempdir().expect("tempdir");
    let core = Core {
        read_only: false,
        audit: AuditLog::new(scratch.path().join("audit.log")),
        operator: "test@lab".to_owned(),
    };
    let stop = PendingAction::new(HOST, &id, "", ContainerAction::Stop).confirm();
    core.container_action(&docker, stop).await.expect("stop");
    let ended = read_until(&mut logs, &mut buffer, |_| false).await;
    assert!(ended, "a stopped container's followed log ends");
    assert!(has_line(&buffer, "no newline yet"));
    let once: Vec<&str> = buffer
        .lines()
        .map(|l| l.text.as_str())
        .filter(|t| *t == "plain line" || *t == "after the long line")
        .collect();
    assert_eq!(
        once,
        ["plain line", "after the long line"],
        "reading the end again repeats nothing"
    );

    let path = scratch.path().join("logs.txt");
    let written = buffer.save(&path, false).expect("save");
    assert_eq!(written, buffer.len());
    let text = std::fs::read_to_string(&path).expect("read saved log");
    assert!(
        text.lines()
            .any(|l| l.ends_with(" stderr on stderr") && l.contains('T')),
        "{text:.300}"
    );
    assert!(!text.contains('\u{1b}'));
}

#[tokio::test]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn the_core_stops_starts_and_restarts_with_two_audit_lines_each() {
    let socket = engine_socket(HOST);
    let docker = local_engine(&socket).await;
    let mut cleanup = Cleanup::new(&socket);
    let (id, name) = run_container(&docker, &mut cleanup, "life", IDLE_SCRIPT, &[], &[]).await;
    let scratch = tempfile::tempdir().expect("tempdir");
    let audit_path = scratch.path().join("state/fleetdeck/audit.log");
    let core = Core::new(false, AuditLog::new(&audit_path));

    let run = |action: ContainerAction, reason: &str| {
        let pending = core
            .propose(HOST, &id, &name, action)
            .expect("not read-only")
            .with_reason(reason);
        assert!(pending.title().contains(&name));
        core.container_action(&docker, pending.confirm())
    };

    let (_, first_start) = state(&docker, &id).await;
    let stopped = run(ContainerAction::Stop, "testing stop")
        .await
        .expect("stop");
    assert_eq!(stopped.state_after.as_deref(), Some("exited"));
    assert!(
        stopped.took < Duration::from_secs(8),
        "a TERM-handling container stops without waiting out the grace period"
    );
    assert_eq!(state(&docker, &id).await.0, "exited");

    let started = run(ContainerAction::Start, "testing start")
        .await
        .expect("start");
    assert_eq!(started.state_after.as_deref(), Some("running"));
    let (status, second_start) = state(&docker, &id).await;
    assert_eq!(status, "running");
    assert_ne!(second_start, first_start);

    let restarted = run(ContainerAction::Restart, "testing restart")
        .await
        .expect("restart");
    assert_eq!(restarted.state_after.as_deref(), Some("running"));
    assert_eq!(restarted.audit_error, None);
    let (status, third_start) = state(&docker, &id).await;
    assert_eq!(status, "running");
    assert!(
        third_start > second_start,
        "{third_start} after {second_start}"
    );

    let records = AuditLog::read(&audit_path).expect("audit log");
    assert_eq!(records.len(), 6, "{records:#?}");
    let operator = fleetdeck::audit::local_operator();
    for (pair, (action, reason)) in records.chunks(2).zip([
        ("stop", "testing stop"),
        ("start", "testing start"),
        ("restart", "testing restart"),
    ]) {
        let (intent, result) = (&pair[0], &pair[1]);
        assert_eq!(intent.result, AuditResult::Intent);
        assert_eq!(result.result, AuditResult::Ok);
        assert_eq!(intent.id, result.id);
        for record in pair {
            assert_eq!(record.action, action);
            assert_eq!(record.reason.as_deref(), Some(reason));
            assert_eq!(record.host, HOST);
            assert_eq!(record.target, name);
            assert_eq!(record.operator, operator);
            assert_eq!(record.error, None);
        }
    }
    assert_ne!(records[0].id, records[2].id);
}

#[tokio::test]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn a_read_only_core_refuses_and_the_container_is_untouched() {
    let socket = engine_socket(HOST);
    let docker = local_engine(&socket).await;
    let mut cleanup = Cleanup::new(&socket);
    let (id, name) = run_container(&docker, &mut cleanup, "ro", IDLE_SCRIPT, &[], &[]).await;
    let scratch = tempfile::tempdir().expect("tempdir");
    let audit_path = scratch.path().join("audit.log");
    let core = Core::new(true, AuditLog::new(&audit_path));
    let before = state(&docker, &id).await;

    assert!(matches!(
        core.propose(HOST, &id, &name, ContainerAction::Stop),
        Err(CoreError::ReadOnly { .. })
    ));
    for action in [
        ContainerAction::Stop,
        ContainerAction::Restart,
        ContainerAction::Start,
    ] {
        let confirmed = PendingAction::new(HOST, &id, &name, action).confirm();
        let result = core.container_action(&docker, confirmed).await;
        assert!(
            matches!(result, Err(CoreError::ReadOnly { .. })),
            "{result:?}"
        );
    }
    assert_eq!(state(&docker, &id).await, before, "same state, same start");
    let records = AuditLog::read(&audit_path).expect("audit log");
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.result == AuditResult::Refused));
}

#[tokio::test]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn the_inspect_pane_masks_secrets_of_a_real_container() {
    let socket = engine_socket(HOST);
    let docker = local_engine(&socket).await;
    let mut cleanup = Cleanup::new(&socket);
    let (id, name) = run_container(
        &docker,
        &mut cleanup,
        "inspect",
        IDLE_SCRIPT,
        &[
            "DB_PASSWORD=hunter2",
            "DATABASE_URL=postgres://app:hunter2@db:5432/app",
            "GREETING=\u{1b}]0;pwned\u{7}hello",
        ],
        &[("fleetdeck.note", "\u{1b}[2Jhi\u{202e}")],
    )
    .await;

    let view = inspect::inspect(&docker, &id, false)
        .await
        .expect("inspect");
    let value = |view: &inspect::InspectView, section: Section, key: &str| {
        view.section(section)
            .find(|r| r.key == key)
            .map(|r| r.value.clone())
            .unwrap_or_else(|| panic!("no {key}: {:#?}", view.rows))
    };
    assert_eq!(value(&view, Section::Container, "Name"), name);
    assert_eq!(value(&view, Section::Container, "Image"), IMAGE);
    assert!(value(&view, Section::Container, "State").starts_with("running"));
    assert_eq!(value(&view, Section::Env, "DB_PASSWORD"), MASK);
    assert_eq!(
        value(&view, Section::Env, "DATABASE_URL"),
        "postgres://app:••••••@db:5432/app"
    );
    assert_eq!(value(&view, Section::Env, "GREETING"), "hello");
    assert_eq!(
        value(&view, Section::Labels, "fleetdeck.note"),
        "hi\\u{202e}"
    );
    assert!(view.rows.iter().all(|r| !r.value.contains("hunter2")));

    let revealed = inspect::inspect(&docker, &id, true).await.expect("inspect");
    assert_eq!(value(&revealed, Section::Env, "DB_PASSWORD"), "hunter2");
}

fn ssh_context(lab_dir: &Path, own_known_hosts: &Path) -> Arc<ConnectContext> {
    let env = ResolveEnv::from_passwd().expect("passwd entry");
    let config =
        SshConfig::parse_file_with_env(&lab_dir.join("ssh_config"), env.clone()).expect("config");
    let mut ctx = ConnectContext::new(
        config,
        env,
        KeyStore::new(Arc::new(NeverAsk)),
        own_known_hosts.to_path_buf(),
    );
    // The agent of whoever runs the tests must not change what is being tested.
    ctx.agent_socket = None;
    Arc::new(ctx)
}

#[tokio::test]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn logs_follow_over_an_ssh_session() {
    let lab = common::lab();
    let socket = engine_socket(HOST);
    let local = local_engine(&socket).await;
    let mut cleanup = Cleanup::new(&socket);
    let (id, _) = run_container(&local, &mut cleanup, "ssh", HOSTILE_SCRIPT, &[], &[]).await;

    let scratch = tempfile::tempdir().expect("tempdir");
    let ctx = ssh_context(&lab.plan.dir, &scratch.path().join("own_known_hosts"));
    let resolved = ctx.resolve(&InventorySsh {
        name: HOST.to_owned(),
        ..InventorySsh::default()
    });
    let session = Session::connect(&ctx, &resolved, None)
        .await
        .unwrap_or_else(|e| panic!("connecting to {HOST}: {e}"));
    let remote = connect_negotiated(session.docker_socket(&socket.display().to_string()), 60)
        .await
        .expect("docker over ssh");

    let mut logs = logs::follow(&remote, &id, 1000, None);
    let mut buffer = LogBuffer::new(100, 1024 * 1024);
    read_until(&mut logs, &mut buffer, |b| {
        has_line(b, "after the long line") && has_line(b, "on stderr")
    })
    .await;
    assert!(has_line(&buffer, "screen kept"));
    assert!(has_line(&buffer, "title kept"));
    assert!(has_line(&buffer, "red kept"));
    assert_inert(&buffer);
    assert!(buffer.lines().all(|l| l.at.is_some()));

    // The followed stream holds its own channel: the same engine keeps answering
    // other requests meanwhile.
    let (status, _) = state(&remote, &id).await;
    assert_eq!(status, "running");
}
