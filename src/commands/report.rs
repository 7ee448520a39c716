//! `fleetdeck report HOST`: an incident report for one host (or one of its
//! containers), written as new Markdown and JSON files whose paths are printed.
//!
//! Exit 0: written; 1: written although the host did not answer (the report holds
//! what was known and why), or the files could not be written; 2: nothing written
//! (bad input: unknown host, unknown container, a bad `--since` or `--out`).

use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::Result;

use super::Context;
use crate::audit::AuditLog;
use crate::cli::ReportArgs;
use crate::fleet::report::{self, Request};
use crate::fleet::report_file;
use crate::fleet::target;

/// The most timeline entries a report lists (newest first).
const TIMELINE_ENTRIES: usize = 1000;

/// The longest timeline window asked for: the history keeps 30 days.
const MAX_SINCE: Duration = Duration::from_secs(30 * 86_400);

pub async fn run(ctx: &Context, args: &ReportArgs) -> Result<ExitCode> {
    Ok(ExitCode::from(report(ctx, args).await))
}

async fn report(ctx: &Context, args: &ReportArgs) -> u8 {
    let bad = |message: String| {
        eprintln!("fleetdeck: {message}");
        2
    };
    if args.since.is_zero() || args.since > MAX_SINCE {
        return bad(format!(
            "--since {}s: give a window between 1s and 30 days (`6h`, `24h`)",
            args.since.as_secs()
        ));
    }
    if let Some(container) = &args.container
        && (container.is_empty() || container.chars().any(char::is_control))
    {
        return bad(format!("--container {container:?} is not a container name"));
    }
    let dir = args.out.clone().unwrap_or_else(report_file::default_dir);
    if dir.exists() && !dir.is_dir() {
        return bad(format!("--out {}: not a directory", dir.display()));
    }
    let inventory = match ctx.require_inventory("a report needs an inventory") {
        Ok(inventory) => inventory,
        Err(message) => return bad(message),
    };
    let targets = match target::targets(&inventory, None) {
        Ok(targets) => targets,
        Err(message) => return bad(message),
    };
    let Some(target) = targets.into_iter().find(|t| t.name == args.host) else {
        return bad(format!(
            "no host named {:?} in the inventory (`fleetdeck inventory --list` lists them)",
            crate::sanitize::line(&args.host)
        ));
    };
    let Some(contexts) = ctx.connect_contexts(std::slice::from_ref(&target)) else {
        return 2;
    };
    let Some(connect) = contexts.for_target(&ctx.ssh, &target) else {
        return bad(format!("no SSH configuration for {}", target.name));
    };
    let request = Request {
        container: args.container.clone(),
        since: args.since,
        timeline: host_timeline(&target.name, args.since, ctx.history_retention_days).await,
        audit_log: AuditLog::default_path(),
        deadline: Duration::from_secs(args.timeout.max(1)),
    };
    // What a deploy would run is read from local files while the host answers.
    let (mut report, expected) = tokio::join!(
        report::gather(&connect, &target, request),
        crate::core::deploy::expected_fleet(vec![target.clone()])
    );
    report.host.expected_apps = expected.into_iter().next();
    let reachable = report.host.reachable == Some(true);
    if let Some(container) = &args.container
        && reachable
        && report
            .containers
            .iter()
            .all(|c| &c.name != container || c.status.is_none())
    {
        return bad(format!(
            "no container named {:?} on {}",
            crate::sanitize::line(container),
            target.name
        ));
    }
    match report_file::write(&report, &dir) {
        Ok((markdown, json)) => {
            println!("{}", markdown.display());
            println!("{}", json.display());
        }
        Err(error) => {
            eprintln!("fleetdeck: writing the report: {error}");
            return 1;
        }
    }
    if reachable {
        0
    } else {
        eprintln!(
            "fleetdeck: {} did not answer ({}): the report holds what was known",
            target.name,
            report.host.error.as_deref().unwrap_or("no answer")
        );
        1
    }
}

/// The host's entries of the persistent history over the last `since`, or why there
/// are none (read on a blocking thread: SQLite).
async fn host_timeline(
    host: &str,
    since: Duration,
    retention_days: Option<u32>,
) -> Result<Vec<crate::fleet::timeline::TimelineEntry>, String> {
    let query = crate::history::Query {
        since: time::OffsetDateTime::now_utc() - since,
        until: None,
        host: Some(host.to_owned()),
        kind: None,
        limit: TIMELINE_ENTRIES,
    };
    tokio::task::spawn_blocking(move || {
        let history = crate::history::open_default(retention_days).map_err(|e| e.to_string())?;
        history.query(&query).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(format!("reading the history: {e}")))
}
