//! Step 2, before anything is written: the scratch target apart from live data with
//! links resolved, the audit intent, the host's lock, leftovers of interrupted drills,
//! the repository's metadata, and room for the restore.

use super::{Drill, MARKER, QUICK, StepResult, overlap, refuse_read_only, tool, tool_name};
use crate::audit::AuditResult;
use crate::core::deploy::lock::{self, Holder};
use crate::probes::backup::BackupKind;
use crate::probes::drill::DrillResult;
use crate::probes::drill::report::{Outcome, Step};
use crate::util::shell::quote;

/// Room left beyond the restore size: 10 % plus this much.
const FREE_SPACE_MARGIN_BYTES: u64 = 64 * 1024 * 1024;

impl Drill {
    /// Step 2: the scratch target is apart from live data even with links resolved;
    /// the host's lock is free (then held by this drill); the repository opens and
    /// its metadata is consistent; the scratch filesystem has room for the restore.
    pub async fn preflight(&mut self) -> StepResult<()> {
        self.begin(Step::Preflight, "checking the repository, space and lock");
        match self.preflight_inner().await {
            Ok(detail) => {
                self.end(Step::Preflight, Outcome::Passed, detail);
                Ok(())
            }
            Err(e) => Err(self.fail(Step::Preflight, e)),
        }
    }

    async fn preflight_inner(&mut self) -> StepResult<String> {
        let Some(snap) = self.chosen.clone() else {
            return Err("no snapshot chosen".into());
        };
        if let Some(refused) = refuse_read_only(&self.core, &self.plan, &snap.id) {
            self.report.result = DrillResult::Refused;
            return Err(refused);
        }
        // The overlap rule again, on the paths as the host resolves them.
        let scratch = self.plan.spec.scratch_dir.clone();
        let mut script = String::from("for p in");
        script.push(' ');
        script.push_str(&quote(&scratch));
        for (p, _) in &self.plan.live {
            script.push(' ');
            script.push_str(&quote(p));
        }
        script.push_str("; do realpath -m -- \"$p\" || exit 1; done");
        let out = self.sh(&script, QUICK).await?;
        let resolved: Vec<&str> = out.stdout.lines().collect();
        if !out.success() || resolved.len() != self.plan.live.len() + 1 {
            return Err(format!(
                "resolving the scratch and live paths on the host: {}",
                out.complaint()
            ));
        }
        let live: Vec<(String, String)> = self
            .plan
            .live
            .iter()
            .zip(&resolved[1..])
            .map(|((_, what), real)| ((*real).to_owned(), format!("{what} (resolved)")))
            .collect();
        if let Err(e) = overlap::check(resolved[0], &live) {
            self.report.result = DrillResult::Refused;
            self.check(
                Step::Preflight,
                "scratch_target",
                Outcome::Failed,
                e.clone(),
            );
            return Err(e);
        }
        self.check(
            Step::Preflight,
            "scratch_target",
            Outcome::Passed,
            format!(
                "{} is apart from {} live path(s)",
                resolved[0],
                self.plan.live.len()
            ),
        );

        self.audit(AuditResult::Intent, None).await?;

        // The host's lock: no deploy or other drill at the same time.
        let holder = Holder::this_process(
            "drill",
            Some(&format!("restore drill of {}", self.plan.app)),
        );
        match lock::acquire(
            &self.access.shell,
            &self.plan.settings.state_dir,
            holder,
            false,
        )
        .await
        {
            Ok(acquired) => {
                let note = match &acquired.interrupted {
                    Some((Some(h), _)) => format!(
                        " (took over the lock of an interrupted run: {})",
                        h.describe()
                    ),
                    Some((None, _)) => " (took over an interrupted run's lock)".to_owned(),
                    None => String::new(),
                };
                self.lock = Some(acquired.lock);
                self.check(
                    Step::Preflight,
                    "lock",
                    Outcome::Passed,
                    format!("held by this drill{note}"),
                );
            }
            Err(e) => {
                let e = e.to_string();
                self.check(Step::Preflight, "lock", Outcome::Failed, e.clone());
                return Err(e);
            }
        }

        // Leftovers of this host's interrupted drills (marked, so nothing else).
        let host_mark = quote(&self.plan.host);
        let leftovers = format!(
            "for d in {s}/fleetdeck-drill-*; do [ -f \"$d/{MARKER}\" ] || continue; \
             [ \"$(head -n 1 \"$d/{MARKER}\")\" = {host_mark} ] || continue; rm -rf -- \"$d\" && echo \"$d\"; done; exit 0",
            s = quote(resolved[0])
        );
        let out = self.sh(&leftovers, QUICK).await?;
        let removed: Vec<&str> = out.stdout.lines().filter(|l| !l.is_empty()).collect();
        if !removed.is_empty() {
            self.check(
                Step::Preflight,
                "leftovers",
                Outcome::Passed,
                format!(
                    "removed an interrupted drill's scratch data: {}",
                    removed.join(", ")
                ),
            );
        }

        // The repository opens and its metadata is consistent.
        let repo = self.plan.repo.clone();
        let out = self.sh(&tool::metadata(&repo, &snap), self.long()).await?;
        if !out.success() {
            let e = tool::complaint(tool_name(repo.kind), &out);
            self.check(Step::Preflight, "repository", Outcome::Failed, e.clone());
            return Err(format!("repository {}: {e}", repo.name));
        }
        self.check(
            Step::Preflight,
            "repository",
            Outcome::Passed,
            match repo.kind {
                BackupKind::Restic => "config readable, `restic check` (metadata) passed",
                BackupKind::Borg => "`borg check --archives-only` passed",
            },
        );

        // Room on the scratch filesystem.
        let need = snap.size_bytes.unwrap_or(0);
        let need = need
            .saturating_add(need / 10)
            .saturating_add(FREE_SPACE_MARGIN_BYTES);
        let df = format!(
            "d={}; while [ ! -e \"$d\" ]; do d=$(dirname -- \"$d\"); done; df -Pk -- \"$d\" | tail -n 1",
            quote(resolved[0])
        );
        let out = self.sh(&df, QUICK).await?;
        let available = out
            .stdout
            .split_whitespace()
            .nth(3)
            .and_then(|k| k.parse::<u64>().ok())
            .map(|k| k.saturating_mul(1024));
        match available {
            Some(free) if free >= need => self.check(
                Step::Preflight,
                "free_space",
                Outcome::Passed,
                format!("{free} bytes free, {need} needed"),
            ),
            Some(free) => {
                let e = format!(
                    "not enough free space for the restore under {}: {free} bytes free, {need} needed (restore size + 10 % + 64 MiB)",
                    resolved[0]
                );
                self.check(Step::Preflight, "free_space", Outcome::Failed, e.clone());
                return Err(e);
            }
            None => {
                let e = format!("reading free space (df): {}", out.complaint());
                self.check(Step::Preflight, "free_space", Outcome::Failed, e.clone());
                return Err(e);
            }
        }
        Ok(format!(
            "{} ready, lock held, {} bytes to restore",
            repo.name,
            snap.size_bytes.unwrap_or(0)
        ))
    }
}
