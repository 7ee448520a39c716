//! The drill wizard walked with fixtures: its steps, review text and progress rows.

use std::path::PathBuf;

use time::macros::datetime;

use super::*;
use crate::core::drill::run::DrillEvent;
use crate::probes::drill::report::tests::sample;
use crate::probes::drill::report::{CheckRecord, Outcome, StepRecord};
use crate::probes::drill::{DrillResult, Step as DrillStep};
use crate::wizard::engine::{OpRequest, Tone};
use crate::wizard::{Effect, Ending, StepView, WizardState};

fn snap(id: &str, hour: u8, paths: &[&str], sized: bool) -> SnapshotInfo {
    SnapshotInfo {
        id: id.to_owned(),
        full_id: format!("{id}ffffffff"),
        time: datetime!(2026-11-23 00:00:00 UTC) + time::Duration::hours(hour.into()),
        host: Some("client-gamma".to_owned()),
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        size_bytes: sized.then_some(12_582_912),
        entries: sized.then_some(8),
    }
}

fn setup() -> Setup {
    let repo = |name: &str| RepoSummary {
        name: name.to_owned(),
        kind: BackupKind::Restic,
        location: format!("/backup/{name}"),
    };
    Setup {
        hosts: vec![
            DrillHost {
                name: "client-alpha".to_owned(),
                read_only: true,
                apps: vec![DrillApp {
                    app: "web".to_owned(),
                    repository: "app-data".to_owned(),
                    checks: vec![],
                }],
                repositories: vec![repo("app-data")],
            },
            DrillHost {
                name: "client-gamma".to_owned(),
                read_only: false,
                apps: vec![DrillApp {
                    app: "web".to_owned(),
                    repository: "app-data".to_owned(),
                    checks: vec!["files", "manifest"],
                }],
                repositories: vec![repo("system"), repo("app-data")],
            },
        ],
        preselected: Some("client-gamma".to_owned()),
    }
}

/// The report as the core has it after a step: `sample`'s drill, with the steps
/// and checks so far.
fn report_after(
    steps: &[(DrillStep, Outcome)],
    checks: &[(DrillStep, &str, Outcome, &str)],
) -> DrillReport {
    let mut r = sample(DrillResult::Passed);
    r.result = DrillResult::Failed;
    r.failed_step = None;
    r.error = None;
    r.target = None;
    r.rto_seconds = None;
    r.size = None;
    r.steps = steps
        .iter()
        .map(|(step, outcome)| StepRecord {
            step: *step,
            outcome: *outcome,
            seconds: 0.4,
            detail: format!("{} detail", step.name()),
        })
        .collect();
    r.checks = checks
        .iter()
        .map(|(step, name, outcome, detail)| CheckRecord {
            step: *step,
            name: (*name).to_owned(),
            outcome: *outcome,
            detail: (*detail).to_owned(),
        })
        .collect();
    r
}

const TARGET: &str = "/var/tmp/fleetdeck-drills/fleetdeck-drill-web-d-1";

fn stage(report: DrillReport) -> Result<DrillOutput, Vec<String>> {
    Ok(DrillOutput::Stage(Box::new(Stage {
        report,
        target: TARGET.to_owned(),
        root: Some("/srv/app".to_owned()),
    })))
}

fn listed() -> Result<DrillOutput, Vec<String>> {
    let snapshots = vec![
        snap("cccc3333", 9, &["/etc"], true),
        snap("bbbb2222", 8, &["/srv/app"], true),
        snap("aaaa1111", 2, &["/srv/app"], false),
    ];
    Ok(DrillOutput::Listed(Box::new(Listed {
        latest: Some("bbbb2222ffffffff".to_owned()),
        snapshots,
        root: Some("/srv/app".to_owned()),
        target: TARGET.to_owned(),
        report: report_after(&[], &[]),
    })))
}

fn preflight_report() -> DrillReport {
    report_after(
        &[
            (DrillStep::Choose, Outcome::Passed),
            (DrillStep::Preflight, Outcome::Passed),
        ],
        &[
            (
                DrillStep::Preflight,
                "scratch_target",
                Outcome::Passed,
                "apart from 2 live path(s)",
            ),
            (
                DrillStep::Preflight,
                "lock",
                Outcome::Passed,
                "held by this drill",
            ),
            (
                DrillStep::Preflight,
                "repository",
                Outcome::Passed,
                "config readable",
            ),
            (
                DrillStep::Preflight,
                "free_space",
                Outcome::Passed,
                "9000000000 bytes free, 80000000 needed",
            ),
        ],
    )
}

fn verified_report() -> DrillReport {
    let mut r = preflight_report();
    for step in [DrillStep::Restore, DrillStep::Verify, DrillStep::Measure] {
        r.steps.push(StepRecord {
            step,
            outcome: Outcome::Passed,
            seconds: 0.5,
            detail: format!("{} detail", step.name()),
        });
    }
    r.checks.push(CheckRecord {
        step: DrillStep::Verify,
        name: "integrity".into(),
        outcome: Outcome::Passed,
        detail: "`restic check --read-data-subset=10%` found no errors".into(),
    });
    r.target = Some(TARGET.to_owned());
    r.rto_seconds = Some(0.5);
    r
}

fn finished(report: DrillReport) -> Result<DrillOutput, Vec<String>> {
    Ok(DrillOutput::Finished(Box::new(Finished {
        report,
        saved: Ok((PathBuf::from("/h/d.json"), PathBuf::from("/h/d.md"))),
    })))
}

fn started(effect: Effect, op: &str) -> OpRequest {
    match effect {
        Effect::Start(request) => {
            assert_eq!(request.op, op);
            request
        }
        other => panic!("expected {op} to start, got {other:?}"),
    }
}

fn current(state: &WizardState<DrillOutput>) -> StepId {
    state.step().map(|s| s.id).unwrap_or_default()
}

/// Host, app and repository answered, the listing done: on the snapshot step.
fn at_snapshot() -> WizardState<DrillOutput> {
    let mut state = WizardState::new(wizard(setup()), 1);
    assert_eq!(state.start(), Effect::None);
    assert_eq!(current(&state), HOST);
    // The read-only host is shown but cannot be chosen; the selection is.
    match state.view() {
        StepView::Choice {
            options, checked, ..
        } => {
            assert!(options[0].disabled.is_some());
            assert_eq!(checked, &[false, true]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(state.submit(), Effect::None);
    assert_eq!(current(&state), APP);
    assert_eq!(state.submit(), Effect::None);
    assert_eq!(current(&state), REPOSITORY);
    match state.view() {
        StepView::Choice {
            options, checked, ..
        } => {
            // Only the drill's own repository can be chosen.
            assert_eq!(options[0].value, "system");
            assert!(options[0].disabled.is_some());
            assert_eq!(checked, &[false, true]);
        }
        other => panic!("{other:?}"),
    }
    let op = started(state.submit(), "list");
    state.on_done(&op, listed());
    assert_eq!(current(&state), SNAPSHOT);
    state
}

#[test]
fn snapshots_offer_latest_holding_the_root_and_refuse_others() {
    let state = at_snapshot();
    match state.view() {
        StepView::Choice {
            options,
            checked,
            cursor,
            ..
        } => {
            assert_eq!(options.len(), 3);
            assert!(
                options[0]
                    .disabled
                    .as_deref()
                    .unwrap_or("")
                    .contains("/srv/app")
            );
            assert_eq!(checked, &[false, true, false]);
            assert_eq!(cursor, 1);
            assert!(
                options[1].detail.contains("2026-11-23T08:00:00Z"),
                "{:?}",
                options[1]
            );
            assert!(
                options[1].detail.contains("12M in 8 entries"),
                "{:?}",
                options[1]
            );
            assert!(options[1].detail.contains("/srv/app"));
            assert!(options[2].detail.contains("size measured when chosen"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_passed_drill_walks_every_step_and_declining_the_offer_cleans_up() {
    let mut state = at_snapshot();
    let op = started(state.submit(), "preflight");
    assert_eq!(
        state.answers().chosen(SNAPSHOT),
        Some(&["bbbb2222ffffffff".to_owned()][..])
    );
    assert_eq!(state.on_done(&op, stage(preflight_report())), Effect::None);
    assert_eq!(current(&state), REVIEW);
    let text = review_text(&state);
    assert!(
        text.iter()
            .any(|l| l.contains(&format!("{TARGET}/restore"))),
        "{text:?}"
    );
    assert!(
        text.iter().any(|l| l.contains("9000000000 bytes free")),
        "{text:?}"
    );
    assert_eq!(state.submit(), Effect::None);
    assert_eq!(current(&state), CONFIRM);
    let op = started(state.confirm(true), "restore");
    let mut restored = preflight_report();
    restored.rto_seconds = Some(0.5);
    let op = started(state.on_done(&op, stage(restored)), "verify");
    assert!(state.is_applying(), "verification cannot be interrupted");
    assert_eq!(state.on_done(&op, stage(verified_report())), Effect::None);
    assert_eq!(current(&state), RESULTS);
    let text = review_text(&state);
    assert!(
        text.iter()
            .any(|l| l.contains("RTO") && l.contains("0.5 s")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("RPO") && l.contains("2h 0m")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("integrity") && l.contains("passed")),
        "{text:?}"
    );
    assert_eq!(state.submit(), Effect::None);
    assert_eq!(current(&state), KEEP);
    // Declining the offer (as the headless driver does) removes the data now.
    let op = started(state.confirm(false), "finish");
    let mut done = verified_report();
    done.result = DrillResult::Passed;
    assert_eq!(state.on_done(&op, finished(done)), Effect::None);
    assert_eq!(current(&state), REPORT);
    let text = review_text(&state);
    assert!(text[0].ends_with("PASSED"), "{text:?}");
    assert!(
        text.iter()
            .any(|l| l.contains("report") && l.contains("/h/d.md")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains(&format!("{TARGET} removed"))),
        "{text:?}"
    );
    assert_eq!(state.submit(), Effect::Ended(Ending::Completed));
}

fn review_text(state: &WizardState<DrillOutput>) -> Vec<String> {
    match state.view() {
        StepView::Review { lines, .. } => lines.iter().map(|l| l.text.clone()).collect(),
        other => panic!("{other:?}"),
    }
}

/// Walked to the offer after a passed verification.
fn at_offer() -> WizardState<DrillOutput> {
    let mut state = at_snapshot();
    let op = started(state.submit(), "preflight");
    state.on_done(&op, stage(preflight_report()));
    state.submit();
    let op = started(state.confirm(true), "restore");
    let op = started(state.on_done(&op, stage(preflight_report())), "verify");
    state.on_done(&op, stage(verified_report()));
    state.submit();
    assert_eq!(current(&state), KEEP);
    state
}

#[test]
fn keeping_the_data_says_where_it_is_and_going_on_cleans_up() {
    let mut state = at_offer();
    match state.view() {
        StepView::Confirm { question, kind } => {
            assert_eq!(kind, ConfirmKind::Offer);
            assert!(question.contains(TARGET), "{question}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(state.confirm(true), Effect::None);
    assert_eq!(current(&state), INSPECT);
    let text = review_text(&state);
    assert!(
        text.iter()
            .any(|l| l.contains(&format!("{TARGET}/restore/srv/app"))),
        "{text:?}"
    );
    assert!(text.iter().any(|l| l.contains("deploy lock")), "{text:?}");
    // Back to the offer (answered again), never before the verification.
    assert_eq!(state.back(), Effect::None);
    assert_eq!(current(&state), KEEP);
    assert_eq!(state.confirm(true), Effect::None);
    started(state.submit(), "finish");
}

#[test]
fn leaving_after_the_preflight_closes_instead_of_going_back() {
    let mut state = at_snapshot();
    let op = started(state.submit(), "preflight");
    state.on_done(&op, stage(preflight_report()));
    assert_eq!(current(&state), REVIEW);
    // The lock is held: the choices are closed; leaving ends the wizard as
    // Closed (the console's worker then finishes the drill).
    assert_eq!(state.back(), Effect::Ended(Ending::Closed));
}

#[test]
fn a_refused_gate_ends_the_wizard() {
    let mut state = at_snapshot();
    let op = started(state.submit(), "preflight");
    state.on_done(&op, stage(preflight_report()));
    state.submit();
    assert_eq!(
        state.confirm(false),
        Effect::Ended(Ending::Refused { step: CONFIRM })
    );
}

fn failed_at(step: DrillStep, error: &str) -> DrillReport {
    let mut r = preflight_report();
    r.result = DrillResult::Failed;
    r.failed_step = Some(step);
    r.error = Some(error.to_owned());
    r
}

#[test]
fn a_failed_preflight_ends_with_the_failed_report() {
    let mut state = at_snapshot();
    let op = started(state.submit(), "preflight");
    let mut report = failed_at(
        DrillStep::Preflight,
        "not enough free space for the restore under /var/tmp/fleetdeck-drills: 10 bytes free, 80000000 needed",
    );
    report.checks[3].outcome = Outcome::Failed;
    assert_eq!(state.on_done(&op, finished(report)), Effect::None);
    // Review, confirm, restore, verify and cleanup are skipped.
    assert_eq!(current(&state), REPORT);
    let text = review_text(&state);
    assert!(text[0].ends_with("FAILED at preflight"), "{text:?}");
    assert!(text[1].contains("not enough free space"), "{text:?}");
    assert!(
        text.iter()
            .any(|l| l.contains("free_space") && l.contains("FAILED"))
    );
    assert_eq!(state.submit(), Effect::Ended(Ending::Completed));
}

#[test]
fn a_failed_verification_ends_with_the_failed_report_and_no_offer() {
    let mut state = at_snapshot();
    let op = started(state.submit(), "preflight");
    state.on_done(&op, stage(preflight_report()));
    state.submit();
    let op = started(state.confirm(true), "restore");
    let op = started(state.on_done(&op, stage(preflight_report())), "verify");
    let mut report = failed_at(
        DrillStep::Verify,
        "restic check failed (exit 1): Pack ID does not match",
    );
    report.cleanup.removed = true;
    report.target = Some(TARGET.to_owned());
    state.on_done(&op, finished(report));
    assert_eq!(current(&state), REPORT);
    let text = review_text(&state);
    assert!(text[0].ends_with("FAILED at verify"), "{text:?}");
    assert!(
        text.iter()
            .any(|l| l.contains(&format!("{TARGET} removed"))),
        "{text:?}"
    );
}

#[test]
fn a_failed_listing_or_refused_plan_ends_with_its_report() {
    let mut state = at_snapshot_failed_listing();
    assert_eq!(current(&state), REPORT);
    let text = review_text(&state);
    assert!(text[0].ends_with("REFUSED at preflight"), "{text:?}");
    assert!(
        text.iter().any(|l| l.contains("nothing was written")),
        "{text:?}"
    );
    assert_eq!(state.submit(), Effect::Ended(Ending::Completed));
}

fn at_snapshot_failed_listing() -> WizardState<DrillOutput> {
    let mut state = WizardState::new(wizard(setup()), 1);
    state.start();
    state.submit();
    state.submit();
    let op = started(state.submit(), "list");
    let mut report = failed_at(
        DrillStep::Preflight,
        "refused: the scratch directory /srv/app/tmp is inside the backed-up path",
    );
    report.result = DrillResult::Refused;
    report.snapshot = None;
    report.target = None;
    state.on_done(&op, finished(report));
    state
}

#[test]
fn progress_names_each_check_and_tones_a_steps_end() {
    let at = datetime!(2026-11-23 10:00:00 UTC);
    let e = |step, detail: &str| DrillEvent {
        step,
        detail: detail.to_owned(),
    };
    let p = progress_event(
        &e(
            DrillStep::Verify,
            "integrity: restic check failed (exit 1): x",
        ),
        at,
    );
    assert_eq!(
        (p.item.as_str(), p.detail.as_str()),
        ("integrity", "restic check failed (exit 1): x")
    );
    let p = progress_event(
        &e(DrillStep::Verify, "failed: missing from the restore: a"),
        at,
    );
    assert_eq!(
        (p.item.as_str(), p.step.as_str(), p.tone),
        ("verify", "FAILED", Tone::Critical)
    );
    let p = progress_event(&e(DrillStep::Restore, "ok: snapshot restored in 0.5 s"), at);
    assert_eq!((p.item.as_str(), p.tone), ("restore", Tone::Ok));
    let p = progress_event(&e(DrillStep::Choose, "listing snapshots"), at);
    assert_eq!((p.item.as_str(), p.step.as_str()), ("choose", "choose"));
}

#[test]
fn the_verify_progress_lists_the_declared_checks() {
    let mut state = at_snapshot();
    let op = started(state.submit(), "preflight");
    state.on_done(&op, stage(preflight_report()));
    state.submit();
    let op = started(state.confirm(true), "restore");
    started(state.on_done(&op, stage(preflight_report())), "verify");
    match state.view() {
        StepView::Progress { items, .. } => {
            let names: Vec<&str> = items.iter().map(|i| i.item.as_str()).collect();
            assert_eq!(names, ["integrity", "size", "files", "manifest", "verify"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn setup_reads_the_declared_drills() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("inventory.yml");
    std::fs::write(
        &path,
        r#"all:
  hosts:
    gamma:
      ansible_host: 10.0.0.3
      fleetdeck_backups:
        - name: app-data
          kind: restic
          repository: "rest:https://u:secret@vault/repo"
          password_file: /etc/restic/password
          paths: [/srv/app]
      fleetdeck_drills:
        web:
          repository: app-data
          checks:
            manifest: MANIFEST.sha256
    plain:
      ansible_host: 10.0.0.4
"#,
    )
    .expect("write");
    let inventory = Inventory::load(&path).expect("inventory");
    let setup = Setup::from_inventory(&inventory, Some("gamma".to_owned()));
    assert_eq!(setup.hosts.len(), 1, "{setup:?}");
    let gamma = &setup.hosts[0];
    assert_eq!(gamma.name, "gamma");
    assert_eq!(gamma.apps[0].checks, ["manifest"]);
    assert!(!gamma.repositories[0].location.contains("secret"));
}
