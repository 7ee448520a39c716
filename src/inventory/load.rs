//! Building an [`Inventory`] from files, step for step as Ansible's `yaml` inventory
//! plugin, `InventoryData.reconcile_inventory`, the `host_group_vars` vars plugin and
//! `VariableManager.get_vars` do it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::settings::{self, HostSettings};
use super::yaml::{self, Mark, Node, Value};
use super::{
    ALL, Group, Host, Inventory, InventoryError, InventoryErrors, Sourced, UNGROUPED, Vars,
};

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

/// Variables Ansible sets itself and `ansible-inventory` leaves out of its output.
const INTERNAL_VARS: &[&str] = &[
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_name",
    "role_names",
    "role_path",
    "role_uuid",
];

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

    /// Every entry in name order; hidden files, `group_vars`, `host_vars` and ignored
    /// extensions skipped; subdirectories walked.
    fn parse_directory(&mut self, dir: &Path, walk: &mut Walk) {
        let mut names = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect::<Vec<_>>(),
            Err(e) => {
                self.errors.push(InventoryError::whole(
                    dir,
                    format!("cannot list the directory: {e}"),
                ));
                return;
            }
        };
        names.sort();
        for name in names {
            let Some(n) = name.to_str() else {
                self.warn(
                    &dir.join(&name),
                    Mark::default(),
                    "skipped: the name is not UTF-8",
                );
                continue;
            };
            if n.starts_with('.')
                || matches!(n, "group_vars" | "host_vars" | "vars_plugins")
                || IGNORED_SUFFIXES.iter().any(|s| n.ends_with(s))
            {
                continue;
            }
            let path = dir.join(n);
            if path.is_dir() {
                if walk.enter(&path, &mut self.errors) {
                    self.parse_directory(&path, walk);
                    walk.leave();
                }
            } else if !has_yaml_extension(n) {
                self.warn(
                    &path,
                    Mark::default(),
                    "skipped: fleetdeck reads YAML inventories (.yml, .yaml, .json or no extension); Ansible would try it as INI",
                );
            } else if is_executable(&path) {
                self.warn(
                    &path,
                    Mark::default(),
                    "skipped: an executable file is a dynamic inventory script to Ansible, which fleetdeck does not run",
                );
            } else if walk.count(&path, &mut self.errors) {
                self.parse_file(&path, false);
            }
        }
    }

    /// `named`: the file given with `-i` (which may be a pipe); every file found in a
    /// directory must be a regular file.
    fn read_yaml(&mut self, file: &Path, named: bool) -> Option<Option<Node>> {
        let text = match read_bounded(file, named) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => {
                    self.errors
                        .push(InventoryError::whole(file, "not UTF-8 text"));
                    return None;
                }
            },
            Err(message) => {
                self.errors.push(InventoryError::whole(file, message));
                return None;
            }
        };
        match yaml::load(&text) {
            Ok((doc, warnings)) => {
                for w in warnings {
                    self.warn(file, w.mark, w.message);
                }
                Some(doc)
            }
            Err(e) => {
                let hint = if !e.limit && looks_like_ini(&text) {
                    " (this looks like an INI inventory; fleetdeck reads YAML inventories only)"
                } else {
                    ""
                };
                self.errors.push(InventoryError::at(
                    file,
                    e.mark,
                    format!("{}{hint}", e.describe()),
                ));
                None
            }
        }
    }

    /// The `yaml` plugin's `parse`.
    fn parse_file(&mut self, file: &Path, only_source: bool) {
        let Some(doc) = self.read_yaml(file, only_source) else {
            return;
        };
        let Some(doc) = doc else {
            if only_source {
                self.errors
                    .push(InventoryError::whole(file, "the inventory is empty"));
            } else {
                self.warn(file, Mark::default(), "skipped: empty file");
            }
            return;
        };
        let Some(pairs) = doc.as_map() else {
            self.errors.push(InventoryError::at(
                file,
                doc.mark,
                format!(
                    "YAML inventory has invalid structure, it should be a dictionary, got a {} \
                     (INI inventories are not supported)",
                    doc.type_name()
                ),
            ));
            return;
        };
        if pairs.iter().any(|(k, _)| k.as_str() == Some("plugin")) {
            self.errors.push(InventoryError::at(
                file,
                doc.mark,
                "an inventory plugin configuration, not a YAML inventory (plugins are not supported)",
            ));
            return;
        }
        let file: Arc<Path> = Arc::from(file);
        for (key, value) in pairs {
            match key.as_str() {
                Some(name) => {
                    self.parse_group(&file, name, key.mark, value);
                }
                None => self.errors.push(InventoryError::at(
                    &file,
                    key.mark,
                    format!("a group name must be a string, found a {}", key.type_name()),
                )),
            }
        }
    }

    /// The `yaml` plugin's `_parse_group`.
    fn parse_group(
        &mut self,
        file: &Arc<Path>,
        name: &str,
        mark: Mark,
        data: &Node,
    ) -> Option<usize> {
        if !matches!(data.value, Value::Map(_) | Value::Null) {
            self.warn(
                file,
                mark,
                format!("Skipping '{name}' as this is not a valid group definition"),
            );
            return None;
        }
        let g = self.add_group(name);
        let Some(pairs) = data.as_map() else {
            return Some(g);
        };
        for (key, value) in pairs {
            let Some(section) = key.as_str() else {
                self.warn(
                    file,
                    key.mark,
                    format!("Skipping unexpected key in group ({name}), only \"vars\", \"children\" and \"hosts\" are valid"),
                );
                continue;
            };
            let is_section = matches!(section, "vars" | "children" | "hosts");
            // `hosts: web1` is allowed and means `hosts: {web1: }`.
            let converted;
            let value = match &value.value {
                Value::Str(s) if is_section => {
                    converted = Node {
                        value: Value::Map(vec![(
                            Node {
                                value: Value::Str(s.clone()),
                                mark: value.mark,
                            },
                            Node {
                                value: Value::Null,
                                mark: value.mark,
                            },
                        )]),
                        mark: value.mark,
                    };
                    &converted
                }
                _ => value,
            };
            match &value.value {
                Value::Null => continue,
                Value::Map(_) => {}
                _ if is_section => {
                    self.errors.push(InventoryError::at(
                        file,
                        value.mark,
                        format!(
                            "Invalid \"{section}\" entry for \"{name}\" group, requires a dictionary, found \"{}\" instead.",
                            value.type_name()
                        ),
                    ));
                    continue;
                }
                _ => {
                    self.warn(
                        file,
                        key.mark,
                        format!(
                            "Skipping key ({section}) in group ({name}) as it is not a mapping, it is a {}",
                            value.type_name()
                        ),
                    );
                    continue;
                }
            }
            let entries = value.as_map().unwrap_or_default();
            match section {
                "vars" => {
                    for (k, v) in entries {
                        self.set_group_var(file, g, k, v);
                    }
                }
                "children" => {
                    for (k, v) in entries {
                        let Some(child_name) = k.as_str() else {
                            self.errors.push(InventoryError::at(
                                file,
                                k.mark,
                                format!("a group name must be a string, found a {}", k.type_name()),
                            ));
                            continue;
                        };
                        if let Some(child) = self.parse_group(file, child_name, k.mark, v) {
                            self.add_child(file, k.mark, g, child);
                        }
                    }
                }
                "hosts" => {
                    for (k, v) in entries {
                        self.parse_host_entry(file, g, k, v);
                    }
                }
                _ => self.warn(
                    file,
                    key.mark,
                    format!(
                        "Skipping unexpected key ({section}) in group ({name}), only \"vars\", \"children\" and \"hosts\" are valid"
                    ),
                ),
            }
        }
        Some(g)
    }

    fn parse_host_entry(&mut self, file: &Arc<Path>, g: usize, key: &Node, vars: &Node) {
        let Some(pattern) = key.as_str() else {
            self.errors.push(InventoryError::at(
                file,
                key.mark,
                format!(
                    "Host pattern {} must be a string. Enclose integers/floats in quotation marks.",
                    key.to_json()
                ),
            ));
            return;
        };
        let (names, port) = match expand_host_pattern(pattern) {
            Ok(x) => x,
            Err(message) => {
                self.errors
                    .push(InventoryError::at(file, key.mark, message));
                return;
            }
        };
        let entries = match &vars.value {
            Value::Null => &[][..],
            Value::Map(pairs) => pairs.as_slice(),
            _ => {
                self.errors.push(InventoryError::at(
                    file,
                    vars.mark,
                    format!(
                        "the variables of host {pattern} must be a mapping, found a {}",
                        vars.type_name()
                    ),
                ));
                return;
            }
        };
        for name in names {
            let h = self.add_host(&name, g);
            if let Some(port) = port {
                let node = Node {
                    value: Value::Int(i128::from(port)),
                    mark: key.mark,
                };
                self.inv.hosts[h].vars_inventory.insert(
                    "ansible_port".into(),
                    Sourced {
                        node,
                        file: file.clone(),
                    },
                );
            }
            for (k, v) in entries {
                if let Some(var) = self.var_name(file, k, v) {
                    self.inv.hosts[h].vars_inventory.insert(
                        var,
                        Sourced {
                            node: v.clone(),
                            file: file.clone(),
                        },
                    );
                }
            }
        }
    }

    /// A variable's name, with fleetdeck's own variables checked.
    fn var_name(&mut self, file: &Path, key: &Node, value: &Node) -> Option<String> {
        let Some(name) = key.key_string() else {
            self.errors.push(InventoryError::at(
                file,
                key.mark,
                format!(
                    "a variable name must be a string, found a {}",
                    key.type_name()
                ),
            ));
            return None;
        };
        if name.starts_with("fleetdeck_")
            && let Err(problems) = settings::check_all(&name, key.mark, value)
        {
            self.bad_values.insert((file.to_path_buf(), value.mark));
            for p in problems {
                self.errors
                    .push(InventoryError::at(file, p.mark, p.message));
            }
        }
        Some(name)
    }

    fn set_group_var(&mut self, file: &Arc<Path>, g: usize, key: &Node, value: &Node) {
        let Some(name) = self.var_name(file, key, value) else {
            return;
        };
        if name == "ansible_group_priority" {
            let priority = match &value.value {
                Value::Int(i) => i64::try_from(*i).ok(),
                Value::Str(s) => s.trim().parse::<i64>().ok(),
                Value::Bool(b) => Some(i64::from(*b)),
                _ => None,
            };
            match priority {
                Some(p) => self.inv.groups[g].priority = p,
                None => self.errors.push(InventoryError::at(
                    file,
                    value.mark,
                    format!(
                        "ansible_group_priority must be an integer, found {}",
                        value.to_json()
                    ),
                )),
            }
            return;
        }
        self.inv.groups[g].vars.insert(
            name,
            Sourced {
                node: value.clone(),
                file: file.clone(),
            },
        );
    }

    fn add_group(&mut self, name: &str) -> usize {
        if let Some(&g) = self.inv.group_index.get(name) {
            return g;
        }
        let g = self.inv.groups.len();
        self.inv.groups.push(Group {
            name: name.to_string(),
            children: Vec::new(),
            parents: Vec::new(),
            hosts: Vec::new(),
            priority: 1,
            depth: 0,
            vars: BTreeMap::new(),
            file_vars: BTreeMap::new(),
        });
        self.inv.group_index.insert(name.to_string(), g);
        g
    }

    fn add_child_unchecked(&mut self, parent: usize, child: usize) {
        if !self.inv.groups[parent].children.contains(&child) {
            self.inv.groups[parent].children.push(child);
            self.inv.groups[child].parents.push(parent);
        }
    }

    fn add_child(&mut self, file: &Path, mark: Mark, parent: usize, child: usize) {
        if parent == child {
            let name = &self.inv.groups[child].name;
            self.errors.push(InventoryError::at(
                file,
                mark,
                format!("group {name} cannot be a child of itself"),
            ));
            return;
        }
        if self.is_ancestor(child, parent) {
            let (c, p) = (&self.inv.groups[child].name, &self.inv.groups[parent].name);
            self.errors.push(InventoryError::at(
                file,
                mark,
                format!(
                    "Adding group '{c}' as child to '{p}' creates a recursive dependency loop."
                ),
            ));
            return;
        }
        self.add_child_unchecked(parent, child);
    }

    /// Whether `candidate` is `of` or one of its ancestors.
    fn is_ancestor(&self, candidate: usize, of: usize) -> bool {
        let mut stack = vec![of];
        let mut seen = HashSet::new();
        while let Some(g) = stack.pop() {
            if g == candidate {
                return true;
            }
            if seen.insert(g) {
                stack.extend(&self.inv.groups[g].parents);
            }
        }
        false
    }

    fn add_host(&mut self, name: &str, g: usize) -> usize {
        let h = match self.inv.host_index.get(name) {
            Some(&h) => h,
            None => {
                let h = self.inv.hosts.len();
                self.inv.hosts.push(Host {
                    name: name.to_string(),
                    groups: Vec::new(),
                    vars_inventory: BTreeMap::new(),
                    vars_files: BTreeMap::new(),
                    group_names: Vec::new(),
                    vars: serde_json::Map::new(),
                    settings: HostSettings::defaults(name),
                });
                self.inv.host_index.insert(name.to_string(), h);
                h
            }
        };
        // A host is in few groups; a group may hold tens of thousands of hosts.
        if !self.inv.hosts[h].groups.contains(&g) {
            self.inv.groups[g].hosts.push(h);
            self.inv.hosts[h].groups.push(g);
        }
        h
    }

    /// `reconcile_inventory`: parentless groups join `all`; hosts in no group but
    /// `all` join `ungrouped`, and leave it when they are in another group.
    fn reconcile(&mut self) {
        for g in 1..self.inv.groups.len() {
            if self.inv.groups[g].parents.is_empty() {
                self.add_child_unchecked(ALL, g);
            }
        }
        let mut leave_ungrouped = HashSet::new();
        for h in 0..self.inv.hosts.len() {
            let groups = self.inv.hosts[h].groups.clone();
            if groups.contains(&UNGROUPED) {
                if groups.iter().any(|&g| g != ALL && g != UNGROUPED) {
                    leave_ungrouped.insert(h);
                    self.inv.hosts[h].groups.retain(|&g| g != UNGROUPED);
                }
            } else if groups.iter().all(|&g| g == ALL) {
                self.inv.groups[UNGROUPED].hosts.push(h);
                self.inv.hosts[h].groups.push(UNGROUPED);
            }
        }
        if !leave_ungrouped.is_empty() {
            self.inv.groups[UNGROUPED]
                .hosts
                .retain(|h| !leave_ungrouped.contains(h));
        }
        let source = self.inv.source.clone();
        for host in &self.inv.hosts {
            if self.inv.group_index.contains_key(&host.name) {
                self.inv.warnings.push(InventoryError::whole(
                    &source,
                    format!("Found both group and host with same name: {}", host.name),
                ));
            }
        }
    }

    /// `host_group_vars`: `group_vars/NAME[.yml|.yaml|.json]` or `group_vars/NAME/`,
    /// and the same under `host_vars/`, for every group and host the inventory has.
    fn load_vars_files(&mut self, basedir: &Path) {
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

    fn load_vars_file(&mut self, file: &Path, vars: &mut Vars) {
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

    /// A group's depth is its longest distance from `all`.
    fn compute_depths(&mut self) {
        fn depth(groups: &[Group], memo: &mut [Option<usize>], g: usize) -> usize {
            if let Some(d) = memo[g] {
                return d;
            }
            let d = groups[g]
                .parents
                .iter()
                .map(|&p| depth(groups, memo, p) + 1)
                .max()
                .unwrap_or(0);
            memo[g] = Some(d);
            d
        }
        let mut memo = vec![None; self.inv.groups.len()];
        for g in 0..self.inv.groups.len() {
            let d = depth(&self.inv.groups, &mut memo, g);
            self.inv.groups[g].depth = d;
        }
    }

    /// Merges each host's variables in Ansible's order and builds its settings:
    /// `all` < other groups (by depth, `ansible_group_priority`, name) from inventory
    /// files < `group_vars/all` < `group_vars/` of the other groups, same order < the
    /// host's inventory variables < `host_vars/`.
    fn finish_hosts(&mut self) {
        for h in 0..self.inv.hosts.len() {
            // The host's groups and their ancestors, without a pass over every group
            // per host (one group per host would make that quadratic).
            let mut member = HashSet::new();
            let mut stack = self.inv.hosts[h].groups.clone();
            while let Some(g) = stack.pop() {
                if member.insert(g) {
                    stack.extend(&self.inv.groups[g].parents);
                }
            }
            let mut groups: Vec<usize> = member.into_iter().filter(|&g| g != ALL).collect();
            groups.sort_by(|&a, &b| {
                let (x, y) = (&self.inv.groups[a], &self.inv.groups[b]);
                (x.depth, x.priority, &x.name).cmp(&(y.depth, y.priority, &y.name))
            });

            let all = &self.inv.groups[ALL];
            let mut merged = all.vars.clone();
            for &g in &groups {
                merged.extend(self.inv.groups[g].vars.clone());
            }
            merged.extend(all.file_vars.clone());
            for &g in &groups {
                merged.extend(self.inv.groups[g].file_vars.clone());
            }
            let host = &self.inv.hosts[h];
            merged.extend(host.vars_inventory.clone());
            merged.extend(host.vars_files.clone());

            let mut names: Vec<String> = groups
                .iter()
                .map(|&g| self.inv.groups[g].name.clone())
                .collect();
            names.sort();
            let vars = merged
                .iter()
                .filter(|(k, _)| !INTERNAL_VARS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.node.to_json()))
                .collect();

            let bad = &self.bad_values;
            let skip = |v: &Sourced| bad.contains(&(v.file.to_path_buf(), v.node.mark));
            match settings::for_host(&host.name, &merged, &skip) {
                Ok(s) => self.inv.hosts[h].settings = s,
                Err(problems) => {
                    for (var, p) in problems {
                        self.errors
                            .push(InventoryError::at(&var.file, p.mark, p.message));
                    }
                }
            }
            let host = &mut self.inv.hosts[h];
            host.group_names = names;
            host.vars = vars;
        }
    }
}

/// An INI inventory starts with a `[group]` header.
fn looks_like_ini(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .is_some_and(|l| l.starts_with('[') && l.ends_with(']') && !l.contains(','))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}

/// Reads at most [`MAX_FILE_BYTES`]. Found files must be regular files (after
/// following links): a FIFO would block, a device would never end.
fn read_bounded(file: &Path, named: bool) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let meta = std::fs::metadata(file).map_err(|e| format!("cannot read: {e}"))?;
    if !named && !meta.is_file() {
        return Err(format!(
            "not a regular file ({}): only regular files are read",
            file_kind(&meta)
        ));
    }
    if meta.is_file() && meta.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let f = std::fs::File::open(file).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

fn too_large() -> String {
    format!(
        "larger than {} MiB: refused (an inventory file this size is a mistake or a trap)",
        MAX_FILE_BYTES >> 20
    )
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// The directories open in a walk, by device and inode (a link back to one of them is
/// a cycle), and how many files the walk has taken.
#[derive(Default)]
struct Walk {
    open: Vec<(u64, u64)>,
    files: usize,
}

impl Walk {
    /// Enters `dir` unless it is one of the directories already open (a cycle, an
    /// error naming the link).
    fn enter(&mut self, dir: &Path, errors: &mut Vec<InventoryError>) -> bool {
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::metadata(dir) {
            Ok(m) => m,
            Err(e) => {
                errors.push(InventoryError::whole(dir, format!("cannot read: {e}")));
                return false;
            }
        };
        let id = (meta.dev(), meta.ino());
        if self.open.contains(&id) {
            let target = std::fs::read_link(dir)
                .map(|t| format!(" (a link to {})", t.display()))
                .unwrap_or_default();
            errors.push(InventoryError::whole(
                dir,
                format!(
                    "a directory link cycle{target}: this directory contains itself; not followed"
                ),
            ));
            return false;
        }
        self.open.push(id);
        true
    }

    fn leave(&mut self) {
        self.open.pop();
    }

    /// Takes one more file, unless the walk has taken [`MAX_WALK_FILES`].
    fn count(&mut self, file: &Path, errors: &mut Vec<InventoryError>) -> bool {
        self.files += 1;
        if self.files == MAX_WALK_FILES + 1 {
            errors.push(InventoryError::whole(
                file,
                format!(
                    "more than {MAX_WALK_FILES} files in one directory walk (links that multiply \
                     the tree?); the rest is not read"
                ),
            ));
        }
        self.files <= MAX_WALK_FILES
    }
}

/// `DataLoader.find_vars_files`: the first of `NAME`, `NAME.yml`, `NAME.yaml`,
/// `NAME.json` that exists; a directory gives all its files (recursively, sorted,
/// hidden and `~` backups skipped, only YAML extensions or none).
fn find_vars_files(dir: &Path, name: &str, errors: &mut Vec<InventoryError>) -> Vec<PathBuf> {
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
fn dir_vars_files(
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

/// A `hosts:` key: `name`, `name:port`, `[v6]:port`, with `[a:b]` / `[a:b:step]`
/// ranges (numeric with zero padding, or letters) expanded.
pub(crate) fn expand_host_pattern(pattern: &str) -> Result<(Vec<String>, Option<u16>), String> {
    let (host, port) = split_port(pattern)?;
    let names = if host.contains('[') {
        expand_range(&host)?
    } else {
        vec![host]
    };
    Ok((names, port))
}

fn split_port(pattern: &str) -> Result<(String, Option<u16>), String> {
    let parse = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("invalid port {p:?} in host {pattern:?}"))
    };
    if let Some(rest) = pattern.strip_prefix('[')
        && let Some((addr, after)) = rest.split_once(']')
        && addr.matches(':').count() >= 2
    {
        return match after.strip_prefix(':') {
            Some(p) => Ok((addr.to_string(), Some(parse(p)?))),
            None if after.is_empty() => Ok((addr.to_string(), None)),
            None => Ok((pattern.to_string(), None)),
        };
    }
    // Colons inside [a:b] ranges are not port separators.
    let mut depth = 0usize;
    let mut colons = Vec::new();
    for (i, c) in pattern.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => colons.push(i),
            _ => {}
        }
    }
    match colons.as_slice() {
        [i] => {
            let (host, port) = (&pattern[..*i], &pattern[i + 1..]);
            if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) {
                Ok((host.to_string(), Some(parse(port)?)))
            } else {
                Ok((pattern.to_string(), None))
            }
        }
        _ => Ok((pattern.to_string(), None)),
    }
}

/// `expand_hostname_range`: the first `[...]` expanded, the rest recursively.
fn expand_range(line: &str) -> Result<Vec<String>, String> {
    let bad = |why: &str| format!("invalid host range in {line:?}: {why}");
    let Some(open) = line.find('[') else {
        return Ok(vec![line.to_string()]);
    };
    let Some(close_rel) = line[open..].find(']') else {
        return Err(bad("no closing ]"));
    };
    let close = open + close_rel;
    let (head, range, tail) = (&line[..open], &line[open + 1..close], &line[close + 1..]);
    let bounds: Vec<&str> = range.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(bad("host range must be begin:end or begin:end:step"));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(bad("host range must specify end value"));
    }
    let step: usize = match bounds.get(2) {
        Some(s) => s
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| bad("the step must be a positive integer"))?,
        None => 1,
    };
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    let single_letter = |s: &str| {
        let mut it = s.chars();
        match (it.next(), it.next()) {
            (Some(c), None) => letters.iter().position(|l| *l == c),
            _ => None,
        }
    };
    let items: Vec<String> = match (single_letter(beg), single_letter(end)) {
        (Some(a), Some(b)) => {
            if a > b {
                return Err(bad("host range must have begin <= end"));
            }
            letters[a..=b]
                .iter()
                .step_by(step)
                .map(|c| c.to_string())
                .collect()
        }
        _ => {
            let width = if beg.starts_with('0') && beg.len() > 1 {
                if beg.len() != end.len() {
                    return Err(bad(
                        "host range must specify equal-length begin and end formats",
                    ));
                }
                beg.len()
            } else {
                0
            };
            let a: u64 = beg.parse().map_err(|_| bad("not a number or a letter"))?;
            let b: u64 = end.parse().map_err(|_| bad("not a number or a letter"))?;
            if b.saturating_sub(a) > 100_000 {
                return Err(bad("more than 100000 hosts"));
            }
            (a..=b)
                .step_by(step)
                .map(|n| format!("{n:0width$}"))
                .collect()
        }
    };
    let mut hosts = Vec::new();
    for item in items {
        let name = format!("{head}{item}{tail}");
        if name.contains('[') {
            hosts.extend(expand_range(&name)?);
        } else {
            hosts.push(name);
        }
    }
    Ok(hosts)
}
