//! Container posture: what a container's configuration allows, read from its inspect
//! data (`HostConfig` and `Config`, never its runtime state), so a container created
//! and never started is audited like a running one.
//!
//! The environment is read by NAME only: the part after `=` is never looked at, so a
//! value cannot end up in a finding, a log line or a screen.

use bollard::models::{
    ContainerInspectResponse, HostConfig, MountType, PortBinding, RestartPolicyNameEnum,
};
use serde::Serialize;

use super::Finding;
use crate::probes::{Severity, firewall};
use crate::sanitize;

/// Every container check's id, as findings, `fleetdeck_posture.accept` and docs/posture.md
/// name them.
pub const CONTAINER_CHECKS: &[&str] = &[
    PRIVILEGED,
    DOCKER_SOCKET,
    HOST_PATH,
    CAPABILITY,
    NO_MEMORY_LIMIT,
    ROOT_USER,
    SECRET_ENV,
    UNPINNED_IMAGE,
    PUBLISHED_ALL_ADDRESSES,
    NO_HEALTHCHECK,
    NO_RESTART_POLICY,
    NO_LOG_ROTATION,
];

pub const PRIVILEGED: &str = "privileged";
pub const DOCKER_SOCKET: &str = "docker_socket";
pub const HOST_PATH: &str = "host_path";
pub const CAPABILITY: &str = "capability";
pub const NO_MEMORY_LIMIT: &str = "no_memory_limit";
pub const ROOT_USER: &str = "root_user";
pub const SECRET_ENV: &str = "secret_env";
pub const UNPINNED_IMAGE: &str = "unpinned_image";
pub const PUBLISHED_ALL_ADDRESSES: &str = "published_all_addresses";
pub const NO_HEALTHCHECK: &str = "no_healthcheck";
pub const NO_RESTART_POLICY: &str = "no_restart_policy";
pub const NO_LOG_ROTATION: &str = "no_log_rotation";

/// Host paths whose bind mount hands the container the host: `/` is critical, these
/// are warnings. Only the directories themselves: `/etc/localtime` and the like are
/// ordinary.
const SENSITIVE_HOST_PATHS: &[&str] = &["/etc", "/root", "/var/run", "/run"];

/// Capabilities that amount to the host (critical).
const HOST_CAPABILITIES: &[&str] = &["SYS_ADMIN", "ALL", "SYS_MODULE"];
/// Capabilities outside Docker's default set that reach past the container: reading
/// any file, other processes' memory, raw devices, the network stack, kernel
/// programs, the clock (warning).
const DANGEROUS_CAPABILITIES: &[&str] = &[
    "SYS_RAWIO",
    "SYS_PTRACE",
    "DAC_READ_SEARCH",
    "NET_ADMIN",
    "BPF",
    "PERFMON",
    "SYS_BOOT",
    "SYS_TIME",
    "SYS_RESOURCE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "SYSLOG",
    "AUDIT_CONTROL",
    "LINUX_IMMUTABLE",
];

/// Parts of a variable's name that say its value is a secret (matched anywhere in the
/// upper-cased name, `-` and `.` read as `_`).
const SECRET_NAME_PARTS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
];
/// Whole words of a name that do (`DB_PASS`); as a part they would match `PASSAGE`.
const SECRET_NAME_WORDS: &[&str] = &["PASS", "PWD"];
/// Exactly these names are not secrets although a word matches: the shell's working
/// directory.
const PUBLIC_NAMES: &[&str] = &["PWD", "OLDPWD"];
/// A last word saying the variable holds where a secret is (`POSTGRES_PASSWORD_FILE`,
/// the way to pass one that keeps it out of the environment), not the secret.
const LOCATION_WORDS: &[&str] = &["FILE", "PATH", "DIR"];

/// The most of one host-controlled string (a path, a variable name) a reason quotes.
const MAX_QUOTED_CHARS: usize = 120;

/// How an image reference pins what runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pinning {
    /// `name@sha256:…`: exactly one image.
    Digest,
    /// `name:tag` with a tag other than `latest`: pinned as long as nobody re-pushes.
    Tag,
    /// No tag or `latest`: whatever was pulled last.
    None,
}

/// `repo@sha256:…` is a digest; the tag is what follows the last `:` after the last
/// `/` (a registry port is not a tag).
pub fn pinning(reference: &str) -> Pinning {
    if reference.contains("@sha256:") {
        return Pinning::Digest;
    }
    let last_segment = reference.rsplit('/').next().unwrap_or(reference);
    match last_segment.split_once(':') {
        Some((_, tag)) if !tag.is_empty() && tag != "latest" => Pinning::Tag,
        _ => Pinning::None,
    }
}

/// The findings for one container's configuration, in the order of
/// [`CONTAINER_CHECKS`]. `secret_env_marked`: the variable names its stack marks
/// secret (`x-fleetdeck-secret-env`, from the `fleetdeck.secret-env` label).
pub fn audit(details: &ContainerInspectResponse, secret_env_marked: &[String]) -> Vec<Finding> {
    let name = details
        .name
        .as_deref()
        .unwrap_or("")
        .trim_start_matches('/');
    let name = quoted(name);
    let host = details.host_config.clone().unwrap_or_default();
    let config = details.config.clone().unwrap_or_default();
    let mut out = Vec::new();
    let mut found = |check: &str, severity: Severity, reason: String, fix: &str| {
        out.push(Finding::new(check, Some(&name), severity, reason, fix));
    };

    if host.privileged == Some(true) {
        found(
            PRIVILEGED,
            Severity::Critical,
            "runs privileged: every device and capability of the host".to_owned(),
            "drop --privileged / `privileged: true`; add only the capabilities or devices it needs",
        );
    }

    let mounts = bind_mounts(&host);
    for (source, target) in &mounts {
        if is_docker_socket(source) || is_docker_socket(target) {
            found(
                DOCKER_SOCKET,
                Severity::Critical,
                format!(
                    "mounts the Docker socket {} at {}: control of the engine is root on the host",
                    quoted(source),
                    quoted(target)
                ),
                "remove the mount, or give it a socket proxy that allows only the API calls it needs",
            );
        }
    }
    for (source, target) in &mounts {
        let Some(path) = host_path(source) else {
            continue;
        };
        let severity = if path == "/" {
            Severity::Critical
        } else if SENSITIVE_HOST_PATHS.contains(&path.as_str()) {
            Severity::Warning
        } else {
            continue;
        };
        found(
            HOST_PATH,
            severity,
            format!("mounts the host's {} at {}", quoted(&path), quoted(target)),
            "mount only the files it needs (read-only where it can), or a volume",
        );
    }

    for capability in host.cap_add.iter().flatten() {
        let bare = capability
            .trim()
            .to_ascii_uppercase()
            .trim_start_matches("CAP_")
            .to_owned();
        let severity = if HOST_CAPABILITIES.contains(&bare.as_str()) {
            Severity::Critical
        } else if DANGEROUS_CAPABILITIES.contains(&bare.as_str()) {
            Severity::Warning
        } else {
            continue;
        };
        found(
            CAPABILITY,
            severity,
            format!("adds the capability {}", quoted(&bare)),
            "remove it from cap_add, or replace it with the narrower capability it needs",
        );
    }

    if host.memory.unwrap_or(0) <= 0 {
        found(
            NO_MEMORY_LIMIT,
            Severity::Warning,
            "has no memory limit: it can take all of the host's memory".to_owned(),
            "set a limit (--memory, `mem_limit` or deploy.resources.limits.memory)",
        );
    }

    if let Some(user) = root_user(config.user.as_deref().unwrap_or("")) {
        found(
            ROOT_USER,
            Severity::Warning,
            format!("runs as root ({user})"),
            "run as an unprivileged user (--user, `user:` or USER in the image)",
        );
    }

    let mut seen_env: Vec<&str> = Vec::new();
    for entry in config.env.iter().flatten() {
        // Only the name: the value is never read.
        let variable = entry.split('=').next().unwrap_or("");
        if variable.is_empty() || seen_env.contains(&variable) {
            continue;
        }
        seen_env.push(variable);
        let marked = secret_env_marked.iter().any(|m| m == variable);
        if !marked && !looks_secret(variable) {
            continue;
        }
        let why = if marked {
            "marked secret by its stack"
        } else {
            "named like a secret"
        };
        found(
            SECRET_ENV,
            Severity::Warning,
            format!(
                "has {} in its environment ({why}): anyone who can inspect it reads it",
                quoted(variable)
            ),
            "pass it as a file (compose `secrets:` and a `*_FILE` variable) instead",
        );
    }

    let image = config
        .image
        .as_deref()
        .or(details.image.as_deref())
        .unwrap_or("");
    if pinning(image) == Pinning::None {
        found(
            UNPINNED_IMAGE,
            Severity::Warning,
            format!(
                "runs {} with no tag or `latest`: the next pull changes what runs",
                quoted(image)
            ),
            "pin a version tag or a digest (image@sha256:…)",
        );
    }

    for published in published_ports(details) {
        if !published.on_all_addresses() {
            continue;
        }
        found(
            PUBLISHED_ALL_ADDRESSES,
            Severity::Warning,
            format!(
                "publishes {} on all addresses as {}; Docker's own rules bypass the host firewall",
                published.container_label(),
                published.host_label()
            ),
            "bind it to one address (-p 127.0.0.1:PORT:PORT), or put a reverse proxy in front",
        );
    }

    let healthcheck = config
        .healthcheck
        .as_ref()
        .and_then(|h| h.test.as_ref())
        .filter(|test| test.first().is_some_and(|kind| kind != "NONE"));
    if healthcheck.is_none() {
        found(
            NO_HEALTHCHECK,
            Severity::Warning,
            "has no health check: a hung process looks running".to_owned(),
            "add a health check (--health-cmd, `healthcheck:` or HEALTHCHECK in the image)",
        );
    }

    let restart = host.restart_policy.as_ref().and_then(|p| p.name);
    if matches!(
        restart,
        None | Some(RestartPolicyNameEnum::NO | RestartPolicyNameEnum::EMPTY)
    ) {
        found(
            NO_RESTART_POLICY,
            Severity::Warning,
            "has no restart policy: after a crash or a reboot it stays down".to_owned(),
            "set a restart policy (--restart unless-stopped, `restart:`)",
        );
    }

    let log = host.log_config.clone().unwrap_or_default();
    let rotates = log
        .config
        .as_ref()
        .is_some_and(|c| c.get("max-size").is_some_and(|s| !s.trim().is_empty()));
    if log.typ.as_deref() == Some("json-file") && !rotates {
        found(
            NO_LOG_ROTATION,
            Severity::Warning,
            "logs with json-file and no max-size: its log grows until the disk is full".to_owned(),
            "set --log-opt max-size (and max-file), per container or in daemon.json's log-opts",
        );
    }
    out
}

/// One port binding from a container's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// The address on the host, as configured (`""` means all).
    pub host_ip: String,
    /// First and last host port; `None` when Docker picks one when the container
    /// starts.
    pub host_ports: Option<(u16, u16)>,
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub proto: String,
}

impl Binding {
    /// Whether it listens on every address of the host (IPv4 or IPv6).
    pub fn on_all_addresses(&self) -> bool {
        firewall::is_all_addresses(&self.host_ip)
    }

    /// As the firewall comparison takes it; `None` for sctp, which a declared policy
    /// cannot name.
    pub fn firewall_port(&self) -> Option<firewall::PublishedPort> {
        let proto = match self.proto.as_str() {
            "tcp" => firewall::Protocol::Tcp,
            "udp" => firewall::Protocol::Udp,
            _ => return None,
        };
        Some(firewall::PublishedPort {
            host_ip: self.host_ip.clone(),
            host_port: self.host_ports.map(|(start, _)| start),
            host_port_end: self
                .host_ports
                .and_then(|(start, end)| (end != start).then_some(end)),
            container_port: self.container_port,
            proto,
        })
    }

    fn container_label(&self) -> String {
        format!("{}/{}", self.container_port, self.proto)
    }

    fn host_label(&self) -> String {
        match self.host_ports {
            Some((start, end)) if start == end => format!("host port {start}"),
            Some((start, end)) => format!("host ports {start}-{end}"),
            None => "a host port Docker picks".to_owned(),
        }
    }
}

/// The ports a container's configuration publishes: `HostConfig.PortBindings`, and
/// with `--publish-all` every exposed port without a binding of its own (on all
/// addresses, at a port Docker picks). Ordered by container port.
pub fn published_ports(details: &ContainerInspectResponse) -> Vec<Binding> {
    let host = details.host_config.as_ref();
    let mut out = Vec::new();
    let bindings = host.and_then(|h| h.port_bindings.as_ref());
    for (key, list) in bindings.into_iter().flatten() {
        let Some((container_port, proto)) = port_key(key) else {
            continue;
        };
        for binding in list.iter().flatten() {
            out.push(binding_of(binding, container_port, &proto));
        }
    }
    if host.and_then(|h| h.publish_all_ports) == Some(true) {
        let exposed = details
            .config
            .as_ref()
            .and_then(|c| c.exposed_ports.as_ref());
        for key in exposed.into_iter().flatten() {
            let Some((container_port, proto)) = port_key(key) else {
                continue;
            };
            if bindings.is_some_and(|b| b.contains_key(key)) {
                continue;
            }
            out.push(Binding {
                host_ip: String::new(),
                host_ports: None,
                container_port,
                proto,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.container_port, &a.proto, &a.host_ip, a.host_ports).cmp(&(
            b.container_port,
            &b.proto,
            &b.host_ip,
            b.host_ports,
        ))
    });
    out.dedup();
    out
}

fn binding_of(binding: &PortBinding, container_port: u16, proto: &str) -> Binding {
    let host_port = binding.host_port.as_deref().unwrap_or("").trim();
    let host_ports = match host_port.split_once('-') {
        Some((start, end)) => start.parse().ok().zip(end.parse().ok()),
        None => host_port.parse().ok().map(|p| (p, p)),
    }
    .filter(|&(start, end): &(u16, u16)| start > 0 && start <= end);
    Binding {
        host_ip: quoted(binding.host_ip.as_deref().unwrap_or("")),
        host_ports,
        container_port,
        proto: proto.to_owned(),
    }
}

/// `6379/tcp` → (6379, "tcp"); a key without a protocol is tcp, as Docker reads it.
fn port_key(key: &str) -> Option<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return None;
    }
    Some((port.trim().parse().ok()?, proto))
}

/// (source, target) of every bind mount: `HostConfig.Binds` (`-v SRC:DST[:opts]`) and
/// `HostConfig.Mounts` of type bind (`--mount type=bind`). Named volumes are left out
/// (their source is not a host path); a bind of the socket is kept whatever its type.
fn bind_mounts(host: &HostConfig) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for bind in host.binds.iter().flatten() {
        let Some((source, rest)) = bind.split_once(':') else {
            continue;
        };
        let target = rest.split(':').next().unwrap_or(rest);
        out.push((source.to_owned(), target.to_owned()));
    }
    for mount in host.mounts.iter().flatten() {
        if mount.typ != Some(MountType::BIND) {
            continue;
        }
        out.push((
            mount.source.clone().unwrap_or_default(),
            mount.target.clone().unwrap_or_default(),
        ));
    }
    out.dedup();
    out
}

fn is_docker_socket(path: &str) -> bool {
    path.trim_end_matches('/').ends_with("/docker.sock") || path == "docker.sock"
}

/// The host path of a bind source, made canonical (`//etc/` → `/etc`, `/a/../b` →
/// `/b`); `None` for a named volume.
fn host_path(source: &str) -> Option<String> {
    if !source.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// The user's words when the container runs as root: no user (the image's default
/// is root), `root`, or uid 0, with or without a group.
fn root_user(user: &str) -> Option<String> {
    let user = user.trim();
    let name = user.split(':').next().unwrap_or(user);
    match name {
        "" => Some("no user set".to_owned()),
        "root" | "0" => Some(format!("user {}", quoted(user))),
        _ => None,
    }
}

/// Whether a variable's name says it holds a secret. Errs towards quiet: a finding
/// nobody can act on teaches people to ignore findings.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if PUBLIC_NAMES.contains(&upper.as_str()) {
        return false;
    }
    let words: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.last().is_some_and(|w| LOCATION_WORDS.contains(w)) {
        return false;
    }
    let joined = words.join("_");
    SECRET_NAME_PARTS.iter().any(|part| joined.contains(part))
        || words.iter().any(|w| SECRET_NAME_WORDS.contains(w))
}

/// A host-controlled string as a reason may quote it: one clean line, bounded.
fn quoted(text: &str) -> String {
    sanitize::head(sanitize::line(text), MAX_QUOTED_CHARS)
}

#[cfg(test)]
mod tests;
