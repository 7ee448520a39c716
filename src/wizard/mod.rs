//! Wizards: guided steps shared by the console and the headless CLI.
//!
//! A wizard is data — an ordered list of [`Step`]s: input, choice, review, confirm gate
//! (or offer), and run-an-operation-with-progress. [`WizardState`] walks them as a pure
//! state machine (current step, answers, next / back / cancel, what to draw, which
//! operation to start); a [`Runner`] carries out the operations; the console renders
//! the state and the command line's headless driver (`commands::headless`)
//! answers the same steps from flags.
//! See `docs/architecture.md`, "Wizards".

pub mod canary;
pub mod deploy;
pub mod drill;
mod engine;
mod runner;

pub use engine::{
    Answer, Answers, ChoiceOption, ConfirmKind, Derived, Effect, Ending, OpRequest, Phase,
    ProgressEvent, ProgressItem, ProgressSender, ReviewLine, Step, StepId, StepKind, StepView,
    Tone, Validator, Wizard, WizardState,
};
pub use runner::Runner;

#[cfg(test)]
pub(crate) mod tests;
