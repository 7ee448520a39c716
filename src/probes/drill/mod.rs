//! Restore-drill records: what each app's drill is declared to do (`fleetdeck_drills`,
//! [`spec`]), what a drill found ([`report`], with the [`snapshot`] it restored), and
//! the drills kept on this machine ([`history`]) from which the overview, `status`
//! and the host actors read each host's last successful drill — an observation, like
//! a backup's age. Running a drill is `core::drill`'s.

pub mod history;
pub mod report;
pub mod snapshot;
pub mod spec;

pub use history::{History, LastDrill, last_success};
pub use report::{DrillReport, DrillResult, Step};
pub use snapshot::SnapshotInfo;
pub use spec::{DrillSpec, Drills};
