//! Building an [`Inventory`] from files, step for step as Ansible's `yaml` inventory
//! plugin, `InventoryData.reconcile_inventory`, the `host_group_vars` vars plugin and
//! `VariableManager.get_vars` do it.
//!
//! The steps, in order: read the files (`files`) and their group trees (`groups`,
//! host keys in `host_pattern`), reconcile the tree (`reconcile`, which also gives
//! each group its depth), read `group_vars/` and `host_vars/` (`vars_files`), then
//! merge each host's variables by precedence and build its settings (`precedence`).

mod files;
mod groups;
mod host_pattern;
mod precedence;
mod reconcile;
mod vars_files;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::inventory::yaml::Mark;
use crate::inventory::{ALL, Inventory, InventoryError, InventoryErrors, UNGROUPED};
use files::Walk;

/// Extensions the `yaml` inventory plugin and the vars loader accept (plus none).
const YAML_EXTENSIONS: &[&str] = &[".yml", ".yaml", ".json"];

/// A directory inventory skips these names (`INVENTORY_IGNORE_EXTS` and the
/// always-ignored entries of `ansible.inventory.manager`).
const IGNORED_SUFFIXES: &[&str] = &[
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

/// The largest inventory or variables file read (a link to `/dev/zero` or a runaway
/// generator is refused, not read until memory runs out).
pub const MAX_FILE_BYTES: u64 = 128 << 20;

/// The most files one directory walk (a directory inventory, one `group_vars/NAME/`)
/// reads: links can make a small tree look enormous without forming a cycle.
pub const MAX_WALK_FILES: usize = 100_000;

struct Builder {
    inv: Inventory,
    errors: Vec<InventoryError>,
    /// Values already reported as wrong where they were written; not reported again
    /// for every host that inherits them.
    bad_values: HashSet<(PathBuf, Mark)>,
}

pub(super) fn load(path: &Path) -> Result<Inventory, InventoryErrors> {
    let mut b = Builder {
        inv: Inventory {
            source: path.to_path_buf(),
            groups: Vec::new(),
            group_index: HashMap::new(),
            hosts: Vec::new(),
            host_index: HashMap::new(),
            warnings: Vec::new(),
        },
        errors: Vec::new(),
        bad_values: HashSet::new(),
    };
    b.add_group("all");
    b.add_group("ungrouped");
    b.add_child_unchecked(ALL, UNGROUPED);

    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return Err(InventoryErrors(vec![InventoryError::whole(
                path,
                format!("cannot read the inventory: {e}"),
            )]));
        }
    };
    let basedir = if meta.is_dir() {
        let mut walk = Walk::default();
        if walk.enter(path, &mut b.errors) {
            b.parse_directory(path, &mut walk);
        }
        path.to_path_buf()
    } else {
        b.parse_file(path, true);
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    b.reconcile();
    b.load_vars_files(&basedir);
    b.compute_depths();
    b.finish_hosts();

    if b.errors.is_empty() {
        Ok(b.inv)
    } else {
        let mut seen = HashSet::new();
        b.errors.retain(|e| seen.insert(e.clone()));
        b.errors
            .sort_by(|x, y| (&x.file, x.line, x.column).cmp(&(&y.file, y.line, y.column)));
        Err(InventoryErrors(b.errors))
    }
}

fn has_yaml_extension(name: &str) -> bool {
    match name.rfind('.') {
        // Python's splitext: a leading dot is not an extension.
        Some(0) | None => true,
        Some(i) => YAML_EXTENSIONS.contains(&&name[i..]),
    }
}

impl Builder {
    fn warn(&mut self, file: &Path, mark: Mark, message: impl Into<String>) {
        self.inv
            .warnings
            .push(InventoryError::at(file, mark, message));
    }
}
