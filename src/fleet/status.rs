//! One snapshot of the selected hosts: connect to every host at once, measure every
//! signal once, each host bounded by its own deadline so one slow host cannot hold up
//! the answer for the others.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::containers;
use super::facts;
use super::model::HostState;
use super::probe;
use super::target::{Contexts, Target};
use crate::docker::transport::connect_negotiated;
use crate::inventory::HostSettings;
use crate::sanitize;
use crate::ssh::session::{ConnectContext, Session};
use crate::ssh::setup::SshOptions;

/// How long one host may take to connect and be measured, by default. Backups are the
/// slow part (restic reads the repository index).
pub const DEFAULT_HOST_DEADLINE: Duration = Duration::from_secs(60);

/// Measures every target once, all at the same time; the result keeps the targets'
/// order.
pub async fn snapshot(
    options: &SshOptions,
    contexts: &Contexts,
    targets: &[Target],
    deadline: Duration,
) -> Vec<HostState> {
    let hosts = targets.iter().map(|target| async move {
        let Some(ctx) = contexts.for_target(options, target) else {
            let mut state = target.host_state();
            state.reachable = Some(false);
            state.error = Some("no SSH configuration prepared for this host".to_owned());
            return state;
        };
        measure_host(&ctx, target, deadline).await
    });
    futures_util::future::join_all(hosts).await
}

/// Connects to one host and measures everything it declares.
pub async fn measure_host(
    ctx: &Arc<ConnectContext>,
    target: &Target,
    deadline: Duration,
) -> HostState {
    let settings = &target.settings;
    let mut state = target.host_state();
    // Certificates seen from here do not need the host's session; start them now.
    let console_certs = probe::console_certs(&settings.certificates);
    let over_ssh = async {
        let started = std::time::Instant::now();
        let resolved = target.resolve(ctx);
        let session = Session::connect(ctx, &resolved, settings.ssh.host_key_pin.clone())
            .await
            .map_err(|e| sanitize::line(&e.to_string()))?;
        tracing::debug!(host = %target.name, elapsed = ?started.elapsed(), "connected");
        let measured = measure_over(&session, settings, &target.expectations()).await;
        tracing::debug!(host = %target.name, elapsed = ?started.elapsed(), "measured");
        Ok::<_, String>(measured)
    };
    let (console_certs, over_ssh) =
        tokio::join!(console_certs, tokio::time::timeout(deadline, over_ssh));
    let now = OffsetDateTime::now_utc();
    let mut certs = console_certs;
    match over_ssh {
        Ok(Ok(measured)) => {
            state.reachable = Some(true);
            state.last_contact = Some(measured.contact);
            state.apply_containers(measured.containers);
            match measured.rtt {
                (Ok(rtt), at) => state.rtt.set(rtt, at),
                (Err(error), _) => state.rtt.fail(error),
            }
            match measured.facts {
                (Ok(host_facts), at) => state.facts.set(host_facts, at),
                (Err(error), _) => state.facts.fail(error),
            }
            // A probe the link dropped under measured nothing: the signal says so
            // rather than showing the dropped channel as the host's answer.
            match measured.firewall {
                Some(probe::Probed::Measured(firewall)) => {
                    state.set_firewall(firewall, measured.firewall_at);
                }
                Some(probe::Probed::LinkLost) => state.firewall.fail(LINK_LOST.to_owned()),
                None => {}
            }
            if state.expects.backups {
                match measured.backups {
                    probe::Probed::Measured(backups) => {
                        state.backups.set(backups, measured.backups_at)
                    }
                    probe::Probed::LinkLost => state.backups.fail(LINK_LOST.to_owned()),
                }
            }
            match measured.host {
                Some(probe::Probed::Measured(report)) => {
                    state.resources.set(report.resources, measured.host_at);
                    match report.posture_error {
                        Some(error) => state.host_posture.fail(error),
                        None => state.host_posture.set(report.posture, measured.host_at),
                    }
                }
                Some(probe::Probed::LinkLost) => {
                    state.resources.fail(LINK_LOST.to_owned());
                    state.host_posture.fail(LINK_LOST.to_owned());
                }
                None => {}
            }
            certs.extend(measured.host_certs);
            match measured.maintenance {
                probe::Probed::Measured(Ok(window)) => {
                    state.maintenance.set(window, measured.maintenance_at)
                }
                probe::Probed::Measured(Err(error)) => state.maintenance.fail(error),
                probe::Probed::LinkLost => state.maintenance.fail(LINK_LOST.to_owned()),
            }
        }
        Ok(Err(error)) => {
            state.reachable = Some(false);
            certs.extend(probe::unreachable_host_certs(
                &settings.certificates,
                &error,
            ));
            state.error = Some(error);
        }
        Err(_) => {
            let error = format!(
                "no answer within {}s (connecting and measuring)",
                deadline.as_secs()
            );
            state.reachable = Some(false);
            certs.extend(probe::unreachable_host_certs(
                &settings.certificates,
                &error,
            ));
            state.error = Some(error);
        }
    }
    let (name, drills) = (target.name.clone(), settings.drills.clone());
    if let Ok(last_drill) = tokio::task::spawn_blocking(move || {
        crate::probes::drill::History::default_location().last_drill(&name, &drills)
    })
    .await
    {
        state.last_drill.set(last_drill, OffsetDateTime::now_utc());
    }
    if state.expects.certs {
        // Keep the declared order.
        let order = |name: &str| {
            settings
                .certificates
                .iter()
                .position(|e| e.name == name)
                .unwrap_or(usize::MAX)
        };
        certs.sort_by_key(|c| order(&c.endpoint));
        state.certs.set(certs, now);
    }
    state
}

/// Why a signal has no value when the session closed while it was being measured.
const LINK_LOST: &str = "the SSH session closed while this was being measured";

struct Measured {
    contact: OffsetDateTime,
    containers: containers::ContainerUpdate,
    rtt: (Result<Duration, String>, OffsetDateTime),
    facts: (Result<facts::HostFacts, String>, OffsetDateTime),
    firewall: Option<probe::Probed<crate::probes::firewall::FirewallReport>>,
    firewall_at: OffsetDateTime,
    backups: probe::Probed<Vec<crate::probes::backup::BackupReport>>,
    backups_at: OffsetDateTime,
    host: Option<probe::Probed<crate::probes::host::HostReport>>,
    host_at: OffsetDateTime,
    host_certs: Vec<crate::probes::cert::CertReport>,
    maintenance: probe::Probed<Result<Option<crate::probes::maintenance::Maintenance>, String>>,
    maintenance_at: OffsetDateTime,
}

/// Everything measured over the session, concurrently (each on its own channel).
async fn measure_over(
    session: &Session,
    settings: &HostSettings,
    expects: &super::model::Expectations,
) -> Measured {
    let contact = OffsetDateTime::now_utc();
    // The engine: a round trip first (on the connection the version negotiation just
    // opened), then its facts and its containers.
    let engine = async {
        let at = OffsetDateTime::now_utc();
        match connect_negotiated(session.docker_socket(&settings.docker_socket), 30).await {
            Ok(docker) => {
                let rtt = (facts::ping(&docker).await, OffsetDateTime::now_utc());
                let (host_facts, update) =
                    tokio::join!(facts::collect(&docker, Some(session.label())), async {
                        match containers::collect(&docker, at).await {
                            Ok(all) => containers::ContainerUpdate::All(all, at),
                            Err(error) => containers::ContainerUpdate::Failed(
                                sanitize::line(&error.to_string()),
                                at,
                            ),
                        }
                    });
                (update, rtt, (host_facts, OffsetDateTime::now_utc()))
            }
            Err(error) => {
                let why = sanitize::line(&format!(
                    "Docker API at {}: {error}",
                    settings.docker_socket
                ));
                (
                    containers::ContainerUpdate::Failed(why.clone(), at),
                    (Err(why.clone()), at),
                    (Err(why), at),
                )
            }
        }
    };
    let firewall = async {
        match &settings.firewall {
            Some(declared) => Some(probe::firewall(session, declared).await),
            None => None,
        }
    };
    let backups = probe::backups(session, &settings.backups);
    let host_certs = probe::host_certs(session, &settings.certificates);
    let host = async {
        if !expects.host_round {
            return None;
        }
        let mut memo = crate::probes::host::RoundMemo::default();
        Some(
            probe::host_round(
                session,
                &settings.docker_socket,
                &settings.posture,
                &mut memo,
            )
            .await,
        )
    };
    let maintenance = probe::maintenance(session, &settings.state_dir);
    let ((containers, rtt, facts), firewall, backups, host, host_certs, maintenance) =
        tokio::join!(engine, firewall, backups, host, host_certs, maintenance);
    let done = OffsetDateTime::now_utc();
    Measured {
        contact,
        containers,
        rtt,
        facts,
        firewall,
        firewall_at: done,
        backups,
        backups_at: done,
        host,
        host_at: done,
        host_certs,
        maintenance,
        maintenance_at: done,
    }
}
