//! One SSH session per host, carrying everything fleetdeck does there: exec channels
//! for probes, `direct-streamlocal` channels to the Docker socket, and `direct-tcpip`
//! channels that tunnel the next hop of a ProxyJump chain.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use russh::ChannelMsg;
use russh::client::{self};
use tokio::sync::{Mutex, Semaphore, watch};

use super::auth::{AuthError, KeyStore};
use super::config::{
    JumpChainError, MAX_JUMP_HOPS, Overrides, ResolveEnv, ResolvedHost, SshConfig,
};
use super::hostkey::{Acceptance, HostKeyError, UnknownHosts};
use crate::docker::transport::{BoxedIo, OpenFuture, StreamOpener};

mod connect;
mod exec;

use connect::{Client, connect_hop};
pub use exec::{Captured, ExecError, ExecLimits, ExecOutput, Exit};

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
