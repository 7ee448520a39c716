//! The open container's inspection, as key / value lines.

use super::block;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(super) fn draw_inspect(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    host: usize,
    container: &str,
) {
    let host_name = app.hosts.get(host).map(|h| h.name.as_str()).unwrap_or("?");
    let lines: Vec<Line> = if app.inspect.is_empty() {
        vec![Line::from(Span::styled(
            "loading…",
            theme.style(Role::Muted),
        ))]
    } else {
        app.inspect
            .iter()
            .skip(app.inspect_scroll)
            .map(|(k, v)| {
                Line::from(vec![
                    Span::styled(format!("{k}: "), theme.style(Role::Accent)),
                    Span::styled(v.clone(), theme.style(Role::Text)),
                ])
            })
            .collect()
    };
    frame.render_widget(
        Paragraph::new(lines).block(block(
            format!(" inspect {container} on {host_name} "),
            theme,
        )),
        area,
    );
}
