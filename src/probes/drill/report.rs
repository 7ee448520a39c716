//! A drill's report: what was restored from where, each step and check with its
//! outcome, RTO and RPO — as JSON (the history's format, and `--json`) and as
//! Markdown for people. Every text in it was sanitized where it entered; repository
//! passwords never enter it (the tools read them from files on the host).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::snapshot::SnapshotInfo;
use crate::probes::backup::BackupKind;

/// The report format's version, in every JSON report.
pub const FORMAT_VERSION: u32 = 1;

/// How a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillResult {
    /// Every step and check passed.
    Passed,
    /// A step or check failed (the report says which, in the tool's words).
    Failed,
    /// Refused before anything was written on the host (a scratch directory
    /// overlapping live data, a read-only host).
    Refused,
}

/// The drill's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Choose,
    Preflight,
    Restore,
    Verify,
    Measure,
    Report,
    Cleanup,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Choose => "choose",
            Step::Preflight => "preflight",
            Step::Restore => "restore",
            Step::Verify => "verify",
            Step::Measure => "measure",
            Step::Report => "report",
            Step::Cleanup => "cleanup",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

impl Outcome {
    fn word(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "FAILED",
            Outcome::Skipped => "skipped",
        }
    }
}

/// One step as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: Step,
    pub outcome: Outcome,
    pub seconds: f64,
    pub detail: String,
}

/// One check (preflight or verification) and its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub step: Step,
    /// `repository`, `free_space`, `lock`, `integrity`, `size`, `files`, `manifest`,
    /// `container`, …
    pub name: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// What the snapshot says a restore creates, against what the restore created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeComparison {
    pub expected_entries: u64,
    pub restored_entries: u64,
    pub expected_bytes: u64,
    pub restored_bytes: u64,
    pub matches: bool,
}

impl SizeComparison {
    /// Exact equality of both: a restore that lost or gained anything is a failure.
    pub fn of(expected: (u64, u64), restored: (u64, u64)) -> SizeComparison {
        SizeComparison {
            expected_entries: expected.0,
            restored_entries: restored.0,
            expected_bytes: expected.1,
            restored_bytes: restored.1,
            matches: expected == restored,
        }
    }

    pub fn describe(&self) -> String {
        let verdict = if self.matches { "match" } else { "DIFFER" };
        format!(
            "{} entries / {} restored, {} / {} bytes restored: {verdict}",
            self.expected_entries, self.restored_entries, self.expected_bytes, self.restored_bytes
        )
    }
}

/// Where the data came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryInfo {
    pub name: String,
    pub kind: BackupKind,
    /// With any password in a URL replaced by `***`.
    pub location: String,
}

/// Whether the scratch data is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupRecord {
    /// Nothing the drill wrote remains (also true when nothing was written).
    pub removed: bool,
    pub error: Option<String>,
}

/// One drill, start to end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillReport {
    pub version: u32,
    pub id: String,
    pub host: String,
    pub app: String,
    pub operator: String,
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub finished_at: OffsetDateTime,
    pub result: DrillResult,
    /// The step that failed or refused, null when passed.
    pub failed_step: Option<Step>,
    /// Why, in one line (the tool's words where a tool failed).
    pub error: Option<String>,
    pub repository: RepositoryInfo,
    pub snapshot: Option<SnapshotInfo>,
    pub scratch_dir: String,
    /// The drill's own directory inside `scratch_dir`, null when none was made.
    pub target: Option<String>,
    /// Restore duration, seconds.
    pub rto_seconds: Option<f64>,
    /// Snapshot age when the drill started, seconds.
    pub rpo_seconds: Option<i64>,
    pub steps: Vec<StepRecord>,
    pub checks: Vec<CheckRecord>,
    pub size: Option<SizeComparison>,
    pub cleanup: CleanupRecord,
}

/// `3h 12m`, `41d 2h`, `12.3 s`: durations as people read them.
pub fn human_duration(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let s = seconds as u64;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h) {
        (0, 0) => format!("{m}m {}s", s % 60),
        (0, h) => format!("{h}h {m}m"),
        (d, h) => format!("{d}d {h}h"),
    }
}

/// `2.2 s`, or `7200 s (2h 0m)` from a minute on.
fn seconds_text(seconds: f64, decimals: usize) -> String {
    let exact = format!("{seconds:.decimals$} s");
    if seconds < 60.0 {
        exact
    } else {
        format!("{exact} ({})", human_duration(seconds))
    }
}

fn time_text(t: OffsetDateTime) -> String {
    crate::util::time::rfc3339(t)
}

/// Text for a Markdown table cell: one line, no `|`.
fn cell(text: &str) -> String {
    crate::sanitize::line(text).replace('|', "\\|")
}

impl DrillReport {
    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let verdict = match self.result {
            DrillResult::Passed => "PASSED",
            DrillResult::Failed => "FAILED",
            DrillResult::Refused => "REFUSED",
        };
        let _ = writeln!(
            md,
            "# Restore drill: {} / {} — {verdict}\n",
            cell(&self.host),
            cell(&self.app)
        );
        if let Some(error) = &self.error {
            let step = self.failed_step.map(Step::name).unwrap_or("drill");
            let _ = writeln!(md, "**{verdict} at {step}:** {}\n", cell(error));
        }
        let _ = writeln!(md, "| | |\n|---|---|");
        let mut row = |k: &str, v: String| {
            let _ = writeln!(md, "| {k} | {} |", cell(&v));
        };
        row("Drill", self.id.clone());
        row("Operator", self.operator.clone());
        row("Started", time_text(self.started_at));
        row("Finished", time_text(self.finished_at));
        row(
            "Repository",
            format!(
                "{} ({}, {})",
                self.repository.name,
                match self.repository.kind {
                    BackupKind::Restic => "restic",
                    BackupKind::Borg => "borg",
                },
                self.repository.location
            ),
        );
        match &self.snapshot {
            Some(s) => {
                let mut text = format!("{} of {}", s.id, time_text(s.time));
                if !s.paths.is_empty() {
                    text.push_str(&format!(", paths {}", s.paths.join(", ")));
                }
                if let (Some(bytes), Some(entries)) = (s.size_bytes, s.entries) {
                    text.push_str(&format!(", {bytes} bytes in {entries} entries"));
                }
                row("Snapshot", text);
            }
            None => row("Snapshot", "none chosen".into()),
        }
        row(
            "Scratch target",
            self.target.clone().unwrap_or_else(|| {
                format!("none created (scratch directory {})", self.scratch_dir)
            }),
        );
        row(
            "RTO (restore duration)",
            self.rto_seconds
                .map_or_else(|| "not measured".to_owned(), |s| seconds_text(s, 1)),
        );
        row(
            "RPO (snapshot age)",
            self.rpo_seconds
                .map_or_else(|| "not measured".to_owned(), |s| seconds_text(s as f64, 0)),
        );
        if let Some(size) = &self.size {
            row("Size", size.describe());
        }
        row(
            "Cleanup",
            match (&self.cleanup.removed, &self.cleanup.error) {
                (true, _) => "scratch data removed".to_owned(),
                (false, Some(e)) => format!("SCRATCH DATA LEFT: {e}"),
                (false, None) => "SCRATCH DATA LEFT".to_owned(),
            },
        );

        let _ = writeln!(
            md,
            "\n## Steps\n\n| step | result | time | detail |\n|---|---|---|---|"
        );
        for s in &self.steps {
            let _ = writeln!(
                md,
                "| {} | {} | {:.1} s | {} |",
                s.step.name(),
                s.outcome.word(),
                s.seconds,
                cell(&s.detail)
            );
        }
        let _ = writeln!(
            md,
            "\n## Checks\n\n| step | check | result | detail |\n|---|---|---|---|"
        );
        for c in &self.checks {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                c.step.name(),
                cell(&c.name),
                c.outcome.word(),
                cell(&c.detail)
            );
        }
        md
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::commands::ending::ExitCodeOf;
    use time::macros::datetime;

    pub(crate) fn sample(result: DrillResult) -> DrillReport {
        DrillReport {
            version: FORMAT_VERSION,
            id: "d-1".into(),
            host: "client-gamma".into(),
            app: "web".into(),
            operator: "ops@laptop".into(),
            started_at: datetime!(2026-11-23 10:00:00 UTC),
            finished_at: datetime!(2026-11-23 10:00:09 UTC),
            result,
            failed_step: (result != DrillResult::Passed).then_some(Step::Verify),
            error: (result != DrillResult::Passed)
                .then(|| "restic check failed (exit 1): Pack ID does not match | x".to_owned()),
            repository: RepositoryInfo {
                name: "app-data".into(),
                kind: BackupKind::Restic,
                location: "/backup/repo".into(),
            },
            snapshot: Some(SnapshotInfo {
                id: "aaaa1111".into(),
                full_id: "aaaa1111ffff".into(),
                time: datetime!(2026-11-23 08:00:00 UTC),
                host: Some("client-gamma".into()),
                paths: vec!["/srv/app".into()],
                size_bytes: Some(12),
                entries: Some(8),
            }),
            scratch_dir: "/var/tmp/fleetdeck-drills".into(),
            target: Some("/var/tmp/fleetdeck-drills/fleetdeck-drill-web-d-1".into()),
            rto_seconds: Some(2.25),
            rpo_seconds: Some(7200),
            steps: vec![StepRecord {
                step: Step::Restore,
                outcome: Outcome::Passed,
                seconds: 2.25,
                detail: "restored aaaa1111".into(),
            }],
            checks: vec![CheckRecord {
                step: Step::Verify,
                name: "manifest".into(),
                outcome: Outcome::Passed,
                detail: "3 files match MANIFEST.sha256".into(),
            }],
            size: Some(SizeComparison::of((8, 12), (8, 12))),
            cleanup: CleanupRecord {
                removed: true,
                error: None,
            },
        }
    }

    #[test]
    fn size_comparison_is_exact() {
        assert!(SizeComparison::of((8, 12), (8, 12)).matches);
        assert!(!SizeComparison::of((8, 12), (7, 12)).matches);
        assert!(!SizeComparison::of((8, 12), (8, 13)).matches);
        assert_eq!(
            SizeComparison::of((8, 12), (7, 12)).describe(),
            "8 entries / 7 restored, 12 / 12 bytes restored: DIFFER"
        );
    }

    #[test]
    fn markdown_shows_rto_rpo_each_check_and_the_failure() {
        let md = sample(DrillResult::Passed).to_markdown();
        assert!(
            md.starts_with("# Restore drill: client-gamma / web — PASSED"),
            "{md}"
        );
        assert!(md.contains("| RTO (restore duration) | 2.2 s |"), "{md}");
        assert!(
            md.contains("| RPO (snapshot age) | 7200 s (2h 0m) |"),
            "{md}"
        );
        assert!(
            md.contains("| verify | manifest | passed | 3 files match MANIFEST.sha256 |"),
            "{md}"
        );
        assert!(md.contains("| Cleanup | scratch data removed |"), "{md}");
        let md = sample(DrillResult::Failed).to_markdown();
        assert!(
            md.contains(
                "**FAILED at verify:** restic check failed (exit 1): Pack ID does not match \\| x"
            ),
            "{md}"
        );
    }

    #[test]
    fn json_round_trips_with_documented_fields() {
        let report = sample(DrillResult::Failed);
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["result"], "failed");
        assert_eq!(json["failed_step"], "verify");
        assert_eq!(json["started_at"], "2026-11-23T10:00:00Z");
        assert_eq!(json["snapshot"]["time"], "2026-11-23T08:00:00Z");
        assert_eq!(json["rto_seconds"], 2.25);
        assert_eq!(json["rpo_seconds"], 7200);
        assert_eq!(json["size"]["matches"], true);
        assert_eq!(json["cleanup"]["removed"], true);
        let back: DrillReport = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, report);
        assert_eq!(report.exit_code(), 1);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(2.25), "2.2 s");
        assert_eq!(human_duration(125.0), "2m 5s");
        assert_eq!(human_duration(7200.0), "2h 0m");
        assert_eq!(human_duration(41.0 * 86400.0 + 7200.0), "41d 2h");
    }
}
