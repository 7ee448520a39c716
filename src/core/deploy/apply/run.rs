//! A host's deploy from start to end ([`apply_host`]): refused in read-only mode, its
//! lock taken, an interrupted run resumed, the plan applied app by app (an app that
//! fails is switched back whole), the lock released; and what a signal leaves.

use std::time::Instant;

use crate::audit::AuditResult;
use crate::core::Core;
use crate::core::deploy::lock::{self, Holder, HostLock};
use crate::core::deploy::plan::{self, Change, Desired, DesiredApp, HostPlan, ServicePlan};
use crate::core::interrupt::{Interrupt, Signal};
use crate::stack::Service;

use super::host_run::{HostRun, audit_unwritable};
use super::outcome::{Events, HostOutcome, HostResult, Interrupted, ServiceOutcome, ServiceResult};
use super::{ApplyOptions, HostAccess};

/// The service a plan line refers to.
pub(super) fn find<'a>(
    desired: &'a Desired,
    sp: &ServicePlan,
) -> Option<(&'a DesiredApp, &'a Service)> {
    let app = desired.apps.iter().find(|a| a.stack.app == sp.app)?;
    let service = app.stack.services.iter().find(|s| s.name == sp.service)?;
    Some((app, service))
}

/// A host's run refused by read-only mode (the run's, or the host's own), with its
/// `refused` line in the local audit log (nothing is written on the host).
pub(super) fn refused(
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
pub(super) async fn begin(
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
pub(super) async fn end(
    host_lock: HostLock,
    mut outcome: HostOutcome,
    started: Instant,
) -> HostOutcome {
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
    let target = crate::core::deploy::apps_target(&apps);
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

pub(super) fn interrupted_by(interrupt: &Interrupt) -> String {
    format!(
        "interrupted by {}",
        interrupt.requested().map_or("a signal", Signal::name)
    )
}

/// A host not yet begun when the signal came: left alone.
pub(super) fn not_started(access: &HostAccess, interrupt: &Interrupt) -> Option<HostOutcome> {
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
pub(super) fn mark_interrupted(outcome: &mut HostOutcome, interrupt: &Interrupt) {
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

pub(super) async fn apply_plan(
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
pub(super) async fn switch_back(
    run: &HostRun<'_>,
    switched: &[&ServicePlan],
    outcome: &mut HostOutcome,
) {
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

pub(super) fn skipped(sp: &ServicePlan) -> ServiceOutcome {
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
