//! The console and the persistent history: its timeline opens with the last hours
//! from the history, and what it then records is written to it. A history that cannot
//! be opened is said on the status line; the console runs without it.

use time::OffsetDateTime;

use super::app::{App, TIMELINE_CAPACITY, TimelineEntry};
use crate::history::{HistoryWriter, Query};

/// How far back the timeline reaches when the console opens.
pub const OPENING_HOURS: i64 = 6;

/// What opening the history gave: a writer and the recent entries of `hosts`, or why
/// there is none.
pub type Opened = Result<(HistoryWriter, Vec<TimelineEntry>), String>;

/// Opens the history and reads the last [`OPENING_HOURS`] of `hosts` (blocking: run
/// it on a blocking thread while the console starts).
pub fn open(hosts: Vec<String>, now: OffsetDateTime, retention_days: Option<u32>) -> Opened {
    let history = crate::history::open_default(retention_days).map_err(|e| e.to_string())?;
    let recent = history
        .query(&Query {
            since: now - time::Duration::hours(OPENING_HOURS),
            until: None,
            host: None,
            kind: None,
            // Entries of hosts not watched now are skipped: a margin for them.
            limit: TIMELINE_CAPACITY * 4,
        })
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|e| hosts.contains(&e.host))
        .take(TIMELINE_CAPACITY)
        .collect();
    Ok((HistoryWriter::start(history, &hosts), recent))
}

/// Seeds `app`'s timeline with what `opened` read and turns recording on; without a
/// history, says so on the status line.
pub fn attach(app: &mut App, opened: Opened) -> Option<HistoryWriter> {
    match opened {
        Ok((writer, recent)) => {
            app.timeline.seed(recent, TIMELINE_CAPACITY);
            app.timeline.recording = true;
            Some(writer)
        }
        Err(error) => {
            tracing::warn!("console without history: {error}");
            app.notice = Some(crate::sanitize::line(&format!(
                "no history (running without it): {error}"
            )));
            None
        }
    }
}

/// Hands what the timeline recorded since the last call to the history's writer.
pub fn flush(app: &mut App, writer: Option<&HistoryWriter>) {
    let entries = std::mem::take(&mut app.timeline.unrecorded);
    if let Some(writer) = writer {
        writer.record(entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::model::Expectations;
    use crate::fleet::model::{HostEvent, HostState};
    use crate::fleet::timeline::TimelineKind;
    use crate::history::History;
    use crate::probes::Severity;
    use crate::tui::app::Msg;
    use crate::tui::keymap::Keymap;

    fn app() -> App {
        let hosts = ["alpha", "beta"]
            .map(|name| HostState::new(name, Vec::new(), Expectations::default()))
            .into();
        App::new(hosts, Keymap::default(), false)
    }

    fn entry(host: &str, at: OffsetDateTime, text: &str) -> TimelineEntry {
        TimelineEntry {
            at,
            host: host.to_owned(),
            severity: Severity::Warning,
            kind: TimelineKind::Container,
            text: text.to_owned(),
            key: None,
        }
    }

    #[test]
    fn a_damaged_history_leaves_a_notice_and_a_console_that_runs() {
        let mut app = app();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.db");
        std::fs::write(&path, "garbage, not SQLite\n".repeat(100)).expect("write");
        let error = History::open(&path).expect_err("damaged").to_string();
        let writer = attach(&mut app, Err(error));
        assert!(writer.is_none());
        let notice = app.notice.clone().expect("a notice");
        assert!(
            notice.starts_with("no history (running without it): history database"),
            "{notice}"
        );
        // The console goes on: events are applied, nothing is kept for a history.
        let _ = app.update(Msg::Fleet(
            0,
            HostEvent::Up {
                at: OffsetDateTime::now_utc(),
            },
        ));
        assert!(!app.timeline.entries.is_empty());
        assert!(app.timeline.unrecorded.is_empty());
    }

    #[test]
    fn the_timeline_opens_with_the_history_and_records_into_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("history.db");
        let now = OffsetDateTime::now_utc();
        let history = History::open(&path).expect("open");
        history
            .record(&[
                entry("alpha", now - time::Duration::hours(2), "older"),
                entry("beta", now - time::Duration::hours(1), "newer"),
            ])
            .expect("record");
        let recent = history
            .query(&Query {
                since: now - time::Duration::hours(OPENING_HOURS),
                until: None,
                host: None,
                kind: None,
                limit: 10,
            })
            .expect("query");
        let mut app = app();
        let writer = attach(&mut app, Ok((HistoryWriter::start(history, &[]), recent)));
        let texts = |app: &App| -> Vec<String> {
            app.timeline
                .visible()
                .iter()
                .map(|e| e.text.clone())
                .collect()
        };
        assert_eq!(texts(&app), ["newer", "older"], "newest first");
        let _ = app.update(Msg::Fleet(0, HostEvent::Up { at: now }));
        assert_eq!(
            texts(&app),
            ["connected", "newer", "older"],
            "live entries after them"
        );
        flush(&mut app, writer.as_ref());
        assert!(app.timeline.unrecorded.is_empty());
        drop(writer);
        let stored = History::open(&path)
            .expect("open")
            .query(&Query {
                since: now - time::Duration::hours(OPENING_HOURS),
                until: None,
                host: Some("alpha".into()),
                kind: Some(TimelineKind::Connection),
                limit: 10,
            })
            .expect("query");
        assert_eq!(stored.len(), 1, "the live entry reached the history");
        assert_eq!(stored[0].text, "connected");
    }
}
