//! The soak: after a wave is deployed, every host of it must stay healthy for the soak
//! time — each service that should run is running, passes its health check if it has
//! one, does not restart, and answers its HTTP probe. One failure fails that host at
//! once; the others keep being watched.

use std::time::Duration;

use bollard::Docker;
use bollard::models::HealthStatusEnum;
use tokio::time::Instant;

use super::CanaryEvent;
use crate::core::deploy::Planned;
use crate::core::deploy::gate::{self, Probe};
use crate::core::deploy::plan::container_name;
use crate::sanitize;

const POLL: Duration = Duration::from_secs(2);
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// One container to watch.
struct Watched {
    name: String,
    keeps_running: bool,
    probe: Option<Probe>,
    baseline_restarts: Option<i64>,
}

/// Watches every host for `soak`; returns each host's verdict.
pub async fn watch(
    hosts: &[&Planned],
    soak: Duration,
    wave: usize,
    events: &tokio::sync::mpsc::UnboundedSender<CanaryEvent>,
) -> Vec<(String, Result<(), String>)> {
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
                (Ok((access, _)), Ok(client)) => {
                    let mut watched = containers(p, &access.prefix);
                    watch_host(&access.docker, &mut watched, &client, started, soak).await
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

fn containers(p: &Planned, prefix: &str) -> Vec<Watched> {
    p.desired
        .apps
        .iter()
        .flat_map(|app| {
            app.stack.services.iter().map(|s| Watched {
                name: container_name(prefix, &app.stack.app, &s.name),
                keeps_running: crate::fleet::containers::meant_to_run(&s.restart, None),
                probe: s.probe.as_ref().map(|p| Probe {
                    url: p.url.clone(),
                    status: p.status,
                    body: p.body.clone(),
                    timeout: p.timeout,
                }),
                baseline_restarts: None,
            })
        })
        .collect()
}

async fn watch_host(
    docker: &Docker,
    watched: &mut [Watched],
    client: &reqwest::Client,
    started: Instant,
    soak: Duration,
) -> Result<(), String> {
    loop {
        for w in watched.iter_mut() {
            check(docker, w, client).await?;
        }
        if started.elapsed() >= soak {
            return Ok(());
        }
        tokio::time::sleep(POLL.min(soak.saturating_sub(started.elapsed()))).await;
    }
}

async fn check(docker: &Docker, w: &mut Watched, client: &reqwest::Client) -> Result<(), String> {
    let info = docker
        .inspect_container(&w.name, None)
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
