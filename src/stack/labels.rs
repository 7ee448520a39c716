//! The labels and name suffixes fleetdeck puts on the containers it deploys. The
//! deployment core writes and plans from them; the fleet watcher and the console read
//! them to tell fleetdeck's containers (and the revisions kept for rollback) apart.

/// The app a container belongs to; its presence marks a container fleetdeck manages.
pub const APP_LABEL: &str = "fleetdeck.app";
/// The service of the app the container runs.
pub const SERVICE_LABEL: &str = "fleetdeck.service";
/// The service's config hash ([`crate::stack::Service::config_hash`]) at creation.
pub const HASH_LABEL: &str = "fleetdeck.config-hash";
pub const DEPLOYED_AT_LABEL: &str = "fleetdeck.deployed-at";
pub const DEPLOYED_BY_LABEL: &str = "fleetdeck.deployed-by";

/// Suffix of the stopped previous revision kept for instant rollback.
pub const PREVIOUS_SUFFIX: &str = ".prev";
/// Suffix of a revision being brought up (only exists during a deploy).
pub const NEXT_SUFFIX: &str = ".next";
/// Suffix of the revision before `.prev` while a deploy is deciding between them.
pub const OLDEST_SUFFIX: &str = ".old";

/// Whether `name` is a revision a deploy keeps stopped for rollback (`NAME.prev`, or
/// `NAME.old` while a deploy decides between them).
pub fn is_kept_revision_name(name: &str) -> bool {
    name.ends_with(PREVIOUS_SUFFIX) || name.ends_with(OLDEST_SUFFIX)
}
