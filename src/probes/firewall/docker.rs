//! Ports Docker publishes, as firewall drift. Docker puts its own chains (`DOCKER`,
//! `DOCKER-USER`, DNAT in `nat`) in front of the host's filter rules, so a port
//! published on all addresses is reachable from anywhere whatever ufw or the filter
//! table says: where the declared policy does not allow it from anywhere, the host is
//! more open than declared.

use serde::Serialize;

use super::rules::is_anywhere;
use super::{DeclaredPolicy, Drift, DriftKind, Protocol, Severity, port_label};

/// One port binding of a container's configuration (`HostConfig.PortBindings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedPort {
    /// The host address it is bound to, as configured; empty, `0.0.0.0` and `::` mean
    /// every address.
    pub host_ip: String,
    /// The host port; absent when Docker picks one as the container starts.
    pub host_port: Option<u16>,
    /// The last host port of a range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port_end: Option<u16>,
    pub container_port: u16,
    pub proto: Protocol,
}

impl PublishedPort {
    /// Whether it listens on every address of the host (IPv4 or IPv6).
    pub fn on_all_addresses(&self) -> bool {
        is_all_addresses(&self.host_ip)
    }
}

/// Whether a published port's host address means every address: Docker reads an
/// empty one as all, IPv4 and IPv6.
pub fn is_all_addresses(host_ip: &str) -> bool {
    matches!(
        host_ip.trim(),
        "" | "0.0.0.0" | "::" | "[::]" | "0:0:0:0:0:0:0:0"
    )
}

/// Drift for every port published on all addresses (`published`: container name and
/// binding) that `declared` does not allow from anywhere. Ports bound to one address
/// are not drift: the address decides who reaches them, not Docker's chains. One
/// drift per container and host port (an IPv4 and an IPv6 binding of the same port
/// are one).
pub fn docker_published_drift(
    declared: &DeclaredPolicy,
    published: &[(String, PublishedPort)],
) -> Vec<Drift> {
    let mut seen: Vec<(&str, &PublishedPort)> = Vec::new();
    let mut out = Vec::new();
    for (container, port) in published {
        if !port.on_all_addresses() {
            continue;
        }
        // The same port bound on 0.0.0.0 and on :: is one exposure.
        let same = |(c, p): &(&str, &PublishedPort)| {
            *c == container.as_str()
                && (p.host_port, p.host_port_end, p.container_port, p.proto)
                    == (
                        port.host_port,
                        port.host_port_end,
                        port.container_port,
                        port.proto,
                    )
        };
        if seen.iter().any(same) {
            continue;
        }
        seen.push((container.as_str(), port));
        let bypass = format!(
            "published by Docker for `{container}` on all addresses; Docker's own chains \
             bypass the host firewall"
        );
        let Some(start) = port.host_port else {
            out.push(Drift {
                kind: DriftKind::DockerPublished,
                severity: Severity::Critical,
                message: format!(
                    "a port Docker picks (for container port {}) is {bypass}; the declared \
                     policy cannot allow a port not known in advance",
                    port_label(port.container_port, port.container_port, port.proto)
                ),
                port: None,
                port_end: None,
                proto: Some(port.proto),
            });
            continue;
        };
        let end = port.host_port_end.unwrap_or(start).max(start);
        let not_open_to_all: Vec<u16> = (start..=end)
            .filter(|&p| !allowed_from_anywhere(declared, p, port.proto))
            .collect();
        if not_open_to_all.is_empty() {
            continue;
        }
        let sources = declared_sources(declared, &not_open_to_all, port.proto);
        let verdict = if sources.is_empty() {
            "the declared policy does not allow it".to_owned()
        } else {
            format!(
                "the declared policy allows it only from {}",
                sources.join(", ")
            )
        };
        out.push(Drift {
            kind: DriftKind::DockerPublished,
            severity: Severity::Critical,
            message: format!(
                "{} is {bypass}; {verdict}",
                port_label(start, end, port.proto)
            ),
            port: Some(start),
            port_end: (end != start).then_some(end),
            proto: Some(port.proto),
        });
    }
    out
}

fn allowed_from_anywhere(declared: &DeclaredPolicy, port: u16, proto: Protocol) -> bool {
    declared.allow.iter().any(|rule| {
        rule.port == port
            && rule.proto == proto
            && (rule.from.is_empty() || rule.from.iter().any(|f| is_anywhere(f)))
    })
}

/// The sources `declared` lets in on any of `ports`, each once.
fn declared_sources(declared: &DeclaredPolicy, ports: &[u16], proto: Protocol) -> Vec<String> {
    let mut sources: Vec<String> = Vec::new();
    for rule in &declared.allow {
        if rule.proto != proto || !ports.contains(&rule.port) {
            continue;
        }
        for source in &rule.from {
            if !sources.contains(source) {
                sources.push(source.clone());
            }
        }
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::super::{AllowRule, FirewallBackend, Verdict};
    use super::*;

    fn policy(allow: Vec<AllowRule>) -> DeclaredPolicy {
        DeclaredPolicy {
            backend: FirewallBackend::Auto,
            input_policy: Verdict::Drop,
            allow,
        }
    }

    fn allow(port: u16, from: &[&str]) -> AllowRule {
        AllowRule {
            port,
            proto: Protocol::Tcp,
            from: from.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn published(container: &str, host_ip: &str, host_port: u16) -> (String, PublishedPort) {
        (
            container.to_owned(),
            PublishedPort {
                host_ip: host_ip.to_owned(),
                host_port: Some(host_port),
                host_port_end: None,
                container_port: 6379,
                proto: Protocol::Tcp,
            },
        )
    }

    #[test]
    fn a_port_on_all_addresses_not_declared_is_critical_drift() {
        let drift = docker_published_drift(
            &policy(vec![allow(22, &[]), allow(443, &[])]),
            &[published("rogue", "0.0.0.0", 6380)],
        );
        assert_eq!(drift.len(), 1, "{drift:?}");
        assert_eq!(drift[0].kind, DriftKind::DockerPublished);
        assert_eq!(drift[0].severity, Severity::Critical);
        assert_eq!(
            (drift[0].port, drift[0].port_end, drift[0].proto),
            (Some(6380), None, Some(Protocol::Tcp))
        );
        assert_eq!(
            drift[0].message,
            "6380/tcp is published by Docker for `rogue` on all addresses; Docker's own \
             chains bypass the host firewall; the declared policy does not allow it"
        );
    }

    #[test]
    fn every_spelling_of_all_addresses_counts_and_one_address_does_not() {
        let declared = policy(vec![allow(22, &[])]);
        for all in ["", "0.0.0.0", "::", "[::]"] {
            let drift = docker_published_drift(&declared, &[published("db", all, 5432)]);
            assert_eq!(drift.len(), 1, "{all:?}");
        }
        for one in ["127.0.0.1", "::1", "10.0.0.5"] {
            let drift = docker_published_drift(&declared, &[published("db", one, 5432)]);
            assert_eq!(drift, Vec::new(), "{one:?}");
        }
    }

    #[test]
    fn a_port_allowed_from_anywhere_is_no_drift_but_one_allowed_from_a_network_is() {
        let declared = policy(vec![
            allow(443, &[]),
            allow(8443, &["0.0.0.0/0"]),
            allow(5432, &["10.0.0.0/24", "192.0.2.7"]),
        ]);
        let drift = docker_published_drift(
            &declared,
            &[
                published("web", "", 443),
                published("admin", "", 8443),
                published("db", "0.0.0.0", 5432),
            ],
        );
        assert_eq!(drift.len(), 1, "{drift:?}");
        assert_eq!(drift[0].port, Some(5432));
        assert!(
            drift[0]
                .message
                .ends_with("the declared policy allows it only from 10.0.0.0/24, 192.0.2.7"),
            "{}",
            drift[0].message
        );
        // The protocol must match too.
        let udp = (
            "dns".to_owned(),
            PublishedPort {
                proto: Protocol::Udp,
                ..published("dns", "", 443).1
            },
        );
        assert_eq!(docker_published_drift(&declared, &[udp]).len(), 1);
    }

    #[test]
    fn ipv4_and_ipv6_bindings_of_one_port_are_one_drift_and_ranges_are_checked_whole() {
        let declared = policy(vec![allow(8000, &[]), allow(8001, &[])]);
        let drift = docker_published_drift(
            &declared,
            &[
                published("rogue", "0.0.0.0", 6380),
                published("rogue", "::", 6380),
            ],
        );
        assert_eq!(drift.len(), 1, "{drift:?}");

        let range = |end| {
            (
                "range".to_owned(),
                PublishedPort {
                    host_port_end: Some(end),
                    ..published("range", "", 8000).1
                },
            )
        };
        assert_eq!(
            docker_published_drift(&declared, &[range(8001)]),
            Vec::new()
        );
        let drift = docker_published_drift(&declared, &[range(8002)]);
        assert_eq!((drift[0].port, drift[0].port_end), (Some(8000), Some(8002)));
        assert!(drift[0].message.starts_with("8000-8002/tcp is published"));
    }

    #[test]
    fn a_port_docker_picks_on_all_addresses_cannot_be_declared() {
        let port = PublishedPort {
            host_port: None,
            ..published("any", "", 0).1
        };
        let drift = docker_published_drift(&policy(vec![]), &[("any".to_owned(), port)]);
        assert_eq!(drift.len(), 1);
        assert_eq!(drift[0].port, None);
        assert!(
            drift[0]
                .message
                .starts_with("a port Docker picks (for container port 6379/tcp) is published"),
            "{}",
            drift[0].message
        );
    }
}
