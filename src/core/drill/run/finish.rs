//! The drill's end: measure RTO and RPO, remove the scratch data, and — whatever
//! happened before — release the lock, write the audit result and save the report.

use time::OffsetDateTime;

use super::{Drill, StepResult, overlap};
use crate::audit::AuditResult;
use crate::probes::drill::report::{CheckRecord, CleanupRecord, Outcome, Step, StepRecord};
use crate::probes::drill::{DrillReport, DrillResult, History};
use crate::sanitize;
use crate::util::shell::quote;

/// Stops every process still working in the scratch directory `$t` before it is
/// removed: a restore cut short by an interrupt keeps running on the host after its
/// channel closes (restic named by its `--target`, borg by its working directory) and
/// would write the directory back after `rm -rf`. TERM, up to 10 s to exit, then
/// KILL. The shell running this (`$$`) and the login shell above it name `$t` too:
/// they and every ancestor are spared.
const STOP_WRITERS: &str = r#"spare=" $$ " a=$$
while [ "${a:-0}" -gt 1 ]; do
  a=$(awk '{ print $4 }' "/proc/$a/stat" 2>/dev/null)
  spare="$spare$a "
done
writers=
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  case "$spare" in *" $pid "*) continue ;; esac
  case "$(readlink "$p/cwd" 2>/dev/null)" in
    "$t"|"$t"/*) writers="$writers $pid"; continue ;;
  esac
  if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF -- "$t"; then writers="$writers $pid"; fi
done
if [ -n "$writers" ]; then
  kill $writers 2>/dev/null
  i=0
  while [ $i -lt 50 ]; do
    alive=
    for pid in $writers; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.2; i=$((i + 1))
  done
  kill -9 $writers 2>/dev/null
fi
"#;

impl Drill {
    /// Step 5: RTO (the restore's duration) and RPO (the snapshot's age when the
    /// drill started).
    pub fn measure(&mut self) {
        self.begin(Step::Measure, "measuring");
        let rpo = self.report.rpo_seconds;
        let detail = format!(
            "RTO {}, RPO {}",
            self.report
                .rto_seconds
                .map_or_else(|| "not measured".to_owned(), |s| format!("{s:.1} s")),
            rpo.map_or_else(|| "not measured".to_owned(), |s| format!("{s} s")),
        );
        self.end(Step::Measure, Outcome::Passed, detail);
    }

    /// Step 7: removes the drill's scratch directory (and only it) and checks it is
    /// gone. Safe to call when nothing was written.
    pub async fn cleanup(&mut self) -> StepResult<()> {
        self.begin(Step::Cleanup, "removing the scratch data");
        let Some(target) = self.target.clone() else {
            self.report.cleanup = CleanupRecord {
                removed: true,
                error: None,
            };
            self.end(Step::Cleanup, Outcome::Skipped, "nothing was written");
            return Ok(());
        };
        // Only ever a directory this drill named, inside the scratch directory.
        let inside = matches!(
            overlap::overlap(&target, &self.plan.spec.scratch_dir),
            Some(overlap::Overlap::Inside)
        ) && target.contains(&self.report.id);
        let result = if !inside {
            Err(format!("{target} is not this drill's scratch directory"))
        } else {
            let script = format!(
                "t={t}; {STOP_WRITERS} rm -rf -- \"$t\"; \
                 if [ -e \"$t\" ]; then echo 'still there' >&2; exit 1; fi",
                t = quote(&target)
            );
            match self.sh(&script, self.long()).await {
                Ok(out) if out.success() => Ok(()),
                Ok(out) => Err(format!("removing {target}: {}", out.complaint())),
                Err(e) => Err(format!("removing {target}: {e}")),
            }
        };
        match result {
            Ok(()) => {
                self.report.cleanup = CleanupRecord {
                    removed: true,
                    error: None,
                };
                self.target = None;
                self.end(Step::Cleanup, Outcome::Passed, format!("{target} removed"));
                Ok(())
            }
            Err(e) => {
                self.report.cleanup = CleanupRecord {
                    removed: false,
                    error: Some(sanitize::line(&e)),
                };
                Err(self.fail(Step::Cleanup, e))
            }
        }
    }

    /// Ends the drill whatever happened before: cleans up if that is still owed,
    /// releases the lock, writes the audit result, decides the result and saves the
    /// report (Markdown and JSON) in `history`.
    pub async fn finish(
        mut self,
        history: &History,
    ) -> (
        DrillReport,
        Result<(std::path::PathBuf, std::path::PathBuf), String>,
    ) {
        if self.target.is_some() {
            let _ = self.cleanup().await;
        }
        if let Some(lock) = self.lock.take()
            && let Err(e) = lock.release().await
        {
            tracing::warn!(host = %self.plan.host, "releasing the lock: {e}");
            self.report.checks.push(CheckRecord {
                step: Step::Cleanup,
                name: "lock".into(),
                outcome: Outcome::Failed,
                detail: sanitize::line(&e),
            });
        }
        let passed = self.report.failed_step.is_none()
            && self
                .report
                .steps
                .iter()
                .any(|s| s.step == Step::Verify && s.outcome == Outcome::Passed);
        if passed {
            self.report.result = DrillResult::Passed;
        } else if self.report.result != DrillResult::Refused {
            self.report.result = DrillResult::Failed;
            if self.report.error.is_none() {
                self.report.error = Some("the drill did not complete".into());
            }
        }
        if self.audited {
            let (result, error) = match self.report.result {
                DrillResult::Passed => (AuditResult::Ok, None),
                _ => (AuditResult::Failed, self.report.error.clone()),
            };
            let _ = self.audit(result, error.as_deref()).await;
        }
        self.report.steps.push(StepRecord {
            step: Step::Report,
            outcome: Outcome::Passed,
            seconds: 0.0,
            detail: format!("Markdown and JSON under {}", history.root().display()),
        });
        self.report.finished_at = OffsetDateTime::now_utc();
        let saved = history.save(&self.report);
        (self.report, saved)
    }
}
