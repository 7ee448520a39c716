//! `fleetdeck drill`: one restore drill, headless. Progress goes to stderr; the report
//! (Markdown, or JSON with `--json`) to stdout, and both are saved in the history.
//! Exit 0 passed, 1 failed, 2 nothing done (bad input, refused, not confirmed).

use std::process::ExitCode;

use color_eyre::eyre::Result;

use super::Context;
use super::ending::{ExitCodeOf, NOTHING_DONE, abandoned_exit};
use crate::cli::DrillArgs;
use crate::core::drill::run::{self, Drill, PlanError, RunStop};
use crate::core::interrupt::Interrupt;
use crate::probes::drill::report::Outcome;
use crate::probes::drill::{DrillReport, DrillResult, History, Step};
use crate::sanitize;

fn emit(
    report: &DrillReport,
    saved: Result<(std::path::PathBuf, std::path::PathBuf), String>,
    json: bool,
) {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("fleetdeck: {e}"),
        }
    } else {
        print!("{}", report.to_markdown());
    }
    match saved {
        Ok((json_path, md_path)) => eprintln!(
            "fleetdeck: report saved: {} ({})",
            md_path.display(),
            json_path.display()
        ),
        Err(e) => eprintln!("fleetdeck: warning: the report could not be saved: {e}"),
    }
}

/// Runs `fleetdeck drill`. Exit 0: passed; 1: failed; 2: nothing done; 128 + a
/// signal's number: interrupted.
pub async fn run(ctx: &Context, args: &DrillArgs) -> Result<ExitCode> {
    Ok(ExitCode::from(
        drill_with(ctx, args, &History::default_location()).await,
    ))
}

/// Runs the drill, keeping reports in `history`; returns the exit code.
async fn drill_with(ctx: &Context, args: &DrillArgs, history: &History) -> u8 {
    let fail = |message: &str| {
        eprintln!("fleetdeck: {}", sanitize::line(message));
        NOTHING_DONE
    };
    let core = ctx.core();
    let inventory = match ctx
        .require_inventory("a drill needs an inventory (fleetdeck_drills comes from it)")
    {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    let early = |result: DrillResult, step: Step, check: &str, why: &str| {
        Drill::early_report(
            &core, &inventory, &args.host, &args.app, result, step, check, why,
        )
    };
    let plan = match run::plan(&inventory, &args.host, &args.app) {
        Ok(p) => p,
        Err(PlanError::Invalid(e)) => return fail(&e),
        Err(PlanError::Refused(e)) => {
            eprintln!("fleetdeck: {}", sanitize::line(&e));
            if let Some(report) = early(DrillResult::Refused, Step::Preflight, "scratch_target", &e)
            {
                let saved = history.save(&report);
                emit(&report, saved, args.json);
            }
            return NOTHING_DONE;
        }
    };
    if let Some(refused) = run::refuse_read_only(&core, &plan, &args.snapshot) {
        return fail(&refused);
    }
    let access = match run::connect(&ctx.ssh, &inventory, &plan).await {
        Ok(a) => a,
        Err(e) => {
            let why = format!("{} unreachable: {e}", plan.host);
            eprintln!("fleetdeck: {}", sanitize::line(&why));
            if let Some(report) = early(DrillResult::Failed, Step::Choose, "reachable", &why) {
                let saved = history.save(&report);
                emit(&report, saved, args.json);
            }
            return 1;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<run::DrillEvent>();
    let host = plan.host.clone();
    let printer = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            eprintln!(
                "{} drill {}: {}",
                sanitize::line(&host),
                e.step.name(),
                sanitize::line(&e.detail)
            );
        }
    });
    let (host, state_dir) = (plan.host.clone(), plan.settings.state_dir.clone());
    let mut drill = Drill::new(core.clone(), plan, access, Some(tx));
    let yes = args.yes;
    // SIGINT/SIGTERM/SIGHUP are caught once the drill is confirmed (before, they end
    // the process as usual: nothing has been written on the host).
    let interrupt = Interrupt::on_signals();
    let confirm = |d: &Drill| -> Result<bool, String> {
        let answer = if yes {
            Ok(true)
        } else {
            let snap = d.chosen().map_or("-".to_owned(), |s| s.id.clone());
            crate::tty::ask_yes_no(&format!(
                "Restore snapshot {snap} of {} into {} on {} (then verify and remove it)?",
                d.plan().repo.name,
                d.target_dir(),
                d.plan().host
            ))
        };
        if matches!(answer, Ok(true)) {
            interrupt.listen();
            interrupt.note(
                &d.plan().host,
                &format!(
                    "the scratch data under {} and the lock in {} (the next drill on this \
                     host removes the scratch data it marked and takes over the lock)",
                    d.target_dir(),
                    d.plan().settings.state_dir
                ),
            );
        }
        answer
    };
    let stop = tokio::select! {
        stop = drill.run(&args.snapshot, confirm) => stop.err(),
        signal = interrupt.wait() => Some(RunStop::Interrupted(format!(
            "interrupted by {signal}: stopped; the scratch data is removed and the lock released"
        ))),
    };
    match &stop {
        Some(RunStop::NotConfirmed(e)) => {
            drop(drill);
            let _ = printer.await;
            return fail(e);
        }
        Some(RunStop::Interrupted(why)) => drill.interrupt(why),
        _ => {}
    }
    // Cleaning up and releasing the lock; a second signal abandons them.
    let (report, saved) = tokio::select! {
        finished = drill.finish(history) => finished,
        () = interrupt.wait_abandoned() => {
            return abandoned_exit(
                &interrupt,
                "drill",
                "remove it by hand, or run the drill again",
            );
        }
    };
    interrupt.done(&host);
    let _ = printer.await;
    emit(&report, saved, args.json);
    if let Some(signal) = interrupt.requested() {
        let cleaned = !report
            .steps
            .iter()
            .any(|s| s.step == Step::Cleanup && s.outcome == Outcome::Failed);
        let released = !report
            .checks
            .iter()
            .any(|c| c.step == Step::Cleanup && c.name == "lock" && c.outcome == Outcome::Failed);
        eprintln!(
            "fleetdeck: drill interrupted by {signal}: {}; {} (the report says at which step)",
            if cleaned {
                "its scratch data is removed"
            } else {
                "removing its scratch data FAILED (see the report)"
            },
            if released {
                format!("its lock in {} is released", sanitize::line(&state_dir))
            } else {
                "releasing its lock FAILED (see the report)".to_owned()
            }
        );
        return signal.exit_code();
    }
    report.result.exit_code()
}
