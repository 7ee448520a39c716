//! The webhook sender: one JSON POST per transition (the body is the
//! [`Transition`]'s JSON, docs/notify.md), in order, retried with exponential backoff
//! up to a bound. It runs in its own task and reads its own queue, so a receiver that
//! is down or never answers holds up nothing but itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::endpoint::Endpoint;
use super::queue::Queue;
use super::tracker::{Status, Transition};

/// How hard a transition is pushed at a receiver.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// Attempts per transition, the first one included.
    pub attempts: u32,
    /// The wait before the first retry; doubled for each next one…
    pub first_retry: Duration,
    /// …up to this.
    pub max_retry: Duration,
    /// One request's limit, connecting included: a receiver that never answers
    /// costs this per attempt.
    pub timeout: Duration,
}

impl Default for Delivery {
    /// 8 attempts over about two minutes (waits of 1, 2, 4, 8, 16, 32 and 60 s),
    /// 10 s per request.
    fn default() -> Delivery {
        Delivery {
            attempts: 8,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

/// What happened to the transitions handed to one receiver.
#[derive(Debug, Default)]
pub struct Counters {
    pub delivered: AtomicU64,
    /// Given up after the last attempt, or refused for good (a 4xx).
    pub failed: AtomicU64,
    /// A `firing` not delivered because a newer transition of the same alert came
    /// after it (delivering it would tell a stale story), and a `resolved` not sent
    /// because its `firing` was not delivered.
    pub superseded: AtomicU64,
}

/// Delivers what `queue` receives to `endpoint`, forever (until the runtime ends).
pub async fn run(
    client: reqwest::Client,
    endpoint: Endpoint,
    queue: Arc<Queue<Transition>>,
    delivery: Delivery,
    counters: Arc<Counters>,
) {
    // The alerts whose `firing` this receiver took: only those get a `resolved`.
    let mut heard = std::collections::HashSet::new();
    loop {
        let transition = queue.pop().await;
        if transition.status == Status::Resolved && !heard.remove(&transition.fingerprint) {
            // Its firing was never delivered (given up, dropped, or superseded by this
            // very resolved): the receiver never heard of the alert.
            counters.superseded.fetch_add(1, Ordering::Relaxed);
            tracing::info!(target: "fleetdeck::alert", "{endpoint}: resolved {} {}: not sent, its firing was not delivered", transition.host, transition.fingerprint);
            continue;
        }
        let delivered = deliver(&client, &endpoint, &queue, delivery, &counters, &transition).await;
        if delivered && transition.status == Status::Firing {
            heard.insert(transition.fingerprint.clone());
        }
    }
}

async fn deliver(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    queue: &Queue<Transition>,
    delivery: Delivery,
    counters: &Counters,
    transition: &Transition,
) -> bool {
    let what = format!(
        "{} {} {}",
        transition.status_word(),
        transition.host,
        transition.fingerprint
    );
    let mut wait = delivery.first_retry;
    for attempt in 1..=delivery.attempts.max(1) {
        if attempt > 1 && superseded(queue, transition) {
            counters.superseded.fetch_add(1, Ordering::Relaxed);
            tracing::info!(target: "fleetdeck::alert", "{endpoint}: {what}: not retried, a newer notification of it is waiting");
            return false;
        }
        match post(client, endpoint, transition, delivery.timeout).await {
            Ok(()) => {
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(target: "fleetdeck::alert", "{endpoint}: {what}: delivered");
                return true;
            }
            Err(Failure::Refused(why)) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "fleetdeck::alert", "{endpoint}: {what}: refused ({why}); not retried");
                return false;
            }
            Err(Failure::Retry(why)) if attempt < delivery.attempts => {
                tracing::warn!(target: "fleetdeck::alert", "{endpoint}: {what}: {why}; retrying in {wait:?} (attempt {attempt} of {})", delivery.attempts);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(delivery.max_retry);
            }
            Err(Failure::Retry(why)) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "fleetdeck::alert", "{endpoint}: {what}: {why}; given up after {attempt} attempts");
                return false;
            }
        }
    }
    false
}

/// A `firing` with a newer transition of the same alert queued behind it: the
/// receiver would get it after the situation changed.
fn superseded(queue: &Queue<Transition>, transition: &Transition) -> bool {
    transition.status == Status::Firing && queue.any(|t| t.fingerprint == transition.fingerprint)
}

pub(crate) enum Failure {
    /// Worth another attempt: no answer, a timeout, a 5xx, 408 or 429.
    Retry(String),
    /// The receiver said no for good (another 4xx).
    Refused(String),
}

/// One POST of `body` as JSON; 2xx is success.
pub(crate) async fn post(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    body: &impl serde::Serialize,
    timeout: Duration,
) -> Result<(), Failure> {
    let response = client
        .post(endpoint.url().clone())
        .timeout(timeout)
        .json(body)
        .send()
        .await
        .map_err(|e| Failure::Retry(error_text(e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let why = format!("answered {status}");
    if status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
    {
        Err(Failure::Retry(why))
    } else {
        Err(Failure::Refused(why))
    }
}

/// A request's failure with its causes, never its URL.
pub(crate) fn error_text(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = if error.is_timeout() {
        "no answer in time".to_owned()
    } else {
        error.to_string()
    };
    let mut cause = std::error::Error::source(&error);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    crate::sanitize::line(&text)
}
