//! Step 3: the snapshot restored into the drill's own, marked scratch directory; the
//! restore's duration is the RTO.

use std::time::Instant;

use super::{Drill, MARKER, QUICK, StepResult, overlap, tool, tool_name};
use crate::probes::drill::report::{Outcome, Step};
use crate::util::shell::quote;

impl Drill {
    /// Step 3: restores the snapshot into the drill's own scratch directory; the
    /// restore's duration is the RTO.
    pub async fn restore(&mut self) -> StepResult<()> {
        self.begin(Step::Restore, "restoring");
        match self.restore_inner().await {
            Ok(detail) => {
                self.end(Step::Restore, Outcome::Passed, detail);
                Ok(())
            }
            Err(e) => Err(self.fail(Step::Restore, e)),
        }
    }

    async fn restore_inner(&mut self) -> StepResult<String> {
        let Some(snap) = self.chosen.clone() else {
            return Err("no snapshot chosen".into());
        };
        if self.lock.is_none() {
            return Err("the preflight did not pass".into());
        }
        let target = self.target_dir();
        // Checked once more on the exact directory about to be made.
        overlap::check(&target, &self.plan.live)?;
        let restore_dir = self.restore_dir();
        let make = format!(
            "umask 077; mkdir -p -- {s} && mkdir -- {t} && printf '%s\\n' {h} > {t}/{MARKER} && mkdir -- {r}",
            s = quote(&self.plan.spec.scratch_dir),
            t = quote(&target),
            h = quote(&self.plan.host),
            r = quote(&restore_dir),
        );
        self.target = Some(target.clone());
        self.report.target = Some(target.clone());
        let out = self.sh(&make, QUICK).await?;
        if !out.success() {
            return Err(format!("making {target}: {}", out.complaint()));
        }
        let repo = self.plan.repo.clone();
        let started = Instant::now();
        let out = self
            .sh(&tool::restore(&repo, &snap, &restore_dir), self.long())
            .await
            .map_err(|e| format!("restoring {}: {e}", snap.id))?;
        let took = started.elapsed().as_secs_f64();
        if !out.success() {
            return Err(format!(
                "restoring snapshot {}: {}",
                snap.id,
                tool::complaint(tool_name(repo.kind), &out)
            ));
        }
        self.report.rto_seconds = Some(took);
        Ok(format!(
            "snapshot {} restored into {restore_dir} in {took:.1} s",
            snap.id
        ))
    }
}
