//! `fleetdeck serve` against the lab, scraped by a real Prometheus that evaluates the
//! shipped rules and alerts a real Alertmanager, which delivers to a webhook receiver
//! on loopback: the lab's planted problems show in Prometheus's query API, the rules'
//! alerts fire for them (and for nothing healthy), and Alertmanager delivers them.
//! Hostile label values from a host reach Prometheus intact and the scrape stays up.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::http::{Alertmanager, Running, free_port, http_get, poll};
use common::receiver::Receiver;
use common::{bin, lab, lab_docker, stderr};
use fleetdeck::lab::state::LabState;
use serde_json::Value;

/// One stack (serve, Prometheus, Alertmanager) at a time: each costs a core for a while.
static SERIAL: Mutex<()> = Mutex::new(());

const RULES: &str = include_str!("../contrib/prometheus/fleetdeck-rules.yml");

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `fleetdeck serve` on the lab, a Prometheus scraping it every 2 s with the shipped
/// rules, alerting an Alertmanager that sends everything to `receiver`.
struct Stack {
    serve_port: u16,
    prometheus_port: u16,
    // Dropped in this order: Prometheus, Alertmanager, serve, the receiver, the files.
    _prometheus: Running,
    _alertmanager: Alertmanager,
    _serve: Running,
    receiver: Receiver,
    _dir: tempfile::TempDir,
}

impl Stack {
    fn start(state: &LabState) -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        let receiver = Receiver::start();
        let serve_port = free_port();
        let serve_log = dir.path().join("serve.log");
        let mut serve = Running::spawn(
            "fleetdeck serve",
            Command::new(bin())
                .arg("-i")
                .arg(state.plan.dir.join("inventory.yml"))
                .args(["serve", "--listen", &format!("127.0.0.1:{serve_port}")]),
            &serve_log,
        );
        poll("serve answers /healthz", Duration::from_secs(30), || {
            serve.assert_alive();
            match http_get(serve_port, "/healthz") {
                Some((200, body)) if body == "ok\n" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });

        let alertmanager = Alertmanager::start(&Alertmanager::routing_to(
            &receiver.url,
            "alertname, host",
            false,
        ));
        let alertmanager_port = alertmanager.port;

        // The shipped rules with every `for:` cut to 2 s: the test cannot wait the
        // minutes the real ones hold for. The expressions are the shipped ones.
        let rules: String = RULES
            .lines()
            .map(|line| {
                if line.trim_start().starts_with("for: ") {
                    let indent = line.len() - line.trim_start().len();
                    format!("{}for: 2s\n", " ".repeat(indent))
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        assert!(rules.contains("for: 2s") && !rules.contains("for: 10m"));
        std::fs::write(dir.path().join("rules.yml"), rules).expect("rules.yml");
        let prometheus_port = free_port();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\n\
                 rule_files: [rules.yml]\n\
                 alerting:\n  alertmanagers:\n    - static_configs:\n        \
                 - targets: ['127.0.0.1:{alertmanager_port}']\n\
                 scrape_configs:\n  - job_name: fleetdeck\n    static_configs:\n      \
                 - targets: ['127.0.0.1:{serve_port}']\n"
            ),
        )
        .expect("prometheus.yml");
        let prometheus_log = dir.path().join("prometheus.log");
        let mut prometheus = Running::spawn(
            "prometheus",
            Command::new("prometheus")
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("tsdb").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}")),
            &prometheus_log,
        );
        poll("prometheus is ready", Duration::from_secs(60), || {
            prometheus.assert_alive();
            match http_get(prometheus_port, "/-/ready") {
                Some((200, _)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
        Stack {
            _dir: dir,
            serve_port,
            prometheus_port,
            receiver,
            _serve: serve,
            _alertmanager: alertmanager,
            _prometheus: prometheus,
        }
    }

    /// An instant query's result vector; `Err` with what came back otherwise.
    fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let (status, body) = http_get(self.prometheus_port, &path).ok_or("no answer")?;
        let json: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if status != 200 || json["status"] != "success" {
            return Err(format!("{status}: {body}"));
        }
        Ok(json["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Polls until `promql` returns at least one series; returns them.
    fn shows(&self, promql: &str) -> Vec<Value> {
        poll(
            &format!("Prometheus shows {promql}"),
            Duration::from_secs(120),
            || match self.query(promql)? {
                found if !found.is_empty() => Ok(found),
                _ => Err("an empty result".to_owned()),
            },
        )
    }

    /// The alerts Prometheus has firing: (alertname, host, the rest of the labels).
    fn firing(&self) -> Result<Vec<Value>, String> {
        let (_, body) = http_get(self.prometheus_port, "/api/v1/alerts").ok_or("no answer")?;
        let json: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        Ok(json["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a["state"] == "firing")
            .collect())
    }
}

fn has_alert(alerts: &[Value], name: &str, host: &str, extra: &[(&str, &str)]) -> bool {
    alerts.iter().any(|a| {
        let labels = &a["labels"];
        labels["alertname"] == name
            && labels["host"] == host
            && extra.iter().all(|(k, v)| labels[*k] == *v)
    })
}

/// An alert by its name, host and other labels.
type Alert = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The alerts the lab's planted problems must raise.
const EXPECTED: &[Alert] = &[
    (
        "FleetdeckContainerUnhealthy",
        "client-alpha",
        &[("container", "worker")],
    ),
    (
        "FleetdeckCertificateExpiringSoon",
        "client-alpha",
        &[("endpoint", "https")],
    ),
    (
        "FleetdeckCertificateExpired",
        "client-beta",
        &[("endpoint", "https")],
    ),
    (
        "FleetdeckFirewallDrift",
        "client-beta",
        &[("kind", "extra_port")],
    ),
    ("FleetdeckDiskFull", "client-beta", &[("mount", "/srv")]),
];

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn prometheus_sees_the_planted_problems_and_alertmanager_delivers_their_alerts() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    let stack = Stack::start(&state);
    stack.shows(r#"up{job="fleetdeck"} == 1"#);

    // The planted problems, as Prometheus reads them.
    stack.shows(
        r#"(time() - fleetdeck_backup_newest_snapshot_timestamp_seconds{host="client-alpha"})
           > fleetdeck_backup_warning_age_seconds{host="client-alpha"}"#,
    );
    stack.shows(
        r#"(fleetdeck_certificate_not_after_timestamp_seconds{host="client-alpha"} - time()) < 7 * 86400
           and (fleetdeck_certificate_not_after_timestamp_seconds{host="client-alpha"} - time()) > 0"#,
    );
    stack.shows(r#"fleetdeck_container_unhealthy{host="client-alpha",container="worker"} == 1"#);
    stack
        .shows(r#"fleetdeck_certificate_not_after_timestamp_seconds{host="client-beta"} < time()"#);
    stack.shows(
        r#"fleetdeck_firewall_drift{host="client-beta",kind="extra_port",severity="critical"} >= 1"#,
    );
    // And the hosts with nothing planted read so once measured (unknown before):
    // nothing critical. A warning may be the machine's own load, which every lab host
    // shares.
    stack.shows(r#"count(fleetdeck_host_severity{host=~"bastion|client-gamma"} <= 1) == 2"#);
    assert!(
        stack
            .query("fleetdeck_host_up == 0")
            .expect("query")
            .is_empty(),
        "a host reads as down"
    );

    // The shipped rules fire for them; the stale backup as stale or too old,
    // whichever its age is now.
    let alerts = poll(
        "the rules' alerts for the planted problems fire",
        Duration::from_secs(120),
        || {
            let alerts = stack.firing()?;
            let backup = has_alert(&alerts, "FleetdeckBackupStale", "client-alpha", &[])
                || has_alert(&alerts, "FleetdeckBackupTooOld", "client-alpha", &[]);
            let missing: Vec<_> = EXPECTED
                .iter()
                .filter(|(name, host, extra)| !has_alert(&alerts, name, host, extra))
                .collect();
            if backup && missing.is_empty() {
                Ok(alerts)
            } else {
                Err(format!(
                    "backup: {backup}, missing: {missing:?}; firing: {alerts:?}"
                ))
            }
        },
    );
    // Nothing fires for the healthy hosts.
    let healthy: Vec<_> = alerts
        .iter()
        .filter(|a| {
            matches!(
                a["labels"]["host"].as_str(),
                Some("bastion" | "client-gamma")
            )
        })
        .collect();
    assert!(healthy.is_empty(), "alerts for healthy hosts: {healthy:?}");
    assert!(
        !alerts
            .iter()
            .any(|a| a["labels"]["alertname"] == "FleetdeckHostDown")
    );

    // Alertmanager delivers them to the webhook.
    let delivered = |received: &[common::receiver::Received]| -> Vec<Value> {
        received
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .flat_map(|body| body["alerts"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["status"] == "firing")
            .collect()
    };
    let received = stack
        .receiver
        .wait_until(Duration::from_secs(60), |received| {
            let alerts = delivered(received);
            EXPECTED
                .iter()
                .all(|(name, host, extra)| has_alert(&alerts, name, host, extra))
        });
    let alerts = delivered(&received);
    for (name, host, extra) in EXPECTED {
        assert!(
            has_alert(&alerts, name, host, extra),
            "{name} for {host} {extra:?} not delivered; delivered: {alerts:?}"
        );
    }
    assert!(received.iter().all(|r| r.method == "POST"));
}

/// A container on a lab host whose labels carry quotes, backslashes, a newline and
/// terminal escape sequences; removed when the test ends, however it ends.
struct HostileContainer<'a> {
    docker: &'a dyn Fn(&[&str]) -> std::process::Output,
    name: String,
}

impl Drop for HostileContainer<'_> {
    fn drop(&mut self) {
        (self.docker)(&["rm", "-f", &self.name]);
    }
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn hostile_label_values_reach_prometheus_intact_and_the_scrape_stays_up() {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let state = lab();
    let docker = lab_docker(&state, "client-alpha");
    let name = format!("fd-test-hostile-{}", std::process::id());
    let app = "q\"uo\\te\n\u{1b}[31mred\u{1b}[0m\u{1b}]0;title\u{7}";
    let service = format!("s\"{}", "x".repeat(300));
    let run = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        &format!("fleetdeck.app={app}"),
        "--label",
        &format!("fleetdeck.service={service}"),
        "fleetdeck-lab/app:1.0",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let _cleanup = HostileContainer {
        docker: &docker,
        name: name.clone(),
    };

    let stack = Stack::start(&state);
    let series = stack.shows(&format!(
        r#"fleetdeck_container_info{{host="client-alpha",container="{name}"}}"#
    ));
    let labels = &series[0]["metric"];
    // The escape sequences are gone, the newline is a space, quotes and backslashes
    // are what they were; the long value is cut at 128 characters, marked.
    assert_eq!(labels["app"], "q\"uo\\te red", "{labels}");
    let kept = labels["service"].as_str().expect("service label");
    assert_eq!(kept.chars().count(), 129, "{kept}");
    assert!(kept.starts_with("s\"xxx") && kept.ends_with('…'), "{kept}");
    stack.shows(r#"up{job="fleetdeck"} == 1"#);
    let samples = stack
        .query(r#"scrape_samples_scraped{job="fleetdeck"}"#)
        .expect("query");
    assert!(!samples.is_empty());

    // The scrape itself passes promtool's own check.
    let (status, text) = http_get(stack.serve_port, "/metrics").expect("a scrape");
    assert_eq!(status, 200);
    assert!(
        text.contains(&name),
        "the hostile container is in the scrape"
    );
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("writing the scrape to promtool");
    let out = check.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
