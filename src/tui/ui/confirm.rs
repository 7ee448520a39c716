//! The confirmation modal of a mutating action.

use super::block;
use super::centered;
use crate::tui::action::Action;
use crate::tui::action::View;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

pub(super) fn draw_confirm(frame: &mut Frame, app: &App, theme: &Theme) {
    let Some(waiting) = &app.confirm else {
        return;
    };
    let yes = app
        .keymap
        .keys_for(View::Confirm, Action::Confirm)
        .join("/");
    let no = app.keymap.keys_for(View::Confirm, Action::Cancel).join("/");
    let text = vec![
        Line::from(Span::styled(
            waiting.pending.title(),
            theme.style(Role::Warning),
        )),
        Line::from(Span::styled(
            waiting.pending.describe(),
            theme.style(Role::Text),
        )),
        Line::from(""),
        Line::from(Span::styled(
            format!("{yes}: yes    {no}: no"),
            theme.style(Role::Muted),
        )),
    ];
    let area = centered(frame.area(), 64, 8);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(block(" Confirm ", theme))
            .style(Style::default()),
        area,
    );
}
