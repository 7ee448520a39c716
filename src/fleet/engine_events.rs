//! A Docker engine's event feed: follows `/events` on a connection of its own while
//! the engine can be reached — over the host's SSH link, or this machine's socket —
//! and resumes from the same cursor after every reconnect so the events of the gap
//! arrive (once) when the engine is back.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::EventMessage;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::docker::events::{EventCursor, follow};
use crate::docker::transport::{LocalSocket, StreamOpener, connect_negotiated};
use crate::ssh::link::LinkState;
use crate::ssh::session::Session;

/// Bound on a Docker request until its response headers arrive (not on the stream).
const REQUEST_TIMEOUT_SECS: u64 = 30;
/// After the event stream fails while the link stays up (engine restarting), wait
/// this long before asking again.
const STREAM_RETRY: Duration = Duration::from_secs(2);
/// The local engine refused a connection: ask again this much later.
const LOCAL_RETRY: Duration = Duration::from_secs(5);

/// Where a Docker engine is reached.
#[derive(Clone)]
pub enum EngineAt {
    /// Over the host's SSH link, at this socket path on the host.
    Remote {
        link: watch::Receiver<LinkState>,
        socket: String,
    },
    /// This machine's socket (no inventory: the embedded default).
    Local { socket: PathBuf },
}

/// A way to the engine for as long as it lasts: over a session of the link, or to
/// the local socket.
pub struct Route {
    pub opener: Arc<dyn StreamOpener>,
    /// The SSH session the route rides on; `None` for the local socket.
    pub session: Option<Session>,
}

impl Route {
    /// Resolves when the route is gone (the session closed), with why; the local
    /// socket has no such moment: a dead engine shows as a failed request.
    pub async fn closed(&self) -> String {
        match &self.session {
            Some(session) => session.closed().await.cause,
            None => std::future::pending().await,
        }
    }
}

impl EngineAt {
    /// Waits until the engine can be tried; `None` when it never will again (the
    /// host's link ended).
    pub async fn route(&mut self) -> Option<Route> {
        match self {
            EngineAt::Remote { link, socket } => loop {
                if let Some(session) = link.borrow_and_update().session() {
                    return Some(Route {
                        opener: session.docker_socket(socket),
                        session: Some(session.clone()),
                    });
                }
                if link.changed().await.is_err() {
                    return None;
                }
            },
            EngineAt::Local { socket } => Some(Route {
                opener: Arc::new(LocalSocket::new(socket.clone())),
                session: None,
            }),
        }
    }

    /// The route in use now, without waiting: `None` while the link is down. The
    /// local socket is always worth a try.
    pub fn current_route(&self) -> Option<Route> {
        match self {
            EngineAt::Remote { link, socket } => link.borrow().session().map(|session| Route {
                opener: session.docker_socket(socket),
                session: Some(session.clone()),
            }),
            EngineAt::Local { socket } => Some(Route {
                opener: Arc::new(LocalSocket::new(socket.clone())),
                session: None,
            }),
        }
    }

    /// Resolves when the link changes; `true` when it ended. The local socket has no
    /// link: it never resolves.
    pub async fn link_changed(&mut self) -> bool {
        match self {
            EngineAt::Remote { link, .. } => link.changed().await.is_err(),
            EngineAt::Local { .. } => std::future::pending().await,
        }
    }

    /// Why the engine could not be reached, as the operator reads it.
    pub fn unreachable(&self, error: &impl std::fmt::Display) -> String {
        match self {
            EngineAt::Remote { socket, .. } => format!("Docker API at {socket}: {error}"),
            EngineAt::Local { socket } => format!("{}: {error}", socket.display()),
        }
    }
}

/// What the feed reports, in order.
#[derive(Debug, Clone)]
pub enum EngineUpdate {
    /// Following (again); `resumed` is false the first time.
    Following {
        resumed: bool,
    },
    Event(Box<EventMessage>),
    /// The stream stopped; the link's own state says whether the host is unreachable.
    Interrupted {
        cause: String,
    },
    /// No connection to the engine could be made (engine down, socket missing).
    Unreachable {
        cause: String,
    },
    /// The engine no longer held the events of a gap: state must be re-read.
    PossibleGap,
}

/// The feed of any engine. Runs until `out` is closed (or the host's link ends).
pub async fn follow_engine(mut engine: EngineAt, out: mpsc::Sender<EngineUpdate>) {
    let mut cursor = EventCursor::new();
    let mut resumed = false;
    loop {
        let Some(route) = engine.route().await else {
            return;
        };
        let docker = match connect_negotiated(route.opener.clone(), REQUEST_TIMEOUT_SECS).await {
            Ok(docker) => docker,
            Err(error) => {
                let cause = engine.unreachable(&error);
                if out.send(EngineUpdate::Unreachable { cause }).await.is_err() {
                    return;
                }
                let retry = if route.session.is_some() {
                    STREAM_RETRY
                } else {
                    LOCAL_RETRY
                };
                tokio::select! {
                    _ = route.closed() => {}
                    _ = tokio::time::sleep(retry) => {}
                }
                continue;
            }
        };
        let mut gaps_reported = cursor.possible_gaps();
        let mut follower = follow(&docker, cursor, None);
        if out.send(EngineUpdate::Following { resumed }).await.is_err() {
            return;
        }
        resumed = true;
        let cause = loop {
            tokio::select! {
                next = follower.next() => match next {
                    Some(Ok(event)) => {
                        let gaps = follower.cursor().possible_gaps();
                        if gaps > gaps_reported {
                            gaps_reported = gaps;
                            if out.send(EngineUpdate::PossibleGap).await.is_err() {
                                return;
                            }
                        }
                        if out.send(EngineUpdate::Event(Box::new(event))).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(error)) => break error.to_string(),
                    None => break "the engine closed the event stream".to_owned(),
                },
                cause = route.closed() => break cause,
            }
        };
        cursor = follower.into_cursor();
        if out.send(EngineUpdate::Interrupted { cause }).await.is_err() {
            return;
        }
        if !route.session.as_ref().is_some_and(Session::is_closed) {
            tokio::time::sleep(STREAM_RETRY).await;
        }
    }
}
