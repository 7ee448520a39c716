//! The audit log: one JSON line per mutating action, appended before the action
//! (its intent) and after it (its result), Kamal-style — who did what, where, why,
//! and how it ended.
//!
//! The file is append-only in the strongest sense a user-owned file allows: opened
//! with `O_APPEND` for every line (so concurrent fleetdeck processes interleave whole
//! lines, and a rotated file is followed rather than written behind), created `0600`
//! with its directories `0700`, and each line is flushed to disk before the action it
//! announces is taken. A line that cannot be written stops the action: nothing is
//! changed unaudited.
//!
//! Fields (stable; times RFC 3339 UTC): `time`, `id` (the same for an action's intent
//! and result lines), `operator` (`user@hostname` of the machine running fleetdeck),
//! `host` (inventory name), `action`, `target`, `reason`, `result` (`intent`, `ok`,
//! `failed`, `refused`), `error`. Absent values are `null`, never missing.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::sanitize;

/// Longest `reason` or `error` kept in a line, in characters: a pasted stack trace
/// must not turn the audit log into a dump.
const MAX_TEXT_CHARS: usize = 1000;

/// How an action ended, or that it is about to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditResult {
    /// Written before the action: it was decided and is being attempted. An intent
    /// without a result line means fleetdeck stopped mid-way.
    Intent,
    Ok,
    Failed,
    /// Not attempted (read-only mode).
    Refused,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// RFC 3339, UTC.
    pub time: String,
    /// Pairs an intent with its result.
    pub id: String,
    pub operator: String,
    pub host: String,
    pub action: String,
    pub target: String,
    pub reason: Option<String>,
    pub result: AuditResult,
    pub error: Option<String>,
}

impl AuditRecord {
    /// Every text cleaned (error messages and names may come from a remote host, and
    /// someone will `cat` or `tail` this file on a terminal) and long texts shortened.
    fn sanitized(&self) -> AuditRecord {
        let short = |text: &str| {
            let clean = sanitize::line(text);
            match clean.char_indices().nth(MAX_TEXT_CHARS) {
                Some((cut, _)) => format!("{}…", &clean[..cut]),
                None => clean,
            }
        };
        AuditRecord {
            time: sanitize::line(&self.time),
            id: sanitize::line(&self.id),
            operator: sanitize::line(&self.operator),
            host: sanitize::line(&self.host),
            action: sanitize::line(&self.action),
            target: sanitize::line(&self.target),
            reason: self.reason.as_deref().map(short),
            result: self.result,
            error: self.error.as_deref().map(short),
        }
    }
}

/// Where audit lines go. Cheap to clone: it is a path; the file is opened per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `$XDG_STATE_HOME/fleetdeck/audit.log`.
    pub fn default_path() -> PathBuf {
        crate::paths::state_home()
            .join("fleetdeck")
            .join("audit.log")
    }

    /// The log at [`Self::default_path`].
    pub fn at_default_path() -> Self {
        Self::new(Self::default_path())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and flushes it to disk. Blocking: call it from a blocking
    /// context (`spawn_blocking`) in async code. Errors name the file.
    pub fn append(&self, record: &AuditRecord) -> io::Result<()> {
        let with_path = |e: io::Error| {
            io::Error::new(e.kind(), format!("audit log {}: {e}", self.path.display()))
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(with_path)?;
        }
        let mut line = serde_json::to_vec(&record.sanitized()).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .map_err(with_path)?;
        // One write of the whole line: with O_APPEND the kernel places it at the end
        // in one piece, even with other writers.
        file.write_all(&line).map_err(with_path)?;
        file.sync_data().map_err(with_path)
    }

    /// Whether a line could be appended now: the directories created and the file
    /// opened for appending (created empty if absent), nothing written. A run checks
    /// this before it touches a host, so an unwritable log stops it before its lock
    /// is taken; each intent line is still checked as it is written.
    pub fn check_writable(&self) -> io::Result<()> {
        let with_path = |e: io::Error| {
            io::Error::new(e.kind(), format!("audit log {}: {e}", self.path.display()))
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(with_path)?;
        }
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.path)
            .map(drop)
            .map_err(with_path)
    }

    /// Every line of the log at `path`, oldest first; unparsable lines are an error
    /// naming their line number.
    pub fn read(path: &Path) -> io::Result<Vec<AuditRecord>> {
        let file = std::fs::File::open(path)?;
        let mut records = Vec::new();
        for (number, line) in BufReader::new(file).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let record = serde_json::from_str(&line).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} line {}: {e}", path.display(), number + 1),
                )
            })?;
            records.push(record);
        }
        Ok(records)
    }
}

/// A fresh id for an action's pair of lines: unique per process and across processes
/// (time, pid, counter).
pub fn new_action_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:x}-{}-{n}", std::process::id())
}

/// `user@hostname` of the machine running fleetdeck: the account from the password
/// database (what the process really runs as, not what `$USER` claims), the host name
/// from the kernel.
pub fn local_operator() -> String {
    let user = crate::ssh::config::ResolveEnv::from_passwd()
        .map(|env| env.local_user)
        .filter(|u| !u.is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        // SAFETY: getuid has no preconditions and cannot fail.
        .unwrap_or_else(|| format!("uid{}", unsafe { libc::getuid() }));
    format!(
        "{user}@{}",
        local_hostname().unwrap_or_else(|| "unknown-host".to_owned())
    )
}

/// This machine's host name, from the kernel.
pub fn local_hostname() -> Option<String> {
    let mut buffer = [0u8; 256];
    // SAFETY: the pointer and length describe `buffer`, which gethostname may fill.
    let status = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if status != 0 {
        return None;
    }
    let len = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    let name = String::from_utf8_lossy(&buffer[..len]).into_owned();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn record(result: AuditResult) -> AuditRecord {
        AuditRecord {
            time: "2024-05-01T12:00:00Z".to_owned(),
            id: "1-2-3".to_owned(),
            operator: "ops@laptop".to_owned(),
            host: "client-alpha".to_owned(),
            action: "restart".to_owned(),
            target: "web".to_owned(),
            reason: Some("stuck after deploy".to_owned()),
            result,
            error: None,
        }
    }

    #[test]
    fn lines_are_appended_with_private_permissions_and_parents_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/fleetdeck/audit.log");
        let log = AuditLog::new(&path);
        log.append(&record(AuditResult::Intent)).expect("append");
        log.append(&record(AuditResult::Ok)).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2);
        assert_eq!(
            text.lines().next(),
            Some(
                r#"{"time":"2024-05-01T12:00:00Z","id":"1-2-3","operator":"ops@laptop","host":"client-alpha","action":"restart","target":"web","reason":"stuck after deploy","result":"intent","error":null}"#
            )
        );
        let records = AuditLog::read(&path).expect("parse");
        assert_eq!(records[1], record(AuditResult::Ok));
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("parent")), 0o700);
    }

    #[test]
    fn existing_lines_are_never_rewritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        std::fs::write(&path, "earlier line\n").expect("seed");
        AuditLog::new(&path)
            .append(&record(AuditResult::Refused))
            .expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.starts_with("earlier line\n{"), "{text}");
        assert!(text.contains(r#""result":"refused""#));
    }

    #[test]
    fn a_file_that_cannot_be_written_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory where the file should be: opening it for writing fails.
        let path = dir.path().join("audit.log");
        std::fs::create_dir(&path).expect("mkdir");
        let err = AuditLog::new(&path)
            .append(&record(AuditResult::Intent))
            .expect_err("must fail");
        assert!(err.to_string().contains("audit.log"), "{err}");
    }

    #[test]
    fn hostile_text_is_cleaned_and_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let mut hostile = record(AuditResult::Failed);
        hostile.target = "we\u{1b}[2Jb\u{9b}31m".to_owned();
        hostile.error = Some(format!("\u{1b}]0;title\u{7}{}", "e".repeat(5000)));
        hostile.reason = Some("line one\nline two".to_owned());
        AuditLog::new(&path).append(&hostile).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text.lines().count(),
            1,
            "a newline in a reason stays one line"
        );
        assert!(!text.contains('\u{1b}') && !text.contains('\u{9b}'));
        let back = &AuditLog::read(&path).expect("parse")[0];
        assert_eq!(back.target, "web");
        assert_eq!(back.reason.as_deref(), Some("line one line two"));
        let error = back.error.as_deref().expect("error");
        assert_eq!(error.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(error.starts_with("eee") && error.ends_with('…'));
    }

    #[test]
    fn operator_is_user_at_host_and_ids_are_unique() {
        let operator = local_operator();
        let (user, host) = operator.split_once('@').expect("user@host");
        assert!(!user.is_empty() && !host.is_empty(), "{operator}");
        assert_ne!(new_action_id(), new_action_id());
    }
}
