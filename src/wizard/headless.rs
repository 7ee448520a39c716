//! Runs a wizard without a screen: inputs and choices answered from command-line flags
//! (or their defaults), gates by `--yes` (or a y/N on a terminal), reviews printed to
//! stdout, progress printed as lines to stderr. The steps are the very ones the
//! console walks.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead as _, IsTerminal as _, Write};

use super::engine::{
    Answers, ConfirmKind, Effect, Ending, OpRequest, ProgressSender, StepId, StepKind, Wizard,
    WizardState,
};

/// What carries out a wizard's operations. One runner serves one wizard instance and
/// keeps what its operations share (connections, plans) between them. The futures need
/// not be `Send`: the console runs them on a wizard's own worker thread (the core's
/// parallel host futures are not provably `Send`).
pub trait Runner<O> {
    fn run(
        &mut self,
        op: &OpRequest,
        answers: &Answers<O>,
        progress: ProgressSender,
    ) -> impl Future<Output = Result<O, Vec<String>>>;
}

/// An answer given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    Text(String),
    Chosen(Vec<String>),
}

/// How a gate is answered without `--yes`: `Ok(answer)`, or `Err(why it cannot be
/// asked)`.
pub type Ask = Box<dyn FnMut(&str) -> Result<bool, String> + Send>;

pub struct Headless {
    /// Answers by step id; steps without one take their default.
    pub given: BTreeMap<StepId, Given>,
    /// `--yes`: every gate is answered yes.
    pub yes: bool,
    /// Stop once this review step is printed (`--dry-run`).
    pub stop_after: Option<StepId>,
    /// Print review steps on stdout (off for `--json`, which prints its own document).
    pub print_reviews: bool,
    pub ask: Ask,
}

impl Headless {
    pub fn new(yes: bool) -> Headless {
        Headless {
            given: BTreeMap::new(),
            yes,
            stop_after: None,
            print_reviews: true,
            ask: Box::new(ask_on_terminal),
        }
    }
}

/// The y/N question on a terminal; without one, nothing can be asked.
pub fn ask_on_terminal(question: &str) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err("not confirmed: stdin is not a terminal; pass --yes to go ahead".into());
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// How a headless run ended.
pub struct Outcome<O> {
    pub ending: Ending,
    pub answers: Answers<O>,
    /// Why it stopped early, for stderr (a refused gate, a bad answer).
    pub message: Option<String>,
}

/// Walks `wizard` to its end. Reviews go to `out`, progress lines to `err`.
pub async fn drive<O: Clone, R: Runner<O>>(
    wizard: Wizard<O>,
    runner: &mut R,
    headless: &mut Headless,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Outcome<O> {
    let mut state = WizardState::new(wizard, 0);
    let mut effect = state.start();
    let mut message = None;
    loop {
        match effect {
            Effect::Ended(ending) => {
                return Outcome {
                    ending,
                    answers: state.answers().clone(),
                    message,
                };
            }
            Effect::Start(op) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let answers = state.answers().clone();
                let run = runner.run(&op, &answers, tx);
                let print = async {
                    while let Some(event) = rx.recv().await {
                        let _ = writeln!(err, "{}", event.line());
                    }
                };
                let (result, ()) = tokio::join!(run, print);
                effect = state.on_done(&op, result);
                continue;
            }
            Effect::Invalid(problem) => {
                effect = state.fail(vec![problem]);
                continue;
            }
            Effect::None => {}
        }
        let Some(step) = state.step() else {
            effect = state.fail(vec!["the wizard has no steps".to_owned()]);
            continue;
        };
        let id = step.id;
        effect = match &step.kind {
            StepKind::Input { .. } => {
                if let Some(Given::Text(text)) = headless.given.get(id) {
                    state.set_text(text);
                }
                state.submit()
            }
            StepKind::Choice { .. } => {
                let given = match headless.given.get(id) {
                    Some(Given::Chosen(values)) if !values.is_empty() => {
                        state.set_chosen(values).err()
                    }
                    _ => None,
                };
                match given {
                    Some(problem) => state.fail(vec![problem]),
                    None => state.submit(),
                }
            }
            StepKind::Review { .. } => {
                if headless.print_reviews
                    && let super::engine::StepView::Review { lines, .. } = state.view()
                {
                    for line in lines {
                        let _ = writeln!(out, "{}", line.text);
                    }
                }
                if headless.stop_after == Some(id) {
                    state.stop()
                } else {
                    state.submit()
                }
            }
            StepKind::Confirm {
                kind: ConfirmKind::Offer,
                ..
            } => state.confirm(false),
            StepKind::Confirm {
                kind: ConfirmKind::Gate,
                ..
            } => {
                let question = match state.view() {
                    super::engine::StepView::Confirm { question, .. } => question.to_owned(),
                    _ => String::new(),
                };
                let answer = if headless.yes {
                    Ok(true)
                } else {
                    (headless.ask)(&question)
                };
                match answer {
                    Ok(yes) => {
                        if !yes {
                            message = Some("not confirmed: nothing was changed".to_owned());
                        }
                        state.confirm(yes)
                    }
                    Err(why) => {
                        message = Some(why);
                        state.confirm(false)
                    }
                }
            }
            StepKind::Run { .. } => Effect::None,
        };
    }
}
