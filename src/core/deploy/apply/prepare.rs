//! What a service needs before its new revision is created: the stack's networks and
//! volumes, its image, and the health gate it must pass.

use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt as _;

use crate::core::deploy::gate::{GateSpec, Probe};
use crate::stack::labels::APP_LABEL;
use crate::stack::{Service, Stack};

use super::host_run::{HostRun, docker_err, is_not_found};

impl HostRun<'_> {
    /// Creates the stack's networks and volumes that are missing. External ones are
    /// the platform's (Traefik's network, say): they must exist, never created here.
    pub(super) async fn ensure_objects(&self, stack: &Stack) -> Result<(), String> {
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

    pub(super) async fn ensure_image(
        &self,
        app: &str,
        service: &str,
        image: &str,
    ) -> Result<(), String> {
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

    pub(super) fn gate_spec(&self, stack: &Stack, service: &Service) -> GateSpec {
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
}

/// The service declares a test of its own (a check inherited from the image is
/// noticed by the gate from the container's state).
fn declares_healthcheck(service: &Service) -> bool {
    service
        .healthcheck
        .as_ref()
        .and_then(|h| h.test.as_ref())
        .is_some_and(|t| !matches!(t, crate::stack::HealthTest::Disabled))
}
