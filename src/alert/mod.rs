//! Alerts that reach people without Prometheus (docs/notify.md): the tracker that
//! turns each host's problems into `firing` and `resolved` transitions, and the
//! senders that deliver them to webhooks and to Alertmanager, each in its own task
//! behind a bounded queue, so that no receiver ever holds up another or the caller.

pub mod alertmanager;
pub mod endpoint;
pub mod queue;
pub mod tracker;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::fleet::model::HostState;
use endpoint::Endpoint;
use queue::Queue;
use tracker::{Tracker, Transition};
use webhook::{Counters, Delivery};

/// The hold when `--notify-hold` is not given: longer than a deploy's switch-over, a
/// container's restart or a host's reboot take, shorter than anyone waits to hear
/// that something is really down.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(120);

/// Where alerts go, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Receivers {
    pub webhooks: Vec<Endpoint>,
    pub alertmanagers: Vec<Endpoint>,
}

impl Receivers {
    pub fn is_empty(&self) -> bool {
        self.webhooks.is_empty() && self.alertmanagers.is_empty()
    }
}

/// One started receiver: its queue and what happened to what it was handed.
pub struct Started {
    pub endpoint: Endpoint,
    pub queue: Arc<Queue<Transition>>,
    pub counters: Arc<Counters>,
}

/// The tracker and the started senders: fed the fleet's state, hands every
/// transition to every receiver's queue and returns at once.
pub struct Notifier {
    tracker: Tracker,
    started: Vec<Started>,
}

impl Notifier {
    /// Starts one task per receiver on the current runtime.
    pub async fn start(
        hold: Duration,
        receivers: &Receivers,
        delivery: Delivery,
    ) -> Result<Notifier, String> {
        let client = http_client().await?;
        let mut started = Vec::new();
        for (endpoint, alertmanager) in receivers
            .webhooks
            .iter()
            .map(|e| (e, false))
            .chain(receivers.alertmanagers.iter().map(|e| (e, true)))
        {
            let queue = Arc::new(Queue::new(endpoint.shown(), queue::CAPACITY));
            let counters = Arc::new(Counters::default());
            let (client, at, q, c) = (
                client.clone(),
                endpoint.clone(),
                queue.clone(),
                counters.clone(),
            );
            if alertmanager {
                tokio::spawn(alertmanager::run(client, at, q, delivery, c));
            } else {
                tokio::spawn(webhook::run(client, at, q, delivery, c));
            }
            started.push(Started {
                endpoint: endpoint.clone(),
                queue,
                counters,
            });
        }
        Ok(Notifier {
            tracker: Tracker::new(hold),
            started,
        })
    }

    /// The fleet at `now`: what changed is queued for every receiver; never waits.
    pub fn observe(&mut self, hosts: &[HostState], now: OffsetDateTime) -> Vec<Transition> {
        let transitions = self.tracker.observe(hosts, now);
        for started in &self.started {
            for transition in &transitions {
                started.queue.push(transition.clone());
            }
        }
        transitions
    }

    pub fn receivers(&self) -> &[Started] {
        &self.started
    }
}

/// The senders' HTTP client: the system's roots, `ring`, no redirects followed (a
/// redirect would carry the body, and maybe its token, elsewhere).
async fn http_client() -> Result<reqwest::Client, String> {
    // Without system roots, http:// receivers still work; https ones then fail with
    // an unknown issuer, which the log says.
    let anchors = crate::probes::cert::system_trust_anchors()
        .await
        .unwrap_or_default();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup for notifications: {e}"))?
        .with_root_certificates(rustls::RootCertStore { roots: anchors })
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("HTTP client for notifications: {e}"))
}
