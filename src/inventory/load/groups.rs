//! The group tree of one inventory file: `all` / `children` / `hosts` / `vars`, hosts
//! added to groups, group variables, parent and child links without cycles.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use super::Builder;
use super::host_pattern::expand_host_pattern;
use crate::inventory::settings::{self, HostSettings};
use crate::inventory::yaml::{Mark, Node, Value};
use crate::inventory::{Group, Host, InventoryError, Sourced};

impl Builder {
    /// The `yaml` plugin's `_parse_group`.
    pub(super) fn parse_group(
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

    pub(super) fn parse_host_entry(&mut self, file: &Arc<Path>, g: usize, key: &Node, vars: &Node) {
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
    pub(super) fn var_name(&mut self, file: &Path, key: &Node, value: &Node) -> Option<String> {
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

    pub(super) fn set_group_var(&mut self, file: &Arc<Path>, g: usize, key: &Node, value: &Node) {
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

    pub(super) fn add_group(&mut self, name: &str) -> usize {
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

    pub(super) fn add_child_unchecked(&mut self, parent: usize, child: usize) {
        if !self.inv.groups[parent].children.contains(&child) {
            self.inv.groups[parent].children.push(child);
            self.inv.groups[child].parents.push(parent);
        }
    }

    pub(super) fn add_child(&mut self, file: &Path, mark: Mark, parent: usize, child: usize) {
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
    pub(super) fn is_ancestor(&self, candidate: usize, of: usize) -> bool {
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

    pub(super) fn add_host(&mut self, name: &str, g: usize) -> usize {
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
}
