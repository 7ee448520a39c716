//! A run on one host under its lock ([`HostRun`]): every step journalled and announced
//! before it is taken, audit lines, and the container primitives (remove, rename, stop,
//! start, inspect) the switch-over, the resume and the rollback are made of.

use bollard::Docker;
use bollard::query_parameters::{
    RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder, StartContainerOptions,
    StopContainerOptionsBuilder,
};

use crate::audit::{AuditRecord, AuditResult};
use crate::core::Core;
use crate::core::deploy::lock::{self, HostLock};
use crate::core::interrupt::Interrupt;
use crate::sanitize;

use super::HostAccess;
use super::outcome::{DeployEvent, Events};

/// How long a stopping container gets before SIGKILL (Docker's default).
pub(super) const STOP_GRACE_SECS: i32 = 10;

/// A run on one host, under its lock.
pub(super) struct HostRun<'a> {
    pub(super) core: &'a Core,
    pub(super) access: &'a HostAccess,
    pub(super) lock: &'a HostLock,
    pub(super) events: &'a Events,
    pub(super) reason: Option<String>,
    pub(super) interrupt: &'a Interrupt,
}

pub(super) fn docker_err(what: &str, e: &bollard::errors::Error) -> String {
    sanitize::line(&format!("{what}: {e}"))
}

pub(super) fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// The error of an action not attempted because its audit line could not be written.
pub(super) fn audit_unwritable(core: &Core, source: std::io::Error) -> String {
    crate::core::CoreError::Audit {
        path: core.audit.path().to_path_buf(),
        source,
    }
    .to_string()
}

impl HostRun<'_> {
    /// Journals a step before it is taken, then announces it: whoever sees the step
    /// announced can rely on the journal holding it.
    pub(super) async fn step(
        &self,
        app: &str,
        service: &str,
        step: &str,
        detail: &str,
    ) -> Result<(), String> {
        self.step_at(app, service, step, detail, None).await
    }

    /// As [`HostRun::step`], journalling the configuration hash of the revision the
    /// step brings up (what a resume tells the new revision by).
    pub(super) async fn step_at(
        &self,
        app: &str,
        service: &str,
        step: &str,
        detail: &str,
        revision: Option<&str>,
    ) -> Result<(), String> {
        self.lock
            .journal_revision(app, service, step, detail, revision)
            .await?;
        self.interrupt.note(
            &self.access.name,
            &format!(
                "lock {} held, last step `{step} {}` (its journal says where it stopped)",
                self.access.state_dir,
                sanitize::line(detail)
            ),
        );
        let _ = self.events.send(DeployEvent {
            host: self.access.name.clone(),
            app: app.to_owned(),
            service: service.to_owned(),
            step: step.to_owned(),
            detail: sanitize::line(detail),
        });
        Ok(())
    }

    /// One audit line, in the local log and then the host's. An intent line that
    /// cannot be written locally is an error (the step it announces must not be
    /// taken); any other failure is logged: the local log is the record, the host's
    /// copy is best effort.
    pub(super) async fn audit(
        &self,
        action: &str,
        target: &str,
        result: AuditResult,
        error: Option<&str>,
    ) -> Result<(), String> {
        let record = AuditRecord {
            time: crate::util::time::now_rfc3339(),
            id: self.lock.holder().id.clone(),
            operator: self.core.operator.clone(),
            host: self.access.name.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            reason: self.reason.clone(),
            result,
            error: error.map(str::to_owned),
        };
        if let Err(e) = self.core.audit.append(&record) {
            if result == AuditResult::Intent {
                return Err(audit_unwritable(self.core, e));
            }
            tracing::warn!(host = %self.access.name, "local audit log: {e}");
        }
        if let Err(e) = lock::host_audit(&self.access.shell, &self.access.state_dir, &record).await
        {
            tracing::warn!(host = %self.access.name, "host audit log: {e}");
        }
        Ok(())
    }

    pub(super) fn docker(&self) -> &Docker {
        &self.access.docker
    }

    pub(super) async fn remove(&self, name: &str) -> Result<(), String> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker().remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(docker_err(&format!("removing {name}"), &e)),
        }
    }

    pub(super) async fn rename(&self, from: &str, to: &str) -> Result<(), String> {
        let options = RenameContainerOptionsBuilder::new().name(to).build();
        self.docker()
            .rename_container(from, options)
            .await
            .map_err(|e| docker_err(&format!("renaming {from} to {to}"), &e))
    }

    pub(super) async fn stop(&self, name: &str) -> Result<(), String> {
        let options = StopContainerOptionsBuilder::new()
            .t(STOP_GRACE_SECS)
            .build();
        match self.docker().stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            // 304: already stopped.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(docker_err(&format!("stopping {name}"), &e)),
        }
    }

    pub(super) async fn start(&self, name: &str) -> Result<(), String> {
        match self
            .docker()
            .start_container(name, None::<StartContainerOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(docker_err(&format!("starting {name}"), &e)),
        }
    }

    pub(super) async fn inspect(
        &self,
        name: &str,
    ) -> Result<Option<bollard::models::ContainerInspectResponse>, String> {
        match crate::docker::clean::inspect_container(self.docker(), name).await {
            Ok(info) => Ok(Some(info)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(docker_err(&format!("inspecting {name}"), &e)),
        }
    }

    pub(super) async fn exists(&self, name: &str) -> Result<bool, String> {
        match crate::docker::clean::inspect_container(self.docker(), name).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(docker_err(&format!("inspecting {name}"), &e)),
        }
    }
}
