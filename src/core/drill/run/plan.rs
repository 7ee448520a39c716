//! Step 0, before any host is contacted: the drill as the inventory declares it
//! ([`plan`]), with the overlap rule applied to the declared paths; the hosts that
//! declare drills; and the read-only refusal (recorded in the audit log).

use super::audit_trail::audit_target;
use super::overlap;
use crate::core::Core;
use crate::inventory::Inventory;
use crate::probes::backup::BackupRepo;
use crate::probes::drill::DrillSpec;

/// Everything a drill needs, resolved from the inventory before any host is
/// contacted.
#[derive(Debug, Clone)]
pub struct DrillPlan {
    pub host: String,
    pub app: String,
    pub spec: DrillSpec,
    pub repo: BackupRepo,
    /// The backed-up directory content checks start from.
    pub root: Option<String>,
    /// Every live path with what it is, for the overlap rule.
    pub live: Vec<(String, String)>,
    pub settings: crate::inventory::HostSettings,
}

/// A drill refused by read-only mode (the run's, or the host's `fleetdeck_read_only`):
/// its `refused` line written to the local audit log (nothing on the host), and the
/// message to show. `None` when the drill may run. `snapshot` is the one asked for.
pub fn refuse_read_only(core: &Core, plan: &DrillPlan, snapshot: &str) -> Option<String> {
    let (why, message) = if core.read_only {
        (
            crate::core::READ_ONLY_WHY,
            "read-only mode: refusing to run a restore drill (it writes on the host)".to_owned(),
        )
    } else if plan.settings.read_only {
        (
            crate::core::HOST_READ_ONLY_WHY,
            format!(
                "{} is read-only (fleetdeck_read_only): a drill writes on the host; refused",
                plan.host
            ),
        )
    } else {
        return None;
    };
    let target = audit_target(plan, snapshot);
    Some(
        match core.record_refusal(&plan.host, "drill", &target, None, why) {
            Ok(()) => message,
            Err(e) => format!("{message} (not recorded in the audit log: {e})"),
        },
    )
}

/// Why no drill can be planned: `Refused` is a drill that would be unsafe (its
/// report is kept); `Invalid` is bad input (unknown host or app).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    Invalid(String),
    Refused(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Invalid(e) | PlanError::Refused(e) => f.write_str(e),
        }
    }
}

/// The hosts and apps with a declared drill, for the wizard's first step.
pub fn declared(inventory: &Inventory) -> Vec<(String, Vec<String>)> {
    inventory
        .hosts()
        .filter(|h| !h.settings().drills.is_empty())
        .map(|h| {
            (
                h.name().to_owned(),
                h.settings().drills.keys().cloned().collect(),
            )
        })
        .collect()
}

/// Step 0: the drill of `app` on `host` as the inventory declares it, with the
/// overlap rule applied to the declared paths (no host contacted).
pub fn plan(inventory: &Inventory, host: &str, app: &str) -> Result<DrillPlan, PlanError> {
    let h = inventory
        .host(host)
        .ok_or_else(|| PlanError::Invalid(format!("no host {host:?} in the inventory")))?;
    let settings = h.settings().clone();
    let spec = settings.drills.get(app).cloned().ok_or_else(|| {
        let known: Vec<&str> = settings.drills.keys().map(String::as_str).collect();
        PlanError::Invalid(if known.is_empty() {
            format!("{host} declares no restore drill (fleetdeck_drills, docs/drills.md)")
        } else {
            format!(
                "{host} declares no restore drill for {app:?} (declared: {})",
                known.join(", ")
            )
        })
    })?;
    let repo = settings
        .backups
        .iter()
        .find(|r| r.name == spec.repository)
        .cloned()
        .ok_or_else(|| {
            PlanError::Invalid(format!(
                "{host}: the drill of {app} names repository {:?}, which is not in fleetdeck_backups",
                spec.repository
            ))
        })?;
    let root = spec
        .root
        .clone()
        .or_else(|| repo.paths.first().map(|p| p.to_string_lossy().into_owned()));
    let mut live: Vec<(String, String)> = repo
        .paths
        .iter()
        .map(|p| {
            (
                p.to_string_lossy().into_owned(),
                format!("the backed-up path of repository {}", repo.name),
            )
        })
        .collect();
    live.extend(
        spec.live_paths
            .iter()
            .map(|p| (p.clone(), format!("the live data of {app}"))),
    );
    if repo.repository.starts_with('/') {
        live.push((repo.repository.clone(), "the repository itself".to_owned()));
    }
    let plan = DrillPlan {
        host: host.to_owned(),
        app: app.to_owned(),
        spec,
        repo,
        root,
        live,
        settings,
    };
    overlap::check(&plan.spec.scratch_dir, &plan.live).map_err(PlanError::Refused)?;
    Ok(plan)
}
