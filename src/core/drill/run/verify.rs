//! Step 4: the repository's data check, the restored size against the snapshot, and
//! the app's declared content checks (files, manifest, container). Every check runs.

use super::{Drill, QUICK, StepResult, tool, tool_name};
use crate::probes::backup::BackupKind;
use crate::probes::drill::report::{Outcome, SizeComparison, Step};
use crate::sanitize;
use crate::util::shell::quote;

impl Drill {
    /// Step 4: the repository's data checked by its tool; the restored files counted
    /// against the snapshot; the app's content checks. Every check runs and is
    /// reported; any failure fails the drill.
    pub async fn verify(&mut self) -> StepResult<()> {
        self.begin(Step::Verify, "verifying");
        let Some(snap) = self.chosen.clone() else {
            return Err(self.fail(Step::Verify, "no snapshot chosen".into()));
        };
        if self.report.rto_seconds.is_none() {
            return Err(self.fail(Step::Verify, "nothing was restored".into()));
        }
        let mut failures: Vec<String> = Vec::new();
        let repo = self.plan.repo.clone();

        // The repository's own data check.
        let subset = self.plan.spec.read_data_subset.clone();
        match self
            .sh(&tool::verify(&repo, &snap, &subset), self.long())
            .await
        {
            Ok(out) if out.success() => self.check(
                Step::Verify,
                "integrity",
                Outcome::Passed,
                match repo.kind {
                    BackupKind::Restic => {
                        format!("`restic check --read-data-subset={subset}` found no errors")
                    }
                    BackupKind::Borg => {
                        format!("`borg check --verify-data` of {} found no errors", snap.id)
                    }
                },
            ),
            Ok(out) => {
                let e = tool::complaint(&format!("{} check", tool_name(repo.kind)), &out);
                self.check(Step::Verify, "integrity", Outcome::Failed, e.clone());
                failures.push(e);
            }
            Err(e) => {
                self.check(Step::Verify, "integrity", Outcome::Failed, e.clone());
                failures.push(e);
            }
        }

        // Restored entries and bytes against the snapshot.
        let restore_dir = self.restore_dir();
        let expected = snap.entries.zip(snap.size_bytes);
        let counted = self
            .sh(&tool::count_restored(repo.kind, &restore_dir), QUICK)
            .await
            .and_then(|out| {
                tool::parse_counts(&out.stdout)
                    .ok_or_else(|| format!("counting restored files: {}", out.complaint()))
            });
        match (expected, counted) {
            (Some(expected), Ok(restored)) => {
                let cmp = SizeComparison::of(expected, restored);
                self.report.size = Some(cmp);
                if cmp.matches {
                    self.check(Step::Verify, "size", Outcome::Passed, cmp.describe());
                } else {
                    let e = format!(
                        "restored size differs from the snapshot: {}",
                        cmp.describe()
                    );
                    self.check(Step::Verify, "size", Outcome::Failed, e.clone());
                    failures.push(e);
                }
            }
            (None, _) => {
                let e = "the snapshot's size is unknown".to_owned();
                self.check(Step::Verify, "size", Outcome::Failed, e.clone());
                failures.push(e);
            }
            (_, Err(e)) => {
                self.check(Step::Verify, "size", Outcome::Failed, e.clone());
                failures.push(e);
            }
        }

        // The app's content checks, in the restored copy of the root.
        let root = self.restored_root();
        let checks = self.plan.spec.checks.clone();
        if !checks.files.is_empty() {
            let mut script = format!("cd -- {} || exit 3; for f in", quote(&root));
            for f in &checks.files {
                script.push(' ');
                script.push_str(&quote(f));
            }
            script.push_str("; do [ -e \"$f\" ] || printf '%s\\n' \"$f\"; done; exit 0");
            match self.sh(&script, QUICK).await {
                Ok(out) if out.success() && out.stdout.trim().is_empty() => self.check(
                    Step::Verify,
                    "files",
                    Outcome::Passed,
                    format!("all {} expected file(s) present", checks.files.len()),
                ),
                Ok(out) if out.success() => {
                    let missing: Vec<String> = out.stdout.lines().map(sanitize::line).collect();
                    let e = format!("missing from the restore: {}", missing.join(", "));
                    self.check(Step::Verify, "files", Outcome::Failed, e.clone());
                    failures.push(e);
                }
                Ok(out) => {
                    let e = format!("the restored root {root} is missing: {}", out.complaint());
                    self.check(Step::Verify, "files", Outcome::Failed, e.clone());
                    failures.push(e);
                }
                Err(e) => {
                    self.check(Step::Verify, "files", Outcome::Failed, e.clone());
                    failures.push(e);
                }
            }
        }
        if let Some(manifest) = &checks.manifest {
            let m = quote(manifest);
            let script = format!(
                "cd -- {} || exit 3; [ -f {m} ] || {{ echo 'the manifest is not in the restore' >&2; exit 4; }}; \
                 n=$(grep -c . {m}); sha256sum -c --quiet --strict -- {m} 2>&1 && echo \"$n\"",
                quote(&root)
            );
            match self.sh(&script, self.long()).await {
                Ok(out) if out.success() => self.check(
                    Step::Verify,
                    "manifest",
                    Outcome::Passed,
                    format!(
                        "{} file(s) match {manifest} (sha256sum -c)",
                        out.stdout.trim()
                    ),
                ),
                Ok(out) => {
                    let e = format!("{manifest}: {}", tool::complaint("sha256sum -c", &out));
                    self.check(Step::Verify, "manifest", Outcome::Failed, e.clone());
                    failures.push(e);
                }
                Err(e) => {
                    self.check(Step::Verify, "manifest", Outcome::Failed, e.clone());
                    failures.push(e);
                }
            }
        }
        if let Some(container) = &checks.container {
            match self.container_check(container, &root).await {
                Ok(detail) => self.check(Step::Verify, "container", Outcome::Passed, detail),
                Err(e) => {
                    self.check(Step::Verify, "container", Outcome::Failed, e.clone());
                    failures.push(e);
                }
            }
        }

        let total = self
            .report
            .checks
            .iter()
            .filter(|c| c.step == Step::Verify)
            .count();
        if failures.is_empty() {
            self.end(
                Step::Verify,
                Outcome::Passed,
                format!("{total} check(s) passed"),
            );
            Ok(())
        } else {
            let first = failures.remove(0);
            let more = if failures.is_empty() {
                String::new()
            } else {
                format!(" (and {} more failed check(s))", failures.len())
            };
            Err(self.fail(Step::Verify, format!("{first}{more}")))
        }
    }
}
