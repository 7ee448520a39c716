//! Running the probes over a host's session: the commands from `probes/`, executed on
//! exec channels with their limits, their output handed to the pure parsers.

use std::time::Duration;

use time::OffsetDateTime;

use crate::probes::backup::{self, BackupRepo, BackupReport, BackupState};
use crate::probes::cert::{self, CertEndpoint, CertReport, CertVia};
use crate::probes::firewall::{self, DeclaredPolicy, FirewallReport};
use crate::sanitize;
use crate::ssh::session::{ExecError, ExecLimits, ExecOutput, Exit, Session};

fn exit_code(output: &ExecOutput) -> Option<u32> {
    match output.exit {
        Some(Exit::Status(code)) => Some(code),
        _ => None,
    }
}

/// What running a probe over a session came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Probed<T> {
    /// What the host said, good or bad: the new value of the signal.
    Measured(T),
    /// The link went away under the probe (the session closed before or while it
    /// ran): nothing was measured, and the last measurement stands — marked stale
    /// once the link reports the host down.
    LinkLost,
}

/// How long an exec failure waits for the session to report itself closed: a channel
/// that fails because the connection just died is followed at once by the session
/// noticing it.
const LINK_SETTLE: Duration = Duration::from_secs(1);

/// Whether an exec that failed with `error` failed because the link is gone, given
/// whether the session is closed (checked after the failure). A command that timed
/// out on a live session is a measurement (the host is too slow); any failure on a
/// closed session is not.
pub fn failed_with_the_link(error: &ExecError, session_closed: bool) -> bool {
    match error {
        ExecError::Channel(_) | ExecError::Closed { .. } | ExecError::Timeout { .. } => {
            session_closed
        }
    }
}

/// [`failed_with_the_link`] on a live session: a channel or connection error waits a
/// moment for the session to say whether it closed.
async fn link_lost(session: &Session, error: &ExecError) -> bool {
    if !session.is_closed() && !matches!(error, ExecError::Timeout { .. }) {
        let _ = tokio::time::timeout(LINK_SETTLE, session.closed()).await;
    }
    failed_with_the_link(error, session.is_closed())
}

/// Every declared repository, measured one after another: backup tools are heavy on
/// the host, and a host with many repositories should not run them all at once. A
/// round cut short by the link going away measured nothing.
pub async fn backups(session: &Session, repos: &[BackupRepo]) -> Probed<Vec<BackupReport>> {
    let mut reports = Vec::with_capacity(repos.len());
    for repo in repos {
        match one_backup(session, repo).await {
            Probed::Measured(report) => reports.push(report),
            Probed::LinkLost => return Probed::LinkLost,
        }
    }
    Probed::Measured(reports)
}

async fn one_backup(session: &Session, repo: &BackupRepo) -> Probed<BackupReport> {
    let command = match backup::command(repo) {
        Ok(command) => command,
        Err(error) => {
            return Probed::Measured(BackupReport::failed(
                repo,
                BackupState::Failed,
                error.to_string(),
            ));
        }
    };
    let limits = ExecLimits {
        timeout: backup::COMMAND_TIMEOUT,
        max_output: backup::MAX_OUTPUT_BYTES,
    };
    let result = session.exec(&command, &limits).await;
    if let Err(error) = &result
        && link_lost(session, error).await
    {
        return Probed::LinkLost;
    }
    Probed::Measured(match result {
        Ok(output) => backup::parse(
            repo,
            exit_code(&output),
            &output.stdout.bytes,
            &output.stderr.bytes,
            OffsetDateTime::now_utc(),
        ),
        Err(ExecError::Timeout { after, .. }) => BackupReport::timed_out(repo, after),
        Err(error) => BackupReport::failed(
            repo,
            BackupState::Failed,
            sanitize::line(&error.to_string()),
        ),
    })
}

/// The host's rules against the declared policy; nothing when the link went away.
pub async fn firewall(session: &Session, declared: &DeclaredPolicy) -> Probed<FirewallReport> {
    let limits = ExecLimits {
        timeout: firewall::COMMAND_TIMEOUT,
        max_output: firewall::MAX_OUTPUT_BYTES,
    };
    let result = session.exec(firewall::DETECT_COMMAND, &limits).await;
    if let Err(error) = &result
        && link_lost(session, error).await
    {
        return Probed::LinkLost;
    }
    Probed::Measured(match result {
        Ok(output) => firewall::report(
            declared,
            exit_code(&output),
            &output.stdout.bytes,
            &output.stderr.bytes,
        ),
        Err(ExecError::Timeout { after, .. }) => FirewallReport::timed_out(after),
        Err(error) => FirewallReport::failed(sanitize::line(&error.to_string())),
    })
}

/// Endpoints checked from where fleetdeck runs (no session needed).
pub async fn console_certs(endpoints: &[CertEndpoint]) -> Vec<CertReport> {
    let probes = endpoints
        .iter()
        .filter(|e| e.via == CertVia::Console)
        .map(|endpoint| cert::connect_and_probe(endpoint, OffsetDateTime::now_utc()));
    futures_util::future::join_all(probes).await
}

/// Endpoints only reachable from inside the host, through a `direct-tcpip` channel.
pub async fn host_certs(session: &Session, endpoints: &[CertEndpoint]) -> Vec<CertReport> {
    let probes = endpoints
        .iter()
        .filter(|e| e.via == CertVia::Host)
        .map(|endpoint| async move {
            let now = OffsetDateTime::now_utc();
            match session.open_tcp(&endpoint.host, endpoint.port).await {
                Ok(stream) => cert::probe(endpoint, stream, now).await,
                Err(error) => CertReport::unreachable(
                    endpoint,
                    now,
                    format!(
                        "{} could not open {}:{}: {error}",
                        session.label(),
                        endpoint.host,
                        endpoint.port
                    ),
                ),
            }
        });
    futures_util::future::join_all(probes).await
}

/// Host-path endpoints when the host cannot be reached at all.
pub fn unreachable_host_certs(endpoints: &[CertEndpoint], why: &str) -> Vec<CertReport> {
    let now = OffsetDateTime::now_utc();
    endpoints
        .iter()
        .filter(|e| e.via == CertVia::Host)
        .map(|endpoint| CertReport::unreachable(endpoint, now, why.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::session::ExecOutput;

    #[test]
    fn a_failure_on_a_closed_session_is_no_measurement() {
        let channel = ExecError::Channel("opening a session channel: Channel send error".into());
        let closed = ExecError::Closed {
            cause: "connection reset".into(),
            partial: ExecOutput::default(),
        };
        let timeout = ExecError::Timeout {
            after: Duration::from_secs(30),
            partial: ExecOutput::default(),
        };
        for error in [&channel, &closed, &timeout] {
            assert!(failed_with_the_link(error, true), "{error}");
        }
        // On a live session every failure is the host's answer: a refused command, a
        // channel the server closed, a command too slow to finish.
        for error in [&channel, &closed, &timeout] {
            assert!(!failed_with_the_link(error, false), "{error}");
        }
    }
}
