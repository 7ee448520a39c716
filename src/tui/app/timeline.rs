//! The console's fleet timeline: its entries (made in `fleet::timeline`) and their
//! filters.

use crate::fleet::model::HostChange;
use crate::probes::Severity;
use std::collections::VecDeque;
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

    /// Records what changed on `host`, dropping the oldest entries past `capacity`.
    pub fn record(
        &mut self,
        host: &str,
        changes: Vec<HostChange>,
        now: OffsetDateTime,
        capacity: usize,
    ) {
        for entry in entries(host, changes, now) {
            if self.entries.len() >= capacity {
                self.entries.pop_front();
            }
            if self.recording {
                self.unrecorded.push(entry.clone());
            }
            self.entries.push_back(entry);
        }
    }

    /// Puts `recent` (newest first, as the history answers) before the live entries,
    /// keeping at most `capacity` in all.
    pub fn seed(&mut self, recent: Vec<TimelineEntry>, capacity: usize) {
        for entry in recent {
            if self.entries.len() >= capacity {
                break;
            }
            self.entries.push_front(entry);
        }
    }
}
