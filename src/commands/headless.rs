//! Runs a wizard without a screen: inputs and choices answered from command-line flags
//! (or their defaults), gates by `--yes` (or a y/N on a terminal), reviews printed to
//! stdout, progress printed as lines to stderr. The steps are the very ones the
//! console walks.

use std::collections::BTreeMap;
use std::io::Write;

use crate::wizard::{
    Answers, ConfirmKind, Effect, Ending, Runner, StepId, StepKind, StepView, Wizard, WizardState,
};

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
            ask: Box::new(crate::tty::ask_yes_no),
        }
    }
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
                    && let StepView::Review { lines, .. } = state.view()
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
                    StepView::Confirm { question, .. } => question.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::tests::{Out, at, wizard};
    use crate::wizard::{OpRequest, ProgressEvent, ProgressSender, Tone};

    /// A runner that records what it was asked and reports one progress event.
    struct Recorder {
        ops: Vec<&'static str>,
        failed: Vec<String>,
    }

    impl Runner<Out> for Recorder {
        fn run(
            &mut self,
            op: &OpRequest,
            answers: &Answers<Out>,
            progress: ProgressSender,
        ) -> impl std::future::Future<Output = Result<Out, Vec<String>>> {
            self.ops.push(op.op);
            let result = match op.op {
                "count" => Ok(Out::Count(answers.chosen("hosts").map_or(0, |c| c.len()))),
                _ => Ok(Out::Done(self.failed.clone())),
            };
            let _ = progress.send(ProgressEvent {
                item: "a".into(),
                label: "web".into(),
                step: op.op.into(),
                detail: "now".into(),
                tone: Tone::Normal,
                at: at(),
            });
            async move { result }
        }
    }

    async fn headless(
        headless: &mut Headless,
        failed: Vec<String>,
    ) -> (Outcome<Out>, Vec<&'static str>, String, String) {
        let mut runner = Recorder {
            ops: vec![],
            failed,
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let outcome = drive(wizard(), &mut runner, headless, &mut out, &mut err).await;
        (
            outcome,
            runner.ops,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[tokio::test]
    async fn headless_answers_from_flags_and_yes_passes_the_gate() {
        let mut h = Headless::new(true);
        h.given.insert("hosts", Given::Chosen(vec!["b".into()]));
        h.given.insert("name", Given::Text("web1".into()));
        h.ask = Box::new(|_| panic!("--yes never asks"));
        let (outcome, ops, out, err) = headless(&mut h, vec!["b".into()]).await;
        assert_eq!(outcome.ending, Ending::Completed);
        assert_eq!(
            ops,
            ["count", "change"],
            "the undo offer is declined headless"
        );
        assert_eq!(outcome.answers.text("name"), Some("web1"));
        assert_eq!(out, "1 hosts\nb FAILED\n");
        assert_eq!(err, "a web: count now\na web: change now\n");
    }

    #[tokio::test]
    async fn headless_without_yes_asks_and_a_refusal_changes_nothing() {
        let mut h = Headless::new(false);
        h.ask = Box::new(|question| {
            assert_eq!(question, "Change n2?");
            Err("not confirmed: stdin is not a terminal; pass --yes to go ahead".into())
        });
        let (outcome, ops, _, _) = headless(&mut h, vec![]).await;
        assert_eq!(outcome.ending, Ending::Refused { step: "go" });
        assert_eq!(ops, ["count"]);
        assert!(outcome.message.is_some_and(|m| m.contains("pass --yes")));

        let mut h = Headless::new(false);
        h.ask = Box::new(|_| Ok(false));
        let (outcome, ops, _, _) = headless(&mut h, vec![]).await;
        assert_eq!(outcome.ending, Ending::Refused { step: "go" });
        assert_eq!(ops, ["count"]);
        assert_eq!(
            outcome.message.as_deref(),
            Some("not confirmed: nothing was changed")
        );
    }

    #[tokio::test]
    async fn headless_stops_after_a_review_and_rejects_bad_answers() {
        let mut h = Headless::new(true);
        h.stop_after = Some("review");
        let (outcome, ops, out, _) = headless(&mut h, vec![]).await;
        assert_eq!(outcome.ending, Ending::Stopped { step: "review" });
        assert_eq!(ops, ["count"]);
        assert_eq!(out, "2 hosts\n");

        let mut h = Headless::new(true);
        h.print_reviews = false;
        h.given.insert("name", Given::Text("not a name".into()));
        let (outcome, ops, out, _) = headless(&mut h, vec![]).await;
        assert_eq!(
            outcome.ending,
            Ending::Failed {
                step: "name",
                problems: vec!["\"not a name\" is not a name".into()]
            }
        );
        assert!(ops.is_empty() && out.is_empty());

        let mut h = Headless::new(true);
        h.given.insert("hosts", Given::Chosen(vec!["ro".into()]));
        let (outcome, ops, _, _) = headless(&mut h, vec![]).await;
        assert!(matches!(
            outcome.ending,
            Ending::Failed { step: "hosts", .. }
        ));
        assert!(ops.is_empty());
    }
}
