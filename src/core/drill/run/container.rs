//! The content check in a throwaway container: the restored root mounted read-only,
//! no network, an image already on the host, a declared command that must exit 0 and
//! print rows. The container is removed whatever happened.

use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    StartContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt as _;

use super::Drill;
use crate::probes::drill::spec::ContainerCheck;
use crate::sanitize;

impl Drill {
    /// The throwaway container: the restored root mounted read-only, no network, a
    /// declared command that must exit 0 and print rows.
    pub(super) async fn container_check(
        &self,
        check: &ContainerCheck,
        root: &str,
    ) -> Result<String, String> {
        let Some(docker) = self.access.docker.clone() else {
            return Err("no Docker engine reachable on the host".into());
        };
        if docker.inspect_image(&check.image).await.is_err() {
            return Err(format!(
                "image {} is not on the host (drills pull nothing)",
                sanitize::line(&check.image)
            ));
        }
        let name = format!(
            "fleetdeck-drill-{}-{}",
            self.plan.host.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                "_"
            ),
            self.report.id
        );
        let body = ContainerCreateBody {
            image: Some(check.image.clone()),
            cmd: Some(check.command.clone()),
            labels: Some(
                [("fleetdeck.drill".to_owned(), self.report.id.clone())]
                    .into_iter()
                    .collect(),
            ),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{root}:{}:ro", check.mount)]),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| sanitize::line(&format!("creating the throwaway container: {e}")))?;
        let result = self.run_container(&docker, &name, check).await;
        let remove = RemoveContainerOptionsBuilder::new().force(true).build();
        if let Err(e) = docker.remove_container(&name, Some(remove)).await {
            tracing::warn!(host = %self.plan.host, "removing {name}: {e}");
        }
        result
    }

    async fn run_container(
        &self,
        docker: &Docker,
        name: &str,
        check: &ContainerCheck,
    ) -> Result<String, String> {
        docker
            .start_container(name, None::<StartContainerOptions>)
            .await
            .map_err(|e| sanitize::line(&format!("starting the throwaway container: {e}")))?;
        let mut wait = docker.wait_container(name, None::<WaitContainerOptions>);
        let limit = Duration::from_secs(check.timeout_seconds);
        if tokio::time::timeout(limit, wait.next()).await.is_err() {
            return Err(format!(
                "the throwaway container did not finish within {} s",
                check.timeout_seconds
            ));
        }
        let state = crate::docker::clean::inspect_container(docker, name)
            .await
            .map_err(|e| sanitize::line(&format!("inspecting the throwaway container: {e}")))?;
        let code = state.state.and_then(|s| s.exit_code).unwrap_or(-1);
        let logs = LogsOptionsBuilder::new().stdout(true).stderr(true).build();
        let mut stream = docker.logs(name, Some(logs));
        let (mut stdout, mut stderr) = (String::new(), String::new());
        let collect = async {
            while let Some(Ok(chunk)) = stream.next().await {
                match chunk {
                    bollard::container::LogOutput::StdOut { message } => {
                        stdout.push_str(&String::from_utf8_lossy(&message))
                    }
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.push_str(&String::from_utf8_lossy(&message))
                    }
                    _ => {}
                }
                if stdout.len() + stderr.len() > 1024 * 1024 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(30), collect).await;
        let rows: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        let command = sanitize::line(&check.command.join(" "));
        let tail = |text: &str| {
            let lines: Vec<String> = text.lines().map(sanitize::line).collect();
            let skip = lines.len().saturating_sub(3);
            lines[skip..].join(" / ")
        };
        if code != 0 {
            return Err(format!(
                "`{command}` in {} exited with {code}: {}",
                sanitize::line(&check.image),
                tail(if stderr.trim().is_empty() {
                    &stdout
                } else {
                    &stderr
                })
            ));
        }
        if rows.len() < check.min_lines {
            return Err(format!(
                "`{command}` in {} returned {} row(s), at least {} expected",
                sanitize::line(&check.image),
                rows.len(),
                check.min_lines
            ));
        }
        Ok(format!(
            "`{command}` in {} (data read-only at {}) returned {} row(s), first: {}",
            sanitize::line(&check.image),
            sanitize::line(&check.mount),
            rows.len(),
            sanitize::line(rows[0])
                .chars()
                .take(120)
                .collect::<String>()
        ))
    }
}
