//! `fleetdeck canary`: the rollout driven from the command line. The waves and each
//! host's progress go to stderr as they change; the summary (or, with `--json`, the
//! rollout's journal document) goes to stdout.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::time::Duration;

use super::{
    AlwaysGo, CanaryEvent, GoNoGo, HostStage, Rollout, RolloutRequest, RolloutStatus, WaveSize,
};
use crate::audit::AuditLog;
use crate::cli::{CanaryArgs, Cli};
use crate::core::Core;
use crate::core::deploy::{self, IdentityCache, Request, plan};
use crate::fleet::command::ssh_options;
use crate::inventory::{INVENTORY_ENV, Inventory};
use crate::sanitize;
use crate::secrets::{NeverAsk, PassphrasePrompt, TerminalPrompt};
use crate::wizard::headless::ask_on_terminal;

const NOTHING_DONE: u8 = 2;

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
                ask_on_terminal(&format!(
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

fn wave_name(index: usize) -> String {
    if index == 0 {
        "wave 0 (canary)".to_owned()
    } else {
        format!("wave {index}")
    }
}

fn stage_word(stage: HostStage) -> &'static str {
    match stage {
        HostStage::Pending => "pending",
        HostStage::Deploying => "deploying",
        HostStage::Soaking => "soaking",
        HostStage::Passed => "passed",
        HostStage::Failed => "FAILED",
        HostStage::RolledBack => "rolled back",
        HostStage::Skipped => "skipped",
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
                            format!("{}: {} {}", wave_name(h.wave), h.name, stage_word(h.stage));
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

/// The summary as people read it.
pub fn summary_lines(rollout: &Rollout) -> Vec<String> {
    let mut lines = vec![sanitize::line(&format!(
        "rollout {}: {}",
        rollout.id,
        match rollout.status {
            RolloutStatus::Passed => "PASSED".to_owned(),
            RolloutStatus::Running => "interrupted (resume with --resume)".to_owned(),
            RolloutStatus::Halted => format!(
                "HALTED: {}",
                rollout.error.as_deref().unwrap_or("a wave failed")
            ),
        }
    ))];
    for wave in &rollout.waves {
        for name in &wave.hosts {
            if let Some(h) = rollout.host(name) {
                let mut line = format!(
                    "  {:<16} {:<20} {}",
                    wave_name(wave.index),
                    h.name,
                    stage_word(h.stage)
                );
                if let Some(e) = &h.error {
                    line.push_str(&format!(": {e}"));
                }
                lines.push(sanitize::line(&line));
                for note in &h.notes {
                    lines.push(sanitize::line(&format!("  {:<16} {:<20} {note}", "", "")));
                }
            }
        }
    }
    lines
}

/// Runs `fleetdeck canary`; returns the exit code.
pub async fn canary(cli: &Cli, args: &CanaryArgs) -> u8 {
    let fail = |message: String| {
        eprintln!("fleetdeck: {message}");
        NOTHING_DONE
    };
    let core = Core::new(cli.read_only, AuditLog::at_default_path());
    let Some(inventory_path) = cli.inventory.as_deref() else {
        return fail(format!(
            "a rollout needs an inventory: pass -i PATH or set {INVENTORY_ENV}"
        ));
    };
    let inventory_path =
        std::fs::canonicalize(inventory_path).unwrap_or_else(|_| inventory_path.to_path_buf());
    let inventory = match Inventory::load(&inventory_path) {
        Ok(i) => i,
        Err(e) => return fail(e.to_string()),
    };
    for warning in inventory.warnings() {
        eprintln!("fleetdeck: warning: {warning}");
    }
    if core.read_only {
        return fail(crate::core::deploy::command::refuse_run(
            &core,
            &inventory,
            cli,
            "canary",
            &args.apps,
            args.reason.as_deref(),
        ));
    }

    let resumed = if args.resume {
        match super::unfinished(&inventory_path) {
            Ok(Some(rollout)) => Some(rollout),
            Ok(None) => {
                return fail(format!(
                    "--resume: no unfinished rollout of {} in {}",
                    inventory_path.display(),
                    super::rollouts_dir().display()
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
                limit: cli.limit.clone(),
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
    let prompt: Box<dyn PassphrasePrompt + Send + Sync> = if cli.batch {
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
                .filter(|w| w.stage == super::WaveStage::Passed)
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
        None => match super::plan_rollout(&inventory, request, &prepared) {
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
        match ask_on_terminal(&question) {
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
    let ssh = ssh_options(cli);
    let ran = super::run_interruptible(
        &core,
        &ssh,
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
            return crate::core::deploy::command::abandoned_exit(
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
