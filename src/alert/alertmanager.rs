//! The Alertmanager pusher: the same alerts, posted to Alertmanager's v2 API
//! (`POST <base>/api/v2/alerts`) so that its routing, grouping, inhibitions and
//! silences apply. Like Prometheus it re-posts every firing alert each minute with an
//! `endsAt` four minutes ahead, so Alertmanager keeps it active while fleetdeck runs
//! and lets it lapse by itself when fleetdeck stops; a resolved alert is posted once
//! with `endsAt` set to when it resolved.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::endpoint::Endpoint;
use super::queue::Queue;
use super::tracker::{Status, Transition};
use super::webhook::{Counters, Delivery, Failure, post};

/// How often firing alerts are posted again.
pub const RESEND: Duration = Duration::from_secs(60);
/// How far ahead a firing alert's `endsAt` is set: four resends, as Prometheus does.
pub const VALID_FOR: Duration = Duration::from_secs(240);
/// Attempts per post; the next resend tries again anyway.
const ATTEMPTS: u32 = 3;

/// One alert as Alertmanager's `postableAlert` takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    pub labels: BTreeMap<&'static str, String>,
    pub annotations: BTreeMap<&'static str, String>,
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub ends_at: OffsetDateTime,
}

/// The alert name for a signal: `Fleetdeck` and the signal (`FleetdeckContainers`).
pub fn alert_name(transition: &Transition) -> String {
    let signal = transition.signal.as_str();
    let mut name = String::from("Fleetdeck");
    let mut chars = signal.chars();
    if let Some(first) = chars.next() {
        name.extend(first.to_uppercase());
        name.push_str(chars.as_str());
    }
    name
}

/// `transition` as Alertmanager takes it, ending at `ends_at`. Labels: `alertname`,
/// `host`, `signal`, `subject` (left out when empty: the signal as a whole),
/// `severity`, `source="fleetdeck"`; annotations: `summary`, `fingerprint`.
pub fn postable(transition: &Transition, ends_at: OffsetDateTime) -> PostableAlert {
    let mut labels = BTreeMap::from([
        ("alertname", alert_name(transition)),
        ("host", transition.host.clone()),
        ("signal", transition.signal.as_str().to_owned()),
        ("severity", transition.severity.as_str().to_owned()),
        ("source", "fleetdeck".to_owned()),
    ]);
    if !transition.subject.is_empty() {
        labels.insert("subject", transition.subject.clone());
    }
    PostableAlert {
        labels,
        annotations: BTreeMap::from([
            ("summary", transition.summary.clone()),
            ("fingerprint", transition.fingerprint.clone()),
        ]),
        starts_at: transition.started_at,
        ends_at,
    }
}

/// The alerts an Alertmanager should know of: those firing, and those ended that it
/// has not been told of yet.
#[derive(Debug, Default)]
pub struct Book {
    firing: BTreeMap<String, Transition>,
    /// Keyed by fingerprint and severity (an escalation ends the alert with the
    /// lower severity label): the alert and when it ended.
    ended: BTreeMap<(String, &'static str), (Transition, OffsetDateTime)>,
}

impl Book {
    pub fn apply(&mut self, transition: Transition, now: OffsetDateTime) {
        let fingerprint = transition.fingerprint.clone();
        match transition.status {
            Status::Firing => {
                if let Some(before) = self.firing.get(&fingerprint)
                    && before.severity != transition.severity
                {
                    self.end(before.clone(), now);
                }
                self.ended
                    .remove(&(fingerprint.clone(), transition.severity.as_str()));
                self.firing.insert(fingerprint, transition);
            }
            Status::Resolved => {
                let at = transition.resolved_at.unwrap_or(now);
                if let Some(before) = self.firing.remove(&fingerprint) {
                    self.end(before, at);
                }
                self.end(transition, at);
            }
        }
    }

    fn end(&mut self, transition: Transition, at: OffsetDateTime) {
        let key = (transition.fingerprint.clone(), transition.severity.as_str());
        self.ended.insert(key, (transition, at));
    }

    /// What to post at `now`: every firing alert valid for [`VALID_FOR`], every
    /// ended one with its end. Ended alerts older than `VALID_FOR` are forgotten:
    /// Alertmanager has let them lapse by then.
    pub fn batch(&mut self, now: OffsetDateTime) -> Vec<PostableAlert> {
        let valid = time::Duration::try_from(VALID_FOR).unwrap_or(time::Duration::MINUTE);
        self.ended.retain(|_, (_, at)| now - *at < valid);
        let mut out: Vec<PostableAlert> = self
            .firing
            .values()
            .map(|t| postable(t, now + valid))
            .collect();
        out.extend(self.ended.values().map(|(t, at)| postable(t, *at)));
        out
    }

    /// Alertmanager took the batch: the ended alerts need not be posted again.
    pub fn posted(&mut self) {
        self.ended.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.firing.is_empty() && self.ended.is_empty()
    }
}

/// Posts what `queue` receives to `endpoint` (Alertmanager's base URL), and every
/// firing alert again each [`RESEND`], forever (until the runtime ends).
pub async fn run(
    client: reqwest::Client,
    endpoint: Endpoint,
    queue: Arc<Queue<Transition>>,
    delivery: Delivery,
    counters: Arc<Counters>,
) {
    let api = endpoint.with_path("/api/v2/alerts");
    let mut book = Book::default();
    let mut resend = tokio::time::interval(RESEND);
    resend.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            first = queue.pop() => {
                let now = OffsetDateTime::now_utc();
                book.apply(first, now);
                for next in queue.drain() {
                    book.apply(next, now);
                }
            }
            _ = resend.tick() => {}
        }
        if book.is_empty() {
            continue;
        }
        let mut wait = delivery.first_retry;
        for attempt in 1..=ATTEMPTS {
            let batch = book.batch(OffsetDateTime::now_utc());
            match post(&client, &api, &batch, delivery.timeout).await {
                Ok(()) => {
                    book.posted();
                    counters.delivered.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(Failure::Retry(why) | Failure::Refused(why)) => {
                    if attempt == ATTEMPTS {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(target: "fleetdeck::alert", "{endpoint}: posting {} alert(s): {why}; trying again at the next resend", batch.len());
                        break;
                    }
                    tracing::warn!(target: "fleetdeck::alert", "{endpoint}: posting {} alert(s): {why}; retrying in {wait:?}", batch.len());
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(delivery.max_retry);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::problems::{Problem, SignalKind};
    use crate::probes::Severity;

    fn t(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    fn sent(
        problems: &[(&str, Severity)],
        at: i64,
        tracker: &mut super::super::tracker::Tracker,
    ) -> Vec<Transition> {
        let problems: Vec<Problem> = problems
            .iter()
            .map(|(subject, severity)| Problem {
                signal: SignalKind::Certs,
                subject: (*subject).to_owned(),
                severity: *severity,
                summary: format!("certificate {subject}"),
            })
            .collect();
        tracker.observe_host("web1", &problems, false, t(at))
    }

    #[test]
    fn an_alert_is_labelled_posted_while_firing_and_ended_once() {
        let mut tracker = super::super::tracker::Tracker::new(Duration::ZERO);
        let mut book = Book::default();
        for tr in sent(
            &[("shop", Severity::Warning), ("", Severity::Unknown)],
            0,
            &mut tracker,
        ) {
            book.apply(tr, t(0));
        }
        let batch = book.batch(t(0));
        assert_eq!(batch.len(), 2);
        let shop = batch
            .iter()
            .find(|a| a.labels.contains_key("subject"))
            .unwrap();
        let json = serde_json::to_value(shop).unwrap();
        assert_eq!(json["labels"]["alertname"], "FleetdeckCerts");
        assert_eq!(json["labels"]["host"], "web1");
        assert_eq!(json["labels"]["signal"], "certs");
        assert_eq!(json["labels"]["subject"], "shop");
        assert_eq!(json["labels"]["severity"], "warning");
        assert_eq!(json["labels"]["source"], "fleetdeck");
        assert_eq!(json["annotations"]["summary"], "certificate shop");
        assert_eq!(shop.ends_at, t(240), "valid for four resends");
        let whole = batch.iter().find(|a| !a.labels.contains_key("subject"));
        assert!(
            whole.is_some(),
            "an empty subject is left out, not posted empty"
        );
        book.posted();
        // A resend a minute later moves endsAt on.
        assert_eq!(book.batch(t(60))[0].ends_at, t(300));
        // Escalation: the warning ends, the critical starts with the same startsAt.
        for tr in sent(
            &[("shop", Severity::Critical), ("", Severity::Unknown)],
            70,
            &mut tracker,
        ) {
            book.apply(tr, t(70));
        }
        let batch = book.batch(t(70));
        let shop: Vec<_> = batch
            .iter()
            .filter(|a| a.labels.contains_key("subject"))
            .collect();
        assert_eq!(shop.len(), 2);
        for alert in shop {
            assert_eq!(alert.starts_at, t(0));
            match alert.labels["severity"].as_str() {
                "warning" => assert_eq!(alert.ends_at, t(70)),
                "critical" => assert_eq!(alert.ends_at, t(310)),
                other => panic!("{other}"),
            }
        }
        book.posted();
        // Resolved: posted once ending then, then nothing more about it.
        for tr in sent(&[], 100, &mut tracker) {
            book.apply(tr, t(100));
        }
        let batch = book.batch(t(100));
        assert_eq!(batch.len(), 2);
        assert!(batch.iter().all(|a| a.ends_at == t(100)), "{batch:?}");
        book.posted();
        assert!(book.is_empty());
    }

    #[test]
    fn an_unposted_end_is_kept_until_alertmanager_would_have_let_it_lapse() {
        let mut tracker = super::super::tracker::Tracker::new(Duration::ZERO);
        let mut book = Book::default();
        for tr in sent(&[("shop", Severity::Critical)], 0, &mut tracker) {
            book.apply(tr, t(0));
        }
        for tr in sent(&[], 10, &mut tracker) {
            book.apply(tr, t(10));
        }
        assert_eq!(book.batch(t(10)).len(), 1);
        assert_eq!(book.batch(t(200)).len(), 1, "not posted yet: kept");
        assert!(book.batch(t(300)).is_empty());
    }
}
