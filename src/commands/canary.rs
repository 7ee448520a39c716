//! `fleetdeck canary`: the rollout driven from the command line. The waves and each
//! host's progress go to stderr as they change; the summary (or, with `--json`, the
//! rollout's journal document) goes to stdout.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::Result;

use super::Context;
use super::ending::{abandoned_exit, nothing_done};
use crate::cli::CanaryArgs;
use crate::core::canary::summary::{summary_lines, wave_name};
use crate::core::canary::{
    self, AlwaysGo, CanaryEvent, GoNoGo, HostStage, Rollout, RolloutRequest, RolloutStatus,
    WaveSize,
};
use crate::core::deploy::{self, IdentityCache, Request, plan};
use crate::sanitize;
use crate::secrets::{NeverAsk, PassphrasePrompt, TerminalPrompt};
use crate::tty::ask_yes_no;

/// Asks on the terminal between waves.
struct AskOnTerminal;

impl GoNoGo for AskOnTerminal {
    fn decide<'a>(
        &'a self,
        rollout: &'a Rollout,
        wave: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        let next = rollout
            .waves
            .get(wave + 1)
            .map(|w| w.hosts.join(", "))
            .unwrap_or_default();
        // Problems the rollout did not cause were printed with their hosts above.
        let notes: usize = rollout
            .hosts
            .iter()
            .filter(|h| h.wave == wave)
            .map(|h| h.notes.len())
            .sum();
        let with = match notes {
            0 => String::new(),
            n => format!(" with {n} service(s) already unhealthy before the rollout (above)"),
        };
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                ask_yes_no(&format!(
                    "wave {wave} passed its gate{with}. Go on to wave {} ({next})?",
                    wave + 1
                ))
                .unwrap_or(false)
            })
            .await
            .unwrap_or(false)
        })
    }
}

/// Prints what changed on the board since the last event.
fn print_events(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<CanaryEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen: BTreeMap<String, HostStage> = BTreeMap::new();
        let mut last_soak = None;
        while let Some(event) = rx.recv().await {
            match event {
                CanaryEvent::Board(rollout) => {
                    for h in &rollout.hosts {
                        if seen.get(&h.name) == Some(&h.stage) {
                            continue;
                        }
                        seen.insert(h.name.clone(), h.stage);
                        let mut line =
                            format!("{}: {} {}", wave_name(h.wave), h.name, h.stage.word());
                        if let Some(e) = &h.error
                            && matches!(h.stage, HostStage::Failed | HostStage::RolledBack)
                        {
                            line.push_str(&format!(": {e}"));
                        }
                        eprintln!("{}", sanitize::line(&line));
                        for note in &h.notes {
                            eprintln!("{}", sanitize::line(&format!("  {}: {note}", h.name)));
                        }
                    }
                }
                CanaryEvent::Step(e) => eprintln!("  {}", e.line()),
                CanaryEvent::Soak { wave, left } => {
                    if last_soak != Some((wave, left)) {
                        last_soak = Some((wave, left));
                        eprintln!("{}: soaking, {left} s left", wave_name(wave));
                    }
                }
            }
        }
    })
}

/// Runs `fleetdeck canary`. Exit 0: passed; 1: halted; 2: nothing was done; 128 + a
/// signal's number: interrupted.
pub async fn run(ctx: &Context, args: &CanaryArgs) -> Result<ExitCode> {
    Ok(ExitCode::from(canary(ctx, args).await))
}

async fn canary(ctx: &Context, args: &CanaryArgs) -> u8 {
    let fail = |message: String| nothing_done(&message);
    let core = ctx.core();
    let inventory_path = match ctx.inventory_path("a rollout needs an inventory") {
        Ok(path) => path,
        Err(e) => return fail(e),
    };
    // The journal records the canonical path; `--resume` looks it up by that.
    let inventory_path =
        std::fs::canonicalize(inventory_path).unwrap_or_else(|_| inventory_path.to_path_buf());
    let inventory = match super::load_inventory(&inventory_path) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if core.read_only {
        return fail(super::ending::refuse_run(
            &core,
            &inventory,
            ctx.limit.as_deref(),
            "canary",
            &args.apps,
            args.reason.as_deref(),
        ));
    }

    let resumed = if args.resume {
        match canary::unfinished(&inventory_path) {
            Ok(Some(rollout)) => Some(rollout),
            Ok(None) => {
                return fail(format!(
                    "--resume: no unfinished rollout of {} in {}",
                    inventory_path.display(),
                    canary::rollouts_dir().display()
                ));
            }
            Err(e) => return fail(format!("--resume: reading the rollout journals: {e}")),
        }
    } else {
        None
    };
    let request = match &resumed {
        Some(r) => r.request.clone(),
        None => {
            let wave_size = match WaveSize::parse(&args.wave_size) {
                Ok(w) => w,
                Err(e) => return fail(e),
            };
            let extra_vars = match plan::extra_vars(&args.extra_vars) {
                Ok(v) => v,
                Err(e) => return fail(e),
            };
            RolloutRequest {
                inventory: inventory_path.clone(),
                limit: ctx.limit.clone(),
                apps: args.apps.clone(),
                extra_vars,
                canary: args.canary.clone(),
                wave_size,
                max_failures: args.max_failures,
                soak_seconds: args.soak,
                strict_soak: args.strict_soak,
                rollback_all: args.rollback_all,
                reason: args.reason.clone(),
            }
        }
    };
    let prompt: Box<dyn PassphrasePrompt + Send + Sync> = if ctx.batch() {
        Box::new(NeverAsk)
    } else {
        Box::new(TerminalPrompt)
    };
    let mut identities = IdentityCache::new(prompt);
    let deploy_request = Request {
        limit: request.limit.clone(),
        apps: request.apps.clone(),
        extra_vars: request.extra_vars.clone(),
    };
    let prepared = match deploy::prepare(&inventory, &deploy_request, &mut identities) {
        Ok(p) => p,
        Err(problems) => {
            for p in &problems {
                eprintln!("fleetdeck: {p}");
            }
            return fail("nothing was changed on any host".into());
        }
    };
    drop(identities);
    let mut rollout = match resumed {
        Some(mut r) => {
            let passed: Vec<String> = r
                .waves
                .iter()
                .filter(|w| w.stage == canary::WaveStage::Passed)
                .map(|w| wave_name(w.index))
                .collect();
            eprintln!(
                "resuming rollout {} (started {}); already passed, not deployed again: {}",
                r.id,
                r.started,
                if passed.is_empty() {
                    "none".to_owned()
                } else {
                    passed.join(", ")
                }
            );
            // The rollout's hosts must still be selected by its own request.
            let known: Vec<&str> = prepared
                .hosts
                .iter()
                .map(|(t, _)| t.name.as_str())
                .collect();
            if let Some(missing) = r.hosts.iter().find(|h| !known.contains(&h.name.as_str())) {
                return fail(format!(
                    "--resume: {} is part of rollout {} but no longer selected by the inventory",
                    missing.name, r.id
                ));
            }
            r.error = None;
            r
        }
        None => match canary::plan_rollout(&inventory, request, &prepared) {
            Ok(r) => r,
            Err(e) => return fail(e),
        },
    };
    for wave in &rollout.waves {
        eprintln!("{}: {}", wave_name(wave.index), wave.hosts.join(", "));
    }
    if !args.resume && !args.yes {
        let question = format!(
            "Start the rollout ({} waves, {} hosts, soak {} s)?",
            rollout.waves.len(),
            rollout.hosts.len(),
            rollout.request.soak_seconds
        );
        match ask_yes_no(&question) {
            Ok(true) => {}
            Ok(false) => return fail("not confirmed: nothing was changed".into()),
            Err(e) => return fail(e),
        }
    }
    if let Err(e) = rollout.save() {
        return fail(format!(
            "cannot write the rollout journal {}: {e}",
            rollout.path().display()
        ));
    }
    let gate: Box<dyn GoNoGo> = if args.yes || !std::io::stdin().is_terminal() {
        Box::new(AlwaysGo)
    } else {
        Box::new(AskOnTerminal)
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = print_events(rx);
    let interrupt = crate::core::interrupt::Interrupt::on_signals();
    let ran = canary::run_interruptible(
        &core,
        &ctx.ssh,
        &mut rollout,
        prepared,
        gate.as_ref(),
        &tx,
        args.break_lock,
        &interrupt,
    );
    tokio::select! {
        () = ran => {}
        () = interrupt.wait_abandoned() => {
            return abandoned_exit(
                &interrupt,
                "canary rollout",
                "the next deploy, canary --resume or rollback on such a host reports the \
                 interrupted run, takes over its lock and resumes from its journal",
            );
        }
    }
    drop(tx);
    // The printer drains what is queued; never wait on it for long.
    let _ = tokio::time::timeout(Duration::from_secs(5), printer).await;
    if args.json {
        match serde_json::to_string_pretty(&rollout) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("fleetdeck: {e}"),
        }
    } else {
        for line in summary_lines(&rollout) {
            println!("{line}");
        }
        println!("journal: {}", rollout.path().display());
    }
    if let Some(signal) = interrupt.requested() {
        eprintln!(
            "fleetdeck: canary rollout interrupted by {signal}: {}",
            sanitize::line(rollout.error.as_deref().unwrap_or("stopped"))
        );
        return signal.exit_code();
    }
    match rollout.status {
        RolloutStatus::Passed => 0,
        _ => 1,
    }
}
