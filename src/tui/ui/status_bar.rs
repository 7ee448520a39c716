//! The bottom line: the notice of the moment, or the keys that matter most in this
//! view, as the active keymap binds them (`KEY what`), as many as fit.

use crate::tui::action::{Action, View};
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
        footer(app, view, area.width, theme)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The keys worth knowing in `view`, most useful first (help always first: it lists
/// the rest).
fn footer_actions(view: View) -> &'static [(Action, &'static str)] {
    match view {
        View::Overview => &[
            (Action::Help, "help"),
            (Action::NextProblem, "next problem"),
            (Action::OpenLogs, "worst logs"),
            (Action::Open, "open"),
            (Action::Filter, "filter"),
            (Action::ShowTimeline, "timeline"),
            (Action::Quit, "quit"),
            (Action::CycleSort, "sort"),
            (Action::IncidentReport, "report"),
        ],
        View::Host => &[
            (Action::Help, "help"),
            (Action::OpenLogs, "logs"),
            (Action::NextProblem, "next problem"),
            (Action::Inspect, "inspect"),
            (Action::Back, "back"),
            (Action::NextPane, "pane"),
            (Action::RestartContainer, "restart"),
            (Action::IncidentReport, "report"),
        ],
        View::Logs => &[
            (Action::Help, "help"),
            (Action::ToggleFollow, "follow"),
            (Action::Search, "search"),
            (Action::NextMatch, "next match"),
            (Action::Back, "back"),
            (Action::ToggleWrap, "wrap"),
            (Action::SaveLogs, "save"),
        ],
        View::Inspect => &[
            (Action::Help, "help"),
            (Action::Search, "search"),
            (Action::OpenLogs, "logs"),
            (Action::Back, "back"),
        ],
        View::Timeline => &[
            (Action::Help, "help"),
            (Action::Open, "open host"),
            (Action::CycleSeverityFilter, "severity"),
            (Action::CycleKindFilter, "kind"),
            (Action::FilterByHost, "host"),
            (Action::Filter, "filter"),
            (Action::Back, "back"),
        ],
        View::Wizard => &[
            (Action::Help, "help"),
            (Action::Confirm, "next"),
            (Action::Back, "back"),
        ],
        View::Global | View::Confirm => &[(Action::Help, "help"), (Action::Quit, "quit")],
    }
}

/// `KEY what` for each of the view's keys the active keymap binds (mutating ones left
/// out where nothing may be changed), as many whole ones as fit in `width`.
fn footer<'a>(app: &App, view: View, width: u16, theme: &Theme) -> Line<'a> {
    let read_only = app.is_read_only(app.current_host());
    let mut spans = Vec::new();
    let mut used = 0usize;
    for (action, label) in footer_actions(view) {
        if read_only && action.is_mutating() {
            continue;
        }
        let Some(keys) = app.keymap.keys_for(view, *action).into_iter().next() else {
            continue;
        };
        let gap = if spans.is_empty() { 0 } else { 2 };
        let needed = gap + keys.chars().count() + 1 + label.chars().count();
        if used + needed > usize::from(width) {
            break;
        }
        used += needed;
        if gap > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(keys, theme.style(Role::Accent)));
        spans.push(Span::styled(format!(" {label}"), theme.style(Role::Muted)));
    }
    Line::from(spans)
}
