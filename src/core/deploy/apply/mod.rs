//! Applying a host's plan, and rolling back.
//!
//! For each service that changes, in dependency order:
//!   networks and volumes → image present → secret files → create `NAME.next` → stop
//!   `NAME` → start `NAME.next` → health gate → switch (`NAME` becomes `NAME.prev`,
//!   `NAME.next` becomes `NAME`; the revision before `.prev` is removed).
//! A failed gate removes `NAME.next` and starts `NAME` again, and services of the same
//! app already switched in this run are switched back, so an app never runs half a
//! release. Every step is journalled under the host's lock before it is taken, so an
//! interrupted run says where it stopped; and because the plan is a difference, the
//! next run simply converges (a leftover `.next` or `.old` is removed first).
//!
//! The parts: [`run`] (a host's deploy from lock to release), [`switch_over`] (one
//! service), [`prepare`] (networks, volumes, image, gate), [`secret_files`],
//! [`resume`] (after an interrupted run), [`rollback`], on top of [`host_run`] (the
//! journalled steps and container primitives); [`outcome`] is what they report.

mod host_run;
mod outcome;
mod prepare;
mod resume;
mod rollback;
mod run;
mod secret_files;
mod switch_over;

pub use outcome::{
    DeployEvent, Events, HostOutcome, HostResult, Interrupted, ServiceOutcome, ServiceResult,
};
pub use resume::{Unconfirmed, unconfirmed};
pub use rollback::{RollbackScope, rollback_host, rollback_scope};
pub use run::apply_host;

use bollard::Docker;

use crate::core::deploy::shell::HostShell;
use crate::core::interrupt::Interrupt;

/// One host, as the core reaches it.
pub struct HostAccess {
    pub name: String,
    pub shell: HostShell,
    pub docker: Docker,
    pub state_dir: String,
    pub prefix: String,
    /// `fleetdeck_read_only` for this host.
    pub read_only: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Wait for each new container to pass its health gate (off only for the lab's
    /// first start, whose sample apps are broken on purpose).
    pub gate: bool,
    pub reason: Option<String>,
    pub break_lock: bool,
    /// Ctrl-C / SIGTERM / SIGHUP: checked at safe points (never fires by default).
    pub interrupt: Interrupt,
}
