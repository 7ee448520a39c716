//! nftables: `nft -j list ruleset` read into chains of [`Rule`]s, and the input
//! filter chains of the tables iptables-nft does not manage walked into a policy.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::excerpt;
use super::rules::{Action, Chain, Match, Rule, Walk, normalize_open, proto_of, set_protos};
use super::{ObservedBackend, ObservedPolicy, OpenPort, Protocol, Verdict};
use crate::sanitize;

pub(super) type TableKey = (String, String);

#[derive(Debug, Default)]
pub(super) struct NftRuleset {
    tables: Vec<TableKey>,
    /// Per table: chain name → (base chain info, rules).
    chains: BTreeMap<TableKey, BTreeMap<String, NftChain>>,
    sets: BTreeMap<TableKey, BTreeMap<String, Vec<Value>>>,
}

#[derive(Debug, Default, Clone)]
struct NftChain {
    hook: Option<String>,
    kind: Option<String>,
    policy: Option<String>,
    prio: i64,
    rules: Vec<(Value, String)>,
}

/// What the native nftables tables say about input.
#[derive(Debug, Clone)]
pub(super) struct NftView {
    pub(super) policy: ObservedPolicy,
    /// Some input chain drops or rejects something.
    pub(super) filters: bool,
    pub(super) has_input_chain: bool,
}

pub(super) fn parse_nft(body: &str) -> Result<NftRuleset, String> {
    let start = body
        .find('{')
        .ok_or_else(|| format!("nft printed no JSON: {}", excerpt(body)))?;
    let doc: Value = serde_json::from_str(body[start..].trim_end())
        .map_err(|e| format!("nft's JSON could not be read ({e})"))?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| "nft's JSON has no \"nftables\" array".to_owned())?;
    let mut ruleset = NftRuleset::default();
    let key = |o: &Value, table_field: &str| -> Option<TableKey> {
        Some((
            o.get("family")?.as_str()?.to_owned(),
            o.get(table_field)?.as_str()?.to_owned(),
        ))
    };
    for item in items {
        if let Some(t) = item.get("table") {
            if let Some(k) = key(t, "name") {
                ruleset.tables.push(k);
            }
        } else if let Some(c) = item.get("chain") {
            let (Some(k), Some(name)) = (key(c, "table"), c.get("name").and_then(Value::as_str))
            else {
                continue;
            };
            let chain = ruleset
                .chains
                .entry(k)
                .or_default()
                .entry(name.to_owned())
                .or_default();
            chain.hook = c.get("hook").and_then(Value::as_str).map(str::to_owned);
            chain.kind = c.get("type").and_then(Value::as_str).map(str::to_owned);
            chain.policy = c.get("policy").and_then(Value::as_str).map(str::to_owned);
            chain.prio = c.get("prio").and_then(Value::as_i64).unwrap_or(0);
        } else if let Some(r) = item.get("rule") {
            let (Some(k), Some(chain)) = (key(r, "table"), r.get("chain").and_then(Value::as_str))
            else {
                continue;
            };
            let expr = r.get("expr").cloned().unwrap_or(Value::Null);
            let text = format!(
                "nft {} {} chain {} handle {}{}: {}",
                k.0,
                k.1,
                chain,
                r.get("handle").map(|h| h.to_string()).unwrap_or_default(),
                r.get("comment")
                    .and_then(Value::as_str)
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
                expr
            );
            ruleset
                .chains
                .entry(k)
                .or_default()
                .entry(chain.to_owned())
                .or_default()
                .rules
                .push((expr, excerpt(&text)));
        } else if let Some(s) = item.get("set").or_else(|| item.get("map")) {
            let (Some(k), Some(name)) = (key(s, "table"), s.get("name").and_then(Value::as_str))
            else {
                continue;
            };
            let elems = s
                .get("elem")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            ruleset
                .sets
                .entry(k)
                .or_default()
                .insert(name.to_owned(), elems);
        }
    }
    Ok(ruleset)
}

impl NftRuleset {
    /// The input filter chains of every table iptables-nft does not manage.
    pub(super) fn view(&self, managed: &BTreeSet<TableKey>) -> NftView {
        struct Base {
            table: TableKey,
            name: String,
            prio: i64,
            verdict: Verdict,
            walk_open: Vec<OpenPort>,
            unknown: Vec<String>,
            filters: bool,
        }
        let mut bases = Vec::new();
        let mut notes = Vec::new();
        for (table, chains) in &self.chains {
            if managed.contains(table) {
                notes.push(format!(
                    "nft table {} {} is iptables-nft's; read through iptables-save",
                    table.0, table.1
                ));
                continue;
            }
            let sets = self.sets.get(table);
            let converted: BTreeMap<String, Chain> = chains
                .iter()
                .map(|(name, c)| {
                    let rules = c
                        .rules
                        .iter()
                        .map(|(expr, text)| nft_rule(expr, text, sets))
                        .collect();
                    (name.clone(), Chain { rules })
                })
                .collect();
            for (name, c) in chains {
                let is_input = c.hook.as_deref() == Some("input")
                    && c.kind.as_deref().unwrap_or("filter") == "filter"
                    && matches!(table.0.as_str(), "inet" | "ip" | "ip6");
                if !is_input {
                    continue;
                }
                let mut walk = Walk::new(&converted);
                walk.chain(name, &Match::default(), &mut Vec::new());
                let policy = match c.policy.as_deref() {
                    Some("drop") => Verdict::Drop,
                    _ => Verdict::Accept,
                };
                let verdict = walk.final_verdict.unwrap_or(policy);
                bases.push(Base {
                    table: table.clone(),
                    name: name.clone(),
                    prio: c.prio,
                    verdict,
                    filters: walk.filters || verdict != Verdict::Accept,
                    walk_open: walk.open,
                    unknown: walk.unknown,
                });
            }
        }
        bases.sort_by_key(|b| b.prio);
        let has_input_chain = !bases.is_empty();
        let filtering: Vec<&Base> = bases
            .iter()
            .filter(|b| b.filters || !b.unknown.is_empty())
            .collect();
        let chosen = filtering.first().copied().or(bases.first());
        let Some(chosen) = chosen else {
            return NftView {
                policy: ObservedPolicy {
                    backend: ObservedBackend::Nftables,
                    input_policy: Verdict::Accept,
                    open: Vec::new(),
                    unknown: Vec::new(),
                    notes,
                },
                filters: false,
                has_input_chain,
            };
        };
        let mut unknown = chosen.unknown.clone();
        for other in filtering.iter().skip(1) {
            unknown.push(format!(
                "nft {} {} chain {} also filters input; chains are not combined here",
                other.table.0, other.table.1, other.name
            ));
        }
        notes.push(format!(
            "read nft {} {} chain {}",
            chosen.table.0, chosen.table.1, chosen.name
        ));
        NftView {
            policy: ObservedPolicy {
                backend: ObservedBackend::Nftables,
                input_policy: chosen.verdict,
                open: normalize_open(chosen.walk_open.clone()),
                unknown,
                notes,
            },
            filters: !filtering.is_empty(),
            has_input_chain,
        }
    }
}

/// One nft rule (its `expr` list) as a `Rule`.
fn nft_rule(expr: &Value, text: &str, sets: Option<&BTreeMap<String, Vec<Value>>>) -> Rule {
    let mut m = Match::default();
    let mut action = Action::Continue;
    let statements = expr.as_array().cloned().unwrap_or_default();
    if !expr.is_array() {
        m.unknown
            .push("a rule without an expression list".to_owned());
    }
    for statement in &statements {
        let Some((kind, body)) = statement.as_object().and_then(|o| o.iter().next()) else {
            m.unknown.push(statement.to_string());
            continue;
        };
        match kind.as_str() {
            "match" => nft_match(body, sets, &mut m),
            "counter" | "log" | "limit" | "quota" | "comment" => {}
            "accept" => action = Action::Accept,
            "drop" => action = Action::Drop,
            "reject" => action = Action::Reject,
            "return" => action = Action::Return,
            "continue" => action = Action::Continue,
            "jump" | "goto" => {
                let target = body
                    .get("target")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                action = if kind == "jump" {
                    Action::Jump(target)
                } else {
                    Action::Goto(target)
                };
            }
            "xt" if body.get("type").and_then(Value::as_str) == Some("target") => {
                action = Action::Unknown(format!(
                    "iptables target {}",
                    body.get("name").and_then(Value::as_str).unwrap_or("?")
                ));
            }
            "xt" => m.unknown.push(format!(
                "iptables match {}",
                body.get("name").and_then(Value::as_str).unwrap_or("?")
            )),
            "vmap" => action = Action::Unknown("verdict map".to_owned()),
            other => m.unknown.push(format!("{other} statement")),
        }
    }
    Rule {
        matches: m,
        action,
        text: text.to_owned(),
    }
}

fn nft_match(body: &Value, sets: Option<&BTreeMap<String, Vec<Value>>>, m: &mut Match) {
    let op = body.get("op").and_then(Value::as_str).unwrap_or("==");
    let left = body.get("left").unwrap_or(&Value::Null);
    let right = body.get("right").unwrap_or(&Value::Null);
    let shown = || sanitize::line(&format!("{left} {op} {right}"));
    if !matches!(op, "==" | "in") {
        m.unknown.push(shown());
        return;
    }
    let values = nft_values(right, sets);
    let Some(values) = values else {
        m.unknown.push(shown());
        return;
    };
    let payload = left.get("payload");
    let field = |k: &str| payload.and_then(|p| p.get(k)).and_then(Value::as_str);
    let meta = left
        .get("meta")
        .and_then(|x| x.get("key"))
        .and_then(Value::as_str);
    let ct = left
        .get("ct")
        .and_then(|x| x.get("key"))
        .and_then(Value::as_str);
    match (field("protocol"), field("field"), meta, ct) {
        (Some(p @ ("tcp" | "udp")), Some("dport"), _, _) => {
            let proto = if p == "tcp" {
                Protocol::Tcp
            } else {
                Protocol::Udp
            };
            set_protos(m, vec![proto]);
            set_ports(m, &values, shown);
        }
        (Some("th"), Some("dport"), _, _) => set_ports(m, &values, shown),
        (Some("ip" | "ip6"), Some("saddr"), _, _) => {
            let sources: Option<Vec<String>> = values.iter().map(nft_address).collect();
            match sources {
                Some(s) => m.sources = Some(s),
                None => m.unknown.push(shown()),
            }
        }
        (Some("ip" | "ip6"), Some("daddr"), _, _) => {}
        (Some("ip"), Some("protocol"), _, _) | (Some("ip6"), Some("nexthdr"), _, _) => {
            set_proto_names(m, &values, shown)
        }
        (Some("icmp" | "icmpv6"), _, _, _) => set_protos(m, Vec::new()),
        (_, _, Some("l4proto"), _) => set_proto_names(m, &values, shown),
        (_, _, Some("iif" | "iifname"), _) => match values.as_slice() {
            [Value::String(name)] => m.interface = Some(sanitize::line(name)),
            _ => m.unknown.push(shown()),
        },
        (_, _, Some("nfproto"), _) => {}
        (_, _, _, Some("state")) => {
            let states: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            if states.len() != values.len() {
                m.unknown.push(shown());
            } else if states
                .iter()
                .all(|s| matches!(*s, "established" | "related"))
            {
                m.established_only = true;
            } else if states.iter().all(|s| *s == "invalid") {
                m.invalid_only = true;
            }
            // `ct state new` (alone or with others) is what "open" means already.
        }
        _ => m.unknown.push(shown()),
    }
}

/// The values a match's right side stands for: a single value, an anonymous set or a
/// named one (`@name`). `None` when not understood.
fn nft_values(right: &Value, sets: Option<&BTreeMap<String, Vec<Value>>>) -> Option<Vec<Value>> {
    let unwrap_elem = |v: &Value| {
        v.get("elem")
            .and_then(|e| e.get("val"))
            .cloned()
            .unwrap_or_else(|| v.clone())
    };
    match right {
        Value::Object(o) if o.contains_key("set") => {
            Some(o.get("set")?.as_array()?.iter().map(unwrap_elem).collect())
        }
        Value::String(s) if s.starts_with('@') => {
            Some(sets?.get(&s[1..])?.iter().map(unwrap_elem).collect())
        }
        Value::Array(items) => Some(items.clone()),
        other => Some(vec![other.clone()]),
    }
}

fn set_proto_names(m: &mut Match, values: &[Value], shown: impl Fn() -> String) {
    let mut protos = Vec::new();
    for v in values {
        let name = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return m.unknown.push(shown()),
        };
        match proto_of(&name) {
            Some(Some(p)) => protos.push(p),
            Some(None) => {}
            None => return m.unknown.push(shown()),
        }
    }
    set_protos(m, protos);
}

fn set_ports(m: &mut Match, values: &[Value], shown: impl Fn() -> String) {
    let mut ports = Vec::new();
    for v in values {
        let range = match v {
            Value::Object(o) if o.contains_key("range") => {
                let r = o.get("range").and_then(Value::as_array);
                match r.map(|r| r.as_slice()) {
                    Some([a, b]) => port_number(a).zip(port_number(b)),
                    _ => None,
                }
            }
            other => port_number(other).map(|p| (p, p)),
        };
        match range {
            Some((a, b)) if a <= b => ports.push((a, b)),
            _ => return m.unknown.push(shown()),
        }
    }
    m.ports = Some(ports);
}

fn port_number(v: &Value) -> Option<u16> {
    v.as_u64().and_then(|n| u16::try_from(n).ok())
}

fn nft_address(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(sanitize::line(s)),
        Value::Object(o) if o.contains_key("prefix") => {
            let p = o.get("prefix")?;
            Some(sanitize::line(&format!(
                "{}/{}",
                p.get("addr")?.as_str()?,
                p.get("len")?.as_u64()?
            )))
        }
        Value::Object(o) if o.contains_key("range") => {
            let r = o.get("range")?.as_array()?;
            Some(sanitize::line(&format!(
                "{}-{}",
                r.first()?.as_str()?,
                r.get(1)?.as_str()?
            )))
        }
        _ => None,
    }
}
