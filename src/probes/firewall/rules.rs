//! Rules whatever the tool: what a rule matches and does ([`Match`], [`Action`],
//! [`Rule`]), and the walk through chains the way packets go ([`Walk`]) that collects
//! which ports are open. nft, iptables and ufw rules are all read into these.

use std::collections::{BTreeMap, BTreeSet};

use super::{OpenPort, Protocol, Verdict};

/// What a rule matches, in the terms the normalized policy needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Match {
    /// `None`: any protocol. `Some(empty)`: only protocols without ports (icmp, ...).
    pub(super) protos: Option<Vec<Protocol>>,
    /// Destination port ranges; `None`: any port.
    pub(super) ports: Option<Vec<(u16, u16)>>,
    /// Source addresses or networks; `None`: anywhere.
    pub(super) sources: Option<Vec<String>>,
    pub(super) interface: Option<String>,
    /// Only packets of connections already established (or related): not "open".
    pub(super) established_only: bool,
    /// Only invalid packets (`ct state invalid drop`): harmless.
    pub(super) invalid_only: bool,
    /// Conditions not understood, verbatim.
    pub(super) unknown: Vec<String>,
}

impl Match {
    fn is_unconditional(&self) -> bool {
        *self == Match::default()
    }

    /// Both conditions at once (a rule in a chain reached by a conditional jump).
    fn and(&self, inner: &Match) -> Match {
        let mut out = Match {
            established_only: self.established_only || inner.established_only,
            invalid_only: self.invalid_only || inner.invalid_only,
            unknown: [self.unknown.clone(), inner.unknown.clone()].concat(),
            ..Match::default()
        };
        out.protos = match (&self.protos, &inner.protos) {
            (Some(a), Some(b)) => Some(a.iter().copied().filter(|p| b.contains(p)).collect()),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        out.ports = match (&self.ports, &inner.ports) {
            (Some(a), Some(b)) => Some(
                a.iter()
                    .flat_map(|&(a0, a1)| {
                        b.iter().filter_map(move |&(b0, b1)| {
                            let (lo, hi) = (a0.max(b0), a1.min(b1));
                            (lo <= hi).then_some((lo, hi))
                        })
                    })
                    .collect(),
            ),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        out.sources = match (&self.sources, &inner.sources) {
            (Some(a), Some(b)) if a != b => {
                out.unknown.push(format!(
                    "sources {} within a chain reached only from {}",
                    b.join(","),
                    a.join(",")
                ));
                Some(a.clone())
            }
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        out.interface = match (&self.interface, &inner.interface) {
            (Some(a), Some(b)) if a != b => {
                out.unknown.push(format!(
                    "interface {b} within a chain reached only from {a}"
                ));
                Some(a.clone())
            }
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    Accept,
    Drop,
    Reject,
    Jump(String),
    Goto(String),
    Return,
    /// No verdict (counter, log): the next rule decides.
    Continue,
    Unknown(String),
}

/// A rule reduced to what it matches and what it does, plus how to show it.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub(super) matches: Match,
    pub(super) action: Action,
    pub(super) text: String,
}

/// A chain of rules, read first to last.
#[derive(Debug, Clone, Default)]
pub(super) struct Chain {
    pub(super) rules: Vec<Rule>,
}

/// Walks chains the way packets do, collecting what is opened.
pub(super) struct Walk<'a> {
    chains: &'a BTreeMap<String, Chain>,
    pub(super) open: Vec<OpenPort>,
    /// (proto, start, end) closed to everyone by an earlier drop/reject.
    closed: Vec<(Protocol, u16, u16)>,
    pub(super) unknown: Vec<String>,
    /// A rule that ends every packet's path: the effective default.
    pub(super) final_verdict: Option<Verdict>,
    /// Something drops or rejects (the chain is not a pass-through).
    pub(super) filters: bool,
}

const MAX_JUMP_DEPTH: usize = 16;
const ALL_PORTS: (u16, u16) = (1, 65535);

impl<'a> Walk<'a> {
    pub(super) fn new(chains: &'a BTreeMap<String, Chain>) -> Self {
        Walk {
            chains,
            open: Vec::new(),
            closed: Vec::new(),
            unknown: Vec::new(),
            final_verdict: None,
            filters: false,
        }
    }

    /// Walks `chain` under `context`; false when a rule ended every path (an
    /// unconditional verdict), so the caller stops too.
    pub(super) fn chain(&mut self, name: &str, context: &Match, stack: &mut Vec<String>) -> bool {
        if stack.len() >= MAX_JUMP_DEPTH || stack.iter().any(|s| s == name) {
            self.unknown
                .push(format!("jump loop or depth through chain {name}"));
            return true;
        }
        let Some(chain) = self.chains.get(name) else {
            self.unknown
                .push(format!("target or chain {name} not understood"));
            return true;
        };
        stack.push(name.to_owned());
        let mut goes_on = true;
        for rule in &chain.rules {
            let m = context.and(&rule.matches);
            if !self.rule(rule, &m, context, stack) {
                goes_on = false;
                break;
            }
        }
        stack.pop();
        goes_on
    }

    fn rule(&mut self, rule: &Rule, m: &Match, context: &Match, stack: &mut Vec<String>) -> bool {
        let unconditional = rule.matches.is_unconditional();
        match &rule.action {
            // No verdict, but something not understood may be one (or change what
            // later rules see): shown.
            Action::Continue if !rule.matches.unknown.is_empty() => {
                self.unknown.push(format!(
                    "{} (not understood: {})",
                    rule.text,
                    rule.matches.unknown.join("; ")
                ));
                true
            }
            Action::Continue => true,
            Action::Return => !unconditional,
            Action::Unknown(what) => {
                self.unknown.push(format!("{what}: {}", rule.text));
                true
            }
            Action::Jump(target) | Action::Goto(target) => {
                if !m.unknown.is_empty() {
                    self.unknown.push(rule.text.clone());
                    return true;
                }
                let returned = self.chain(target, m, stack);
                let is_goto = matches!(rule.action, Action::Goto(_));
                !(unconditional && (is_goto || !returned))
            }
            Action::Drop | Action::Reject => {
                self.filters = true;
                if m.invalid_only || m.established_only {
                    return true;
                }
                if unconditional && context.is_unconditional() {
                    self.final_verdict = Some(if rule.action == Action::Drop {
                        Verdict::Drop
                    } else {
                        Verdict::Reject
                    });
                    return false;
                }
                if unconditional {
                    // Ends the jumped-to chain's path for the context's packets only.
                    self.close(m);
                    return false;
                }
                self.close(m);
                true
            }
            Action::Accept => {
                if !m.unknown.is_empty() {
                    self.unknown.push(format!(
                        "{} (not understood: {})",
                        rule.text,
                        m.unknown.join("; ")
                    ));
                    return true;
                }
                if m.established_only || m.invalid_only {
                    return true;
                }
                let protos = m
                    .protos
                    .clone()
                    .unwrap_or_else(|| vec![Protocol::Tcp, Protocol::Udp]);
                let loopback = m.interface.as_deref() == Some("lo");
                if loopback || (protos.is_empty() && m.ports.is_none()) {
                    // Loopback, or icmp and the like: no port is opened.
                    return !(unconditional && context.is_unconditional());
                }
                let ports = m.ports.clone().unwrap_or_else(|| vec![ALL_PORTS]);
                for proto in protos {
                    for &(start, end) in &ports {
                        if self.is_closed(proto, start, end) {
                            continue;
                        }
                        self.open.push(OpenPort {
                            port: start,
                            port_end: (end != start).then_some(end),
                            proto,
                            sources: m.sources.clone().unwrap_or_default(),
                            interface: m.interface.clone(),
                        });
                    }
                }
                // An accept of everything ends the path: nothing after it matters.
                !(unconditional && context.is_unconditional())
            }
        }
    }

    /// Remembers ports a drop/reject closes to everyone, so a later accept of the same
    /// ports is not counted as open.
    fn close(&mut self, m: &Match) {
        if m.sources.is_some() || m.interface.is_some() || !m.unknown.is_empty() {
            return;
        }
        let protos = m
            .protos
            .clone()
            .unwrap_or_else(|| vec![Protocol::Tcp, Protocol::Udp]);
        let ports = m.ports.clone().unwrap_or_else(|| vec![ALL_PORTS]);
        for proto in protos {
            for &(start, end) in &ports {
                self.closed.push((proto, start, end));
            }
        }
    }

    fn is_closed(&self, proto: Protocol, start: u16, end: u16) -> bool {
        self.closed
            .iter()
            .any(|&(p, s, e)| p == proto && s <= start && end <= e)
    }
}

/// Sorts, and merges entries that differ only by source (IPv4 and IPv6 rules for the
/// same port, say): anywhere wins over any list.
pub(super) fn normalize_open(open: Vec<OpenPort>) -> Vec<OpenPort> {
    // (start, end, proto, interface) → sources; `None` = from anywhere.
    type Key = (u16, u16, Protocol, Option<String>);
    let mut merged: BTreeMap<Key, Option<BTreeSet<String>>> = BTreeMap::new();
    for p in open {
        let key = (p.port, p.end(), p.proto, p.interface.clone());
        let entry = merged.entry(key).or_insert_with(|| Some(BTreeSet::new()));
        match (
            entry.as_mut(),
            p.sources.is_empty() || p.sources.iter().any(|s| is_anywhere(s)),
        ) {
            (_, true) => *entry = None,
            (Some(set), false) => set.extend(p.sources),
            (None, false) => {}
        }
    }
    merged
        .into_iter()
        .map(|((port, end, proto, interface), sources)| OpenPort {
            port,
            port_end: (end != port).then_some(end),
            proto,
            sources: sources.map(|s| s.into_iter().collect()).unwrap_or_default(),
            interface,
        })
        .collect()
}

pub(super) fn is_anywhere(source: &str) -> bool {
    matches!(source, "0.0.0.0/0" | "::/0" | "any" | "Anywhere")
}

pub(super) fn proto_of(name: &str) -> Option<Option<Protocol>> {
    // Some(Some(p)): a protocol with ports; Some(None): one without (icmp...).
    match name.to_ascii_lowercase().as_str() {
        "tcp" | "6" => Some(Some(Protocol::Tcp)),
        "udp" | "17" => Some(Some(Protocol::Udp)),
        "icmp" | "1" | "icmpv6" | "ipv6-icmp" | "58" | "igmp" | "2" | "esp" | "ah" | "gre"
        | "vrrp" | "112" => Some(None),
        _ => None,
    }
}

/// Narrows the protocols `m` matches to `protos` (both conditions hold).
pub(super) fn set_protos(m: &mut Match, protos: Vec<Protocol>) {
    m.protos = Some(match m.protos.take() {
        Some(existing) => existing
            .into_iter()
            .filter(|p| protos.contains(p))
            .collect(),
        None => protos,
    });
}

/// `22`, `80,443`, `60000:61000` (iptables) or `60000-61000`: port ranges.
pub(super) fn parse_port_list(text: &str, range_sep: char) -> Option<Vec<(u16, u16)>> {
    text.split(',')
        .map(|part| {
            let (a, b) = part.split_once(range_sep).unwrap_or((part, part));
            let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
            (a <= b).then_some((a, b))
        })
        .collect()
}
