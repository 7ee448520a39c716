//! The history's writer for async code: a thread of its own owns a connection and
//! records what it is sent, in one transaction per batch. Sending never blocks: when
//! the queue is full the entries are dropped, counted and logged.
//!
//! The backfill rule: entries learnt from Docker's own event history after a connect
//! (keyed `docker:…`) that are at or before the host's last recorded entry as it was
//! when the writer started are dropped — what happened before that was recorded by
//! this or an earlier process. Repeats after it are dropped by the unique key.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::History;
use crate::fleet::timeline::TimelineEntry;

/// Batches the queue holds before new ones are dropped.
pub const WRITER_QUEUE: usize = 4096;
/// The key prefix of entries backfilled from Docker's event history.
pub const BACKFILL_PREFIX: &str = "docker:";
/// How often the writer prunes what is past retention.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Tries of one batch when the database stays locked past the busy timeout.
const TRIES: u32 = 3;

/// Records entries from async code without waiting for the disk.
#[derive(Debug)]
pub struct HistoryWriter {
    tx: Option<SyncSender<Vec<TimelineEntry>>>,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl HistoryWriter {
    /// Starts the writer's thread with `history`. The last recorded entry of each of
    /// `hosts` is read now, for the backfill rule (a host not named is read when its
    /// first entries arrive).
    pub fn start(history: History, hosts: &[String]) -> HistoryWriter {
        let mut marks = Marks::default();
        for host in hosts {
            marks.mark(&history, host);
        }
        let (tx, rx) = sync_channel(WRITER_QUEUE);
        let thread = std::thread::Builder::new()
            .name("fleetdeck-history".to_owned())
            .spawn(move || run(history, marks, rx))
            .map_err(|error| tracing::warn!("history writer: cannot start its thread: {error}"))
            .ok();
        HistoryWriter {
            tx: thread.as_ref().map(|_| tx),
            dropped: Arc::new(AtomicU64::new(0)),
            thread,
        }
    }

    /// Queues `entries`; never blocks. When the queue is full they are dropped and
    /// counted (see [`Self::dropped`]).
    pub fn record(&self, entries: Vec<TimelineEntry>) {
        if entries.is_empty() {
            return;
        }
        let Some(tx) = &self.tx else {
            return;
        };
        match tx.try_send(entries) {
            Ok(()) => {}
            Err(TrySendError::Full(entries) | TrySendError::Disconnected(entries)) => {
                let before = self
                    .dropped
                    .fetch_add(entries.len() as u64, Ordering::Relaxed);
                // Once, then every thousandth: a stuck disk must not flood the log.
                if before == 0 || before / 1000 != (before + entries.len() as u64) / 1000 {
                    tracing::warn!(
                        "history writer: queue full or writer stopped, {} entries dropped so far",
                        before + entries.len() as u64
                    );
                }
            }
        }
    }

    /// Entries dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for HistoryWriter {
    /// Closes the queue and waits for what is queued to be written.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Each host's last recorded entry as it was when the writer first looked.
#[derive(Debug, Default)]
struct Marks(HashMap<String, Option<OffsetDateTime>>);

impl Marks {
    fn mark(&mut self, history: &History, host: &str) -> Option<OffsetDateTime> {
        if let Some(mark) = self.0.get(host) {
            return *mark;
        }
        let mark = history.last_recorded(host).unwrap_or_else(|error| {
            tracing::warn!("history writer: {error}");
            None
        });
        self.0.insert(host.to_owned(), mark);
        mark
    }

    /// `entries` without the backfilled ones already covered by the history.
    fn keep(&mut self, history: &History, entries: Vec<TimelineEntry>) -> Vec<TimelineEntry> {
        entries
            .into_iter()
            .filter(|entry| {
                let backfilled = entry
                    .key
                    .as_deref()
                    .is_some_and(|k| k.starts_with(BACKFILL_PREFIX));
                !backfilled || self.mark(history, &entry.host).is_none_or(|m| entry.at > m)
            })
            .collect()
    }
}

fn run(history: History, mut marks: Marks, rx: Receiver<Vec<TimelineEntry>>) {
    let mut last_prune = Instant::now();
    while let Ok(first) = rx.recv() {
        let mut batch = first;
        while let Ok(more) = rx.try_recv() {
            batch.extend(more);
        }
        let batch = marks.keep(&history, batch);
        write(&history, &batch);
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            if let Err(error) = history.prune(OffsetDateTime::now_utc()) {
                tracing::warn!("history writer: pruning: {error}");
            }
        }
    }
}

/// One transaction; tried again while another process keeps the file locked.
fn write(history: &History, batch: &[TimelineEntry]) {
    for attempt in 1..=TRIES {
        match history.record(batch) {
            Ok(_) => return,
            Err(super::HistoryError::Locked { .. }) if attempt < TRIES => continue,
            Err(error) => {
                tracing::warn!(
                    "history writer: {} entries not recorded: {error}",
                    batch.len()
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::timeline::TimelineKind;
    use crate::probes::Severity;
    use time::macros::datetime;

    fn entry(host: &str, at: OffsetDateTime, key: Option<&str>) -> TimelineEntry {
        TimelineEntry {
            at,
            host: host.to_owned(),
            severity: Severity::Critical,
            kind: TimelineKind::Container,
            text: format!("worker: exited at {at}"),
            key: key.map(str::to_owned),
        }
    }

    fn all(history: &History) -> Vec<TimelineEntry> {
        history
            .query(&super::super::Query {
                since: datetime!(2000-01-01 0:00 UTC),
                until: None,
                host: None,
                kind: None,
                limit: 1000,
            })
            .expect("query")
    }

    #[test]
    fn backfilled_entries_at_or_before_the_last_recorded_are_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.db");
        let now = OffsetDateTime::now_utc();
        let mark = now - Duration::from_secs(600);
        {
            let history = History::open(&path).expect("open");
            // An earlier process saw alpha until `mark`; beta never.
            history
                .record(&[entry("alpha", mark, None)])
                .expect("record");
        }
        let writer = HistoryWriter::start(History::open(&path).expect("open"), &["alpha".into()]);
        // This process connects (a live entry newer than the mark) before the backfill
        // arrives: the mark is the one read at start, not this.
        writer.record(vec![entry("alpha", now, None)]);
        writer.record(vec![
            entry("alpha", mark - Duration::from_secs(60), Some("docker:old")),
            entry("alpha", mark, Some("docker:at-mark")),
            entry("alpha", mark + Duration::from_secs(1), Some("docker:after")),
            entry("alpha", mark + Duration::from_secs(1), Some("docker:after")),
            // A key of another kind is never subject to the rule.
            entry("alpha", mark - Duration::from_secs(60), Some("audit:1")),
            // A host never recorded keeps its whole backfill.
            entry("beta", mark - Duration::from_secs(3600), Some("docker:b1")),
        ]);
        drop(writer);
        let history = History::open(&path).expect("open");
        let mut keys: Vec<_> = all(&history).into_iter().filter_map(|e| e.key).collect();
        keys.sort();
        assert_eq!(keys, ["audit:1", "docker:after", "docker:b1"]);
        assert_eq!(all(&history).len(), 5, "mark, live, and the three kept");
    }

    #[test]
    fn a_writer_with_no_thread_left_counts_what_it_drops() {
        let dir = tempfile::tempdir().expect("tempdir");
        let history = History::open(&dir.path().join("h.db")).expect("open");
        let mut writer = HistoryWriter::start(history, &[]);
        // The thread gone (as if it had died): sending must not block nor panic.
        writer.tx = None;
        writer.record(vec![entry("a", OffsetDateTime::now_utc(), None)]);
        assert_eq!(writer.dropped(), 0, "no queue at all is not a full queue");
        let (tx, _rx) = sync_channel(1);
        writer.tx = Some(tx);
        writer.record(vec![entry("a", OffsetDateTime::now_utc(), None)]);
        writer.record(vec![
            entry("a", OffsetDateTime::now_utc(), None),
            entry("b", OffsetDateTime::now_utc(), None),
        ]);
        assert_eq!(writer.dropped(), 2, "the queue of one is full");
    }
}
