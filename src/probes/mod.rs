//! What fleetdeck measures on each host, and how bad it is. Parsers here are pure
//! (bytes in, typed reports out); the commands that feed them run over the host's SSH
//! session in `fleet/`.

pub mod backup;
pub mod cert;
pub mod drill;
pub mod firewall;
pub mod host;
pub mod maintenance;
pub mod posture;

use serde::{Deserialize, Serialize};

/// How bad a signal is. Ordered from best to worst: a host's severity is the worst of
/// its signals, the fleet's the worst of its hosts. Not knowing is worse than a warning
/// (it may hide anything) and better than a known failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Unknown,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Unknown => "unknown",
            Severity::Critical => "critical",
        }
    }

    /// The worst of `severities`, `Ok` when there are none.
    pub fn worst(severities: impl IntoIterator<Item = Severity>) -> Severity {
        severities.into_iter().max().unwrap_or(Severity::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::ending::ExitCodeOf;

    #[test]
    fn worst_orders_critical_over_unknown_over_warning() {
        use Severity::*;
        assert_eq!(Severity::worst([Ok, Warning]), Warning);
        assert_eq!(Severity::worst([Warning, Unknown]), Unknown);
        assert_eq!(Severity::worst([Unknown, Critical, Ok]), Critical);
        assert_eq!(Severity::worst([]), Ok);
        assert_eq!(Unknown.exit_code(), 3);
    }
}
