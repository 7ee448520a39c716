//! The fleet timeline.

use super::block;
use super::severity_role;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table, TableState};

pub(super) fn draw_timeline(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let visible = app.timeline.visible();
    let rows: Vec<Row> = visible
        .iter()
        .map(|e| {
            let time =
                e.at.format(time::macros::format_description!(
                    "[hour]:[minute]:[second]"
                ))
                .unwrap_or_default();
            Row::new(vec![
                Cell::from(time),
                Cell::from(e.host.clone()),
                Cell::from(e.kind.label()),
                Cell::from(e.text.clone()),
            ])
            .style(theme.style(severity_role(e.severity)))
        })
        .collect();
    let mut title = " Timeline — newest first ".to_owned();
    if let Some(host) = &app.timeline.host {
        title.push_str(&format!("· host {host} "));
    }
    if let Some(severity) = app.timeline.min_severity {
        title.push_str(&format!("· {}+ ", severity.as_str()));
    }
    if let Some(kind) = app.timeline.kind {
        title.push_str(&format!("· {} ", kind.label()));
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(16),
            Constraint::Length(12),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["TIME", "HOST", "KIND", "WHAT"]).style(theme.style(Role::Header)))
    .row_highlight_style(theme.style(Role::Selection))
    .block(block(title, theme));
    let mut state = TableState::default().with_selected(Some(app.timeline.selected));
    frame.render_stateful_widget(table, area, &mut state);
}
