//! The canary wizard: targets → apps → extra variables (the deploy wizard's steps) →
//! the canary pattern, wave size, soak, max failures, rollback scope → plan → review of
//! the waves and each host's plan → confirm → the rollout, shown as a board, with the
//! operator's go / no-go at each gate → summary. An unfinished rollout of the same
//! inventory is offered for resuming first (as `fleetdeck canary --resume`).
//!
//! The rollout itself is `core::canary::run`; this module only gathers its request,
//! turns its events into the board ([`Board`]) and the engine's progress (the latest
//! deploy step per host), and asks the go / no-go over a channel ([`AskOverChannel`]).

mod board;
mod runner;

use std::sync::Arc;

pub use board::{Board, BoardUpdate, GateQuestion, SoakClock};
pub use runner::{AskOverChannel, CanaryRunner};

use super::deploy::{
    self as deploy_wizard, PlannedHost, Setup, chosen_hosts, plan_review as host_plan_review,
};
use super::engine::{
    Answers, ChoiceOption, ConfirmKind, ReviewLine, Step, StepId, StepKind, Tone, Wizard,
};
use crate::core::canary::{self, HostStage, Rollout, RolloutStatus, WaveSize, WaveStage};
use crate::sanitize;

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

pub use crate::core::canary::summary::wave_name;

/// How the board calls a host's stage (the one table is `HostStage::board_word`).
pub fn stage_word(stage: HostStage) -> &'static str {
    stage.board_word()
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

pub(super) fn resuming<O>(answers: &Answers<O>) -> bool {
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

pub(super) fn parse_soak(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?}: the soak is a whole number of seconds (60)"))
}

pub(super) fn parse_max_failures(text: &str) -> Result<usize, String> {
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
    let text = canary::summary::summary_lines(rollout);
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
