//! From a resolved service to Docker: the configuration hash that says whether a
//! running container is still what the stack asks for, and the body that creates one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkingConfig, PortBinding,
    RestartPolicy as DockerRestart, RestartPolicyNameEnum,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    HealthTest, Healthcheck, Limits, MountSource, NetworkMode, NetworkSpec, PortSpec,
    RestartPolicy, SecretMount, Service, Stack, VolumeMount, VolumeSpec,
};

/// Bumped when the hashed form changes meaning, so old and new hashes never collide.
const HASH_FORMAT: &str = "fleetdeck-stack-service/1";

/// What defines a container, in a fixed field order with sorted maps: serialized to
/// JSON, it is the canonical form that is hashed. The HTTP probe and `depends_on` are
/// left out: they steer the deploy, not the container.
#[derive(Serialize)]
struct Canonical<'a> {
    format: &'static str,
    app: &'a str,
    name: &'a str,
    image: &'a str,
    command: &'a Option<Vec<String>>,
    environment: &'a BTreeMap<String, String>,
    volumes: Vec<(&'a VolumeMount, Option<&'a VolumeSpec>)>,
    ports: &'a [PortSpec],
    labels: &'a BTreeMap<String, String>,
    healthcheck: &'a Option<Healthcheck>,
    restart: RestartPolicy,
    networks: Vec<(&'a str, &'a [String], Option<&'a NetworkSpec>)>,
    network_mode: Option<NetworkMode>,
    user: &'a Option<String>,
    read_only: bool,
    cap_add: &'a [String],
    cap_drop: &'a [String],
    limits: Limits,
    secrets: &'a [SecretMount],
    secret_env: &'a [(String, String)],
    secret_digests: BTreeMap<&'a str, Option<&'a str>>,
}

fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Service {
    /// SHA-256 (hex) of everything that defines this service's container: the resolved
    /// service, the specs of the networks and volumes it uses, and `secret_digests`
    /// (secret name → SHA-256 hex of its value, from the caller) for the secrets it
    /// uses, so a rotated secret redeploys it and only it. Stable across runs and
    /// machines; independent of the file's key order and formatting.
    pub fn config_hash(&self, stack: &Stack, secret_digests: &BTreeMap<String, String>) -> String {
        let volumes = self
            .volumes
            .iter()
            .map(|m| {
                let spec = match &m.source {
                    MountSource::Volume(v) => stack.volume(v),
                    MountSource::Bind(_) => None,
                };
                (m, spec)
            })
            .collect();
        let networks = self
            .networks
            .iter()
            .map(|n| {
                (
                    n.name.as_str(),
                    n.aliases.as_slice(),
                    stack.network(&n.name),
                )
            })
            .collect();
        let secret_digests = self
            .secret_names()
            .into_iter()
            .map(|name| (name, secret_digests.get(name).map(String::as_str)))
            .collect();
        let canonical = Canonical {
            format: HASH_FORMAT,
            app: &stack.app,
            name: &self.name,
            image: &self.image,
            command: &self.command,
            environment: &self.environment,
            volumes,
            ports: &self.ports,
            labels: &self.labels,
            healthcheck: &self.healthcheck,
            restart: self.restart,
            networks,
            network_mode: self.network_mode,
            user: &self.user,
            read_only: self.read_only,
            cap_add: &self.cap_add,
            cap_drop: &self.cap_drop,
            limits: self.limits,
            secrets: &self.secrets,
            secret_env: &self.secret_env,
            secret_digests,
        };
        // Serializing plain structs, strings and numbers to JSON cannot fail; should it
        // ever, the debug form is still canonical (same fields, same order).
        let bytes = serde_json::to_vec(&canonical).unwrap_or_else(|_| {
            format!("{:?}", (self, &stack.networks, &stack.volumes)).into_bytes()
        });
        hex::encode(Sha256::digest(&bytes))
    }

    /// The body of `POST /containers/create` for this service.
    ///
    /// - `prefix`: the host's container prefix, for the Docker names of the stack's
    ///   networks and volumes ([`Stack::network_name`], [`Stack::volume_name`]).
    /// - `labels`: fleetdeck's own (`fleetdeck.app`, `fleetdeck.service`,
    ///   `fleetdeck.config-hash`, …), added to the service's (and winning).
    /// - `secret_env`: (variable, value) for `x-fleetdeck-secret-env`, resolved by the
    ///   caller.
    /// - `secret_binds`: (host path, container target) of the secret files the caller
    ///   wrote for [`Service::secrets`]; mounted read-only.
    ///
    /// The container is attached to its first network at creation (with the service's
    /// name and aliases as DNS names); connect the rest from
    /// [`Service::extra_networks`] before starting it.
    pub fn create_body(
        &self,
        stack: &Stack,
        prefix: &str,
        labels: &BTreeMap<String, String>,
        secret_env: &[(String, String)],
        secret_binds: &[(String, String)],
    ) -> ContainerCreateBody {
        let env: Vec<String> = self
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .chain(secret_env.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        let mut all_labels: HashMap<String, String> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all_labels.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));

        let mut binds: Vec<String> = self
            .volumes
            .iter()
            .map(|m| {
                let source = match &m.source {
                    MountSource::Bind(path) => path.clone(),
                    MountSource::Volume(v) => stack.volume_name(prefix, v),
                };
                let mode = if m.read_only { ":ro" } else { "" };
                format!("{source}:{}{mode}", m.target)
            })
            .collect();
        binds.extend(
            secret_binds
                .iter()
                .map(|(host, target)| format!("{host}:{target}:ro")),
        );

        let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        let mut exposed = BTreeSet::new();
        for p in &self.ports {
            let key = format!("{}/{}", p.container_port, p.protocol.as_str());
            exposed.insert(key.clone());
            port_bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: Some(p.host_ip.clone().unwrap_or_default()),
                    host_port: Some(p.host_port.to_string()),
                });
        }

        let (network_mode, networking_config) = match (self.network_mode, self.networks.first()) {
            (Some(mode), _) => (Some(mode.as_str().to_string()), None),
            (None, Some(first)) => {
                let name = stack.network_name(prefix, &first.name);
                (
                    Some(name.clone()),
                    Some(NetworkingConfig {
                        endpoints_config: Some(HashMap::from([(
                            name,
                            self.endpoint(&first.aliases),
                        )])),
                    }),
                )
            }
            (None, None) => (None, None),
        };

        let restart_policy = match self.restart {
            RestartPolicy::No => DockerRestart {
                name: Some(RestartPolicyNameEnum::NO),
                maximum_retry_count: None,
            },
            RestartPolicy::Always => DockerRestart {
                name: Some(RestartPolicyNameEnum::ALWAYS),
                maximum_retry_count: None,
            },
            RestartPolicy::UnlessStopped => DockerRestart {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            },
            RestartPolicy::OnFailure(n) => DockerRestart {
                name: Some(RestartPolicyNameEnum::ON_FAILURE),
                maximum_retry_count: n.map(i64::from),
            },
        };

        let healthcheck = self.healthcheck.as_ref().map(|h| HealthConfig {
            test: h.test.as_ref().map(|t| match t {
                HealthTest::Cmd(args) => std::iter::once("CMD".to_string())
                    .chain(args.iter().cloned())
                    .collect(),
                HealthTest::Shell(cmd) => vec!["CMD-SHELL".to_string(), cmd.clone()],
                HealthTest::Disabled => vec!["NONE".to_string()],
            }),
            interval: h.interval.map(nanos),
            timeout: h.timeout.map(nanos),
            retries: h.retries.map(i64::from),
            start_period: h.start_period.map(nanos),
            start_interval: None,
        });

        let some_vec = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: self.command.clone(),
            env: (!env.is_empty()).then_some(env),
            labels: Some(all_labels),
            healthcheck,
            user: self.user.clone(),
            exposed_ports: (!exposed.is_empty()).then(|| exposed.into_iter().collect()),
            host_config: Some(HostConfig {
                binds: (!binds.is_empty()).then_some(binds),
                port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
                restart_policy: Some(restart_policy),
                network_mode,
                cap_add: some_vec(&self.cap_add),
                cap_drop: some_vec(&self.cap_drop),
                readonly_rootfs: self.read_only.then_some(true),
                nano_cpus: self.limits.nano_cpus,
                memory: self.limits.memory,
                ..Default::default()
            }),
            networking_config,
            ..Default::default()
        }
    }

    /// The networks to connect after creating the container (all but the first it
    /// joins): (Docker network name, endpoint with the service's DNS names), for
    /// `POST /networks/{id}/connect`.
    pub fn extra_networks(&self, stack: &Stack, prefix: &str) -> Vec<(String, EndpointSettings)> {
        if self.network_mode.is_some() {
            return Vec::new();
        }
        self.networks
            .iter()
            .skip(1)
            .map(|n| {
                (
                    stack.network_name(prefix, &n.name),
                    self.endpoint(&n.aliases),
                )
            })
            .collect()
    }

    fn endpoint(&self, aliases: &[String]) -> EndpointSettings {
        let mut names = vec![self.name.clone()];
        names.extend(aliases.iter().filter(|a| **a != self.name).cloned());
        EndpointSettings {
            aliases: Some(names),
            ..Default::default()
        }
    }
}
