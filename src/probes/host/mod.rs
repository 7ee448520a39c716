//! The host round: one exec per round reads the host's resources (filesystems,
//! memory, load, uptime, reboot and updates, clock) and its own security settings
//! (sshd, fail2ban, unattended upgrades); Docker's disk use comes from the Engine
//! API on the same session. No agent on the host.

mod docker_disk;
mod round;
mod script;
mod sections;
mod security;
#[cfg(test)]
mod tests;

use serde::Serialize;

use super::Severity;
use super::posture::Finding;

pub use docker_disk::{MAX_SYSTEM_DF_BYTES, docker_disk_use};
pub use round::{
    LOAD_CRITICAL_PER_CPU, LOAD_WARNING_PER_CPU, MEMORY_CRITICAL_PERCENT, MEMORY_WARNING_PERCENT,
    SWAP_WARNING_PERCENT, report,
};
pub use script::{
    FAIL2BAN_REASK, MAX_OUTPUT_BYTES, PSEUDO_FILESYSTEMS, ROUND_TIMEOUT, Remembered, RoundMemo,
    command, is_pseudo,
};
pub use security::MAX_AUTH_TRIES;

/// One filesystem's use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilesystemUse {
    pub mount: String,
    /// The device or source (`/dev/vda1`), sanitized.
    pub source: String,
    pub fstype: String,
    pub size_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    /// Of the space a non-root user may use, as `df` computes it.
    pub used_percent: u8,
    /// Absent for filesystems without a fixed inode table (btrfs, …).
    pub inodes_used_percent: Option<u8>,
    pub severity: Severity,
}

/// Docker's own disk use (`/system/df`), in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DockerDiskUse {
    pub images_bytes: u64,
    pub containers_bytes: u64,
    pub volumes_bytes: u64,
    pub build_cache_bytes: u64,
    /// What `docker system prune` style cleaning could give back.
    pub reclaimable_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryUse {
    pub total_bytes: u64,
    /// `MemAvailable`: what can be had without swapping.
    pub available_bytes: u64,
    pub used_percent: u8,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadUse {
    pub load1: f64,
    pub load5: f64,
    pub load15: f64,
    pub cpus: u32,
}

/// Whether the host waits for a reboot, and why; `required` is `None` when it cannot
/// be told.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RebootState {
    pub required: Option<bool>,
    /// e.g. "/var/run/reboot-required is present since 2026-09-01" or "running
    /// kernel 6.1.0-25 is older than installed 6.1.0-28".
    pub why: Option<String>,
}

/// Pending package updates; each `None` when the package manager cannot say cheaply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdatesState {
    pub pending: Option<u32>,
    pub security: Option<u32>,
    pub unattended_upgrades: Option<bool>,
}

/// Pending package updates as apt counts them: a costly answer, remembered between
/// rounds ([`RoundMemo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingUpdates {
    pub pending: u32,
    pub security: u32,
}

/// What `fail2ban-client status` said; the running answer is remembered between
/// rounds ([`RoundMemo`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fail2banState {
    Running {
        jails: Vec<String>,
    },
    /// Installed, but its server did not answer (not running, hung): why.
    NotAnswering(String),
    NotInstalled,
    /// Not permitted, or an answer not understood: why.
    CannotTell(String),
}

/// The resources signal of one host, as `status --json` shows it under `resources`.
/// `findings` says what crosses a threshold or could not be told; `severity` is
/// theirs ([`super::posture::severity_of`]), `unknown` with `error` set when the
/// round failed as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourcesReport {
    pub severity: Severity,
    pub filesystems: Vec<FilesystemUse>,
    pub docker_disk: Option<DockerDiskUse>,
    pub memory: Option<MemoryUse>,
    pub load: Option<LoadUse>,
    pub uptime_seconds: Option<u64>,
    pub reboot: RebootState,
    pub updates: UpdatesState,
    pub clock_synchronized: Option<bool>,
    pub findings: Vec<Finding>,
    pub error: Option<String>,
}

impl ResourcesReport {
    /// Nothing measured: the round did not run or could not be read.
    pub fn failed(error: impl Into<String>) -> ResourcesReport {
        ResourcesReport {
            severity: Severity::Unknown,
            filesystems: Vec::new(),
            docker_disk: None,
            memory: None,
            load: None,
            uptime_seconds: None,
            reboot: RebootState::default(),
            updates: UpdatesState::default(),
            clock_synchronized: None,
            findings: Vec::new(),
            error: Some(error.into()),
        }
    }

    /// The fullest filesystem, for the overview's DISK column.
    pub fn fullest(&self) -> Option<&FilesystemUse> {
        self.filesystems.iter().max_by_key(|f| {
            f.used_percent
                .max(f.inodes_used_percent.unwrap_or_default())
        })
    }
}

/// What one host round measured: its resources and the host's own posture findings
/// (sshd, fail2ban, unattended upgrades). Container findings ride on the container
/// signal.
#[derive(Debug, Clone, PartialEq)]
pub struct HostReport {
    pub resources: ResourcesReport,
    /// Host findings; empty with `posture_error` set when they could not be read.
    pub posture: Vec<Finding>,
    pub posture_error: Option<String>,
}

impl HostReport {
    pub fn failed(error: impl Into<String>) -> HostReport {
        let error = error.into();
        HostReport {
            resources: ResourcesReport::failed(error.clone()),
            posture: Vec::new(),
            posture_error: Some(error),
        }
    }
}
