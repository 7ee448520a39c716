//! The persistent history: the cost of recording an event (in batches, as the writer
//! records them) and of `history --since 24h --host H` over a million recorded events,
//! beside `grep` over a JSON-lines file of the same events (what one would do without
//! a database). Prints a table; not a test.
//!
//! `cargo bench --bench history` (release build). `BENCH_EVENTS` (default 1000000)
//! events over 50 hosts and 30 days; `BENCH_BATCH` (default 100) entries per
//! transaction.

use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use fleetdeck::fleet::timeline::{TimelineEntry, TimelineKind};
use fleetdeck::history::{History, Query};
use fleetdeck::probes::Severity;
use time::OffsetDateTime;

type Failure = Box<dyn std::error::Error>;

const HOSTS: usize = 50;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Event `i` of `n`, spread evenly over the last 30 days, round-robin over the hosts.
fn event(i: usize, n: usize, now: OffsetDateTime) -> TimelineEntry {
    let span = 30 * 86_400 * 1_000_000_000_i128;
    let back = span - span * i as i128 / n as i128;
    let kinds = [
        TimelineKind::Container,
        TimelineKind::Resources,
        TimelineKind::Connection,
        TimelineKind::Backup,
    ];
    TimelineEntry {
        at: now - time::Duration::nanoseconds(back as i64) + time::Duration::minutes(1),
        host: format!("host-{:02}", i % HOSTS),
        severity: if i.is_multiple_of(7) {
            Severity::Critical
        } else {
            Severity::Ok
        },
        kind: kinds[i % kinds.len()],
        text: format!("web-{}: exited (137) after 3 restarts", i % 13),
        key: i.is_multiple_of(3).then(|| format!("docker:{i:016x}")),
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() -> Result<(), Failure> {
    let n = env_usize("BENCH_EVENTS", 1_000_000);
    let batch = env_usize("BENCH_BATCH", 100).max(1);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("history.db");
    let jsonl = dir.path().join("history.jsonl");
    let now = OffsetDateTime::now_utc();
    let history = History::open(&path)?;

    let started = Instant::now();
    let mut lines = std::io::BufWriter::new(std::fs::File::create(&jsonl)?);
    let mut pending = Vec::with_capacity(batch);
    let mut record_time = Duration::ZERO;
    for i in 0..n {
        let entry = event(i, n, now);
        serde_json::to_writer(&mut lines, &entry)?;
        lines.write_all(b"\n")?;
        pending.push(entry);
        if pending.len() == batch || i + 1 == n {
            let t = Instant::now();
            history.record(&pending)?;
            record_time += t.elapsed();
            pending.clear();
        }
    }
    lines.flush()?;
    drop(lines);
    let total = started.elapsed();

    let query = Query {
        since: now - time::Duration::hours(24),
        until: None,
        host: Some("host-07".to_owned()),
        kind: None,
        limit: 1000,
    };
    let mut found = 0;
    let mut times = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        found = history.query(&query)?.len();
        times.push(t.elapsed());
    }
    let query_time = median(times);

    // Opening (and pruning) a database of that size, as every writer does on start.
    drop(history);
    let mut opens = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        drop(History::open(&path)?);
        opens.push(t.elapsed());
    }
    let open_time = median(opens);

    // Without a database: grep the host out of a JSON-lines file of the same events
    // (the time window would still have to be filtered after this).
    let mut greps = Vec::new();
    let mut grep_lines = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let out = Command::new("grep")
            .arg("-c")
            .arg("\"host\":\"host-07\"")
            .arg(&jsonl)
            .output()?;
        greps.push(t.elapsed());
        grep_lines = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
    }
    let grep_time = median(greps);

    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let db_size = size(&path) + size(&dir.path().join("history.db-wal"));
    println!("events                         {n} ({HOSTS} hosts, 30 days), batches of {batch}");
    println!(
        "record, per event (batched)    {:.2} µs  ({:.1} s for all; with generating and the JSON file {:.1} s)",
        record_time.as_secs_f64() * 1e6 / n as f64,
        record_time.as_secs_f64(),
        total.as_secs_f64()
    );
    println!(
        "query --since 24h --host H     {:.2} ms  ({found} entries)",
        query_time.as_secs_f64() * 1e3
    );
    println!(
        "open (checks, prune)           {:.2} ms",
        open_time.as_secs_f64() * 1e3
    );
    println!(
        "grep -c host over JSON lines   {:.2} ms  ({grep_lines} lines, all 30 days)",
        grep_time.as_secs_f64() * 1e3
    );
    println!(
        "size                           database {:.0} MB, JSON lines {:.0} MB",
        db_size as f64 / 1e6,
        size(&jsonl) as f64 / 1e6
    );
    Ok(())
}
