//! Host firewalls: nftables, ufw or iptables, normalized into one policy and compared
//! with the declared one.
//!
//! One exec of `DETECT_COMMAND` (as root, or through `sudo -n`) dumps whatever of
//! nftables, ufw and iptables the host has, in marked sections; `parse_detection`
//! (`detect.rs`) normalizes the active one into an `ObservedPolicy`, `drift`
//! (`drift.rs`) compares it with the declared policy and `report` does both.
//! Everything but the command is pure. This file holds the model (declared and
//! observed) and the entry points; each tool's reader has its own file (`nft.rs`,
//! `iptables.rs`, `ufw.rs`) and they share the rule walk in `rules.rs`.

mod detect;
mod docker;
mod drift;
mod iptables;
mod nft;
mod rules;
mod ufw;

/// The most of a tool's text a note or error quotes.
const MAX_TEXT_CHARS: usize = 400;

/// `text` on one line, sanitized, at most `MAX_TEXT_CHARS` characters.
fn excerpt(text: &str) -> String {
    crate::sanitize::head(crate::sanitize::joined(text), MAX_TEXT_CHARS)
}

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use super::Severity;

pub use detect::parse_detection;
pub use docker::{PublishedPort, docker_published_drift, is_all_addresses};
pub use drift::{drift, network_contains};

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

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Accept => "accept",
        Verdict::Drop => "drop",
        Verdict::Reject => "reject",
    }
}

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
    /// A port Docker publishes on all addresses that the policy does not allow from
    /// anywhere: Docker's own chains accept it before the host's filter rules (ufw's
    /// included) see it, so it is open whatever those say (critical).
    DockerPublished,
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
