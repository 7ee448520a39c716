//! The top line: the fleet's name, counts per severity (hosts in maintenance apart), and where the operator is.

use crate::probes::Severity;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(super) fn draw_header(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    now: time::OffsetDateTime,
) {
    let mut counts = [0usize; 4];
    // Hosts in maintenance are counted apart: their problems are silenced.
    let mut silenced = 0;
    for host in &app.hosts {
        if host.in_maintenance(now).is_some() {
            silenced += 1;
            continue;
        }
        let i = match host.severity() {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Unknown => 2,
            Severity::Critical => 3,
        };
        counts[i] += 1;
    }
    let mut spans = vec![
        Span::styled(" fleetdeck ", theme.style(Role::Accent)),
        Span::styled(
            format!("{} hosts  ", app.hosts.len()),
            theme.style(Role::Text),
        ),
        Span::styled(format!("{} ok  ", counts[0]), theme.style(Role::Ok)),
        Span::styled(
            format!("{} warning  ", counts[1]),
            theme.style(Role::Warning),
        ),
        Span::styled(
            format!("{} unknown  ", counts[2]),
            theme.style(Role::Unknown),
        ),
        Span::styled(
            format!("{} critical", counts[3]),
            theme.style(Role::Critical),
        ),
    ];
    if silenced > 0 {
        spans.push(Span::styled(
            format!("  {silenced} in maintenance"),
            theme.style(Role::Muted),
        ));
    }
    if app.read_only {
        spans.push(Span::styled("  READ-ONLY", theme.style(Role::Accent)));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.style(Role::Header)),
        area,
    );
}
