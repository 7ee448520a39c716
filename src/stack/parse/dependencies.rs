//! A service's `depends_on:` and the dependency order of the services (dependencies
//! first, a cycle reported once).

use std::collections::HashMap;

use super::{Cx, Declared, Parsed, kind};
use crate::inventory::yaml::{Mark, Node, Value};
use crate::stack::{Dependency, DependsCondition, Service};

impl Cx<'_> {
    pub(super) fn depends_on(
        &mut self,
        node: &Node,
        me: &str,
        decl: &Declared,
    ) -> Vec<(Dependency, Mark)> {
        let mut out: Vec<(Dependency, Mark)> = Vec::new();
        let mut add = |cx: &mut Self, service: String, condition, mark: Mark| {
            if !decl.services.contains(&service) {
                cx.err(
                    mark,
                    format!("service `{me}` depends on `{service}`, which is not a service of this stack"),
                );
            } else if out.iter().any(|(d, _)| d.service == service) {
                cx.err(mark, format!("`{service}` is listed twice"));
            } else {
                out.push((Dependency { service, condition }, mark));
            }
        };
        match &node.value {
            Value::Seq(_) => {
                for (name, m) in self.string_list(node, "a dependency") {
                    add(self, name, DependsCondition::ServiceStarted, m);
                }
            }
            Value::Map(pairs) => {
                for (k, v) in pairs {
                    let Some(name) = self.key(k) else { continue };
                    let mut condition = DependsCondition::ServiceStarted;
                    if let Some(body) = self.map_or_null(v, &format!("dependency `{name}`")) {
                        for (bk, bv) in body {
                            let Some(key) = self.key(bk) else { continue };
                            match key {
                                "condition" => match self.text(bv, "condition").as_deref() {
                                    Some("service_started") => {}
                                    Some("service_healthy") => {
                                        condition = DependsCondition::ServiceHealthy;
                                    }
                                    Some("service_completed_successfully") => {
                                        condition = DependsCondition::ServiceCompletedSuccessfully;
                                    }
                                    Some(other) => self.err(
                                        bv.mark,
                                        format!(
                                            "condition is service_started, service_healthy or \
                                             service_completed_successfully, not {other:?}"
                                        ),
                                    ),
                                    None => {}
                                },
                                _ => self.unsupported(
                                    bk,
                                    &format!("depends_on.{name}.{key}"),
                                    &["condition"],
                                ),
                            }
                        }
                    }
                    add(self, name.to_string(), condition, k.mark);
                }
            }
            _ => self.err(
                node.mark,
                format!(
                    "depends_on must be a list or a mapping, found {}",
                    kind(node)
                ),
            ),
        }
        out
    }

    /// Dependencies first, otherwise file order; a cycle is reported once.
    pub(super) fn order(&mut self, parsed: Vec<Parsed>) -> Vec<Service> {
        let index: HashMap<&str, usize> = parsed
            .iter()
            .enumerate()
            .map(|(i, p)| (p.service.name.as_str(), i))
            .collect();
        let deps: Vec<Vec<usize>> = parsed
            .iter()
            .map(|p| {
                p.service
                    .depends_on
                    .iter()
                    .filter_map(|d| index.get(d.service.as_str()).copied())
                    .collect()
            })
            .collect();
        let n = parsed.len();
        let mut placed = vec![false; n];
        let mut order = Vec::with_capacity(n);
        while let Some(i) = (0..n).find(|&i| !placed[i] && deps[i].iter().all(|&j| placed[j])) {
            placed[i] = true;
            order.push(i);
        }
        if order.len() < n {
            // Walk unplaced dependencies from an unplaced service until one repeats.
            let mut path: Vec<usize> = Vec::new();
            let mut at = (0..n).find(|&i| !placed[i]);
            while let Some(i) = at {
                if let Some(pos) = path.iter().position(|&p| p == i) {
                    let cycle = &path[pos..];
                    let first = cycle[0];
                    let next = cycle.get(1).copied().unwrap_or(first);
                    let names: Vec<&str> = cycle
                        .iter()
                        .chain(std::iter::once(&first))
                        .map(|&c| parsed[c].service.name.as_str())
                        .collect();
                    let p = &parsed[first];
                    let mark = p
                        .service
                        .depends_on
                        .iter()
                        .position(|d| d.service == parsed[next].service.name)
                        .and_then(|k| p.dep_marks.get(k).copied())
                        .unwrap_or(p.mark);
                    self.err(mark, format!("dependency cycle: {}", names.join(" → ")));
                    break;
                }
                path.push(i);
                at = deps[i].iter().copied().find(|&j| !placed[j]);
            }
            // Keep every service (errors are already reported).
            order.extend((0..n).filter(|&i| !placed[i]));
        }
        let mut slots: Vec<Option<Service>> = parsed.into_iter().map(|p| Some(p.service)).collect();
        order.into_iter().filter_map(|i| slots[i].take()).collect()
    }
}
