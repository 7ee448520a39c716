//! The host detail's resources pane: filesystems against their thresholds, memory,
//! load, uptime, reboot, updates, clock and Docker's own disk use, from the host round.

use super::block;
use super::severity_role;
use crate::docker::stats::bytes_text;
use crate::fleet::model::HostState;
use crate::probes::host::ResourcesReport;
use crate::tui::theme::{Role, Theme};
use crate::util::time::age_text;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub(super) fn draw_resources(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    host: &HostState,
    title: &str,
    now: time::OffsetDateTime,
) {
    let lines = match &host.resources.value {
        None => vec![Line::from(Span::styled(
            "not measured yet (the host round: df, /proc, sshd -T, apt, once a round)",
            theme.style(Role::Muted),
        ))],
        Some(report) => report_lines(report, host, theme, now),
    };
    frame.render_widget(
        Paragraph::new(lines).block(block(title.to_owned(), theme)),
        area,
    );
}

fn report_lines<'a>(
    report: &'a ResourcesReport,
    host: &HostState,
    theme: &Theme,
    now: time::OffsetDateTime,
) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    let key = |name: &str| Span::styled(format!("{name:<12}"), theme.style(Role::Muted));
    let text = |value: String| Span::styled(value, theme.style(Role::Text));
    let unknown = || Span::styled("cannot be told", theme.style(Role::Unknown));
    if let Some(error) = &report.error {
        lines.push(Line::from(Span::styled(
            error.clone(),
            theme.style(Role::Unknown),
        )));
    }
    if !report.filesystems.is_empty() {
        lines.push(Line::from(Span::styled(
            format!(
                "{:<20} {:<6} {:>7} {:>7} {:>5} {:>7}  {}",
                "MOUNT", "TYPE", "SIZE", "USED", "USE", "INODES", "WARN/CRIT"
            ),
            theme.style(Role::Header),
        )));
    }
    for fs in &report.filesystems {
        let limits = host.posture_policy.disk_for(&fs.mount);
        lines.push(Line::from(Span::styled(
            format!(
                "{:<20} {:<6} {:>7} {:>7} {:>4}% {:>7}  {}%/{}%",
                fs.mount,
                fs.fstype,
                bytes_text(fs.size_bytes),
                bytes_text(fs.used_bytes),
                fs.used_percent,
                fs.inodes_used_percent
                    .map(|p| format!("{p}%"))
                    .unwrap_or_else(|| "-".to_owned()),
                limits.warning,
                limits.critical,
            ),
            theme.style(severity_role(fs.severity)),
        )));
    }
    lines.push(Line::from(vec![
        key("memory"),
        match &report.memory {
            Some(m) => text(format!(
                "{}% in use of {} ({} available); swap {} of {}",
                m.used_percent,
                bytes_text(m.total_bytes),
                bytes_text(m.available_bytes),
                bytes_text(m.swap_used_bytes),
                bytes_text(m.swap_total_bytes),
            )),
            None => unknown(),
        },
    ]));
    lines.push(Line::from(vec![
        key("load"),
        match &report.load {
            Some(l) => text(format!(
                "{:.2} {:.2} {:.2} on {} CPU{}",
                l.load1,
                l.load5,
                l.load15,
                l.cpus,
                if l.cpus == 1 { "" } else { "s" }
            )),
            None => unknown(),
        },
    ]));
    lines.push(Line::from(vec![
        key("uptime"),
        match report.uptime_seconds {
            // Counted on from its reading while the host answers: it ticks with the
            // clock, not with the host round.
            Some(seconds) => {
                let read = i64::try_from(seconds).unwrap_or(i64::MAX);
                let since = match (host.reachable, host.resources.measured_at) {
                    (Some(true), Some(at)) => (now - at).whole_seconds().max(0),
                    _ => 0,
                };
                text(age_text(read.saturating_add(since)))
            }
            None => unknown(),
        },
    ]));
    let why = |why: &Option<String>| why.as_ref().map(|w| format!(": {w}")).unwrap_or_default();
    lines.push(Line::from(vec![
        key("reboot"),
        match report.reboot.required {
            Some(true) => Span::styled(
                format!("required{}", why(&report.reboot.why)),
                theme.style(Role::Warning),
            ),
            Some(false) => text("not required".to_owned()),
            None => unknown(),
        },
    ]));
    let count = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_else(|| "?".to_owned());
    let updates = &report.updates;
    let security_role = match updates.security {
        Some(0) => Role::Text,
        Some(_) => Role::Warning,
        None => Role::Unknown,
    };
    lines.push(Line::from(vec![
        key("updates"),
        text(format!("{} pending, ", count(updates.pending))),
        Span::styled(
            format!("{} security", count(updates.security)),
            theme.style(security_role),
        ),
    ]));
    lines.push(Line::from(vec![
        key("unattended"),
        match updates.unattended_upgrades {
            Some(true) => text("enabled".to_owned()),
            Some(false) => Span::styled("disabled", theme.style(Role::Warning)),
            None => unknown(),
        },
    ]));
    lines.push(Line::from(vec![
        key("clock"),
        match report.clock_synchronized {
            Some(true) => text("synchronised".to_owned()),
            Some(false) => Span::styled("not synchronised", theme.style(Role::Warning)),
            None => unknown(),
        },
    ]));
    lines.push(Line::from(vec![
        key("Docker"),
        match &report.docker_disk {
            Some(d) => text(format!(
                "images {}, containers {}, volumes {}, build cache {}; {} reclaimable",
                bytes_text(d.images_bytes),
                bytes_text(d.containers_bytes),
                bytes_text(d.volumes_bytes),
                bytes_text(d.build_cache_bytes),
                bytes_text(d.reclaimable_bytes),
            )),
            None => unknown(),
        },
    ]));
    for finding in &report.findings {
        let role = if finding.counts() {
            severity_role(finding.severity)
        } else {
            Role::Muted
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{:<8} {}: {}",
                    finding.severity.as_str(),
                    finding.check,
                    finding.reason
                ),
                theme.style(role),
            ),
            Span::styled(format!(" — {}", finding.fix), theme.style(Role::Muted)),
        ]));
    }
    lines
}
