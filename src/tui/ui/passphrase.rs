//! The passphrase modal (never the typed text, nor its length).

use super::block;
use super::centered;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

/// The passphrase modal: which key, whether the last try was wrong, and only whether
/// something has been typed — never the text, nor its length.
pub(super) fn draw_passphrase(frame: &mut Frame, app: &App, theme: &Theme) {
    let Some(request) = app.passphrase.current() else {
        return;
    };
    let key_file = crate::sanitize::line(&request.key_file.display().to_string());
    let mut text = vec![Line::from(vec![
        Span::styled("An SSH key needs its passphrase: ", theme.style(Role::Text)),
        Span::styled(key_file, theme.style(Role::Accent)),
    ])];
    if request.previous_was_wrong {
        text.push(Line::from(Span::styled(
            "Bad passphrase, try again.",
            theme.style(Role::Warning),
        )));
    }
    text.push(Line::from(""));
    text.push(Line::from(vec![
        Span::styled("passphrase: ", theme.style(Role::Accent)),
        Span::styled(
            if app.passphrase.has_input() {
                "(typed, hidden)▏"
            } else {
                "▏"
            },
            theme.style(Role::Text),
        ),
    ]));
    text.push(Line::from(""));
    let waiting = app.passphrase.queue.len().saturating_sub(1);
    let mut hint =
        "enter: unlock    esc: cancel (hosts that need this key fail to authenticate)".to_owned();
    if waiting > 0 {
        hint.push_str(&format!("    {waiting} more waiting"));
    }
    text.push(Line::from(Span::styled(hint, theme.style(Role::Muted))));
    let area = centered(frame.area(), 72, 9);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(block(" Passphrase ", theme)),
        area,
    );
}
