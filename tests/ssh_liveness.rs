//! Liveness against a real sshd carrying a real Docker event stream: a killed sshd or a
//! host that goes silent is reported unreachable within ServerAliveInterval ×
//! ServerAliveCountMax, the link comes back within the backoff once sshd returns, and
//! the events of the gap are delivered once.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, EventMessage};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use common::client::{context_from_text, host_block, pub_of, resolve};
use common::sshd::{SshdOptions, TestSshd, public_key_line};
use fleetdeck::fleet::engine_events::{EngineAt, EngineUpdate, follow_engine};
use fleetdeck::ssh::auth::NeverAsk;
use fleetdeck::ssh::link::{Backoff, Link, LinkState, STABLE_AFTER};
use tokio::sync::{mpsc, watch};

const ALIVE_INTERVAL_SECS: u64 = 1;
const ALIVE_COUNT: u64 = 3;
/// Scheduling slack on a busy two-core machine; the deadline itself is the contract.
const SLACK: Duration = Duration::from_secs(2);

fn backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(2),
        stable_after: Duration::from_secs(60),
    }
}

async fn wait_for(
    states: &mut watch::Receiver<LinkState>,
    within: Duration,
    what: &str,
    want: impl Fn(&LinkState) -> bool,
) -> LinkState {
    let waited = tokio::time::timeout(within, states.wait_for(|s| want(s)))
        .await
        .map(|r| r.map(|state| state.clone()));
    match waited {
        Ok(Ok(state)) => state,
        _ => panic!("{what} not within {within:?}; now {:?}", *states.borrow()),
    }
}

/// Creates and removes a container named `name` on the engine, directly (not over SSH).
async fn churn(engine: &Docker, name: &str) {
    engine
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(name).build()),
            ContainerCreateBody {
                image: Some("fleetdeck-lab/app:1.0".to_owned()),
                cmd: Some(vec!["true".to_owned()]),
                ..ContainerCreateBody::default()
            },
        )
        .await
        .expect("create container");
    engine
        .remove_container(
            name,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
        .expect("remove container");
}

fn actions_for(events: &[EventMessage], name: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| {
            e.actor
                .as_ref()
                .and_then(|a| a.attributes.as_ref())
                .and_then(|a| a.get("name"))
                .is_some_and(|n| n == name)
        })
        .filter_map(|e| e.action.clone())
        .collect()
}

/// Drains updates until `name`'s destroy event arrives (or `within` passes).
async fn collect_until_destroyed(
    updates: &mut mpsc::Receiver<EngineUpdate>,
    events: &mut Vec<EventMessage>,
    name: &str,
    within: Duration,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !actions_for(events, name).iter().any(|a| a == "destroy") {
        match tokio::time::timeout_at(deadline, updates.recv()).await {
            Ok(Some(EngineUpdate::Event(event))) => events.push(*event),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the event feed ended"),
            Err(_) => panic!(
                "no destroy event for {name} within {within:?}; got {:?}",
                actions_for(events, name)
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the lab (scripts/test.sh)"]
async fn dead_host_is_reported_in_time_and_events_of_the_gap_arrive_once_it_is_back() {
    let lab = common::lab();
    let dir = tempfile::tempdir().expect("tempdir");
    let lab_key = lab.plan.dir.join("id_ed25519");
    let mut sshd = TestSshd::start(SshdOptions {
        authorized_keys: vec![public_key_line(&pub_of(&lab_key))],
        ..SshdOptions::default()
    });
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port(),
            sshd.host_public_key_line()
        ),
    )
    .expect("write");
    let config = host_block(
        "watched",
        sshd.port(),
        &known_hosts,
        &[
            &format!("IdentityFile {}", lab_key.display()),
            &format!("ServerAliveInterval {ALIVE_INTERVAL_SECS}"),
            &format!("ServerAliveCountMax {ALIVE_COUNT}"),
            "ConnectTimeout 3",
        ],
    );
    let ctx = context_from_text(dir.path(), &config, Arc::new(NeverAsk), None);
    let link = Link::spawn(ctx.clone(), resolve(&ctx, "watched"), None, backoff());
    let mut states = link.watch();

    // The lab's last engine, reached by this sshd through the shared filesystem.
    let engine_plan = lab.plan.engines.last().expect("an engine");
    let socket = engine_plan.socket.display().to_string();
    let engine = fleetdeck::docker::transport::connect_negotiated(
        Arc::new(fleetdeck::docker::transport::LocalSocket::new(
            &engine_plan.socket,
        )),
        30,
    )
    .await
    .expect("local engine");
    let (tx, mut updates) = mpsc::channel(1024);
    let feed = tokio::spawn(follow_engine(
        EngineAt::Remote {
            link: link.watch(),
            socket,
        },
        tx,
    ));

    wait_for(
        &mut states,
        Duration::from_secs(10),
        "first connection",
        |s| matches!(s, LinkState::Up { .. }),
    )
    .await;
    match tokio::time::timeout(Duration::from_secs(10), updates.recv()).await {
        Ok(Some(EngineUpdate::Following { resumed: false })) => {}
        Ok(Some(other)) => panic!("unexpected before following: {other:?}"),
        _ => panic!("the feed did not start"),
    }
    let tag = std::process::id();
    let mut events = Vec::new();
    let before = format!("fd-test-live-{tag}");
    churn(&engine, &before).await;
    collect_until_destroyed(&mut updates, &mut events, &before, Duration::from_secs(10)).await;

    // 1. sshd killed: the connection drops at once; reported well inside the deadline.
    let deadline = Duration::from_secs(ALIVE_INTERVAL_SECS * ALIVE_COUNT);
    let killed = Instant::now();
    sshd.kill();
    let down = wait_for(
        &mut states,
        deadline + SLACK,
        "unreachable after kill",
        |s| matches!(s, LinkState::Down { .. }),
    )
    .await;
    eprintln!("kill noticed after {:?}: {down:?}", killed.elapsed());

    // Events while the host is unreachable.
    let gap = format!("fd-test-gap-{tag}");
    churn(&engine, &gap).await;

    // 2. sshd back: up again within the backoff (plus a handshake).
    let restarted = Instant::now();
    sshd.restart();
    wait_for(
        &mut states,
        backoff().max + Duration::from_secs(3) + SLACK,
        "reconnect after restart",
        |s| matches!(s, LinkState::Up { .. }),
    )
    .await;
    eprintln!("back after {:?}", restarted.elapsed());
    collect_until_destroyed(&mut updates, &mut events, &gap, Duration::from_secs(10)).await;
    let gap_actions = actions_for(&events, &gap);
    assert_eq!(
        gap_actions.iter().filter(|a| *a == "create").count(),
        1,
        "{gap_actions:?}"
    );
    assert_eq!(
        gap_actions.iter().filter(|a| *a == "destroy").count(),
        1,
        "{gap_actions:?}"
    );
    let before_actions = actions_for(&events, &before);
    assert_eq!(
        before_actions.iter().filter(|a| *a == "create").count(),
        1,
        "nothing delivered before the gap is repeated: {before_actions:?}"
    );

    // 3. The host goes silent (processes frozen, TCP still open): only keepalives can
    //    tell, and they must within interval × count.
    let frozen = Instant::now();
    sshd.freeze_connections();
    let down = wait_for(
        &mut states,
        deadline + SLACK,
        "unreachable after freeze",
        |s| matches!(s, LinkState::Down { .. }),
    )
    .await;
    let noticed = frozen.elapsed();
    sshd.thaw_connections();
    eprintln!("silence noticed after {noticed:?}: {down:?}");
    let LinkState::Down { cause, .. } = down else {
        unreachable!()
    };
    assert!(cause.contains("keepalive"), "the cause is named: {cause}");
    assert!(
        noticed >= Duration::from_secs(ALIVE_INTERVAL_SECS),
        "{noticed:?}"
    );

    feed.abort();
}

/// Hosts that accept TCP but never speak SSH (a hung sshd) must not hold up a live
/// host, even when they outnumber the handshake permits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: runs sshd"]
async fn hosts_that_never_answer_do_not_delay_a_live_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("id_ed25519");
    common::sshd::keygen(&key, "", "client");
    let sshd = TestSshd::start(SshdOptions {
        authorized_keys: vec![public_key_line(&pub_of(&key))],
        ..SshdOptions::default()
    });
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port(),
            sshd.host_public_key_line()
        ),
    )
    .expect("write");
    // Listening sockets nobody accepts from: the kernel completes the TCP handshake,
    // then nothing is ever said.
    let silent: Vec<std::net::TcpListener> = (0..6)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let identity = format!("IdentityFile {}", key.display());
    let mut config = String::new();
    for (i, listener) in silent.iter().enumerate() {
        let port = listener.local_addr().expect("addr").port();
        config.push_str(&host_block(
            &format!("silent-{i}"),
            port,
            &known_hosts,
            &[&identity, "ConnectTimeout 20"],
        ));
    }
    config.push_str(&host_block(
        "live",
        sshd.port(),
        &known_hosts,
        &[&identity, "ConnectTimeout 20"],
    ));
    let ctx = Arc::new(
        common::client::unshared_context(dir.path(), &config, Arc::new(NeverAsk), None)
            .with_handshake_limit(2),
    );
    let silent_links: Vec<Link> = (0..silent.len())
        .map(|i| {
            Link::spawn(
                ctx.clone(),
                resolve(&ctx, &format!("silent-{i}")),
                None,
                backoff(),
            )
        })
        .collect();
    // Let the silent ones get going first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let live = Link::spawn(ctx.clone(), resolve(&ctx, "live"), None, backoff());
    let mut states = live.watch();
    wait_for(&mut states, Duration::from_secs(15), "the live host", |s| {
        matches!(s, LinkState::Up { .. })
    })
    .await;
    for (i, link) in silent_links.iter().enumerate() {
        assert!(
            matches!(link.state(), LinkState::Connecting { attempt: 1 }),
            "silent-{i} should still be waiting for its first answer: {:?}",
            link.state()
        );
    }
}

/// A frozen Docker engine, as a client meets one over SSH: its socket accepts (the
/// kernel does that for a stopped dockerd too) and nothing ever answers. The error
/// says which engine, at which socket over which session, what was asked and after how
/// long: not bollard's bare "Timeout error".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: runs sshd"]
async fn a_frozen_engine_over_ssh_is_named_with_socket_request_and_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("id_ed25519");
    common::sshd::keygen(&key, "", "client");
    let sshd = TestSshd::start(SshdOptions {
        authorized_keys: vec![public_key_line(&pub_of(&key))],
        ..SshdOptions::default()
    });
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port(),
            sshd.host_public_key_line()
        ),
    )
    .expect("write");
    let config = host_block(
        "frozen",
        sshd.port(),
        &known_hosts,
        &[&format!("IdentityFile {}", key.display())],
    );
    let ctx = context_from_text(dir.path(), &config, Arc::new(NeverAsk), None);
    let session = common::client::try_connect(&ctx, "frozen", None)
        .await
        .expect("connects");

    let socket = dir.path().join("docker.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    let path = socket.to_str().expect("utf-8 path");
    let error = fleetdeck::docker::transport::connect_negotiated(session.docker_socket(path), 2)
        .await
        .expect_err("a frozen engine does not answer");
    let text = error.to_string();
    assert_eq!(
        text,
        format!(
            "Docker engine at {}:{path}: no answer to GET /version within 2s",
            session.label()
        )
    );
    assert!(
        accepted.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the request reached the socket over SSH"
    );
}

/// The default reconnect policy against a real sshd: after a bad spell (the host down
/// long enough for the delay to grow) the link comes back, is useful for
/// `STABLE_AFTER`, then drops: the next attempt is planned within `initial` (1 s), not
/// after the grown delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root: runs sshd"]
async fn a_link_that_was_up_for_a_while_retries_within_a_second_after_a_bad_spell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("id_ed25519");
    common::sshd::keygen(&key, "", "client");
    let mut sshd = TestSshd::start(SshdOptions {
        authorized_keys: vec![public_key_line(&pub_of(&key))],
        ..SshdOptions::default()
    });
    let known_hosts = dir.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{} {}\n",
            sshd.port(),
            sshd.host_public_key_line()
        ),
    )
    .expect("write");
    let config = host_block(
        "flaky",
        sshd.port(),
        &known_hosts,
        &[
            &format!("IdentityFile {}", key.display()),
            "ConnectTimeout 3",
        ],
    );
    let ctx = context_from_text(dir.path(), &config, Arc::new(NeverAsk), None);
    let policy = Backoff::default();

    // A bad spell: the host refuses connections for four attempts (0.5-1, 1-2, 2-4 s
    // of waiting in between), so the next delay would be 4-8 s and the one after 8-16.
    sshd.kill();
    let link = Link::spawn(ctx.clone(), resolve(&ctx, "flaky"), None, policy);
    let mut states = link.watch();
    wait_for(
        &mut states,
        Duration::from_secs(30),
        "a fourth attempt",
        |s| matches!(s, LinkState::Connecting { attempt } if *attempt >= 4),
    )
    .await;
    sshd.restart();
    wait_for(
        &mut states,
        Duration::from_secs(30),
        "connected after the bad spell",
        |s| matches!(s, LinkState::Up { .. }),
    )
    .await;
    // Useful for as long as the rule asks (the scenario itself, not a wait for a
    // condition), then the connection drops.
    tokio::time::sleep(STABLE_AFTER + Duration::from_millis(500)).await;
    assert!(
        matches!(link.state(), LinkState::Up { .. }),
        "{:?}",
        link.state()
    );
    sshd.kill();
    let down = wait_for(
        &mut states,
        Duration::from_secs(10),
        "down after the drop",
        |s| matches!(s, LinkState::Down { .. }),
    )
    .await;
    let LinkState::Down { retry_at, .. } = down else {
        unreachable!("waited for Down");
    };
    let planned = retry_at.saturating_duration_since(tokio::time::Instant::now());
    assert!(
        planned <= policy.initial,
        "the next attempt is planned in {planned:?}, not within {:?}",
        policy.initial
    );
    sshd.restart();
    wait_for(
        &mut states,
        Duration::from_secs(30),
        "connected again",
        |s| matches!(s, LinkState::Up { .. }),
    )
    .await;
}
