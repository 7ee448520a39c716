//! `fleetdeck deploy`: the deploy wizard's steps (`crate::wizard::deploy`) walked by
//! the headless driver, their answers taken from the flags. Progress goes to stderr as
//! it happens; the plan and the summary go to stdout (or one JSON document with
//! `--json`).

use std::process::ExitCode;

use color_eyre::eyre::Result;
use serde::Serialize;

use super::Context;
use super::ending::{
    DEPLOY_RESUMES, NOTHING_DONE, abandoned_exit, deploy_exit_code, interrupted_exit, nothing_done,
    print_summary, refuse_run,
};
use super::headless::{self, Given, Headless};
use crate::cli::DeployArgs;
use crate::core::deploy::{ApplyOptions, HostPlan};
use crate::core::interrupt::Interrupt;
use crate::secrets::{NeverAsk, TerminalPrompt};
use crate::util::shell;
use crate::wizard::Ending;
use crate::wizard::deploy::{self as wizard_deploy, DeployOutput, DeployRunner, Setup};

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

/// Runs `fleetdeck deploy`. Exit 0: every host deployed or unchanged; 1: a host
/// failed; 2: nothing was done; 128 + a signal's number: interrupted.
pub async fn run(ctx: &Context, args: &DeployArgs) -> Result<ExitCode> {
    Ok(ExitCode::from(deploy(ctx, args).await))
}

async fn deploy(ctx: &Context, args: &DeployArgs) -> u8 {
    let fail = |message: String| nothing_done(&message);
    let core = ctx.core();
    let inventory = match ctx.require_inventory(INVENTORY_NEEDED) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if !args.dry_run && core.read_only {
        return fail(refuse_run(
            &core,
            &inventory,
            ctx.limit.as_deref(),
            "deploy",
            &args.apps,
            args.reason.as_deref(),
        ));
    }
    let batch = ctx.batch();
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
        ctx.limit.clone(),
        ctx.ssh.clone(),
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
    driver.ask = Box::new(crate::tty::ask_yes_no);
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
        Given::Text(shell::join_words(&args.extra_vars)),
    );
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let outcome = tokio::select! {
        outcome = headless::drive(
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
            deploy_exit_code(&outcomes)
        }
    }
}

/// Said when no inventory is given: the apps per host come from it.
pub(super) const INVENTORY_NEEDED: &str =
    "deploying needs an inventory (the apps per host come from it)";
