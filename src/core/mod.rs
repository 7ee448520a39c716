//! The core: the one place that changes anything on a host. The console and the
//! headless CLI both call it, so read-only mode, confirmation and the audit trail hold
//! whichever front end asked. Today it starts, stops and restarts containers; the
//! deployment core (plan, apply, health gates, rollback, locks) grows here.

pub mod canary;
pub mod containers;
pub mod deploy;
pub mod drill;
pub mod interrupt;
pub mod maintenance;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::audit::{self, AuditLog};

pub use containers::{ActionOutcome, ConfirmedAction, ContainerAction, PendingAction, STOP_GRACE};

/// Who is acting and under which rules. Cheap to clone; holds no connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Core {
    /// Refuse every mutation (`--read-only` or the config file for a whole run; the
    /// inventory's `fleetdeck_read_only` for one host, see [`Core::for_host`]).
    pub read_only: bool,
    pub audit: AuditLog,
    /// `user@hostname` written to every audit line.
    pub operator: String,
}

impl Core {
    /// A core acting as this machine's user (`user@hostname`), auditing to `audit`
    /// (normally [`AuditLog::at_default_path`]).
    pub fn new(read_only: bool, audit: AuditLog) -> Self {
        Self {
            read_only,
            audit,
            operator: audit::local_operator(),
        }
    }

    /// `Err(ReadOnly)` in read-only mode: for front ends to check before offering an
    /// action (the action itself checks again).
    pub fn ensure_writable(&self, what: &str) -> Result<(), CoreError> {
        if self.read_only {
            Err(CoreError::ReadOnly {
                action: what.to_owned(),
            })
        } else {
            Ok(())
        }
    }

    /// Records a mutation refused by read-only mode: one `refused` line in the local
    /// audit log (nothing on the host: a refusal writes nothing there). `why` says
    /// which rule refused it. A log that cannot be written must not turn the refusal
    /// into another error: the failure is logged and returned for the caller to show
    /// if it wants. Blocking (one small append).
    pub fn record_refusal(
        &self,
        host: &str,
        action: &str,
        target: &str,
        reason: Option<&str>,
        why: &str,
    ) -> io::Result<()> {
        let record = audit::AuditRecord {
            time: crate::util::time::rfc3339(time::OffsetDateTime::now_utc()),
            id: audit::new_action_id(),
            operator: self.operator.clone(),
            host: host.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            reason: reason.map(str::to_owned),
            result: audit::AuditResult::Refused,
            error: Some(why.to_owned()),
        };
        self.audit.append(&record).inspect_err(|e| {
            tracing::warn!(host, action, target, "recording a refused action: {e}");
        })
    }
}

impl Core {
    /// A whole command refused by read-only mode before it contacts any host: one
    /// `refused` line per host it would have acted on (`what` is the `action` word,
    /// `target` what it was about). The message for the operator, saying whether the
    /// refusal was recorded.
    pub fn refuse_run(
        &self,
        hosts: &[String],
        action: &str,
        target: &str,
        reason: Option<&str>,
    ) -> String {
        let mut unrecorded = None;
        for host in hosts {
            if let Err(e) = self.record_refusal(host, action, target, reason, READ_ONLY_WHY) {
                unrecorded.get_or_insert(e);
            }
        }
        let refused = CoreError::ReadOnly {
            action: format!("{action} {target}"),
        };
        match unrecorded {
            None => format!("{refused}: nothing was changed (recorded in the audit log)"),
            Some(e) => {
                format!("{refused}: nothing was changed (not recorded in the audit log: {e})")
            }
        }
    }
}

/// What a refusal by the whole run's read-only mode says in the audit log.
pub const READ_ONLY_WHY: &str = "read-only mode (--read-only or read_only in config.yaml)";

/// What a refusal by a host's own read-only setting says in the audit log.
pub const HOST_READ_ONLY_WHY: &str = "fleetdeck_read_only is set for this host";

/// Why the core did not do (or finish) what it was asked.
#[derive(Debug)]
pub enum CoreError {
    /// Read-only mode: nothing was attempted.
    ReadOnly { action: String },
    /// The audit line announcing the action could not be written, so the action was
    /// not attempted.
    Audit { path: PathBuf, source: io::Error },
    /// The engine refused or failed the action; `message` is sanitized.
    Docker {
        status: Option<u16>,
        message: String,
    },
    /// No answer in time. The engine may still complete the action.
    Timeout { after: Duration },
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::ReadOnly { action } => {
                write!(f, "read-only mode: refusing to {action}")
            }
            CoreError::Audit { path, source } => write!(
                f,
                "not attempted: the audit log {} cannot be written ({source})",
                path.display()
            ),
            CoreError::Docker { message, .. } => f.write_str(message),
            CoreError::Timeout { after } => write!(
                f,
                "no answer from the engine after {} s; the action may still complete",
                after.as_secs()
            ),
        }
    }
}

impl std::error::Error for CoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CoreError::Audit { source, .. } => Some(source),
            _ => None,
        }
    }
}
