//! Drawing: one file per panel, each reading `App` and the theme, never doing I/O.
//! This file lays the screen out (header, body, status bar, overlays) and holds the
//! helpers every panel uses. Text that came from hosts was sanitized when it entered;
//! nothing here adds raw remote bytes.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders};
use time::OffsetDateTime;

use super::app::{App, Screen};
use super::theme::{Role, Theme};
use crate::probes::Severity;
use crate::wizard::Tone;

mod apps;
mod backups;
mod canary_board;
mod confirm;
mod facts;
mod header;
mod help;
mod host;
mod inspect;
mod logs;
mod maintenance;
mod overview;
mod passphrase;
mod posture;
mod resources;
mod status_bar;
mod timeline;
mod wizard;

use confirm::draw_confirm;
use header::draw_header;
use help::draw_help;
use host::draw_host;
use inspect::draw_inspect;
use logs::draw_logs;
use maintenance::draw_maintenance;
use overview::draw_overview;
use passphrase::draw_passphrase;
use status_bar::draw_status;
use timeline::draw_timeline;
use wizard::draw_wizard;

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let now = OffsetDateTime::now_utc();
    draw_at(frame, app, theme, now);
}

/// As [`draw`] with a fixed clock, for snapshot tests.
pub fn draw_at(frame: &mut Frame, app: &App, theme: &Theme, now: OffsetDateTime) {
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, header, app, theme, now);
    match app.screen().clone() {
        Screen::Overview => draw_overview(frame, body, app, theme, now),
        Screen::Host { host } => draw_host(frame, body, app, theme, host, now),
        Screen::Logs { host, container } => draw_logs(frame, body, app, theme, host, &container),
        Screen::Inspect { host, container } => {
            draw_inspect(frame, body, app, theme, host, &container)
        }
        Screen::Timeline => draw_timeline(frame, body, app, theme),
        Screen::Wizard => draw_wizard(frame, body, app, theme, now),
    }
    draw_status(frame, status, app, theme);
    if app.help {
        draw_help(frame, app, theme);
    }
    if app.confirm.is_some() {
        draw_confirm(frame, app, theme);
    }
    if app.maintenance.is_some() {
        draw_maintenance(frame, app, theme);
    }
    if app.passphrase.current().is_some() {
        draw_passphrase(frame, app, theme);
    }
}

pub(super) fn severity_role(severity: Severity) -> Role {
    match severity {
        Severity::Ok => Role::Ok,
        Severity::Warning => Role::Warning,
        Severity::Unknown => Role::Unknown,
        Severity::Critical => Role::Critical,
    }
}

pub(super) fn block<'a>(title: impl Into<Line<'a>>, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Border))
        .title(title)
        .title_style(theme.style(Role::Title))
}

pub(super) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

pub(super) fn tone_role(tone: Tone) -> Role {
    match tone {
        Tone::Normal => Role::Text,
        Tone::Heading => Role::Title,
        Tone::Ok => Role::Ok,
        Tone::Warning => Role::Warning,
        Tone::Critical => Role::Critical,
        Tone::Muted => Role::Muted,
    }
}

/// `42s`, `3m05s`.
fn elapsed_text(seconds: i64) -> String {
    let seconds = seconds.max(0);
    if seconds < 60 {
        format!("{seconds}s")
    } else {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    }
}
