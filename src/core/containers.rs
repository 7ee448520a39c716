//! Starting, stopping and restarting a container: the console's container view and
//! (later) the CLI call this and nothing else to do it.
//!
//! A front end first builds a [`PendingAction`], which says what will happen (the
//! confirmation dialog shows it); only [`PendingAction::confirm`] turns it into the
//! [`ConfirmedAction`] that [`Core::container_action`] accepts. `ConfirmedAction` has no
//! public constructor and is not `Clone`, so an unconfirmed action cannot be run and
//! one confirmation runs once. The headless CLI's `--yes` calls `confirm` itself,
//! visibly, at the call site.

use std::fmt;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::HealthStatusEnum;
use bollard::query_parameters::{
    RestartContainerOptions, StartContainerOptions, StopContainerOptions,
};
use time::OffsetDateTime;

use super::{Core, CoreError};
use crate::audit::{self, AuditLog, AuditRecord, AuditResult};
use crate::sanitize;

/// How long a stopping container gets between its stop signal and SIGKILL — Docker's
/// own default, stated explicitly so the dialog can say it.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// On top of [`STOP_GRACE`]: how long the engine may take to answer before the core
/// gives up waiting (a hung engine must not hang the console).
const ANSWER_MARGIN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerAction {
    Start,
    Stop,
    Restart,
}

impl ContainerAction {
    /// The word in audit lines and messages: `start`, `stop`, `restart`.
    pub fn verb(self) -> &'static str {
        match self {
            ContainerAction::Start => "start",
            ContainerAction::Stop => "stop",
            ContainerAction::Restart => "restart",
        }
    }

    fn title_verb(self) -> &'static str {
        match self {
            ContainerAction::Start => "Start",
            ContainerAction::Stop => "Stop",
            ContainerAction::Restart => "Restart",
        }
    }
}

/// An action described but not yet confirmed: what the confirmation dialog shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAction {
    host: String,
    container_id: String,
    container_name: String,
    action: ContainerAction,
    reason: Option<String>,
}

impl PendingAction {
    /// `host` is the inventory name; `container_name` is for people (may be empty,
    /// then the id stands in). Both should already be sanitized where they entered;
    /// they are cleaned again here since they end up in the dialog and audit log.
    pub fn new(
        host: &str,
        container_id: &str,
        container_name: &str,
        action: ContainerAction,
    ) -> Self {
        Self {
            host: sanitize::line(host),
            container_id: container_id.to_owned(),
            container_name: sanitize::line(container_name.trim_start_matches('/')),
            action,
            reason: None,
        }
    }

    /// Why, as the operator typed it in the dialog (or `--reason`); goes to the audit
    /// log. Blank means none.
    pub fn with_reason(mut self, reason: &str) -> Self {
        let reason = reason.trim();
        self.reason = (!reason.is_empty()).then(|| reason.to_owned());
        self
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn container_id(&self) -> &str {
        &self.container_id
    }

    pub fn action(&self) -> ContainerAction {
        self.action
    }

    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The container as people name it: its name, or its short id.
    pub fn target(&self) -> String {
        if self.container_name.is_empty() {
            self.container_id.chars().take(12).collect()
        } else {
            self.container_name.clone()
        }
    }

    /// The dialog's title, e.g. `Restart web on client-alpha?`.
    pub fn title(&self) -> String {
        format!(
            "{} {} on {}?",
            self.action.title_verb(),
            self.target(),
            self.host
        )
    }

    /// What will happen, for the dialog's body.
    pub fn describe(&self) -> String {
        let grace = STOP_GRACE.as_secs();
        let what = match self.action {
            ContainerAction::Start => "It will be started with its existing configuration.",
            ContainerAction::Stop => {
                "It will be sent its stop signal and killed if still running after the grace period; it stays stopped (its restart policy does not bring it back) until started again."
            }
            ContainerAction::Restart => {
                "It will be stopped (its stop signal, killed if still running after the grace period) and started again; it is unavailable meanwhile."
            }
        };
        let mut text = format!(
            "{} container {} ({}) on {}. {what}",
            self.action.title_verb(),
            self.target(),
            self.container_id.chars().take(12).collect::<String>(),
            self.host
        );
        if self.action != ContainerAction::Start {
            text.push_str(&format!(" Grace period: {grace} s."));
        }
        text.push_str(" The action is recorded in the audit log.");
        text
    }

    /// The operator said yes.
    pub fn confirm(self) -> ConfirmedAction {
        ConfirmedAction(self)
    }
}

/// A confirmed action, the only thing [`Core::container_action`] runs. Made only by
/// [`PendingAction::confirm`]:
///
/// ```compile_fail
/// use fleetdeck::core::{ConfirmedAction, ContainerAction, PendingAction};
/// let pending = PendingAction::new("h", "id", "web", ContainerAction::Stop);
/// let forged = ConfirmedAction(pending); // the field is private
/// ```
#[derive(Debug, PartialEq, Eq)]
pub struct ConfirmedAction(PendingAction);

impl ConfirmedAction {
    pub fn pending(&self) -> &PendingAction {
        &self.0
    }
}

/// What a performed action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionOutcome {
    pub host: String,
    pub target: String,
    pub container_id: String,
    pub action: ContainerAction,
    /// The container's state once the engine answered (e.g. `running (healthy)`),
    /// when it could be read.
    pub state_after: Option<String>,
    pub took: Duration,
    /// The result line could not be written to the audit log (its intent line was):
    /// the action happened, the log says only that it was attempted.
    pub audit_error: Option<String>,
}

impl fmt::Display for ActionOutcome {
    /// One line for a notice: `restarted web on client-alpha: running (healthy), 1.3 s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = match self.action {
            ContainerAction::Start => "started",
            ContainerAction::Stop => "stopped",
            ContainerAction::Restart => "restarted",
        };
        write!(f, "{done} {} on {}", self.target, self.host)?;
        if let Some(state) = &self.state_after {
            write!(f, ": {state}")?;
        }
        write!(f, ", {:.1} s", self.took.as_secs_f64())?;
        if let Some(error) = &self.audit_error {
            write!(f, " (not recorded in the audit log: {error})")?;
        }
        Ok(())
    }
}

impl Core {
    /// The core as it acts on one host: read-only when the whole run is, or when the
    /// inventory says so for that host (`fleetdeck_read_only: true`). A front end keeps
    /// one per host and sends each host's actions through its own, so the host's rule
    /// holds whatever the front end shows.
    pub fn for_host(&self, settings: &crate::inventory::HostSettings) -> Core {
        Core {
            read_only: self.read_only || settings.read_only,
            ..self.clone()
        }
    }

    /// Builds the action a front end is about to ask confirmation for, refusing at
    /// once in read-only mode (so no dialog is shown for something that would be
    /// refused anyway).
    pub fn propose(
        &self,
        host: &str,
        container_id: &str,
        container_name: &str,
        action: ContainerAction,
    ) -> Result<PendingAction, CoreError> {
        let pending = PendingAction::new(host, container_id, container_name, action);
        self.ensure_writable(&format!("{} {}", action.verb(), pending.target()))?;
        Ok(pending)
    }

    /// Performs a confirmed action on the engine `docker` (the one serving the
    /// action's host): one audit line before (an unwritable log refuses the action),
    /// one after. In read-only mode nothing is attempted; the refusal is logged and,
    /// if the audit log can be written, recorded there too.
    ///
    /// Once the intent line is written the rest runs in a task of its own, so a caller
    /// that stops waiting (a closed view) does not leave the action without its result
    /// line.
    pub async fn container_action(
        &self,
        docker: &Docker,
        confirmed: ConfirmedAction,
    ) -> Result<ActionOutcome, CoreError> {
        let pending = confirmed.0;
        let record = AuditRecord {
            time: crate::util::time::rfc3339(OffsetDateTime::now_utc()),
            id: audit::new_action_id(),
            operator: self.operator.clone(),
            host: pending.host.clone(),
            action: pending.action.verb().to_owned(),
            target: pending.target(),
            reason: pending.reason.clone(),
            result: AuditResult::Intent,
            error: None,
        };
        if self.read_only {
            tracing::warn!(
                host = %pending.host,
                target = %pending.target(),
                action = pending.action.verb(),
                "read-only mode: container action refused"
            );
            let refused = AuditRecord {
                result: AuditResult::Refused,
                error: Some("read-only mode".to_owned()),
                ..record
            };
            // A refused action changed nothing; failing to record that must not turn
            // the refusal into a different error.
            if let Err(e) = write_audit(&self.audit, refused).await {
                tracing::warn!("recording a refused action: {e}");
            }
            return Err(CoreError::ReadOnly {
                action: format!("{} {}", pending.action.verb(), pending.target()),
            });
        }

        write_audit(&self.audit, record.clone())
            .await
            .map_err(|source| CoreError::Audit {
                path: self.audit.path().to_path_buf(),
                source,
            })?;

        let task = tokio::spawn(run_and_record(
            docker.clone(),
            self.audit.clone(),
            pending,
            record,
        ));
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(CoreError::Docker {
                status: None,
                message: "interrupted: fleetdeck is shutting down".to_owned(),
            }),
        }
    }
}

async fn run_and_record(
    docker: Docker,
    audit_log: AuditLog,
    pending: PendingAction,
    intent: AuditRecord,
) -> Result<ActionOutcome, CoreError> {
    let started = Instant::now();
    let limit = STOP_GRACE + ANSWER_MARGIN;
    let result = match tokio::time::timeout(
        limit,
        perform(&docker, &pending.container_id, pending.action),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(docker_error(&e)),
        Err(_) => Err(CoreError::Timeout { after: limit }),
    };
    let took = started.elapsed();
    let closing = AuditRecord {
        time: crate::util::time::rfc3339(OffsetDateTime::now_utc()),
        result: if result.is_ok() {
            AuditResult::Ok
        } else {
            AuditResult::Failed
        },
        error: result.as_ref().err().map(ToString::to_string),
        ..intent
    };
    let audit_error = write_audit(&audit_log, closing).await.err().map(|e| {
        tracing::error!(
            host = %pending.host,
            target = %pending.target(),
            "the result of a container action could not be audited: {e}"
        );
        e.to_string()
    });
    result?;
    tracing::info!(
        host = %pending.host,
        target = %pending.target(),
        action = pending.action.verb(),
        "container action done"
    );
    Ok(ActionOutcome {
        state_after: state_of(&docker, &pending.container_id).await,
        host: pending.host.clone(),
        target: pending.target(),
        container_id: pending.container_id,
        action: pending.action,
        took,
        audit_error,
    })
}

async fn perform(docker: &Docker, id: &str, action: ContainerAction) -> Result<(), DockerError> {
    let grace = i32::try_from(STOP_GRACE.as_secs()).unwrap_or(i32::MAX);
    match action {
        ContainerAction::Start => {
            docker
                .start_container(id, None::<StartContainerOptions>)
                .await
        }
        ContainerAction::Stop => {
            let options = StopContainerOptions {
                t: Some(grace),
                signal: None,
            };
            docker.stop_container(id, Some(options)).await
        }
        ContainerAction::Restart => {
            let options = RestartContainerOptions {
                t: Some(grace),
                signal: None,
            };
            docker.restart_container(id, Some(options)).await
        }
    }
}

/// Docker's answer, cleaned: its message came from the remote engine.
fn docker_error(error: &DockerError) -> CoreError {
    let status = match error {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    };
    CoreError::Docker {
        status,
        message: sanitize::line(&error.to_string()),
    }
}

/// `running (healthy)`, `exited (137)`: best effort, for the outcome message.
async fn state_of(docker: &Docker, id: &str) -> Option<String> {
    let details = crate::docker::clean::inspect_container(docker, id)
        .await
        .ok()?;
    let state = details.state?;
    let mut text = state.status?.to_string();
    match state.health.and_then(|h| h.status) {
        Some(HealthStatusEnum::HEALTHY) => text.push_str(" (healthy)"),
        Some(HealthStatusEnum::UNHEALTHY) => text.push_str(" (unhealthy)"),
        Some(HealthStatusEnum::STARTING) => text.push_str(" (health: starting)"),
        _ => {}
    }
    Some(sanitize::line(&text))
}

async fn write_audit(log: &AuditLog, record: AuditRecord) -> std::io::Result<()> {
    let log = log.clone();
    tokio::task::spawn_blocking(move || log.append(&record))
        .await
        .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::docker::transport::{OpenFuture, StreamOpener, docker_over};

    /// An engine that cannot be reached, counting how often anyone tried.
    struct Unreachable(Arc<AtomicUsize>);

    impl StreamOpener for Unreachable {
        fn open(&self) -> OpenFuture {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "engine down",
                ))
            })
        }

        fn describe(&self) -> String {
            "test-engine".to_owned()
        }
    }

    fn unreachable_engine() -> (Docker, Arc<AtomicUsize>) {
        let attempts = Arc::new(AtomicUsize::new(0));
        let docker = docker_over(Arc::new(Unreachable(Arc::clone(&attempts))), 5).expect("client");
        (docker, attempts)
    }

    fn core(read_only: bool, path: &Path) -> Core {
        Core {
            read_only,
            audit: AuditLog::new(path),
            operator: "ops@laptop".to_owned(),
        }
    }

    fn stop_web() -> ConfirmedAction {
        PendingAction::new(
            "client-alpha",
            "3f2a9c1b7d4e5f60",
            "/web",
            ContainerAction::Stop,
        )
        .with_reason("  disk filling up ")
        .confirm()
    }

    #[test]
    fn the_dialog_says_what_will_happen() {
        let pending = PendingAction::new(
            "client-alpha",
            "3f2a9c1b7d4e5f60",
            "/web",
            ContainerAction::Restart,
        );
        assert_eq!(pending.title(), "Restart web on client-alpha?");
        let text = pending.describe();
        assert!(text.starts_with("Restart container web (3f2a9c1b7d4e) on client-alpha."));
        assert!(text.contains("Grace period: 10 s."), "{text}");
        let unnamed = PendingAction::new("h", "0123456789abcdef", "", ContainerAction::Start);
        assert_eq!(unnamed.title(), "Start 0123456789ab on h?");
        assert!(!unnamed.describe().contains("Grace"));
        let outcome = ActionOutcome {
            host: "client-alpha".to_owned(),
            target: "web".to_owned(),
            container_id: "3f2a".to_owned(),
            action: ContainerAction::Restart,
            state_after: Some("running (healthy)".to_owned()),
            took: Duration::from_millis(1260),
            audit_error: None,
        };
        assert_eq!(
            outcome.to_string(),
            "restarted web on client-alpha: running (healthy), 1.3 s"
        );
        assert_eq!(unnamed.with_reason("   ").reason(), None);
        let hostile = PendingAction::new("h", "id", "we\u{1b}]0;x\u{7}b", ContainerAction::Stop);
        assert_eq!(hostile.target(), "web");
    }

    #[tokio::test]
    async fn read_only_refuses_touches_nothing_and_records_the_refusal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let core = core(true, &path);
        let refused = core.propose("client-alpha", "id", "web", ContainerAction::Stop);
        assert!(matches!(refused, Err(CoreError::ReadOnly { .. })));

        let (docker, attempts) = unreachable_engine();
        let result = core.container_action(&docker, stop_web()).await;
        match result {
            Err(e @ CoreError::ReadOnly { .. }) => {
                assert_eq!(e.to_string(), "read-only mode: refusing to stop web")
            }
            other => panic!("expected a read-only refusal, got {other:?}"),
        }
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            0,
            "the engine was not contacted"
        );
        let records = AuditLog::read(&path).expect("audit log");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].result, AuditResult::Refused);
        assert_eq!(records[0].action, "stop");
        assert_eq!(records[0].reason.as_deref(), Some("disk filling up"));
    }

    #[tokio::test]
    async fn a_read_only_host_is_refused_while_the_others_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let fleet_core = core(false, &path);
        let read_only = crate::inventory::HostSettings {
            read_only: true,
            ..crate::inventory::HostSettings::defaults("client-alpha")
        };
        let writable = crate::inventory::HostSettings::defaults("client-beta");

        let host_core = fleet_core.for_host(&read_only);
        assert!(matches!(
            host_core.propose("client-alpha", "id", "web", ContainerAction::Stop),
            Err(CoreError::ReadOnly { .. })
        ));
        let (docker, attempts) = unreachable_engine();
        let result = host_core.container_action(&docker, stop_web()).await;
        assert!(
            matches!(result, Err(CoreError::ReadOnly { .. })),
            "{result:?}"
        );
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            0,
            "the engine was not contacted"
        );
        let records = AuditLog::read(&path).expect("audit log");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].result, AuditResult::Refused);

        // Another host of the same run may be changed (here: the engine is asked).
        let other = fleet_core.for_host(&writable);
        assert!(
            other
                .propose("client-beta", "id", "web", ContainerAction::Stop)
                .is_ok()
        );
        let result = other.container_action(&docker, stop_web()).await;
        assert!(
            matches!(result, Err(CoreError::Docker { .. })),
            "{result:?}"
        );
        assert!(attempts.load(Ordering::SeqCst) >= 1);
        // And a read-only run stays read-only whatever a host says.
        assert!(core(true, &path).for_host(&writable).read_only);
    }

    #[tokio::test]
    async fn an_unwritable_audit_log_refuses_the_action() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        std::fs::create_dir(&path).expect("a directory where the log should be");
        let (docker, attempts) = unreachable_engine();
        let result = core(false, &path)
            .container_action(&docker, stop_web())
            .await;
        assert!(matches!(result, Err(CoreError::Audit { .. })), "{result:?}");
        assert_eq!(attempts.load(Ordering::SeqCst), 0, "no unaudited mutation");
    }

    #[tokio::test]
    async fn a_failed_action_is_audited_as_intent_then_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.log");
        let (docker, attempts) = unreachable_engine();
        let result = core(false, &path)
            .container_action(&docker, stop_web())
            .await;
        let Err(CoreError::Docker { message, .. }) = result else {
            panic!("expected the engine's error, got {result:?}");
        };
        assert!(message.contains("engine down"), "{message}");
        assert!(attempts.load(Ordering::SeqCst) >= 1);
        let records = AuditLog::read(&path).expect("audit log");
        let results: Vec<AuditResult> = records.iter().map(|r| r.result).collect();
        assert_eq!(results, [AuditResult::Intent, AuditResult::Failed]);
        assert_eq!(records[0].id, records[1].id);
        assert_eq!(records[1].operator, "ops@laptop");
        assert_eq!(records[1].host, "client-alpha");
        assert_eq!(records[1].target, "web");
        assert!(
            records[1]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("engine down"))
        );
        assert_eq!(records[0].error, None);
    }
}
