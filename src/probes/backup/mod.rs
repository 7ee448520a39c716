//! Backup repositories: restic and borg, how old the latest snapshot is.
//!
//! The fleet actor runs `command(repo)` on the host (one exec channel) and hands the
//! exit status and both output streams to `parse`. Everything but running the command
//! is pure. This file holds the declared repository and the entry points; the command
//! lines are built in `command.rs`, the report and its judgement by age in
//! `report.rs`, and each tool's output is read in `restic.rs` and `borg.rs` — their
//! snapshot-list readers (`restic::parse_snapshots`, `borg::parse_archives`) are also
//! what a restore drill lists snapshots with.

mod command;
mod report;

pub mod borg;
pub mod restic;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use borg::parse_borg;
pub use command::{UnquotableValue, borg_command, command, restic_command};
pub use report::{
    BackupReport, BackupState, MAX_LISTED_SNAPSHOTS, SnapshotEntry, age_severity,
    redact_url_password,
};
pub use restic::parse_restic;

/// One repository, as declared in `fleetdeck_backups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupRepo {
    /// A short name shown in the console, e.g. `app-data`.
    pub name: String,
    pub kind: BackupKind,
    /// As restic's `-r` / borg's repository argument, seen from the host.
    pub repository: String,
    /// A file on the host holding the repository password (restic's
    /// `--password-file`, borg's `BORG_PASSCOMMAND=cat FILE`). Without one, restic uses
    /// `RESTIC_PASSWORD_FILE` from the host's environment.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// What is backed up; informational (restore drills use it).
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Warning when the latest snapshot is older than this (hours).
    #[serde(default = "default_warning_hours")]
    pub warning_hours: u64,
    /// Critical when older than this (hours).
    #[serde(default = "default_critical_hours")]
    pub critical_hours: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    Restic,
    Borg,
}

pub const DEFAULT_WARNING_HOURS: u64 = 26;
pub const DEFAULT_CRITICAL_HOURS: u64 = 48;

fn default_warning_hours() -> u64 {
    DEFAULT_WARNING_HOURS
}

fn default_critical_hours() -> u64 {
    DEFAULT_CRITICAL_HOURS
}

/// A generous bound for the probe's exec: restic against a remote repository lists
/// every snapshot file, which can take a while on a cold cache.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// restic prints about 400 bytes per snapshot, on one line; a repository with years of
/// hourly snapshots passes 1 MiB. Output cut short is unparsable (never "fresh"), so
/// give the exec at least this much room.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

fn tool(kind: BackupKind) -> &'static str {
    match kind {
        BackupKind::Restic => "restic",
        BackupKind::Borg => "borg",
    }
}

/// Reads what `command(repo)` produced. `exit` is the exit status, `None` when the
/// command ended without one (killed by a signal). `now` is when it ran.
pub fn parse(
    repo: &BackupRepo,
    exit: Option<u32>,
    stdout: &[u8],
    stderr: &[u8],
    now: OffsetDateTime,
) -> BackupReport {
    match repo.kind {
        BackupKind::Restic => parse_restic(repo, exit, stdout, stderr, now),
        BackupKind::Borg => parse_borg(repo, exit, stdout, stderr, now),
    }
}

/// One snapshot (restic) or archive (borg) as the tool listed it, every text
/// sanitized: what the status probe judges and a restore drill chooses from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSnapshot {
    /// When it was made, with the offset the tool printed (borg's times without one
    /// are UTC: both the probe and the drill run borg with `TZ=UTC0`).
    pub time: OffsetDateTime,
    /// restic's short id (the first 8 hex digits of its id when it printed none);
    /// the first 8 hex digits of borg's archive id.
    pub short_id: Option<String>,
    /// restic's full id; borg's archive id (hex).
    pub full_id: Option<String>,
    /// borg's archive name (restic snapshots have none).
    pub name: Option<String>,
    /// restic: the host that made it (borg's listing does not say).
    pub host: Option<String>,
    /// restic: the paths backed up (borg's listing does not say).
    pub paths: Vec<String>,
}
