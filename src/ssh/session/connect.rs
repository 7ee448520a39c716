//! Connecting one hop: TCP (or a tunnel through the jump session, shared between
//! hosts), the SSH handshake with the host-key check, authentication, keepalives; and
//! the russh handler that notices when the connection is lost.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use russh::Preferred;
use russh::client::{self, DisconnectReason};
use russh::keys::{Algorithm, PublicKeyOrCertificate};
use tokio::sync::watch;

use super::{
    AUTH_TIMEOUT, Closed, ConnectContext, ConnectError, DEFAULT_ALIVE_INTERVAL,
    DEFAULT_CONNECT_TIMEOUT, Inner, Session,
};
use crate::docker::transport::BoxedIo;
use crate::ssh::auth::{self, AuthSources};
use crate::ssh::config::{MAX_JUMP_HOPS, Overrides, ResolvedHost};
use crate::ssh::hostkey::{Acceptance, HostKeyError, HostKeyPolicy};

pub(super) fn hop_label(resolved: &ResolvedHost) -> String {
    format!("{}@{}:{}", resolved.user, resolved.hostname, resolved.port)
}

/// `outer` holds the jump-session keys this connection is already inside (the target
/// side of the chain); meeting one again would wait forever on its own lock.
pub(super) fn connect_hop(
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
pub(super) async fn shared_jump(
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

pub(super) async fn handshake(
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
pub(super) fn keepalive_max(count_max: u32) -> usize {
    (count_max.max(2) - 1) as usize
}

/// OpenSSH's `order_hostkeyalgs`: ask first for key types already on file for the host,
/// so a host with several keys presents the known one; offer certificates only when a
/// CA is trusted for the host.
pub(super) fn preferred_algorithms(known_types: &[String], has_ca: bool) -> Preferred {
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
pub(super) struct Client {
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
