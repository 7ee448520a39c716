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
