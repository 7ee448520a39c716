//! The host detail's backups pane.

use super::block;
use super::severity_role;
use crate::fleet::model::HostState;
use crate::tui::app::App;
use crate::tui::theme::{Role, Theme};
use crate::util::time::age_text;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Cell, Row, Table, TableState};
use time::OffsetDateTime;

/// The repositories, and below them the selected one's newest snapshots.
pub(super) fn draw_backups(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    host: &HostState,
    title: &str,
    now: OffsetDateTime,
) {
    let repos = host.backups.value.as_deref().unwrap_or_default();
    let rows: Vec<Row> = repos
        .iter()
        .map(|b| {
            Row::new(vec![
                Cell::from(b.repo.clone()),
                Cell::from(format!("{:?}", b.kind).to_lowercase()),
                Cell::from(
                    b.age_seconds
                        .map(age_text)
                        .unwrap_or_else(|| "-".to_owned()),
                ),
                Cell::from(b.count.to_string()),
                Cell::from(format!("{:?}", b.state).to_lowercase()),
                Cell::from(b.error.clone().unwrap_or_default()),
            ])
            .style(theme.style(severity_role(b.severity)))
        })
        .collect();
    // The repositories take what they need (header and borders included), at most
    // half; the snapshot list gets the rest when that shows at least one snapshot.
    let wanted = (repos.len() as u16).saturating_add(3);
    let top_height = wanted.min(area.height / 2).max(4);
    let top_height = if area.height.saturating_sub(top_height) < 4 {
        area.height
    } else {
        top_height
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Length(top_height), Constraint::Min(0)]).areas(area);
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(14),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(["REPO", "KIND", "AGE", "COUNT", "STATE", "ERROR"])
            .style(theme.style(Role::Header)),
    )
    .row_highlight_style(theme.style(Role::Selection))
    .block(block(title.to_owned(), theme));
    frame.render_stateful_widget(
        table,
        top,
        &mut TableState::default().with_selected(Some(app.pane_selected)),
    );
    if bottom.height < 4 {
        return;
    }
    let Some(repo) = repos.get(app.pane_selected) else {
        return;
    };
    let date = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let rows: Vec<Row> = repo
        .snapshots
        .iter()
        .map(|snapshot| {
            let what = match (&snapshot.name, &snapshot.host) {
                (Some(name), _) => name.clone(),
                (None, Some(host)) => host.clone(),
                (None, None) => String::new(),
            };
            Row::new(vec![
                Cell::from(snapshot.time.format(&date).unwrap_or_default()),
                Cell::from(age_text((now - snapshot.time).whole_seconds().max(0))),
                Cell::from(snapshot.id.clone().unwrap_or_else(|| "-".to_owned())),
                Cell::from(what),
                Cell::from(snapshot.paths.join(" ")),
            ])
            .style(theme.style(Role::Text))
        })
        .collect();
    let shown = repo.snapshots.len();
    let heading = if shown == 0 {
        format!(" Snapshots of {} — none listed ", repo.repo)
    } else if shown < repo.count {
        format!(
            " Snapshots of {} — newest {shown} of {}, newest first ",
            repo.repo, repo.count
        )
    } else {
        format!(" Snapshots of {} — newest first ", repo.repo)
    };
    let host_or_name = match repo.kind {
        crate::probes::backup::BackupKind::Borg => "ARCHIVE",
        crate::probes::backup::BackupKind::Restic => "HOSTNAME",
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(17),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(18),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(["TIME (UTC)", "AGE", "ID", host_or_name, "PATHS"])
            .style(theme.style(Role::Header)),
    )
    .block(block(heading, theme));
    frame.render_widget(table, bottom);
}
