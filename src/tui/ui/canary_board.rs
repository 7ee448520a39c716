//! The canary wizard's rollout board: waves, hosts, live health.

use super::block;
use super::elapsed_text;
use super::severity_role;
use super::tone_role;
use crate::core::canary::{RolloutHost, RolloutStatus, Wave, WaveStage};
use crate::probes::Severity;
use crate::sanitize;
use crate::tui::action::Action;
use crate::tui::action::View;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use crate::tui::wizards::CanaryWizard;
use crate::wizard::ProgressItem;
use crate::wizard::canary::{self as canary_wizard, wave_name};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use time::OffsetDateTime;

pub(super) fn wave_stage_word(stage: WaveStage) -> &'static str {
    match stage {
        WaveStage::Pending => "pending",
        WaveStage::Deploying => "deploying",
        WaveStage::Soaking => "soaking",
        WaveStage::Gate => "at the gate",
        WaveStage::Passed => "passed",
        WaveStage::Failed => "FAILED",
        WaveStage::RolledBack => "ROLLED BACK",
        WaveStage::Skipped => "skipped",
    }
}

/// The live health of a host's containers, as the console's own monitoring sees them:
/// the containers the rollout replaced there (every container when it replaced none).
pub(super) fn live_health(app: &App, host: &RolloutHost) -> (String, Role) {
    let Some(state) = app.hosts.iter().find(|h| h.name == host.name) else {
        return ("not monitored".to_owned(), Role::Muted);
    };
    if state.reachable == Some(false) {
        return ("unreachable".to_owned(), Role::Critical);
    }
    let Some(containers) = state.containers.value.as_deref() else {
        return ("…".to_owned(), Role::Muted);
    };
    let shown: Vec<_> = containers
        .iter()
        .filter(|c| host.deployed.is_empty() || host.deployed.contains(&c.name))
        .collect();
    if shown.is_empty() {
        return ("no container".to_owned(), Role::Muted);
    }
    let worst = shown
        .iter()
        .map(|c| c.severity)
        .max()
        .unwrap_or(Severity::Ok);
    let text = shown
        .iter()
        .map(|c| {
            let mut t = format!("{} {}", c.name, c.health.as_deref().unwrap_or(&c.state));
            if c.restart_count > 0 {
                t.push_str(&format!(" ↻{}", c.restart_count));
            }
            t
        })
        .collect::<Vec<_>>()
        .join(", ");
    (text, severity_role(worst))
}

/// The canary rollout as a board: hosts × state grouped by wave, the current gate,
/// the elapsed time and the soak's countdown, each host's latest deploy step (or its
/// error), the live health of the active wave's hosts, and — at a gate — the go /
/// no-go question.
#[allow(clippy::too_many_arguments)]
pub(super) fn draw_board(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    now: OffsetDateTime,
    canary: Option<&CanaryWizard>,
    label: &str,
    items: &[ProgressItem],
    started: OffsetDateTime,
) -> String {
    let Some(canary) = canary else {
        return String::new();
    };
    let board = &canary.board;
    let muted = theme.style(Role::Muted);
    let text = theme.style(Role::Text);
    let keys = |action| {
        app.keymap
            .keys_for(View::Wizard, action)
            .into_iter()
            .next()
            .unwrap_or_default()
    };
    let question_height = if board.question.is_some() { 4 } else { 0 };
    let [head, table_area, question_area] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(1),
        Constraint::Length(question_height),
    ])
    .areas(area);
    let Some(rollout) = canary.rollout() else {
        return String::new();
    };
    let gate_role = if board.question.is_some() {
        Role::Warning
    } else {
        match rollout.status {
            RolloutStatus::Passed => Role::Ok,
            RolloutStatus::Halted => Role::Critical,
            RolloutStatus::Running => Role::Accent,
        }
    };
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled(format!("{label}… "), theme.style(Role::Accent)),
                Span::styled(elapsed_text((now - started).whole_seconds()), text),
                Span::styled(
                    format!(
                        "   rollout {} · {} wave(s) · {} host(s) · soak {} s · max failures {}{}",
                        rollout.id,
                        rollout.waves.len(),
                        rollout.hosts.len(),
                        rollout.request.soak_seconds,
                        rollout.request.max_failures,
                        if rollout.request.rollback_all {
                            " · rollback all"
                        } else {
                            ""
                        }
                    ),
                    muted,
                ),
            ]),
            Line::from(Span::styled(board.gate_text(now), theme.style(gate_role))),
        ]),
        head,
    );
    let active = board.active_wave();
    let live = |wave: &Wave| {
        Some(wave.index) == active && matches!(wave.stage, WaveStage::Soaking | WaveStage::Gate)
            || board
                .question
                .as_ref()
                .is_some_and(|q| q.wave == wave.index)
    };
    let mut rows: Vec<Row> = Vec::new();
    for wave in &rollout.waves {
        let wave_role = match wave.stage {
            WaveStage::Passed => Role::Ok,
            WaveStage::Failed => Role::Critical,
            WaveStage::RolledBack | WaveStage::Gate => Role::Warning,
            WaveStage::Pending | WaveStage::Skipped => Role::Muted,
            WaveStage::Deploying | WaveStage::Soaking => Role::Accent,
        };
        rows.push(Row::new(vec![
            Cell::from(wave_name(wave.index)).style(theme.style(Role::Title)),
            Cell::from(wave_stage_word(wave.stage)).style(theme.style(wave_role)),
            Cell::from(""),
            Cell::from(""),
            Cell::from(""),
        ]));
        for name in &wave.hosts {
            let Some(host) = rollout.host(name) else {
                continue;
            };
            let item = items.iter().find(|i| &i.item == name);
            let (health, health_role) = if live(wave) {
                live_health(app, host)
            } else {
                (String::new(), Role::Muted)
            };
            let (step, step_role) = match (&host.error, item.and_then(|i| i.latest.as_ref())) {
                (Some(error), _) => (
                    error.clone(),
                    tone_role(canary_wizard::stage_tone(host.stage)),
                ),
                // Passed, with a problem the rollout did not cause: shown as such.
                (None, _) if !host.notes.is_empty() => (host.notes.join("; "), Role::Warning),
                (None, Some(e)) => (
                    [e.label.as_str(), e.step.as_str(), e.detail.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                    tone_role(e.tone),
                ),
                (None, None) => (String::new(), Role::Muted),
            };
            let since = item
                .and_then(|i| i.started)
                .map_or(String::new(), |s| elapsed_text((now - s).whole_seconds()));
            rows.push(Row::new(vec![
                Cell::from(format!("  {}", sanitize::line(name))).style(text),
                Cell::from(canary_wizard::stage_word(host.stage))
                    .style(theme.style(tone_role(canary_wizard::stage_tone(host.stage)))),
                Cell::from(health).style(theme.style(health_role)),
                Cell::from(sanitize::line(&step)).style(theme.style(step_role)),
                Cell::from(since).style(muted),
            ]));
        }
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(18),
            Constraint::Length(12),
            Constraint::Length(26),
            Constraint::Min(10),
            Constraint::Length(6),
        ],
    )
    .header(
        Row::new([
            "WAVE / HOST",
            "STATE",
            "HEALTH (live)",
            "LATEST STEP",
            "TIME",
        ])
        .style(theme.style(Role::Header)),
    );
    frame.render_widget(table, table_area);
    let go = keys(Action::Confirm);
    let no = keys(Action::Cancel);
    if let Some(q) = &board.question {
        let next = rollout
            .waves
            .get(q.wave + 1)
            .map(|w| {
                format!(
                    "{} ({})",
                    wave_name(w.index),
                    w.hosts
                        .iter()
                        .map(|h| sanitize::line(h))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .unwrap_or_else(|| "the next wave".to_owned());
        let dialog = block(" Go / no-go ", theme);
        let inner = dialog.inner(question_area);
        frame.render_widget(dialog, question_area);
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(Span::styled(
                    format!(
                        "{} passed its gate (deployed, soaked healthy). Go on to {next}?",
                        wave_name(q.wave)
                    ),
                    theme.style(Role::Warning),
                )),
                Line::from(Span::styled(
                    format!(
                        "{go}: go   {no}: no-go (halt here: the waves after it are skipped, \
                         what was deployed stays)"
                    ),
                    theme.style(Role::Accent),
                )),
            ])
            .wrap(Wrap { trim: true }),
            inner,
        );
        format!("{go}: go   {no}: no-go   the rollout cannot be cancelled otherwise")
    } else if rollout.status == RolloutStatus::Running {
        "the rollout runs: it cannot be cancelled; at each gate you are asked go / no-go".to_owned()
    } else {
        "the rollout has ended; its summary follows".to_owned()
    }
}
