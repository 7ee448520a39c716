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
///
/// The rule for starting over: a session that authenticated and then lived at least
/// `stable_after` was useful, so when it drops the next attempt waits only the first
/// delay (at most `initial`); the doubling is for hosts that cannot be reached or keep
/// dropping sessions sooner than that.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// A session that lived this long resets the delay to `initial`.
    pub stable_after: Duration,
}

/// A session that lived this long before it dropped was worth having: the first
/// reconnect then comes within `initial` (1 s), whatever happened before it.
pub const STABLE_AFTER: Duration = Duration::from_secs(10);

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            stable_after: STABLE_AFTER,
        }
    }
}

/// How an attempt to keep the link up ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// No session: the connection, the host key or authentication failed.
    NotConnected { permanent: bool },
    /// A session was up (authenticated) for this long, then dropped.
    Dropped { lived: Duration },
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

    /// After an attempt that `ended` so, with `failures` earlier ones counted: how long
    /// to wait before the next, and the count to carry on with.
    pub fn after(&self, failures: u32, ended: Ended, unit: f64) -> (Duration, u32) {
        let failures = match ended {
            Ended::Dropped { lived } if lived >= self.stable_after => 0,
            _ => failures,
        };
        let delay = match ended {
            // Waiting cannot fix these, and retrying soon can trip fail2ban.
            Ended::NotConnected { permanent: true } => self.max,
            _ => self.delay(failures, unit),
        };
        (delay, failures.saturating_add(1))
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
        let (cause, permanent, ended) = match Session::connect(&ctx, &resolved, pin.clone()).await {
            Ok(session) => {
                let started = Instant::now();
                state.send_replace(LinkState::Up {
                    session: session.clone(),
                });
                let closed = session.closed().await;
                drop(session);
                let lived = started.elapsed();
                (closed.cause, false, Ended::Dropped { lived })
            }
            Err(error) => {
                let permanent = error.is_permanent();
                (
                    error.to_string(),
                    permanent,
                    Ended::NotConnected { permanent },
                )
            }
        };
        let (delay, counted) = backoff.after(failures, ended, jitter_unit());
        failures = counted;
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

    /// Drives the policy through `endings` from a fresh link; the delays it chose.
    fn delays(backoff: &Backoff, endings: &[Ended], unit: f64) -> Vec<Duration> {
        let mut failures = 0;
        endings
            .iter()
            .map(|&ended| {
                let (delay, counted) = backoff.after(failures, ended, unit);
                failures = counted;
                delay
            })
            .collect()
    }

    const UNREACHABLE: Ended = Ended::NotConnected { permanent: false };

    #[test]
    fn a_session_that_was_useful_is_retried_within_a_second_whatever_came_before() {
        let backoff = Backoff::default();
        // A host that was unreachable for a while (the delay grew to 32-64 s), came
        // back, was up for 30 s and dropped: the next attempt comes at once.
        let mut endings = vec![UNREACHABLE; 6];
        endings.push(Ended::Dropped {
            lived: Duration::from_secs(30),
        });
        let waited = delays(&backoff, &endings, 0.999);
        assert!(waited[5] > Duration::from_secs(30), "{waited:?}");
        assert!(waited[6] <= Duration::from_secs(1), "{waited:?}");
        // Exactly at the threshold counts as useful.
        let (delay, failures) = backoff.after(
            9,
            Ended::Dropped {
                lived: STABLE_AFTER,
            },
            0.999,
        );
        assert!(delay <= backoff.initial, "{delay:?}");
        assert_eq!(failures, 1, "the next failure doubles from the start");
        // And if the host does not come back at once, the doubling starts over.
        endings.push(UNREACHABLE);
        let waited = delays(&backoff, &endings, 0.999);
        assert!(waited[7] <= Duration::from_secs(2), "{waited:?}");
    }

    #[test]
    fn sessions_that_keep_dropping_early_back_off_like_failures() {
        let backoff = Backoff::default();
        let flap = Ended::Dropped {
            lived: STABLE_AFTER - Duration::from_millis(1),
        };
        let waited = delays(&backoff, &[flap; 8], 0.0);
        let seconds: Vec<f64> = waited.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(
            seconds,
            [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0],
            "doubling up to half of max at the bottom of the window"
        );
    }

    #[test]
    fn refusals_wait_the_full_delay_and_still_count() {
        let backoff = Backoff::default();
        let refused = Ended::NotConnected { permanent: true };
        assert_eq!(backoff.after(0, refused, 0.0), (backoff.max, 1));
        let waited = delays(&backoff, &[refused, refused, UNREACHABLE], 0.0);
        assert_eq!(waited[..2], [backoff.max, backoff.max]);
        assert_eq!(waited[2], Duration::from_secs(2), "third attempt: 2-4 s");
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
