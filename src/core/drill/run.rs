//! The drill's steps on one host. Each step is an async method of [`Drill`], so the
//! console's wizard can show and confirm them one by one; [`Drill::run`] walks them
//! all, as `fleetdeck drill` does. Whatever fails, [`Drill::finish`] removes the
//! scratch data, releases the lock and saves a report.

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    StartContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt as _;
use time::OffsetDateTime;

use super::overlap;
use super::report::{
    CheckRecord, CleanupRecord, DrillReport, DrillResult, FORMAT_VERSION, Outcome, RepositoryInfo,
    SizeComparison, Step, StepRecord,
};
use super::spec::DrillSpec;
use super::tool::{self, SnapshotInfo};
use crate::audit::{self, AuditRecord, AuditResult};
use crate::core::Core;
use crate::core::deploy::lock::{self, Holder, HostLock};
use crate::core::deploy::shell::{HostShell, Output};
use crate::inventory::Inventory;
use crate::probes::backup::{self as probe, BackupKind, BackupRepo, BackupState};
use crate::sanitize;
use crate::ssh::session::Session;
use crate::util::shell::quote;

/// Output kept from a tool (per stream): listings of large repositories are long.
const MAX_TOOL_OUTPUT: usize = 16 * 1024 * 1024;
/// Quick commands (counting, checking files, `df`, `realpath`).
const QUICK: Duration = Duration::from_secs(300);
/// How many snapshots of a listing get their restore size measured.
pub const SIZED_IN_LISTING: usize = 10;
/// Room left beyond the restore size: 10 % plus this much.
const FREE_SPACE_MARGIN_BYTES: u64 = 64 * 1024 * 1024;
/// The marker file in a drill's scratch directory (what leftover clean-up looks for).
const MARKER: &str = ".fleetdeck-drill";

/// Everything a drill needs, resolved from the inventory before any host is
/// contacted.
#[derive(Debug, Clone)]
pub struct DrillPlan {
    pub host: String,
    pub app: String,
    pub spec: DrillSpec,
    pub repo: BackupRepo,
    /// The backed-up directory content checks start from.
    pub root: Option<String>,
    /// Every live path with what it is, for the overlap rule.
    pub live: Vec<(String, String)>,
    pub settings: crate::inventory::HostSettings,
}

/// A drill's audit `target`: `app-data from REPO snapshot ID`.
fn audit_target(plan: &DrillPlan, snapshot: &str) -> String {
    format!("{} from {} snapshot {snapshot}", plan.app, plan.repo.name)
}

/// A drill refused by read-only mode (the run's, or the host's `fleetdeck_read_only`):
/// its `refused` line written to the local audit log (nothing on the host), and the
/// message to show. `None` when the drill may run. `snapshot` is the one asked for.
pub fn refuse_read_only(core: &Core, plan: &DrillPlan, snapshot: &str) -> Option<String> {
    let (why, message) = if core.read_only {
        (
            crate::core::READ_ONLY_WHY,
            "read-only mode: refusing to run a restore drill (it writes on the host)".to_owned(),
        )
    } else if plan.settings.read_only {
        (
            crate::core::HOST_READ_ONLY_WHY,
            format!(
                "{} is read-only (fleetdeck_read_only): a drill writes on the host; refused",
                plan.host
            ),
        )
    } else {
        return None;
    };
    let target = audit_target(plan, snapshot);
    Some(
        match core.record_refusal(&plan.host, "drill", &target, None, why) {
            Ok(()) => message,
            Err(e) => format!("{message} (not recorded in the audit log: {e})"),
        },
    )
}

/// Why no drill can be planned: `Refused` is a drill that would be unsafe (its
/// report is kept); `Invalid` is bad input (unknown host or app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    Invalid(String),
    Refused(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Invalid(e) | PlanError::Refused(e) => f.write_str(e),
        }
    }
}

/// The hosts and apps with a declared drill, for the wizard's first step.
pub fn declared(inventory: &Inventory) -> Vec<(String, Vec<String>)> {
    inventory
        .hosts()
        .filter(|h| !h.settings().drills.is_empty())
        .map(|h| {
            (
                h.name().to_owned(),
                h.settings().drills.keys().cloned().collect(),
            )
        })
        .collect()
}

/// Step 0: the drill of `app` on `host` as the inventory declares it, with the
/// overlap rule applied to the declared paths (no host contacted).
pub fn plan(inventory: &Inventory, host: &str, app: &str) -> Result<DrillPlan, PlanError> {
    let h = inventory
        .host(host)
        .ok_or_else(|| PlanError::Invalid(format!("no host {host:?} in the inventory")))?;
    let settings = h.settings().clone();
    let spec = settings.drills.get(app).cloned().ok_or_else(|| {
        let known: Vec<&str> = settings.drills.keys().map(String::as_str).collect();
        PlanError::Invalid(if known.is_empty() {
            format!("{host} declares no restore drill (fleetdeck_drills, docs/drills.md)")
        } else {
            format!(
                "{host} declares no restore drill for {app:?} (declared: {})",
                known.join(", ")
            )
        })
    })?;
    let repo = settings
        .backups
        .iter()
        .find(|r| r.name == spec.repository)
        .cloned()
        .ok_or_else(|| {
            PlanError::Invalid(format!(
                "{host}: the drill of {app} names repository {:?}, which is not in fleetdeck_backups",
                spec.repository
            ))
        })?;
    let root = spec
        .root
        .clone()
        .or_else(|| repo.paths.first().map(|p| p.to_string_lossy().into_owned()));
    let mut live: Vec<(String, String)> = repo
        .paths
        .iter()
        .map(|p| {
            (
                p.to_string_lossy().into_owned(),
                format!("the backed-up path of repository {}", repo.name),
            )
        })
        .collect();
    live.extend(
        spec.live_paths
            .iter()
            .map(|p| (p.clone(), format!("the live data of {app}"))),
    );
    if repo.repository.starts_with('/') {
        live.push((repo.repository.clone(), "the repository itself".to_owned()));
    }
    let plan = DrillPlan {
        host: host.to_owned(),
        app: app.to_owned(),
        spec,
        repo,
        root,
        live,
        settings,
    };
    overlap::check(&plan.spec.scratch_dir, &plan.live).map_err(PlanError::Refused)?;
    Ok(plan)
}

/// A step's progress, as front ends show it while it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillEvent {
    pub step: Step,
    pub detail: String,
}

pub type Events = Option<tokio::sync::mpsc::UnboundedSender<DrillEvent>>;

/// How the host is reached.
pub struct DrillAccess {
    pub shell: HostShell,
    /// The host's engine (for the throwaway container); `None` without one.
    pub docker: Option<Docker>,
    /// Kept open for the drill's duration.
    pub session: Option<Session>,
}

/// Connects to the plan's host: its SSH session and Docker engine.
pub async fn connect(
    options: &crate::ssh::setup::SshOptions,
    inventory: &Inventory,
    plan: &DrillPlan,
) -> Result<DrillAccess, String> {
    let host = inventory
        .host(&plan.host)
        .ok_or_else(|| format!("no host {:?} in the inventory", plan.host))?;
    let target = crate::fleet::status::Target::from_inventory(host);
    let contexts = crate::fleet::status::Contexts::prepare(options, std::slice::from_ref(&target))
        .map_err(|e| e.to_string())?;
    let ctx = contexts
        .for_target(options, &target)
        .ok_or_else(|| "no SSH configuration prepared for this host".to_owned())?;
    let resolved = target.resolve(&ctx);
    let session = Session::connect(&ctx, &resolved, target.settings.ssh.host_key_pin.clone())
        .await
        .map_err(|e| sanitize::line(&e.to_string()))?;
    let docker = crate::docker::transport::connect_negotiated(
        session.docker_socket(&target.settings.docker_socket),
        120,
    )
    .await
    .map_err(|e| sanitize::line(&format!("Docker engine: {e}")));
    let docker = match docker {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(host = %plan.host, "drill without a Docker engine: {e}");
            None
        }
    };
    Ok(DrillAccess {
        shell: HostShell::Ssh(session.clone()),
        docker,
        session: Some(session),
    })
}

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

    /// Step 1a: every snapshot of the repository, newest first; the newest
    /// [`SIZED_IN_LISTING`] with their restore size.
    pub async fn list(&mut self) -> StepResult<&[SnapshotInfo]> {
        self.begin(Step::Choose, "listing snapshots");
        match self.list_inner().await {
            Ok(list) => {
                self.snapshots = list;
                Ok(&self.snapshots)
            }
            Err(e) => Err(self.fail(Step::Choose, e)),
        }
    }

    async fn list_inner(&mut self) -> StepResult<Vec<SnapshotInfo>> {
        let repo = &self.plan.repo;
        let out = self.sh(&tool::list(repo), self.long()).await?;
        // The probe's reader names the failure (wrong password, missing repository, …).
        let status = out.status.and_then(|s| u32::try_from(s).ok());
        let probe = probe::parse(
            repo,
            status,
            out.stdout.as_bytes(),
            out.stderr.as_bytes(),
            OffsetDateTime::now_utc(),
        );
        if !matches!(
            probe.state,
            BackupState::Listed | BackupState::FutureSnapshot | BackupState::NoSnapshots
        ) {
            return Err(format!(
                "repository {} cannot be listed ({}): {}",
                repo.name,
                serde_json::to_value(probe.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                probe.error.unwrap_or_default()
            ));
        }
        let mut list = tool::parse_list(repo.kind, out.stdout.as_bytes())?;
        for snap in list.iter_mut().take(SIZED_IN_LISTING) {
            if let Ok((entries, bytes)) = self.size_of(snap).await {
                snap.entries = Some(entries);
                snap.size_bytes = Some(bytes);
            }
        }
        Ok(list)
    }

    async fn size_of(&self, snap: &SnapshotInfo) -> StepResult<(u64, u64)> {
        let repo = &self.plan.repo;
        let out = self.sh(&tool::size(repo, snap), self.long()).await?;
        if !out.success() {
            return Err(tool::complaint(tool_name(repo.kind), &out));
        }
        tool::parse_size(repo.kind, out.stdout.as_bytes())
    }

    /// Step 1b: the snapshot to restore — `latest` (the newest that holds the root)
    /// or an id / archive name — with its restore size.
    pub async fn choose(&mut self, wanted: &str) -> StepResult<&SnapshotInfo> {
        if self.snapshots.is_empty() {
            self.list().await?;
        }
        let root = self.plan.root.clone();
        let picked = tool::select(&self.snapshots, wanted, root.as_deref()).cloned();
        let mut snap = match picked {
            Ok(s) => s,
            Err(e) => return Err(self.fail(Step::Choose, e)),
        };
        if snap.size_bytes.is_none() {
            match self.size_of(&snap).await {
                Ok((entries, bytes)) => {
                    snap.entries = Some(entries);
                    snap.size_bytes = Some(bytes);
                }
                Err(e) => {
                    return Err(
                        self.fail(Step::Choose, format!("measuring snapshot {}: {e}", snap.id))
                    );
                }
            }
        }
        let detail = format!(
            "snapshot {} of {} ({} bytes in {} entries{})",
            snap.id,
            crate::util::time::rfc3339(snap.time),
            snap.size_bytes.unwrap_or(0),
            snap.entries.unwrap_or(0),
            if snap.paths.is_empty() {
                String::new()
            } else {
                format!(", paths {}", snap.paths.join(", "))
            }
        );
        self.report.snapshot = Some(snap.clone());
        self.report.rpo_seconds = Some((self.started - snap.time).whole_seconds().max(0));
        self.end(Step::Choose, Outcome::Passed, detail);
        Ok(&*self.chosen.insert(snap))
    }

    async fn audit(&mut self, result: AuditResult, error: Option<&str>) -> Result<(), String> {
        let target = audit_target(
            &self.plan,
            self.chosen.as_ref().map_or("-", |s| s.id.as_str()),
        );
        let record = AuditRecord {
            time: crate::util::time::rfc3339(OffsetDateTime::now_utc()),
            id: self.report.id.clone(),
            operator: self.core.operator.clone(),
            host: self.plan.host.clone(),
            action: "drill".into(),
            target,
            reason: None,
            result,
            error: error.map(str::to_owned),
        };
        let local = self.core.audit.append(&record);
        if result == AuditResult::Intent {
            local.map_err(|e| {
                format!(
                    "not attempted: the audit log {} cannot be written ({e})",
                    self.core.audit.path().display()
                )
            })?;
            self.audited = true;
        } else if let Err(e) = local {
            tracing::warn!(host = %self.plan.host, "local audit log: {e}");
        }
        if let Err(e) =
            lock::host_audit(&self.access.shell, &self.plan.settings.state_dir, &record).await
        {
            tracing::warn!(host = %self.plan.host, "host audit log: {e}");
        }
        Ok(())
    }

    /// Step 2: the scratch target is apart from live data even with links resolved;
    /// the host's lock is free (then held by this drill); the repository opens and
    /// its metadata is consistent; the scratch filesystem has room for the restore.
    pub async fn preflight(&mut self) -> StepResult<()> {
        self.begin(Step::Preflight, "checking the repository, space and lock");
        match self.preflight_inner().await {
            Ok(detail) => {
                self.end(Step::Preflight, Outcome::Passed, detail);
                Ok(())
            }
            Err(e) => Err(self.fail(Step::Preflight, e)),
        }
    }

    async fn preflight_inner(&mut self) -> StepResult<String> {
        let Some(snap) = self.chosen.clone() else {
            return Err("no snapshot chosen".into());
        };
        if let Some(refused) = refuse_read_only(&self.core, &self.plan, &snap.id) {
            self.report.result = DrillResult::Refused;
            return Err(refused);
        }
        // The overlap rule again, on the paths as the host resolves them.
        let scratch = self.plan.spec.scratch_dir.clone();
        let mut script = String::from("for p in");
        script.push(' ');
        script.push_str(&quote(&scratch));
        for (p, _) in &self.plan.live {
            script.push(' ');
            script.push_str(&quote(p));
        }
        script.push_str("; do realpath -m -- \"$p\" || exit 1; done");
        let out = self.sh(&script, QUICK).await?;
        let resolved: Vec<&str> = out.stdout.lines().collect();
        if !out.success() || resolved.len() != self.plan.live.len() + 1 {
            return Err(format!(
                "resolving the scratch and live paths on the host: {}",
                out.complaint()
            ));
        }
        let live: Vec<(String, String)> = self
            .plan
            .live
            .iter()
            .zip(&resolved[1..])
            .map(|((_, what), real)| ((*real).to_owned(), format!("{what} (resolved)")))
            .collect();
        if let Err(e) = overlap::check(resolved[0], &live) {
            self.report.result = DrillResult::Refused;
            self.check(
                Step::Preflight,
                "scratch_target",
                Outcome::Failed,
                e.clone(),
            );
            return Err(e);
        }
        self.check(
            Step::Preflight,
            "scratch_target",
            Outcome::Passed,
            format!(
                "{} is apart from {} live path(s)",
                resolved[0],
                self.plan.live.len()
            ),
        );

        self.audit(AuditResult::Intent, None).await?;

        // The host's lock: no deploy or other drill at the same time.
        let holder = Holder::this_process(
            "drill",
            Some(&format!("restore drill of {}", self.plan.app)),
        );
        match lock::acquire(
            &self.access.shell,
            &self.plan.settings.state_dir,
            holder,
            false,
        )
        .await
        {
            Ok(acquired) => {
                let note = match &acquired.interrupted {
                    Some((Some(h), _)) => format!(
                        " (took over the lock of an interrupted run: {})",
                        h.describe()
                    ),
                    Some((None, _)) => " (took over an interrupted run's lock)".to_owned(),
                    None => String::new(),
                };
                self.lock = Some(acquired.lock);
                self.check(
                    Step::Preflight,
                    "lock",
                    Outcome::Passed,
                    format!("held by this drill{note}"),
                );
            }
            Err(e) => {
                let e = e.to_string();
                self.check(Step::Preflight, "lock", Outcome::Failed, e.clone());
                return Err(e);
            }
        }

        // Leftovers of this host's interrupted drills (marked, so nothing else).
        let host_mark = quote(&self.plan.host);
        let leftovers = format!(
            "for d in {s}/fleetdeck-drill-*; do [ -f \"$d/{MARKER}\" ] || continue; \
             [ \"$(head -n 1 \"$d/{MARKER}\")\" = {host_mark} ] || continue; rm -rf -- \"$d\" && echo \"$d\"; done; exit 0",
            s = quote(resolved[0])
        );
        let out = self.sh(&leftovers, QUICK).await?;
        let removed: Vec<&str> = out.stdout.lines().filter(|l| !l.is_empty()).collect();
        if !removed.is_empty() {
            self.check(
                Step::Preflight,
                "leftovers",
                Outcome::Passed,
                format!(
                    "removed an interrupted drill's scratch data: {}",
                    removed.join(", ")
                ),
            );
        }

        // The repository opens and its metadata is consistent.
        let repo = self.plan.repo.clone();
        let out = self.sh(&tool::metadata(&repo, &snap), self.long()).await?;
        if !out.success() {
            let e = tool::complaint(tool_name(repo.kind), &out);
            self.check(Step::Preflight, "repository", Outcome::Failed, e.clone());
            return Err(format!("repository {}: {e}", repo.name));
        }
        self.check(
            Step::Preflight,
            "repository",
            Outcome::Passed,
            match repo.kind {
                BackupKind::Restic => "config readable, `restic check` (metadata) passed",
                BackupKind::Borg => "`borg check --archives-only` passed",
            },
        );

        // Room on the scratch filesystem.
        let need = snap.size_bytes.unwrap_or(0);
        let need = need
            .saturating_add(need / 10)
            .saturating_add(FREE_SPACE_MARGIN_BYTES);
        let df = format!(
            "d={}; while [ ! -e \"$d\" ]; do d=$(dirname -- \"$d\"); done; df -Pk -- \"$d\" | tail -n 1",
            quote(resolved[0])
        );
        let out = self.sh(&df, QUICK).await?;
        let available = out
            .stdout
            .split_whitespace()
            .nth(3)
            .and_then(|k| k.parse::<u64>().ok())
            .map(|k| k.saturating_mul(1024));
        match available {
            Some(free) if free >= need => self.check(
                Step::Preflight,
                "free_space",
                Outcome::Passed,
                format!("{free} bytes free, {need} needed"),
            ),
            Some(free) => {
                let e = format!(
                    "not enough free space for the restore under {}: {free} bytes free, {need} needed (restore size + 10 % + 64 MiB)",
                    resolved[0]
                );
                self.check(Step::Preflight, "free_space", Outcome::Failed, e.clone());
                return Err(e);
            }
            None => {
                let e = format!("reading free space (df): {}", out.complaint());
                self.check(Step::Preflight, "free_space", Outcome::Failed, e.clone());
                return Err(e);
            }
        }
        Ok(format!(
            "{} ready, lock held, {} bytes to restore",
            repo.name,
            snap.size_bytes.unwrap_or(0)
        ))
    }

    /// Step 3: restores the snapshot into the drill's own scratch directory; the
    /// restore's duration is the RTO.
    pub async fn restore(&mut self) -> StepResult<()> {
        self.begin(Step::Restore, "restoring");
        match self.restore_inner().await {
            Ok(detail) => {
                self.end(Step::Restore, Outcome::Passed, detail);
                Ok(())
            }
            Err(e) => Err(self.fail(Step::Restore, e)),
        }
    }

    async fn restore_inner(&mut self) -> StepResult<String> {
        let Some(snap) = self.chosen.clone() else {
            return Err("no snapshot chosen".into());
        };
        if self.lock.is_none() {
            return Err("the preflight did not pass".into());
        }
        let target = self.target_dir();
        // Checked once more on the exact directory about to be made.
        overlap::check(&target, &self.plan.live)?;
        let restore_dir = self.restore_dir();
        let make = format!(
            "umask 077; mkdir -p -- {s} && mkdir -- {t} && printf '%s\\n' {h} > {t}/{MARKER} && mkdir -- {r}",
            s = quote(&self.plan.spec.scratch_dir),
            t = quote(&target),
            h = quote(&self.plan.host),
            r = quote(&restore_dir),
        );
        self.target = Some(target.clone());
        self.report.target = Some(target.clone());
        let out = self.sh(&make, QUICK).await?;
        if !out.success() {
            return Err(format!("making {target}: {}", out.complaint()));
        }
        let repo = self.plan.repo.clone();
        let started = Instant::now();
        let out = self
            .sh(&tool::restore(&repo, &snap, &restore_dir), self.long())
            .await
            .map_err(|e| format!("restoring {}: {e}", snap.id))?;
        let took = started.elapsed().as_secs_f64();
        if !out.success() {
            return Err(format!(
                "restoring snapshot {}: {}",
                snap.id,
                tool::complaint(tool_name(repo.kind), &out)
            ));
        }
        self.report.rto_seconds = Some(took);
        Ok(format!(
            "snapshot {} restored into {restore_dir} in {took:.1} s",
            snap.id
        ))
    }

    /// Step 4: the repository's data checked by its tool; the restored files counted
    /// against the snapshot; the app's content checks. Every check runs and is
    /// reported; any failure fails the drill.
    pub async fn verify(&mut self) -> StepResult<()> {
        self.begin(Step::Verify, "verifying");
        let Some(snap) = self.chosen.clone() else {
            return Err(self.fail(Step::Verify, "no snapshot chosen".into()));
        };
        if self.report.rto_seconds.is_none() {
            return Err(self.fail(Step::Verify, "nothing was restored".into()));
        }
        let mut failures: Vec<String> = Vec::new();
        let repo = self.plan.repo.clone();

        // The repository's own data check.
        let subset = self.plan.spec.read_data_subset.clone();
        match self
            .sh(&tool::verify(&repo, &snap, &subset), self.long())
            .await
        {
            Ok(out) if out.success() => self.check(
                Step::Verify,
                "integrity",
                Outcome::Passed,
                match repo.kind {
                    BackupKind::Restic => {
                        format!("`restic check --read-data-subset={subset}` found no errors")
                    }
                    BackupKind::Borg => {
                        format!("`borg check --verify-data` of {} found no errors", snap.id)
                    }
                },
            ),
            Ok(out) => {
                let e = tool::complaint(&format!("{} check", tool_name(repo.kind)), &out);
                self.check(Step::Verify, "integrity", Outcome::Failed, e.clone());
                failures.push(e);
            }
            Err(e) => {
                self.check(Step::Verify, "integrity", Outcome::Failed, e.clone());
                failures.push(e);
            }
        }

        // Restored entries and bytes against the snapshot.
        let restore_dir = self.restore_dir();
        let expected = snap.entries.zip(snap.size_bytes);
        let counted = self
            .sh(&tool::count_restored(repo.kind, &restore_dir), QUICK)
            .await
            .and_then(|out| {
                tool::parse_counts(&out.stdout)
                    .ok_or_else(|| format!("counting restored files: {}", out.complaint()))
            });
        match (expected, counted) {
            (Some(expected), Ok(restored)) => {
                let cmp = SizeComparison::of(expected, restored);
                self.report.size = Some(cmp);
                if cmp.matches {
                    self.check(Step::Verify, "size", Outcome::Passed, cmp.describe());
                } else {
                    let e = format!(
                        "restored size differs from the snapshot: {}",
                        cmp.describe()
                    );
                    self.check(Step::Verify, "size", Outcome::Failed, e.clone());
                    failures.push(e);
                }
            }
            (None, _) => {
                let e = "the snapshot's size is unknown".to_owned();
                self.check(Step::Verify, "size", Outcome::Failed, e.clone());
                failures.push(e);
            }
            (_, Err(e)) => {
                self.check(Step::Verify, "size", Outcome::Failed, e.clone());
                failures.push(e);
            }
        }

        // The app's content checks, in the restored copy of the root.
        let root = self.restored_root();
        let checks = self.plan.spec.checks.clone();
        if !checks.files.is_empty() {
            let mut script = format!("cd -- {} || exit 3; for f in", quote(&root));
            for f in &checks.files {
                script.push(' ');
                script.push_str(&quote(f));
            }
            script.push_str("; do [ -e \"$f\" ] || printf '%s\\n' \"$f\"; done; exit 0");
            match self.sh(&script, QUICK).await {
                Ok(out) if out.success() && out.stdout.trim().is_empty() => self.check(
                    Step::Verify,
                    "files",
                    Outcome::Passed,
                    format!("all {} expected file(s) present", checks.files.len()),
                ),
                Ok(out) if out.success() => {
                    let missing: Vec<String> = out.stdout.lines().map(sanitize::line).collect();
                    let e = format!("missing from the restore: {}", missing.join(", "));
                    self.check(Step::Verify, "files", Outcome::Failed, e.clone());
                    failures.push(e);
                }
                Ok(out) => {
                    let e = format!("the restored root {root} is missing: {}", out.complaint());
                    self.check(Step::Verify, "files", Outcome::Failed, e.clone());
                    failures.push(e);
                }
                Err(e) => {
                    self.check(Step::Verify, "files", Outcome::Failed, e.clone());
                    failures.push(e);
                }
            }
        }
        if let Some(manifest) = &checks.manifest {
            let m = quote(manifest);
            let script = format!(
                "cd -- {} || exit 3; [ -f {m} ] || {{ echo 'the manifest is not in the restore' >&2; exit 4; }}; \
                 n=$(grep -c . {m}); sha256sum -c --quiet --strict -- {m} 2>&1 && echo \"$n\"",
                quote(&root)
            );
            match self.sh(&script, self.long()).await {
                Ok(out) if out.success() => self.check(
                    Step::Verify,
                    "manifest",
                    Outcome::Passed,
                    format!(
                        "{} file(s) match {manifest} (sha256sum -c)",
                        out.stdout.trim()
                    ),
                ),
                Ok(out) => {
                    let e = format!("{manifest}: {}", tool::complaint("sha256sum -c", &out));
                    self.check(Step::Verify, "manifest", Outcome::Failed, e.clone());
                    failures.push(e);
                }
                Err(e) => {
                    self.check(Step::Verify, "manifest", Outcome::Failed, e.clone());
                    failures.push(e);
                }
            }
        }
        if let Some(container) = &checks.container {
            match self.container_check(container, &root).await {
                Ok(detail) => self.check(Step::Verify, "container", Outcome::Passed, detail),
                Err(e) => {
                    self.check(Step::Verify, "container", Outcome::Failed, e.clone());
                    failures.push(e);
                }
            }
        }

        let total = self
            .report
            .checks
            .iter()
            .filter(|c| c.step == Step::Verify)
            .count();
        if failures.is_empty() {
            self.end(
                Step::Verify,
                Outcome::Passed,
                format!("{total} check(s) passed"),
            );
            Ok(())
        } else {
            let first = failures.remove(0);
            let more = if failures.is_empty() {
                String::new()
            } else {
                format!(" (and {} more failed check(s))", failures.len())
            };
            Err(self.fail(Step::Verify, format!("{first}{more}")))
        }
    }

    /// The throwaway container: the restored root mounted read-only, no network, a
    /// declared command that must exit 0 and print rows.
    async fn container_check(
        &self,
        check: &super::spec::ContainerCheck,
        root: &str,
    ) -> Result<String, String> {
        let Some(docker) = self.access.docker.clone() else {
            return Err("no Docker engine reachable on the host".into());
        };
        if docker.inspect_image(&check.image).await.is_err() {
            return Err(format!(
                "image {} is not on the host (drills pull nothing)",
                sanitize::line(&check.image)
            ));
        }
        let name = format!(
            "fleetdeck-drill-{}-{}",
            self.plan.host.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                "_"
            ),
            self.report.id
        );
        let body = ContainerCreateBody {
            image: Some(check.image.clone()),
            cmd: Some(check.command.clone()),
            labels: Some(
                [("fleetdeck.drill".to_owned(), self.report.id.clone())]
                    .into_iter()
                    .collect(),
            ),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{root}:{}:ro", check.mount)]),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| sanitize::line(&format!("creating the throwaway container: {e}")))?;
        let result = self.run_container(&docker, &name, check).await;
        let remove = RemoveContainerOptionsBuilder::new().force(true).build();
        if let Err(e) = docker.remove_container(&name, Some(remove)).await {
            tracing::warn!(host = %self.plan.host, "removing {name}: {e}");
        }
        result
    }

    async fn run_container(
        &self,
        docker: &Docker,
        name: &str,
        check: &super::spec::ContainerCheck,
    ) -> Result<String, String> {
        docker
            .start_container(name, None::<StartContainerOptions>)
            .await
            .map_err(|e| sanitize::line(&format!("starting the throwaway container: {e}")))?;
        let mut wait = docker.wait_container(name, None::<WaitContainerOptions>);
        let limit = Duration::from_secs(check.timeout_seconds);
        if tokio::time::timeout(limit, wait.next()).await.is_err() {
            return Err(format!(
                "the throwaway container did not finish within {} s",
                check.timeout_seconds
            ));
        }
        let state = crate::docker::clean::inspect_container(docker, name)
            .await
            .map_err(|e| sanitize::line(&format!("inspecting the throwaway container: {e}")))?;
        let code = state.state.and_then(|s| s.exit_code).unwrap_or(-1);
        let logs = LogsOptionsBuilder::new().stdout(true).stderr(true).build();
        let mut stream = docker.logs(name, Some(logs));
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let collect = async {
            while let Some(Ok(chunk)) = stream.next().await {
                match chunk {
                    bollard::container::LogOutput::StdOut { message } => {
                        stdout.push_str(&String::from_utf8_lossy(&message))
                    }
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.push_str(&String::from_utf8_lossy(&message))
                    }
                    _ => {}
                }
                if stdout.len() + stderr.len() > 1024 * 1024 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(30), collect).await;
        let rows: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        let command = sanitize::line(&check.command.join(" "));
        let tail = |text: &str| {
            let lines: Vec<String> = text.lines().map(sanitize::line).collect();
            let skip = lines.len().saturating_sub(3);
            lines[skip..].join(" / ")
        };
        if code != 0 {
            return Err(format!(
                "`{command}` in {} exited with {code}: {}",
                sanitize::line(&check.image),
                tail(if stderr.trim().is_empty() {
                    &stdout
                } else {
                    &stderr
                })
            ));
        }
        if rows.len() < check.min_lines {
            return Err(format!(
                "`{command}` in {} returned {} row(s), at least {} expected",
                sanitize::line(&check.image),
                rows.len(),
                check.min_lines
            ));
        }
        Ok(format!(
            "`{command}` in {} (data read-only at {}) returned {} row(s), first: {}",
            sanitize::line(&check.image),
            sanitize::line(&check.mount),
            rows.len(),
            sanitize::line(rows[0])
                .chars()
                .take(120)
                .collect::<String>()
        ))
    }

    /// Step 5: RTO (the restore's duration) and RPO (the snapshot's age when the
    /// drill started).
    pub fn measure(&mut self) {
        self.begin(Step::Measure, "measuring");
        let rpo = self.report.rpo_seconds;
        let detail = format!(
            "RTO {}, RPO {}",
            self.report
                .rto_seconds
                .map_or_else(|| "not measured".to_owned(), |s| format!("{s:.1} s")),
            rpo.map_or_else(|| "not measured".to_owned(), |s| format!("{s} s")),
        );
        self.end(Step::Measure, Outcome::Passed, detail);
    }

    /// Step 7: removes the drill's scratch directory (and only it) and checks it is
    /// gone. Safe to call when nothing was written.
    pub async fn cleanup(&mut self) -> StepResult<()> {
        self.begin(Step::Cleanup, "removing the scratch data");
        let Some(target) = self.target.clone() else {
            self.report.cleanup = CleanupRecord {
                removed: true,
                error: None,
            };
            self.end(Step::Cleanup, Outcome::Skipped, "nothing was written");
            return Ok(());
        };
        // Only ever a directory this drill named, inside the scratch directory.
        let inside = matches!(
            overlap::overlap(&target, &self.plan.spec.scratch_dir),
            Some(overlap::Overlap::Inside)
        ) && target.contains(&self.report.id);
        let result = if !inside {
            Err(format!("{target} is not this drill's scratch directory"))
        } else {
            let script = format!(
                "rm -rf -- {t}; if [ -e {t} ]; then echo 'still there' >&2; exit 1; fi",
                t = quote(&target)
            );
            match self.sh(&script, self.long()).await {
                Ok(out) if out.success() => Ok(()),
                Ok(out) => Err(format!("removing {target}: {}", out.complaint())),
                Err(e) => Err(format!("removing {target}: {e}")),
            }
        };
        match result {
            Ok(()) => {
                self.report.cleanup = CleanupRecord {
                    removed: true,
                    error: None,
                };
                self.target = None;
                self.end(Step::Cleanup, Outcome::Passed, format!("{target} removed"));
                Ok(())
            }
            Err(e) => {
                self.report.cleanup = CleanupRecord {
                    removed: false,
                    error: Some(sanitize::line(&e)),
                };
                Err(self.fail(Step::Cleanup, e))
            }
        }
    }

    /// Ends the drill whatever happened before: cleans up if that is still owed,
    /// releases the lock, writes the audit result, decides the result and saves the
    /// report (Markdown and JSON) in `history`.
    pub async fn finish(
        mut self,
        history: &super::history::History,
    ) -> (
        DrillReport,
        Result<(std::path::PathBuf, std::path::PathBuf), String>,
    ) {
        if self.target.is_some() {
            let _ = self.cleanup().await;
        }
        if let Some(lock) = self.lock.take()
            && let Err(e) = lock.release().await
        {
            tracing::warn!(host = %self.plan.host, "releasing the lock: {e}");
            self.report.checks.push(CheckRecord {
                step: Step::Cleanup,
                name: "lock".into(),
                outcome: Outcome::Failed,
                detail: sanitize::line(&e),
            });
        }
        let passed = self.report.failed_step.is_none()
            && self
                .report
                .steps
                .iter()
                .any(|s| s.step == Step::Verify && s.outcome == Outcome::Passed);
        if passed {
            self.report.result = DrillResult::Passed;
        } else if self.report.result != DrillResult::Refused {
            self.report.result = DrillResult::Failed;
            if self.report.error.is_none() {
                self.report.error = Some("the drill did not complete".into());
            }
        }
        if self.audited {
            let (result, error) = match self.report.result {
                DrillResult::Passed => (AuditResult::Ok, None),
                _ => (AuditResult::Failed, self.report.error.clone()),
            };
            let _ = self.audit(result, error.as_deref()).await;
        }
        self.report.steps.push(StepRecord {
            step: Step::Report,
            outcome: Outcome::Passed,
            seconds: 0.0,
            detail: format!("Markdown and JSON under {}", history.root().display()),
        });
        self.report.finished_at = OffsetDateTime::now_utc();
        let saved = history.save(&self.report);
        (self.report, saved)
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
