//! `fleetdeck watch --json`: the fleet followed, one JSON line per change of a host;
//! with `--notify`/`--alertmanager`, alerts sent as problems start and end
//! (docs/notify.md).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::Result;
use time::OffsetDateTime;

use super::Context;
use super::ending::{ExitCodeOf, NOTHING_DONE};
use crate::alert::endpoint::Endpoint;
use crate::alert::webhook::Delivery;
use crate::alert::{DEFAULT_HOLD, Notifier, Receivers};
use crate::cli::WatchArgs;
use crate::fleet::model::HostState;
use crate::fleet::timeline::entries;
use crate::probes::Severity;

/// How often the alerts are looked at without a new event, so that holds end and
/// maintenance windows expire on time.
const ALERT_TICK: Duration = Duration::from_secs(1);

/// Runs `watch`. Receivers' URLs are checked before anything starts: a bad one is
/// exit 2 with nothing watched or sent.
pub async fn run(ctx: &Context, args: &WatchArgs) -> Result<ExitCode> {
    let receivers = match receivers(args) {
        Ok(receivers) => receivers,
        Err(message) => {
            eprintln!("fleetdeck: {message}");
            return Ok(ExitCode::from(NOTHING_DONE));
        }
    };
    let hold = args.notify_hold.unwrap_or(DEFAULT_HOLD);
    Ok(ExitCode::from(watch(ctx, &receivers, hold).await))
}

/// `--notify` and `--alertmanager`, checked.
fn receivers(args: &WatchArgs) -> Result<Receivers, String> {
    let parse = |flag: &str, urls: &[String]| -> Result<Vec<Endpoint>, String> {
        urls.iter().map(|url| Endpoint::parse(flag, url)).collect()
    };
    let receivers = Receivers {
        webhooks: parse("--notify", &args.notify)?,
        alertmanagers: parse("--alertmanager", &args.alertmanager)?,
    };
    if receivers.is_empty() && args.notify_hold.is_some() {
        return Err("--notify-hold: nothing to notify (add --notify or --alertmanager)".into());
    }
    Ok(receivers)
}

/// Runs `watch --json`: one actor per host; after each change to a host, one JSON line
/// `{"time": …, "host": {…}}` with the host as `status --json` shows it. Changes in
/// ages alone (a clock ticking) are not changes. Without an inventory it watches this
/// machine's own engine, as `status` and the console do. Runs until interrupted.
async fn watch(ctx: &Context, receivers: &Receivers, hold: Duration) -> u8 {
    let unknown = Severity::Unknown.exit_code();
    // The senders run in tasks of their own: the loop below only hands them what to
    // send, so no receiver can hold up the lines.
    let mut notifier = None;
    if !receivers.is_empty() {
        match Notifier::start(hold, receivers, Delivery::default()).await {
            Ok(started) => {
                for receiver in started.receivers() {
                    eprintln!(
                        "fleetdeck: sending alerts to {} (hold {})",
                        receiver.endpoint,
                        crate::util::time::age_text(hold.as_secs().try_into().unwrap_or(i64::MAX))
                    );
                }
                notifier = Some(started);
            }
            Err(message) => {
                eprintln!("fleetdeck: {message}");
                return unknown;
            }
        }
    }
    // Dropping it stops the actors: it lives as long as the loop.
    let mut following = match super::follow::start(ctx).await {
        Ok(following) => following,
        Err(message) => {
            if let Some(message) = message {
                eprintln!("fleetdeck: {message}");
            }
            return unknown;
        }
    };
    let mut hosts = std::mem::take(&mut following.hosts);
    let history = super::history::start_writer(
        hosts.iter().map(|h| h.name.clone()).collect(),
        ctx.history_retention_days,
    )
    .await;
    let rx = &mut following.events;
    let mut printed: Vec<Option<serde_json::Value>> = vec![None; hosts.len()];
    let mut out = std::io::stdout();
    let mut tick = tokio::time::interval(ALERT_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let received = match notifier {
            Some(_) => tokio::select! {
                received = rx.recv() => Some(received),
                _ = tick.tick() => None,
            },
            None => Some(rx.recv().await),
        };
        if let Some(received) = received {
            let Some((index, event)) = received else {
                return unknown;
            };
            let mut touched = vec![index];
            let mut recorded = Vec::new();
            let changes = hosts[index].apply(event);
            let now = OffsetDateTime::now_utc();
            recorded.extend(entries(&hosts[index].name, changes, now));
            // Drain whatever else is already waiting, then print once per changed host.
            while let Ok((index, event)) = rx.try_recv() {
                let changes = hosts[index].apply(event);
                recorded.extend(entries(&hosts[index].name, changes, now));
                touched.push(index);
            }
            if let Some(history) = &history {
                history.record(recorded);
            }
            if !print_changes(&hosts, touched, &mut printed, &mut out) {
                // The reader went away (a closed pipe): stop quietly.
                return 0;
            }
        }
        if let Some(notifier) = notifier.as_mut() {
            // Queued for the senders; never waits for a receiver.
            notifier.observe(&hosts, OffsetDateTime::now_utc());
        }
    }
}

/// One line per host in `touched` whose JSON changed; false when stdout is gone.
fn print_changes(
    hosts: &[HostState],
    mut touched: Vec<usize>,
    printed: &mut [Option<serde_json::Value>],
    out: &mut std::io::Stdout,
) -> bool {
    touched.sort_unstable();
    touched.dedup();
    let now = OffsetDateTime::now_utc();
    for index in touched {
        // Nothing is said about a host before its first connection attempt ends:
        // "reachable": false would be a guess.
        if hosts[index].reachable.is_none() {
            continue;
        }
        let Ok(value) = serde_json::to_value(hosts[index].to_json(now)) else {
            continue;
        };
        let comparable = without_clock(value.clone());
        if printed[index].as_ref() == Some(&comparable) {
            continue;
        }
        printed[index] = Some(comparable);
        let line = serde_json::json!({ "time": crate::util::time::rfc3339(now), "host": value });
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return false;
        }
    }
    true
}

/// The host JSON without the fields that move with the clock alone, so that only real
/// changes print a line. The resources' readings (bytes in use, load, memory, Docker's
/// disk use) move with every round; what they mean — each filesystem's severity, the
/// findings, the signal's severity — is compared instead.
fn without_clock(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(resources) = value
        .get_mut("resources")
        .and_then(serde_json::Value::as_object_mut)
    {
        for readings in ["memory", "load", "docker_disk"] {
            resources.remove(readings);
        }
        if let Some(filesystems) = resources
            .get_mut("filesystems")
            .and_then(serde_json::Value::as_array_mut)
        {
            for filesystem in filesystems.iter_mut().filter_map(|f| f.as_object_mut()) {
                filesystem.retain(|key, _| matches!(key.as_str(), "mount" | "severity"));
            }
        }
    }
    const CLOCK: &[&str] = &[
        // A round trip varies with every ping; its value is current in each line
        // printed, but its jitter alone is not news.
        "rtt_ms",
        "age_seconds",
        "uptime_seconds",
        "measured_at",
        "last_contact",
        "checked_at",
    ];
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|key, _| !CLOCK.contains(&key.as_str()));
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(load1: f64, used_bytes: u64, findings: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "name": "web1",
            "resources": {
                "severity": "ok",
                "measured_at": "2027-01-01T10:00:00Z",
                "filesystems": [{"mount": "/", "used_bytes": used_bytes, "used_percent": 41, "severity": "ok"}],
                "memory": {"available_bytes": used_bytes},
                "load": {"load1": load1, "cpus": 2},
                "docker_disk": {"reclaimable_bytes": used_bytes},
                "uptime_seconds": 600,
                "findings": [],
            },
            "posture": {"severity": "ok", "measured_at": "2027-01-01T10:00:00Z", "findings": findings},
        })
    }

    #[test]
    fn resource_readings_moving_are_no_change_and_a_finding_is() {
        let quiet = without_clock(host(0.3, 1 << 30, serde_json::json!([])));
        assert_eq!(
            quiet,
            without_clock(host(1.7, 2 << 30, serde_json::json!([]))),
            "load and bytes in use move every round"
        );
        let finding = serde_json::json!([{"check": "docker_socket", "container": "rogue", "severity": "critical"}]);
        assert_ne!(quiet, without_clock(host(0.3, 1 << 30, finding)));
    }
}
