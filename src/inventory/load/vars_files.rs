//! `group_vars/` and `host_vars/` beside the inventory, as the `host_group_vars` vars
//! plugin reads them: `NAME[.yml|.yaml|.json]` or a `NAME/` directory of such files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::{Walk, file_kind};
use super::{Builder, YAML_EXTENSIONS, has_yaml_extension};
use crate::inventory::yaml::Mark;
use crate::inventory::{InventoryError, Sourced, Vars};

impl Builder {
    /// `host_group_vars`: `group_vars/NAME[.yml|.yaml|.json]` or `group_vars/NAME/`,
    /// and the same under `host_vars/`, for every group and host the inventory has.
    pub(super) fn load_vars_files(&mut self, basedir: &Path) {
        for (subdir, is_group) in [("group_vars", true), ("host_vars", false)] {
            let dir = basedir.join(subdir);
            if !dir.exists() {
                continue;
            }
            if !dir.is_dir() {
                self.warn(
                    &dir,
                    Mark::default(),
                    format!("Found {subdir} that is not a directory, skipping"),
                );
                continue;
            }
            let names: Vec<String> = if is_group {
                self.inv.groups.iter().map(|g| g.name.clone()).collect()
            } else {
                self.inv.hosts.iter().map(|h| h.name.clone()).collect()
            };
            for (i, name) in names.iter().enumerate() {
                if name.starts_with('/') {
                    continue;
                }
                let mut vars = Vars::new();
                for file in find_vars_files(&dir, name, &mut self.errors) {
                    self.load_vars_file(&file, &mut vars);
                }
                if is_group {
                    self.inv.groups[i].file_vars = vars;
                } else {
                    self.inv.hosts[i].vars_files = vars;
                }
            }
        }
    }

    pub(super) fn load_vars_file(&mut self, file: &Path, vars: &mut Vars) {
        let Some(doc) = self.read_yaml(file, false) else {
            return;
        };
        let Some(doc) = doc else {
            return;
        };
        let Some(pairs) = doc.as_map() else {
            self.errors.push(InventoryError::at(
                file,
                doc.mark,
                format!(
                    "a variables file must hold a mapping (dictionary), found a {}",
                    doc.type_name()
                ),
            ));
            return;
        };
        let shared: Arc<Path> = Arc::from(file);
        for (k, v) in pairs {
            if let Some(name) = self.var_name(file, k, v) {
                vars.insert(
                    name,
                    Sourced {
                        node: v.clone(),
                        file: shared.clone(),
                    },
                );
            }
        }
    }
}

/// `DataLoader.find_vars_files`: the first of `NAME`, `NAME.yml`, `NAME.yaml`,
/// `NAME.json` that exists; a directory gives all its files (recursively, sorted,
/// hidden and `~` backups skipped, only YAML extensions or none).
pub(super) fn find_vars_files(
    dir: &Path,
    name: &str,
    errors: &mut Vec<InventoryError>,
) -> Vec<PathBuf> {
    for ext in std::iter::once("").chain(YAML_EXTENSIONS.iter().copied()) {
        let path = dir.join(format!("{name}{ext}"));
        if path.exists() {
            if path.is_dir() {
                let mut found = Vec::new();
                let mut walk = Walk::default();
                if walk.enter(&path, errors) {
                    dir_vars_files(&path, &mut found, &mut walk, errors);
                }
                return found;
            }
            return vec![path];
        }
    }
    Vec::new()
}

/// Ansible skips a directory with an extension here without a word, and reads
/// anything `os.path.isfile` accepts; fleetdeck says so instead: such a directory, a
/// FIFO, a device or a link cycle is an error naming it.
pub(super) fn dir_vars_files(
    dir: &Path,
    found: &mut Vec<PathBuf>,
    walk: &mut Walk,
    errors: &mut Vec<InventoryError>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(InventoryError::whole(
                dir,
                format!("cannot list the directory: {e}"),
            ));
            return;
        }
    };
    let mut names: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let Some(n) = name.to_str() else { continue };
        if n.starts_with('.') || n.ends_with('~') {
            continue;
        }
        let path = dir.join(n);
        let has_ext = n.rfind('.').is_some_and(|i| i > 0);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                errors.push(InventoryError::whole(&path, format!("cannot read: {e}")));
                continue;
            }
        };
        if meta.is_dir() {
            if has_ext {
                errors.push(InventoryError::whole(
                    &path,
                    "a directory named like a variables file: Ansible skips it without a word, \
                     so its variables would count for neither tool; rename it without the \
                     extension to have both read it",
                ));
            } else if walk.enter(&path, errors) {
                dir_vars_files(&path, found, walk, errors);
                walk.leave();
            }
        } else if has_yaml_extension(n) {
            if !meta.is_file() {
                errors.push(InventoryError::whole(
                    &path,
                    format!(
                        "not a regular file ({}): only regular files are read",
                        file_kind(&meta)
                    ),
                ));
            } else if walk.count(&path, errors) {
                found.push(path);
            }
        }
    }
}
