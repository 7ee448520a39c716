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
use std::ffi::{CStr, OsStr};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
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

/// The local facts resolution depends on; injected so tests do not depend on the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveEnv {
    /// Expands `~`, `%d`, and anchors relative `Include` paths (`~/.ssh/<path>`).
    pub home: PathBuf,
    /// `%u`, and the remote user when the configuration sets none.
    pub local_user: String,
}

impl ResolveEnv {
    /// `$HOME` and `$USER`, falling back to the password database for whichever is unset.
    pub fn from_process() -> ResolveEnv {
        let passwd = passwd_entry();
        let home = std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(PathBuf::from)
            .or_else(|| passwd.as_ref().map(|(_, dir)| dir.clone()))
            .unwrap_or_else(|| PathBuf::from("/"));
        let local_user = std::env::var("USER")
            .ok()
            .filter(|user| !user.is_empty())
            .or_else(|| passwd.map(|(name, _)| name))
            .unwrap_or_default();
        ResolveEnv { home, local_user }
    }

    /// The password-database entry of the current uid: what `ssh` itself uses for `~`,
    /// `%d`, `%u` and the default user, regardless of `$HOME`/`$USER`.
    pub fn from_passwd() -> Option<ResolveEnv> {
        passwd_entry().map(|(local_user, home)| ResolveEnv { home, local_user })
    }
}

/// Name and home directory of the current uid, via the re-entrant `getpwuid_r`.
fn passwd_entry() -> Option<(String, PathBuf)> {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `passwd` is plain old data; an all-zero value is valid and is only read
    // after `getpwuid_r` has filled it in.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live, correctly sized local storage; `buffer.len()`
    // is the capacity `getpwuid_r` may write into.
    let status = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    if status != 0 || found.is_null() || entry.pw_name.is_null() || entry.pw_dir.is_null() {
        return None;
    }
    // SAFETY: on success both fields point at NUL-terminated strings inside `buffer`,
    // which outlives these borrows.
    let (name, dir) = unsafe { (CStr::from_ptr(entry.pw_name), CStr::from_ptr(entry.pw_dir)) };
    Some((
        name.to_string_lossy().into_owned(),
        PathBuf::from(OsStr::from_bytes(dir.to_bytes())),
    ))
}

/// A configuration problem that `ssh` would also refuse, located by file and line.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    /// `None` when the file as a whole could not be read.
    pub line: Option<usize>,
    pub kind: ConfigErrorKind,
}

#[derive(Debug)]
pub enum ConfigErrorKind {
    Io(std::io::Error),
    MissingArgument {
        keyword: String,
    },
    ExtraArguments {
        keyword: String,
    },
    InvalidValue {
        keyword: String,
        value: String,
        expected: &'static str,
    },
    UnterminatedQuote,
    IncludeTooDeep,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        match &self.kind {
            ConfigErrorKind::Io(error) => write!(f, ": cannot read: {error}"),
            ConfigErrorKind::MissingArgument { keyword } => write!(f, ": {keyword} needs a value"),
            ConfigErrorKind::ExtraArguments { keyword } => {
                write!(f, ": {keyword} takes a single value")
            }
            ConfigErrorKind::InvalidValue {
                keyword,
                value,
                expected,
            } => {
                write!(f, ": {keyword} {value:?} is not {expected}")
            }
            ConfigErrorKind::UnterminatedQuote => write!(f, ": unterminated quote"),
            ConfigErrorKind::IncludeTooDeep => {
                write!(
                    f,
                    ": Include nested deeper than {MAX_INCLUDE_DEPTH} (a loop?)"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ConfigErrorKind::Io(error) => Some(error),
            _ => None,
        }
    }
}

/// How many hops a ProxyJump chain may have in all, the jump hosts' own chains
/// included. A longer chain is refused when it is resolved, before anything connects.
pub const MAX_JUMP_HOPS: usize = 8;

/// One host whose `ProxyJump` is followed while a chain is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpStep {
    pub alias: String,
    /// Its chain, as written.
    pub chain: Vec<JumpHost>,
    /// The `ProxyJump` line that set it; `None` when it came from somewhere else.
    pub at: Option<(PathBuf, usize)>,
}

/// A ProxyJump chain that cannot be connected: it comes back to a host already on it,
/// or it is longer than [`MAX_JUMP_HOPS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JumpChainError {
    /// Following the chain from `steps[0]` reached `again`, already one of the steps.
    Loop {
        steps: Vec<JumpStep>,
        again: String,
    },
    TooLong {
        steps: Vec<JumpStep>,
        hops: usize,
    },
}

impl JumpChainError {
    pub fn steps(&self) -> &[JumpStep] {
        match self {
            JumpChainError::Loop { steps, .. } | JumpChainError::TooLong { steps, .. } => steps,
        }
    }
}

impl fmt::Display for JumpChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps = self.steps();
        let mut path: Vec<&str> = steps.iter().map(|s| s.alias.as_str()).collect();
        match self {
            JumpChainError::Loop { again, .. } => {
                path.push(again);
                write!(f, "ProxyJump loop: {}", path.join(" \u{2192} "))?;
            }
            JumpChainError::TooLong { hops, .. } => write!(
                f,
                "ProxyJump chain of {} has {hops} hops, more than {MAX_JUMP_HOPS} ({})",
                path[0],
                path.join(" \u{2192} ")
            )?,
        }
        let origins: Vec<String> = steps
            .iter()
            .map(|step| {
                let chain: Vec<String> = step.chain.iter().map(ToString::to_string).collect();
                let mut text = format!("{}: ProxyJump {}", step.alias, chain.join(","));
                if let Some((file, line)) = &step.at {
                    text.push_str(&format!(" at {} line {line}", file.display()));
                }
                text
            })
            .collect();
        write!(f, " ({})", origins.join("; "))
    }
}

impl std::error::Error for JumpChainError {}

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

/// Splits one line into keyword and arguments the way OpenSSH does: the keyword ends at
/// whitespace or a single `=`, arguments honour quotes and backslash escapes, and a `#`
/// starting an argument ends the line. `None` for blank and comment lines.
fn split_line(line: &str) -> Result<Option<(String, Vec<String>)>, ConfigErrorKind> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let keyword_end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..keyword_end].to_owned();
    let mut rest = line[keyword_end..].trim_start();
    if let Some(after_equals) = rest.strip_prefix('=') {
        rest = after_equals.trim_start();
    }
    Ok(Some((keyword, split_arguments(rest)?)))
}

/// OpenSSH's `argv_split` with comment termination.
fn split_arguments(text: &str) -> Result<Vec<String>, ConfigErrorKind> {
    let mut arguments = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(arguments),
            Some(_) => {}
        }
        let mut argument = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&next @ ('\'' | '"' | '\\')) => {
                        argument.push(next);
                        chars.next();
                    }
                    Some(&' ') if quote.is_none() => {
                        argument.push(' ');
                        chars.next();
                    }
                    _ => argument.push('\\'),
                },
                '"' | '\'' if quote.is_none() => quote = Some(c),
                _ if quote == Some(c) => quote = None,
                _ if quote.is_none() && c.is_whitespace() => break,
                _ => argument.push(c),
            }
        }
        if quote.is_some() {
            return Err(ConfigErrorKind::UnterminatedQuote);
        }
        arguments.push(argument);
    }
}

/// Parses a supported directive's value; `Ok(None)` for keywords fleetdeck does not handle.
fn parse_setting(
    lower: &str,
    keyword: &str,
    args: &[String],
) -> Result<Option<Setting>, ConfigErrorKind> {
    let single = || match args {
        [value] => Ok(value.as_str()),
        _ => Err(ConfigErrorKind::ExtraArguments {
            keyword: keyword.to_owned(),
        }),
    };
    let invalid = |value: &str, expected| ConfigErrorKind::InvalidValue {
        keyword: keyword.to_owned(),
        value: value.to_owned(),
        expected,
    };
    let time = |value: &str| {
        parse_seconds(value).ok_or_else(|| invalid(value, "a time (e.g. 30, 5m, 1h30m)"))
    };
    let setting = match lower {
        "hostname" => Setting::HostName(single()?.to_owned()),
        "user" => Setting::User(single()?.to_owned()),
        "port" => {
            let value = single()?;
            match value.parse::<u16>() {
                Ok(port) if port > 0 => Setting::Port(port),
                _ => return Err(invalid(value, "a port number (1-65535)")),
            }
        }
        "identityfile" => Setting::IdentityFile(single()?.to_owned()),
        "identitiesonly" => {
            let value = single()?;
            Setting::IdentitiesOnly(parse_flag(value).ok_or_else(|| invalid(value, "yes or no"))?)
        }
        "proxyjump" => {
            let value = single()?;
            if value == "none" {
                Setting::ProxyJump(None)
            } else {
                let chain = value
                    .split(',')
                    .map(parse_jump_host)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| invalid(value, "a list of [user@]host[:port]"))?;
                Setting::ProxyJump(Some(chain))
            }
        }
        "userknownhostsfile" => Setting::UserKnownHostsFile(args.to_vec()),
        "globalknownhostsfile" => Setting::GlobalKnownHostsFile(args.to_vec()),
        "stricthostkeychecking" => {
            let value = single()?;
            let mode = match value.to_ascii_lowercase().as_str() {
                "yes" | "true" => StrictHostKeyChecking::Yes,
                "no" | "false" | "off" => StrictHostKeyChecking::No,
                "ask" => StrictHostKeyChecking::Ask,
                "accept-new" => StrictHostKeyChecking::AcceptNew,
                _ => return Err(invalid(value, "yes, no, ask, accept-new or off")),
            };
            Setting::StrictHostKeyChecking(mode)
        }
        "serveraliveinterval" => Setting::ServerAliveInterval(time(single()?)?),
        "serveralivecountmax" => {
            let value = single()?;
            Setting::ServerAliveCountMax(value.parse().map_err(|_| invalid(value, "a number"))?)
        }
        "connecttimeout" => {
            let value = single()?;
            if value.eq_ignore_ascii_case("none") {
                Setting::ConnectTimeout(None)
            } else {
                Setting::ConnectTimeout(Some(time(value)?))
            }
        }
        "hostkeyalias" => Setting::HostKeyAlias(single()?.to_owned()),
        _ => return Ok(None),
    };
    Ok(Some(setting))
}

fn parse_flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// OpenSSH's `convtime`: a bare number of seconds, or number+unit groups (`1h30m`).
fn parse_seconds(value: &str) -> Option<u32> {
    if value.is_empty() {
        return None;
    }
    let mut total: u32 = 0;
    let mut rest = value;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: u32 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let mut units = rest.chars();
        let multiplier = match units.next() {
            None => 1,
            Some(unit) => {
                rest = units.as_str();
                match unit.to_ascii_lowercase() {
                    's' => 1,
                    'm' => 60,
                    'h' => 60 * 60,
                    'd' => 24 * 60 * 60,
                    'w' => 7 * 24 * 60 * 60,
                    _ => return None,
                }
            }
        };
        total = total.checked_add(number.checked_mul(multiplier)?)?;
    }
    i32::try_from(total).ok()?;
    Some(total)
}

/// One `ProxyJump` hop: `[user@]host[:port]`, `[user@][v6addr][:port]` or `ssh://…`.
fn parse_jump_host(text: &str) -> Option<JumpHost> {
    let text = text
        .strip_prefix("ssh://")
        .map(|uri| uri.trim_end_matches('/'))
        .unwrap_or(text);
    let (user, host_port) = match text.rsplit_once('@') {
        Some((user, rest)) if !user.is_empty() => (Some(user.to_owned()), rest),
        Some(_) => return None,
        None => (None, text),
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok().filter(|&p| p > 0)?),
        None => None,
    };
    Some(JumpHost {
        user,
        host: host.to_owned(),
        port,
    })
}

/// `~` or `~/…` to the home directory; `~user` is left as written.
fn expand_tilde(path: &str, home: &Path) -> String {
    let home = home.to_string_lossy();
    let home = home.trim_end_matches('/');
    if path == "~" {
        return home.to_owned();
    }
    match path.strip_prefix("~/") {
        Some(rest) => format!("{home}/{rest}"),
        None => path.to_owned(),
    }
}

/// `%x` tokens from `tokens`, `%%` to `%`; unknown tokens stay as written.
fn expand_tokens(text: &str, tokens: &[(char, &str)]) -> String {
    let mut expanded = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            expanded.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => expanded.push('%'),
            Some(token) => match tokens.iter().find(|(name, _)| *name == token) {
                Some((_, value)) => expanded.push_str(value),
                None => {
                    expanded.push('%');
                    expanded.push(token);
                }
            },
            None => expanded.push('%'),
        }
    }
    expanded
}

/// Expands `*`/`?` in each path component like glob(3): sorted, hidden entries only for
/// patterns that start with `.`, and nothing (not an error) when nothing matches.
fn glob_paths(pattern: &Path) -> Vec<PathBuf> {
    let mut candidates = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = component.as_os_str().to_string_lossy();
        if !part.contains(['*', '?']) {
            for candidate in &mut candidates {
                candidate.push(component);
            }
            continue;
        }
        let mut next = Vec::new();
        for directory in &candidates {
            let Ok(entries) = std::fs::read_dir(directory) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|entry| entry.ok())
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|name| !name.starts_with('.') || part.starts_with('.'))
                .filter(|name| wildcard_match(&part, name))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|name| directory.join(name)));
        }
        candidates = next;
    }
    candidates.retain(|path| path.exists());
    candidates
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

/// The configured list, or OpenSSH's defaults when the directive never appeared.
fn or_defaults(configured: &Option<Vec<String>>, defaults: &[&str]) -> Vec<String> {
    configured
        .clone()
        .unwrap_or_else(|| defaults.iter().map(|f| f.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::process::{Command, Stdio};

    fn test_env(home: &Path) -> ResolveEnv {
        ResolveEnv {
            home: home.to_owned(),
            local_user: "alice".into(),
        }
    }

    fn parse(text: &str) -> SshConfig {
        SshConfig::parse_str_with_env(
            text,
            Path::new("/test/config"),
            test_env(Path::new("/home/alice")),
        )
        .expect("config parses")
    }

    fn write(path: &Path, text: &str) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create config directory");
        }
        std::fs::write(path, text).expect("write config file");
    }

    #[test]
    fn host_pattern_lists_honour_negation() {
        let config = parse("Host web-* db1 !web-legacy\n  User fleet\n");
        assert_eq!(config.resolve("web-1").user, "fleet");
        assert_eq!(config.resolve("db1").user, "fleet");
        assert_eq!(config.resolve("web-legacy").user, "alice");
        assert_eq!(config.resolve("db2").user, "alice");
        // A negation alone never selects a block.
        assert_eq!(parse("Host !x\n User y\n").resolve("z").user, "alice");
    }

    #[test]
    fn lines_split_on_whitespace_equals_and_quotes() {
        let split = |line: &str| split_line(line).expect("line splits");
        let pair =
            |k: &str, v: &[&str]| Some((k.to_owned(), v.iter().map(|s| s.to_string()).collect()));
        assert_eq!(split("User bob"), pair("User", &["bob"]));
        assert_eq!(split("  User=bob"), pair("User", &["bob"]));
        assert_eq!(split("User = bob # comment"), pair("User", &["bob"]));
        assert_eq!(
            split("Host \"my host\" x#y"),
            pair("Host", &["my host", "x#y"])
        );
        assert_eq!(
            split("IdentityFile 'a b'\\ c"),
            pair("IdentityFile", &["a b c"])
        );
        assert_eq!(
            split("IdentityFile a\\\"b"),
            pair("IdentityFile", &["a\"b"])
        );
        assert_eq!(split("   # only a comment"), None);
        assert_eq!(split(""), None);
        assert!(matches!(
            split_line("User \"bob"),
            Err(ConfigErrorKind::UnterminatedQuote)
        ));
    }

    #[test]
    fn keywords_are_case_insensitive_and_first_value_wins() {
        let config = parse(
            "host a\n  PORT=2201\n  hostNAME \"a.example\"\n\
             Host *\n  Port 22\n  HostName other\n  User bob\n  User carol\n",
        );
        let a = config.resolve("a");
        assert_eq!(
            (a.port, a.hostname.as_str(), a.user.as_str()),
            (2201, "a.example", "bob")
        );
        assert_eq!(config.resolve("b").hostname, "other");
    }

    #[test]
    fn identity_files_accumulate_and_known_hosts_first_wins() {
        let config = parse(
            "Host a\n IdentityFile ~/.ssh/a\n UserKnownHostsFile /kh/1 /kh/2\n\
             Host *\n IdentityFile /keys/all\n UserKnownHostsFile /kh/ignored\n",
        );
        let a = config.resolve("a");
        assert_eq!(
            a.identity_files,
            [
                PathBuf::from("/home/alice/.ssh/a"),
                PathBuf::from("/keys/all")
            ]
        );
        assert_eq!(
            a.user_known_hosts_files,
            [PathBuf::from("/kh/1"), PathBuf::from("/kh/2")]
        );
        let defaults = parse("Host other\n IdentityFile /x\n").resolve("a");
        assert_eq!(defaults.identity_files.len(), DEFAULT_IDENTITY_FILES.len());
        assert_eq!(
            defaults.identity_files[0],
            PathBuf::from("/home/alice/.ssh/id_rsa")
        );
        assert_eq!(
            defaults.user_known_hosts_files,
            [
                PathBuf::from("/home/alice/.ssh/known_hosts"),
                PathBuf::from("/home/alice/.ssh/known_hosts2")
            ]
        );
    }

    #[test]
    fn defaults_match_ssh() {
        let host = parse("").resolve("Box");
        assert_eq!(host.hostname, "box");
        assert_eq!(host.alias, "Box");
        assert_eq!((host.user.as_str(), host.port), ("alice", 22));
        assert!(!host.identities_only);
        assert!(host.proxy_jump.is_empty());
        assert_eq!(host.strict_host_key_checking, StrictHostKeyChecking::Ask);
        assert_eq!(
            (host.server_alive_interval, host.server_alive_count_max),
            (0, 3)
        );
        assert_eq!((host.connect_timeout, host.host_key_alias), (None, None));
        assert_eq!(
            host.global_known_hosts_files,
            [
                PathBuf::from("/etc/ssh/ssh_known_hosts"),
                PathBuf::from("/etc/ssh/ssh_known_hosts2")
            ]
        );
    }

    #[test]
    fn tokens_expand_as_openssh() {
        let config = parse(
            "Host a\n HostName %h.example.com\n User bob\n Port 2200\n\
             IdentityFile ~/k_%h_%p_%r_%u_%n_%%_%x\n UserKnownHostsFile %d/kh ~\n",
        );
        let a = config.resolve("a");
        assert_eq!(a.hostname, "a.example.com");
        assert_eq!(
            a.identity_files,
            [PathBuf::from(
                "/home/alice/k_a.example.com_2200_bob_alice_a_%_%x"
            )]
        );
        assert_eq!(
            a.user_known_hosts_files,
            [
                PathBuf::from("/home/alice/kh"),
                PathBuf::from("/home/alice")
            ]
        );
        assert_eq!(expand_tilde("~bob/x", Path::new("/h")), "~bob/x");
        assert_eq!(expand_tokens("50%", &[]), "50%");
    }

    #[test]
    fn values_are_validated_with_file_line_and_keyword() {
        let error = SshConfig::parse_str_with_env(
            "Host a\n  User x\nHost b\n  Port abc\n",
            Path::new("/cfg"),
            test_env(Path::new("/h")),
        )
        .expect_err("Port abc is invalid");
        assert_eq!(
            (error.file.as_path(), error.line),
            (Path::new("/cfg"), Some(4))
        );
        assert!(
            matches!(&error.kind, ConfigErrorKind::InvalidValue { keyword, .. } if keyword == "Port")
        );
        assert_eq!(
            error.to_string(),
            "/cfg line 4: Port \"abc\" is not a port number (1-65535)"
        );
        for bad in [
            "Port 0",
            "Port 70000",
            "User",
            "User a b",
            "StrictHostKeyChecking maybe",
            "IdentitiesOnly perhaps",
            "ServerAliveInterval 5x",
            "ServerAliveCountMax -1",
            "ConnectTimeout soon",
            "ProxyJump host:port",
            "ProxyJump a,,b",
        ] {
            let result =
                SshConfig::parse_str_with_env(bad, Path::new("/cfg"), test_env(Path::new("/h")));
            let error = result.expect_err(bad);
            assert_eq!(error.line, Some(1), "{bad}");
        }
    }

    #[test]
    fn typed_values_parse() {
        let config = parse(
            "StrictHostKeyChecking off\nIdentitiesOnly Yes\nServerAliveInterval 1h30m\n\
             ServerAliveCountMax 9\nConnectTimeout 2m\nHostKeyAlias MiXeD\n\
             ProxyJump ops@j1:2200,[fe80::1]:23,ssh://u@j3:24,j4\n",
        );
        let host = config.resolve("x");
        assert_eq!(host.strict_host_key_checking, StrictHostKeyChecking::No);
        assert!(host.identities_only);
        assert_eq!(
            (host.server_alive_interval, host.server_alive_count_max),
            (5400, 9)
        );
        assert_eq!(host.connect_timeout, Some(120));
        assert_eq!(host.host_key_alias.as_deref(), Some("mixed"));
        let hops: Vec<String> = host.proxy_jump.iter().map(ToString::to_string).collect();
        assert_eq!(hops, ["ops@j1:2200", "[fe80::1]:23", "u@j3:24", "j4"]);
        assert_eq!(parse_seconds("90"), Some(90));
        assert_eq!(parse_seconds("1w"), Some(604_800));
        assert_eq!(parse_seconds(""), None);
        assert_eq!(parse_seconds("99999999999"), None);
    }

    #[test]
    fn proxy_jump_none_is_a_first_value() {
        let config = parse("Host a\n ProxyJump none\nHost *\n ProxyJump gate\n");
        assert!(config.resolve("a").proxy_jump.is_empty());
        assert_eq!(config.resolve("b").proxy_jump[0].host, "gate");
    }

    fn jump_check(config: &SshConfig, alias: &str) -> Result<usize, String> {
        config
            .check_jump_chain(&config.resolve(alias))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_proxy_jump_to_itself_is_a_loop_named_with_its_line() {
        let config = parse("Host other\n  User x\nHost a\n  ProxyJump a\n");
        let error = jump_check(&config, "a").expect_err("a loop");
        assert_eq!(
            error,
            "ProxyJump loop: a \u{2192} a (a: ProxyJump a at /test/config line 4)"
        );
        // Another host is not affected by the loop it does not use.
        assert_eq!(jump_check(&config, "other"), Ok(0));
    }

    #[test]
    fn a_two_host_cycle_is_a_loop_with_both_lines() {
        let config = parse("Host a\n  ProxyJump b\nHost b\n  ProxyJump ops@a:2222\n");
        let error = jump_check(&config, "a").expect_err("a loop");
        assert!(
            error.starts_with("ProxyJump loop: a \u{2192} b \u{2192} a ("),
            "{error}"
        );
        assert!(
            error.contains("a: ProxyJump b at /test/config line 2"),
            "{error}"
        );
        assert!(
            error.contains("b: ProxyJump ops@a:2222 at /test/config line 4"),
            "{error}"
        );
    }

    #[test]
    fn a_longer_cycle_reached_from_outside_is_named_from_the_target() {
        let config = parse(
            "Host t\n  ProxyJump a\nHost a\n  ProxyJump b\nHost b\n  ProxyJump c\n\
             Host c\n  ProxyJump a\n",
        );
        let error = jump_check(&config, "t").expect_err("a loop");
        assert!(
            error.starts_with("ProxyJump loop: t \u{2192} a \u{2192} b \u{2192} c \u{2192} a ("),
            "{error}"
        );
        assert!(
            error.contains("c: ProxyJump a at /test/config line 8"),
            "{error}"
        );
        // Through a later hop of a list: its first hop's chain comes back to the target.
        let config = parse("Host t\n  ProxyJump x,y\nHost x\n  ProxyJump t\n");
        let error = jump_check(&config, "t").expect_err("a loop");
        assert!(
            error.starts_with("ProxyJump loop: t \u{2192} x \u{2192} t ("),
            "{error}"
        );
        // A wildcard that also matches the jump host loops, as with ssh.
        let config = parse("Host *\n  ProxyJump gate\n");
        let error = jump_check(&config, "web").expect_err("a loop");
        assert!(
            error.starts_with("ProxyJump loop: web \u{2192} gate \u{2192} gate ("),
            "{error}"
        );
    }

    #[test]
    fn chains_up_to_the_limit_are_legitimate_and_one_more_is_refused() {
        // Eight hops, one nested chain per host: h0 → h1 → … → h8.
        let mut text = String::new();
        for i in 0..MAX_JUMP_HOPS {
            text.push_str(&format!("Host h{i}\n  ProxyJump h{}\n", i + 1));
        }
        let config = parse(&text);
        assert_eq!(jump_check(&config, "h0"), Ok(MAX_JUMP_HOPS));
        // Lists count every hop: 4 here, 4 in j1's own chain.
        let config = parse(
            "Host t\n  ProxyJump j1,j2,j3,j4\nHost j1\n  ProxyJump k1,k2,k3,k4\n\
             Host u\n  ProxyJump j1,j2,j3,j4,j5\n",
        );
        assert_eq!(jump_check(&config, "t"), Ok(8));
        let error = jump_check(&config, "u").expect_err("too long");
        assert!(
            error.starts_with("ProxyJump chain of u has 9 hops, more than 8 (u \u{2192} j1)"),
            "{error}"
        );
        assert!(
            error.contains("j1: ProxyJump k1,k2,k3,k4 at /test/config line 4"),
            "{error}"
        );
        // Nine nested hops.
        let mut text = String::new();
        for i in 0..=MAX_JUMP_HOPS {
            text.push_str(&format!("Host h{i}\n  ProxyJump h{}\n", i + 1));
        }
        let error = jump_check(&parse(&text), "h0").expect_err("too long");
        assert!(error.contains("has 9 hops"), "{error}");
    }

    #[test]
    fn chains_that_repeat_no_host_are_legitimate() {
        let config = parse(
            "Host web-*\n  ProxyJump inner\nHost inner\n  ProxyJump ops@bastion:2200\n\
             Host bastion\n  ProxyJump none\nHost *\n  ProxyJump bastion\n",
        );
        assert_eq!(jump_check(&config, "web-1"), Ok(2));
        assert_eq!(jump_check(&config, "inner"), Ok(1));
        assert_eq!(jump_check(&config, "bastion"), Ok(0));
        assert_eq!(jump_check(&config, "db"), Ok(1));
        // The rest of a list replaces a later hop's own chain, as with `ssh -J`: `b`'s
        // configured jump back to `t` is not followed.
        let config = parse("Host t\n  ProxyJump a,b\nHost b\n  ProxyJump t\n");
        assert_eq!(jump_check(&config, "t"), Ok(2));
    }

    #[test]
    fn include_globs_relative_absolute_and_conditional() {
        let home = tempfile::tempdir().expect("tempdir");
        let ssh_dir = home.path().join(".ssh");
        write(
            &ssh_dir.join("conf.d/10-web.conf"),
            "Port 2201\nHost web2\n  User web2user\n",
        );
        write(
            &ssh_dir.join("conf.d/20-key.conf"),
            "IdentityFile /keys/included\n",
        );
        write(&ssh_dir.join("conf.d/.hidden.conf"), "Port 1\n");
        let absolute = home.path().join("abs/extra.conf");
        write(&absolute, "HostKeyAlias included-alias\n");
        let main = ssh_dir.join("config");
        let text = format!(
            "Host web*\n  Include conf.d/*.conf\n  User web\nHost *\n  Include {}/ab?/*.conf\n  Port 22\n",
            home.path().display()
        );
        write(&main, &text);
        let config = SshConfig::parse_file_with_env(&main, test_env(home.path())).expect("parses");

        let web1 = config.resolve("web1");
        assert_eq!((web1.port, web1.user.as_str()), (2201, "web"));
        assert_eq!(web1.identity_files, [PathBuf::from("/keys/included")]);
        assert_eq!(web1.host_key_alias.as_deref(), Some("included-alias"));
        // A Host line inside the included file narrows, and the outer block resumes after.
        assert_eq!(config.resolve("web2").user, "web2user");
        // The outer Host block gates the whole include.
        let db = config.resolve("db");
        assert_eq!((db.port, db.user.as_str()), (22, "alice"));
        assert_eq!(db.identity_files.len(), DEFAULT_IDENTITY_FILES.len());
        assert_eq!(db.host_key_alias.as_deref(), Some("included-alias"));
        // A pattern matching nothing is fine, as in ssh.
        parse("Include /nonexistent/*.conf\n");
    }

    #[test]
    fn include_loops_are_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("loop.conf");
        write(&path, &format!("Include {}\n", path.display()));
        let error = SshConfig::parse_file_with_env(&path, test_env(dir.path())).expect_err("loops");
        assert!(matches!(error.kind, ConfigErrorKind::IncludeTooDeep));
        assert_eq!((error.file, error.line), (path, Some(1)));
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let error =
            SshConfig::parse_file(Path::new("/nonexistent/fleetdeck/config")).expect_err("missing");
        assert_eq!(error.line, None);
        assert!(
            error
                .to_string()
                .starts_with("/nonexistent/fleetdeck/config: cannot read")
        );
    }

    #[test]
    fn unsupported_directives_are_reported_once_with_location() {
        let dir = tempfile::tempdir().expect("tempdir");
        let included = dir.path().join("inc.conf");
        write(&included, "\nLocalForward 8080 localhost:80\n");
        let main = dir.path().join("config");
        let text = format!(
            "ForwardAgent yes\nCiphers aes128-ctr\nHost a\n  Include {inc}\n  Include {inc}\n\
             Match exec \"true\"\n  User m\nMatch all\n  Port 2\n",
            inc = included.display()
        );
        write(&main, &text);
        let config = SshConfig::parse_file_with_env(&main, test_env(dir.path())).expect("parses");
        let reported: Vec<(PathBuf, usize, &str)> = config
            .unsupported()
            .iter()
            .map(|u| (u.file.clone(), u.line, u.keyword.as_str()))
            .collect();
        assert_eq!(
            reported,
            [
                (main.clone(), 2, "Ciphers"),
                (included.clone(), 2, "LocalForward"),
                (main.clone(), 6, "Match"),
            ]
        );
        let host = config.resolve("a");
        assert_eq!(
            (host.user.as_str(), host.port),
            ("alice", 2),
            "Match exec never applies, Match all does"
        );
    }

    // ---- Comparison with the real `ssh -G` -------------------------------------------

    /// Runs `ssh -G -F <config> <alias>` (no connection is made) and collects its
    /// `key value` lines; repeated keys such as `identityfile` keep their order.
    fn ssh_g(config: &Path, alias: &str, options: &[String]) -> HashMap<String, Vec<String>> {
        let output = Command::new("ssh")
            .arg("-G")
            .arg("-F")
            .arg(config)
            .args(options.iter().flat_map(|o| ["-o", o.as_str()]))
            .arg(alias)
            .stdin(Stdio::null())
            .output()
            .expect("ssh (OpenSSH client) is installed");
        assert!(
            output.status.success(),
            "ssh -G {alias} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut settings: HashMap<String, Vec<String>> = HashMap::new();
        for line in String::from_utf8(output.stdout)
            .expect("ssh -G prints UTF-8")
            .lines()
        {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            settings
                .entry(key.to_ascii_lowercase())
                .or_default()
                .push(value.to_owned());
        }
        settings
    }

    /// Asserts our resolution of `alias` agrees with `ssh -G` on every field we model.
    /// `ssh -G` prints IdentityFile unexpanded (it expands at load time), so those are
    /// compared before expansion; UserKnownHostsFile is printed expanded, which checks
    /// our `~` and token expansion against OpenSSH's.
    fn assert_agrees_with_ssh(config_path: &Path, alias: &str, env: &ResolveEnv) {
        assert_agrees_with_ssh_overridden(config_path, alias, &Overrides::default(), env);
    }

    /// As above, with `overrides` passed to `ssh` the way Ansible passes inventory
    /// variables: `-o Port=`, `-o User=`, `-o IdentityFile=`.
    fn assert_agrees_with_ssh_overridden(
        config_path: &Path,
        alias: &str,
        overrides: &Overrides,
        env: &ResolveEnv,
    ) {
        let config = SshConfig::parse_file_with_env(config_path, env.clone()).expect("parses");
        let ours = config.resolve_with_overrides(alias, overrides, env);
        let raw = config.obtain_with(alias, overrides);
        let mut options: Vec<String> = overrides
            .port
            .map(|p| format!("Port={p}"))
            .into_iter()
            .chain(overrides.user.as_ref().map(|u| format!("User={u}")))
            .collect();
        options.extend(
            overrides
                .identity_files
                .iter()
                .map(|f| format!("IdentityFile={f}")),
        );
        let theirs = ssh_g(config_path, alias, &options);
        let one = |key: &str| theirs.get(key).and_then(|values| values.first()).cloned();
        let all = |key: &str| theirs.get(key).cloned().unwrap_or_default();
        let joined = |paths: &[PathBuf]| {
            paths
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let context = format!("alias {alias} in {}", config_path.display());
        assert_eq!(
            Some(ours.hostname.clone()),
            one("hostname"),
            "hostname, {context}"
        );
        assert_eq!(Some(ours.user.clone()), one("user"), "user, {context}");
        assert_eq!(Some(ours.port.to_string()), one("port"), "port, {context}");
        assert_eq!(
            raw.identity_files_or_default(),
            all("identityfile"),
            "identityfile, {context}"
        );
        let identities_only = if ours.identities_only { "yes" } else { "no" };
        assert_eq!(
            Some(identities_only.to_owned()),
            one("identitiesonly"),
            "identitiesonly, {context}"
        );
        let jumps = (!ours.proxy_jump.is_empty()).then(|| {
            ours.proxy_jump
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        });
        assert_eq!(jumps, one("proxyjump"), "proxyjump, {context}");
        assert_eq!(
            Some(joined(&ours.user_known_hosts_files)),
            one("userknownhostsfile"),
            "userknownhostsfile, {context}"
        );
        assert_eq!(
            Some(joined(&ours.global_known_hosts_files)),
            one("globalknownhostsfile"),
            "globalknownhostsfile, {context}"
        );
        assert_eq!(
            Some(ours.strict_host_key_checking.as_ssh_g().to_owned()),
            one("stricthostkeychecking"),
            "stricthostkeychecking, {context}"
        );
        assert_eq!(
            Some(ours.server_alive_interval.to_string()),
            one("serveraliveinterval"),
            "serveraliveinterval, {context}"
        );
        assert_eq!(
            Some(ours.server_alive_count_max.to_string()),
            one("serveralivecountmax"),
            "serveralivecountmax, {context}"
        );
        let timeout = ours
            .connect_timeout
            .map_or_else(|| "none".to_owned(), |s| s.to_string());
        assert_eq!(
            Some(timeout),
            one("connecttimeout"),
            "connecttimeout, {context}"
        );
        assert_eq!(
            ours.host_key_alias,
            one("hostkeyalias"),
            "hostkeyalias, {context}"
        );
    }

    /// `ssh` takes `~`, `%d`, `%u` and the default user from the password database, not
    /// from `$HOME`/`$USER`, so the comparison resolves with the same facts. Includes in
    /// these configs are absolute so they stay inside the tempdir.
    #[test]
    fn resolution_agrees_with_ssh_g() {
        let env = ResolveEnv::from_passwd().expect("current uid has a passwd entry");
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().display().to_string();
        write(
            &dir.path().join("inc/a.conf"),
            "Port 2022\nIdentitiesOnly yes\nStrictHostKeyChecking accept-new\n",
        );
        write(
            &dir.path().join("inc/b.conf"),
            "IdentityFile ~/.ssh/db_key\nHost db1\n  ConnectTimeout 3\n  ServerAliveCountMax 1\n",
        );
        write(&dir.path().join("inc/.hidden.conf"), "Port 1\n");
        write(
            &dir.path().join("inc2/web.conf"),
            "IdentityFile /keys/web_%h\nUser ignored\n",
        );
        let fleet = dir.path().join("fleet.conf");
        write(
            &fleet,
            &format!(
                "# the fleet\n\
                 Host web-* !web-legacy\n\
                 \x20   HostName %h.Prod.example.com\n\
                 \x20   User deploy\n\
                 \x20   Port 2222\n\
                 \x20   ConnectTimeout 0\n\
                 \x20   IdentityFile ~/.ssh/deploy_%r_%h\n\
                 \x20   ProxyJump bastion@jump1.example.com:2200,jump2\n\
                 \x20   Include {root}/inc?/*.conf\n\
                 \n\
                 Host web-legacy\n\
                 \x20   HostName 10.0.0.5\n\
                 \x20   StrictHostKeyChecking no\n\
                 \x20   UserKnownHostsFile=/dev/null\n\
                 \n\
                 Host db?\n\
                 \x20   Hostname = db.internal\n\
                 \x20   User=dba\n\
                 \x20   ProxyJump none\n\
                 \x20   UserKnownHostsFile ~/.ssh/kh_%n_%h_%p_%r_%u \"%d/second file\" %%literal\n\
                 \x20   Include {root}/inc/*.conf\n\
                 \n\
                 Host tok\n\
                 \x20   HostName %h-x.example\n\
                 \x20   HostKeyAlias TokAlias\n\
                 \x20   ServerAliveInterval 1m30s\n\
                 \x20   ConnectTimeout none\n\
                 \x20   StrictHostKeyChecking yes\n\
                 \n\
                 Host *\n\
                 \x20   IdentityFile ~/.ssh/fallback\n\
                 \x20   ServerAliveInterval 15\n\
                 \x20   ServerAliveCountMax 5\n\
                 \x20   ConnectTimeout 10\n\
                 \x20   GlobalKnownHostsFile /etc/fleet/known_hosts ~/unexpanded\n\
                 \x20   Port 22\n\
                 \x20   ProxyJump gate.example.com\n"
            ),
        );
        for alias in [
            "web-1",
            "WEB-2",
            "web-legacy",
            "db1",
            "db2",
            "dbxx",
            "tok",
            "other",
        ] {
            assert_agrees_with_ssh(&fleet, alias, &env);
        }

        // Without a catch-all block, every default comes from ssh itself.
        let sparse = dir.path().join("sparse.conf");
        write(
            &sparse,
            "Host solo\n  User soloist\n  IdentityFile /keys/solo\n",
        );
        for alias in ["solo", "nothing-configured"] {
            assert_agrees_with_ssh(&sparse, alias, &env);
        }

        // Inventory variables (ansible_port, ansible_user, ansible_ssh_private_key_file)
        // beat the configuration, and the inventory key is offered first.
        let inventory = Overrides {
            port: Some(2200),
            user: Some("ansible".to_owned()),
            identity_files: vec!["~/.ssh/inventory_%h".to_owned()],
        };
        for alias in ["web-1", "db1", "solo", "nothing-configured"] {
            let config = if alias == "solo" || alias == "nothing-configured" {
                &sparse
            } else {
                &fleet
            };
            assert_agrees_with_ssh_overridden(config, alias, &inventory, &env);
        }
    }
}
