//! borg: `borg list --json` read into archives, and borg's failures (the message ids
//! of its `--log-json` lines, or its plain messages) into report states.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::report::{listed, not_json, with_detail};
use super::{BackupRepo, BackupReport, BackupState, ListedSnapshot};
use crate::sanitize;

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
        Some(code @ (0 | 1)) => match parse_archives(stdout) {
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

/// Every archive `borg list --json` printed, in its order (oldest first).
pub fn parse_archives(stdout: &[u8]) -> Result<Vec<ListedSnapshot>, String> {
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
            Ok(ListedSnapshot {
                time,
                short_id: a
                    .id
                    .as_ref()
                    .map(|i| sanitize::line(&i.chars().take(8).collect::<String>())),
                full_id: a.id.map(|i| sanitize::line(&i)),
                name: a.name.or(a.archive).map(|n| sanitize::line(&n)),
                host: None,
                paths: Vec::new(),
            })
        })
        .collect()
}

/// borg 1.x: `2024-03-01T10:00:00.000000`, local time of the borg process (UTC, as
/// the probe and the drill run it with `TZ=UTC0`). An explicit offset is honoured.
pub(super) fn parse_borg_time(raw: &str) -> Option<OffsetDateTime> {
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
