//! The console's fleet timeline: its entries (made in `fleet::timeline`) and their
//! filters.

use crate::fleet::model::HostChange;
use crate::history::BACKFILL_PREFIX;
use crate::probes::Severity;
use std::collections::{BTreeMap, VecDeque};
use time::OffsetDateTime;

pub use crate::fleet::timeline::{TimelineEntry, TimelineKind, entries};

#[derive(Debug, Clone, Default)]
pub struct TimelineState {
    pub entries: VecDeque<TimelineEntry>,
    pub selected: usize,
    pub host: Option<String>,
    pub min_severity: Option<Severity>,
    pub kind: Option<TimelineKind>,
    /// Whether what is recorded is also kept in `unrecorded` for the persistent
    /// history (set when the console has a history to write to).
    pub recording: bool,
    /// Entries recorded since the event loop last handed them to the history.
    pub unrecorded: Vec<TimelineEntry>,
    /// Per host, the newest entry (not an action) the history held at launch: a
    /// backfilled Docker event at or before it was recorded then, in other words.
    pub history_until: BTreeMap<String, OffsetDateTime>,
}

impl TimelineState {
    /// Newest first, filtered.
    pub fn visible(&self) -> Vec<&TimelineEntry> {
        self.entries
            .iter()
            .rev()
            .filter(|e| self.host.as_ref().is_none_or(|h| &e.host == h))
            .filter(|e| self.min_severity.is_none_or(|s| e.severity >= s))
            .filter(|e| self.kind.is_none_or(|k| e.kind == k))
            .collect()
    }

    /// Records what changed on `host`, keeping the entries in time order (a backfilled
    /// event goes where its time puts it) and dropping the oldest past `capacity`. An
    /// entry whose `key` is already recorded (a reconnect backfills the same window
    /// again) is not added twice.
    pub fn record(
        &mut self,
        host: &str,
        changes: Vec<HostChange>,
        now: OffsetDateTime,
        capacity: usize,
    ) {
        for entry in entries(host, changes, now) {
            if entry.key.is_some() && self.entries.iter().any(|e| e.key == entry.key) {
                continue;
            }
            // What Docker's history tells of the time an earlier process already
            // recorded is in the seeded entries in that process's words.
            let backfilled = entry
                .key
                .as_deref()
                .is_some_and(|k| k.starts_with(BACKFILL_PREFIX));
            if backfilled
                && self
                    .history_until
                    .get(&entry.host)
                    .is_some_and(|until| entry.at <= *until)
            {
                continue;
            }
            if self.recording {
                self.unrecorded.push(entry.clone());
            }
            let mut at = self.entries.partition_point(|e| e.at <= entry.at);
            if self.entries.len() >= capacity {
                if at == 0 {
                    // Older than everything kept in a full timeline.
                    continue;
                }
                self.entries.pop_front();
                at -= 1;
            }
            self.entries.insert(at, entry);
        }
    }

    /// Puts `recent` (newest first, as the history answers) before the live entries,
    /// keeping at most `capacity` in all.
    pub fn seed(&mut self, recent: Vec<TimelineEntry>, capacity: usize) {
        for entry in recent.iter().filter(|e| e.kind != TimelineKind::Action) {
            let until = self
                .history_until
                .entry(entry.host.clone())
                .or_insert(entry.at);
            *until = (*until).max(entry.at);
        }
        for entry in recent {
            if self.entries.len() >= capacity {
                break;
            }
            self.entries.push_front(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::past::{PastAction, PastEvent};
    use crate::fleet::containers::{ContainerReport, ContainerUpdate, Pinning};
    use crate::fleet::model::{Expectations, HostEvent, HostState};

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_796_326_000 + seconds).unwrap()
    }

    fn stopped(seconds: i64) -> PastEvent {
        PastEvent {
            at: at(seconds),
            container: "probe".into(),
            action: PastAction::Die { exit_code: Some(0) },
            key: format!("docker:{seconds}:0123456789ab:die"),
        }
    }

    fn texts(timeline: &TimelineState) -> Vec<String> {
        timeline
            .visible()
            .iter()
            .map(|e| format!("{} {}", e.at.unix_timestamp() - 1_796_326_000, e.text))
            .collect()
    }

    #[test]
    fn backfilled_entries_go_where_their_time_puts_them_and_only_once() {
        let mut t = TimelineState::default();
        t.record("delta", vec![HostChange::Connected], at(100), 10);
        t.record("delta", vec![HostChange::Past(stopped(40))], at(101), 10);
        t.record("delta", vec![HostChange::Connected], at(200), 10);
        // A reconnect backfills the same window again, and one newer event.
        let again = vec![
            HostChange::Past(stopped(40)),
            HostChange::Past(stopped(150)),
        ];
        t.record("delta", again, at(201), 10);
        assert_eq!(
            texts(&t),
            [
                "200 connected",
                "150 probe: died (exit 0)",
                "100 connected",
                "40 probe: died (exit 0)",
            ]
        );
    }

    #[test]
    fn a_backfill_of_what_the_history_already_holds_is_not_shown_twice() {
        let mut t = TimelineState::default();
        let recorded = TimelineEntry {
            at: at(100),
            host: "delta".into(),
            severity: Severity::Critical,
            kind: TimelineKind::Container,
            text: "probe: exited".into(),
            key: None,
        };
        // An action recorded later does not move the line: only what watched did.
        let action = TimelineEntry {
            at: at(300),
            kind: TimelineKind::Action,
            text: "deploy ok".into(),
            ..recorded.clone()
        };
        t.seed(vec![action, recorded], 10);
        t.record(
            "delta",
            vec![
                HostChange::Past(stopped(40)),
                HostChange::Past(stopped(100)),
                HostChange::Past(stopped(150)),
            ],
            at(400),
            10,
        );
        assert_eq!(
            texts(&t),
            [
                "300 deploy ok",
                "150 probe: died (exit 0)",
                "100 probe: exited",
            ]
        );
    }

    #[test]
    fn a_full_timeline_drops_its_oldest_and_ignores_older_backfills() {
        let mut t = TimelineState::default();
        for s in [10, 20, 30] {
            t.record("delta", vec![HostChange::Connected], at(s), 3);
        }
        t.record("delta", vec![HostChange::Past(stopped(5))], at(31), 3);
        assert_eq!(texts(&t), ["30 connected", "20 connected", "10 connected"]);
        t.record("delta", vec![HostChange::Past(stopped(15))], at(32), 3);
        assert_eq!(
            texts(&t),
            ["30 connected", "20 connected", "15 probe: died (exit 0)"]
        );
    }

    fn exited(name: &str) -> ContainerReport {
        ContainerReport {
            name: name.into(),
            id: "0123456789ab".into(),
            state: "exited".into(),
            health: None,
            health_output: None,
            restart_count: 0,
            exit_code: Some(0),
            oom_killed: false,
            started_at: None,
            uptime_seconds: None,
            image: "busybox:1.36".into(),
            image_pinned: Pinning::Tag,
            severity: Severity::Warning,
            problem: Some("exited (0)".into()),
            app: None,
            service: None,
            config_hash: None,
            findings: Vec::new(),
            published: Vec::new(),
        }
    }

    /// A container stopped before the console connected: the first listing shows it
    /// stopped (no news), the backfill tells when it stopped, once.
    #[test]
    fn a_stop_before_the_connection_shows_once_from_the_backfill() {
        let mut host = HostState::new("delta", vec![], Expectations::default());
        let mut t = TimelineState::default();
        let events = [
            HostEvent::Up { at: at(100) },
            HostEvent::Containers(ContainerUpdate::All(vec![exited("probe")], at(101))),
            HostEvent::Past(vec![stopped(40)]),
            HostEvent::Containers(ContainerUpdate::All(vec![exited("probe")], at(130))),
        ];
        for event in events {
            let changes = host.apply(event);
            t.record("delta", changes, at(102), 100);
        }
        assert_eq!(texts(&t), ["102 connected", "40 probe: died (exit 0)"]);
    }
}
