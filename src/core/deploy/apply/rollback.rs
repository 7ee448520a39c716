//! `fleetdeck rollback` (and a canary's): services switched back to their `.prev`
//! revision, without creating new containers.

use std::time::{Duration, Instant};

use bollard::Docker;

use crate::audit::AuditResult;
use crate::core::Core;
use crate::core::deploy::gate::{self, GateSpec};
use crate::core::deploy::plan::{self, Change};
use crate::stack::labels::{APP_LABEL, NEXT_SUFFIX, PREVIOUS_SUFFIX, SERVICE_LABEL};

use super::host_run::{HostRun, docker_err, is_not_found};
use super::outcome::{Events, HostOutcome, HostResult, ServiceOutcome, ServiceResult};
use super::run::{begin, end, not_started};
use super::{ApplyOptions, HostAccess};

impl HostRun<'_> {
    /// Switches a service back to its `.prev` revision (used when a later service of
    /// the same app fails, and by `fleetdeck rollback`). The current revision becomes
    /// `.prev`, so rolling back twice returns to where one started.
    pub(super) async fn swap_with_previous(
        &self,
        app: &str,
        service: &str,
        c: &str,
    ) -> Result<(), String> {
        let prev = format!("{c}{PREVIOUS_SUFFIX}");
        let parked = format!("{c}.rollback");
        self.step(app, service, "rollback", &format!("{prev} -> {c}"))
            .await?;
        self.remove(&format!("{c}{NEXT_SUFFIX}")).await?;
        self.remove(&parked).await?;
        let current_exists = match crate::docker::clean::inspect_container(self.docker(), c).await {
            Ok(_) => true,
            Err(e) if is_not_found(&e) => false,
            Err(e) => return Err(docker_err(&format!("inspecting {c}"), &e)),
        };
        if current_exists {
            self.stop(c).await?;
            self.rename(c, &parked).await?;
        }
        self.rename(&prev, c).await?;
        self.start(c).await?;
        if current_exists {
            self.rename(&parked, &prev).await?;
        }
        Ok(())
    }
}

/// Which services a rollback returns to their previous revision.
#[derive(Debug, Clone, Copy)]
pub enum RollbackScope<'a> {
    /// Every service of these apps (all apps when empty) that has a `.prev`.
    Apps(&'a [String]),
    /// Exactly these containers (by their live name): what one rollout deployed.
    Containers(&'a [String]),
}

/// `fleetdeck rollback`: every service of the host (or of `apps`) that has a
/// previous revision switches back to it, at once (no new containers are created).
pub async fn rollback_host(
    core: &Core,
    access: &HostAccess,
    apps: &[String],
    options: &ApplyOptions,
    events: &Events,
) -> HostOutcome {
    rollback_scope(core, access, RollbackScope::Apps(apps), options, events).await
}

/// A rollback of the services `scope` names.
pub async fn rollback_scope(
    core: &Core,
    access: &HostAccess,
    scope: RollbackScope<'_>,
    options: &ApplyOptions,
    events: &Events,
) -> HostOutcome {
    let started = Instant::now();
    if let Some(outcome) = not_started(access, &options.interrupt) {
        return outcome;
    }
    let target = match scope {
        RollbackScope::Apps(apps) => crate::core::deploy::apps_target(apps),
        RollbackScope::Containers(names) => names.join(", "),
    };
    let (host_lock, mut outcome) = match begin(core, access, "rollback", &target, options).await {
        Ok(begun) => begun,
        Err(outcome) => return outcome,
    };
    let run = HostRun {
        core,
        access,
        lock: &host_lock,
        events,
        reason: options.reason.clone(),
        interrupt: &options.interrupt,
    };
    options
        .interrupt
        .note(&access.name, &format!("lock {} held", access.state_dir));
    let mut cut_short = 0;
    let result = async {
        let running = plan::managed_containers(&access.docker).await?;
        for (name, summary) in &running {
            let Some(base) = name.strip_suffix(PREVIOUS_SUFFIX) else {
                continue;
            };
            let labels = summary.labels.clone().unwrap_or_default();
            let app = labels.get(APP_LABEL).cloned().unwrap_or_default();
            let service = labels.get(SERVICE_LABEL).cloned().unwrap_or_default();
            let wanted = match scope {
                RollbackScope::Apps(apps) => apps.is_empty() || apps.contains(&app),
                RollbackScope::Containers(names) => names.iter().any(|n| n == base),
            };
            if !wanted {
                continue;
            }
            // Interrupted: the swaps not begun are not begun.
            if run.interrupt.requested().is_some() {
                cut_short += 1;
                continue;
            }
            let from_image = running.get(base).and_then(|c| c.image.clone());
            let to_image = summary.image.clone().unwrap_or_default();
            let target = format!("{app} {base} ({to_image})");
            run.audit("rollback", &target, AuditResult::Intent, None)
                .await?;
            let swapped = run.swap_with_previous(&app, &service, base).await;
            let gated = match &swapped {
                Ok(()) if options.gate => {
                    let spec = GateSpec {
                        healthcheck: has_healthcheck(&access.docker, base).await,
                        probe: None,
                        timeout: Duration::from_secs(60),
                    };
                    // The swap is done (the previous revision runs); an interruption
                    // only stops waiting for its gate.
                    tokio::select! {
                        gated = gate::wait(&access.docker, base, &spec) => gated
                            .map(|t| Some(t.as_secs_f64()))
                            .map_err(|f| f.reason),
                        _ = run.interrupt.wait() => Ok(None),
                    }
                }
                Ok(()) => Ok(None),
                Err(e) => Err(e.clone()),
            };
            let _ = run
                .audit(
                    "rollback",
                    &target,
                    if gated.is_ok() {
                        AuditResult::Ok
                    } else {
                        AuditResult::Failed
                    },
                    gated.as_ref().err().map(String::as_str),
                )
                .await;
            outcome.services.push(ServiceOutcome {
                app,
                service,
                container: base.to_owned(),
                change: Change::Replace,
                from_image,
                to_image,
                result: if gated.is_ok() {
                    ServiceResult::RolledBack
                } else {
                    ServiceResult::Failed
                },
                gate_seconds: gated.as_ref().ok().copied().flatten(),
                error: gated.err(),
                logs: vec![],
            });
        }
        Ok::<_, String>(())
    }
    .await;
    outcome.result = if let Err(e) = result {
        outcome.error = Some(e);
        HostResult::Failed
    } else if outcome
        .services
        .iter()
        .any(|s| s.result == ServiceResult::Failed)
    {
        outcome.error = outcome.services.iter().find_map(|s| s.error.clone());
        HostResult::Failed
    } else if let Some(signal) = options.interrupt.requested() {
        outcome.error = Some(format!(
            "interrupted by {signal}: {} service(s) rolled back (running), {cut_short} not \
             begun; lock released",
            outcome.services.len()
        ));
        HostResult::Interrupted
    } else if outcome.services.is_empty() {
        HostResult::Unchanged
    } else {
        HostResult::RolledBack
    };
    let outcome = end(host_lock, outcome, started).await;
    options.interrupt.done(&access.name);
    outcome
}

async fn has_healthcheck(docker: &Docker, container: &str) -> bool {
    crate::docker::clean::inspect_container(docker, container)
        .await
        .ok()
        .and_then(|c| c.config?.healthcheck?.test)
        .is_some_and(|test| test.first().is_some_and(|t| t != "NONE"))
}
