//! The host detail's apps pane: `fleetdeck_apps` against what runs — each declared
//! app (or service) deployed, missing or drifted (with both images), each fleetdeck
//! container of an app no longer declared, and what cannot be compared here.

use super::block;
use super::severity_role;
use crate::fleet::apps::{AppCondition, AppsReport};
use crate::fleet::model::condition_word;
use crate::tui::theme::{Role, Theme};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

pub(super) fn draw_apps(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    report: Option<&AppsReport>,
    selected: usize,
    title: &str,
) {
    let Some(report) = report else {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "no apps declared for this host (fleetdeck_apps), or its containers not listed yet",
                theme.style(Role::Muted),
            ))
            .block(block(title.to_owned(), theme)),
            area,
        );
        return;
    };
    let rows: Vec<Row> = report
        .apps
        .iter()
        .map(|entry| {
            let role = match entry.condition {
                AppCondition::Unknown => Role::Unknown,
                _ => severity_role(entry.severity),
            };
            let or_dash = |image: &Option<String>| image.clone().unwrap_or_else(|| "-".to_owned());
            Row::new(vec![
                Cell::from(entry.app.clone()),
                Cell::from(entry.service.clone().unwrap_or_else(|| "-".to_owned())),
                Cell::from(condition_word(entry.condition)),
                Cell::from(or_dash(&entry.running_image)),
                Cell::from(or_dash(&entry.expected_image)),
                Cell::from(entry.reason.clone()),
            ])
            .style(theme.style(role))
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(24),
            Constraint::Length(24),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new([
            "APP",
            "SERVICE",
            "CONDITION",
            "RUNNING",
            "A DEPLOY WOULD RUN",
            "WHY",
        ])
        .style(theme.style(Role::Header)),
    )
    .row_highlight_style(theme.style(Role::Selection))
    .block(block(title.to_owned(), theme));
    frame.render_stateful_widget(
        table,
        area,
        &mut TableState::default().with_selected(Some(selected)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::apps::AppEntry;
    use crate::probes::Severity;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn entry(
        app: &str,
        service: Option<&str>,
        condition: AppCondition,
        severity: Severity,
        reason: &str,
        images: (Option<&str>, Option<&str>),
    ) -> AppEntry {
        AppEntry {
            app: app.to_owned(),
            service: service.map(str::to_owned),
            condition,
            severity,
            reason: reason.to_owned(),
            running_image: images.0.map(str::to_owned),
            expected_image: images.1.map(str::to_owned),
        }
    }

    fn screen(report: Option<&AppsReport>, selected: usize) -> (String, Terminal<TestBackend>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let theme = Theme::load(None, dir.path(), false).expect("theme");
        let mut terminal = Terminal::new(TestBackend::new(140, 9)).expect("terminal");
        terminal
            .draw(|frame| {
                draw_apps(
                    frame,
                    frame.area(),
                    &theme,
                    report,
                    selected,
                    " Apps — 30s ago ",
                )
            })
            .expect("draw");
        let buffer = terminal.backend().buffer().clone();
        let text = (0..buffer.area.height)
            .map(|y| {
                let line: String = (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect();
                format!("{}\n", line.trim_end())
            })
            .collect();
        (text, terminal)
    }

    /// Each condition the comparison can give (docs/status.md, `apps`), drawn from a
    /// report built here: the comparison itself is tested where it is made.
    #[test]
    fn each_entry_with_its_condition_images_and_reason() {
        let report = AppsReport {
            severity: Severity::Critical,
            apps: vec![
                entry(
                    "web",
                    Some("web"),
                    AppCondition::Drifted,
                    Severity::Warning,
                    "config hash differs from what a deploy would create",
                    (Some("fleetdeck-lab/app:1.0"), Some("fleetdeck-lab/app:1.1")),
                ),
                entry(
                    "api",
                    None,
                    AppCondition::Missing,
                    Severity::Critical,
                    "declared, and no container of it on this host",
                    (None, Some("fleetdeck-lab/api:2.3")),
                ),
                entry(
                    "legacy",
                    None,
                    AppCondition::Undeclared,
                    Severity::Warning,
                    "fleetdeck.app=legacy, and fleetdeck_apps no longer declares it",
                    (Some("fleetdeck-lab/legacy:0.9"), None),
                ),
                entry(
                    "billing",
                    Some("db"),
                    AppCondition::Unknown,
                    Severity::Unknown,
                    "needs the secret db_password, which cannot be decrypted here",
                    (Some("postgres:16.4"), None),
                ),
                entry(
                    "proxy",
                    Some("proxy"),
                    AppCondition::Deployed,
                    Severity::Ok,
                    "as a deploy would create it",
                    (Some("nginx:1.27"), Some("nginx:1.27")),
                ),
            ],
        };
        let (text, terminal) = screen(Some(&report), 1);
        insta::assert_snapshot!("apps_pane", text);
        let dir = tempfile::tempdir().expect("tempdir");
        let theme = Theme::load(None, dir.path(), false).expect("theme");
        let buffer = terminal.backend().buffer();
        let fg_of = |needle: &str| {
            (0..buffer.area.height).find_map(|y| {
                let line: String = (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect();
                line.find(needle).map(|col| {
                    let x = line[..col].chars().count() as u16;
                    buffer[(x, y)].fg
                })
            })
        };
        assert_eq!(fg_of("undeclared"), theme.style(Role::Warning).fg);
        assert_eq!(fg_of("billing"), theme.style(Role::Unknown).fg);
        assert_eq!(fg_of("deployed"), theme.style(Role::Ok).fg);

        let (text, _) = screen(None, 0);
        assert!(text.contains("no apps declared"), "{text}");
    }
}
