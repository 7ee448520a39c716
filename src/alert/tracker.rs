//! When a problem becomes an alert, and when that alert ends: the pure state machine
//! behind `watch --notify` and `--alertmanager`. It is fed every host's problems (and
//! its maintenance window) at a time the caller passes in, and answers with the
//! transitions to send; it never reads a clock nor does any I/O.
//!
//! The rules (docs/notify.md says the same for operators):
//! - A problem is keyed by host, signal and subject. It fires once it has been present
//!   in every observation for `hold` (a problem that comes and goes within the hold
//!   never fires); `started_at` is when it was first seen.
//! - A firing problem that is gone resolves at once: one `resolved`. Each episode
//!   sends exactly one `firing` and one `resolved`, however many rounds it spans.
//! - A firing problem that gets worse (warning to critical, say) is sent once more as
//!   `firing` with the new severity and `escalated_from`; one that gets better sends
//!   nothing (the `resolved` carries its last severity).
//! - A host that does not answer has one `host` problem (which fires after the hold
//!   like any other). Its other problems, except the certificates measured from here,
//!   are then unknown, not gone: they neither resolve nor fire until the host answers
//!   again, so a host going down is one alert, not a storm of resolved containers.
//! - Nothing is sent for a host in maintenance. Problems that had fired before the
//!   window stay firing through it; when the window ends (by itself or ended), what
//!   fired and is gone by then resolves, once, and what is still wrong and had not
//!   fired starts its hold at the end of the window.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::fleet::model::HostState;
use crate::fleet::problems::{Problem, SignalKind};
use crate::probes::Severity;
use crate::sanitize;

/// A transition's kind, as the webhook body's `status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Firing,
    Resolved,
}

/// One thing to tell the receivers: an alert started (or got worse) or ended. Its
/// JSON is the webhook body (docs/notify.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub status: Status,
    pub host: String,
    pub signal: SignalKind,
    pub subject: String,
    pub severity: Severity,
    /// Set on a second `firing` of the same episode: the severity it had before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalated_from: Option<Severity>,
    pub summary: String,
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "crate::util::time::serde_rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// Stable for host + signal + subject: the same in the firing and the resolved.
    pub fingerprint: String,
    /// Always "fleetdeck".
    pub source: &'static str,
    /// One line for people: `[FIRING critical] host: summary`, as chat webhooks that
    /// read a `text` field show it.
    pub text: String,
}

impl Transition {
    pub fn status_word(&self) -> &'static str {
        match self.status {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// The stable identity of an alert: the first 16 hex digits of SHA-256 over host,
/// signal and subject.
pub fn fingerprint(host: &str, signal: SignalKind, subject: &str) -> String {
    let mut hash = Sha256::new();
    for part in [host, signal.as_str(), subject] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    hex::encode(&hash.finalize()[..8])
}

#[derive(Debug, Clone)]
struct Entry {
    problem: Problem,
    /// When it was first seen in this episode (or when its hold restarted).
    since: OffsetDateTime,
    /// The severity sent with the last `firing`, once it fired.
    fired: Option<Severity>,
}

#[derive(Debug, Default)]
struct HostTrack {
    entries: BTreeMap<(SignalKind, String), Entry>,
    /// In maintenance at the last observation.
    silenced: bool,
}

/// The alerts of a fleet, followed from one observation to the next.
#[derive(Debug)]
pub struct Tracker {
    hold: Duration,
    hosts: BTreeMap<String, HostTrack>,
}

/// Signals still measured (from here) while a host does not answer.
fn measured_when_unreachable(signal: SignalKind) -> bool {
    matches!(signal, SignalKind::Host | SignalKind::Certs)
}

impl Tracker {
    pub fn new(hold: Duration) -> Tracker {
        Tracker {
            hold,
            hosts: BTreeMap::new(),
        }
    }

    /// Every host's state at `now`: the transitions to send, firing and resolved in
    /// host order.
    pub fn observe(&mut self, hosts: &[HostState], now: OffsetDateTime) -> Vec<Transition> {
        let mut out = Vec::new();
        for host in hosts {
            let silenced = host.in_maintenance(now).is_some();
            let problems = host.problems();
            out.extend(self.observe_host(&host.name, &problems, silenced, now));
        }
        out
    }

    /// One host's problems at `now`; `silenced` while it is in maintenance.
    pub fn observe_host(
        &mut self,
        host: &str,
        problems: &[Problem],
        silenced: bool,
        now: OffsetDateTime,
    ) -> Vec<Transition> {
        let hold = time::Duration::try_from(self.hold).unwrap_or(time::Duration::MAX);
        let track = self.hosts.entry(host.to_owned()).or_default();
        let unreachable = problems.iter().any(|p| p.signal == SignalKind::Host);
        let mut current: BTreeMap<(SignalKind, String), &Problem> = BTreeMap::new();
        for problem in problems {
            current
                .entry((problem.signal, problem.subject.clone()))
                .or_insert(problem);
        }
        if track.silenced && !silenced {
            // The window ended: what never fired starts its hold now.
            for entry in track.entries.values_mut().filter(|e| e.fired.is_none()) {
                entry.since = now;
            }
        }
        track.silenced = silenced;
        let mut out = Vec::new();
        // What is gone (or unknown).
        track.entries.retain(|key, entry| {
            if current.contains_key(key) {
                return true;
            }
            if unreachable && !measured_when_unreachable(key.0) {
                // Unknown while the host does not answer: kept as it was.
                return true;
            }
            match entry.fired {
                // Never fired: forgotten, silently.
                None => false,
                // Resolves, but not while silenced: it waits for the window's end.
                Some(_) if silenced => true,
                Some(_) => {
                    out.push(transition(host, entry, Status::Resolved, None, Some(now)));
                    false
                }
            }
        });
        // What is there.
        for (key, problem) in current {
            let entry = track.entries.entry(key).or_insert_with(|| Entry {
                problem: problem.clone(),
                since: now,
                fired: None,
            });
            entry.problem = problem.clone();
            if silenced {
                continue;
            }
            match entry.fired {
                None if now - entry.since >= hold => {
                    entry.fired = Some(problem.severity);
                    out.push(transition(host, entry, Status::Firing, None, None));
                }
                None => {}
                Some(sent) if problem.severity > sent => {
                    entry.fired = Some(problem.severity);
                    out.push(transition(host, entry, Status::Firing, Some(sent), None));
                }
                Some(_) => {}
            }
        }
        out
    }

    /// The alerts firing now (sent and not yet resolved), for a periodic re-push.
    pub fn firing(&self) -> Vec<Transition> {
        let mut out = Vec::new();
        for (host, track) in &self.hosts {
            for entry in track.entries.values().filter(|e| e.fired.is_some()) {
                out.push(transition(host, entry, Status::Firing, None, None));
            }
        }
        out
    }
}

fn transition(
    host: &str,
    entry: &Entry,
    status: Status,
    escalated_from: Option<Severity>,
    resolved_at: Option<OffsetDateTime>,
) -> Transition {
    let p = &entry.problem;
    let severity = match status {
        Status::Firing => p.severity,
        // The severity the receivers last heard, so a resolved matches its firing.
        Status::Resolved => entry.fired.unwrap_or(p.severity),
    };
    let word = match status {
        Status::Firing => "FIRING",
        Status::Resolved => "RESOLVED",
    };
    let text = sanitize::line(&format!(
        "[{word} {}] {host}: {}",
        severity.as_str(),
        p.summary
    ));
    Transition {
        text,
        status,
        host: sanitize::line(host),
        signal: p.signal,
        subject: sanitize::line(&p.subject),
        severity,
        escalated_from,
        summary: sanitize::line(&p.summary),
        started_at: entry.since,
        resolved_at,
        fingerprint: fingerprint(host, p.signal, &p.subject),
        source: "fleetdeck",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::model::{Expectations, HostState};
    use crate::probes::maintenance::Maintenance;

    const HOLD: Duration = Duration::from_secs(120);

    fn t(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    fn problem(signal: SignalKind, subject: &str, severity: Severity) -> Problem {
        Problem {
            signal,
            subject: subject.to_owned(),
            severity,
            summary: format!("{} {subject}: {}", signal.as_str(), severity.as_str()),
        }
    }

    fn worker(severity: Severity) -> Problem {
        problem(SignalKind::Containers, "worker", severity)
    }

    fn down() -> Problem {
        problem(SignalKind::Host, "", Severity::Critical)
    }

    fn statuses(sent: &[Transition]) -> Vec<(Status, &str, Severity)> {
        sent.iter()
            .map(|s| (s.status, s.subject.as_str(), s.severity))
            .collect()
    }

    #[test]
    fn a_problem_held_fires_once_and_resolves_once() {
        let mut tracker = Tracker::new(HOLD);
        let p = [worker(Severity::Critical)];
        assert!(tracker.observe_host("h", &p, false, t(0)).is_empty());
        assert!(tracker.observe_host("h", &p, false, t(119)).is_empty());
        let fired = tracker.observe_host("h", &p, false, t(120));
        assert_eq!(
            statuses(&fired),
            [(Status::Firing, "worker", Severity::Critical)]
        );
        assert_eq!(fired[0].started_at, t(0), "from when it was first seen");
        assert_eq!(fired[0].resolved_at, None);
        for round in 121..200 {
            assert!(tracker.observe_host("h", &p, false, t(round)).is_empty());
        }
        assert_eq!(tracker.firing().len(), 1);
        let resolved = tracker.observe_host("h", &[], false, t(300));
        assert_eq!(
            statuses(&resolved),
            [(Status::Resolved, "worker", Severity::Critical)]
        );
        assert_eq!(resolved[0].resolved_at, Some(t(300)));
        assert_eq!(resolved[0].started_at, t(0));
        assert_eq!(resolved[0].fingerprint, fired[0].fingerprint);
        assert!(tracker.observe_host("h", &[], false, t(301)).is_empty());
        assert!(tracker.firing().is_empty());
    }

    #[test]
    fn flapping_within_the_hold_never_fires() {
        let mut tracker = Tracker::new(HOLD);
        let p = [worker(Severity::Critical)];
        for cycle in 0..10 {
            let at = cycle * 100;
            assert!(tracker.observe_host("h", &p, false, t(at)).is_empty());
            assert!(tracker.observe_host("h", &p, false, t(at + 90)).is_empty());
            assert!(tracker.observe_host("h", &[], false, t(at + 95)).is_empty());
        }
    }

    #[test]
    fn a_zero_hold_fires_at_the_first_sight() {
        let mut tracker = Tracker::new(Duration::ZERO);
        let fired = tracker.observe_host("h", &[worker(Severity::Warning)], false, t(0));
        assert_eq!(
            statuses(&fired),
            [(Status::Firing, "worker", Severity::Warning)]
        );
    }

    #[test]
    fn getting_worse_fires_again_and_getting_better_sends_nothing() {
        let mut tracker = Tracker::new(Duration::ZERO);
        tracker.observe_host("h", &[worker(Severity::Warning)], false, t(0));
        let worse = tracker.observe_host("h", &[worker(Severity::Critical)], false, t(1));
        assert_eq!(
            statuses(&worse),
            [(Status::Firing, "worker", Severity::Critical)]
        );
        assert_eq!(worse[0].escalated_from, Some(Severity::Warning));
        assert_eq!(worse[0].started_at, t(0));
        assert!(
            tracker
                .observe_host("h", &[worker(Severity::Warning)], false, t(2))
                .is_empty()
        );
        let resolved = tracker.observe_host("h", &[], false, t(3));
        assert_eq!(
            statuses(&resolved),
            [(Status::Resolved, "worker", Severity::Critical)],
            "the resolved matches the last firing"
        );
    }

    #[test]
    fn an_unreachable_host_is_one_alert_not_a_storm() {
        let mut tracker = Tracker::new(HOLD);
        let cert = problem(SignalKind::Certs, "web", Severity::Warning);
        let before = [worker(Severity::Critical), cert.clone()];
        tracker.observe_host("h", &before, false, t(0));
        assert_eq!(tracker.observe_host("h", &before, false, t(120)).len(), 2);
        // Down: the containers are unknown (kept), the certificate still measured.
        let unreachable = [down(), cert.clone()];
        assert!(
            tracker
                .observe_host("h", &unreachable, false, t(130))
                .is_empty()
        );
        let fired = tracker.observe_host("h", &unreachable, false, t(250));
        assert_eq!(statuses(&fired), [(Status::Firing, "", Severity::Critical)]);
        assert_eq!(fired[0].signal, SignalKind::Host);
        // A certificate renewed meanwhile resolves: it is measured from here.
        let resolved = tracker.observe_host("h", &[down()], false, t(260));
        assert_eq!(
            statuses(&resolved),
            [(Status::Resolved, "web", Severity::Warning)]
        );
        // Back with the worker still broken: only the host's alert resolves.
        let back = tracker.observe_host("h", &[worker(Severity::Critical)], false, t(300));
        assert_eq!(
            statuses(&back),
            [(Status::Resolved, "", Severity::Critical)]
        );
        assert!(
            tracker
                .observe_host("h", &[worker(Severity::Critical)], false, t(500))
                .is_empty()
        );
    }

    #[test]
    fn an_unreachable_host_that_answers_again_within_the_hold_sends_nothing() {
        let mut tracker = Tracker::new(HOLD);
        let p = [worker(Severity::Critical)];
        tracker.observe_host("h", &p, false, t(0));
        tracker.observe_host("h", &p, false, t(120));
        assert!(
            tracker
                .observe_host("h", &[down()], false, t(130))
                .is_empty()
        );
        assert!(tracker.observe_host("h", &p, false, t(200)).is_empty());
    }

    #[test]
    fn nothing_is_sent_in_maintenance_and_its_end_settles_once() {
        let mut tracker = Tracker::new(HOLD);
        let a = worker(Severity::Critical);
        let b = problem(SignalKind::Backups, "repo", Severity::Critical);
        let c = problem(SignalKind::Firewall, "5432 open", Severity::Warning);
        tracker.observe_host("h", &[a.clone(), b.clone()], false, t(0));
        assert_eq!(
            tracker
                .observe_host("h", &[a.clone(), b.clone()], false, t(120))
                .len(),
            2
        );
        // In the window: the worker is fixed, the backup stays stale, drift appears,
        // the host reboots.
        for (at, now) in [
            (200, vec![a.clone(), b.clone()]),
            (300, vec![b.clone(), c.clone()]),
            (400, vec![down()]),
            (900, vec![b.clone(), c.clone()]),
        ] {
            assert!(
                tracker.observe_host("h", &now, true, t(at)).is_empty(),
                "{at}"
            );
        }
        // The window ends: the worker resolves, once; the drift starts its hold now.
        let end = tracker.observe_host("h", &[b.clone(), c.clone()], false, t(1000));
        assert_eq!(
            statuses(&end),
            [(Status::Resolved, "worker", Severity::Critical)]
        );
        assert!(
            tracker
                .observe_host("h", &[b.clone(), c.clone()], false, t(1119))
                .is_empty()
        );
        let fired = tracker.observe_host("h", &[b.clone(), c.clone()], false, t(1120));
        assert_eq!(
            statuses(&fired),
            [(Status::Firing, "5432 open", Severity::Warning)]
        );
        assert_eq!(fired[0].started_at, t(1000));
    }

    #[test]
    fn hosts_are_followed_apart_and_a_window_on_one_silences_only_it() {
        let mut tracker = Tracker::new(Duration::ZERO);
        let mut quiet = HostState::new("quiet", Vec::new(), Expectations::default());
        let loud = HostState::new("loud", Vec::new(), Expectations::default());
        quiet.maintenance.set(
            Some(Maintenance {
                by: "ops@desk".into(),
                started_at: t(0),
                until: t(3600),
                reason: "reboot".into(),
            }),
            t(0),
        );
        // Neither was contacted yet: a `host` problem each, silenced on one.
        let sent = tracker.observe(&[quiet.clone(), loud.clone()], t(10));
        assert_eq!(
            sent.iter().map(|s| s.host.as_str()).collect::<Vec<_>>(),
            ["loud"]
        );
        // The window expires by itself: the quiet one's problem fires then.
        let after = tracker.observe(&[quiet, loud], t(3600));
        assert_eq!(
            after.iter().map(|s| s.host.as_str()).collect::<Vec<_>>(),
            ["quiet"]
        );
    }

    #[test]
    fn the_fingerprint_is_stable_and_tells_alerts_apart() {
        let f = fingerprint("h", SignalKind::Containers, "worker");
        assert_eq!(f, fingerprint("h", SignalKind::Containers, "worker"));
        assert_eq!(f.len(), 16);
        assert_ne!(f, fingerprint("h", SignalKind::Containers, "web"));
        assert_ne!(f, fingerprint("h2", SignalKind::Containers, "worker"));
        assert_ne!(
            fingerprint("a", SignalKind::Containers, "bc"),
            fingerprint("ab", SignalKind::Containers, "c")
        );
    }

    #[test]
    fn the_body_names_what_receivers_need() {
        let mut tracker = Tracker::new(Duration::ZERO);
        let mut hostile = worker(Severity::Critical);
        hostile.summary = "bad\u{1b}[31m\nline".into();
        let sent = tracker.observe_host("h", &[hostile], false, t(0));
        let body = serde_json::to_value(&sent[0]).unwrap();
        for key in [
            "status",
            "host",
            "signal",
            "subject",
            "severity",
            "summary",
            "started_at",
            "resolved_at",
            "fingerprint",
            "source",
            "text",
        ] {
            assert!(body.get(key).is_some(), "{key} in {body}");
        }
        assert_eq!(body["status"], "firing");
        assert_eq!(body["signal"], "containers");
        assert_eq!(body["resolved_at"], serde_json::Value::Null);
        let summary = body["summary"].as_str().unwrap();
        assert!(
            !summary.contains('\u{1b}') && !summary.contains('\n'),
            "{summary}"
        );
        let text = body["text"].as_str().unwrap();
        assert!(text.starts_with("[FIRING critical] h: "), "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\n'), "{text}");
    }
}
