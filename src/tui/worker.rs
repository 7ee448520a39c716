//! A wizard's worker: a thread with its own runtime, where the wizard's operations
//! run one after another (the core's parallel host futures cannot be spawned onto
//! the console's runtime, not being `Send`). The SSH sessions a plan opens live on
//! this runtime, which keeps running between operations, so they stay up while the
//! operator reads the plan.

use std::future::Future;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use super::app::Msg;
use super::wizards::WizardOutput;
use crate::wizard::canary::CanaryOutput;
use crate::wizard::deploy::DeployOutput;
use crate::wizard::drill::{DrillOutput, DrillRunner};
use crate::wizard::{Answers, OpRequest, Runner};

/// Where a wizard's operation requests go; closing it ends the worker's thread.
pub type Operations<O> = mpsc::UnboundedSender<(OpRequest, Answers<O>)>;

/// The open wizard's worker, by wizard. Dropping it ends the thread.
pub enum WizardWorker {
    Deploy(Operations<DeployOutput>),
    Canary(Operations<CanaryOutput>),
    /// With its thread, which finishes a drill under way when the channel closes.
    Drill(Operations<DrillOutput>, JoinHandle<()>),
}

/// Starts the deploy or canary wizard's worker.
pub fn spawn_wizard_worker<O, R>(runner: R, ui: mpsc::Sender<Msg>) -> Result<Operations<O>, String>
where
    O: Send + 'static,
    R: Runner<O> + Send + 'static,
    WizardOutput: From<O>,
{
    let (operations, _thread) = spawn("fleetdeck-wizard", runner, ui, |_, _| async {})?;
    Ok(operations)
}

/// The drill wizard's worker: as [`spawn_wizard_worker`], and when the wizard is
/// closed (its channel dropped) a drill that wrote on its host is finished there —
/// scratch data removed, lock released, report saved — and the result noted.
pub fn spawn_drill_worker(
    runner: DrillRunner,
    ui: mpsc::Sender<Msg>,
) -> Result<WizardWorker, String> {
    let (operations, thread) = spawn("fleetdeck-drill", runner, ui, finish_drill)?;
    Ok(WizardWorker::Drill(operations, thread))
}

/// The one worker thread: serves `runner`'s operations until the channel closes (or
/// the console stops listening), then runs `after_close` with the runner.
fn spawn<O, R, F, Fut>(
    name: &str,
    mut runner: R,
    ui: mpsc::Sender<Msg>,
    after_close: F,
) -> Result<(Operations<O>, JoinHandle<()>), String>
where
    O: Send + 'static,
    R: Runner<O> + Send + 'static,
    WizardOutput: From<O>,
    F: FnOnce(R, mpsc::Sender<Msg>) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let (operations, mut requests) = mpsc::unbounded_channel::<(OpRequest, Answers<O>)>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting its runtime: {e}"))?;
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                while let Some((op, answers)) = requests.recv().await {
                    let wizard = op.wizard;
                    let (progress, mut events) = mpsc::unbounded_channel();
                    let run = runner.run(&op, &answers, progress);
                    let forward = async {
                        while let Some(event) = events.recv().await {
                            let _ = ui.send(Msg::WizardProgress { wizard, event }).await;
                        }
                    };
                    let (result, ()) = tokio::join!(run, forward);
                    let result = result.map(WizardOutput::from);
                    if ui.send(Msg::WizardDone { op, result }).await.is_err() {
                        break;
                    }
                }
                after_close(runner, ui).await;
            });
        })
        .map_err(|e| format!("starting its thread: {e}"))?;
    Ok((operations, thread))
}

/// Finishes a drill the closed wizard left under way and says how it ended.
async fn finish_drill(mut runner: DrillRunner, ui: mpsc::Sender<Msg>) {
    if let Some(done) = runner.close().await {
        let r = &done.report;
        let saved = match &done.saved {
            Ok((_, md)) => format!("report: {}", md.display()),
            Err(e) => format!("the report could not be saved: {e}"),
        };
        let removed = if r.cleanup.removed {
            "scratch data removed"
        } else {
            "SCRATCH DATA LEFT"
        };
        let _ = ui
            .send(Msg::Notice(crate::sanitize::line(&format!(
                "drill on {} ended ({:?}): {removed}; {saved}",
                r.host, r.result
            ))))
            .await;
    }
}
