//! Starting and ending a host's maintenance window: the file
//! `<fleetdeck_state_dir>/maintenance.json` on the host itself (the JSON of
//! [`Maintenance`]), so that every operator and every fleetdeck instance reading the
//! host sees the same window. The console's key and `fleetdeck maintenance` both call
//! this and nothing else to do it.
//!
//! A start writes the file atomically (a temporary file in the same directory, then
//! `mv`), the window's text travelling on stdin, never on a command line; an end
//! removes it. The directory is made as the deploy lock makes it (`umask 077`, as the
//! SSH user). Each change is refused in read-only mode and leaves two audit lines
//! locally (intent, then result) and the result in the host's own audit log.

use std::time::Duration;

use futures_util::StreamExt as _;
use time::OffsetDateTime;

use super::Core;
use super::deploy::lock;
use super::deploy::shell::HostShell;
use crate::audit::{self, AuditRecord, AuditResult};
use crate::fleet::target::{Contexts, Target};
use crate::probes::maintenance::{self, Maintenance};
use crate::sanitize;
use crate::ssh::session::Session;
use crate::ssh::setup::SshOptions;

/// The longest window: a forgotten window silences a host's alerts for as long as it
/// lasts, so it must end by itself within a bounded time. Thirty days covers the
/// longest planned work this is for (an offboarding notice period, a hardware swap
/// waiting for parts) while keeping a forgotten window from hiding a host for good.
pub const MAX_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

/// The longest reason, in characters: what every reader keeps of it.
pub const MAX_REASON_CHARS: usize = maintenance::MAX_TEXT_CHARS;

/// How long connecting to one host may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Hosts worked on at the same time.
const PARALLEL_HOSTS: usize = 16;

/// What to do to a host's window. A start is only made by [`MaintenanceChange::start`],
/// which validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenanceChange {
    /// Open a window for `length` from now (replacing any window the host has).
    Start { length: Duration, reason: String },
    /// Remove the host's window, if it has one.
    End,
}

impl MaintenanceChange {
    /// A start, or why it cannot be one: `length` must be more than zero and at most
    /// [`MAX_WINDOW`]; `reason` non-empty, one line, at most [`MAX_REASON_CHARS`].
    pub fn start(length: Duration, reason: &str) -> Result<MaintenanceChange, String> {
        check_length(length)?;
        Ok(MaintenanceChange::Start {
            length,
            reason: check_reason(reason)?,
        })
    }

    /// The audit log's `action`: `maintenance-start`, `maintenance-end`.
    pub fn action(&self) -> &'static str {
        match self {
            MaintenanceChange::Start { .. } => "maintenance-start",
            MaintenanceChange::End => "maintenance-end",
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            MaintenanceChange::Start { reason, .. } => Some(reason),
            MaintenanceChange::End => None,
        }
    }
}

/// A window's length: more than zero, at most [`MAX_WINDOW`].
pub fn check_length(length: Duration) -> Result<(), String> {
    if length.is_zero() {
        return Err("the window's length must be more than zero (e.g. --for 2h)".to_owned());
    }
    if length > MAX_WINDOW {
        return Err(format!(
            "a window lasts at most {} days (asked: {}); start a new one when it ends",
            MAX_WINDOW.as_secs() / 86_400,
            length_text(length)
        ));
    }
    Ok(())
}

/// A reason as it may be stored: trimmed, non-empty, one line of printable text,
/// bounded.
pub fn check_reason(reason: &str) -> Result<String, String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(
            "a reason is needed (--reason \"…\"): it tells everyone why the host's \
                    problems are silenced"
                .to_owned(),
        );
    }
    if reason.chars().any(char::is_control) {
        return Err(
            "the reason must be one line of text (no newlines or control characters)".to_owned(),
        );
    }
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(format!(
            "the reason is {chars} characters long; at most {MAX_REASON_CHARS}"
        ));
    }
    Ok(reason.to_owned())
}

/// `2h`, `1d 3h`, `45 min`, `30 s`: a length for messages.
pub fn length_text(length: Duration) -> String {
    let secs = length.as_secs();
    match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        7200..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// Why a change was not made (or not completely).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenanceError {
    /// Read-only mode (the run's, or the host's `fleetdeck_read_only`): nothing was
    /// attempted; `why` says which rule.
    ReadOnly { why: &'static str },
    /// The intent line could not be written to the local audit log: not attempted.
    Audit(String),
    /// The host could not be reached: nothing was attempted there.
    Unreachable(String),
    /// The host's command failed (sanitized).
    Failed(String),
}

impl std::fmt::Display for MaintenanceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaintenanceError::ReadOnly { why } => {
                write!(f, "refused: {why}; nothing was changed")
            }
            MaintenanceError::Audit(e) => {
                write!(f, "not attempted: the audit log cannot be written ({e})")
            }
            MaintenanceError::Unreachable(e) => write!(f, "unreachable: {e}"),
            MaintenanceError::Failed(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for MaintenanceError {}

/// What a change did on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceOutcome {
    pub host: String,
    /// A start: the window now stored on the host.
    pub window: Option<Maintenance>,
    /// An end: whether the host had a window file to remove.
    pub removed: bool,
    /// The result line could not be written to the local audit log (the intent
    /// line was).
    pub audit_error: Option<String>,
}

/// One host's result, in the order the hosts were given.
pub type HostChangeResult = (String, Result<MaintenanceOutcome, MaintenanceError>);

impl Core {
    /// Makes `change` on `host` (its inventory name) over `shell`, in `state_dir`.
    /// `host_read_only` is the host's `fleetdeck_read_only`. Refused (and the
    /// refusal audited) in read-only mode; otherwise an intent line first (an
    /// unwritable local log stops it), the change, then the result line locally and
    /// in the host's own audit log.
    pub async fn change_maintenance(
        &self,
        host: &str,
        host_read_only: bool,
        shell: &HostShell,
        state_dir: &str,
        change: &MaintenanceChange,
    ) -> Result<MaintenanceOutcome, MaintenanceError> {
        if let Some(why) = self.refusal(host_read_only) {
            self.refuse_maintenance(host, change, why);
            return Err(MaintenanceError::ReadOnly { why });
        }
        let now = OffsetDateTime::now_utc();
        let window = match change {
            MaintenanceChange::Start { length, reason } => Some(Maintenance {
                by: self.operator.clone(),
                // Whole seconds (the times are read by people), never shorter than
                // asked: the start rounded down, the end up.
                started_at: whole_second(now, false),
                until: whole_second(now + *length, true),
                reason: reason.clone(),
            }),
            MaintenanceChange::End => None,
        };
        let intent = AuditRecord {
            time: crate::util::time::rfc3339(now),
            id: audit::new_action_id(),
            operator: self.operator.clone(),
            host: host.to_owned(),
            action: change.action().to_owned(),
            target: audit_target(state_dir, window.as_ref()),
            reason: change.reason().map(str::to_owned),
            result: AuditResult::Intent,
            error: None,
        };
        self.audit_line(intent.clone())
            .await
            .map_err(MaintenanceError::Audit)?;
        let done = match &window {
            Some(window) => write_window(shell, state_dir, window).await.map(|()| false),
            None => remove_window(shell, state_dir).await,
        };
        let result = AuditRecord {
            time: crate::util::time::now_rfc3339(),
            result: if done.is_ok() {
                AuditResult::Ok
            } else {
                AuditResult::Failed
            },
            error: done.as_ref().err().cloned(),
            ..intent
        };
        let audit_error = self.audit_line(result.clone()).await.err();
        if let Some(e) = &audit_error {
            tracing::error!(
                host,
                "the result of a maintenance change could not be audited: {e}"
            );
        }
        // The host's own log is best effort, as the deploy's: the local log is the
        // record.
        if let Err(e) = lock::host_audit(shell, state_dir, &result).await {
            tracing::warn!(host, "host audit log: {e}");
        }
        let removed = done.map_err(MaintenanceError::Failed)?;
        tracing::info!(host, action = change.action(), "maintenance window changed");
        Ok(MaintenanceOutcome {
            host: host.to_owned(),
            window,
            removed,
            audit_error,
        })
    }

    /// Which read-only rule refuses a change on a host, if any.
    fn refusal(&self, host_read_only: bool) -> Option<&'static str> {
        if self.read_only {
            Some(super::READ_ONLY_WHY)
        } else if host_read_only {
            Some(super::HOST_READ_ONLY_WHY)
        } else {
            None
        }
    }

    fn refuse_maintenance(&self, host: &str, change: &MaintenanceChange, why: &str) {
        tracing::warn!(
            host,
            action = change.action(),
            "read-only: maintenance change refused"
        );
        // Failing to record a refusal must not turn it into another error (it is
        // logged by `record_refusal`).
        let _ = self.record_refusal(
            host,
            change.action(),
            "maintenance window",
            change.reason(),
            why,
        );
    }

    async fn audit_line(&self, record: AuditRecord) -> Result<(), String> {
        let log = self.audit.clone();
        tokio::task::spawn_blocking(move || log.append(&record))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }

    /// Makes `change` on every target, [`PARALLEL_HOSTS`] at a time, each over its
    /// own SSH session (`contexts` prepared for the targets); one host failing
    /// (unreachable, refused) never stops the others. Results in the targets' order.
    pub async fn change_maintenance_all(
        &self,
        options: &SshOptions,
        contexts: &Contexts,
        targets: &[Target],
        change: &MaintenanceChange,
    ) -> Vec<HostChangeResult> {
        futures_util::stream::iter(targets)
            .map(|target| async move {
                let name = target.name.clone();
                // A read-only host is not even contacted.
                if let Some(why) = self.refusal(target.settings.read_only) {
                    self.refuse_maintenance(&name, change, why);
                    return (name, Err(MaintenanceError::ReadOnly { why }));
                }
                let session = match connect(options, contexts, target).await {
                    Ok(session) => session,
                    Err(e) => return (name, Err(MaintenanceError::Unreachable(e))),
                };
                let result = self
                    .change_maintenance(
                        &name,
                        target.settings.read_only,
                        &HostShell::Ssh(session),
                        &target.settings.state_dir,
                        change,
                    )
                    .await;
                (name, result)
            })
            .buffered(PARALLEL_HOSTS)
            .collect()
            .await
    }
}

/// Every target's window as its host stores it (`None`: no window), or why it could
/// not be read (`contexts` prepared for the targets); in the targets' order, [`PARALLEL_HOSTS`] at a time.
pub async fn read_all(
    options: &SshOptions,
    contexts: &Contexts,
    targets: &[Target],
) -> Vec<(String, Result<Option<Maintenance>, String>)> {
    futures_util::stream::iter(targets)
        .map(|target| async move {
            let read = async {
                let session = connect(options, contexts, target)
                    .await
                    .map_err(|e| format!("unreachable: {e}"))?;
                match crate::fleet::probe::maintenance(&session, &target.settings.state_dir).await {
                    crate::fleet::probe::Probed::Measured(read) => read,
                    crate::fleet::probe::Probed::LinkLost => {
                        Err("unreachable: the SSH session closed while reading".to_owned())
                    }
                }
            };
            (target.name.clone(), read.await)
        })
        .buffered(PARALLEL_HOSTS)
        .collect()
        .await
}

/// One SSH session to `target`, within [`CONNECT_TIMEOUT`].
async fn connect(
    options: &SshOptions,
    contexts: &Contexts,
    target: &Target,
) -> Result<Session, String> {
    let ctx = contexts
        .for_target(options, target)
        .ok_or_else(|| "no SSH configuration prepared for this host".to_owned())?;
    let resolved = target.resolve(&ctx);
    let connecting = Session::connect(&ctx, &resolved, target.settings.ssh.host_key_pin.clone());
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(e)) => Err(sanitize::line(&e.to_string())),
        Err(_) => Err(format!(
            "no connection within {} s",
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

/// `t` in whole seconds, rounded `up` or down.
fn whole_second(t: OffsetDateTime, up: bool) -> OffsetDateTime {
    let down = t.replace_nanosecond(0).unwrap_or(t);
    if up && down < t {
        down + time::Duration::SECOND
    } else {
        down
    }
}

/// The audit `target`: `maintenance window until T` for a start, `maintenance
/// window` for an end, with the file.
fn audit_target(state_dir: &str, window: Option<&Maintenance>) -> String {
    let file = maintenance::path(state_dir);
    match window {
        Some(w) => format!(
            "maintenance window until {} ({file})",
            crate::util::time::rfc3339(w.until)
        ),
        None => format!("maintenance window ({file})"),
    }
}

/// Writes `window` as the host's file, atomically: a temporary file beside it, then
/// `mv`. The JSON goes on stdin. A temporary file left by a write cut off (the session
/// lost mid-`cat`) is removed by a later write once it is ten minutes old: never one
/// that another instance may still be writing.
async fn write_window(
    shell: &HostShell,
    state_dir: &str,
    window: &Maintenance,
) -> Result<(), String> {
    let mut json = serde_json::to_vec(window).map_err(|e| e.to_string())?;
    json.push(b'\n');
    let d = crate::util::shell::quote(state_dir);
    let f = crate::util::shell::quote(&maintenance::path(state_dir));
    let script = format!(
        "umask 077; mkdir -p {d} || exit 2; \
         find {d} -maxdepth 1 -name '.{name}.*' -mmin +10 -exec rm -f {{}} + 2>/dev/null; \
         t=$(mktemp {d}/.{name}.XXXXXX) || exit 2; \
         if cat > \"$t\" && mv -f \"$t\" {f}; then exit 0; fi; rm -f \"$t\"; exit 1",
        name = maintenance::FILE_NAME
    );
    shell
        .check("writing the maintenance window", &script, Some(&json))
        .await
        .map(drop)
}

/// Removes the host's window file; whether there was one.
async fn remove_window(shell: &HostShell, state_dir: &str) -> Result<bool, String> {
    let f = crate::util::shell::quote(&maintenance::path(state_dir));
    let script =
        format!("f={f}; if [ -e \"$f\" ]; then rm -f \"$f\" && echo REMOVED; else echo NONE; fi");
    let out = shell
        .check("removing the maintenance window", &script, None)
        .await?;
    Ok(out.stdout.trim() == "REMOVED")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditLog;

    fn lines(log: &std::path::Path) -> Vec<AuditRecord> {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("an audit line"))
            .collect()
    }

    fn stored(state: &std::path::Path) -> Result<Option<Maintenance>, String> {
        let text = std::fs::read_to_string(state.join(maintenance::FILE_NAME)).unwrap_or_default();
        Maintenance::parse(&text)
    }

    #[test]
    fn a_start_is_validated() {
        let hour = Duration::from_secs(3600);
        assert!(MaintenanceChange::start(Duration::ZERO, "x").is_err());
        let long = MaintenanceChange::start(MAX_WINDOW + Duration::from_secs(1), "x");
        assert!(long.expect_err("too long").contains("at most 30 days"));
        assert!(MaintenanceChange::start(MAX_WINDOW, "x").is_ok());
        assert!(
            MaintenanceChange::start(hour, "  ")
                .expect_err("blank")
                .contains("reason")
        );
        assert!(
            MaintenanceChange::start(hour, "a\nb")
                .expect_err("two lines")
                .contains("one line")
        );
        assert!(MaintenanceChange::start(hour, "a\u{1b}[2J").is_err());
        let long_reason = "x".repeat(MAX_REASON_CHARS + 1);
        assert!(MaintenanceChange::start(hour, &long_reason).is_err());
        assert_eq!(
            MaintenanceChange::start(hour, " disk swap "),
            Ok(MaintenanceChange::Start {
                length: hour,
                reason: "disk swap".to_owned()
            })
        );
    }

    #[tokio::test]
    async fn a_write_cut_off_long_ago_is_swept_and_one_under_way_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("state dir");
        let stale = state.join(format!(".{}.AbC123", maintenance::FILE_NAME));
        let fresh = state.join(format!(".{}.XyZ789", maintenance::FILE_NAME));
        std::fs::write(&stale, "{\"by\":").expect("stale temp");
        std::fs::write(&fresh, "{\"by\":").expect("fresh temp");
        let old = std::time::SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .and_then(|f| f.set_modified(old))
            .expect("age the stale temp");
        let core = Core::new(false, AuditLog::new(dir.path().join("audit.log")));
        let change = MaintenanceChange::start(Duration::from_secs(600), "swap").expect("valid");
        core.change_maintenance(
            "alpha",
            false,
            &HostShell::Local,
            &state.display().to_string(),
            &change,
        )
        .await
        .expect("started");
        assert!(!stale.exists(), "a temp an hour old is a cut-off write");
        assert!(fresh.exists(), "another instance may be writing this one");
        assert!(stored(&state).expect("parses").is_some());
    }

    #[tokio::test]
    async fn start_writes_the_window_atomically_and_end_removes_it_both_audited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let state_dir = state.display().to_string();
        let log = dir.path().join("audit.log");
        let core = Core::new(false, AuditLog::new(&log));
        let change = MaintenanceChange::start(Duration::from_secs(7200), "disk swap; $(reboot)")
            .expect("valid");
        let before = OffsetDateTime::now_utc();
        let outcome = core
            .change_maintenance("alpha", false, &HostShell::Local, &state_dir, &change)
            .await
            .expect("started");
        let window = stored(&state).expect("parses").expect("a window");
        assert_eq!(Some(&window), outcome.window.as_ref());
        assert_eq!(window.by, core.operator);
        assert_eq!(window.reason, "disk swap; $(reboot)");
        assert!(window.active_at(before + time::Duration::minutes(119)));
        assert!(!window.active_at(before + time::Duration::minutes(121)));
        // Only the window is left in the directory: no temporary file.
        let names: Vec<String> = std::fs::read_dir(&state)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n != "audit.log")
            .collect();
        assert_eq!(names, vec![maintenance::FILE_NAME.to_owned()]);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&state).expect("dir").permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "made as the deploy lock's directory");

        let ended = core
            .change_maintenance(
                "alpha",
                false,
                &HostShell::Local,
                &state_dir,
                &MaintenanceChange::End,
            )
            .await
            .expect("ended");
        assert!(ended.removed);
        assert_eq!(stored(&state), Ok(None));
        let again = core
            .change_maintenance(
                "alpha",
                false,
                &HostShell::Local,
                &state_dir,
                &MaintenanceChange::End,
            )
            .await
            .expect("nothing to end is no error");
        assert!(!again.removed);

        let local = lines(&log);
        let results: Vec<(&str, AuditResult)> = local
            .iter()
            .map(|r| (r.action.as_str(), r.result))
            .collect();
        assert_eq!(
            results,
            vec![
                ("maintenance-start", AuditResult::Intent),
                ("maintenance-start", AuditResult::Ok),
                ("maintenance-end", AuditResult::Intent),
                ("maintenance-end", AuditResult::Ok),
                ("maintenance-end", AuditResult::Intent),
                ("maintenance-end", AuditResult::Ok),
            ]
        );
        assert_eq!(local[0].reason.as_deref(), Some("disk swap; $(reboot)"));
        assert!(local[0].target.contains("until"), "{}", local[0].target);
        let on_host = lines(&state.join("audit.log"));
        assert_eq!(on_host.len(), 3, "the host's log has each result");
        assert!(on_host.iter().all(|r| r.result == AuditResult::Ok));
    }

    #[tokio::test]
    async fn read_only_refuses_changes_nothing_and_records_the_refusal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let state_dir = state.display().to_string();
        let log = dir.path().join("audit.log");
        let change = MaintenanceChange::start(Duration::from_secs(60), "why").expect("valid");
        for (run_read_only, host_read_only, why) in [
            (true, false, crate::core::READ_ONLY_WHY),
            (false, true, crate::core::HOST_READ_ONLY_WHY),
        ] {
            let core = Core::new(run_read_only, AuditLog::new(&log));
            let refused = core
                .change_maintenance(
                    "alpha",
                    host_read_only,
                    &HostShell::Local,
                    &state_dir,
                    &change,
                )
                .await
                .expect_err("refused");
            assert_eq!(refused, MaintenanceError::ReadOnly { why });
            assert!(!state.exists(), "nothing written on the host");
        }
        let refusals = lines(&log);
        assert_eq!(refusals.len(), 2);
        assert!(refusals.iter().all(|r| r.result == AuditResult::Refused));
    }

    #[tokio::test]
    async fn a_failed_write_is_audited_as_failed() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The state directory is a file: nothing can be made under it.
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, "").expect("file");
        let log = dir.path().join("audit.log");
        let core = Core::new(false, AuditLog::new(&log));
        let change = MaintenanceChange::start(Duration::from_secs(60), "why").expect("valid");
        let error = core
            .change_maintenance(
                "alpha",
                false,
                &HostShell::Local,
                &blocked.display().to_string(),
                &change,
            )
            .await
            .expect_err("fails");
        assert!(matches!(error, MaintenanceError::Failed(_)), "{error:?}");
        assert!(
            error.to_string().contains("writing the maintenance window"),
            "{error}"
        );
        let results: Vec<AuditResult> = lines(&log).iter().map(|r| r.result).collect();
        assert_eq!(results, vec![AuditResult::Intent, AuditResult::Failed]);
    }
}
