//! Host firewalls: nftables, ufw or iptables, normalized into one policy and compared
//! with the declared one.

use serde::{Deserialize, Serialize};

/// The declared policy, as in `fleetdeck_firewall`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredPolicy {
    /// Which tool manages the firewall; `auto` detects it.
    #[serde(default)]
    pub backend: FirewallBackend,
    /// The default for incoming traffic.
    pub input_policy: Verdict,
    /// What may come in. Anything else open is drift.
    #[serde(default)]
    pub allow: Vec<AllowRule>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirewallBackend {
    #[default]
    Auto,
    Nftables,
    Ufw,
    Iptables,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Accept,
    Drop,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// One allowed port; `from` empty means from anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    pub port: u16,
    #[serde(default = "default_proto")]
    pub proto: Protocol,
    /// Addresses or CIDR networks.
    #[serde(default)]
    pub from: Vec<String>,
}

fn default_proto() -> Protocol {
    Protocol::Tcp
}

// ---- Observing -------------------------------------------------------------------
//
// One exec of `DETECT_COMMAND` (as root, or through `sudo -n`) dumps whatever of
// nftables, ufw and iptables the host has, in marked sections; `parse_detection`
// normalizes the active one into an `ObservedPolicy`, `drift` compares it with the
// declared policy and `report` does both. Everything below is pure.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde_json::Value;

use super::Severity;
use crate::sanitize;

/// Dumps every firewall tool present, each in a section:
///
/// ```text
/// @@fleetdeck-firewall 1
/// @@section nft            (or `@@absent nft`)
/// ...the tool's stdout and stderr...
/// @@exit 0
/// ...ufw, iptables-save, ip6tables-save likewise...
/// @@end
/// ```
///
/// No tool prints a line starting with `@@` (nft's JSON is one line starting with `{`,
/// iptables-save lines start with `*`, `:`, `-`, `#` or `COMMIT`, ufw's are padded
/// columns), and `@@end` shows the output was not cut short. `-t filter` keeps Docker
/// hosts' large nat tables out. Tools need root: `sudo -n` is used when the SSH user
/// is not root (it fails at once rather than prompting). `ufw` is a Python program
/// that costs ~150 ms of the host's CPU to start; when its own configuration says it
/// is disabled, the line it would print (`Status: inactive`) is printed instead.
pub const DETECT_COMMAND: &str = r#"exec </dev/null
PATH="$PATH:/usr/sbin:/sbin"
s=
[ "$(id -u)" = 0 ] || s='sudo -n'
echo '@@fleetdeck-firewall 1'
for tool in nft ufw iptables-save ip6tables-save; do
  if command -v "$tool" >/dev/null 2>&1; then
    echo "@@section $tool"
    case "$tool" in
      nft) $s nft -j list ruleset 2>&1 ;;
      ufw) if [ -r /etc/ufw/ufw.conf ] && ! grep -q '^ENABLED=yes' /etc/ufw/ufw.conf; then
             echo 'Status: inactive'
           else
             $s ufw status verbose 2>&1
           fi ;;
      *) $s "$tool" -t filter 2>&1 ;;
    esac
    printf '\n@@exit %s\n' "$?"
  else
    echo "@@absent $tool"
  fi
done
echo '@@end'
"#;

/// Limits for the detection exec: rulesets are small, but a host with a large ipset
/// in nft can print a lot.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
pub const MAX_OUTPUT_BYTES: usize = 8 * 1024 * 1024;

/// Which tool the observed policy was read from; `none` when no tool filters input
/// (then everything is open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObservedBackend {
    Nftables,
    Ufw,
    Iptables,
    None,
}

/// A port (or inclusive range) that accepts new connections.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OpenPort {
    pub port: u16,
    /// The last port of a range; absent for a single port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_end: Option<u16>,
    pub proto: Protocol,
    /// Addresses or networks allowed in; empty means from anywhere.
    pub sources: Vec<String>,
    /// Only on this interface (an `iifname`/`-i`/`on IF` condition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}

impl OpenPort {
    fn end(&self) -> u16 {
        self.port_end.unwrap_or(self.port)
    }

    /// `22/tcp`, `60000-61000/udp`.
    pub fn ports_label(&self) -> String {
        port_label(self.port, self.end(), self.proto)
    }
}

fn port_label(start: u16, end: u16, proto: Protocol) -> String {
    let proto = match proto {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    };
    if start == end {
        format!("{start}/{proto}")
    } else {
        format!("{start}-{end}/{proto}")
    }
}

/// The host's firewall, normalized: what comes in by default, which ports accept new
/// connections from where, and what could not be understood (verbatim, never dropped:
/// it may open anything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedPolicy {
    pub backend: ObservedBackend,
    /// The verdict for what no rule accepts. With `accept`, `open` lists only the
    /// explicit accepts: everything is open.
    pub input_policy: Verdict,
    pub open: Vec<OpenPort>,
    pub unknown: Vec<String>,
    /// Facts worth showing that are not drift (e.g. which tables were read).
    pub notes: Vec<String>,
}

/// One difference between the declared and the observed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub kind: DriftKind,
    pub severity: Severity,
    /// For the console, e.g. "5432/tcp is open from anywhere but not declared".
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_end: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<Protocol>,
}

/// Drift kinds, and their severity. More open than declared is critical (an extra open
/// port, a wider source, a default of accept where drop was declared); less open than
/// declared is a warning (a missing rule, a declared source not let in: something
/// breaks, nothing is exposed), and so are differences that expose nothing (another
/// backend, reject instead of drop, a port open only on one interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    ExtraPort,
    MissingRule,
    WiderSource,
    NarrowerSource,
    DefaultPolicy,
    BackendMismatch,
}

/// The firewall signal of one host, as `fleetdeck status --json` shows it under
/// `firewall`. Severity is the worst drift; constructs not understood make it at
/// least `unknown` (they may open anything); a failed detection is `unknown` with
/// `error` set and `backend` null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FirewallReport {
    pub backend: Option<ObservedBackend>,
    pub severity: Severity,
    pub drift: Vec<Drift>,
    pub observed: Option<ObservedPolicy>,
    pub unknown: Vec<String>,
    pub error: Option<String>,
}

impl FirewallReport {
    /// Nothing observed: the detection did not run or could not be read.
    pub fn failed(error: impl Into<String>) -> Self {
        FirewallReport {
            backend: None,
            severity: Severity::Unknown,
            drift: Vec::new(),
            observed: None,
            unknown: Vec::new(),
            error: Some(error.into()),
        }
    }

    pub fn timed_out(after: std::time::Duration) -> Self {
        Self::failed(format!(
            "firewall detection gave no answer within {}s",
            after.as_secs()
        ))
    }
}

/// Reads the output of `DETECT_COMMAND` and compares it with `declared`.
pub fn report(
    declared: &DeclaredPolicy,
    exit: Option<u32>,
    stdout: &[u8],
    stderr: &[u8],
) -> FirewallReport {
    match parse_detection(exit, stdout, stderr) {
        Ok(observed) => compare(declared, observed),
        Err(error) => FirewallReport::failed(error),
    }
}

/// The report for an observed policy.
pub fn compare(declared: &DeclaredPolicy, observed: ObservedPolicy) -> FirewallReport {
    let drift = drift(declared, &observed);
    let mut severity = Severity::worst(drift.iter().map(|d| d.severity));
    if !observed.unknown.is_empty() {
        severity = severity.max(Severity::Unknown);
    }
    FirewallReport {
        backend: Some(observed.backend),
        severity,
        drift,
        unknown: observed.unknown.clone(),
        observed: Some(observed),
        error: None,
    }
}

// ---- The detection output ----------------------------------------------------------

/// One tool's section of the detection output.
#[derive(Debug, Default)]
struct Section {
    body: String,
    exit: Option<i64>,
}

#[derive(Debug, Default)]
struct Sections {
    tools: BTreeMap<String, Section>,
    absent: BTreeSet<String>,
}

fn split_sections(text: &str) -> Result<Sections, String> {
    let mut lines = text.lines();
    if !lines
        .by_ref()
        .any(|l| l.trim_end() == "@@fleetdeck-firewall 1")
    {
        return Err(format!(
            "the firewall detection printed no header: {}",
            excerpt(text)
        ));
    }
    let mut sections = Sections::default();
    let mut current: Option<String> = None;
    let mut ended = false;
    for line in lines {
        if let Some(tool) = line.strip_prefix("@@section ") {
            let tool = tool.trim().to_owned();
            sections.tools.insert(tool.clone(), Section::default());
            current = Some(tool);
        } else if let Some(tool) = line.strip_prefix("@@absent ") {
            sections.absent.insert(tool.trim().to_owned());
            current = None;
        } else if let Some(code) = line.strip_prefix("@@exit ") {
            if let Some(section) = current.as_ref().and_then(|t| sections.tools.get_mut(t)) {
                section.exit = code.trim().parse().ok();
            }
            current = None;
        } else if line.trim_end() == "@@end" {
            ended = true;
            break;
        } else if let Some(section) = current.as_ref().and_then(|t| sections.tools.get_mut(t)) {
            section.body.push_str(line);
            section.body.push('\n');
        }
    }
    if !ended {
        return Err("the firewall detection output was cut short (no end marker)".to_owned());
    }
    Ok(sections)
}

/// Normalizes the active firewall from `DETECT_COMMAND`'s output.
///
/// Which view is read: ufw when `ufw status` says active (its own view of its
/// rules); otherwise nftables' native tables when one filters input; otherwise
/// iptables (`iptables-save`, IPv4 and IPv6) when its INPUT chain has rules or a
/// policy other than ACCEPT; otherwise `none`. Tables that iptables-nft manages are
/// read through iptables-save: `nft -j` shows their matches only as opaque `xt`
/// expressions. A tool that failed while no other showed an active firewall makes
/// the whole detection a failure — an unreadable firewall is not an absent one.
pub fn parse_detection(
    exit: Option<u32>,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<ObservedPolicy, String> {
    let text = String::from_utf8_lossy(stdout);
    let sections = split_sections(&text).map_err(|e| match exit {
        Some(0) | None => with_stderr(e, stderr),
        Some(code) => with_stderr(format!("{e} (exit {code})"), stderr),
    })?;
    let mut failures = Vec::new();
    let mut section_ok = |tool: &str| -> Option<&Section> {
        let section = sections.tools.get(tool)?;
        if section.exit == Some(0) {
            Some(section)
        } else {
            failures.push(format!(
                "{tool} failed{}: {}",
                section
                    .exit
                    .map(|c| format!(" (exit {c})"))
                    .unwrap_or_default(),
                excerpt(&section.body)
            ));
            None
        }
    };

    let ufw = section_ok("ufw").map(|s| parse_ufw(&s.body));
    let nft = section_ok("nft").map(|s| parse_nft(&s.body));
    let ipt4 = section_ok("iptables-save").map(|s| parse_iptables_save(&s.body, "IPv4"));
    let ipt6 = section_ok("ip6tables-save").map(|s| parse_iptables_save(&s.body, "IPv6"));
    // Output a tool printed but that could not be read counts as that tool failing.
    fn take<T>(r: Option<Result<T, String>>, failures: &mut Vec<String>) -> Option<T> {
        match r {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                failures.push(e);
                None
            }
            None => None,
        }
    }
    let ufw = take(ufw, &mut failures);
    let nft = take(nft, &mut failures);
    let ipt4 = take(ipt4, &mut failures);
    let ipt6 = take(ipt6, &mut failures);

    // A tool that could not be read may hold rules of its own: not knowing is shown.
    let not_read = |observed: &mut ObservedPolicy| {
        observed
            .unknown
            .extend(failures.iter().map(|f| format!("not read: {f}")));
    };
    if let Some(ufw) = &ufw
        && ufw.active
    {
        let mut observed = ufw.policy.clone();
        not_read(&mut observed);
        return Ok(observed);
    }
    let iptables = merge_iptables(ipt4, ipt6);
    // iptables-nft's tables, to leave out of the native nftables view.
    let managed: BTreeSet<(String, String)> = iptables
        .as_ref()
        .map(|i| i.nft_tables.clone())
        .unwrap_or_default();

    let native = nft.as_ref().map(|n| n.view(&managed));
    let native_filters = native.as_ref().is_some_and(|v| v.filters);
    let ipt_filters = iptables.as_ref().is_some_and(|i| i.filters);

    let mut observed = if native_filters {
        let mut observed = native.clone().map(|v| v.policy).unwrap_or_else(no_firewall);
        if ipt_filters {
            observed.unknown.push(
                "iptables also filters input (INPUT chain); its rules apply on top of \
                 nftables' and are not combined here"
                    .to_owned(),
            );
        }
        observed
    } else if let Some(ipt) = iptables.filter(|i| i.filters) {
        ipt.policy
    } else if let Some(view) = native.filter(|v| v.has_input_chain) {
        view.policy
    } else {
        if !failures.is_empty() {
            return Err(format!(
                "no firewall tool could be read: {}",
                failures.join("; ")
            ));
        }
        if sections.tools.is_empty() {
            return Err("none of nft, ufw, iptables-save is installed on the host".to_owned());
        }
        no_firewall()
    };
    not_read(&mut observed);
    Ok(observed)
}

fn no_firewall() -> ObservedPolicy {
    ObservedPolicy {
        backend: ObservedBackend::None,
        input_policy: Verdict::Accept,
        open: Vec::new(),
        unknown: Vec::new(),
        notes: vec!["no firewall filters incoming traffic".to_owned()],
    }
}

fn with_stderr(message: String, stderr: &[u8]) -> String {
    let err = excerpt(&String::from_utf8_lossy(stderr));
    if err.is_empty() {
        message
    } else {
        format!("{message}: {err}")
    }
}

const MAX_TEXT_CHARS: usize = 400;

/// `text` on one line, sanitized, at most `MAX_TEXT_CHARS` characters.
fn excerpt(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    let clean = sanitize::line(&joined);
    if clean.chars().count() <= MAX_TEXT_CHARS {
        clean
    } else {
        let cut: String = clean.chars().take(MAX_TEXT_CHARS).collect();
        format!("{cut}…")
    }
}

// ---- Rules, whatever the tool ------------------------------------------------------

/// What a rule matches, in the terms the normalized policy needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Match {
    /// `None`: any protocol. `Some(empty)`: only protocols without ports (icmp, ...).
    protos: Option<Vec<Protocol>>,
    /// Destination port ranges; `None`: any port.
    ports: Option<Vec<(u16, u16)>>,
    /// Source addresses or networks; `None`: anywhere.
    sources: Option<Vec<String>>,
    interface: Option<String>,
    /// Only packets of connections already established (or related): not "open".
    established_only: bool,
    /// Only invalid packets (`ct state invalid drop`): harmless.
    invalid_only: bool,
    /// Conditions not understood, verbatim.
    unknown: Vec<String>,
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
enum Action {
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
struct Rule {
    matches: Match,
    action: Action,
    text: String,
}

/// A chain of rules, read first to last.
#[derive(Debug, Clone, Default)]
struct Chain {
    rules: Vec<Rule>,
}

/// Walks chains the way packets do, collecting what is opened.
struct Walk<'a> {
    chains: &'a BTreeMap<String, Chain>,
    open: Vec<OpenPort>,
    /// (proto, start, end) closed to everyone by an earlier drop/reject.
    closed: Vec<(Protocol, u16, u16)>,
    unknown: Vec<String>,
    /// A rule that ends every packet's path: the effective default.
    final_verdict: Option<Verdict>,
    /// Something drops or rejects (the chain is not a pass-through).
    filters: bool,
}

const MAX_JUMP_DEPTH: usize = 16;
const ALL_PORTS: (u16, u16) = (1, 65535);

impl<'a> Walk<'a> {
    fn new(chains: &'a BTreeMap<String, Chain>) -> Self {
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
    fn chain(&mut self, name: &str, context: &Match, stack: &mut Vec<String>) -> bool {
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
fn normalize_open(open: Vec<OpenPort>) -> Vec<OpenPort> {
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

fn is_anywhere(source: &str) -> bool {
    matches!(source, "0.0.0.0/0" | "::/0" | "any" | "Anywhere")
}

fn proto_of(name: &str) -> Option<Option<Protocol>> {
    // Some(Some(p)): a protocol with ports; Some(None): one without (icmp...).
    match name.to_ascii_lowercase().as_str() {
        "tcp" | "6" => Some(Some(Protocol::Tcp)),
        "udp" | "17" => Some(Some(Protocol::Udp)),
        "icmp" | "1" | "icmpv6" | "ipv6-icmp" | "58" | "igmp" | "2" | "esp" | "ah" | "gre"
        | "vrrp" | "112" => Some(None),
        _ => None,
    }
}

// ---- nftables: `nft -j list ruleset` -----------------------------------------------

type TableKey = (String, String);

#[derive(Debug, Default)]
struct NftRuleset {
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
struct NftView {
    policy: ObservedPolicy,
    /// Some input chain drops or rejects something.
    filters: bool,
    has_input_chain: bool,
}

fn parse_nft(body: &str) -> Result<NftRuleset, String> {
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
    fn view(&self, managed: &BTreeSet<TableKey>) -> NftView {
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

fn set_protos(m: &mut Match, protos: Vec<Protocol>) {
    m.protos = Some(match m.protos.take() {
        Some(existing) => existing
            .into_iter()
            .filter(|p| protos.contains(p))
            .collect(),
        None => protos,
    });
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

// ---- iptables: `iptables-save -t filter` -------------------------------------------

#[derive(Debug, Clone)]
struct IptablesView {
    policy: ObservedPolicy,
    filters: bool,
    /// nft tables this iptables-nft manages, e.g. ("ip", "filter").
    nft_tables: BTreeSet<TableKey>,
}

fn parse_iptables_save(body: &str, family: &str) -> Result<IptablesView, String> {
    let nft_family = if family == "IPv6" { "ip6" } else { "ip" };
    let backed_by_nft = body
        .lines()
        .any(|l| l.starts_with("# Generated by") && l.contains("nf_tables"));
    let mut table: Option<String> = None;
    let mut nft_tables = BTreeSet::new();
    let mut policies: BTreeMap<String, String> = BTreeMap::new();
    let mut chains: BTreeMap<String, Chain> = BTreeMap::new();
    let mut saw_filter = false;
    for line in body.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('*') {
            table = Some(name.to_owned());
            if backed_by_nft {
                nft_tables.insert((nft_family.to_owned(), name.to_owned()));
            }
            saw_filter |= name == "filter";
            continue;
        }
        if table.as_deref() != Some("filter") {
            continue;
        }
        if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split_whitespace();
            if let (Some(chain), Some(policy)) = (parts.next(), parts.next()) {
                policies.insert(chain.to_owned(), policy.to_owned());
                chains.entry(chain.to_owned()).or_default();
            }
        } else if line.starts_with("-A ") || line.starts_with("[") {
            let words = split_words(line);
            let words: Vec<&str> = words
                .iter()
                .map(String::as_str)
                .skip_while(|w| w.starts_with('['))
                .collect();
            if let ["-A", chain, rest @ ..] = words.as_slice() {
                let rule = iptables_rule(rest, &format!("{family}: {}", excerpt(line)));
                chains
                    .entry((*chain).to_owned())
                    .or_default()
                    .rules
                    .push(rule);
            }
        }
    }
    if !saw_filter {
        return Err(format!(
            "{family} iptables-save printed no filter table: {}",
            excerpt(body)
        ));
    }
    let mut walk = Walk::new(&chains);
    walk.chain("INPUT", &Match::default(), &mut Vec::new());
    let policy = match policies.get("INPUT").map(String::as_str) {
        Some("DROP") => Verdict::Drop,
        Some("ACCEPT") | None => Verdict::Accept,
        Some(_) => {
            walk.unknown
                .push(format!("{family} INPUT policy not understood"));
            Verdict::Accept
        }
    };
    let verdict = walk.final_verdict.unwrap_or(policy);
    Ok(IptablesView {
        filters: walk.filters || verdict != Verdict::Accept,
        policy: ObservedPolicy {
            backend: ObservedBackend::Iptables,
            input_policy: verdict,
            open: walk.open,
            unknown: walk.unknown,
            notes: vec![format!("{family} INPUT: {}", verdict_word(verdict))],
        },
        nft_tables,
    })
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Accept => "accept",
        Verdict::Drop => "drop",
        Verdict::Reject => "reject",
    }
}

/// IPv4 and IPv6 together: a port open in either is open, and the default is the more
/// permissive of the two (IPv6 left at ACCEPT opens everything over IPv6).
fn merge_iptables(v4: Option<IptablesView>, v6: Option<IptablesView>) -> Option<IptablesView> {
    let views: Vec<IptablesView> = [v4, v6].into_iter().flatten().collect();
    let mut views = views.into_iter();
    let mut merged = views.next()?;
    for v in views {
        merged.filters |= v.filters;
        let rank = |p: Verdict| match p {
            Verdict::Accept => 2,
            Verdict::Reject => 1,
            Verdict::Drop => 0,
        };
        if rank(v.policy.input_policy) > rank(merged.policy.input_policy) {
            merged.policy.input_policy = v.policy.input_policy;
        }
        merged.policy.open.extend(v.policy.open);
        merged.policy.unknown.extend(v.policy.unknown);
        merged.policy.notes.extend(v.policy.notes);
        merged.nft_tables.extend(v.nft_tables);
    }
    merged.policy.open = normalize_open(std::mem::take(&mut merged.policy.open));
    Some(merged)
}

/// Splits an iptables-save line into words; `"..."` quotes (comments, log prefixes)
/// with `\"` escapes are one word.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => quoted = !quoted,
                '\\' if quoted => {
                    if let Some(n) = chars.next() {
                        word.push(n);
                    }
                }
                c if c.is_whitespace() && !quoted => break,
                c => word.push(c),
            }
        }
        words.push(word);
    }
    words
}

/// One `-A CHAIN ...` rule's options.
fn iptables_rule(words: &[&str], text: &str) -> Rule {
    let mut m = Match::default();
    let mut action = Action::Continue;
    let mut i = 0;
    let mut negate = false;
    let value = |i: usize| words.get(i + 1).copied().unwrap_or("");
    while i < words.len() {
        let w = words[i];
        let mut used = 2;
        if w == "!" {
            negate = true;
            i += 1;
            continue;
        }
        if negate && !matches!(w, "-j" | "--jump" | "-g" | "--goto") {
            m.unknown.push(format!("! {w} {}", value(i)));
            negate = false;
            i += 2;
            continue;
        }
        match w {
            "-p" | "--protocol" => match proto_of(value(i)) {
                Some(Some(p)) => set_protos(&mut m, vec![p]),
                Some(None) => set_protos(&mut m, Vec::new()),
                None if value(i) == "all" => {}
                None => m.unknown.push(format!("-p {}", value(i))),
            },
            "-s" | "--source" | "--src" => {
                let sources: Vec<String> = value(i).split(',').map(str::to_owned).collect();
                if !sources.iter().any(|s| is_anywhere(s)) {
                    m.sources = Some(sources);
                }
            }
            "-d" | "--destination" | "--dst" => {}
            "-i" | "--in-interface" => m.interface = Some(value(i).to_owned()),
            "-m" | "--match" => match value(i) {
                "tcp" | "udp" | "multiport" | "conntrack" | "state" | "comment" | "limit"
                | "icmp" | "icmp6" | "icmpv6" => {}
                other => {
                    // A match not understood, with all its options, as one entry.
                    let mut shown = format!("-m {other}");
                    used = 2;
                    while let Some(next) = words.get(i + used)
                        && !is_known_option(next)
                    {
                        shown.push(' ');
                        shown.push_str(next);
                        used += 1;
                    }
                    m.unknown.push(shown);
                }
            },
            "--dport" | "--destination-port" | "--dports" | "--destination-ports" => {
                match parse_port_list(value(i), ':') {
                    Some(p) => m.ports = Some(p),
                    None => m.unknown.push(format!("{w} {}", value(i))),
                }
            }
            "--ctstate" | "--state" => {
                let states: Vec<String> = value(i)
                    .split(',')
                    .map(|s| s.to_ascii_uppercase())
                    .collect();
                if states.iter().all(|s| s == "ESTABLISHED" || s == "RELATED") {
                    m.established_only = true;
                } else if states.iter().all(|s| s == "INVALID") {
                    m.invalid_only = true;
                }
            }
            "--comment" | "--icmp-type" | "--icmpv6-type" | "--limit" | "--limit-burst"
            | "--reject-with" | "--log-prefix" | "--log-level" => {}
            "--log-tcp-sequence" | "--log-tcp-options" | "--log-ip-options" | "--log-uid" => {
                used = 1
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                let target = value(i);
                let goto = matches!(w, "-g" | "--goto");
                action = match target {
                    "ACCEPT" => Action::Accept,
                    "DROP" => Action::Drop,
                    "REJECT" => Action::Reject,
                    "RETURN" => Action::Return,
                    "LOG" | "NFLOG" | "ULOG" => Action::Continue,
                    // A user chain, or a target the walk will report as not understood.
                    t if goto => Action::Goto(t.to_owned()),
                    t => Action::Jump(t.to_owned()),
                };
                if negate {
                    m.unknown.push(format!("! {w}"));
                    negate = false;
                }
            }
            other => {
                let mut shown = other.to_owned();
                used = 1;
                while let Some(next) = words.get(i + used)
                    && !next.starts_with('-')
                {
                    shown.push(' ');
                    shown.push_str(next);
                    used += 1;
                }
                m.unknown.push(shown);
            }
        }
        i += used;
    }
    Rule {
        matches: m,
        action,
        text: text.to_owned(),
    }
}

/// Options this reader knows, where the options of a match it does not know end.
fn is_known_option(word: &str) -> bool {
    matches!(
        word,
        "!" | "-p"
            | "--protocol"
            | "-s"
            | "--source"
            | "--src"
            | "-d"
            | "--destination"
            | "--dst"
            | "-i"
            | "--in-interface"
            | "-m"
            | "--match"
            | "-j"
            | "--jump"
            | "-g"
            | "--goto"
            | "--dport"
            | "--destination-port"
            | "--dports"
            | "--destination-ports"
            | "--ctstate"
            | "--state"
            | "--comment"
    )
}

/// `22`, `80,443`, `60000:61000` (iptables) or `60000-61000`: port ranges.
fn parse_port_list(text: &str, range_sep: char) -> Option<Vec<(u16, u16)>> {
    text.split(',')
        .map(|part| {
            let (a, b) = part.split_once(range_sep).unwrap_or((part, part));
            let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
            (a <= b).then_some((a, b))
        })
        .collect()
}

// ---- ufw: `ufw status verbose` -----------------------------------------------------

#[derive(Debug, Clone)]
struct UfwView {
    active: bool,
    policy: ObservedPolicy,
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
fn parse_ufw(body: &str) -> Result<UfwView, String> {
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

// ---- Drift -------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {{
            let exit: &str = include_str!(concat!(
                "../../tests/fixtures/probes/firewall/",
                $name,
                ".exit"
            ));
            (
                Some(exit.trim().parse::<u32>().expect("fixture exit status")),
                &include_bytes!(concat!(
                    "../../tests/fixtures/probes/firewall/",
                    $name,
                    ".stdout"
                ))[..],
                &include_bytes!(concat!(
                    "../../tests/fixtures/probes/firewall/",
                    $name,
                    ".stderr"
                ))[..],
            )
        }};
    }

    fn observe(f: (Option<u32>, &[u8], &[u8])) -> ObservedPolicy {
        parse_detection(f.0, f.1, f.2).expect("detection parses")
    }

    fn declared(input_policy: Verdict, allow: &[(u16, Protocol, &[&str])]) -> DeclaredPolicy {
        DeclaredPolicy {
            backend: FirewallBackend::Auto,
            input_policy,
            allow: allow
                .iter()
                .map(|(port, proto, from)| AllowRule {
                    port: *port,
                    proto: *proto,
                    from: from.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
        }
    }

    fn open(port: u16, end: Option<u16>, proto: Protocol, sources: &[&str]) -> OpenPort {
        OpenPort {
            port,
            port_end: end,
            proto,
            sources: sources.iter().map(|s| s.to_string()).collect(),
            interface: None,
        }
    }

    fn lab_declared() -> DeclaredPolicy {
        declared(
            Verdict::Drop,
            &[
                (22, Protocol::Tcp, &["10.89.0.1"]),
                (80, Protocol::Tcp, &[]),
                (443, Protocol::Tcp, &[]),
            ],
        )
    }

    use Protocol::{Tcp, Udp};

    #[test]
    fn detect_script_fixture_is_the_command() {
        assert_eq!(
            include_str!("../../tests/fixtures/probes/firewall/detect.sh"),
            DETECT_COMMAND,
            "generate-firewall.sh must run the command fleetdeck runs"
        );
    }

    #[test]
    fn lab_ruleset_drift_is_exactly_the_extra_port() {
        let f = fixture!("nft_lab");
        let report = report(&lab_declared(), f.0, f.1, f.2);
        assert_eq!(report.backend, Some(ObservedBackend::Nftables));
        assert_eq!(report.drift.len(), 1, "{:#?}", report.drift);
        let d = &report.drift[0];
        assert_eq!(
            (d.kind, d.severity, d.port, d.proto),
            (
                DriftKind::ExtraPort,
                Severity::Critical,
                Some(5432),
                Some(Tcp)
            )
        );
        assert_eq!(d.message, "5432/tcp is open from anywhere but not declared");
        assert_eq!(report.severity, Severity::Critical);
        assert!(report.unknown.is_empty());

        // The JSON the status command shows.
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["backend"], "nftables");
        assert_eq!(json["severity"], "critical");
        assert_eq!(json["drift"][0]["kind"], "extra_port");
        assert_eq!(json["drift"][0]["port"], 5432);
        assert_eq!(json["observed"]["input_policy"], "drop");

        // The same ruleset with the port declared: nothing to report.
        let mut with_5432 = lab_declared();
        with_5432.allow.push(AllowRule {
            port: 5432,
            proto: Tcp,
            from: vec![],
        });
        let report = super::report(&with_5432, f.0, f.1, f.2);
        assert_eq!(
            (report.severity, report.drift.len()),
            (Severity::Ok, 0),
            "{report:#?}"
        );
    }

    #[test]
    fn nft_sets_ranges_jumps_and_closing_reject() {
        let observed = observe(fixture!("nft_complex"));
        assert_eq!(observed.backend, ObservedBackend::Nftables);
        // Policy accept, but the last rule rejects everything left.
        assert_eq!(observed.input_policy, Verdict::Reject);
        assert_eq!(
            observed.open,
            vec![
                // From the named set via `jump mgmt_in`, and the ip6 rule.
                open(
                    22,
                    None,
                    Tcp,
                    &["10.0.0.0/24", "192.0.2.7", "2001:db8::/32"]
                ),
                // `th dport 53`: both protocols.
                open(53, None, Tcp, &[]),
                open(53, None, Udp, &[]),
                // `tcp dport @web`.
                open(80, None, Tcp, &[]),
                open(443, None, Tcp, &[]),
                OpenPort {
                    interface: Some("wg0".into()),
                    ..open(8080, None, Tcp, &[])
                },
                open(9100, None, Tcp, &["10.0.0.0/24", "192.0.2.7"]),
                open(60000, Some(61000), Udp, &[]),
            ],
            "23 is dropped before it is accepted; ct, lo and icmp rules open no port"
        );
        // The verdict map and the tcp-flags match are shown, not dropped.
        assert_eq!(observed.unknown.len(), 2, "{:#?}", observed.unknown);
        assert!(observed.unknown[0].starts_with("verdict map: nft inet filter chain input"));
        assert!(observed.unknown[1].contains("8443"));
        let report = compare(
            &declared(Verdict::Drop, &[(80, Tcp, &[]), (443, Tcp, &[])]),
            observed,
        );
        assert_eq!(report.severity, Severity::Critical);
        assert!(
            report
                .drift
                .iter()
                .any(|d| d.message == "60000-61000/udp is open from anywhere, none of it declared"),
            "{:#?}",
            report.drift
        );
        assert!(
            report
                .drift
                .iter()
                .any(|d| d.kind == DriftKind::DefaultPolicy && d.severity == Severity::Warning)
        );
    }

    #[test]
    fn iptables_is_read_from_iptables_save_not_from_nft_xt_expressions() {
        let observed = observe(fixture!("iptables"));
        assert_eq!(observed.backend, ObservedBackend::Iptables);
        assert_eq!(observed.input_policy, Verdict::Drop);
        assert_eq!(
            observed.open,
            vec![
                open(22, None, Tcp, &["10.0.0.1/32", "2001:db8::/32"]),
                open(80, None, Tcp, &[]),
                open(443, None, Tcp, &[]),
                open(8080, None, Tcp, &["192.168.0.0/16"]),
                open(60000, Some(61000), Udp, &[]),
            ]
        );
        assert_eq!(
            observed.unknown,
            vec![
                "IPv4: -A INPUT -p tcp -m tcp --dport 5432 -m recent --rcheck --name y --mask \
                 255.255.255.255 --rsource -j ACCEPT (not understood: -m recent --rcheck --name y \
                 --mask 255.255.255.255 --rsource)"
            ]
        );
        let report = compare(
            &declared(
                Verdict::Drop,
                &[
                    (22, Tcp, &["10.0.0.1", "2001:db8::/32"]),
                    (80, Tcp, &[]),
                    (443, Tcp, &[]),
                    (8080, Tcp, &["192.168.0.0/16"]),
                    (60000, Udp, &[]),
                ],
            ),
            observed,
        );
        assert_eq!(
            report.severity,
            Severity::Critical,
            "the udp range is wider than port 60000"
        );
        assert_eq!(report.drift.len(), 1, "{:#?}", report.drift);
    }

    #[test]
    fn ipv6_left_open_is_a_default_accept() {
        let report = report(
            &declared(Verdict::Drop, &[(22, Tcp, &[])]),
            fixture!("iptables_v6_open").0,
            fixture!("iptables_v6_open").1,
            fixture!("iptables_v6_open").2,
        );
        assert_eq!(report.severity, Severity::Critical);
        assert_eq!(report.drift[0].kind, DriftKind::DefaultPolicy);
        assert_eq!(
            report.drift[0].message,
            "incoming traffic is accepted by default (iptables); declared drop"
        );
        assert!(
            report
                .observed
                .unwrap()
                .notes
                .contains(&"IPv6 INPUT: accept".to_owned())
        );
    }

    #[test]
    fn ufw_when_active_is_read_from_its_own_status() {
        let observed = observe(fixture!("ufw"));
        assert_eq!(observed.backend, ObservedBackend::Ufw);
        assert_eq!(observed.input_policy, Verdict::Drop);
        assert_eq!(
            observed.open,
            vec![
                // 10.0.0.1 and then the OpenSSH profile from anywhere.
                open(22, None, Tcp, &[]),
                open(80, None, Tcp, &[]),
                open(443, None, Tcp, &[]),
                // LIMIT still lets connections in.
                open(2222, None, Tcp, &[]),
                // No protocol given: both.
                open(8080, None, Tcp, &["192.168.0.0/16"]),
                open(8080, None, Udp, &["192.168.0.0/16"]),
                OpenPort {
                    interface: Some("eth0".into()),
                    ..open(9000, None, Tcp, &[])
                },
                open(60000, Some(61000), Udp, &[]),
            ],
            "DENY 23, REJECT 25 and ALLOW OUT 53 open nothing"
        );
        assert!(observed.unknown.is_empty(), "{:?}", observed.unknown);
        let report = compare(
            &declared(
                Verdict::Drop,
                &[(22, Tcp, &["10.0.0.1"]), (80, Tcp, &[]), (443, Tcp, &[])],
            ),
            observed,
        );
        let kinds: Vec<(DriftKind, Option<u16>, Severity)> = report
            .drift
            .iter()
            .map(|d| (d.kind, d.port, d.severity))
            .collect();
        assert!(
            kinds.contains(&(DriftKind::WiderSource, Some(22), Severity::Critical)),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&(DriftKind::ExtraPort, Some(9000), Severity::Warning)),
            "interface-only: {kinds:?}"
        );
        assert!(kinds.contains(&(DriftKind::ExtraPort, Some(2222), Severity::Critical)));
    }

    #[test]
    fn no_firewall_at_all_is_everything_open() {
        let f = fixture!("none");
        let report = report(&lab_declared(), f.0, f.1, f.2);
        assert_eq!(report.backend, Some(ObservedBackend::None));
        assert_eq!(report.severity, Severity::Critical);
        assert_eq!(
            report.drift.len(),
            1,
            "no missing-rule noise when everything is open: {:#?}",
            report.drift
        );
        assert_eq!(
            report.drift[0].message,
            "incoming traffic is accepted by default (no firewall); declared drop"
        );
        assert_eq!(serde_json::to_value(&report).unwrap()["backend"], "none");
    }

    #[test]
    fn unreadable_firewall_is_unknown_not_absent() {
        let f = fixture!("not_root");
        let report = report(&lab_declared(), f.0, f.1, f.2);
        assert_eq!(report.severity, Severity::Unknown);
        assert_eq!(report.backend, None);
        let error = report.error.unwrap();
        assert!(
            error.starts_with("no firewall tool could be read: "),
            "{error}"
        );
        assert!(error.contains("sudo"), "{error}");
    }

    #[test]
    fn drift_kinds_and_severities() {
        let observed = |policy, open: Vec<OpenPort>| ObservedPolicy {
            backend: ObservedBackend::Nftables,
            input_policy: policy,
            open,
            unknown: vec![],
            notes: vec![],
        };
        let decl = declared(Verdict::Drop, &[(22, Tcp, &["10.0.0.1"]), (443, Tcp, &[])]);
        // Wider: a /16 where one address was declared.
        let d = drift(
            &decl,
            &observed(
                Verdict::Drop,
                vec![
                    open(22, None, Tcp, &["10.0.0.0/16"]),
                    open(443, None, Tcp, &[]),
                ],
            ),
        );
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(
            (d[0].kind, d[0].severity),
            (DriftKind::WiderSource, Severity::Critical)
        );
        assert_eq!(
            d[0].message,
            "22/tcp is open from 10.0.0.0/16; declared only from 10.0.0.1"
        );
        // Narrower and within: 10.0.0.1/32 is the declared address.
        let d = drift(
            &decl,
            &observed(
                Verdict::Drop,
                vec![
                    open(22, None, Tcp, &["10.0.0.1/32"]),
                    open(443, None, Tcp, &[]),
                ],
            ),
        );
        assert!(d.is_empty(), "{d:#?}");
        // Missing rule and narrower source: warnings.
        let d = drift(
            &decl,
            &observed(Verdict::Drop, vec![open(443, None, Tcp, &["192.0.2.0/24"])]),
        );
        let got: Vec<_> = d.iter().map(|d| (d.kind, d.severity, d.port)).collect();
        assert_eq!(
            got,
            vec![
                (DriftKind::MissingRule, Severity::Warning, Some(22)),
                (DriftKind::NarrowerSource, Severity::Warning, Some(443))
            ]
        );
        // Backend and drop-vs-reject: warnings; accept: critical.
        let mut ufw_declared = decl.clone();
        ufw_declared.backend = FirewallBackend::Ufw;
        let d = drift(
            &ufw_declared,
            &observed(
                Verdict::Reject,
                vec![
                    open(22, None, Tcp, &["10.0.0.1"]),
                    open(443, None, Tcp, &[]),
                ],
            ),
        );
        let got: Vec<_> = d.iter().map(|d| (d.kind, d.severity)).collect();
        assert_eq!(
            got,
            vec![
                (DriftKind::BackendMismatch, Severity::Warning),
                (DriftKind::DefaultPolicy, Severity::Warning)
            ]
        );
        assert_eq!(d[0].message, "declared backend ufw, found nftables");
        // Unknown constructs make the report at least unknown, even without drift.
        let mut o = observed(
            Verdict::Drop,
            vec![
                open(22, None, Tcp, &["10.0.0.1"]),
                open(443, None, Tcp, &[]),
            ],
        );
        o.unknown.push("something".into());
        assert_eq!(compare(&decl, o).severity, Severity::Unknown);
    }

    #[test]
    fn networks_contain_addresses_by_prefix() {
        assert!(network_contains("10.0.0.0/8", "10.1.2.3"));
        assert!(network_contains("10.0.0.0/8", "10.1.0.0/16"));
        assert!(!network_contains("10.1.0.0/16", "10.0.0.0/8"));
        assert!(network_contains("10.0.0.1", "10.0.0.1/32"));
        assert!(!network_contains("10.0.0.1", "10.0.0.0/24"));
        assert!(network_contains("2001:db8::/32", "2001:db8:1::5"));
        assert!(!network_contains("2001:db8::/32", "10.0.0.1"));
        assert!(network_contains("0.0.0.0/0", "192.0.2.1"));
        assert!(!network_contains("10.0.0.0/99", "10.0.0.1"));
        assert!(!network_contains("garbage", "10.0.0.1"));
    }

    #[test]
    fn iptables_words_keep_quoted_comments_whole() {
        assert_eq!(
            split_words(r#"-A INPUT -m comment --comment "ssh from the \"mgmt\" host" -j ACCEPT"#),
            vec![
                "-A",
                "INPUT",
                "-m",
                "comment",
                "--comment",
                r#"ssh from the "mgmt" host"#,
                "-j",
                "ACCEPT"
            ]
        );
    }

    #[test]
    fn hostile_detection_output_fails_cleanly() {
        let lab = fixture!("nft_lab");
        let text = std::str::from_utf8(lab.1).unwrap();
        let cut = &text[..text.len() - 10];
        let err = parse_detection(Some(0), cut.as_bytes(), b"").unwrap_err();
        assert!(err.contains("cut short"), "{err}");
        // JSON cut inside the nft section, markers intact.
        let json_at = text.find("{\"nftables\"").unwrap();
        let broken = format!(
            "{}{}",
            &text[..json_at + 200],
            &text[text.find("\n\n@@exit").unwrap()..]
        );
        // An unreadable nft is not an absent one: with nothing else filtering, the
        // detection fails rather than reporting "no firewall".
        let err = parse_detection(Some(0), broken.as_bytes(), b"").unwrap_err();
        assert!(err.contains("nft's JSON could not be read"), "{err}");
        for garbage in [
            &b""[..],
            b"\xff\xfe\x00",
            b"@@end",
            b"@@fleetdeck-firewall 1\n@@section nft\n{\"nftables\": 5}\n@@exit 0\n@@end\n",
        ] {
            let r = report(&lab_declared(), Some(0), garbage, b"");
            assert_ne!(r.severity, Severity::Ok, "{garbage:?}");
        }
        // Huge numbers, a jump loop, deep nesting: no panic, nothing invented.
        let hostile = r#"{"nftables": [
            {"chain": {"family": "inet", "table": "t", "name": "input", "type": "filter", "hook": "input", "prio": 99999999999999999999, "policy": "drop"}},
            {"chain": {"family": "inet", "table": "t", "name": "a"}},
            {"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 99999999}}, {"accept": null}]}},
            {"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"range": [500, 20]}}}, {"accept": null}]}},
            {"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [{"jump": {"target": "a"}}]}},
            {"rule": {"family": "inet", "table": "t", "chain": "a", "expr": [{"jump": {"target": "input"}}]}},
            {"rule": {"family": "inet", "table": "t", "chain": "input", "expr": "nonsense"}},
            {"rule": {"family": "inet", "table": "t", "chain": "input", "expr": [[[[[[[[[[]]]]]]]]]]}}
        ]}"#;
        let framed = format!(
            "@@fleetdeck-firewall 1\n@@section nft\n{}\n\n@@exit 0\n@@end\n",
            hostile.replace('\n', " ")
        );
        let observed = parse_detection(Some(0), framed.as_bytes(), b"").unwrap();
        assert!(observed.open.is_empty(), "{observed:#?}");
        assert!(observed.unknown.len() >= 4, "{:#?}", observed.unknown);
        let deep = format!(
            "@@fleetdeck-firewall 1\n@@section nft\n{}{}\n@@exit 0\n@@end\n",
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        assert!(parse_detection(Some(0), deep.as_bytes(), b"").is_err());
        // Control characters in names reach nothing raw.
        let evil = "@@fleetdeck-firewall 1\n@@section ufw\nStatus: active\nDefault: deny (incoming)\n--\n22/tcp on \x1b]0;x\x07eth0 ALLOW IN Anywhere\n\n@@exit 0\n@@end\n";
        let observed = parse_detection(Some(0), evil.as_bytes(), b"").unwrap();
        let shown = format!("{:?}", serde_json::to_string(&observed).unwrap());
        assert!(!shown.contains('\x1b'), "{shown}");
    }
}
