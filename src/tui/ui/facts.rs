//! The host detail's facts pane.

use super::block;
use crate::fleet::facts::rtt_text;
use crate::fleet::model::HostState;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// What the host's engine says it is, and where the session goes.
pub(super) fn draw_facts(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    host: &HostState,
    title: &str,
) {
    let mut lines = Vec::new();
    let row = |key: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{key:<14}"), theme.style(Role::Muted)),
            Span::styled(value, theme.style(Role::Text)),
        ])
    };
    let or_unknown = |value: &Option<String>| value.clone().unwrap_or_else(|| "?".to_owned());
    match &host.facts.value {
        None => lines.push(Line::from(Span::styled(
            "not read yet (Docker's /info, once per connection)",
            theme.style(Role::Muted),
        ))),
        Some(facts) => {
            lines.push(row("host name", or_unknown(&facts.hostname)));
            let os = match &facts.architecture {
                Some(arch) => format!("{} ({arch})", or_unknown(&facts.os)),
                None => or_unknown(&facts.os),
            };
            lines.push(row("OS", os));
            lines.push(row("kernel", or_unknown(&facts.kernel)));
            lines.push(row("Docker", or_unknown(&facts.docker_version)));
            lines.push(row(
                "CPUs",
                facts
                    .cpus
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "?".to_owned()),
            ));
            lines.push(row(
                "memory",
                facts
                    .memory_bytes
                    .and_then(|b| u64::try_from(b).ok())
                    .map(crate::docker::stats::bytes_text)
                    .unwrap_or_else(|| "?".to_owned()),
            ));
            let count = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "?".to_owned());
            lines.push(row(
                "containers",
                format!(
                    "{} ({} running, {} stopped)",
                    count(facts.containers),
                    count(facts.containers_running),
                    count(facts.containers_stopped)
                ),
            ));
            lines.push(row("images", count(facts.images)));
            if let Some(address) = &facts.ssh_address {
                lines.push(row("SSH", address.clone()));
            }
        }
    }
    let rtt = match (&host.rtt.value, &host.rtt.error) {
        (_, Some(error)) => Span::styled(error.clone(), theme.style(Role::Unknown)),
        (Some(rtt), None) => Span::styled(
            format!("{} (Docker /_ping over SSH)", rtt_text(*rtt)),
            theme.style(Role::Text),
        ),
        (None, None) => Span::styled("not measured yet", theme.style(Role::Muted)),
    };
    lines.push(Line::from(vec![
        Span::styled(format!("{:<14}", "round trip"), theme.style(Role::Muted)),
        rtt,
    ]));
    if let Some(error) = &host.facts.error {
        lines.push(Line::from(Span::styled(
            error.clone(),
            theme.style(Role::Unknown),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).block(block(title.to_owned(), theme)),
        area,
    );
}
