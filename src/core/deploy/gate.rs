//! The health gate a new container must pass before it replaces the old one: Docker's
//! own health check when the service declares one (otherwise: running, without a
//! restart, for a few seconds), then the service's HTTP probe if it has one. A
//! container that exits, restarts or turns unhealthy fails at once; one that is still
//! starting when time runs out fails with what was last seen.

use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerState, HealthStatusEnum};
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt as _;
use tokio::time::Instant;

use crate::sanitize;

/// Without a health check, how long a container must run unrestarted to count as up.
pub const STABLE_RUN: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(500);
/// Log lines quoted in a failure, so the operator sees why without another command.
const LOG_TAIL: usize = 8;

/// An HTTP check of the running service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub url: String,
    pub status: u16,
    /// A substring the body must contain.
    pub body: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSpec {
    /// The service declares a Docker health check.
    pub healthcheck: bool,
    pub probe: Option<Probe>,
    pub timeout: Duration,
}

/// Why a gate failed: the reason and the container's last log lines (sanitized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateFailure {
    pub reason: String,
    pub logs: Vec<String>,
}

impl std::fmt::Display for GateFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Waits until `container` passes the gate; returns how long it took.
pub async fn wait(
    docker: &Docker,
    container: &str,
    spec: &GateSpec,
) -> Result<Duration, GateFailure> {
    let started = Instant::now();
    let deadline = started + spec.timeout;
    let mut first_restart_count = None;
    let mut last_seen = "not inspected yet".to_owned();
    let mut probe_error = None;
    let client = match &spec.probe {
        Some(_) => Some(http_client().await.map_err(|reason| GateFailure {
            reason,
            logs: vec![],
        })?),
        None => None,
    };
    loop {
        let fail = |reason: String| async move {
            GateFailure {
                logs: log_tail(docker, container).await,
                reason,
            }
        };
        let info = crate::docker::clean::inspect_container(docker, container).await;
        let info = match info {
            Ok(info) => info,
            Err(e) => return Err(fail(format!("inspecting {container}: {e}")).await),
        };
        let restarts = info.restart_count.unwrap_or(0);
        let baseline = *first_restart_count.get_or_insert(restarts);
        let state = info.state.unwrap_or_default();
        if restarts > baseline || state.restarting == Some(true) {
            return Err(fail(format!(
                "{container} restarted ({} restarts since it started)",
                restarts.saturating_sub(baseline).max(1)
            ))
            .await);
        }
        if state.running != Some(true) {
            let code = state.exit_code.unwrap_or(-1);
            let oom = if state.oom_killed == Some(true) {
                " (killed: out of memory)"
            } else {
                ""
            };
            return Err(fail(format!("{container} exited with code {code}{oom}")).await);
        }
        // A check inherited from the image counts as much as a declared one.
        let docker_ok = if spec.healthcheck || state.health.is_some() {
            match health(&state) {
                (Some(HealthStatusEnum::HEALTHY), _) => true,
                (Some(HealthStatusEnum::UNHEALTHY), output) => {
                    return Err(fail(format!(
                        "{container} is unhealthy: {}",
                        output.unwrap_or_else(|| "no health check output".into())
                    ))
                    .await);
                }
                (status, output) => {
                    last_seen = format!(
                        "health {}{}",
                        status.map_or("unknown".into(), |s| s.to_string()),
                        output.map(|o| format!(" ({o})")).unwrap_or_default()
                    );
                    false
                }
            }
        } else {
            let stable = STABLE_RUN.min(spec.timeout / 2);
            let up = started.elapsed() >= stable;
            last_seen = "running".into();
            up
        };
        if docker_ok {
            match (&spec.probe, &client) {
                (Some(probe), Some(client)) => match check_probe(client, probe).await {
                    Ok(()) => return Ok(started.elapsed()),
                    Err(e) => {
                        last_seen = "running, HTTP probe failing".into();
                        probe_error = Some(e);
                    }
                },
                _ => return Ok(started.elapsed()),
            }
        }
        if Instant::now() + POLL > deadline {
            let mut reason = format!(
                "{container} did not pass its health gate within {}s (last seen: {last_seen})",
                spec.timeout.as_secs()
            );
            if let Some(e) = probe_error {
                reason.push_str(&format!("; HTTP probe: {e}"));
            }
            return Err(fail(reason).await);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Health status and the last check's output (sanitized, one line).
fn health(state: &ContainerState) -> (Option<HealthStatusEnum>, Option<String>) {
    let Some(health) = &state.health else {
        return (None, None);
    };
    let output = health
        .log
        .as_ref()
        .and_then(|log| log.last())
        .and_then(|entry| entry.output.as_deref())
        .map(|o| sanitize::line(o.trim()))
        .filter(|o| !o.is_empty());
    (health.status, output)
}

async fn log_tail(docker: &Docker, container: &str) -> Vec<String> {
    let options = LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .tail(&LOG_TAIL.to_string())
        .build();
    let mut stream = docker.logs(container, Some(options));
    let mut lines = Vec::new();
    let collect = async {
        while let Some(Ok(chunk)) = stream.next().await {
            for line in String::from_utf8_lossy(&chunk.into_bytes()).lines() {
                lines.push(sanitize::line(line));
            }
        }
    };
    // Logs are a courtesy in a failure message; never wait long for them.
    let _ = tokio::time::timeout(Duration::from_secs(5), collect).await;
    let skip = lines.len().saturating_sub(LOG_TAIL);
    lines.split_off(skip)
}

/// The HTTP client probes use: the system's roots (as the certificate probe loads
/// them), `ring`, no redirects followed. Built once per process.
pub(crate) async fn http_client() -> Result<reqwest::Client, String> {
    static CLIENT: std::sync::OnceLock<Result<reqwest::Client, String>> =
        std::sync::OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return client.clone();
    }
    // Without system roots, plain http:// probes still work; https ones then fail
    // with an unknown issuer, which says why.
    let anchors = crate::probes::cert::system_trust_anchors()
        .await
        .unwrap_or_default();
    let built = (|| {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup for the HTTP probe: {e}"))?
            .with_root_certificates(rustls::RootCertStore { roots: anchors })
            .with_no_client_auth();
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            // No pooled connections: the client outlives the runtime of whoever
            // first used it (each console wizard has its own), and a probe is rare.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| format!("HTTP client for the probe: {e}"))
    })();
    CLIENT.get_or_init(|| built).clone()
}

/// One probe request: the status, and the body substring when declared.
pub(crate) async fn check_probe(client: &reqwest::Client, probe: &Probe) -> Result<(), String> {
    let response = client
        .get(&probe.url)
        .timeout(probe.timeout)
        .send()
        .await
        .map_err(|e| sanitize::line(&format!("GET {}: {e}", probe.url)))?;
    let status = response.status().as_u16();
    if status != probe.status {
        return Err(format!(
            "GET {} answered {status}, expected {}",
            probe.url, probe.status
        ));
    }
    if let Some(expected) = &probe.body {
        let body = response
            .text()
            .await
            .map_err(|e| sanitize::line(&format!("GET {}: reading the body: {e}", probe.url)))?;
        if !body.contains(expected.as_str()) {
            return Err(format!(
                "GET {} answered {status} without {expected:?} in its body",
                probe.url
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A one-route HTTP server on loopback answering every request with `reply`.
    async fn serve(reply: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        });
        format!("http://{addr}/health")
    }

    fn probe(url: String, body: Option<&str>) -> Probe {
        Probe {
            url,
            status: 200,
            body: body.map(str::to_owned),
            timeout: Duration::from_secs(2),
        }
    }

    #[tokio::test]
    async fn probes_check_status_and_body() {
        let client = http_client().await.expect("client");
        let ok = serve("HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nall ok\n")
            .await;
        check_probe(&client, &probe(ok.clone(), Some("ok")))
            .await
            .expect("passes");
        let err = check_probe(&client, &probe(ok, Some("ready")))
            .await
            .expect_err("body lacks it");
        assert!(err.contains("without \"ready\""), "{err}");
        let bad = serve(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let err = check_probe(&client, &probe(bad, None))
            .await
            .expect_err("503");
        assert!(err.contains("answered 503, expected 200"), "{err}");
        let err = check_probe(&client, &probe("http://127.0.0.1:1/".into(), None))
            .await
            .expect_err("refused");
        assert!(err.starts_with("GET http://127.0.0.1:1/"), "{err}");
    }
}
