//! The host detail: its panes (containers, backups, certificates, firewall, facts).

use super::apps::draw_apps;
use super::backups::draw_backups;
use super::block;
use super::facts::draw_facts;
use super::overview::reach_cell;
use super::posture::draw_posture;
use super::resources::draw_resources;
use super::severity_role;
use crate::docker::stats::sparkline;
use crate::tui::app::{App, Pane};
use crate::tui::theme::{Role, Theme};
use crate::util::time::age_text;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use time::OffsetDateTime;

pub(super) fn draw_host(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    index: usize,
    now: OffsetDateTime,
) {
    let Some(host) = app.hosts.get(index) else {
        return;
    };
    let window = host.in_maintenance(now);
    let [tabs, notice, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(window.is_some())),
        Constraint::Min(2),
    ])
    .areas(area);
    if let Some(w) = window {
        // Who, until when, why: the one line every operator sees on this host.
        let line = format!(
            " in maintenance until {} (by {}): {} — its problems are silenced",
            crate::util::time::rfc3339(w.until),
            w.by,
            w.reason
        );
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(line, theme.style(Role::Accent)))),
            notice,
        );
    }
    let name_role = if window.is_some() {
        Role::Muted
    } else {
        severity_role(host.severity())
    };
    let mut spans = vec![Span::styled(
        format!(" {} ", host.name),
        theme.style(name_role),
    )];
    let (reach, role) = reach_cell(host);
    spans.push(Span::styled(format!("{reach} "), theme.style(role)));
    if let (Some(false), Some(error)) = (host.reachable, &host.error) {
        spans.push(Span::styled(
            format!("({error}) "),
            theme.style(Role::Critical),
        ));
    }
    if !app.read_only && app.is_read_only(Some(index)) {
        spans.push(Span::styled("read-only ", theme.style(Role::Accent)));
    }
    for pane in Pane::ALL {
        let style = if pane == app.pane {
            theme.style(Role::Selection)
        } else {
            theme.style(Role::Muted)
        };
        spans.push(Span::styled(format!(" {} ", pane.title()), style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), tabs);
    let stale = host.reachable == Some(false);
    // Containers are kept current by the engine's event stream: "live" while it is
    // (the host answers, the last listing or event did not fail, and the periodic
    // re-list is not overdue); their age only when they are not.
    let containers_live = host.reachable == Some(true)
        && host.containers.error.is_none()
        && host.containers.measured_at.is_some_and(|at| {
            (now - at).whole_seconds()
                <= 2 * crate::fleet::containers::RELIST_INTERVAL.as_secs() as i64
        });
    let live_title = |name: &str| {
        if containers_live {
            return format!(" {name} — live ");
        }
        let age = host
            .containers
            .measured_at
            .map(|at| age_text((now - at).whole_seconds().max(0)));
        match (stale, age, &host.containers.error) {
            (true, Some(age), _) => format!(" {name} — stale, measured {age} ago "),
            (false, Some(age), Some(_)) => {
                format!(" {name} — not live (listing failed), measured {age} ago ")
            }
            (false, Some(age), None) => format!(" {name} — not live, measured {age} ago "),
            (_, None, _) => format!(" {name} — not measured yet "),
        }
    };
    let title = |name: &str, measured: Option<OffsetDateTime>| {
        let age = measured.map(|at| age_text((now - at).whole_seconds().max(0)));
        match (stale, age) {
            (true, Some(age)) => format!(" {name} — stale, measured {age} ago "),
            (false, Some(age)) => format!(" {name} — {age} ago "),
            (_, None) => format!(" {name} — not measured yet "),
        }
    };
    let selected = Some(app.pane_selected);
    match app.pane {
        Pane::Containers => {
            let rows: Vec<Row> = host
                .containers
                .value
                .iter()
                .flatten()
                .map(|c| {
                    let samples = app.stats.get(&c.id);
                    let recent = |f: &dyn Fn(&crate::docker::stats::Sample) -> f64| {
                        samples
                            .map(|s| s.iter().rev().take(8).rev().map(f).collect::<Vec<f64>>())
                            .unwrap_or_default()
                    };
                    let cpu = recent(&|s| s.cpu_percent);
                    let mem = recent(&|s| s.memory_bytes as f64);
                    let cpu_cell = match cpu.last() {
                        Some(now) => {
                            format!("{} {now:.0}%", sparkline(cpu.iter().copied(), Some(100.0)))
                        }
                        None => "-".to_owned(),
                    };
                    let mem_cell = match mem.last() {
                        Some(now) => format!(
                            "{} {}",
                            sparkline(mem.iter().copied(), None),
                            crate::docker::stats::bytes_text(*now as u64)
                        ),
                        None => "-".to_owned(),
                    };
                    Row::new(vec![
                        Cell::from(c.name.clone()),
                        Cell::from(c.image.clone()),
                        Cell::from(c.state.clone()),
                        Cell::from(c.health.clone().unwrap_or_else(|| "-".to_owned())),
                        Cell::from(
                            uptime_at(c, now)
                                .map(age_text)
                                .unwrap_or_else(|| "-".to_owned()),
                        ),
                        Cell::from(c.restart_count.to_string()),
                        Cell::from(cpu_cell),
                        Cell::from(mem_cell),
                        Cell::from(c.problem.clone().unwrap_or_default()),
                    ])
                    .style(theme.style(severity_role(c.severity)))
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Length(18),
                    Constraint::Length(22),
                    Constraint::Length(10),
                    Constraint::Length(9),
                    Constraint::Length(7),
                    Constraint::Length(8),
                    Constraint::Length(13),
                    Constraint::Length(13),
                    Constraint::Min(10),
                ],
            )
            .header(
                Row::new([
                    "NAME", "IMAGE", "STATE", "HEALTH", "UPTIME", "RESTARTS", "CPU", "MEMORY",
                    "PROBLEM",
                ])
                .style(theme.style(Role::Header)),
            )
            .row_highlight_style(theme.style(Role::Selection))
            .block(block(live_title("Containers"), theme));
            frame.render_stateful_widget(
                table,
                body,
                &mut TableState::default().with_selected(selected),
            );
        }
        Pane::Backups => draw_backups(
            frame,
            body,
            app,
            theme,
            host,
            &title("Backups", host.backups.measured_at),
            now,
        ),
        Pane::Certificates => {
            let rows: Vec<Row> = host
                .certs
                .value
                .iter()
                .flatten()
                .map(|c| {
                    let days = c
                        .lifetime()
                        .map(|l| l.signed())
                        .unwrap_or_else(|| "?".to_owned());
                    Row::new(vec![
                        Cell::from(c.endpoint.clone()),
                        Cell::from(format!("{}:{}", c.host, c.port)),
                        Cell::from(days),
                        Cell::from(if c.chain_valid { "valid" } else { "INVALID" }),
                        Cell::from(c.issuer.clone().unwrap_or_default()),
                        Cell::from(c.error.clone().unwrap_or_default()),
                    ])
                    .style(theme.style(severity_role(c.severity)))
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Length(10),
                    Constraint::Length(20),
                    Constraint::Length(5),
                    Constraint::Length(8),
                    Constraint::Length(20),
                    Constraint::Min(10),
                ],
            )
            .header(
                Row::new(["ENDPOINT", "ADDRESS", "DAYS", "CHAIN", "ISSUER", "ERROR"])
                    .style(theme.style(Role::Header)),
            )
            .row_highlight_style(theme.style(Role::Selection))
            .block(block(title("Certificates", host.certs.measured_at), theme));
            frame.render_stateful_widget(
                table,
                body,
                &mut TableState::default().with_selected(selected),
            );
        }
        Pane::Firewall => {
            let mut lines = Vec::new();
            match &host.firewall.value {
                None => lines.push(Line::from(Span::styled(
                    "no firewall policy declared or not measured yet",
                    theme.style(Role::Muted),
                ))),
                Some(f) => {
                    if let Some(observed) = &f.observed {
                        lines.push(Line::from(
                            format!(
                                "backend {:?}, input policy {:?}",
                                observed.backend, observed.input_policy
                            )
                            .to_lowercase(),
                        ));
                        for open in &observed.open {
                            let from = if open.sources.is_empty() {
                                "anywhere".to_owned()
                            } else {
                                open.sources.join(", ")
                            };
                            lines.push(Line::from(Span::styled(
                                format!("  open {} from {from}", open.ports_label()),
                                theme.style(Role::Text),
                            )));
                        }
                    }
                    if let Some(error) = &f.error {
                        lines.push(Line::from(Span::styled(
                            error.clone(),
                            theme.style(Role::Unknown),
                        )));
                    }
                    if f.drift.is_empty() && f.error.is_none() {
                        lines.push(Line::from(Span::styled(
                            "as declared",
                            theme.style(Role::Ok),
                        )));
                    }
                    for (i, drift) in f.drift.iter().enumerate() {
                        let mut style = theme.style(severity_role(drift.severity));
                        if i == app.pane_selected {
                            style = style.patch(theme.style(Role::Selection));
                        }
                        lines.push(Line::from(Span::styled(
                            format!("drift: {}", drift.message),
                            style,
                        )));
                    }
                    for unknown in &f.unknown {
                        lines.push(Line::from(Span::styled(
                            format!("not understood: {unknown}"),
                            theme.style(Role::Unknown),
                        )));
                    }
                }
            }
            frame.render_widget(
                Paragraph::new(lines)
                    .block(block(title("Firewall", host.firewall.measured_at), theme)),
                body,
            );
        }
        Pane::Resources => draw_resources(
            frame,
            body,
            theme,
            host,
            &title("Resources", host.resources.measured_at),
            now,
        ),
        Pane::Posture => {
            let report = host.posture();
            let name = match &report {
                Some(report) => {
                    let counted = report.findings.iter().filter(|f| f.counts()).count();
                    let accepted = report
                        .findings
                        .iter()
                        .filter(|f| f.accepted.is_some())
                        .count();
                    let unknown = report.findings.len() - counted - accepted;
                    format!("Posture: {counted} counted, {accepted} accepted, {unknown} unknown")
                }
                None => "Posture".to_owned(),
            };
            draw_posture(
                frame,
                body,
                theme,
                report.as_ref(),
                host.host_posture.error.as_deref(),
                app.pane_selected,
                &title(&name, host.posture_measured_at()),
            );
        }
        Pane::Apps => {
            let report = host.apps();
            let apps_title = match &report {
                Some(_) => live_title("Apps"),
                None => title("Apps", None),
            };
            draw_apps(
                frame,
                body,
                theme,
                report.as_ref(),
                app.pane_selected,
                &apps_title,
            );
        }
        Pane::Facts => draw_facts(
            frame,
            body,
            theme,
            host,
            &title("Facts", host.facts.measured_at),
        ),
    }
}

/// A running container's uptime at `now`, from when it started (so it moves with the
/// clock between listings); the listing's figure when the start time is not known.
fn uptime_at(c: &crate::fleet::containers::ContainerReport, now: OffsetDateTime) -> Option<i64> {
    let started = c.started_at.as_deref().and_then(|t| {
        OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    });
    match (c.uptime_seconds, started) {
        (Some(_), Some(started)) => Some((now - started).whole_seconds().max(0)),
        (listed, _) => listed,
    }
}
