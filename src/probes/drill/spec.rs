//! `fleetdeck_drills`: per app, how its restore drill runs — which repository holds
//! the app's data, where the scratch restore goes, which paths are live (never to be
//! restored into), and what proves the restored data good.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where drills restore when the inventory does not say.
pub const DEFAULT_SCRATCH_DIR: &str = "/var/tmp/fleetdeck-drills";
/// `restic check --read-data-subset` when the inventory does not say.
pub const DEFAULT_READ_DATA_SUBSET: &str = "10%";
/// A drill older than this many days is a warning in the overview.
pub const DEFAULT_WARNING_DAYS: u64 = 30;
/// How long a restore, or a repository check, may take.
pub const DEFAULT_TIMEOUT_MINUTES: u64 = 120;
/// Where the throwaway container sees the restored data.
pub const DEFAULT_MOUNT: &str = "/data";
/// How long the throwaway container may run.
pub const DEFAULT_CONTAINER_TIMEOUT_SECONDS: u64 = 120;

/// `fleetdeck_drills`: app name → its drill.
pub type Drills = BTreeMap<String, DrillSpec>;

/// One app's restore drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillSpec {
    /// The `fleetdeck_backups` entry (its `name`) holding the app's data.
    pub repository: String,
    /// A directory on the host for scratch restores; each drill restores into a new
    /// `fleetdeck-drill-APP-ID` directory inside it and removes it afterwards.
    #[serde(default = "default_scratch_dir")]
    pub scratch_dir: String,
    /// The app's live data (besides the repository's `paths`): a scratch directory
    /// that equals, contains or is inside any of them is refused.
    #[serde(default)]
    pub live_paths: Vec<String>,
    /// The directory, as backed up, that content checks' relative paths start from.
    /// Default: the repository's first `paths` entry.
    #[serde(default)]
    pub root: Option<String>,
    /// restic: `check --read-data-subset` (`N%`). borg reads the restored archive's
    /// data in full (`borg check --verify-data`), having no subset option.
    #[serde(default = "default_read_data_subset")]
    pub read_data_subset: String,
    /// The overview warns when the last successful drill is older than this.
    #[serde(default = "default_warning_days")]
    pub warning_days: u64,
    /// Limit for the restore and for the repository check, each.
    #[serde(default = "default_timeout_minutes")]
    pub timeout_minutes: u64,
    #[serde(default)]
    pub checks: ContentChecks,
}

/// What the restored data must show, beyond the repository's own checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentChecks {
    /// Files that must be present, relative to `root`.
    #[serde(default)]
    pub files: Vec<String>,
    /// A checksum manifest written at backup time (`sha256sum` format), relative to
    /// `root`; verified with `sha256sum -c` inside the restored root.
    #[serde(default)]
    pub manifest: Option<String>,
    /// A throwaway container that reads the restored data.
    #[serde(default)]
    pub container: Option<ContainerCheck>,
}

/// `docker run --rm -v RESTORED_ROOT:MOUNT:ro --network none IMAGE COMMAND…`: must exit 0
/// and print at least `min_lines` lines (a query that returns rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerCheck {
    /// An image present on the host (drills pull nothing).
    pub image: String,
    /// The command (exec form), e.g. `[sh, -c, "psql … -c 'select count(*) …'"]`.
    pub command: Vec<String>,
    #[serde(default = "default_mount")]
    pub mount: String,
    #[serde(default = "default_min_lines")]
    pub min_lines: usize,
    #[serde(default = "default_container_timeout")]
    pub timeout_seconds: u64,
}

fn default_scratch_dir() -> String {
    DEFAULT_SCRATCH_DIR.to_owned()
}
fn default_read_data_subset() -> String {
    DEFAULT_READ_DATA_SUBSET.to_owned()
}
fn default_warning_days() -> u64 {
    DEFAULT_WARNING_DAYS
}
fn default_timeout_minutes() -> u64 {
    DEFAULT_TIMEOUT_MINUTES
}
fn default_mount() -> String {
    DEFAULT_MOUNT.to_owned()
}
fn default_min_lines() -> usize {
    1
}
fn default_container_timeout() -> u64 {
    DEFAULT_CONTAINER_TIMEOUT_SECONDS
}

fn templated(s: &str) -> bool {
    s.contains("{{")
}

/// Checks what serde cannot: absolute paths, a subset restic accepts, a usable
/// container check. The message names the offending key.
pub fn validate(drills: &Drills) -> Result<(), String> {
    for (app, spec) in drills {
        let absolute = |what: &str, p: &str| {
            if p.starts_with('/') || templated(p) {
                Ok(())
            } else {
                Err(format!("{app}.{what}: {p:?} is not an absolute path"))
            }
        };
        if spec.repository.trim().is_empty() {
            return Err(format!("{app}.repository: empty"));
        }
        absolute("scratch_dir", &spec.scratch_dir)?;
        for p in &spec.live_paths {
            absolute("live_paths", p)?;
        }
        if let Some(root) = &spec.root {
            absolute("root", root)?;
        }
        if !templated(&spec.read_data_subset) {
            parse_subset(&spec.read_data_subset)
                .map_err(|e| format!("{app}.read_data_subset: {e}"))?;
        }
        if spec.timeout_minutes == 0 {
            return Err(format!("{app}.timeout_minutes: must be at least 1"));
        }
        let relative = |what: &str, p: &str| {
            if p.is_empty() || p.starts_with('/') || p.split('/').any(|c| c == "..") {
                Err(format!(
                    "{app}.checks.{what}: {p:?} must be a path relative to the root, without `..`"
                ))
            } else {
                Ok(())
            }
        };
        for f in &spec.checks.files {
            relative("files", f)?;
        }
        if let Some(m) = &spec.checks.manifest {
            relative("manifest", m)?;
        }
        if let Some(c) = &spec.checks.container {
            if c.image.trim().is_empty() {
                return Err(format!("{app}.checks.container.image: empty"));
            }
            if c.command.is_empty() {
                return Err(format!("{app}.checks.container.command: empty"));
            }
            absolute("checks.container.mount", &c.mount)?;
            if c.timeout_seconds == 0 {
                return Err(format!(
                    "{app}.checks.container.timeout_seconds: must be at least 1"
                ));
            }
        }
    }
    Ok(())
}

/// `N%` with 0 < N ≤ 100 (decimals allowed), as restic's `--read-data-subset` takes.
pub fn parse_subset(s: &str) -> Result<f64, String> {
    let n = s
        .strip_suffix('%')
        .and_then(|n| n.trim().parse::<f64>().ok())
        .ok_or_else(|| format!("{s:?} is not a percentage such as `10%`"))?;
    if n > 0.0 && n <= 100.0 {
        Ok(n)
    } else {
        Err(format!("{s:?} is not between 0% (excluded) and 100%"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DrillSpec {
        DrillSpec {
            repository: "app-data".into(),
            scratch_dir: DEFAULT_SCRATCH_DIR.into(),
            live_paths: vec!["/srv/app".into()],
            root: None,
            read_data_subset: "10%".into(),
            warning_days: 30,
            timeout_minutes: 120,
            checks: ContentChecks::default(),
        }
    }

    #[test]
    fn subsets_and_paths_are_checked() {
        assert_eq!(parse_subset("100%"), Ok(100.0));
        assert_eq!(parse_subset("2.5%"), Ok(2.5));
        for bad in ["0%", "101%", "10", "x%", "1/5"] {
            assert!(parse_subset(bad).is_err(), "{bad}");
        }
        let mut drills = Drills::new();
        drills.insert("web".into(), spec());
        assert_eq!(validate(&drills), Ok(()));
        drills.get_mut("web").expect("web").scratch_dir = "tmp/x".into();
        let err = validate(&drills).expect_err("relative");
        assert!(err.contains("web.scratch_dir"), "{err}");
        let mut s = spec();
        s.checks.files = vec!["../etc/passwd".into()];
        drills.insert("web".into(), s);
        assert!(
            validate(&drills)
                .expect_err("dotdot")
                .contains("checks.files")
        );
    }
}
