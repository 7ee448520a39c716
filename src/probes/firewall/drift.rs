//! Drift: the differences between the declared policy and the observed one, each
//! with its kind and severity, and the network arithmetic (`network_contains`) they
//! need.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::rules::is_anywhere;
use super::{
    DeclaredPolicy, Drift, DriftKind, FirewallBackend, ObservedBackend, ObservedPolicy, OpenPort,
    Protocol, Severity, Verdict, port_label, verdict_word,
};

/// The differences between what is declared and what is observed, most severe first.
/// See `DriftKind` for what each kind means and weighs.
pub fn drift(declared: &DeclaredPolicy, observed: &ObservedPolicy) -> Vec<Drift> {
    let mut out = Vec::new();
    let d = |kind, severity, message: String| Drift {
        kind,
        severity,
        message,
        port: None,
        port_end: None,
        proto: None,
    };

    let backend_matches = matches!(
        (declared.backend, observed.backend),
        (FirewallBackend::Auto, _)
            | (FirewallBackend::Nftables, ObservedBackend::Nftables)
            | (FirewallBackend::Ufw, ObservedBackend::Ufw)
            | (FirewallBackend::Iptables, ObservedBackend::Iptables)
    );
    if !backend_matches {
        out.push(d(
            DriftKind::BackendMismatch,
            Severity::Warning,
            format!(
                "declared backend {}, found {}",
                backend_word(declared.backend),
                observed_word(observed.backend)
            ),
        ));
    }

    let everything_open = observed.input_policy == Verdict::Accept;
    match (declared.input_policy, observed.input_policy) {
        (a, b) if a == b => {}
        (_, Verdict::Accept) => out.push(d(
            DriftKind::DefaultPolicy,
            Severity::Critical,
            format!(
                "incoming traffic is accepted by default ({}); declared {}",
                observed_word(observed.backend),
                verdict_word(declared.input_policy)
            ),
        )),
        (a, b) => out.push(d(
            DriftKind::DefaultPolicy,
            Severity::Warning,
            format!(
                "incoming traffic is {} by default; declared {}",
                verdict_past(b),
                verdict_word(a)
            ),
        )),
    }

    // Declared sources per (proto, port); `None` = from anywhere.
    let mut allowed: BTreeMap<(Protocol, u16), Option<Vec<String>>> = BTreeMap::new();
    for rule in &declared.allow {
        let entry = allowed
            .entry((rule.proto, rule.port))
            .or_insert_with(|| Some(Vec::new()));
        match (entry.as_mut(), rule.from.is_empty()) {
            (_, true) => *entry = None,
            (Some(list), false) => list.extend(rule.from.iter().cloned()),
            (None, false) => {}
        }
    }

    // What is open that should not be, or wider than declared.
    for open in &observed.open {
        let (start, end) = (open.port, open.end());
        let with_port = |mut drift: Drift| {
            drift.port = Some(start);
            drift.port_end = (end != start).then_some(end);
            drift.proto = Some(open.proto);
            drift
        };
        let from = describe_sources(&open.sources);
        let on = open
            .interface
            .as_ref()
            .map(|i| format!(" on interface {i}"))
            .unwrap_or_default();
        // Open on one interface only exposes less: a warning.
        let exposure = if open.interface.is_some() {
            Severity::Warning
        } else {
            Severity::Critical
        };
        let declared_here: Vec<u16> = allowed
            .keys()
            .filter(|(p, port)| *p == open.proto && (start..=end).contains(port))
            .map(|&(_, port)| port)
            .collect();
        if start != end && declared_here.len() != usize::from(end - start) + 1 {
            out.push(with_port(d(
                DriftKind::ExtraPort,
                exposure,
                format!(
                    "{} is open {from}{on}{}",
                    open.ports_label(),
                    if declared_here.is_empty() {
                        ", none of it declared".to_owned()
                    } else {
                        format!(
                            ", declared only {}",
                            declared_here
                                .iter()
                                .map(u16::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ),
            )));
            continue;
        }
        for port in start..=end {
            let label = port_label(port, port, open.proto);
            let single = |mut drift: Drift| {
                drift.port = Some(port);
                drift.proto = Some(open.proto);
                drift
            };
            match allowed.get(&(open.proto, port)) {
                None => out.push(single(d(
                    DriftKind::ExtraPort,
                    exposure,
                    format!("{label} is open {from}{on} but not declared"),
                ))),
                Some(None) => {}
                Some(Some(declared_from)) => {
                    let wider: Vec<&String> = if open.sources.is_empty() {
                        Vec::new()
                    } else {
                        open.sources
                            .iter()
                            .filter(|s| !declared_from.iter().any(|d| network_contains(d, s)))
                            .collect()
                    };
                    if open.sources.is_empty() || !wider.is_empty() {
                        let what = if open.sources.is_empty() {
                            "from anywhere".to_owned()
                        } else {
                            format!(
                                "from {}",
                                wider
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        };
                        out.push(single(d(
                            DriftKind::WiderSource,
                            exposure,
                            format!(
                                "{label} is open {what}{on}; declared only from {}",
                                declared_from.join(", ")
                            ),
                        )));
                    }
                }
            }
        }
    }

    // What is declared but not open (or not to everyone declared).
    if !everything_open {
        for (&(proto, port), declared_from) in &allowed {
            let label = port_label(port, port, proto);
            let covering: Vec<&OpenPort> = observed
                .open
                .iter()
                .filter(|o| o.proto == proto && o.port <= port && port <= o.end())
                .collect();
            let single = |mut drift: Drift| {
                drift.port = Some(port);
                drift.proto = Some(proto);
                drift
            };
            if covering.is_empty() {
                out.push(single(d(
                    DriftKind::MissingRule,
                    Severity::Warning,
                    format!(
                        "{label} is declared open {} but is not",
                        match declared_from {
                            None => "from anywhere".to_owned(),
                            Some(f) => format!("from {}", f.join(", ")),
                        }
                    ),
                )));
                continue;
            }
            if covering.iter().any(|o| o.sources.is_empty()) {
                continue;
            }
            let observed_from: Vec<&String> =
                covering.iter().flat_map(|o| o.sources.iter()).collect();
            let missing: Vec<String> = match declared_from {
                None => vec!["anywhere".to_owned()],
                Some(list) => list
                    .iter()
                    .filter(|d| !observed_from.iter().any(|o| network_contains(o, d)))
                    .cloned()
                    .collect(),
            };
            if !missing.is_empty() {
                out.push(single(d(
                    DriftKind::NarrowerSource,
                    Severity::Warning,
                    format!(
                        "{label} is open only from {}; declared from {} too",
                        observed_from
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        missing.join(", ")
                    ),
                )));
            }
        }
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.severity));
    out
}

fn describe_sources(sources: &[String]) -> String {
    if sources.is_empty() {
        "from anywhere".to_owned()
    } else {
        format!("from {}", sources.join(", "))
    }
}

fn verdict_past(v: Verdict) -> &'static str {
    match v {
        Verdict::Accept => "accepted",
        Verdict::Drop => "dropped",
        Verdict::Reject => "rejected",
    }
}

fn backend_word(b: FirewallBackend) -> &'static str {
    match b {
        FirewallBackend::Auto => "auto",
        FirewallBackend::Nftables => "nftables",
        FirewallBackend::Ufw => "ufw",
        FirewallBackend::Iptables => "iptables",
    }
}

fn observed_word(b: ObservedBackend) -> &'static str {
    match b {
        ObservedBackend::Nftables => "nftables",
        ObservedBackend::Ufw => "ufw",
        ObservedBackend::Iptables => "iptables",
        ObservedBackend::None => "no firewall",
    }
}

/// Whether network `outer` (an address or CIDR) holds all of `inner`. Texts that are
/// not addresses (ranges, names) are compared as they are.
pub fn network_contains(outer: &str, inner: &str) -> bool {
    if outer == inner || is_anywhere(outer) {
        return true;
    }
    match (parse_network(outer), parse_network(inner)) {
        (Some((o, olen)), Some((i, ilen))) => {
            if olen > ilen {
                return false;
            }
            match (o, i) {
                (IpAddr::V4(o), IpAddr::V4(i)) => {
                    let mask = if olen == 0 {
                        0
                    } else {
                        u32::MAX << (32 - olen)
                    };
                    u32::from(o) & mask == u32::from(i) & mask
                }
                (IpAddr::V6(o), IpAddr::V6(i)) => {
                    let mask = if olen == 0 {
                        0
                    } else {
                        u128::MAX << (128 - olen)
                    };
                    u128::from(o) & mask == u128::from(i) & mask
                }
                _ => false,
            }
        }
        _ => false,
    }
}

fn parse_network(text: &str) -> Option<(IpAddr, u32)> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.parse::<u32>().ok().filter(|&l| l <= max)?,
        None => max,
    };
    Some((addr, len))
}
