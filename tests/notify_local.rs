//! The notification senders without a lab: retries, ordering per alert, a receiver
//! that never answers beside one that does, and URLs refused before anything starts.
//! The receivers are loopback webhook receivers run by the test.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::receiver::{Answer, Receiver};
use fleetdeck::alert::endpoint::Endpoint;
use fleetdeck::alert::webhook::Delivery;
use fleetdeck::alert::{Notifier, Receivers};
use fleetdeck::fleet::model::{Expectations, HostState};
use time::OffsetDateTime;

fn quick() -> Delivery {
    Delivery {
        attempts: 4,
        first_retry: Duration::from_millis(300),
        max_retry: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
    }
}

fn webhooks(urls: &[&str]) -> Receivers {
    Receivers {
        webhooks: urls
            .iter()
            .map(|u| Endpoint::parse("--notify", u).expect("a URL"))
            .collect(),
        alertmanagers: Vec::new(),
    }
}

/// A host not contacted yet: one `host` problem. `up` makes it answer (no problem).
fn host(up: bool) -> HostState {
    let mut h = HostState::new("web1", Vec::new(), Expectations::default());
    if up {
        h.reachable = Some(true);
        h.containers.set(Vec::new(), OffsetDateTime::now_utc());
    }
    h
}

fn statuses(receiver: &Receiver) -> Vec<(String, Answer)> {
    receiver
        .received()
        .iter()
        .map(|r| {
            (
                r.json()["status"].as_str().unwrap_or("").to_owned(),
                r.answer,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firing_overtaken_by_its_resolved_is_not_delivered_late() {
    let receiver = Receiver::scripted(&[Answer::Status(500)]);
    let mut notifier = Notifier::start(Duration::ZERO, &webhooks(&[&receiver.url]), quick())
        .await
        .expect("started");
    let now = OffsetDateTime::now_utc();
    assert_eq!(notifier.observe(&[host(false)], now).len(), 1);
    let wait = |n| {
        let receiver = &receiver;
        tokio::task::block_in_place(move || receiver.wait_for(n, Duration::from_secs(10)))
    };
    assert_eq!(wait(1)[0].answer, Answer::Status(500));
    // Resolved before the retry: neither the stale firing nor a resolved of an alert
    // the receiver never heard of is sent.
    assert_eq!(notifier.observe(&[host(true)], now).len(), 1);
    // A new episode goes through, firing then resolved, in order.
    notifier.observe(&[host(false)], now);
    notifier.observe(&[host(true)], now);
    let got = wait(3);
    assert_eq!(
        statuses(&receiver),
        [
            ("firing".to_owned(), Answer::Status(500)),
            ("firing".to_owned(), Answer::Status(200)),
            ("resolved".to_owned(), Answer::Status(200)),
        ],
        "{got:?}"
    );
    // The counters move once the sender has read the answers.
    let counters = &notifier.receivers()[0].counters;
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(&counters.delivered) < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count(&counters.delivered), 2);
    assert_eq!(
        count(&counters.superseded),
        2,
        "the stale firing and its resolved"
    );
    assert_eq!(count(&counters.failed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_holds_up_neither_the_caller_nor_another() {
    let hanging = Receiver::scripted(&[Answer::Hang; 16]);
    let fine = Receiver::start();
    let mut notifier = Notifier::start(
        Duration::ZERO,
        &webhooks(&[&hanging.url, &fine.url]),
        quick(),
    )
    .await
    .expect("started");
    let now = OffsetDateTime::now_utc();
    let mut hosts = Vec::new();
    for n in 0..5 {
        hosts.push(HostState::new(
            &format!("h{n}"),
            Vec::new(),
            Expectations::default(),
        ));
    }
    let started = Instant::now();
    assert_eq!(notifier.observe(&hosts, now).len(), 5);
    for round in 0..100 {
        let mut up = hosts.clone();
        if round % 2 == 0 {
            for h in &mut up {
                h.reachable = Some(true);
                h.containers.set(Vec::new(), now);
            }
        }
        notifier.observe(&up, now);
    }
    let handed = started.elapsed();
    assert!(
        handed < Duration::from_millis(500),
        "observe waited: {handed:?}"
    );
    let got = tokio::task::block_in_place(|| fine.wait_for(5, Duration::from_secs(5)));
    assert!(got.len() >= 5, "{got:?}");
    let first = got[0].at.saturating_duration_since(started);
    assert!(
        first < Duration::from_secs(1),
        "the other receiver waited: {first:?}"
    );
    assert!(
        !hanging.received().is_empty(),
        "the hanging one was posted to"
    );
}

#[test]
fn bad_receiver_urls_are_refused_before_anything_starts_without_their_secret() {
    for (args, flag) in [
        (
            vec!["--notify", "ftp://bot:T0KEN@chat.example/T0KEN"],
            "--notify",
        ),
        (
            vec!["--alertmanager", "am.example:9093/T0KEN"],
            "--alertmanager",
        ),
    ] {
        let out = Command::new(common::bin())
            .args(["watch", "--json"])
            .args(&args)
            .env("FLEETDECK_INVENTORY", "/nonexistent/inventory.yml")
            .output()
            .expect("fleetdeck watch");
        let stderr = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(flag), "{stderr}");
        assert!(!stderr.contains("T0KEN"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = Command::new(common::bin())
        .args([
            "watch",
            "--json",
            "--notify",
            "http://r/",
            "--notify-hold",
            "soon",
        ])
        .output()
        .expect("fleetdeck watch");
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("not a duration"));
}
