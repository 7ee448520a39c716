//! Step 1: list the repository's snapshots (the newest with their restore size) and
//! choose the one to restore.

use time::OffsetDateTime;

use super::{Drill, SIZED_IN_LISTING, StepResult, tool, tool_name};
use crate::probes::backup::{self as probe, BackupState};
use crate::probes::drill::SnapshotInfo;
use crate::probes::drill::report::{Outcome, Step};

impl Drill {
    /// Step 1a: every snapshot of the repository, newest first; the newest
    /// [`SIZED_IN_LISTING`] with their restore size.
    pub async fn list(&mut self) -> StepResult<&[SnapshotInfo]> {
        self.begin(Step::Choose, "listing snapshots");
        match self.list_inner().await {
            Ok(list) => {
                self.snapshots = list;
                Ok(&self.snapshots)
            }
            Err(e) => Err(self.fail(Step::Choose, e)),
        }
    }

    async fn list_inner(&mut self) -> StepResult<Vec<SnapshotInfo>> {
        let repo = &self.plan.repo;
        let out = self.sh(&tool::list(repo), self.long()).await?;
        // The probe's reader names the failure (wrong password, missing repository, …).
        let status = out.status.and_then(|s| u32::try_from(s).ok());
        let probe = probe::parse(
            repo,
            status,
            out.stdout.as_bytes(),
            out.stderr.as_bytes(),
            OffsetDateTime::now_utc(),
        );
        if !matches!(
            probe.state,
            BackupState::Listed | BackupState::FutureSnapshot | BackupState::NoSnapshots
        ) {
            return Err(format!(
                "repository {} cannot be listed ({}): {}",
                repo.name,
                serde_json::to_value(probe.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                probe.error.unwrap_or_default()
            ));
        }
        let mut list = tool::parse_list(repo.kind, out.stdout.as_bytes())?;
        for snap in list.iter_mut().take(SIZED_IN_LISTING) {
            if let Ok((entries, bytes)) = self.size_of(snap).await {
                snap.entries = Some(entries);
                snap.size_bytes = Some(bytes);
            }
        }
        Ok(list)
    }

    async fn size_of(&self, snap: &SnapshotInfo) -> StepResult<(u64, u64)> {
        let repo = &self.plan.repo;
        let out = self.sh(&tool::size(repo, snap), self.long()).await?;
        if !out.success() {
            return Err(tool::complaint(tool_name(repo.kind), &out));
        }
        tool::parse_size(repo.kind, out.stdout.as_bytes())
    }

    /// Step 1b: the snapshot to restore — `latest` (the newest that holds the root)
    /// or an id / archive name — with its restore size.
    pub async fn choose(&mut self, wanted: &str) -> StepResult<&SnapshotInfo> {
        if self.snapshots.is_empty() {
            self.list().await?;
        }
        let root = self.plan.root.clone();
        let picked = tool::select(&self.snapshots, wanted, root.as_deref()).cloned();
        let mut snap = match picked {
            Ok(s) => s,
            Err(e) => return Err(self.fail(Step::Choose, e)),
        };
        if snap.size_bytes.is_none() {
            match self.size_of(&snap).await {
                Ok((entries, bytes)) => {
                    snap.entries = Some(entries);
                    snap.size_bytes = Some(bytes);
                }
                Err(e) => {
                    return Err(
                        self.fail(Step::Choose, format!("measuring snapshot {}: {e}", snap.id))
                    );
                }
            }
        }
        let detail = format!(
            "snapshot {} of {} ({} bytes in {} entries{})",
            snap.id,
            crate::util::time::rfc3339(snap.time),
            snap.size_bytes.unwrap_or(0),
            snap.entries.unwrap_or(0),
            if snap.paths.is_empty() {
                String::new()
            } else {
                format!(", paths {}", snap.paths.join(", "))
            }
        );
        self.report.snapshot = Some(snap.clone());
        self.report.rpo_seconds = Some((self.started - snap.time).whole_seconds().max(0));
        self.end(Step::Choose, Outcome::Passed, detail);
        Ok(&*self.chosen.insert(snap))
    }
}
