//! The deployment core: desired state (stacks + inventory + secrets) → plan (the
//! difference from what runs) → apply with health gates, automatic rollback, a lock
//! and a journal per host. The headless CLI (`fleetdeck deploy`, `fleetdeck
//! rollback`), the console's deploy wizard and `fleetdeck lab up` all call these
//! functions, in this order:
//!
//! 1. [`prepare`]: inventory → targets → desired state for every host. Any problem
//!    (a missing variable, an unpinned image, a secret that will not decrypt) stops
//!    here, before any host is contacted.
//! 2. [`connect_and_plan`]: one SSH session per host, its containers listed, its plan.
//! 3. [`apply_all`] / [`rollback_all`]: hosts in parallel, each under its own lock.
//!
//! [`summary::summary_lines`] words the outcomes for people.

pub mod apply;
pub mod expected;
pub mod gate;
pub mod lock;
pub mod plan;
pub mod shell;
pub mod summary;

use futures_util::StreamExt as _;

pub use apply::{
    ApplyOptions, DeployEvent, Events, HostAccess, HostOutcome, HostResult, ServiceOutcome,
    ServiceResult,
};
pub use expected::{expected_apps, expected_fleet};
pub use plan::{Change, Desired, HostPlan, IdentityCache};

use crate::core::Core;
use crate::docker::transport::connect_negotiated;
use crate::fleet::target::{self, Contexts, Target};
use crate::inventory::Inventory;
use crate::sanitize;
use crate::ssh::session::Session;
use crate::ssh::setup::SshOptions;

/// Hosts worked on at the same time. Each holds one SSH session and at most one
/// container in its health gate; the limit keeps a 100-host rollout from starting 100
/// pulls at once.
pub const PARALLEL_HOSTS: usize = 8;
/// Connections are cheap to wait for (the SSH layer caps concurrent key exchanges).
const CONNECT_PARALLEL: usize = 32;
/// Docker requests may wait for a container's stop grace, or an image pull.
const DOCKER_TIMEOUT_SECS: u64 = 300;

/// What a run is about, from the command line or the wizard.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub limit: Option<String>,
    /// Only these apps (empty: every app of each host).
    pub apps: Vec<String>,
    /// `-e KEY=VALUE`, winning over the inventory.
    pub extra_vars: serde_json::Map<String, serde_json::Value>,
}

/// Every selected host with the state it should reach.
pub struct Prepared {
    pub hosts: Vec<(Target, Desired)>,
}

/// Step 1: the desired state of every selected host, or every problem found.
pub fn prepare(
    inventory: &Inventory,
    request: &Request,
    identities: &mut IdentityCache,
) -> Result<Prepared, Vec<String>> {
    let targets =
        target::nonempty_targets(inventory, request.limit.as_deref()).map_err(|e| vec![e])?;
    let mut hosts = Vec::new();
    let mut problems = Vec::new();
    for target in targets {
        if !request.apps.is_empty()
            && !request
                .apps
                .iter()
                .any(|a| target.settings.apps.contains(a))
        {
            // `--app gitea --limit clients`: hosts without that app are not part of it.
            continue;
        }
        let only: Vec<String> = request
            .apps
            .iter()
            .filter(|a| target.settings.apps.contains(a))
            .cloned()
            .collect();
        match plan::desired(&target, &only, &request.extra_vars, identities) {
            Ok(desired) => hosts.push((target, desired)),
            Err(errors) => problems.extend(errors),
        }
    }
    if hosts.is_empty() && problems.is_empty() {
        problems.push(format!("no selected host runs {}", request.apps.join(", ")));
    }
    if problems.is_empty() {
        Ok(Prepared { hosts })
    } else {
        Err(problems)
    }
}

/// A host after step 2.
pub struct Planned {
    pub target: Target,
    pub desired: Desired,
    /// The connection and the plan, or why there is none.
    pub reached: Result<(HostAccess, HostPlan), String>,
    /// The SSH session, kept open for the apply step.
    _session: Option<Session>,
}

impl Planned {
    pub fn plan(&self) -> Option<&HostPlan> {
        self.reached.as_ref().ok().map(|(_, p)| p)
    }
}

/// Step 2: connects to every host (in parallel) and plans it.
pub async fn connect_and_plan(
    options: &SshOptions,
    prepared: Prepared,
) -> Result<Vec<Planned>, String> {
    let targets: Vec<Target> = prepared.hosts.iter().map(|(t, _)| t.clone()).collect();
    let contexts = Contexts::prepare(options, &targets).map_err(|e| e.to_string())?;
    for notice in &contexts.notices {
        tracing::info!("{notice}");
    }
    let contexts = &contexts;
    let planned = futures_util::stream::iter(prepared.hosts)
        .map(|(target, desired)| async move {
            let connected = async {
                let ctx = contexts
                    .for_target(options, &target)
                    .ok_or_else(|| "no SSH configuration prepared for this host".to_owned())?;
                let resolved = target.resolve(&ctx);
                let session =
                    Session::connect(&ctx, &resolved, target.settings.ssh.host_key_pin.clone())
                        .await
                        .map_err(|e| sanitize::line(&e.to_string()))?;
                let docker = connect_negotiated(
                    session.docker_socket(&target.settings.docker_socket),
                    DOCKER_TIMEOUT_SECS,
                )
                .await
                .map_err(|e| sanitize::line(&format!("Docker engine: {e}")))?;
                let running = plan::managed_containers(&docker).await?;
                let host_plan =
                    plan::plan_host(&desired, &target.settings.container_prefix, &running);
                let access = HostAccess {
                    name: target.name.clone(),
                    shell: shell::HostShell::Ssh(session.clone()),
                    docker,
                    state_dir: target.settings.state_dir.clone(),
                    prefix: target.settings.container_prefix.clone(),
                    read_only: target.settings.read_only,
                };
                Ok::<_, String>((access, host_plan, session))
            }
            .await;
            let (reached, session) = match connected {
                Ok((access, plan, session)) => (Ok((access, plan)), Some(session)),
                Err(e) => (Err(e), None),
            };
            Planned {
                target,
                desired,
                reached,
                _session: session,
            }
        })
        .buffered(CONNECT_PARALLEL)
        .collect::<Vec<_>>()
        .await;
    Ok(planned)
}

/// Step 3: applies every reachable host's desired state, [`PARALLEL_HOSTS`] at a time.
/// Unreachable hosts are reported as such; one host's failure never stops another's.
/// From here on, SIGINT/SIGTERM/SIGHUP stop the run safely (`options.interrupt`).
pub async fn apply_all(
    core: &Core,
    planned: &[Planned],
    options: &ApplyOptions,
    events: &Events,
) -> Vec<HostOutcome> {
    options.interrupt.listen();
    on_each_host(planned, |access, p| {
        apply::apply_host(core, access, &p.desired, options, events)
    })
    .await
}

/// `fleetdeck rollback` on every reachable host.
pub async fn rollback_all(
    core: &Core,
    planned: &[Planned],
    apps: &[String],
    options: &ApplyOptions,
    events: &Events,
) -> Vec<HostOutcome> {
    options.interrupt.listen();
    on_each_host(planned, |access, _| {
        apply::rollback_host(core, access, apps, options, events)
    })
    .await
}

/// Runs `work` on every reachable host, [`PARALLEL_HOSTS`] at a time, in the hosts'
/// order; an unreachable host is reported as such.
async fn on_each_host<'a, F, Fut>(planned: &'a [Planned], work: F) -> Vec<HostOutcome>
where
    F: Fn(&'a HostAccess, &'a Planned) -> Fut,
    Fut: std::future::Future<Output = HostOutcome>,
{
    let work = &work;
    futures_util::stream::iter(planned)
        .map(|p| async move {
            match &p.reached {
                Ok((access, _)) => work(access, p).await,
                Err(e) => {
                    HostOutcome::new(&p.target.name, HostResult::Unreachable, Some(e.clone()))
                }
            }
        })
        .buffered(PARALLEL_HOSTS)
        .collect()
        .await
}

/// Applies one host's desired state on an engine reached without SSH (the lab's own
/// engines, on this machine): the same steps, lock and journal, with the host's
/// commands run locally.
pub async fn apply_local(
    core: &Core,
    target: &Target,
    desired: &Desired,
    docker: bollard::Docker,
    options: &ApplyOptions,
) -> HostOutcome {
    let access = HostAccess {
        name: target.name.clone(),
        shell: shell::HostShell::Local,
        docker,
        state_dir: target.settings.state_dir.clone(),
        prefix: target.settings.container_prefix.clone(),
        read_only: target.settings.read_only,
    };
    let (events, _) = tokio::sync::mpsc::unbounded_channel();
    apply::apply_host(core, &access, desired, options, &events).await
}

/// The audit `target` of a run that names apps rather than containers (a refusal):
/// `web, api`, or `every app`.
pub fn apps_target(apps: &[String]) -> String {
    if apps.is_empty() {
        "every app".to_owned()
    } else {
        apps.join(", ")
    }
}
