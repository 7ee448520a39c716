//! A wizard as data: its steps, each an input, a choice, a confirmation, a review or an
//! operation, with what they compute from the answers so far.

use std::sync::Arc;

use super::Answers;

/// A step's name, unique within its wizard; answers are stored under it.
pub type StepId = &'static str;

/// Something a step computes from the answers so far (an option list, a question, the
/// lines of a review). Pure: called again whenever the step is entered.
pub type Derived<O, T> = Arc<dyn Fn(&Answers<O>) -> T + Send + Sync>;

/// Checks an input step's text; `Err` says what is wrong.
pub type Validator = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// How a line reads: front ends map tones to theme roles (the headless driver prints
/// the text alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Normal,
    Heading,
    Ok,
    Warning,
    Critical,
    Muted,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewLine {
    pub text: String,
    pub tone: Tone,
}

impl ReviewLine {
    pub fn new(text: impl Into<String>, tone: Tone) -> ReviewLine {
        ReviewLine {
            text: text.into(),
            tone,
        }
    }
}

/// One entry of a choice step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceOption {
    /// What the answer records (and a headless flag names).
    pub value: String,
    pub label: String,
    /// Shown beside the label, muted.
    pub detail: String,
    /// Shown but not selectable, with the reason.
    pub disabled: Option<String>,
}

impl ChoiceOption {
    pub fn new(value: impl Into<String>) -> ChoiceOption {
        let value = value.into();
        ChoiceOption {
            label: value.clone(),
            value,
            detail: String::new(),
            disabled: None,
        }
    }
}

/// What refusing a confirmation means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmKind {
    /// Refusing ends the wizard; nothing was changed. `--yes` answers it headless.
    Gate,
    /// Refusing skips what the offer would start and the wizard goes on. Headless
    /// drivers decline offers (a script asks for them explicitly).
    Offer,
}

pub enum StepKind<O> {
    /// A line of text, with a default and a validator.
    Input {
        prompt: String,
        default: Derived<O, String>,
        validate: Validator,
    },
    /// Pick one (`multi: false`) or several options. A multi choice needs at least one.
    Choice {
        multi: bool,
        options: Derived<O, Vec<ChoiceOption>>,
        /// Values checked when the step is first entered.
        default: Derived<O, Vec<String>>,
    },
    /// Lines to read (a plan, a summary).
    Review { lines: Derived<O, Vec<ReviewLine>> },
    /// A yes/no question.
    Confirm {
        question: Derived<O, String>,
        kind: ConfirmKind,
    },
    /// An operation of the wizard's runner, reporting progress items, ending with an
    /// output the next steps read from the answers.
    Run {
        op: &'static str,
        /// What the progress panel says while it runs ("Applying").
        label: String,
        /// It changes something: once started, the wizard cannot go back past it, and
        /// nothing may interrupt it.
        mutating: bool,
        /// The items progress will be about, listed as waiting before any event.
        items: Derived<O, Vec<String>>,
    },
}

pub struct Step<O> {
    pub id: StepId,
    pub title: String,
    pub kind: StepKind<O>,
    /// The step is taken only when this says so (absent: always).
    pub when: Option<Derived<O, bool>>,
}

impl<O> Step<O> {
    pub fn new(id: StepId, title: impl Into<String>, kind: StepKind<O>) -> Step<O> {
        Step {
            id,
            title: title.into(),
            kind,
            when: None,
        }
    }

    /// Takes the step only when `when` holds for the answers so far.
    pub fn when(mut self, when: impl Fn(&Answers<O>) -> bool + Send + Sync + 'static) -> Self {
        self.when = Some(Arc::new(when));
        self
    }

    pub fn is_run(&self) -> bool {
        matches!(self.kind, StepKind::Run { .. })
    }
}

/// A wizard: a name and its steps, in order.
pub struct Wizard<O> {
    pub name: String,
    pub steps: Vec<Step<O>>,
}
