//! The bottom line: the notice of the moment and the keys that matter here.

use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(super) fn draw_status(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let view = app.screen().view();
    let line = if app.filter.editing {
        Line::from(vec![
            Span::styled("filter: ", theme.style(Role::Accent)),
            Span::styled(format!("{}▏", app.filter.text), theme.style(Role::Text)),
        ])
    } else if app.logs.search.editing {
        Line::from(vec![
            Span::styled("search: ", theme.style(Role::Accent)),
            Span::styled(
                format!("{}▏", app.logs.search.text),
                theme.style(Role::Text),
            ),
        ])
    } else if let Some(notice) = &app.notice {
        Line::from(Span::styled(notice.clone(), theme.style(Role::Accent)))
    } else {
        let hint = |action| app.keymap.keys_for(view, action).into_iter().next();
        let mut parts = Vec::new();
        for (action, label) in [
            (Action::Help, "help"),
            (Action::Back, "back"),
            (Action::ShowTimeline, "timeline"),
            (Action::Quit, "quit"),
        ] {
            if let Some(keys) = hint(action) {
                parts.push(format!("{keys} {label}"));
            }
        }
        Line::from(Span::styled(parts.join("  "), theme.style(Role::Muted)))
    };
    frame.render_widget(Paragraph::new(line), area);
}
