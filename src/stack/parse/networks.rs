//! `networks:` at the top level (the stack's declared networks) and in a service (which
//! networks it joins, `network_mode`).

use std::collections::BTreeMap;

use super::{Cx, Declared, kind};
use crate::inventory::yaml::{Mark, Node, Value};
use crate::stack::values;
use crate::stack::{DEFAULT_NETWORK, NetworkMode, NetworkSpec, ServiceNetwork};

impl Cx<'_> {
    pub(super) fn networks(&mut self, node: &Node) -> Vec<NetworkSpec> {
        let Some(pairs) = self.map_or_null(node, "networks") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in pairs {
            let Some(name) = self.declared_name(k, "network") else {
                continue;
            };
            let Some(body) = self.map_or_null(v, &format!("network `{name}`")) else {
                continue;
            };
            let mut spec = NetworkSpec {
                name: name.clone(),
                external: None,
                driver: None,
                internal: false,
                labels: BTreeMap::new(),
            };
            let (mut external, mut docker_name, mut configured) = (false, None, None);
            for (bk, bv) in body {
                let Some(key) = self.key(bk) else { continue };
                match key {
                    "external" => external = self.boolean(bv, "external").unwrap_or(false),
                    "name" => docker_name = self.text(bv, "name").map(|t| (t, bk.mark)),
                    "driver" => {
                        spec.driver = self.text(bv, "driver");
                        configured = Some(bk.mark);
                    }
                    "internal" => {
                        spec.internal = self.boolean(bv, "internal").unwrap_or(false);
                        configured = Some(bk.mark);
                    }
                    "labels" => {
                        spec.labels = self
                            .key_values(bv, "label", true)
                            .into_iter()
                            .map(|(k, v, _)| (k, v))
                            .collect();
                        configured = Some(bk.mark);
                    }
                    _ => self.unsupported(
                        bk,
                        &format!("networks.{name}.{key}"),
                        &["driver", "internal", "labels", "external", "name"],
                    ),
                }
            }
            spec.external = self.external_name("network", &name, external, docker_name, configured);
            out.push(spec);
        }
        out
    }

    pub(super) fn network_ref(&mut self, name: &str, mark: Mark, decl: &Declared) -> bool {
        if name == DEFAULT_NETWORK || decl.networks.contains(name) {
            return true;
        }
        self.err(
            mark,
            format!("network `{name}` is not declared under the top-level `networks:`"),
        );
        false
    }

    pub(super) fn service_networks(&mut self, node: &Node, decl: &Declared) -> Vec<ServiceNetwork> {
        let mut out: Vec<ServiceNetwork> = Vec::new();
        match &node.value {
            Value::Seq(_) => {
                for (name, m) in self.string_list(node, "a network") {
                    if self.network_ref(&name, m, decl) {
                        if out.iter().any(|n| n.name == name) {
                            self.err(m, format!("network `{name}` is listed twice"));
                            continue;
                        }
                        out.push(ServiceNetwork {
                            name,
                            aliases: Vec::new(),
                        });
                    }
                }
            }
            Value::Map(pairs) => {
                for (k, v) in pairs {
                    let Some(name) = self.key(k) else { continue };
                    if !self.network_ref(name, k.mark, decl) {
                        continue;
                    }
                    let mut aliases = Vec::new();
                    if let Some(body) = self.map_or_null(v, &format!("network `{name}`")) {
                        for (bk, bv) in body {
                            let Some(key) = self.key(bk) else { continue };
                            match key {
                                "aliases" => {
                                    for (a, m) in self.string_list(bv, "an alias") {
                                        if values::object_name(&a) {
                                            aliases.push(a);
                                        } else {
                                            self.err(m, format!("{a:?} is not a valid DNS alias"));
                                        }
                                    }
                                }
                                _ => self.unsupported(
                                    bk,
                                    &format!("networks.{name}.{key}"),
                                    &["aliases"],
                                ),
                            }
                        }
                    }
                    out.push(ServiceNetwork {
                        name: name.to_string(),
                        aliases,
                    });
                }
            }
            _ => self.err(
                node.mark,
                format!("networks must be a list or a mapping, found {}", kind(node)),
            ),
        }
        let empty = matches!(&node.value, Value::Seq(s) if s.is_empty())
            || matches!(&node.value, Value::Map(p) if p.is_empty());
        if empty {
            self.err(
                node.mark,
                "networks is empty; for no network at all write network_mode: none",
            );
        }
        out
    }

    pub(super) fn network_mode(&mut self, node: &Node) -> Option<NetworkMode> {
        let t = self.text(node, "network_mode")?;
        match t.as_str() {
            "none" => Some(NetworkMode::None),
            "host" => Some(NetworkMode::Host),
            "bridge" => Some(NetworkMode::Bridge),
            other => {
                self.err(
                    node.mark,
                    format!("network_mode is none, host or bridge, not {other:?}"),
                );
                None
            }
        }
    }
}
