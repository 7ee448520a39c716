//! The engine at the update level: feed inputs, assert state. A small wizard of every
//! kind of step, with an operation whose output later steps read.

use std::sync::Arc;

use time::OffsetDateTime;

use super::engine::*;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    Count(usize),
    Done(Vec<String>),
}

/// Also walked by the headless driver's tests (`commands::headless`).
pub(crate) fn wizard() -> Wizard<Out> {
    Wizard {
        name: "Test".to_owned(),
        steps: vec![
            Step::new(
                "hosts",
                "Choose hosts",
                StepKind::Choice {
                    multi: true,
                    options: Arc::new(|_| {
                        let mut ro = ChoiceOption::new("ro");
                        ro.disabled = Some("read-only".to_owned());
                        vec![ChoiceOption::new("a"), ChoiceOption::new("b"), ro]
                    }),
                    default: Arc::new(|_| vec!["a".to_owned(), "b".to_owned(), "ro".to_owned()]),
                },
            ),
            Step::new(
                "name",
                "Name",
                StepKind::Input {
                    prompt: "a name".to_owned(),
                    default: Arc::new(|a: &Answers<Out>| {
                        format!("n{}", a.chosen("hosts").map_or(0, |c| c.len()))
                    }),
                    validate: Arc::new(|t| {
                        if t.chars().all(|c| c.is_ascii_alphanumeric()) && !t.is_empty() {
                            Ok(())
                        } else {
                            Err(format!("{t:?} is not a name"))
                        }
                    }),
                },
            ),
            Step::new(
                "count",
                "Count",
                StepKind::Run {
                    op: "count",
                    label: "Counting".to_owned(),
                    mutating: false,
                    items: Arc::new(|a: &Answers<Out>| {
                        a.chosen("hosts")
                            .map(<[String]>::to_vec)
                            .unwrap_or_default()
                    }),
                },
            ),
            Step::new(
                "review",
                "Review",
                StepKind::Review {
                    lines: Arc::new(|a: &Answers<Out>| match a.output("count") {
                        Some(Out::Count(n)) => {
                            vec![ReviewLine::new(format!("{n} hosts"), Tone::Heading)]
                        }
                        _ => vec![],
                    }),
                },
            ),
            Step::new(
                "go",
                "Confirm",
                StepKind::Confirm {
                    question: Arc::new(|a: &Answers<Out>| {
                        format!("Change {}?", a.text("name").unwrap_or_default())
                    }),
                    kind: ConfirmKind::Gate,
                },
            )
            .when(|a| matches!(a.output("count"), Some(Out::Count(n)) if *n > 0)),
            Step::new(
                "change",
                "Change",
                StepKind::Run {
                    op: "change",
                    label: "Changing".to_owned(),
                    mutating: true,
                    items: Arc::new(|_| vec![]),
                },
            ),
            Step::new(
                "summary",
                "Summary",
                StepKind::Review {
                    lines: Arc::new(|a: &Answers<Out>| match a.output("change") {
                        Some(Out::Done(failed)) => failed
                            .iter()
                            .map(|f| ReviewLine::new(format!("{f} FAILED"), Tone::Critical))
                            .collect(),
                        _ => vec![],
                    }),
                },
            ),
            Step::new(
                "undo",
                "Undo?",
                StepKind::Confirm {
                    question: Arc::new(|_| "Undo?".to_owned()),
                    kind: ConfirmKind::Offer,
                },
            )
            .when(|a| matches!(a.output("change"), Some(Out::Done(f)) if !f.is_empty())),
            Step::new(
                "undo_run",
                "Undoing",
                StepKind::Run {
                    op: "undo",
                    label: "Undoing".to_owned(),
                    mutating: true,
                    items: Arc::new(|_| vec![]),
                },
            )
            .when(|a| a.confirmed("undo") == Some(true)),
        ],
    }
}

fn step(state: &WizardState<Out>) -> &'static str {
    state.step().map_or("", |s| s.id)
}

fn started(effect: Effect) -> OpRequest {
    match effect {
        Effect::Start(op) => op,
        other => panic!("expected an operation to start, got {other:?}"),
    }
}

pub(crate) fn at() -> OffsetDateTime {
    time::macros::datetime!(2026-11-23 12:00:00 UTC)
}

#[test]
fn walks_every_kind_of_step_and_feeds_outputs_forward() {
    let mut w = WizardState::new(wizard(), 7);
    assert_eq!(w.start(), Effect::None);
    assert_eq!(step(&w), "hosts");
    // The disabled option is never checked, even when the default names it.
    assert_eq!(w.checked_values(), ["a", "b"]);
    w.move_by(2);
    w.toggle();
    assert_eq!(w.error.as_deref(), Some("ro: read-only"));
    w.move_by(-1);
    w.toggle();
    assert_eq!(w.checked_values(), ["a"]);
    assert_eq!(w.submit(), Effect::None);
    assert_eq!(w.answers().chosen("hosts"), Some(&["a".to_owned()][..]));

    // The default derives from the previous answer; validation keeps the step.
    assert_eq!(step(&w), "name");
    assert_eq!(w.text(), "n1");
    w.type_char('-');
    assert_eq!(
        w.submit(),
        Effect::Invalid("\"n1-\" is not a name".to_owned())
    );
    assert_eq!(step(&w), "name");
    w.backspace();
    let op = started(w.submit());
    assert_eq!(
        op,
        OpRequest {
            wizard: 7,
            step: "count",
            op: "count"
        }
    );
    assert!(w.is_running() && !w.is_applying());
    match w.view() {
        StepView::Progress { label, items, .. } => {
            assert_eq!(label, "Counting");
            assert_eq!(items.len(), 1);
            assert!(items[0].latest.is_none(), "waiting before any event");
        }
        other => panic!("{other:?}"),
    }
    // Nothing but the result moves a running step on.
    assert!(matches!(w.submit(), Effect::Invalid(_)));
    assert!(matches!(w.back(), Effect::Invalid(_)));
    assert!(matches!(w.cancel(), Effect::Invalid(_)));
    w.on_progress(
        7,
        ProgressEvent {
            item: "a".into(),
            label: String::new(),
            step: "ping".into(),
            detail: "ok".into(),
            tone: Tone::Normal,
            at: at(),
        },
    );
    // Another wizard's progress and results are dropped.
    w.on_progress(
        8,
        ProgressEvent {
            item: "zzz".into(),
            label: String::new(),
            step: "x".into(),
            detail: String::new(),
            tone: Tone::Normal,
            at: at(),
        },
    );
    match w.view() {
        StepView::Progress { items, .. } => {
            assert_eq!(items.len(), 1);
            assert_eq!(items[0].started, Some(at()));
            assert_eq!(
                items[0].latest.as_ref().map(|e| e.step.as_str()),
                Some("ping")
            );
        }
        other => panic!("{other:?}"),
    }
    let stale = OpRequest {
        wizard: 8,
        ..op.clone()
    };
    assert_eq!(w.on_done(&stale, Ok(Out::Count(99))), Effect::None);
    assert_eq!(w.on_done(&op, Ok(Out::Count(1))), Effect::None);

    assert_eq!(step(&w), "review");
    match w.view() {
        StepView::Review { lines, .. } => assert_eq!(lines[0].text, "1 hosts"),
        other => panic!("{other:?}"),
    }
    w.submit();
    assert_eq!(step(&w), "go");
    match w.view() {
        StepView::Confirm { question, kind } => {
            assert_eq!(question, "Change n1?");
            assert_eq!(kind, ConfirmKind::Gate);
        }
        other => panic!("{other:?}"),
    }
    let change = started(w.confirm(true));
    assert!(w.is_applying());
    assert!(
        matches!(w.back(), Effect::Invalid(_)),
        "never back mid-apply"
    );
    assert_eq!(
        w.on_done(&change, Ok(Out::Done(vec!["a".into()]))),
        Effect::None
    );
    assert_eq!(step(&w), "summary");
    // No way back past a change: back leaves, and says a change was made.
    w.submit();
    assert_eq!(step(&w), "undo");
    assert_eq!(w.confirm(false), Effect::Ended(Ending::Completed));
    assert_eq!(w.answers().confirmed("undo"), Some(false));
}

#[test]
fn back_returns_to_the_previous_question_keeping_typed_answers() {
    let mut w = WizardState::new(wizard(), 1);
    w.start();
    w.submit();
    w.set_text("first");
    let op = started(w.submit());
    w.on_done(&op, Ok(Out::Count(2)));
    assert_eq!(step(&w), "review");
    // Back skips the operation and lands on the input, with what was typed.
    assert_eq!(w.back(), Effect::None);
    assert_eq!(step(&w), "name");
    assert_eq!(w.text(), "first");
    assert!(
        w.answers().output("count").is_none(),
        "stale output dropped"
    );
    assert_eq!(w.back(), Effect::None);
    assert_eq!(step(&w), "hosts");
    assert_eq!(w.checked_values(), ["a", "b"], "previous choice kept");
    // Back from the first step leaves; nothing was changed.
    assert_eq!(w.back(), Effect::Ended(Ending::Cancelled));
    assert_eq!(w.view(), StepView::Ended(&Ending::Cancelled));
}

#[test]
fn refusing_the_gate_ends_with_nothing_changed() {
    let mut w = WizardState::new(wizard(), 1);
    w.start();
    w.submit();
    let op = started(w.submit());
    w.on_done(&op, Ok(Out::Count(2)));
    w.submit();
    assert_eq!(
        w.confirm(false),
        Effect::Ended(Ending::Refused { step: "go" })
    );
    assert_eq!(w.answers().confirmed("go"), Some(false));
    assert!(w.answers().output("change").is_none());
    // Ended: nothing more is taken.
    assert_eq!(w.submit(), Effect::None);
    assert_eq!(w.back(), Effect::None);
}

#[test]
fn a_condition_skips_the_gate_and_a_failed_operation_ends_the_wizard() {
    let mut w = WizardState::new(wizard(), 1);
    w.start();
    w.submit();
    let op = started(w.submit());
    w.on_done(&op, Ok(Out::Count(0)));
    // Count 0: no confirmation; the review leads straight to the change.
    let change = started(w.submit());
    assert_eq!(change.step, "change");

    let mut w = WizardState::new(wizard(), 2);
    w.start();
    w.submit();
    let op = started(w.submit());
    assert_eq!(
        w.on_done(&op, Err(vec!["no route".into()])),
        Effect::Ended(Ending::Failed {
            step: "count",
            problems: vec!["no route".into()]
        })
    );
}

#[test]
fn choices_need_one_and_toggle_all_flips_the_selectable_ones() {
    let mut w = WizardState::new(wizard(), 1);
    w.start();
    w.toggle_all();
    assert!(w.checked_values().is_empty());
    assert!(matches!(w.submit(), Effect::Invalid(_)));
    assert_eq!(step(&w), "hosts");
    w.toggle_all();
    assert_eq!(w.checked_values(), ["a", "b"]);
    assert!(w.set_chosen(&["nope".into()]).is_err());
    assert!(w.set_chosen(&["ro".into()]).is_err());
    assert_eq!(w.set_chosen(&["b".into()]), Ok(()));
    assert_eq!(w.checked_values(), ["b"]);
}

#[test]
fn cancel_after_a_change_closes_rather_than_cancels() {
    let mut w = WizardState::new(wizard(), 1);
    w.start();
    w.submit();
    let op = started(w.submit());
    w.on_done(&op, Ok(Out::Count(1)));
    w.submit();
    let change = started(w.confirm(true));
    w.on_done(&change, Ok(Out::Done(vec![])));
    assert_eq!(step(&w), "summary");
    assert_eq!(w.back(), Effect::Ended(Ending::Closed));
}

mod deploy_rollback_offer {
    use crate::core::deploy::plan::Change;
    use crate::core::deploy::{HostOutcome, HostResult, ServiceOutcome, ServiceResult};
    use crate::wizard::deploy::{rollback_offered, rollback_question, switched};

    fn service(container: &str, result: ServiceResult, from: Option<&str>) -> ServiceOutcome {
        ServiceOutcome {
            app: "web".into(),
            service: container.into(),
            container: container.into(),
            change: if from.is_some() {
                Change::Replace
            } else {
                Change::Create
            },
            from_image: from.map(str::to_owned),
            to_image: "app:1.1".into(),
            result,
            gate_seconds: None,
            error: None,
            logs: vec![],
        }
    }

    fn host(name: &str, result: HostResult, services: Vec<ServiceOutcome>) -> HostOutcome {
        HostOutcome {
            services,
            ..HostOutcome::new(name, result, None)
        }
    }

    #[test]
    fn returns_exactly_what_this_deploy_switched() {
        let outcomes = vec![
            // Switched web, created worker (no previous revision to return to).
            host(
                "beta",
                HostResult::Deployed,
                vec![
                    service("web", ServiceResult::Deployed, Some("app:1.0")),
                    service("worker", ServiceResult::Deployed, None),
                    service("db", ServiceResult::Unchanged, Some("db:15")),
                ],
            ),
            // Rolled back by its gate: already on its previous revision, left alone.
            host(
                "gamma",
                HostResult::RolledBack,
                vec![service("web", ServiceResult::RolledBack, Some("app:1.0"))],
            ),
            // Rolled back in one app after another app had switched: that one returns.
            host(
                "delta",
                HostResult::RolledBack,
                vec![
                    service("proxy", ServiceResult::Deployed, Some("proxy:2")),
                    service("web", ServiceResult::RolledBack, Some("app:1.0")),
                ],
            ),
        ];
        assert_eq!(
            switched(&outcomes),
            vec![
                ("beta".to_owned(), vec!["web".to_owned()]),
                ("delta".to_owned(), vec!["proxy".to_owned()]),
            ]
        );
        assert!(rollback_offered(&outcomes));
        let question = rollback_question(&outcomes);
        assert!(
            question.starts_with("gamma, delta failed or rolled back."),
            "{question}"
        );
        assert!(
            question.contains("beta (web), delta (proxy)?"),
            "{question}"
        );
    }

    #[test]
    fn offered_only_with_a_failure_and_something_switched() {
        let deployed = host(
            "beta",
            HostResult::Deployed,
            vec![service("web", ServiceResult::Deployed, Some("app:1.0"))],
        );
        let rolled_back = host(
            "gamma",
            HostResult::RolledBack,
            vec![service("web", ServiceResult::RolledBack, Some("app:1.0"))],
        );
        assert!(!rollback_offered(std::slice::from_ref(&deployed)));
        assert!(!rollback_offered(std::slice::from_ref(&rolled_back)));
        assert!(rollback_offered(&[deployed, rolled_back]));
    }
}
