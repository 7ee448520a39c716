//! The open container's log, with search highlighting.

use super::block;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub(super) fn draw_logs(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    host: usize,
    container: &str,
) {
    let logs = &app.logs;
    let host_name = app.hosts.get(host).map(|h| h.name.as_str()).unwrap_or("?");
    let mut title = format!(
        " {container} on {host_name} — {} ",
        if logs.follow { "following" } else { "paused" }
    );
    if !logs.search.text.is_empty() {
        title.push_str(&format!(
            "· search \"{}\" ({} lines) ",
            logs.search.text,
            logs.matches().len()
        ));
    }
    if logs.dropped > 0 {
        title.push_str(&format!("· {} older lines dropped ", logs.dropped));
    }
    if let Some(ended) = &logs.ended {
        title.push_str(&format!("· ended: {ended} "));
    }
    let inner_height = area.height.saturating_sub(2) as usize;
    let end = logs.lines.len().saturating_sub(logs.scroll);
    let start = end.saturating_sub(inner_height);
    let needle = logs.search.text.to_lowercase();
    let lines: Vec<Line> = logs
        .lines
        .range(start..end)
        .map(|line| {
            let text = if logs.timestamps {
                line.clone()
            } else {
                strip_timestamp(line).to_owned()
            };
            highlight(&text, &needle, theme)
        })
        .collect();
    let mut paragraph = Paragraph::new(lines).block(block(title, theme));
    if logs.wrap {
        paragraph = paragraph.wrap(Wrap { trim: false });
    }
    frame.render_widget(paragraph, area);
}

/// Log lines are stored as `RFC3339 text`; the timestamp is shown on request.
pub(super) fn strip_timestamp(line: &str) -> &str {
    match line.split_once(' ') {
        Some((first, rest))
            if first.len() >= 20
                && first.as_bytes().get(4) == Some(&b'-')
                && first.contains('T') =>
        {
            rest
        }
        _ => line,
    }
}

pub(super) fn highlight<'a>(text: &str, needle: &str, theme: &Theme) -> Line<'a> {
    if needle.is_empty() {
        return Line::from(Span::styled(text.to_owned(), theme.style(Role::Text)));
    }
    let lower = text.to_lowercase();
    // Byte offsets only line up when lowercasing kept the length; otherwise no marks.
    if lower.len() != text.len() {
        return Line::from(Span::styled(text.to_owned(), theme.style(Role::Text)));
    }
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(found) = lower[at..].find(needle) {
        let start = at + found;
        let end = start + needle.len();
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            break;
        }
        spans.push(Span::styled(
            text[at..start].to_owned(),
            theme.style(Role::Text),
        ));
        spans.push(Span::styled(
            text[start..end].to_owned(),
            theme.style(Role::Highlight),
        ));
        at = end;
    }
    spans.push(Span::styled(text[at..].to_owned(), theme.style(Role::Text)));
    Line::from(spans)
}
