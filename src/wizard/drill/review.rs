//! What the drill wizard shows between its operations: the snapshot choices, the
//! review before the restore, the confirmation and keep questions, the results, the
//! restored data to inspect, and the final report — all sanitized text.

use crate::core::drill::tool;
use crate::docker::stats::bytes_text;
use crate::probes::backup::BackupKind;
use crate::probes::drill::report::{CheckRecord, Outcome, human_duration};
use crate::probes::drill::{DrillReport, DrillResult, SnapshotInfo, Step as DrillStep};
use crate::sanitize;
use crate::wizard::engine::{ChoiceOption, ReviewLine, Tone};

use super::{Finished, Stage};

/// The snapshot as a choice: time, size, paths; one that does not hold the drill's
/// root cannot be chosen (its content checks would have nothing to read).
pub fn snapshot_option(s: &SnapshotInfo, root: Option<&str>) -> ChoiceOption {
    let size = match (s.size_bytes, s.entries) {
        (Some(bytes), Some(entries)) => format!("{} in {entries} entries", bytes_text(bytes)),
        _ => "size measured when chosen".to_owned(),
    };
    let mut detail = format!("{}  {size}", crate::util::time::rfc3339(s.time));
    if !s.paths.is_empty() {
        detail.push_str(&format!("  {}", s.paths.join(", ")));
    }
    if let Some(host) = &s.host {
        detail.push_str(&format!("  from {host}"));
    }
    let holds = tool::select(std::slice::from_ref(s), "latest", root).is_ok();
    ChoiceOption {
        value: s.full_id.clone(),
        label: sanitize::line(&s.id),
        detail: sanitize::line(&detail),
        disabled: (!holds).then(|| {
            format!(
                "does not hold {} (the drill's checks start there)",
                sanitize::line(root.unwrap_or("/"))
            )
        }),
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Passed => "passed",
        Outcome::Failed => "FAILED",
        Outcome::Skipped => "skipped",
    }
}

fn outcome_tone(o: Outcome) -> Tone {
    match o {
        Outcome::Passed => Tone::Ok,
        Outcome::Failed => Tone::Critical,
        Outcome::Skipped => Tone::Muted,
    }
}

fn check_line(c: &CheckRecord) -> ReviewLine {
    ReviewLine::new(
        format!(
            "  {:<9} {:<14} {:<7} {}",
            c.step.name(),
            sanitize::line(&c.name),
            outcome_word(c.outcome),
            sanitize::line(&c.detail)
        ),
        outcome_tone(c.outcome),
    )
}

pub(super) fn kind_word(kind: BackupKind) -> &'static str {
    match kind {
        BackupKind::Restic => "restic",
        BackupKind::Borg => "borg",
    }
}

fn snapshot_text(s: &SnapshotInfo) -> String {
    let mut text = format!(
        "{} of {}",
        sanitize::line(&s.id),
        crate::util::time::rfc3339(s.time)
    );
    if !s.paths.is_empty() {
        text.push_str(&format!(", paths {}", sanitize::line(&s.paths.join(", "))));
    }
    text
}

fn size_text(s: &SnapshotInfo) -> String {
    match (s.size_bytes, s.entries) {
        (Some(bytes), Some(entries)) => {
            format!("{bytes} bytes ({}) in {entries} entries", bytes_text(bytes))
        }
        _ => "unknown".to_owned(),
    }
}

fn rto_text(report: &DrillReport) -> String {
    report
        .rto_seconds
        .map_or_else(|| "not measured".to_owned(), human_duration)
}

fn rpo_text(report: &DrillReport) -> String {
    report
        .rpo_seconds
        .map_or_else(|| "not measured".to_owned(), |s| human_duration(s as f64))
}

fn row(key: &str, value: impl Into<String>) -> ReviewLine {
    ReviewLine::new(format!("  {key:<13} {}", value.into()), Tone::Normal)
}

/// Where the restored copy of the drill's root is.
pub fn restored_root(target: &str, root: Option<&str>) -> String {
    let restore = format!("{target}/restore");
    match root.and_then(crate::core::drill::overlap::normalized) {
        Some(root) if root != "/" => format!("{restore}{root}"),
        _ => restore,
    }
}

/// What will be restored where, after the preflight.
pub fn review_lines(stage: &Stage) -> Vec<ReviewLine> {
    let r = &stage.report;
    let mut lines = vec![ReviewLine::new(
        format!(
            "Restore drill of {} on {}",
            sanitize::line(&r.app),
            sanitize::line(&r.host)
        ),
        Tone::Heading,
    )];
    lines.push(row(
        "repository",
        format!(
            "{} ({}, {})",
            sanitize::line(&r.repository.name),
            kind_word(r.repository.kind),
            sanitize::line(&r.repository.location)
        ),
    ));
    if let Some(s) = &r.snapshot {
        lines.push(row("snapshot", snapshot_text(s)));
        lines.push(row("size", size_text(s)));
    }
    lines.push(row(
        "restore into",
        format!(
            "{}/restore (a new directory)",
            sanitize::line(&stage.target)
        ),
    ));
    let free = r
        .checks
        .iter()
        .find(|c| c.name == "free_space")
        .map_or_else(|| "not checked".to_owned(), |c| sanitize::line(&c.detail));
    lines.push(row("free space", free));
    lines.push(row("RPO", format!("{} (the snapshot's age)", rpo_text(r))));
    lines.push(ReviewLine::new("", Tone::Normal));
    lines.push(ReviewLine::new("Preflight", Tone::Heading));
    lines.extend(
        r.checks
            .iter()
            .filter(|c| c.step == DrillStep::Preflight)
            .map(check_line),
    );
    lines.push(ReviewLine::new("", Tone::Normal));
    lines.push(ReviewLine::new(
        format!(
            "The live data is not touched. {}'s deploy lock is held by this drill until it ends.",
            sanitize::line(&r.host)
        ),
        Tone::Muted,
    ));
    lines
}

/// The confirmation: what is restored where.
pub fn confirm_question(stage: &Stage) -> String {
    let r = &stage.report;
    let (snap, size) = match &r.snapshot {
        Some(s) => (
            sanitize::line(&s.id),
            s.size_bytes
                .map_or_else(String::new, |b| format!(" ({})", bytes_text(b))),
        ),
        None => ("-".to_owned(), String::new()),
    };
    format!(
        "Restore snapshot {snap}{size} of {} into {}/restore on {}, then verify it?",
        sanitize::line(&r.repository.name),
        sanitize::line(&stage.target),
        sanitize::line(&r.host)
    )
}

/// The measurements and every check, before the cleanup.
pub fn results_lines(stage: &Stage) -> Vec<ReviewLine> {
    let r = &stage.report;
    let mut lines = vec![ReviewLine::new(
        format!(
            "Restore drill of {} on {}: every check passed",
            sanitize::line(&r.app),
            sanitize::line(&r.host)
        ),
        Tone::Ok,
    )];
    lines.push(row(
        "RTO",
        format!("{} (the restore's duration)", rto_text(r)),
    ));
    lines.push(row(
        "RPO",
        format!("{} (the snapshot's age at the start)", rpo_text(r)),
    ));
    if let Some(size) = &r.size {
        lines.push(row("size", size.describe()));
    }
    lines.push(ReviewLine::new("", Tone::Normal));
    lines.push(ReviewLine::new("Checks", Tone::Heading));
    lines.extend(r.checks.iter().map(check_line));
    lines.push(ReviewLine::new("", Tone::Normal));
    lines.push(ReviewLine::new(
        format!(
            "The restored data is at {} on {}; the report is saved once it is removed.",
            sanitize::line(&restored_root(&stage.target, stage.root.as_deref())),
            sanitize::line(&r.host)
        ),
        Tone::Muted,
    ));
    lines
}

/// The offer: keep the data to look at it first (no: remove it now).
pub fn keep_question(stage: &Stage) -> String {
    format!(
        "Keep the restored data at {} on {} to look at it before it is removed? \
         (no: remove it now and save the report)",
        sanitize::line(&stage.target),
        sanitize::line(&stage.report.host)
    )
}

/// Where the kept data is, while the operator looks at it.
pub fn inspect_lines(stage: &Stage) -> Vec<ReviewLine> {
    let host = sanitize::line(&stage.report.host);
    let root = sanitize::line(&restored_root(&stage.target, stage.root.as_deref()));
    vec![
        ReviewLine::new("The restored data is kept for now", Tone::Heading),
        row("host", host.clone()),
        row("restored root", root.clone()),
        row("drill dir", sanitize::line(&stage.target)),
        ReviewLine::new("", Tone::Normal),
        ReviewLine::new(
            format!("Look at it from a shell: ssh {host} ls -la {root}"),
            Tone::Normal,
        ),
        ReviewLine::new(
            format!(
                "Meanwhile {host}'s deploy lock stays held by this drill: no deploy runs there."
            ),
            Tone::Warning,
        ),
        ReviewLine::new(
            "Going on removes it and saves the report; closing the wizard removes it too.",
            Tone::Muted,
        ),
    ]
}

/// The report as the wizard's last step shows it.
pub fn report_lines(finished: &Finished) -> Vec<ReviewLine> {
    let r = &finished.report;
    let mut lines = Vec::new();
    let what = format!("{} on {}", sanitize::line(&r.app), sanitize::line(&r.host));
    match (r.result, r.failed_step, &r.error) {
        (DrillResult::Passed, _, _) => lines.push(ReviewLine::new(
            format!("Restore drill of {what}: PASSED"),
            Tone::Ok,
        )),
        (result, step, error) => {
            let verdict = if result == DrillResult::Refused {
                "REFUSED"
            } else {
                "FAILED"
            };
            lines.push(ReviewLine::new(
                format!(
                    "Restore drill of {what}: {verdict} at {}",
                    step.map_or("the drill", DrillStep::name)
                ),
                Tone::Critical,
            ));
            if let Some(e) = error {
                lines.push(ReviewLine::new(
                    format!("  {}", sanitize::line(e)),
                    Tone::Critical,
                ));
            }
        }
    }
    lines.push(row("drill", sanitize::line(&r.id)));
    lines.push(row(
        "repository",
        format!(
            "{} ({})",
            sanitize::line(&r.repository.name),
            kind_word(r.repository.kind)
        ),
    ));
    lines.push(row(
        "snapshot",
        r.snapshot
            .as_ref()
            .map_or_else(|| "none chosen".to_owned(), snapshot_text),
    ));
    lines.push(row("RTO", rto_text(r)));
    lines.push(row("RPO", rpo_text(r)));
    if let Some(size) = &r.size {
        lines.push(row("size", size.describe()));
    }
    let (cleanup, tone) = match (&r.target, r.cleanup.removed, &r.cleanup.error) {
        (None, true, _) => ("nothing was written on the host".to_owned(), Tone::Normal),
        (Some(t), true, _) => (format!("{} removed", sanitize::line(t)), Tone::Normal),
        (t, false, e) => (
            format!(
                "SCRATCH DATA LEFT at {}: {}",
                sanitize::line(t.as_deref().unwrap_or(&r.scratch_dir)),
                sanitize::line(e.as_deref().unwrap_or("not removed"))
            ),
            Tone::Critical,
        ),
    };
    lines.push(ReviewLine::new(
        format!("  {:<13} {cleanup}", "cleanup"),
        tone,
    ));
    match &finished.saved {
        Ok((json, md)) => {
            lines.push(row("report", md.display().to_string()));
            lines.push(row("", json.display().to_string()));
        }
        Err(e) => lines.push(ReviewLine::new(
            format!(
                "  {:<13} could not be saved: {}",
                "report",
                sanitize::line(e)
            ),
            Tone::Warning,
        )),
    }
    if !r.steps.is_empty() {
        lines.push(ReviewLine::new("", Tone::Normal));
        lines.push(ReviewLine::new("Steps", Tone::Heading));
        for s in &r.steps {
            lines.push(ReviewLine::new(
                format!(
                    "  {:<9} {:<7} {:>6.1} s  {}",
                    s.step.name(),
                    outcome_word(s.outcome),
                    s.seconds,
                    sanitize::line(&s.detail)
                ),
                outcome_tone(s.outcome),
            ));
        }
    }
    if !r.checks.is_empty() {
        lines.push(ReviewLine::new("", Tone::Normal));
        lines.push(ReviewLine::new("Checks", Tone::Heading));
        lines.extend(r.checks.iter().map(check_line));
    }
    lines
}
