//! After every file is read, as `InventoryData.reconcile_inventory`: parentless
//! groups join `all`, hosts in no group join `ungrouped`; each group's depth.

use std::collections::HashSet;

use super::Builder;
use crate::inventory::{ALL, Group, InventoryError, UNGROUPED};

impl Builder {
    /// `reconcile_inventory`: parentless groups join `all`; hosts in no group but
    /// `all` join `ungrouped`, and leave it when they are in another group.
    pub(super) fn reconcile(&mut self) {
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

    /// A group's depth is its longest distance from `all`.
    pub(super) fn compute_depths(&mut self) {
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
}
