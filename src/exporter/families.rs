//! The metric families of one scrape: names, help texts and types in one place
//! (docs/exporter.md lists them). A fresh set is made per scrape and dropped after it,
//! so the series of containers and hosts that went away go with them.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// A series' labels, in order.
pub(super) type Labels = Vec<(String, String)>;
type Int = Family<Labels, Gauge>;
type Float = Family<Labels, Gauge<f64, AtomicU64>>;

pub(super) struct Families {
    pub registry: Registry,
    pub host_up: Int,
    pub host_severity: Int,
    pub host_last_contact: Int,
    pub host_maintenance: Int,
    pub host_maintenance_end: Int,
    pub host_rtt: Float,
    pub problems: Int,
    pub signal_measured: Int,
    pub signal_failing: Int,
    pub container_running: Int,
    pub container_restarting: Int,
    pub container_unhealthy: Int,
    pub container_restart_count: Int,
    pub container_severity: Int,
    pub container_info: Int,
    pub backup_newest: Int,
    pub backup_snapshots: Int,
    pub backup_severity: Int,
    pub backup_warning_age: Int,
    pub backup_critical_age: Int,
    pub cert_not_after: Int,
    pub cert_verified: Int,
    pub cert_severity: Int,
    pub cert_warning: Int,
    pub cert_critical: Int,
    pub firewall_severity: Int,
    pub firewall_drift: Int,
    pub firewall_not_understood: Int,
    pub fs_used: Float,
    pub fs_inodes_used: Float,
    pub fs_size: Int,
    pub fs_warning: Float,
    pub fs_critical: Float,
    pub reboot_required: Int,
    pub updates_pending: Int,
    pub updates_security: Int,
    pub memory_used: Float,
    pub posture_findings: Int,
    pub posture_accepted: Int,
    pub drill_last_success: Int,
    pub drill_warning_age: Int,
    pub series_dropped: Int,
    pub exporter_hosts: Int,
    pub exporter_build_info: Int,
}

impl Families {
    pub fn new() -> Families {
        let mut registry = Registry::default();
        let host_up = Int::default();
        registry.register("fleetdeck_host_up", "1 when the host answers over SSH, 0 when it does not (absent before the first attempt ends).", host_up.clone());
        let host_severity = Int::default();
        registry.register(
            "fleetdeck_host_severity",
            "The host's severity as status's exit code: 0 ok, 1 warning, 2 critical, 3 unknown.",
            host_severity.clone(),
        );
        let host_last_contact = Int::default();
        registry.register(
            "fleetdeck_host_last_contact_timestamp_seconds",
            "When the host last answered (Unix seconds).",
            host_last_contact.clone(),
        );
        let host_maintenance = Int::default();
        registry.register(
            "fleetdeck_host_maintenance",
            "1 while the host is in a maintenance window.",
            host_maintenance.clone(),
        );
        let host_maintenance_end = Int::default();
        registry.register(
            "fleetdeck_host_maintenance_end_timestamp_seconds",
            "When the open maintenance window ends (Unix seconds).",
            host_maintenance_end.clone(),
        );
        let host_rtt = Float::default();
        registry.register(
            "fleetdeck_host_rtt_seconds",
            "The last round trip of Docker's /_ping over the host's session.",
            host_rtt.clone(),
        );
        let problems = Int::default();
        registry.register(
            "fleetdeck_problems",
            "Problems on the host, by signal and severity (as status lists them).",
            problems.clone(),
        );
        let signal_measured = Int::default();
        registry.register(
            "fleetdeck_signal_measured_timestamp_seconds",
            "When the signal was last measured (Unix seconds).",
            signal_measured.clone(),
        );
        let signal_failing = Int::default();
        registry.register(
            "fleetdeck_signal_failing",
            "1 when the signal's latest measurement failed (the last good value stands).",
            signal_failing.clone(),
        );
        let container_running = Int::default();
        registry.register(
            "fleetdeck_container_running",
            "1 when the container is running.",
            container_running.clone(),
        );
        let container_restarting = Int::default();
        registry.register(
            "fleetdeck_container_restarting",
            "1 when Docker shows the container restarting.",
            container_restarting.clone(),
        );
        let container_unhealthy = Int::default();
        registry.register(
            "fleetdeck_container_unhealthy",
            "1 when the container runs and its health check says unhealthy.",
            container_unhealthy.clone(),
        );
        let container_restart_count = Int::default();
        registry.register(
            "fleetdeck_container_restarts",
            "Docker's restart count of the container.",
            container_restart_count.clone(),
        );
        let container_severity = Int::default();
        registry.register(
            "fleetdeck_container_severity",
            "The container's severity: 0 ok, 1 warning, 2 critical, 3 unknown.",
            container_severity.clone(),
        );
        let container_info = Int::default();
        registry.register(
            "fleetdeck_container_info",
            "Always 1: the container's app, service, image and state as labels.",
            container_info.clone(),
        );
        let backup_newest = Int::default();
        registry.register(
            "fleetdeck_backup_newest_snapshot_timestamp_seconds",
            "When the repository's newest snapshot was taken (Unix seconds).",
            backup_newest.clone(),
        );
        let backup_snapshots = Int::default();
        registry.register(
            "fleetdeck_backup_snapshots",
            "Snapshots (restic) or archives (borg) in the repository.",
            backup_snapshots.clone(),
        );
        let backup_severity = Int::default();
        registry.register(
            "fleetdeck_backup_severity",
            "The repository's severity: 0 ok, 1 warning, 2 critical, 3 unknown.",
            backup_severity.clone(),
        );
        let backup_warning_age = Int::default();
        registry.register(
            "fleetdeck_backup_warning_age_seconds",
            "The declared age past which the newest snapshot is a warning.",
            backup_warning_age.clone(),
        );
        let backup_critical_age = Int::default();
        registry.register(
            "fleetdeck_backup_critical_age_seconds",
            "The declared age past which the newest snapshot is critical.",
            backup_critical_age.clone(),
        );
        let cert_not_after = Int::default();
        registry.register(
            "fleetdeck_certificate_not_after_timestamp_seconds",
            "The endpoint's leaf certificate's notAfter (Unix seconds).",
            cert_not_after.clone(),
        );
        let cert_verified = Int::default();
        registry.register(
            "fleetdeck_certificate_verified",
            "1 when the chain is trusted and the certificate covers the name.",
            cert_verified.clone(),
        );
        let cert_severity = Int::default();
        registry.register(
            "fleetdeck_certificate_severity",
            "The endpoint's severity: 0 ok, 1 warning, 2 critical, 3 unknown.",
            cert_severity.clone(),
        );
        let cert_warning = Int::default();
        registry.register(
            "fleetdeck_certificate_warning_threshold_seconds",
            "Time left under which the certificate is a warning (warning_days).",
            cert_warning.clone(),
        );
        let cert_critical = Int::default();
        registry.register(
            "fleetdeck_certificate_critical_threshold_seconds",
            "Time left under which the certificate is critical (critical_days).",
            cert_critical.clone(),
        );
        let firewall_severity = Int::default();
        registry.register(
            "fleetdeck_firewall_severity",
            "The firewall's severity: 0 ok, 1 warning, 2 critical, 3 unknown.",
            firewall_severity.clone(),
        );
        let firewall_drift = Int::default();
        registry.register(
            "fleetdeck_firewall_drift",
            "Differences between the declared and the observed firewall, by kind and severity.",
            firewall_drift.clone(),
        );
        let firewall_not_understood = Int::default();
        registry.register(
            "fleetdeck_firewall_rules_not_understood",
            "Firewall rules fleetdeck could not interpret (they may open anything).",
            firewall_not_understood.clone(),
        );
        let fs_used = Float::default();
        registry.register(
            "fleetdeck_filesystem_used_ratio",
            "Space used on the filesystem, as df computes it (0 to 1).",
            fs_used.clone(),
        );
        let fs_inodes_used = Float::default();
        registry.register(
            "fleetdeck_filesystem_inodes_used_ratio",
            "Inodes used on the filesystem (0 to 1).",
            fs_inodes_used.clone(),
        );
        let fs_size = Int::default();
        registry.register(
            "fleetdeck_filesystem_size_bytes",
            "The filesystem's size.",
            fs_size.clone(),
        );
        let fs_warning = Float::default();
        registry.register(
            "fleetdeck_filesystem_warning_ratio",
            "The used ratio from which the filesystem is a warning.",
            fs_warning.clone(),
        );
        let fs_critical = Float::default();
        registry.register(
            "fleetdeck_filesystem_critical_ratio",
            "The used ratio from which the filesystem is critical.",
            fs_critical.clone(),
        );
        let reboot_required = Int::default();
        registry.register(
            "fleetdeck_host_reboot_required",
            "1 when the host asks for a reboot.",
            reboot_required.clone(),
        );
        let updates_pending = Int::default();
        registry.register(
            "fleetdeck_host_updates_pending",
            "Package updates pending.",
            updates_pending.clone(),
        );
        let updates_security = Int::default();
        registry.register(
            "fleetdeck_host_security_updates_pending",
            "Security updates pending.",
            updates_security.clone(),
        );
        let memory_used = Float::default();
        registry.register(
            "fleetdeck_host_memory_used_ratio",
            "Memory in use (0 to 1).",
            memory_used.clone(),
        );
        let posture_findings = Int::default();
        registry.register(
            "fleetdeck_posture_findings",
            "Posture findings not accepted by the inventory, by severity.",
            posture_findings.clone(),
        );
        let posture_accepted = Int::default();
        registry.register(
            "fleetdeck_posture_accepted_findings",
            "Posture findings the inventory accepts as exceptions.",
            posture_accepted.clone(),
        );
        let drill_last_success = Int::default();
        registry.register(
            "fleetdeck_drill_last_success_timestamp_seconds",
            "When the app's last restore drill passed (Unix seconds).",
            drill_last_success.clone(),
        );
        let drill_warning_age = Int::default();
        registry.register(
            "fleetdeck_drill_warning_age_seconds",
            "The declared age past which the last passed drill is a warning.",
            drill_warning_age.clone(),
        );
        let series_dropped = Int::default();
        registry.register(
            "fleetdeck_exporter_series_dropped",
            "Items of the host left out of the metrics past the per-host bound, by kind.",
            series_dropped.clone(),
        );
        let exporter_hosts = Int::default();
        registry.register(
            "fleetdeck_exporter_hosts",
            "Hosts this fleetdeck serve follows.",
            exporter_hosts.clone(),
        );
        let exporter_build_info = Int::default();
        registry.register(
            "fleetdeck_exporter_build_info",
            "Always 1: the fleetdeck version as a label.",
            exporter_build_info.clone(),
        );
        Families {
            registry,
            host_up,
            host_severity,
            host_last_contact,
            host_maintenance,
            host_maintenance_end,
            host_rtt,
            problems,
            signal_measured,
            signal_failing,
            container_running,
            container_restarting,
            container_unhealthy,
            container_restart_count,
            container_severity,
            container_info,
            backup_newest,
            backup_snapshots,
            backup_severity,
            backup_warning_age,
            backup_critical_age,
            cert_not_after,
            cert_verified,
            cert_severity,
            cert_warning,
            cert_critical,
            firewall_severity,
            firewall_drift,
            firewall_not_understood,
            fs_used,
            fs_inodes_used,
            fs_size,
            fs_warning,
            fs_critical,
            reboot_required,
            updates_pending,
            updates_security,
            memory_used,
            posture_findings,
            posture_accepted,
            drill_last_success,
            drill_warning_age,
            series_dropped,
            exporter_hosts,
            exporter_build_info,
        }
    }
}

/// Every family's name, for the documentation test.
#[cfg(test)]
pub(super) const NAMES: &[&str] = &[
    "fleetdeck_host_up",
    "fleetdeck_host_severity",
    "fleetdeck_host_last_contact_timestamp_seconds",
    "fleetdeck_host_maintenance",
    "fleetdeck_host_maintenance_end_timestamp_seconds",
    "fleetdeck_host_rtt_seconds",
    "fleetdeck_problems",
    "fleetdeck_signal_measured_timestamp_seconds",
    "fleetdeck_signal_failing",
    "fleetdeck_container_running",
    "fleetdeck_container_restarting",
    "fleetdeck_container_unhealthy",
    "fleetdeck_container_restarts",
    "fleetdeck_container_severity",
    "fleetdeck_container_info",
    "fleetdeck_backup_newest_snapshot_timestamp_seconds",
    "fleetdeck_backup_snapshots",
    "fleetdeck_backup_severity",
    "fleetdeck_backup_warning_age_seconds",
    "fleetdeck_backup_critical_age_seconds",
    "fleetdeck_certificate_not_after_timestamp_seconds",
    "fleetdeck_certificate_verified",
    "fleetdeck_certificate_severity",
    "fleetdeck_certificate_warning_threshold_seconds",
    "fleetdeck_certificate_critical_threshold_seconds",
    "fleetdeck_firewall_severity",
    "fleetdeck_firewall_drift",
    "fleetdeck_firewall_rules_not_understood",
    "fleetdeck_filesystem_used_ratio",
    "fleetdeck_filesystem_inodes_used_ratio",
    "fleetdeck_filesystem_size_bytes",
    "fleetdeck_filesystem_warning_ratio",
    "fleetdeck_filesystem_critical_ratio",
    "fleetdeck_host_reboot_required",
    "fleetdeck_host_updates_pending",
    "fleetdeck_host_security_updates_pending",
    "fleetdeck_host_memory_used_ratio",
    "fleetdeck_posture_findings",
    "fleetdeck_posture_accepted_findings",
    "fleetdeck_drill_last_success_timestamp_seconds",
    "fleetdeck_drill_warning_age_seconds",
    "fleetdeck_exporter_series_dropped",
    "fleetdeck_exporter_hosts",
    "fleetdeck_exporter_build_info",
];
