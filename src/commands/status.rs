//! `fleetdeck status`: the selected hosts measured once, printed as a table, JSON, a
//! Nagios plugin's output or a Checkmk local-check section; the exit code as a
//! monitoring plugin's (the worst of the selected signals across the hosts not in
//! maintenance).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::Result;
use time::OffsetDateTime;

use super::Context;
use super::ending::ExitCodeOf;
use crate::cli::{StatusArgs, StatusFormat};
use crate::fleet::model::{Expectations, HostState};
use crate::fleet::plugin::{self, Check, Limits};
use crate::fleet::problems::{SignalKind, fleet_severity};
use crate::fleet::status;
use crate::fleet::target::Target;
use crate::fleet::{containers, table};
use crate::probes::Severity;
use crate::sanitize;

/// Runs `status`.
pub async fn run(ctx: &Context, args: &StatusArgs) -> Result<ExitCode> {
    Ok(ExitCode::from(status(ctx, args).await))
}

/// The exit code: the monitoring-plugin convention.
async fn status(ctx: &Context, args: &StatusArgs) -> u8 {
    let unknown = Severity::Unknown.exit_code();
    let targets = match ctx.selected_targets() {
        Ok(targets) => targets,
        Err(message) => {
            eprintln!("fleetdeck: {message}");
            return unknown;
        }
    };
    let selection = selection(&args.signal);
    let (hosts, limits) = match targets {
        None => (vec![local_host().await], Limits::default()),
        Some(targets) => {
            let options = &ctx.ssh;
            let Some(contexts) = ctx.connect_contexts(&targets) else {
                return unknown;
            };
            let deadline = Duration::from_secs(args.timeout.max(1));
            let limits = Limits::from_targets(&targets);
            let measured: Vec<Target> = targets
                .iter()
                .map(|t| measuring_only(t.clone(), &selection))
                .collect();
            // What a deploy would run is read from local files while the hosts answer.
            let wants_apps = selection.is_empty() || selection.contains(&SignalKind::Apps);
            let (mut hosts, expected) = tokio::join!(
                status::snapshot(options, &contexts, &measured, deadline),
                async {
                    if wants_apps {
                        Some(crate::core::deploy::expected_fleet(targets.clone()).await)
                    } else {
                        None
                    }
                }
            );
            for (host, expected) in hosts.iter_mut().zip(expected.into_iter().flatten()) {
                host.expected_apps = Some(expected);
            }
            (hosts, limits)
        }
    };
    let now = OffsetDateTime::now_utc();
    let check = Check {
        hosts: &hosts,
        limits: &limits,
        selection: &selection,
        now,
    };
    let text = match args.output() {
        StatusFormat::Json => {
            match serde_json::to_string_pretty(&plugin::json(&hosts, &selection, now)) {
                Ok(json) => json,
                Err(error) => {
                    eprintln!("fleetdeck: {error}");
                    return unknown;
                }
            }
        }
        StatusFormat::Table if selection.is_empty() => table::render(&hosts, now),
        StatusFormat::Table => plugin::table(&hosts, &selection, now),
        StatusFormat::Nagios => plugin::nagios(&check),
        StatusFormat::Checkmk => plugin::checkmk(&check),
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", text.trim_end())
        .and_then(|()| out.flush())
        .is_err()
    {
        return unknown;
    }
    fleet_severity(&hosts, &selection, now).exit_code()
}

/// `--signal` as given, each once, in signal order; empty: every signal.
fn selection(given: &[SignalKind]) -> Vec<SignalKind> {
    let mut selection = given.to_vec();
    selection.sort();
    selection.dedup();
    selection
}

/// `target` with only what `selection` needs measured (empty: everything): a signal
/// left out is not declared for this run, so it is neither measured nor unknown.
/// Containers are always read (reachability and the engine come with them).
fn measuring_only(mut target: Target, selection: &[SignalKind]) -> Target {
    if selection.is_empty() {
        return target;
    }
    let wants = |signal| selection.contains(&signal);
    if !wants(SignalKind::Backups) {
        target.settings.backups.clear();
    }
    if !wants(SignalKind::Certs) {
        target.settings.certificates.clear();
    }
    if !wants(SignalKind::Firewall) {
        target.settings.firewall = None;
    }
    if !wants(SignalKind::Resources) && !wants(SignalKind::Posture) {
        target.host_round = false;
    }
    target
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
