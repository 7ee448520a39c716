//! Interrupting a run that changes hosts (`deploy`, `rollback`, `canary`, `drill`) with
//! SIGINT (Ctrl-C), SIGTERM or SIGHUP. One mechanism for all four:
//!
//! - the **first** signal asks the run to stop: the core finishes the step under way,
//!   returns what it changed to a running state (a switch-over is rolled back, a
//!   drill's scratch data removed), releases its locks and returns an outcome that
//!   says so;
//! - a **second** signal abandons: the front end stops waiting and says what it leaves
//!   (the lock and its journal stay, so the next run reports and resumes from them).
//!
//! The core checks [`Interrupt`] at safe points; it never decides an exit code or
//! prints. Front ends read [`Interrupt::requested`] afterwards and exit with
//! [`Signal::exit_code`] (128 + the signal's number: 130, 143, 129).
//!
//! The signals themselves are caught in [`crate::util::signals`], and only once
//! [`Interrupt::listen`] has been called (the core does so when it starts changing
//! hosts): before that, Ctrl-C at a prompt or during the plan ends the process as
//! usual, and nothing has been changed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use crate::util::signals::Signal;

struct Inner {
    /// Signals received so far (0, 1: stop safely, 2+: abandon), and the first one.
    state: tokio::sync::watch::Sender<(usize, Option<Signal>)>,
    listening: AtomicBool,
    /// Where each host's run is, in words: what an abandoned run leaves.
    places: Mutex<BTreeMap<String, String>>,
}

/// A run's interruption token. Cheap to clone; [`Interrupt::default`] never fires
/// (the console and the lab, which have their own ways to stop).
#[derive(Clone, Default)]
pub struct Interrupt {
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupt")
            .field("requested", &self.requested())
            .field("abandoned", &self.abandoned())
            .finish()
    }
}

impl Interrupt {
    /// A token fed by SIGINT, SIGTERM and SIGHUP once [`Interrupt::listen`] is called.
    pub fn on_signals() -> Interrupt {
        let (state, _) = tokio::sync::watch::channel((0, None));
        Interrupt {
            inner: Some(Arc::new(Inner {
                state,
                listening: AtomicBool::new(false),
                places: Mutex::new(BTreeMap::new()),
            })),
        }
    }

    /// Starts catching the signals (once; later calls do nothing). Needs a Tokio
    /// runtime. A signal that cannot be caught keeps its default action.
    pub fn listen(&self) {
        let Some(inner) = &self.inner else {
            return;
        };
        if inner.listening.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        crate::util::signals::listen(move |signal| me.trigger(signal));
    }

    /// Records a signal, as the listener does.
    pub fn trigger(&self, signal: Signal) {
        if let Some(inner) = &self.inner {
            inner.state.send_modify(|(count, first)| {
                *count += 1;
                first.get_or_insert(signal);
            });
            let (count, _) = *inner.state.borrow();
            if count == 1 {
                tracing::warn!("{signal}: stopping after making the run safe");
            } else {
                tracing::warn!("{signal} again: abandoning");
            }
        }
    }

    /// The first signal, once one arrived: stop at the next safe point.
    pub fn requested(&self) -> Option<Signal> {
        self.inner.as_ref().and_then(|i| i.state.borrow().1)
    }

    /// A second signal arrived: stop waiting, leave things as they are.
    pub fn abandoned(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.state.borrow().0 >= 2)
    }

    async fn reached(&self, count: usize) {
        let Some(inner) = &self.inner else {
            return std::future::pending().await;
        };
        let mut rx = inner.state.subscribe();
        if rx.wait_for(|(c, _)| *c >= count).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves at the first signal (never, for a token that does not fire).
    pub async fn wait(&self) -> Signal {
        self.reached(1).await;
        self.requested().unwrap_or(Signal::Int)
    }

    /// Resolves at the second signal.
    pub async fn wait_abandoned(&self) {
        self.reached(2).await;
    }

    /// Notes where `host`'s run is (what abandoning would leave there).
    pub fn note(&self, host: &str, place: &str) {
        if let Some(inner) = &self.inner
            && let Ok(mut places) = inner.places.lock()
        {
            places.insert(host.to_owned(), place.to_owned());
        }
    }

    /// Forgets `host` (its run ended, its lock released).
    pub fn done(&self, host: &str) {
        if let Some(inner) = &self.inner
            && let Ok(mut places) = inner.places.lock()
        {
            places.remove(host);
        }
    }

    /// What an abandoned run leaves: one line per host still being worked on.
    pub fn left_behind(&self) -> Vec<String> {
        let Some(inner) = &self.inner else {
            return vec![];
        };
        inner
            .places
            .lock()
            .map(|p| {
                p.iter()
                    .map(|(host, place)| crate::sanitize::line(&format!("{host}: {place}")))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_signal_stops_and_the_second_abandons() {
        let never = Interrupt::default();
        assert_eq!(never.requested(), None);
        never.trigger(Signal::Int);
        assert_eq!(never.requested(), None, "the default token never fires");

        let token = Interrupt::on_signals();
        let waiter = tokio::spawn({
            let token = token.clone();
            async move { token.wait().await }
        });
        assert_eq!(token.requested(), None);
        token.trigger(Signal::Term);
        assert_eq!(waiter.await.expect("joins"), Signal::Term);
        assert_eq!(token.requested(), Some(Signal::Term));
        assert!(!token.abandoned());
        token.note("client-gamma", "lock held, at `gate web`");
        token.trigger(Signal::Int);
        token.wait_abandoned().await;
        assert!(token.abandoned());
        assert_eq!(
            token.requested(),
            Some(Signal::Term),
            "the first one counts"
        );
        assert_eq!(
            token.left_behind(),
            vec!["client-gamma: lock held, at `gate web`".to_owned()]
        );
        token.done("client-gamma");
        assert!(token.left_behind().is_empty());
        assert_eq!(Signal::Int.exit_code(), 130);
        assert_eq!(Signal::Term.exit_code(), 143);
        assert_eq!(Signal::Hup.exit_code(), 129);
    }

    #[tokio::test]
    async fn a_real_sigterm_is_caught_once_listening() {
        let token = Interrupt::on_signals();
        token.listen();
        // SAFETY: raise() sends a signal to this process; the listener catches it.
        unsafe {
            libc::raise(libc::SIGTERM);
        }
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), token.wait())
            .await
            .expect("the signal arrives");
        assert_eq!(got, Signal::Term);
    }
}
