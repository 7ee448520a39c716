//! The wizards the console can open (one at a time), over the step engine: the deploy
//! wizard, the canary wizard with its board, and the restore-drill wizard. `App` holds an [`OpenWizard`]; the
//! panel draws its [`StepView`], the canary's rollout step as a board.

use time::OffsetDateTime;

use crate::core::canary::Rollout;
use crate::wizard::canary::{self, Board, BoardUpdate, CanaryOutput};
use crate::wizard::deploy::{self, DeployOutput};
use crate::wizard::drill::{self, DrillOutput};
use crate::wizard::{Effect, Ending, OpRequest, ProgressEvent, Step, StepView, WizardState};

/// The deploy wizard as the console walks it.
pub type DeployWizard = WizardState<DeployOutput>;

/// The restore-drill wizard as the console walks it.
pub type DrillWizard = WizardState<DrillOutput>;

/// The canary wizard as the console walks it: the engine's state, and the board the
/// running rollout reports to (the rollout, the soak's countdown, the go / no-go).
pub struct CanaryWizard {
    pub state: WizardState<CanaryOutput>,
    pub board: Board,
}

impl CanaryWizard {
    pub fn new(state: WizardState<CanaryOutput>) -> CanaryWizard {
        CanaryWizard {
            state,
            board: Board::default(),
        }
    }

    /// The rollout as the core last reported it, else as planned.
    pub fn rollout(&self) -> Option<&Rollout> {
        self.board
            .rollout
            .as_ref()
            .or_else(|| canary::planned_rollout(self.state.answers()))
    }
}

/// An operation's output, whichever wizard ran it.
#[derive(Debug, Clone, PartialEq)]
pub enum WizardOutput {
    Deploy(DeployOutput),
    Canary(CanaryOutput),
    Drill(DrillOutput),
}

impl From<DeployOutput> for WizardOutput {
    fn from(o: DeployOutput) -> Self {
        WizardOutput::Deploy(o)
    }
}

impl From<CanaryOutput> for WizardOutput {
    fn from(o: CanaryOutput) -> Self {
        WizardOutput::Canary(o)
    }
}

impl From<DrillOutput> for WizardOutput {
    fn from(o: DrillOutput) -> Self {
        WizardOutput::Drill(o)
    }
}

/// The open wizard.
pub enum OpenWizard {
    Deploy(Box<DeployWizard>),
    Canary(Box<CanaryWizard>),
    Drill(Box<DrillWizard>),
}

impl std::fmt::Debug for OpenWizard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenWizard::Deploy(w) => w.fmt(f),
            OpenWizard::Canary(c) => c.state.fmt(f),
            OpenWizard::Drill(w) => w.fmt(f),
        }
    }
}

macro_rules! with_ref {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            OpenWizard::Deploy($s) => $body,
            OpenWizard::Canary(c) => {
                let $s = &c.state;
                $body
            }
            OpenWizard::Drill($s) => $body,
        }
    };
}

macro_rules! with_mut {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            OpenWizard::Deploy($s) => $body,
            OpenWizard::Canary(c) => {
                let $s = &mut c.state;
                $body
            }
            OpenWizard::Drill($s) => $body,
        }
    };
}

/// A step's id and title, whichever wizard it belongs to.
fn step_of<O>(step: Option<&Step<O>>) -> Option<(&'static str, &str)> {
    step.map(|s| (s.id, s.title.as_str()))
}

impl OpenWizard {
    pub fn id(&self) -> u64 {
        with_ref!(self, s => s.id())
    }

    pub fn name(&self) -> &str {
        with_ref!(self, s => s.name())
    }

    /// "the deploy wizard", for notices.
    pub fn what(&self) -> &'static str {
        match self {
            OpenWizard::Deploy(_) => "deploy wizard",
            OpenWizard::Canary(_) => "canary wizard",
            OpenWizard::Drill(_) => "drill wizard",
        }
    }

    pub fn view(&self) -> StepView<'_> {
        with_ref!(self, s => s.view())
    }

    /// The current step's id and title.
    pub fn step(&self) -> Option<(&'static str, &str)> {
        with_ref!(self, s => step_of(s.step()))
    }

    pub fn step_number(&self) -> usize {
        with_ref!(self, s => s.step_number())
    }

    pub fn error(&self) -> Option<&str> {
        with_ref!(self, s => s.error.as_deref())
    }

    pub fn is_running(&self) -> bool {
        with_ref!(self, s => s.is_running())
    }

    pub fn is_applying(&self) -> bool {
        with_ref!(self, s => s.is_applying())
    }

    pub fn ending(&self) -> Option<&Ending> {
        with_ref!(self, s => s.ending())
    }

    /// A review after which the wizard closes (a summary).
    pub fn is_summary(&self) -> bool {
        let id = self.step().map(|(id, _)| id);
        match self {
            OpenWizard::Deploy(_) => {
                matches!(id, Some(deploy::SUMMARY | deploy::ROLLBACK_SUMMARY))
            }
            OpenWizard::Canary(_) => id == Some(canary::SUMMARY),
            OpenWizard::Drill(_) => id == Some(drill::REPORT),
        }
    }

    /// Whether a host may have been changed (the mutating operation produced an
    /// output): an ended panel says "nothing was changed" only when it was not.
    pub fn changed(&self) -> bool {
        match self {
            OpenWizard::Deploy(w) => w.answers().output(deploy::APPLY).is_some(),
            OpenWizard::Canary(c) => c.state.answers().output(canary::ROLLOUT).is_some(),
            // The preflight writes the audit intent and takes the host's lock.
            OpenWizard::Drill(w) => w.answers().output(drill::PREFLIGHT).is_some(),
        }
    }

    /// A drill that wrote on its host (the lock, maybe scratch data) and has not been
    /// finished: closing the wizard finishes it on the wizard's worker; quitting the
    /// console would leave it to the next drill's leftover clean-up.
    pub fn drill_under_way(&self) -> Option<&str> {
        match self {
            OpenWizard::Drill(w) if self.changed() && drill::finished(w.answers()).is_none() => w
                .answers()
                .chosen(drill::HOST)
                .and_then(|h| h.first())
                .map(String::as_str),
            _ => None,
        }
    }

    /// The first column of the progress table: what a progress row is about.
    pub fn progress_item(&self) -> &'static str {
        match self {
            OpenWizard::Drill(_) => "CHECK",
            _ => "HOST",
        }
    }

    /// What answering no to an offer does, for the panel's hint.
    pub fn offer_no(&self) -> &'static str {
        match self {
            OpenWizard::Drill(_) => "no, remove it now and save the report",
            _ => "no, close the wizard",
        }
    }

    /// The canary wizard, while its rollout step is current (the board).
    pub fn rolling_out(&self) -> Option<&CanaryWizard> {
        match self {
            OpenWizard::Canary(c) if self.step().map(|(id, _)| id) == Some(canary::ROLLOUT) => {
                Some(c)
            }
            _ => None,
        }
    }

    pub fn start(&mut self) -> Effect {
        with_mut!(self, s => s.start())
    }

    pub fn submit(&mut self) -> Effect {
        with_mut!(self, s => s.submit())
    }

    pub fn confirm(&mut self, yes: bool) -> Effect {
        with_mut!(self, s => s.confirm(yes))
    }

    pub fn back(&mut self) -> Effect {
        with_mut!(self, s => s.back())
    }

    pub fn move_by(&mut self, delta: isize) {
        with_mut!(self, s => s.move_by(delta))
    }

    pub fn toggle(&mut self) {
        with_mut!(self, s => s.toggle())
    }

    pub fn toggle_all(&mut self) {
        with_mut!(self, s => s.toggle_all())
    }

    pub fn type_char(&mut self, c: char) {
        with_mut!(self, s => s.type_char(c))
    }

    pub fn backspace(&mut self) {
        with_mut!(self, s => s.backspace())
    }

    pub fn on_progress(&mut self, wizard: u64, event: ProgressEvent) {
        with_mut!(self, s => s.on_progress(wizard, event))
    }

    /// An operation's result; one of the other wizard's kind is refused.
    pub fn on_done(&mut self, op: &OpRequest, result: Result<WizardOutput, Vec<String>>) -> Effect {
        match (self, result) {
            (OpenWizard::Deploy(w), Ok(WizardOutput::Deploy(o))) => w.on_done(op, Ok(o)),
            (OpenWizard::Canary(c), Ok(WizardOutput::Canary(o))) => c.state.on_done(op, Ok(o)),
            (OpenWizard::Drill(w), Ok(WizardOutput::Drill(o))) => w.on_done(op, Ok(o)),
            (OpenWizard::Deploy(w), Err(problems)) => w.on_done(op, Err(problems)),
            (OpenWizard::Canary(c), Err(problems)) => c.state.on_done(op, Err(problems)),
            (OpenWizard::Drill(w), Err(problems)) => w.on_done(op, Err(problems)),
            (w, Ok(_)) => with_mut!(w, s => s.on_done(op, Err(vec![
                "an operation reported another wizard's output".to_owned(),
            ]))),
        }
    }

    /// A board update from the canary wizard's running rollout (for this wizard).
    pub fn on_board(&mut self, wizard: u64, update: BoardUpdate, at: OffsetDateTime) {
        if let OpenWizard::Canary(c) = self
            && c.state.id() == wizard
        {
            c.board.update(update, at);
        }
    }
}
