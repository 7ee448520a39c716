//! What resolving an alias gives: the host to connect to, its jump hosts, the
//! directives that were not acted on, and the command-line overrides applied first.

use std::fmt;
use std::path::PathBuf;

/// A directive fleetdeck does not act on; the caller reports each one once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub file: PathBuf,
    pub line: usize,
    /// As written in the file, so the report matches what the operator sees.
    pub keyword: String,
}

/// `StrictHostKeyChecking` as configured; fleetdeck decides what `Ask` means for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    Yes,
    No,
    Ask,
    AcceptNew,
}

/// Options given on `ssh`'s command line (`-p`, `-l`, `-i`): they are obtained before
/// the configuration files, so they win; `-i` files come before configured ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub port: Option<u16>,
    pub user: Option<String>,
    /// Unexpanded, like a configured `IdentityFile` (`~` and tokens are expanded later).
    pub identity_files: Vec<String>,
}

/// One hop of a `ProxyJump` chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl fmt::Display for JumpHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Everything fleetdeck needs to connect to one alias, defaults filled in as `ssh -G` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedHost {
    /// The name the operator typed (`%n`).
    pub alias: String,
    /// Lowercased, as `ssh` lowercases it before connecting and matching host keys.
    pub hostname: String,
    pub user: String,
    pub port: u16,
    pub identity_files: Vec<PathBuf>,
    pub identities_only: bool,
    /// Empty when there is no jump chain (unset or `ProxyJump none`).
    pub proxy_jump: Vec<JumpHost>,
    pub user_known_hosts_files: Vec<PathBuf>,
    /// Not tilde- or token-expanded: OpenSSH 9.2 uses these paths as written.
    pub global_known_hosts_files: Vec<PathBuf>,
    pub strict_host_key_checking: StrictHostKeyChecking,
    /// Seconds; 0 disables keepalives.
    pub server_alive_interval: u32,
    pub server_alive_count_max: u32,
    /// Seconds; `None` (or 0, as in ssh) leaves it to the system TCP timeout.
    pub connect_timeout: Option<u32>,
    /// Lowercased, as `ssh` does before looking it up in known_hosts.
    pub host_key_alias: Option<String>,
}

impl StrictHostKeyChecking {
    /// The spelling `ssh -G` prints.
    pub fn as_ssh_g(self) -> &'static str {
        match self {
            StrictHostKeyChecking::Yes => "true",
            StrictHostKeyChecking::No => "false",
            StrictHostKeyChecking::Ask => "ask",
            StrictHostKeyChecking::AcceptNew => "accept-new",
        }
    }
}
