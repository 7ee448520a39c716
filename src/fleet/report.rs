//! An incident report: what is known about one host (or one of its containers) at
//! one moment, as the Markdown that gets pasted into a ticket and the JSON beside it.
//!
//! Gathering ([`gather`]) measures the host as `status` does, then reads each problem
//! container's inspect data and last [`LOG_LINES`] log lines over the host's session,
//! and the local audit log; a host that does not answer still gets a report of what is
//! known, with the reason. Assembling ([`assemble`], [`container_section`]) is pure,
//! and so is rendering ([`super::report_file`]). Nothing secret is copied: environment
//! variables are listed by name only (their values shown as [`ENV_MASK`]), and the
//! values of secret-looking or declared-secret variables are cut out of log lines,
//! health output and every other inspect value too. Every remote string is sanitized.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;
use serde::Serialize;
use time::OffsetDateTime;

use super::containers::ContainerReport;
use super::model::HostState;
use super::target::Target;
use super::timeline::TimelineEntry;
use crate::audit::{AuditLog, AuditRecord, AuditResult};
use crate::docker::inspect::{InspectView, SECRET_ENV_LABEL, Section, looks_secret};
use crate::docker::logs::{LogBuffer, LogChunk};
use crate::probes::Severity;
use crate::sanitize;
use crate::ssh::session::{ConnectContext, Session};

/// Log lines kept per problem container.
pub const LOG_LINES: usize = 200;
/// What an environment variable's value is shown as: always, whatever its name.
pub const ENV_MASK: &str = "***";
/// Audited actions listed (the latest ones on the host).
const AUDIT_ACTIONS: usize = 10;
/// Timeline entries listed at most (the latest ones in the window).
const TIMELINE_ENTRIES: usize = 500;
/// A secret value shorter than this is not cut out of other text: it would match
/// ordinary words and hide the log rather than the secret.
const MIN_SECRET_CHARS: usize = 4;

/// One problem container (or the one asked for): its inspect data, secrets masked,
/// and its last log lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerSection {
    pub name: String,
    /// As `status` reports it; `None` when the host's listing does not have it.
    pub status: Option<ContainerReport>,
    /// `(key, value)` lines as the console's inspect pane shows them, environment
    /// values replaced by [`ENV_MASK`].
    pub inspect: Vec<(String, String)>,
    pub inspect_error: Option<String>,
    /// `TIME TEXT`, oldest first.
    pub logs: Vec<String>,
    pub logs_error: Option<String>,
}

/// Everything a report holds; built by [`gather`] or by hand.
#[derive(Debug, Clone)]
pub struct Report {
    pub generated_at: OffsetDateTime,
    pub host: HostState,
    /// The container the report was asked for, if one was.
    pub container: Option<String>,
    /// How far back the timeline goes.
    pub since: Duration,
    pub containers: Vec<ContainerSection>,
    /// The host's timeline over `since`, or why there is none.
    pub timeline: Result<Vec<TimelineEntry>, String>,
    /// The host's latest audited actions (newest last), or why they could not be read.
    pub actions: Result<Vec<AuditRecord>, String>,
}

/// What the caller asks for.
#[derive(Debug, Clone)]
pub struct Request {
    pub container: Option<String>,
    pub since: Duration,
    /// The host's timeline (any hosts, any times: it is filtered here), or why there
    /// is none (no history recorded).
    pub timeline: Result<Vec<TimelineEntry>, String>,
    pub audit_log: PathBuf,
    /// How long measuring the host, and then reading the containers, may each take.
    pub deadline: Duration,
}

/// Measures the host, then reads what the report needs of its problem containers (or
/// of `request.container`). Never fails: what could not be read is said in the report.
pub async fn gather(ctx: &Arc<ConnectContext>, target: &Target, request: Request) -> Report {
    let host = super::status::measure_host(ctx, target, request.deadline).await;
    let names = report_containers(&host, request.container.as_deref());
    let containers = if host.reachable == Some(true) && !names.is_empty() {
        let read = read_containers(ctx, target, &host, &names);
        match tokio::time::timeout(request.deadline, read).await {
            Ok(sections) => sections,
            Err(_) => unread(
                &host,
                &names,
                &format!("no answer within {}s", request.deadline.as_secs()),
            ),
        }
    } else {
        let why = host
            .error
            .clone()
            .unwrap_or_else(|| "not reachable".to_owned());
        unread(&host, &names, &format!("host unreachable: {why}"))
    };
    let actions = latest_actions(&request.audit_log, &host.name);
    assemble(
        host,
        request.container,
        request.since,
        containers,
        request.timeline,
        actions,
        OffsetDateTime::now_utc(),
    )
}

/// A report from its parts (pure): timeline entries outside the window or of other
/// hosts are left out, and every text that may have come from elsewhere sanitized.
pub fn assemble(
    host: HostState,
    container: Option<String>,
    since: Duration,
    containers: Vec<ContainerSection>,
    timeline: Result<Vec<TimelineEntry>, String>,
    actions: Result<Vec<AuditRecord>, String>,
    now: OffsetDateTime,
) -> Report {
    let mut host = host;
    // The host's own copy of each detailed container carries what the section redacted
    // (its health output and problem may quote a secret), for the status and problems.
    if let Some(listing) = host.containers.value.as_mut() {
        for shown in containers.iter().filter_map(|c| c.status.as_ref()) {
            if let Some(c) = listing.iter_mut().find(|c| c.name == shown.name) {
                c.health_output.clone_from(&shown.health_output);
                c.problem.clone_from(&shown.problem);
            }
        }
    }
    let from = now - since;
    let timeline = timeline.map(|entries| {
        let mut kept: Vec<TimelineEntry> = entries
            .into_iter()
            .filter(|e| e.host == host.name && e.at >= from && e.at <= now)
            .map(|mut e| {
                e.text = sanitize::line(&e.text);
                e.host = sanitize::line(&e.host);
                e
            })
            .collect();
        kept.sort_by_key(|e| e.at);
        let skip = kept.len().saturating_sub(TIMELINE_ENTRIES);
        kept.split_off(skip)
    });
    let actions = actions.map(|records| records.iter().map(clean_record).collect());
    Report {
        generated_at: now,
        host,
        container: container.map(|c| sanitize::line(&c)),
        since,
        containers,
        timeline: timeline.map_err(|e| sanitize::line(&e)),
        actions: actions.map_err(|e: String| sanitize::line(&e)),
    }
}

fn clean_record(r: &AuditRecord) -> AuditRecord {
    let opt = |t: &Option<String>| t.as_deref().map(sanitize::line);
    AuditRecord {
        time: sanitize::line(&r.time),
        id: sanitize::line(&r.id),
        operator: sanitize::line(&r.operator),
        host: sanitize::line(&r.host),
        action: sanitize::line(&r.action),
        target: sanitize::line(&r.target),
        reason: opt(&r.reason),
        result: r.result,
        error: opt(&r.error),
    }
}

/// The containers a report details: the one asked for, else every container with a
/// problem, in the host's listing order.
pub fn report_containers(host: &HostState, only: Option<&str>) -> Vec<String> {
    if let Some(name) = only {
        return vec![name.to_owned()];
    }
    host.containers
        .value
        .iter()
        .flatten()
        .filter(|c| c.severity != Severity::Ok || c.problem.is_some())
        .map(|c| c.name.clone())
        .collect()
}

/// The host's latest audited actions: one line per action (its result, or its intent
/// when no result followed), newest last. A missing log is no actions.
pub fn latest_actions(path: &Path, host: &str) -> Result<Vec<AuditRecord>, String> {
    let records = match AuditLog::read(path) {
        Ok(records) => records,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("reading the audit log: {e}")),
    };
    let mut actions: Vec<AuditRecord> = Vec::new();
    for record in records.into_iter().filter(|r| r.host == host) {
        match actions.iter_mut().find(|a| a.id == record.id) {
            Some(seen) if record.result != AuditResult::Intent => *seen = record,
            Some(_) => {}
            None => actions.push(record),
        }
    }
    let skip = actions.len().saturating_sub(AUDIT_ACTIONS);
    Ok(actions.split_off(skip))
}

fn unread(host: &HostState, names: &[String], why: &str) -> Vec<ContainerSection> {
    names
        .iter()
        .map(|name| ContainerSection {
            name: sanitize::line(name),
            status: listed(host, name),
            inspect: Vec::new(),
            inspect_error: Some(sanitize::line(why)),
            logs: Vec::new(),
            logs_error: Some(sanitize::line(why)),
        })
        .collect()
}

fn listed(host: &HostState, name: &str) -> Option<ContainerReport> {
    host.containers
        .value
        .iter()
        .flatten()
        .find(|c| c.name == name)
        .cloned()
}

/// Each container's inspect and log tail, over a session of its own.
async fn read_containers(
    ctx: &Arc<ConnectContext>,
    target: &Target,
    host: &HostState,
    names: &[String],
) -> Vec<ContainerSection> {
    let settings = &target.settings;
    let resolved = target.resolve(ctx);
    let session = match Session::connect(ctx, &resolved, settings.ssh.host_key_pin.clone()).await {
        Ok(session) => session,
        Err(e) => return unread(host, names, &format!("connecting: {e}")),
    };
    let docker = match crate::docker::transport::connect_negotiated(
        session.docker_socket(&settings.docker_socket),
        30,
    )
    .await
    {
        Ok(docker) => docker,
        Err(e) => return unread(host, names, &format!("Docker API: {e}")),
    };
    read_with(&docker, host, names).await
}

/// A report from what the console already knows of a host (its state, kept current by
/// its actor) and the Docker API over the host's link, without measuring it again;
/// `docker` is why there is none when the host is not connected.
pub async fn gather_live(
    docker: Result<Docker, String>,
    host: HostState,
    request: Request,
) -> Report {
    let names = report_containers(&host, request.container.as_deref());
    let containers = match docker {
        Ok(docker) if host.reachable == Some(true) && !names.is_empty() => {
            let read = read_with(&docker, &host, &names);
            match tokio::time::timeout(request.deadline, read).await {
                Ok(sections) => sections,
                Err(_) => unread(
                    &host,
                    &names,
                    &format!("no answer within {}s", request.deadline.as_secs()),
                ),
            }
        }
        Ok(_) => {
            let why = host
                .error
                .clone()
                .unwrap_or_else(|| "not connected".to_owned());
            unread(&host, &names, &format!("host unreachable: {why}"))
        }
        Err(why) => unread(&host, &names, &format!("host unreachable: {why}")),
    };
    let audit_log = request.audit_log.clone();
    let name = host.name.clone();
    let actions = tokio::task::spawn_blocking(move || latest_actions(&audit_log, &name))
        .await
        .unwrap_or_else(|e| Err(format!("reading the audit log: {e}")));
    assemble(
        host,
        request.container,
        request.since,
        containers,
        request.timeline,
        actions,
        OffsetDateTime::now_utc(),
    )
}

/// Each container's inspect and log tail, all at once.
async fn read_with(docker: &Docker, host: &HostState, names: &[String]) -> Vec<ContainerSection> {
    let reads = names.iter().map(|name| {
        async move {
            let details = crate::docker::clean::inspect_container(docker, name).await;
            let logs = tail(docker, name).await;
            match details {
                Ok(details) => container_section(name, listed(host, name), &details, logs),
                Err(e) => {
                    let mut section =
                        unread(host, std::slice::from_ref(name), &e.to_string()).remove(0);
                    // Without the inspect data nothing says which values are secret:
                    // the log is left out rather than shown unredacted.
                    section.logs_error =
                        Some("not shown: the container's inspect data could not be read".into());
                    section
                }
            }
        }
    });
    futures_util::future::join_all(reads).await
}

/// The last [`LOG_LINES`] lines of a container's log, as `TIME TEXT`, sanitized.
async fn tail(docker: &Docker, name: &str) -> Result<Vec<String>, String> {
    let options = LogsOptions {
        follow: false,
        stdout: true,
        stderr: true,
        since: 0,
        until: 0,
        timestamps: true,
        tail: LOG_LINES.to_string(),
    };
    let mut stream = docker.logs(name, Some(options));
    let mut buffer = LogBuffer::new(LOG_LINES, crate::docker::logs::DEFAULT_MAX_BYTES);
    while let Some(output) = stream.next().await {
        let output = output.map_err(|e| sanitize::line(&e.to_string()))?;
        buffer.push(&LogChunk::from_output(output));
    }
    buffer.flush_partials();
    Ok(buffer.lines().map(|l| l.display(true)).collect())
}

/// One container's section (pure): its inspect lines with every environment value
/// replaced by [`ENV_MASK`], and the values of its secret variables (by name, or
/// declared by the deployment) cut out of the log, the health output and every other
/// inspect value.
pub fn container_section(
    name: &str,
    status: Option<ContainerReport>,
    details: &ContainerInspectResponse,
    logs: Result<Vec<String>, String>,
) -> ContainerSection {
    let secrets = secret_values(details);
    let mut view = InspectView::new(details, false);
    for row in &mut view.rows {
        if row.section == Section::Env {
            row.value = ENV_MASK.to_owned();
        } else {
            row.value = redact(&row.value, &secrets);
        }
    }
    let status = status.map(|mut s| {
        s.health_output = s.health_output.map(|h| redact(&h, &secrets));
        s.problem = s.problem.map(|p| redact(&p, &secrets));
        s
    });
    let (logs, logs_error) = match logs {
        Ok(lines) => (lines.iter().map(|l| redact(l, &secrets)).collect(), None),
        Err(e) => (Vec::new(), Some(redact(&sanitize::line(&e), &secrets))),
    };
    ContainerSection {
        name: sanitize::line(name),
        status,
        inspect: view.lines(),
        inspect_error: None,
        logs,
        logs_error,
    }
}

/// The values of the container's variables that hold secrets: by their name, or named
/// by the deployment's secret-env label. Longest first, so a secret that contains
/// another is cut whole.
fn secret_values(details: &ContainerInspectResponse) -> Vec<String> {
    let config = details.config.as_ref();
    let declared: Vec<String> = config
        .and_then(|c| c.labels.as_ref())
        .and_then(|labels| labels.get(SECRET_ENV_LABEL))
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default();
    let mut values: Vec<String> = config
        .and_then(|c| c.env.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.split_once('='))
        .filter(|(key, _)| looks_secret(key) || declared.iter().any(|d| d == key))
        .flat_map(|(_, value)| [value.to_owned(), sanitize::line(value)])
        .filter(|value| value.chars().count() >= MIN_SECRET_CHARS)
        .collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    values
}

fn redact(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret, ENV_MASK)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::containers::Pinning;
    use crate::fleet::model::Expectations;
    use crate::fleet::report_file::{json, markdown, write};
    use crate::fleet::timeline::TimelineKind;
    use crate::probes::firewall::{Drift, DriftKind, FirewallReport};
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2027-01-01 10:00 UTC);
    const SECRET: &str = "hunter2-very-secret";
    const PLAIN: &str = "plain-value-42";
    const DECLARED: &str = "declared-by-the-deploy";

    fn worker() -> ContainerReport {
        ContainerReport {
            name: "worker".into(),
            id: "45a5644a6567".into(),
            state: "running".into(),
            health: Some("unhealthy".into()),
            health_output: Some(format!("login with {SECRET} refused")),
            restart_count: 2,
            exit_code: None,
            oom_killed: false,
            started_at: Some("2027-01-01T09:00:00Z".into()),
            uptime_seconds: Some(3600),
            image: "fleetdeck-lab/app:1.0".into(),
            image_pinned: Pinning::Tag,
            severity: Severity::Critical,
            problem: Some("unhealthy: dial tcp queue:5672: connection refused".into()),
            app: Some("worker".into()),
            service: Some("worker".into()),
            config_hash: None,
            findings: Vec::new(),
            published: Vec::new(),
        }
    }

    fn details() -> ContainerInspectResponse {
        serde_json::from_value(serde_json::json!({
            "Id": "45a5644a6567aaaa",
            "Name": "/worker",
            "Image": "sha256:abc",
            "Config": {
                "Image": "fleetdeck-lab/app:1.0",
                "Cmd": ["sh", "-c", "run"],
                "Env": [
                    format!("DATABASE_PASSWORD={SECRET}"),
                    format!("QUEUE_URL={PLAIN}"),
                    format!("UPSTREAM={DECLARED}"),
                ],
                "Labels": {
                    "fleetdeck.secret-env": "UPSTREAM",
                    "note": format!("uses {SECRET}"),
                },
            },
            "State": {"Status": "running", "Running": true},
        }))
        .expect("inspect data")
    }

    fn host() -> HostState {
        let mut host = HostState::new(
            "client-alpha",
            vec!["prod".into()],
            Expectations {
                firewall: true,
                ..Expectations::default()
            },
        );
        host.reachable = Some(true);
        host.last_contact = Some(AT);
        let mut quiet = worker();
        quiet.name = "web".into();
        quiet.health = Some("healthy".into());
        quiet.health_output = None;
        quiet.severity = Severity::Ok;
        quiet.problem = None;
        host.containers
            .set(vec![worker(), quiet], AT - time::Duration::seconds(40));
        host.firewall.set(
            FirewallReport {
                backend: None,
                severity: Severity::Critical,
                drift: vec![Drift {
                    kind: DriftKind::ExtraPort,
                    severity: Severity::Critical,
                    message: "5432/tcp is open from anywhere but not declared".into(),
                    port: Some(5432),
                    port_end: None,
                    proto: None,
                }],
                observed: None,
                unknown: Vec::new(),
                error: None,
            },
            AT - time::Duration::minutes(3),
        );
        host
    }

    fn entry(host: &str, minutes_ago: i64, text: &str) -> TimelineEntry {
        TimelineEntry {
            at: AT - time::Duration::minutes(minutes_ago),
            host: host.into(),
            severity: Severity::Critical,
            kind: TimelineKind::Container,
            text: text.into(),
            key: None,
        }
    }

    fn report() -> Report {
        let host = host();
        let logs = Ok(vec![
            "2027-01-01T09:59:00Z worker: waiting for queue at queue:5672".to_owned(),
            format!("2027-01-01T09:59:30Z connecting as admin:{SECRET} with {DECLARED}"),
            "2027-01-01T09:59:40Z a ``` fence inside a line".to_owned(),
        ]);
        let section = container_section("worker", listed(&host, "worker"), &details(), logs);
        let timeline = Ok(vec![
            entry("client-alpha", 30, "worker: running (unhealthy)"),
            entry("client-alpha", 60 * 7, "older than the window"),
            entry("client-beta", 5, "another host"),
            entry("client-alpha", 50, "worker: running (starting)\u{1b}[31m"),
        ]);
        let actions = Ok(vec![AuditRecord {
            time: "2027-01-01T08:00:00Z".into(),
            id: "a1".into(),
            operator: "ops@laptop".into(),
            host: "client-alpha".into(),
            action: "deploy".into(),
            target: "worker worker (fleetdeck-lab/app:1.0)".into(),
            reason: None,
            result: AuditResult::Ok,
            error: None,
        }]);
        assemble(
            host,
            None,
            Duration::from_secs(6 * 3600),
            vec![section],
            timeline,
            actions,
            AT,
        )
    }

    #[test]
    fn the_markdown_of_a_host_with_an_unhealthy_container() {
        insta::assert_snapshot!("incident_report", markdown(&report()));
    }

    #[test]
    fn no_environment_value_appears_anywhere_and_secrets_are_cut_from_logs() {
        let report = report();
        let md = markdown(&report);
        let json = serde_json::to_string(&json(&report)).expect("json");
        for text in [&md, &json] {
            assert!(!text.contains(SECRET), "{text}");
            assert!(!text.contains(DECLARED), "{text}");
        }
        // A value whose name looks harmless is not in the inspect data either.
        let inspect = &report.containers[0].inspect;
        assert!(
            inspect.iter().all(|(_, v)| !v.contains(PLAIN)),
            "{inspect:?}"
        );
        for name in ["DATABASE_PASSWORD", "QUEUE_URL", "UPSTREAM"] {
            assert!(
                inspect
                    .iter()
                    .any(|(k, v)| k.trim() == name && v == ENV_MASK),
                "{name} in {inspect:?}"
            );
        }
        assert!(md.contains("connecting as admin:*** with ***"), "{md}");
        assert!(md.contains("login with *** refused"), "{md}");
    }

    #[test]
    fn the_timeline_keeps_this_host_and_window_and_says_when_there_is_none() {
        let report = report();
        let kept: Vec<&str> = report
            .timeline
            .as_ref()
            .expect("a timeline")
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(
            kept,
            ["worker: running (starting)", "worker: running (unhealthy)"]
        );
        let none = assemble(
            host(),
            None,
            Duration::from_secs(3600),
            Vec::new(),
            Err("no history recorded".into()),
            Ok(Vec::new()),
            AT,
        );
        assert!(markdown(&none).contains("No history available: no history recorded"));
        let value = serde_json::to_value(json(&none)).expect("json");
        assert_eq!(value["timeline"], serde_json::Value::Null);
        assert_eq!(value["timeline_error"], "no history recorded");
    }

    #[test]
    fn problem_containers_are_detailed_unless_one_is_asked_for() {
        assert_eq!(report_containers(&host(), None), ["worker"]);
        assert_eq!(report_containers(&host(), Some("web")), ["web"]);
    }

    #[test]
    fn a_report_never_overwrites_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let report = report();
        let (md1, json1) = write(&report, dir.path()).expect("first");
        let (md2, json2) = write(&report, dir.path()).expect("second");
        assert_ne!(md1, md2);
        assert_ne!(json1, json2);
        assert!(
            md2.to_string_lossy().ends_with("-2.md"),
            "{}",
            md2.display()
        );
        for path in [&md1, &json1, &md2, &json2] {
            let mode = std::fs::metadata(path)
                .expect("written")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        }
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json1).expect("read")).expect("JSON");
        assert_eq!(json["host"], "client-alpha");
        assert_eq!(json["containers"][0]["name"], "worker");
    }

    #[test]
    fn the_latest_action_per_id_is_kept_for_the_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("audit.log"));
        let line = |id: &str, host: &str, result| AuditRecord {
            time: "2027-01-01T08:00:00Z".into(),
            id: id.into(),
            operator: "ops@laptop".into(),
            host: host.into(),
            action: "deploy".into(),
            target: "web".into(),
            reason: None,
            result,
            error: None,
        };
        for record in [
            line("a", "client-alpha", AuditResult::Intent),
            line("b", "client-beta", AuditResult::Intent),
            line("a", "client-alpha", AuditResult::Failed),
            line("c", "client-alpha", AuditResult::Intent),
        ] {
            log.append(&record).expect("append");
        }
        let actions = latest_actions(log.path(), "client-alpha").expect("read");
        let seen: Vec<(&str, AuditResult)> =
            actions.iter().map(|a| (a.id.as_str(), a.result)).collect();
        assert_eq!(
            seen,
            [("a", AuditResult::Failed), ("c", AuditResult::Intent)]
        );
        assert_eq!(
            latest_actions(&dir.path().join("missing.log"), "client-alpha"),
            Ok(Vec::new())
        );
    }
}
