//! `status --signal … --format nagios|checkmk` against the lab, as a monitoring
//! system would run it: the exit codes follow from what the lab plants (client-alpha's
//! 50-hour-old backup, client-beta's open port), the outputs parse by the tools'
//! documented grammars (tests/common/plugin_grammar.rs), and each Checkmk service's
//! state is what the JSON's reports say. Read-only: nothing on the lab changes.

mod common;
#[path = "common/plugin_grammar.rs"]
mod grammar;

use std::process::{Command, Output};

use common::{bin, created_at, lab, stderr, stdout};
use fleetdeck::lab::state::LabState;
use fleetdeck::probes::backup::BackupRepo;
use serde_json::Value;

fn status(state: &LabState, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("status")
        .arg("-i")
        .arg(state.plan.dir.join("inventory.yml"))
        .args(args)
        .output()
        .expect("running fleetdeck status")
}

/// The exit code the planted snapshot ages imply with the inventory's backup
/// thresholds (the lab declares none: fleetdeck's defaults).
fn backups_exit_code(state: &LabState) -> i32 {
    let defaults: BackupRepo = serde_json::from_value(serde_json::json!({
        "name": "app-data", "kind": "restic", "repository": "/r"
    }))
    .expect("a repository with default thresholds");
    state
        .plan
        .hosts
        .iter()
        .map(|h| match h.snapshot_ages_hours.iter().min() {
            Some(age) if *age > defaults.critical_hours => 2,
            Some(age) if *age > defaults.warning_hours => 1,
            Some(_) => 0,
            None => 2,
        })
        .max()
        .unwrap_or(0)
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn backups_as_a_nagios_check_exit_as_the_planted_ages_imply() {
    let state = lab();
    let out = status(&state, &["--signal", "backups", "--format", "nagios"]);
    let text = stdout(&out);
    let expected = backups_exit_code(&state);
    assert_eq!(expected, 2, "the lab plants a backup past the critical age");
    assert_eq!(out.status.code(), Some(expected), "{text}{}", stderr(&out));
    let parsed = grammar::nagios(&text);
    assert_eq!(parsed.state, "CRITICAL", "{text}");
    assert!(parsed.text.ends_with("[backups]"), "{text}");
    // One long line per stale repository, and nothing about any other signal.
    let stale: Vec<&str> = state
        .plan
        .hosts
        .iter()
        .filter(|h| h.snapshot_ages_hours.iter().min().is_some_and(|a| *a > 48))
        .map(|h| h.name.as_str())
        .collect();
    assert_eq!(parsed.long.len(), stale.len(), "{text}");
    for (line, host) in parsed.long.iter().zip(&stale) {
        assert!(
            line.starts_with(&format!(
                "CRITICAL {host}: backup app-data: latest snapshot"
            )),
            "{line}"
        );
    }
    // Per host: reachability and the backup age, with the default thresholds (26 h
    // and 48 h) in seconds; the Monitoring::Plugin library reads the same.
    assert_eq!(parsed.perfdata.len(), 2 * state.plan.hosts.len(), "{text}");
    let by_perl = grammar::perl_perfdata(&parsed.perf_raw);
    assert_eq!(by_perl.len(), parsed.perfdata.len(), "{by_perl:?}");
    for plan in &state.plan.hosts {
        let label = format!("{} backup_age app-data", plan.name);
        let (_, value) = parsed
            .perfdata
            .iter()
            .find(|(l, _)| *l == label)
            .unwrap_or_else(|| panic!("{label} in {text}"));
        let mut fields = value.split(';');
        let age: i64 = fields
            .next()
            .and_then(|v| v.strip_suffix('s'))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{value}"));
        // The youngest snapshot was made that many hours before `lab up`.
        let youngest = plan.snapshot_ages_hours.iter().min().copied().unwrap_or(0);
        let since_up = (time::OffsetDateTime::now_utc() - created_at(&state)).whole_seconds();
        let planted = i64::try_from(youngest).expect("hours") * 3600 + since_up;
        assert!(
            (planted - 600..=planted + 60).contains(&age),
            "{label}: {age}s for a snapshot {planted}s old"
        );
        assert_eq!(
            fields.collect::<Vec<_>>(),
            ["93600", "172800", "0"],
            "{value}"
        );
        assert!(
            by_perl
                .iter()
                .any(|(l, v, uom)| *l == label && *v == age.to_string() && uom == "s"),
            "{label} as Monitoring::Plugin reads it: {by_perl:?}"
        );
    }
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn a_selection_measures_only_what_it_judges() {
    let state = lab();
    let out = status(&state, &["--signal", "backups", "--json"]);
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", stderr(&out)));
    assert_eq!(out.status.code(), Some(backups_exit_code(&state)), "{json}");
    assert_eq!(json["selected_signals"], serde_json::json!(["backups"]));
    for host in json["hosts"].as_array().expect("hosts") {
        // Neither the host round nor the firewall nor the certificates were measured.
        assert!(host["resources"].is_null(), "{host}");
        assert!(host["firewall"].is_null(), "{host}");
        assert_eq!(host["certs"], serde_json::json!([]), "{host}");
        assert_eq!(host["backups"].as_array().map(Vec::len), Some(1), "{host}");
        for problem in host["problems"].as_array().expect("problems") {
            assert!(
                ["backups", "host"].contains(&problem["signal"].as_str().unwrap_or("")),
                "{problem}"
            );
        }
    }
    let alpha = json["hosts"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["name"] == "client-alpha"))
        .expect("client-alpha");
    // Its unhealthy worker is measured (containers always are) but not judged.
    assert_eq!(alpha["severity"], "critical", "the stale backup: {alpha}");
    assert_eq!(
        alpha["problems"].as_array().map(Vec::len),
        Some(1),
        "{alpha}"
    );
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn firewall_alone_on_a_host_without_drift_is_ok() {
    let state = lab();
    let alpha = state
        .plan
        .hosts
        .iter()
        .find(|h| h.name == "client-alpha")
        .expect("client-alpha in the plan");
    assert!(
        alpha.drift_ports.is_empty(),
        "the lab plants no drift on client-alpha"
    );
    // client-alpha's stale backup, expiring certificate, unhealthy worker and
    // password logins are all outside the selection.
    let out = status(
        &state,
        &[
            "--signal",
            "firewall",
            "--limit",
            "client-alpha",
            "--format",
            "nagios",
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let parsed = grammar::nagios(&text);
    assert_eq!(parsed.state, "OK");
    assert!(parsed.long.is_empty(), "{text}");
    let drift = parsed
        .perfdata
        .iter()
        .find(|(l, _)| l == "client-alpha firewall_drift")
        .unwrap_or_else(|| panic!("drift count in {text}"));
    assert_eq!(drift.1, "0;;;0");

    // client-beta's open port is its drift: critical, counted.
    let out = status(
        &state,
        &[
            "--signal",
            "firewall",
            "--limit",
            "client-beta",
            "--format",
            "nagios",
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}{}", stderr(&out));
    let parsed = grammar::nagios(&text);
    let beta = state
        .plan
        .hosts
        .iter()
        .find(|h| h.name == "client-beta")
        .expect("client-beta");
    let drift = parsed
        .perfdata
        .iter()
        .find(|(l, _)| l == "client-beta firewall_drift")
        .unwrap_or_else(|| panic!("drift count in {text}"));
    assert_eq!(drift.1, format!("{};;;0", beta.drift_ports.len()));
    assert_eq!(parsed.long.len(), beta.drift_ports.len(), "{text}");
}

/// The severity the JSON's own reports give one signal of a host (not its problem
/// list: the Checkmk state is checked against the measurements themselves).
fn reported(host: &Value, signal: &str) -> Option<&'static str> {
    let worst = |values: Vec<&Value>| {
        let rank = |s: &str| {
            ["ok", "warning", "unknown", "critical"]
                .iter()
                .position(|r| *r == s)
        };
        values
            .iter()
            .filter_map(|v| v.as_str())
            .max_by_key(|s| rank(s))
            .map(|s| match s {
                "ok" => "0",
                "warning" => "1",
                "critical" => "2",
                _ => "3",
            })
            .unwrap_or("0")
    };
    let list = |key: &str| {
        host[key]
            .as_array()
            .map(|a| a.iter().map(|v| &v["severity"]).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let reachable = host["reachable"] == true;
    let own = match signal {
        "host" => return Some(if reachable { "0" } else { "2" }),
        "containers" => worst(list("containers")),
        "backups" if !list("backups").is_empty() => worst(list("backups")),
        "certs" if !list("certs").is_empty() => worst(list("certs")),
        "firewall" if host["firewall"].is_object() => worst(vec![&host["firewall"]["severity"]]),
        "resources" if host["resources"].is_object() => worst(vec![&host["resources"]["severity"]]),
        "posture" if host["posture"].is_object() => worst(vec![&host["posture"]["severity"]]),
        "apps" if host["apps"].is_object() => worst(vec![&host["apps"]["severity"]]),
        _ => return None,
    };
    Some(if reachable { own } else { "2" })
}

#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn checkmk_has_one_service_per_host_and_signal_in_the_state_the_json_reports() {
    let state = lab();
    let out = status(&state, &["--format", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {}", stderr(&out)));
    let out = status(&state, &["--format", "checkmk"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}{}", stderr(&out));
    let services = grammar::checkmk(&text);
    let mut expected = Vec::new();
    for host in json["hosts"].as_array().expect("hosts") {
        let name = host["name"].as_str().expect("name");
        for signal in [
            "host",
            "containers",
            "backups",
            "certs",
            "firewall",
            "resources",
            "posture",
            "apps",
        ] {
            if let Some(status) = reported(host, signal) {
                expected.push((format!("fleetdeck_{name}_{signal}"), status.to_owned()));
            }
        }
    }
    let got: Vec<(String, String)> = services
        .iter()
        .map(|s| (s.name.clone(), s.status.to_string()))
        .collect();
    assert_eq!(got, expected, "{text}");
    // The planted problems are named in their services' details.
    let details = |name: &str| {
        services
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.details.clone())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    assert!(details("fleetdeck_client-alpha_backups").contains("backup app-data: latest snapshot"));
    assert!(details("fleetdeck_client-alpha_containers").contains("container worker"));
    assert!(details("fleetdeck_client-beta_firewall").contains("5432/tcp"));
    assert!(details("fleetdeck_client-beta_resources").contains("/srv is 9"));
    assert_eq!(details("fleetdeck_client-gamma_backups"), "no problems");
}

/// The wrappers in contrib/ run against the lab as a monitoring system would run them:
/// check_fleetdeck with its arguments, the Checkmk agent plugin with its fleetdeck.cfg.
#[test]
#[ignore = "needs the lab (scripts/test.sh)"]
fn the_contrib_wrappers_run_the_checks_on_the_lab() {
    let state = lab();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let inventory = state.plan.dir.join("inventory.yml");
    let out = Command::new(root.join("contrib/nagios/check_fleetdeck"))
        .arg("-i")
        .arg(&inventory)
        .args(["--signal", "backups"])
        .env("FLEETDECK_BIN", bin())
        .output()
        .expect("running check_fleetdeck");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(backups_exit_code(&state)), "{text}");
    assert_eq!(grammar::nagios(&text).state, "CRITICAL", "{text}");

    let confdir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        confdir.path().join("fleetdeck.cfg"),
        format!(
            "FLEETDECK_INVENTORY={}\nFLEETDECK_BIN={}\nFLEETDECK_ARGS=\"--limit client-beta --signal firewall\"\n",
            inventory.display(),
            bin()
        ),
    )
    .expect("writing fleetdeck.cfg");
    let out = Command::new(root.join("contrib/checkmk/fleetdeck"))
        .env("MK_CONFDIR", confdir.path())
        .env_remove("FLEETDECK_INVENTORY")
        .output()
        .expect("running the Checkmk plugin");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    let services: Vec<(String, u8)> = grammar::checkmk(&text)
        .into_iter()
        .map(|s| (s.name, s.status))
        .collect();
    assert_eq!(
        services,
        [
            ("fleetdeck_client-beta_host".to_owned(), 0),
            ("fleetdeck_client-beta_firewall".to_owned(), 2),
        ],
        "{text}"
    );
}
