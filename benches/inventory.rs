//! Loading large inventories: fleetdeck's `Inventory::load` plus the `--list` JSON,
//! against `ansible-inventory -i FILE --list` on the same file (when it is on `PATH`).
//! Prints a table; not a test.
//!
//! `cargo bench --bench inventory` (release build). `BENCH_SIZES` (default
//! `1000,16000,32000`) are host counts; `BENCH_ANSIBLE=0` leaves Ansible out;
//! `BENCH_BIG_MB` (default 50) adds a fleetdeck-only file of about that many MB.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleetdeck::inventory::Inventory;

type Failure = Box<dyn std::error::Error>;

/// `hosts` hosts in 100 groups under `clients`, five variables each.
fn inventory(hosts: usize) -> String {
    let mut text = String::from(
        "all:\n  vars:\n    fleetdeck_apps: [web]\n  children:\n    clients:\n      children:\n",
    );
    let groups = 100.min(hosts);
    for g in 0..groups {
        text.push_str(&format!("        client{g:03}:\n          hosts:\n"));
        for h in (g..hosts).step_by(groups) {
            text.push_str(&format!(
                "            host{h:06}.example.net:\n              ansible_host: 10.{}.{}.{}\n              ansible_user: deploy\n              site: site{g}\n              rack: r{}\n              fleetdeck_read_only: false\n",
                h >> 16,
                (h >> 8) & 255,
                h & 255,
                h % 40
            ));
        }
    }
    text
}

fn fleetdeck(path: &Path) -> Result<Duration, Failure> {
    let start = Instant::now();
    let inv = Inventory::load(path)?;
    let json = inv.to_ansible_list_json(None)?;
    let elapsed = start.elapsed();
    std::hint::black_box(json);
    Ok(elapsed)
}

fn ansible(path: &Path) -> Option<Duration> {
    let start = Instant::now();
    let status = Command::new("ansible-inventory")
        .arg("-i")
        .arg(path)
        .arg("--list")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    status.success().then(|| start.elapsed())
}

fn main() -> Result<(), Failure> {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "1000,16000,32000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let with_ansible = std::env::var("BENCH_ANSIBLE").map_or(true, |v| v != "0");
    let dir = tempfile::tempdir()?;
    println!("| hosts | file | fleetdeck load + --list JSON | ansible-inventory --list |");
    println!("|---|---|---|---|");
    let mut rows: Vec<(usize, String)> = sizes.iter().map(|&n| (n, inventory(n))).collect();
    let big_mb: usize = std::env::var("BENCH_BIG_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    if big_mb > 0 {
        let per_host = inventory(1000).len() / 1000;
        let n = big_mb * 1_000_000 / per_host;
        rows.push((n, inventory(n)));
    }
    let last = rows.len() - 1;
    for (i, (n, text)) in rows.iter().enumerate() {
        let path = dir.path().join(format!("hosts-{n}.yml"));
        std::fs::write(&path, text)?;
        let ours = fleetdeck(&path)?;
        let big = big_mb > 0 && i == last;
        let theirs = if with_ansible && !big {
            ansible(&path).map_or("not run".to_string(), |d| {
                format!(
                    "{:.2} s ({:.0}×)",
                    d.as_secs_f64(),
                    d.as_secs_f64() / ours.as_secs_f64()
                )
            })
        } else {
            "not run".to_string()
        };
        println!(
            "| {n} | {:.1} MB | {:.3} s | {theirs} |",
            text.len() as f64 / 1e6,
            ours.as_secs_f64()
        );
    }
    Ok(())
}
