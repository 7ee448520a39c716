//! The soak: after a wave is deployed, every host of it must stay healthy for the soak
//! time — each service that should run is running, passes its health check if it has
//! one, does not restart, and answers its HTTP probe. One failure fails that host at
//! once; the others keep being watched.
//!
//! What is judged is what the rollout changed: a service the wave did not change that
//! already had a problem before the wave was deployed ([`before`]) is reported as
//! "already unhealthy before the rollout" and left to the operator's go / no-go,
//! unless the rollout is strict (`--strict-soak`). A service the wave did not change
//! that was fine before and goes wrong during the soak fails the host as any other.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bollard::Docker;
use bollard::models::HealthStatusEnum;
use tokio::time::Instant;

use super::CanaryEvent;
use crate::core::deploy::Planned;
use crate::core::deploy::gate::{self, Probe};
use crate::core::deploy::plan::{Change, HostPlan, container_name};
use crate::sanitize;

const POLL: Duration = Duration::from_secs(2);
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// One container to watch.
struct Watched {
    name: String,
    keeps_running: bool,
    probe: Option<Probe>,
    baseline_restarts: Option<i64>,
    /// The wave created, replaced or started it.
    changed: bool,
    /// Its problem before the wave was deployed, when it had one.
    before: Option<String>,
}

/// Problems of the services a wave leaves unchanged, found before it is deployed:
/// host → container → problem.
#[derive(Debug, Clone, Default)]
pub struct Before(BTreeMap<String, BTreeMap<String, String>>);

/// Looks at every service the wave's plans leave unchanged, before anything is
/// deployed, and keeps the problems found (the same checks as the soak's, without
/// restart counting).
pub async fn before(hosts: &[Planned]) -> Before {
    let client = gate::http_client().await.ok();
    let found = futures_util::future::join_all(hosts.iter().map(|p| {
        let client = client.clone();
        async move {
            let mut problems = BTreeMap::new();
            if let (Ok((access, plan)), Some(client)) = (&p.reached, client) {
                let changed = changed_containers(plan);
                for mut w in containers(p, &access.prefix, &changed, &Before::default()) {
                    if w.changed {
                        continue;
                    }
                    if let Err(e) = check(&access.docker, &mut w, &client).await {
                        problems.insert(w.name.clone(), e);
                    }
                }
            }
            (p.target.name.clone(), problems)
        }
    }))
    .await;
    Before(found.into_iter().collect())
}

/// The containers a plan creates, replaces or starts.
fn changed_containers(plan: &HostPlan) -> BTreeSet<String> {
    plan.services
        .iter()
        .filter(|s| s.change != Change::Unchanged)
        .map(|s| s.container.clone())
        .collect()
}

/// What one check of one container means for its host.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Judgement {
    Fine,
    /// A problem the rollout did not cause: shown, not failed.
    PreExisting(String),
    Fails(String),
}

/// The soak's judgement of one container's `problem` (pure).
fn judge(changed: bool, before: Option<&str>, problem: Option<String>, strict: bool) -> Judgement {
    let Some(problem) = problem else {
        return Judgement::Fine;
    };
    match before {
        Some(was) if !changed => {
            if strict {
                Judgement::Fails(format!(
                    "{problem} (already unhealthy before the rollout: {was}; --strict-soak)"
                ))
            } else {
                Judgement::PreExisting(format!("already unhealthy before the rollout: {problem}"))
            }
        }
        _ => Judgement::Fails(problem),
    }
}

/// Watches every host for `soak`; returns each host's verdict: its pre-existing
/// problems (shown, not failed), or why it failed. `strict` fails pre-existing problems
/// too.
pub async fn watch(
    hosts: &[&Planned],
    soak: Duration,
    wave: usize,
    events: &tokio::sync::mpsc::UnboundedSender<CanaryEvent>,
    before: &Before,
    strict: bool,
) -> Vec<(String, Result<Vec<String>, String>)> {
    let started = Instant::now();
    let reporter = {
        let events = events.clone();
        tokio::spawn(async move {
            loop {
                let left = soak.saturating_sub(started.elapsed()).as_secs();
                let _ = events.send(CanaryEvent::Soak { wave, left });
                if left == 0 {
                    break;
                }
                tokio::time::sleep(REPORT_EVERY.min(Duration::from_secs(left))).await;
            }
        })
    };
    let client = gate::http_client().await;
    let verdicts = futures_util::future::join_all(hosts.iter().map(|p| {
        let client = client.clone();
        async move {
            let verdict = match (&p.reached, client) {
                (Ok((access, plan)), Ok(client)) => {
                    let changed = changed_containers(plan);
                    let mut watched = containers(p, &access.prefix, &changed, before);
                    watch_host(&access.docker, &mut watched, &client, started, soak, strict).await
                }
                (Err(e), _) => Err(format!("unreachable: {e}")),
                (_, Err(e)) => Err(e),
            };
            (p.target.name.clone(), verdict)
        }
    }))
    .await;
    reporter.abort();
    verdicts
}

fn containers(
    p: &Planned,
    prefix: &str,
    changed: &BTreeSet<String>,
    before: &Before,
) -> Vec<Watched> {
    let problems = before.0.get(&p.target.name);
    p.desired
        .apps
        .iter()
        .flat_map(|app| {
            app.stack.services.iter().map(|s| {
                let name = container_name(prefix, &app.stack.app, &s.name);
                (name, s)
            })
        })
        .map(|(name, s)| Watched {
            changed: changed.contains(&name),
            before: problems.and_then(|m| m.get(&name)).cloned(),
            name,
            keeps_running: crate::fleet::containers::meant_to_run(&s.restart, None),
            probe: s.probe.as_ref().map(|p| Probe {
                url: p.url.clone(),
                status: p.status,
                body: p.body.clone(),
                timeout: p.timeout,
            }),
            baseline_restarts: None,
        })
        .collect()
}

async fn watch_host(
    docker: &Docker,
    watched: &mut [Watched],
    client: &reqwest::Client,
    started: Instant,
    soak: Duration,
    strict: bool,
) -> Result<Vec<String>, String> {
    // One line per container, its first pre-existing problem.
    let mut notes: BTreeMap<String, String> = BTreeMap::new();
    loop {
        for w in watched.iter_mut() {
            let problem = check(docker, w, client).await.err();
            match judge(w.changed, w.before.as_deref(), problem, strict) {
                Judgement::Fine => {}
                Judgement::PreExisting(note) => {
                    notes.entry(w.name.clone()).or_insert(note);
                }
                Judgement::Fails(e) => return Err(e),
            }
        }
        if started.elapsed() >= soak {
            return Ok(notes.into_values().collect());
        }
        tokio::time::sleep(POLL.min(soak.saturating_sub(started.elapsed()))).await;
    }
}

async fn check(docker: &Docker, w: &mut Watched, client: &reqwest::Client) -> Result<(), String> {
    let info = crate::docker::clean::inspect_container(docker, &w.name)
        .await
        .map_err(|e| sanitize::line(&format!("{}: {e}", w.name)))?;
    let restarts = info.restart_count.unwrap_or(0);
    let baseline = *w.baseline_restarts.get_or_insert(restarts);
    if restarts > baseline {
        return Err(format!(
            "{} restarted during the soak ({} times)",
            w.name,
            restarts - baseline
        ));
    }
    if !w.keeps_running {
        return Ok(());
    }
    let state = info.state.unwrap_or_default();
    if state.restarting == Some(true) {
        return Err(format!("{} is restarting", w.name));
    }
    if state.running != Some(true) {
        return Err(format!(
            "{} stopped during the soak (exit code {})",
            w.name,
            state.exit_code.unwrap_or(-1)
        ));
    }
    if let Some(health) = &state.health
        && health.status == Some(HealthStatusEnum::UNHEALTHY)
    {
        let output = health
            .log
            .as_ref()
            .and_then(|l| l.last())
            .and_then(|e| e.output.as_deref())
            .map(|o| sanitize::line(o.trim()))
            .unwrap_or_default();
        return Err(format!("{} turned unhealthy: {output}", w.name));
    }
    if let Some(probe) = &w.probe {
        gate::check_probe(client, probe)
            .await
            .map_err(|e| format!("{}: HTTP probe: {e}", w.name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn a_changed_service_with_a_problem_fails() {
        assert_eq!(
            judge(true, None, p("app-web turned unhealthy: 500"), false),
            Judgement::Fails("app-web turned unhealthy: 500".into())
        );
        // Even if it was unhealthy before: the rollout replaced it, so it is its.
        assert_eq!(
            judge(
                true,
                Some("was bad"),
                p("app-web turned unhealthy: 500"),
                false
            ),
            Judgement::Fails("app-web turned unhealthy: 500".into())
        );
    }

    #[test]
    fn an_unchanged_service_already_unhealthy_is_shown_not_failed() {
        assert_eq!(
            judge(
                false,
                Some("app-worker turned unhealthy: queue down"),
                p("app-worker turned unhealthy: queue down"),
                false
            ),
            Judgement::PreExisting(
                "already unhealthy before the rollout: app-worker turned unhealthy: queue down"
                    .into()
            )
        );
    }

    #[test]
    fn strict_soak_fails_a_pre_existing_problem_and_says_so() {
        let j = judge(
            false,
            Some("was bad"),
            p("app-worker turned unhealthy: x"),
            true,
        );
        let Judgement::Fails(e) = j else {
            panic!("{j:?}")
        };
        assert!(
            e.contains("already unhealthy before the rollout: was bad"),
            "{e}"
        );
        assert!(e.contains("--strict-soak"), "{e}");
    }

    #[test]
    fn an_unchanged_service_that_was_fine_and_breaks_during_the_soak_fails() {
        assert_eq!(
            judge(
                false,
                None,
                p("app-worker stopped during the soak (exit code 1)"),
                false
            ),
            Judgement::Fails("app-worker stopped during the soak (exit code 1)".into())
        );
    }

    #[test]
    fn healthy_is_fine_whatever_it_was() {
        for (changed, before, strict) in [(true, None, false), (false, p("x"), true)] {
            assert_eq!(
                judge(changed, before.as_deref(), None, strict),
                Judgement::Fine
            );
        }
    }
}
