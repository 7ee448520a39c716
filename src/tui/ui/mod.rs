//! Drawing: one function per panel, reading `App` and the theme, never doing I/O.
//! Text that came from hosts was sanitized when it entered; nothing here adds raw
//! remote bytes.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};
use time::OffsetDateTime;

use super::action::Action;
use super::action::View;
use super::app::{App, Pane, Screen};
use super::theme::{Role, Theme};
use super::wizards::CanaryWizard;
use crate::core::canary::{RolloutHost, RolloutStatus, Wave, WaveStage};
use crate::docker::stats::sparkline;
use crate::fleet::facts::rtt_text;
use crate::fleet::model::HostState;
use crate::fleet::table::age_text;
use crate::probes::Severity;
use crate::sanitize;
use crate::wizard::canary::{self as canary_wizard, wave_name};
use crate::wizard::{ConfirmKind, Ending, ProgressItem, StepView, Tone};

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
    draw_header(frame, header, app, theme);
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
    if app.passphrase.current().is_some() {
        draw_passphrase(frame, app, theme);
    }
}

fn severity_role(severity: Severity) -> Role {
    match severity {
        Severity::Ok => Role::Ok,
        Severity::Warning => Role::Warning,
        Severity::Unknown => Role::Unknown,
        Severity::Critical => Role::Critical,
    }
}

fn block<'a>(title: impl Into<Line<'a>>, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Role::Border))
        .title(title)
        .title_style(theme.style(Role::Title))
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut counts = [0usize; 4];
    for host in &app.hosts {
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
    if app.read_only {
        spans.push(Span::styled("  READ-ONLY", theme.style(Role::Accent)));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(theme.style(Role::Header)),
        area,
    );
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
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
        let hint = |action| app.keymap.keys_for(view, action).into_iter().next();
        let mut parts = Vec::new();
        for (action, label) in [
            (super::action::Action::Help, "help"),
            (super::action::Action::Back, "back"),
            (super::action::Action::ShowTimeline, "timeline"),
            (super::action::Action::Quit, "quit"),
        ] {
            if let Some(keys) = hint(action) {
                parts.push(format!("{keys} {label}"));
            }
        }
        Line::from(Span::styled(parts.join("  "), theme.style(Role::Muted)))
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// `up 12ms` (the latest `/_ping` round trip), `up ?` when the ping failed, `up` before
/// the first one.
fn reach_cell(host: &HostState) -> (String, Role) {
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

fn containers_summary(host: &HostState) -> (String, Severity) {
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

fn backup_summary(host: &HostState) -> (String, Severity) {
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

fn cert_summary(host: &HostState) -> (String, Severity) {
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

fn firewall_summary(host: &HostState) -> (String, Severity) {
    match &host.firewall.value {
        None => ("-".to_owned(), Severity::Ok),
        Some(f) if f.error.is_some() => ("unreadable".to_owned(), f.severity),
        Some(f) if f.drift.is_empty() => ("ok".to_owned(), f.severity),
        Some(f) => (format!("drift {}", f.drift.len()), f.severity),
    }
}

/// The last successful restore drill of the host's worst app (never drilled, else
/// the oldest): `3d ago`, `never`; `-` when the host declares no drill.
fn drill_summary(host: &HostState, now: OffsetDateTime) -> (String, Severity) {
    host.last_drill
        .value
        .as_ref()
        .and_then(|d| d.column(now))
        .unwrap_or_else(|| ("-".to_owned(), Severity::Ok))
}

fn draw_overview(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: OffsetDateTime) {
    let rows = app.overview_rows();
    let stale_style = theme.style(Role::Stale);
    let table_rows: Vec<Row> = rows
        .iter()
        .map(|&i| {
            let host = &app.hosts[i];
            let stale = host.reachable == Some(false);
            let cell = |(text, severity): (String, Severity)| {
                let style = if stale {
                    stale_style
                } else {
                    theme.style(severity_role(severity))
                };
                Cell::from(text).style(style)
            };
            let (reach, reach_role) = reach_cell(host);
            let mut cells = vec![
                Cell::from(host.name.clone()).style(theme.style(severity_role(host.severity()))),
            ];
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
                cell(drill_summary(host, now)),
            ]);
            Row::new(cells)
        })
        .collect();
    let mut header = vec!["HOST"];
    let mut widths = vec![Constraint::Length(16)];
    if app.group_by_group {
        header.push("GROUP");
        widths.push(Constraint::Length(11));
    }
    header.extend(["REACH", "CONTAINERS", "BACKUP", "CERT", "FIREWALL", "DRILL"]);
    widths.extend([
        Constraint::Length(10),
        Constraint::Min(13),
        Constraint::Length(10),
        // `expired 9d`, `89d`.
        Constraint::Length(10),
        Constraint::Length(10),
        // `41d ago`, `never` (the space CERT gave up, so 80 columns keep host names).
        Constraint::Length(7),
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

fn draw_host(
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
    let [tabs, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(2)]).areas(area);
    let mut spans = vec![Span::styled(
        format!(" {} ", host.name),
        theme.style(severity_role(host.severity())),
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
                            c.uptime_seconds
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
            .block(block(
                title("Containers", host.containers.measured_at),
                theme,
            ));
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
        Pane::Facts => draw_facts(
            frame,
            body,
            theme,
            host,
            &title("Facts", host.facts.measured_at),
        ),
    }
}

/// The repositories, and below them the selected one's newest snapshots.
fn draw_backups(
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

/// What the host's engine says it is, and where the session goes.
fn draw_facts(frame: &mut Frame, area: Rect, theme: &Theme, host: &HostState, title: &str) {
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

fn draw_logs(
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
fn strip_timestamp(line: &str) -> &str {
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

fn highlight<'a>(text: &str, needle: &str, theme: &Theme) -> Line<'a> {
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

fn draw_inspect(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    host: usize,
    container: &str,
) {
    let host_name = app.hosts.get(host).map(|h| h.name.as_str()).unwrap_or("?");
    let lines: Vec<Line> = if app.inspect.is_empty() {
        vec![Line::from(Span::styled(
            "loading…",
            theme.style(Role::Muted),
        ))]
    } else {
        app.inspect
            .iter()
            .skip(app.inspect_scroll)
            .map(|(k, v)| {
                Line::from(vec![
                    Span::styled(format!("{k}: "), theme.style(Role::Accent)),
                    Span::styled(v.clone(), theme.style(Role::Text)),
                ])
            })
            .collect()
    };
    frame.render_widget(
        Paragraph::new(lines).block(block(
            format!(" inspect {container} on {host_name} "),
            theme,
        )),
        area,
    );
}

fn draw_timeline(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let visible = app.timeline.visible();
    let rows: Vec<Row> = visible
        .iter()
        .map(|e| {
            let time =
                e.at.format(time::macros::format_description!(
                    "[hour]:[minute]:[second]"
                ))
                .unwrap_or_default();
            Row::new(vec![
                Cell::from(time),
                Cell::from(e.host.clone()),
                Cell::from(e.kind.label()),
                Cell::from(e.text.clone()),
            ])
            .style(theme.style(severity_role(e.severity)))
        })
        .collect();
    let mut title = " Timeline — newest first ".to_owned();
    if let Some(host) = &app.timeline.host {
        title.push_str(&format!("· host {host} "));
    }
    if let Some(severity) = app.timeline.min_severity {
        title.push_str(&format!("· {}+ ", severity.as_str()));
    }
    if let Some(kind) = app.timeline.kind {
        title.push_str(&format!("· {} ", kind.label()));
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(16),
            Constraint::Length(12),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["TIME", "HOST", "KIND", "WHAT"]).style(theme.style(Role::Header)))
    .row_highlight_style(theme.style(Role::Selection))
    .block(block(title, theme));
    let mut state = TableState::default().with_selected(Some(app.timeline.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn draw_help(frame: &mut Frame, app: &App, theme: &Theme) {
    let view = app.screen().view();
    let entries = app.keymap.help(view);
    let read_only = app.is_read_only(app.current_host());
    let lines: Vec<Line> = entries
        .iter()
        .filter(|e| !(read_only && e.action.is_mutating()))
        .map(|e| {
            Line::from(vec![
                Span::styled(format!("{:>12}  ", e.keys), theme.style(Role::Accent)),
                Span::styled(e.desc.clone(), theme.style(Role::Text)),
            ])
        })
        .collect();
    let area = centered(frame.area(), 60, (lines.len() as u16).saturating_add(2));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(block(format!(" Keys — {} ", view.as_str()), theme)),
        area,
    );
}

fn draw_confirm(frame: &mut Frame, app: &App, theme: &Theme) {
    let Some(waiting) = &app.confirm else {
        return;
    };
    let yes = app
        .keymap
        .keys_for(View::Confirm, super::action::Action::Confirm)
        .join("/");
    let no = app
        .keymap
        .keys_for(View::Confirm, super::action::Action::Cancel)
        .join("/");
    let text = vec![
        Line::from(Span::styled(
            waiting.pending.title(),
            theme.style(Role::Warning),
        )),
        Line::from(Span::styled(
            waiting.pending.describe(),
            theme.style(Role::Text),
        )),
        Line::from(""),
        Line::from(Span::styled(
            format!("{yes}: yes    {no}: no"),
            theme.style(Role::Muted),
        )),
    ];
    let area = centered(frame.area(), 64, 8);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(block(" Confirm ", theme))
            .style(Style::default()),
        area,
    );
}

/// The passphrase modal: which key, whether the last try was wrong, and only whether
/// something has been typed — never the text, nor its length.
fn draw_passphrase(frame: &mut Frame, app: &App, theme: &Theme) {
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

fn tone_role(tone: Tone) -> Role {
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

/// The open wizard, full screen: the step's title, its widget, the keys that work.
fn draw_wizard(frame: &mut Frame, area: Rect, app: &App, theme: &Theme, now: OffsetDateTime) {
    let Some(wizard) = &app.wizard else {
        return;
    };
    let keys = |action| {
        app.keymap
            .keys_for(View::Wizard, action)
            .into_iter()
            .next()
            .unwrap_or_default()
    };
    let back = keys(Action::Back);
    let next = keys(Action::Confirm);
    let step_title = wizard.step().map_or("", |(_, title)| title);
    let title = match wizard.view() {
        StepView::Ended(_) => format!(" {} — ended ", wizard.name()),
        _ => format!(
            " {} — step {}: {} ",
            wizard.name(),
            wizard.step_number(),
            step_title
        ),
    };
    let outer = block(title, theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let [body, error, hint] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let muted = theme.style(Role::Muted);
    let text = theme.style(Role::Text);
    let hint_text: String = match wizard.view() {
        StepView::Input {
            prompt,
            text: typed,
        } => {
            let lines = vec![
                Line::from(Span::styled(prompt.to_owned(), muted)),
                Line::from(""),
                Line::from(vec![
                    Span::styled("> ", theme.style(Role::Accent)),
                    Span::styled(format!("{typed}▏"), text),
                ]),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
            "type; enter: next  esc: back".to_owned()
        }
        StepView::Choice {
            multi,
            options,
            checked,
            cursor,
        } => {
            let rows: Vec<Row> = options
                .iter()
                .zip(checked)
                .map(|(o, c)| {
                    let mark = match (multi, *c) {
                        (true, true) => "[x]",
                        (true, false) => "[ ]",
                        (false, true) => "(•)",
                        (false, false) => "( )",
                    };
                    let (style, detail) = match &o.disabled {
                        Some(why) => (muted, why.clone()),
                        None => (text, o.detail.clone()),
                    };
                    Row::new(vec![
                        Cell::from(mark).style(theme.style(Role::Accent)),
                        Cell::from(o.label.clone()).style(style),
                        Cell::from(detail).style(muted),
                    ])
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Length(3),
                    Constraint::Length(20),
                    Constraint::Min(10),
                ],
            )
            .row_highlight_style(theme.style(Role::Selection));
            let mut state = TableState::default().with_selected(Some(cursor));
            frame.render_stateful_widget(table, body, &mut state);
            let count = checked.iter().filter(|c| **c).count();
            format!(
                "{count} of {} checked   {}: check  {}: all/none  {next}: next  {back}: back",
                options.len(),
                keys(Action::ToggleItem),
                keys(Action::ToggleAll),
            )
        }
        StepView::Review { lines, scroll } => {
            let shown: Vec<Line> = lines
                .iter()
                .map(|l| Line::from(Span::styled(l.text.clone(), theme.style(tone_role(l.tone)))))
                .collect();
            let total = shown.len();
            frame.render_widget(
                Paragraph::new(shown).scroll((scroll.min(u16::MAX as usize) as u16, 0)),
                body,
            );
            let closes = wizard.is_summary();
            format!(
                "{total} line(s)   {}/{}: scroll  {next}: {}  {back}: {}",
                keys(Action::Down),
                keys(Action::Up),
                if closes { "continue" } else { "next" },
                if closes { "close" } else { "back" },
            )
        }
        StepView::Confirm { question, kind } => {
            let lines = vec![
                Line::from(""),
                Line::from(Span::styled(
                    question.to_owned(),
                    theme.style(Role::Warning),
                )),
            ];
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), body);
            let no = keys(Action::Cancel);
            match kind {
                ConfirmKind::Gate => {
                    format!("{next}: yes, go ahead   {no}: no (nothing is changed)   {back}: back")
                }
                ConfirmKind::Offer => format!("{next}: yes   {no}: {}", wizard.offer_no()),
            }
        }
        StepView::Progress {
            label,
            items,
            started,
        } if wizard.rolling_out().is_some() => {
            let canary = wizard.rolling_out();
            draw_board(frame, body, app, theme, now, canary, label, items, started)
        }
        StepView::Progress {
            label,
            items,
            started,
        } => {
            let [head, table_area] =
                Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(body);
            frame.render_widget(
                Paragraph::new(Line::from(vec![
                    Span::styled(format!("{label}… "), theme.style(Role::Accent)),
                    Span::styled(elapsed_text((now - started).whole_seconds()), muted),
                ])),
                head,
            );
            let rows: Vec<Row> = items
                .iter()
                .map(|item| match &item.latest {
                    None => Row::new(vec![
                        Cell::from(item.item.clone()).style(text),
                        Cell::from("waiting").style(muted),
                        Cell::from(""),
                        Cell::from(""),
                    ]),
                    Some(e) => {
                        let what = if e.label.is_empty() {
                            e.step.clone()
                        } else {
                            format!("{} {}", e.label, e.step)
                        };
                        let since = item
                            .started
                            .map_or(String::new(), |s| elapsed_text((now - s).whole_seconds()));
                        Row::new(vec![
                            Cell::from(item.item.clone()).style(text),
                            Cell::from(what).style(theme.style(tone_role(e.tone))),
                            Cell::from(e.detail.clone()).style(muted),
                            Cell::from(since).style(muted),
                        ])
                    }
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Length(18),
                    Constraint::Length(18),
                    Constraint::Min(10),
                    Constraint::Length(7),
                ],
            )
            .header(
                Row::new([wizard.progress_item(), "STEP", "DETAIL", "ELAPSED"])
                    .style(theme.style(Role::Header)),
            );
            frame.render_widget(table, table_area);
            if wizard.is_applying() {
                "changes are being applied: this cannot be interrupted; the panel stays until it ends"
                    .to_owned()
            } else {
                "working…".to_owned()
            }
        }
        StepView::Ended(ending) => {
            let mut lines = Vec::new();
            match ending {
                Ending::Failed { problems, .. } => {
                    lines.push(Line::from(Span::styled(
                        "The wizard stopped:",
                        theme.style(Role::Critical),
                    )));
                    for p in problems {
                        lines.push(Line::from(Span::styled(format!("  {p}"), text)));
                    }
                    if !wizard.changed() {
                        lines.push(Line::from(""));
                        lines.push(Line::from(Span::styled(
                            "Nothing was changed on any host.",
                            theme.style(Role::Ok),
                        )));
                    }
                }
                other => lines.push(Line::from(Span::styled(format!("{other:?}"), text))),
            }
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
            format!("{next}/{back}: close")
        }
    };
    if let Some(problem) = wizard.error() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                problem.to_owned(),
                theme.style(Role::Critical),
            )),
            error,
        );
    }
    frame.render_widget(Paragraph::new(Span::styled(hint_text, muted)), hint);
}

fn wave_stage_word(stage: WaveStage) -> &'static str {
    match stage {
        WaveStage::Pending => "pending",
        WaveStage::Deploying => "deploying",
        WaveStage::Soaking => "soaking",
        WaveStage::Gate => "at the gate",
        WaveStage::Passed => "passed",
        WaveStage::Failed => "FAILED",
        WaveStage::RolledBack => "ROLLED BACK",
        WaveStage::Skipped => "skipped",
    }
}

/// The live health of a host's containers, as the console's own monitoring sees them:
/// the containers the rollout replaced there (every container when it replaced none).
fn live_health(app: &App, host: &RolloutHost) -> (String, Role) {
    let Some(state) = app.hosts.iter().find(|h| h.name == host.name) else {
        return ("not monitored".to_owned(), Role::Muted);
    };
    if state.reachable == Some(false) {
        return ("unreachable".to_owned(), Role::Critical);
    }
    let Some(containers) = state.containers.value.as_deref() else {
        return ("…".to_owned(), Role::Muted);
    };
    let shown: Vec<_> = containers
        .iter()
        .filter(|c| host.deployed.is_empty() || host.deployed.contains(&c.name))
        .collect();
    if shown.is_empty() {
        return ("no container".to_owned(), Role::Muted);
    }
    let worst = shown
        .iter()
        .map(|c| c.severity)
        .max()
        .unwrap_or(Severity::Ok);
    let text = shown
        .iter()
        .map(|c| {
            let mut t = format!("{} {}", c.name, c.health.as_deref().unwrap_or(&c.state));
            if c.restart_count > 0 {
                t.push_str(&format!(" ↻{}", c.restart_count));
            }
            t
        })
        .collect::<Vec<_>>()
        .join(", ");
    (text, severity_role(worst))
}

/// The canary rollout as a board: hosts × state grouped by wave, the current gate,
/// the elapsed time and the soak's countdown, each host's latest deploy step (or its
/// error), the live health of the active wave's hosts, and — at a gate — the go /
/// no-go question.
#[allow(clippy::too_many_arguments)]
fn draw_board(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    theme: &Theme,
    now: OffsetDateTime,
    canary: Option<&CanaryWizard>,
    label: &str,
    items: &[ProgressItem],
    started: OffsetDateTime,
) -> String {
    let Some(canary) = canary else {
        return String::new();
    };
    let board = &canary.board;
    let muted = theme.style(Role::Muted);
    let text = theme.style(Role::Text);
    let keys = |action| {
        app.keymap
            .keys_for(View::Wizard, action)
            .into_iter()
            .next()
            .unwrap_or_default()
    };
    let question_height = if board.question.is_some() { 4 } else { 0 };
    let [head, table_area, question_area] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(1),
        Constraint::Length(question_height),
    ])
    .areas(area);
    let Some(rollout) = canary.rollout() else {
        return String::new();
    };
    let gate_role = if board.question.is_some() {
        Role::Warning
    } else {
        match rollout.status {
            RolloutStatus::Passed => Role::Ok,
            RolloutStatus::Halted => Role::Critical,
            RolloutStatus::Running => Role::Accent,
        }
    };
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled(format!("{label}… "), theme.style(Role::Accent)),
                Span::styled(elapsed_text((now - started).whole_seconds()), text),
                Span::styled(
                    format!(
                        "   rollout {} · {} wave(s) · {} host(s) · soak {} s · max failures {}{}",
                        rollout.id,
                        rollout.waves.len(),
                        rollout.hosts.len(),
                        rollout.request.soak_seconds,
                        rollout.request.max_failures,
                        if rollout.request.rollback_all {
                            " · rollback all"
                        } else {
                            ""
                        }
                    ),
                    muted,
                ),
            ]),
            Line::from(Span::styled(board.gate_text(now), theme.style(gate_role))),
        ]),
        head,
    );
    let active = board.active_wave();
    let live = |wave: &Wave| {
        Some(wave.index) == active && matches!(wave.stage, WaveStage::Soaking | WaveStage::Gate)
            || board
                .question
                .as_ref()
                .is_some_and(|q| q.wave == wave.index)
    };
    let mut rows: Vec<Row> = Vec::new();
    for wave in &rollout.waves {
        let wave_role = match wave.stage {
            WaveStage::Passed => Role::Ok,
            WaveStage::Failed => Role::Critical,
            WaveStage::RolledBack | WaveStage::Gate => Role::Warning,
            WaveStage::Pending | WaveStage::Skipped => Role::Muted,
            WaveStage::Deploying | WaveStage::Soaking => Role::Accent,
        };
        rows.push(Row::new(vec![
            Cell::from(wave_name(wave.index)).style(theme.style(Role::Title)),
            Cell::from(wave_stage_word(wave.stage)).style(theme.style(wave_role)),
            Cell::from(""),
            Cell::from(""),
            Cell::from(""),
        ]));
        for name in &wave.hosts {
            let Some(host) = rollout.host(name) else {
                continue;
            };
            let item = items.iter().find(|i| &i.item == name);
            let (health, health_role) = if live(wave) {
                live_health(app, host)
            } else {
                (String::new(), Role::Muted)
            };
            let (step, step_role) = match (&host.error, item.and_then(|i| i.latest.as_ref())) {
                (Some(error), _) => (
                    error.clone(),
                    tone_role(canary_wizard::stage_tone(host.stage)),
                ),
                // Passed, with a problem the rollout did not cause: shown as such.
                (None, _) if !host.notes.is_empty() => (host.notes.join("; "), Role::Warning),
                (None, Some(e)) => (
                    [e.label.as_str(), e.step.as_str(), e.detail.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" "),
                    tone_role(e.tone),
                ),
                (None, None) => (String::new(), Role::Muted),
            };
            let since = item
                .and_then(|i| i.started)
                .map_or(String::new(), |s| elapsed_text((now - s).whole_seconds()));
            rows.push(Row::new(vec![
                Cell::from(format!("  {}", sanitize::line(name))).style(text),
                Cell::from(canary_wizard::stage_word(host.stage))
                    .style(theme.style(tone_role(canary_wizard::stage_tone(host.stage)))),
                Cell::from(health).style(theme.style(health_role)),
                Cell::from(sanitize::line(&step)).style(theme.style(step_role)),
                Cell::from(since).style(muted),
            ]));
        }
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(18),
            Constraint::Length(12),
            Constraint::Length(26),
            Constraint::Min(10),
            Constraint::Length(6),
        ],
    )
    .header(
        Row::new([
            "WAVE / HOST",
            "STATE",
            "HEALTH (live)",
            "LATEST STEP",
            "TIME",
        ])
        .style(theme.style(Role::Header)),
    );
    frame.render_widget(table, table_area);
    let go = keys(Action::Confirm);
    let no = keys(Action::Cancel);
    if let Some(q) = &board.question {
        let next = rollout
            .waves
            .get(q.wave + 1)
            .map(|w| {
                format!(
                    "{} ({})",
                    wave_name(w.index),
                    w.hosts
                        .iter()
                        .map(|h| sanitize::line(h))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .unwrap_or_else(|| "the next wave".to_owned());
        let dialog = block(" Go / no-go ", theme);
        let inner = dialog.inner(question_area);
        frame.render_widget(dialog, question_area);
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(Span::styled(
                    format!(
                        "{} passed its gate (deployed, soaked healthy). Go on to {next}?",
                        wave_name(q.wave)
                    ),
                    theme.style(Role::Warning),
                )),
                Line::from(Span::styled(
                    format!(
                        "{go}: go   {no}: no-go (halt here: the waves after it are skipped, \
                         what was deployed stays)"
                    ),
                    theme.style(Role::Accent),
                )),
            ])
            .wrap(Wrap { trim: true }),
            inner,
        );
        format!("{go}: go   {no}: no-go   the rollout cannot be cancelled otherwise")
    } else if rollout.status == RolloutStatus::Running {
        "the rollout runs: it cannot be cancelled; at each gate you are asked go / no-go".to_owned()
    } else {
        "the rollout has ended; its summary follows".to_owned()
    }
}
