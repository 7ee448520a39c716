//! Backup repositories: restic and borg, how old the latest snapshot is.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
