//! `lab.json`: what `lab down` must remove. It is written before anything is created
//! and names every resource by the plan, so a crashed `lab up` can still be undone.

use std::path::{Path, PathBuf};

use color_eyre::eyre::{Result, WrapErr};
use serde::{Deserialize, Serialize};

use super::plan::LabPlan;

pub const STATE_FILE: &str = "lab.json";
const FORMAT: u32 = 1;

/// Entries the lab writes in its directory; `down` removes these names and nothing else.
pub const LAB_FILES: &[&str] = &[
    "inventory.yml",
    "ssh_config",
    "known_hosts",
    "id_ed25519",
    "id_ed25519.pub",
    "authorized_keys",
    "age.key",
    "stacks",
    "secrets",
    "audit.log",
    "ca",
    "hosts",
    "engines",
    "image",
    STATE_FILE,
];

/// System directories that sshd and dockerd create for themselves. The lab notes the
/// ones that were absent before it started, and removes those once they are empty
/// and nothing else uses them.
pub const SYSTEM_DIRS: &[&str] = &[
    "/run/sshd",
    "/run/docker/plugins",
    "/run/docker",
    "/run/containerd/s",
    "/run/containerd",
    "/etc/docker",
    "/run/netns",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub format: u32,
    /// RFC 3339 UTC time of the first `lab up`.
    pub created_at: String,
    /// Set once a `lab up` has finished; false means an `up` is running or crashed.
    pub complete: bool,
    pub created_dir: bool,
    pub system_dirs_created: Vec<PathBuf>,
    /// `/run/netns` was not a mount point before the lab (iproute2 makes it one).
    pub netns_mount_created: bool,
    pub plan: LabPlan,
}

impl LabState {
    pub fn new(plan: LabPlan, created_dir: bool) -> Self {
        let system_dirs_created = SYSTEM_DIRS
            .iter()
            .map(PathBuf::from)
            .filter(|p| !p.exists())
            .collect();
        let created_at = crate::util::time::now_rfc3339();
        LabState {
            format: FORMAT,
            created_at,
            complete: false,
            created_dir,
            system_dirs_created,
            netns_mount_created: !super::sys::is_mount_point(Path::new("/run/netns")),
            plan,
        }
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    /// Loads `DIR/lab.json`; `Ok(None)` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).wrap_err_with(|| format!("reading {}", path.display())),
        };
        let state: LabState = serde_json::from_str(&text).wrap_err_with(|| {
            format!(
                "{} is not a lab state file this version understands",
                path.display()
            )
        })?;
        if state.format != FORMAT {
            color_eyre::eyre::bail!(
                "{}: lab state format {} (this fleetdeck reads format {FORMAT})",
                path.display(),
                state.format
            );
        }
        Ok(Some(state))
    }

    /// Writes atomically (temp file + rename) so a crash never leaves half a file.
    pub fn save(&self) -> Result<()> {
        let path = Self::path(&self.plan.dir);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&tmp, text).wrap_err_with(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).wrap_err_with(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_lab_json() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = LabPlan::new(dir.path(), 3, [10, 89, 1]).expect("plan");
        let state = LabState::new(plan.clone(), true);
        state.save().expect("save");
        let loaded = LabState::load(dir.path()).expect("load").expect("present");
        assert_eq!(loaded.plan, plan);
        assert!(!loaded.complete);
        assert!(loaded.created_dir);
    }

    #[test]
    fn missing_state_is_none_and_garbage_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(LabState::load(dir.path()).expect("load").is_none());
        std::fs::write(dir.path().join(STATE_FILE), "{not json").expect("write");
        let err = LabState::load(dir.path()).expect_err("garbage");
        assert!(format!("{err:#}").contains("lab.json"), "{err:#}");
    }
}
