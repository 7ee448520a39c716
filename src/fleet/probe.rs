//! Running the probes over a host's session: the commands from `probes/`, executed on
//! exec channels with their limits, their output handed to the pure parsers.

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

/// Every declared repository, measured one after another: backup tools are heavy on
/// the host, and a host with many repositories should not run them all at once.
pub async fn backups(session: &Session, repos: &[BackupRepo]) -> Vec<BackupReport> {
    let mut reports = Vec::with_capacity(repos.len());
    for repo in repos {
        reports.push(one_backup(session, repo).await);
    }
    reports
}

async fn one_backup(session: &Session, repo: &BackupRepo) -> BackupReport {
    let command = match backup::command(repo) {
        Ok(command) => command,
        Err(error) => return BackupReport::failed(repo, BackupState::Failed, error.to_string()),
    };
    let limits = ExecLimits {
        timeout: backup::COMMAND_TIMEOUT,
        max_output: backup::MAX_OUTPUT_BYTES,
    };
    match session.exec(&command, &limits).await {
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
    }
}

pub async fn firewall(session: &Session, declared: &DeclaredPolicy) -> FirewallReport {
    let limits = ExecLimits {
        timeout: firewall::COMMAND_TIMEOUT,
        max_output: firewall::MAX_OUTPUT_BYTES,
    };
    match session.exec(firewall::DETECT_COMMAND, &limits).await {
        Ok(output) => firewall::report(
            declared,
            exit_code(&output),
            &output.stdout.bytes,
            &output.stderr.bytes,
        ),
        Err(ExecError::Timeout { after, .. }) => FirewallReport::timed_out(after),
        Err(error) => FirewallReport::failed(sanitize::line(&error.to_string())),
    }
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
