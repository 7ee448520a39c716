//! OpenSSH client configuration (`ssh_config`) resolution.
//!
//! fleetdeck reaches hosts the way the operator's own `ssh` would, so a host alias must
//! resolve to the same hostname, user, port, keys, jump chain and known-hosts files that
//! `ssh -G <alias>` (OpenSSH 9.2) reports. Parsing happens once per file; resolution
//! replays the directives whose `Host` conditions match an alias, first value winning.
//!
//! Deliberate limits, each reported rather than silently guessed:
//! - `Match` blocks are not evaluated. `Match all` behaves like `Host *`; any other
//!   `Match` line is reported as [`Unsupported`] and its block never applies.
//! - Directives fleetdeck does not implement are reported as [`Unsupported`], except the
//!   few in [`IGNORED_HARMLESS`] which cannot change where or how we connect.
//! - `~user/` paths and tokens other than `%h %p %r %u %d %n %%` are left as written.
//! - Relative `Include` paths are resolved under `~/.ssh`, as for a user configuration.
//! - [`ResolveEnv::from_process`] takes home and user from `$HOME`/`$USER`; `ssh` itself
//!   uses the password database ([`ResolveEnv::from_passwd`]). They differ only when the
//!   environment was changed deliberately.
//! - Like OpenSSH 9.2, `User`, `ProxyJump`, `HostKeyAlias` and `GlobalKnownHostsFile` are
//!   not token-expanded.

pub use super::pattern::wildcard_match;
use super::pattern::{HostPattern, matches_list};
use std::path::{Path, PathBuf};

/// OpenSSH's `READCONF_MAX_DEPTH`: how deep `Include` may nest before we call it a loop.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Directives that fleetdeck may ignore without connecting anywhere else or trusting
/// anything more: they only tune agent, forwarding, multiplexing or logging behaviour that
/// fleetdeck does not offer. Lowercase, as keywords are compared.
pub const IGNORED_HARMLESS: &[&str] = &[
    "addkeystoagent",
    "compression",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "forwardagent",
    "forwardx11",
    "forwardx11trusted",
    "hashknownhosts",
    "ignoreunknown",
    "loglevel",
    "requesttty",
    "sendenv",
    "tcpkeepalive",
    "usekeychain",
    "visualhostkey",
];

/// Identity files `ssh` tries when the configuration names none (OpenSSH 9.2 order).
const DEFAULT_IDENTITY_FILES: &[&str] = &[
    "~/.ssh/id_rsa",
    "~/.ssh/id_ecdsa",
    "~/.ssh/id_ecdsa_sk",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_ed25519_sk",
    "~/.ssh/id_xmss",
    "~/.ssh/id_dsa",
];
const DEFAULT_USER_KNOWN_HOSTS: &[&str] = &["~/.ssh/known_hosts", "~/.ssh/known_hosts2"];
const DEFAULT_GLOBAL_KNOWN_HOSTS: &[&str] =
    &["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"];
const DEFAULT_PORT: u16 = 22;
const DEFAULT_SERVER_ALIVE_COUNT_MAX: u32 = 3;

mod env;
mod error;
mod expand;
mod resolved;
mod words;

pub use env::ResolveEnv;
pub use error::{ConfigError, ConfigErrorKind, JumpChainError, JumpStep, MAX_JUMP_HOPS};
pub use resolved::{JumpHost, Overrides, ResolvedHost, StrictHostKeyChecking, Unsupported};

use expand::{expand_tilde, expand_tokens, glob_paths};
use words::{parse_setting, split_line};

/// The typed value of one supported directive, validated when the file is read so a bad
/// value is reported even inside a block that does not match (as `ssh` does).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Setting {
    HostName(String),
    User(String),
    Port(u16),
    IdentityFile(String),
    IdentitiesOnly(bool),
    /// `None` for `ProxyJump none`, which still counts as the first obtained value.
    ProxyJump(Option<Vec<JumpHost>>),
    UserKnownHostsFile(Vec<String>),
    GlobalKnownHostsFile(Vec<String>),
    StrictHostKeyChecking(StrictHostKeyChecking),
    ServerAliveInterval(u32),
    ServerAliveCountMax(u32),
    /// `None` for `ConnectTimeout none`, which OpenSSH treats as not set at all.
    ConnectTimeout(Option<u32>),
    HostKeyAlias(String),
}

/// What a `Host` (or `Match`) line makes the following directives depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Host(Vec<HostPattern>),
    /// An unsupported `Match`: its directives never apply.
    Never,
}

impl Condition {
    /// OpenSSH semantics: any negated match vetoes the block, otherwise one positive match
    /// suffices. Matching is case-sensitive against the alias as typed.
    fn matches(&self, alias: &str) -> bool {
        let Condition::Host(patterns) = self else {
            return false;
        };
        matches_list(patterns, alias)
    }
}

#[derive(Debug, Clone)]
struct Directive {
    /// Indices into `SshConfig::conditions`; all must match (nested via `Include`).
    conditions: Vec<usize>,
    setting: Setting,
    /// Where it is written, for errors that only resolution can find (ProxyJump loops).
    file: PathBuf,
    line: usize,
}

/// A parsed configuration: every supported directive in file order, with the `Host`
/// conditions it sits under, ready to be resolved for any alias.
#[derive(Debug, Clone)]
pub struct SshConfig {
    conditions: Vec<Condition>,
    directives: Vec<Directive>,
    unsupported: Vec<Unsupported>,
    env: ResolveEnv,
}

impl SshConfig {
    /// Reads a user configuration (`~/.ssh/config` or `-F`), with `$HOME`/`$USER`.
    pub fn parse_file(path: &Path) -> Result<SshConfig, ConfigError> {
        SshConfig::parse_file_with_env(path, ResolveEnv::from_process())
    }

    pub fn parse_file_with_env(path: &Path, env: ResolveEnv) -> Result<SshConfig, ConfigError> {
        let text = read_config(path, None)?;
        SshConfig::parse_str_with_env(&text, path, env)
    }

    /// Parses `text` as if read from `origin`, which only names it in errors and reports.
    pub fn parse_str(text: &str, origin: &Path) -> Result<SshConfig, ConfigError> {
        SshConfig::parse_str_with_env(text, origin, ResolveEnv::from_process())
    }

    pub fn parse_str_with_env(
        text: &str,
        origin: &Path,
        env: ResolveEnv,
    ) -> Result<SshConfig, ConfigError> {
        let mut config = SshConfig {
            conditions: Vec::new(),
            directives: Vec::new(),
            unsupported: Vec::new(),
            env,
        };
        config.parse_into(text, origin, &[], 0)?;
        Ok(config)
    }

    /// Directives fleetdeck ignores, in file order, each (file, line) once.
    pub fn unsupported(&self) -> &[Unsupported] {
        &self.unsupported
    }

    /// Follows `resolved`'s ProxyJump chain through the configuration, as connecting
    /// will (the first hop of each chain is reached through its own configured chain;
    /// the others through the hops before them), and refuses a chain that comes back
    /// to a host already on it or has more than [`MAX_JUMP_HOPS`] hops in all. Nothing
    /// is connected; the answer is the number of hops.
    pub fn check_jump_chain(&self, resolved: &ResolvedHost) -> Result<usize, JumpChainError> {
        let (configured, at) = self.configured_proxy_jump(&resolved.alias);
        let mut steps = vec![JumpStep {
            alias: resolved.alias.clone(),
            chain: resolved.proxy_jump.clone(),
            at: at.filter(|_| configured == resolved.proxy_jump),
        }];
        let mut hops = 0;
        loop {
            let chain = &steps[steps.len() - 1].chain;
            let Some(first) = chain.first() else {
                return Ok(hops);
            };
            hops += chain.len();
            let next = first.host.clone();
            if steps.iter().any(|step| step.alias == next) {
                return Err(JumpChainError::Loop { steps, again: next });
            }
            if hops > MAX_JUMP_HOPS {
                return Err(JumpChainError::TooLong { steps, hops });
            }
            let (chain, at) = self.configured_proxy_jump(&next);
            steps.push(JumpStep {
                alias: next,
                chain,
                at,
            });
        }
    }

    /// The `ProxyJump` that applies to `alias` (empty for none or `none`), and where it
    /// is written. User and port overrides cannot change it: only `Host` lines select.
    fn configured_proxy_jump(&self, alias: &str) -> (Vec<JumpHost>, Option<(PathBuf, usize)>) {
        let active: Vec<bool> = self.conditions.iter().map(|c| c.matches(alias)).collect();
        self.directives
            .iter()
            .filter(|d| d.conditions.iter().all(|&c| active[c]))
            .find_map(|d| match &d.setting {
                Setting::ProxyJump(chain) => Some((
                    chain.clone().unwrap_or_default(),
                    Some((d.file.clone(), d.line)),
                )),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Resolves `alias` with the environment captured at parse time.
    pub fn resolve(&self, alias: &str) -> ResolvedHost {
        self.resolve_with(alias, &self.env)
    }

    /// Resolves `alias` with an explicit home and local user.
    pub fn resolve_with(&self, alias: &str, env: &ResolveEnv) -> ResolvedHost {
        self.resolve_with_overrides(alias, &Overrides::default(), env)
    }

    /// Resolves `alias` as `ssh` does when the command line also sets options, which are
    /// read before any configuration file and so win (first obtained value). This is how
    /// Ansible hands inventory variables to `ssh`, and fleetdeck gives them the same
    /// precedence.
    pub fn resolve_with_overrides(
        &self,
        alias: &str,
        overrides: &Overrides,
        env: &ResolveEnv,
    ) -> ResolvedHost {
        let obtained = self.obtain_with(alias, overrides);
        let hostname = obtained
            .hostname
            .as_deref()
            .map(|name| expand_tokens(name, &[('h', alias)]))
            .unwrap_or_else(|| alias.to_owned())
            .to_lowercase();
        let user = obtained
            .user
            .clone()
            .unwrap_or_else(|| env.local_user.clone());
        let port = obtained.port.unwrap_or(DEFAULT_PORT);
        let home = env.home.to_string_lossy();
        let port_text = port.to_string();
        let tokens = [
            ('h', hostname.as_str()),
            ('p', port_text.as_str()),
            ('r', user.as_str()),
            ('u', env.local_user.as_str()),
            ('d', home.as_ref()),
            ('n', alias),
        ];
        let expand_path =
            |raw: &str| PathBuf::from(expand_tokens(&expand_tilde(raw, &env.home), &tokens));
        ResolvedHost {
            alias: alias.to_owned(),
            identity_files: obtained
                .identity_files_or_default()
                .iter()
                .map(|f| expand_path(f))
                .collect(),
            user_known_hosts_files: obtained
                .user_known_hosts_files_or_default()
                .iter()
                .map(|f| expand_path(f))
                .collect(),
            global_known_hosts_files: obtained
                .global_known_hosts_files_or_default()
                .iter()
                .map(PathBuf::from)
                .collect(),
            identities_only: obtained.identities_only.unwrap_or(false),
            proxy_jump: obtained.proxy_jump.clone().flatten().unwrap_or_default(),
            strict_host_key_checking: obtained
                .strict_host_key_checking
                .unwrap_or(StrictHostKeyChecking::Ask),
            server_alive_interval: obtained.server_alive_interval.unwrap_or(0),
            server_alive_count_max: obtained
                .server_alive_count_max
                .unwrap_or(DEFAULT_SERVER_ALIVE_COUNT_MAX),
            connect_timeout: obtained.connect_timeout,
            host_key_alias: obtained.host_key_alias.as_deref().map(str::to_lowercase),
            hostname,
            user,
            port,
        }
    }

    /// Replays the matching directives after the command-line `overrides`, first
    /// obtained value winning, nothing expanded.
    fn obtain_with(&self, alias: &str, overrides: &Overrides) -> Obtained {
        let active: Vec<bool> = self.conditions.iter().map(|c| c.matches(alias)).collect();
        let mut obtained = Obtained {
            port: overrides.port,
            user: overrides.user.clone(),
            identity_files: overrides.identity_files.clone(),
            ..Obtained::default()
        };
        let applies = |directive: &&Directive| directive.conditions.iter().all(|&c| active[c]);
        for directive in self.directives.iter().filter(applies) {
            obtained.take(&directive.setting);
        }
        obtained
    }

    fn parse_into(
        &mut self,
        text: &str,
        file: &Path,
        outer: &[usize],
        depth: usize,
    ) -> Result<(), ConfigError> {
        let mut current: Option<usize> = None;
        for (index, raw_line) in text.lines().enumerate() {
            let line = index + 1;
            let at = |kind| ConfigError {
                file: file.to_owned(),
                line: Some(line),
                kind,
            };
            let Some((keyword, args)) = split_line(raw_line).map_err(at)? else {
                continue;
            };
            let lower = keyword.to_ascii_lowercase();
            if args.is_empty() {
                return Err(at(ConfigErrorKind::MissingArgument { keyword }));
            }
            let conditions: Vec<usize> = outer.iter().copied().chain(current).collect();
            match lower.as_str() {
                "host" => {
                    let patterns = args.iter().map(|arg| HostPattern::parse(arg)).collect();
                    self.conditions.push(Condition::Host(patterns));
                    current = Some(self.conditions.len() - 1);
                }
                "match" => {
                    let condition = if args.len() == 1 && args[0].eq_ignore_ascii_case("all") {
                        Condition::Host(vec![HostPattern {
                            negated: false,
                            glob: "*".into(),
                        }])
                    } else {
                        self.report_unsupported(file, line, keyword);
                        Condition::Never
                    };
                    self.conditions.push(condition);
                    current = Some(self.conditions.len() - 1);
                }
                "include" => {
                    if depth >= MAX_INCLUDE_DEPTH {
                        return Err(at(ConfigErrorKind::IncludeTooDeep));
                    }
                    for pattern in &args {
                        for path in glob_paths(&self.include_path(pattern)) {
                            let text = read_config(&path, Some((file, line)))?;
                            self.parse_into(&text, &path, &conditions, depth + 1)?;
                        }
                    }
                }
                _ => match parse_setting(&lower, &keyword, &args).map_err(at)? {
                    Some(setting) => self.directives.push(Directive {
                        conditions,
                        setting,
                        file: file.to_owned(),
                        line,
                    }),
                    None if IGNORED_HARMLESS.contains(&lower.as_str()) => {}
                    None => self.report_unsupported(file, line, keyword),
                },
            }
        }
        Ok(())
    }

    fn report_unsupported(&mut self, file: &Path, line: usize, keyword: String) {
        let entry = Unsupported {
            file: file.to_owned(),
            line,
            keyword,
        };
        if !self.unsupported.contains(&entry) {
            self.unsupported.push(entry);
        }
    }

    /// `Include` paths: absolute, `~/…`, or relative to `~/.ssh` (user configuration).
    fn include_path(&self, pattern: &str) -> PathBuf {
        if pattern.starts_with('/') {
            PathBuf::from(pattern)
        } else if pattern.starts_with('~') {
            PathBuf::from(expand_tilde(pattern, &self.env.home))
        } else {
            self.env.home.join(".ssh").join(pattern)
        }
    }
}

/// Reads one configuration file; `included_from` locates the `Include` that named it.
fn read_config(path: &Path, included_from: Option<(&Path, usize)>) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|error| match included_from {
        Some((file, line)) => ConfigError {
            file: file.to_owned(),
            line: Some(line),
            kind: ConfigErrorKind::Io(std::io::Error::new(
                error.kind(),
                format!("Include {}: {error}", path.display()),
            )),
        },
        None => ConfigError {
            file: path.to_owned(),
            line: None,
            kind: ConfigErrorKind::Io(error),
        },
    })
}

/// First obtained values, unexpanded, exactly what `ssh -G` prints for unexpanded keys.
#[derive(Debug, Default)]
struct Obtained {
    hostname: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    identity_files: Vec<String>,
    identities_only: Option<bool>,
    proxy_jump: Option<Option<Vec<JumpHost>>>,
    user_known_hosts_files: Option<Vec<String>>,
    global_known_hosts_files: Option<Vec<String>>,
    strict_host_key_checking: Option<StrictHostKeyChecking>,
    server_alive_interval: Option<u32>,
    server_alive_count_max: Option<u32>,
    connect_timeout: Option<u32>,
    host_key_alias: Option<String>,
}

impl Obtained {
    fn take(&mut self, setting: &Setting) {
        fn first<T: Clone>(slot: &mut Option<T>, value: &T) {
            if slot.is_none() {
                *slot = Some(value.clone());
            }
        }
        match setting {
            Setting::HostName(v) => first(&mut self.hostname, v),
            Setting::User(v) => first(&mut self.user, v),
            Setting::Port(v) => first(&mut self.port, v),
            Setting::IdentityFile(v) => self.identity_files.push(v.clone()),
            Setting::IdentitiesOnly(v) => first(&mut self.identities_only, v),
            Setting::ProxyJump(v) => first(&mut self.proxy_jump, v),
            Setting::UserKnownHostsFile(v) => first(&mut self.user_known_hosts_files, v),
            Setting::GlobalKnownHostsFile(v) => first(&mut self.global_known_hosts_files, v),
            Setting::StrictHostKeyChecking(v) => first(&mut self.strict_host_key_checking, v),
            Setting::ServerAliveInterval(v) => first(&mut self.server_alive_interval, v),
            Setting::ServerAliveCountMax(v) => first(&mut self.server_alive_count_max, v),
            Setting::ConnectTimeout(Some(v)) => first(&mut self.connect_timeout, v),
            // OpenSSH stores `none` as its "unset" sentinel, so a later value still wins.
            Setting::ConnectTimeout(None) => {}
            Setting::HostKeyAlias(v) => first(&mut self.host_key_alias, v),
        }
    }

    /// The defaults apply only when no `IdentityFile` matched at all, as in OpenSSH.
    fn identity_files_or_default(&self) -> Vec<String> {
        if self.identity_files.is_empty() {
            DEFAULT_IDENTITY_FILES
                .iter()
                .map(|f| f.to_string())
                .collect()
        } else {
            self.identity_files.clone()
        }
    }

    fn user_known_hosts_files_or_default(&self) -> Vec<String> {
        or_defaults(&self.user_known_hosts_files, DEFAULT_USER_KNOWN_HOSTS)
    }

    fn global_known_hosts_files_or_default(&self) -> Vec<String> {
        or_defaults(&self.global_known_hosts_files, DEFAULT_GLOBAL_KNOWN_HOSTS)
    }
}

/// The configured list, or OpenSSH's defaults when the directive never appeared.
fn or_defaults(configured: &Option<Vec<String>>, defaults: &[&str]) -> Vec<String> {
    configured
        .clone()
        .unwrap_or_else(|| defaults.iter().map(|f| f.to_string()).collect())
}

#[cfg(test)]
mod tests;
