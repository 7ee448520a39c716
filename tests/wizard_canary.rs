//! The canary wizard at the engine level: its steps, defaults and validation, the
//! request it builds, resuming, the board's bookkeeping, and the go / no-go asked over
//! a channel and answered yes or no — as the console does, without a screen.

use std::path::PathBuf;

use fleetdeck::audit::AuditLog;
use fleetdeck::core::Core;
use fleetdeck::core::canary::{
    GoNoGo, HostStage, Rollout, RolloutHost, RolloutRequest, RolloutStatus, Wave, WaveSize,
    WaveStage, waves,
};
use fleetdeck::inventory::Inventory;
use fleetdeck::wizard::canary::{
    self, AskOverChannel, Board, BoardUpdate, CanaryOutput, CanaryRunner, CanarySetup,
};
use fleetdeck::wizard::deploy::{PlannedHost, Selection, Setup, TargetInfo};
use fleetdeck::wizard::{Effect, Ending, OpRequest, StepView, WizardState};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00:00 UTC);
const HOSTS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];

fn setup() -> Setup {
    Setup {
        targets: HOSTS
            .iter()
            .map(|h| TargetInfo {
                name: h.to_string(),
                apps: vec!["web".into()],
                read_only: false,
            })
            .collect(),
        preselected: None,
        read_only_disabled: true,
    }
}

fn rollout(request: RolloutRequest) -> Rollout {
    let selected: Vec<String> = HOSTS.iter().map(|h| h.to_string()).collect();
    let split = waves(&selected, &["alpha".to_owned()], request.wave_size);
    Rollout {
        id: "1795435200-7".into(),
        started: "2026-11-23T12:00:00Z".into(),
        finished: None,
        request,
        status: RolloutStatus::Running,
        hosts: split
            .iter()
            .enumerate()
            .flat_map(|(i, w)| {
                w.iter().map(move |h| RolloutHost {
                    name: h.clone(),
                    wave: i,
                    stage: HostStage::Pending,
                    deployed: vec![],
                    error: None,
                    notes: vec![],
                })
            })
            .collect(),
        waves: split
            .into_iter()
            .enumerate()
            .map(|(index, hosts)| Wave {
                index,
                hosts,
                stage: WaveStage::Pending,
            })
            .collect(),
        error: None,
    }
}

fn request() -> RolloutRequest {
    RolloutRequest {
        inventory: PathBuf::from("/srv/fleet/inventory.yml"),
        limit: None,
        apps: vec![],
        extra_vars: serde_json::Map::new(),
        canary: "canary".into(),
        wave_size: WaveSize::Percent(25),
        max_failures: 0,
        soak_seconds: 60,
        strict_soak: false,
        rollback_all: false,
        reason: None,
    }
}

fn step(w: &WizardState<CanaryOutput>) -> &'static str {
    w.step().map_or("", |s| s.id)
}

fn started(effect: Effect) -> OpRequest {
    match effect {
        Effect::Start(op) => op,
        other => panic!("expected an operation to start, got {other:?}"),
    }
}

fn wizard(unfinished: Option<Rollout>) -> WizardState<CanaryOutput> {
    WizardState::new(
        canary::wizard(CanarySetup {
            deploy: setup(),
            unfinished,
        }),
        3,
    )
    .with_clock(|| NOW)
}

fn retype(w: &mut WizardState<CanaryOutput>, text: &str) {
    while !w.text().is_empty() {
        w.backspace();
    }
    for c in text.chars() {
        w.type_char(c);
    }
}

#[test]
fn settings_have_the_cli_defaults_and_are_validated() {
    let mut w = wizard(None);
    assert_eq!(w.start(), Effect::None);
    assert_eq!(step(&w), "targets");
    assert_eq!(w.checked_values(), HOSTS);
    w.submit();
    assert_eq!(step(&w), "apps");
    w.submit();
    assert_eq!(step(&w), "vars");
    w.submit();
    assert_eq!(step(&w), canary::CANARY);
    assert_eq!(w.text(), "canary");
    retype(&mut w, " ");
    assert!(matches!(w.submit(), Effect::Invalid(e) if e.contains("canary pattern is empty")));
    retype(&mut w, "canary");
    w.submit();
    assert_eq!(step(&w), canary::WAVE_SIZE);
    assert_eq!(w.text(), "25%");
    for bad in ["0", "101%", "many"] {
        retype(&mut w, bad);
        assert!(
            matches!(w.submit(), Effect::Invalid(e) if e.contains("--wave-size")),
            "{bad}"
        );
        assert_eq!(step(&w), canary::WAVE_SIZE);
    }
    retype(&mut w, "1");
    w.submit();
    assert_eq!(step(&w), canary::SOAK);
    assert_eq!(w.text(), "60");
    retype(&mut w, "a minute");
    assert!(matches!(w.submit(), Effect::Invalid(e) if e.contains("whole number of seconds")));
    retype(&mut w, "10");
    w.submit();
    assert_eq!(step(&w), canary::MAX_FAILURES);
    assert_eq!(w.text(), "0");
    retype(&mut w, "-1");
    assert!(matches!(w.submit(), Effect::Invalid(_)));
    retype(&mut w, "1");
    w.submit();
    assert_eq!(step(&w), canary::ROLLBACK_ALL);
    assert_eq!(w.checked_values(), ["failed"]);
    // Back keeps what was typed.
    w.back();
    assert_eq!(step(&w), canary::MAX_FAILURES);
    assert_eq!(w.text(), "1");
    w.submit();
    w.move_by(1);
    w.toggle();
    assert_eq!(w.checked_values(), ["all"]);
    let plan = started(w.submit());
    assert_eq!(plan.op, "plan");
    assert!(
        w.is_running() && !w.is_applying(),
        "planning changes nothing"
    );
    let answers = w.answers();
    assert_eq!(answers.text(canary::WAVE_SIZE), Some("1"));
    assert_eq!(answers.text(canary::SOAK), Some("10"));
    assert_eq!(
        answers.chosen(canary::ROLLBACK_ALL),
        Some(&["all".to_owned()][..])
    );
}

/// Walks the defaults to the plan step.
fn to_plan(w: &mut WizardState<CanaryOutput>) -> OpRequest {
    w.start();
    for _ in 0..8 {
        if let Effect::Start(op) = w.submit() {
            return op;
        }
    }
    panic!("the plan did not start at {}", step(w));
}

fn planned_output() -> CanaryOutput {
    CanaryOutput::Plan {
        rollout: Box::new(rollout(request())),
        hosts: HOSTS
            .iter()
            .map(|h| PlannedHost {
                name: h.to_string(),
                plan: Err("connection refused".into()),
            })
            .collect(),
    }
}

#[test]
fn review_confirm_rollout_summary_and_no_way_back_once_it_runs() {
    let mut w = wizard(None);
    let plan = to_plan(&mut w);
    assert_eq!(w.on_done(&plan, Ok(planned_output())), Effect::None);
    assert_eq!(step(&w), canary::REVIEW);
    let StepView::Review { lines, .. } = w.view() else {
        panic!("{:?}", w.view());
    };
    let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    // 25% of the three hosts after the canary: one per wave.
    assert!(text.contains(&"wave 0 (canary): alpha"), "{text:#?}");
    assert!(text.contains(&"wave 3: delta"), "{text:#?}");
    assert!(
        text.contains(&"  gamma: unreachable: connection refused"),
        "{text:#?}"
    );
    w.submit();
    assert_eq!(step(&w), canary::CONFIRM);
    let StepView::Confirm { question, .. } = w.view() else {
        panic!();
    };
    assert!(question.starts_with("Start the rollout: 4 wave(s), 4 host(s), soak 60 s"));

    // Refusing the gate ends it with nothing changed.
    let mut refused = wizard(None);
    let plan = to_plan(&mut refused);
    refused.on_done(&plan, Ok(planned_output()));
    refused.submit();
    assert_eq!(
        refused.confirm(false),
        Effect::Ended(Ending::Refused {
            step: canary::CONFIRM
        })
    );

    let op = started(w.confirm(true));
    assert_eq!(op.op, "rollout");
    assert!(w.is_applying());
    assert!(matches!(w.back(), Effect::Invalid(_)));
    assert!(matches!(w.cancel(), Effect::Invalid(_)));
    let StepView::Progress { items, .. } = w.view() else {
        panic!();
    };
    let names: Vec<&str> = items.iter().map(|i| i.item.as_str()).collect();
    assert_eq!(names, HOSTS, "every host, wave by wave");

    let mut done = rollout(request());
    for h in &mut done.hosts {
        h.stage = HostStage::Passed;
    }
    for wave in &mut done.waves {
        wave.stage = WaveStage::Passed;
    }
    done.status = RolloutStatus::Passed;
    w.on_done(&op, Ok(CanaryOutput::Finished(Box::new(done))));
    assert_eq!(step(&w), canary::SUMMARY);
    let StepView::Review { lines, .. } = w.view() else {
        panic!();
    };
    assert_eq!(lines[0].text, "rollout 1795435200-7: PASSED");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.text.starts_with("journal: ")
                && l.text.ends_with("rollouts/1795435200-7.json")),
        "{lines:#?}"
    );
    // After the rollout, going back leaves (closed, not cancelled).
    assert_eq!(w.back(), Effect::Ended(Ending::Closed));
}

#[test]
fn an_unfinished_rollout_is_offered_and_resuming_skips_the_settings() {
    let mut unfinished = rollout(request());
    unfinished.waves[0].stage = WaveStage::Passed;
    let mut w = wizard(Some(unfinished.clone()));
    w.start();
    assert_eq!(step(&w), canary::RESUME);
    assert_eq!(w.checked_values(), ["resume"]);
    let plan = started(w.submit());
    assert_eq!(plan.op, "plan");

    let mut w = wizard(Some(unfinished));
    w.start();
    w.move_by(1);
    w.toggle();
    assert_eq!(w.checked_values(), ["new"]);
    w.submit();
    assert_eq!(step(&w), "targets");
}

#[test]
fn the_request_is_built_from_the_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("inventory.yml");
    std::fs::write(
        &path,
        "all:\n  children:\n    canary:\n      hosts:\n        alpha: {fleetdeck_apps: [web]}\n    production:\n      hosts:\n        beta: {fleetdeck_apps: [web]}\n        gamma: {fleetdeck_apps: [web]}\n        delta: {fleetdeck_apps: [web]}\n",
    )
    .expect("inventory");
    let inventory = Inventory::load(&path).expect("inventory loads");
    let (updates, _board) = tokio::sync::mpsc::unbounded_channel();
    let runner = CanaryRunner::new(
        Selection::new(inventory, None).expect("selection"),
        path.clone(),
        fleetdeck::ssh::setup::SshOptions::default(),
        Core::new(false, AuditLog::new(dir.path().join("audit.log"))),
        Box::new(|| Box::new(fleetdeck::secrets::NeverAsk)),
        updates,
    );
    let mut w = WizardState::new(
        canary::wizard(CanarySetup {
            deploy: Setup {
                targets: runner.selection().targets().to_vec(),
                preselected: None,
                read_only_disabled: true,
            },
            unfinished: None,
        }),
        1,
    );
    w.start();
    w.submit(); // every host
    w.submit(); // every app
    for c in "web_version=1.1".chars() {
        w.type_char(c);
    }
    w.submit();
    w.submit(); // canary
    retype(&mut w, "2");
    w.submit();
    retype(&mut w, "15");
    w.submit();
    w.submit(); // max failures 0
    w.move_by(1);
    w.toggle();
    started(w.submit());
    let r = runner.request(w.answers()).expect("request");
    assert_eq!(r.inventory, path);
    assert_eq!(
        r.limit, None,
        "every host chosen: the console's own selection"
    );
    assert!(r.apps.is_empty(), "every app");
    assert_eq!(r.extra_vars.get("web_version"), Some(&"1.1".into()));
    assert_eq!(r.canary, "canary");
    assert_eq!(r.wave_size, WaveSize::Hosts(2));
    assert_eq!(
        (r.soak_seconds, r.max_failures, r.rollback_all),
        (15, 0, true)
    );
}

#[test]
fn the_board_counts_the_soak_down_and_forgets_it_when_the_wave_moves_on() {
    let mut board = Board::default();
    let mut r = rollout(request());
    r.waves[0].stage = WaveStage::Soaking;
    board.update(BoardUpdate::Board(Box::new(r.clone())), NOW);
    board.update(BoardUpdate::Soak { wave: 0, left: 30 }, NOW);
    assert_eq!(
        board.soak_left(NOW + time::Duration::seconds(4)),
        Some((0, 26))
    );
    assert_eq!(
        board.soak_left(NOW + time::Duration::seconds(90)),
        Some((0, 0))
    );
    assert_eq!(
        board.gate_text(NOW + time::Duration::seconds(10)),
        "Gate of wave 0 (canary): soaking, 20 s left"
    );
    r.waves[0].stage = WaveStage::Gate;
    board.update(BoardUpdate::Board(Box::new(r.clone())), NOW);
    assert_eq!(board.soak, None);
    assert_eq!(board.active_wave(), Some(0));
    r.status = RolloutStatus::Halted;
    r.error = Some("wave 1 failed: beta: web restarted during the soak (1 times)".into());
    board.update(BoardUpdate::Board(Box::new(r)), NOW);
    assert!(board.gate_text(NOW).starts_with("HALTED: wave 1 failed"));
}

async fn ask(gate: &AskOverChannel, wave: usize) -> bool {
    let r = rollout(request());
    gate.decide(&r, wave).await
}

#[tokio::test]
async fn go_no_go_is_asked_over_the_channel_and_answered_yes_or_no() {
    let (updates, mut asked) = tokio::sync::mpsc::unbounded_channel();
    let gate = AskOverChannel::new(updates);
    for go in [true, false] {
        let mut board = Board::default();
        let decision = ask(&gate, 1);
        let answer = async {
            let update = asked.recv().await.expect("a question");
            assert!(matches!(update, BoardUpdate::Gate { wave: 1, .. }));
            board.update(update, NOW);
            assert_eq!(board.question.as_ref().map(|q| q.wave), Some(1));
            assert!(board.gate_text(NOW).contains("waiting for your go / no-go"));
            assert!(board.answer(go));
            assert!(board.question.is_none());
            assert!(!board.answer(go), "answered once");
        };
        let (decided, ()) = tokio::join!(decision, answer);
        assert_eq!(decided, go);
        assert_eq!(board.answered, [(1, go)]);
    }
    // A board that went away without answering is a no-go.
    let decision = ask(&gate, 2);
    let drop_it = async {
        let mut board = Board::default();
        board.update(asked.recv().await.expect("a question"), NOW);
        drop(board);
    };
    let (decided, ()) = tokio::join!(decision, drop_it);
    assert!(!decided);
    // Nobody listening at all: no-go.
    drop(asked);
    assert!(!ask(&gate, 0).await);
}
