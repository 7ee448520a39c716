//! A host's Docker event feed over its SSH link: follows `/events` on a channel of its
//! own while the link is up, and resumes from the same cursor after every reconnect so
//! the events of the gap arrive (once) when the host is back.

use std::time::Duration;

use bollard::models::EventMessage;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::docker::events::{EventCursor, follow};
use crate::docker::transport::connect_negotiated;
use crate::ssh::link::LinkState;

/// Bound on a Docker request until its response headers arrive (not on the stream).
const REQUEST_TIMEOUT_SECS: u64 = 30;
/// After the event stream fails while the link stays up (engine restarting), wait
/// this long before asking again.
const STREAM_RETRY: Duration = Duration::from_secs(2);

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
    /// The engine no longer held the events of a gap: state must be re-read.
    PossibleGap,
}

/// Runs until `out` is closed. `socket` is the Docker socket path on the host.
pub async fn follow_engine_events(
    mut link: watch::Receiver<LinkState>,
    socket: String,
    out: mpsc::Sender<EngineUpdate>,
) {
    let mut cursor = EventCursor::new();
    let mut resumed = false;
    loop {
        let session = loop {
            if let Some(session) = link.borrow_and_update().session() {
                break session.clone();
            }
            if link.changed().await.is_err() {
                return;
            }
        };
        let docker =
            match connect_negotiated(session.docker_socket(&socket), REQUEST_TIMEOUT_SECS).await {
                Ok(docker) => docker,
                Err(error) => {
                    let cause = format!("Docker API at {socket}: {error}");
                    if out.send(EngineUpdate::Interrupted { cause }).await.is_err() {
                        return;
                    }
                    tokio::select! {
                        _ = session.closed() => {}
                        _ = tokio::time::sleep(STREAM_RETRY) => {}
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
                closed = session.closed() => break closed.cause,
            }
        };
        cursor = follower.into_cursor();
        if out.send(EngineUpdate::Interrupted { cause }).await.is_err() {
            return;
        }
        if !session.is_closed() {
            tokio::time::sleep(STREAM_RETRY).await;
        }
    }
}
