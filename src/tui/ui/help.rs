//! The help overlay: the active keymap's bindings for this view.

use super::block;
use super::centered;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

pub(super) fn draw_help(frame: &mut Frame, app: &App, theme: &Theme) {
    let view = app.screen().view();
    let entries = app.keymap.help(view);
    let read_only = app.is_read_only(app.current_host());
    let lines: Vec<Line> = entries
        .iter()
        .filter(|e| !(read_only && e.action.is_mutating()))
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{:>12}  ", e.keys), theme.style(Role::Accent)),
                Span::styled(e.desc.clone(), theme.style(Role::Text)),
            ])
        })
        .collect();
    let area = centered(frame.area(), 60, (lines.len() as u16).saturating_add(2));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(block(format!(" Keys — {} ", view.as_str()), theme)),
        area,
    );
}
