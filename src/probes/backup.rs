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

// ---- Probing ---------------------------------------------------------------------
//
// The fleet actor runs `command(repo)` on the host (one exec channel) and hands the
// exit status and both output streams to `parse`. Everything below is pure.

use serde::Serializer;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Severity;
use crate::sanitize;

/// A generous bound for the probe's exec: restic against a remote repository lists
/// every snapshot file, which can take a while on a cold cache.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// restic prints about 400 bytes per snapshot, on one line; a repository with years of
/// hourly snapshots passes 1 MiB. Output cut short is unparsable (never "fresh"), so
/// give the exec at least this much room.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

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
    #[serde(serialize_with = "rfc3339_utc")]
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

fn rfc3339_utc<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => {
            let text = t
                .to_offset(time::UtcOffset::UTC)
                .format(&Rfc3339)
                .map_err(serde::ser::Error::custom)?;
            s.serialize_str(&text)
        }
        None => s.serialize_none(),
    }
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

fn tool(kind: BackupKind) -> &'static str {
    match kind {
        BackupKind::Restic => "restic",
        BackupKind::Borg => "borg",
    }
}

/// A declared value that cannot be put on a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnquotableValue(pub String);

impl std::fmt::Display for UnquotableValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cannot be passed to a shell (NUL byte or not UTF-8)",
            self.0
        )
    }
}

impl std::error::Error for UnquotableValue {}

fn quote(what: &str, value: &str) -> Result<String, UnquotableValue> {
    crate::util::shell::quote_if_needed(value).ok_or_else(|| UnquotableValue(what.to_owned()))
}

fn quote_path(what: &str, path: &std::path::Path) -> Result<String, UnquotableValue> {
    let s = path
        .to_str()
        .ok_or_else(|| UnquotableValue(what.to_owned()))?;
    quote(what, s)
}

/// The command line to run on the host for `repo`, for a POSIX shell.
pub fn command(repo: &BackupRepo) -> Result<String, UnquotableValue> {
    match repo.kind {
        BackupKind::Restic => restic_command(repo),
        BackupKind::Borg => borg_command(repo),
    }
}

/// `restic -r REPO [--password-file FILE] snapshots --json --no-lock </dev/null`.
///
/// `--no-lock` (a global flag since long before 0.14): listing needs no lock, and a
/// probe that locked would fail while `prune` holds an exclusive lock, and — if killed
/// by its timeout — leave a stale lock that stops the next `prune`. Without a password
/// file restic reads `RESTIC_PASSWORD_FILE` (or `_COMMAND`) from the host's
/// environment; stdin is /dev/null so that, failing those, restic's fallback to reading
/// the password from stdin ends at once ("an empty password is not a password") instead
/// of waiting on the open exec channel.
pub fn restic_command(repo: &BackupRepo) -> Result<String, UnquotableValue> {
    let mut cmd = format!("restic -r {}", quote("the repository", &repo.repository)?);
    if let Some(file) = &repo.password_file {
        cmd.push_str(" --password-file ");
        cmd.push_str(&quote_path("the password file", file)?);
    }
    cmd.push_str(" snapshots --json --no-lock </dev/null");
    Ok(cmd)
}

/// `borg list --json` with the environment that makes it safe to run unattended:
///
/// - `TZ=UTC0`: borg 1.x prints archive times in the local time of the borg process
///   *without an offset*; forcing UTC makes them unambiguous whatever the host's zone.
/// - `BORG_PASSCOMMAND='cat FILE'` when a password file is declared (borg splits it
///   with shlex, which reads POSIX quoting, so the path is quoted twice).
/// - `BORG_RELOCATED_REPO_ACCESS_IS_OK=no`, `BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no`:
///   a monitor must not acknowledge borg's security questions on the operator's
///   behalf (a "yes" is remembered); "no" makes borg fail fast, reported as
///   `access_refused`, instead of waiting for an answer.
/// - `BORG_CACHE_DIR` of its own and `--bypass-lock`: a running `borg create` holds the
///   repository lock and its user's cache lock for the whole backup; listing (read
///   only) with both avoided works during the nightly backup instead of timing out.
/// - `--log-json`: errors carry a stable `msgid` to classify by.
/// - stdin from /dev/null: without a passphrase borg would prompt and wait.
pub fn borg_command(repo: &BackupRepo) -> Result<String, UnquotableValue> {
    let mut cmd = String::new();
    if let Some(file) = &repo.password_file {
        let passcommand = format!("cat {}", quote_path("the password file", file)?);
        cmd.push_str("BORG_PASSCOMMAND=");
        cmd.push_str(&quote("the password file", &passcommand)?);
        cmd.push(' ');
    }
    cmd.push_str(
        "BORG_RELOCATED_REPO_ACCESS_IS_OK=no BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no \
         BORG_CACHE_DIR=\"$HOME/.cache/fleetdeck/borg-probe\" TZ=UTC0 \
         borg list --json --log-json --bypass-lock -- ",
    );
    cmd.push_str(&quote("the repository", &repo.repository)?);
    cmd.push_str(" </dev/null");
    Ok(cmd)
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

/// How many snapshots a report lists (the newest ones): enough to see the rhythm of
/// the backups and spot a gap, small enough to keep every report light.
pub const MAX_LISTED_SNAPSHOTS: usize = 20;

/// One snapshot (restic) or archive (borg) in a report's list. Every text is the
/// tool's own, sanitized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotEntry {
    /// RFC 3339 UTC.
    #[serde(serialize_with = "rfc3339_utc_required")]
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

fn rfc3339_utc_required<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    rfc3339_utc(&Some(*t), s)
}

/// One snapshot as the parsers keep it.
struct Snapshot {
    time: OffsetDateTime,
    /// restic's short id, borg's archive name (what `latest_id` reports).
    id: Option<String>,
    host: Option<String>,
    entry: SnapshotEntry,
}

/// `restic snapshots --json`: an array of `{time, hostname, paths, tags, id,
/// short_id, ...}`, `time` in RFC 3339 with nanoseconds and the offset of the machine
/// that made the snapshot.
#[derive(Deserialize)]
struct ResticSnapshot {
    time: String,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    short_id: Option<String>,
    #[serde(default)]
    paths: Vec<String>,
}

/// Reads `restic snapshots --json` output and restic's failures.
///
/// restic ≥ 0.17 documents exit codes 10 (no repository), 11 (lock failed) and 12
/// (wrong password); Debian's 0.14 exits 1 for all of them, so exit 1 is classified
/// by restic's messages (tests/fixtures/probes/restic holds the real ones).
pub fn parse_restic(
    repo: &BackupRepo,
    exit: Option<u32>,
    stdout: &[u8],
    stderr: &[u8],
    now: OffsetDateTime,
) -> BackupReport {
    let err_text = String::from_utf8_lossy(stderr);
    let state = match exit {
        None => {
            return BackupReport::failed(
                repo,
                BackupState::Failed,
                with_detail("restic ended without an exit status (killed?)", &err_text),
            );
        }
        Some(0) => {
            return match parse_restic_json(stdout) {
                Ok(snapshots) => listed(repo, snapshots, now, None),
                Err(why) => BackupReport::failed(repo, BackupState::Unparsable, why),
            };
        }
        Some(127) => BackupState::ToolMissing,
        Some(10) => BackupState::RepositoryNotFound,
        Some(11) => BackupState::Locked,
        Some(12) => BackupState::WrongPassword,
        Some(_) => classify_restic_stderr(&err_text),
    };
    let head = match (state, exit) {
        (BackupState::ToolMissing, _) => "restic is not installed (exit 127)".to_owned(),
        (_, Some(code)) => format!("restic failed (exit {code})"),
        (_, None) => "restic failed".to_owned(),
    };
    BackupReport::failed(repo, state, with_detail(&head, &err_text))
}

fn classify_restic_stderr(text: &str) -> BackupState {
    let lower = text.to_ascii_lowercase();
    if lower.contains("wrong password") {
        BackupState::WrongPassword
    } else if lower.contains("an empty password is not a password")
        || lower.contains("resolving password failed")
        || lower.contains("please specify repository password")
    {
        BackupState::PasswordUnavailable
    } else if lower.contains("is already locked") || lower.contains("unable to create lock") {
        BackupState::Locked
    } else if lower.contains("is there a repository at the following location")
        || lower.contains("repository does not exist")
    {
        BackupState::RepositoryNotFound
    } else if lower.contains("permission denied") {
        BackupState::PermissionDenied
    } else {
        BackupState::Failed
    }
}

fn parse_restic_json(stdout: &[u8]) -> Result<Vec<Snapshot>, String> {
    let text =
        std::str::from_utf8(stdout).map_err(|_| "restic's output is not UTF-8".to_owned())?;
    // The JSON is one line; anything restic might print around it is ignored.
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .ok_or_else(|| not_json("restic", text))?;
    let raw: Vec<ResticSnapshot> = serde_json::from_str(line).map_err(|e| {
        format!("restic's snapshot list is not the JSON expected ({e}); cut short?")
    })?;
    raw.into_iter()
        .map(|s| {
            let time = OffsetDateTime::parse(&s.time, &Rfc3339).map_err(|e| {
                format!(
                    "restic snapshot time {:?} is not RFC 3339: {e}",
                    sanitize::line(&s.time)
                )
            })?;
            let id = s
                .short_id
                .or_else(|| s.id.map(|i| i.chars().take(8).collect()))
                .map(|i| sanitize::line(&i));
            let host = s.hostname.map(|h| sanitize::line(&h));
            Ok(Snapshot {
                time,
                entry: SnapshotEntry {
                    time: time.to_offset(time::UtcOffset::UTC),
                    id: id.clone(),
                    name: None,
                    host: host.clone(),
                    paths: s.paths.iter().map(|p| sanitize::line(p)).collect(),
                },
                id,
                host,
            })
        })
        .collect()
}

fn not_json(tool: &str, text: &str) -> String {
    if text.trim().is_empty() {
        format!("{tool} printed nothing")
    } else {
        format!("{tool}'s output is not JSON: {}", excerpt(text))
    }
}

/// `borg list --json`: `{"archives": [{"name", "id", "start", "time"}, ...],
/// "repository": {...}, "encryption": {...}}`.
#[derive(Deserialize)]
struct BorgList {
    archives: Vec<BorgArchive>,
}

#[derive(Deserialize)]
struct BorgArchive {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    archive: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    time: Option<String>,
}

/// One line of `--log-json` stderr (log messages and the security questions).
#[derive(Deserialize)]
struct BorgLogLine {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    msgid: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    levelname: Option<String>,
}

/// Reads `borg list --json --log-json` output and borg's failures.
///
/// borg 1.2 exits 0 (ok), 1 (warning) or 2 (error) for everything; the cause is the
/// `msgid` of its JSON log lines (`PassphraseWrong`, `Repository.DoesNotExist`,
/// `LockTimeout`, ...), which borg keeps stable across versions (1.4's "modern" exit
/// codes are not needed). Times: see `borg_command` (run with `TZ=UTC0`); a time that
/// carries an offset (borg 2) is read with it.
pub fn parse_borg(
    repo: &BackupRepo,
    exit: Option<u32>,
    stdout: &[u8],
    stderr: &[u8],
    now: OffsetDateTime,
) -> BackupReport {
    let err_text = String::from_utf8_lossy(stderr);
    let log = BorgLog::read(&err_text);
    match exit {
        None => BackupReport::failed(
            repo,
            BackupState::Failed,
            with_detail(
                "borg ended without an exit status (killed?)",
                &log.errors_or(&err_text),
            ),
        ),
        Some(127) => BackupReport::failed(
            repo,
            BackupState::ToolMissing,
            with_detail("borg is not installed (exit 127)", &err_text),
        ),
        // 1 is borg's "finished with warnings": the listing is still good.
        Some(code @ (0 | 1)) => match parse_borg_json(stdout) {
            Ok(snapshots) => {
                let warning = (code == 1)
                    .then(|| with_detail("borg finished with warnings", &log.errors_or(&err_text)));
                listed(repo, snapshots, now, warning)
            }
            Err(why) => BackupReport::failed(repo, BackupState::Unparsable, why),
        },
        Some(code) => {
            let state = log.classify();
            BackupReport::failed(
                repo,
                state,
                with_detail(
                    &format!("borg failed (exit {code})"),
                    &log.errors_or(&err_text),
                ),
            )
        }
    }
}

/// What borg said on stderr with `--log-json`: message ids and the error texts.
struct BorgLog {
    msgids: Vec<String>,
    errors: Vec<String>,
    plain: String,
}

impl BorgLog {
    fn read(text: &str) -> Self {
        let mut log = BorgLog {
            msgids: Vec::new(),
            errors: Vec::new(),
            plain: String::new(),
        };
        for line in text.lines() {
            // A prompt without a newline can put a JSON object after other text.
            let json = line
                .find('{')
                .and_then(|at| serde_json::from_str::<BorgLogLine>(&line[at..]).ok());
            let Some(entry) = json else {
                log.plain.push_str(line);
                log.plain.push('\n');
                continue;
            };
            let is_error = matches!(entry.levelname.as_deref(), Some("ERROR" | "CRITICAL"));
            match entry.kind.as_deref() {
                // Only an error's id says why borg failed; a question answered "no"
                // ends the run, one answered otherwise does not.
                Some("log_message") if is_error => {
                    if let Some(id) = entry.msgid {
                        log.msgids.push(id);
                    }
                    if let Some(message) = entry.message {
                        log.errors.push(message.trim_end().to_owned());
                    }
                }
                Some("question_prompt") => {
                    if let Some(message) = entry.message {
                        log.errors.push(message.trim_end().to_owned());
                    }
                }
                Some("question_accepted_false") => log.msgids.push("question refused".to_owned()),
                _ => {}
            }
        }
        log
    }

    fn errors_or(&self, raw: &str) -> String {
        if self.errors.is_empty() {
            raw.to_owned()
        } else {
            self.errors.join("\n")
        }
    }

    fn classify(&self) -> BackupState {
        for id in &self.msgids {
            let state = match id.as_str() {
                "PassphraseWrong" => BackupState::WrongPassword,
                "PasscommandFailure" | "NoPassphraseFailure" | "PasswordRetriesExceeded" => {
                    BackupState::PasswordUnavailable
                }
                "Repository.DoesNotExist"
                | "Repository.InvalidRepository"
                | "Repository.ParentPathDoesNotExist" => BackupState::RepositoryNotFound,
                "LockTimeout" | "LockFailed" | "LockError" => BackupState::Locked,
                "Cache.RepositoryAccessAborted"
                | "Cache.CacheInitAbortedError"
                | "question refused" => BackupState::AccessRefused,
                _ => continue,
            };
            return state;
        }
        // Without --log-json (or an older borg): its plain messages.
        let text = format!("{}\n{}", self.plain, self.errors.join("\n")).to_ascii_lowercase();
        if text.contains("passphrase") && text.contains("is incorrect") {
            BackupState::WrongPassword
        } else if text.contains("can not acquire a passphrase") || text.contains("passcommand") {
            BackupState::PasswordUnavailable
        } else if text.contains("does not exist") || text.contains("is not a valid repository") {
            BackupState::RepositoryNotFound
        } else if text.contains("failed to create/acquire the lock") {
            BackupState::Locked
        } else if text.contains("permission denied") {
            BackupState::PermissionDenied
        } else {
            BackupState::Failed
        }
    }
}

fn parse_borg_json(stdout: &[u8]) -> Result<Vec<Snapshot>, String> {
    let text = std::str::from_utf8(stdout).map_err(|_| "borg's output is not UTF-8".to_owned())?;
    let start = text.find('{').ok_or_else(|| not_json("borg", text))?;
    let list: BorgList = serde_json::from_str(&text[start..])
        .map_err(|e| format!("borg's archive list is not the JSON expected ({e}); cut short?"))?;
    list.archives
        .into_iter()
        .map(|a| {
            let raw = a
                .start
                .or(a.time)
                .ok_or_else(|| "a borg archive has no start time".to_owned())?;
            let time = parse_borg_time(&raw).ok_or_else(|| {
                format!(
                    "borg archive time {:?} is not an ISO 8601 time",
                    sanitize::line(&raw)
                )
            })?;
            let name = a.name.or(a.archive).map(|n| sanitize::line(&n));
            Ok(Snapshot {
                time,
                entry: SnapshotEntry {
                    time: time.to_offset(time::UtcOffset::UTC),
                    id: a
                        .id
                        .map(|i| sanitize::line(&i.chars().take(8).collect::<String>())),
                    name: name.clone(),
                    host: None,
                    paths: Vec::new(),
                },
                id: name,
                host: None,
            })
        })
        .collect()
}

/// borg 1.x: `2024-03-01T10:00:00.000000`, local time of the borg process (UTC, as
/// the probe runs it with `TZ=UTC0`). An explicit offset is honoured.
fn parse_borg_time(raw: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Some(t);
    }
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    time::PrimitiveDateTime::parse(raw, format)
        .ok()
        .map(|t| t.assume_utc())
}

/// The report for a repository that listed: severity by the age of the newest
/// snapshot (by instant, not by how the times sort as text).
fn listed(
    repo: &BackupRepo,
    snapshots: Vec<Snapshot>,
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
        .map(|s| s.entry.clone())
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
        latest_id: latest.id,
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
fn with_detail(head: &str, detail: &str) -> String {
    let detail = excerpt(detail);
    if detail.is_empty() {
        head.to_owned()
    } else {
        format!("{head}: {detail}")
    }
}

/// The last `MAX_ERROR_CHARS` characters of `text` on one line, sanitized.
fn excerpt(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    let clean = sanitize::line(&joined);
    let chars = clean.chars().count();
    if chars <= MAX_ERROR_CHARS {
        clean
    } else {
        let tail: String = clean.chars().skip(chars - MAX_ERROR_CHARS).collect();
        format!("…{tail}")
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn repo(kind: BackupKind) -> BackupRepo {
        BackupRepo {
            name: "app-data".into(),
            kind,
            repository: "/srv/backup/repo".into(),
            password_file: Some("/etc/fleetdeck/restic-password".into()),
            paths: vec![],
            warning_hours: DEFAULT_WARNING_HOURS,
            critical_hours: DEFAULT_CRITICAL_HOURS,
        }
    }

    /// A fixture produced by tests/fixtures/probes/generate.sh with the real tool.
    macro_rules! fixture {
        ($tool:literal, $name:literal) => {{
            let exit: &str = include_str!(concat!(
                "../../tests/fixtures/probes/",
                $tool,
                "/",
                $name,
                ".exit"
            ));
            (
                Some(exit.trim().parse::<u32>().expect("fixture exit status")),
                &include_bytes!(concat!(
                    "../../tests/fixtures/probes/",
                    $tool,
                    "/",
                    $name,
                    ".stdout"
                ))[..],
                &include_bytes!(concat!(
                    "../../tests/fixtures/probes/",
                    $tool,
                    "/",
                    $name,
                    ".stderr"
                ))[..],
            )
        }};
    }

    fn restic_fixture(f: (Option<u32>, &[u8], &[u8]), now: OffsetDateTime) -> BackupReport {
        parse_restic(&repo(BackupKind::Restic), f.0, f.1, f.2, now)
    }

    fn borg_fixture(f: (Option<u32>, &[u8], &[u8]), now: OffsetDateTime) -> BackupReport {
        parse_borg(&repo(BackupKind::Borg), f.0, f.1, f.2, now)
    }

    const NOW: OffsetDateTime = datetime!(2024-03-03 12:00:00 UTC);

    #[test]
    fn restic_command_quotes_inventory_values_and_never_locks() {
        let mut r = repo(BackupKind::Restic);
        assert_eq!(
            restic_command(&r).unwrap(),
            "restic -r /srv/backup/repo --password-file /etc/fleetdeck/restic-password \
             snapshots --json --no-lock </dev/null"
        );
        r.repository = "/srv/it's here".into();
        r.password_file = None;
        assert_eq!(
            restic_command(&r).unwrap(),
            r"restic -r '/srv/it'\''s here' snapshots --json --no-lock </dev/null"
        );
        r.repository = "a\0b".into();
        assert!(restic_command(&r).is_err());
    }

    #[test]
    fn borg_command_quotes_the_passcommand_twice_and_forces_utc() {
        let mut r = repo(BackupKind::Borg);
        r.password_file = Some("/etc/my pass".into());
        let cmd = borg_command(&r).unwrap();
        assert!(
            cmd.starts_with(r"BORG_PASSCOMMAND='cat '\''/etc/my pass'\''' "),
            "{cmd}"
        );
        assert!(
            cmd.contains(
                " TZ=UTC0 borg list --json --log-json --bypass-lock -- /srv/backup/repo </dev/null"
            ),
            "{cmd}"
        );
        assert!(cmd.contains("BORG_RELOCATED_REPO_ACCESS_IS_OK=no"));
        r.password_file = None;
        assert!(!borg_command(&r).unwrap().contains("BORG_PASSCOMMAND"));
    }

    #[test]
    fn restic_snapshots_are_judged_by_the_newest_instant() {
        let report = restic_fixture(fixture!("restic", "ok"), NOW);
        assert_eq!(report.state, BackupState::Listed);
        assert_eq!(report.count, 3);
        // 2024-03-02 22:00 +01:00; the Tokyo snapshot sorts last as text but is older.
        assert_eq!(report.latest, Some(datetime!(2024-03-02 21:00:00 UTC)));
        assert_eq!(report.latest_host.as_deref(), Some("otherhost"));
        assert_eq!(report.age_seconds, Some(15 * 3600));
        assert_eq!(report.severity, Severity::Ok);
        assert_eq!(report.error, None);

        let later =
            |h: i64| restic_fixture(fixture!("restic", "ok"), NOW + time::Duration::hours(h));
        assert_eq!(
            later(11).severity,
            Severity::Ok,
            "26 h exactly is not past 26 h"
        );
        assert_eq!(later(12).severity, Severity::Warning);
        assert_eq!(later(33).severity, Severity::Warning, "48 h exactly");
        assert_eq!(later(34).severity, Severity::Critical);
    }

    #[test]
    fn the_snapshot_list_is_newest_first_with_what_the_tool_reported() {
        let report = restic_fixture(fixture!("restic", "ok"), NOW);
        let listed: Vec<(String, Option<&str>, Option<&str>)> = report
            .snapshots
            .iter()
            .map(|s| (s.time.to_string(), s.id.as_deref(), s.host.as_deref()))
            .collect();
        assert_eq!(
            listed,
            [
                (
                    datetime!(2024-03-02 21:00:00 UTC).to_string(),
                    Some("4c74455d"),
                    Some("otherhost")
                ),
                (
                    datetime!(2024-03-02 20:00:00 UTC).to_string(),
                    Some("76f8068d"),
                    Some("vm")
                ),
                (
                    datetime!(2024-03-01 10:00:00 UTC).to_string(),
                    Some("d1f564de"),
                    Some("vm")
                ),
            ]
        );
        assert_eq!(report.snapshots[0].paths, ["/tmp/fdprobe/data"]);
        assert_eq!(report.snapshots[0].name, None);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["snapshots"][0]["time"], "2024-03-02T21:00:00Z");
        assert_eq!(json["snapshots"][0]["id"], "4c74455d");

        let borg = borg_fixture(fixture!("borg", "ok"), NOW);
        let names: Vec<Option<&str>> = borg.snapshots.iter().map(|s| s.name.as_deref()).collect();
        assert_eq!(names, [Some("second"), Some("first")]);
        assert_eq!(borg.snapshots[0].id.as_deref(), Some("49836f03"));
        assert!(borg.snapshots[0].paths.is_empty());

        let failed = restic_fixture(fixture!("restic", "wrong_password"), NOW);
        assert!(failed.snapshots.is_empty());
    }

    #[test]
    fn the_snapshot_list_is_bounded_and_its_text_sanitized() {
        let many: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    r#"{{"time":"2024-03-01T{:02}:{:02}:00Z","paths":["/srv/\u001b[2Jdata"],"hostname":"h\u202eost","short_id":"{i:08x}"}}"#,
                    i / 60,
                    i % 60
                )
            })
            .collect();
        let stdout = format!("[{}]\n", many.join(","));
        let report = parse_restic(
            &repo(BackupKind::Restic),
            Some(0),
            stdout.as_bytes(),
            b"",
            NOW,
        );
        assert_eq!(report.count, 100);
        assert_eq!(report.snapshots.len(), MAX_LISTED_SNAPSHOTS);
        assert_eq!(report.snapshots[0].id.as_deref(), Some("00000063"));
        assert_eq!(report.snapshots[19].id.as_deref(), Some("00000050"));
        assert_eq!(report.latest_id.as_deref(), Some("00000063"));
        for entry in &report.snapshots {
            let text = format!("{:?}{:?}", entry.paths, entry.host);
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{202e}'),
                "{text}"
            );
        }
    }

    #[test]
    fn restic_time_keeps_nanoseconds() {
        let f = fixture!("restic", "now");
        // The one snapshot of this fixture was taken at the real time, e.g.
        // "2026-11-23T11:22:38.146472557Z": its text must come back unchanged.
        let text = std::str::from_utf8(f.1).unwrap();
        let at = text.find(r#""time":""#).unwrap() + 8;
        let written = &text[at..at + text[at..].find('"').unwrap()];
        let fraction = written.split('.').nth(1).expect("a fraction");
        assert!(fraction.len() > 4, "sub-microsecond digits: {written}");
        let report = restic_fixture(f, NOW);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["latest"], written);
        assert_eq!(
            report.state,
            BackupState::FutureSnapshot,
            "NOW is before it"
        );
        assert_eq!(report.severity, Severity::Unknown);
    }

    #[test]
    fn restic_failures_are_distinct_states_never_fresh() {
        let cases = [
            (
                fixture!("restic", "empty"),
                BackupState::NoSnapshots,
                Severity::Critical,
            ),
            (
                fixture!("restic", "wrong_password"),
                BackupState::WrongPassword,
                Severity::Critical,
            ),
            (
                fixture!("restic", "missing_repo"),
                BackupState::RepositoryNotFound,
                Severity::Critical,
            ),
            (
                fixture!("restic", "password_file_missing"),
                BackupState::PasswordUnavailable,
                Severity::Critical,
            ),
            (
                fixture!("restic", "no_password"),
                BackupState::PasswordUnavailable,
                Severity::Critical,
            ),
            (
                fixture!("restic", "locked"),
                BackupState::Locked,
                Severity::Unknown,
            ),
            (
                fixture!("restic", "not_installed"),
                BackupState::ToolMissing,
                Severity::Critical,
            ),
        ];
        for (i, (f, state, severity)) in cases.into_iter().enumerate() {
            let report = restic_fixture(f, NOW);
            assert_eq!(
                (report.state, report.severity),
                (state, severity),
                "case {i}: {report:?}"
            );
            assert_eq!(report.latest, None);
            assert!(report.error.is_some(), "case {i}");
        }
        let report = restic_fixture(fixture!("restic", "wrong_password"), NOW);
        assert_eq!(
            report.error.as_deref(),
            Some("restic failed (exit 1): Fatal: wrong password or no key found")
        );
        // The probe's --no-lock lists a repository another process holds locked.
        let report = restic_fixture(fixture!("restic", "locked_no_lock"), NOW);
        assert_eq!((report.state, report.count), (BackupState::Listed, 3));
    }

    #[test]
    fn restic_documented_exit_codes_and_unknown_ones() {
        let r = repo(BackupKind::Restic);
        let state = |exit: Option<u32>| parse_restic(&r, exit, b"", b"Fatal: something", NOW).state;
        // restic >= 0.17 (the messages differ; the code decides).
        assert_eq!(state(Some(10)), BackupState::RepositoryNotFound);
        assert_eq!(state(Some(11)), BackupState::Locked);
        assert_eq!(state(Some(12)), BackupState::WrongPassword);
        for exit in [Some(1), Some(2), Some(3), Some(130), Some(255), None] {
            let report = parse_restic(&r, exit, b"[]", b"Fatal: something", NOW);
            assert_eq!(report.state, BackupState::Failed, "{exit:?}");
            assert_eq!(report.severity, Severity::Unknown);
        }
        // Exit 0 with the listing cut short, or with something else entirely.
        let ok = include_bytes!("../../tests/fixtures/probes/restic/ok.stdout");
        for stdout in [
            &ok[..ok.len() / 2],
            b"",
            b"Fatal: x",
            b"{}",
            b"[{}]",
            b"\xff\xfe",
        ] {
            let report = parse_restic(&r, Some(0), stdout, b"", NOW);
            assert_eq!(report.state, BackupState::Unparsable, "{stdout:?}");
            assert_eq!(report.severity, Severity::Unknown);
        }
    }

    #[test]
    fn hostile_restic_output_is_a_failure_not_a_panic() {
        let r = repo(BackupKind::Restic);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let inputs: Vec<Vec<u8>> = vec![
            br#"[{"time":"99999-01-01T00:00:00Z"}]"#.to_vec(),
            br#"[{"time":"2024-13-01T00:00:00Z"}]"#.to_vec(),
            br#"[{"time":1e999}]"#.to_vec(),
            br#"[{"time":"2024-03-01T10:00:00Z","hostname":123}]"#.to_vec(),
            br#"[{"time":"2024-03-01T10:00:00+99:00"}]"#.to_vec(),
            deep.into_bytes(),
            vec![b'['; 1 << 16],
        ];
        for stdout in inputs {
            let report = parse_restic(&r, Some(0), &stdout, b"", NOW);
            assert_eq!(report.state, BackupState::Unparsable);
        }
        // Extreme but valid times give extreme ages, not overflow.
        for (time, severity) in [
            ("0001-01-01T00:00:00Z", Severity::Critical),
            ("9999-12-31T23:59:59.999999999Z", Severity::Unknown),
        ] {
            let stdout = format!(r#"[{{"time":"{time}"}}]"#);
            let report = parse_restic(&r, Some(0), stdout.as_bytes(), b"", NOW);
            assert_eq!(report.severity, severity, "{time}");
        }
        // Remote text is sanitized where it enters.
        let stdout =
            br#"[{"time":"2024-03-03T11:00:00Z","hostname":"evil\u001b]0;pwned\u0007host"}]"#;
        let report = parse_restic(&r, Some(0), stdout, b"", NOW);
        assert_eq!(report.latest_host.as_deref(), Some("evilhost"));
        let report = parse_restic(&r, Some(1), b"", b"Fatal: \x1b[2Jboom\x07", NOW);
        assert_eq!(
            report.error.as_deref(),
            Some(r"restic failed (exit 1): Fatal: boom\x07")
        );
    }

    #[test]
    fn thresholds_are_per_repository_and_never_overflow() {
        let mut r = repo(BackupKind::Restic);
        r.warning_hours = 1;
        r.critical_hours = 2;
        assert_eq!(age_severity(&r, 3600), Severity::Ok);
        assert_eq!(age_severity(&r, 3601), Severity::Warning);
        assert_eq!(age_severity(&r, 7201), Severity::Critical);
        r.warning_hours = u64::MAX;
        r.critical_hours = u64::MAX;
        assert_eq!(age_severity(&r, i64::MAX), Severity::Ok);
    }

    #[test]
    fn borg_times_without_offset_are_utc_because_the_probe_sets_tz() {
        let report = borg_fixture(fixture!("borg", "ok"), NOW);
        assert_eq!(report.state, BackupState::Listed);
        assert_eq!(report.count, 2);
        assert_eq!(report.latest, Some(datetime!(2024-03-02 21:00:00 UTC)));
        assert_eq!(report.latest_id.as_deref(), Some("second"));
        assert_eq!(report.age_seconds, Some(15 * 3600));
        // The same repository listed under TZ=Asia/Tokyo without TZ=UTC0: the times
        // shift by the zone's offset and nothing in the output says so.
        let shifted = borg_fixture(fixture!("borg", "ok_tokyo"), NOW);
        assert_eq!(shifted.latest, Some(datetime!(2024-03-03 06:00:00 UTC)));
        // A time with an offset (borg 2) is read with it.
        assert_eq!(
            parse_borg_time("2024-03-03T06:00:00.000000+09:00"),
            Some(datetime!(2024-03-02 21:00:00 UTC))
        );
        assert_eq!(
            parse_borg_time("2024-03-02T21:00:00"),
            Some(datetime!(2024-03-02 21:00:00 UTC))
        );
    }

    #[test]
    fn borg_failures_are_distinct_states() {
        let cases = [
            (fixture!("borg", "empty"), BackupState::NoSnapshots),
            (
                fixture!("borg", "wrong_passphrase"),
                BackupState::WrongPassword,
            ),
            (
                fixture!("borg", "missing_repo"),
                BackupState::RepositoryNotFound,
            ),
            (
                fixture!("borg", "invalid_repo"),
                BackupState::RepositoryNotFound,
            ),
            (
                fixture!("borg", "passcommand_failed"),
                BackupState::PasswordUnavailable,
            ),
            (
                fixture!("borg", "no_passphrase"),
                BackupState::PasswordUnavailable,
            ),
            (fixture!("borg", "relocated"), BackupState::AccessRefused),
            (
                fixture!("borg", "unknown_unencrypted"),
                BackupState::AccessRefused,
            ),
            (fixture!("borg", "lock_timeout"), BackupState::Locked),
            (fixture!("borg", "lock_timeout_cache"), BackupState::Locked),
            (fixture!("borg", "not_installed"), BackupState::ToolMissing),
        ];
        for (i, (f, state)) in cases.into_iter().enumerate() {
            let report = borg_fixture(f, NOW);
            assert_eq!(report.state, state, "case {i}: {report:?}");
            assert_eq!(report.severity, state.severity());
            assert_ne!(report.severity, Severity::Ok);
        }
        let report = borg_fixture(fixture!("borg", "wrong_passphrase"), NOW);
        assert_eq!(
            report.error.as_deref(),
            Some(
                "borg failed (exit 2): passphrase supplied in BORG_PASSPHRASE, by \
                 BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect."
            )
        );
        let report = borg_fixture(fixture!("borg", "relocated"), NOW);
        assert!(
            report
                .error
                .as_deref()
                .unwrap_or("")
                .contains("was previously located at"),
            "{report:?}"
        );
        // The probe's invocation lists while a `borg create` holds the locks.
        let report = borg_fixture(fixture!("borg", "locked_bypass"), NOW);
        assert_eq!((report.state, report.count), (BackupState::Listed, 2));
    }

    #[test]
    fn borg_warnings_and_unknown_failures() {
        let r = repo(BackupKind::Borg);
        let ok = include_bytes!("../../tests/fixtures/probes/borg/ok.stdout");
        let warn = br#"{"type": "log_message", "message": "some file vanished", "levelname": "WARNING", "msgid": null}"#;
        let report = parse_borg(&r, Some(1), ok, warn, NOW);
        assert_eq!(report.state, BackupState::Listed);
        assert_eq!(
            report.severity,
            Severity::Warning,
            "exit 1 is at least a warning"
        );
        for exit in [Some(2), Some(3), Some(74), None] {
            let report = parse_borg(&r, exit, ok, b"Remote: something odd", NOW);
            assert_eq!(report.state, BackupState::Failed, "{exit:?}");
            assert_eq!(report.severity, Severity::Unknown);
        }
        for stdout in [
            &ok[..ok.len() / 2],
            b"",
            b"{\"archives\": 3}",
            br#"{"archives":[{"name":"x"}]}"#,
            br#"{"archives":[{"start":"yesterday"}]}"#,
        ] {
            assert_eq!(
                parse_borg(&r, Some(0), stdout, b"", NOW).state,
                BackupState::Unparsable
            );
        }
    }

    #[test]
    fn report_json_has_the_documented_fields() {
        let report = restic_fixture(fixture!("restic", "ok"), NOW);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["repo"], "app-data");
        assert_eq!(json["kind"], "restic");
        assert_eq!(json["latest"], "2024-03-02T21:00:00Z");
        assert_eq!(json["age_seconds"], 15 * 3600);
        assert_eq!(json["count"], 3);
        assert_eq!(json["state"], "listed");
        assert_eq!(json["severity"], "ok");
        assert_eq!(json["error"], serde_json::Value::Null);
        let failed = serde_json::to_value(BackupReport::timed_out(
            &repo(BackupKind::Borg),
            std::time::Duration::from_secs(120),
        ))
        .unwrap();
        assert_eq!(failed["state"], "timeout");
        assert_eq!(failed["severity"], "unknown");
        assert_eq!(failed["latest"], serde_json::Value::Null);
    }

    #[test]
    fn passwords_in_repository_urls_are_redacted() {
        assert_eq!(
            redact_url_password("rest:https://user:s3cret@backup.example:8000/host1"),
            "rest:https://user:***@backup.example:8000/host1"
        );
        assert_eq!(
            redact_url_password("sftp:user@host:/srv/repo"),
            "sftp:user@host:/srv/repo"
        );
        assert_eq!(
            redact_url_password("s3:https://s3.example/bucket"),
            "s3:https://s3.example/bucket"
        );
        assert_eq!(
            redact_url_password("ssh://borg@host:2222/./repo"),
            "ssh://borg@host:2222/./repo"
        );
    }
}
