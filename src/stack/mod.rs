//! Stacks: one app is one compose-format file, `STACKS_DIR/APP.yml` (or `.yaml`),
//! read into typed values the deployment core turns into Docker objects. Pure: no I/O
//! beyond reading the file, no Docker connection.
//!
//! fleetdeck supports the subset of compose that matters on a single host and rejects
//! every other key with file, line and column (never silently ignores one); the
//! subset, the extensions (`x-fleetdeck`, `x-fleetdeck-probe`,
//! `x-fleetdeck-secret-env`), templating, image pinning and naming are in
//! `docs/stacks.md`.
//!
//! The deployment core's calls:
//!
//! - [`stack_file`]`(stacks_dir, app)` finds `APP.yml` or `APP.yaml` (one of them).
//! - [`load`]`(path, app, host, vars, policy)` reads, templates (`{{ var }}` with the
//!   host's variables) and checks the file: a [`Stack`] with its services in dependency
//!   order, or every problem as [`StackErrors`].
//! - [`Stack::network_name`] / [`Stack::volume_name`]: the Docker names on the host,
//!   `{prefix}{app}_{name}` (external ones keep their own name).
//! - [`Service::config_hash`]: a stable SHA-256 of everything that defines the
//!   container, including the digests of the secrets it uses (so a rotated secret
//!   redeploys), for the `fleetdeck.config-hash` label.
//! - [`Service::create_body`]: the body of `POST /containers/create`, attached to the
//!   service's first network; [`Service::extra_networks`] lists the others to connect
//!   before starting it (engines before API 1.44 take one network at creation).

mod docker;
pub mod labels;
mod parse;
mod template;
pub mod values;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::util::diag::{self, Positioned};

/// Where secret files are mounted unless a `target` says otherwise.
pub const SECRETS_DIR: &str = "/run/secrets";
/// How long the health gate waits unless `x-fleetdeck.gate_timeout` says otherwise.
pub const DEFAULT_GATE_TIMEOUT: Duration = Duration::from_secs(60);
/// An HTTP probe's timeout unless it says otherwise.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The network a service joins when it names none (compose's `default`).
pub const DEFAULT_NETWORK: &str = "default";
/// Labels with this prefix are fleetdeck's own; a stack may not set them.
pub const RESERVED_LABEL_PREFIX: &str = "fleetdeck.";

/// What the inventory allows for a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StackPolicy {
    /// `fleetdeck_allow_unpinned`: accept images tagged `latest` or untagged.
    pub allow_unpinned: bool,
}

/// One problem in a stack file: 1-based line and column (0 when the problem is the file
/// as a whole), and what is wrong.
pub type StackError = Positioned;

/// Every problem found in a stack file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackErrors(pub Vec<StackError>);

impl fmt::Display for StackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        diag::write_list(f, "stack", &self.0)
    }
}

impl std::error::Error for StackErrors {}

/// An app as deployed to one host: templated with that host's variables, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stack {
    pub app: String,
    pub file: PathBuf,
    /// Dependencies first; otherwise in file order.
    pub services: Vec<Service>,
    /// Declared networks, plus `default` when a service joins it implicitly.
    pub networks: Vec<NetworkSpec>,
    pub volumes: Vec<VolumeSpec>,
    /// Secrets the stack declares and the secret-file key each comes from.
    pub secrets: Vec<SecretSpec>,
    /// `x-fleetdeck.gate_timeout`: how long the health gate waits for every service.
    pub gate_timeout: Duration,
}

/// A top-level network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSpec {
    pub name: String,
    /// `external: true`: an existing network with this Docker name (the `name:` given,
    /// or the key); fleetdeck neither creates nor removes it.
    pub external: Option<String>,
    pub driver: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

/// A top-level named volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeSpec {
    pub name: String,
    /// `external: true`: an existing volume with this Docker name.
    pub external: Option<String>,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// A top-level secret: its name in the stack and its key in the host's secret file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretSpec {
    pub name: String,
    pub key: String,
}

/// One service: one container on the host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: String,
    pub image: String,
    /// `command`, as words (a string is split as a POSIX shell would, without one).
    pub command: Option<Vec<String>>,
    pub environment: BTreeMap<String, String>,
    pub volumes: Vec<VolumeMount>,
    pub ports: Vec<PortSpec>,
    pub labels: BTreeMap<String, String>,
    pub healthcheck: Option<Healthcheck>,
    pub restart: RestartPolicy,
    /// Networks joined (declared ones, or `default`); empty with a `network_mode`.
    pub networks: Vec<ServiceNetwork>,
    pub network_mode: Option<NetworkMode>,
    pub depends_on: Vec<Dependency>,
    pub user: Option<String>,
    pub read_only: bool,
    /// Upper case, without `CAP_`, sorted.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub limits: Limits,
    /// Secrets mounted as files.
    pub secrets: Vec<SecretMount>,
    /// `x-fleetdeck-secret-env`: (environment variable, secret name), sorted.
    pub secret_env: Vec<(String, String)>,
    /// `x-fleetdeck-probe`: an HTTP check for the health gate.
    pub probe: Option<HttpProbe>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MountSource {
    /// An absolute path on the host.
    Bind(String),
    /// A top-level named volume.
    Volume(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeMount {
    pub source: MountSource,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortSpec {
    /// The host address to bind (all addresses when `None`).
    pub host_ip: Option<String>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum HealthTest {
    /// `["CMD", args...]`
    Cmd(Vec<String>),
    /// `["CMD-SHELL", "…"]` or a string.
    Shell(String),
    /// `["NONE"]` or `disable: true`: the image's check is turned off.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    /// `None`: the image's test, with these timings.
    pub test: Option<HealthTest>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    /// `on-failure[:N]`
    OnFailure(Option<u32>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceNetwork {
    /// The stack's name for it (a key of top-level `networks`, or `default`).
    pub name: String,
    /// Extra DNS names on that network; the service's name is always one.
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NetworkMode {
    None,
    Host,
    Bridge,
}

impl NetworkMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
            NetworkMode::Bridge => "bridge",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DependsCondition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub service: String,
    pub condition: DependsCondition,
}

/// `deploy.resources.limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Limits {
    pub nano_cpus: Option<i64>,
    /// Bytes.
    pub memory: Option<i64>,
}

/// A secret mounted into the container as a read-only file. The caller writes the
/// value to a file on the host with `uid`, `gid` and `mode` and passes it to
/// [`Service::create_body`] as a `secret_binds` entry for `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretMount {
    pub source: String,
    /// Absolute; default `/run/secrets/SOURCE`.
    pub target: String,
    pub uid: Option<String>,
    pub gid: Option<String>,
    /// Default 0400.
    pub mode: u32,
}

/// `x-fleetdeck-probe`: the health gate's HTTP check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpProbe {
    pub url: String,
    /// Expected status, default 200.
    pub status: u16,
    /// A substring the body must contain.
    pub body: Option<String>,
    pub timeout: Duration,
}

/// `STACKS_DIR/APP.yml` or `STACKS_DIR/APP.yaml`: an error if neither exists, if both
/// do, or if `app` is not a valid app name (which also keeps it inside `stacks_dir`).
pub fn stack_file(stacks_dir: &Path, app: &str) -> Result<PathBuf, StackError> {
    if !app_name(app) {
        return Err(StackError::whole(
            stacks_dir,
            format!(
                "{app:?} is not an app name: lowercase letters, digits, `_` and `-`, starting \
                 with a letter or digit"
            ),
        ));
    }
    let yml = stacks_dir.join(format!("{app}.yml"));
    let yaml = stacks_dir.join(format!("{app}.yaml"));
    match (yml.is_file(), yaml.is_file()) {
        (true, false) => Ok(yml),
        (false, true) => Ok(yaml),
        (true, true) => Err(StackError::whole(
            &yml,
            format!("both {app}.yml and {app}.yaml exist; keep one"),
        )),
        (false, false) => Err(StackError::whole(
            stacks_dir,
            format!("no stack for app {app:?}: expected {app}.yml or {app}.yaml here"),
        )),
    }
}

/// Compose's project-name rule; app names become part of Docker object names.
pub fn app_name(app: &str) -> bool {
    app.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && app
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && app.len() <= 63
}

/// Reads the stack at `path` for `app` on `host`: templates its strings with `vars`
/// (the host's inventory variables, `inventory_hostname` and extra variables), checks
/// every key, and orders services so dependencies come first. All problems are
/// returned together, each with file, line and column.
pub fn load(
    path: &Path,
    app: &str,
    host: &str,
    vars: &serde_json::Map<String, serde_json::Value>,
    policy: &StackPolicy,
) -> Result<Stack, StackErrors> {
    let bytes = std::fs::read(path).map_err(|e| {
        StackErrors(vec![StackError::whole(
            path,
            format!("cannot read the stack: {e}"),
        )])
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| StackErrors(vec![StackError::whole(path, "the stack is not UTF-8 text")]))?;
    parse_str(&text, path, app, host, vars, policy)
}

/// [`load`] for text already read; `path` is used in messages and kept in the stack.
pub fn parse_str(
    text: &str,
    path: &Path,
    app: &str,
    host: &str,
    vars: &serde_json::Map<String, serde_json::Value>,
    policy: &StackPolicy,
) -> Result<Stack, StackErrors> {
    if !app_name(app) {
        return Err(StackErrors(vec![StackError::whole(
            path,
            format!("{app:?} is not an app name"),
        )]));
    }
    parse::parse(text, path, app, host, vars, policy).map_err(|problems| {
        let mut errors: Vec<StackError> = problems
            .into_iter()
            .map(|(mark, message)| StackError::at(path, mark, message))
            .collect();
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        StackErrors(errors)
    })
}

impl Stack {
    /// The Docker name of the stack's network `net` on the host: `{prefix}{app}_{net}`,
    /// or an external network's own name.
    pub fn network_name(&self, prefix: &str, net: &str) -> String {
        match self.networks.iter().find(|n| n.name == net) {
            Some(NetworkSpec {
                external: Some(name),
                ..
            }) => name.clone(),
            _ => format!("{prefix}{}_{net}", self.app),
        }
    }

    /// The Docker name of the stack's volume `vol` on the host: `{prefix}{app}_{vol}`,
    /// or an external volume's own name.
    pub fn volume_name(&self, prefix: &str, vol: &str) -> String {
        match self.volumes.iter().find(|v| v.name == vol) {
            Some(VolumeSpec {
                external: Some(name),
                ..
            }) => name.clone(),
            _ => format!("{prefix}{}_{vol}", self.app),
        }
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn network(&self, name: &str) -> Option<&NetworkSpec> {
        self.networks.iter().find(|n| n.name == name)
    }

    pub fn volume(&self, name: &str) -> Option<&VolumeSpec> {
        self.volumes.iter().find(|v| v.name == name)
    }

    /// The secret-file key of the stack's secret `name`.
    pub fn secret_key(&self, name: &str) -> Option<&str> {
        self.secrets
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.key.as_str())
    }
}

impl Service {
    /// The names of the stack secrets this service uses (mounted or as environment),
    /// sorted and without repeats.
    pub fn secret_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .secrets
            .iter()
            .map(|s| s.source.as_str())
            .chain(self.secret_env.iter().map(|(_, s)| s.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}
