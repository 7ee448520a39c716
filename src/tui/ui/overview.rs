//! The overview: one row per host with a summary of each signal.

use super::block;
use super::severity_role;
use crate::fleet::facts::rtt_text;
use crate::fleet::model::HostState;
use crate::probes::Severity;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use crate::util::time::age_text;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table, TableState};
use time::OffsetDateTime;

/// `up 12ms` (the latest `/_ping` round trip), `up ?` when the ping failed, `up` before
/// the first one.
pub(super) fn reach_cell(host: &HostState) -> (String, Role) {
    match host.reachable {
        None => ("connecting".to_owned(), Role::Muted),
        Some(true) => match (&host.rtt.value, &host.rtt.error) {
            (_, Some(_)) => ("up ?".to_owned(), Role::Ok),
            (Some(rtt), None) => (format!("up {}", rtt_text(*rtt)), Role::Ok),
            (None, None) => ("up".to_owned(), Role::Ok),
        },
        Some(false) => ("DOWN".to_owned(), Role::Critical),
    }
}

pub(super) fn containers_summary(host: &HostState) -> (String, Severity) {
    match &host.containers.value {
        None => ("-".to_owned(), Severity::Ok),
        Some(list) => {
            let fine = list.iter().filter(|c| c.severity == Severity::Ok).count();
            let worst = list.iter().max_by_key(|c| c.severity);
            match worst {
                Some(c) if c.severity != Severity::Ok => (
                    format!(
                        "{fine}/{} {} {}",
                        list.len(),
                        c.name,
                        c.problem.as_deref().unwrap_or(&c.state)
                    ),
                    c.severity,
                ),
                _ => (format!("{fine}/{}", list.len()), Severity::Ok),
            }
        }
    }
}

pub(super) fn backup_summary(host: &HostState) -> (String, Severity) {
    let Some(list) = &host.backups.value else {
        return ("-".to_owned(), Severity::Ok);
    };
    match list.iter().max_by_key(|b| b.severity) {
        None => ("-".to_owned(), Severity::Ok),
        Some(b) => match b.age_seconds {
            Some(age) => (age_text(age), b.severity),
            None => (format!("{:?}", b.state).to_lowercase(), b.severity),
        },
    }
}

pub(super) fn cert_summary(host: &HostState) -> (String, Severity) {
    let Some(list) = &host.certs.value else {
        return ("-".to_owned(), Severity::Ok);
    };
    match list.iter().min_by_key(|c| c.days_left.unwrap_or(i64::MIN)) {
        None => ("-".to_owned(), Severity::Ok),
        Some(c) => match c.lifetime() {
            Some(lifetime) => (lifetime.short(), c.severity),
            None => ("?".to_owned(), c.severity),
        },
    }
}

pub(super) fn firewall_summary(host: &HostState) -> (String, Severity) {
    match &host.firewall.value {
        None => ("-".to_owned(), Severity::Ok),
        Some(f) if f.error.is_some() => ("unreadable".to_owned(), f.severity),
        Some(f) if f.drift.is_empty() => ("ok".to_owned(), f.severity),
        Some(f) => (format!("drift {}", f.drift.len()), f.severity),
    }
}

/// The fullest filesystem's use (space or inodes, whichever is fuller): `93%`; `?`
/// when the host round failed.
pub(super) fn disk_summary(host: &HostState) -> (String, Severity) {
    match &host.resources.value {
        None => ("-".to_owned(), Severity::Ok),
        Some(r) => match r.fullest() {
            Some(f) => (
                format!(
                    "{}%",
                    f.used_percent
                        .max(f.inodes_used_percent.unwrap_or_default())
                ),
                f.severity,
            ),
            None if r.error.is_some() => ("?".to_owned(), r.severity),
            None => ("-".to_owned(), Severity::Ok),
        },
    }
}

/// How many posture findings count, with the worst: `ok`, `2 crit`, `1 warn`.
pub(super) fn posture_summary(host: &HostState) -> (String, Severity) {
    let Some(report) = host.posture() else {
        return ("-".to_owned(), Severity::Ok);
    };
    match report.findings.iter().filter(|f| f.counts()).count() {
        0 => ("ok".to_owned(), Severity::Ok),
        n => {
            let worst = match report.severity {
                Severity::Critical => "crit",
                _ => "warn",
            };
            (format!("{n} {worst}"), report.severity)
        }
    }
}

/// The last successful restore drill of the host's worst app (never drilled, else
/// the oldest): `3d ago`, `never`; `-` when the host declares no drill.
pub(super) fn drill_summary(host: &HostState, now: OffsetDateTime) -> (String, Severity) {
    host.last_drill
        .value
        .as_ref()
        .and_then(|d| d.column(now))
        .unwrap_or_else(|| ("-".to_owned(), Severity::Ok))
}

pub(super) fn draw_overview(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    now: OffsetDateTime,
) {
    let rows = app.overview_rows();
    // Under 100 columns each column gets only what its usual values need (`50h`,
    // `drift 1`, `up 12ms`), so that 80 columns still show whole host names.
    let compact = area.width < 100;
    let stale_style = theme.style(Role::Stale);
    let table_rows: Vec<Row> = rows
        .iter()
        .map(|&i| {
            let host = &app.hosts[i];
            let stale = host.reachable == Some(false);
            // A host in maintenance is marked and does not shout: its problems are
            // silenced, its colours muted.
            let silenced = host.in_maintenance(now).is_some();
            let cell = |(text, severity): (String, Severity)| {
                let style = if stale {
                    stale_style
                } else if silenced {
                    theme.style(Role::Muted)
                } else {
                    theme.style(severity_role(severity))
                };
                Cell::from(text).style(style)
            };
            let (reach, reach_role) = if silenced {
                ("maint".to_owned(), Role::Accent)
            } else {
                reach_cell(host)
            };
            let name_role = if silenced {
                Role::Muted
            } else {
                severity_role(host.severity())
            };
            let mut cells = vec![Cell::from(host.name.clone()).style(theme.style(name_role))];
            if app.group_by_group {
                cells.push(
                    Cell::from(host.groups.first().cloned().unwrap_or_default())
                        .style(theme.style(Role::Muted)),
                );
            }
            cells.extend([
                Cell::from(reach).style(theme.style(reach_role)),
                cell(containers_summary(host)),
                cell(backup_summary(host)),
                cell(cert_summary(host)),
                cell(firewall_summary(host)),
                cell(disk_summary(host)),
                cell(posture_summary(host)),
                cell(match drill_summary(host, now) {
                    (text, severity) if compact => {
                        (text.trim_end_matches(" ago").to_owned(), severity)
                    }
                    summary => summary,
                }),
            ]);
            Row::new(cells)
        })
        .collect();
    let width = |wide: u16, narrow: u16| Constraint::Length(if compact { narrow } else { wide });
    let mut header = vec!["HOST"];
    let mut widths = vec![width(16, 12)];
    if app.group_by_group {
        header.push("GROUP");
        widths.push(Constraint::Length(11));
    }
    header.extend([
        "REACH",
        "CONTAINERS",
        "BACKUP",
        "CERT",
        "FIREWALL",
        "DISK",
        "POSTURE",
        "DRILL",
    ]);
    widths.extend([
        width(10, 8),
        Constraint::Min(if compact { 10 } else { 13 }),
        width(10, 6),
        // `expired 9d`, `89d`.
        Constraint::Length(10),
        width(10, 8),
        // `93%`, `100%`.
        Constraint::Length(4),
        // `2 crit`, `ok`.
        Constraint::Length(7),
        // `41d ago`, `never` (the space CERT gave up, so 80 columns keep host names);
        // `41d` when compact, as BACKUP shows ages.
        width(7, 5),
    ]);
    let mut title = format!(" Fleet — sorted by {} ", app.sort.label());
    if app.problems_first {
        title.push_str("· problems first ");
    }
    if !app.filter.text.is_empty() {
        title.push_str(&format!("· filter \"{}\" ", app.filter.text));
    }
    let table = Table::new(table_rows, widths)
        .header(Row::new(header).style(theme.style(Role::Header)))
        .row_highlight_style(theme.style(Role::Selection))
        .block(block(title, theme));
    let mut state = TableState::default().with_selected(Some(
        app.overview_selected.min(rows.len().saturating_sub(1)),
    ));
    frame.render_stateful_widget(table, area, &mut state);
}
