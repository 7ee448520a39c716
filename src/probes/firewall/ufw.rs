//! ufw: `ufw status verbose` read into one chain of [`Rule`]s (its own view of its
//! rules, used when ufw says it is active).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::excerpt;
use super::rules::{Action, Chain, Match, Rule, Walk, normalize_open, parse_port_list};
use super::{ObservedBackend, ObservedPolicy, Protocol, Verdict};

#[derive(Debug, Clone)]
pub(super) struct UfwView {
    pub(super) active: bool,
    pub(super) policy: ObservedPolicy,
}

/// Reads `ufw status verbose`:
///
/// ```text
/// Status: active
/// Default: deny (incoming), allow (outgoing), deny (routed)
/// To                         Action      From
/// --                         ------      ----
/// 22/tcp                     ALLOW IN    10.0.0.1
/// 80,443/tcp (v6)            ALLOW IN    Anywhere (v6)
/// 9000/tcp on eth0           ALLOW IN    Anywhere                   # metrics
/// ```
pub(super) fn parse_ufw(body: &str) -> Result<UfwView, String> {
    let status = body
        .lines()
        .find_map(|l| l.trim().strip_prefix("Status:"))
        .map(str::trim)
        .ok_or_else(|| format!("ufw status printed no status: {}", excerpt(body)))?;
    let mut policy = ObservedPolicy {
        backend: ObservedBackend::Ufw,
        input_policy: Verdict::Accept,
        open: Vec::new(),
        unknown: Vec::new(),
        notes: Vec::new(),
    };
    if status != "active" {
        return Ok(UfwView {
            active: false,
            policy,
        });
    }
    let default = body
        .lines()
        .find_map(|l| l.trim().strip_prefix("Default:"))
        .and_then(|d| d.split(',').find(|p| p.contains("(incoming)")))
        .map(|p| p.replace("(incoming)", "").trim().to_owned());
    policy.input_policy = match default.as_deref() {
        Some("deny") => Verdict::Drop,
        Some("reject") => Verdict::Reject,
        Some("allow") => Verdict::Accept,
        _ => {
            policy.unknown.push(format!(
                "ufw default for incoming traffic not understood: {}",
                excerpt(default.as_deref().unwrap_or("(none)"))
            ));
            Verdict::Accept
        }
    };
    let mut rules = Vec::new();
    let mut in_table = false;
    for line in body.lines() {
        if line.trim_start().starts_with("--") {
            in_table = true;
            continue;
        }
        if !in_table || line.trim().is_empty() {
            continue;
        }
        match ufw_rule(line) {
            Some(Some(rule)) => rules.push(rule),
            Some(None) => {}
            None => policy.unknown.push(format!("ufw: {}", excerpt(line))),
        }
    }
    let chains = BTreeMap::from([("ufw".to_owned(), Chain { rules })]);
    let mut walk = Walk::new(&chains);
    walk.chain("ufw", &Match::default(), &mut Vec::new());
    policy.open = normalize_open(walk.open);
    policy.unknown.extend(walk.unknown);
    Ok(UfwView {
        active: true,
        policy,
    })
}

/// One rule line: `Some(Some(rule))` for an incoming rule, `Some(None)` for an
/// outgoing or routed one (not about what comes in), `None` when not understood.
fn ufw_rule(line: &str) -> Option<Option<Rule>> {
    // A trailing comment is not part of the rule.
    let rule_part = line.split(" # ").next().unwrap_or(line);
    let words: Vec<&str> = rule_part.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| matches!(*w, "ALLOW" | "DENY" | "REJECT" | "LIMIT"))?;
    let direction = words.get(at + 1).copied();
    let (from_start, incoming) = match direction {
        Some("IN") => (at + 2, true),
        Some("OUT" | "FWD") => (at + 2, false),
        _ => (at + 1, true),
    };
    if !incoming {
        return Some(None);
    }
    let action = match words[at] {
        "ALLOW" | "LIMIT" => Action::Accept,
        "DENY" => Action::Drop,
        _ => Action::Reject,
    };
    // Labels: "(v6)", an application profile "(OpenSSH)", "(OpenSSH (v6))".
    let plain = |ws: &[&str]| -> Vec<String> {
        let mut out = Vec::new();
        let mut depth = 0usize;
        for w in ws {
            let opens = w.matches('(').count();
            let closes = w.matches(')').count();
            if depth == 0 && opens == 0 {
                out.push((*w).to_owned());
            }
            depth = (depth + opens).saturating_sub(closes);
        }
        out
    };
    let mut to = plain(&words[..at]);
    let from = plain(&words[from_start..]);
    let mut m = Match::default();
    if let Some(on) = to.iter().position(|w| w == "on") {
        m.interface = to.get(on + 1).cloned();
        to.truncate(on);
    }
    // To: [address] [ports[/proto]] or Anywhere.
    let port_spec = match to.as_slice() {
        [one] if one == "Anywhere" => None,
        [one] if looks_like_ports(one) => Some(one.clone()),
        [addr] if addr.parse::<IpAddr>().is_ok() || addr.contains('/') => None,
        [_addr, spec] if looks_like_ports(spec) => Some(spec.clone()),
        _ => return None,
    };
    if let Some(spec) = port_spec {
        let (ports, proto) = match spec.split_once('/') {
            Some((p, proto)) => (p.to_owned(), Some(proto.to_owned())),
            None => (spec, None),
        };
        m.ports = Some(parse_port_list(&ports, ':')?);
        match proto.as_deref() {
            Some("tcp") => m.protos = Some(vec![Protocol::Tcp]),
            Some("udp") => m.protos = Some(vec![Protocol::Udp]),
            None => {}
            Some(_) => return None,
        }
    }
    // From: Anywhere, an address or network, optionally with a source port.
    match from.as_slice() {
        [one] if one == "Anywhere" => {}
        [addr] => m.sources = Some(vec![addr.clone()]),
        _ => return None,
    }
    Some(Some(Rule {
        matches: m,
        action,
        text: format!("ufw: {}", excerpt(line)),
    }))
}

fn looks_like_ports(word: &str) -> bool {
    let ports = word.split('/').next().unwrap_or("");
    !ports.is_empty()
        && ports
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == ':')
}
