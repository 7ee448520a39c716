//! The deploy wizard: choose targets → choose apps → extra variables → plan → review
//! → confirm → apply with per-host progress → summary → (on failure) a rollback
//! offer. The console walks it on screen; `fleetdeck deploy` walks it headless. Its
//! operations call the deployment core only through `core::deploy`'s functions.

use std::sync::Arc;

use futures_util::StreamExt as _;

use time::OffsetDateTime;

use super::Runner;
use super::engine::{
    Answers, ChoiceOption, ConfirmKind, OpRequest, ProgressEvent, ProgressSender, ReviewLine, Step,
    StepId, StepKind, Tone, Wizard,
};
use crate::core::Core;
use crate::core::deploy::apply::{self, RollbackScope};
use crate::core::deploy::plan::{self, HostPlan, IdentityCache};
use crate::core::deploy::summary::summary_lines;
use crate::core::deploy::{
    self as deploy_core, ApplyOptions, DeployEvent, HostOutcome, HostResult, Planned, Request,
    ServiceResult,
};
use crate::fleet::target::Target;
use crate::inventory::Inventory;
use crate::sanitize;
use crate::secrets::PassphrasePrompt;
use crate::ssh::setup::SshOptions;
use crate::util::shell;

pub const TARGETS: StepId = "targets";
pub const APPS: StepId = "apps";
pub const VARS: StepId = "vars";
pub const PLAN: StepId = "plan";
pub const REVIEW: StepId = "review";
pub const CONFIRM: StepId = "confirm";
pub const APPLY: StepId = "apply";
pub const SUMMARY: StepId = "summary";
pub const ROLLBACK: StepId = "rollback";
pub const ROLLBACK_RUN: StepId = "rollback_run";
pub const ROLLBACK_SUMMARY: StepId = "rollback_summary";

/// What the deploy wizard's operations produce.
#[derive(Debug, Clone, PartialEq)]
pub enum DeployOutput {
    /// Every host's plan, or why it has none.
    Plan(Vec<PlannedHost>),
    Applied(Vec<HostOutcome>),
    RolledBack(Vec<HostOutcome>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedHost {
    pub name: String,
    pub plan: Result<HostPlan, String>,
}

impl PlannedHost {
    pub fn from_planned(p: &Planned) -> PlannedHost {
        PlannedHost {
            name: p.target.name.clone(),
            plan: p
                .reached
                .as_ref()
                .map(|(_, plan)| plan.clone())
                .map_err(Clone::clone),
        }
    }
}

/// A host the wizard may target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    pub name: String,
    pub apps: Vec<String>,
    pub read_only: bool,
}

impl TargetInfo {
    pub fn from_targets(targets: &[Target]) -> Vec<TargetInfo> {
        targets
            .iter()
            .map(|t| TargetInfo {
                name: t.name.clone(),
                apps: t.settings.apps.clone(),
                read_only: t.settings.read_only,
            })
            .collect()
    }
}

/// What the wizard is built from.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The inventory's selected hosts (`--limit`).
    pub targets: Vec<TargetInfo>,
    /// Checked at first (absent: every host).
    pub preselected: Option<Vec<String>>,
    /// Read-only hosts shown but not selectable (the console). Headless they stay
    /// selectable and the core refuses them, as `fleetdeck deploy` always did.
    pub read_only_disabled: bool,
}

/// The apps the chosen hosts declare, in inventory order.
pub fn app_options(targets: &[TargetInfo], hosts: &[String]) -> Vec<String> {
    let mut apps: Vec<String> = Vec::new();
    for t in targets.iter().filter(|t| hosts.contains(&t.name)) {
        for app in &t.apps {
            if !apps.contains(app) {
                apps.push(app.clone());
            }
        }
    }
    apps
}

/// The hosts chosen (every host before the step is answered).
pub fn chosen_hosts<O>(targets: &[TargetInfo], answers: &Answers<O>) -> Vec<String> {
    match answers.chosen(TARGETS) {
        Some(hosts) => hosts.to_vec(),
        None => targets.iter().map(|t| t.name.clone()).collect(),
    }
}

/// `-e` words as variables.
pub fn parse_vars(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    plan::extra_vars(&shell::split_words(text)?)
}

fn plan_of(answers: &Answers<DeployOutput>) -> &[PlannedHost] {
    match answers.output(PLAN) {
        Some(DeployOutput::Plan(hosts)) => hosts,
        _ => &[],
    }
}

fn applied(answers: &Answers<DeployOutput>) -> &[HostOutcome] {
    match answers.output(APPLY) {
        Some(DeployOutput::Applied(outcomes)) => outcomes,
        _ => &[],
    }
}

/// (changes, hosts with changes) in the plan.
pub fn plan_counts(hosts: &[PlannedHost]) -> (usize, usize) {
    let plans = hosts.iter().filter_map(|h| h.plan.as_ref().ok());
    let changes = plans.clone().map(|p| p.changes().count()).sum();
    let with_changes = plans.filter(|p| !p.is_noop()).count();
    (changes, with_changes)
}

/// Hosts whose deploy failed or was rolled back automatically.
pub fn failed_hosts(outcomes: &[HostOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter(|o| matches!(o.result, HostResult::Failed | HostResult::RolledBack))
        .map(|o| o.name.clone())
        .collect()
}

/// What this deploy switched to a new revision, per host: the services that ended
/// `deployed` replacing a container (a created one has no previous revision). The
/// rollback offer returns exactly these containers, nothing else — a host that was
/// rolled back automatically already runs its previous revision and is left alone.
pub fn switched(outcomes: &[HostOutcome]) -> Vec<(String, Vec<String>)> {
    outcomes
        .iter()
        .filter_map(|o| {
            let containers: Vec<String> = o
                .services
                .iter()
                .filter(|s| s.result == ServiceResult::Deployed && s.from_image.is_some())
                .map(|s| s.container.clone())
                .collect();
            (!containers.is_empty()).then(|| (o.name.clone(), containers))
        })
        .collect()
}

/// The rollback is offered when some host failed or was rolled back and some host
/// was switched: returning the switched ones makes the fleet consistent again.
pub fn rollback_offered(outcomes: &[HostOutcome]) -> bool {
    !failed_hosts(outcomes).is_empty() && !switched(outcomes).is_empty()
}

/// The offer's question: which hosts failed, and exactly what it returns.
pub fn rollback_question(outcomes: &[HostOutcome]) -> String {
    let returned: Vec<String> = switched(outcomes)
        .iter()
        .map(|(host, containers)| format!("{} ({})", sanitize::line(host), list(containers)))
        .collect();
    format!(
        "{} failed or rolled back. Return what this deploy switched to its previous \
         revision, so the fleet is consistent again: {}? Nothing else is touched (the \
         failed hosts stay as they are).",
        list(&failed_hosts(outcomes)),
        returned.join(", ")
    )
}

fn plan_line_tone(line: &str) -> Tone {
    match line.chars().next() {
        Some('+') => Tone::Ok,
        Some('~') => Tone::Warning,
        Some('!') => Tone::Muted,
        _ => Tone::Normal,
    }
}

/// The plan as people read it, per host (the same lines `fleetdeck deploy` prints).
pub fn plan_review(hosts: &[PlannedHost]) -> Vec<ReviewLine> {
    let mut lines = Vec::new();
    for h in hosts {
        let name = sanitize::line(&h.name);
        match &h.plan {
            Ok(p) => {
                if p.is_noop() {
                    lines.push(ReviewLine::new(format!("{name}: up to date"), Tone::Ok));
                } else {
                    lines.push(ReviewLine::new(format!("{name}:"), Tone::Heading));
                }
                for line in plan::describe(p) {
                    let tone = plan_line_tone(&line);
                    lines.push(ReviewLine::new(format!("  {line}"), tone));
                }
            }
            Err(e) => lines.push(ReviewLine::new(
                format!("{name}: unreachable: {}", sanitize::line(e)),
                Tone::Critical,
            )),
        }
    }
    lines
}

fn result_tone(result: HostResult) -> Tone {
    match result {
        HostResult::Unchanged | HostResult::Deployed => Tone::Ok,
        HostResult::RolledBack
        | HostResult::Locked
        | HostResult::Refused
        | HostResult::Interrupted => Tone::Warning,
        HostResult::Failed | HostResult::Unreachable => Tone::Critical,
    }
}

/// The summary as people read it (the same lines `fleetdeck deploy` prints), each
/// host's first line toned by its result.
pub fn summary_review(outcomes: &[HostOutcome]) -> Vec<ReviewLine> {
    let mut lines = Vec::new();
    for o in outcomes {
        for (i, text) in summary_lines(std::slice::from_ref(o))
            .into_iter()
            .enumerate()
        {
            let tone = if i == 0 {
                result_tone(o.result)
            } else if text.starts_with("    |") {
                Tone::Muted
            } else {
                Tone::Normal
            };
            lines.push(ReviewLine::new(text, tone));
        }
    }
    lines
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| sanitize::line(s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The targets step: the selected hosts as a checklist, the preselection checked,
/// read-only hosts disabled when the setup says so.
pub fn targets_step<O>(setup: &Arc<Setup>) -> Step<O> {
    let s = setup.clone();
    let d = setup.clone();
    Step::new(
        TARGETS,
        "Choose the target hosts",
        StepKind::Choice {
            multi: true,
            options: Arc::new(move |_| {
                s.targets
                    .iter()
                    .map(|t| ChoiceOption {
                        value: t.name.clone(),
                        label: sanitize::line(&t.name),
                        detail: if t.apps.is_empty() {
                            "no apps".to_owned()
                        } else {
                            format!("apps: {}", list(&t.apps))
                        },
                        disabled: (t.read_only && s.read_only_disabled)
                            .then(|| "read-only (fleetdeck_read_only)".to_owned()),
                    })
                    .collect()
            }),
            default: Arc::new(move |_| match &d.preselected {
                Some(names) => names.clone(),
                None => d.targets.iter().map(|t| t.name.clone()).collect(),
            }),
        },
    )
}

/// The apps step: the apps the chosen hosts declare, all checked; skipped when they
/// declare none.
pub fn apps_step<O>(setup: &Arc<Setup>) -> Step<O> {
    let s = setup.clone();
    let s2 = setup.clone();
    let s3 = setup.clone();
    Step::new(
        APPS,
        "Choose the apps",
        StepKind::Choice {
            multi: true,
            options: Arc::new(move |answers| {
                let hosts = chosen_hosts(&s.targets, answers);
                let on = |app: &String| {
                    s.targets
                        .iter()
                        .filter(|t| hosts.contains(&t.name) && t.apps.contains(app))
                        .count()
                };
                app_options(&s.targets, &hosts)
                    .into_iter()
                    .map(|app| ChoiceOption {
                        detail: format!("on {} of {} host(s)", on(&app), hosts.len()),
                        label: sanitize::line(&app),
                        value: app,
                        disabled: None,
                    })
                    .collect()
            }),
            default: Arc::new(move |answers| {
                app_options(&s2.targets, &chosen_hosts(&s2.targets, answers))
            }),
        },
    )
    // Hosts that declare no app: nothing to choose (their plan shows what runs).
    .when(move |answers| !app_options(&s3.targets, &chosen_hosts(&s3.targets, answers)).is_empty())
}

/// The extra variables step (`-e KEY=VALUE ...`).
pub fn vars_step<O>() -> Step<O> {
    Step::new(
        VARS,
        "Extra variables",
        StepKind::Input {
            prompt: "KEY=VALUE ... (optional; wins over the inventory, like -e; quote values with spaces)"
                .to_owned(),
            default: Arc::new(|_| String::new()),
            validate: Arc::new(|text| parse_vars(text).map(|_| ())),
        },
    )
}

/// The deploy wizard's steps.
pub fn wizard(setup: Setup) -> Wizard<DeployOutput> {
    let setup = Arc::new(setup);
    let mut steps = vec![targets_step(&setup), apps_step(&setup), vars_step()];

    let s = setup.clone();
    steps.push(Step::new(
        PLAN,
        "Plan",
        StepKind::Run {
            op: "plan",
            label: "Connecting to each host and planning".to_owned(),
            mutating: false,
            items: Arc::new(move |answers| chosen_hosts(&s.targets, answers)),
        },
    ));

    steps.push(Step::new(
        REVIEW,
        "Review the plan",
        StepKind::Review {
            lines: Arc::new(|answers| plan_review(plan_of(answers))),
        },
    ));

    steps.push(
        Step::new(
            CONFIRM,
            "Confirm",
            StepKind::Confirm {
                question: Arc::new(|answers| {
                    let (changes, hosts) = plan_counts(plan_of(answers));
                    format!("Apply {changes} change(s) on {hosts} host(s)?")
                }),
                kind: ConfirmKind::Gate,
            },
        )
        // Nothing to change: nothing to confirm (the apply reports every host unchanged).
        .when(|answers| plan_counts(plan_of(answers)).0 > 0),
    );

    steps.push(Step::new(
        APPLY,
        "Apply",
        StepKind::Run {
            op: "apply",
            label: "Applying".to_owned(),
            mutating: true,
            items: Arc::new(|answers| plan_of(answers).iter().map(|h| h.name.clone()).collect()),
        },
    ));

    steps.push(Step::new(
        SUMMARY,
        "Summary",
        StepKind::Review {
            lines: Arc::new(|answers| summary_review(applied(answers))),
        },
    ));

    steps.push(
        Step::new(
            ROLLBACK,
            "Roll back?",
            StepKind::Confirm {
                question: Arc::new(|answers| rollback_question(applied(answers))),
                kind: ConfirmKind::Offer,
            },
        )
        .when(|answers| rollback_offered(applied(answers))),
    );

    steps.push(
        Step::new(
            ROLLBACK_RUN,
            "Roll back",
            StepKind::Run {
                op: "rollback",
                label: "Rolling back".to_owned(),
                mutating: true,
                items: Arc::new(|answers| {
                    switched(applied(answers))
                        .into_iter()
                        .map(|(host, _)| host)
                        .collect()
                }),
            },
        )
        .when(|answers| answers.confirmed(ROLLBACK) == Some(true)),
    );

    steps.push(
        Step::new(
            ROLLBACK_SUMMARY,
            "Rollback summary",
            StepKind::Review {
                lines: Arc::new(|answers| match answers.output(ROLLBACK_RUN) {
                    Some(DeployOutput::RolledBack(outcomes)) => summary_review(outcomes),
                    _ => Vec::new(),
                }),
            },
        )
        .when(|answers| answers.output(ROLLBACK_RUN).is_some()),
    );

    Wizard {
        name: "Deploy".to_owned(),
        steps,
    }
}

/// Makes a passphrase prompt for age identities, once per planning.
pub type PromptFactory = Box<dyn Fn() -> Box<dyn PassphrasePrompt + Send + Sync> + Send + Sync>;

/// The hosts a wizard may target and how its answers become the core's request: the
/// inventory, its `--limit`, the hosts it selects. Shared by the deploy and canary
/// wizards.
pub struct Selection {
    pub inventory: Inventory,
    pub limit: Option<String>,
    targets: Vec<TargetInfo>,
}

impl Selection {
    pub fn new(inventory: Inventory, limit: Option<String>) -> Result<Selection, String> {
        let targets = TargetInfo::from_targets(&crate::fleet::target::nonempty_targets(
            &inventory,
            limit.as_deref(),
        )?);
        Ok(Selection {
            inventory,
            limit,
            targets,
        })
    }

    /// The hosts the wizard offers.
    pub fn targets(&self) -> &[TargetInfo] {
        &self.targets
    }

    /// The `--limit` selecting exactly `hosts`: the original one when every host is
    /// chosen, else their names (checked to select exactly them).
    fn limit_for(&self, hosts: &[String]) -> Result<Option<String>, String> {
        let every = self.targets.len() == hosts.len()
            && self.targets.iter().all(|t| hosts.contains(&t.name));
        if every {
            return Ok(self.limit.clone());
        }
        let pattern = hosts.join(",");
        let selected = crate::fleet::target::nonempty_targets(&self.inventory, Some(&pattern))?;
        let exact =
            selected.len() == hosts.len() && selected.iter().all(|t| hosts.contains(&t.name));
        if exact {
            Ok(Some(pattern))
        } else {
            Err(format!(
                "the hosts {} cannot be selected by name (a group has the same name, or a name \
                 is a pattern); use --limit",
                list(hosts)
            ))
        }
    }

    /// The core's request from the answers of the targets, apps and variables steps.
    /// With `explicit_apps` (`--app` was given) the apps answer is passed as chosen,
    /// even when it names every app.
    pub fn request<O>(&self, answers: &Answers<O>, explicit_apps: bool) -> Result<Request, String> {
        let hosts = chosen_hosts(&self.targets, answers);
        let limit = self.limit_for(&hosts)?;
        let every_app = app_options(&self.targets, &hosts);
        let apps = match answers.chosen(APPS) {
            Some(chosen) if explicit_apps || chosen.len() != every_app.len() => chosen.to_vec(),
            _ => Vec::new(),
        };
        let extra_vars = parse_vars(answers.text(VARS).unwrap_or_default())?;
        Ok(Request {
            limit,
            apps,
            extra_vars,
        })
    }
}

/// Carries out the deploy wizard's operations with the deployment core. Keeps the
/// plan's connections open from the plan to the apply (and a rollback).
pub struct DeployRunner {
    selection: Selection,
    /// `--app` was given: the apps answer is passed as chosen, even when it names
    /// every app (hosts declaring none stay out, as `--app` always did).
    pub explicit_apps: bool,
    ssh: SshOptions,
    core: Core,
    prompt: PromptFactory,
    options: ApplyOptions,
    planned: Vec<Planned>,
}

impl DeployRunner {
    pub fn new(
        inventory: Inventory,
        limit: Option<String>,
        ssh: SshOptions,
        core: Core,
        prompt: PromptFactory,
        options: ApplyOptions,
    ) -> Result<DeployRunner, String> {
        Ok(DeployRunner {
            selection: Selection::new(inventory, limit)?,
            explicit_apps: false,
            ssh,
            core,
            prompt,
            options,
            planned: Vec::new(),
        })
    }

    /// The hosts the wizard offers.
    pub fn targets(&self) -> &[TargetInfo] {
        self.selection.targets()
    }

    /// The hosts as planned (after the plan step).
    pub fn planned(&self) -> &[Planned] {
        &self.planned
    }

    /// The core's request from the answers.
    pub fn request(&self, answers: &Answers<DeployOutput>) -> Result<Request, String> {
        self.selection.request(answers, self.explicit_apps)
    }

    async fn plan(&mut self, answers: &Answers<DeployOutput>) -> Result<DeployOutput, Vec<String>> {
        let request = self.request(answers).map_err(|e| vec![e])?;
        // Connections of an earlier plan (the operator went back) are closed first.
        self.planned.clear();
        let prepared = {
            let mut identities = IdentityCache::new((self.prompt)());
            deploy_core::prepare(&self.selection.inventory, &request, &mut identities)?
        };
        self.planned = deploy_core::connect_and_plan(&self.ssh, prepared)
            .await
            .map_err(|e| vec![e])?;
        Ok(DeployOutput::Plan(
            self.planned.iter().map(PlannedHost::from_planned).collect(),
        ))
    }

    async fn apply(&mut self, progress: ProgressSender) -> DeployOutput {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let work = async {
            let outcomes =
                deploy_core::apply_all(&self.core, &self.planned, &self.options, &tx).await;
            drop(tx);
            outcomes
        };
        let (outcomes, ()) = tokio::join!(work, forward(rx, progress));
        DeployOutput::Applied(outcomes)
    }

    /// Returns exactly the containers this deploy switched to their previous revision
    /// (on the sessions kept since the plan).
    async fn rollback(
        &mut self,
        answers: &Answers<DeployOutput>,
        progress: ProgressSender,
    ) -> DeployOutput {
        let scope = switched(applied(answers));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (core, options, planned) = (&self.core, &self.options, &self.planned);
        let work = async {
            let outcomes: Vec<HostOutcome> = futures_util::stream::iter(&scope)
                .map(|(host, containers)| {
                    let tx = &tx;
                    async move {
                        match planned.iter().find(|p| &p.target.name == host) {
                            Some(Planned {
                                reached: Ok((access, _)),
                                ..
                            }) => {
                                apply::rollback_scope(
                                    core,
                                    access,
                                    RollbackScope::Containers(containers),
                                    options,
                                    tx,
                                )
                                .await
                            }
                            Some(Planned {
                                reached: Err(e), ..
                            }) => HostOutcome::new(host, HostResult::Unreachable, Some(e.clone())),
                            None => HostOutcome::new(
                                host,
                                HostResult::Failed,
                                Some("not part of this deploy's plan".to_owned()),
                            ),
                        }
                    }
                })
                .buffered(deploy_core::PARALLEL_HOSTS)
                .collect()
                .await;
            drop(tx);
            outcomes
        };
        let (outcomes, ()) = tokio::join!(work, forward(rx, progress));
        DeployOutput::RolledBack(outcomes)
    }
}

/// The core's events as progress items: one item per host.
pub fn progress_event(e: &DeployEvent, at: OffsetDateTime) -> ProgressEvent {
    let label = e.subject();
    ProgressEvent {
        item: sanitize::line(&e.host),
        label: sanitize::line(&label),
        tone: match e.step.as_str() {
            "revert" | "rollback" => Tone::Warning,
            _ => Tone::Normal,
        },
        step: sanitize::line(&e.step),
        detail: sanitize::line(&e.detail),
        at,
    }
}

async fn forward(
    mut events: tokio::sync::mpsc::UnboundedReceiver<DeployEvent>,
    progress: ProgressSender,
) {
    while let Some(e) = events.recv().await {
        let _ = progress.send(progress_event(&e, OffsetDateTime::now_utc()));
    }
}

impl Runner<DeployOutput> for DeployRunner {
    fn run(
        &mut self,
        op: &OpRequest,
        answers: &Answers<DeployOutput>,
        progress: ProgressSender,
    ) -> impl std::future::Future<Output = Result<DeployOutput, Vec<String>>> {
        let op = op.op;
        async move {
            match op {
                "plan" => self.plan(answers).await,
                "apply" => Ok(self.apply(progress).await),
                "rollback" => Ok(self.rollback(answers, progress).await),
                other => Err(vec![format!(
                    "the deploy wizard has no operation {other:?}"
                )]),
            }
        }
    }
}
