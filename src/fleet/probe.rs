//! Running the probes over a host's session: the commands from `probes/`, executed on
//! exec channels with their limits, their output handed to the pure parsers.

use std::time::Duration;

use time::OffsetDateTime;

use crate::probes::backup::{self, BackupRepo, BackupReport, BackupState};
use crate::probes::cert::{self, CertEndpoint, CertReport, CertVia};
use crate::probes::firewall::{self, DeclaredPolicy, FirewallReport};
use crate::probes::host::{self, HostReport, RoundMemo};
use crate::probes::maintenance::{self, Maintenance};
use crate::probes::posture::PosturePolicy;
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

/// How often Docker's disk use is read again. The engine computes `/system/df` by
/// walking every volume and container layer, which on a host with large volumes is
/// seconds of disk reads; the filesystems' own use, read every round, is what warns
/// of a filling disk.
pub const DOCKER_DISK_INTERVAL: Duration = Duration::from_secs(600);

/// One host round: the round's script on one exec channel and, when due, the
/// engine's `/system/df` beside it. `memo` carries what the last round of this host
/// left (the costly parts' answers, Docker's disk use); nothing when the link went
/// away.
pub async fn host_round(
    session: &Session,
    docker_socket: &str,
    policy: &PosturePolicy,
    memo: &mut RoundMemo,
) -> Probed<HostReport> {
    let started = OffsetDateTime::now_utc();
    let limits = ExecLimits {
        timeout: host::ROUND_TIMEOUT,
        max_output: host::MAX_OUTPUT_BYTES,
    };
    let command = host::command(memo, started);
    let docker_disk_due = memo
        .docker_disk
        .as_ref()
        .is_none_or(|(_, at)| started - *at >= DOCKER_DISK_INTERVAL);
    let docker_disk = async {
        if !docker_disk_due {
            return None;
        }
        let answer = crate::docker::transport::get_raw(
            session.docker_socket(docker_socket),
            "/system/df",
            host::ROUND_TIMEOUT,
            host::MAX_SYSTEM_DF_BYTES,
        )
        .await
        .map_err(|e| e.to_string())
        .and_then(|json| host::docker_disk_use(&json));
        Some(answer)
    };
    let (result, docker_disk) = tokio::join!(session.exec(&command, &limits), docker_disk);
    if let Err(error) = &result
        && link_lost(session, error).await
    {
        return Probed::LinkLost;
    }
    let mut report = match result {
        Ok(output) => host::report(
            policy,
            exit_code(&output),
            &output.stdout.bytes,
            &output.stderr.bytes,
            OffsetDateTime::now_utc(),
            memo,
        ),
        Err(ExecError::Timeout { after, .. }) => HostReport::failed(format!(
            "the host round did not finish within {}s",
            after.as_secs()
        )),
        Err(error) => HostReport::failed(sanitize::line(&error.to_string())),
    };
    match docker_disk {
        Some(Ok(usage)) => memo.docker_disk = Some((usage, started)),
        Some(Err(error)) => {
            tracing::debug!(host = %session.label(), error = %sanitize::line(&error), "Docker disk use not read");
            memo.docker_disk = None;
        }
        None => {}
    }
    if report.resources.error.is_none() {
        report.resources.docker_disk = memo.docker_disk.as_ref().map(|(usage, _)| usage.clone());
    }
    Probed::Measured(report)
}

/// The host's maintenance window, read from `<state_dir>/maintenance.json`:
/// `Ok(None)` without a file, an error naming the file when it cannot be read, is
/// garbled or too large; nothing when the link went away under the read.
pub async fn maintenance(
    session: &Session,
    state_dir: &str,
) -> Probed<Result<Option<Maintenance>, String>> {
    let limits = ExecLimits {
        timeout: maintenance::COMMAND_TIMEOUT,
        max_output: maintenance::MAX_FILE_BYTES + 1,
    };
    let result = session
        .exec(&maintenance::command(state_dir), &limits)
        .await;
    if let Err(error) = &result
        && link_lost(session, error).await
    {
        return Probed::LinkLost;
    }
    Probed::Measured(match result {
        Ok(output) => maintenance::read(
            state_dir,
            exit_code(&output),
            &output.stdout.bytes,
            &output.stderr.bytes,
        ),
        Err(error) => Err(sanitize::line(&format!(
            "reading {}: {error}",
            maintenance::path(state_dir)
        ))),
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
