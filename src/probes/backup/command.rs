//! The command lines that list a repository on the host: restic's and borg's, with
//! every declared value quoted for a POSIX shell and the environment that keeps the
//! tools from locking, prompting or answering security questions.

use super::{BackupKind, BackupRepo};

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
