//! `fleetdeck history`: the persistent fleet history (docs/history.md), newest first,
//! as a table or JSON.

use std::process::ExitCode;

use color_eyre::eyre::Result;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Context;
use super::ending::NOTHING_DONE;
use crate::cli::HistoryArgs;
use crate::fleet::timeline::{TimelineEntry, TimelineKind};
use crate::history::Query;
use crate::sanitize;
use crate::util::suggest::{Nearness, did_you_mean};

pub async fn run(ctx: &Context, args: &HistoryArgs) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let query = match query(args, now) {
        Ok(query) => query,
        Err(message) => {
            eprintln!("fleetdeck: {message}");
            return Ok(ExitCode::from(NOTHING_DONE));
        }
    };
    // SQLite blocks (a busy timeout while another writer holds the lock).
    let retention = ctx.history_retention_days;
    let found = tokio::task::spawn_blocking(move || {
        crate::history::open_default(retention).and_then(|history| history.query(&query))
    })
    .await?;
    let entries = match found {
        Ok(entries) => entries,
        Err(error) => {
            eprintln!("fleetdeck: {error}");
            return Ok(ExitCode::from(NOTHING_DONE));
        }
    };
    if args.json {
        let clean: Vec<TimelineEntry> = entries.iter().map(cleaned).collect();
        println!("{}", serde_json::to_string_pretty(&clean)?);
    } else {
        print!("{}", table(&entries));
    }
    Ok(ExitCode::SUCCESS)
}

/// The history writer for `watch` and `serve`, opened on a blocking thread. When the
/// history cannot be opened they go on without it, and say so once on stderr.
pub async fn start_writer(
    hosts: Vec<String>,
    retention_days: Option<u32>,
) -> Option<crate::history::HistoryWriter> {
    let opened = tokio::task::spawn_blocking(move || {
        crate::history::open_default(retention_days)
            .map(|history| crate::history::HistoryWriter::start(history, &hosts))
    })
    .await;
    match opened {
        Ok(Ok(writer)) => Some(writer),
        Ok(Err(error)) => {
            eprintln!("fleetdeck: going on without the history: {error}");
            None
        }
        Err(error) => {
            eprintln!("fleetdeck: going on without the history: {error}");
            None
        }
    }
}

/// The arguments checked: a bad `--kind` or `--until` names what is wrong.
fn query(args: &HistoryArgs, now: OffsetDateTime) -> Result<Query, String> {
    let kind = match args.kind.as_deref() {
        None => None,
        Some(label) => Some(TimelineKind::parse(label).ok_or_else(|| {
            let labels = TimelineKind::ALL.map(TimelineKind::label);
            format!(
                "--kind {:?}: no such kind{}; kinds are {}",
                sanitize::line(label),
                did_you_mean(label, labels, Nearness::Typed),
                labels.join(", ")
            )
        })?),
    };
    let until = match args.until.as_deref() {
        None => None,
        Some(text) => Some(match OffsetDateTime::parse(text.trim(), &Rfc3339) {
            Ok(at) => at,
            Err(_) => {
                now - crate::cli::ago(text).map_err(|e| {
                    format!("--until: {e}; or an RFC 3339 time, like 2027-01-01T10:00:00Z")
                })?
            }
        }),
    };
    let since = now - args.since;
    if until.is_some_and(|until| until < since) {
        return Err("--until is before --since: nothing can match".to_owned());
    }
    if args.max == 0 {
        return Err("--max 0: nothing would be shown; give at least 1".to_owned());
    }
    Ok(Query {
        since,
        until,
        host: args.host.clone(),
        kind,
        limit: args.max,
    })
}

/// Every text of an entry safe for a terminal or a JSON reader.
fn cleaned(entry: &TimelineEntry) -> TimelineEntry {
    TimelineEntry {
        host: sanitize::line(&entry.host),
        text: sanitize::line(&entry.text),
        key: entry.key.as_deref().map(sanitize::line),
        ..entry.clone()
    }
}

/// time, host, severity, kind, text: one line per entry, columns aligned.
fn table(entries: &[TimelineEntry]) -> String {
    if entries.is_empty() {
        return "no entries\n".to_owned();
    }
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(cleaned)
        .map(|e| {
            [
                crate::util::time::rfc3339(e.at.replace_nanosecond(0).unwrap_or(e.at)),
                e.host,
                e.severity.as_str().to_owned(),
                e.kind.label().to_owned(),
                e.text,
            ]
        })
        .collect();
    let header = ["TIME", "HOST", "SEVERITY", "KIND", "TEXT"].map(str::to_owned);
    let mut widths = [0usize; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter().zip(row) {
            out.push_str(cell);
            out.push_str(&" ".repeat(width - cell.chars().count() + 2));
        }
        out.push_str(&row[4]);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::Severity;
    use clap::Parser;
    use time::macros::datetime;

    fn args(extra: &[&str]) -> HistoryArgs {
        let cli =
            crate::cli::Cli::try_parse_from(["fleetdeck", "history"].iter().chain(extra).copied())
                .expect("parse");
        match cli.command {
            Some(crate::cli::Command::History(args)) => args,
            other => panic!("not history: {other:?}"),
        }
    }

    #[test]
    fn a_bad_kind_names_the_valid_ones_and_the_nearest() {
        let now = datetime!(2027-01-01 12:00 UTC);
        let error = query(&args(&["--kind", "contaner"]), now).expect_err("bad kind");
        assert!(error.contains("did you mean `container`?"), "{error}");
        assert!(error.contains("connection, container, backup"), "{error}");
        let ok = query(
            &args(&["--since", "2d", "--kind", "action", "--host", "a"]),
            now,
        )
        .expect("good");
        assert_eq!(ok.since, datetime!(2026-12-30 12:00 UTC));
        assert_eq!(ok.kind, Some(TimelineKind::Action));
        let until = query(&args(&["--until", "1h"]), now).expect("until");
        assert_eq!(until.until, Some(datetime!(2027-01-01 11:00 UTC)));
        assert!(query(&args(&["--since", "1h", "--until", "2h"]), now).is_err());
        assert!(query(&args(&["--until", "soon"]), now).is_err());
    }

    #[test]
    fn the_table_aligns_and_cleans() {
        let entry = TimelineEntry {
            at: datetime!(2027-01-01 12:00:00.5 UTC),
            host: "client-alpha".into(),
            severity: Severity::Critical,
            kind: TimelineKind::Container,
            text: "worker: exited \u{1b}[31m(1)".into(),
            key: None,
        };
        let text = table(&[entry]);
        assert_eq!(
            text.lines().nth(1),
            Some("2027-01-01T12:00:00Z  client-alpha  critical  container  worker: exited (1)")
        );
        assert!(!text.contains('\u{1b}'));
        assert!(text.starts_with("TIME                  HOST          SEVERITY  KIND       TEXT"));
    }
}
