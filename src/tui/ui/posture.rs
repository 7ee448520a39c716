//! The host detail's posture pane: each finding of the host and its containers, with
//! how to fix it; what could not be told and accepted exceptions (with the reason the
//! inventory gives) are listed after, and do not count.

use super::block;
use super::severity_role;
use crate::probes::posture::{Finding, PostureReport};
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Text};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

/// The findings in the order the pane lists them: those that count, worst first,
/// then those that could not be told, then the accepted ones.
pub(super) fn ordered(report: &PostureReport) -> Vec<&Finding> {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by_key(|f| {
        let rank = match (f.accepted.is_some(), f.counts()) {
            (true, _) => 2,
            (false, true) => 0,
            (false, false) => 1,
        };
        (rank, std::cmp::Reverse(f.severity))
    });
    findings
}

pub(super) fn draw_posture(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    report: Option<&PostureReport>,
    error: Option<&str>,
    selected: usize,
    title: &str,
) {
    let Some(report) = report else {
        let text = error.unwrap_or("not measured yet (the host round and the containers)");
        frame.render_widget(
            Paragraph::new(Line::styled(text.to_owned(), theme.style(Role::Muted)))
                .block(block(title.to_owned(), theme)),
            area,
        );
        return;
    };
    let findings = ordered(report);
    let mut rows: Vec<Row> = findings
        .iter()
        .map(|f| {
            let (label, role) = match (&f.accepted, f.counts()) {
                (Some(_), _) => ("accepted", Role::Muted),
                (None, true) => (f.severity.as_str(), severity_role(f.severity)),
                (None, false) => ("unknown", Role::Unknown),
            };
            let mut what = vec![Line::from(f.reason.clone())];
            match &f.accepted {
                Some(why) => what.push(Line::from(format!("accepted: {why}"))),
                None => what.push(Line::from(format!("fix: {}", f.fix))),
            }
            let height = what.len() as u16;
            Row::new(vec![
                Cell::from(label),
                Cell::from(f.check.clone()),
                Cell::from(f.container.clone().unwrap_or_else(|| "(host)".to_owned())),
                Cell::from(Text::from(what)),
            ])
            .height(height)
            .style(theme.style(role))
        })
        .collect();
    if rows.is_empty() {
        rows.push(
            Row::new(vec![Cell::from("ok"), Cell::from("nothing found")])
                .style(theme.style(Role::Ok)),
        );
    }
    let mut heading = title.to_owned();
    if let Some(error) = error {
        heading = format!("{heading}· host settings unreadable: {error} ");
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(25),
            Constraint::Length(16),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(["SEVERITY", "CHECK", "CONTAINER", "WHAT / FIX"]).style(theme.style(Role::Header)),
    )
    .row_highlight_style(theme.style(Role::Selection))
    .block(block(heading, theme));
    frame.render_stateful_widget(
        table,
        area,
        &mut TableState::default().with_selected(Some(selected)),
    );
}
