//! The console's incident report: written for a host (or one of its containers) off
//! the render path, from the state the console already holds and the host's link, its
//! paths (or why it could not be written) sent back as a notice for the status line.

use std::future::Future;
use std::time::Duration;

use bollard::Docker;
use tokio::sync::mpsc;

use super::app::Msg;
use crate::fleet::model::HostState;
use crate::fleet::report::{self, Request};
use crate::fleet::report_file;
use crate::fleet::timeline::TimelineEntry;

/// How far back a report's timeline goes from the console.
pub const SINCE: Duration = Duration::from_secs(6 * 3600);
/// How long reading the containers may take.
const DEADLINE: Duration = Duration::from_secs(60);

/// Gathers and writes the report in a task of its own; `docker` is the host's engine
/// over its link (or why there is none), `timeline` the host's entries the console has,
/// `dir` where it goes ([`report_file::default_dir`]).
pub fn spawn<D>(
    host: HostState,
    container: Option<String>,
    timeline: Result<Vec<TimelineEntry>, String>,
    docker: D,
    dir: std::path::PathBuf,
    out: mpsc::Sender<Msg>,
) where
    D: Future<Output = Result<Docker, String>> + Send + 'static,
{
    tokio::spawn(async move {
        let request = Request {
            container,
            since: SINCE,
            timeline,
            audit_log: crate::audit::AuditLog::default_path(),
            deadline: DEADLINE,
        };
        let report = report::gather_live(docker.await, host, request).await;
        let name = report.host.name.clone();
        let written = tokio::task::spawn_blocking(move || report_file::write(&report, &dir)).await;
        let notice = match written {
            Ok(Ok((markdown, _json))) => format!("report for {name}: {}", markdown.display()),
            Ok(Err(error)) => format!("report for {name} not written: {error}"),
            Err(error) => format!("report for {name} not written: {error}"),
        };
        let _ = out.send(Msg::Notice(crate::sanitize::line(&notice))).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::model::Expectations;

    #[tokio::test]
    async fn a_report_of_a_host_that_is_down_is_written_and_its_path_noted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut host = HostState::new("web1", Vec::new(), Expectations::default());
        host.reachable = Some(false);
        host.error = Some("connection refused".to_owned());
        let (tx, mut rx) = mpsc::channel(1);
        spawn(
            host,
            Some("db".to_owned()),
            Err("no history".to_owned()),
            async { Err("not connected".to_owned()) },
            dir.path().to_owned(),
            tx,
        );
        let Some(Msg::Notice(notice)) = rx.recv().await else {
            panic!("a notice");
        };
        let path = notice
            .strip_prefix("report for web1: ")
            .unwrap_or_else(|| panic!("{notice}"));
        assert!(
            path.starts_with(dir.path().to_str().expect("utf-8")),
            "{notice}"
        );
        let text = std::fs::read_to_string(path).expect("written");
        assert!(
            text.contains("**The host did not answer** (connection refused)"),
            "{text}"
        );
        assert!(text.contains("## Container db"), "{text}");
        assert!(
            text.contains("Not read: host unreachable: not connected"),
            "{text}"
        );
        assert!(text.contains("No history available: no history"), "{text}");
    }
}
