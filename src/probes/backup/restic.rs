//! restic: `restic snapshots --json` read into snapshots, and restic's failures
//! (exit codes and messages) into report states.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::report::{listed, not_json, with_detail};
use super::{BackupRepo, BackupReport, BackupState, ListedSnapshot};
use crate::sanitize;

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
            return match parse_snapshots(stdout) {
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

/// Every snapshot `restic snapshots --json` printed, in its order (oldest first).
/// Anything restic prints around the JSON line is ignored.
pub fn parse_snapshots(stdout: &[u8]) -> Result<Vec<ListedSnapshot>, String> {
    let text =
        std::str::from_utf8(stdout).map_err(|_| "restic's output is not UTF-8".to_owned())?;
    // restic prints the JSON on one line; it is read from the first line starting with
    // `[` to the end of the JSON value (pretty-printed JSON reads too), and anything
    // restic might print around it is ignored.
    let mut offset = 0;
    let mut start = None;
    for line in text.split_inclusive('\n') {
        let blank = line.len() - line.trim_start().len();
        if line[blank..].starts_with('[') {
            start = Some(offset + blank);
            break;
        }
        offset += line.len();
    }
    let start = start.ok_or_else(|| not_json("restic", text))?;
    let mut json = serde_json::Deserializer::from_str(&text[start..]);
    let raw = Vec::<ResticSnapshot>::deserialize(&mut json).map_err(|e| {
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
            let short_id = s
                .short_id
                .or_else(|| s.id.as_ref().map(|i| i.chars().take(8).collect()))
                .map(|i| sanitize::line(&i));
            Ok(ListedSnapshot {
                time,
                short_id,
                full_id: s.id.map(|i| sanitize::line(&i)),
                name: None,
                host: s.hostname.map(|h| sanitize::line(&h)),
                paths: s.paths.iter().map(|p| sanitize::line(p)).collect(),
            })
        })
        .collect()
}
