//! The open wizard, full screen: its step, widgets and progress.

use super::block;
use super::canary_board::draw_board;
use super::{elapsed_text, tone_role};
use crate::tui::action::Action;
use crate::tui::action::View;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use crate::wizard::{ConfirmKind, Ending, StepView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use time::OffsetDateTime;

/// The open wizard, full screen: the step's title, its widget, the keys that work.
pub(super) fn draw_wizard(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    now: OffsetDateTime,
) {
    let Some(wizard) = &app.wizard else {
        return;
    };
    let keys = |action| {
        app.keymap
            .keys_for(View::Wizard, action)
            .into_iter()
            .next()
            .unwrap_or_default()
    };
    let back = keys(Action::Back);
    let next = keys(Action::Confirm);
    let step_title = wizard.step().map_or("", |(_, title)| title);
    let title = match wizard.view() {
        StepView::Ended(_) => format!(" {} — ended ", wizard.name()),
        _ => format!(
            " {} — step {}: {} ",
            wizard.name(),
            wizard.step_number(),
            step_title
        ),
    };
    let outer = block(title, theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [body, error, hint] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let muted = theme.style(Role::Muted);
    let text = theme.style(Role::Text);
    let hint_text: String = match wizard.view() {
        StepView::Input {
            prompt,
            text: typed,
        } => {
            let lines = vec![
                Line::from(Span::styled(prompt.to_owned(), muted)),
                Line::from(""),
                Line::from(vec![
                    Span::styled("> ", theme.style(Role::Accent)),
                    Span::styled(format!("{typed}▏"), text),
                ]),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
            "type; enter: next  esc: back".to_owned()
        }
        StepView::Choice {
            multi,
            options,
            checked,
            cursor,
        } => {
            let rows: Vec<Row> = options
                .iter()
                .zip(checked)
                .map(|(o, c)| {
                    let mark = match (multi, *c) {
                        (true, true) => "[x]",
                        (true, false) => "[ ]",
                        (false, true) => "(•)",
                        (false, false) => "( )",
                    };
                    let (style, detail) = match &o.disabled {
                        Some(why) => (muted, why.clone()),
                        None => (text, o.detail.clone()),
                    };
                    Row::new(vec![
                        Cell::from(mark).style(theme.style(Role::Accent)),
                        Cell::from(o.label.clone()).style(style),
                        Cell::from(detail).style(muted),
                    ])
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Length(3),
                    Constraint::Length(20),
                    Constraint::Min(10),
                ],
            )
            .row_highlight_style(theme.style(Role::Selection));
            let mut state = TableState::default().with_selected(Some(cursor));
            frame.render_stateful_widget(table, body, &mut state);
            let count = checked.iter().filter(|c| **c).count();
            format!(
                "{count} of {} checked   {}: check  {}: all/none  {next}: next  {back}: back",
                options.len(),
                keys(Action::ToggleItem),
                keys(Action::ToggleAll),
            )
        }
        StepView::Review { lines, scroll } => {
            let shown: Vec<Line> = lines
                .iter()
                .map(|l| Line::from(Span::styled(l.text.clone(), theme.style(tone_role(l.tone)))))
                .collect();
            let total = shown.len();
            frame.render_widget(
                Paragraph::new(shown).scroll((scroll.min(u16::MAX as usize) as u16, 0)),
                body,
            );
            let closes = wizard.is_summary();
            format!(
                "{total} line(s)   {}/{}: scroll  {next}: {}  {back}: {}",
                keys(Action::Down),
                keys(Action::Up),
                if closes { "continue" } else { "next" },
                if closes { "close" } else { "back" },
            )
        }
        StepView::Confirm { question, kind } => {
            let lines = vec![
                Line::from(""),
                Line::from(Span::styled(
                    question.to_owned(),
                    theme.style(Role::Warning),
                )),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), body);
            let no = keys(Action::Cancel);
            match kind {
                ConfirmKind::Gate => {
                    format!("{next}: yes, go ahead   {no}: no (nothing is changed)   {back}: back")
                }
                ConfirmKind::Offer => format!("{next}: yes   {no}: {}", wizard.offer_no()),
            }
        }
        StepView::Progress {
            label,
            items,
            started,
        } if wizard.rolling_out().is_some() => {
            let canary = wizard.rolling_out();
            draw_board(frame, body, app, theme, now, canary, label, items, started)
        }
        StepView::Progress {
            label,
            items,
            started,
        } => {
            let [head, table_area] =
                Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(body);
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(format!("{label}… "), theme.style(Role::Accent)),
                    Span::styled(elapsed_text((now - started).whole_seconds()), muted),
                ])),
                head,
            );
            let rows: Vec<Row> = items
                .iter()
                .map(|item| match &item.latest {
                    None => Row::new(vec![
                        Cell::from(item.item.clone()).style(text),
                        Cell::from("waiting").style(muted),
                        Cell::from(""),
                        Cell::from(""),
                    ]),
                    Some(e) => {
                        let what = if e.label.is_empty() {
                            e.step.clone()
                        } else {
                            format!("{} {}", e.label, e.step)
                        };
                        let since = item
                            .started
                            .map_or(String::new(), |s| elapsed_text((now - s).whole_seconds()));
                        Row::new(vec![
                            Cell::from(item.item.clone()).style(text),
                            Cell::from(what).style(theme.style(tone_role(e.tone))),
                            Cell::from(e.detail.clone()).style(muted),
                            Cell::from(since).style(muted),
                        ])
                    }
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Length(18),
                    Constraint::Length(18),
                    Constraint::Min(10),
                    Constraint::Length(7),
                ],
            )
            .header(
                Row::new([wizard.progress_item(), "STEP", "DETAIL", "ELAPSED"])
                    .style(theme.style(Role::Header)),
            );
            frame.render_widget(table, table_area);
            if wizard.is_applying() {
                "changes are being applied: this cannot be interrupted; the panel stays until it ends"
                    .to_owned()
            } else {
                "working…".to_owned()
            }
        }
        StepView::Ended(ending) => {
            let mut lines = Vec::new();
            match ending {
                Ending::Failed { problems, .. } => {
                    lines.push(Line::from(Span::styled(
                        "The wizard stopped:",
                        theme.style(Role::Critical),
                    )));
                    for p in problems {
                        lines.push(Line::from(Span::styled(format!("  {p}"), text)));
                    }
                    if !wizard.changed() {
                        lines.push(Line::from(""));
                        lines.push(Line::from(Span::styled(
                            "Nothing was changed on any host.",
                            theme.style(Role::Ok),
                        )));
                    }
                }
                other => lines.push(Line::from(Span::styled(format!("{other:?}"), text))),
            }
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
            format!("{next}/{back}: close")
        }
    };
    if let Some(problem) = wizard.error() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                problem.to_owned(),
                theme.style(Role::Critical),
            )),
            error,
        );
    }
    frame.render_widget(Paragraph::new(Span::styled(hint_text, muted)), hint);
}
