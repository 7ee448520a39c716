//! `watch --notify` and `--alertmanager` against the lab (docs/notify.md): a stopped
//! container is one firing POST after the hold and one resolved POST when it runs
//! again; a receiver that fails first gets the alert once it is back; a receiver that
//! never answers does not hold up watch's lines; a real Alertmanager shows the alert,
//! delivers it, and lets it go when it resolves.
//!
//! A host in maintenance sends nothing while its window lasts, `serve` and `status`
//! say so, and when it ends by itself what is still wrong fires once.
//!
//! Each test works on a container of its own (on client-delta; the maintenance test
//! on client-gamma, which plants nothing), one no other test touches, and removes it
//! however the test ends.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver as Lines, channel};
use std::time::{Duration, Instant};

use common::http::{Alertmanager, Running, free_port, http_get, poll};
use common::lab_container::{LOOP, TestContainer};
use common::receiver::{Answer, Received, Receiver};
use common::{bin, lab, maintenance_lock, stderr, stdout};
use fleetdeck::lab::state::LabState;
use serde_json::Value;

const HOST: &str = "client-delta";

/// A running `watch --json` with its lines read on a thread; killed on drop.
struct Watch {
    child: Child,
    lines: Lines<(Instant, Value)>,
    started: Instant,
}

impl Watch {
    fn start(state: &LabState, limit: Option<&str>, extra: &[&str]) -> Watch {
        let mut command = Command::new(bin());
        command.args(["watch", "--json"]);
        if let Some(limit) = limit {
            command.args(["--limit", limit]);
        }
        let started = Instant::now();
        let mut child = command
            .arg("-i")
            .arg(state.plan.dir.join("inventory.yml"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("fleetdeck watch");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line)
                    && tx.send((Instant::now(), value)).is_err()
                {
                    return;
                }
            }
        });
        Watch {
            child,
            lines,
            started,
        }
    }

    /// The next line that `want` accepts, within `timeout`.
    fn until(&self, timeout: Duration, want: impl Fn(&Value) -> bool) -> (Instant, Value) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, line) = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no matching line from watch within {timeout:?}: {e}"));
            if want(&line) {
                return (at, line);
            }
        }
    }

    /// When each of `hosts` printed its first line, after the start.
    fn first_lines(&self, hosts: &[&str], timeout: Duration) -> Vec<Duration> {
        let mut seen: Vec<Option<Duration>> = vec![None; hosts.len()];
        let deadline = Instant::now() + timeout;
        while seen.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, line) = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("first lines {seen:?} within {timeout:?}: {e}"));
            if let Some(i) = hosts.iter().position(|h| line["host"]["name"] == *h) {
                seen[i].get_or_insert(at - self.started);
            }
        }
        seen.into_iter().flatten().collect()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn container_state(line: &Value, name: &str) -> Option<String> {
    line["host"]["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["state"].as_str().map(str::to_owned))
}

/// The POSTs about container `name`, as (status, answer).
fn about<'a>(received: &'a [Received], name: &str) -> Vec<(String, Answer, &'a Received)> {
    received
        .iter()
        .filter_map(|r| {
            let body = r.json();
            (body["signal"] == "containers" && body["subject"] == name).then(|| {
                (
                    body["status"].as_str().unwrap_or("").to_owned(),
                    r.answer,
                    r,
                )
            })
        })
        .collect()
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_stopped_container_is_one_firing_then_one_resolved() {
    let state = lab();
    let container = TestContainer::start(&state, HOST, "notify-stop", LOOP);
    let name = container.name.clone();
    let receiver = Receiver::start();
    let watch = Watch::start(
        &state,
        Some(HOST),
        &["--notify", &receiver.url, "--notify-hold", "5s"],
    );
    watch.until(Duration::from_secs(30), |l| {
        container_state(l, &name).as_deref() == Some("running")
    });

    let killed = Instant::now();
    container.docker("kill");
    let got = receiver.wait_until(Duration::from_secs(20), |r| !about(r, &name).is_empty());
    let firing = about(&got, &name);
    assert_eq!(firing.len(), 1, "{firing:?}");
    let (status, _, post) = &firing[0];
    assert_eq!(status, "firing");
    let after = post.at - killed;
    eprintln!("firing POST {after:?} after the kill (hold 5s)");
    assert!(
        after >= Duration::from_millis(4500),
        "fired before the hold: {after:?}"
    );
    assert!(
        after < Duration::from_secs(15),
        "hold + a round exceeded: {after:?}"
    );
    let body = post.json();
    assert_eq!(body["host"], HOST);
    assert_eq!(body["severity"], "critical");
    assert_eq!(body["resolved_at"], Value::Null);
    assert!(
        body["summary"].as_str().is_some_and(|s| s.contains("137")),
        "{body}"
    );
    let fingerprint = body["fingerprint"].clone();

    container.docker("start");
    let got = receiver.wait_until(Duration::from_secs(20), |r| about(r, &name).len() >= 2);
    let posts = about(&got, &name);
    assert_eq!(
        posts.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["firing", "resolved"]
    );
    let resolved = posts[1].2.json();
    assert_eq!(resolved["fingerprint"], fingerprint);
    assert_eq!(resolved["started_at"], body["started_at"]);
    assert!(resolved["resolved_at"].is_string(), "{resolved}");
    // Rounds go on; nothing more is said about it.
    let more = receiver.wait_until(Duration::from_secs(4), |r| about(r, &name).len() > 2);
    assert_eq!(about(&more, &name).len(), 2, "one firing, one resolved");
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_receiver_that_fails_first_gets_the_alert_once_it_is_back() {
    let state = lab();
    // The first POST is answered 500, every later one 200. The hold outlasts the
    // signals' first measurements, so what fires first is one of the host's lasting
    // problems (its planted pending reboot, at least).
    let receiver = Receiver::scripted(&[Answer::Status(500)]);
    let _watch = Watch::start(
        &state,
        Some(HOST),
        &["--notify", &receiver.url, "--notify-hold", "10s"],
    );
    let first = receiver.wait_for(1, Duration::from_secs(40));
    assert_eq!(first[0].answer, Answer::Status(500), "{first:?}");
    assert_eq!(first[0].json()["status"], "firing");
    let failed = first[0].json()["fingerprint"].clone();
    let delivered = |r: &[Received]| {
        r.iter()
            .filter(|p| p.json()["fingerprint"] == failed && p.answer == Answer::Status(200))
            .count()
    };
    let got = receiver.wait_until(Duration::from_secs(10), |r| delivered(r) >= 1);
    assert_eq!(delivered(&got), 1, "{got:?}");
    let retried = got
        .iter()
        .find(|p| p.json()["fingerprint"] == failed && p.answer == Answer::Status(200))
        .expect("retried");
    assert_eq!(retried.body, first[0].body, "the same alert, again");
    eprintln!("delivered {:?} after the 500", retried.at - first[0].at);
    let settled = receiver.wait_until(Duration::from_secs(3), |r| delivered(r) > 1);
    assert_eq!(delivered(&settled), 1, "delivered exactly once");
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_receiver_that_never_answers_does_not_hold_up_the_lines() {
    let state = lab();
    let hosts: Vec<&str> = state.plan.hosts.iter().map(|h| h.name.as_str()).collect();
    let container = TestContainer::start(&state, HOST, "notify-hang", LOOP);
    let name = container.name.clone();

    let baseline = {
        let watch = Watch::start(&state, None, &[]);
        watch.first_lines(&hosts, Duration::from_secs(60))
    };
    let hanging = Receiver::scripted(&[Answer::Hang; 64]);
    let watch = Watch::start(
        &state,
        None,
        &["--notify", &hanging.url, "--notify-hold", "0s"],
    );
    let with_hang = watch.first_lines(&hosts, Duration::from_secs(60));
    let slowest = |times: &[Duration]| times.iter().max().copied().unwrap_or_default();
    eprintln!(
        "first line per host: without a receiver {baseline:?}, with one that hangs {with_hang:?}"
    );
    let hung = hanging.wait_for(1, Duration::from_secs(10));
    assert!(!hung.is_empty(), "the receiver was posted to");
    assert!(
        slowest(&with_hang) <= slowest(&baseline) + Duration::from_secs(2),
        "first lines {with_hang:?} against {baseline:?}"
    );

    // A change after the hang started still prints at once.
    watch.until(Duration::from_secs(30), |l| {
        container_state(l, &name).as_deref() == Some("running")
    });
    assert!(
        hanging.received().iter().all(|r| r.answer == Answer::Hang),
        "nothing was ever answered"
    );
    let killed = Instant::now();
    container.docker("kill");
    let (seen, _) = watch.until(Duration::from_secs(10), |l| {
        container_state(l, &name).as_deref() == Some("exited")
    });
    let delay = seen - killed;
    eprintln!("the stopped container printed {delay:?} after the kill");
    assert!(delay < Duration::from_secs(2), "{delay:?}");
}

/// A real Alertmanager on a free port, routing everything to `hook`; killed on drop.
#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn alertmanager_shows_delivers_and_ends_the_alert() {
    let state = lab();
    let container = TestContainer::start(&state, HOST, "notify-am", LOOP);
    let name = container.name.clone();
    let hook = Receiver::start();
    let am = Alertmanager::start(&Alertmanager::routing_to(
        &hook.url,
        "alertname, host, subject",
        true,
    ));
    let watch = Watch::start(
        &state,
        Some(HOST),
        &[
            "--alertmanager",
            &format!("http://127.0.0.1:{}", am.port),
            "--notify-hold",
            "2s",
        ],
    );
    watch.until(Duration::from_secs(30), |l| {
        container_state(l, &name).as_deref() == Some("running")
    });
    let ours = |alerts: &[Value]| -> Option<Value> {
        alerts
            .iter()
            .find(|a| a["labels"]["subject"] == name.as_str())
            .cloned()
    };
    container.docker("kill");
    let deadline = Instant::now() + Duration::from_secs(20);
    let alert = loop {
        if let Some(alert) = ours(&am.alerts()) {
            break alert;
        }
        assert!(
            Instant::now() < deadline,
            "the alert in Alertmanager: {:?}",
            am.alerts()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let labels = &alert["labels"];
    assert_eq!(labels["alertname"], "FleetdeckContainers", "{alert}");
    assert_eq!(labels["host"], HOST);
    assert_eq!(labels["signal"], "containers");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["source"], "fleetdeck");
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&name)),
        "{alert}"
    );
    assert_eq!(alert["status"]["state"], "active", "{alert}");

    // Alertmanager delivers it to its webhook receiver.
    let name_ = name.as_str();
    let notified = |status: &'static str| {
        move |r: &[Received]| {
            r.iter().any(|p| {
                let body = p.json();
                body["status"] == status
                    && body["alerts"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|a| a["labels"]["subject"] == name_))
            })
        }
    };
    let got = hook.wait_until(Duration::from_secs(20), notified("firing"));
    assert!(
        notified("firing")(&got),
        "delivered by Alertmanager: {got:?}"
    );

    container.docker("start");
    let deadline = Instant::now() + Duration::from_secs(20);
    while ours(&am.alerts()).is_some() {
        assert!(
            Instant::now() < deadline,
            "the alert gone: {:?}",
            am.alerts()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = hook.wait_until(Duration::from_secs(20), notified("resolved"));
    assert!(
        notified("resolved")(&got),
        "resolved by Alertmanager: {got:?}"
    );
}

/// The maintenance test's host: no planted problem, so what fires is the test's own.
const QUIET_HOST: &str = "client-gamma";

/// `fleetdeck maintenance …` as another instance would run it: its own state and
/// configuration directories.
fn maintenance(state: &LabState, home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .arg("-i")
        .arg(state.plan.dir.join("inventory.yml"))
        .arg("maintenance")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("fleetdeck maintenance")
}

/// Ends the quiet host's window however the test ends.
struct EndWindow<'a>(&'a LabState, &'a Path);

impl Drop for EndWindow<'_> {
    fn drop(&mut self) {
        let out = maintenance(self.0, self.1, &["end", QUIET_HOST]);
        if !out.status.success() {
            eprintln!("ending {QUIET_HOST}'s window: {}", stderr(&out));
        }
    }
}

/// The value of `fleetdeck_host_maintenance` for the quiet host in one scrape.
fn maintenance_metric(port: u16) -> Result<String, String> {
    let (status, body) = http_get(port, "/metrics").ok_or("no answer")?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    let series = format!("fleetdeck_host_maintenance{{host=\"{QUIET_HOST}\"}} ");
    body.lines()
        .find_map(|line| line.strip_prefix(&series).map(str::to_owned))
        .ok_or_else(|| format!("no {series}in the scrape"))
}

/// `status` on the quiet host: its exit code and its table.
fn quiet_status(state: &LabState) -> (Option<i32>, String) {
    let out = Command::new(bin())
        .arg("-i")
        .arg(state.plan.dir.join("inventory.yml"))
        .args(["status", "--limit", QUIET_HOST])
        .stdin(Stdio::null())
        .output()
        .expect("fleetdeck status");
    (out.status.code(), stdout(&out))
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_host_in_maintenance_sends_nothing_until_its_window_ends_by_itself() {
    let state = lab();
    let _one_window_at_a_time = maintenance_lock(&state, QUIET_HOST);
    let home = tempfile::tempdir().expect("tempdir");
    let container = TestContainer::start(&state, QUIET_HOST, "notify-maint", LOOP);
    let name = container.name.clone();
    let _end = EndWindow(&state, home.path());
    // Long enough for watch and serve to start, the container to be killed and the
    // hold to pass inside the window; short enough to wait for its end.
    let out = maintenance(
        &state,
        home.path(),
        &[
            "start",
            QUIET_HOST,
            "--for",
            "30s",
            "--reason",
            "notify test",
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let receiver = Receiver::start();
    let watch = Watch::start(
        &state,
        Some(QUIET_HOST),
        &["--notify", &receiver.url, "--notify-hold", "3s"],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut serve = Running::spawn(
        "fleetdeck serve",
        Command::new(bin())
            .arg("-i")
            .arg(state.plan.dir.join("inventory.yml"))
            .args(["--limit", QUIET_HOST])
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")]),
        &dir.path().join("serve.log"),
    );
    serve.wait_ready(port, "/healthz");

    // Another instance's window, read from the host: watch shows it.
    let (_, line) = watch.until(Duration::from_secs(40), |l| {
        l["host"]["maintenance"].is_object()
            && container_state(l, &name).as_deref() == Some("running")
    });
    let until = line["host"]["maintenance"]["until"]
        .as_str()
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .expect("the window's end");
    let left = until - time::OffsetDateTime::now_utc();
    let ends = Instant::now() + Duration::try_from(left).expect("the window is still open");
    assert!(
        ends > Instant::now() + Duration::from_secs(8),
        "too little of the window left to test it: {left}"
    );
    let silenced = poll("serve exposes the window", Duration::from_secs(30), || {
        maintenance_metric(port).and_then(|v| if v == "1" { Ok(v) } else { Err(v) })
    });
    assert_eq!(silenced, "1");

    container.docker("kill");
    watch.until(Duration::from_secs(20), |l| {
        container_state(l, &name).as_deref() == Some("exited")
    });
    // status counts nothing of the host while the window lasts, and lists the
    // problem as silenced.
    let (code, table) = quiet_status(&state);
    assert!(
        Instant::now() < ends,
        "status took the rest of the window; nothing below would test it"
    );
    assert_eq!(code, Some(0), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains(&name) && l.ends_with("(silenced)")),
        "{table}"
    );

    // Nothing at all is sent for the host while the window lasts, though the hold
    // (3 s) passes inside it.
    let during = receiver.wait_until(ends.saturating_duration_since(Instant::now()), |r| {
        !r.is_empty()
    });
    assert!(during.is_empty(), "sent during the window: {during:?}");

    // It ends by itself: the container, still dead, fires once after the hold.
    let got = receiver.wait_until(Duration::from_secs(20), |r| !about(r, &name).is_empty());
    let posts = about(&got, &name);
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].0, "firing");
    let after = posts[0].2.at.saturating_duration_since(ends);
    eprintln!("firing POST {after:?} after the window's end (hold 3s)");
    assert!(
        posts[0].2.at >= ends + Duration::from_millis(2500),
        "fired before the hold after the window: {after:?}"
    );
    let more = receiver.wait_until(Duration::from_secs(3), |r| about(r, &name).len() > 1);
    assert_eq!(
        about(&more, &name).len(),
        1,
        "one notification, not one per round"
    );

    poll(
        "serve says the window ended",
        Duration::from_secs(20),
        || maintenance_metric(port).and_then(|v| if v == "0" { Ok(v) } else { Err(v) }),
    );
    let (code, table) = quiet_status(&state);
    assert_eq!(code, Some(2), "the killed container counts again: {table}");
}
