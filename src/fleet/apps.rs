//! `fleetdeck_apps` against what runs: a declared app with no container (`missing`),
//! a fleetdeck container of an app no longer declared (`undeclared`), and a running
//! revision whose config hash differs from what a deploy would produce now
//! (`drifted`). The expected hashes are computed by the deployment core's planner
//! (no lock, nothing changed) and handed to the fleet; the comparison is made here
//! whenever the containers change.

use serde::Serialize;

use crate::probes::Severity;

/// What one service of a declared app should run, as a deploy would create it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedService {
    pub service: String,
    /// The live container's name (prefix included).
    pub container: String,
    pub image: String,
    /// The config hash a deploy would label it with; `Err(why)` when it cannot be
    /// computed here (e.g. a secret the console cannot decrypt).
    pub config_hash: Result<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedApp {
    pub app: String,
    /// Empty with `unknown` set when the app's stack could not be rendered.
    pub services: Vec<ExpectedService>,
    pub unknown: Option<String>,
}

/// Every app the inventory declares for one host, as a deploy would run it now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedApps {
    pub apps: Vec<ExpectedApp>,
}

/// How one app (or one of its services) compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppCondition {
    /// Declared and running the revision a deploy would produce.
    Deployed,
    /// Declared, and no container of it on the host.
    Missing,
    /// A `fleetdeck.app` container of an app the inventory no longer declares.
    Undeclared,
    /// Running another revision than a deploy would produce now.
    Drifted,
    /// Cannot be compared here (the reason says why).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppEntry {
    pub app: String,
    /// The service, when the condition is about one service of the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub condition: AppCondition,
    pub severity: Severity,
    /// One line for the console, sanitized.
    pub reason: String,
    /// The image running now, for `drifted` (and `undeclared`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_image: Option<String>,
    /// The image a deploy would run, for `drifted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_image: Option<String>,
}

/// The apps signal of one host, as `status --json` shows it under `apps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppsReport {
    pub severity: Severity,
    pub apps: Vec<AppEntry>,
}

/// Placeholder until the apps part's comparison lands: nothing compared, ok.
pub fn compare(
    _expected: &ExpectedApps,
    _containers: &[super::containers::ContainerReport],
) -> AppsReport {
    AppsReport {
        severity: Severity::Ok,
        apps: Vec::new(),
    }
}
