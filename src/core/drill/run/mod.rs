//! The drill's steps on one host. Each step is an async method of [`Drill`], so the
//! console's wizard can show and confirm them one by one; [`Drill::run`] walks them
//! all, as `fleetdeck drill` does. Whatever fails, [`Drill::finish`] removes the
//! scratch data, releases the lock and saves a report.
//!
//! This file holds the drill's state and its record keeping; each step is in the
//! file of its name: `plan` (step 0, no host contacted), `access` (the host's
//! session and engine), `choose`, `preflight`, `restore`, `verify` (with the
//! throwaway `container`), `finish` (measure, cleanup, report) and `audit_trail`.

mod access;
mod audit_trail;
mod choose;
mod container;
mod finish;
mod plan;
mod preflight;
mod restore;
mod verify;

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::{overlap, tool};
use crate::audit;
use crate::core::Core;
use crate::core::deploy::lock::HostLock;
use crate::core::deploy::shell::Output;
use crate::inventory::Inventory;
use crate::probes::backup::{self as probe, BackupKind};
use crate::probes::drill::SnapshotInfo;
use crate::probes::drill::report::{
    CheckRecord, CleanupRecord, DrillReport, DrillResult, FORMAT_VERSION, Outcome, RepositoryInfo,
    Step, StepRecord,
};
use crate::sanitize;

pub use access::{DrillAccess, connect};
pub use plan::{DrillPlan, PlanError, declared, plan, refuse_read_only};

/// Output kept from a tool (per stream): listings of large repositories are long.
const MAX_TOOL_OUTPUT: usize = 16 * 1024 * 1024;
/// Quick commands (counting, checking files, `df`, `realpath`).
const QUICK: Duration = Duration::from_secs(300);
/// How many snapshots of a listing get their restore size measured.
pub const SIZED_IN_LISTING: usize = 10;
/// The marker file in a drill's scratch directory (what leftover clean-up looks for).
const MARKER: &str = ".fleetdeck-drill";

/// A step's progress, as front ends show it while it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillEvent {
    pub step: Step,
    pub detail: String,
}

pub type Events = Option<tokio::sync::mpsc::UnboundedSender<DrillEvent>>;

/// A drill under way.
pub struct Drill {
    plan: DrillPlan,
    core: Core,
    access: DrillAccess,
    events: Events,
    report: DrillReport,
    snapshots: Vec<SnapshotInfo>,
    chosen: Option<SnapshotInfo>,
    lock: Option<HostLock>,
    /// The drill's directory, once anything may have been written there.
    target: Option<String>,
    /// The intent line was written (a result line is owed).
    audited: bool,
    step_started: Instant,
    /// The step under way (what an interruption is reported against).
    current: Step,
    started: OffsetDateTime,
}

fn tool_name(kind: BackupKind) -> &'static str {
    match kind {
        BackupKind::Restic => "restic",
        BackupKind::Borg => "borg",
    }
}

/// A drill that stops here: the step it failed in and why.
type StepResult<T> = Result<T, String>;

impl Drill {
    pub fn new(core: Core, plan: DrillPlan, access: DrillAccess, events: Events) -> Drill {
        let now = OffsetDateTime::now_utc();
        let report = DrillReport {
            version: FORMAT_VERSION,
            id: audit::new_action_id(),
            host: plan.host.clone(),
            app: plan.app.clone(),
            operator: core.operator.clone(),
            started_at: now,
            finished_at: now,
            result: DrillResult::Failed,
            failed_step: None,
            error: None,
            repository: RepositoryInfo {
                name: plan.repo.name.clone(),
                kind: plan.repo.kind,
                location: probe::redact_url_password(&plan.repo.repository),
            },
            snapshot: None,
            scratch_dir: plan.spec.scratch_dir.clone(),
            target: None,
            rto_seconds: None,
            rpo_seconds: None,
            steps: Vec::new(),
            checks: Vec::new(),
            size: None,
            cleanup: CleanupRecord {
                removed: true,
                error: None,
            },
        };
        Drill {
            plan,
            core,
            access,
            events,
            report,
            snapshots: Vec::new(),
            chosen: None,
            lock: None,
            target: None,
            audited: false,
            step_started: Instant::now(),
            current: Step::Choose,
            started: now,
        }
    }

    /// The report of a drill that ended before reaching the host's data: refused
    /// (the plan was unsafe) or failed (the host could not be reached). `check` names
    /// what stopped it. `None` when the inventory declares no such drill.
    #[allow(clippy::too_many_arguments)]
    pub fn early_report(
        core: &Core,
        inventory: &Inventory,
        host: &str,
        app: &str,
        result: DrillResult,
        step: Step,
        check: &str,
        why: &str,
    ) -> Option<DrillReport> {
        let settings = inventory.host(host)?.settings();
        let spec = settings.drills.get(app)?;
        let repo = settings
            .backups
            .iter()
            .find(|r| r.name == spec.repository)?;
        let now = OffsetDateTime::now_utc();
        let why = sanitize::line(why);
        Some(DrillReport {
            version: FORMAT_VERSION,
            id: audit::new_action_id(),
            host: host.to_owned(),
            app: app.to_owned(),
            operator: core.operator.clone(),
            started_at: now,
            finished_at: now,
            result,
            failed_step: Some(step),
            error: Some(why.clone()),
            repository: RepositoryInfo {
                name: repo.name.clone(),
                kind: repo.kind,
                location: probe::redact_url_password(&repo.repository),
            },
            snapshot: None,
            scratch_dir: spec.scratch_dir.clone(),
            target: None,
            rto_seconds: None,
            rpo_seconds: None,
            steps: vec![StepRecord {
                step,
                outcome: Outcome::Failed,
                seconds: 0.0,
                detail: why.clone(),
            }],
            checks: vec![CheckRecord {
                step,
                name: check.to_owned(),
                outcome: Outcome::Failed,
                detail: why,
            }],
            size: None,
            cleanup: CleanupRecord {
                removed: true,
                error: None,
            },
        })
    }

    pub fn plan(&self) -> &DrillPlan {
        &self.plan
    }

    pub fn report(&self) -> &DrillReport {
        &self.report
    }

    pub fn snapshots(&self) -> &[SnapshotInfo] {
        &self.snapshots
    }

    pub fn chosen(&self) -> Option<&SnapshotInfo> {
        self.chosen.as_ref()
    }

    /// The scratch directory this drill restores into.
    pub fn target_dir(&self) -> String {
        let base = overlap::normalized(&self.plan.spec.scratch_dir)
            .unwrap_or_else(|| self.plan.spec.scratch_dir.clone());
        format!(
            "{}/fleetdeck-drill-{}-{}",
            base.trim_end_matches('/'),
            self.plan.app.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                "_"
            ),
            self.report.id
        )
    }

    fn restore_dir(&self) -> String {
        format!("{}/restore", self.target_dir())
    }

    /// The restored copy of the root.
    fn restored_root(&self) -> String {
        match self.plan.root.as_deref().and_then(overlap::normalized) {
            Some(root) if root != "/" => format!("{}{root}", self.restore_dir()),
            _ => self.restore_dir(),
        }
    }

    fn emit(&self, step: Step, detail: impl Into<String>) {
        if let Some(tx) = &self.events {
            let _ = tx.send(DrillEvent {
                step,
                detail: detail.into(),
            });
        }
    }

    fn begin(&mut self, step: Step, detail: &str) {
        self.step_started = Instant::now();
        self.current = step;
        self.emit(step, detail);
    }

    fn end(&mut self, step: Step, outcome: Outcome, detail: impl Into<String>) {
        let detail = sanitize::line(&detail.into());
        self.emit(
            step,
            format!(
                "{}: {detail}",
                match outcome {
                    Outcome::Passed => "ok",
                    Outcome::Failed => "failed",
                    Outcome::Skipped => "skipped",
                }
            ),
        );
        self.report.steps.push(StepRecord {
            step,
            outcome,
            seconds: self.step_started.elapsed().as_secs_f64(),
            detail,
        });
    }

    fn check(&mut self, step: Step, name: &str, outcome: Outcome, detail: impl Into<String>) {
        let detail = sanitize::line(&detail.into());
        self.emit(step, format!("{name}: {detail}"));
        self.report.checks.push(CheckRecord {
            step,
            name: name.to_owned(),
            outcome,
            detail,
        });
    }

    fn fail(&mut self, step: Step, why: String) -> String {
        let why = sanitize::line(&why);
        if self.report.failed_step.is_none() {
            self.report.failed_step = Some(step);
            self.report.error = Some(why.clone());
        }
        self.end(step, Outcome::Failed, why.clone());
        why
    }

    async fn sh(&self, script: &str, timeout: Duration) -> Result<Output, String> {
        self.access
            .shell
            .run_limited(script, None, timeout, MAX_TOOL_OUTPUT)
            .await
    }

    fn long(&self) -> Duration {
        Duration::from_secs(self.plan.spec.timeout_minutes.saturating_mul(60))
    }

    /// Records that the drill was stopped from outside (Ctrl-C, a closed wizard) in
    /// the step under way; [`Drill::finish`] then cleans up and reports it failed.
    pub fn interrupt(&mut self, why: &str) {
        let step = self.current;
        self.fail(step, why.to_owned());
    }

    /// Every step, headless: choose `wanted`, then `confirm` (given the drill as
    /// chosen; false ends it with nothing written), preflight, restore, verify,
    /// measure; [`Drill::finish`] cleans up and reports.
    pub async fn run(
        &mut self,
        wanted: &str,
        confirm: impl FnOnce(&Drill) -> Result<bool, String>,
    ) -> Result<(), RunStop> {
        self.choose(wanted).await.map_err(RunStop::Failed)?;
        match confirm(self) {
            Ok(true) => {}
            Ok(false) => {
                return Err(RunStop::NotConfirmed(
                    "not confirmed: nothing was done".into(),
                ));
            }
            Err(e) => return Err(RunStop::NotConfirmed(e)),
        }
        self.preflight().await.map_err(RunStop::Failed)?;
        self.restore().await.map_err(RunStop::Failed)?;
        self.verify().await.map_err(RunStop::Failed)?;
        self.measure();
        Ok(())
    }
}

/// Why [`Drill::run`] stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStop {
    /// A step failed (the report says which and why).
    Failed(String),
    /// The operator did not confirm: nothing was written on the host.
    NotConfirmed(String),
    /// Stopped from outside; the caller records it with [`Drill::interrupt`].
    Interrupted(String),
}
