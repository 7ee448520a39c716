//! Restore drills: restore a snapshot into a scratch directory on the host — never
//! the live path — verify it (the repository's own data check, restored size against
//! the snapshot, the app's declared content checks), measure RTO and RPO, report in
//! Markdown and JSON, and clean up. restic and borg repositories both (docs/drills.md).
//!
//! The steps are methods of [`run::Drill`] so the console's wizard can walk them one
//! by one; `fleetdeck drill` walks them headless ([`command`]). A drill takes the
//! host's deploy lock: no deploy or other drill runs on the host meanwhile.

pub mod history;
pub mod overlap;
pub mod report;
pub mod run;
pub mod spec;
pub mod tool;

pub use history::{History, LastDrill, last_success};
pub use report::{DrillReport, DrillResult, Step};
pub use run::{Drill, DrillAccess, DrillEvent, DrillPlan, PlanError, RunStop};
pub use spec::{DrillSpec, Drills};

#[cfg(test)]
mod tests;
