//! The container signal: what Docker says about each container on a host, reduced to
//! what an on-call engineer needs — state, health (with the last check's output),
//! restarts, exit code, OOM kills, uptime, image and whether it is pinned.

use bollard::Docker;
use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum, HealthcheckResult,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::ListContainersOptionsBuilder;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::engine_events::{EngineAt, EngineUpdate, follow_engine};
use crate::probes::Severity;
use crate::probes::firewall::PublishedPort;
use crate::probes::posture::containers as posture;
use crate::sanitize;
use crate::stack::RestartPolicy;

/// Inspections in flight at once per host: enough to hide the round trip over SSH,
/// few enough not to flood a small engine.
const INSPECT_CONCURRENCY: usize = 8;
/// Health-check output is kept to this many characters: enough for an error line.
const HEALTH_OUTPUT_CHARS: usize = 300;

pub use crate::probes::posture::containers::{Pinning, pinning};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerReport {
    pub name: String,
    /// The first 12 hex digits, as `docker ps` shows it.
    pub id: String,
    /// Docker's state word: `created`, `running`, `paused`, `restarting`, `removing`,
    /// `exited`, `dead`.
    pub state: String,
    /// `starting`, `healthy`, `unhealthy`; absent without a health check.
    pub health: Option<String>,
    /// The most recent health check's output, cleaned and shortened.
    pub health_output: Option<String>,
    pub restart_count: i64,
    /// For `exited` and `dead` containers.
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// RFC 3339 UTC; absent for a container never started.
    pub started_at: Option<String>,
    pub uptime_seconds: Option<i64>,
    /// The reference the container was created from (e.g. `nginx:1.25`).
    pub image: String,
    pub image_pinned: Pinning,
    pub severity: Severity,
    /// One line saying what is wrong, when something is.
    pub problem: Option<String>,
    /// `fleetdeck.app`: the app fleetdeck deployed it for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// `fleetdeck.service`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `fleetdeck.config-hash`: what the deploy that created it hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_hash: Option<String>,
    /// What its configuration allows (docs/posture.md), whatever its state; none for
    /// a kept revision (`NAME.prev`, `NAME.old`), a stopped copy of a live one.
    pub findings: Vec<crate::probes::posture::Finding>,
    /// The ports its configuration publishes (`HostConfig.PortBindings`), whatever its
    /// state, for the firewall comparison
    /// ([`crate::probes::firewall::docker_published_drift`]); none for a kept revision,
    /// whose ports are its live container's.
    pub published: Vec<PublishedPort>,
}

impl ContainerReport {
    /// Running and failing its health check. Docker keeps the last health status of a
    /// stopped container (a kept `NAME.prev` revision stays "unhealthy" after it was
    /// stopped), which says nothing about it now.
    pub fn is_unhealthy(&self) -> bool {
        self.state == "running" && self.health.as_deref() == Some("unhealthy")
    }
}

/// Lists every container (running or not) and inspects each.
pub async fn collect(
    docker: &Docker,
    now: OffsetDateTime,
) -> Result<Vec<ContainerReport>, bollard::errors::Error> {
    let summaries = crate::docker::clean::list_containers(
        docker,
        Some(ListContainersOptionsBuilder::default().all(true).build()),
    )
    .await?;
    let ids: Vec<String> = summaries.into_iter().filter_map(|s| s.id).collect();
    let mut reports: Vec<ContainerReport> = stream::iter(ids)
        .map(|id| async move { inspect(docker, &id, now).await })
        .buffer_unordered(INSPECT_CONCURRENCY)
        .try_filter_map(|report| async move { Ok(report) })
        .try_collect()
        .await?;
    reports.sort_by(listing_order);
    Ok(reports)
}

/// One container; `None` when it disappeared between listing and inspecting.
pub async fn inspect(
    docker: &Docker,
    id: &str,
    now: OffsetDateTime,
) -> Result<Option<ContainerReport>, bollard::errors::Error> {
    match crate::docker::clean::inspect_container(docker, id).await {
        Ok(details) => Ok(Some(report(&details, now))),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The report for one inspected container (pure). `details` come from
/// [`crate::docker::clean::inspect_container`], so names and image are already clean;
/// only the health output is folded onto one line here.
pub fn report(details: &ContainerInspectResponse, now: OffsetDateTime) -> ContainerReport {
    let state = details.state.clone().unwrap_or_default();
    let status = state.status.unwrap_or(ContainerStateStatusEnum::EMPTY);
    let state_word = match status {
        ContainerStateStatusEnum::EMPTY => "unknown".to_owned(),
        other => other.to_string(),
    };
    let health = state.health.as_ref().and_then(|h| match h.status {
        Some(HealthStatusEnum::STARTING) => Some("starting"),
        Some(HealthStatusEnum::HEALTHY) => Some("healthy"),
        Some(HealthStatusEnum::UNHEALTHY) => Some("unhealthy"),
        _ => None,
    });
    let health_output = state
        .health
        .as_ref()
        .and_then(|h| h.log.as_ref())
        .and_then(|log| log.last())
        .and_then(last_output);
    let started = state
        .started_at
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .filter(|t| t.year() > 1);
    let running = matches!(
        status,
        ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::PAUSED
    );
    let exit_code = matches!(
        status,
        ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD
    )
    .then_some(state.exit_code)
    .flatten();
    let restart_count = details.restart_count.unwrap_or(0);
    let oom_killed = state.oom_killed.unwrap_or(false);
    let image = details
        .config
        .as_ref()
        .and_then(|c| c.image.clone())
        .or_else(|| details.image.clone())
        .unwrap_or_default();
    let stopped = matches!(
        status,
        ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::CREATED
    );
    let kept_revision = is_kept_revision(details);
    let (severity, problem) = if stopped && kept_revision {
        // Stopped on purpose by a deploy, ready for `fleetdeck rollback`.
        (Severity::Ok, None)
    } else {
        judge(
            status,
            health,
            exit_code,
            oom_killed,
            restart_count,
            health_output.as_deref(),
            &restart_policy(details),
        )
    };
    ContainerReport {
        name: details
            .name
            .as_deref()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_owned(),
        id: details
            .id
            .as_deref()
            .map(|id| id.chars().take(12).collect())
            .unwrap_or_default(),
        state: state_word,
        health: health.map(str::to_owned),
        health_output,
        restart_count,
        exit_code,
        oom_killed,
        started_at: started.and_then(crate::util::time::try_rfc3339),
        uptime_seconds: started
            .filter(|_| running)
            .map(|t| (now - t).whole_seconds().max(0)),
        image_pinned: pinning(&image),
        image,
        severity,
        problem,
        app: label(details, crate::stack::labels::APP_LABEL),
        service: label(details, crate::stack::labels::SERVICE_LABEL),
        config_hash: label(details, crate::stack::labels::HASH_LABEL),
        findings: if kept_revision {
            Vec::new()
        } else {
            posture::audit(details, &secret_env_marked(details))
        },
        published: if kept_revision {
            Vec::new()
        } else {
            posture::published_ports(details)
                .iter()
                .filter_map(posture::Binding::firewall_port)
                .collect()
        },
    }
}

/// The variables the deploy put a stack secret in (`x-fleetdeck-secret-env`): the
/// deployment core names them, never their values, in a label.
fn secret_env_marked(details: &ContainerInspectResponse) -> Vec<String> {
    label(details, crate::docker::inspect::SECRET_ENV_LABEL)
        .map(|names| {
            names
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn label(details: &ContainerInspectResponse, key: &str) -> Option<String> {
    details
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .and_then(|labels| labels.get(key))
        .cloned()
}

/// The order containers are listed in: by name, with the revisions a deploy keeps
/// for rollback (`NAME.prev`, `NAME.old`) after every live container.
pub fn listing_order(a: &ContainerReport, b: &ContainerReport) -> std::cmp::Ordering {
    use crate::stack::labels::is_kept_revision_name as kept;
    kept(&a.name)
        .cmp(&kept(&b.name))
        .then_with(|| a.name.cmp(&b.name))
}

/// A previous revision the deployment core keeps, stopped, for an instant rollback
/// (`NAME.prev`, or `NAME.old` while a deploy decides): its exit is no incident.
fn is_kept_revision(details: &ContainerInspectResponse) -> bool {
    use crate::stack::labels::{APP_LABEL, is_kept_revision_name};
    let managed = details
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .is_some_and(|l| l.contains_key(APP_LABEL));
    let name = details.name.as_deref().unwrap_or("");
    managed && is_kept_revision_name(name)
}

/// Whether a container under restart policy `policy` is meant to be running — the one
/// judgement behind a container's severity here, deploy's plan (`start (stopped)`)
/// and the canary's soak. Docker brings a container under `always` or
/// `unless-stopped` back whatever its exit code, so one found stopped was stopped by
/// hand or given up on: its service is down. `on-failure` restarts only a failure,
/// so a clean exit (code 0) is a finished job, and an exit code not known counts as
/// a failure; under `no` it is a one-shot.
pub fn meant_to_run(policy: &RestartPolicy, exit_code: Option<i64>) -> bool {
    match policy {
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure(_) => exit_code != Some(0),
        RestartPolicy::No => false,
    }
}

/// The restart policy the engine runs the container under (`no` when it says none).
pub fn restart_policy(details: &ContainerInspectResponse) -> RestartPolicy {
    let policy = details
        .host_config
        .as_ref()
        .and_then(|h| h.restart_policy.as_ref());
    match policy.and_then(|p| p.name) {
        Some(RestartPolicyNameEnum::ALWAYS) => RestartPolicy::Always,
        Some(RestartPolicyNameEnum::UNLESS_STOPPED) => RestartPolicy::UnlessStopped,
        Some(RestartPolicyNameEnum::ON_FAILURE) => RestartPolicy::OnFailure(
            policy
                .and_then(|p| p.maximum_retry_count)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0),
        ),
        Some(RestartPolicyNameEnum::NO | RestartPolicyNameEnum::EMPTY) | None => RestartPolicy::No,
    }
}

fn policy_word(policy: &RestartPolicy) -> &'static str {
    match policy {
        RestartPolicy::No => "no",
        RestartPolicy::Always => "always",
        RestartPolicy::UnlessStopped => "unless-stopped",
        RestartPolicy::OnFailure(_) => "on-failure",
    }
}

/// Severity rules, in words: a running container is fine unless its health check
/// fails (critical) or has not passed yet (warning); restarting, dead, OOM-killed or
/// exited with a non-zero code is critical; exited with 0 is a finished one-shot job
/// (ok) unless its restart policy says it should run ([`meant_to_run`]: critical);
/// paused and created-but-never-started are warnings.
fn judge(
    status: ContainerStateStatusEnum,
    health: Option<&str>,
    exit_code: Option<i64>,
    oom_killed: bool,
    restart_count: i64,
    health_output: Option<&str>,
    policy: &RestartPolicy,
) -> (Severity, Option<String>) {
    use ContainerStateStatusEnum as S;
    let with_output = |what: &str| match health_output {
        Some(output) if !output.is_empty() => format!("{what}: {output}"),
        _ => what.to_owned(),
    };
    if oom_killed {
        return (Severity::Critical, Some("killed: out of memory".to_owned()));
    }
    match status {
        S::RUNNING => match health {
            Some("unhealthy") => (Severity::Critical, Some(with_output("unhealthy"))),
            Some("starting") => (
                Severity::Warning,
                Some("health check not passed yet".to_owned()),
            ),
            _ => (Severity::Ok, None),
        },
        S::RESTARTING => (
            Severity::Critical,
            Some(format!("restarting ({restart_count} restarts)")),
        ),
        S::EXITED => match exit_code {
            Some(0) if meant_to_run(policy, exit_code) => (
                Severity::Critical,
                Some(format!(
                    "stopped (exit code 0) although its restart policy ({}) says it should run",
                    policy_word(policy)
                )),
            ),
            Some(0) => (Severity::Ok, None),
            Some(code) => (Severity::Critical, Some(format!("exited with code {code}"))),
            None => (Severity::Critical, Some("exited".to_owned())),
        },
        S::DEAD => (Severity::Critical, Some("dead".to_owned())),
        S::PAUSED => (Severity::Warning, Some("paused".to_owned())),
        S::CREATED => (Severity::Warning, Some("created, never started".to_owned())),
        S::REMOVING | S::STOPPING => (Severity::Warning, Some(status.to_string())),
        S::EMPTY => (
            Severity::Unknown,
            Some("Docker reported no state".to_owned()),
        ),
    }
}

fn last_output(result: &HealthcheckResult) -> Option<String> {
    let output = sanitize::line(result.output.as_deref()?);
    let output = output.trim();
    if output.is_empty() {
        return None;
    }
    let mut short: String = output.chars().take(HEALTH_OUTPUT_CHARS).collect();
    if output.chars().count() > HEALTH_OUTPUT_CHARS {
        short.push('…');
    }
    Some(short)
}

/// What the container watcher reports.
#[derive(Debug, Clone)]
pub enum ContainerUpdate {
    /// A full listing (after connecting, after a possible gap, and periodically).
    All(Vec<ContainerReport>, OffsetDateTime),
    /// One container changed (an event named it).
    Changed(Box<ContainerReport>, OffsetDateTime),
    /// A container was removed.
    Gone { id: String, at: OffsetDateTime },
    /// The listing failed while the host was reachable (engine down, socket missing).
    Failed(String, OffsetDateTime),
}

/// How often the whole list is read again even when events say nothing changed: the
/// safety net under the event stream.
pub const RELIST_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Keeps an engine's container list current while it can be reached: a full listing
/// when the event feed (re)starts, one inspection per container event, a full listing
/// every [`RELIST_INTERVAL`]. Each update goes to `out` as `wrap` makes it, so it
/// reaches its reader directly. Runs until `out` is closed (or the host's link ends).
pub async fn watch<T>(
    mut engine: EngineAt,
    out: tokio::sync::mpsc::Sender<T>,
    wrap: impl Fn(ContainerUpdate) -> T,
) {
    let (events_tx, mut events) = tokio::sync::mpsc::channel(256);
    let feed = tokio::spawn(follow_engine(engine.clone(), events_tx));
    let _stop_feed = AbortOnDrop(feed);
    // The client of the current route (its session; `None` for the local socket).
    let mut client: Option<(Option<crate::ssh::session::Session>, Docker)> = None;
    let mut relist = tokio::time::interval(RELIST_INTERVAL);
    relist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A host's engine is asked while its link is up. The local engine is not asked
    // from losing its feed until following it again: the feed reports it down, as a
    // host's link does.
    let local = matches!(engine, EngineAt::Local { .. });
    let mut local_engine_lost = false;
    loop {
        let wanted = tokio::select! {
            update = events.recv() => match update {
                None => return,
                Some(EngineUpdate::Following { .. } | EngineUpdate::PossibleGap) => {
                    local_engine_lost = false;
                    Wanted::All
                }
                Some(EngineUpdate::Event(event)) => match container_event(&event) {
                    Some((id, true)) => Wanted::Gone(id),
                    Some((id, false)) => Wanted::One(id),
                    None => Wanted::Nothing,
                },
                Some(EngineUpdate::Interrupted { .. } | EngineUpdate::Unreachable { .. }) => {
                    if local {
                        // Its next connection may be to a restarted engine.
                        local_engine_lost = true;
                        client = None;
                    }
                    Wanted::Nothing
                }
            },
            _ = relist.tick() => Wanted::All,
            ended = engine.link_changed() => {
                if ended {
                    return;
                }
                Wanted::Nothing
            }
        };
        if matches!(wanted, Wanted::Nothing) {
            continue;
        }
        let now = OffsetDateTime::now_utc();
        if let Wanted::Gone(id) = wanted {
            if out
                .send(wrap(ContainerUpdate::Gone { id, at: now }))
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        let Some(route) = engine.current_route().filter(|_| !local_engine_lost) else {
            continue;
        };
        let docker = match &client {
            Some((current, docker)) if same_route(current.as_ref(), route.session.as_ref()) => {
                docker.clone()
            }
            _ => match crate::docker::transport::connect_negotiated(route.opener, 30).await {
                Ok(docker) => {
                    client = Some((route.session, docker.clone()));
                    docker
                }
                // The local engine's own feed reports it unreachable (the host down).
                Err(_) if route.session.is_none() => continue,
                Err(error) => {
                    let message = sanitize::line(&engine.unreachable(&error));
                    if out
                        .send(wrap(ContainerUpdate::Failed(message, now)))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            },
        };
        let update = match wanted {
            Wanted::One(id) => match inspect(&docker, &id, now).await {
                Ok(Some(report)) => ContainerUpdate::Changed(Box::new(report), now),
                Ok(None) => ContainerUpdate::Gone { id, at: now },
                Err(error) => ContainerUpdate::Failed(sanitize::line(&error.to_string()), now),
            },
            _ => match collect(&docker, now).await {
                Ok(all) => ContainerUpdate::All(all, now),
                Err(error) => ContainerUpdate::Failed(sanitize::line(&error.to_string()), now),
            },
        };
        if matches!(update, ContainerUpdate::Failed(..)) && matches!(engine, EngineAt::Local { .. })
        {
            // The local engine may have restarted: connect afresh next time.
            client = None;
        }
        if out.send(wrap(update)).await.is_err() {
            return;
        }
    }
}

/// Whether two routes are the same connection (the local socket is always one).
fn same_route(
    a: Option<&crate::ssh::session::Session>,
    b: Option<&crate::ssh::session::Session>,
) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.same_connection(b),
        (None, None) => true,
        _ => false,
    }
}

enum Wanted {
    Nothing,
    All,
    One(String),
    Gone(String),
}

/// Aborts the task when dropped, so a feed never outlives its reader.
pub(super) struct AbortOnDrop(pub(super) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The container an event is about (first 12 hex digits of its id), and whether the
/// event removed it. Events of other kinds, and exec events, which say nothing about
/// the container's own state, are ignored.
fn container_event(event: &bollard::models::EventMessage) -> Option<(String, bool)> {
    use bollard::models::EventMessageTypeEnum;
    if event.typ != Some(EventMessageTypeEnum::CONTAINER) {
        return None;
    }
    let action = event.action.as_deref().unwrap_or("");
    if action.starts_with("exec_") || action == "attach" || action == "resize" {
        return None;
    }
    let id: String = event
        .actor
        .as_ref()?
        .id
        .as_deref()?
        .chars()
        .take(12)
        .collect();
    Some((id, action == "destroy"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerConfig, ContainerState, Health};

    fn inspected(
        status: ContainerStateStatusEnum,
        health: Option<(HealthStatusEnum, &str)>,
    ) -> ContainerInspectResponse {
        ContainerInspectResponse {
            id: Some("0123456789abcdef0123".to_owned()),
            name: Some("/client-alpha-web".to_owned()),
            restart_count: Some(4),
            config: Some(ContainerConfig {
                image: Some("fleetdeck-lab/app:1.0".to_owned()),
                ..ContainerConfig::default()
            }),
            state: Some(ContainerState {
                status: Some(status),
                exit_code: Some(3),
                started_at: Some("2026-11-23T10:00:00.123456789Z".to_owned()),
                health: health.map(|(status, output)| Health {
                    status: Some(status),
                    failing_streak: Some(2),
                    log: Some(vec![HealthcheckResult {
                        output: Some(output.to_owned()),
                        ..HealthcheckResult::default()
                    }]),
                }),
                ..ContainerState::default()
            }),
            ..ContainerInspectResponse::default()
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2026-11-23T11:00:00Z", &Rfc3339).expect("time")
    }

    #[test]
    fn unhealthy_is_critical_with_the_checks_output_cleaned() {
        let details = inspected(
            ContainerStateStatusEnum::RUNNING,
            Some((HealthStatusEnum::UNHEALTHY, "curl: (7) refused\u{1b}[2J\n")),
        );
        let report = report(&details, now());
        assert_eq!(report.severity, Severity::Critical);
        assert_eq!(report.health.as_deref(), Some("unhealthy"));
        assert_eq!(report.health_output.as_deref(), Some("curl: (7) refused"));
        assert_eq!(
            report.problem.as_deref(),
            Some("unhealthy: curl: (7) refused")
        );
        assert_eq!(report.name, "client-alpha-web");
        assert_eq!(report.id, "0123456789ab");
        assert_eq!(report.uptime_seconds, Some(3599));
        assert_eq!(report.image_pinned, Pinning::Tag);
        assert_eq!(report.exit_code, None, "no exit code while running");
    }

    #[test]
    fn states_map_to_severities() {
        let of = |status, health| report(&inspected(status, health), now()).severity;
        use ContainerStateStatusEnum as S;
        assert_eq!(
            of(S::RUNNING, Some((HealthStatusEnum::HEALTHY, "ok"))),
            Severity::Ok
        );
        assert_eq!(of(S::RUNNING, None), Severity::Ok);
        assert_eq!(
            of(S::RUNNING, Some((HealthStatusEnum::STARTING, ""))),
            Severity::Warning
        );
        assert_eq!(of(S::RESTARTING, None), Severity::Critical);
        assert_eq!(of(S::EXITED, None), Severity::Critical, "exit code 3");
        assert_eq!(of(S::PAUSED, None), Severity::Warning);
        assert_eq!(of(S::DEAD, None), Severity::Critical);
        let restarting = report(&inspected(S::RESTARTING, None), now());
        assert_eq!(
            restarting.problem.as_deref(),
            Some("restarting (4 restarts)")
        );
        let exited = report(&inspected(S::EXITED, None), now());
        assert_eq!(exited.exit_code, Some(3));
        assert_eq!(exited.uptime_seconds, None);
    }

    #[test]
    fn kept_revisions_are_listed_after_every_live_container() {
        let named = |name: &str| {
            let mut d = inspected(ContainerStateStatusEnum::RUNNING, None);
            d.name = Some(format!("/{name}"));
            report(&d, now())
        };
        let mut list = [
            named("web.prev"),
            named("worker"),
            named("web"),
            named("api.old"),
            named("api"),
        ];
        list.sort_by(listing_order);
        let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["api", "web", "worker", "api.old", "web.prev"]);
    }

    #[test]
    fn a_kept_previous_revision_is_no_incident_but_a_lookalike_is() {
        use ContainerStateStatusEnum as S;
        let mut prev = inspected(S::EXITED, None);
        prev.name = Some("/web.prev".to_owned());
        if let Some(config) = prev.config.as_mut() {
            config.labels = Some(std::collections::HashMap::from([(
                "fleetdeck.app".to_owned(),
                "web".to_owned(),
            )]));
        }
        let kept = report(&prev, now());
        assert_eq!((kept.severity, kept.problem), (Severity::Ok, None));

        // Not deployed by fleetdeck: judged like any container.
        let mut lookalike = inspected(S::EXITED, None);
        lookalike.name = Some("/web.prev".to_owned());
        assert_eq!(report(&lookalike, now()).severity, Severity::Critical);

        // Running again (someone started it by hand): judged on its health.
        prev.state = Some(ContainerState {
            status: Some(S::RESTARTING),
            ..ContainerState::default()
        });
        assert_eq!(report(&prev, now()).severity, Severity::Critical);
    }

    #[test]
    fn exited_zero_is_a_finished_job_and_oom_is_critical() {
        let mut details = inspected(ContainerStateStatusEnum::EXITED, None);
        if let Some(state) = details.state.as_mut() {
            state.exit_code = Some(0);
        }
        assert_eq!(report(&details, now()).severity, Severity::Ok);
        if let Some(state) = details.state.as_mut() {
            state.oom_killed = Some(true);
        }
        let oom = report(&details, now());
        assert_eq!(oom.severity, Severity::Critical);
        assert!(oom.oom_killed);
    }

    #[test]
    fn a_clean_exit_is_a_problem_only_where_the_restart_policy_says_run() {
        use bollard::models::{HostConfig, RestartPolicy as DockerRestart};
        let exited_under = |name: RestartPolicyNameEnum| {
            let mut details = inspected(ContainerStateStatusEnum::EXITED, None);
            if let Some(state) = details.state.as_mut() {
                state.exit_code = Some(0);
            }
            details.host_config = Some(HostConfig {
                restart_policy: Some(DockerRestart {
                    name: Some(name),
                    maximum_retry_count: Some(0),
                }),
                ..HostConfig::default()
            });
            report(&details, now())
        };
        use RestartPolicyNameEnum as P;
        for (policy, word) in [(P::ALWAYS, "always"), (P::UNLESS_STOPPED, "unless-stopped")] {
            let r = exited_under(policy);
            assert_eq!(r.severity, Severity::Critical, "{word}");
            assert_eq!(
                r.problem.as_deref(),
                Some(
                    format!(
                        "stopped (exit code 0) although its restart policy ({word}) says it \
                         should run"
                    )
                    .as_str()
                )
            );
        }
        for policy in [P::NO, P::ON_FAILURE, P::EMPTY] {
            let r = exited_under(policy);
            assert_eq!((r.severity, r.problem), (Severity::Ok, None), "{policy:?}");
        }
        // The judgement deploy's plan and the canary's soak share: without an exit
        // code (a listing), on-failure counts as meant to run.
        assert!(meant_to_run(&RestartPolicy::Always, Some(0)));
        assert!(meant_to_run(&RestartPolicy::UnlessStopped, None));
        assert!(meant_to_run(&RestartPolicy::OnFailure(None), None));
        assert!(meant_to_run(&RestartPolicy::OnFailure(Some(3)), Some(1)));
        assert!(!meant_to_run(&RestartPolicy::OnFailure(None), Some(0)));
        assert!(!meant_to_run(&RestartPolicy::No, Some(1)));
    }

    #[test]
    fn live_containers_are_audited_and_kept_revisions_are_not() {
        use crate::probes::posture::containers::{NO_MEMORY_LIMIT, SECRET_ENV};
        use bollard::models::{HostConfig, PortBinding};
        let mut live = inspected(ContainerStateStatusEnum::CREATED, None);
        if let Some(config) = live.config.as_mut() {
            config.env = Some(vec!["SHOP_DSN=postgres://u:pw-value@db/shop".to_owned()]);
            config.labels = Some(std::collections::HashMap::from([
                ("fleetdeck.app".to_owned(), "shop".to_owned()),
                (
                    "fleetdeck.secret-env".to_owned(),
                    "SHOP_DSN, OTHER".to_owned(),
                ),
            ]));
        }
        live.host_config = Some(HostConfig {
            port_bindings: Some(std::collections::HashMap::from([(
                "6379/tcp".to_owned(),
                Some(vec![PortBinding {
                    host_ip: Some("0.0.0.0".to_owned()),
                    host_port: Some("6380".to_owned()),
                }]),
            )])),
            ..HostConfig::default()
        });
        let audited = report(&live, now());
        let checks: Vec<&str> = audited.findings.iter().map(|f| f.check.as_str()).collect();
        assert!(checks.contains(&SECRET_ENV), "{checks:?}");
        assert!(checks.contains(&NO_MEMORY_LIMIT), "{checks:?}");
        assert!(!format!("{audited:?}").contains("pw-value"));
        assert_eq!(
            audited.published,
            [PublishedPort {
                host_ip: "0.0.0.0".to_owned(),
                host_port: Some(6380),
                host_port_end: None,
                container_port: 6379,
                proto: crate::probes::firewall::Protocol::Tcp,
            }]
        );

        // The same configuration kept for rollback: a stopped copy, not counted twice.
        live.name = Some("/client-alpha-web.prev".to_owned());
        let kept = report(&live, now());
        assert_eq!(kept.findings, Vec::new());
        assert_eq!(kept.published, Vec::new());
    }
}
