//! The drill wizard's operations carried out with the drill core ([`DrillRunner`]),
//! and the core's progress events turned into the wizard's progress rows.

use std::future::Future;

use time::OffsetDateTime;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::core::Core;
use crate::core::drill::run::{self, DrillEvent};
use crate::core::drill::tool;
use crate::core::drill::{Drill, PlanError};
use crate::inventory::Inventory;
use crate::probes::drill::report::Outcome;
use crate::probes::drill::{DrillResult, History, SnapshotInfo, Step as DrillStep};
use crate::sanitize;
use crate::ssh::setup::SshOptions;
use crate::wizard::Runner;
use crate::wizard::engine::{Answers, OpRequest, ProgressEvent, ProgressSender, Tone};

use super::{APP, DrillOutput, Finished, HOST, Listed, SNAPSHOT, Stage, first};

/// The check names the core reports, in the order it runs them.
const CHECK_NAMES: [&str; 10] = [
    "scratch_target",
    "lock",
    "leftovers",
    "repository",
    "free_space",
    "integrity",
    "size",
    "files",
    "manifest",
    "container",
];

/// The core's progress as the wizard's: a check's line under the check's name, a
/// step's start and end under the step's (`ok:` / `failed:` give its tone).
pub fn progress_event(e: &DrillEvent, at: OffsetDateTime) -> ProgressEvent {
    let detail = sanitize::line(&e.detail);
    let check = CHECK_NAMES.iter().find_map(|name| {
        detail
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(": "))
            .map(|rest| (*name, rest.to_owned()))
    });
    let is_check = check.is_some();
    let (item, detail, tone) = match check {
        Some((name, rest)) => (name.to_owned(), rest, Tone::Normal),
        None => {
            let (tone, rest) = if let Some(rest) = detail.strip_prefix("ok: ") {
                (Tone::Ok, rest.to_owned())
            } else if let Some(rest) = detail.strip_prefix("failed: ") {
                (Tone::Critical, rest.to_owned())
            } else if let Some(rest) = detail.strip_prefix("skipped: ") {
                (Tone::Muted, rest.to_owned())
            } else {
                (Tone::Normal, detail.clone())
            };
            (e.step.name().to_owned(), rest, tone)
        }
    };
    ProgressEvent {
        item,
        label: String::new(),
        step: match tone {
            Tone::Ok => "done".to_owned(),
            Tone::Critical => "FAILED".to_owned(),
            Tone::Muted => "skipped".to_owned(),
            _ if is_check => "checked".to_owned(),
            _ => e.step.name().to_owned(),
        },
        detail,
        tone,
        at,
    }
}

/// Carries out the drill wizard's operations with the drill core; keeps the drill
/// (its session, its lock) between them.
pub struct DrillRunner {
    inventory: Inventory,
    ssh: SshOptions,
    core: Core,
    history: History,
    drill: Option<Drill>,
    /// The drill's progress (its sender lives in the drill).
    events: Option<UnboundedReceiver<DrillEvent>>,
}

impl DrillRunner {
    pub fn new(inventory: Inventory, ssh: SshOptions, core: Core, history: History) -> DrillRunner {
        DrillRunner {
            inventory,
            ssh,
            core,
            history,
            drill: None,
            events: None,
        }
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// A drill is under way that wrote on the host (the preflight ran): it must be
    /// finished — by the wizard's cleanup step, or by [`close`](Self::close).
    pub fn owes_finish(&self) -> bool {
        self.drill.as_ref().is_some_and(|d| {
            d.report()
                .steps
                .iter()
                .any(|s| s.step == DrillStep::Preflight)
        })
    }

    /// The wizard was closed: a drill that wrote on the host is finished (its scratch
    /// data removed, the lock released, the report saved). One closed before its
    /// verification passed is recorded as stopped by the operator. A drill that only
    /// listed snapshots wrote nothing and owes nothing.
    pub async fn close(&mut self) -> Option<Finished> {
        if !self.owes_finish() {
            self.drill = None;
            return None;
        }
        let mut drill = self.drill.take()?;
        let verified = drill
            .report()
            .steps
            .iter()
            .any(|s| s.step == DrillStep::Verify && s.outcome == Outcome::Passed);
        if !verified {
            drill.interrupt("stopped in the console before the verification: nothing was verified");
        }
        let (report, saved) = drill.finish(&self.history).await;
        self.events = None;
        Some(Finished { report, saved })
    }

    async fn finish(&mut self, progress: &ProgressSender) -> Result<DrillOutput, Vec<String>> {
        let drill = self.drill.take().ok_or_else(no_drill)?;
        let events = self.events.as_mut();
        let (report, saved) = with_events(events, progress, drill.finish(&self.history)).await;
        self.events = None;
        Ok(DrillOutput::Finished(Box::new(Finished { report, saved })))
    }

    /// After a step: the stage it reached, or — it failed — the finished drill.
    async fn after(
        &mut self,
        result: Result<(), String>,
        progress: &ProgressSender,
    ) -> Result<DrillOutput, Vec<String>> {
        match (result, self.stage()) {
            (Ok(()), Some(stage)) => Ok(stage),
            _ => self.finish(progress).await,
        }
    }

    fn stage(&self) -> Option<DrillOutput> {
        let d = self.drill.as_ref()?;
        Some(DrillOutput::Stage(Box::new(Stage {
            report: d.report().clone(),
            target: d.target_dir(),
            root: d.plan().root.clone(),
        })))
    }

    /// A report of a drill that never reached the host's data, saved.
    fn early(
        &self,
        host: &str,
        app: &str,
        result: DrillResult,
        step: DrillStep,
        check: &str,
        why: &str,
    ) -> Result<DrillOutput, Vec<String>> {
        let report = Drill::early_report(
            &self.core,
            &self.inventory,
            host,
            app,
            result,
            step,
            check,
            why,
        )
        .ok_or_else(|| vec![sanitize::line(why)])?;
        let saved = self.history.save(&report);
        Ok(DrillOutput::Finished(Box::new(Finished { report, saved })))
    }

    async fn list(
        &mut self,
        answers: &Answers<DrillOutput>,
        progress: &ProgressSender,
    ) -> Result<DrillOutput, Vec<String>> {
        let (Some(host), Some(app)) = (first(answers.chosen(HOST)), first(answers.chosen(APP)))
        else {
            return Err(vec!["no host or app chosen".to_owned()]);
        };
        // A drill of an earlier listing (the operator went back) wrote nothing.
        self.drill = None;
        self.events = None;
        let plan = match run::plan(&self.inventory, host, app) {
            Ok(p) => p,
            Err(PlanError::Invalid(e)) => return Err(vec![sanitize::line(&e)]),
            Err(PlanError::Refused(e)) => {
                return self.early(
                    host,
                    app,
                    DrillResult::Refused,
                    DrillStep::Preflight,
                    "scratch_target",
                    &e,
                );
            }
        };
        if let Some(refused) = run::refuse_read_only(&self.core, &plan, "latest") {
            return Err(vec![sanitize::line(&refused)]);
        }
        let _ = progress.send(ProgressEvent {
            item: "choose".to_owned(),
            label: String::new(),
            step: "choose".to_owned(),
            detail: format!("connecting to {}", sanitize::line(host)),
            tone: Tone::Normal,
            at: OffsetDateTime::now_utc(),
        });
        let access = match run::connect(&self.ssh, &self.inventory, &plan).await {
            Ok(a) => a,
            Err(e) => {
                let why = format!("{} unreachable: {e}", plan.host);
                return self.early(
                    host,
                    app,
                    DrillResult::Failed,
                    DrillStep::Choose,
                    "reachable",
                    &why,
                );
            }
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.drill = Some(Drill::new(self.core.clone(), plan, access, Some(tx)));
        self.events = Some(rx);
        let Self { drill, events, .. } = self;
        let Some(d) = drill.as_mut() else {
            return Err(no_drill());
        };
        let listing = with_events(events.as_mut(), progress, async {
            d.list().await.map(<[SnapshotInfo]>::to_vec)
        })
        .await;
        match listing {
            Ok(snapshots) => {
                let root = d.plan().root.clone();
                let latest = tool::select(&snapshots, "latest", root.as_deref())
                    .ok()
                    .map(|s| s.full_id.clone());
                Ok(DrillOutput::Listed(Box::new(Listed {
                    snapshots,
                    latest,
                    root,
                    target: d.target_dir(),
                    report: d.report().clone(),
                })))
            }
            Err(_) => self.finish(progress).await,
        }
    }
}

fn no_drill() -> Vec<String> {
    vec!["no drill under way".to_owned()]
}

/// Runs one step of the drill with its progress forwarded; a failure finishes it.
macro_rules! step {
    ($runner:expr, $progress:expr, |$d:ident| $work:expr) => {{
        let DrillRunner { drill, events, .. } = &mut *$runner;
        let Some($d) = drill.as_mut() else {
            return Err(no_drill());
        };
        let result = with_events(events.as_mut(), $progress, async { $work }).await;
        $runner.after(result, $progress).await
    }};
}

/// Runs `work` while forwarding the drill's events to the operation's progress.
async fn with_events<T>(
    events: Option<&mut UnboundedReceiver<DrillEvent>>,
    progress: &ProgressSender,
    work: impl Future<Output = T>,
) -> T {
    let Some(events) = events else {
        return work.await;
    };
    let send = |e: DrillEvent| {
        let _ = progress.send(progress_event(&e, OffsetDateTime::now_utc()));
    };
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            Some(e) = events.recv() => send(e),
            out = &mut work => {
                while let Ok(e) = events.try_recv() {
                    send(e);
                }
                return out;
            }
        }
    }
}

impl Runner<DrillOutput> for DrillRunner {
    fn run(
        &mut self,
        op: &OpRequest,
        answers: &Answers<DrillOutput>,
        progress: ProgressSender,
    ) -> impl Future<Output = Result<DrillOutput, Vec<String>>> {
        let op = op.op;
        async move {
            match op {
                "list" => self.list(answers, &progress).await,
                "preflight" => {
                    let Some(wanted) = first(answers.chosen(SNAPSHOT)).map(str::to_owned) else {
                        return Err(vec!["no snapshot chosen".to_owned()]);
                    };
                    step!(self, &progress, |d| {
                        d.choose(&wanted).await?;
                        d.preflight().await
                    })
                }
                "restore" => step!(self, &progress, |d| d.restore().await),
                "verify" => step!(self, &progress, |d| {
                    d.verify().await?;
                    d.measure();
                    Ok(())
                }),
                "finish" => self.finish(&progress).await,
                other => Err(vec![format!("the drill wizard has no operation {other:?}")]),
            }
        }
    }
}
