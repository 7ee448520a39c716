//! `fleetdeck deploy` and `fleetdeck rollback`: the deployment core's steps, driven
//! from the command line. Progress goes to stderr as it happens; the plan and the
//! summary go to stdout (or one JSON document with `--json`).

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use serde::Serialize;

use super::apply::{ApplyOptions, DeployEvent, HostOutcome, HostResult, ServiceResult};
use super::plan::{self, HostPlan, IdentityCache};
use super::{Planned, Request};
use crate::audit::AuditLog;
use crate::cli::{Cli, DeployArgs, RollbackArgs};
use crate::core::Core;
use crate::fleet::command::ssh_options;
use crate::inventory::{INVENTORY_ENV, Inventory};
use crate::sanitize;
use crate::secrets::{NeverAsk, PassphrasePrompt, TerminalPrompt};

/// Exit code when nothing was done: bad input, or not confirmed.
const NOTHING_DONE: u8 = 2;

fn load_inventory(cli: &Cli) -> Result<Inventory, String> {
    let Some(path) = cli.inventory.as_deref() else {
        return Err(format!(
            "deploying needs an inventory (the apps per host come from it): pass -i PATH or set {INVENTORY_ENV}"
        ));
    };
    let inventory = Inventory::load(path).map_err(|e| e.to_string())?;
    for warning in inventory.warnings() {
        eprintln!("fleetdeck: warning: {warning}");
    }
    Ok(inventory)
}

fn prompt(cli: &Cli) -> Box<dyn PassphrasePrompt + Send + Sync> {
    if cli.batch {
        Box::new(NeverAsk)
    } else {
        Box::new(TerminalPrompt)
    }
}

/// Asks on the terminal; `--yes` or a "y" goes ahead. Without a terminal and without
/// `--yes`, nothing is done.
fn confirmed(question: &str, yes: bool) -> Result<bool, String> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err("not confirmed: stdin is not a terminal; pass --yes to go ahead".into());
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn print_progress(
    mut events: tokio::sync::mpsc::UnboundedReceiver<DeployEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            let what = match (e.app.as_str(), e.service.as_str()) {
                ("", _) => String::new(),
                (app, "") => format!(" {app}"),
                (app, service) if app == service => format!(" {app}"),
                (app, service) => format!(" {app}/{service}"),
            };
            eprintln!(
                "{}{what}: {} {}",
                sanitize::line(&e.host),
                e.step,
                sanitize::line(&e.detail)
            );
        }
    })
}

#[derive(Serialize)]
struct PlanJson<'a> {
    name: &'a str,
    reachable: bool,
    error: Option<&'a str>,
    plan: Option<&'a HostPlan>,
}

#[derive(Serialize)]
struct DryRunJson<'a> {
    dry_run: bool,
    hosts: Vec<PlanJson<'a>>,
}

#[derive(Serialize)]
struct SummaryJson<'a> {
    dry_run: bool,
    hosts: &'a [HostOutcome],
}

fn print_plans(planned: &[Planned]) {
    let mut out = std::io::stdout().lock();
    for p in planned {
        match &p.reached {
            Ok((_, plan)) if plan.is_noop() => {
                let _ = writeln!(out, "{}: up to date", sanitize::line(&p.target.name));
                for line in plan::describe(plan) {
                    let _ = writeln!(out, "  {line}");
                }
            }
            Ok((_, plan)) => {
                let _ = writeln!(out, "{}:", sanitize::line(&p.target.name));
                for line in plan::describe(plan) {
                    let _ = writeln!(out, "  {line}");
                }
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{}: unreachable: {}",
                    sanitize::line(&p.target.name),
                    sanitize::line(e)
                );
            }
        }
    }
}

/// The summary as people read it: one line per host, then what failed and why.
pub fn summary_lines(outcomes: &[HostOutcome]) -> Vec<String> {
    let mut lines = Vec::new();
    for o in outcomes {
        let result = match o.result {
            HostResult::Unchanged => "unchanged",
            HostResult::Deployed => "deployed",
            HostResult::RolledBack => "ROLLED BACK",
            HostResult::Failed => "FAILED",
            HostResult::Locked => "LOCKED",
            HostResult::Unreachable => "UNREACHABLE",
            HostResult::Refused => "REFUSED",
        };
        let changed = o
            .services
            .iter()
            .filter(|s| !matches!(s.result, ServiceResult::Unchanged))
            .count();
        lines.push(sanitize::line(&format!(
            "{:<20} {result:<12} {changed} service(s), {:.1} s",
            o.name, o.duration_seconds
        )));
        if let Some(interrupted) = &o.interrupted {
            lines.push(sanitize::line(&format!(
                "  an earlier run was interrupted: {}",
                interrupted.holder.as_deref().unwrap_or("holder unknown")
            )));
            for step in interrupted.steps.iter().rev().take(5).rev() {
                lines.push(format!("    {step}"));
            }
        }
        for s in &o.services {
            if matches!(s.result, ServiceResult::Unchanged | ServiceResult::Skipped) {
                continue;
            }
            let result = match s.result {
                ServiceResult::Deployed => "deployed",
                ServiceResult::Started => "started",
                ServiceResult::RolledBack => "rolled back",
                ServiceResult::Failed => "failed",
                _ => "",
            };
            let from = s
                .from_image
                .as_deref()
                .map(|f| format!("{f} -> "))
                .unwrap_or_default();
            let mut line = format!("  {} {result}: {from}{}", s.container, s.to_image);
            if let Some(gate) = s.gate_seconds {
                line.push_str(&format!(" (healthy after {gate:.1} s)"));
            }
            lines.push(sanitize::line(&line));
            if let Some(e) = &s.error {
                lines.push(sanitize::line(&format!("    {e}")));
            }
            for log in &s.logs {
                lines.push(format!("    | {}", sanitize::line(log)));
            }
        }
        if let Some(e) = &o.error
            && o.services
                .iter()
                .all(|s| s.error.as_deref() != Some(e.as_str()))
        {
            lines.push(sanitize::line(&format!("  {e}")));
        }
    }
    lines
}

fn print_summary(outcomes: &[HostOutcome], json: bool) {
    if json {
        let doc = SummaryJson {
            dry_run: false,
            hosts: outcomes,
        };
        match serde_json::to_string_pretty(&doc) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("fleetdeck: {e}"),
        }
    } else {
        for line in summary_lines(outcomes) {
            println!("{line}");
        }
    }
}

fn core(cli: &Cli) -> Core {
    Core::new(cli.read_only, AuditLog::at_default_path())
}

/// Runs `fleetdeck deploy`; returns the exit code.
pub async fn deploy(cli: &Cli, args: &DeployArgs) -> u8 {
    let fail = |message: String| {
        eprintln!("fleetdeck: {message}");
        NOTHING_DONE
    };
    let core = core(cli);
    if !args.dry_run
        && let Err(e) = core.ensure_writable("deploy")
    {
        return fail(e.to_string());
    }
    let inventory = match load_inventory(cli) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let extra_vars = match plan::extra_vars(&args.extra_vars) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let request = Request {
        limit: cli.limit.clone(),
        apps: args.apps.clone(),
        extra_vars,
    };
    let mut identities = IdentityCache::new(prompt(cli));
    let prepared = match super::prepare(&inventory, &request, &mut identities) {
        Ok(p) => p,
        Err(problems) => {
            for p in &problems {
                eprintln!("fleetdeck: {p}");
            }
            return fail(format!(
                "nothing was changed on any host ({} problem{})",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ));
        }
    };
    drop(identities);
    let options = ssh_options(cli);
    let planned = match super::connect_and_plan(&options, prepared).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if args.dry_run {
        if args.json {
            let doc = DryRunJson {
                dry_run: true,
                hosts: planned
                    .iter()
                    .map(|p| PlanJson {
                        name: &p.target.name,
                        reachable: p.reached.is_ok(),
                        error: p.reached.as_ref().err().map(String::as_str),
                        plan: p.plan(),
                    })
                    .collect(),
            };
            match serde_json::to_string_pretty(&doc) {
                Ok(text) => println!("{text}"),
                Err(e) => return fail(e.to_string()),
            }
        } else {
            print_plans(&planned);
        }
        return if planned.iter().all(|p| p.reached.is_ok()) {
            0
        } else {
            1
        };
    }
    if !args.json {
        print_plans(&planned);
    }
    let changes: usize = planned
        .iter()
        .filter_map(Planned::plan)
        .map(|p| p.changes().count())
        .sum();
    let hosts = planned
        .iter()
        .filter(|p| p.plan().is_some_and(|p| !p.is_noop()))
        .count();
    if changes > 0 {
        match confirmed(
            &format!("Apply {changes} change(s) on {hosts} host(s)?"),
            args.yes,
        ) {
            Ok(true) => {}
            Ok(false) => return fail("not confirmed: nothing was changed".into()),
            Err(e) => return fail(e),
        }
    }
    let apply = ApplyOptions {
        gate: true,
        reason: args.reason.clone(),
        break_lock: args.break_lock,
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = print_progress(rx);
    let outcomes = super::apply_all(&core, &planned, &apply, &tx).await;
    drop(tx);
    let _ = printer.await;
    print_summary(&outcomes, args.json);
    super::exit_code(&outcomes)
}

/// Runs `fleetdeck rollback`; returns the exit code.
pub async fn rollback(cli: &Cli, args: &RollbackArgs) -> u8 {
    let fail = |message: String| {
        eprintln!("fleetdeck: {message}");
        NOTHING_DONE
    };
    let core = core(cli);
    if let Err(e) = core.ensure_writable("roll back") {
        return fail(e.to_string());
    }
    let inventory = match load_inventory(cli) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    // Rolling back needs no stacks or secrets: only the hosts and their engines.
    let targets = match super::targets(&inventory, cli.limit.as_deref()) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let prepared = super::Prepared {
        hosts: targets
            .into_iter()
            .map(|t| {
                let desired = plan::Desired {
                    host: t.name.clone(),
                    apps: vec![],
                    declared: t.settings.apps.clone(),
                };
                (t, desired)
            })
            .collect(),
    };
    let planned = match super::connect_and_plan(&ssh_options(cli), prepared).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let scope = if args.apps.is_empty() {
        "every app".to_owned()
    } else {
        args.apps.join(", ")
    };
    let reachable = planned.iter().filter(|p| p.reached.is_ok()).count();
    match confirmed(
        &format!("Roll back {scope} on {reachable} host(s) to the previous revision?"),
        args.yes,
    ) {
        Ok(true) => {}
        Ok(false) => return fail("not confirmed: nothing was changed".into()),
        Err(e) => return fail(e),
    }
    let options = ApplyOptions {
        gate: true,
        reason: args.reason.clone(),
        break_lock: args.break_lock,
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = print_progress(rx);
    let outcomes = super::rollback_all(&core, &planned, &args.apps, &options, &tx).await;
    drop(tx);
    let _ = printer.await;
    print_summary(&outcomes, args.json);
    if outcomes
        .iter()
        .all(|o| matches!(o.result, HostResult::RolledBack | HostResult::Unchanged))
    {
        0
    } else {
        1
    }
}
