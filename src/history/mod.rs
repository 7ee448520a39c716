//! The persistent fleet history: every timeline entry `watch`, `serve` and the console
//! learn, and every audited action, kept in an SQLite database at
//! `$XDG_STATE_HOME/fleetdeck/history.db` (docs/history.md).
//!
//! Several processes write into one file at once: the database is in WAL mode, each
//! connection waits for another's write lock (a busy timeout) instead of failing, and
//! a batch is one transaction. Entries with a `key` are recorded once per (host, key)
//! (a unique index), so a happening learnt twice — live and again from a backfill, or
//! an audit line ingested on every open — is one row. Old entries go after
//! [`DEFAULT_RETENTION_DAYS`], and the table never holds more than [`MAX_ROWS`]:
//! pruning runs on open and every so often in the writer, never on the query path.
//!
//! `mod` the database, `writer` the thread async code records through, `audit` the
//! audit log as `action` entries.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};
use time::OffsetDateTime;

use crate::fleet::timeline::{TimelineEntry, TimelineKind};
use crate::probes::Severity;
use crate::sanitize;

mod audit;
mod writer;

pub use audit::audit_entries;
pub use writer::{BACKFILL_PREFIX, HistoryWriter, WRITER_QUEUE};

/// Entries older than this many days are pruned.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The most entries kept; the oldest recorded go first. Two million rows are about
/// 300 MB on disk (docs/performance.md): a 50-host fleet that changes a thousand times
/// a day per host stays under it for 30 days, and a runaway writer cannot fill a disk.
pub const MAX_ROWS: i64 = 2_000_000;
/// How long a connection waits for another writer's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The schema this code reads and writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    host TEXT NOT NULL,
    severity TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    key TEXT
);
CREATE INDEX IF NOT EXISTS entries_host_at ON entries (host, at);
CREATE INDEX IF NOT EXISTS entries_at ON entries (at);
CREATE UNIQUE INDEX IF NOT EXISTS entries_host_key ON entries (host, key) WHERE key IS NOT NULL;
";

/// Why the history cannot be used. Each names the file and what to do.
#[derive(Debug)]
pub enum HistoryError {
    /// The directory the database goes in cannot be created.
    Directory {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not an SQLite database, or a damaged one.
    Corrupt { path: PathBuf, detail: String },
    /// Another process holds a lock on it for longer than the busy timeout.
    Locked { path: PathBuf },
    /// Written by a newer fleetdeck (its schema version is higher than this one's).
    NewerSchema { path: PathBuf, version: i64 },
    /// Any other failure of SQLite (a full disk, no permission).
    Sqlite { path: PathBuf, detail: String },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Directory { path, error } => write!(
                f,
                "history database {}: cannot create its directory ({error}); \
                 fix the permissions or set XDG_STATE_HOME to a writable directory",
                path.display()
            ),
            HistoryError::Corrupt { path, detail } => write!(
                f,
                "history database {} is damaged or not an SQLite database ({detail}); \
                 move it aside (mv {0} {0}.broken) and fleetdeck starts a new one",
                path.display()
            ),
            HistoryError::Locked { path } => write!(
                f,
                "history database {} is locked by another process for more than {} s; \
                 close whatever holds it (a sqlite3 shell in a transaction?) and retry",
                path.display(),
                BUSY_TIMEOUT.as_secs()
            ),
            HistoryError::NewerSchema { path, version } => write!(
                f,
                "history database {} has schema version {version}, newer than this \
                 fleetdeck's {SCHEMA_VERSION}; upgrade fleetdeck or move the file aside",
                path.display()
            ),
            HistoryError::Sqlite { path, detail } => {
                write!(f, "history database {}: {detail}", path.display())
            }
        }
    }
}

impl std::error::Error for HistoryError {}

/// What `history` asks for. Newest first, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub since: OffsetDateTime,
    pub until: Option<OffsetDateTime>,
    pub host: Option<String>,
    pub kind: Option<TimelineKind>,
    pub limit: usize,
}

/// An open history database (one connection: not shared between threads; async code
/// records through a [`HistoryWriter`]).
pub struct History {
    conn: Connection,
    path: PathBuf,
    retention: Duration,
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History").field("path", &self.path).finish()
    }
}

impl History {
    /// `$XDG_STATE_HOME/fleetdeck/history.db`. `None` never happens today (the XDG
    /// helpers fall back to `~/.local/state`), kept so callers handle no home at all.
    pub fn default_path() -> Option<PathBuf> {
        Some(
            crate::paths::state_home()
                .join("fleetdeck")
                .join("history.db"),
        )
    }

    /// Opens (creating it and its directory if absent) the database at `path`, checks
    /// it, brings its schema up to date and prunes what is past retention.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        Self::open_with(path, BUSY_TIMEOUT, DEFAULT_RETENTION_DAYS)
    }

    /// [`History::open`], keeping `retention_days` days (pruned at once).
    pub fn open_retaining(path: &Path, retention_days: u32) -> Result<History, HistoryError> {
        Self::open_with(path, BUSY_TIMEOUT, retention_days)
    }

    fn open_with(
        path: &Path,
        busy: Duration,
        retention_days: u32,
    ) -> Result<History, HistoryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|error| HistoryError::Directory {
                    path: path.to_owned(),
                    error,
                })?;
        }
        let fail = |e: rusqlite::Error| classify(path, e);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        conn.busy_timeout(busy).map_err(fail)?;
        let history = History {
            conn,
            path: path.to_owned(),
            retention: Duration::from_secs(u64::from(retention_days.max(1)) * 86_400),
        };
        history.migrate()?;
        history.prune(OffsetDateTime::now_utc())?;
        Ok(history)
    }

    /// Keeps entries for `days` days instead of [`DEFAULT_RETENTION_DAYS`].
    pub fn with_retention_days(mut self, days: u32) -> History {
        self.retention = Duration::from_secs(u64::from(days.max(1)) * 86_400);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fail(&self, e: rusqlite::Error) -> HistoryError {
        classify(&self.path, e)
    }

    /// WAL mode, the tables and indexes, the schema version; every statement fails
    /// on a file that is not a database, which is where corruption is found.
    fn migrate(&self) -> Result<(), HistoryError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| self.fail(e))?;
        if version > SCHEMA_VERSION {
            return Err(HistoryError::NewerSchema {
                path: self.path.clone(),
                version,
            });
        }
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .map_err(|e| self.fail(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(HistoryError::Sqlite {
                path: self.path.clone(),
                detail: format!("cannot switch to WAL mode (journal mode is {mode})"),
            });
        }
        // WAL's own durability is enough for a history: a power cut loses at most
        // the last transactions, never the file.
        self.conn
            .execute_batch("PRAGMA synchronous=NORMAL")
            .map_err(|e| self.fail(e))?;
        if version < SCHEMA_VERSION {
            self.conn
                .execute_batch(&format!(
                    "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                ))
                .map_err(|e| {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    self.fail(e)
                })?;
        }
        // Not a full integrity check (it reads every page: half a second for a million
        // entries, on every start): a damaged page is an error of the statement that
        // reads it, classified as `Corrupt` like a file that is no database at all.
        Ok(())
    }

    /// Records `entries` in one transaction; an entry with a `key` already recorded
    /// for its host is skipped. Returns how many were new.
    pub fn record(&self, entries: &[TimelineEntry]) -> Result<usize, HistoryError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.fail(e))?;
        let mut new = 0;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO entries (at, host, severity, kind, text, key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(|e| self.fail(e))?;
            for entry in entries {
                new += insert
                    .execute(params![
                        nanos(entry.at),
                        sanitize::line(&entry.host),
                        entry.severity.as_str(),
                        entry.kind.label(),
                        sanitize::line(&entry.text),
                        entry.key.as_deref().map(sanitize::line),
                    ])
                    .map_err(|e| self.fail(e))?;
            }
        }
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(new)
    }

    /// The entries `query` asks for, newest first.
    pub fn query(&self, query: &Query) -> Result<Vec<TimelineEntry>, HistoryError> {
        let mut sql = String::from(
            "SELECT at, host, severity, kind, text, key FROM entries WHERE at >= ?1 AND at <= ?2",
        );
        if query.host.is_some() {
            sql.push_str(" AND host = ?3");
        }
        if query.kind.is_some() {
            sql.push_str(" AND kind = ?4");
        }
        sql.push_str(" ORDER BY at DESC, id DESC LIMIT ?5");
        let mut statement = self.conn.prepare_cached(&sql).map_err(|e| self.fail(e))?;
        let until = query.until.map_or(i64::MAX, nanos);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let host = query.host.as_deref().unwrap_or("");
        let kind = query.kind.map_or("", TimelineKind::label);
        // Unused parameters are bound too: SQLite numbers them, it does not mind.
        let rows = statement
            .query_map(
                params![nanos(query.since), until, host, kind, limit],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .map_err(|e| self.fail(e))?;
        let mut entries = Vec::new();
        for row in rows {
            let (at, host, severity, kind, text, key) = row.map_err(|e| self.fail(e))?;
            // A row this code did not write (another tool, a newer kind) is skipped.
            let (Some(at), Some(severity), Some(kind)) = (
                from_nanos(at),
                parse_severity(&severity),
                TimelineKind::parse(&kind),
            ) else {
                continue;
            };
            entries.push(TimelineEntry {
                at,
                host,
                severity,
                kind,
                text,
                key,
            });
        }
        Ok(entries)
    }

    /// When the last entry fleetdeck observed of `host` was recorded (audited actions,
    /// which come from the audit log and not from the host, aside).
    pub fn last_recorded(&self, host: &str) -> Result<Option<OffsetDateTime>, HistoryError> {
        let at: Option<i64> = self
            .conn
            .query_row(
                "SELECT at FROM entries WHERE host = ?1 AND kind != 'action'
                 ORDER BY at DESC LIMIT 1",
                params![host],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.fail(e))?;
        Ok(at.and_then(from_nanos))
    }

    /// Drops what is past retention, then the oldest recorded past [`MAX_ROWS`].
    /// Returns how many went.
    pub fn prune(&self, now: OffsetDateTime) -> Result<usize, HistoryError> {
        self.prune_to(now, MAX_ROWS)
    }

    fn prune_to(&self, now: OffsetDateTime, max_rows: i64) -> Result<usize, HistoryError> {
        let cutoff = now - self.retention;
        let old = self
            .conn
            .execute("DELETE FROM entries WHERE at < ?1", params![nanos(cutoff)])
            .map_err(|e| self.fail(e))?;
        // Row ids grow with every insert, so the newest `max_rows` are the ids above
        // the largest minus `max_rows`: found through the primary key, no count.
        let over = self
            .conn
            .execute(
                "DELETE FROM entries WHERE id <= (SELECT max(id) FROM entries) - ?1",
                params![max_rows],
            )
            .map_err(|e| self.fail(e))?;
        Ok(old + over)
    }

    /// Ingests the audit log at `path` (each action's result, once: re-ingesting is a
    /// no-op) as `action` entries. An absent log is nothing to ingest.
    pub fn ingest_audit(&self, path: &Path) -> Result<usize, HistoryError> {
        let records = match crate::audit::AuditLog::read(path) {
            Ok(records) => records,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                return Err(HistoryError::Sqlite {
                    path: self.path.clone(),
                    detail: format!("reading the audit log {}: {e}", path.display()),
                });
            }
        };
        let cutoff = OffsetDateTime::now_utc() - self.retention;
        let entries: Vec<TimelineEntry> = audit_entries(&records)
            .into_iter()
            .filter(|e| e.at >= cutoff)
            .collect();
        self.record(&entries)
    }
}

/// Opens the history at its default place and ingests the audit log at its default
/// place: what `watch`, `serve`, the console and `history` do, keeping
/// `retention_days` (config.yaml's `history_retention_days`; default 30). A failing
/// audit log is logged and the history still used.
pub fn open_default(retention_days: Option<u32>) -> Result<History, HistoryError> {
    let Some(path) = History::default_path() else {
        return Err(HistoryError::Sqlite {
            path: PathBuf::from("history.db"),
            detail: "no state directory (set XDG_STATE_HOME or HOME)".to_owned(),
        });
    };
    let history = History::open_retaining(&path, retention_days.unwrap_or(DEFAULT_RETENTION_DAYS))?;
    if let Err(error) = history.ingest_audit(&crate::audit::AuditLog::default_path()) {
        tracing::warn!("{error}");
    }
    Ok(history)
}

fn classify(path: &Path, error: rusqlite::Error) -> HistoryError {
    let path = path.to_owned();
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => HistoryError::Corrupt {
            path,
            detail: sanitize::line(&error.to_string()),
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => HistoryError::Locked { path },
        _ => HistoryError::Sqlite {
            path,
            detail: sanitize::line(&error.to_string()),
        },
    }
}

fn nanos(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

fn from_nanos(nanos: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok()
}

fn parse_severity(text: &str) -> Option<Severity> {
    [
        Severity::Ok,
        Severity::Warning,
        Severity::Unknown,
        Severity::Critical,
    ]
    .into_iter()
    .find(|s| s.as_str() == text)
}

#[cfg(test)]
mod tests;
