//! Each host's variables merged in Ansible's precedence order, and its fleetdeck
//! settings built from them.

use std::collections::HashSet;

use super::Builder;
use crate::inventory::settings::{self};
use crate::inventory::{ALL, InventoryError, Sourced};

/// Variables Ansible sets itself and `ansible-inventory` leaves out of its output.
pub(super) const INTERNAL_VARS: &[&str] = &[
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

impl Builder {
    /// Merges each host's variables in Ansible's order and builds its settings:
    /// `all` < other groups (by depth, `ansible_group_priority`, name) from inventory
    /// files < `group_vars/all` < `group_vars/` of the other groups, same order < the
    /// host's inventory variables < `host_vars/`.
    pub(super) fn finish_hosts(&mut self) {
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
