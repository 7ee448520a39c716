//! What a deploy or rollback reports: the steps as they happen ([`DeployEvent`]), and
//! each service's and host's result, including a run interrupted before this one.

use serde::Serialize;

use crate::core::deploy::lock::{Holder, JournalEntry};
use crate::core::deploy::plan::Change;
use crate::sanitize;

/// A step, as front ends show it while it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployEvent {
    pub host: String,
    pub app: String,
    pub service: String,
    pub step: String,
    pub detail: String,
}

impl DeployEvent {
    /// What the step is about: `web` (an app's main service or the app itself),
    /// `web/db`, or nothing for a host-wide step.
    pub fn subject(&self) -> String {
        match (self.app.as_str(), self.service.as_str()) {
            ("", _) => String::new(),
            (app, "") => app.to_owned(),
            (app, service) if app == service => app.to_owned(),
            (app, service) => format!("{app}/{service}"),
        }
    }

    /// One line of progress for a terminal: `client-gamma web: gate web`.
    pub fn line(&self) -> String {
        let subject = self.subject();
        let sep = if subject.is_empty() { "" } else { " " };
        sanitize::line(&format!(
            "{}{sep}{subject}: {} {}",
            self.host, self.step, self.detail
        ))
    }
}

pub type Events = tokio::sync::mpsc::UnboundedSender<DeployEvent>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceResult {
    Deployed,
    Started,
    Unchanged,
    /// Its gate failed (or a later service of its app failed) and the previous
    /// revision runs again.
    RolledBack,
    /// Failed, and no previous revision could take over.
    Failed,
    /// Not attempted: an earlier step on this host failed.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceOutcome {
    pub app: String,
    pub service: String,
    pub container: String,
    pub change: Change,
    pub from_image: Option<String>,
    pub to_image: String,
    pub result: ServiceResult,
    pub gate_seconds: Option<f64>,
    pub error: Option<String>,
    /// The new container's last log lines when its gate failed.
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostResult {
    Unchanged,
    Deployed,
    RolledBack,
    Failed,
    /// Another run holds the host's lock.
    Locked,
    Unreachable,
    /// Read-only mode.
    Refused,
    /// Stopped by a signal (Ctrl-C, SIGTERM, SIGHUP) at a safe point: the switch-over
    /// under way was rolled back, what had not started was skipped, the lock released.
    Interrupted,
}

/// A run that was interrupted before this one, as its lock recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interrupted {
    pub holder: Option<String>,
    pub steps: Vec<String>,
    /// What this run did first about it: services that run had switched over without
    /// their health gate passing, returned to their previous revision (and then
    /// deployed again, gate included, if this run's plan still wants them changed).
    pub resumed: Vec<String>,
    /// The journal itself, for the resume.
    #[serde(skip)]
    pub journal: Vec<JournalEntry>,
}

impl Interrupted {
    pub fn from_lock(holder: Option<Holder>, journal: Vec<JournalEntry>) -> Interrupted {
        Interrupted {
            holder: holder.map(|h| h.describe()),
            steps: journal.iter().map(JournalEntry::describe).collect(),
            resumed: vec![],
            journal,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostOutcome {
    pub name: String,
    pub result: HostResult,
    pub error: Option<String>,
    pub interrupted: Option<Interrupted>,
    pub services: Vec<ServiceOutcome>,
    pub duration_seconds: f64,
}

impl HostOutcome {
    pub fn new(name: &str, result: HostResult, error: Option<String>) -> HostOutcome {
        HostOutcome {
            name: name.to_owned(),
            result,
            error,
            interrupted: None,
            services: vec![],
            duration_seconds: 0.0,
        }
    }
}
