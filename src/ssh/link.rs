//! A host's link: keeps one session to the host up, reports it unreachable (with the
//! cause) when it drops, and reconnects with jittered exponential backoff. Each link is
//! its own task, so a slow or dead host never delays another.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::ResolvedHost;
use super::session::{ConnectContext, Session};

/// Reconnect delays: doubling from `initial` up to `max`, each drawn from the upper half
/// of its window ("equal jitter") so hosts that fell together do not return together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// A session that lived this long resets the delay to `initial`.
    pub stable_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            stable_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before attempt `failures + 1`; `unit` in [0, 1) is the random draw.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let exponential = self
            .initial
            .saturating_mul(1u32.checked_shl(failures.min(16)).unwrap_or(u32::MAX))
            .min(self.max);
        let half = exponential / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// What the console and the probes see of a host's connection.
#[derive(Debug, Clone)]
pub enum LinkState {
    Connecting {
        attempt: u32,
    },
    Up {
        session: Session,
    },
    Down {
        cause: String,
        /// Host key or authentication problems: waiting will not fix them.
        permanent: bool,
        /// When the next attempt starts.
        retry_at: Instant,
    },
}

impl LinkState {
    pub fn session(&self) -> Option<&Session> {
        match self {
            LinkState::Up { session } => Some(session),
            _ => None,
        }
    }
}

/// The handle to a running link; dropping it stops the task and closes the session.
pub struct Link {
    state: watch::Receiver<LinkState>,
    task: JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Link {
    pub fn spawn(
        ctx: Arc<ConnectContext>,
        resolved: ResolvedHost,
        pin: Option<String>,
        backoff: Backoff,
    ) -> Link {
        let (tx, rx) = watch::channel(LinkState::Connecting { attempt: 1 });
        let task = tokio::spawn(run(ctx, resolved, pin, backoff, tx));
        Link { state: rx, task }
    }

    pub fn watch(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }

    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    /// Waits until the link is up and returns its session.
    pub async fn session(&self) -> Session {
        let mut state = self.state.clone();
        loop {
            if let Some(session) = state.borrow_and_update().session() {
                return session.clone();
            }
            if state.changed().await.is_err() {
                // The task ended, which only happens when the Link is dropped.
                std::future::pending::<()>().await;
            }
        }
    }
}

async fn run(
    ctx: Arc<ConnectContext>,
    resolved: ResolvedHost,
    pin: Option<String>,
    backoff: Backoff,
    state: watch::Sender<LinkState>,
) {
    let mut failures: u32 = 0;
    loop {
        state.send_replace(LinkState::Connecting {
            attempt: failures + 1,
        });
        let (cause, permanent) = match Session::connect(&ctx, &resolved, pin.clone()).await {
            Ok(session) => {
                let started = Instant::now();
                state.send_replace(LinkState::Up {
                    session: session.clone(),
                });
                let closed = session.closed().await;
                drop(session);
                if started.elapsed() >= backoff.stable_after {
                    failures = 0;
                }
                (closed.cause, false)
            }
            Err(error) => (error.to_string(), error.is_permanent()),
        };
        let delay = if permanent {
            backoff.max
        } else {
            backoff.delay(failures, jitter_unit())
        };
        failures = failures.saturating_add(1);
        tracing::warn!(target: "fleetdeck::ssh", "{}: {cause}; retrying in {delay:?}", resolved.alias);
        state.send_replace(LinkState::Down {
            cause,
            permanent,
            retry_at: Instant::now() + delay,
        });
        tokio::time::sleep(delay).await;
    }
}

/// A uniform draw in [0, 1): std's per-instance random hasher keys are enough for
/// spreading reconnects; nothing here needs cryptographic randomness.
fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_the_upper_half_and_stops_at_max() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(0, 0.0), Duration::from_millis(500));
        assert_eq!(backoff.delay(0, 1.0), Duration::from_secs(1));
        assert_eq!(backoff.delay(3, 0.0), Duration::from_secs(4));
        assert!(backoff.delay(3, 0.999) < Duration::from_secs(8));
        assert_eq!(backoff.delay(30, 1.0), Duration::from_secs(60));
    }

    #[test]
    fn jitter_spreads() {
        let draws: Vec<f64> = (0..64).map(|_| jitter_unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let distinct = draws
            .iter()
            .map(|d| (d * 1000.0) as u32)
            .collect::<std::collections::HashSet<_>>();
        assert!(distinct.len() > 32, "draws should differ: {draws:?}");
    }
}
