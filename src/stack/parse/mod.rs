//! The walk over a stack's YAML tree: every key is either understood or reported, each
//! problem with the position of the node it is about. Strings are templated as they
//! are read (only what is used: `x-*` anchors' homes are not), before their type is
//! checked, so `"{{ port }}:80"` is a port.
//!
//! This file holds the entry point and the top-level walk (`services`, `networks`,
//! `volumes`, `secrets`, `x-fleetdeck`); each compose key group has its own file, all
//! adding methods to the one walker [`Cx`] that collects the problems.

mod dependencies;
mod healthcheck;
mod networks;
mod ports;
mod read;
mod secrets;
mod service;
mod volumes;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Map;

use super::template::Templater;
use super::values;
use super::{DEFAULT_GATE_TIMEOUT, DEFAULT_NETWORK, NetworkSpec, Service, Stack, StackPolicy};
use crate::inventory::yaml::{self, Mark, Node, Value};
use crate::util::suggest::{Nearness, did_you_mean};

/// How near a misspelled compose key must be to a known one to be suggested.
const STACK_NEARNESS: Nearness = Nearness::Edits(2);

pub(super) type Problems = Vec<(Mark, String)>;

const TOP_KEYS: &[&str] = &[
    "services",
    "networks",
    "volumes",
    "secrets",
    "version",
    "name",
    "x-fleetdeck",
];

pub(super) fn parse(
    text: &str,
    path: &Path,
    app: &str,
    host: &str,
    vars: &Map<String, serde_json::Value>,
    policy: &StackPolicy,
) -> Result<Stack, Problems> {
    let (doc, warnings) = yaml::load(text).map_err(|e| vec![(e.mark, e.describe())])?;
    let mut cx = Cx {
        tpl: Templater { host, vars },
        problems: Vec::new(),
        policy,
    };
    for w in warnings {
        if !w.overrides_merge {
            cx.err(w.mark, w.message);
        }
    }
    let Some(doc) = doc else {
        return Err(vec![(
            Mark::default(),
            "the stack is empty: it needs `services:`".into(),
        )]);
    };
    let Some(top) = doc.as_map() else {
        return Err(vec![(
            doc.mark,
            format!(
                "a stack is a mapping with `services:` at the top, found {}",
                kind(&doc)
            ),
        )]);
    };

    let mut services_node = None;
    let (mut networks_node, mut volumes_node, mut secrets_node, mut options_node) =
        (None, None, None, None);
    for (k, v) in top {
        let Some(key) = cx.key(k) else { continue };
        match key {
            "services" => services_node = Some(v),
            "networks" => networks_node = Some(v),
            "volumes" => volumes_node = Some(v),
            "secrets" => secrets_node = Some(v),
            "version" | "name" => {}
            "x-fleetdeck" => options_node = Some(v),
            _ if key.starts_with("x-fleetdeck") => cx.err(
                k.mark,
                format!(
                    "unknown fleetdeck extension `{key}`: at the top level only `x-fleetdeck` \
                     exists{}",
                    did_you_mean(key, ["x-fleetdeck"], STACK_NEARNESS)
                ),
            ),
            _ if key.starts_with("x-") => {}
            "configs" => cx.err(
                k.mark,
                "unsupported key `configs`: use secrets (from the host's secret file) or bind \
                 mounts",
            ),
            _ => cx.err(
                k.mark,
                format!(
                    "unsupported top-level key `{key}`: a stack has services, networks, volumes, \
                     secrets, x-fleetdeck and x-* extension keys{}",
                    did_you_mean(key, TOP_KEYS.iter().copied(), STACK_NEARNESS)
                ),
            ),
        }
    }

    let networks = networks_node.map(|n| cx.networks(n)).unwrap_or_default();
    let volumes = volumes_node.map(|n| cx.volumes(n)).unwrap_or_default();
    let secrets = secrets_node.map(|n| cx.secrets(n)).unwrap_or_default();
    let gate_timeout = options_node
        .and_then(|n| cx.options(n))
        .unwrap_or(DEFAULT_GATE_TIMEOUT);

    let decl = Declared {
        networks: networks.iter().map(|n| n.name.clone()).collect(),
        volumes: volumes.iter().map(|v| v.name.clone()).collect(),
        secrets: secrets.iter().map(|s| s.name.clone()).collect(),
        services: HashSet::new(),
    };
    let mut parsed = Vec::new();
    match services_node {
        None => cx.err(
            top.first().map_or(doc.mark, |(k, _)| k.mark),
            "the stack has no `services:`",
        ),
        Some(node) => match &node.value {
            Value::Map(pairs) if !pairs.is_empty() => {
                let mut decl = decl;
                decl.services = pairs
                    .iter()
                    .filter_map(|(k, _)| k.as_str().map(str::to_string))
                    .collect();
                for (k, v) in pairs {
                    let Some(name) = cx.key(k) else { continue };
                    if !values::object_name(name) {
                        cx.err(
                            k.mark,
                            format!(
                                "{name:?} is not a service name: letters, digits, `_`, `.` and \
                                 `-`, starting with a letter or digit, at most 63"
                            ),
                        );
                        continue;
                    }
                    if let Some(s) = cx.service(name, k.mark, v, &decl) {
                        parsed.push(s);
                    }
                }
            }
            _ => cx.err(
                node.mark,
                format!(
                    "`services` must be a mapping of at least one service, found {}",
                    kind(node)
                ),
            ),
        },
    }

    let services = cx.order(parsed);
    let mut networks = networks;
    let uses_default = services
        .iter()
        .any(|s| s.networks.iter().any(|n| n.name == DEFAULT_NETWORK));
    if uses_default && !networks.iter().any(|n| n.name == DEFAULT_NETWORK) {
        networks.push(NetworkSpec {
            name: DEFAULT_NETWORK.into(),
            external: None,
            driver: None,
            internal: false,
            labels: BTreeMap::new(),
        });
    }
    if !cx.problems.is_empty() {
        return Err(cx.problems);
    }
    Ok(Stack {
        app: app.to_string(),
        file: path.to_path_buf(),
        services,
        networks,
        volumes,
        secrets,
        gate_timeout,
    })
}

/// Names the stack declares at the top level, for the services' references.
struct Declared {
    networks: HashSet<String>,
    volumes: HashSet<String>,
    secrets: HashSet<String>,
    services: HashSet<String>,
}

/// A service with the positions needed once all are read.
struct Parsed {
    service: Service,
    mark: Mark,
    dep_marks: Vec<Mark>,
}

/// How a node's type reads in a message.
fn kind(node: &Node) -> &'static str {
    match node.value {
        Value::Null => "an empty value",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::Str(_) => "a string",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a mapping",
    }
}

fn env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Cx<'a> {
    tpl: Templater<'a>,
    problems: Problems,
    policy: &'a StackPolicy,
}

impl Cx<'_> {
    fn options(&mut self, node: &Node) -> Option<Duration> {
        let pairs = self.map(node, "x-fleetdeck")?;
        let mut gate = None;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else { continue };
            match key {
                "gate_timeout" => gate = self.seconds(v, "x-fleetdeck.gate_timeout"),
                _ => self.unsupported(k, &format!("x-fleetdeck.{key}"), &["gate_timeout"]),
            }
        }
        gate
    }

    fn declared_name(&mut self, k: &Node, what: &str) -> Option<String> {
        let name = self.key(k)?;
        if !values::object_name(name) {
            self.err(
                k.mark,
                format!(
                    "{name:?} is not a {what} name: letters, digits, `_`, `.` and `-`, starting \
                     with a letter or digit, at most 63"
                ),
            );
            return None;
        }
        Some(name.to_string())
    }

    /// The Docker name of an external network or volume (its `name`, else its own),
    /// or `None` for one fleetdeck creates. An external one cannot also be configured
    /// here, and only an external one may be given a `name`.
    fn external_name(
        &mut self,
        kind: &str,
        name: &str,
        external: bool,
        docker_name: Option<(String, Mark)>,
        configured: Option<Mark>,
    ) -> Option<String> {
        if external {
            if let Some(mark) = configured {
                self.err(
                    mark,
                    format!(
                        "{kind} `{name}` is external: it exists already and is not configured \
                         here"
                    ),
                );
            }
            return Some(docker_name.map_or_else(|| name.to_owned(), |(n, _)| n));
        }
        if let Some((_, mark)) = docker_name {
            self.err(
                mark,
                format!(
                    "`name` is only for external {kind}s; fleetdeck names {kind} `{name}` \
                     {{prefix}}{{app}}_{name} on the host"
                ),
            );
        }
        None
    }
}
