//! Running the maintenance key's confirmed change: through the host's core (its
//! read-only rule included) over the host actor's SSH session, off the event loop;
//! the result comes back as a notice and as the host's new window.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

use super::app::Msg;
use crate::core::Core;
use crate::core::deploy::shell::HostShell;
use crate::core::maintenance::{MaintenanceChange, MaintenanceError, length_text};
use crate::fleet::model::HostEvent;
use crate::sanitize;
use crate::ssh::link::LinkState;

/// What the change needs to know about its host.
pub struct MaintenanceHost {
    pub index: usize,
    pub name: String,
    /// `fleetdeck_state_dir`; `None` for the local engine (no inventory host).
    pub state_dir: Option<String>,
    /// The host actor's link; `None` for the local engine.
    pub link: Option<watch::Receiver<LinkState>>,
}

/// Runs `change` on `host` through `core` in a task of its own.
pub fn spawn(
    core: Arc<Core>,
    host: MaintenanceHost,
    change: MaintenanceChange,
    out: mpsc::Sender<Msg>,
) {
    tokio::spawn(async move {
        let name = sanitize::line(&host.name);
        let result = run(&core, &host, &change).await;
        let text = match &result {
            Ok(Some(window)) => format!(
                "{name} in maintenance until {} ({})",
                crate::util::time::rfc3339(window.until),
                length_text((window.until - OffsetDateTime::now_utc()).unsigned_abs())
            ),
            Ok(None) => format!("maintenance on {name} ended"),
            Err(e) => format!("maintenance on {name}: {e}"),
        };
        if let Ok(window) = result {
            // Shown at once; the actor's next read of the host says the same.
            let event = HostEvent::Maintenance(Ok(window), OffsetDateTime::now_utc());
            let _ = out.send(Msg::Fleet(host.index, event)).await;
        }
        let _ = out.send(Msg::Notice(sanitize::line(&text))).await;
    });
}

async fn run(
    core: &Core,
    host: &MaintenanceHost,
    change: &MaintenanceChange,
) -> Result<Option<crate::probes::maintenance::Maintenance>, String> {
    let (Some(state_dir), Some(link)) = (&host.state_dir, &host.link) else {
        return Err("the local engine has no state directory: maintenance windows are kept on inventory hosts".to_owned());
    };
    let session = link
        .borrow()
        .session()
        .cloned()
        .filter(|s| !s.is_closed())
        .ok_or_else(|| "the host is not connected: nothing was changed".to_owned())?;
    // The core's read-only value already carries the host's own rule (`for_host`).
    core.change_maintenance(
        &host.name,
        false,
        &HostShell::Ssh(session),
        state_dir,
        change,
    )
    .await
    .map(|outcome| outcome.window)
    .map_err(|e: MaintenanceError| e.to_string())
}
