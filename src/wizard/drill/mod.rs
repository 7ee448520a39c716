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
//! predates it; both call the same core steps (`core::drill::run`; the command is
//! `commands/drill.rs`).

mod review;
mod runner;

use std::path::PathBuf;
use std::sync::Arc;

use super::engine::{Answers, ChoiceOption, ConfirmKind, Step, StepId, StepKind, Wizard};
use crate::core::drill::run;
use crate::inventory::Inventory;
use crate::probes::backup::{BackupKind, redact_url_password};
use crate::probes::drill::{DrillReport, SnapshotInfo};
use crate::sanitize;

use review::kind_word;
pub use review::{
    confirm_question, inspect_lines, keep_question, report_lines, restored_root, results_lines,
    review_lines, snapshot_option,
};
pub use runner::{DrillRunner, progress_event};

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

#[cfg(test)]
mod tests;
