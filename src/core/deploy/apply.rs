//! Applying a host's plan, and rolling back.
//!
//! For each service that changes, in dependency order:
//!   networks and volumes → image present → secret files → create `NAME.next` → stop
//!   `NAME` → start `NAME.next` → health gate → switch (`NAME` becomes `NAME.prev`,
//!   `NAME.next` becomes `NAME`; the revision before `.prev` is removed).
//! A failed gate removes `NAME.next` and starts `NAME` again, and services of the same
//! app already switched in this run are switched back, so an app never runs half a
//! release. Every step is journalled under the host's lock before it is taken, so an
//! interrupted run says where it stopped; and because the plan is a difference, the
//! next run simply converges (a leftover `.next` or `.old` is removed first).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder,
    RenameContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};
use futures_util::StreamExt as _;
use serde::Serialize;

use super::gate::{self, GateSpec, Probe};
use super::lock::{self, Holder, HostLock, JournalEntry};
use super::plan::{
    self, APP_LABEL, Change, DEPLOYED_AT_LABEL, DEPLOYED_BY_LABEL, Desired, DesiredApp, HASH_LABEL,
    HostPlan, NEXT_SUFFIX, OLDEST_SUFFIX, PREVIOUS_SUFFIX, SERVICE_LABEL, ServicePlan,
};
use super::shell::HostShell;
use crate::audit::{AuditRecord, AuditResult};
use crate::core::Core;
use crate::core::interrupt::{Interrupt, Signal};
use crate::core::stack::{Service, Stack};
use crate::sanitize;
use crate::util::shell::quote;

/// How long a stopping container gets before SIGKILL (Docker's default).
const STOP_GRACE_SECS: i32 = 10;

/// One host, as the core reaches it.
pub struct HostAccess {
    pub name: String,
    pub shell: HostShell,
    pub docker: Docker,
    pub state_dir: String,
    pub prefix: String,
    /// `fleetdeck_read_only` for this host.
    pub read_only: bool,
}

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

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Wait for each new container to pass its health gate (off only for the lab's
    /// first start, whose sample apps are broken on purpose).
    pub gate: bool,
    pub reason: Option<String>,
    pub break_lock: bool,
    /// Ctrl-C / SIGTERM / SIGHUP: checked at safe points (never fires by default).
    pub interrupt: Interrupt,
}

/// A run on one host, under its lock.
struct HostRun<'a> {
    core: &'a Core,
    access: &'a HostAccess,
    lock: &'a HostLock,
    events: &'a Events,
    reason: Option<String>,
    interrupt: &'a Interrupt,
}

fn docker_err(what: &str, e: &bollard::errors::Error) -> String {
    sanitize::line(&format!("{what}: {e}"))
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

impl HostRun<'_> {
    /// Journals a step before it is taken, then announces it: whoever sees the step
    /// announced can rely on the journal holding it.
    async fn step(&self, app: &str, service: &str, step: &str, detail: &str) -> Result<(), String> {
        self.step_at(app, service, step, detail, None).await
    }

    /// As [`HostRun::step`], journalling the configuration hash of the revision the
    /// step brings up (what a resume tells the new revision by).
    async fn step_at(
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
    async fn audit(
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

    fn docker(&self) -> &Docker {
        &self.access.docker
    }

    async fn remove(&self, name: &str) -> Result<(), String> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker().remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(docker_err(&format!("removing {name}"), &e)),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), String> {
        let options = RenameContainerOptionsBuilder::new().name(to).build();
        self.docker()
            .rename_container(from, options)
            .await
            .map_err(|e| docker_err(&format!("renaming {from} to {to}"), &e))
    }

    async fn stop(&self, name: &str) -> Result<(), String> {
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

    async fn start(&self, name: &str) -> Result<(), String> {
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

    /// Creates the stack's networks and volumes that are missing. External ones are
    /// the platform's (Traefik's network, say): they must exist, never created here.
    async fn ensure_objects(&self, stack: &Stack) -> Result<(), String> {
        let prefix = &self.access.prefix;
        for net in &stack.networks {
            let name = stack.network_name(prefix, &net.name);
            match self.docker().inspect_network(&name, None).await {
                Ok(_) => continue,
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(docker_err(&format!("inspecting network {name}"), &e)),
            }
            if net.external.is_some() {
                return Err(format!(
                    "network {name} is declared external but does not exist on the host"
                ));
            }
            self.step(&stack.app, "", "network", &name).await?;
            let mut labels: std::collections::HashMap<String, String> =
                net.labels.clone().into_iter().collect();
            labels.insert(APP_LABEL.to_owned(), stack.app.clone());
            self.docker()
                .create_network(NetworkCreateRequest {
                    name: name.clone(),
                    driver: net.driver.clone(),
                    internal: Some(net.internal),
                    labels: Some(labels),
                    ..Default::default()
                })
                .await
                .map_err(|e| docker_err(&format!("creating network {name}"), &e))?;
        }
        for vol in &stack.volumes {
            let name = stack.volume_name(prefix, &vol.name);
            match self.docker().inspect_volume(&name).await {
                Ok(_) => continue,
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(docker_err(&format!("inspecting volume {name}"), &e)),
            }
            if vol.external.is_some() {
                return Err(format!(
                    "volume {name} is declared external but does not exist on the host"
                ));
            }
            self.step(&stack.app, "", "volume", &name).await?;
            let mut labels: std::collections::HashMap<String, String> =
                vol.labels.clone().into_iter().collect();
            labels.insert(APP_LABEL.to_owned(), stack.app.clone());
            self.docker()
                .create_volume(VolumeCreateRequest {
                    name: Some(name.clone()),
                    driver: vol.driver.clone(),
                    driver_opts: (!vol.driver_opts.is_empty())
                        .then(|| vol.driver_opts.clone().into_iter().collect()),
                    labels: Some(labels),
                    ..Default::default()
                })
                .await
                .map_err(|e| docker_err(&format!("creating volume {name}"), &e))?;
        }
        Ok(())
    }

    async fn ensure_image(&self, app: &str, service: &str, image: &str) -> Result<(), String> {
        if self.docker().inspect_image(image).await.is_ok() {
            return Ok(());
        }
        self.step(app, service, "pull", image).await?;
        let options = CreateImageOptionsBuilder::new().from_image(image).build();
        let mut progress = self.docker().create_image(Some(options), None, None);
        while let Some(item) = progress.next().await {
            item.map_err(|e| {
                docker_err(
                    &format!("{image} is not on the host and pulling it failed"),
                    &e,
                )
            })?;
        }
        Ok(())
    }

    /// Writes the service's secrets as files on the host, one directory per
    /// revision; returns the `(host path, container path)` binds.
    async fn write_secrets(
        &self,
        app: &DesiredApp,
        service: &Service,
        hash: &str,
    ) -> Result<Vec<(String, String)>, String> {
        let mut binds = Vec::new();
        for mount in &service.secrets {
            let Some(value) = app.secrets.get(&mount.source) else {
                return Err(format!("secret `{}` has no value", mount.source));
            };
            let path = plan::secret_path(&self.access.state_dir, hash, &mount.source);
            let owner = match (&mount.uid, &mount.gid) {
                (Some(u), g) => format!("{u}:{}", g.as_deref().unwrap_or(u)),
                (None, Some(g)) => format!("0:{g}"),
                (None, None) => numeric_user(service.user.as_deref()),
            };
            let p = quote(&path);
            let script = format!(
                "umask 077; mkdir -p \"$(dirname {p})\" && cat > {p} && chmod {:o} {p} && chown {} {p}",
                mount.mode,
                quote(&owner)
            );
            self.access
                .shell
                .check(
                    &format!("writing secret {}", mount.source),
                    &script,
                    Some(value.expose()),
                )
                .await?;
            binds.push((path, mount.target.clone()));
        }
        Ok(binds)
    }

    fn gate_spec(&self, stack: &Stack, service: &Service) -> GateSpec {
        GateSpec {
            healthcheck: declares_healthcheck(service),
            probe: service.probe.as_ref().map(|p| Probe {
                url: p.url.clone(),
                status: p.status,
                body: p.body.clone(),
                timeout: p.timeout,
            }),
            timeout: stack.gate_timeout,
        }
    }

    /// Brings one service to its planned revision. `Err` carries the outcome to
    /// report after the caller has reverted what this app already switched.
    async fn apply_service(
        &self,
        app: &DesiredApp,
        service: &Service,
        sp: &ServicePlan,
        gate: bool,
    ) -> Result<ServiceOutcome, ServiceOutcome> {
        let stack = &app.stack;
        let c = &sp.container;
        let next = format!("{c}{NEXT_SUFFIX}");
        let mut outcome = ServiceOutcome {
            app: sp.app.clone(),
            service: sp.service.clone(),
            container: c.clone(),
            change: sp.change,
            from_image: sp.current.as_ref().map(|cur| cur.image.clone()),
            to_image: sp.image.clone(),
            result: ServiceResult::Failed,
            gate_seconds: None,
            error: None,
            logs: vec![],
        };
        let fail = |mut outcome: ServiceOutcome, result: ServiceResult, error: String| {
            outcome.result = result;
            outcome.error = Some(error);
            outcome
        };
        let spec = self.gate_spec(stack, service);
        for leftover in &sp.leftovers {
            let step = self
                .step(&sp.app, &sp.service, "remove-leftover", leftover)
                .await;
            if let Err(e) = step.and(self.remove(leftover).await) {
                return Err(fail(outcome, ServiceResult::Failed, e));
            }
        }
        match sp.change {
            Change::Unchanged => {
                outcome.result = ServiceResult::Unchanged;
                return Ok(outcome);
            }
            Change::Start => {
                let started = async {
                    self.step(&sp.app, &sp.service, "start", c).await?;
                    self.start(c).await
                }
                .await;
                if let Err(e) = started {
                    return Err(fail(outcome, ServiceResult::Failed, e));
                }
                if gate {
                    self.step(&sp.app, &sp.service, "gate", c)
                        .await
                        .map_err(|e| fail(outcome.clone(), ServiceResult::Failed, e))?;
                    let gated = tokio::select! {
                        gated = gate::wait(self.docker(), c, &spec) => Some(gated),
                        _ = self.interrupt.wait() => None,
                    };
                    match gated {
                        // The same revision as before, started: it runs, unconfirmed.
                        None => {
                            outcome.result = ServiceResult::Started;
                            outcome.error = Some(format!(
                                "{}: started; its health gate was not waited for",
                                interrupted_by(self.interrupt)
                            ));
                            return Ok(outcome);
                        }
                        Some(Ok(took)) => outcome.gate_seconds = Some(took.as_secs_f64()),
                        Some(Err(failure)) => {
                            outcome.logs = failure.logs.clone();
                            return Err(fail(outcome, ServiceResult::Failed, failure.reason));
                        }
                    }
                }
                outcome.result = ServiceResult::Started;
                return Ok(outcome);
            }
            Change::Create | Change::Replace => {}
        }

        // Everything before the old container stops can fail (or be interrupted)
        // without consequence.
        let prepared = async {
            tokio::select! {
                pulled = self.ensure_image(&sp.app, &sp.service, &sp.image) => pulled?,
                _ = self.interrupt.wait() => return Err(interrupted_by(self.interrupt)),
            }
            let binds = self.write_secrets(app, service, &sp.hash).await?;
            let secret_env: Vec<(String, String)> = service
                .secret_env
                .iter()
                .filter_map(|(env, secret)| {
                    app.secrets.get(secret).map(|v| {
                        (
                            env.clone(),
                            String::from_utf8_lossy(v.expose()).into_owned(),
                        )
                    })
                })
                .collect();
            let labels = BTreeMap::from([
                (APP_LABEL.to_owned(), sp.app.clone()),
                (SERVICE_LABEL.to_owned(), sp.service.clone()),
                (HASH_LABEL.to_owned(), sp.hash.clone()),
                (
                    DEPLOYED_AT_LABEL.to_owned(),
                    crate::util::time::now_rfc3339(),
                ),
                (DEPLOYED_BY_LABEL.to_owned(), self.core.operator.clone()),
            ]);
            let mut labels = labels;
            if !secret_env.is_empty() {
                let names: Vec<&str> = secret_env.iter().map(|(k, _)| k.as_str()).collect();
                labels.insert(
                    crate::docker::inspect::SECRET_ENV_LABEL.to_owned(),
                    names.join(","),
                );
            }
            let body =
                service.create_body(stack, &self.access.prefix, &labels, &secret_env, &binds);
            self.step_at(
                &sp.app,
                &sp.service,
                "create",
                &format!("{next} from {}", sp.image),
                Some(&sp.hash),
            )
            .await?;
            self.remove(&next).await?;
            let options = CreateContainerOptionsBuilder::new().name(&next).build();
            self.docker()
                .create_container(Some(options), body)
                .await
                .map_err(|e| docker_err(&format!("creating {next}"), &e))?;
            // Engines before API 1.44 take one network at creation: the others are
            // joined before the container first starts.
            for (network, endpoint) in service.extra_networks(stack, &self.access.prefix) {
                self.docker()
                    .connect_network(
                        &network,
                        NetworkConnectRequest {
                            container: next.clone(),
                            endpoint_config: Some(endpoint),
                        },
                    )
                    .await
                    .map_err(|e| docker_err(&format!("connecting {next} to {network}"), &e))?;
            }
            Ok::<_, String>(())
        }
        .await;
        if let Err(e) = prepared {
            let _ = self.remove(&next).await;
            return Err(fail(outcome, ServiceResult::Failed, e));
        }
        // The last point where stopping changes nothing.
        if self.interrupt.requested().is_some() {
            let _ = self.remove(&next).await;
            return Err(fail(
                outcome,
                ServiceResult::Skipped,
                format!(
                    "{} before its switch-over: not changed",
                    interrupted_by(self.interrupt)
                ),
            ));
        }

        // Containers are renamed only while stopped or not yet started: Docker
        // refuses to rename one that is between two restarts.
        let had_old = sp.current.is_some();
        let prev = format!("{c}{PREVIOUS_SUFFIX}");
        let old = format!("{c}{OLDEST_SUFFIX}");
        let switched_on = async {
            if had_old {
                self.step(&sp.app, &sp.service, "stop", c).await?;
                self.stop(c).await?;
                // The revision before the current one waits as `.old` until the new
                // one has passed its gate.
                self.remove(&old).await?;
                if self.exists(&prev).await? {
                    self.rename(&prev, &old).await?;
                }
                self.rename(c, &prev).await?;
            }
            self.rename(&next, c).await?;
            self.step(&sp.app, &sp.service, "start", c).await?;
            self.start(c).await
        }
        .await;
        let gate_result = match switched_on {
            Err(e) => Err(gate::GateFailure {
                reason: e,
                logs: vec![],
            }),
            Ok(()) if gate => {
                if let Err(e) = self.step(&sp.app, &sp.service, "gate", c).await {
                    Err(gate::GateFailure {
                        reason: e,
                        logs: vec![],
                    })
                } else {
                    // Interrupted (before or during the gate): the switch-over has
                    // finished; it is rolled back like a failed gate.
                    tokio::select! {
                        gated = gate::wait(self.docker(), c, &spec) => gated,
                        _ = self.interrupt.wait() => Err(gate::GateFailure {
                            reason: format!(
                                "{} during its health gate",
                                interrupted_by(self.interrupt)
                            ),
                            logs: vec![],
                        }),
                    }
                }
            }
            Ok(()) => Ok(Duration::ZERO),
        };
        match gate_result {
            Ok(took) => {
                outcome.gate_seconds = gate.then_some(took.as_secs_f64());
                let _ = self.step(&sp.app, &sp.service, "cleanup", &old).await;
                if let Err(e) = self.remove(&old).await {
                    tracing::warn!(host = %self.access.name, "{e}");
                }
                outcome.result = ServiceResult::Deployed;
                Ok(outcome)
            }
            Err(failure) => {
                outcome.logs = failure.logs.clone();
                let _ = self
                    .step(&sp.app, &sp.service, "revert", &failure.reason)
                    .await;
                let mut reverted = self.revert(c, &next, had_old).await;
                if had_old && gate && reverted.is_ok() {
                    // Say so if the previous revision does not come back healthy.
                    let _ = self.step(&sp.app, &sp.service, "gate", c).await;
                    let back = GateSpec {
                        probe: None,
                        ..spec.clone()
                    };
                    // A second signal abandons this wait (the revision is started).
                    tokio::select! {
                        gated = gate::wait(self.docker(), c, &back) => if let Err(e) = gated {
                            reverted =
                                Err(format!("the previous revision did not come back: {e}"));
                        },
                        () = self.interrupt.wait_abandoned() => {
                            reverted = Err(
                                "abandoned (second signal) while the previous revision, \
                                 started again, was in its health gate"
                                    .to_owned(),
                            );
                        }
                    }
                }
                match (had_old, reverted) {
                    (true, Ok(())) => Err(fail(outcome, ServiceResult::RolledBack, failure.reason)),
                    (false, Ok(())) => Err(fail(outcome, ServiceResult::Failed, failure.reason)),
                    (_, Err(e)) => Err(fail(
                        outcome,
                        ServiceResult::Failed,
                        format!("{}; reverting failed too: {e}", failure.reason),
                    )),
                }
            }
        }
    }

    /// Returns each service the interrupted run (`journal`) switched over without its
    /// gate passing to the revision that ran before it, started: the new revision is
    /// removed, `NAME.prev` becomes `NAME` again and `NAME.old` becomes `NAME.prev`.
    /// Says what it did, one line per service.
    async fn resume(&self, journal: &[JournalEntry]) -> Result<Vec<String>, String> {
        let mut notes = Vec::new();
        for u in unconfirmed(journal) {
            let c = plan::container_name(&self.access.prefix, &u.app, &u.service);
            let next = format!("{c}{NEXT_SUFFIX}");
            let prev = format!("{c}{PREVIOUS_SUFFIX}");
            let old = format!("{c}{OLDEST_SUFFIX}");
            let current = self.inspect(&c).await?;
            let had_next = self.exists(&next).await?;
            // The new revision is `NAME` once `NAME.next` has been renamed to it.
            let current_is_new = match (&current, &u.revision) {
                (None, _) => false,
                (Some(info), Some(revision)) => {
                    info.config
                        .as_ref()
                        .and_then(|c| c.labels.as_ref())
                        .and_then(|l| l.get(HASH_LABEL))
                        == Some(revision)
                }
                (Some(_), None) => !had_next,
            };
            let new_image = if current_is_new {
                current
                    .as_ref()
                    .and_then(|i| i.config.as_ref()?.image.clone())
            } else {
                None
            };
            if !u.stopped {
                // The running revision was never touched: the plan removes `.next`.
                continue;
            }
            if !had_next && !current_is_new && current.is_some() {
                // Already back to the previous revision (its revert ran): it must run.
                let running = current
                    .as_ref()
                    .and_then(|i| i.state.as_ref()?.running)
                    .unwrap_or(false);
                if !running {
                    self.step(&u.app, &u.service, "resume", &format!("start {c}"))
                        .await?;
                    self.start(&c).await?;
                    notes.push(sanitize::line(&format!(
                        "{c}: the interrupted run was reverting it: started again"
                    )));
                }
                continue;
            }
            self.step(
                &u.app,
                &u.service,
                "resume",
                &format!("{c}: its health gate never passed; back to the previous revision"),
            )
            .await?;
            self.remove(&next).await?;
            if current_is_new {
                self.remove(&c).await?;
            }
            let mut restored = current.is_some() && !current_is_new;
            if !restored && self.exists(&prev).await? {
                self.rename(&prev, &c).await?;
                if self.exists(&old).await? {
                    self.rename(&old, &prev).await?;
                }
                restored = true;
            }
            let back_to = if restored {
                self.start(&c).await?;
                let image = self
                    .inspect(&c)
                    .await?
                    .and_then(|i| i.config?.image)
                    .unwrap_or_default();
                format!("the previous revision ({image}) runs again")
            } else {
                "it had no previous revision: removed".to_owned()
            };
            notes.push(sanitize::line(&format!(
                "{c}: the interrupted run was switching it over{} and its health gate \
                 never passed: {back_to}",
                new_image.map(|i| format!(" to {i}")).unwrap_or_default()
            )));
        }
        Ok(notes)
    }

    async fn inspect(
        &self,
        name: &str,
    ) -> Result<Option<bollard::models::ContainerInspectResponse>, String> {
        match crate::docker::clean::inspect_container(self.docker(), name).await {
            Ok(info) => Ok(Some(info)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(docker_err(&format!("inspecting {name}"), &e)),
        }
    }

    async fn exists(&self, name: &str) -> Result<bool, String> {
        match crate::docker::clean::inspect_container(self.docker(), name).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(docker_err(&format!("inspecting {name}"), &e)),
        }
    }

    /// Undoes a switch that failed at any point: the new container goes, the previous
    /// one becomes `c` again and starts, the one before it becomes `.prev` again.
    async fn revert(&self, c: &str, next: &str, had_old: bool) -> Result<(), String> {
        let prev = format!("{c}{PREVIOUS_SUFFIX}");
        let old = format!("{c}{OLDEST_SUFFIX}");
        self.remove(next).await?;
        if !had_old {
            return self.remove(c).await;
        }
        if self.exists(&prev).await? {
            // The switch got as far as renaming: `c` is the new revision.
            self.remove(c).await?;
            self.rename(&prev, c).await?;
            if self.exists(&old).await? {
                self.rename(&old, &prev).await?;
            }
        }
        self.start(c).await
    }

    /// Switches a service back to its `.prev` revision (used when a later service of
    /// the same app fails, and by `fleetdeck rollback`). The current revision becomes
    /// `.prev`, so rolling back twice returns to where one started.
    async fn swap_with_previous(&self, app: &str, service: &str, c: &str) -> Result<(), String> {
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

    /// Removes secret directories no container on the host refers to any more.
    async fn clean_secrets(&self) -> Result<(), String> {
        let running = plan::managed_containers(self.docker()).await?;
        // Directory names are hash prefixes: hex, safe inside the script as they are.
        let keep: BTreeSet<String> = running
            .values()
            .filter_map(|c| c.labels.as_ref()?.get(HASH_LABEL))
            .map(|h| h.chars().take(16).collect::<String>())
            .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
            .collect();
        let dir = quote(&format!("{}/secrets", self.access.state_dir));
        let script = format!(
            "[ -d {dir} ] || exit 0; cd {dir} || exit 1; for d in *; do [ -d \"$d\" ] || continue; \
             case \" {} \" in *\" $d \"*) ;; *) rm -rf -- \"$d\";; esac; done",
            keep.into_iter().collect::<Vec<_>>().join(" ")
        );
        self.access
            .shell
            .check("removing old secret files", &script, None)
            .await
            .map(drop)
    }
}

/// A service an interrupted run had begun to switch over, and never confirmed (its
/// gate did not pass, or the revert after a failed gate did not finish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unconfirmed {
    pub app: String,
    pub service: String,
    /// The configuration hash of the revision that run created (journals written
    /// before it was recorded have none).
    pub revision: Option<String>,
    /// It got as far as stopping the running revision.
    pub stopped: bool,
}

/// Reads an interrupted run's journal: the services it created a new revision for
/// whose gate never passed (a `create` with no `cleanup` after it). A `rollback` that
/// did not finish (its swap under way) is reported too, with no revision.
pub fn unconfirmed(journal: &[JournalEntry]) -> Vec<Unconfirmed> {
    let mut open: Vec<Unconfirmed> = Vec::new();
    for entry in journal.iter().filter(|e| !e.service.is_empty()) {
        let at = open
            .iter()
            .position(|u| u.app == entry.app && u.service == entry.service);
        match (entry.step.as_str(), at) {
            ("create", at) => {
                if let Some(i) = at {
                    open.remove(i);
                }
                open.push(Unconfirmed {
                    app: entry.app.clone(),
                    service: entry.service.clone(),
                    revision: entry.revision.clone(),
                    stopped: false,
                });
            }
            ("stop", Some(i)) => open[i].stopped = true,
            // Passed its gate (the step after a pass), or its revert finished.
            ("cleanup", Some(i)) => {
                open.remove(i);
            }
            _ => {}
        }
    }
    open
}

/// The service a plan line refers to.
fn find<'a>(desired: &'a Desired, sp: &ServicePlan) -> Option<(&'a DesiredApp, &'a Service)> {
    let app = desired.apps.iter().find(|a| a.stack.app == sp.app)?;
    let service = app.stack.services.iter().find(|s| s.name == sp.service)?;
    Some((app, service))
}

/// The error of an action not attempted because its audit line could not be written.
fn audit_unwritable(core: &Core, source: std::io::Error) -> String {
    crate::core::CoreError::Audit {
        path: core.audit.path().to_path_buf(),
        source,
    }
    .to_string()
}

/// A host's run refused by read-only mode (the run's, or the host's own), with its
/// `refused` line in the local audit log (nothing is written on the host).
fn refused(
    access: &HostAccess,
    core: &Core,
    action: &str,
    target: &str,
    options: &ApplyOptions,
) -> Option<HostOutcome> {
    let why = if core.read_only {
        crate::core::READ_ONLY_WHY
    } else if access.read_only {
        crate::core::HOST_READ_ONLY_WHY
    } else {
        return None;
    };
    let mut error = format!("refused: {why}");
    if let Err(e) =
        core.record_refusal(&access.name, action, target, options.reason.as_deref(), why)
    {
        error.push_str(&format!(" (not recorded in the audit log: {e})"));
    }
    Some(HostOutcome::new(
        &access.name,
        HostResult::Refused,
        Some(error),
    ))
}

/// Starts a host's run (`action` on `target`, as the audit log names them): refused
/// in read-only mode; not attempted when the audit log cannot be written; else its
/// lock taken. The outcome starts as "unchanged", carrying any interrupted run the
/// lock revealed.
async fn begin(
    core: &Core,
    access: &HostAccess,
    action: &str,
    target: &str,
    options: &ApplyOptions,
) -> Result<(HostLock, HostOutcome), HostOutcome> {
    if let Some(outcome) = refused(access, core, action, target, options) {
        return Err(outcome);
    }
    if let Err(e) = core.audit.check_writable() {
        return Err(HostOutcome::new(
            &access.name,
            HostResult::Failed,
            Some(audit_unwritable(core, e)),
        ));
    }
    let holder = Holder::this_process(action, options.reason.as_deref());
    match lock::acquire(&access.shell, &access.state_dir, holder, options.break_lock).await {
        Ok(acquired) => {
            let mut outcome = HostOutcome::new(&access.name, HostResult::Unchanged, None);
            outcome.interrupted = acquired
                .interrupted
                .map(|(h, j)| Interrupted::from_lock(h, j));
            Ok((acquired.lock, outcome))
        }
        // The holder may well be running (the error says so): not "interrupted".
        Err(e @ lock::LockError::Held { .. }) => Err(HostOutcome::new(
            &access.name,
            HostResult::Locked,
            Some(e.to_string()),
        )),
        Err(e) => Err(HostOutcome::new(
            &access.name,
            HostResult::Failed,
            Some(e.to_string()),
        )),
    }
}

/// Ends a host's run: the lock released (a failure to release is reported), the
/// duration recorded.
async fn end(host_lock: HostLock, mut outcome: HostOutcome, started: Instant) -> HostOutcome {
    if let Err(e) = host_lock.release().await {
        outcome.error.get_or_insert(e);
    }
    outcome.duration_seconds = started.elapsed().as_secs_f64();
    outcome
}

/// Applies `desired` to one host: lock, re-plan against what runs now, apply, release.
pub async fn apply_host(
    core: &Core,
    access: &HostAccess,
    desired: &Desired,
    options: &ApplyOptions,
    events: &Events,
) -> HostOutcome {
    let started = Instant::now();
    if let Some(outcome) = not_started(access, &options.interrupt) {
        return outcome;
    }
    let apps: Vec<String> = desired.apps.iter().map(|a| a.stack.app.clone()).collect();
    let target = super::apps_target(&apps);
    let (host_lock, mut outcome) = match begin(core, access, "deploy", &target, options).await {
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
    // An interrupted run's switch-overs whose gate never passed go back to their
    // previous revision first; the plan below then deploys them again, gate included.
    let resumed = match outcome.interrupted.as_ref() {
        Some(interrupted) => run.resume(&interrupted.journal).await,
        None => Ok(vec![]),
    };
    match resumed {
        Ok(notes) => {
            if let Some(interrupted) = outcome.interrupted.as_mut() {
                interrupted.resumed = notes;
            }
            match plan::managed_containers(&access.docker).await {
                Ok(running) => {
                    let plan = plan::plan_host(desired, &access.prefix, &running);
                    apply_plan(&run, desired, &plan, options.gate, &mut outcome).await;
                }
                Err(e) => {
                    outcome.result = HostResult::Failed;
                    outcome.error = Some(e);
                }
            }
        }
        Err(e) => {
            outcome.result = HostResult::Failed;
            outcome.error = Some(format!("resuming the interrupted run: {e}"));
        }
    }
    mark_interrupted(&mut outcome, &options.interrupt);
    let outcome = end(host_lock, outcome, started).await;
    options.interrupt.done(&access.name);
    outcome
}

fn interrupted_by(interrupt: &Interrupt) -> String {
    format!(
        "interrupted by {}",
        interrupt.requested().map_or("a signal", Signal::name)
    )
}

/// A host not yet begun when the signal came: left alone.
fn not_started(access: &HostAccess, interrupt: &Interrupt) -> Option<HostOutcome> {
    interrupt.requested()?;
    Some(HostOutcome::new(
        &access.name,
        HostResult::Interrupted,
        Some(format!(
            "{} before this host was begun: nothing changed",
            interrupted_by(interrupt)
        )),
    ))
}

/// After a signal: the host's result says so (unless something failed, which says
/// more), with what was done.
fn mark_interrupted(outcome: &mut HostOutcome, interrupt: &Interrupt) {
    if interrupt.requested().is_none() || outcome.result == HostResult::Failed {
        return;
    }
    let count = |r: ServiceResult| outcome.services.iter().filter(|s| s.result == r).count();
    let (back, skipped, done) = (
        count(ServiceResult::RolledBack),
        count(ServiceResult::Skipped),
        count(ServiceResult::Deployed) + count(ServiceResult::Started),
    );
    if back + skipped == 0 {
        // Everything had finished when the signal came.
        return;
    }
    outcome.result = HostResult::Interrupted;
    outcome.error = Some(format!(
        "{}: {back} service(s) rolled back to their previous revision (running), \
         {skipped} not started, {done} done; lock released",
        interrupted_by(interrupt)
    ));
}

async fn apply_plan(
    run: &HostRun<'_>,
    desired: &Desired,
    plan: &HostPlan,
    gate: bool,
    outcome: &mut HostOutcome,
) {
    let mut failed = false;
    let mut changed = false;
    let mut unaudited = false;
    for app in &desired.apps {
        let app_plans: Vec<&ServicePlan> = plan
            .services
            .iter()
            .filter(|s| s.app == app.stack.app)
            .collect();
        // Interrupted between two apps: the next one is not begun.
        if run.interrupt.requested().is_some() {
            failed = true;
        }
        if failed {
            outcome
                .services
                .extend(app_plans.iter().map(|sp| skipped(sp)));
            continue;
        }
        if app_plans
            .iter()
            .any(|s| s.change != Change::Unchanged || !s.leftovers.is_empty())
            && let Err(e) = run.ensure_objects(&app.stack).await
        {
            outcome.error = Some(e);
            failed = true;
            outcome
                .services
                .extend(app_plans.iter().map(|sp| skipped(sp)));
            continue;
        }
        let mut switched: Vec<&ServicePlan> = Vec::new();
        for sp in &app_plans {
            // Interrupted between two services of an app: what it switched goes back,
            // so the app does not run half a release.
            if !failed && run.interrupt.requested().is_some() {
                failed = true;
                switch_back(run, &switched, outcome).await;
            }
            if failed {
                outcome.services.push(skipped(sp));
                continue;
            }
            let Some((desired_app, service)) = find(desired, sp) else {
                continue;
            };
            let target = format!("{} {} ({})", sp.app, sp.container, sp.image);
            let mutating = sp.change != Change::Unchanged || !sp.leftovers.is_empty();
            // No intent line, no step: the service and the rest of the host are not
            // attempted.
            if mutating
                && let Err(e) = run
                    .audit("deploy", &target, AuditResult::Intent, None)
                    .await
            {
                outcome.error = Some(e);
                outcome.result = HostResult::Failed;
                outcome.services.push(skipped(sp));
                failed = true;
                unaudited = true;
                continue;
            }
            match run.apply_service(desired_app, service, sp, gate).await {
                Ok(done) => {
                    if mutating {
                        let _ = run.audit("deploy", &target, AuditResult::Ok, None).await;
                        changed = true;
                    }
                    if done.result == ServiceResult::Deployed && done.from_image.is_some() {
                        switched.push(sp);
                    }
                    outcome.services.push(done);
                }
                Err(done) => {
                    let _ = run
                        .audit(
                            "deploy",
                            &target,
                            AuditResult::Failed,
                            done.error.as_deref(),
                        )
                        .await;
                    outcome.error = done.error.clone();
                    outcome.result = match done.result {
                        ServiceResult::RolledBack => HostResult::RolledBack,
                        // Interrupted before its switch-over: nothing changed.
                        ServiceResult::Skipped => outcome.result,
                        _ => HostResult::Failed,
                    };
                    outcome.services.push(done);
                    failed = true;
                    // The app must not run half a release: switch back what it
                    // already switched.
                    switch_back(run, &switched, outcome).await;
                }
            }
        }
    }
    if !failed {
        outcome.result = if changed {
            HostResult::Deployed
        } else {
            HostResult::Unchanged
        };
    } else if changed && outcome.result == HostResult::Unchanged {
        // Stopped by a signal after some apps were deployed.
        outcome.result = HostResult::Deployed;
    }
    // Without an audit log nothing more is done on the host, not even the cleanup.
    if (changed || failed) && !unaudited {
        let _ = run.step("", "", "cleanup", "old secret files").await;
        if let Err(e) = run.clean_secrets().await {
            tracing::warn!(host = %run.access.name, "{e}");
        }
    }
}

/// Switches back the services of an app this run already switched (latest first).
async fn switch_back(run: &HostRun<'_>, switched: &[&ServicePlan], outcome: &mut HostOutcome) {
    for prior in switched.iter().rev() {
        let result = run
            .swap_with_previous(&prior.app, &prior.service, &prior.container)
            .await;
        if let Some(o) = outcome
            .services
            .iter_mut()
            .find(|o| o.container == prior.container)
        {
            match result {
                Ok(()) => o.result = ServiceResult::RolledBack,
                Err(e) => {
                    o.result = ServiceResult::Failed;
                    o.error = Some(format!("switching back failed: {e}"));
                    outcome.result = HostResult::Failed;
                }
            }
        }
    }
}

fn skipped(sp: &ServicePlan) -> ServiceOutcome {
    ServiceOutcome {
        app: sp.app.clone(),
        service: sp.service.clone(),
        container: sp.container.clone(),
        change: sp.change,
        from_image: sp.current.as_ref().map(|c| c.image.clone()),
        to_image: sp.image.clone(),
        result: if sp.change == Change::Unchanged {
            ServiceResult::Unchanged
        } else {
            ServiceResult::Skipped
        },
        gate_seconds: None,
        error: None,
        logs: vec![],
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
        RollbackScope::Apps(apps) => super::apps_target(apps),
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

/// The service declares a test of its own (a check inherited from the image is
/// noticed by the gate from the container's state).
fn declares_healthcheck(service: &Service) -> bool {
    service
        .healthcheck
        .as_ref()
        .and_then(|h| h.test.as_ref())
        .is_some_and(|t| !matches!(t, crate::core::stack::HealthTest::Disabled))
}

async fn has_healthcheck(docker: &Docker, container: &str) -> bool {
    crate::docker::clean::inspect_container(docker, container)
        .await
        .ok()
        .and_then(|c| c.config?.healthcheck?.test)
        .is_some_and(|test| test.first().is_some_and(|t| t != "NONE"))
}

/// `user` as `uid[:gid]` when it is numeric, else root (a name cannot be resolved on
/// the host without the image's /etc/passwd; declare `uid` on the secret instead).
fn numeric_user(user: Option<&str>) -> String {
    let Some(user) = user else {
        return "0:0".into();
    };
    let (u, g) = user.split_once(':').unwrap_or((user, user));
    if u.chars().all(|c| c.is_ascii_digit())
        && g.chars().all(|c| c.is_ascii_digit())
        && !u.is_empty()
        && !g.is_empty()
    {
        format!("{u}:{g}")
    } else {
        "0:0".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(service: &str, step: &str, revision: Option<&str>) -> JournalEntry {
        JournalEntry {
            time: "2026-11-23T10:00:00Z".into(),
            app: "web".into(),
            service: service.into(),
            step: step.into(),
            detail: String::new(),
            revision: revision.map(str::to_owned),
        }
    }

    #[test]
    fn a_switch_over_without_a_passed_gate_is_unconfirmed() {
        // Killed in the gate: unconfirmed, with the new revision's hash.
        let killed_in_gate = [
            entry("web", "create", Some("abc")),
            entry("web", "stop", None),
            entry("web", "start", None),
            entry("web", "gate", None),
        ];
        assert_eq!(
            unconfirmed(&killed_in_gate),
            vec![Unconfirmed {
                app: "web".into(),
                service: "web".into(),
                revision: Some("abc".into()),
                stopped: true,
            }]
        );
        // Passed (its cleanup journalled): nothing to resume; the next service of
        // the app, created but never stopped for, is unconfirmed but untouched.
        let passed = [
            entry("web", "create", Some("abc")),
            entry("web", "stop", None),
            entry("web", "gate", None),
            entry("web", "cleanup", None),
            entry("db", "create", Some("def")),
            entry("", "cleanup", None),
        ];
        let open = unconfirmed(&passed);
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0].service, "db");
        assert!(!open[0].stopped);
        // A revert that did not finish stays unconfirmed; an older journal has no
        // revision.
        let reverting = [
            entry("web", "create", None),
            entry("web", "stop", None),
            entry("web", "gate", None),
            entry("web", "revert", None),
        ];
        let open = unconfirmed(&reverting);
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].revision, None);
        assert!(unconfirmed(&[]).is_empty());
    }

    #[test]
    fn secret_owners_follow_numeric_users_only() {
        assert_eq!(numeric_user(None), "0:0");
        assert_eq!(numeric_user(Some("1000")), "1000:1000");
        assert_eq!(numeric_user(Some("1000:50")), "1000:50");
        assert_eq!(numeric_user(Some("www-data")), "0:0");
    }
}
