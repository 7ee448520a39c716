//! The per-host deploy lock, its journal, and the host-side audit log.
//!
//! The lock is a directory, `STATE_DIR/deploy.lock`, made with `mkdir` (atomic on
//! every filesystem a state directory lives on). Inside: `holder.json` (who, where,
//! which pid, since when, why) and `journal`, one JSON line per step. A finished run
//! keeps its journal as `STATE_DIR/last-deploy.journal` and removes the lock; a run
//! that was killed leaves both behind, so the next one can say what was interrupted.
//!
//! A lock is stale only when fleetdeck can prove it: the holder ran on this machine
//! and its process is gone. A lock from another machine is never broken silently —
//! that operator may be mid-deploy — only with `--break-lock`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::shell::HostShell;
use crate::audit::{self, AuditRecord};
use crate::sanitize;
use crate::util::shell::quote;

const LOCK: &str = "deploy.lock";
const MARK_JOURNAL: &str = "---fleetdeck-journal---";

/// Who holds a host's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `user@machine`.
    pub operator: String,
    /// The machine fleetdeck ran on (to tell whether its pid can be checked here).
    pub machine: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub since: String,
    /// `deploy`, `rollback`, …
    pub action: String,
    pub reason: Option<String>,
    /// Unique per run: release only removes the lock this run made.
    pub id: String,
}

impl Holder {
    /// This process, about to do `action`.
    pub fn this_process(action: &str, reason: Option<&str>) -> Holder {
        Holder {
            operator: audit::local_operator(),
            machine: audit::local_hostname().unwrap_or_else(|| "unknown-host".to_owned()),
            pid: std::process::id(),
            since: crate::util::time::now_rfc3339(),
            action: action.to_owned(),
            reason: reason.map(str::to_owned),
            id: audit::new_action_id(),
        }
    }

    /// One line for people: `deploy by ops@laptop (pid 4242) since …: "why"`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} by {} (pid {} on {}) since {}",
            self.action, self.operator, self.pid, self.machine, self.since
        );
        if let Some(reason) = &self.reason {
            text.push_str(&format!(": {reason:?}"));
        }
        sanitize::line(&text)
    }

    /// Provably dead: it ran on this machine and no fleetdeck process has its pid.
    fn is_stale_here(&self) -> bool {
        self.liveness() == Liveness::Gone
    }

    /// Whether the holder still runs, as far as this machine can tell.
    pub fn liveness(&self) -> Liveness {
        let here = audit::local_hostname().unwrap_or_default();
        if self.machine != here {
            return Liveness::Unknown;
        }
        if self.pid == std::process::id() {
            return Liveness::Running;
        }
        match std::fs::read_to_string(format!("/proc/{}/comm", self.pid)) {
            Ok(comm) if comm.trim().starts_with("fleetdeck") => Liveness::Running,
            // A live pid that is not fleetdeck was reused by the system.
            _ => Liveness::Gone,
        }
    }

    /// How long ago `since` was, in words (`4 min`), when it parses.
    fn age(&self) -> Option<String> {
        let since =
            OffsetDateTime::parse(&self.since, &time::format_description::well_known::Rfc3339)
                .ok()?;
        let secs = (OffsetDateTime::now_utc() - since).whole_seconds().max(0);
        Some(match secs {
            0..120 => format!("{secs} s"),
            120..7200 => format!("{} min", secs / 60),
            _ => format!("{} h", secs / 3600),
        })
    }

    /// The directory name an interrupted run's lock is kept under:
    /// `interrupted-TIME-PID`, its own start time (`20261123T100000Z`) and pid.
    fn kept_name(&self) -> String {
        let time: String = self
            .since
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        format!("interrupted-{time}-{}", self.pid)
    }
}

/// Whether a lock's holder is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// On this machine, and its process is there.
    Running,
    /// On this machine, and its process is gone: the lock is stale.
    Gone,
    /// On another machine: it may be running.
    Unknown,
}

/// One step, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub time: String,
    pub app: String,
    pub service: String,
    pub step: String,
    pub detail: String,
    /// The configuration hash of the revision a `create` step brings up: how a
    /// resume tells the new revision from the previous one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

impl JournalEntry {
    pub fn describe(&self) -> String {
        sanitize::line(&format!(
            "{} {}/{} {}: {}",
            self.time, self.app, self.service, self.step, self.detail
        ))
    }
}

/// Why the lock was not taken.
#[derive(Debug, Clone)]
pub enum LockError {
    /// Someone else (alive, or on another machine) holds it.
    Held {
        holder: Option<Holder>,
        journal: Vec<JournalEntry>,
    },
    /// The state directory could not be used.
    Failed(String),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held {
                holder: Some(h),
                journal,
            } => {
                let age = h.age().map(|a| format!(", {a} ago")).unwrap_or_default();
                let at = journal
                    .last()
                    .map(|e| sanitize::line(&format!(", now at `{} {}`", e.step, e.detail)))
                    .unwrap_or_default();
                match h.liveness() {
                    Liveness::Running => write!(
                        f,
                        "locked: another {} is running on this host: {}{age}{at} (wait for \
                         it to finish; --break-lock only if that process is really gone)",
                        sanitize::line(&h.action),
                        h.describe()
                    ),
                    _ => write!(
                        f,
                        "locked: {}{age}{at} (on another machine: it may still be running; \
                         if that run is really gone, pass --break-lock)",
                        h.describe()
                    ),
                }
            }
            LockError::Held { holder: None, .. } => write!(
                f,
                "locked by a run whose holder file cannot be read (if it is really gone, pass --break-lock)"
            ),
            LockError::Failed(e) => write!(f, "cannot take the deploy lock: {e}"),
        }
    }
}

/// A lock this run holds.
pub struct HostLock {
    shell: HostShell,
    dir: String,
    holder: Holder,
}

/// What taking the lock found.
pub struct Acquired {
    pub lock: HostLock,
    /// A previous run that was interrupted (or broken with --break-lock): who, and the
    /// steps it had journalled.
    pub interrupted: Option<(Option<Holder>, Vec<JournalEntry>)>,
}

fn parse_held(stdout: &str) -> (Option<Holder>, Vec<JournalEntry>) {
    let (holder, journal) = stdout.split_once(MARK_JOURNAL).unwrap_or((stdout, ""));
    let holder = serde_json::from_str(holder.trim()).ok();
    let journal = journal
        .lines()
        .filter_map(|l| serde_json::from_str(l.trim()).ok())
        .collect();
    (holder, journal)
}

/// Takes `STATE_DIR/deploy.lock` on the host. A stale lock (see the module docs) is
/// taken over and reported; `break_lock` takes over any lock.
pub async fn acquire(
    shell: &HostShell,
    state_dir: &str,
    holder: Holder,
    break_lock: bool,
) -> Result<Acquired, LockError> {
    let json = serde_json::to_vec(&holder).map_err(|e| LockError::Failed(e.to_string()))?;
    let d = quote(state_dir);
    let script = format!(
        "umask 077; mkdir -p {d} || exit 2; \
         if mkdir {d}/{LOCK} 2>/dev/null; then cat > {d}/{LOCK}/holder.json; echo ACQUIRED; \
         else echo HELD; cat {d}/{LOCK}/holder.json 2>/dev/null; echo; echo {MARK_JOURNAL}; \
         cat {d}/{LOCK}/journal 2>/dev/null; fi; exit 0"
    );
    let out = shell
        .check("making the state directory", &script, Some(&json))
        .await
        .map_err(LockError::Failed)?;
    let Some(rest) = out.stdout.strip_prefix("HELD\n") else {
        return Ok(Acquired {
            lock: HostLock {
                shell: shell.clone(),
                dir: state_dir.to_owned(),
                holder,
            },
            interrupted: None,
        });
    };
    let (previous, journal) = parse_held(rest);
    let stale = previous.as_ref().is_some_and(Holder::is_stale_here);
    if !(stale || break_lock) {
        return Err(LockError::Held {
            holder: previous,
            journal,
        });
    }
    // Keep the interrupted run's files for the post-mortem, then lock afresh. The
    // rename is atomic: of two runs taking over at once, one fails here.
    // Kept under the interrupted run's own start time and pid (a holder that cannot
    // be read: the time of the takeover).
    let kept = previous.as_ref().map_or_else(
        || {
            format!(
                "interrupted-{}-unknown",
                OffsetDateTime::now_utc().unix_timestamp()
            )
        },
        Holder::kept_name,
    );
    let kept = quote(&format!("{state_dir}/{kept}"));
    let takeover = format!(
        "umask 077; k={kept}; [ -e \"$k\" ] && k=\"$k-$$\"; \
         mv {d}/{LOCK} \"$k\" && mkdir {d}/{LOCK} && cat > {d}/{LOCK}/holder.json"
    );
    shell
        .check("taking over the stale lock", &takeover, Some(&json))
        .await
        .map_err(LockError::Failed)?;
    Ok(Acquired {
        lock: HostLock {
            shell: shell.clone(),
            dir: state_dir.to_owned(),
            holder,
        },
        interrupted: Some((previous, journal)),
    })
}

impl HostLock {
    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    /// Appends one step to the journal. A journal that cannot be written is an
    /// error: without it, an interruption could not be reported.
    pub async fn journal(
        &self,
        app: &str,
        service: &str,
        step: &str,
        detail: &str,
    ) -> Result<(), String> {
        self.journal_revision(app, service, step, detail, None)
            .await
    }

    /// As [`HostLock::journal`], with the configuration hash of the revision the step
    /// brings up.
    pub async fn journal_revision(
        &self,
        app: &str,
        service: &str,
        step: &str,
        detail: &str,
        revision: Option<&str>,
    ) -> Result<(), String> {
        let entry = JournalEntry {
            time: crate::util::time::now_rfc3339(),
            app: app.to_owned(),
            service: service.to_owned(),
            step: step.to_owned(),
            detail: sanitize::line(detail),
            revision: revision.map(str::to_owned),
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let d = quote(&self.dir);
        self.shell
            .check(
                "writing the deploy journal",
                &format!("umask 077; cat >> {d}/{LOCK}/journal"),
                Some(&line),
            )
            .await
            .map(drop)
    }

    /// Removes the lock if it is still ours, keeping its journal as
    /// `last-deploy.journal`.
    pub async fn release(self) -> Result<(), String> {
        let d = quote(&self.dir);
        let id = quote(&self.holder.id);
        let script = format!(
            "grep -qF {id} {d}/{LOCK}/holder.json || exit 0; \
             if [ -f {d}/{LOCK}/journal ]; then mv {d}/{LOCK}/journal {d}/last-deploy.journal; fi; \
             rm -rf {d}/{LOCK}"
        );
        self.shell
            .check("removing the deploy lock", &script, None)
            .await
            .map(drop)
    }
}

/// Reads a host's lock without taking it: the holder and journal, if locked.
pub async fn inspect(
    shell: &HostShell,
    state_dir: &str,
) -> Result<Option<(Option<Holder>, Vec<JournalEntry>)>, String> {
    let d = quote(state_dir);
    let script = format!(
        "if [ -d {d}/{LOCK} ]; then echo HELD; cat {d}/{LOCK}/holder.json 2>/dev/null; echo; \
         echo {MARK_JOURNAL}; cat {d}/{LOCK}/journal 2>/dev/null; fi; exit 0"
    );
    let out = shell
        .check("reading the deploy lock", &script, None)
        .await?;
    Ok(out.stdout.strip_prefix("HELD\n").map(parse_held))
}

/// Appends an audit record to `STATE_DIR/audit.log` on the host.
pub async fn host_audit(
    shell: &HostShell,
    state_dir: &str,
    record: &AuditRecord,
) -> Result<(), String> {
    let mut line = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    line.push(b'\n');
    let d = quote(state_dir);
    shell
        .check(
            "writing the host's audit log",
            &format!("umask 077; mkdir -p {d} && cat >> {d}/audit.log"),
            Some(&line),
        )
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: u32, machine: &str) -> Holder {
        Holder {
            operator: "ops@elsewhere".into(),
            machine: machine.into(),
            pid,
            since: "2026-11-23T10:00:00Z".into(),
            action: "deploy".into(),
            reason: Some("release 1.1".into()),
            id: audit::new_action_id(),
        }
    }

    #[tokio::test]
    async fn a_lock_is_exclusive_journalled_and_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state").display().to_string();
        let shell = HostShell::Local;
        let first = acquire(&shell, &state, Holder::this_process("deploy", None), false)
            .await
            .expect("free lock");
        assert!(first.interrupted.is_none());
        first
            .lock
            .journal("web", "web", "create", "web.next from app:1.1")
            .await
            .expect("journal");

        // This process is alive: a second run is refused and told who holds it.
        match acquire(&shell, &state, Holder::this_process("deploy", None), false).await {
            Err(LockError::Held {
                holder: Some(h),
                journal,
            }) => {
                assert_eq!(h.pid, std::process::id());
                assert_eq!(journal.len(), 1);
                assert_eq!(journal[0].step, "create");
            }
            Err(other) => panic!("unexpected error: {other}"),
            Ok(_) => panic!("a held lock was taken"),
        }
        assert!(inspect(&shell, &state).await.expect("reads").is_some());
        first.lock.release().await.expect("release");
        assert!(inspect(&shell, &state).await.expect("reads").is_none());
        let kept = std::fs::read_to_string(dir.path().join("state/last-deploy.journal"))
            .expect("journal kept");
        assert!(kept.contains("web.next from app:1.1"));
    }

    #[tokio::test]
    async fn a_dead_local_holder_is_taken_over_and_a_remote_one_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().display().to_string();
        let shell = HostShell::Local;
        let here = audit::local_hostname().expect("hostname");
        // A pid that is not running (pid_max is below this on Linux).
        let gone = holder(4_194_304 + 7, &here);
        std::fs::create_dir(dir.path().join(LOCK)).expect("lock dir");
        std::fs::write(
            dir.path().join(LOCK).join("holder.json"),
            serde_json::to_vec(&gone).expect("json"),
        )
        .expect("holder");
        let taken = acquire(&shell, &state, Holder::this_process("deploy", None), false)
            .await
            .expect("stale lock taken over");
        let (previous, _) = taken.interrupted.expect("reported");
        assert_eq!(previous, Some(gone));
        taken.lock.release().await.expect("release");

        let remote = holder(1, "another-machine");
        std::fs::create_dir(dir.path().join(LOCK)).expect("lock dir");
        std::fs::write(
            dir.path().join(LOCK).join("holder.json"),
            serde_json::to_vec(&remote).expect("json"),
        )
        .expect("holder");
        let err = acquire(&shell, &state, Holder::this_process("deploy", None), false)
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("another-machine"), "{err}");
        assert!(err.to_string().contains("--break-lock"), "{err}");
        let broken = acquire(&shell, &state, Holder::this_process("deploy", None), true)
            .await
            .expect("--break-lock takes it");
        assert!(broken.interrupted.is_some());
    }

    #[tokio::test]
    async fn a_live_holder_is_reported_running_not_interrupted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().display().to_string();
        let shell = HostShell::Local;
        let first = acquire(&shell, &state, Holder::this_process("deploy", None), false)
            .await
            .expect("free lock");
        first
            .lock
            .journal("web", "web", "gate", "web")
            .await
            .expect("journal");
        let err = acquire(&shell, &state, Holder::this_process("deploy", None), false)
            .await
            .err()
            .expect("refused");
        let text = err.to_string();
        let me = first.lock.holder();
        for part in [
            "another deploy is running on this host".to_owned(),
            me.operator.clone(),
            format!("pid {}", me.pid),
            format!("on {}", me.machine),
            format!("since {}", me.since),
            "s ago".to_owned(),
            "now at `gate web`".to_owned(),
        ] {
            assert!(text.contains(&part), "{part:?} in {text}");
        }
        assert!(!text.contains("interrupted"), "{text}");
        first.lock.release().await.expect("release");
    }

    #[tokio::test]
    async fn a_taken_over_lock_is_kept_under_the_interrupted_runs_time_and_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().display().to_string();
        let here = audit::local_hostname().expect("hostname");
        let gone = holder(4_194_304 + 9, &here);
        std::fs::create_dir(dir.path().join(LOCK)).expect("lock dir");
        std::fs::write(
            dir.path().join(LOCK).join("holder.json"),
            serde_json::to_vec(&gone).expect("json"),
        )
        .expect("holder");
        let taken = acquire(
            &HostShell::Local,
            &state,
            Holder::this_process("deploy", None),
            false,
        )
        .await
        .expect("stale lock taken over");
        let kept = dir
            .path()
            .join(format!("interrupted-20261123T100000Z-{}", gone.pid));
        let holder_json = std::fs::read_to_string(kept.join("holder.json"))
            .unwrap_or_else(|e| panic!("{} kept: {e}", kept.display()));
        assert!(holder_json.contains("release 1.1"), "{holder_json}");
        taken.lock.release().await.expect("release");
    }
}
