//! Ansible YAML inventories, read as Ansible reads them, so the same file drives the
//! playbooks and the console.
//!
//! What is reproduced: a file or a directory of files, `all` / `children` / `hosts` /
//! `vars`, host ranges (`web[01:09]`) and `host:port` keys, `ungrouped`, a host in
//! several groups, `group_vars/` and `host_vars/` beside the inventory, Ansible's
//! variable precedence with `hash_behaviour = replace`, PyYAML's YAML 1.1 scalars, host
//! patterns for `--limit`, and the JSON of `ansible-inventory --list`. What is not:
//! INI and script inventories, inventory plugins, Jinja beyond `{{ variable }}` in
//! fleetdeck's own settings, and vault.
//!
//! Loading is all or nothing: every problem of every file is collected, each with its
//! file, line and column, and no partial inventory is returned.

mod de;
mod load;
pub mod pattern;
mod posture;
pub mod settings;
pub mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::util::diag::{self, Positioned};
pub use pattern::PatternError;
pub use settings::{DEFAULT_DOCKER_SOCKET, HostSettings};
use yaml::Node;

/// The environment variable `-i/--inventory` falls back to.
pub const INVENTORY_ENV: &str = "FLEETDECK_INVENTORY";

/// `_meta.profile` in `ansible-inventory --list` output (ansible-core 2.19 and later).
pub const ANSIBLE_LIST_PROFILE: &str = "inventory_legacy";

/// One problem in an inventory: file, 1-based line and column (0 when the problem is
/// the file as a whole), and what is wrong.
pub type InventoryError = Positioned;

/// Every problem found while loading, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryErrors(pub Vec<InventoryError>);

impl fmt::Display for InventoryErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        diag::write_list(f, "inventory", &self.0)
    }
}

impl std::error::Error for InventoryErrors {}

/// Something Ansible itself only warns about (duplicate keys, unexpected keys, files
/// it would hand to another plugin). Same shape as an error.
pub type InventoryWarning = InventoryError;

/// A variable's value with the file it was written in, so a later problem (a setting
/// that fails once resolved for a host) can still be located.
#[derive(Debug, Clone)]
pub(crate) struct Sourced {
    pub node: Node,
    pub file: Arc<Path>,
}

type Vars = BTreeMap<String, Sourced>;

#[derive(Debug, Clone)]
struct Group {
    name: String,
    children: Vec<usize>,
    parents: Vec<usize>,
    hosts: Vec<usize>,
    priority: i64,
    depth: usize,
    /// From inventory files.
    vars: Vars,
    /// From `group_vars/`.
    file_vars: Vars,
}

/// One inventory host with its merged variables and fleetdeck settings.
#[derive(Debug, Clone)]
pub struct Host {
    name: String,
    /// Groups the host was listed in directly, in the order it was added to them.
    groups: Vec<usize>,
    vars_inventory: Vars,
    vars_files: Vars,
    /// All groups the host belongs to (directly or through a child group) except
    /// `all`, sorted by name: Ansible's `group_names`.
    group_names: Vec<String>,
    vars: serde_json::Map<String, serde_json::Value>,
    settings: HostSettings,
}

impl Host {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's variables after Ansible's precedence, as `ansible-inventory --host`
    /// prints them (strings unrendered).
    pub fn vars(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.vars
    }

    /// Ansible's `group_names`: every group of the host but `all`, sorted.
    pub fn group_names(&self) -> &[String] {
        &self.group_names
    }

    /// fleetdeck's typed settings and the SSH connection variables, `{{ variable }}`
    /// resolved.
    pub fn settings(&self) -> &HostSettings {
        &self.settings
    }
}

/// A loaded inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    source: PathBuf,
    groups: Vec<Group>,
    group_index: HashMap<String, usize>,
    hosts: Vec<Host>,
    host_index: HashMap<String, usize>,
    warnings: Vec<InventoryWarning>,
}

const ALL: usize = 0;
const UNGROUPED: usize = 1;

impl Inventory {
    /// Loads a YAML inventory file, or a directory of them, with the `group_vars/` and
    /// `host_vars/` beside it.
    pub fn load(path: &Path) -> Result<Inventory, InventoryErrors> {
        load::load(path)
    }

    /// The path given to `load`.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Every host, in the order the inventory first names them.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter()
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.host_index.get(name).map(|&i| &self.hosts[i])
    }

    /// Group names in the order Ansible creates them (`all`, `ungrouped`, then as
    /// first mentioned).
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| g.name.as_str())
    }

    /// What Ansible only warns about; the CLI prints these on stderr.
    pub fn warnings(&self) -> &[InventoryWarning] {
        &self.warnings
    }

    /// The hosts a `--limit` pattern selects (all hosts for `None`), in Ansible's
    /// order: a group's own hosts, then its child groups', level by level.
    pub fn select(&self, limit: Option<&str>) -> Result<Vec<&Host>, PatternError> {
        Ok(self
            .select_indices(limit)?
            .into_iter()
            .map(|i| &self.hosts[i])
            .collect())
    }

    fn select_indices(&self, limit: Option<&str>) -> Result<Vec<usize>, PatternError> {
        match limit {
            None => Ok(self.group_hosts(ALL)),
            Some(p) => pattern::select(self, p),
        }
    }

    /// `Group.get_hosts()`: the group's hosts, then those of its descendants breadth
    /// first (Ansible walks deeper levels in set order, which is not stable; here they
    /// follow the children lists).
    fn group_hosts(&self, group: usize) -> Vec<usize> {
        let mut order = vec![group];
        let mut seen = vec![false; self.groups.len()];
        seen[group] = true;
        let mut i = 0;
        while i < order.len() {
            for &c in &self.groups[order[i]].children {
                if !seen[c] {
                    seen[c] = true;
                    order.push(c);
                }
            }
            i += 1;
        }
        let mut hosts = Vec::new();
        let mut taken = vec![false; self.hosts.len()];
        for g in order {
            for &h in &self.groups[g].hosts {
                if !taken[h] {
                    taken[h] = true;
                    hosts.push(h);
                }
            }
        }
        hosts
    }

    /// Exactly what `ansible-inventory -i SOURCE --list [--limit PATTERN]` prints, as a
    /// JSON value.
    pub fn to_ansible_list_json(
        &self,
        limit: Option<&str>,
    ) -> Result<serde_json::Value, PatternError> {
        use serde_json::{Map, Value, json};
        let selected = self.select_indices(limit)?;
        let mut available = vec![false; self.hosts.len()];
        for &h in &selected {
            available[h] = true;
        }
        let mut results = Map::new();
        let mut seen = vec![false; self.groups.len()];
        self.format_group(ALL, &available, &mut seen, &mut results);
        let mut hostvars = Map::new();
        for &h in &selected {
            let host = &self.hosts[h];
            if !host.vars.is_empty() {
                hostvars.insert(host.name.clone(), Value::Object(host.vars.clone()));
            }
        }
        results.insert(
            "_meta".into(),
            json!({ "hostvars": hostvars, "profile": ANSIBLE_LIST_PROFILE }),
        );
        Ok(Value::Object(results))
    }

    /// `InventoryCLI.json_inventory.format_group`: a child is listed even when it ends
    /// up empty, and an empty group gets no entry of its own.
    fn format_group(
        &self,
        g: usize,
        available: &[bool],
        seen: &mut [bool],
        results: &mut serde_json::Map<String, serde_json::Value>,
    ) {
        use serde_json::Value;
        let group = &self.groups[g];
        let mut entry = serde_json::Map::new();
        if g != ALL {
            let hosts: Vec<Value> = group
                .hosts
                .iter()
                .filter(|&&h| available[h])
                .map(|&h| Value::String(self.hosts[h].name.clone()))
                .collect();
            if !hosts.is_empty() {
                entry.insert("hosts".into(), Value::Array(hosts));
            }
        }
        let mut children = Vec::new();
        for &c in &group.children {
            children.push(Value::String(self.groups[c].name.clone()));
            if !seen[c] {
                self.format_group(c, available, seen, results);
                seen[c] = true;
            }
        }
        if !children.is_empty() {
            entry.insert("children".into(), Value::Array(children));
        }
        if !entry.is_empty() {
            results.insert(group.name.clone(), Value::Object(entry));
        }
    }

    /// What `ansible-inventory --host NAME` prints.
    pub fn to_ansible_host_json(&self, name: &str) -> Option<serde_json::Value> {
        self.host(name)
            .map(|h| serde_json::Value::Object(h.vars.clone()))
    }
}

#[cfg(test)]
mod tests;
