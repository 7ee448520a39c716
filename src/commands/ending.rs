//! How a run that changes hosts ends on the command line (deploy, rollback, canary,
//! drill): the exit codes picked from the core's typed outcomes, the summary printed,
//! what is said after a signal.

use serde::Serialize;

use crate::core::Core;
use crate::core::deploy::summary::summary_lines;
use crate::core::deploy::{self, HostOutcome, HostResult};
use crate::core::interrupt::Interrupt;
use crate::inventory::Inventory;
use crate::probes::Severity;
use crate::probes::drill::{DrillReport, DrillResult};
use crate::secrets::{ErrorKind, SecretsError};

/// Exit code when nothing was done: bad input, refused, or not confirmed.
pub const NOTHING_DONE: u8 = 2;

/// The exit code a typed outcome stands for. Outcomes live with what produces them;
/// which number a shell sees is the command line's choice, so it is made here.
pub trait ExitCodeOf {
    fn exit_code(&self) -> u8;
}

/// The monitoring-plugin exit codes (`status`, `watch`): 0 OK, 1 WARNING,
/// 2 CRITICAL, 3 UNKNOWN.
impl ExitCodeOf for Severity {
    fn exit_code(&self) -> u8 {
        match self {
            Severity::Ok => 0,
            Severity::Warning => 1,
            Severity::Critical => 2,
            Severity::Unknown => 3,
        }
    }
}

/// `fleetdeck secrets`: 1 for decryption and integrity failures, 2 for everything else.
impl ExitCodeOf for SecretsError {
    fn exit_code(&self) -> u8 {
        match self.kind() {
            ErrorKind::Crypto => 1,
            ErrorKind::Input => NOTHING_DONE,
        }
    }
}

/// `fleetdeck drill`: 0 passed, 1 failed, 2 refused (nothing done).
impl ExitCodeOf for DrillResult {
    fn exit_code(&self) -> u8 {
        match self {
            DrillResult::Passed => 0,
            DrillResult::Failed => 1,
            DrillResult::Refused => NOTHING_DONE,
        }
    }
}

impl ExitCodeOf for DrillReport {
    fn exit_code(&self) -> u8 {
        self.result.exit_code()
    }
}

/// Prints `message` as fleetdeck's own line on stderr; returns [`NOTHING_DONE`].
pub fn nothing_done(message: &str) -> u8 {
    eprintln!("fleetdeck: {message}");
    NOTHING_DONE
}

/// A deploy's exit code: 0 when every host deployed or was unchanged, else 1.
pub fn deploy_exit_code(outcomes: &[HostOutcome]) -> u8 {
    if outcomes
        .iter()
        .all(|o| matches!(o.result, HostResult::Unchanged | HostResult::Deployed))
    {
        0
    } else {
        1
    }
}

/// A rollback's exit code: 0 when every host rolled back or was unchanged, else 1.
pub fn rollback_exit_code(outcomes: &[HostOutcome]) -> u8 {
    if outcomes
        .iter()
        .all(|o| matches!(o.result, HostResult::RolledBack | HostResult::Unchanged))
    {
        0
    } else {
        1
    }
}

#[derive(Serialize)]
struct SummaryJson<'a> {
    dry_run: bool,
    hosts: &'a [HostOutcome],
}

/// The summary of a deploy or rollback on stdout: the lines people read, or one JSON
/// document with `--json`.
pub fn print_summary(outcomes: &[HostOutcome], json: bool) {
    if json {
        let doc = SummaryJson {
            dry_run: false,
            hosts: outcomes,
        };
        match serde_json::to_string_pretty(&doc) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("fleetdeck: {e}"),
        }
    } else {
        for line in summary_lines(outcomes) {
            println!("{line}");
        }
    }
}

/// Refuses a whole run in read-only mode before any host is contacted: a `refused`
/// audit line for each host `--limit` selects (the target is the apps asked for);
/// the message to print.
pub fn refuse_run(
    core: &Core,
    inventory: &Inventory,
    limit: Option<&str>,
    action: &str,
    apps: &[String],
    reason: Option<&str>,
) -> String {
    let hosts: Vec<String> = crate::fleet::target::targets(inventory, limit)
        .map(|targets| targets.into_iter().map(|t| t.name).collect())
        .unwrap_or_default();
    core.refuse_run(&hosts, action, &deploy::apps_target(apps), reason)
}

/// After a run a signal interrupted: says so and returns 128 + the signal's number;
/// `None` when no signal came.
pub fn interrupted_exit(interrupt: &Interrupt, what: &str) -> Option<u8> {
    let signal = interrupt.requested()?;
    eprintln!(
        "fleetdeck: {what} interrupted by {signal}: the step under way was finished and \
         made safe (see the summary), the lock released"
    );
    Some(signal.exit_code())
}

/// A second signal: stops waiting, says what is left as it is; returns the exit code.
pub fn abandoned_exit(interrupt: &Interrupt, what: &str, next: &str) -> u8 {
    let left = interrupt.left_behind();
    if left.is_empty() {
        eprintln!("fleetdeck: {what} abandoned on a second signal; no host was being changed");
    } else {
        eprintln!("fleetdeck: {what} abandoned on a second signal; left as they are:");
        for line in left {
            eprintln!("fleetdeck:   {line}");
        }
        eprintln!("fleetdeck: {next}");
    }
    interrupt.requested().map_or(130, |s| s.exit_code())
}

pub const DEPLOY_RESUMES: &str = "the next deploy or rollback on such a host reports the \
     interrupted run, takes over its lock and resumes from its journal";
