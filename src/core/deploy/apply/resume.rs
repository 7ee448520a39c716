//! Resuming after an interrupted run: its journal read for switch-overs whose gate never
//! passed ([`unconfirmed`]), and those services returned to their previous revision.

use crate::core::deploy::lock::JournalEntry;
use crate::core::deploy::plan::{self};
use crate::sanitize;
use crate::stack::labels::{HASH_LABEL, NEXT_SUFFIX, OLDEST_SUFFIX, PREVIOUS_SUFFIX};

use super::host_run::HostRun;

impl HostRun<'_> {
    /// Returns each service the interrupted run (`journal`) switched over without its
    /// gate passing to the revision that ran before it, started: the new revision is
    /// removed, `NAME.prev` becomes `NAME` again and `NAME.old` becomes `NAME.prev`.
    /// Says what it did, one line per service.
    pub(super) async fn resume(&self, journal: &[JournalEntry]) -> Result<Vec<String>, String> {
        let mut notes = Vec::new();
        for u in unconfirmed(journal) {
            let c = plan::container_name(&self.access.prefix, &u.app, &u.service);
            let next = format!("{c}{NEXT_SUFFIX}");
            let prev = format!("{c}{PREVIOUS_SUFFIX}");
            let old = format!("{c}{OLDEST_SUFFIX}");
            let current = self.inspect(&c).await?;
            let had_next = self.exists(&next).await?;
            // The new revision is `NAME` once `NAME.next` has been renamed to it.
            let current_is_new = match (&current, &u.revision) {
                (None, _) => false,
                (Some(info), Some(revision)) => {
                    info.config
                        .as_ref()
                        .and_then(|c| c.labels.as_ref())
                        .and_then(|l| l.get(HASH_LABEL))
                        == Some(revision)
                }
                (Some(_), None) => !had_next,
            };
            let new_image = if current_is_new {
                current
                    .as_ref()
                    .and_then(|i| i.config.as_ref()?.image.clone())
            } else {
                None
            };
            if !u.stopped {
                // The running revision was never touched: the plan removes `.next`.
                continue;
            }
            if !had_next && !current_is_new && current.is_some() {
                // Already back to the previous revision (its revert ran): it must run.
                let running = current
                    .as_ref()
                    .and_then(|i| i.state.as_ref()?.running)
                    .unwrap_or(false);
                if !running {
                    self.step(&u.app, &u.service, "resume", &format!("start {c}"))
                        .await?;
                    self.start(&c).await?;
                    notes.push(sanitize::line(&format!(
                        "{c}: the interrupted run was reverting it: started again"
                    )));
                }
                continue;
            }
            self.step(
                &u.app,
                &u.service,
                "resume",
                &format!("{c}: its health gate never passed; back to the previous revision"),
            )
            .await?;
            self.remove(&next).await?;
            if current_is_new {
                self.remove(&c).await?;
            }
            let mut restored = current.is_some() && !current_is_new;
            if !restored && self.exists(&prev).await? {
                self.rename(&prev, &c).await?;
                if self.exists(&old).await? {
                    self.rename(&old, &prev).await?;
                }
                restored = true;
            }
            let back_to = if restored {
                self.start(&c).await?;
                let image = self
                    .inspect(&c)
                    .await?
                    .and_then(|i| i.config?.image)
                    .unwrap_or_default();
                format!("the previous revision ({image}) runs again")
            } else {
                "it had no previous revision: removed".to_owned()
            };
            notes.push(sanitize::line(&format!(
                "{c}: the interrupted run was switching it over{} and its health gate \
                 never passed: {back_to}",
                new_image.map(|i| format!(" to {i}")).unwrap_or_default()
            )));
        }
        Ok(notes)
    }
}

/// A service an interrupted run had begun to switch over, and never confirmed (its
/// gate did not pass, or the revert after a failed gate did not finish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unconfirmed {
    pub app: String,
    pub service: String,
    /// The configuration hash of the revision that run created (journals written
    /// before it was recorded have none).
    pub revision: Option<String>,
    /// It got as far as stopping the running revision.
    pub stopped: bool,
}

/// Reads an interrupted run's journal: the services it created a new revision for
/// whose gate never passed (a `create` with no `cleanup` after it). A `rollback` that
/// did not finish (its swap under way) is reported too, with no revision.
pub fn unconfirmed(journal: &[JournalEntry]) -> Vec<Unconfirmed> {
    let mut open: Vec<Unconfirmed> = Vec::new();
    for entry in journal.iter().filter(|e| !e.service.is_empty()) {
        let at = open
            .iter()
            .position(|u| u.app == entry.app && u.service == entry.service);
        match (entry.step.as_str(), at) {
            ("create", at) => {
                if let Some(i) = at {
                    open.remove(i);
                }
                open.push(Unconfirmed {
                    app: entry.app.clone(),
                    service: entry.service.clone(),
                    revision: entry.revision.clone(),
                    stopped: false,
                });
            }
            ("stop", Some(i)) => open[i].stopped = true,
            // Passed its gate (the step after a pass), or its revert finished.
            ("cleanup", Some(i)) => {
                open.remove(i);
            }
            _ => {}
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(service: &str, step: &str, revision: Option<&str>) -> JournalEntry {
        JournalEntry {
            time: "2026-11-23T10:00:00Z".into(),
            app: "web".into(),
            service: service.into(),
            step: step.into(),
            detail: String::new(),
            revision: revision.map(str::to_owned),
        }
    }

    #[test]
    fn a_switch_over_without_a_passed_gate_is_unconfirmed() {
        // Killed in the gate: unconfirmed, with the new revision's hash.
        let killed_in_gate = [
            entry("web", "create", Some("abc")),
            entry("web", "stop", None),
            entry("web", "start", None),
            entry("web", "gate", None),
        ];
        assert_eq!(
            unconfirmed(&killed_in_gate),
            vec![Unconfirmed {
                app: "web".into(),
                service: "web".into(),
                revision: Some("abc".into()),
                stopped: true,
            }]
        );
        // Passed (its cleanup journalled): nothing to resume; the next service of
        // the app, created but never stopped for, is unconfirmed but untouched.
        let passed = [
            entry("web", "create", Some("abc")),
            entry("web", "stop", None),
            entry("web", "gate", None),
            entry("web", "cleanup", None),
            entry("db", "create", Some("def")),
            entry("", "cleanup", None),
        ];
        let open = unconfirmed(&passed);
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0].service, "db");
        assert!(!open[0].stopped);
        // A revert that did not finish stays unconfirmed; an older journal has no
        // revision.
        let reverting = [
            entry("web", "create", None),
            entry("web", "stop", None),
            entry("web", "gate", None),
            entry("web", "revert", None),
        ];
        let open = unconfirmed(&reverting);
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].revision, None);
        assert!(unconfirmed(&[]).is_empty());
    }
}
