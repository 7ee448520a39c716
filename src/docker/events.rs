//! Following a Docker engine's `/events` across reconnects without losing or
//! repeating an event.
//!
//! Docker keeps its last 256 events in memory and replays those at or after `since`
//! (nanosecond precision when given as `seconds.nanoseconds`) before streaming live
//! ones. So a follower that reconnects asks again from a little before the newest
//! event it delivered and drops what it already delivered. Events of one engine can
//! carry slightly out-of-order times (the daemon stamps an event before queueing it),
//! hence a window rather than a single position: everything delivered within
//! [`RESUME_WINDOW_NANOS`] of the newest event is remembered and asked for again.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bollard::Docker;
use bollard::errors::Error;
use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptions;
use futures_util::Stream;

/// How far before the newest delivered event a resumed follower asks again, so an
/// event stamped earlier but queued later is not skipped.
pub const RESUME_WINDOW_NANOS: i64 = 1_000_000_000;

/// Delivered events remembered for deduplication. The daemon replays at most 256
/// events, so remembering more could never match anything.
const REMEMBERED: usize = 256;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Where a follower stands in one engine's event history. Keep it across
/// reconnects (and hosts' actor restarts) to resume without loss or repeats.
#[derive(Debug, Clone, Default)]
pub struct EventCursor {
    /// Newest event time delivered (or where following started), nanoseconds since
    /// the Unix epoch on the engine's clock.
    newest: Option<i64>,
    /// Every delivered event at or after this time is in `recent`; a resumed stream
    /// asks from here.
    floor: i64,
    recent: VecDeque<EventKey>,
    /// Set when a stream resumes and the replay has not yet shown that the daemon
    /// still held what was delivered before.
    awaiting_replay: bool,
    possible_gaps: u64,
}

/// What distinguishes two events at the same nanosecond.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EventKey {
    time_nano: i64,
    kind: String,
    action: String,
    actor: String,
}

impl EventKey {
    fn of(event: &EventMessage) -> Option<Self> {
        let time_nano = event
            .time_nano
            .or_else(|| event.time.and_then(|s| s.checked_mul(NANOS_PER_SEC)))?;
        Some(Self {
            time_nano,
            kind: event.typ.map(|t| t.to_string()).unwrap_or_default(),
            action: event.action.clone().unwrap_or_default(),
            actor: event
                .actor
                .as_ref()
                .and_then(|a| a.id.clone())
                .unwrap_or_default(),
        })
    }
}

/// Whether the engine's reply to a resumed stream proved that nothing was missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    Continuous,
    Gap,
    Undecided,
}

impl EventCursor {
    /// A cursor with no position: following starts from "now".
    pub fn new() -> Self {
        Self::default()
    }

    /// Time of the newest event delivered (or where following started), in
    /// nanoseconds since the Unix epoch on the engine's clock.
    pub fn position(&self) -> Option<i64> {
        self.newest
    }

    /// Resumptions where the engine no longer held the events around the cursor (it
    /// restarted, or more than 256 events passed while disconnected): events may have
    /// been missed, and a consumer should re-read the state they describe.
    pub fn possible_gaps(&self) -> u64 {
        self.possible_gaps
    }

    /// The `since` to ask a resumed stream for, as Docker's `seconds.nanoseconds`;
    /// `None` before the cursor has a position.
    pub fn since(&self) -> Option<String> {
        self.newest?;
        Some(format!(
            "{}.{:09}",
            self.floor.div_euclid(NANOS_PER_SEC),
            self.floor.rem_euclid(NANOS_PER_SEC)
        ))
    }

    /// Starts an empty cursor at `time_nano` (the engine's "now"), so events between
    /// this moment and a later reconnect are not lost even if none arrived before.
    pub fn anchor(&mut self, time_nano: i64) {
        if self.newest.is_none() {
            self.newest = Some(time_nano);
            self.floor = time_nano;
        }
    }

    /// Marks the start of a new stream from [`Self::since`]: the engine's replay
    /// should begin with events already delivered, unless it lost them.
    pub fn begin_resume(&mut self) {
        self.awaiting_replay = !self.recent.is_empty();
    }

    /// Decides whether `event` is new (deliver it; the cursor moves past it) or one
    /// already delivered (drop it).
    pub fn admit(&mut self, event: &EventMessage) -> bool {
        let Some(key) = EventKey::of(event) else {
            // No time at all: it cannot be placed or replayed, so it cannot repeat.
            return true;
        };
        let Some(newest) = self.newest else {
            self.newest = Some(key.time_nano);
            self.floor = key.time_nano;
            self.recent.push_back(key);
            return true;
        };
        let seen = self.recent.contains(&key);
        if self.awaiting_replay {
            match replay_verdict(seen, key.time_nano, newest) {
                Replay::Continuous => self.awaiting_replay = false,
                Replay::Gap => {
                    self.awaiting_replay = false;
                    self.possible_gaps += 1;
                    tracing::warn!(
                        since = ?self.since(),
                        "the engine no longer holds the events before this reconnect; some may be missed"
                    );
                }
                Replay::Undecided => {}
            }
        }
        if seen {
            return false;
        }
        if key.time_nano < self.floor {
            // Stamped before the window yet never delivered: a late live event. A
            // resumed stream starts at `floor`, so it can never come back.
            return true;
        }
        let time = key.time_nano;
        self.recent.push_back(key);
        if time > newest {
            self.newest = Some(time);
            self.raise_floor(time.saturating_sub(RESUME_WINDOW_NANOS));
        }
        if self.recent.len() > REMEMBERED
            && let Some(oldest) = self.recent.iter().map(|k| k.time_nano).min()
        {
            self.raise_floor(oldest.saturating_add(1));
        }
        true
    }

    fn raise_floor(&mut self, floor: i64) {
        if floor > self.floor {
            self.floor = floor;
            self.recent.retain(|k| k.time_nano >= floor);
        }
    }
}

/// The first event of a resumed stream that is either already delivered or newer
/// than everything delivered settles whether the daemon still held our events: it
/// replays what it holds in order, so ours would come before anything newer.
fn replay_verdict(seen: bool, time: i64, newest: i64) -> Replay {
    if seen {
        Replay::Continuous
    } else if time > newest {
        Replay::Gap
    } else {
        Replay::Undecided
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<EventMessage, Error>> + Send>>;
type AnchorFuture = Pin<Box<dyn Future<Output = Result<i64, Error>> + Send>>;

/// A stream of one engine's events that starts where its cursor stands. It ends after
/// the first error (or when the engine closes the stream); follow again with
/// [`Follower::into_cursor`] to resume.
pub struct Follower {
    docker: Docker,
    filters: Option<HashMap<String, Vec<String>>>,
    cursor: EventCursor,
    state: State,
}

enum State {
    /// A fresh cursor first learns the engine's clock.
    Anchoring(AnchorFuture),
    Streaming(EventStream),
    Done,
}

/// Follows `docker`'s events from `cursor`: from the engine's "now" when the cursor
/// is new, otherwise from just before its newest event, dropping repeats. `filters`
/// are Docker's event filters (`type`, `container`, `label`, ...); keep them the same
/// for one cursor, or resuming may report a gap that is not one.
pub fn follow(
    docker: &Docker,
    cursor: EventCursor,
    filters: Option<HashMap<String, Vec<String>>>,
) -> Follower {
    let mut follower = Follower {
        docker: docker.clone(),
        filters,
        cursor,
        state: State::Done,
    };
    follower.state = if follower.cursor.position().is_some() {
        follower.cursor.begin_resume();
        State::Streaming(follower.open())
    } else {
        State::Anchoring(Box::pin(engine_now(docker.clone())))
    };
    follower
}

impl Follower {
    pub fn cursor(&self) -> &EventCursor {
        &self.cursor
    }

    /// The cursor after the last delivered event, to follow again after an error.
    pub fn into_cursor(self) -> EventCursor {
        self.cursor
    }

    fn open(&self) -> EventStream {
        let options = EventsOptions {
            since: self.cursor.since(),
            until: None,
            filters: self.filters.clone(),
        };
        Box::pin(self.docker.events(Some(options)))
    }
}

impl Stream for Follower {
    type Item = Result<EventMessage, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Anchoring(anchor) => match anchor.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(now)) => {
                        this.cursor.anchor(now);
                        this.state = State::Streaming(this.open());
                    }
                    Poll::Ready(Err(e)) => {
                        this.state = State::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                State::Streaming(events) => match events.as_mut().poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(mut event))) => {
                        if this.cursor.admit(&event) {
                            // Names and labels are the host's text: cleaned here,
                            // where they enter (after the cursor saw the raw id).
                            super::clean::event(&mut event);
                            return Poll::Ready(Some(Ok(event)));
                        }
                    }
                    Poll::Ready(Some(Err(e))) => {
                        this.state = State::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(None) => {
                        this.state = State::Done;
                        return Poll::Ready(None);
                    }
                },
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

/// The engine's clock (nanoseconds since the Unix epoch), not ours: a remote host's clock may differ from this one, and
/// `since` is compared with the engine's own timestamps.
pub async fn engine_now(docker: Docker) -> Result<i64, Error> {
    let info = docker.info().await?;
    let text = info.system_time.unwrap_or_default();
    let parsed = time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::IOError {
            err: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the engine's SystemTime {text:?} is not RFC 3339: {e}"),
            ),
        })?;
    i64::try_from(parsed.unix_timestamp_nanos()).map_err(|_| Error::IOError {
        err: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the engine's SystemTime {text:?} is out of range"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{EventActor, EventMessageTypeEnum};

    const SEC: i64 = NANOS_PER_SEC;

    fn event(time_nano: i64, action: &str, id: &str) -> EventMessage {
        EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some(action.to_owned()),
            actor: Some(EventActor {
                id: Some(id.to_owned()),
                attributes: None,
            }),
            scope: None,
            time: Some(time_nano.div_euclid(SEC)),
            time_nano: Some(time_nano),
        }
    }

    /// Feeds events through the cursor and returns the actions delivered.
    fn deliver(cursor: &mut EventCursor, events: &[EventMessage]) -> Vec<String> {
        events
            .iter()
            .filter(|e| cursor.admit(e))
            .map(|e| e.action.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn first_event_positions_a_fresh_cursor() {
        let mut c = EventCursor::new();
        assert_eq!(c.since(), None);
        assert_eq!(
            deliver(&mut c, &[event(100 * SEC + 5, "create", "a")]),
            ["create"]
        );
        assert_eq!(c.position(), Some(100 * SEC + 5));
        assert_eq!(c.since().as_deref(), Some("100.000000005"));
    }

    #[test]
    fn replay_within_the_same_second_is_dropped_and_new_events_pass() {
        let mut c = EventCursor::new();
        let t = 1_700_000_000 * SEC;
        let before = [event(t + 10, "create", "a"), event(t + 20, "start", "a")];
        assert_eq!(deliver(&mut c, &before), ["create", "start"]);
        c.begin_resume();
        let replay = [
            event(t + 10, "create", "a"),
            event(t + 20, "start", "a"),
            event(t + 30, "die", "a"),
        ];
        assert_eq!(deliver(&mut c, &replay), ["die"]);
        assert_eq!(c.possible_gaps(), 0);
    }

    #[test]
    fn same_nanosecond_events_are_told_apart() {
        let mut c = EventCursor::new();
        let t = 42 * SEC;
        assert_eq!(deliver(&mut c, &[event(t, "die", "a")]), ["die"]);
        c.begin_resume();
        // The daemon replays `a` and also holds `b`, stamped at the same nanosecond but
        // never delivered (it came after the connection dropped).
        let replay = [
            event(t, "die", "a"),
            event(t, "die", "b"),
            event(t, "stop", "a"),
        ];
        assert_eq!(deliver(&mut c, &replay), ["die", "stop"]);
        // Both are remembered now: a second replay repeats nothing.
        c.begin_resume();
        assert!(deliver(&mut c, &replay).is_empty());
    }

    #[test]
    fn out_of_order_events_are_delivered_once() {
        let mut c = EventCursor::new();
        let t = 50 * SEC;
        c.anchor(t);
        // Stamped earlier than the newest delivered, but queued after it.
        let live = [
            event(t + 300, "start", "a"),
            event(t + 100, "exec_die", "b"),
        ];
        assert_eq!(deliver(&mut c, &live), ["start", "exec_die"]);
        assert_eq!(c.position(), Some(t + 300));
        // The resumed request reaches back far enough to catch another late one.
        assert_eq!(c.since().as_deref(), Some("50.000000000"));
        c.begin_resume();
        let replay = [
            event(t + 100, "exec_die", "b"),
            event(t + 200, "exec_start", "b"),
            event(t + 300, "start", "a"),
        ];
        assert_eq!(deliver(&mut c, &replay), ["exec_start"]);
    }

    #[test]
    fn the_window_follows_the_newest_event() {
        let mut c = EventCursor::new();
        let t = 1_000 * SEC;
        let events = [event(t, "create", "a"), event(t + 3 * SEC, "start", "a")];
        assert_eq!(deliver(&mut c, &events), ["create", "start"]);
        assert_eq!(c.since().as_deref(), Some("1002.000000000"));
        // A late event older than the window: a resumed stream never asks for it,
        // so it is new, and delivered.
        assert_eq!(deliver(&mut c, &[event(t + SEC, "die", "b")]), ["die"]);
        assert_eq!(c.position(), Some(t + 3 * SEC));
    }

    #[test]
    fn memory_is_bounded_and_the_floor_rises_with_it() {
        let mut c = EventCursor::new();
        let t = 7 * SEC;
        let events: Vec<_> = (0..300).map(|i| event(t + i, "exec_die", "a")).collect();
        assert_eq!(deliver(&mut c, &events).len(), 300);
        assert!(c.recent.len() <= REMEMBERED);
        // Whatever is no longer remembered is below the floor, so never asked again.
        let floor = c.floor;
        assert!(c.recent.iter().all(|k| k.time_nano >= floor));
        c.begin_resume();
        let replay: Vec<_> = events
            .iter()
            .filter(|e| e.time_nano.unwrap_or_default() >= floor)
            .cloned()
            .collect();
        assert!(deliver(&mut c, &replay).is_empty());
    }

    #[test]
    fn a_replay_without_our_events_counts_as_a_possible_gap() {
        let mut c = EventCursor::new();
        let t = 9 * SEC;
        deliver(&mut c, &[event(t, "start", "a")]);
        c.begin_resume();
        // The daemon restarted: its replay is empty and the first event is newer.
        assert_eq!(
            deliver(&mut c, &[event(t + 5 * SEC, "start", "b")]),
            ["start"]
        );
        assert_eq!(c.possible_gaps(), 1);

        c.begin_resume();
        let replay = [
            event(t + 5 * SEC, "start", "b"),
            event(t + 6 * SEC, "die", "b"),
        ];
        assert_eq!(deliver(&mut c, &replay), ["die"]);
        assert_eq!(c.possible_gaps(), 1);
    }

    #[test]
    fn an_anchored_cursor_resumes_from_its_anchor() {
        let mut c = EventCursor::new();
        c.anchor(20 * SEC + 1);
        assert_eq!(c.since().as_deref(), Some("20.000000001"));
        c.begin_resume();
        assert_eq!(
            deliver(&mut c, &[event(21 * SEC, "create", "a")]),
            ["create"]
        );
        // Nothing was delivered before, so there was nothing to lose track of.
        assert_eq!(c.possible_gaps(), 0);
        // Anchoring again does not move a cursor that has a position.
        c.anchor(5 * SEC);
        assert_eq!(c.position(), Some(21 * SEC));
    }

    #[test]
    fn events_without_a_time_pass_untracked() {
        let mut c = EventCursor::new();
        let mut e = event(0, "create", "a");
        e.time = None;
        e.time_nano = None;
        assert!(c.admit(&e));
        assert!(c.admit(&e));
        assert_eq!(c.position(), None);
    }
}
