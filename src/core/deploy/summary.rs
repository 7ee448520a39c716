//! A deploy's or rollback's outcome as people read it: one line per host, then what
//! changed, what failed and why. The command line prints these lines; the console's
//! wizard shows them.

use super::apply::{HostOutcome, HostResult, ServiceResult};
use crate::sanitize;

/// The summary as people read it: one line per host, then what failed and why.
pub fn summary_lines(outcomes: &[HostOutcome]) -> Vec<String> {
    let mut lines = Vec::new();
    for o in outcomes {
        let result = match o.result {
            HostResult::Unchanged => "unchanged",
            HostResult::Deployed => "deployed",
            HostResult::RolledBack => "ROLLED BACK",
            HostResult::Failed => "FAILED",
            HostResult::Locked => "LOCKED",
            HostResult::Unreachable => "UNREACHABLE",
            HostResult::Refused => "REFUSED",
            HostResult::Interrupted => "INTERRUPTED",
        };
        let changed = o
            .services
            .iter()
            .filter(|s| !matches!(s.result, ServiceResult::Unchanged))
            .count();
        lines.push(sanitize::line(&format!(
            "{:<20} {result:<12} {changed} service(s), {:.1} s",
            o.name, o.duration_seconds
        )));
        if let Some(interrupted) = &o.interrupted {
            lines.push(sanitize::line(&format!(
                "  an earlier run was interrupted: {}",
                interrupted.holder.as_deref().unwrap_or("holder unknown")
            )));
            for step in interrupted.steps.iter().rev().take(5).rev() {
                lines.push(format!("    {step}"));
            }
            for note in &interrupted.resumed {
                lines.push(sanitize::line(&format!("  resumed: {note}")));
            }
        }
        for s in &o.services {
            if matches!(s.result, ServiceResult::Unchanged | ServiceResult::Skipped) {
                continue;
            }
            let result = match s.result {
                ServiceResult::Deployed => "deployed",
                ServiceResult::Started => "started",
                ServiceResult::RolledBack => "rolled back",
                ServiceResult::Failed => "failed",
                _ => "",
            };
            let from = s
                .from_image
                .as_deref()
                .map(|f| format!("{f} -> "))
                .unwrap_or_default();
            let mut line = format!("  {} {result}: {from}{}", s.container, s.to_image);
            if let Some(gate) = s.gate_seconds {
                line.push_str(&format!(" (healthy after {gate:.1} s)"));
            }
            lines.push(sanitize::line(&line));
            if let Some(e) = &s.error {
                lines.push(sanitize::line(&format!("    {e}")));
            }
            for log in &s.logs {
                lines.push(format!("    | {}", sanitize::line(log)));
            }
        }
        if let Some(e) = &o.error
            && o.services
                .iter()
                .all(|s| s.error.as_deref() != Some(e.as_str()))
        {
            lines.push(sanitize::line(&format!("  {e}")));
        }
    }
    lines
}
