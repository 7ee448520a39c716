//! The walk over a stack's YAML tree: every key is either understood or reported, each
//! problem with the position of the node it is about. Strings are templated as they
//! are read (only what is used: `x-*` anchors' homes are not), before their type is
//! checked, so `"{{ port }}:80"` is a port.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Map;

use super::template::Templater;
use super::values::{self, Pin};
use super::{
    DEFAULT_GATE_TIMEOUT, DEFAULT_NETWORK, DEFAULT_PROBE_TIMEOUT, Dependency, DependsCondition,
    HealthTest, Healthcheck, HttpProbe, Limits, MountSource, NetworkMode, NetworkSpec, PortSpec,
    Protocol, RESERVED_LABEL_PREFIX, RestartPolicy, SECRETS_DIR, SecretMount, SecretSpec, Service,
    ServiceNetwork, Stack, StackPolicy, VolumeMount, VolumeSpec,
};
use crate::inventory::yaml::{self, Mark, Node, Value};

pub(super) type Problems = Vec<(Mark, String)>;

const SERVICE_KEYS: &[&str] = &[
    "image",
    "command",
    "environment",
    "volumes",
    "ports",
    "labels",
    "healthcheck",
    "restart",
    "networks",
    "network_mode",
    "depends_on",
    "user",
    "read_only",
    "cap_add",
    "cap_drop",
    "deploy",
    "secrets",
    "x-fleetdeck-probe",
    "x-fleetdeck-secret-env",
];

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
                    values::did_you_mean(key, ["x-fleetdeck"])
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
                    values::did_you_mean(key, TOP_KEYS.iter().copied())
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
    fn err(&mut self, mark: Mark, message: impl Into<String>) {
        self.problems.push((mark, message.into()));
    }

    fn unsupported(&mut self, key: &Node, path: &str, supported: &[&str]) {
        let name = key.as_str().unwrap_or("?");
        self.err(
            key.mark,
            format!(
                "unsupported key `{path}`: supported here: {}{}",
                supported.join(", "),
                values::did_you_mean(name, supported.iter().copied())
            ),
        );
    }

    /// A mapping key: a plain string, never templated.
    fn key<'n>(&mut self, k: &'n Node) -> Option<&'n str> {
        match k.as_str() {
            Some(s) if s.contains("{{") || s.contains("{%") => {
                self.err(k.mark, format!("templates are not allowed in keys: {s:?}"));
                None
            }
            Some(s) => Some(s),
            None => {
                self.err(k.mark, format!("expected a string key, found {}", kind(k)));
                None
            }
        }
    }

    /// A string, templated.
    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => match self.tpl.render(s) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.err(node.mark, e);
                    None
                }
            },
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be a string, found {}", kind(node)),
                );
                None
            }
        }
    }

    /// A string (templated) or a number, as text.
    fn scalar(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(_) => self.text(node, what),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) if f.is_finite() => Some(f.to_string()),
            Value::Bool(_) => {
                self.err(
                    node.mark,
                    format!(
                        "{what} is a YAML boolean; quote it (\"true\", \"yes\") to mean the text"
                    ),
                );
                None
            }
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be a string or a number, found {}", kind(node)),
                );
                None
            }
        }
    }

    /// An integer, or a (templated) string holding one.
    fn int(&mut self, node: &Node, what: &str) -> Option<i128> {
        match &node.value {
            Value::Int(i) => Some(*i),
            Value::Str(_) => {
                let t = self.text(node, what)?;
                match t.trim().parse::<i128>() {
                    Ok(i) => Some(i),
                    Err(_) => {
                        self.err(
                            node.mark,
                            format!("{what} must be a whole number, found {t:?}"),
                        );
                        None
                    }
                }
            }
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be a whole number, found {}", kind(node)),
                );
                None
            }
        }
    }

    fn int_in(&mut self, node: &Node, what: &str, min: i128, max: i128) -> Option<i128> {
        let i = self.int(node, what)?;
        if i < min || i > max {
            self.err(
                node.mark,
                format!("{what} must be between {min} and {max}, found {i}"),
            );
            return None;
        }
        Some(i)
    }

    /// A number, or a (templated) string holding one.
    fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        let value = match &node.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(_) => {
                let t = self.text(node, what)?;
                t.trim().parse::<f64>().ok()
            }
            _ => None,
        };
        match value {
            Some(v) if v.is_finite() => Some(v),
            _ => {
                self.err(node.mark, format!("{what} must be a number"));
                None
            }
        }
    }

    /// Seconds (a positive number), as a duration.
    fn seconds(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let v = self.number(node, what)?;
        if v <= 0.0 || v > 86_400.0 {
            self.err(
                node.mark,
                format!("{what} is seconds, above 0 and at most 86400; found {v}"),
            );
            return None;
        }
        Some(Duration::from_secs_f64(v))
    }

    /// A boolean, or a (templated) string `true`/`false`.
    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(_) => {
                let t = self.text(node, what)?;
                match t.trim() {
                    "true" | "True" => Some(true),
                    "false" | "False" => Some(false),
                    other => {
                        self.err(
                            node.mark,
                            format!("{what} must be true or false, found {other:?}"),
                        );
                        None
                    }
                }
            }
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be true or false, found {}", kind(node)),
                );
                None
            }
        }
    }

    fn map<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.value {
            Value::Map(pairs) => Some(pairs),
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be a mapping, found {}", kind(node)),
                );
                None
            }
        }
    }

    /// A mapping, or nothing (`name:` alone) as an empty one.
    fn map_or_null<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        if node.is_null() {
            Some(&[])
        } else {
            self.map(node, what)
        }
    }

    fn seq<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.err(
                    node.mark,
                    format!("{what} must be a list, found {}", kind(node)),
                );
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, what: &str) -> Vec<(String, Mark)> {
        let Some(items) = self.seq(node, what) else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| self.text(item, what).map(|t| (t, item.mark)))
            .collect()
    }

    /// `labels`-style values: a mapping, or a list of `K=V`.
    fn key_values(
        &mut self,
        node: &Node,
        what: &str,
        null_is_empty: bool,
    ) -> Vec<(String, String, Mark)> {
        let mut out: Vec<(String, String, Mark)> = Vec::new();
        match &node.value {
            Value::Map(pairs) => {
                for (k, v) in pairs {
                    let Some(key) = self.key(k) else { continue };
                    let value = if v.is_null() {
                        if null_is_empty {
                            Some(String::new())
                        } else {
                            self.err(
                                v.mark,
                                format!(
                                    "{what} `{key}` has no value; fleetdeck passes none of its own \
                                     environment: give one (a template from the inventory is fine)"
                                ),
                            );
                            None
                        }
                    } else {
                        self.scalar(v, &format!("{what} `{key}`"))
                    };
                    if let Some(value) = value {
                        out.push((key.to_string(), value, k.mark));
                    }
                }
            }
            Value::Seq(items) => {
                for item in items {
                    let Some(t) = self.text(item, what) else {
                        continue;
                    };
                    let (k, v) = match t.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None if null_is_empty => (t.clone(), String::new()),
                        None => {
                            self.err(
                                item.mark,
                                format!(
                                    "{what} {t:?} has no value: write `NAME=value`; fleetdeck \
                                     passes none of its own environment"
                                ),
                            );
                            continue;
                        }
                    };
                    if out.iter().any(|(seen, _, _)| *seen == k) {
                        self.err(item.mark, format!("{what} `{k}` is given twice"));
                        continue;
                    }
                    out.push((k, v, item.mark));
                }
            }
            _ => self.err(
                node.mark,
                format!(
                    "{what} must be a mapping or a list of `NAME=value`, found {}",
                    kind(node)
                ),
            ),
        }
        out
    }

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

    fn networks(&mut self, node: &Node) -> Vec<NetworkSpec> {
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

    fn volumes(&mut self, node: &Node) -> Vec<VolumeSpec> {
        let Some(pairs) = self.map_or_null(node, "volumes") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in pairs {
            let Some(name) = self.declared_name(k, "volume") else {
                continue;
            };
            let Some(body) = self.map_or_null(v, &format!("volume `{name}`")) else {
                continue;
            };
            let mut spec = VolumeSpec {
                name: name.clone(),
                external: None,
                driver: None,
                driver_opts: BTreeMap::new(),
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
                    "driver_opts" => {
                        if let Some(opts) = self.map(bv, "driver_opts") {
                            for (ok, ov) in opts {
                                let Some(okey) = self.key(ok) else { continue };
                                if let Some(val) = self.scalar(ov, &format!("driver_opts `{okey}`"))
                                {
                                    spec.driver_opts.insert(okey.to_string(), val);
                                }
                            }
                        }
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
                        &format!("volumes.{name}.{key}"),
                        &["driver", "driver_opts", "labels", "external", "name"],
                    ),
                }
            }
            spec.external = self.external_name("volume", &name, external, docker_name, configured);
            out.push(spec);
        }
        out
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

    fn secrets(&mut self, node: &Node) -> Vec<SecretSpec> {
        let Some(pairs) = self.map_or_null(node, "secrets") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in pairs {
            let Some(name) = self.declared_name(k, "secret") else {
                continue;
            };
            let Some(body) = self.map_or_null(v, &format!("secret `{name}`")) else {
                continue;
            };
            let mut key_name = None;
            for (bk, bv) in body {
                let Some(key) = self.key(bk) else { continue };
                match key {
                    // Every secret is external to the stack: it comes from the host's
                    // secret file either way.
                    "external" => {
                        self.boolean(bv, "external");
                    }
                    "name" => {
                        key_name = self.text(bv, "name");
                        if key_name.as_deref() == Some("") {
                            self.err(bv.mark, "a secret's key cannot be empty");
                        }
                    }
                    "file" | "environment" => self.err(
                        bk.mark,
                        format!(
                            "unsupported key `secrets.{name}.{key}`: secrets come from the host's \
                             secret file (fleetdeck_secrets); write `{name}: {{}}` or \
                             `{name}: {{external: true, name: KEY}}`"
                        ),
                    ),
                    _ => self.unsupported(
                        bk,
                        &format!("secrets.{name}.{key}"),
                        &["external", "name"],
                    ),
                }
            }
            out.push(SecretSpec {
                key: key_name.unwrap_or_else(|| name.clone()),
                name,
            });
        }
        out
    }

    fn service(&mut self, name: &str, mark: Mark, node: &Node, decl: &Declared) -> Option<Parsed> {
        let Some(body) = node.as_map() else {
            self.err(
                if node.is_null() { mark } else { node.mark },
                format!(
                    "service `{name}` must be a mapping with at least `image`, found {}",
                    kind(node)
                ),
            );
            return None;
        };
        let mut s = Service {
            name: name.to_string(),
            image: String::new(),
            command: None,
            environment: BTreeMap::new(),
            volumes: Vec::new(),
            ports: Vec::new(),
            labels: BTreeMap::new(),
            healthcheck: None,
            restart: RestartPolicy::No,
            networks: Vec::new(),
            network_mode: None,
            depends_on: Vec::new(),
            user: None,
            read_only: false,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            limits: Limits::default(),
            secrets: Vec::new(),
            secret_env: Vec::new(),
            probe: None,
        };
        let mut image_seen = false;
        let mut networks_mark = None;
        let mut mode_mark = None;
        let mut ports_mark = None;
        let mut env_marks: Vec<(String, Mark)> = Vec::new();
        let mut secret_env_marks: Vec<Mark> = Vec::new();
        let mut mount_targets: Vec<(String, Mark)> = Vec::new();
        let mut dep_marks = Vec::new();
        for (k, v) in body {
            let Some(key) = self.key(k) else { continue };
            match key {
                "image" => {
                    image_seen = true;
                    if let Some(image) = self.text(v, "image") {
                        self.check_image(&image, v.mark);
                        s.image = image;
                    }
                }
                "command" => s.command = self.command(v),
                "environment" => {
                    for (k, val, m) in self.key_values(v, "environment variable", false) {
                        if k.is_empty() {
                            self.err(m, "an environment variable needs a name");
                            continue;
                        }
                        env_marks.push((k.clone(), m));
                        s.environment.insert(k, val);
                    }
                }
                "volumes" => {
                    s.volumes = self.service_volumes(v, decl, &mut mount_targets);
                }
                "ports" => {
                    ports_mark = Some(k.mark);
                    s.ports = self.ports(v);
                }
                "labels" => {
                    for (k, val, m) in self.key_values(v, "label", true) {
                        if k.starts_with(RESERVED_LABEL_PREFIX) {
                            self.err(
                                m,
                                format!(
                                    "label `{k}`: labels starting with `{RESERVED_LABEL_PREFIX}` \
                                     are fleetdeck's own"
                                ),
                            );
                            continue;
                        }
                        s.labels.insert(k, val);
                    }
                }
                "healthcheck" => s.healthcheck = self.healthcheck(v),
                "restart" => s.restart = self.restart(v).unwrap_or_default(),
                "networks" => {
                    networks_mark = Some(k.mark);
                    s.networks = self.service_networks(v, decl);
                }
                "network_mode" => {
                    mode_mark = Some(k.mark);
                    s.network_mode = self.network_mode(v);
                }
                "depends_on" => {
                    for (dep, m) in self.depends_on(v, name, decl) {
                        s.depends_on.push(dep);
                        dep_marks.push(m);
                    }
                }
                "user" => s.user = self.scalar(v, "user"),
                "read_only" => s.read_only = self.boolean(v, "read_only").unwrap_or(false),
                "cap_add" | "cap_drop" => {
                    let mut caps: Vec<String> = self
                        .string_list(v, key)
                        .into_iter()
                        .filter_map(|(t, m)| match values::capability(&t) {
                            Ok(c) => Some(c),
                            Err(e) => {
                                self.err(m, e);
                                None
                            }
                        })
                        .collect();
                    caps.sort();
                    caps.dedup();
                    if key == "cap_add" {
                        s.cap_add = caps;
                    } else {
                        s.cap_drop = caps;
                    }
                }
                "deploy" => s.limits = self.deploy(v),
                "secrets" => s.secrets = self.service_secrets(v, decl, &mut mount_targets),
                "x-fleetdeck-probe" => s.probe = self.probe(v),
                "x-fleetdeck-secret-env" => {
                    for (env, secret, m) in self.secret_env(v, decl) {
                        secret_env_marks.push(m);
                        s.secret_env.push((env, secret));
                    }
                }
                _ if key.starts_with("x-fleetdeck") => self.err(
                    k.mark,
                    format!(
                        "unknown fleetdeck extension `{key}`: services take x-fleetdeck-probe and \
                         x-fleetdeck-secret-env{}",
                        values::did_you_mean(key, ["x-fleetdeck-probe", "x-fleetdeck-secret-env"])
                    ),
                ),
                _ if key.starts_with("x-") => {}
                _ => self.err(k.mark, unsupported_service_key(key, name)),
            }
        }
        if !image_seen {
            self.err(mark, format!("service `{name}` has no `image`"));
        }
        for (env, _) in &s.secret_env {
            if let Some((_, m)) = env_marks.iter().find(|(e, _)| e == env) {
                self.err(
                    *m,
                    format!(
                        "environment variable `{env}` is also set from a secret by \
                         x-fleetdeck-secret-env; keep one"
                    ),
                );
            }
        }
        s.secret_env.sort();
        for (i, (target, m)) in mount_targets.iter().enumerate() {
            if mount_targets[..i].iter().any(|(t, _)| t == target) {
                self.err(*m, format!("two mounts at {target}"));
            }
        }
        match (networks_mark, mode_mark) {
            (Some(_), Some(m)) => self.err(
                m,
                "network_mode and networks exclude each other: a service either joins the \
                 stack's networks or uses a network mode",
            ),
            (None, None) => s.networks.push(ServiceNetwork {
                name: DEFAULT_NETWORK.into(),
                aliases: Vec::new(),
            }),
            _ => {}
        }
        if let (Some(NetworkMode::Host | NetworkMode::None), Some(m)) = (s.network_mode, ports_mark)
            && !s.ports.is_empty()
        {
            self.err(
                m,
                format!(
                    "ports cannot be published with network_mode {}",
                    s.network_mode.map_or("", NetworkMode::as_str)
                ),
            );
        }
        Some(Parsed {
            service: s,
            mark,
            dep_marks,
        })
    }

    fn check_image(&mut self, image: &str, mark: Mark) {
        match values::image(image) {
            Err(e) => self.err(mark, e),
            Ok(Pin::Unpinned) if !self.policy.allow_unpinned => self.err(
                mark,
                format!(
                    "image {image:?} is not pinned: give a tag other than `latest` or a digest \
                     (`repo:1.2.3`, `repo@sha256:…`), or allow unpinned images for this host \
                     (fleetdeck_allow_unpinned)"
                ),
            ),
            Ok(_) => {}
        }
    }

    fn command(&mut self, node: &Node) -> Option<Vec<String>> {
        let words = match &node.value {
            Value::Str(_) => {
                let t = self.text(node, "command")?;
                match crate::util::shell::split_words(&t) {
                    Ok(w) => w,
                    Err(e) => {
                        self.err(node.mark, e);
                        return None;
                    }
                }
            }
            Value::Seq(items) => {
                let words: Vec<Option<String>> = items
                    .iter()
                    .map(|i| self.scalar(i, "a command word"))
                    .collect();
                words.into_iter().collect::<Option<Vec<_>>>()?
            }
            _ => {
                self.err(
                    node.mark,
                    format!("command must be a string or a list, found {}", kind(node)),
                );
                return None;
            }
        };
        if words.is_empty() {
            self.err(
                node.mark,
                "command is empty; leave it out to run the image's own",
            );
            return None;
        }
        Some(words)
    }

    fn mount_source(&mut self, source: &str, mark: Mark, decl: &Declared) -> Option<MountSource> {
        if source.starts_with('/') {
            return Some(MountSource::Bind(source.to_string()));
        }
        if source.starts_with('.') || source.starts_with('~') {
            self.err(
                mark,
                format!(
                    "{source:?}: a bind mount needs an absolute path on the host (the stack file \
                     is read here, the container runs there)"
                ),
            );
            return None;
        }
        if !decl.volumes.contains(source) {
            self.err(
                mark,
                format!("named volume `{source}` is not declared under the top-level `volumes:`"),
            );
            return None;
        }
        Some(MountSource::Volume(source.to_string()))
    }

    fn target(&mut self, target: &str, mark: Mark) -> bool {
        if !target.starts_with('/') {
            self.err(
                mark,
                format!("{target:?}: a mount target is an absolute path in the container"),
            );
            return false;
        }
        true
    }

    fn service_volumes(
        &mut self,
        node: &Node,
        decl: &Declared,
        targets: &mut Vec<(String, Mark)>,
    ) -> Vec<VolumeMount> {
        let Some(items) = self.seq(node, "volumes") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Str(_) => {
                    let Some(t) = self.text(item, "a volume") else {
                        continue;
                    };
                    let parts: Vec<&str> = t.split(':').collect();
                    let read_only = match parts.as_slice() {
                        [_] => {
                            self.err(
                                item.mark,
                                format!(
                                    "{t:?}: anonymous volumes are not supported; write \
                                     SOURCE:TARGET with a host path or a named volume"
                                ),
                            );
                            continue;
                        }
                        [_, _] => false,
                        [_, _, "ro"] => true,
                        [_, _, "rw"] => false,
                        [_, _, mode] => {
                            self.err(
                                item.mark,
                                format!("{t:?}: the mount mode is ro or rw, not {mode:?}"),
                            );
                            continue;
                        }
                        _ => {
                            self.err(item.mark, format!("{t:?}: write SOURCE:TARGET[:ro|rw]"));
                            continue;
                        }
                    };
                    let source = self.mount_source(parts[0], item.mark, decl);
                    let target_ok = self.target(parts[1], item.mark);
                    if let (Some(source), true) = (source, target_ok) {
                        targets.push((parts[1].to_string(), item.mark));
                        out.push(VolumeMount {
                            source,
                            target: parts[1].to_string(),
                            read_only,
                        });
                    }
                }
                Value::Map(pairs) => {
                    if let Some(m) = self.long_volume(pairs, item.mark, decl) {
                        targets.push((m.target.clone(), item.mark));
                        out.push(m);
                    }
                }
                _ => self.err(
                    item.mark,
                    format!(
                        "a volume is a string SOURCE:TARGET or a mapping, found {}",
                        kind(item)
                    ),
                ),
            }
        }
        out
    }

    fn long_volume(
        &mut self,
        pairs: &[(Node, Node)],
        mark: Mark,
        decl: &Declared,
    ) -> Option<VolumeMount> {
        let (mut typ, mut source, mut target, mut read_only) = (None, None, None, false);
        let mut ok = true;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else {
                ok = false;
                continue;
            };
            match key {
                "type" => match self.text(v, "type").as_deref() {
                    Some(t @ ("bind" | "volume")) => typ = Some(t.to_string()),
                    Some(other) => {
                        self.err(
                            v.mark,
                            format!("volume type {other:?} is not supported: bind or volume"),
                        );
                        ok = false;
                    }
                    None => ok = false,
                },
                "source" => source = self.text(v, "source").map(|s| (s, v.mark)),
                "target" => target = self.text(v, "target").map(|t| (t, v.mark)),
                "read_only" => read_only = self.boolean(v, "read_only").unwrap_or(false),
                _ => {
                    self.unsupported(
                        k,
                        &format!("volumes[].{key}"),
                        &["type", "source", "target", "read_only"],
                    );
                    ok = false;
                }
            }
        }
        let missing: Vec<&str> = [
            ("type", typ.is_none()),
            ("source", source.is_none()),
            ("target", target.is_none()),
        ]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(n, _)| *n)
        .collect();
        if !missing.is_empty() {
            if ok {
                self.err(mark, format!("this volume needs {}", missing.join(", ")));
            }
            return None;
        }
        let (typ, (source, smark), (target, tmark)) = (typ?, source?, target?);
        let src = match typ.as_str() {
            "bind" if !source.starts_with('/') => {
                self.err(
                    smark,
                    format!("{source:?}: a bind source is an absolute path on the host"),
                );
                None
            }
            "bind" => Some(MountSource::Bind(source)),
            _ if source.starts_with('/') => {
                self.err(
                    smark,
                    format!(
                        "{source:?}: a volume source is a named volume; use type: bind for a path"
                    ),
                );
                None
            }
            _ => self.mount_source(&source, smark, decl),
        };
        let target_ok = self.target(&target, tmark);
        if !ok || !target_ok {
            return None;
        }
        Some(VolumeMount {
            source: src?,
            target,
            read_only,
        })
    }

    fn ports(&mut self, node: &Node) -> Vec<PortSpec> {
        let Some(items) = self.seq(node, "ports") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let port = match &item.value {
                Value::Str(_) => {
                    self.text(item, "a port")
                        .and_then(|t| match values::short_port(&t) {
                            Ok((host_ip, host_port, container_port, proto)) => Some(PortSpec {
                                host_ip,
                                host_port,
                                container_port,
                                protocol: if proto == "udp" {
                                    Protocol::Udp
                                } else {
                                    Protocol::Tcp
                                },
                            }),
                            Err(e) => {
                                self.err(item.mark, e);
                                None
                            }
                        })
                }
                Value::Int(_) => {
                    self.err(
                        item.mark,
                        "a port is written as a quoted string \"HOST:CONTAINER\" (YAML 1.1 reads \
                         an unquoted 22:22 as the number 1342, and a lone port is not published)",
                    );
                    None
                }
                Value::Map(pairs) => self.long_port(pairs, item.mark),
                _ => {
                    self.err(
                        item.mark,
                        format!("a port is a string or a mapping, found {}", kind(item)),
                    );
                    None
                }
            };
            out.extend(port);
        }
        out
    }

    fn long_port(&mut self, pairs: &[(Node, Node)], mark: Mark) -> Option<PortSpec> {
        let (mut target, mut published, mut host_ip, mut protocol) =
            (None, None, None, Protocol::Tcp);
        let mut ok = true;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else {
                ok = false;
                continue;
            };
            match key {
                "target" => target = self.int_in(v, "target", 1, 65535),
                "published" => published = self.int_in(v, "published", 1, 65535),
                "host_ip" => {
                    host_ip = self.text(v, "host_ip");
                    if let Some(ip) = &host_ip
                        && let Err(e) = values::host_ip(ip)
                    {
                        self.err(v.mark, e);
                        ok = false;
                    }
                }
                "protocol" => match self.text(v, "protocol").as_deref() {
                    Some("tcp") => protocol = Protocol::Tcp,
                    Some("udp") => protocol = Protocol::Udp,
                    Some(other) => {
                        self.err(v.mark, format!("protocol is tcp or udp, not {other:?}"));
                        ok = false;
                    }
                    None => ok = false,
                },
                "mode" => match self.text(v, "mode").as_deref() {
                    Some("host") => {}
                    Some(other) => {
                        self.err(v.mark, format!("port mode {other:?} is not supported: fleetdeck publishes on the host (mode: host)"));
                        ok = false;
                    }
                    None => ok = false,
                },
                _ => {
                    self.unsupported(
                        k,
                        &format!("ports[].{key}"),
                        &["target", "published", "host_ip", "protocol", "mode"],
                    );
                    ok = false;
                }
            }
        }
        match (target, published) {
            (Some(t), Some(p)) if ok => Some(PortSpec {
                host_ip,
                host_port: p as u16,
                container_port: t as u16,
                protocol,
            }),
            (t, p) => {
                let has = |key: &str| pairs.iter().any(|(k, _)| k.as_str() == Some(key));
                if ok && (t.is_none() && !has("target") || p.is_none() && !has("published")) {
                    self.err(
                        mark,
                        "a port needs `target` (the container's) and `published` (the host's)",
                    );
                }
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let t = self.text(node, what)?;
        match values::duration(&t) {
            Ok(d) if d != Duration::ZERO && d < Duration::from_millis(1) => {
                self.err(node.mark, format!("{what} must be at least 1ms"));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(node.mark, format!("{what}: {e}"));
                None
            }
        }
    }

    fn healthcheck(&mut self, node: &Node) -> Option<Healthcheck> {
        let pairs = self.map(node, "healthcheck")?;
        let mut h = Healthcheck {
            test: None,
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
        };
        let mut disable = None;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else { continue };
            match key {
                "test" => h.test = self.health_test(v),
                "interval" => h.interval = self.duration(v, "interval"),
                "timeout" => h.timeout = self.duration(v, "timeout"),
                "start_period" => h.start_period = self.duration(v, "start_period"),
                "retries" => h.retries = self.int_in(v, "retries", 0, 1000).map(|r| r as u32),
                "disable" => disable = self.boolean(v, "disable").map(|d| (d, k.mark)),
                _ => self.unsupported(
                    k,
                    &format!("healthcheck.{key}"),
                    &[
                        "test",
                        "interval",
                        "timeout",
                        "retries",
                        "start_period",
                        "disable",
                    ],
                ),
            }
        }
        if let Some((true, m)) = disable {
            if matches!(h.test, Some(HealthTest::Cmd(_) | HealthTest::Shell(_))) {
                self.err(
                    m,
                    "disable: true and a test contradict each other; keep one",
                );
            }
            h.test = Some(HealthTest::Disabled);
        }
        Some(h)
    }

    fn health_test(&mut self, node: &Node) -> Option<HealthTest> {
        match &node.value {
            Value::Str(_) => {
                let t = self.text(node, "test")?;
                if t.trim().is_empty() {
                    self.err(node.mark, "the health test is empty");
                    return None;
                }
                Some(HealthTest::Shell(t))
            }
            Value::Seq(items) => {
                let words: Vec<String> = items
                    .iter()
                    .map(|i| self.scalar(i, "a test word"))
                    .collect::<Option<Vec<_>>>()?;
                match words.split_first() {
                    Some((first, rest)) if first == "CMD" && !rest.is_empty() => {
                        Some(HealthTest::Cmd(rest.to_vec()))
                    }
                    Some((first, [cmd])) if first == "CMD-SHELL" => {
                        Some(HealthTest::Shell(cmd.clone()))
                    }
                    Some((first, [])) if first == "NONE" => Some(HealthTest::Disabled),
                    _ => {
                        self.err(
                            node.mark,
                            "test is [\"CMD\", program, args…], [\"CMD-SHELL\", \"command\"], \
                             [\"NONE\"] or a string (run by the container's shell)",
                        );
                        None
                    }
                }
            }
            _ => {
                self.err(
                    node.mark,
                    format!("test must be a list or a string, found {}", kind(node)),
                );
                None
            }
        }
    }

    fn restart(&mut self, node: &Node) -> Option<RestartPolicy> {
        // YAML 1.1 reads an unquoted `no` as false.
        if node.value == Value::Bool(false) {
            return Some(RestartPolicy::No);
        }
        let t = self.text(node, "restart")?;
        let policy = match t.as_str() {
            "no" => Some(RestartPolicy::No),
            "always" => Some(RestartPolicy::Always),
            "unless-stopped" => Some(RestartPolicy::UnlessStopped),
            "on-failure" => Some(RestartPolicy::OnFailure(None)),
            other => other
                .strip_prefix("on-failure:")
                .and_then(|n| n.parse::<u32>().ok())
                .map(|n| RestartPolicy::OnFailure(Some(n))),
        };
        if policy.is_none() {
            self.err(
                node.mark,
                format!("restart is no, always, unless-stopped or on-failure[:N], not {t:?}"),
            );
        }
        policy
    }

    fn network_ref(&mut self, name: &str, mark: Mark, decl: &Declared) -> bool {
        if name == DEFAULT_NETWORK || decl.networks.contains(name) {
            return true;
        }
        self.err(
            mark,
            format!("network `{name}` is not declared under the top-level `networks:`"),
        );
        false
    }

    fn service_networks(&mut self, node: &Node, decl: &Declared) -> Vec<ServiceNetwork> {
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

    fn network_mode(&mut self, node: &Node) -> Option<NetworkMode> {
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

    fn depends_on(&mut self, node: &Node, me: &str, decl: &Declared) -> Vec<(Dependency, Mark)> {
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

    fn deploy(&mut self, node: &Node) -> Limits {
        let mut limits = Limits::default();
        let Some(pairs) = self.map(node, "deploy") else {
            return limits;
        };
        let one_container = "fleetdeck runs one container per service; of `deploy` only \
                             `resources.limits` (cpus, memory) is supported";
        for (k, v) in pairs {
            let Some(key) = self.key(k) else { continue };
            if key != "resources" {
                self.err(
                    k.mark,
                    format!("unsupported key `deploy.{key}`: {one_container}"),
                );
                continue;
            }
            let Some(res) = self.map(v, "deploy.resources") else {
                continue;
            };
            for (rk, rv) in res {
                let Some(rkey) = self.key(rk) else { continue };
                if rkey != "limits" {
                    self.err(
                        rk.mark,
                        format!("unsupported key `deploy.resources.{rkey}`: {one_container}"),
                    );
                    continue;
                }
                let Some(lims) = self.map(rv, "deploy.resources.limits") else {
                    continue;
                };
                for (lk, lv) in lims {
                    let Some(lkey) = self.key(lk) else { continue };
                    match lkey {
                        "cpus" => {
                            if let Some(n) = self.number(lv, "cpus") {
                                match values::nano_cpus(n) {
                                    Ok(nc) => limits.nano_cpus = Some(nc),
                                    Err(e) => self.err(lv.mark, e),
                                }
                            }
                        }
                        "memory" => {
                            let bytes = match &lv.value {
                                Value::Int(i) if *i > 0 && *i < i128::from(i64::MAX) => {
                                    Ok(*i as i64)
                                }
                                Value::Int(i) => Err(format!("memory {i} is out of range")),
                                _ => match self.text(lv, "memory") {
                                    Some(t) => values::bytes(&t),
                                    None => continue,
                                },
                            };
                            match bytes {
                                Ok(b) => limits.memory = Some(b),
                                Err(e) => self.err(lv.mark, e),
                            }
                        }
                        _ => self.unsupported(
                            lk,
                            &format!("deploy.resources.limits.{lkey}"),
                            &["cpus", "memory"],
                        ),
                    }
                }
            }
        }
        limits
    }

    fn secret_ref(&mut self, name: &str, mark: Mark, decl: &Declared) -> bool {
        if decl.secrets.contains(name) {
            return true;
        }
        self.err(
            mark,
            format!("secret `{name}` is not declared under the top-level `secrets:`"),
        );
        false
    }

    fn service_secrets(
        &mut self,
        node: &Node,
        decl: &Declared,
        targets: &mut Vec<(String, Mark)>,
    ) -> Vec<SecretMount> {
        let Some(items) = self.seq(node, "secrets") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let mount = match &item.value {
                Value::Str(_) => self.text(item, "a secret").and_then(|name| {
                    self.secret_ref(&name, item.mark, decl)
                        .then(|| SecretMount {
                            target: format!("{SECRETS_DIR}/{name}"),
                            source: name,
                            uid: None,
                            gid: None,
                            mode: 0o400,
                        })
                }),
                Value::Map(pairs) => self.long_secret(pairs, item.mark, decl),
                _ => {
                    self.err(
                        item.mark,
                        format!("a secret is a name or a mapping, found {}", kind(item)),
                    );
                    None
                }
            };
            if let Some(m) = mount {
                targets.push((m.target.clone(), item.mark));
                out.push(m);
            }
        }
        out
    }

    fn id(&mut self, node: &Node, what: &str) -> Option<String> {
        self.int_in(node, what, 0, i128::from(u32::MAX))
            .map(|i| i.to_string())
    }

    fn long_secret(
        &mut self,
        pairs: &[(Node, Node)],
        mark: Mark,
        decl: &Declared,
    ) -> Option<SecretMount> {
        let (mut source, mut target, mut uid, mut gid, mut mode) = (None, None, None, None, 0o400);
        let mut ok = true;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else {
                ok = false;
                continue;
            };
            match key {
                "source" => {
                    source = self.text(v, "source");
                    ok &= source
                        .as_ref()
                        .is_some_and(|s| self.secret_ref(s, v.mark, decl));
                }
                "target" => match self.text(v, "target") {
                    Some(t) if t.split('/').any(|c| c == "..") || t.is_empty() => {
                        self.err(v.mark, format!("{t:?} is not a secret target"));
                        ok = false;
                    }
                    Some(t) if t.starts_with('/') => target = Some(t),
                    Some(t) => target = Some(format!("{SECRETS_DIR}/{t}")),
                    None => ok = false,
                },
                "uid" => {
                    uid = self.id(v, "uid");
                    ok &= uid.is_some();
                }
                "gid" => {
                    gid = self.id(v, "gid");
                    ok &= gid.is_some();
                }
                "mode" => {
                    let m = match &v.value {
                        // YAML 1.1 already read 0440 as octal.
                        Value::Int(i) => Some(*i),
                        _ => self.text(v, "mode").and_then(|t| {
                            let t = t.trim();
                            match t.strip_prefix("0o").or_else(|| t.strip_prefix('0')) {
                                Some(oct) if !oct.is_empty() => i128::from_str_radix(oct, 8).ok(),
                                _ => t.parse::<i128>().ok(),
                            }
                        }),
                    };
                    match m {
                        Some(m) if (0..=0o777).contains(&m) => mode = m as u32,
                        _ => {
                            self.err(v.mark, "mode is a file mode like 0400 or 0440");
                            ok = false;
                        }
                    }
                }
                _ => {
                    self.unsupported(
                        k,
                        &format!("secrets[].{key}"),
                        &["source", "target", "uid", "gid", "mode"],
                    );
                    ok = false;
                }
            }
        }
        if source.is_none() && ok {
            self.err(mark, "this secret needs `source` (a top-level secret)");
        }
        let source = source?;
        if !ok {
            return None;
        }
        Some(SecretMount {
            target: target.unwrap_or_else(|| format!("{SECRETS_DIR}/{source}")),
            source,
            uid,
            gid,
            mode,
        })
    }

    fn secret_env(&mut self, node: &Node, decl: &Declared) -> Vec<(String, String, Mark)> {
        let Some(pairs) = self.map(node, "x-fleetdeck-secret-env") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in pairs {
            let Some(env) = self.key(k) else { continue };
            if !env_name(env) {
                self.err(
                    k.mark,
                    format!("{env:?} is not an environment variable name"),
                );
                continue;
            }
            let Some(secret) = self.text(v, "a secret name") else {
                continue;
            };
            if self.secret_ref(&secret, v.mark, decl) {
                out.push((env.to_string(), secret, k.mark));
            }
        }
        out
    }

    fn probe(&mut self, node: &Node) -> Option<HttpProbe> {
        let pairs = self.map(node, "x-fleetdeck-probe")?;
        let (mut url, mut status, mut body, mut timeout) =
            (None, 200u16, None, DEFAULT_PROBE_TIMEOUT);
        let mut ok = true;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else {
                ok = false;
                continue;
            };
            match key {
                "url" => match self.text(v, "url") {
                    Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                        url = Some(u)
                    }
                    Some(u) => {
                        self.err(
                            v.mark,
                            format!("{u:?}: the probe's url starts with http:// or https://"),
                        );
                        ok = false;
                    }
                    None => ok = false,
                },
                "status" => match self.int_in(v, "status", 100, 599) {
                    Some(s) => status = s as u16,
                    None => ok = false,
                },
                "body" => {
                    body = self.text(v, "body");
                    ok &= body.is_some();
                }
                "timeout" => match self.seconds(v, "timeout") {
                    Some(t) => timeout = t,
                    None => ok = false,
                },
                _ => {
                    self.unsupported(
                        k,
                        &format!("x-fleetdeck-probe.{key}"),
                        &["url", "status", "body", "timeout"],
                    );
                    ok = false;
                }
            }
        }
        if url.is_none() && ok {
            self.err(node.mark, "x-fleetdeck-probe needs a `url`");
        }
        if !ok {
            return None;
        }
        Some(HttpProbe {
            url: url?,
            status,
            body,
            timeout,
        })
    }

    /// Dependencies first, otherwise file order; a cycle is reported once.
    fn order(&mut self, parsed: Vec<Parsed>) -> Vec<Service> {
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

fn unsupported_service_key(key: &str, service: &str) -> String {
    let why = match key {
        "build" => "fleetdeck deploys images, it does not build them: build and push elsewhere, \
                    then pin the tag in `image`"
            .to_string(),
        "container_name" => "fleetdeck names containers itself".to_string(),
        "privileged" => "grant only the capabilities needed with cap_add".to_string(),
        "env_file" => {
            "put values in `environment` (templated from the inventory) or use secrets".to_string()
        }
        "expose" | "links" => {
            "services on a network reach each other by service name; publish with `ports`"
                .to_string()
        }
        _ => format!(
            "fleetdeck supports {}{}",
            SERVICE_KEYS.join(", "),
            values::did_you_mean(key, SERVICE_KEYS.iter().copied())
        ),
    };
    format!("unsupported key `{key}` in service `{service}`: {why}")
}
