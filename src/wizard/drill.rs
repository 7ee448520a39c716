//! The restore-drill wizard: choose host → app → repository → (list) snapshot →
//! preflight → review → confirm → restore → verify (and measure) → results → an offer
//! to look at the restored data first → cleanup and report → the report. Its
//! operations call only the drill core (`core::drill`): each is one step of
//! [`Drill`], and whatever happens the drill ends through [`Drill::finish`], which
//! removes the scratch data, releases the host's lock and saves the report.
//!
//! A failure in any step (listing, preflight, restore, verification) ends the drill
//! there: the runner finishes it and the wizard skips to the failed report.
//!
//! The cleanup offer asks whether to *keep* the data for a look first: declining
//! (as the headless driver always does) removes it at once, so a drill walked
//! without an operator never leaves scratch data behind. Kept data is removed when
//! the operator goes on — or when the wizard is closed ([`DrillRunner::close`]).
//!
//! `fleetdeck drill` does not walk this wizard: its contract (confirmation before
//! anything is written, `--snapshot` by id prefix or `latest`, its own progress lines)
//! predates it; both call the same core steps (`core::drill::command`).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::mpsc::UnboundedReceiver;

use super::Runner;
use super::engine::{
    Answers, ChoiceOption, ConfirmKind, OpRequest, ProgressEvent, ProgressSender, ReviewLine, Step,
    StepId, StepKind, Tone, Wizard,
};
use crate::core::Core;
use crate::core::drill::report::{CheckRecord, Outcome, human_duration};
use crate::core::drill::run::{self, DrillEvent};
use crate::core::drill::tool::{self, SnapshotInfo};
use crate::core::drill::{Drill, DrillReport, DrillResult, History, PlanError, Step as DrillStep};
use crate::docker::stats::bytes_text;
use crate::inventory::Inventory;
use crate::probes::backup::{BackupKind, redact_url_password};
use crate::sanitize;
use crate::ssh::setup::SshOptions;

pub const HOST: StepId = "host";
pub const APP: StepId = "app";
pub const REPOSITORY: StepId = "repository";
pub const LIST: StepId = "list";
pub const SNAPSHOT: StepId = "snapshot";
pub const PREFLIGHT: StepId = "preflight";
pub const REVIEW: StepId = "review";
pub const CONFIRM: StepId = "confirm";
pub const RESTORE: StepId = "restore";
pub const VERIFY: StepId = "verify";
pub const RESULTS: StepId = "results";
pub const KEEP: StepId = "keep";
pub const INSPECT: StepId = "inspect";
pub const FINISH: StepId = "finish";
pub const REPORT: StepId = "report";

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

/// A repository a host declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSummary {
    pub name: String,
    pub kind: BackupKind,
    /// With any password in a URL as `***`.
    pub location: String,
}

/// An app's declared drill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillApp {
    pub app: String,
    /// Its `fleetdeck_backups` name.
    pub repository: String,
    /// The content checks it declares (`files`, `manifest`, `container`).
    pub checks: Vec<&'static str>,
}

/// A host that declares drills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillHost {
    pub name: String,
    pub read_only: bool,
    pub apps: Vec<DrillApp>,
    pub repositories: Vec<RepoSummary>,
}

/// What the wizard is built from.
#[derive(Debug, Clone)]
pub struct Setup {
    pub hosts: Vec<DrillHost>,
    /// The host chosen at first (the console's selection), when it declares drills.
    pub preselected: Option<String>,
}

impl Setup {
    /// The hosts of `inventory` that declare drills ([`run::declared`]).
    pub fn from_inventory(inventory: &Inventory, preselected: Option<String>) -> Setup {
        let hosts = run::declared(inventory)
            .into_iter()
            .filter_map(|(name, apps)| {
                let settings = inventory.host(&name)?.settings();
                let apps = apps
                    .into_iter()
                    .filter_map(|app| {
                        let spec = settings.drills.get(&app)?;
                        let mut checks = Vec::new();
                        if !spec.checks.files.is_empty() {
                            checks.push("files");
                        }
                        if spec.checks.manifest.is_some() {
                            checks.push("manifest");
                        }
                        if spec.checks.container.is_some() {
                            checks.push("container");
                        }
                        Some(DrillApp {
                            repository: spec.repository.clone(),
                            app,
                            checks,
                        })
                    })
                    .collect();
                Some(DrillHost {
                    read_only: settings.read_only,
                    repositories: settings
                        .backups
                        .iter()
                        .map(|r| RepoSummary {
                            name: r.name.clone(),
                            kind: r.kind,
                            location: redact_url_password(&r.repository),
                        })
                        .collect(),
                    name,
                    apps,
                })
            })
            .collect();
        Setup { hosts, preselected }
    }

    fn host(&self, name: Option<&str>) -> Option<&DrillHost> {
        let name = name?;
        self.hosts.iter().find(|h| h.name == name)
    }

    fn app<O>(&self, answers: &Answers<O>) -> Option<&DrillApp> {
        let host = self.host(first(answers.chosen(HOST)))?;
        let app = first(answers.chosen(APP))?;
        host.apps.iter().find(|a| a.app == app)
    }
}

fn first(chosen: Option<&[String]>) -> Option<&str> {
    chosen.and_then(|c| c.first()).map(String::as_str)
}

/// The listing: every snapshot (newest first), the one `latest` picks, and where this
/// drill would restore.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub snapshots: Vec<SnapshotInfo>,
    /// The full id of the newest snapshot that holds the drill's root.
    pub latest: Option<String>,
    /// The directory the content checks start from (as backed up).
    pub root: Option<String>,
    /// The drill's own scratch directory.
    pub target: String,
    pub report: DrillReport,
}

/// A step that passed: the report so far and the drill's scratch directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub report: DrillReport,
    pub target: String,
    pub root: Option<String>,
}

/// The drill ended: its report, and where it was saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub report: DrillReport,
    pub saved: Result<(PathBuf, PathBuf), String>,
}

/// What the drill wizard's operations produce.
#[derive(Debug, Clone, PartialEq)]
pub enum DrillOutput {
    Listed(Box<Listed>),
    Stage(Box<Stage>),
    Finished(Box<Finished>),
}

/// The steps whose operation may end the drill, in order.
const OPS: [StepId; 5] = [LIST, PREFLIGHT, RESTORE, VERIFY, FINISH];

/// The drill's end, once an operation finished it (a failure, or the cleanup).
pub fn finished(answers: &Answers<DrillOutput>) -> Option<&Finished> {
    OPS.iter().find_map(|id| match answers.output(id) {
        Some(DrillOutput::Finished(f)) => Some(&**f),
        _ => None,
    })
}

fn listed(answers: &Answers<DrillOutput>) -> Option<&Listed> {
    match answers.output(LIST) {
        Some(DrillOutput::Listed(l)) => Some(l),
        _ => None,
    }
}

/// The latest stage that passed.
fn stage(answers: &Answers<DrillOutput>) -> Option<&Stage> {
    [VERIFY, RESTORE, PREFLIGHT]
        .iter()
        .find_map(|id| match answers.output(id) {
            Some(DrillOutput::Stage(s)) => Some(&**s),
            _ => None,
        })
}

fn running(answers: &Answers<DrillOutput>) -> bool {
    finished(answers).is_none()
}

/// The snapshot as a choice: time, size, paths; one that does not hold the drill's
/// root cannot be chosen (its content checks would have nothing to read).
pub fn snapshot_option(s: &SnapshotInfo, root: Option<&str>) -> ChoiceOption {
    let size = match (s.size_bytes, s.entries) {
        (Some(bytes), Some(entries)) => format!("{} in {entries} entries", bytes_text(bytes)),
        _ => "size measured when chosen".to_owned(),
    };
    let mut detail = format!("{}  {size}", crate::util::time::rfc3339(s.time));
    if !s.paths.is_empty() {
        detail.push_str(&format!("  {}", s.paths.join(", ")));
    }
    if let Some(host) = &s.host {
        detail.push_str(&format!("  from {host}"));
    }
    let holds = tool::select(std::slice::from_ref(s), "latest", root).is_ok();
    ChoiceOption {
        value: s.full_id.clone(),
        label: sanitize::line(&s.id),
        detail: sanitize::line(&detail),
        disabled: (!holds).then(|| {
            format!(
                "does not hold {} (the drill's checks start there)",
                sanitize::line(root.unwrap_or("/"))
            )
        }),
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed => "FAILED",
        Outcome::Skipped => "skipped",
    }
}

fn outcome_tone(o: Outcome) -> Tone {
    match o {
        Outcome::Passed => Tone::Ok,
        Outcome::Failed => Tone::Critical,
        Outcome::Skipped => Tone::Muted,
    }
}

fn check_line(c: &CheckRecord) -> ReviewLine {
    ReviewLine::new(
        format!(
            "  {:<9} {:<14} {:<7} {}",
            c.step.name(),
            sanitize::line(&c.name),
            outcome_word(c.outcome),
            sanitize::line(&c.detail)
        ),
        outcome_tone(c.outcome),
    )
}

fn kind_word(kind: BackupKind) -> &'static str {
    match kind {
        BackupKind::Restic => "restic",
        BackupKind::Borg => "borg",
    }
}

fn snapshot_text(s: &SnapshotInfo) -> String {
    let mut text = format!(
        "{} of {}",
        sanitize::line(&s.id),
        crate::util::time::rfc3339(s.time)
    );
    if !s.paths.is_empty() {
        text.push_str(&format!(", paths {}", sanitize::line(&s.paths.join(", "))));
    }
    text
}

fn size_text(s: &SnapshotInfo) -> String {
    match (s.size_bytes, s.entries) {
        (Some(bytes), Some(entries)) => {
            format!("{bytes} bytes ({}) in {entries} entries", bytes_text(bytes))
        }
        _ => "unknown".to_owned(),
    }
}

fn rto_text(report: &DrillReport) -> String {
    report
        .rto_seconds
        .map_or_else(|| "not measured".to_owned(), human_duration)
}

fn rpo_text(report: &DrillReport) -> String {
    report
        .rpo_seconds
        .map_or_else(|| "not measured".to_owned(), |s| human_duration(s as f64))
}

fn row(key: &str, value: impl Into<String>) -> ReviewLine {
    ReviewLine::new(format!("  {key:<13} {}", value.into()), Tone::Normal)
}

/// Where the restored copy of the drill's root is.
pub fn restored_root(target: &str, root: Option<&str>) -> String {
    let restore = format!("{target}/restore");
    match root.and_then(crate::core::drill::overlap::normalized) {
        Some(root) if root != "/" => format!("{restore}{root}"),
        _ => restore,
    }
}

/// What will be restored where, after the preflight.
pub fn review_lines(stage: &Stage) -> Vec<ReviewLine> {
    let r = &stage.report;
    let mut lines = vec![ReviewLine::new(
        format!(
            "Restore drill of {} on {}",
            sanitize::line(&r.app),
            sanitize::line(&r.host)
        ),
        Tone::Heading,
    )];
    lines.push(row(
        "repository",
        format!(
            "{} ({}, {})",
            sanitize::line(&r.repository.name),
            kind_word(r.repository.kind),
            sanitize::line(&r.repository.location)
        ),
    ));
    if let Some(s) = &r.snapshot {
        lines.push(row("snapshot", snapshot_text(s)));
        lines.push(row("size", size_text(s)));
    }
    lines.push(row(
        "restore into",
        format!(
            "{}/restore (a new directory)",
            sanitize::line(&stage.target)
        ),
    ));
    let free = r
        .checks
        .iter()
        .find(|c| c.name == "free_space")
        .map_or_else(|| "not checked".to_owned(), |c| sanitize::line(&c.detail));
    lines.push(row("free space", free));
    lines.push(row("RPO", format!("{} (the snapshot's age)", rpo_text(r))));
    lines.push(ReviewLine::new("", Tone::Normal));
    lines.push(ReviewLine::new("Preflight", Tone::Heading));
    lines.extend(
        r.checks
            .iter()
            .filter(|c| c.step == DrillStep::Preflight)
            .map(check_line),
    );
    lines.push(ReviewLine::new("", Tone::Normal));
    lines.push(ReviewLine::new(
        format!(
            "The live data is not touched. {}'s deploy lock is held by this drill until it ends.",
            sanitize::line(&r.host)
        ),
        Tone::Muted,
    ));
    lines
}

/// The confirmation: what is restored where.
pub fn confirm_question(stage: &Stage) -> String {
    let r = &stage.report;
    let (snap, size) = match &r.snapshot {
        Some(s) => (
            sanitize::line(&s.id),
            s.size_bytes
                .map_or_else(String::new, |b| format!(" ({})", bytes_text(b))),
        ),
        None => ("-".to_owned(), String::new()),
    };
    format!(
        "Restore snapshot {snap}{size} of {} into {}/restore on {}, then verify it?",
        sanitize::line(&r.repository.name),
        sanitize::line(&stage.target),
        sanitize::line(&r.host)
    )
}

/// The measurements and every check, before the cleanup.
pub fn results_lines(stage: &Stage) -> Vec<ReviewLine> {
    let r = &stage.report;
    let mut lines = vec![ReviewLine::new(
        format!(
            "Restore drill of {} on {}: every check passed",
            sanitize::line(&r.app),
            sanitize::line(&r.host)
        ),
        Tone::Ok,
    )];
    lines.push(row(
        "RTO",
        format!("{} (the restore's duration)", rto_text(r)),
    ));
    lines.push(row(
        "RPO",
        format!("{} (the snapshot's age at the start)", rpo_text(r)),
    ));
    if let Some(size) = &r.size {
        lines.push(row("size", size.describe()));
    }
    lines.push(ReviewLine::new("", Tone::Normal));
    lines.push(ReviewLine::new("Checks", Tone::Heading));
    lines.extend(r.checks.iter().map(check_line));
    lines.push(ReviewLine::new("", Tone::Normal));
    lines.push(ReviewLine::new(
        format!(
            "The restored data is at {} on {}; the report is saved once it is removed.",
            sanitize::line(&restored_root(&stage.target, stage.root.as_deref())),
            sanitize::line(&r.host)
        ),
        Tone::Muted,
    ));
    lines
}

/// The offer: keep the data to look at it first (no: remove it now).
pub fn keep_question(stage: &Stage) -> String {
    format!(
        "Keep the restored data at {} on {} to look at it before it is removed? \
         (no: remove it now and save the report)",
        sanitize::line(&stage.target),
        sanitize::line(&stage.report.host)
    )
}

/// Where the kept data is, while the operator looks at it.
pub fn inspect_lines(stage: &Stage) -> Vec<ReviewLine> {
    let host = sanitize::line(&stage.report.host);
    let root = sanitize::line(&restored_root(&stage.target, stage.root.as_deref()));
    vec![
        ReviewLine::new("The restored data is kept for now", Tone::Heading),
        row("host", host.clone()),
        row("restored root", root.clone()),
        row("drill dir", sanitize::line(&stage.target)),
        ReviewLine::new("", Tone::Normal),
        ReviewLine::new(
            format!("Look at it from a shell: ssh {host} ls -la {root}"),
            Tone::Normal,
        ),
        ReviewLine::new(
            format!(
                "Meanwhile {host}'s deploy lock stays held by this drill: no deploy runs there."
            ),
            Tone::Warning,
        ),
        ReviewLine::new(
            "Going on removes it and saves the report; closing the wizard removes it too.",
            Tone::Muted,
        ),
    ]
}

/// The report as the wizard's last step shows it.
pub fn report_lines(finished: &Finished) -> Vec<ReviewLine> {
    let r = &finished.report;
    let mut lines = Vec::new();
    let what = format!("{} on {}", sanitize::line(&r.app), sanitize::line(&r.host));
    match (r.result, r.failed_step, &r.error) {
        (DrillResult::Passed, _, _) => lines.push(ReviewLine::new(
            format!("Restore drill of {what}: PASSED"),
            Tone::Ok,
        )),
        (result, step, error) => {
            let verdict = if result == DrillResult::Refused {
                "REFUSED"
            } else {
                "FAILED"
            };
            lines.push(ReviewLine::new(
                format!(
                    "Restore drill of {what}: {verdict} at {}",
                    step.map_or("the drill", DrillStep::name)
                ),
                Tone::Critical,
            ));
            if let Some(e) = error {
                lines.push(ReviewLine::new(
                    format!("  {}", sanitize::line(e)),
                    Tone::Critical,
                ));
            }
        }
    }
    lines.push(row("drill", sanitize::line(&r.id)));
    lines.push(row(
        "repository",
        format!(
            "{} ({})",
            sanitize::line(&r.repository.name),
            kind_word(r.repository.kind)
        ),
    ));
    lines.push(row(
        "snapshot",
        r.snapshot
            .as_ref()
            .map_or_else(|| "none chosen".to_owned(), snapshot_text),
    ));
    lines.push(row("RTO", rto_text(r)));
    lines.push(row("RPO", rpo_text(r)));
    if let Some(size) = &r.size {
        lines.push(row("size", size.describe()));
    }
    let (cleanup, tone) = match (&r.target, r.cleanup.removed, &r.cleanup.error) {
        (None, true, _) => ("nothing was written on the host".to_owned(), Tone::Normal),
        (Some(t), true, _) => (format!("{} removed", sanitize::line(t)), Tone::Normal),
        (t, false, e) => (
            format!(
                "SCRATCH DATA LEFT at {}: {}",
                sanitize::line(t.as_deref().unwrap_or(&r.scratch_dir)),
                sanitize::line(e.as_deref().unwrap_or("not removed"))
            ),
            Tone::Critical,
        ),
    };
    lines.push(ReviewLine::new(
        format!("  {:<13} {cleanup}", "cleanup"),
        tone,
    ));
    match &finished.saved {
        Ok((json, md)) => {
            lines.push(row("report", md.display().to_string()));
            lines.push(row("", json.display().to_string()));
        }
        Err(e) => lines.push(ReviewLine::new(
            format!(
                "  {:<13} could not be saved: {}",
                "report",
                sanitize::line(e)
            ),
            Tone::Warning,
        )),
    }
    if !r.steps.is_empty() {
        lines.push(ReviewLine::new("", Tone::Normal));
        lines.push(ReviewLine::new("Steps", Tone::Heading));
        for s in &r.steps {
            lines.push(ReviewLine::new(
                format!(
                    "  {:<9} {:<7} {:>6.1} s  {}",
                    s.step.name(),
                    outcome_word(s.outcome),
                    s.seconds,
                    sanitize::line(&s.detail)
                ),
                outcome_tone(s.outcome),
            ));
        }
    }
    if !r.checks.is_empty() {
        lines.push(ReviewLine::new("", Tone::Normal));
        lines.push(ReviewLine::new("Checks", Tone::Heading));
        lines.extend(r.checks.iter().map(check_line));
    }
    lines
}

/// The progress rows of an operation: each check the core will report, then the step.
fn items_for(setup: &Setup, answers: &Answers<DrillOutput>, step: &str) -> Vec<String> {
    let mut items: Vec<String> = match step {
        "preflight" => vec![
            "choose",
            "scratch_target",
            "lock",
            "repository",
            "free_space",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect(),
        "verify" => {
            let mut names = vec!["integrity".to_owned(), "size".to_owned()];
            if let Some(app) = setup.app(answers) {
                names.extend(app.checks.iter().map(|c| (*c).to_owned()));
            }
            names
        }
        _ => Vec::new(),
    };
    items.push(step.to_owned());
    items
}

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

/// The drill wizard's steps.
pub fn wizard(setup: Setup) -> Wizard<DrillOutput> {
    let setup = Arc::new(setup);
    let mut steps = Vec::new();

    let (s, d) = (setup.clone(), setup.clone());
    steps.push(Step::new(
        HOST,
        "Choose the host",
        StepKind::Choice {
            multi: false,
            options: Arc::new(move |_| {
                s.hosts
                    .iter()
                    .map(|h| ChoiceOption {
                        value: h.name.clone(),
                        label: sanitize::line(&h.name),
                        detail: format!(
                            "drills: {}",
                            h.apps
                                .iter()
                                .map(|a| sanitize::line(&a.app))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        disabled: h.read_only.then(|| {
                            "read-only (fleetdeck_read_only): a drill writes on the host".to_owned()
                        }),
                    })
                    .collect()
            }),
            default: Arc::new(move |_| d.preselected.iter().cloned().collect()),
        },
    ));

    let (s, d) = (setup.clone(), setup.clone());
    steps.push(Step::new(
        APP,
        "Choose the app",
        StepKind::Choice {
            multi: false,
            options: Arc::new(move |answers| {
                s.host(first(answers.chosen(HOST)))
                    .map(|h| {
                        h.apps
                            .iter()
                            .map(|a| {
                                let mut checks = vec!["integrity", "size"];
                                checks.extend(a.checks.iter().copied());
                                ChoiceOption {
                                    value: a.app.clone(),
                                    label: sanitize::line(&a.app),
                                    detail: format!(
                                        "from {}; checks: {}",
                                        sanitize::line(&a.repository),
                                        checks.join(", ")
                                    ),
                                    disabled: None,
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }),
            default: Arc::new(move |answers| {
                d.host(first(answers.chosen(HOST)))
                    .and_then(|h| h.apps.first())
                    .map(|a| vec![a.app.clone()])
                    .unwrap_or_default()
            }),
        },
    ));

    let (s, d) = (setup.clone(), setup.clone());
    steps.push(Step::new(
        REPOSITORY,
        "The repository",
        StepKind::Choice {
            multi: false,
            options: Arc::new(move |answers| {
                let Some(host) = s.host(first(answers.chosen(HOST))) else {
                    return Vec::new();
                };
                let declared = s.app(answers).map(|a| a.repository.clone());
                host.repositories
                    .iter()
                    .map(|r| ChoiceOption {
                        value: r.name.clone(),
                        label: sanitize::line(&r.name),
                        detail: format!("{} {}", kind_word(r.kind), sanitize::line(&r.location)),
                        disabled: (declared.as_deref() != Some(r.name.as_str())).then(|| {
                            format!(
                                "the drill declares {} (fleetdeck_drills)",
                                sanitize::line(declared.as_deref().unwrap_or("another"))
                            )
                        }),
                    })
                    .collect()
            }),
            default: Arc::new(move |answers| {
                d.app(answers)
                    .map(|a| vec![a.repository.clone()])
                    .unwrap_or_default()
            }),
        },
    ));

    let s = setup.clone();
    steps.push(Step::new(
        LIST,
        "Snapshots",
        StepKind::Run {
            op: "list",
            label: "Connecting and listing the repository's snapshots".to_owned(),
            mutating: false,
            items: Arc::new(move |answers| items_for(&s, answers, "choose")),
        },
    ));

    steps.push(
        Step::new(
            SNAPSHOT,
            "Choose the snapshot",
            StepKind::Choice {
                multi: false,
                options: Arc::new(|answers| {
                    listed(answers)
                        .map(|l| {
                            l.snapshots
                                .iter()
                                .map(|s| snapshot_option(s, l.root.as_deref()))
                                .collect()
                        })
                        .unwrap_or_default()
                }),
                default: Arc::new(|answers| {
                    listed(answers)
                        .and_then(|l| l.latest.clone())
                        .into_iter()
                        .collect()
                }),
            },
        )
        .when(running),
    );

    let s = setup.clone();
    steps.push(
        Step::new(
            PREFLIGHT,
            "Preflight",
            StepKind::Run {
                op: "preflight",
                label: "Preflight: the scratch target, the lock, the repository, free space"
                    .to_owned(),
                // It takes the host's lock and writes the audit intent.
                mutating: true,
                items: Arc::new(move |answers| items_for(&s, answers, "preflight")),
            },
        )
        .when(running),
    );

    steps.push(
        Step::new(
            REVIEW,
            "Review",
            StepKind::Review {
                lines: Arc::new(|answers| stage(answers).map(review_lines).unwrap_or_default()),
            },
        )
        .when(running),
    );

    steps.push(
        Step::new(
            CONFIRM,
            "Confirm",
            StepKind::Confirm {
                question: Arc::new(|answers| {
                    stage(answers).map(confirm_question).unwrap_or_default()
                }),
                kind: ConfirmKind::Gate,
            },
        )
        .when(running),
    );

    let s = setup.clone();
    steps.push(
        Step::new(
            RESTORE,
            "Restore",
            StepKind::Run {
                op: "restore",
                label: "Restoring into the scratch target".to_owned(),
                mutating: true,
                items: Arc::new(move |answers| items_for(&s, answers, "restore")),
            },
        )
        .when(running),
    );

    let s = setup.clone();
    steps.push(
        Step::new(
            VERIFY,
            "Verify",
            StepKind::Run {
                op: "verify",
                label: "Verifying the restored data".to_owned(),
                mutating: true,
                items: Arc::new(move |answers| items_for(&s, answers, "verify")),
            },
        )
        .when(running),
    );

    steps.push(
        Step::new(
            RESULTS,
            "Results",
            StepKind::Review {
                lines: Arc::new(|answers| stage(answers).map(results_lines).unwrap_or_default()),
            },
        )
        .when(running),
    );

    steps.push(
        Step::new(
            KEEP,
            "Clean up",
            StepKind::Confirm {
                question: Arc::new(|answers| stage(answers).map(keep_question).unwrap_or_default()),
                kind: ConfirmKind::Offer,
            },
        )
        .when(running),
    );

    steps.push(
        Step::new(
            INSPECT,
            "The restored data",
            StepKind::Review {
                lines: Arc::new(|answers| stage(answers).map(inspect_lines).unwrap_or_default()),
            },
        )
        .when(|answers| running(answers) && answers.confirmed(KEEP) == Some(true)),
    );

    steps.push(
        Step::new(
            FINISH,
            "Clean up",
            StepKind::Run {
                op: "finish",
                label: "Removing the scratch data, releasing the lock, saving the report"
                    .to_owned(),
                mutating: true,
                items: Arc::new(|_| vec!["cleanup".to_owned()]),
            },
        )
        .when(running),
    );

    steps.push(Step::new(
        REPORT,
        "Report",
        StepKind::Review {
            lines: Arc::new(|answers| finished(answers).map(report_lines).unwrap_or_default()),
        },
    ));

    Wizard {
        name: "Restore drill".to_owned(),
        steps,
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use time::macros::datetime;

    use super::*;
    use crate::core::drill::report::tests::sample;
    use crate::core::drill::report::{CheckRecord, StepRecord};
    use crate::wizard::{Effect, Ending, StepView, WizardState};

    fn snap(id: &str, hour: u8, paths: &[&str], sized: bool) -> SnapshotInfo {
        SnapshotInfo {
            id: id.to_owned(),
            full_id: format!("{id}ffffffff"),
            time: datetime!(2026-11-23 00:00:00 UTC) + time::Duration::hours(hour.into()),
            host: Some("client-gamma".to_owned()),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            size_bytes: sized.then_some(12_582_912),
            entries: sized.then_some(8),
        }
    }

    fn setup() -> Setup {
        let repo = |name: &str| RepoSummary {
            name: name.to_owned(),
            kind: BackupKind::Restic,
            location: format!("/backup/{name}"),
        };
        Setup {
            hosts: vec![
                DrillHost {
                    name: "client-alpha".to_owned(),
                    read_only: true,
                    apps: vec![DrillApp {
                        app: "web".to_owned(),
                        repository: "app-data".to_owned(),
                        checks: vec![],
                    }],
                    repositories: vec![repo("app-data")],
                },
                DrillHost {
                    name: "client-gamma".to_owned(),
                    read_only: false,
                    apps: vec![DrillApp {
                        app: "web".to_owned(),
                        repository: "app-data".to_owned(),
                        checks: vec!["files", "manifest"],
                    }],
                    repositories: vec![repo("system"), repo("app-data")],
                },
            ],
            preselected: Some("client-gamma".to_owned()),
        }
    }

    /// The report as the core has it after a step: `sample`'s drill, with the steps
    /// and checks so far.
    fn report_after(
        steps: &[(DrillStep, Outcome)],
        checks: &[(DrillStep, &str, Outcome, &str)],
    ) -> DrillReport {
        let mut r = sample(DrillResult::Passed);
        r.result = DrillResult::Failed;
        r.failed_step = None;
        r.error = None;
        r.target = None;
        r.rto_seconds = None;
        r.size = None;
        r.steps = steps
            .iter()
            .map(|(step, outcome)| StepRecord {
                step: *step,
                outcome: *outcome,
                seconds: 0.4,
                detail: format!("{} detail", step.name()),
            })
            .collect();
        r.checks = checks
            .iter()
            .map(|(step, name, outcome, detail)| CheckRecord {
                step: *step,
                name: (*name).to_owned(),
                outcome: *outcome,
                detail: (*detail).to_owned(),
            })
            .collect();
        r
    }

    const TARGET: &str = "/var/tmp/fleetdeck-drills/fleetdeck-drill-web-d-1";

    fn stage(report: DrillReport) -> Result<DrillOutput, Vec<String>> {
        Ok(DrillOutput::Stage(Box::new(Stage {
            report,
            target: TARGET.to_owned(),
            root: Some("/srv/app".to_owned()),
        })))
    }

    fn listed() -> Result<DrillOutput, Vec<String>> {
        let snapshots = vec![
            snap("cccc3333", 9, &["/etc"], true),
            snap("bbbb2222", 8, &["/srv/app"], true),
            snap("aaaa1111", 2, &["/srv/app"], false),
        ];
        Ok(DrillOutput::Listed(Box::new(Listed {
            latest: Some("bbbb2222ffffffff".to_owned()),
            snapshots,
            root: Some("/srv/app".to_owned()),
            target: TARGET.to_owned(),
            report: report_after(&[], &[]),
        })))
    }

    fn preflight_report() -> DrillReport {
        report_after(
            &[
                (DrillStep::Choose, Outcome::Passed),
                (DrillStep::Preflight, Outcome::Passed),
            ],
            &[
                (
                    DrillStep::Preflight,
                    "scratch_target",
                    Outcome::Passed,
                    "apart from 2 live path(s)",
                ),
                (
                    DrillStep::Preflight,
                    "lock",
                    Outcome::Passed,
                    "held by this drill",
                ),
                (
                    DrillStep::Preflight,
                    "repository",
                    Outcome::Passed,
                    "config readable",
                ),
                (
                    DrillStep::Preflight,
                    "free_space",
                    Outcome::Passed,
                    "9000000000 bytes free, 80000000 needed",
                ),
            ],
        )
    }

    fn verified_report() -> DrillReport {
        let mut r = preflight_report();
        for step in [DrillStep::Restore, DrillStep::Verify, DrillStep::Measure] {
            r.steps.push(StepRecord {
                step,
                outcome: Outcome::Passed,
                seconds: 0.5,
                detail: format!("{} detail", step.name()),
            });
        }
        r.checks.push(CheckRecord {
            step: DrillStep::Verify,
            name: "integrity".into(),
            outcome: Outcome::Passed,
            detail: "`restic check --read-data-subset=10%` found no errors".into(),
        });
        r.target = Some(TARGET.to_owned());
        r.rto_seconds = Some(0.5);
        r
    }

    fn finished(report: DrillReport) -> Result<DrillOutput, Vec<String>> {
        Ok(DrillOutput::Finished(Box::new(Finished {
            report,
            saved: Ok((PathBuf::from("/h/d.json"), PathBuf::from("/h/d.md"))),
        })))
    }

    fn started(effect: Effect, op: &str) -> OpRequest {
        match effect {
            Effect::Start(request) => {
                assert_eq!(request.op, op);
                request
            }
            other => panic!("expected {op} to start, got {other:?}"),
        }
    }

    fn current(state: &WizardState<DrillOutput>) -> StepId {
        state.step().map(|s| s.id).unwrap_or_default()
    }

    /// Host, app and repository answered, the listing done: on the snapshot step.
    fn at_snapshot() -> WizardState<DrillOutput> {
        let mut state = WizardState::new(wizard(setup()), 1);
        assert_eq!(state.start(), Effect::None);
        assert_eq!(current(&state), HOST);
        // The read-only host is shown but cannot be chosen; the selection is.
        match state.view() {
            StepView::Choice {
                options, checked, ..
            } => {
                assert!(options[0].disabled.is_some());
                assert_eq!(checked, &[false, true]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(state.submit(), Effect::None);
        assert_eq!(current(&state), APP);
        assert_eq!(state.submit(), Effect::None);
        assert_eq!(current(&state), REPOSITORY);
        match state.view() {
            StepView::Choice {
                options, checked, ..
            } => {
                // Only the drill's own repository can be chosen.
                assert_eq!(options[0].value, "system");
                assert!(options[0].disabled.is_some());
                assert_eq!(checked, &[false, true]);
            }
            other => panic!("{other:?}"),
        }
        let op = started(state.submit(), "list");
        state.on_done(&op, listed());
        assert_eq!(current(&state), SNAPSHOT);
        state
    }

    #[test]
    fn snapshots_offer_latest_holding_the_root_and_refuse_others() {
        let state = at_snapshot();
        match state.view() {
            StepView::Choice {
                options,
                checked,
                cursor,
                ..
            } => {
                assert_eq!(options.len(), 3);
                assert!(
                    options[0]
                        .disabled
                        .as_deref()
                        .unwrap_or("")
                        .contains("/srv/app")
                );
                assert_eq!(checked, &[false, true, false]);
                assert_eq!(cursor, 1);
                assert!(
                    options[1].detail.contains("2026-11-23T08:00:00Z"),
                    "{:?}",
                    options[1]
                );
                assert!(
                    options[1].detail.contains("12M in 8 entries"),
                    "{:?}",
                    options[1]
                );
                assert!(options[1].detail.contains("/srv/app"));
                assert!(options[2].detail.contains("size measured when chosen"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_passed_drill_walks_every_step_and_declining_the_offer_cleans_up() {
        let mut state = at_snapshot();
        let op = started(state.submit(), "preflight");
        assert_eq!(
            state.answers().chosen(SNAPSHOT),
            Some(&["bbbb2222ffffffff".to_owned()][..])
        );
        assert_eq!(state.on_done(&op, stage(preflight_report())), Effect::None);
        assert_eq!(current(&state), REVIEW);
        let text = review_text(&state);
        assert!(
            text.iter()
                .any(|l| l.contains(&format!("{TARGET}/restore"))),
            "{text:?}"
        );
        assert!(
            text.iter().any(|l| l.contains("9000000000 bytes free")),
            "{text:?}"
        );
        assert_eq!(state.submit(), Effect::None);
        assert_eq!(current(&state), CONFIRM);
        let op = started(state.confirm(true), "restore");
        let mut restored = preflight_report();
        restored.rto_seconds = Some(0.5);
        let op = started(state.on_done(&op, stage(restored)), "verify");
        assert!(state.is_applying(), "verification cannot be interrupted");
        assert_eq!(state.on_done(&op, stage(verified_report())), Effect::None);
        assert_eq!(current(&state), RESULTS);
        let text = review_text(&state);
        assert!(
            text.iter()
                .any(|l| l.contains("RTO") && l.contains("0.5 s")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|l| l.contains("RPO") && l.contains("2h 0m")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|l| l.contains("integrity") && l.contains("passed")),
            "{text:?}"
        );
        assert_eq!(state.submit(), Effect::None);
        assert_eq!(current(&state), KEEP);
        // Declining the offer (as the headless driver does) removes the data now.
        let op = started(state.confirm(false), "finish");
        let mut done = verified_report();
        done.result = DrillResult::Passed;
        assert_eq!(state.on_done(&op, finished(done)), Effect::None);
        assert_eq!(current(&state), REPORT);
        let text = review_text(&state);
        assert!(text[0].ends_with("PASSED"), "{text:?}");
        assert!(
            text.iter()
                .any(|l| l.contains("report") && l.contains("/h/d.md")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|l| l.contains(&format!("{TARGET} removed"))),
            "{text:?}"
        );
        assert_eq!(state.submit(), Effect::Ended(Ending::Completed));
    }

    fn review_text(state: &WizardState<DrillOutput>) -> Vec<String> {
        match state.view() {
            StepView::Review { lines, .. } => lines.iter().map(|l| l.text.clone()).collect(),
            other => panic!("{other:?}"),
        }
    }

    /// Walked to the offer after a passed verification.
    fn at_offer() -> WizardState<DrillOutput> {
        let mut state = at_snapshot();
        let op = started(state.submit(), "preflight");
        state.on_done(&op, stage(preflight_report()));
        state.submit();
        let op = started(state.confirm(true), "restore");
        let op = started(state.on_done(&op, stage(preflight_report())), "verify");
        state.on_done(&op, stage(verified_report()));
        state.submit();
        assert_eq!(current(&state), KEEP);
        state
    }

    #[test]
    fn keeping_the_data_says_where_it_is_and_going_on_cleans_up() {
        let mut state = at_offer();
        match state.view() {
            StepView::Confirm { question, kind } => {
                assert_eq!(kind, ConfirmKind::Offer);
                assert!(question.contains(TARGET), "{question}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(state.confirm(true), Effect::None);
        assert_eq!(current(&state), INSPECT);
        let text = review_text(&state);
        assert!(
            text.iter()
                .any(|l| l.contains(&format!("{TARGET}/restore/srv/app"))),
            "{text:?}"
        );
        assert!(text.iter().any(|l| l.contains("deploy lock")), "{text:?}");
        // Back to the offer (answered again), never before the verification.
        assert_eq!(state.back(), Effect::None);
        assert_eq!(current(&state), KEEP);
        assert_eq!(state.confirm(true), Effect::None);
        started(state.submit(), "finish");
    }

    #[test]
    fn leaving_after_the_preflight_closes_instead_of_going_back() {
        let mut state = at_snapshot();
        let op = started(state.submit(), "preflight");
        state.on_done(&op, stage(preflight_report()));
        assert_eq!(current(&state), REVIEW);
        // The lock is held: the choices are closed; leaving ends the wizard as
        // Closed (the console's worker then finishes the drill).
        assert_eq!(state.back(), Effect::Ended(Ending::Closed));
    }

    #[test]
    fn a_refused_gate_ends_the_wizard() {
        let mut state = at_snapshot();
        let op = started(state.submit(), "preflight");
        state.on_done(&op, stage(preflight_report()));
        state.submit();
        assert_eq!(
            state.confirm(false),
            Effect::Ended(Ending::Refused { step: CONFIRM })
        );
    }

    fn failed_at(step: DrillStep, error: &str) -> DrillReport {
        let mut r = preflight_report();
        r.result = DrillResult::Failed;
        r.failed_step = Some(step);
        r.error = Some(error.to_owned());
        r
    }

    #[test]
    fn a_failed_preflight_ends_with_the_failed_report() {
        let mut state = at_snapshot();
        let op = started(state.submit(), "preflight");
        let mut report = failed_at(
            DrillStep::Preflight,
            "not enough free space for the restore under /var/tmp/fleetdeck-drills: 10 bytes free, 80000000 needed",
        );
        report.checks[3].outcome = Outcome::Failed;
        assert_eq!(state.on_done(&op, finished(report)), Effect::None);
        // Review, confirm, restore, verify and cleanup are skipped.
        assert_eq!(current(&state), REPORT);
        let text = review_text(&state);
        assert!(text[0].ends_with("FAILED at preflight"), "{text:?}");
        assert!(text[1].contains("not enough free space"), "{text:?}");
        assert!(
            text.iter()
                .any(|l| l.contains("free_space") && l.contains("FAILED"))
        );
        assert_eq!(state.submit(), Effect::Ended(Ending::Completed));
    }

    #[test]
    fn a_failed_verification_ends_with_the_failed_report_and_no_offer() {
        let mut state = at_snapshot();
        let op = started(state.submit(), "preflight");
        state.on_done(&op, stage(preflight_report()));
        state.submit();
        let op = started(state.confirm(true), "restore");
        let op = started(state.on_done(&op, stage(preflight_report())), "verify");
        let mut report = failed_at(
            DrillStep::Verify,
            "restic check failed (exit 1): Pack ID does not match",
        );
        report.cleanup.removed = true;
        report.target = Some(TARGET.to_owned());
        state.on_done(&op, finished(report));
        assert_eq!(current(&state), REPORT);
        let text = review_text(&state);
        assert!(text[0].ends_with("FAILED at verify"), "{text:?}");
        assert!(
            text.iter()
                .any(|l| l.contains(&format!("{TARGET} removed"))),
            "{text:?}"
        );
    }

    #[test]
    fn a_failed_listing_or_refused_plan_ends_with_its_report() {
        let mut state = at_snapshot_failed_listing();
        assert_eq!(current(&state), REPORT);
        let text = review_text(&state);
        assert!(text[0].ends_with("REFUSED at preflight"), "{text:?}");
        assert!(
            text.iter().any(|l| l.contains("nothing was written")),
            "{text:?}"
        );
        assert_eq!(state.submit(), Effect::Ended(Ending::Completed));
    }

    fn at_snapshot_failed_listing() -> WizardState<DrillOutput> {
        let mut state = WizardState::new(wizard(setup()), 1);
        state.start();
        state.submit();
        state.submit();
        let op = started(state.submit(), "list");
        let mut report = failed_at(
            DrillStep::Preflight,
            "refused: the scratch directory /srv/app/tmp is inside the backed-up path",
        );
        report.result = DrillResult::Refused;
        report.snapshot = None;
        report.target = None;
        state.on_done(&op, finished(report));
        state
    }

    #[test]
    fn progress_names_each_check_and_tones_a_steps_end() {
        let at = datetime!(2026-11-23 10:00:00 UTC);
        let e = |step, detail: &str| DrillEvent {
            step,
            detail: detail.to_owned(),
        };
        let p = progress_event(
            &e(
                DrillStep::Verify,
                "integrity: restic check failed (exit 1): x",
            ),
            at,
        );
        assert_eq!(
            (p.item.as_str(), p.detail.as_str()),
            ("integrity", "restic check failed (exit 1): x")
        );
        let p = progress_event(
            &e(DrillStep::Verify, "failed: missing from the restore: a"),
            at,
        );
        assert_eq!(
            (p.item.as_str(), p.step.as_str(), p.tone),
            ("verify", "FAILED", Tone::Critical)
        );
        let p = progress_event(&e(DrillStep::Restore, "ok: snapshot restored in 0.5 s"), at);
        assert_eq!((p.item.as_str(), p.tone), ("restore", Tone::Ok));
        let p = progress_event(&e(DrillStep::Choose, "listing snapshots"), at);
        assert_eq!((p.item.as_str(), p.step.as_str()), ("choose", "choose"));
    }

    #[test]
    fn the_verify_progress_lists_the_declared_checks() {
        let mut state = at_snapshot();
        let op = started(state.submit(), "preflight");
        state.on_done(&op, stage(preflight_report()));
        state.submit();
        let op = started(state.confirm(true), "restore");
        started(state.on_done(&op, stage(preflight_report())), "verify");
        match state.view() {
            StepView::Progress { items, .. } => {
                let names: Vec<&str> = items.iter().map(|i| i.item.as_str()).collect();
                assert_eq!(names, ["integrity", "size", "files", "manifest", "verify"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn setup_reads_the_declared_drills() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("inventory.yml");
        std::fs::write(
            &path,
            r#"all:
  hosts:
    gamma:
      ansible_host: 10.0.0.3
      fleetdeck_backups:
        - name: app-data
          kind: restic
          repository: "rest:https://u:secret@vault/repo"
          password_file: /etc/restic/password
          paths: [/srv/app]
      fleetdeck_drills:
        web:
          repository: app-data
          checks:
            manifest: MANIFEST.sha256
    plain:
      ansible_host: 10.0.0.4
"#,
        )
        .expect("write");
        let inventory = Inventory::load(&path).expect("inventory");
        let setup = Setup::from_inventory(&inventory, Some("gamma".to_owned()));
        assert_eq!(setup.hosts.len(), 1, "{setup:?}");
        let gamma = &setup.hosts[0];
        assert_eq!(gamma.name, "gamma");
        assert_eq!(gamma.apps[0].checks, ["manifest"]);
        assert!(!gamma.repositories[0].location.contains("secret"));
    }
}
