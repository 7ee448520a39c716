//! The round's output read into typed values and judged: thresholds crossed and
//! settings found become findings. Pure: bytes, the policy, the time and what the
//! last round left in the memo go in; a report comes out.

use time::OffsetDateTime;

use super::script::{Remembered, RoundMemo};
use super::sections::{Part, Section, Sections, excerpt, key_of, printed, split, unattended};
use super::{
    FilesystemUse, HostReport, LoadUse, MemoryUse, PendingUpdates, RebootState, ResourcesReport,
};
use crate::probes::Severity;
use crate::probes::posture::{DiskThresholds, Finding, PosturePolicy, severity_of};
use crate::sanitize;

/// Memory in use (of what can be had without swapping) that warns, and that is
/// critical.
pub const MEMORY_WARNING_PERCENT: u8 = 90;
pub const MEMORY_CRITICAL_PERCENT: u8 = 95;
/// Swap in use that warns: some swap holds idle pages on a healthy host, most of it
/// means memory ran short.
pub const SWAP_WARNING_PERCENT: u8 = 80;
/// The 15-minute load average per CPU that warns, and that is critical. The slowest
/// average and generous bounds: a busy 2-core build machine runs at 2–3 per CPU for
/// minutes and is not in trouble.
pub const LOAD_WARNING_PER_CPU: f64 = 4.0;
pub const LOAD_CRITICAL_PER_CPU: f64 = 8.0;

/// Reads one round's output. `now` dates the answers remembered in `memo`, which is
/// also where the costly parts' unchanged answers are taken from. Docker's disk use
/// is not in the output: the caller adds it from the Engine API.
pub fn report(
    policy: &PosturePolicy,
    exit: Option<u32>,
    stdout: &[u8],
    stderr: &[u8],
    now: OffsetDateTime,
    memo: &mut RoundMemo,
) -> HostReport {
    let text = String::from_utf8_lossy(stdout);
    let sections = match split(&text) {
        Ok(sections) => sections,
        Err(error) => {
            let exit = exit.map(|c| format!(" (exit {c})")).unwrap_or_default();
            let stderr = String::from_utf8_lossy(stderr);
            let detail = if stderr.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", excerpt(&stderr))
            };
            return HostReport::failed(format!("{error}{exit}{detail}"));
        }
    };
    let mut resources = resources(&sections, policy, now, memo);
    resources.severity = severity_of(&resources.findings);
    let posture = super::security::posture(&sections, &resources.updates, now, memo);
    HostReport {
        resources,
        posture,
        posture_error: None,
    }
}

fn resources(
    sections: &Sections,
    policy: &PosturePolicy,
    now: OffsetDateTime,
    memo: &mut RoundMemo,
) -> ResourcesReport {
    let mut report = ResourcesReport::failed(String::new());
    report.error = None;
    let findings = &mut report.findings;

    match filesystems(sections, policy) {
        Ok(filesystems) => {
            for fs in &filesystems {
                findings.extend(filesystem_findings(fs, policy.disk_for(&fs.mount)));
            }
            report.filesystems = filesystems;
        }
        Err(why) => findings.push(Finding::new(
            "disk",
            None,
            Severity::Unknown,
            format!("filesystem use cannot be told: {why}"),
            "make `df` available to fleetdeck's user on this host",
        )),
    }

    match printed(sections, "memory").and_then(memory) {
        Ok(memory) => {
            findings.extend(memory_findings(&memory));
            report.memory = Some(memory);
        }
        Err(why) => findings.push(Finding::new(
            "memory",
            None,
            Severity::Unknown,
            format!("memory use cannot be told: {why}"),
            "fleetdeck reads /proc/meminfo: make it readable",
        )),
    }

    match printed(sections, "load").and_then(load_and_uptime) {
        Ok((load, uptime)) => {
            findings.extend(load_finding(&load));
            report.load = Some(load);
            report.uptime_seconds = uptime;
        }
        Err(why) => findings.push(Finding::new(
            "load",
            None,
            Severity::Unknown,
            format!("load cannot be told: {why}"),
            "fleetdeck reads /proc/loadavg and `nproc`: make them available",
        )),
    }

    report.reboot = match printed(sections, "reboot") {
        Ok(section) => reboot(section),
        Err(_) => RebootState::default(),
    };
    match report.reboot.required {
        Some(true) => findings.push(Finding::new(
            "reboot_required",
            None,
            Severity::Warning,
            report
                .reboot
                .why
                .clone()
                .unwrap_or_else(|| "a reboot is pending".to_owned()),
            "reboot the host in a maintenance window (drain it first if it serves traffic)",
        )),
        Some(false) => {}
        None => findings.push(Finding::new(
            "reboot_required",
            None,
            Severity::Unknown,
            "whether a reboot is pending cannot be told",
            "fleetdeck reads /var/run/reboot-required, `uname -r` and /boot",
        )),
    }

    let pending = updates(sections, now, memo);
    report.updates.unattended_upgrades = unattended(sections).ok();
    match pending {
        Ok(p) => {
            report.updates.pending = Some(p.pending);
            report.updates.security = Some(p.security);
            if p.security > 0 {
                findings.push(Finding::new(
                    "security_updates",
                    None,
                    Severity::Warning,
                    format!(
                        "{} security update{} pending ({} update{} in all)",
                        p.security,
                        plural(p.security),
                        p.pending,
                        plural(p.pending)
                    ),
                    "apply them (`apt-get update && apt-get upgrade`), or let unattended-upgrades do it",
                ));
            }
        }
        Err(why) => findings.push(Finding::new(
            "security_updates",
            None,
            Severity::Unknown,
            format!("pending updates cannot be told: {why}"),
            "fleetdeck reads apt's local state (`apt list --upgradable`); other package managers are not asked",
        )),
    }

    report.clock_synchronized = clock(sections).ok();
    match clock(sections) {
        Ok(true) => {}
        Ok(false) => findings.push(Finding::new(
            "clock",
            None,
            Severity::Warning,
            "the clock is not synchronised",
            "enable time synchronisation (`timedatectl set-ntp true`, or chrony)",
        )),
        Err(why) => findings.push(Finding::new(
            "clock",
            None,
            Severity::Unknown,
            format!("clock synchronisation cannot be told: {why}"),
            "fleetdeck asks `timedatectl`, else `chronyc tracking`",
        )),
    }
    report
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One line of `df -P -T -B1` or `df -P -T -i`: source, type, four numbers, the
/// percentage and the mount point (the rest of the line: it may hold spaces).
struct DfLine {
    source: String,
    fstype: String,
    numbers: [Option<u64>; 3],
    used: Option<u64>,
    percent: Option<u8>,
    mount: String,
}

fn df_line(line: &str) -> Option<DfLine> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 7 {
        return None;
    }
    let number = |s: &str| s.parse::<u64>().ok();
    let total = number(fields[2]);
    // A header, or a line this reader does not know.
    total.or_else(|| (fields[2] == "-").then_some(0))?;
    Some(DfLine {
        source: sanitize::line(fields[0]),
        fstype: sanitize::line(fields[1]),
        numbers: [total, number(fields[3]), number(fields[4])],
        used: number(fields[3]),
        percent: fields[5].strip_suffix('%').and_then(|p| p.parse().ok()),
        mount: sanitize::line(&fields[6..].join(" ")),
    })
}

fn filesystems(sections: &Sections, policy: &PosturePolicy) -> Result<Vec<FilesystemUse>, String> {
    let df = printed(sections, "df")?;
    // Inodes are a bonus: a host whose `df -i` fails still shows space.
    let inodes: Vec<DfLine> = printed(sections, "inodes")
        .map(|s| s.lines().filter_map(df_line).collect())
        .unwrap_or_default();
    let mut out: Vec<FilesystemUse> = Vec::new();
    for line in df.lines().filter_map(df_line) {
        if super::script::is_pseudo(&line.fstype) || out.iter().any(|f| f.mount == line.mount) {
            continue;
        }
        let [Some(size), Some(used), Some(available)] = line.numbers else {
            continue;
        };
        // Nothing to fill (a filesystem reporting no size, e.g. some virtual ones).
        if size == 0 {
            continue;
        }
        let used_percent = line
            .percent
            .unwrap_or_else(|| percent_of(used, used + available));
        let inodes_used_percent = inodes
            .iter()
            .find(|i| i.mount == line.mount)
            .filter(|i| i.numbers[0].is_some_and(|n| n > 0))
            .and_then(|i| {
                i.percent
                    .or_else(|| Some(percent_of(i.used?, i.numbers[0]?)))
            });
        let thresholds = policy.disk_for(&line.mount);
        let severity = level(
            used_percent.max(inodes_used_percent.unwrap_or(0)),
            thresholds,
        );
        out.push(FilesystemUse {
            mount: line.mount,
            source: line.source,
            fstype: line.fstype,
            size_bytes: size,
            used_bytes: used,
            available_bytes: available,
            used_percent,
            inodes_used_percent,
            severity,
        });
    }
    Ok(out)
}

/// `part` of `whole` in percent, rounded up as `df` does (a filesystem is not "0 %"
/// full with one block used).
fn percent_of(part: u64, whole: u64) -> u8 {
    if whole == 0 {
        return 0;
    }
    let percent = (u128::from(part) * 100).div_ceil(u128::from(whole));
    u8::try_from(percent.min(100)).unwrap_or(100)
}

fn level(percent: u8, thresholds: DiskThresholds) -> Severity {
    if percent >= thresholds.critical {
        Severity::Critical
    } else if percent >= thresholds.warning {
        Severity::Warning
    } else {
        Severity::Ok
    }
}

fn filesystem_findings(fs: &FilesystemUse, thresholds: DiskThresholds) -> Vec<Finding> {
    let mut findings = Vec::new();
    let disk = level(fs.used_percent, thresholds);
    if disk != Severity::Ok {
        findings.push(Finding::new(
            "disk",
            None,
            disk,
            format!(
                "{} is {} % full ({} of {} used, {} free; {} from {} %)",
                fs.mount,
                fs.used_percent,
                size(fs.used_bytes),
                size(fs.size_bytes),
                size(fs.available_bytes),
                disk.as_str(),
                if disk == Severity::Critical {
                    thresholds.critical
                } else {
                    thresholds.warning
                }
            ),
            format!(
                "free space on {} (old images: `docker image prune`, logs, build cache) or grow it",
                fs.mount
            ),
        ).on_mount(&fs.mount));
    }
    if let Some(inodes) = fs.inodes_used_percent {
        let severity = level(inodes, thresholds);
        if severity != Severity::Ok {
            findings.push(
                Finding::new(
                    "inodes",
                    None,
                    severity,
                    format!("{} has used {} % of its inodes", fs.mount, inodes),
                    format!(
                        "remove many small files on {} (caches, queues, sessions)",
                        fs.mount
                    ),
                )
                .on_mount(&fs.mount),
            );
        }
    }
    findings
}

/// `bytes` for a reason: binary units, one decimal.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn memory(section: &Section) -> Result<MemoryUse, String> {
    let field = |name: &str| -> Option<u64> {
        section.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib = rest.trim().strip_suffix("kB").unwrap_or(rest).trim();
            kib.parse::<u64>().ok().map(|k| k * 1024)
        })
    };
    let (Some(total), Some(available)) = (field("MemTotal"), field("MemAvailable")) else {
        return Err(format!(
            "no MemTotal and MemAvailable in /proc/meminfo: {}",
            excerpt(&section.body)
        ));
    };
    let swap_total = field("SwapTotal").unwrap_or(0);
    let swap_free = field("SwapFree").unwrap_or(swap_total);
    Ok(MemoryUse {
        total_bytes: total,
        available_bytes: available,
        used_percent: percent_of(total.saturating_sub(available), total),
        swap_total_bytes: swap_total,
        swap_used_bytes: swap_total.saturating_sub(swap_free),
    })
}

fn memory_findings(memory: &MemoryUse) -> Vec<Finding> {
    let mut findings = Vec::new();
    let severity = if memory.used_percent >= MEMORY_CRITICAL_PERCENT {
        Severity::Critical
    } else if memory.used_percent >= MEMORY_WARNING_PERCENT {
        Severity::Warning
    } else {
        Severity::Ok
    };
    if severity != Severity::Ok {
        findings.push(Finding::new(
            "memory",
            None,
            severity,
            format!(
                "{} % of memory in use ({} available of {})",
                memory.used_percent,
                size(memory.available_bytes),
                size(memory.total_bytes)
            ),
            "find what grew (`docker stats`), set memory limits on containers, or add memory",
        ));
    }
    let swap = percent_of(memory.swap_used_bytes, memory.swap_total_bytes);
    if memory.swap_total_bytes > 0 && swap >= SWAP_WARNING_PERCENT {
        findings.push(Finding::new(
            "swap",
            None,
            Severity::Warning,
            format!(
                "{swap} % of swap in use ({} of {})",
                size(memory.swap_used_bytes),
                size(memory.swap_total_bytes)
            ),
            "memory ran short: find what grew, set memory limits on containers, or add memory",
        ));
    }
    findings
}

/// `/proc/loadavg`, `/proc/uptime` and the CPU count, one per line.
fn load_and_uptime(section: &Section) -> Result<(LoadUse, Option<u64>), String> {
    let lines: Vec<&str> = section.lines().collect();
    let bad = || format!("unexpected output: {}", excerpt(&section.body));
    let averages: Vec<f64> = lines
        .first()
        .ok_or_else(bad)?
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse().ok())
        .collect();
    let [load1, load5, load15] = averages[..] else {
        return Err(bad());
    };
    let uptime = lines
        .get(1)
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v as u64);
    let cpus = lines
        .get(2)
        .and_then(|l| l.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(bad)?;
    Ok((
        LoadUse {
            load1,
            load5,
            load15,
            cpus,
        },
        uptime,
    ))
}

fn load_finding(load: &LoadUse) -> Option<Finding> {
    let per_cpu = load.load15 / f64::from(load.cpus);
    let severity = if per_cpu >= LOAD_CRITICAL_PER_CPU {
        Severity::Critical
    } else if per_cpu >= LOAD_WARNING_PER_CPU {
        Severity::Warning
    } else {
        return None;
    };
    Some(Finding::new(
        "load",
        None,
        severity,
        format!(
            "15-minute load {:.2} on {} CPU{} ({per_cpu:.1} per CPU)",
            load.load15,
            load.cpus,
            if load.cpus == 1 { "" } else { "s" }
        ),
        "find what keeps the CPUs busy or waiting on disk (`top`, `docker stats`); set CPU limits",
    ))
}

/// The leading numbers of a kernel release (`6.1.0-28-amd64` → 6, 1, 0, 28), to
/// compare releases of different flavours by version only.
fn kernel_version(release: &str) -> Vec<u64> {
    release
        .split(['.', '-', '_', '+', '~'])
        .map_while(|part| part.parse::<u64>().ok())
        .collect()
}

fn reboot(section: &Section) -> RebootState {
    let mut marker: Option<Option<i64>> = None;
    let mut packages = Vec::new();
    let mut running = None;
    let mut installed: Vec<&str> = Vec::new();
    for line in section.lines() {
        if let Some(at) = line.strip_prefix("marker") {
            marker = Some(at.trim().parse().ok());
        } else if let Some(name) = line.strip_prefix("package ") {
            packages.push(sanitize::line(name.trim()));
        } else if let Some(release) = line.strip_prefix("running ") {
            running = Some(release.trim());
        } else if let Some(release) = line.strip_prefix("installed ") {
            installed.push(release.trim());
        }
    }
    if let Some(at) = marker {
        let since = at
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .and_then(|t| {
                t.format(time::macros::format_description!("[year]-[month]-[day]"))
                    .ok()
            })
            .map(|d| format!(" since {d}"))
            .unwrap_or_default();
        let packages = if packages.is_empty() {
            String::new()
        } else {
            format!(" (for {})", packages.join(", "))
        };
        return RebootState {
            required: Some(true),
            why: Some(format!(
                "/var/run/reboot-required is present{since}{packages}"
            )),
        };
    }
    let Some(running) = running.filter(|r| !r.is_empty()) else {
        return RebootState::default();
    };
    let current = kernel_version(running);
    let newest = installed
        .iter()
        .map(|r| (kernel_version(r), *r))
        .filter(|(v, _)| !v.is_empty())
        .max_by(|a, b| a.0.cmp(&b.0));
    match newest {
        Some((version, release)) if !current.is_empty() && version > current => RebootState {
            required: Some(true),
            why: Some(format!(
                "running kernel {} is older than installed {}",
                sanitize::line(running),
                sanitize::line(release)
            )),
        },
        _ => RebootState {
            required: Some(false),
            why: None,
        },
    }
}

fn updates(
    sections: &Sections,
    now: OffsetDateTime,
    memo: &mut RoundMemo,
) -> Result<PendingUpdates, String> {
    let section = match printed(sections, "updates") {
        Ok(section) => section,
        Err(why) => {
            memo.updates = None;
            return Err(match sections.part("updates") {
                Part::Absent => "apt is not installed".to_owned(),
                _ => why,
            });
        }
    };
    let (key, unchanged) = key_of(section);
    if unchanged {
        return match (&memo.updates, key) {
            (Some(remembered), Some(key)) if remembered.key == key => Ok(remembered.value),
            _ => Err("the host said unchanged, but no earlier answer is at hand".to_owned()),
        };
    }
    let count = |name: &str| {
        section
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u32>().ok())
    };
    let (Some(pending), Some(security)) = (count("pending "), count("security ")) else {
        memo.updates = None;
        return Err(format!("unexpected output: {}", excerpt(&section.body)));
    };
    let value = PendingUpdates { pending, security };
    memo.updates = key.map(|key| Remembered {
        key,
        value,
        at: now,
    });
    Ok(value)
}

fn clock(sections: &Sections) -> Result<bool, String> {
    let section = printed(sections, "clock")?;
    for line in section.lines() {
        if let Some(value) = line.strip_prefix("timedatectl ") {
            return match value.trim() {
                "yes" => Ok(true),
                "no" => Ok(false),
                other => Err(format!("timedatectl said {}", excerpt(other))),
            };
        }
        if let Some(value) = line.strip_prefix("Leap status") {
            let value = value.trim_start_matches([' ', ':']).trim();
            return Ok(value != "Not synchronised");
        }
    }
    Err(format!("unexpected output: {}", excerpt(&section.body)))
}
