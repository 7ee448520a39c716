//! The shipped Alertmanager example (contrib/alertmanager/alertmanager.yml) in a real
//! Alertmanager: while `FleetdeckHostInMaintenance` fires for a host, that host's other
//! alerts are inhibited and nothing of it reaches the webhook, while another host's
//! alerts are delivered; a host that is down mutes its container and backup alerts.
//! Only the webhook's address and the grouping delays are changed for the test.

mod common;

use std::time::Duration;

use common::http::{Alertmanager, poll};
use common::receiver::{Received, Receiver};
use serde_json::{Value, json};

const EXAMPLE: &str = include_str!("../contrib/alertmanager/alertmanager.yml");

fn alert(name: &str, host: &str, extra: &[(&str, &str)]) -> Value {
    let mut labels = json!({"alertname": name, "host": host, "job": "fleetdeck"});
    for (k, v) in extra {
        labels[*k] = json!(v);
    }
    json!({"labels": labels, "annotations": {"summary": format!("{name} on {host}")}})
}

/// The alert of `name` for `host` in Alertmanager's list.
fn find<'a>(alerts: &'a [Value], name: &str, host: &str) -> Option<&'a Value> {
    alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == name && a["labels"]["host"] == host)
}

fn delivered(received: &[Received], name: &str, host: &str) -> bool {
    received.iter().any(|r| {
        serde_json::from_str::<Value>(&r.body)
            .ok()
            .and_then(|body| body["alerts"].as_array().cloned())
            .is_some_and(|alerts| find(&alerts, name, host).is_some())
    })
}

#[test]
fn the_example_mutes_a_host_in_maintenance_and_delivers_the_others() {
    let receiver = Receiver::start();
    let mut config = EXAMPLE.to_owned();
    for (from, to) in [
        (
            "url: \"http://127.0.0.1:9095/alertmanager\"",
            format!("url: {:?}", receiver.url),
        ),
        ("group_wait: 30s", "group_wait: 1s".to_owned()),
        ("group_interval: 5m", "group_interval: 1s".to_owned()),
    ] {
        assert!(config.contains(from), "the example has {from}");
        config = config.replace(from, &to);
    }
    let alertmanager = Alertmanager::start(&config);

    // The silencing alerts first, so that they are in place when the others arrive.
    let post = |alerts: Value| alertmanager.post(&alerts);
    post(json!([
        alert(
            "FleetdeckHostInMaintenance",
            "web1",
            &[("severity", "none")]
        ),
        alert("FleetdeckHostDown", "web3", &[("severity", "critical")]),
    ]));
    let listed = || alertmanager.alerts();
    poll(
        "the silencing alerts listed",
        Duration::from_secs(30),
        || {
            let alerts = listed();
            if alerts.len() >= 2 {
                Ok(())
            } else {
                Err(format!("{alerts:?}"))
            }
        },
    );
    let unhealthy = [("severity", "critical"), ("container", "worker")];
    post(json!([
        alert("FleetdeckContainerUnhealthy", "web1", &unhealthy),
        alert("FleetdeckContainerUnhealthy", "web2", &unhealthy),
        alert(
            "FleetdeckBackupTooOld",
            "web3",
            &[("severity", "critical"), ("repo", "app-data")]
        ),
    ]));

    // Another host's alert reaches the webhook.
    let received = receiver.wait_until(Duration::from_secs(30), |r| {
        delivered(r, "FleetdeckContainerUnhealthy", "web2")
            && delivered(r, "FleetdeckHostDown", "web3")
    });
    assert!(delivered(&received, "FleetdeckContainerUnhealthy", "web2"));
    assert!(delivered(&received, "FleetdeckHostDown", "web3"));

    // The host in maintenance has its alert inhibited by the maintenance alert, and
    // the host that is down its backup alert; neither they nor the maintenance alert
    // itself were sent.
    let alerts = listed();
    let state = |name: &str, host: &str| {
        find(&alerts, name, host)
            .unwrap_or_else(|| panic!("{name} for {host} in {alerts:?}"))["status"]
            .clone()
    };
    let muted = state("FleetdeckContainerUnhealthy", "web1");
    assert_eq!(muted["state"], "suppressed", "{muted}");
    assert_eq!(
        muted["inhibitedBy"].as_array().map(Vec::len),
        Some(1),
        "{muted}"
    );
    let backup = state("FleetdeckBackupTooOld", "web3");
    assert_eq!(backup["state"], "suppressed", "{backup}");
    assert_eq!(
        state("FleetdeckContainerUnhealthy", "web2")["state"],
        "active"
    );
    let received = receiver.received();
    for (name, host) in [
        ("FleetdeckContainerUnhealthy", "web1"),
        ("FleetdeckBackupTooOld", "web3"),
        ("FleetdeckHostInMaintenance", "web1"),
    ] {
        assert!(
            !delivered(&received, name, host),
            "{name} for {host} was sent"
        );
    }
}
