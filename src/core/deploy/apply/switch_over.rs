//! The switch-over of one service: `NAME.next` created, `NAME` stopped, `NAME.next`
//! started and gated, then renamed into place; and the revert when any of that fails.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::models::NetworkConnectRequest;
use bollard::query_parameters::CreateContainerOptionsBuilder;

use crate::core::deploy::gate::{self, GateSpec};
use crate::core::deploy::plan::{Change, DesiredApp, ServicePlan};
use crate::stack::Service;
use crate::stack::labels::{
    APP_LABEL, DEPLOYED_AT_LABEL, DEPLOYED_BY_LABEL, HASH_LABEL, NEXT_SUFFIX, OLDEST_SUFFIX,
    PREVIOUS_SUFFIX, SERVICE_LABEL,
};

use super::host_run::{HostRun, docker_err};
use super::outcome::{ServiceOutcome, ServiceResult};
use super::run::interrupted_by;

impl HostRun<'_> {
    /// Brings one service to its planned revision. `Err` carries the outcome to
    /// report after the caller has reverted what this app already switched.
    pub(super) async fn apply_service(
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

    /// Undoes a switch that failed at any point: the new container goes, the previous
    /// one becomes `c` again and starts, the one before it becomes `.prev` again.
    pub(super) async fn revert(&self, c: &str, next: &str, had_old: bool) -> Result<(), String> {
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
}
