//! One SSH session per host, carrying everything fleetdeck does there: exec channels
//! for probes, `direct-streamlocal` channels to the Docker socket, and `direct-tcpip`
//! channels that tunnel the next hop of a ProxyJump chain.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use russh::client::{self, DisconnectReason};
use russh::keys::{Algorithm, PublicKeyOrCertificate};
use russh::{ChannelMsg, Preferred};
use tokio::sync::{Mutex, Semaphore, watch};

use super::auth::{self, AuthError, AuthSources, KeyStore};
use super::config::{
    JumpChainError, MAX_JUMP_HOPS, Overrides, ResolveEnv, ResolvedHost, SshConfig,
};
use super::hostkey::{Acceptance, HostKeyError, HostKeyPolicy, UnknownHosts};
use crate::docker::transport::{BoxedIo, OpenFuture, StreamOpener};

/// When the configuration sets no `ConnectTimeout`, `ssh` waits for the kernel's TCP
/// timeout (minutes). A console must say "unreachable" sooner than that.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Keepalives when the configuration sets no `ServerAliveInterval`: a dead host is then
/// noticed within 5 s × `ServerAliveCountMax` (3) = 15 s.
pub const DEFAULT_ALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// How many handshakes may be in flight at once, process-wide. A burst of new SSH
/// connections from one address trips `ufw limit` (6 per 30 s) and fail2ban.
pub const DEFAULT_CONCURRENT_HANDSHAKES: usize = 8;
/// The least time authentication (including a passphrase prompt) may take.
const AUTH_TIMEOUT: Duration = Duration::from_secs(120);

/// What every connection of a process shares: configuration, keys, the trust store,
/// the handshake limit and the jump-host sessions.
pub struct ConnectContext {
    pub ssh_config: SshConfig,
    pub env: ResolveEnv,
    pub keys: Arc<KeyStore>,
    /// `SSH_AUTH_SOCK`, if any.
    pub agent_socket: Option<PathBuf>,
    /// fleetdeck's own known_hosts (read after OpenSSH's; `accept-new` writes here).
    pub record_file: PathBuf,
    /// Overrides `StrictHostKeyChecking` for every host when set (a command-line flag).
    pub unknown_hosts: Option<UnknownHosts>,
    handshakes: Semaphore,
    /// Jump hosts are shared by every target behind them: fifty hosts behind one
    /// bastion make one bastion session, not fifty handshakes on it.
    jumps: Mutex<HashMap<String, Arc<Mutex<Option<Session>>>>>,
}

impl ConnectContext {
    pub fn new(
        ssh_config: SshConfig,
        env: ResolveEnv,
        keys: Arc<KeyStore>,
        record_file: PathBuf,
    ) -> ConnectContext {
        ConnectContext {
            ssh_config,
            env,
            keys,
            agent_socket: std::env::var_os("SSH_AUTH_SOCK")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            record_file,
            unknown_hosts: None,
            handshakes: Semaphore::new(DEFAULT_CONCURRENT_HANDSHAKES),
            jumps: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_handshake_limit(mut self, limit: usize) -> Self {
        self.handshakes = Semaphore::new(limit.max(1));
        self
    }

    /// The resolved configuration for an inventory host: `ansible_host` (else the
    /// inventory name) is what is looked up in ssh_config, and `ansible_port`,
    /// `ansible_user`, `ansible_ssh_private_key_file` win over it, as with Ansible.
    pub fn resolve(&self, inventory: &InventorySsh) -> ResolvedHost {
        let alias = inventory.host.as_deref().unwrap_or(&inventory.name);
        let overrides = Overrides {
            port: inventory.port,
            user: inventory.user.clone(),
            identity_files: inventory.private_key_file.iter().cloned().collect(),
        };
        self.ssh_config
            .resolve_with_overrides(alias, &overrides, &self.env)
    }
}

/// The SSH-related variables of one inventory host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InventorySsh {
    /// The inventory name, used in messages.
    pub name: String,
    /// `ansible_host`
    pub host: Option<String>,
    /// `ansible_port`
    pub port: Option<u16>,
    /// `ansible_user`
    pub user: Option<String>,
    /// `ansible_ssh_private_key_file`
    pub private_key_file: Option<String>,
    /// `fleetdeck_host_key`: a pinned `SHA256:...` fingerprint.
    pub host_key_pin: Option<String>,
}

/// Why a connection could not be made. Each says which hop failed.
#[derive(Debug)]
pub enum ConnectError {
    /// TCP or the tunnel through the previous hop.
    Transport {
        hop: String,
        error: String,
    },
    Timeout {
        hop: String,
        after: Duration,
    },
    HostKey(HostKeyError),
    Handshake {
        hop: String,
        error: String,
    },
    Auth(AuthError),
    /// A loop or an over-long chain in ssh_config, found before connecting anything.
    JumpChain(JumpChainError),
    /// A jump host met again while connecting (a safeguard; resolution refuses loops).
    JumpLoop {
        hop: String,
    },
}

impl ConnectError {
    /// Host-key refusals and authentication failures will not fix themselves; the
    /// reconnect loop waits longest after these.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ConnectError::HostKey(_)
                | ConnectError::Auth(_)
                | ConnectError::JumpChain(_)
                | ConnectError::JumpLoop { .. }
        )
    }
}

impl std::error::Error for ConnectError {}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Transport { hop, error } => write!(f, "cannot reach {hop}: {error}"),
            ConnectError::Timeout { hop, after } => write!(
                f,
                "no SSH handshake with {hop} within {}s (ConnectTimeout)",
                after.as_secs()
            ),
            ConnectError::HostKey(error) => write!(f, "{error}"),
            ConnectError::Handshake { hop, error } => {
                write!(f, "SSH handshake with {hop} failed: {error}")
            }
            ConnectError::Auth(error) => write!(f, "{error}"),
            ConnectError::JumpChain(error) => write!(f, "{error}"),
            ConnectError::JumpLoop { hop } => write!(
                f,
                "ProxyJump chain to {hop} comes back to a jump host on it or is longer than \
                 {MAX_JUMP_HOPS} hops (a loop in ssh_config?)"
            ),
        }
    }
}

/// Why an established session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub cause: String,
}

/// A live, authenticated SSH session. Cheap to clone; the connection closes when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    /// `user@host:port`, with ` via jump` for tunnelled sessions.
    label: String,
    handle: client::Handle<Client>,
    closed: watch::Receiver<Option<Closed>>,
    accepted: Acceptance,
    /// Keeps the jump session (and so the tunnel) alive as long as this one.
    _via: Option<Session>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Session({})", self.inner.label)
    }
}

impl Session {
    /// Connects to `resolved` (through its ProxyJump chain), checks the host key,
    /// authenticates. Jump sessions are shared through `ctx`. A chain that loops or is
    /// longer than [`MAX_JUMP_HOPS`] is refused before anything is connected.
    pub async fn connect(
        ctx: &Arc<ConnectContext>,
        resolved: &ResolvedHost,
        pin: Option<String>,
    ) -> Result<Session, ConnectError> {
        ctx.ssh_config
            .check_jump_chain(resolved)
            .map_err(ConnectError::JumpChain)?;
        connect_hop(ctx.clone(), resolved.clone(), pin, Vec::new()).await
    }

    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// Whether both are the same connection (not merely to the same host).
    pub fn same_connection(&self, other: &Session) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Which known_hosts line, CA or pin vouched for the host key.
    pub fn accepted_by(&self) -> &Acceptance {
        &self.inner.accepted
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.borrow().is_some() || self.inner.handle.is_closed()
    }

    /// Resolves when the connection ends, with the cause (keepalive timeout, reset...).
    pub async fn closed(&self) -> Closed {
        let mut watcher = self.inner.closed.clone();
        let waited = watcher
            .wait_for(|closed| closed.is_some())
            .await
            .map(|closed| closed.clone());
        match waited {
            Ok(closed) => closed.unwrap_or_else(lost),
            Err(_) => watcher.borrow().clone().unwrap_or_else(lost),
        }
    }

    /// Runs `command` on an exec channel, collecting at most `limits.max_output` bytes
    /// of each stream, and gives up after `limits.timeout` (closing the channel).
    pub async fn exec(&self, command: &str, limits: &ExecLimits) -> Result<ExecOutput, ExecError> {
        self.exec_with_input(command, None, limits).await
    }

    /// As [`Session::exec`], writing `input` to the command's stdin and then closing
    /// it. Secrets and state files travel this way rather than on the command line,
    /// where any user of the host could read them in the process list.
    pub async fn exec_with_input(
        &self,
        command: &str,
        input: Option<&[u8]>,
        limits: &ExecLimits,
    ) -> Result<ExecOutput, ExecError> {
        let mut channel = self
            .inner
            .handle
            .channel_open_session()
            .await
            .map_err(|e| ExecError::Channel(format!("opening a session channel: {e}")))?;
        channel
            .exec(true, command)
            .await
            .map_err(|e| ExecError::Channel(format!("starting the command: {e}")))?;
        if let Some(input) = input {
            channel
                .data(input)
                .await
                .map_err(|e| ExecError::Channel(format!("writing the command's input: {e}")))?;
            channel
                .eof()
                .await
                .map_err(|e| ExecError::Channel(format!("closing the command's input: {e}")))?;
        }
        let mut output = ExecOutput::default();
        let collect = async {
            while let Some(message) = channel.wait().await {
                match message {
                    ChannelMsg::Data { data } => {
                        output.stdout.push(&data, limits.max_output);
                    }
                    ChannelMsg::ExtendedData { data, .. } => {
                        output.stderr.push(&data, limits.max_output);
                    }
                    ChannelMsg::ExitStatus { exit_status } => {
                        output.exit = Some(Exit::Status(exit_status));
                    }
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        output.exit = Some(Exit::Signal(format!("{signal_name:?}")));
                    }
                    ChannelMsg::Failure => {
                        return Err(ExecError::Channel(
                            "the server refused to run the command".to_owned(),
                        ));
                    }
                    _ => {}
                }
            }
            Ok(())
        };
        match tokio::time::timeout(limits.timeout, collect).await {
            Ok(Ok(())) if output.exit.is_some() => Ok(output),
            Ok(Ok(())) => Err(ExecError::Closed {
                cause: self.close_cause(),
                partial: output,
            }),
            Ok(Err(error)) => Err(error),
            Err(_) => {
                let _ = channel.close().await;
                Err(ExecError::Timeout {
                    after: limits.timeout,
                    partial: output,
                })
            }
        }
    }

    /// A byte stream to a Unix socket on the host (`direct-streamlocal@openssh.com`).
    pub async fn open_unix_socket(&self, path: &str) -> Result<BoxedIo, russh::Error> {
        let channel = self
            .inner
            .handle
            .channel_open_direct_streamlocal(path)
            .await?;
        Ok(Box::new(channel.into_stream()))
    }

    /// A byte stream to `host:port` as seen from this host (`direct-tcpip`).
    pub async fn open_tcp(&self, host: &str, port: u16) -> Result<BoxedIo, russh::Error> {
        let channel = self
            .inner
            .handle
            .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
            .await?;
        Ok(Box::new(channel.into_stream()))
    }

    /// Opens Docker API streams through this session to the socket at `path`.
    pub fn docker_socket(&self, path: &str) -> Arc<dyn StreamOpener> {
        Arc::new(DockerSocket {
            session: self.clone(),
            path: path.to_owned(),
        })
    }

    fn close_cause(&self) -> String {
        self.inner
            .closed
            .borrow()
            .as_ref()
            .map(|c| c.cause.clone())
            .unwrap_or_else(|| "the channel closed without an exit status".to_owned())
    }
}

fn lost() -> Closed {
    Closed {
        cause: "connection lost".to_owned(),
    }
}

struct DockerSocket {
    session: Session,
    path: String,
}

impl StreamOpener for DockerSocket {
    fn open(&self) -> OpenFuture {
        let session = self.session.clone();
        let path = self.path.clone();
        Box::pin(async move {
            session.open_unix_socket(&path).await.map_err(|error| {
                std::io::Error::other(format!(
                    "opening {path} on {} over SSH: {error}",
                    session.label()
                ))
            })
        })
    }

    fn describe(&self) -> String {
        format!("{}:{}", self.session.label(), self.path)
    }
}

/// Limits for one command.
#[derive(Debug, Clone)]
pub struct ExecLimits {
    pub timeout: Duration,
    /// Per stream; the rest is counted, not kept.
    pub max_output: usize,
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits {
            timeout: Duration::from_secs(30),
            max_output: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Status(u32),
    Signal(String),
}

/// Captured output of one stream, capped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// Bytes received beyond the cap and dropped.
    pub dropped: u64,
}

impl Captured {
    fn push(&mut self, data: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.bytes.len());
        let kept = room.min(data.len());
        self.bytes.extend_from_slice(&data[..kept]);
        self.dropped += (data.len() - kept) as u64;
    }

    pub fn truncated(&self) -> bool {
        self.dropped > 0
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Captured,
    pub stderr: Captured,
    pub exit: Option<Exit>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit == Some(Exit::Status(0))
    }
}

#[derive(Debug)]
pub enum ExecError {
    Channel(String),
    Timeout {
        after: Duration,
        partial: ExecOutput,
    },
    Closed {
        cause: String,
        partial: ExecOutput,
    },
}

impl std::error::Error for ExecError {}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Channel(error) => write!(f, "{error}"),
            ExecError::Timeout { after, .. } => {
                write!(f, "command timed out after {}s", after.as_secs_f32())
            }
            ExecError::Closed { cause, .. } => write!(f, "command interrupted: {cause}"),
        }
    }
}

// ---- Connecting ------------------------------------------------------------------

fn hop_label(resolved: &ResolvedHost) -> String {
    format!("{}@{}:{}", resolved.user, resolved.hostname, resolved.port)
}

/// `outer` holds the jump-session keys this connection is already inside (the target
/// side of the chain); meeting one again would wait forever on its own lock.
fn connect_hop(
    ctx: Arc<ConnectContext>,
    resolved: ResolvedHost,
    pin: Option<String>,
    outer: Vec<String>,
) -> BoxFuture<'static, Result<Session, ConnectError>> {
    Box::pin(async move {
        let label = hop_label(&resolved);
        if outer.len() > MAX_JUMP_HOPS {
            return Err(ConnectError::JumpLoop { hop: label });
        }
        let via = match resolved.proxy_jump.split_last() {
            None => None,
            Some((last, rest)) => {
                // As `ssh -J rest -W host:port last`: the last jump is resolved as a host
                // of its own; the rest of the chain replaces its configured ProxyJump.
                let overrides = Overrides {
                    port: last.port,
                    user: last.user.clone(),
                    identity_files: Vec::new(),
                };
                let mut jump = ctx
                    .ssh_config
                    .resolve_with_overrides(&last.host, &overrides, &ctx.env);
                if !rest.is_empty() {
                    jump.proxy_jump = rest.to_vec();
                }
                Some(shared_jump(&ctx, jump, outer).await?)
            }
        };
        let label = match &via {
            Some(jump) => format!("{label} via {}", jump.label()),
            None => label,
        };
        let policy = {
            let mut policy = HostKeyPolicy::for_host(&resolved, &ctx.record_file, pin);
            if let Some(mode) = ctx.unknown_hosts {
                policy.unknown = mode;
            }
            policy
        };
        let connect_timeout = resolved
            .connect_timeout
            .filter(|&s| s > 0)
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);

        let timed_out = || ConnectError::Timeout {
            hop: label.clone(),
            after: connect_timeout,
        };
        let transport = async {
            let stream: BoxedIo = match &via {
                None => {
                    let address = (resolved.hostname.as_str(), resolved.port);
                    let tcp = tokio::net::TcpStream::connect(address).await.map_err(|e| {
                        ConnectError::Transport {
                            hop: label.clone(),
                            error: e.to_string(),
                        }
                    })?;
                    let _ = tcp.set_nodelay(true);
                    // An SSH server speaks first (its version line). Waiting for that
                    // here, outside the handshake permit, keeps a host that accepts
                    // connections but never answers from holding a permit.
                    tcp.readable().await.map_err(|e| ConnectError::Transport {
                        hop: label.clone(),
                        error: e.to_string(),
                    })?;
                    Box::new(tcp)
                }
                Some(jump) => jump
                    .open_tcp(&resolved.hostname, resolved.port)
                    .await
                    .map_err(|e| ConnectError::Transport {
                        hop: label.clone(),
                        error: format!("{} refused to open a tunnel: {e}", jump.label()),
                    })?,
            };
            Ok::<_, ConnectError>(stream)
        };
        let stream = tokio::time::timeout(connect_timeout, transport)
            .await
            .map_err(|_| timed_out())??;
        // Only the key exchange holds a permit: a host that never answers must not keep
        // others waiting, and one that stalls mid-handshake holds it for at most its
        // ConnectTimeout.
        let permit = ctx
            .handshakes
            .acquire()
            .await
            .map_err(|_| ConnectError::Transport {
                hop: label.clone(),
                error: "shutting down".to_owned(),
            })?;
        let (handle, closed, accepted) = tokio::time::timeout(
            connect_timeout,
            handshake(&resolved, policy, stream, &label),
        )
        .await
        .map_err(|_| timed_out())??;
        drop(permit);
        let mut handle = handle;
        let sources = AuthSources {
            user: &resolved.user,
            host: &label,
            identity_files: &resolved.identity_files,
            identities_only: resolved.identities_only,
            agent_socket: ctx.agent_socket.as_deref(),
            keys: &ctx.keys,
        };
        // Authentication may wait for a passphrase typed by a person, so it gets a
        // generous bound of its own; a server that stalls here is still given up on.
        let auth_deadline = (connect_timeout * 3).max(AUTH_TIMEOUT);
        tokio::time::timeout(auth_deadline, auth::authenticate(&mut handle, &sources))
            .await
            .map_err(|_| ConnectError::Timeout {
                hop: format!("{label} (authentication)"),
                after: auth_deadline,
            })?
            .map_err(ConnectError::Auth)?;
        tracing::info!(target: "fleetdeck::ssh", "connected to {label} ({accepted:?})");
        Ok(Session {
            inner: Arc::new(Inner {
                label,
                handle,
                closed,
                accepted,
                _via: via,
            }),
        })
    })
}

/// The session to a jump host, shared by every target behind it and replaced when it
/// has closed.
async fn shared_jump(
    ctx: &Arc<ConnectContext>,
    jump: ResolvedHost,
    mut outer: Vec<String>,
) -> Result<Session, ConnectError> {
    let chain: Vec<String> = jump.proxy_jump.iter().map(ToString::to_string).collect();
    let key = format!("{} via [{}]", hop_label(&jump), chain.join(","));
    if outer.contains(&key) {
        return Err(ConnectError::JumpLoop {
            hop: hop_label(&jump),
        });
    }
    let slot = ctx
        .jumps
        .lock()
        .await
        .entry(key.clone())
        .or_default()
        .clone();
    let mut slot = slot.lock().await;
    if let Some(session) = slot.as_ref().filter(|s| !s.is_closed()) {
        return Ok(session.clone());
    }
    outer.push(key);
    let session = connect_hop(ctx.clone(), jump, None, outer).await?;
    *slot = Some(session.clone());
    Ok(session)
}

type Handshaken = (
    client::Handle<Client>,
    watch::Receiver<Option<Closed>>,
    Acceptance,
);

async fn handshake(
    resolved: &ResolvedHost,
    policy: HostKeyPolicy,
    stream: BoxedIo,
    label: &str,
) -> Result<Handshaken, ConnectError> {
    let (known_types, has_ca) = policy.known_key_types();
    let interval = match resolved.server_alive_interval {
        0 => DEFAULT_ALIVE_INTERVAL,
        seconds => Duration::from_secs(u64::from(seconds)),
    };
    let config = client::Config {
        preferred: preferred_algorithms(&known_types, has_ca),
        keepalive_interval: Some(interval),
        keepalive_max: keepalive_max(resolved.server_alive_count_max),
        nodelay: true,
        ..client::Config::default()
    };
    let (closed_tx, closed_rx) = watch::channel(None);
    let verdict = Arc::new(StdMutex::new(None));
    let client = Client {
        policy,
        verdict: verdict.clone(),
        closed: closed_tx,
        keepalive: (interval, resolved.server_alive_count_max.max(1)),
    };
    let result = client::connect_stream(Arc::new(config), stream, client).await;
    let verdict = verdict.lock().unwrap_or_else(|p| p.into_inner()).take();
    match (result, verdict) {
        (Ok(handle), Some(Ok(accepted))) => Ok((handle, closed_rx, accepted)),
        (_, Some(Err(error))) => Err(ConnectError::HostKey(error)),
        (Ok(_), None) => Err(ConnectError::Handshake {
            hop: label.to_owned(),
            error: "the server's host key was never checked".to_owned(),
        }),
        (Err(error), _) => Err(ConnectError::Handshake {
            hop: label.to_owned(),
            error: error.to_string(),
        }),
    }
}

/// russh counts unanswered keepalives and gives up when the count *exceeds* its
/// maximum, one interval later than `ssh` would with the same `ServerAliveCountMax`;
/// one less makes a dead host noticed within interval × count.
fn keepalive_max(count_max: u32) -> usize {
    (count_max.max(2) - 1) as usize
}

/// OpenSSH's `order_hostkeyalgs`: ask first for key types already on file for the host,
/// so a host with several keys presents the known one; offer certificates only when a
/// CA is trusted for the host.
fn preferred_algorithms(known_types: &[String], has_ca: bool) -> Preferred {
    let family = |algorithm: &Algorithm| {
        if algorithm.clone().is_rsa() {
            "ssh-rsa".to_owned()
        } else {
            algorithm.as_str().to_owned()
        }
    };
    let mut keys: Vec<Algorithm> = Preferred::DEFAULT.key.to_vec();
    keys.sort_by_key(|algorithm| {
        known_types
            .iter()
            .position(|known| *known == family(algorithm))
            .unwrap_or(usize::MAX)
    });
    let certificates: Vec<Algorithm> = if has_ca { keys.clone() } else { Vec::new() };
    Preferred {
        key: keys.into(),
        host_key_certificates: certificates.into(),
        ..Preferred::DEFAULT
    }
}

/// russh's callbacks: judge the host key, and report how the connection ended.
struct Client {
    policy: HostKeyPolicy,
    verdict: Arc<StdMutex<Option<Result<Acceptance, HostKeyError>>>>,
    closed: watch::Sender<Option<Closed>>,
    keepalive: (Duration, u32),
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let verdict = self.policy.judge(server_public_key);
        let accepted = verdict.is_ok();
        *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(verdict);
        Ok(accepted)
    }

    async fn disconnected(
        &mut self,
        reason: DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let cause = match &reason {
            DisconnectReason::ReceivedDisconnect(info) => {
                format!("the server closed the connection: {}", info.message)
            }
            DisconnectReason::Error(russh::Error::KeepaliveTimeout) => {
                let (interval, count) = self.keepalive;
                format!(
                    "no answer to keepalives for {}s ({count} × {}s)",
                    interval.as_secs() * u64::from(count),
                    interval.as_secs()
                )
            }
            DisconnectReason::Error(russh::Error::IO(error)) => {
                format!("connection lost: {error}")
            }
            DisconnectReason::Error(error) => format!("connection lost: {error}"),
        };
        self.closed.send_replace(Some(Closed { cause }));
        Ok(())
    }
}

impl Drop for Client {
    /// russh drops the handler when the connection task ends, whether or not it called
    /// `disconnected` (it skips it when shutting down the socket fails).
    fn drop(&mut self) {
        self.closed.send_if_modified(|closed| {
            if closed.is_none() {
                *closed = Some(Closed {
                    cause: "connection closed".to_owned(),
                });
                true
            } else {
                false
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_capped_and_the_rest_counted() {
        let mut captured = Captured::default();
        captured.push(b"hello ", 8);
        captured.push(b"world", 8);
        assert_eq!(captured.bytes, b"hello wo");
        assert_eq!(captured.dropped, 3);
        assert!(captured.truncated());
    }

    #[test]
    fn known_key_types_are_asked_for_first() {
        let preferred = preferred_algorithms(&["ssh-rsa".to_owned()], false);
        assert!(preferred.key[0].clone().is_rsa());
        assert!(preferred.host_key_certificates.is_empty());
        let preferred = preferred_algorithms(&[], true);
        assert_eq!(preferred.key[0], Algorithm::Ed25519);
        assert!(!preferred.host_key_certificates.is_empty());
    }

    #[test]
    fn keepalive_gives_up_within_interval_times_count() {
        // russh fails when unanswered keepalives exceed the max: at (max + 1) intervals.
        for count in 2..6 {
            assert_eq!(keepalive_max(count) + 1, count as usize);
        }
        assert_eq!(keepalive_max(1), 1, "russh treats 0 as never");
    }
}
