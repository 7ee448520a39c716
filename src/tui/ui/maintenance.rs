//! The maintenance key's modal: the window's length and reason being typed, then the
//! question (start, or end the host's window).

use super::block;
use super::centered;
use crate::tui::action::{Action, View};
use crate::tui::app::{App, MaintenanceStep};
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

pub(super) fn draw_maintenance(frame: &mut Frame, app: &App, theme: &Theme) {
    let Some(form) = &app.maintenance else {
        return;
    };
    let mut text = vec![Line::from(Span::styled(
        form.title(),
        theme.style(Role::Warning),
    ))];
    let field = |label: &str, value: &str, typing: bool| {
        let cursor = if typing { "▏" } else { "" };
        let role = if typing { Role::Selection } else { Role::Text };
        Line::from(vec![
            Span::styled(format!("{label:<8}"), theme.style(Role::Muted)),
            Span::styled(format!("{value}{cursor}"), theme.style(role)),
        ])
    };
    match &form.step {
        MaintenanceStep::Length | MaintenanceStep::Reason => {
            let on_length = form.step == MaintenanceStep::Length;
            text.push(field("for", &form.length, on_length));
            if !on_length {
                text.push(field("reason", &form.reason, true));
            }
            text.push(Line::from(""));
            if let Some(error) = &form.error {
                text.push(Line::from(Span::styled(
                    error.clone(),
                    theme.style(Role::Critical),
                )));
            }
            text.push(Line::from(Span::styled(
                if on_length {
                    "how long: 30m, 2h, 1h30m (at most 30 days) · enter: next · esc: cancel"
                } else {
                    "why, one line, for everyone who sees the host · enter: next · esc: cancel"
                },
                theme.style(Role::Muted),
            )));
        }
        MaintenanceStep::Confirm(_) => {
            let yes = app
                .keymap
                .keys_for(View::Confirm, Action::Confirm)
                .join("/");
            let no = app.keymap.keys_for(View::Confirm, Action::Cancel).join("/");
            text.push(Line::from(Span::styled(
                form.describe(),
                theme.style(Role::Text),
            )));
            text.push(Line::from(""));
            text.push(Line::from(Span::styled(
                format!("{yes}: yes    {no}: no"),
                theme.style(Role::Muted),
            )));
        }
    }
    let area = centered(frame.area(), 72, 9);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(block(" Maintenance ", theme)),
        area,
    );
}
