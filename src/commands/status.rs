//! `fleetdeck status`: the selected hosts measured once, printed as a table or JSON;
//! the exit code as a monitoring plugin's (the worst across hosts).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::Result;
use time::OffsetDateTime;

use super::Context;
use super::ending::ExitCodeOf;
use crate::cli::StatusArgs;
use crate::fleet::model::{self, Expectations, HostState};
use crate::fleet::status;
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
    let hosts = match targets {
        None => vec![local_host().await],
        Some(targets) => {
            let options = &ctx.ssh;
            let Some(contexts) = ctx.connect_contexts(&targets) else {
                return unknown;
            };
            let deadline = Duration::from_secs(args.timeout.max(1));
            // What a deploy would run is read from local files while the hosts answer.
            let (mut hosts, expected) = tokio::join!(
                status::snapshot(options, &contexts, &targets, deadline),
                crate::core::deploy::expected_fleet(targets.clone())
            );
            for (host, expected) in hosts.iter_mut().zip(expected) {
                host.expected_apps = Some(expected);
            }
            hosts
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
    crate::fleet::problems::fleet_severity(&hosts, &[], now).exit_code()
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
