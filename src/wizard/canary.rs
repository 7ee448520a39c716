//! The canary wizard: targets → apps → extra variables (the deploy wizard's steps) →
//! the canary pattern, wave size, soak, max failures, rollback scope → plan → review of
//! the waves and each host's plan → confirm → the rollout, shown as a board, with the
//! operator's go / no-go at each gate → summary. An unfinished rollout of the same
//! inventory is offered for resuming first (as `fleetdeck canary --resume`).
//!
//! The rollout itself is `core::canary::run`; this module only gathers its request,
//! turns its events into the board ([`Board`]) and the engine's progress (the latest
//! deploy step per host), and asks the go / no-go over a channel ([`AskOverChannel`]).

use std::path::PathBuf;
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::deploy::{
    self as deploy_wizard, PlannedHost, PromptFactory, Selection, Setup, chosen_hosts,
    plan_review as host_plan_review,
};
use super::engine::{
    Answers, ChoiceOption, ConfirmKind, OpRequest, ProgressSender, ReviewLine, Step, StepId,
    StepKind, Tone, Wizard,
};
use super::headless::Runner;
use crate::core::Core;
use crate::core::canary::{
    self, CanaryEvent, GoNoGo, HostStage, Rollout, RolloutRequest, RolloutStatus, WaveSize,
    WaveStage,
};
use crate::core::deploy::{self as deploy_core, IdentityCache, Prepared, Request};
use crate::sanitize;
use crate::ssh::setup::SshOptions;

pub const RESUME: StepId = "resume";
pub const CANARY: StepId = "canary";
pub const WAVE_SIZE: StepId = "wave_size";
pub const SOAK: StepId = "soak";
pub const MAX_FAILURES: StepId = "max_failures";
pub const ROLLBACK_ALL: StepId = "rollback_all";
pub const PLAN: StepId = "plan";
pub const REVIEW: StepId = "review";
pub const CONFIRM: StepId = "confirm";
pub const ROLLOUT: StepId = "rollout";
pub const SUMMARY: StepId = "summary";

/// The defaults, as `fleetdeck canary` has them.
pub const DEFAULT_CANARY: &str = "canary";
pub const DEFAULT_WAVE_SIZE: &str = "25%";
pub const DEFAULT_SOAK_SECONDS: u64 = 60;

/// What the canary wizard's operations produce.
#[derive(Debug, Clone, PartialEq)]
pub enum CanaryOutput {
    /// The rollout as planned (waves, nothing started), and each host's plan.
    Plan {
        rollout: Box<Rollout>,
        hosts: Vec<PlannedHost>,
    },
    /// The rollout at its end (passed, halted, or — if the run stopped — running).
    Finished(Box<Rollout>),
}

/// What the wizard is built from.
#[derive(Debug, Clone)]
pub struct CanarySetup {
    /// Targets and apps, as the deploy wizard offers them.
    pub deploy: Setup,
    /// The most recent unfinished rollout of this inventory: offered for resuming.
    pub unfinished: Option<Rollout>,
}

/// `wave 0 (canary)`, `wave 2`.
pub fn wave_name(index: usize) -> String {
    if index == 0 {
        "wave 0 (canary)".to_owned()
    } else {
        format!("wave {index}")
    }
}

/// How the board and the summary call a host's stage.
pub fn stage_word(stage: HostStage) -> &'static str {
    match stage {
        HostStage::Pending => "pending",
        HostStage::Deploying => "deploying",
        HostStage::Soaking => "soaking",
        HostStage::Passed => "passed",
        HostStage::Failed => "FAILED",
        HostStage::RolledBack => "ROLLED BACK",
        HostStage::Skipped => "skipped",
    }
}

pub fn stage_tone(stage: HostStage) -> Tone {
    match stage {
        HostStage::Pending | HostStage::Skipped => Tone::Muted,
        HostStage::Deploying | HostStage::Soaking => Tone::Heading,
        HostStage::Passed => Tone::Ok,
        HostStage::RolledBack => Tone::Warning,
        HostStage::Failed => Tone::Critical,
    }
}

fn resuming<O>(answers: &Answers<O>) -> bool {
    answers
        .chosen(RESUME)
        .is_some_and(|c| c.iter().any(|v| v == "resume"))
}

fn planned(answers: &Answers<CanaryOutput>) -> Option<(&Rollout, &[PlannedHost])> {
    match answers.output(PLAN) {
        Some(CanaryOutput::Plan { rollout, hosts }) => Some((rollout, hosts)),
        _ => None,
    }
}

/// The rollout as planned (after the plan step).
pub fn planned_rollout(answers: &Answers<CanaryOutput>) -> Option<&Rollout> {
    planned(answers).map(|(r, _)| r)
}

/// The rollout at its end (after the rollout step).
pub fn finished(answers: &Answers<CanaryOutput>) -> Option<&Rollout> {
    match answers.output(ROLLOUT) {
        Some(CanaryOutput::Finished(rollout)) => Some(rollout),
        _ => None,
    }
}

fn validate_wave_size(text: &str) -> Result<(), String> {
    WaveSize::parse(text.trim()).map(|_| ())
}

fn parse_soak(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?}: the soak is a whole number of seconds (60)"))
}

fn parse_max_failures(text: &str) -> Result<usize, String> {
    text.trim().parse().map_err(|_| {
        format!("{text:?}: a number of failed hosts tolerated after the canary (0 = none)")
    })
}

fn validate_canary(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        Err("the canary pattern is empty (an inventory group or host pattern: canary)".to_owned())
    } else {
        Ok(())
    }
}

/// The review: the waves in order, each host's plan under its wave, then what the
/// gate is and what happens on a failure.
pub fn plan_review(rollout: &Rollout, hosts: &[PlannedHost]) -> Vec<ReviewLine> {
    let mut lines = Vec::new();
    let changes: usize = hosts
        .iter()
        .filter_map(|h| h.plan.as_ref().ok())
        .map(|p| p.changes().count())
        .sum();
    lines.push(ReviewLine::new(
        format!(
            "Rollout {}: {} wave(s), {} host(s), {changes} change(s)",
            sanitize::line(&rollout.id),
            rollout.waves.len(),
            rollout.hosts.len()
        ),
        Tone::Heading,
    ));
    for wave in &rollout.waves {
        let passed = wave.stage == WaveStage::Passed;
        lines.push(ReviewLine::new(
            format!(
                "{}: {}{}",
                wave_name(wave.index),
                wave.hosts
                    .iter()
                    .map(|h| sanitize::line(h))
                    .collect::<Vec<_>>()
                    .join(", "),
                if passed {
                    " — passed, not deployed again"
                } else {
                    ""
                }
            ),
            if passed { Tone::Muted } else { Tone::Heading },
        ));
        if passed {
            continue;
        }
        for name in &wave.hosts {
            let host = hosts.iter().filter(|h| &h.name == name);
            for line in host_plan_review(&host.cloned().collect::<Vec<_>>()) {
                lines.push(ReviewLine::new(format!("  {}", line.text), line.tone));
            }
        }
    }
    let r = &rollout.request;
    lines.push(ReviewLine::new("", Tone::Normal));
    for text in [
        "The gate after each wave: every host deployed (its health gate), then".to_owned(),
        format!(
            "healthy for {} s (no restarts, HTTP probes passing), then your go / no-go.",
            r.soak_seconds
        ),
        format!(
            "Wave size {}; max failures {} after the canary (the canary tolerates none).",
            r.wave_size, r.max_failures
        ),
        format!(
            "A failure halts the rollout and rolls back {}.",
            if r.rollback_all {
                "every host this rollout deployed"
            } else {
                "the failed wave"
            }
        ),
    ] {
        lines.push(ReviewLine::new(text, Tone::Normal));
    }
    lines
}

/// The summary: the rollout's status, each host's final state and error, the journal.
pub fn summary_review(rollout: &Rollout) -> Vec<ReviewLine> {
    let text = canary::command::summary_lines(rollout);
    let mut tones = vec![match rollout.status {
        RolloutStatus::Passed => Tone::Ok,
        RolloutStatus::Halted => Tone::Critical,
        RolloutStatus::Running => Tone::Warning,
    }];
    // summary_lines lists the hosts wave by wave, as here.
    for wave in &rollout.waves {
        for name in &wave.hosts {
            if let Some(h) = rollout.host(name) {
                tones.push(stage_tone(h.stage));
            }
        }
    }
    let mut lines: Vec<ReviewLine> = text
        .into_iter()
        .zip(tones)
        .map(|(text, tone)| ReviewLine::new(text, tone))
        .collect();
    lines.push(ReviewLine::new(
        format!(
            "journal: {}",
            sanitize::line(&rollout.path().display().to_string())
        ),
        Tone::Muted,
    ));
    lines
}

fn input<O>(
    id: StepId,
    title: &str,
    prompt: &str,
    default: String,
    validate: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
) -> Step<O> {
    Step::new(
        id,
        title,
        StepKind::Input {
            prompt: prompt.to_owned(),
            default: Arc::new(move |_| default.clone()),
            validate: Arc::new(validate),
        },
    )
    .when(|answers| !resuming(answers))
}

/// The canary wizard's steps.
pub fn wizard(setup: CanarySetup) -> Wizard<CanaryOutput> {
    let deploy = Arc::new(setup.deploy);
    let mut steps = Vec::new();

    if let Some(unfinished) = setup.unfinished {
        let passed: Vec<String> = unfinished
            .waves
            .iter()
            .filter(|w| w.stage == WaveStage::Passed)
            .map(|w| wave_name(w.index))
            .collect();
        let detail = format!(
            "rollout {} started {}; passed: {}",
            sanitize::line(&unfinished.id),
            sanitize::line(&unfinished.started),
            if passed.is_empty() {
                "none".to_owned()
            } else {
                passed.join(", ")
            }
        );
        steps.push(Step::new(
            RESUME,
            "An unfinished rollout",
            StepKind::Choice {
                multi: false,
                options: Arc::new(move |_| {
                    vec![
                        ChoiceOption {
                            value: "resume".to_owned(),
                            label: "resume it".to_owned(),
                            detail: detail.clone(),
                            disabled: None,
                        },
                        ChoiceOption {
                            value: "new".to_owned(),
                            label: "a new rollout".to_owned(),
                            detail: "the unfinished one stays as it is".to_owned(),
                            disabled: None,
                        },
                    ]
                }),
                default: Arc::new(|_| vec!["resume".to_owned()]),
            },
        ));
    }

    for step in [
        deploy_wizard::targets_step(&deploy),
        deploy_wizard::apps_step(&deploy),
        deploy_wizard::vars_step(),
    ] {
        // The deploy steps keep their own conditions; none of them is asked on resume.
        let when = step.when.clone();
        steps.push(Step {
            when: Some(Arc::new(move |answers: &Answers<CanaryOutput>| {
                !resuming(answers) && when.as_ref().is_none_or(|w| w(answers))
            })),
            ..step
        });
    }
    steps.push(input(
        CANARY,
        "The canary",
        "The canary hosts: an inventory group or host pattern over the chosen hosts \
         (deployed first; they tolerate no failure)",
        DEFAULT_CANARY.to_owned(),
        validate_canary,
    ));
    steps.push(input(
        WAVE_SIZE,
        "Wave size",
        "Hosts per wave after the canary: a number (3) or a percentage of those hosts (25%)",
        DEFAULT_WAVE_SIZE.to_owned(),
        validate_wave_size,
    ));
    steps.push(input(
        SOAK,
        "Soak",
        "Seconds every host of a wave must stay healthy (no restarts, probes passing) \
         before the go / no-go",
        DEFAULT_SOAK_SECONDS.to_string(),
        |t| parse_soak(t).map(|_| ()),
    ));
    steps.push(input(
        MAX_FAILURES,
        "Max failures",
        "Failed hosts tolerated after the canary before the rollout halts (each is rolled \
         back on its own host); the canary tolerates none",
        "0".to_owned(),
        |t| parse_max_failures(t).map(|_| ()),
    ));
    steps.push(
        Step::new(
            ROLLBACK_ALL,
            "On a failure, roll back",
            StepKind::Choice {
                multi: false,
                options: Arc::new(|_| {
                    vec![
                        ChoiceOption {
                            value: "failed".to_owned(),
                            label: "the failed wave".to_owned(),
                            detail: "earlier waves keep the new release".to_owned(),
                            disabled: None,
                        },
                        ChoiceOption {
                            value: "all".to_owned(),
                            label: "every wave".to_owned(),
                            detail: "every host this rollout deployed (--rollback-all)".to_owned(),
                            disabled: None,
                        },
                    ]
                }),
                default: Arc::new(|_| vec!["failed".to_owned()]),
            },
        )
        .when(|answers| !resuming(answers)),
    );

    let d = deploy.clone();
    steps.push(Step::new(
        PLAN,
        "Plan",
        StepKind::Run {
            op: "plan",
            label: "Connecting to each host and planning the waves".to_owned(),
            mutating: false,
            items: Arc::new(move |answers| {
                if resuming(answers) {
                    Vec::new()
                } else {
                    chosen_hosts(&d.targets, answers)
                }
            }),
        },
    ));
    steps.push(Step::new(
        REVIEW,
        "Review the waves",
        StepKind::Review {
            lines: Arc::new(|answers| {
                planned(answers).map_or_else(Vec::new, |(r, hosts)| plan_review(r, hosts))
            }),
        },
    ));
    steps.push(Step::new(
        CONFIRM,
        "Confirm",
        StepKind::Confirm {
            question: Arc::new(|answers| {
                let Some((r, _)) = planned(answers) else {
                    return "Start the rollout?".to_owned();
                };
                let verb = if resuming(answers) {
                    format!("Resume rollout {}", sanitize::line(&r.id))
                } else {
                    "Start the rollout".to_owned()
                };
                format!(
                    "{verb}: {} wave(s), {} host(s), soak {} s, your go / no-go between waves? \
                     Once it runs it cannot be cancelled; a no-go at a gate halts it.",
                    r.waves.len(),
                    r.hosts.len(),
                    r.request.soak_seconds
                )
            }),
            kind: ConfirmKind::Gate,
        },
    ));
    steps.push(Step::new(
        ROLLOUT,
        "Rollout",
        StepKind::Run {
            op: "rollout",
            label: "Rolling out".to_owned(),
            mutating: true,
            items: Arc::new(|answers| {
                planned(answers).map_or_else(Vec::new, |(r, _)| {
                    r.waves.iter().flat_map(|w| w.hosts.clone()).collect()
                })
            }),
        },
    ));
    steps.push(Step::new(
        SUMMARY,
        "Summary",
        StepKind::Review {
            lines: Arc::new(|answers| finished(answers).map_or_else(Vec::new, summary_review)),
        },
    ));

    Wizard {
        name: "Canary rollout".to_owned(),
        steps,
    }
}

/// Something the board shows, from the running rollout.
#[derive(Debug)]
pub enum BoardUpdate {
    /// The rollout as it stands.
    Board(Box<Rollout>),
    /// Seconds left in a wave's soak.
    Soak { wave: usize, left: u64 },
    /// The rollout waits for the operator's go / no-go after `wave`; the answer goes
    /// back over `answer`.
    Gate {
        wave: usize,
        answer: oneshot::Sender<bool>,
    },
}

/// A soak's countdown: `left` seconds as of `at` (the board counts down between the
/// core's reports, which come every 5 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoakClock {
    pub wave: usize,
    pub left: u64,
    pub at: OffsetDateTime,
}

/// The go / no-go being asked.
#[derive(Debug)]
pub struct GateQuestion {
    pub wave: usize,
    answer: Option<oneshot::Sender<bool>>,
}

/// The board's state beyond the engine's progress items: the rollout as the core last
/// reported it, the soak's countdown, the question at the gate, the answers given.
#[derive(Debug, Default)]
pub struct Board {
    pub rollout: Option<Rollout>,
    pub soak: Option<SoakClock>,
    pub question: Option<GateQuestion>,
    /// Go (`true`) or no-go given after each wave, in order.
    pub answered: Vec<(usize, bool)>,
}

impl Board {
    pub fn update(&mut self, update: BoardUpdate, at: OffsetDateTime) {
        match update {
            BoardUpdate::Board(rollout) => {
                // A soak that ended (its wave moved on) stops counting.
                if let Some(clock) = self.soak
                    && rollout
                        .waves
                        .get(clock.wave)
                        .is_none_or(|w| w.stage != WaveStage::Soaking)
                {
                    self.soak = None;
                }
                self.rollout = Some(*rollout);
            }
            BoardUpdate::Soak { wave, left } => {
                self.soak = Some(SoakClock { wave, left, at });
            }
            BoardUpdate::Gate { wave, answer } => {
                self.soak = None;
                self.question = Some(GateQuestion {
                    wave,
                    answer: Some(answer),
                });
            }
        }
    }

    /// Answers the question at the gate; `false` when none is asked.
    pub fn answer(&mut self, go: bool) -> bool {
        let Some(mut question) = self.question.take() else {
            return false;
        };
        if let Some(answer) = question.answer.take() {
            // The rollout may have ended meanwhile; then nobody listens.
            let _ = answer.send(go);
        }
        self.answered.push((question.wave, go));
        true
    }

    /// The soak's seconds left at `now`.
    pub fn soak_left(&self, now: OffsetDateTime) -> Option<(usize, u64)> {
        let clock = self.soak?;
        let gone = (now - clock.at).whole_seconds().max(0) as u64;
        Some((clock.wave, clock.left.saturating_sub(gone)))
    }

    /// The wave being worked on: deploying, soaking or at its gate (else the last one
    /// that failed or was rolled back).
    pub fn active_wave(&self) -> Option<usize> {
        let rollout = self.rollout.as_ref()?;
        rollout
            .waves
            .iter()
            .find(|w| {
                matches!(
                    w.stage,
                    WaveStage::Deploying | WaveStage::Soaking | WaveStage::Gate
                )
            })
            .or_else(|| {
                rollout
                    .waves
                    .iter()
                    .rev()
                    .find(|w| matches!(w.stage, WaveStage::Failed | WaveStage::RolledBack))
            })
            .map(|w| w.index)
    }

    /// The current gate, in words: what the active wave waits for.
    pub fn gate_text(&self, now: OffsetDateTime) -> String {
        if let Some(q) = &self.question {
            return format!(
                "Gate of {}: soaked and healthy — waiting for your go / no-go",
                wave_name(q.wave)
            );
        }
        let Some(rollout) = &self.rollout else {
            return "Starting…".to_owned();
        };
        match rollout.status {
            RolloutStatus::Passed => return "Every wave passed its gate".to_owned(),
            RolloutStatus::Halted => {
                return format!(
                    "HALTED: {}",
                    sanitize::line(rollout.error.as_deref().unwrap_or("a wave failed"))
                );
            }
            RolloutStatus::Running => {}
        }
        let Some(index) = self.active_wave() else {
            return "Between waves".to_owned();
        };
        let name = wave_name(index);
        match rollout.waves.get(index).map(|w| w.stage) {
            Some(WaveStage::Deploying) => format!("Gate of {name}: deploying (health gate)"),
            Some(WaveStage::Soaking) => match self.soak_left(now) {
                Some((wave, left)) if wave == index => {
                    format!("Gate of {name}: soaking, {left} s left")
                }
                _ => format!("Gate of {name}: soaking"),
            },
            Some(WaveStage::Gate) => format!("Gate of {name}: waiting for the go / no-go"),
            Some(WaveStage::Failed) => format!("Gate of {name}: FAILED — rolling back"),
            Some(WaveStage::RolledBack) => format!("{name} rolled back"),
            _ => "Between waves".to_owned(),
        }
    }
}

/// The go / no-go asked over a channel: the front end shows the question with the
/// board and answers over the oneshot. A front end that went away is a no-go.
pub struct AskOverChannel {
    updates: mpsc::UnboundedSender<BoardUpdate>,
}

impl AskOverChannel {
    pub fn new(updates: mpsc::UnboundedSender<BoardUpdate>) -> AskOverChannel {
        AskOverChannel { updates }
    }
}

impl GoNoGo for AskOverChannel {
    fn decide<'a>(
        &'a self,
        _: &'a Rollout,
        wave: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        let (answer, asked) = oneshot::channel();
        let sent = self
            .updates
            .send(BoardUpdate::Gate { wave, answer })
            .is_ok();
        Box::pin(async move { sent && asked.await.unwrap_or(false) })
    }
}

/// Carries out the canary wizard's operations with the rollout core.
pub struct CanaryRunner {
    selection: Selection,
    /// The inventory's canonical path (the journal records it; `--resume` matches it).
    inventory_path: PathBuf,
    ssh: SshOptions,
    core: Core,
    prompt: PromptFactory,
    break_lock: bool,
    updates: mpsc::UnboundedSender<BoardUpdate>,
    unfinished: Option<Rollout>,
    /// Between the plan and the rollout.
    prepared: Option<Prepared>,
    rollout: Option<Rollout>,
}

impl CanaryRunner {
    /// `updates` receives the board and the go / no-go questions while it runs.
    pub fn new(
        selection: Selection,
        inventory_path: PathBuf,
        ssh: SshOptions,
        core: Core,
        prompt: PromptFactory,
        updates: mpsc::UnboundedSender<BoardUpdate>,
    ) -> CanaryRunner {
        let unfinished = canary::unfinished(&inventory_path).ok().flatten();
        CanaryRunner {
            selection,
            inventory_path,
            ssh,
            core,
            prompt,
            break_lock: false,
            updates,
            unfinished,
            prepared: None,
            rollout: None,
        }
    }

    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The unfinished rollout of this inventory, if any (offered for resuming).
    pub fn unfinished(&self) -> Option<&Rollout> {
        self.unfinished.as_ref()
    }

    /// The rollout's request from the answers.
    pub fn request(&self, answers: &Answers<CanaryOutput>) -> Result<RolloutRequest, String> {
        let deploy = self.selection.request(answers, false)?;
        let text = |id| answers.text(id).unwrap_or_default();
        Ok(RolloutRequest {
            inventory: self.inventory_path.clone(),
            limit: deploy.limit,
            apps: deploy.apps,
            extra_vars: deploy.extra_vars,
            canary: match text(CANARY).trim() {
                "" => DEFAULT_CANARY.to_owned(),
                pattern => pattern.to_owned(),
            },
            wave_size: WaveSize::parse(match text(WAVE_SIZE).trim() {
                "" => DEFAULT_WAVE_SIZE,
                size => size,
            })?,
            max_failures: match text(MAX_FAILURES).trim() {
                "" => 0,
                n => parse_max_failures(n)?,
            },
            soak_seconds: match text(SOAK).trim() {
                "" => DEFAULT_SOAK_SECONDS,
                s => parse_soak(s)?,
            },
            strict_soak: false,
            rollback_all: answers
                .chosen(ROLLBACK_ALL)
                .is_some_and(|c| c.iter().any(|v| v == "all")),
            reason: None,
        })
    }

    async fn plan(&mut self, answers: &Answers<CanaryOutput>) -> Result<CanaryOutput, Vec<String>> {
        self.prepared = None;
        self.rollout = None;
        let resumed = if resuming(answers) {
            Some(
                self.unfinished
                    .clone()
                    .ok_or_else(|| vec!["the unfinished rollout is gone".to_owned()])?,
            )
        } else {
            None
        };
        let request = match &resumed {
            Some(r) => r.request.clone(),
            None => self.request(answers).map_err(|e| vec![e])?,
        };
        let deploy_request = Request {
            limit: request.limit.clone(),
            apps: request.apps.clone(),
            extra_vars: request.extra_vars.clone(),
        };
        let prepared = {
            let mut identities = IdentityCache::new((self.prompt)());
            deploy_core::prepare(&self.selection.inventory, &deploy_request, &mut identities)?
        };
        let rollout = match resumed {
            Some(mut r) => {
                // The rollout's hosts must still be selected by its own request.
                let known: Vec<&str> = prepared
                    .hosts
                    .iter()
                    .map(|(t, _)| t.name.as_str())
                    .collect();
                if let Some(missing) = r.hosts.iter().find(|h| !known.contains(&h.name.as_str())) {
                    return Err(vec![sanitize::line(&format!(
                        "{} is part of rollout {} but no longer selected by the inventory",
                        missing.name, r.id
                    ))]);
                }
                r.error = None;
                r
            }
            None => canary::plan_rollout(&self.selection.inventory, request, &prepared)
                .map_err(|e| vec![e])?,
        };
        // Each host's plan, for the review: the connections close after it (the
        // rollout connects wave by wave), and the desired state goes back to the run.
        let planned = deploy_core::connect_and_plan(&self.ssh, prepared)
            .await
            .map_err(|e| vec![e])?;
        let hosts = planned.iter().map(PlannedHost::from_planned).collect();
        self.prepared = Some(Prepared {
            hosts: planned.into_iter().map(|p| (p.target, p.desired)).collect(),
        });
        self.rollout = Some(rollout.clone());
        Ok(CanaryOutput::Plan {
            rollout: Box::new(rollout),
            hosts,
        })
    }

    async fn rollout(&mut self, progress: ProgressSender) -> Result<CanaryOutput, Vec<String>> {
        let (Some(prepared), Some(mut rollout)) = (self.prepared.take(), self.rollout.take())
        else {
            return Err(vec!["nothing was planned: nothing was changed".to_owned()]);
        };
        rollout.save().map_err(|e| {
            vec![format!(
                "cannot write the rollout journal {}: {e}; nothing was changed",
                rollout.path().display()
            )]
        })?;
        let gate = AskOverChannel::new(self.updates.clone());
        let (tx, mut rx) = mpsc::unbounded_channel::<CanaryEvent>();
        let updates = self.updates.clone();
        let (core, ssh, break_lock) = (&self.core, &self.ssh, self.break_lock);
        let work = async {
            canary::run(core, ssh, &mut rollout, prepared, &gate, &tx, break_lock).await;
            drop(tx);
        };
        let forward = async {
            while let Some(event) = rx.recv().await {
                match event {
                    CanaryEvent::Step(step) => {
                        let event = deploy_wizard::progress_event(&step, OffsetDateTime::now_utc());
                        let _ = progress.send(event);
                    }
                    CanaryEvent::Board(r) => {
                        let _ = updates.send(BoardUpdate::Board(r));
                    }
                    CanaryEvent::Soak { wave, left } => {
                        let _ = updates.send(BoardUpdate::Soak { wave, left });
                    }
                }
            }
        };
        tokio::join!(work, forward);
        Ok(CanaryOutput::Finished(Box::new(rollout)))
    }
}

impl Runner<CanaryOutput> for CanaryRunner {
    fn run(
        &mut self,
        op: &OpRequest,
        answers: &Answers<CanaryOutput>,
        progress: ProgressSender,
    ) -> impl std::future::Future<Output = Result<CanaryOutput, Vec<String>>> {
        let op = op.op;
        async move {
            match op {
                "plan" => self.plan(answers).await,
                "rollout" => self.rollout(progress).await,
                other => Err(vec![format!(
                    "the canary wizard has no operation {other:?}"
                )]),
            }
        }
    }
}
