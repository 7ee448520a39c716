//! The backup report of one repository: its state, its severity (by the age of the
//! newest snapshot, or by what failed), the newest snapshots listed, and the texts
//! from the host made safe to show.

use serde::Serialize;
use time::OffsetDateTime;

use super::{BackupKind, BackupRepo, ListedSnapshot, tool};
use crate::probes::Severity;
use crate::sanitize;

/// A latest snapshot this far in the future is clock skew, not a fresh backup.
const FUTURE_TOLERANCE_SECONDS: i64 = 300;

/// Longest error text kept in a report (the end of stderr, where tools put the cause).
const MAX_ERROR_CHARS: usize = 600;

/// What one look at a repository found. Serialized in snake_case.
///
/// Severity follows from the state: `listed` is judged by age (warning past
/// `warning_hours`, critical past `critical_hours`); `no_snapshots` and every state
/// where the declared way of reading the repository is broken (a restore would fail the
/// same way: `wrong_password`, `password_unavailable`, `repository_not_found`,
/// `permission_denied`, `access_refused`, `tool_missing`) are critical; states where
/// the probe could not tell (`locked`, `timeout`, `failed`, `unparsable`,
/// `future_snapshot`) are unknown — never ok, since nothing shows the backups are fresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupState {
    /// Snapshots listed; `latest`, `age_seconds` and `count` are set.
    Listed,
    /// The repository opened and holds no snapshot.
    NoSnapshots,
    /// The latest snapshot is dated in the future (clock skew): its age means nothing.
    FutureSnapshot,
    /// restic: wrong password or no key found; borg: wrong passphrase.
    WrongPassword,
    /// No password could be had: the password file or passcommand failed, or none was
    /// configured and the tool would have asked on a terminal.
    PasswordUnavailable,
    /// Nothing, or not a repository, at the declared location.
    RepositoryNotFound,
    /// The probing user may not read the repository (or its password file).
    PermissionDenied,
    /// borg refused access for a security question fleetdeck answers "no" to: the
    /// repository moved, or an unencrypted one is unknown to this user.
    AccessRefused,
    /// Another process holds the repository lock (the probe itself does not lock, so
    /// this is seen only with tools that lock anyway).
    Locked,
    /// The tool is not installed on the host (exit 127).
    ToolMissing,
    /// The command did not finish in time.
    Timeout,
    /// Any other failure: an unknown exit status, a signal, an unrecognised error.
    Failed,
    /// Exit 0, but the output is not the JSON expected (or was cut short).
    Unparsable,
}

impl BackupState {
    /// The severity of a state other than `Listed` (whose severity depends on age).
    pub fn severity(self) -> Severity {
        use BackupState::*;
        match self {
            Listed => Severity::Ok,
            NoSnapshots | WrongPassword | PasswordUnavailable | RepositoryNotFound
            | PermissionDenied | AccessRefused | ToolMissing => Severity::Critical,
            FutureSnapshot | Locked | Timeout | Failed | Unparsable => Severity::Unknown,
        }
    }
}

/// The backup signal of one repository, as `fleetdeck status --json` shows it under
/// `backups[]`. `latest` is RFC 3339 in UTC; `age_seconds` is `now - latest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    /// The repository's declared name.
    pub repo: String,
    pub kind: BackupKind,
    /// Where it is, with any password in a URL replaced by `***`.
    pub repository: String,
    #[serde(with = "crate::util::time::serde_rfc3339::option")]
    pub latest: Option<OffsetDateTime>,
    pub age_seconds: Option<i64>,
    /// Snapshots (restic) or archives (borg) in the repository.
    pub count: usize,
    /// restic's short id or borg's archive name of the latest snapshot.
    pub latest_id: Option<String>,
    /// restic: the host that made the latest snapshot (a repository may be shared, and
    /// another host's fresh snapshot does not make this one's backups fresh).
    pub latest_host: Option<String>,
    /// The newest snapshots (at most [`MAX_LISTED_SNAPSHOTS`]), newest first, as the tool
    /// reported them; empty when the repository could not be listed.
    pub snapshots: Vec<SnapshotEntry>,
    pub state: BackupState,
    pub severity: Severity,
    /// What went wrong, from the tool's own words (sanitized), or why the severity is
    /// not what the age alone says.
    pub error: Option<String>,
}

impl BackupReport {
    /// A report that measured nothing: `state` and why. For the fleet actor's own
    /// failures (`Timeout`, a channel that broke: `Failed`).
    pub fn failed(repo: &BackupRepo, state: BackupState, error: impl Into<String>) -> Self {
        BackupReport {
            repo: repo.name.clone(),
            kind: repo.kind,
            repository: redact_url_password(&repo.repository),
            latest: None,
            age_seconds: None,
            count: 0,
            latest_id: None,
            latest_host: None,
            snapshots: Vec::new(),
            state,
            severity: state.severity(),
            error: Some(error.into()),
        }
    }

    /// The command did not finish within `after`.
    pub fn timed_out(repo: &BackupRepo, after: std::time::Duration) -> Self {
        Self::failed(
            repo,
            BackupState::Timeout,
            format!(
                "no answer from {} within {}s",
                tool(repo.kind),
                after.as_secs()
            ),
        )
    }
}

/// How many snapshots a report lists (the newest ones): enough to see the rhythm of
/// the backups and spot a gap, small enough to keep every report light.
pub const MAX_LISTED_SNAPSHOTS: usize = 20;

/// One snapshot (restic) or archive (borg) in a report's list. Every text is the
/// tool's own, sanitized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotEntry {
    /// RFC 3339 UTC.
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub time: OffsetDateTime,
    /// restic's short id; the first 8 hex digits of borg's archive id.
    pub id: Option<String>,
    /// borg's archive name (restic snapshots have none).
    pub name: Option<String>,
    /// restic: the host that made it (borg's listing does not say).
    pub host: Option<String>,
    /// restic: the paths backed up (borg's listing does not say).
    pub paths: Vec<String>,
}

pub(super) fn not_json(tool: &str, text: &str) -> String {
    if text.trim().is_empty() {
        format!("{tool} printed nothing")
    } else {
        format!("{tool}'s output is not JSON: {}", excerpt(text))
    }
}

impl From<&ListedSnapshot> for SnapshotEntry {
    fn from(s: &ListedSnapshot) -> Self {
        SnapshotEntry {
            time: s.time.to_offset(time::UtcOffset::UTC),
            id: s.short_id.clone(),
            name: s.name.clone(),
            host: s.host.clone(),
            paths: s.paths.clone(),
        }
    }
}

/// The report for a repository that listed: severity by the age of the newest
/// snapshot (by instant, not by how the times sort as text).
pub(super) fn listed(
    repo: &BackupRepo,
    snapshots: Vec<ListedSnapshot>,
    now: OffsetDateTime,
    warning: Option<String>,
) -> BackupReport {
    let count = snapshots.len();
    let mut snapshots = snapshots;
    // Newest first by instant; of equal instants the one the tool listed last first
    // (as `max_by_key` would pick it).
    snapshots.reverse();
    snapshots.sort_by_key(|s| std::cmp::Reverse(s.time));
    let listed: Vec<SnapshotEntry> = snapshots
        .iter()
        .take(MAX_LISTED_SNAPSHOTS)
        .map(SnapshotEntry::from)
        .collect();
    let Some(latest) = snapshots.into_iter().next() else {
        let mut report = BackupReport::failed(
            repo,
            BackupState::NoSnapshots,
            "the repository holds no snapshot",
        );
        if let Some(w) = warning {
            report.error = Some(format!("the repository holds no snapshot; {w}"));
        }
        return report;
    };
    let age = (now - latest.time).whole_seconds();
    let (state, mut severity, mut error) = if age < -FUTURE_TOLERANCE_SECONDS {
        (
            BackupState::FutureSnapshot,
            Severity::Unknown,
            Some(format!(
                "the latest snapshot is dated {}s in the future: clock skew between this host \
                 and the one that made it?",
                -age
            )),
        )
    } else {
        (BackupState::Listed, age_severity(repo, age), None)
    };
    if let Some(w) = warning {
        severity = severity.max(Severity::Warning);
        error = Some(match error {
            Some(e) => format!("{e}; {w}"),
            None => w,
        });
    }
    BackupReport {
        repo: repo.name.clone(),
        kind: repo.kind,
        repository: redact_url_password(&repo.repository),
        latest: Some(latest.time.to_offset(time::UtcOffset::UTC)),
        age_seconds: Some(age),
        count,
        // What names a snapshot to each tool's user: restic's short id, borg's archive
        // name.
        latest_id: match repo.kind {
            BackupKind::Restic => latest.short_id,
            BackupKind::Borg => latest.name,
        },
        latest_host: latest.host,
        snapshots: listed,
        state,
        severity,
        error,
    }
}

/// Critical beyond `critical_hours`, warning beyond `warning_hours` (both strictly).
pub fn age_severity(repo: &BackupRepo, age_seconds: i64) -> Severity {
    let limit = |hours: u64| i64::try_from(hours.saturating_mul(3600)).unwrap_or(i64::MAX);
    if age_seconds > limit(repo.critical_hours) {
        Severity::Critical
    } else if age_seconds > limit(repo.warning_hours) {
        Severity::Warning
    } else {
        Severity::Ok
    }
}

/// `head: detail`, the detail being the end of the tool's stderr, sanitized.
pub(super) fn with_detail(head: &str, detail: &str) -> String {
    let detail = excerpt(detail);
    if detail.is_empty() {
        head.to_owned()
    } else {
        format!("{head}: {detail}")
    }
}

/// The last `MAX_ERROR_CHARS` characters of `text` on one line, sanitized.
fn excerpt(text: &str) -> String {
    sanitize::tail(sanitize::joined(text), MAX_ERROR_CHARS)
}

/// `rest:https://user:secret@host/` → `rest:https://user:***@host/`: a repository URL
/// may carry a password, which must not reach the console or its JSON.
pub fn redact_url_password(repository: &str) -> String {
    let Some(scheme_end) = repository.find("://") else {
        return sanitize::line(repository);
    };
    let rest = &repository[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let redacted = match authority.rfind('@') {
        Some(at) => match authority[..at].find(':') {
            Some(colon) => format!(
                "{}://{}:***{}",
                &repository[..scheme_end],
                &authority[..colon],
                &rest[at..]
            ),
            None => repository.to_owned(),
        },
        None => repository.to_owned(),
    };
    sanitize::line(&redacted)
}
