//! `fleetdeck deploy` and `fleetdeck rollback`: the deployment core's steps, driven
//! from the command line. `deploy` walks the console's deploy wizard
//! (`crate::wizard::deploy`) through the headless driver, its answers taken from the
//! flags. Progress goes to stderr as it happens; the plan and the summary go to stdout
//! (or one JSON document with `--json`).

use serde::Serialize;

use super::apply::{ApplyOptions, DeployEvent, HostOutcome, HostResult, ServiceResult};
use super::plan::{self, HostPlan};
use crate::audit::AuditLog;
use crate::cli::{Cli, DeployArgs, RollbackArgs};
use crate::core::Core;
use crate::core::interrupt::Interrupt;
use crate::fleet::command::ssh_options;
use crate::inventory::{INVENTORY_ENV, Inventory};
use crate::sanitize;
use crate::secrets::{NeverAsk, TerminalPrompt};

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

/// Asks on the terminal; `--yes` or a "y" goes ahead. Without a terminal and without
/// `--yes`, nothing is done.
fn confirmed(question: &str, yes: bool) -> Result<bool, String> {
    if yes {
        return Ok(true);
    }
    crate::wizard::headless::ask_on_terminal(question)
}

fn print_progress(
    mut events: tokio::sync::mpsc::UnboundedReceiver<DeployEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            eprintln!("{}", e.line());
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
            HostResult::Interrupted => "INTERRUPTED",
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
            for note in &interrupted.resumed {
                lines.push(sanitize::line(&format!("  resumed: {note}")));
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

/// Refuses a whole run in read-only mode before any host is contacted: a `refused`
/// audit line for each host `--limit` selects (the target is the apps asked for);
/// the message to print.
pub fn refuse_run(
    core: &Core,
    inventory: &Inventory,
    cli: &Cli,
    action: &str,
    apps: &[String],
    reason: Option<&str>,
) -> String {
    let hosts: Vec<String> = super::targets(inventory, cli.limit.as_deref())
        .map(|targets| targets.into_iter().map(|t| t.name).collect())
        .unwrap_or_default();
    core.refuse_run(&hosts, action, &super::apps_target(apps), reason)
}

/// After a run a signal interrupted: says so and returns 128 + the signal's number;
/// `None` when no signal came.
pub fn interrupted_exit(interrupt: &Interrupt, what: &str) -> Option<u8> {
    let signal = interrupt.requested()?;
    eprintln!(
        "fleetdeck: {what} interrupted by {signal}: the step under way was finished and \
         made safe (see the summary), the lock released"
    );
    Some(signal.exit_code())
}

/// A second signal: stops waiting, says what is left as it is; returns the exit code.
pub fn abandoned_exit(interrupt: &Interrupt, what: &str, next: &str) -> u8 {
    let left = interrupt.left_behind();
    if left.is_empty() {
        eprintln!("fleetdeck: {what} abandoned on a second signal; no host was being changed");
    } else {
        eprintln!("fleetdeck: {what} abandoned on a second signal; left as they are:");
        for line in left {
            eprintln!("fleetdeck:   {line}");
        }
        eprintln!("fleetdeck: {next}");
    }
    interrupt.requested().map_or(130, |s| s.exit_code())
}

const DEPLOY_RESUMES: &str = "the next deploy or rollback on such a host reports the \
     interrupted run, takes over its lock and resumes from its journal";

fn core(cli: &Cli) -> Core {
    Core::new(cli.read_only, AuditLog::at_default_path())
}

/// Runs `fleetdeck deploy`: the deploy wizard's steps, answered from the flags
/// (`crate::wizard::deploy`); returns the exit code.
pub async fn deploy(cli: &Cli, args: &DeployArgs) -> u8 {
    use crate::wizard::deploy::{self as wizard_deploy, DeployOutput, DeployRunner, Setup};
    use crate::wizard::{Ending, Given, Headless, headless, words};

    let fail = |message: String| {
        eprintln!("fleetdeck: {message}");
        NOTHING_DONE
    };
    let core = core(cli);
    let inventory = match load_inventory(cli) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if !args.dry_run && core.read_only {
        return fail(refuse_run(
            &core,
            &inventory,
            cli,
            "deploy",
            &args.apps,
            args.reason.as_deref(),
        ));
    }
    let batch = cli.batch;
    let prompt: wizard_deploy::PromptFactory = Box::new(move || {
        if batch {
            Box::new(NeverAsk)
        } else {
            Box::new(TerminalPrompt)
        }
    });
    let interrupt = Interrupt::on_signals();
    let apply = ApplyOptions {
        gate: true,
        reason: args.reason.clone(),
        break_lock: args.break_lock,
        interrupt: interrupt.clone(),
    };
    let mut runner = match DeployRunner::new(
        inventory,
        cli.limit.clone(),
        ssh_options(cli),
        core,
        prompt,
        apply,
    ) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    runner.explicit_apps = !args.apps.is_empty();
    let wizard = wizard_deploy::wizard(Setup {
        targets: runner.targets().to_vec(),
        preselected: None,
        read_only_disabled: false,
    });
    let mut driver = Headless::new(args.yes);
    driver.print_reviews = !args.json;
    driver.stop_after = args.dry_run.then_some(wizard_deploy::REVIEW);
    driver.ask = Box::new(headless::ask_on_terminal);
    if !args.apps.is_empty() {
        // Apps no selected host declares select nothing (as `prepare` treats them);
        // when that leaves none, nothing is done.
        let hosts: Vec<String> = runner.targets().iter().map(|t| t.name.clone()).collect();
        let declared = wizard_deploy::app_options(runner.targets(), &hosts);
        let mut apps: Vec<String> = Vec::new();
        for app in args.apps.iter().filter(|a| declared.contains(a)) {
            if !apps.contains(app) {
                apps.push(app.clone());
            }
        }
        if apps.is_empty() {
            eprintln!("fleetdeck: no selected host runs {}", args.apps.join(", "));
            return fail("nothing was changed on any host (1 problem)".to_owned());
        }
        driver
            .given
            .insert(wizard_deploy::APPS, Given::Chosen(apps));
    }
    driver.given.insert(
        wizard_deploy::VARS,
        Given::Text(words::join(&args.extra_vars)),
    );
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let outcome = tokio::select! {
        outcome = crate::wizard::headless::drive(
            wizard, &mut runner, &mut driver, &mut stdout, &mut stderr,
        ) => outcome,
        () = interrupt.wait_abandoned() => {
            return abandoned_exit(&interrupt, "deploy", DEPLOY_RESUMES);
        }
    };
    if let Some(code) = interrupted_exit(&interrupt, "deploy") {
        if args.json
            && let Some(DeployOutput::Applied(outcomes)) =
                outcome.answers.output(wizard_deploy::APPLY)
        {
            print_summary(outcomes, true);
        }
        return code;
    }
    match outcome.ending {
        Ending::Failed { step, problems } => {
            for p in &problems {
                eprintln!("fleetdeck: {p}");
            }
            if step == wizard_deploy::PLAN {
                eprintln!(
                    "fleetdeck: nothing was changed on any host ({} problem{})",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
            }
            NOTHING_DONE
        }
        Ending::Refused { .. } | Ending::Cancelled => fail(
            outcome
                .message
                .unwrap_or_else(|| "not confirmed: nothing was changed".to_owned()),
        ),
        Ending::Stopped { .. } => {
            let planned = runner.planned();
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
            }
            if planned.iter().all(|p| p.reached.is_ok()) {
                0
            } else {
                1
            }
        }
        Ending::Completed | Ending::Closed => {
            let outcomes = match outcome.answers.output(wizard_deploy::APPLY) {
                Some(DeployOutput::Applied(outcomes)) => outcomes.clone(),
                _ => return fail("the deploy ended without applying".to_owned()),
            };
            if args.json {
                print_summary(&outcomes, true);
            }
            super::exit_code(&outcomes)
        }
    }
}

/// Runs `fleetdeck rollback`; returns the exit code.
pub async fn rollback(cli: &Cli, args: &RollbackArgs) -> u8 {
    let fail = |message: String| {
        eprintln!("fleetdeck: {message}");
        NOTHING_DONE
    };
    let core = core(cli);
    let inventory = match load_inventory(cli) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if core.read_only {
        return fail(refuse_run(
            &core,
            &inventory,
            cli,
            "rollback",
            &args.apps,
            args.reason.as_deref(),
        ));
    }
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
    let interrupt = Interrupt::on_signals();
    let options = ApplyOptions {
        gate: true,
        reason: args.reason.clone(),
        break_lock: args.break_lock,
        interrupt: interrupt.clone(),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = print_progress(rx);
    let outcomes = tokio::select! {
        outcomes = super::rollback_all(&core, &planned, &args.apps, &options, &tx) => outcomes,
        () = interrupt.wait_abandoned() => {
            return abandoned_exit(&interrupt, "rollback", DEPLOY_RESUMES);
        }
    };
    drop(tx);
    let _ = printer.await;
    print_summary(&outcomes, args.json);
    if let Some(code) = interrupted_exit(&interrupt, "rollback") {
        return code;
    }
    if outcomes
        .iter()
        .all(|o| matches!(o.result, HostResult::RolledBack | HostResult::Unchanged))
    {
        0
    } else {
        1
    }
}
