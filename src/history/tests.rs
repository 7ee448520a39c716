use super::*;
use crate::audit::{AuditLog, AuditRecord, AuditResult};
use time::macros::datetime;

fn entry(host: &str, at: OffsetDateTime, kind: TimelineKind, key: Option<&str>) -> TimelineEntry {
    TimelineEntry {
        at,
        host: host.to_owned(),
        severity: Severity::Warning,
        kind,
        text: format!("{} at {at}", kind.label()),
        key: key.map(str::to_owned),
    }
}

fn since(at: OffsetDateTime) -> Query {
    Query {
        since: at,
        until: None,
        host: None,
        kind: None,
        limit: 10_000,
    }
}

#[test]
fn schema_is_created_versioned_and_in_wal_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state/fleetdeck/history.db");
    let history = History::open(&path).expect("open");
    let version: i64 = history
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = history
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    drop(history);
    // Opened again: the schema is kept, nothing is recreated.
    History::open(&path).expect("reopen");
    let newer = Connection::open(&path).expect("raw");
    newer
        .execute_batch("PRAGMA user_version = 99")
        .expect("set");
    drop(newer);
    let error = History::open(&path).expect_err("newer schema");
    assert!(matches!(
        error,
        HistoryError::NewerSchema { version: 99, .. }
    ));
}

#[test]
fn entries_round_trip_newest_first_with_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = History::open(&dir.path().join("h.db")).expect("open");
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(123_456_789)
        .expect("ns");
    let hour = Duration::from_secs(3600);
    let written = [
        entry("alpha", now - hour * 3, TimelineKind::Container, None),
        entry("alpha", now - hour, TimelineKind::Backup, None),
        entry("beta", now - hour * 2, TimelineKind::Container, None),
        entry("alpha", now, TimelineKind::Container, None),
    ];
    assert_eq!(history.record(&written).expect("record"), 4);
    let all = history.query(&since(now - hour * 24)).expect("query");
    assert_eq!(all.len(), 4);
    assert_eq!(all[0], written[3], "newest first, exact to the nanosecond");
    assert_eq!(all[3], written[0]);
    let alpha_containers = history
        .query(&Query {
            host: Some("alpha".into()),
            kind: Some(TimelineKind::Container),
            ..since(now - hour * 24)
        })
        .expect("query");
    assert_eq!(alpha_containers, [written[3].clone(), written[0].clone()]);
    let window = history
        .query(&Query {
            until: Some(now - hour),
            limit: 1,
            ..since(now - hour * 2)
        })
        .expect("query");
    assert_eq!(
        window,
        [written[1].clone()],
        "until is inclusive, limit holds"
    );
    assert_eq!(
        history.last_recorded("alpha").expect("last"),
        Some(now),
        "the newest of the host"
    );
    assert_eq!(history.last_recorded("gamma").expect("last"), None);
}

#[test]
fn keyed_entries_are_recorded_once_per_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = History::open(&dir.path().join("h.db")).expect("open");
    let at = OffsetDateTime::now_utc();
    let twice = [
        entry("alpha", at, TimelineKind::Container, Some("docker:1")),
        entry("alpha", at, TimelineKind::Container, Some("docker:1")),
        entry("beta", at, TimelineKind::Container, Some("docker:1")),
        entry("alpha", at, TimelineKind::Container, None),
        entry("alpha", at, TimelineKind::Container, None),
    ];
    assert_eq!(
        history.record(&twice).expect("record"),
        4,
        "unkeyed are all kept"
    );
    assert_eq!(history.record(&twice[..3]).expect("again"), 0);
}

#[test]
fn retention_and_the_size_bound_drop_the_oldest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.db");
    let history = History::open(&path).expect("open");
    let now = OffsetDateTime::now_utc();
    let day = Duration::from_secs(86_400);
    history
        .record(&[
            entry("alpha", now - day * 31, TimelineKind::Backup, None),
            entry("alpha", now - day * 29, TimelineKind::Backup, None),
        ])
        .expect("record");
    drop(history);
    // Pruned on open: 31 days is past the default retention, 29 is not.
    let history = History::open(&path).expect("open");
    let left = history.query(&since(now - day * 365)).expect("query");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].at, now - day * 29);
    // The size bound: recorded first goes first, whatever its time.
    let later: Vec<_> = (0..10)
        .map(|i| {
            entry(
                "beta",
                now - day * 2 + day / 10 * i,
                TimelineKind::Container,
                None,
            )
        })
        .collect();
    history.record(&later).expect("record");
    assert_eq!(history.prune_to(now, 4).expect("prune"), 7);
    let left = history.query(&since(now - day * 365)).expect("query");
    assert_eq!(left.len(), 4);
    assert!(left.iter().all(|e| e.host == "beta"));
    assert_eq!(left[3].at, later[6].at, "the newest four of beta");
    let short = history.with_retention_days(1);
    short.prune(now).expect("prune");
    assert!(
        short
            .query(&since(now - day * 365))
            .expect("query")
            .is_empty()
    );
}

#[test]
fn a_corrupt_file_is_a_typed_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.db");
    std::fs::write(
        &path,
        "this is not a database, it is a text file\n".repeat(200),
    )
    .expect("write");
    let error = History::open(&path).expect_err("corrupt");
    assert!(matches!(error, HistoryError::Corrupt { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("move it aside"), "{text}");
}

#[test]
fn a_directory_that_cannot_be_created_is_a_typed_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "").expect("write");
    let error = History::open(&file.join("fleetdeck/history.db")).expect_err("no dir");
    assert!(matches!(error, HistoryError::Directory { .. }), "{error:?}");
    assert!(error.to_string().contains("XDG_STATE_HOME"));
}

#[test]
fn a_locked_file_is_a_typed_error_after_the_busy_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.db");
    History::open(&path).expect("create");
    let holder = Connection::open(&path).expect("raw");
    // Exclusive locking mode keeps even WAL readers out until it is released.
    holder
        .execute_batch("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;")
        .expect("lock");
    let started = std::time::Instant::now();
    let error = History::open_with(&path, Duration::from_millis(200), DEFAULT_RETENTION_DAYS)
        .expect_err("locked");
    assert!(matches!(error, HistoryError::Locked { .. }), "{error:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "it waited first"
    );
    assert!(error.to_string().contains(&path.display().to_string()));
    holder
        .execute_batch("COMMIT; PRAGMA locking_mode=NORMAL;")
        .expect("unlock");
    // A write after commit in normal mode releases the exclusive lock.
    holder
        .execute_batch("SELECT count(*) FROM entries")
        .expect("read");
    drop(holder);
    History::open(&path).expect("usable again");
}

#[test]
fn a_host_query_uses_the_host_time_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = History::open(&dir.path().join("h.db")).expect("open");
    let plan: Vec<String> = history
        .conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT at FROM entries WHERE at >= 1 AND at <= 2 AND host = 'a'
             ORDER BY at DESC, id DESC LIMIT 5",
        )
        .expect("prepare")
        .query_map([], |r| r.get::<_, String>(3))
        .expect("plan")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        plan.iter().any(|p| p.contains("entries_host_at")),
        "{plan:?}"
    );
}

#[test]
fn audited_results_are_ingested_once_as_actions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = History::open(&dir.path().join("h.db")).expect("open");
    let log = AuditLog::new(dir.path().join("audit.log"));
    assert_eq!(history.ingest_audit(log.path()).expect("absent"), 0);
    let now = crate::util::time::rfc3339(OffsetDateTime::now_utc());
    let record = |id: &str, result, error: Option<&str>| AuditRecord {
        time: now.clone(),
        id: id.to_owned(),
        operator: "ops@desk".to_owned(),
        host: "client-alpha".to_owned(),
        action: "deploy".to_owned(),
        target: "web".to_owned(),
        reason: Some("release 2".to_owned()),
        result,
        error: error.map(str::to_owned),
    };
    for r in [
        record("a1", AuditResult::Intent, None),
        record("a1", AuditResult::Ok, None),
        record("a2", AuditResult::Intent, None),
        record("a2", AuditResult::Failed, Some("pull failed")),
        record("a3", AuditResult::Intent, None),
    ] {
        log.append(&r).expect("append");
    }
    assert_eq!(history.ingest_audit(log.path()).expect("ingest"), 2);
    assert_eq!(
        history.ingest_audit(log.path()).expect("again"),
        0,
        "a no-op"
    );
    let actions = history
        .query(&Query {
            kind: Some(TimelineKind::Action),
            ..since(datetime!(2000-01-01 0:00 UTC))
        })
        .expect("query");
    assert_eq!(actions.len(), 2);
    let failed = actions
        .iter()
        .find(|e| e.severity == Severity::Critical)
        .expect("failed");
    assert_eq!(
        failed.text,
        "deploy web by ops@desk: failed: pull failed — release 2"
    );
    assert_eq!(failed.key.as_deref(), Some("audit:a2"));
    assert_eq!(
        history.last_recorded("client-alpha").expect("last"),
        None,
        "actions are not what was observed of the host"
    );
}
