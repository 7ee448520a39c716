//! One actor per host: it owns the host's link and keeps every signal current —
//! containers from the Docker event stream (with a periodic re-list), backups,
//! firewall and certificates on their own schedules — and reports each result as a
//! message. Hosts never wait for each other.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::containers::{self, ContainerUpdate};
use super::facts::{self, HostFacts};
use super::model::HostState;
use super::probe;
use super::target::Target;
use crate::probes::backup::BackupReport;
use crate::probes::cert::CertReport;
use crate::probes::firewall::FirewallReport;
use crate::sanitize;
use crate::ssh::link::{Backoff, Link, LinkState};
use crate::ssh::session::{ConnectContext, Session};

/// Backup tools read the repository index: every five minutes is fresh enough for a
/// signal whose thresholds are in hours.
pub const BACKUP_INTERVAL: Duration = Duration::from_secs(300);
/// Firewall rules change by hand at 3 a.m.; a minute is how late drift may show.
pub const FIREWALL_INTERVAL: Duration = Duration::from_secs(60);
/// Certificates change on renewal; their thresholds are in days.
pub const CERT_INTERVAL: Duration = Duration::from_secs(3600);

/// What a host actor reports.
#[derive(Debug, Clone)]
pub enum HostEvent {
    Up {
        at: OffsetDateTime,
    },
    Down {
        cause: String,
    },
    Containers(ContainerUpdate),
    Backups(Vec<BackupReport>, OffsetDateTime),
    Firewall(Box<FirewallReport>, OffsetDateTime),
    Certs(Vec<CertReport>, OffsetDateTime),
    /// A `/_ping` round trip over the session, or why it failed (sanitized).
    Rtt(Result<Duration, String>, OffsetDateTime),
    /// The host's facts, read once per connection, or why they could not be.
    Facts(Result<Box<HostFacts>, String>, OffsetDateTime),
    /// The last successful restore drills, from the local drill history.
    LastDrill(Box<crate::core::drill::LastDrill>, OffsetDateTime),
}

impl HostState {
    pub fn apply(&mut self, event: HostEvent) {
        match event {
            HostEvent::Up { at } => {
                self.reachable = Some(true);
                self.error = None;
                self.last_contact = Some(at);
            }
            HostEvent::Down { cause } => {
                self.reachable = Some(false);
                self.error = Some(cause);
            }
            HostEvent::Containers(update) => self.apply_containers(update),
            HostEvent::Backups(reports, at) => self.backups.set(reports, at),
            HostEvent::Firewall(report, at) => self.firewall.set(*report, at),
            HostEvent::Certs(reports, at) => self.certs.set(reports, at),
            HostEvent::Rtt(Ok(rtt), at) => self.rtt.set(rtt, at),
            HostEvent::Rtt(Err(error), _) => self.rtt.fail(error),
            HostEvent::Facts(Ok(facts), at) => self.facts.set(*facts, at),
            HostEvent::Facts(Err(error), _) => self.facts.fail(error),
            HostEvent::LastDrill(drill, at) => self.last_drill.set(*drill, at),
        }
    }
}

/// A running host actor; dropping it stops every task and closes the session.
pub struct HostActor {
    _tasks: JoinSet<()>,
    link: Link,
}

impl HostActor {
    /// The host's link, for work the console starts on demand (a log tail, an action).
    pub fn link(&self) -> watch::Receiver<LinkState> {
        self.link.watch()
    }
}

/// Starts the actor for `target`; its events arrive on `out` tagged with `index`.
pub fn spawn(
    ctx: Arc<ConnectContext>,
    target: Target,
    index: usize,
    out: mpsc::Sender<(usize, HostEvent)>,
) -> HostActor {
    let resolved = target.resolve(&ctx);
    let link = Link::spawn(
        ctx,
        resolved,
        target.settings.ssh.host_key_pin.clone(),
        Backoff::default(),
    );
    let mut tasks = JoinSet::new();
    let target = Arc::new(target);

    tasks.spawn(report_link(link.watch(), index, out.clone()));

    let (container_tx, mut container_rx) = mpsc::channel(64);
    tasks.spawn(containers::watch(
        link.watch(),
        target.settings.docker_socket.clone(),
        container_tx,
    ));
    let forward = out.clone();
    tasks.spawn(async move {
        while let Some(update) = container_rx.recv().await {
            if forward
                .send((index, HostEvent::Containers(update)))
                .await
                .is_err()
            {
                return;
            }
        }
    });

    tasks.spawn(engine(
        link.watch(),
        target.settings.docker_socket.clone(),
        index,
        out.clone(),
    ));

    if !target.settings.backups.is_empty() {
        let (target, out) = (target.clone(), out.clone());
        tasks.spawn(every_while_up(
            link.watch(),
            BACKUP_INTERVAL,
            move |session| {
                let (target, out) = (target.clone(), out.clone());
                async move {
                    match probe::backups(&session, &target.settings.backups).await {
                        probe::Probed::Measured(reports) => {
                            let event = HostEvent::Backups(reports, OffsetDateTime::now_utc());
                            out.send((index, event)).await.is_ok()
                        }
                        // The last measurement stands; the link reports the host down.
                        probe::Probed::LinkLost => !out.is_closed(),
                    }
                }
            },
        ));
    }
    if let Some(declared) = target.settings.firewall.clone() {
        let out = out.clone();
        let declared = Arc::new(declared);
        tasks.spawn(every_while_up(
            link.watch(),
            FIREWALL_INTERVAL,
            move |session| {
                let (declared, out) = (declared.clone(), out.clone());
                async move {
                    match probe::firewall(&session, &declared).await {
                        probe::Probed::Measured(report) => {
                            let event =
                                HostEvent::Firewall(Box::new(report), OffsetDateTime::now_utc());
                            out.send((index, event)).await.is_ok()
                        }
                        probe::Probed::LinkLost => !out.is_closed(),
                    }
                }
            },
        ));
    }
    tasks.spawn(last_drill(target.clone(), index, out.clone()));
    if !target.settings.certificates.is_empty() {
        tasks.spawn(certificates(link.watch(), target.clone(), index, out));
    }
    HostActor {
        _tasks: tasks,
        link,
    }
}

/// Up and down, as they happen; `Connecting` is not news.
async fn report_link(
    mut link: watch::Receiver<LinkState>,
    index: usize,
    out: mpsc::Sender<(usize, HostEvent)>,
) {
    let mut was_up: Option<bool> = None;
    loop {
        let event = match &*link.borrow_and_update() {
            LinkState::Up { .. } if was_up != Some(true) => {
                was_up = Some(true);
                Some(HostEvent::Up {
                    at: OffsetDateTime::now_utc(),
                })
            }
            LinkState::Down { cause, .. } => {
                was_up = Some(false);
                Some(HostEvent::Down {
                    cause: sanitize::line(cause),
                })
            }
            _ => None,
        };
        if let Some(event) = event
            && out.send((index, event)).await.is_err()
        {
            return;
        }
        if link.changed().await.is_err() {
            return;
        }
    }
}

/// Runs `measure` on the current session right away and then every `interval`, but
/// only while the link is up; after a reconnect it runs again at once. A session that
/// closed before the link noticed is waited out, never measured over: a probe on a
/// dead connection would only report the dead connection.
async fn every_while_up<F, Fut>(
    mut link: watch::Receiver<LinkState>,
    interval: Duration,
    measure: F,
) where
    F: Fn(Session) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        let session = loop {
            let current = link.borrow_and_update().session().cloned();
            if let Some(session) = current.filter(|s| !s.is_closed()) {
                break session;
            }
            if link.changed().await.is_err() {
                return;
            }
        };
        if !measure(session.clone()).await {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = session.closed() => {}
        }
    }
}

/// Per connection: the round trip of a `/_ping` every [`facts::RTT_INTERVAL`] until
/// the session closes, and the host's facts once, after the first ping. One Docker client per session, so
/// the pings reuse its pooled channel and time the round trip, not a channel opening.
async fn engine(
    mut link: watch::Receiver<LinkState>,
    socket: String,
    index: usize,
    out: mpsc::Sender<(usize, HostEvent)>,
) {
    loop {
        let session = loop {
            let current = link.borrow_and_update().session().cloned();
            // A session that closed before the link noticed is waited out.
            if let Some(session) = current.filter(|s| !s.is_closed()) {
                break session;
            }
            if link.changed().await.is_err() {
                return;
            }
        };
        let docker =
            match crate::docker::transport::connect_negotiated(session.docker_socket(&socket), 30)
                .await
            {
                Ok(docker) => docker,
                Err(error) => {
                    let why = sanitize::line(&format!("Docker API at {socket}: {error}"));
                    let now = OffsetDateTime::now_utc();
                    for event in [
                        HostEvent::Facts(Err(why.clone()), now),
                        HostEvent::Rtt(Err(why), now),
                    ] {
                        if out.send((index, event)).await.is_err() {
                            return;
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(facts::RTT_INTERVAL) => {}
                        _ = session.closed() => {}
                    }
                    continue;
                }
            };
        let mut first = true;
        while !session.is_closed() {
            let rtt = facts::ping(&docker).await;
            if session.is_closed() {
                // A ping cut short by the connection ending measures nothing.
                break;
            }
            let event = HostEvent::Rtt(rtt, OffsetDateTime::now_utc());
            if out.send((index, event)).await.is_err() {
                return;
            }
            // The facts after the first round trip, so that `watch` prints them
            // together with a measured `rtt_ms`.
            if std::mem::take(&mut first) {
                let facts = facts::collect(&docker, Some(session.label()))
                    .await
                    .map(Box::new);
                let event = HostEvent::Facts(facts, OffsetDateTime::now_utc());
                if out.send((index, event)).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(facts::RTT_INTERVAL) => {}
                _ = session.closed() => break,
            }
        }
    }
}

/// A drill run from another terminal shows within this long.
pub const DRILL_HISTORY_INTERVAL: Duration = Duration::from_secs(30);

/// The host's last successful drills, read from the local history on a blocking
/// thread (never on the render path), at start and every
/// [`DRILL_HISTORY_INTERVAL`]; reported only when something changed.
async fn last_drill(target: Arc<Target>, index: usize, out: mpsc::Sender<(usize, HostEvent)>) {
    let mut previous: Option<crate::core::drill::LastDrill> = None;
    loop {
        let (name, drills) = (target.name.clone(), target.settings.drills.clone());
        let read = tokio::task::spawn_blocking(move || {
            crate::core::drill::History::default_location().last_drill(&name, &drills)
        })
        .await;
        if let Ok(current) = read
            && previous.as_ref() != Some(&current)
        {
            previous = Some(current.clone());
            let event = HostEvent::LastDrill(Box::new(current), OffsetDateTime::now_utc());
            if out.send((index, event)).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(DRILL_HISTORY_INTERVAL).await;
    }
}

/// Certificates seen from here are checked whether or not the host answers; those
/// behind the host need its session.
async fn certificates(
    link: watch::Receiver<LinkState>,
    target: Arc<Target>,
    index: usize,
    out: mpsc::Sender<(usize, HostEvent)>,
) {
    loop {
        let mut reports = probe::console_certs(&target.settings.certificates).await;
        let session = link.borrow().session().cloned().filter(|s| !s.is_closed());
        match session {
            Some(session) => {
                reports.extend(probe::host_certs(&session, &target.settings.certificates).await)
            }
            None => reports.extend(probe::unreachable_host_certs(
                &target.settings.certificates,
                "the host is not connected",
            )),
        }
        let event = HostEvent::Certs(reports, OffsetDateTime::now_utc());
        if out.send((index, event)).await.is_err() {
            return;
        }
        tokio::time::sleep(CERT_INTERVAL).await;
    }
}

/// The local engine when there is no inventory (the embedded default): its containers
/// from the local socket, kept current by its event stream, retried while it is down.
pub fn spawn_local(
    socket: std::path::PathBuf,
    index: usize,
    out: mpsc::Sender<(usize, HostEvent)>,
) -> tokio::task::JoinHandle<()> {
    use futures_util::StreamExt;
    tokio::spawn(async move {
        let mut cursor = crate::docker::events::EventCursor::new();
        loop {
            let opener = Arc::new(crate::docker::transport::LocalSocket::new(&socket));
            let docker = match crate::docker::transport::connect_negotiated(opener, 30).await {
                Ok(docker) => docker,
                Err(error) => {
                    let cause = sanitize::line(&format!("{}: {error}", socket.display()));
                    if out.send((index, HostEvent::Down { cause })).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            let now = OffsetDateTime::now_utc();
            if out.send((index, HostEvent::Up { at: now })).await.is_err() {
                return;
            }
            let facts = facts::collect(&docker, None).await.map(Box::new);
            let event = HostEvent::Facts(facts, OffsetDateTime::now_utc());
            if out.send((index, event)).await.is_err() {
                return;
            }
            let update = match containers::collect(&docker, now).await {
                Ok(all) => ContainerUpdate::All(all, now),
                Err(error) => ContainerUpdate::Failed(sanitize::line(&error.to_string()), now),
            };
            if out
                .send((index, HostEvent::Containers(update)))
                .await
                .is_err()
            {
                return;
            }
            let mut events = crate::docker::events::follow(&docker, cursor, None);
            while let Some(Ok(event)) = events.next().await {
                let Some(id) = event.actor.as_ref().and_then(|a| a.id.clone()) else {
                    continue;
                };
                if event.typ != Some(bollard::models::EventMessageTypeEnum::CONTAINER) {
                    continue;
                }
                let now = OffsetDateTime::now_utc();
                let update = match containers::inspect(&docker, &id, now).await {
                    Ok(Some(report)) => ContainerUpdate::Changed(Box::new(report), now),
                    Ok(None) => ContainerUpdate::Gone {
                        id: id.chars().take(12).collect(),
                        at: now,
                    },
                    Err(error) => ContainerUpdate::Failed(sanitize::line(&error.to_string()), now),
                };
                if out
                    .send((index, HostEvent::Containers(update)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            cursor = events.into_cursor();
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::backup::{BackupKind, BackupRepo, BackupState};
    use crate::probes::firewall::FirewallReport;
    use time::macros::datetime;

    /// The reducer keeps the last backups and firewall when the host goes down (the
    /// probes send nothing for a round the link dropped under): the values survive,
    /// marked stale with their age, and only the host's own error says why.
    #[test]
    fn a_disconnect_keeps_the_last_values_and_marks_them_stale() {
        let repo = BackupRepo {
            name: "app-data".into(),
            kind: BackupKind::Restic,
            repository: "/srv/backup/repo".into(),
            password_file: None,
            paths: vec![],
            warning_hours: 26,
            critical_hours: 48,
        };
        let measured = datetime!(2027-01-01 10:00 UTC);
        let mut host = HostState::new(
            "web1",
            vec![],
            super::super::model::Expectations {
                backups: true,
                certs: false,
                firewall: true,
            },
        );
        host.apply(HostEvent::Up { at: measured });
        let backup = BackupReport::failed(&repo, BackupState::NoSnapshots, "none yet");
        host.apply(HostEvent::Backups(vec![backup.clone()], measured));
        host.apply(HostEvent::Firewall(
            Box::new(FirewallReport::failed("nft: permission denied")),
            measured,
        ));
        host.apply(HostEvent::Down {
            cause: "keepalive timeout".into(),
        });
        let json = serde_json::to_value(host.to_json(measured + time::Duration::minutes(3)))
            .expect("json");
        assert_eq!(json["reachable"], false);
        assert_eq!(json["backups"][0]["state"], "no_snapshots", "{json}");
        assert_eq!(
            json["firewall"]["error"], "nft: permission denied",
            "{json}"
        );
        for signal in ["backups", "firewall"] {
            let s = &json["signals"][signal];
            assert_eq!(
                (&s["stale"], &s["age_seconds"]),
                (&true.into(), &180.into()),
                "{s}"
            );
            assert!(s["error"].is_null(), "{s}");
        }
    }
}
