//! Restore drills: restore a snapshot into a scratch directory on the host — never
//! the live path — verify it (the repository's own data check, restored size against
//! the snapshot, the app's declared content checks), measure RTO and RPO, report in
//! Markdown and JSON, and clean up. restic and borg repositories both (docs/drills.md).
//!
//! The steps are methods of [`run::Drill`] so the console's wizard can walk them one
//! by one; `fleetdeck drill` walks them headless ([`command`]). A drill takes the
//! host's deploy lock: no deploy or other drill runs on the host meanwhile.

pub mod overlap;
pub mod run;
pub mod tool;

pub use run::{Drill, DrillAccess, DrillEvent, DrillPlan, PlanError, RunStop};

#[cfg(test)]
mod tests;
