//! One service: the keys it supports (each delegated to its section), `image` pinning,
//! `command`, `restart`, `deploy` limits, and why the keys it refuses are refused.

use std::collections::BTreeMap;

use super::STACK_NEARNESS;
use super::{Cx, Declared, Parsed, kind};
use crate::inventory::yaml::{Mark, Node, Value};
use crate::stack::values::{self, Pin};
use crate::stack::{
    DEFAULT_NETWORK, Limits, NetworkMode, RESERVED_LABEL_PREFIX, RestartPolicy, Service,
    ServiceNetwork,
};
use crate::util::suggest::did_you_mean;

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

impl Cx<'_> {
    pub(super) fn service(
        &mut self,
        name: &str,
        mark: Mark,
        node: &Node,
        decl: &Declared,
    ) -> Option<Parsed> {
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
                        did_you_mean(
                            key,
                            ["x-fleetdeck-probe", "x-fleetdeck-secret-env"],
                            STACK_NEARNESS
                        )
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

    pub(super) fn check_image(&mut self, image: &str, mark: Mark) {
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

    pub(super) fn command(&mut self, node: &Node) -> Option<Vec<String>> {
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

    pub(super) fn restart(&mut self, node: &Node) -> Option<RestartPolicy> {
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

    pub(super) fn deploy(&mut self, node: &Node) -> Limits {
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
            did_you_mean(key, SERVICE_KEYS.iter().copied(), STACK_NEARNESS)
        ),
    };
    format!("unsupported key `{key}` in service `{service}`: {why}")
}
