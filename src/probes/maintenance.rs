//! A host's maintenance window, as it is kept on the host itself
//! (`<fleetdeck_state_dir>/maintenance.json`), so that every operator and every
//! fleetdeck instance sees the same one. The file is remote text: it is parsed
//! strictly and every string in it is sanitized here, where it enters.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::sanitize;

/// The file's name under the host's `fleetdeck_state_dir`.
pub const FILE_NAME: &str = "maintenance.json";

/// The longest `by` and `reason` kept, in characters: a window is read every few
/// seconds by every instance, and shown on one line.
pub const MAX_TEXT_CHARS: usize = 200;

/// One maintenance window: who started it, when, why and until when. It ends by
/// itself at `until`; nothing needs to remove the file for that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// `user@machine` of whoever started it.
    pub by: String,
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub until: OffsetDateTime,
    pub reason: String,
}

impl Maintenance {
    /// Whether the window is open at `now` (it has not reached `until`).
    pub fn active_at(&self, now: OffsetDateTime) -> bool {
        self.started_at <= now && now < self.until
    }

    /// The file's content as the host stored it: `None` for an empty file (no
    /// window), the window with its text sanitized and shortened, or why it cannot
    /// be read (sanitized, one line).
    pub fn parse(text: &str) -> Result<Option<Maintenance>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let mut window: Maintenance = serde_json::from_str(text)
            .map_err(|e| sanitize::line(&format!("{FILE_NAME} cannot be read: {e}")))?;
        window.by = short(&sanitize::line(&window.by));
        window.reason = short(&sanitize::line(&window.reason));
        if window.until <= window.started_at {
            return Err(format!(
                "{FILE_NAME} ends ({}) before it starts ({})",
                crate::util::time::rfc3339(window.until),
                crate::util::time::rfc3339(window.started_at)
            ));
        }
        Ok(Some(window))
    }
}

/// The largest file read, in bytes: a window is a few hundred bytes; anything much
/// larger is not one of ours and is not read whole every 30 seconds.
pub const MAX_FILE_BYTES: usize = 16 * 1024;

/// How long reading the file may take on the host.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The path of the window's file under `state_dir`.
pub fn path(state_dir: &str) -> String {
    format!("{}/{FILE_NAME}", state_dir.trim_end_matches('/'))
}

/// The command that prints the file (at most one byte over [`MAX_FILE_BYTES`], so
/// that a larger one is told apart): nothing when there is no file (no window).
pub fn command(state_dir: &str) -> String {
    let f = crate::util::shell::quote(&path(state_dir));
    format!(
        "f={f}; [ -e \"$f\" ] || exit 0; head -c {} -- \"$f\"",
        MAX_FILE_BYTES + 1
    )
}

/// What [`command`] printed, as the window on the host: `Ok(None)` for no file;
/// an error naming the file when it cannot be read, is too large or garbled.
pub fn read(
    state_dir: &str,
    exit: Option<u32>,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<Option<Maintenance>, String> {
    let file = sanitize::line(&path(state_dir));
    if exit != Some(0) {
        let why = sanitize::line(String::from_utf8_lossy(stderr).trim());
        let code = exit.map_or("no exit status".to_owned(), |c| format!("exit status {c}"));
        return Err(if why.is_empty() {
            format!("{file} cannot be read ({code})")
        } else {
            format!("{file} cannot be read: {why} ({code})")
        });
    }
    if stdout.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{file} is larger than {} KiB: not a maintenance window",
            MAX_FILE_BYTES / 1024
        ));
    }
    let text = std::str::from_utf8(stdout)
        .map_err(|_| format!("{file} cannot be read: it is not UTF-8 text"))?;
    Maintenance::parse(text).map_err(|e| format!("{e} ({file})"))
}

fn short(text: &str) -> String {
    text.chars().take(MAX_TEXT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "/var/lib/fleetdeck";

    #[test]
    fn no_file_is_no_window_and_a_window_is_read_clean() {
        assert_eq!(read(DIR, Some(0), b"", b""), Ok(None));
        let text = br#"{"by":"ops@laptop\u001b[31m","started_at":"2026-11-23T10:00:00Z",
            "until":"2026-11-23T12:00:00Z","reason":"disk swap\nrm -rf /"}"#;
        let window = read(DIR, Some(0), text, b"")
            .expect("reads")
            .expect("a window");
        assert!(!window.by.contains('\u{1b}'), "{:?}", window.by);
        assert!(!window.reason.contains('\n'), "{:?}", window.reason);
        let at = |s: &str| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).expect("time")
        };
        assert!(window.active_at(at("2026-11-23T11:00:00Z")));
        assert!(!window.active_at(at("2026-11-23T12:00:00Z")));
    }

    #[test]
    fn a_garbled_unreadable_or_oversized_file_is_an_error_naming_it() {
        let garbled = read(DIR, Some(0), b"{not json", b"").expect_err("garbled");
        assert!(
            garbled.contains("/var/lib/fleetdeck/maintenance.json"),
            "{garbled}"
        );
        let denied = read(DIR, Some(1), b"", b"head: Permission denied\n").expect_err("denied");
        assert!(denied.contains("Permission denied"), "{denied}");
        assert!(denied.contains("maintenance.json"), "{denied}");
        let big = vec![b' '; MAX_FILE_BYTES + 1];
        let large = read(DIR, Some(0), &big, b"").expect_err("too large");
        assert!(large.contains("larger than 16 KiB"), "{large}");
        let backwards = br#"{"by":"a","started_at":"2026-11-23T12:00:00Z",
            "until":"2026-11-23T10:00:00Z","reason":"r"}"#;
        assert!(read(DIR, Some(0), backwards, b"").is_err());
    }

    #[test]
    fn the_command_reads_the_file_under_an_awkward_directory_or_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state dir 'x'");
        let state_dir = state.display().to_string();
        let run = || {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(command(&state_dir))
                .output()
                .expect("sh runs");
            let code = out.status.code().and_then(|c| u32::try_from(c).ok());
            read(&state_dir, code, &out.stdout, &out.stderr)
        };
        assert_eq!(run(), Ok(None), "no directory: no window");
        std::fs::create_dir(&state).expect("dir");
        assert_eq!(run(), Ok(None), "no file: no window");
        let text = r#"{"by":"a@b","started_at":"2026-11-23T10:00:00Z","until":"2026-11-23T12:00:00Z","reason":"r"}"#;
        std::fs::write(state.join(FILE_NAME), text).expect("write");
        assert_eq!(run().expect("reads").expect("window").by, "a@b");
        std::fs::write(state.join(FILE_NAME), vec![b' '; MAX_FILE_BYTES * 2]).expect("write");
        assert!(run().expect_err("too large").contains("larger than"));
    }
}
