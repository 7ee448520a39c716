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
    let shown: Vec<_> = entries
        .iter()
        .filter(|e| !(read_only && e.action.is_mutating()))
        .collect();
    // The key column is as wide as the widest binding, so none overflows.
    let keys_width = shown
        .iter()
        .map(|e| e.keys.chars().count())
        .max()
        .unwrap_or(0);
    let desc_width = shown
        .iter()
        .map(|e| e.desc.chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<Line> = shown
        .iter()
        .map(|e| {
            Line::from(vec![
                Span::styled(
                    format!("{:>keys_width$}  ", e.keys),
                    theme.style(Role::Accent),
                ),
                Span::styled(e.desc.clone(), theme.style(Role::Text)),
            ])
        })
        .collect();
    // Two between the columns, two for the border, one to breathe.
    let width = (keys_width + 2 + desc_width + 3).max(60);
    let width = u16::try_from(width).unwrap_or(u16::MAX);
    let area = centered(frame.area(), width, (lines.len() as u16).saturating_add(2));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(block(format!(" Keys — {} ", view.as_str()), theme)),
        area,
    );
}
