//! `fleetdeck_apps` against what runs: a declared app with no container (`missing`),
//! a fleetdeck container of an app no longer declared (`undeclared`), and a running
//! revision whose config hash differs from what a deploy would produce now
//! (`drifted`). The expected hashes are computed by the deployment core's planner
//! (no lock, nothing changed) and handed to the fleet; the comparison is made here
//! whenever the containers change.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::containers::ContainerReport;
use crate::probes::Severity;
use crate::sanitize;
use crate::stack::labels::{NEXT_SUFFIX, is_kept_revision_name};

/// What one service of a declared app should run, as a deploy would create it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedService {
    pub service: String,
    /// The live container's name (prefix included).
    pub container: String,
    pub image: String,
    /// The config hash a deploy would label it with; `Err(why)` when it cannot be
    /// computed here (e.g. a secret the console cannot decrypt).
    pub config_hash: Result<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedApp {
    pub app: String,
    /// Empty with `unknown` set when the app's stack could not be rendered.
    pub services: Vec<ExpectedService>,
    pub unknown: Option<String>,
}

/// Every app the inventory declares for one host, as a deploy would run it now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedApps {
    pub apps: Vec<ExpectedApp>,
    /// `fleetdeck_container_prefix`: hosts sharing one engine (large labs) list each
    /// other's containers; only those named with this prefix are this host's.
    pub container_prefix: String,
}

/// How one app (or one of its services) compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppCondition {
    /// Declared and running the revision a deploy would produce.
    Deployed,
    /// Declared, and no container of it on the host.
    Missing,
    /// A `fleetdeck.app` container of an app the inventory no longer declares.
    Undeclared,
    /// Running another revision than a deploy would produce now.
    Drifted,
    /// Cannot be compared here (the reason says why).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppEntry {
    pub app: String,
    /// The service, when the condition is about one service of the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub condition: AppCondition,
    pub severity: Severity,
    /// One line for the console, sanitized.
    pub reason: String,
    /// The image of the container there now, when there is one (always for
    /// `drifted` and `undeclared`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_image: Option<String>,
    /// The image a deploy would run, for a declared service (always for `drifted`
    /// and `missing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_image: Option<String>,
}

/// The apps signal of one host, as `status --json` shows it under `apps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppsReport {
    pub severity: Severity,
    pub apps: Vec<AppEntry>,
}

/// Compares what a deploy would run with the containers a host reports (pure).
///
/// One entry per service of each declared app (`deployed`, `missing`, `drifted`, or
/// `unknown` when its hash cannot be computed here), one per app whose stack cannot be
/// read (`unknown`), and one per live fleetdeck container on this host's prefix that
/// no declared service accounts for (`undeclared`: its app is no longer declared, or
/// its service is no longer in the app's stack). Revisions kept for rollback
/// (`NAME.prev`, `NAME.old`) and one being brought up (`NAME.next`) are not compared.
/// `unknown` entries do not raise the report's severity.
pub fn compare(expected: &ExpectedApps, containers: &[ContainerReport]) -> AppsReport {
    let live: BTreeMap<&str, &ContainerReport> = containers
        .iter()
        .filter(|c| is_live(&c.name) && c.name.starts_with(&expected.container_prefix))
        .map(|c| (c.name.as_str(), c))
        .collect();
    let mut entries = Vec::new();
    let mut accounted: BTreeSet<&str> = BTreeSet::new();
    for app in &expected.apps {
        if let Some(why) = &app.unknown {
            entries.push(AppEntry {
                app: sanitize::line(&app.app),
                service: None,
                condition: AppCondition::Unknown,
                severity: Severity::Unknown,
                reason: sanitize::line(&format!("cannot tell what a deploy would run: {why}")),
                running_image: None,
                expected_image: None,
            });
            continue;
        }
        for service in &app.services {
            accounted.insert(service.container.as_str());
            entries.push(compare_service(
                &app.app,
                service,
                live.get(service.container.as_str()).copied(),
            ));
        }
    }
    let declared: BTreeMap<&str, &ExpectedApp> =
        expected.apps.iter().map(|a| (a.app.as_str(), a)).collect();
    for container in live.values() {
        let Some(app) = container.app.as_deref() else {
            continue;
        };
        if accounted.contains(container.name.as_str()) {
            continue;
        }
        let reason = match declared.get(app) {
            // Its services are not known: the app's own `unknown` entry says why.
            Some(declared) if declared.unknown.is_some() => continue,
            Some(_) => format!(
                "{} runs service `{}` of {app}, which is no longer in the app's stack",
                container.name,
                container.service.as_deref().unwrap_or("?")
            ),
            None => format!(
                "{} runs app `{app}`, which is not in this host's fleetdeck_apps",
                container.name
            ),
        };
        entries.push(AppEntry {
            app: sanitize::line(app),
            service: container.service.as_deref().map(sanitize::line),
            condition: AppCondition::Undeclared,
            severity: Severity::Warning,
            reason: sanitize::line(&reason),
            running_image: Some(sanitize::line(&container.image)),
            expected_image: None,
        });
    }
    AppsReport {
        severity: Severity::worst(
            entries
                .iter()
                .map(|e| e.severity)
                .filter(|s| *s != Severity::Unknown),
        ),
        apps: entries,
    }
}

/// Whether `name` is a live container, not a revision a deploy keeps or is making.
fn is_live(name: &str) -> bool {
    !is_kept_revision_name(name) && !name.ends_with(NEXT_SUFFIX)
}

fn compare_service(
    app: &str,
    expected: &ExpectedService,
    running: Option<&ContainerReport>,
) -> AppEntry {
    let name = &expected.container;
    let (condition, reason) = match (running, &expected.config_hash) {
        (None, _) => (
            AppCondition::Missing,
            format!(
                "no container {name}: a deploy would create it from {}",
                expected.image
            ),
        ),
        (Some(_), Err(why)) => (
            AppCondition::Unknown,
            format!("cannot tell whether {name} runs what a deploy would: {why}"),
        ),
        (Some(c), Ok(hash)) if c.config_hash.as_deref() == Some(hash.as_str()) => (
            AppCondition::Deployed,
            format!("{name} runs what a deploy would run now"),
        ),
        (Some(c), Ok(_)) if c.config_hash.is_none() => (
            AppCondition::Drifted,
            format!("{name} was not deployed by fleetdeck (it has no config-hash label)"),
        ),
        (Some(c), Ok(_)) if c.image != expected.image => (
            AppCondition::Drifted,
            format!(
                "{name} runs {}; a deploy would run {}",
                c.image, expected.image
            ),
        ),
        (Some(c), Ok(hash)) => (
            AppCondition::Drifted,
            format!(
                "{name} runs {} with another configuration than a deploy would now \
                 (config hash {} here, {} expected)",
                c.image,
                short_hash(c.config_hash.as_deref().unwrap_or("")),
                short_hash(hash)
            ),
        ),
    };
    let severity = match condition {
        AppCondition::Deployed => Severity::Ok,
        AppCondition::Missing => Severity::Critical,
        AppCondition::Drifted | AppCondition::Undeclared => Severity::Warning,
        AppCondition::Unknown => Severity::Unknown,
    };
    AppEntry {
        app: sanitize::line(app),
        service: Some(sanitize::line(&expected.service)),
        condition,
        severity,
        reason: sanitize::line(&reason),
        running_image: running.map(|c| sanitize::line(&c.image)),
        expected_image: Some(sanitize::line(&expected.image)),
    }
}

/// As `fleetdeck deploy`'s plan shows a hash: its first 12 digits.
fn short_hash(hash: &str) -> String {
    hash.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::containers::Pinning;

    const WEB_HASH: &str = "4f1c2a9b7d3e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4";
    const DB_HASH: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5";

    fn service(prefix: &str, app: &str, name: &str, image: &str, hash: &str) -> ExpectedService {
        ExpectedService {
            service: name.into(),
            container: if name == app {
                format!("{prefix}{app}")
            } else {
                format!("{prefix}{app}-{name}")
            },
            image: image.into(),
            config_hash: Ok(hash.into()),
        }
    }

    /// `web` (services web, db) declared on a host with `prefix`.
    fn expected(prefix: &str) -> ExpectedApps {
        ExpectedApps {
            apps: vec![ExpectedApp {
                app: "web".into(),
                services: vec![
                    service(prefix, "web", "web", "acme/web:1.0", WEB_HASH),
                    service(prefix, "web", "db", "postgres:16.4", DB_HASH),
                ],
                unknown: None,
            }],
            container_prefix: prefix.into(),
        }
    }

    fn container(name: &str, image: &str, labels: Option<(&str, &str, &str)>) -> ContainerReport {
        ContainerReport {
            name: name.into(),
            id: "0123456789ab".into(),
            state: "running".into(),
            health: None,
            health_output: None,
            restart_count: 0,
            exit_code: None,
            oom_killed: false,
            started_at: None,
            uptime_seconds: None,
            image: image.into(),
            image_pinned: Pinning::Tag,
            severity: Severity::Ok,
            problem: None,
            app: labels.map(|l| l.0.to_owned()),
            service: labels.map(|l| l.1.to_owned()),
            config_hash: labels.map(|l| l.2.to_owned()),
            findings: Vec::new(),
            published: Vec::new(),
        }
    }

    /// The containers a deploy of `expected("")` leaves.
    fn deployed() -> Vec<ContainerReport> {
        vec![
            container("web", "acme/web:1.0", Some(("web", "web", WEB_HASH))),
            container("web-db", "postgres:16.4", Some(("web", "db", DB_HASH))),
        ]
    }

    fn conditions(report: &AppsReport) -> Vec<(String, Option<String>, AppCondition, Severity)> {
        report
            .apps
            .iter()
            .map(|e| (e.app.clone(), e.service.clone(), e.condition, e.severity))
            .collect()
    }

    fn entry<'a>(report: &'a AppsReport, service: &str) -> &'a AppEntry {
        report
            .apps
            .iter()
            .find(|e| e.service.as_deref() == Some(service))
            .unwrap_or_else(|| panic!("{service} in {report:?}"))
    }

    #[test]
    fn what_a_deploy_left_is_deployed_service_by_service() {
        let report = compare(&expected(""), &deployed());
        assert_eq!(report.severity, Severity::Ok);
        assert_eq!(
            conditions(&report),
            [
                (
                    "web".into(),
                    Some("web".into()),
                    AppCondition::Deployed,
                    Severity::Ok
                ),
                (
                    "web".into(),
                    Some("db".into()),
                    AppCondition::Deployed,
                    Severity::Ok
                ),
            ]
        );
        let web = entry(&report, "web");
        assert_eq!(web.running_image.as_deref(), Some("acme/web:1.0"));
        assert_eq!(web.expected_image.as_deref(), Some("acme/web:1.0"));
    }

    #[test]
    fn a_service_without_a_container_is_missing_and_critical() {
        let mut running = deployed();
        running.remove(1);
        let report = compare(&expected(""), &running);
        assert_eq!(report.severity, Severity::Critical);
        let db = entry(&report, "db");
        assert_eq!(
            (db.condition, db.severity),
            (AppCondition::Missing, Severity::Critical)
        );
        assert_eq!(db.running_image, None);
        assert_eq!(db.expected_image.as_deref(), Some("postgres:16.4"));
        assert!(db.reason.contains("web-db"), "{}", db.reason);
        assert_eq!(entry(&report, "web").condition, AppCondition::Deployed);

        let nothing = compare(&expected(""), &[]);
        assert!(
            nothing
                .apps
                .iter()
                .all(|e| e.condition == AppCondition::Missing),
            "{nothing:?}"
        );
    }

    #[test]
    fn another_image_is_drift_with_both_images() {
        let mut running = deployed();
        running[0] = container("web", "acme/web:1.1", Some(("web", "web", DB_HASH)));
        let report = compare(&expected(""), &running);
        assert_eq!(report.severity, Severity::Warning);
        let web = entry(&report, "web");
        assert_eq!(
            (web.condition, web.severity),
            (AppCondition::Drifted, Severity::Warning)
        );
        assert_eq!(web.running_image.as_deref(), Some("acme/web:1.1"));
        assert_eq!(web.expected_image.as_deref(), Some("acme/web:1.0"));
        assert!(
            web.reason.contains("acme/web:1.1") && web.reason.contains("acme/web:1.0"),
            "{}",
            web.reason
        );
    }

    #[test]
    fn the_same_image_with_another_configuration_is_drift_naming_both_hashes() {
        let mut running = deployed();
        running[1] = container("web-db", "postgres:16.4", Some(("web", "db", WEB_HASH)));
        let report = compare(&expected(""), &running);
        let db = entry(&report, "db");
        assert_eq!(db.condition, AppCondition::Drifted);
        assert_eq!(db.running_image, db.expected_image);
        assert!(
            db.reason.contains(&WEB_HASH[..12]) && db.reason.contains(&DB_HASH[..12]),
            "{}",
            db.reason
        );
    }

    #[test]
    fn a_container_started_by_hand_under_the_name_is_drift() {
        let mut running = deployed();
        running[0] = container("web", "acme/web:1.0", None);
        let report = compare(&expected(""), &running);
        let web = entry(&report, "web");
        assert_eq!(web.condition, AppCondition::Drifted);
        assert!(
            web.reason.contains("not deployed by fleetdeck"),
            "{}",
            web.reason
        );
    }

    #[test]
    fn a_container_of_an_app_no_longer_declared_is_undeclared() {
        let mut running = deployed();
        running.push(container(
            "gitea",
            "gitea/gitea:1.22",
            Some(("gitea", "gitea", WEB_HASH)),
        ));
        // Not fleetdeck's: not an app at all.
        running.push(container("scratch", "debian:12", None));
        let report = compare(&expected(""), &running);
        assert_eq!(report.severity, Severity::Warning);
        let gitea = entry(&report, "gitea");
        assert_eq!(
            (gitea.app.as_str(), gitea.condition, gitea.severity),
            ("gitea", AppCondition::Undeclared, Severity::Warning)
        );
        assert_eq!(gitea.running_image.as_deref(), Some("gitea/gitea:1.22"));
        assert_eq!(gitea.expected_image, None);
        assert!(gitea.reason.contains("fleetdeck_apps"), "{}", gitea.reason);
        assert_eq!(report.apps.len(), 3, "scratch is no app: {report:?}");
    }

    #[test]
    fn a_service_dropped_from_the_stack_is_undeclared() {
        let mut running = deployed();
        running.push(container(
            "web-cache",
            "redis:7.4",
            Some(("web", "cache", WEB_HASH)),
        ));
        let report = compare(&expected(""), &running);
        let cache = entry(&report, "cache");
        assert_eq!(cache.condition, AppCondition::Undeclared);
        assert!(
            cache.reason.contains("no longer in the app's stack"),
            "{}",
            cache.reason
        );
    }

    #[test]
    fn kept_revisions_are_not_compared() {
        let mut running = deployed();
        running.remove(0);
        for name in ["web.prev", "web.old", "web.next"] {
            running.push(container(
                name,
                "acme/web:0.9",
                Some(("web", "web", DB_HASH)),
            ));
            running.push(container(
                &format!("gitea{}", &name[3..]),
                "gitea/gitea:1.21",
                Some(("gitea", "gitea", DB_HASH)),
            ));
        }
        let report = compare(&expected(""), &running);
        assert_eq!(
            conditions(&report)
                .into_iter()
                .map(|(app, service, condition, _)| (app, service, condition))
                .collect::<Vec<_>>(),
            [
                ("web".into(), Some("web".into()), AppCondition::Missing),
                ("web".into(), Some("db".into()), AppCondition::Deployed),
            ],
            "a kept revision is not the live container, nor undeclared"
        );
    }

    #[test]
    fn only_containers_with_the_hosts_prefix_are_its_own() {
        let ours = expected("alpha-");
        let running = vec![
            container("alpha-web", "acme/web:1.0", Some(("web", "web", WEB_HASH))),
            container(
                "alpha-web-db",
                "postgres:16.4",
                Some(("web", "db", DB_HASH)),
            ),
            // Another host on the same engine: its apps are not undeclared here, and
            // its `web` does not stand in for ours.
            container("beta-web", "acme/web:1.1", Some(("web", "web", DB_HASH))),
            container(
                "beta-gitea",
                "gitea/gitea:1.22",
                Some(("gitea", "gitea", DB_HASH)),
            ),
        ];
        let report = compare(&ours, &running);
        assert_eq!(report.severity, Severity::Ok, "{report:?}");
        assert_eq!(report.apps.len(), 2, "{report:?}");

        let report = compare(&ours, &running[2..]);
        assert!(
            report
                .apps
                .iter()
                .all(|e| e.condition == AppCondition::Missing),
            "{report:?}"
        );
    }

    #[test]
    fn an_app_that_cannot_be_rendered_is_unknown_and_does_not_count() {
        let mut apps = expected("");
        apps.apps.push(ExpectedApp {
            app: "cron".into(),
            services: Vec::new(),
            unknown: Some("stacks/cron.yml:3:5: unknown variable `cron_schedule`".into()),
        });
        let mut running = deployed();
        // Its container is accounted for by the unknown entry, not undeclared.
        running.push(container(
            "cron",
            "acme/cron:2.0",
            Some(("cron", "cron", WEB_HASH)),
        ));
        let report = compare(&apps, &running);
        assert_eq!(report.severity, Severity::Ok, "{report:?}");
        let cron = report
            .apps
            .iter()
            .find(|e| e.app == "cron")
            .expect("cron entry");
        assert_eq!(
            (cron.service.as_deref(), cron.condition, cron.severity),
            (None, AppCondition::Unknown, Severity::Unknown)
        );
        assert!(cron.reason.contains("stacks/cron.yml"), "{}", cron.reason);
        assert_eq!(report.apps.len(), 3, "{report:?}");
    }

    #[test]
    fn a_hash_that_needs_an_undecryptable_secret_is_unknown_unless_nothing_runs() {
        let why = "needs secrets from secrets/alpha.yml, which cannot be decrypted \
                   without a passphrase here";
        let mut apps = expected("");
        apps.apps[0].services[0].config_hash = Err(why.into());
        let report = compare(&apps, &deployed());
        assert_eq!(report.severity, Severity::Ok, "unknown does not count");
        let web = entry(&report, "web");
        assert_eq!(
            (web.condition, web.severity),
            (AppCondition::Unknown, Severity::Unknown)
        );
        assert!(web.reason.contains("secrets/alpha.yml"), "{}", web.reason);
        assert_eq!(entry(&report, "db").condition, AppCondition::Deployed);

        // Whether a container exists needs no hash.
        let report = compare(&apps, &deployed()[1..]);
        assert_eq!(entry(&report, "web").condition, AppCondition::Missing);
        assert_eq!(report.severity, Severity::Critical);
    }

    #[test]
    fn what_the_host_says_is_cleaned_onto_one_line() {
        let mut running = deployed();
        running.push(container(
            "evil",
            "x:1\n\u{1b}[2Jforged line",
            Some(("ev\u{1b}[31mil\nforged", "s\r\nvc", WEB_HASH)),
        ));
        let report = compare(&expected(""), &running);
        let evil = report
            .apps
            .iter()
            .find(|e| e.condition == AppCondition::Undeclared)
            .expect("undeclared");
        let fields = [
            evil.app.as_str(),
            evil.service.as_deref().unwrap_or(""),
            evil.reason.as_str(),
            evil.running_image.as_deref().unwrap_or(""),
        ];
        for field in fields {
            assert!(
                !field.contains(['\n', '\r', '\u{1b}']),
                "{field:?} is one clean line"
            );
        }
    }

    #[test]
    fn nothing_declared_and_nothing_running_is_ok_and_empty() {
        let report = compare(&ExpectedApps::default(), &[]);
        assert_eq!(report.severity, Severity::Ok);
        assert!(report.apps.is_empty());
    }

    #[test]
    fn conditions_serialize_as_the_json_says() {
        let report = compare(&expected(""), &deployed()[..1]);
        let json = serde_json::to_value(&report).expect("serializes");
        assert_eq!(json["severity"], "critical");
        assert_eq!(json["apps"][0]["condition"], "deployed");
        assert_eq!(json["apps"][1]["condition"], "missing");
        assert_eq!(json["apps"][1]["service"], "db");
        assert!(json["apps"][1].get("running_image").is_none(), "{json}");
    }
}
