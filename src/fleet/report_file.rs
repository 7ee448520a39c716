//! An incident report as files: the Markdown that gets pasted into a ticket and the
//! JSON beside it (pure rendering), written as new private files that are never
//! overwritten. What is in a report is gathered and assembled in [`super::report`].

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use super::json::HostJson;
use super::model::HostState;
use super::problems::{Problem, SignalKind};
use super::report::{ContainerSection, LOG_LINES, Report};
use super::timeline::TimelineEntry;
use crate::audit::AuditRecord;
use crate::probes::Severity;

/// Where reports go by default: `$XDG_STATE_HOME/fleetdeck/reports`.
pub fn default_dir() -> PathBuf {
    crate::paths::state_home().join("fleetdeck").join("reports")
}

/// Writes the report as Markdown and JSON into `dir` (created `0700` if needed), each
/// a new file `0600` named after the host (and container) and the UTC time; a name
/// already taken gets `-2`, `-3`, … — nothing is ever overwritten. Returns both paths.
pub fn write(report: &Report, dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let json = serde_json::to_string_pretty(&json(report)).map_err(io::Error::other)?;
    let markdown = markdown(report);
    let stamp = report
        .generated_at
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .map_err(io::Error::other)?;
    let mut base = file_component(&report.host.name);
    if let Some(container) = &report.container {
        base = format!("{base}-{}", file_component(container));
    }
    for n in 1..1000 {
        let stem = match n {
            1 => format!("{base}-{stamp}"),
            n => format!("{base}-{stamp}-{n}"),
        };
        let md_path = dir.join(format!("{stem}.md"));
        let json_path = dir.join(format!("{stem}.json"));
        if json_path.exists() {
            continue;
        }
        match create_new(&md_path, &markdown) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
        create_new(&json_path, &json)?;
        return Ok((md_path, json_path));
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{}: every report name for this second is taken",
            dir.display()
        ),
    ))
}

fn create_new(path: &Path, text: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    file.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    file.sync_all()
}

/// A name as one file-name component: letters, digits, `.`, `_`, `-` kept, the rest `_`.
fn file_component(name: &str) -> String {
    let out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match out.trim_start_matches('.') {
        "" => "_".to_owned(),
        rest => rest.to_owned(),
    }
}

/// The report's JSON (docs/report.md).
#[derive(Debug, Serialize)]
pub struct ReportJson<'a> {
    pub generated_at: String,
    pub host: &'a str,
    pub container: Option<&'a str>,
    pub since_seconds: u64,
    pub severity: Severity,
    pub problems: Vec<Problem>,
    pub status: HostJson<'a>,
    pub containers: &'a [ContainerSection],
    pub timeline: Option<&'a [TimelineEntry]>,
    pub timeline_error: Option<&'a str>,
    pub actions: Option<&'a [AuditRecord]>,
    pub actions_error: Option<&'a str>,
}

pub fn json(report: &Report) -> ReportJson<'_> {
    ReportJson {
        generated_at: crate::util::time::rfc3339(report.generated_at),
        host: &report.host.name,
        container: report.container.as_deref(),
        since_seconds: report.since.as_secs(),
        severity: report.host.severity(),
        problems: report.host.problems(),
        status: report.host.to_json(report.generated_at),
        containers: &report.containers,
        timeline: report.timeline.as_deref().ok(),
        timeline_error: report.timeline.as_ref().err().map(String::as_str),
        actions: report.actions.as_deref().ok(),
        actions_error: report.actions.as_ref().err().map(String::as_str),
    }
}

/// The report as Markdown (pure).
pub fn markdown(report: &Report) -> String {
    let host = &report.host;
    let now = report.generated_at;
    let mut out = String::new();
    let title = match &report.container {
        Some(c) => format!("{} / {c}", host.name),
        None => host.name.clone(),
    };
    let _ = writeln!(out, "# Incident report: {title}\n");
    let _ = writeln!(
        out,
        "Generated {} by fleetdeck. Host severity: **{}**.",
        crate::util::time::rfc3339(now),
        host.severity().as_str()
    );
    match host.reachable {
        Some(false) => {
            let why = host.error.as_deref().unwrap_or("no answer");
            let _ = writeln!(
                out,
                "\n**The host did not answer** ({why}): what follows is what was known \
                 before, with its age."
            );
        }
        None => {
            let _ = writeln!(out, "\nThe host was not contacted.");
        }
        Some(true) => {}
    }
    if let Some(window) = host.in_maintenance(now) {
        let _ = writeln!(
            out,
            "\nIn maintenance until {} by {}: {}",
            crate::util::time::rfc3339(window.until),
            window.by,
            window.reason
        );
    }
    problems_section(&mut out, host);
    signals_section(&mut out, host, now);
    for section in &report.containers {
        container_markdown(&mut out, section);
    }
    timeline_section(&mut out, report);
    firewall_section(&mut out, host);
    actions_section(&mut out, report, now);
    out
}

fn problems_section(out: &mut String, host: &HostState) {
    let _ = writeln!(out, "\n## Problems\n");
    let problems = host.problems();
    if problems.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for p in problems {
        let subject = if p.subject.is_empty() {
            String::new()
        } else {
            format!(" {}", p.subject)
        };
        let _ = writeln!(
            out,
            "- **{}** {}{subject}: {}",
            p.severity.as_str(),
            p.signal.as_str(),
            p.summary
        );
    }
}

fn signals_section(out: &mut String, host: &HostState, now: OffsetDateTime) {
    let json = host.to_json(now);
    let s = &json.signals;
    let worst = |kind: SignalKind| {
        Severity::worst(
            host.problems()
                .iter()
                .filter(|p| p.signal == kind)
                .map(|p| p.severity),
        )
    };
    let drill = host.last_drill.value.as_ref().map(|d| d.severity(now));
    let rows = [
        (
            "containers",
            Some(worst(SignalKind::Containers)),
            &s.containers,
        ),
        ("backups", Some(worst(SignalKind::Backups)), &s.backups),
        ("certs", Some(worst(SignalKind::Certs)), &s.certs),
        ("firewall", Some(worst(SignalKind::Firewall)), &s.firewall),
        (
            "resources",
            Some(worst(SignalKind::Resources)),
            &s.resources,
        ),
        ("posture", Some(worst(SignalKind::Posture)), &s.posture),
        ("apps", Some(worst(SignalKind::Apps)), &s.apps),
        ("last drill", drill, &s.last_drill),
        ("rtt", None, &s.rtt),
        ("facts", None, &s.facts),
    ];
    let _ = writeln!(out, "\n## Signals\n");
    let _ = writeln!(out, "| signal | state | measured | age | note |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (name, severity, signal) in rows {
        let state = match (signal.measured_at.as_ref(), severity) {
            (None, _) if signal.error.is_none() => "not measured",
            (_, Some(severity)) => severity.as_str(),
            (_, None) if signal.error.is_some() => "unknown",
            (_, None) => "ok",
        };
        let age = signal
            .age_seconds
            .map(crate::util::time::age_text)
            .unwrap_or_else(|| "-".to_owned());
        let mut note = signal.error.clone().unwrap_or_default();
        if signal.stale {
            note = format!("stale {note}").trim_end().to_owned();
        }
        let _ = writeln!(
            out,
            "| {name} | {state} | {} | {age} | {} |",
            signal.measured_at.as_deref().unwrap_or("-"),
            cell(&note)
        );
    }
}

/// A table cell: `|` escaped so it cannot open a column.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// A fenced block whose fence is longer than any run of backticks inside, so no line
/// of a log can close it.
fn fenced(out: &mut String, lines: &[String]) {
    let longest = lines
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(out, "{fence}text");
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "{fence}");
}

fn container_markdown(out: &mut String, section: &ContainerSection) {
    let _ = writeln!(out, "\n## Container {}\n", section.name);
    match &section.status {
        Some(c) => {
            let health = c
                .health
                .as_deref()
                .map(|h| format!(", {h}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- state: {}{health}, {} restart(s){}",
                c.state,
                c.restart_count,
                c.exit_code
                    .map(|code| format!(", exit code {code}"))
                    .unwrap_or_default()
            );
            if let Some(problem) = &c.problem {
                let _ = writeln!(out, "- problem: {problem}");
            }
            if let Some(output) = &c.health_output {
                let _ = writeln!(out, "- health check output: `{}`", output.replace('`', "'"));
            }
            let _ = writeln!(out, "- image: {}", c.image);
        }
        None => {
            let _ = writeln!(out, "- not in the host's container list");
        }
    }
    let _ = writeln!(out, "\n### Inspect (environment values masked)\n");
    match &section.inspect_error {
        Some(e) => {
            let _ = writeln!(out, "Not read: {e}");
        }
        None => {
            let lines: Vec<String> = section
                .inspect
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}: {v}")
                    }
                })
                .collect();
            fenced(out, &lines);
        }
    }
    let _ = writeln!(out, "\n### Last {LOG_LINES} log lines\n");
    match &section.logs_error {
        Some(e) => {
            let _ = writeln!(out, "Not read: {e}");
        }
        None if section.logs.is_empty() => {
            let _ = writeln!(out, "The log is empty.");
        }
        None => fenced(out, &section.logs),
    }
}

fn timeline_section(out: &mut String, report: &Report) {
    let hours = report.since.as_secs_f64() / 3600.0;
    let _ = writeln!(out, "\n## Timeline (last {hours:.1} h)\n");
    match &report.timeline {
        Err(why) => {
            let _ = writeln!(out, "No history available: {why}");
        }
        Ok(entries) if entries.is_empty() => {
            let _ = writeln!(out, "Nothing recorded in this window.");
        }
        Ok(entries) => {
            for e in entries {
                let _ = writeln!(
                    out,
                    "- {} {} {}: {}",
                    crate::util::time::rfc3339(e.at),
                    e.severity.as_str(),
                    e.kind.label(),
                    e.text
                );
            }
        }
    }
}

fn firewall_section(out: &mut String, host: &HostState) {
    let _ = writeln!(out, "\n## Firewall drift\n");
    match &host.firewall.value {
        None if host.expects.firewall => {
            let _ = writeln!(out, "Not measured.");
        }
        None => {
            let _ = writeln!(out, "No firewall declared for this host.");
        }
        Some(report) if report.drift.is_empty() => {
            let _ = match &report.error {
                Some(e) => writeln!(out, "Not read: {e}"),
                None => writeln!(out, "None: the firewall is as declared."),
            };
        }
        Some(report) => {
            for d in &report.drift {
                let _ = writeln!(out, "- **{}** {}", d.severity.as_str(), d.message);
            }
        }
    }
}

fn actions_section(out: &mut String, report: &Report, now: OffsetDateTime) {
    let _ = writeln!(out, "\n## Latest deploys, rollbacks and other actions\n");
    match &report.actions {
        Err(why) => {
            let _ = writeln!(out, "Not read: {why}");
        }
        Ok(records) if records.is_empty() => {
            let _ = writeln!(out, "None recorded in this machine's audit log.");
        }
        Ok(records) => {
            let _ = writeln!(out, "| time | action | target | result | by | error |");
            let _ = writeln!(out, "|---|---|---|---|---|---|");
            for r in records {
                let result = serde_json::to_value(r.result)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {result} | {} | {} |",
                    cell(&r.time),
                    cell(&r.action),
                    cell(&r.target),
                    cell(&r.operator),
                    cell(r.error.as_deref().unwrap_or(""))
                );
            }
        }
    }
    let _ = writeln!(out, "\n## Restore drills\n");
    match report
        .host
        .last_drill
        .value
        .as_ref()
        .filter(|d| !d.apps.is_empty())
    {
        None => {
            let _ = writeln!(out, "None declared or recorded.");
        }
        Some(drills) => {
            for app in &drills.apps {
                let last = app
                    .last_success
                    .map(|t| {
                        format!(
                            "last passed {} ({} ago)",
                            crate::util::time::rfc3339(t),
                            crate::util::time::age_text((now - t).whole_seconds().max(0))
                        )
                    })
                    .unwrap_or_else(|| "never passed".to_owned());
                let _ = writeln!(
                    out,
                    "- **{}** {}: {last}",
                    app.severity(now).as_str(),
                    app.app
                );
            }
        }
    }
}
