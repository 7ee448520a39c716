//! `fleetdeck status` and `fleetdeck watch`: the inventory and SSH options from the
//! command line, turned into targets, measured, printed.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use time::OffsetDateTime;

use super::model::{self, Expectations, HostState};
use super::status::{self, Contexts, Target};
use super::{containers, table};
use crate::cli::{Cli, StatusArgs};
use crate::inventory::{INVENTORY_ENV, Inventory};
use crate::probes::Severity;
use crate::sanitize;
use crate::ssh::setup::SshOptions;

/// The SSH part of the command line.
pub fn ssh_options(cli: &Cli) -> SshOptions {
    SshOptions {
        config_file: cli.ssh_config.clone(),
        batch: cli.batch,
        accept_new_host_keys: cli.accept_new_host_keys,
    }
}

/// The selected hosts, or a message for stderr. `Ok(None)`: no inventory given.
pub fn targets(
    inventory: Option<&Path>,
    limit: Option<&str>,
) -> Result<Option<Vec<Target>>, String> {
    let Some(path) = inventory else {
        if limit.is_some() {
            return Err(format!(
                "--limit needs an inventory: pass -i PATH or set {INVENTORY_ENV}"
            ));
        }
        return Ok(None);
    };
    let inventory = Inventory::load(path).map_err(|e| e.to_string())?;
    for warning in inventory.warnings() {
        eprintln!("fleetdeck: warning: {warning}");
    }
    let selected = inventory
        .select(limit)
        .map_err(|e| format!("--limit {}: {e}", limit.unwrap_or_default()))?;
    Ok(Some(
        selected.into_iter().map(Target::from_inventory).collect(),
    ))
}

/// Runs `status`; returns the exit code (monitoring-plugin convention).
pub async fn status(cli: &Cli, args: &StatusArgs) -> u8 {
    let unknown = Severity::Unknown.exit_code();
    let targets = match targets(cli.inventory.as_deref(), cli.limit.as_deref()) {
        Ok(targets) => targets,
        Err(message) => {
            eprintln!("fleetdeck: {message}");
            return unknown;
        }
    };
    let hosts = match targets {
        None => vec![local_host().await],
        Some(targets) => {
            let options = ssh_options(cli);
            let contexts = match Contexts::prepare(&options, &targets) {
                Ok(contexts) => contexts,
                Err(error) => {
                    eprintln!("fleetdeck: {error}");
                    return unknown;
                }
            };
            for notice in &contexts.notices {
                eprintln!("fleetdeck: {notice}");
            }
            let deadline = Duration::from_secs(args.timeout.max(1));
            status::snapshot(&options, &contexts, &targets, deadline).await
        }
    };
    let now = OffsetDateTime::now_utc();
    let text = if args.json {
        match serde_json::to_string_pretty(&model::fleet_json(&hosts, now)) {
            Ok(json) => json,
            Err(error) => {
                eprintln!("fleetdeck: {error}");
                return unknown;
            }
        }
    } else {
        table::render(&hosts, now)
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", text.trim_end())
        .and_then(|()| out.flush())
        .is_err()
    {
        return unknown;
    }
    Severity::worst(hosts.iter().map(HostState::severity)).exit_code()
}

/// With no inventory: this machine's own engine, through its local socket.
async fn local_host() -> HostState {
    let socket = crate::docker::transport::default_local_socket();
    let mut state = HostState::new("localhost", Vec::new(), Expectations::default());
    let at = OffsetDateTime::now_utc();
    let update = match crate::docker::transport::connect_negotiated(
        std::sync::Arc::new(crate::docker::transport::LocalSocket::new(&socket)),
        30,
    )
    .await
    {
        Ok(docker) => match containers::collect(&docker, at).await {
            Ok(all) => containers::ContainerUpdate::All(all, at),
            Err(error) => {
                containers::ContainerUpdate::Failed(sanitize::line(&error.to_string()), at)
            }
        },
        Err(error) => containers::ContainerUpdate::Failed(sanitize::line(&error.to_string()), at),
    };
    if let containers::ContainerUpdate::Failed(error, _) = &update {
        state.reachable = Some(false);
        state.error = Some(error.clone());
    } else {
        state.reachable = Some(true);
        state.last_contact = Some(at);
    }
    state.apply_containers(update);
    state
}

/// Runs `watch --json`: one actor per host; after each change to a host, one JSON line
/// `{"time": …, "host": {…}}` with the host as `status --json` shows it. Changes in
/// ages alone (a clock ticking) are not changes. Without an inventory it watches this
/// machine's own engine, as `status` and the console do. Runs until interrupted.
pub async fn watch(cli: &Cli) -> u8 {
    let unknown = Severity::Unknown.exit_code();
    let targets = match targets(cli.inventory.as_deref(), cli.limit.as_deref()) {
        Ok(targets) => targets,
        Err(message) => {
            eprintln!("fleetdeck: {message}");
            return unknown;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let mut hosts = Vec::new();
    let mut actors = Vec::new();
    // The local engine's task; it ends with the process.
    let mut _local = None;
    match targets {
        None => {
            let socket = crate::docker::transport::default_local_socket();
            hosts.push(HostState::new(
                "localhost",
                Vec::new(),
                Expectations::default(),
            ));
            _local = Some(super::actor::spawn_local(socket, 0, tx.clone()));
        }
        Some(targets) => {
            let options = ssh_options(cli);
            let contexts = match Contexts::prepare(&options, &targets) {
                Ok(contexts) => contexts,
                Err(error) => {
                    eprintln!("fleetdeck: {error}");
                    return unknown;
                }
            };
            for notice in &contexts.notices {
                eprintln!("fleetdeck: {notice}");
            }
            for (index, target) in targets.iter().enumerate() {
                hosts.push(HostState::new(
                    &target.name,
                    target.groups.clone(),
                    target.expectations(),
                ));
                if let Some(ctx) = contexts.for_target(&options, target) {
                    actors.push(super::actor::spawn(ctx, target.clone(), index, tx.clone()));
                }
            }
        }
    }
    drop(tx);
    let mut printed: Vec<Option<serde_json::Value>> = vec![None; hosts.len()];
    let mut out = std::io::stdout();
    loop {
        let Some((index, event)) = rx.recv().await else {
            return unknown;
        };
        let mut touched = vec![index];
        hosts[index].apply(event);
        // Drain whatever else is already waiting, then print once per changed host.
        while let Ok((index, event)) = rx.try_recv() {
            hosts[index].apply(event);
            touched.push(index);
        }
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
            let line =
                serde_json::json!({ "time": crate::util::time::rfc3339(now), "host": value });
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                // The reader went away (a closed pipe): stop quietly.
                return 0;
            }
        }
    }
}

/// The host JSON without the fields that move with the clock alone, so that only real
/// changes print a line.
fn without_clock(mut value: serde_json::Value) -> serde_json::Value {
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
