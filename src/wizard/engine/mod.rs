//! The step engine: a wizard's steps as data, and the pure state machine that walks
//! them. Nothing here awaits, draws or touches a host: front ends feed it the
//! operator's answers (or a headless driver's), start the operations it asks for and
//! feed their progress and results back.
//!
//! The parts: [`steps`] (a wizard as data), [`answers`], [`progress`] (what operations
//! report); this file is the state machine itself, [`WizardState`]: one `impl` whose
//! methods are the transitions, kept together so every phase change reads in one place.

use std::fmt;

use time::OffsetDateTime;

mod answers;
mod progress;
mod steps;

pub use answers::{Answer, Answers};
pub use progress::{OpRequest, ProgressEvent, ProgressItem, ProgressSender};
pub use steps::{
    ChoiceOption, ConfirmKind, Derived, ReviewLine, Step, StepId, StepKind, Tone, Validator, Wizard,
};

/// How a wizard ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Every step taken.
    Completed,
    /// A gate was refused: nothing was changed.
    Refused { step: StepId },
    /// Left before anything was changed.
    Cancelled,
    /// Closed after a change was made (from a summary or an offer).
    Closed,
    /// An operation could not do its work, or a headless answer was invalid.
    Failed { step: StepId, problems: Vec<String> },
    /// A driver stopped after this step (`--dry-run` stops after the review).
    Stopped { step: StepId },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the operator on the current step.
    Waiting,
    Running {
        op: OpRequest,
        started: OffsetDateTime,
    },
    Ended(Ending),
}

/// What the front end must do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Start this operation (and report back with `on_progress` / `on_done`).
    Start(OpRequest),
    Ended(Ending),
    /// The input was not taken; the message says why (also kept in `error`).
    Invalid(String),
}

/// What the current step needs drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepView<'a> {
    Input {
        prompt: &'a str,
        text: &'a str,
    },
    Choice {
        multi: bool,
        options: &'a [ChoiceOption],
        checked: &'a [bool],
        cursor: usize,
    },
    Review {
        lines: &'a [ReviewLine],
        scroll: usize,
    },
    Confirm {
        question: &'a str,
        kind: ConfirmKind,
    },
    Progress {
        label: &'a str,
        items: &'a [ProgressItem],
        started: OffsetDateTime,
    },
    Ended(&'a Ending),
}

/// A wizard being walked.
pub struct WizardState<O> {
    wizard: Wizard<O>,
    id: u64,
    current: usize,
    answers: Answers<O>,
    phase: Phase,
    /// Steps entered, in order (the way back).
    visited: Vec<usize>,
    /// A mutating operation has started: going back before it is impossible.
    committed: bool,
    // The current step's widget state.
    text: String,
    options: Vec<ChoiceOption>,
    checked: Vec<bool>,
    cursor: usize,
    lines: Vec<ReviewLine>,
    scroll: usize,
    question: String,
    progress: Vec<ProgressItem>,
    /// Why the last input was not taken.
    pub error: Option<String>,
    /// When an operation starts (the wall clock; fixed in snapshot tests).
    clock: fn() -> OffsetDateTime,
}

impl<O: Clone> fmt::Debug for WizardState<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WizardState")
            .field("wizard", &self.wizard.name)
            .field("id", &self.id)
            .field("step", &self.step().map(|s| s.id))
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl<O: Clone> WizardState<O> {
    /// A wizard ready to [`start`](Self::start); `id` tells its operations apart from
    /// another instance's.
    pub fn new(wizard: Wizard<O>, id: u64) -> WizardState<O> {
        WizardState {
            wizard,
            id,
            current: 0,
            answers: Answers::default(),
            phase: Phase::Waiting,
            visited: Vec::new(),
            committed: false,
            text: String::new(),
            options: Vec::new(),
            checked: Vec::new(),
            cursor: 0,
            lines: Vec::new(),
            scroll: 0,
            question: String::new(),
            progress: Vec::new(),
            error: None,
            clock: OffsetDateTime::now_utc,
        }
    }

    /// Uses `clock` for operations' start times (tests draw with a fixed time).
    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> Self {
        self.clock = clock;
        self
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.wizard.name
    }

    pub fn answers(&self) -> &Answers<O> {
        &self.answers
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running { .. })
    }

    /// A mutating operation is running: nothing may interrupt it.
    pub fn is_applying(&self) -> bool {
        matches!(&self.phase, Phase::Running { .. })
            && matches!(
                self.step().map(|s| &s.kind),
                Some(StepKind::Run { mutating: true, .. })
            )
    }

    pub fn ending(&self) -> Option<&Ending> {
        match &self.phase {
            Phase::Ended(e) => Some(e),
            _ => None,
        }
    }

    /// The current step (`None` before `start`).
    pub fn step(&self) -> Option<&Step<O>> {
        if self.visited.is_empty() {
            return None;
        }
        self.wizard.steps.get(self.current)
    }

    /// 1-based position among the steps entered so far, for "step N".
    pub fn step_number(&self) -> usize {
        self.visited.len()
    }

    /// Enters the first step.
    pub fn start(&mut self) -> Effect {
        self.visited.clear();
        self.enter_from(0)
    }

    /// What to draw.
    pub fn view(&self) -> StepView<'_> {
        if let Phase::Ended(ending) = &self.phase {
            return StepView::Ended(ending);
        }
        let Some(step) = self.step() else {
            return StepView::Ended(&Ending::Cancelled);
        };
        match &step.kind {
            StepKind::Input { prompt, .. } => StepView::Input {
                prompt,
                text: &self.text,
            },
            StepKind::Choice { multi, .. } => StepView::Choice {
                multi: *multi,
                options: &self.options,
                checked: &self.checked,
                cursor: self.cursor,
            },
            StepKind::Review { .. } => StepView::Review {
                lines: &self.lines,
                scroll: self.scroll,
            },
            StepKind::Confirm { kind, .. } => StepView::Confirm {
                question: &self.question,
                kind: *kind,
            },
            StepKind::Run { label, .. } => StepView::Progress {
                label,
                items: &self.progress,
                started: match &self.phase {
                    Phase::Running { started, .. } => *started,
                    _ => OffsetDateTime::UNIX_EPOCH,
                },
            },
        }
    }

    fn applies(&self, index: usize) -> bool {
        self.wizard.steps[index]
            .when
            .as_ref()
            .is_none_or(|when| when(&self.answers))
    }

    /// Enters the first step at or after `index` whose condition holds.
    fn enter_from(&mut self, index: usize) -> Effect {
        let Some(index) = (index..self.wizard.steps.len()).find(|&i| self.applies(i)) else {
            return self.end(Ending::Completed);
        };
        self.current = index;
        self.visited.push(index);
        self.error = None;
        self.scroll = 0;
        self.cursor = 0;
        let step = &self.wizard.steps[index];
        match &step.kind {
            StepKind::Input { default, .. } => {
                self.text = match self.answers.text(step.id) {
                    Some(previous) => previous.to_owned(),
                    None => default(&self.answers),
                };
            }
            StepKind::Choice {
                options, default, ..
            } => {
                self.options = options(&self.answers);
                let previous = self.answers.chosen(step.id).map(<[String]>::to_vec);
                let kept = previous
                    .filter(|p| p.iter().any(|v| self.options.iter().any(|o| &o.value == v)));
                let checked = kept.unwrap_or_else(|| default(&self.answers));
                self.checked = self
                    .options
                    .iter()
                    .map(|o| o.disabled.is_none() && checked.contains(&o.value))
                    .collect();
                self.cursor = self.checked.iter().position(|c| *c).unwrap_or(0);
            }
            StepKind::Review { lines } => self.lines = lines(&self.answers),
            StepKind::Confirm { question, .. } => self.question = question(&self.answers),
            StepKind::Run {
                op,
                mutating,
                items,
                ..
            } => {
                let request = OpRequest {
                    wizard: self.id,
                    step: step.id,
                    op,
                };
                if *mutating {
                    self.committed = true;
                }
                self.progress = items(&self.answers)
                    .into_iter()
                    .map(|item| ProgressItem {
                        item,
                        latest: None,
                        started: None,
                        events: 0,
                    })
                    .collect();
                self.phase = Phase::Running {
                    op: request.clone(),
                    started: (self.clock)(),
                };
                return Effect::Start(request);
            }
        }
        self.phase = Phase::Waiting;
        Effect::None
    }

    fn end(&mut self, ending: Ending) -> Effect {
        self.phase = Phase::Ended(ending.clone());
        Effect::Ended(ending)
    }

    fn invalid(&mut self, message: impl Into<String>) -> Effect {
        let message = message.into();
        self.error = Some(message.clone());
        Effect::Invalid(message)
    }

    fn waiting_step(&self) -> Option<&Step<O>> {
        match self.phase {
            Phase::Waiting => self.step(),
            _ => None,
        }
    }

    /// Enter / Next: takes the current step's answer and moves on. On a confirmation
    /// this is "yes".
    pub fn submit(&mut self) -> Effect {
        let Some(step) = self.waiting_step() else {
            return match &self.phase {
                Phase::Running { .. } => self.invalid("still running"),
                _ => Effect::None,
            };
        };
        let id = step.id;
        let answer = match &step.kind {
            StepKind::Input { validate, .. } => match validate(&self.text) {
                Ok(()) => Answer::Text(self.text.clone()),
                Err(e) => return self.invalid(e),
            },
            StepKind::Choice { multi, .. } => {
                let chosen: Vec<String> = if *multi {
                    self.options
                        .iter()
                        .zip(&self.checked)
                        .filter(|(o, c)| **c && o.disabled.is_none())
                        .map(|(o, _)| o.value.clone())
                        .collect()
                } else {
                    match self.options.get(self.cursor) {
                        Some(o) if o.disabled.is_none() => vec![o.value.clone()],
                        Some(o) => {
                            let why = o.disabled.clone().unwrap_or_default();
                            return self.invalid(format!("{}: {why}", o.label));
                        }
                        None => vec![],
                    }
                };
                if chosen.is_empty() {
                    return self.invalid("choose at least one (space toggles)");
                }
                Answer::Chosen(chosen)
            }
            StepKind::Review { .. } => Answer::Reviewed,
            StepKind::Confirm { .. } => return self.confirm(true),
            StepKind::Run { .. } => return Effect::None,
        };
        self.answers.set(id, answer);
        self.enter_from(self.current + 1)
    }

    /// The answer to a confirmation. Refusing a gate ends the wizard (nothing was
    /// changed); refusing an offer moves on without it.
    pub fn confirm(&mut self, yes: bool) -> Effect {
        let Some(step) = self.waiting_step() else {
            return Effect::None;
        };
        let StepKind::Confirm { kind, .. } = step.kind else {
            return Effect::None;
        };
        let id = step.id;
        self.answers.set(id, Answer::Confirmed(yes));
        match (yes, kind) {
            (true, _) | (false, ConfirmKind::Offer) => self.enter_from(self.current + 1),
            (false, ConfirmKind::Gate) => self.end(Ending::Refused { step: id }),
        }
    }

    /// Esc: the previous step that can be taken again, or — from the first step, or
    /// once a change is made and there is no way back — leaving the wizard. Never
    /// while an operation runs.
    pub fn back(&mut self) -> Effect {
        match &self.phase {
            Phase::Running { .. } => {
                return self.invalid("an operation is running; it cannot be interrupted");
            }
            Phase::Ended(_) => return Effect::None,
            Phase::Waiting => {}
        }
        // Steps before the last mutating operation are closed.
        let floor = self
            .visited
            .iter()
            .rposition(|&i| {
                matches!(
                    self.wizard.steps[i].kind,
                    StepKind::Run { mutating: true, .. }
                )
            })
            .map_or(0, |p| p + 1);
        let current_position = self.visited.len().saturating_sub(1);
        let target = (floor..current_position)
            .rev()
            .find(|&p| !self.wizard.steps[self.visited[p]].is_run());
        let Some(position) = target else {
            return self.cancel();
        };
        let index = self.visited[position];
        // Outputs and confirmations after the target are stale; typed answers stay to
        // prefill the steps when they come again.
        for &later in &self.visited[position..] {
            let id = self.wizard.steps[later].id;
            if !matches!(
                self.answers.get(id),
                Some(Answer::Text(_) | Answer::Chosen(_))
            ) {
                self.answers.map.remove(id);
            }
        }
        self.visited.truncate(position);
        self.enter_from(index)
    }

    /// Leaves the wizard (not while an operation runs).
    pub fn cancel(&mut self) -> Effect {
        match &self.phase {
            Phase::Running { .. } => {
                self.invalid("an operation is running; it cannot be interrupted")
            }
            Phase::Ended(_) => Effect::None,
            Phase::Waiting => {
                let ending = if self.committed {
                    Ending::Closed
                } else {
                    Ending::Cancelled
                };
                self.end(ending)
            }
        }
    }

    /// A progress report for the running operation (others are dropped).
    pub fn on_progress(&mut self, wizard: u64, event: ProgressEvent) {
        if wizard != self.id || !self.is_running() {
            return;
        }
        let entry = match self.progress.iter_mut().position(|p| p.item == event.item) {
            Some(i) => &mut self.progress[i],
            None => {
                self.progress.push(ProgressItem {
                    item: event.item.clone(),
                    latest: None,
                    started: None,
                    events: 0,
                });
                let last = self.progress.len() - 1;
                &mut self.progress[last]
            }
        };
        entry.started.get_or_insert(event.at);
        entry.events += 1;
        entry.latest = Some(event);
    }

    /// The running operation ended. `Err` (it could not do its work) ends the wizard.
    /// A result for another wizard or step is ignored.
    pub fn on_done(&mut self, op: &OpRequest, result: Result<O, Vec<String>>) -> Effect {
        match &self.phase {
            Phase::Running { op: running, .. } if running == op => {}
            _ => return Effect::None,
        }
        match result {
            Ok(output) => {
                self.answers.set(op.step, Answer::Done(output));
                self.enter_from(self.current + 1)
            }
            Err(problems) => self.end(Ending::Failed {
                step: op.step,
                problems,
            }),
        }
    }

    /// A driver stops here (after showing the current step).
    pub fn stop(&mut self) -> Effect {
        let Some(step) = self.step() else {
            return Effect::None;
        };
        let step = step.id;
        self.end(Ending::Stopped { step })
    }

    /// A headless or failed answer that ends the wizard.
    pub fn fail(&mut self, problems: Vec<String>) -> Effect {
        let step = self.step().map_or("", |s| s.id);
        self.end(Ending::Failed { step, problems })
    }

    // Editing the current step's widget.

    pub fn type_char(&mut self, c: char) {
        if matches!(self.view(), StepView::Input { .. }) && !c.is_control() {
            self.text.push(c);
            self.error = None;
        }
    }

    pub fn backspace(&mut self) {
        if matches!(self.view(), StepView::Input { .. }) {
            self.text.pop();
            self.error = None;
        }
    }

    /// Replaces an input step's text (headless answers).
    pub fn set_text(&mut self, text: &str) {
        if matches!(self.view(), StepView::Input { .. }) {
            self.text = text.to_owned();
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Checks exactly `values` in a choice step (headless answers). Unknown or
    /// disabled values are an error naming them.
    pub fn set_chosen(&mut self, values: &[String]) -> Result<(), String> {
        if !matches!(self.view(), StepView::Choice { .. }) {
            return Err("not a choice".to_owned());
        }
        for v in values {
            match self.options.iter().find(|o| &o.value == v) {
                None => return Err(format!("{v:?} is not one of the choices")),
                Some(ChoiceOption {
                    disabled: Some(why),
                    ..
                }) => return Err(format!("{v}: {why}")),
                Some(_) => {}
            }
        }
        self.checked = self
            .options
            .iter()
            .map(|o| values.contains(&o.value))
            .collect();
        if let Some(first) = self.checked.iter().position(|c| *c) {
            self.cursor = first;
        }
        Ok(())
    }

    /// The values checked now.
    pub fn checked_values(&self) -> Vec<String> {
        self.options
            .iter()
            .zip(&self.checked)
            .filter(|(_, c)| **c)
            .map(|(o, _)| o.value.clone())
            .collect()
    }

    /// Moves the choice cursor, or scrolls a review (or the ended panel's problems).
    pub fn move_by(&mut self, delta: isize) {
        match self.view() {
            StepView::Choice { options, .. } => {
                let max = options.len().saturating_sub(1) as isize;
                self.cursor = (self.cursor as isize).saturating_add(delta).clamp(0, max) as usize;
            }
            StepView::Review { lines, .. } => {
                let max = lines.len().saturating_sub(1) as isize;
                self.scroll = (self.scroll as isize).saturating_add(delta).clamp(0, max) as usize;
            }
            _ => {}
        }
    }

    /// Space: toggles the option under the cursor (a single choice moves to it).
    pub fn toggle(&mut self) {
        let StepView::Choice { multi, .. } = self.view() else {
            return;
        };
        let Some(option) = self.options.get(self.cursor) else {
            return;
        };
        if let Some(why) = &option.disabled {
            self.error = Some(format!("{}: {why}", option.label));
            return;
        }
        if multi {
            if let Some(c) = self.checked.get_mut(self.cursor) {
                *c = !*c;
            }
        } else {
            for (i, c) in self.checked.iter_mut().enumerate() {
                *c = i == self.cursor;
            }
        }
        self.error = None;
    }

    /// Checks every selectable option, or none if all were checked.
    pub fn toggle_all(&mut self) {
        let StepView::Choice { multi: true, .. } = self.view() else {
            return;
        };
        let selectable: Vec<bool> = self.options.iter().map(|o| o.disabled.is_none()).collect();
        let all = self.checked.iter().zip(&selectable).all(|(c, s)| *c || !*s);
        self.checked = selectable.iter().map(|s| *s && !all).collect();
        self.error = None;
    }
}
