//! `fleetdeck maintenance start|end|list`: maintenance windows on the selected hosts,
//! made by the core (docs/maintenance.md). Exit 0: every host done (or read); 1: a
//! host failed (unreachable, refused by its fleetdeck_read_only, its command failed);
//! 2: nothing was done (bad input, read-only mode).

use std::collections::HashSet;
use std::process::ExitCode;

use color_eyre::eyre::Result;
use serde::Serialize;
use time::OffsetDateTime;

use super::Context;
use super::ending::{NOTHING_DONE, nothing_done};
use crate::cli::MaintenanceCommand;
use crate::core::maintenance::{
    self, HostChangeResult, MaintenanceChange, MaintenanceError, length_text,
};
use crate::fleet::target::Target;
use crate::inventory::Inventory;
use crate::probes::maintenance::Maintenance;
use crate::sanitize;
use crate::util::time::rfc3339;

/// Runs `fleetdeck maintenance …`.
pub async fn run(ctx: &Context, command: &MaintenanceCommand) -> Result<ExitCode> {
    let code = match command {
        MaintenanceCommand::Start(args) => {
            match MaintenanceChange::start(args.length, &args.reason) {
                Ok(change) => change_on(ctx, &args.hosts, &change, args.json).await,
                Err(e) => nothing_done(&sanitize::line(&e)),
            }
        }
        MaintenanceCommand::End(args) => {
            change_on(ctx, &args.hosts, &MaintenanceChange::End, args.json).await
        }
        MaintenanceCommand::List(args) => list(ctx, &args.hosts, args.json).await,
    };
    Ok(ExitCode::from(code))
}

/// The hosts `patterns` name (each must name at least one), within `--limit`, in the
/// inventory's order. No pattern: every host `--limit` selects.
fn select(
    ctx: &Context,
    inventory: &Inventory,
    patterns: &[String],
) -> Result<Vec<Target>, String> {
    let within = crate::fleet::target::targets(inventory, ctx.limit.as_deref())?;
    if patterns.is_empty() {
        return Ok(within);
    }
    let mut named = HashSet::new();
    for pattern in patterns {
        let hosts = inventory
            .select(Some(pattern))
            .map_err(|e| format!("{}: {e}", sanitize::line(pattern)))?;
        if hosts.is_empty() {
            return Err(format!(
                "{}: no such host in the inventory",
                sanitize::line(pattern)
            ));
        }
        named.extend(hosts.into_iter().map(|h| h.name().to_owned()));
    }
    let selected: Vec<Target> = within
        .into_iter()
        .filter(|t| named.contains(&t.name))
        .collect();
    if selected.is_empty() {
        return Err(format!(
            "{} outside --limit {}",
            patterns.join(" "),
            ctx.limit.as_deref().unwrap_or_default()
        ));
    }
    Ok(selected)
}

async fn change_on(
    ctx: &Context,
    patterns: &[String],
    change: &MaintenanceChange,
    json: bool,
) -> u8 {
    let inventory = match ctx.require_inventory("maintenance windows are kept on inventory hosts") {
        Ok(i) => i,
        Err(e) => return nothing_done(&e),
    };
    let targets = match select(ctx, &inventory, patterns) {
        Ok(t) => t,
        Err(e) => return nothing_done(&e),
    };
    let core = ctx.core();
    if core.read_only {
        let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        return nothing_done(&core.refuse_run(&names, change.action(), "maintenance window", None));
    }
    let Some(contexts) = ctx.connect_contexts(&targets) else {
        return NOTHING_DONE;
    };
    let results = core
        .change_maintenance_all(&ctx.ssh, &contexts, &targets, change)
        .await;
    print_results(&results, json);
    if results.iter().all(|(_, r)| r.is_ok()) {
        0
    } else {
        1
    }
}

#[derive(Serialize)]
struct ChangeJson<'a> {
    host: &'a str,
    ok: bool,
    /// A start: the window now on the host.
    window: Option<&'a Maintenance>,
    /// An end: whether the host had a window.
    removed: Option<bool>,
    error: Option<String>,
}

fn print_results(results: &[HostChangeResult], json: bool) {
    if json {
        let hosts: Vec<ChangeJson> = results
            .iter()
            .map(|(host, result)| match result {
                Ok(o) => ChangeJson {
                    host,
                    ok: true,
                    window: o.window.as_ref(),
                    removed: o.window.is_none().then_some(o.removed),
                    error: o.audit_error.clone(),
                },
                Err(e) => ChangeJson {
                    host,
                    ok: false,
                    window: None,
                    removed: None,
                    error: Some(e.to_string()),
                },
            })
            .collect();
        match serde_json::to_string_pretty(&serde_json::json!({ "hosts": hosts })) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("fleetdeck: {e}"),
        }
        return;
    }
    let now = OffsetDateTime::now_utc();
    for (host, result) in results {
        let host = sanitize::line(host);
        let line = match result {
            Ok(outcome) => {
                let mut line = match &outcome.window {
                    Some(w) => format!(
                        "{host}: in maintenance until {} ({}): {}",
                        rfc3339(w.until),
                        length_text((w.until - now).unsigned_abs()),
                        w.reason
                    ),
                    None if outcome.removed => format!("{host}: maintenance ended"),
                    None => format!("{host}: had no maintenance window"),
                };
                if let Some(e) = &outcome.audit_error {
                    line.push_str(&format!(" (not recorded in the audit log: {e})"));
                }
                line
            }
            Err(e @ MaintenanceError::ReadOnly { .. }) => format!("{host}: {e}"),
            Err(e) => format!("{host}: FAILED: {e}"),
        };
        println!("{}", sanitize::line(&line));
    }
}

#[derive(Serialize)]
struct ListJson<'a> {
    host: &'a str,
    /// The window the host stores (it may have ended: see `active`).
    maintenance: Option<&'a Maintenance>,
    /// The window is open now.
    active: bool,
    /// Why the host's window could not be read (unreachable, unreadable file).
    error: Option<&'a str>,
}

async fn list(ctx: &Context, patterns: &[String], json: bool) -> u8 {
    let inventory = match ctx.require_inventory("maintenance windows are kept on inventory hosts") {
        Ok(i) => i,
        Err(e) => return nothing_done(&e),
    };
    let targets = match select(ctx, &inventory, patterns) {
        Ok(t) => t,
        Err(e) => return nothing_done(&e),
    };
    let Some(contexts) = ctx.connect_contexts(&targets) else {
        return NOTHING_DONE;
    };
    let windows = maintenance::read_all(&ctx.ssh, &contexts, &targets).await;
    let now = OffsetDateTime::now_utc();
    if json {
        let hosts: Vec<ListJson> = windows
            .iter()
            .map(|(host, read)| {
                let window = read.as_ref().ok().and_then(Option::as_ref);
                ListJson {
                    host,
                    maintenance: window,
                    active: window.is_some_and(|w| w.active_at(now)),
                    error: read.as_ref().err().map(String::as_str),
                }
            })
            .collect();
        match serde_json::to_string_pretty(&serde_json::json!({
            "generated_at": rfc3339(now),
            "hosts": hosts,
        })) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("fleetdeck: {e}");
                return NOTHING_DONE;
            }
        }
    } else {
        print!("{}", list_table(&windows, now));
    }
    if windows.iter().all(|(_, read)| read.is_ok()) {
        0
    } else {
        1
    }
}

/// One line per host: HOST, STATE, BY, SINCE, UNTIL, REASON.
fn list_table(
    windows: &[(String, Result<Option<Maintenance>, String>)],
    now: OffsetDateTime,
) -> String {
    let rows: Vec<[String; 6]> = windows
        .iter()
        .map(|(host, read)| {
            let host = sanitize::line(host);
            match read {
                Ok(Some(w)) => [
                    host,
                    if w.active_at(now) {
                        "in maintenance".to_owned()
                    } else if now < w.started_at {
                        "not started".to_owned()
                    } else {
                        "ended".to_owned()
                    },
                    w.by.clone(),
                    rfc3339(w.started_at),
                    rfc3339(w.until),
                    w.reason.clone(),
                ],
                Ok(None) => [
                    host,
                    "none".to_owned(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ],
                Err(e) => [
                    host,
                    sanitize::line(e),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ],
            }
        })
        .collect();
    let header = ["HOST", "STATE", "BY", "SINCE", "UNTIL", "REASON"].map(str::to_owned);
    // An error is the row's last word: it is not padded into the columns.
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            std::iter::once(&header)
                .chain(rows.iter().filter(|r| !r[2].is_empty()))
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        if row[2].is_empty() {
            line = format!("{:w$}  {}", row[0], row[1], w = widths[0]);
        } else {
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:w$}  ", w = widths[i]));
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_says_each_hosts_window_none_or_why_not() {
        let at = |s: &str| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).expect("time")
        };
        let window = Maintenance {
            by: "ops@laptop".into(),
            started_at: at("2026-11-23T10:00:00Z"),
            until: at("2026-11-23T12:00:00Z"),
            reason: "disk swap".into(),
        };
        let windows = vec![
            ("alpha".to_owned(), Ok(Some(window.clone()))),
            ("beta".to_owned(), Ok(None)),
            (
                "gamma".to_owned(),
                Err("unreachable: connection refused".to_owned()),
            ),
        ];
        let text = list_table(&windows, at("2026-11-23T11:00:00Z"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("HOST   STATE"), "{text}");
        assert!(
            lines[1].contains(
                "in maintenance  ops@laptop  2026-11-23T10:00:00Z  2026-11-23T12:00:00Z  disk swap"
            ),
            "{text}"
        );
        assert!(lines[2].starts_with("beta   none"), "{text}");
        assert_eq!(lines[3], "gamma  unreachable: connection refused");
        let later = list_table(&windows[..1], at("2026-11-23T13:00:00Z"));
        assert!(later.contains("ended"), "{later}");
    }
}
