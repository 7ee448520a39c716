//! A drill's lines in the audit logs: the intent before anything is written on the
//! host, the result when it ends — locally, and in the host's own log.

use time::OffsetDateTime;

use super::{Drill, DrillPlan};
use crate::audit::{AuditRecord, AuditResult};
use crate::core::deploy::lock;

/// A drill's audit `target`: `app-data from REPO snapshot ID`.
pub(super) fn audit_target(plan: &DrillPlan, snapshot: &str) -> String {
    format!("{} from {} snapshot {snapshot}", plan.app, plan.repo.name)
}

impl Drill {
    pub(super) async fn audit(
        &mut self,
        result: AuditResult,
        error: Option<&str>,
    ) -> Result<(), String> {
        let target = audit_target(
            &self.plan,
            self.chosen.as_ref().map_or("-", |s| s.id.as_str()),
        );
        let record = AuditRecord {
            time: crate::util::time::rfc3339(OffsetDateTime::now_utc()),
            id: self.report.id.clone(),
            operator: self.core.operator.clone(),
            host: self.plan.host.clone(),
            action: "drill".into(),
            target,
            reason: None,
            result,
            error: error.map(str::to_owned),
        };
        let local = self.core.audit.append(&record);
        if result == AuditResult::Intent {
            local.map_err(|e| {
                format!(
                    "not attempted: the audit log {} cannot be written ({e})",
                    self.core.audit.path().display()
                )
            })?;
            self.audited = true;
        } else if let Err(e) = local {
            tracing::warn!(host = %self.plan.host, "local audit log: {e}");
        }
        if let Err(e) =
            lock::host_audit(&self.access.shell, &self.plan.settings.state_dir, &record).await
        {
            tracing::warn!(host = %self.plan.host, "host audit log: {e}");
        }
        Ok(())
    }
}
