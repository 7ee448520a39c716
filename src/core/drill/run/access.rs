//! How a drill reaches its host: the SSH session (kept open for the drill) and the
//! host's Docker engine, for the throwaway container check.

use bollard::Docker;

use super::DrillPlan;
use crate::core::deploy::shell::HostShell;
use crate::inventory::Inventory;
use crate::sanitize;
use crate::ssh::session::Session;

/// How the host is reached.
pub struct DrillAccess {
    pub shell: HostShell,
    /// The host's engine (for the throwaway container); `None` without one.
    pub docker: Option<Docker>,
    /// Kept open for the drill's duration.
    pub session: Option<Session>,
}

/// Connects to the plan's host: its SSH session and Docker engine.
pub async fn connect(
    options: &crate::ssh::setup::SshOptions,
    inventory: &Inventory,
    plan: &DrillPlan,
) -> Result<DrillAccess, String> {
    let host = inventory
        .host(&plan.host)
        .ok_or_else(|| format!("no host {:?} in the inventory", plan.host))?;
    let target = crate::fleet::target::Target::from_inventory(inventory, host);
    let contexts = crate::fleet::target::Contexts::prepare(options, std::slice::from_ref(&target))
        .map_err(|e| e.to_string())?;
    let ctx = contexts
        .for_target(options, &target)
        .ok_or_else(|| "no SSH configuration prepared for this host".to_owned())?;
    let resolved = target.resolve(&ctx);
    let session = Session::connect(&ctx, &resolved, target.settings.ssh.host_key_pin.clone())
        .await
        .map_err(|e| sanitize::line(&e.to_string()))?;
    let docker = crate::docker::transport::connect_negotiated(
        session.docker_socket(&target.settings.docker_socket),
        120,
    )
    .await
    .map_err(|e| sanitize::line(&format!("Docker engine: {e}")));
    let docker = match docker {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(host = %plan.host, "drill without a Docker engine: {e}");
            None
        }
    };
    Ok(DrillAccess {
        shell: HostShell::Ssh(session.clone()),
        docker,
        session: Some(session),
    })
}
