//! `fleetdeck rollback`: services returned to the revision before the last deploy, at
//! once. Progress goes to stderr as it happens; the summary to stdout (or one JSON
//! document with `--json`).

use std::process::ExitCode;

use color_eyre::eyre::Result;

use super::Context;
use super::deploy::INVENTORY_NEEDED;
use super::ending::{
    DEPLOY_RESUMES, abandoned_exit, interrupted_exit, nothing_done, print_summary, refuse_run,
    rollback_exit_code,
};
use crate::cli::RollbackArgs;
use crate::core::deploy::{self, ApplyOptions, DeployEvent};
use crate::core::interrupt::Interrupt;
use crate::fleet::target;

/// Runs `fleetdeck rollback`. Exit 0: every host rolled back or unchanged; 1: a host
/// failed; 2: nothing was done; 128 + a signal's number: interrupted.
pub async fn run(ctx: &Context, args: &RollbackArgs) -> Result<ExitCode> {
    Ok(ExitCode::from(rollback(ctx, args).await))
}

async fn rollback(ctx: &Context, args: &RollbackArgs) -> u8 {
    let fail = |message: String| nothing_done(&message);
    let core = ctx.core();
    let inventory = match ctx.require_inventory(INVENTORY_NEEDED) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if core.read_only {
        return fail(refuse_run(
            &core,
            &inventory,
            ctx.limit.as_deref(),
            "rollback",
            &args.apps,
            args.reason.as_deref(),
        ));
    }
    // Rolling back needs no stacks or secrets: only the hosts and their engines.
    let targets = match target::nonempty_targets(&inventory, ctx.limit.as_deref()) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let prepared = deploy::Prepared {
        hosts: targets
            .into_iter()
            .map(|t| {
                let desired = deploy::Desired {
                    host: t.name.clone(),
                    apps: vec![],
                    declared: t.settings.apps.clone(),
                };
                (t, desired)
            })
            .collect(),
    };
    let planned = match deploy::connect_and_plan(&ctx.ssh, prepared).await {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let scope = if args.apps.is_empty() {
        "every app".to_owned()
    } else {
        args.apps.join(", ")
    };
    let reachable = planned.iter().filter(|p| p.reached.is_ok()).count();
    let question = format!("Roll back {scope} on {reachable} host(s) to the previous revision?");
    // `--yes` or a "y" goes ahead; without a terminal and without `--yes`, nothing is
    // done.
    let answer = if args.yes {
        Ok(true)
    } else {
        crate::tty::ask_yes_no(&question)
    };
    match answer {
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
        outcomes = deploy::rollback_all(&core, &planned, &args.apps, &options, &tx) => outcomes,
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
    rollback_exit_code(&outcomes)
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
