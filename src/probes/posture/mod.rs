//! Security posture: what a host and its containers are allowed to do, as findings.
//! A finding has a severity, a one-line reason and how to fix it. Host findings come
//! from the host round (`probes::host`); container findings from the inspect data the
//! container watcher already has. The inventory's `fleetdeck_posture` accepts
//! exceptions (shown with their reason, not counted) and sets disk thresholds.

pub mod containers;

use std::collections::BTreeMap;

use serde::Serialize;

use super::Severity;

/// One thing found on a host or in one of its containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check's stable id (docs/status.md lists them), e.g. `docker_socket`.
    pub check: String,
    /// The container it is about; absent for the host itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The filesystem it is about (disk and inode findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
    pub severity: Severity,
    /// One line: what was found. Sanitized; never a secret's value.
    pub reason: String,
    /// One line: how to fix it.
    pub fix: String,
    /// The reason `fleetdeck_posture` gives when this is an accepted exception: the
    /// finding is shown with it and does not count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
}

impl Finding {
    pub fn new(
        check: &str,
        container: Option<&str>,
        severity: Severity,
        reason: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            check: check.to_owned(),
            container: container.map(str::to_owned),
            mount: None,
            severity,
            reason: reason.into(),
            fix: fix.into(),
            accepted: None,
        }
    }

    /// The same finding, about the filesystem mounted at `mount`.
    pub fn on_mount(mut self, mount: &str) -> Finding {
        self.mount = Some(mount.to_owned());
        self
    }

    /// Whether the finding raises its signal's severity: accepted exceptions do not,
    /// and neither does a question the host could not answer (`unknown`: a missing
    /// tool is not an incident; the probe failing as a whole is a signal error).
    pub fn counts(&self) -> bool {
        self.accepted.is_none() && self.severity != Severity::Unknown
    }
}

/// A signal's severity from its findings ([`Finding::counts`]).
pub fn severity_of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Severity {
    Severity::worst(
        findings
            .into_iter()
            .filter(|f| f.counts())
            .map(|f| f.severity),
    )
}

/// The posture signal of one host, as `status --json` shows it under `posture`: the
/// host's own findings and its containers', exceptions applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostureReport {
    pub severity: Severity,
    pub findings: Vec<Finding>,
}

impl PostureReport {
    pub fn new(mut findings: Vec<Finding>, policy: &PosturePolicy) -> PostureReport {
        policy.apply(&mut findings);
        PostureReport {
            severity: severity_of(&findings),
            findings,
        }
    }
}

/// Warning and critical thresholds, in percent used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DiskThresholds {
    pub warning: u8,
    pub critical: u8,
}

impl Default for DiskThresholds {
    fn default() -> Self {
        DiskThresholds {
            warning: 80,
            critical: 90,
        }
    }
}

/// An exception the inventory accepts, e.g. a socket proxy that must mount
/// `docker.sock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptedException {
    /// The container's name as Docker shows it.
    pub container: String,
    /// The check id accepted for it.
    pub check: String,
    pub reason: String,
}

/// `fleetdeck_posture`, per host (or group): thresholds and accepted exceptions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PosturePolicy {
    /// Disk (and inode) thresholds for every filesystem without its own.
    pub disk: DiskThresholds,
    /// Per mount point.
    pub mounts: BTreeMap<String, DiskThresholds>,
    pub accept: Vec<AcceptedException>,
}

impl PosturePolicy {
    /// The thresholds for the filesystem mounted at `mount`.
    pub fn disk_for(&self, mount: &str) -> DiskThresholds {
        self.mounts.get(mount).copied().unwrap_or(self.disk)
    }

    /// Marks the findings the policy accepts.
    pub fn apply(&self, findings: &mut [Finding]) {
        for finding in findings {
            finding.accepted = self.accepted(finding).map(str::to_owned);
        }
    }

    /// The reason the policy gives for accepting `finding`, if it does.
    pub fn accepted(&self, finding: &Finding) -> Option<&str> {
        self.accept
            .iter()
            .find(|a| {
                a.check == finding.check
                    && finding.container.as_deref() == Some(a.container.as_str())
            })
            .map(|a| a.reason.as_str())
    }

    /// The severity of `findings` once the policy's exceptions are applied, without
    /// copying them ([`PostureReport::new`] keeps them).
    pub fn severity_of<'a>(&self, findings: impl IntoIterator<Item = &'a Finding>) -> Severity {
        Severity::worst(
            findings
                .into_iter()
                .filter(|f| f.counts() && self.accepted(f).is_none())
                .map(|f| f.severity),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_and_unknown_findings_do_not_raise_the_severity() {
        let policy = PosturePolicy {
            accept: vec![AcceptedException {
                container: "socket-proxy".into(),
                check: "docker_socket".into(),
                reason: "the proxy filters the API".into(),
            }],
            ..PosturePolicy::default()
        };
        let socket = |container: &str| {
            Finding::new(
                "docker_socket",
                Some(container),
                Severity::Critical,
                "mounts /var/run/docker.sock",
                "mount a filtering socket proxy instead",
            )
        };
        let fail2ban = Finding::new(
            "fail2ban",
            None,
            Severity::Unknown,
            "fail2ban is not installed",
            "install fail2ban with an sshd jail",
        );
        let findings = vec![socket("socket-proxy"), fail2ban.clone()];
        assert_eq!(policy.severity_of(&findings), Severity::Ok);
        let report = PostureReport::new(findings, &policy);
        assert_eq!(report.severity, Severity::Ok);
        assert_eq!(
            report.findings[0].accepted.as_deref(),
            Some("the proxy filters the API")
        );
        let findings = vec![socket("web"), fail2ban];
        assert_eq!(policy.severity_of(&findings), Severity::Critical);
        let report = PostureReport::new(findings, &policy);
        assert_eq!(report.severity, Severity::Critical);
        assert_eq!(report.findings[0].accepted, None);
    }

    #[test]
    fn a_mount_without_thresholds_of_its_own_takes_the_host_defaults() {
        let mut policy = PosturePolicy::default();
        let srv = DiskThresholds {
            warning: 90,
            critical: 95,
        };
        policy.mounts.insert("/srv".into(), srv);
        assert_eq!(policy.disk_for("/srv"), srv);
        assert_eq!(policy.disk_for("/"), DiskThresholds::default());
    }
}
