//! Drill history on the machine that ran the drills:
//! `$XDG_STATE_HOME/fleetdeck/drills/HOST/APP/TIME-ID.json` (and `.md` beside it),
//! one pair per drill, never rewritten. The fleet overview's "last successful drill"
//! is read from here, off the render path (the host actors and `status` read it).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use super::report::{DrillReport, DrillResult};
use super::spec::{DEFAULT_WARNING_DAYS, Drills};
use crate::probes::Severity;

/// Where drill reports are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    root: PathBuf,
}

/// A host or app name as one path component: letters, digits, `.`, `_`, `-` kept,
/// anything else as `%XX`, so no name can climb out of the history directory.
fn component(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-') || (b == b'.' && !out.is_empty()) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

impl History {
    /// `$XDG_STATE_HOME/fleetdeck/drills`.
    pub fn default_location() -> History {
        History::at(crate::paths::state_home().join("fleetdeck").join("drills"))
    }

    pub fn at(root: impl Into<PathBuf>) -> History {
        History { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn app_dir(&self, host: &str, app: &str) -> PathBuf {
        self.root.join(component(host)).join(component(app))
    }

    /// Writes the report as JSON and Markdown; returns both paths.
    pub fn save(&self, report: &DrillReport) -> Result<(PathBuf, PathBuf), String> {
        let dir = self.app_dir(&report.host, &report.app);
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let stamp = report
            .started_at
            .to_offset(time::UtcOffset::UTC)
            .format(&fmt)
            .map_err(|e| e.to_string())?;
        let base = format!("{stamp}-{}", component(&report.id));
        let json_path = dir.join(format!("{base}.json"));
        let md_path = dir.join(format!("{base}.md"));
        let mut json = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
        json.push(b'\n');
        write_new(&json_path, &json)?;
        write_new(&md_path, report.to_markdown().as_bytes())?;
        Ok((json_path, md_path))
    }

    /// Every readable report of `host`/`app`, oldest first. Files that do not parse
    /// are skipped (a report being written by another process, or hand-edited).
    pub fn load(&self, host: &str, app: &str) -> Vec<DrillReport> {
        let dir = self.app_dir(host, app);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut reports: Vec<DrillReport> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|bytes| serde_json::from_slice::<DrillReport>(&bytes).ok())
            .filter(|r| r.host == host && r.app == app)
            .collect();
        reports.sort_by_key(|r| r.started_at);
        reports
    }

    /// The apps with a history for `host`.
    pub fn apps(&self, host: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.root.join(component(host))) else {
            return Vec::new();
        };
        let mut apps: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| {
                // The app's name as its reports spell it (the directory name is encoded).
                let reports = std::fs::read_dir(e.path()).ok()?;
                reports
                    .filter_map(Result::ok)
                    .filter(|r| r.path().extension().is_some_and(|x| x == "json"))
                    .filter_map(|r| std::fs::read(r.path()).ok())
                    .find_map(|b| serde_json::from_slice::<DrillReport>(&b).ok())
                    .filter(|r| r.host == host)
                    .map(|r| r.app)
            })
            .collect();
        apps.sort();
        apps.dedup();
        apps
    }

    /// The newest passed drill of `host`/`app`.
    pub fn last_success_of(&self, host: &str, app: &str) -> Option<DrillReport> {
        self.load(host, app)
            .into_iter()
            .rev()
            .find(|r| r.result == DrillResult::Passed)
    }

    /// The newest passed drill of `host`, any app.
    pub fn last_success(&self, host: &str) -> Option<DrillReport> {
        self.apps(host)
            .iter()
            .filter_map(|app| self.last_success_of(host, app))
            .max_by_key(|r| r.started_at)
    }

    /// The overview's signal for `host`: per declared app (or, with none declared,
    /// per app with a history), its last successful drill and last run.
    pub fn last_drill(&self, host: &str, declared: &Drills) -> LastDrill {
        let apps: Vec<(String, u64)> = if declared.is_empty() {
            self.apps(host)
                .into_iter()
                .map(|a| (a, DEFAULT_WARNING_DAYS))
                .collect()
        } else {
            declared
                .iter()
                .map(|(app, spec)| (app.clone(), spec.warning_days))
                .collect()
        };
        let apps = apps
            .into_iter()
            .map(|(app, warning_days)| {
                let reports = self.load(host, &app);
                let success = reports
                    .iter()
                    .rev()
                    .find(|r| r.result == DrillResult::Passed);
                let last = reports.last();
                AppDrill {
                    last_success: success.map(|r| r.started_at),
                    rto_seconds: success.and_then(|r| r.rto_seconds),
                    rpo_seconds: success.and_then(|r| r.rpo_seconds),
                    last_run: last.map(|r| r.started_at),
                    last_result: last.map(|r| r.result),
                    warning_days,
                    app,
                }
            })
            .collect();
        LastDrill { apps }
    }
}

/// `host`'s newest passed drill, from the default history location.
pub fn last_success(host: &str) -> Option<DrillReport> {
    History::default_location().last_success(host)
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// One app's drill record, as the overview needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppDrill {
    pub app: String,
    pub last_success: Option<OffsetDateTime>,
    pub rto_seconds: Option<f64>,
    pub rpo_seconds: Option<i64>,
    pub last_run: Option<OffsetDateTime>,
    pub last_result: Option<DrillResult>,
    pub warning_days: u64,
}

impl AppDrill {
    /// Warning when never drilled successfully or the last success is older than
    /// `warning_days`; ok otherwise.
    pub fn severity(&self, now: OffsetDateTime) -> Severity {
        match self.last_success {
            None => Severity::Warning,
            Some(t) => {
                let limit = i64::try_from(self.warning_days)
                    .unwrap_or(i64::MAX / 86_400)
                    .saturating_mul(86_400);
                if (now - t).whole_seconds() > limit {
                    Severity::Warning
                } else {
                    Severity::Ok
                }
            }
        }
    }
}

/// The `last_drill` signal of a host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastDrill {
    pub apps: Vec<AppDrill>,
}

impl LastDrill {
    /// The app the overview shows: the worst (never drilled, or the oldest success).
    pub fn headline(&self, now: OffsetDateTime) -> Option<&AppDrill> {
        self.apps.iter().max_by_key(|a| {
            (
                a.severity(now),
                a.last_success
                    .map_or(i64::MAX, |t| (now - t).whole_seconds()),
            )
        })
    }

    /// The worst app's severity; ok when no drill is declared.
    pub fn severity(&self, now: OffsetDateTime) -> Severity {
        Severity::worst(self.apps.iter().map(|a| a.severity(now)))
    }

    /// The overview column: `3d ago` / `never`, with its severity; `None` when the
    /// host declares no drill and has no history (the column shows `-`).
    pub fn column(&self, now: OffsetDateTime) -> Option<(String, Severity)> {
        let head = self.headline(now)?;
        let text = match head.last_success {
            None => "never".to_owned(),
            Some(t) => format!("{} ago", short_age((now - t).whole_seconds().max(0))),
        };
        Some((text, head.severity(now)))
    }

    pub fn to_json(&self, now: OffsetDateTime) -> LastDrillJson {
        let head = self.headline(now);
        let rfc = |t: OffsetDateTime| crate::util::time::rfc3339(t);
        LastDrillJson {
            time: head.and_then(|h| h.last_success).map(rfc),
            age_seconds: head
                .and_then(|h| h.last_success)
                .map(|t| (now - t).whole_seconds().max(0)),
            app: head.map(|h| h.app.clone()),
            severity: self.severity(now),
            warning_days: head.map(|h| h.warning_days),
            apps: self
                .apps
                .iter()
                .map(|a| AppDrillJson {
                    app: a.app.clone(),
                    last_success: a.last_success.map(rfc),
                    age_seconds: a.last_success.map(|t| (now - t).whole_seconds().max(0)),
                    rto_seconds: a.rto_seconds,
                    rpo_seconds: a.rpo_seconds,
                    last_run: a.last_run.map(rfc),
                    last_result: a.last_result,
                    warning_days: a.warning_days,
                    severity: a.severity(now),
                })
                .collect(),
        }
    }
}

/// `45s`, `12m`, `5h`, `3d`: the overview's compact age.
pub fn short_age(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// `last_drill` in `status --json` (docs/status.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastDrillJson {
    /// The headline app's last successful drill (the worst app: never drilled, or the
    /// oldest success); null when it never passed.
    pub time: Option<String>,
    pub age_seconds: Option<i64>,
    pub app: Option<String>,
    pub severity: Severity,
    pub warning_days: Option<u64>,
    pub apps: Vec<AppDrillJson>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppDrillJson {
    pub app: String,
    pub last_success: Option<String>,
    pub age_seconds: Option<i64>,
    pub rto_seconds: Option<f64>,
    pub rpo_seconds: Option<i64>,
    pub last_run: Option<String>,
    pub last_result: Option<DrillResult>,
    pub warning_days: u64,
    pub severity: Severity,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::drill::report::tests::sample;
    use time::macros::datetime;

    #[test]
    fn names_cannot_escape_the_history() {
        assert_eq!(component("client-gamma"), "client-gamma");
        assert_eq!(component("../etc"), "%2E.%2Fetc");
        assert_eq!(component(".."), "%2E.");
        assert_eq!(component("a/b"), "a%2Fb");
        assert_eq!(component(""), "%00");
    }

    #[test]
    fn history_keeps_every_drill_and_finds_the_last_success() {
        let dir = tempfile::tempdir().expect("tempdir");
        let history = History::at(dir.path());
        assert!(history.last_success("client-gamma").is_none());
        let mut passed = sample(DrillResult::Passed);
        history.save(&passed).expect("saved");
        let mut failed = sample(DrillResult::Failed);
        failed.id = "d-2".into();
        failed.started_at = datetime!(2026-11-24 10:00:00 UTC);
        history.save(&failed).expect("saved");
        assert!(history.save(&failed).is_err(), "never overwritten");
        passed.id = "d-0".into();
        passed.started_at = datetime!(2026-11-01 10:00:00 UTC);
        history.save(&passed).expect("saved");

        // A second reader (another process) sees the same.
        let again = History::at(dir.path());
        assert_eq!(again.load("client-gamma", "web").len(), 3);
        let last = again.last_success("client-gamma").expect("one passed");
        assert_eq!(last.id, "d-1");
        assert_eq!(again.apps("client-gamma"), ["web"]);

        let mut declared = Drills::new();
        let spec: crate::probes::drill::spec::DrillSpec = serde_json::from_value(
            serde_json::json!({"repository": "app-data", "warning_days": 30}),
        )
        .expect("spec");
        declared.insert("web".into(), spec.clone());
        declared.insert("db".into(), spec);
        let signal = again.last_drill("client-gamma", &declared);
        let now = datetime!(2026-11-25 10:00:00 UTC);
        // db was never drilled: the headline, and a warning.
        assert_eq!(
            signal.column(now),
            Some(("never".into(), Severity::Warning))
        );
        let json = signal.to_json(now);
        assert_eq!(json.app.as_deref(), Some("db"));
        let web = &json.apps[1];
        assert_eq!(web.last_success.as_deref(), Some("2026-11-23T10:00:00Z"));
        assert_eq!(web.last_result, Some(DrillResult::Failed));
        assert_eq!(web.severity, Severity::Ok);

        declared.remove("db");
        let signal = again.last_drill("client-gamma", &declared);
        assert_eq!(signal.column(now), Some(("2d ago".into(), Severity::Ok)));
        let later = datetime!(2026-12-24 10:00:01 UTC);
        assert_eq!(
            signal.column(later),
            Some(("31d ago".into(), Severity::Warning))
        );
        assert_eq!(LastDrill::default().column(now), None);
    }
}
