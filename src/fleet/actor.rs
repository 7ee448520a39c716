//! One actor per host: it owns the host's link and keeps every signal current —
//! containers from the Docker event stream (with a periodic re-list), backups,
//! firewall, the host round and certificates on their own schedules — and reports each result as a
//! message. Hosts never wait for each other.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::containers;
use super::engine_events::{EngineAt, EngineUpdate, follow_engine};
use super::facts;
use super::model::HostEvent;
use super::probe;
use super::target::Target;
use crate::docker::past;
use crate::sanitize;
use crate::ssh::link::{Backoff, Link, LinkState};
use crate::ssh::session::{ConnectContext, Session};

/// Backup tools read the repository index: every five minutes is fresh enough for a
/// signal whose thresholds are in hours.
pub const BACKUP_INTERVAL: Duration = Duration::from_secs(300);
/// Firewall rules change by hand at 3 a.m.; a minute is how late drift may show.
pub const FIREWALL_INTERVAL: Duration = Duration::from_secs(60);
/// The host round (resources and the host's own posture). A disk filling at a
/// gigabyte a minute still shows several rounds before it is full, and a round costs
/// the host about 10 ms of CPU when apt's and fail2ban's state did not change
/// (docs/resources.md): once a minute, like the firewall.
pub const RESOURCES_INTERVAL: Duration = Duration::from_secs(60);
/// The host's maintenance window is read again this often: a window another operator
/// (or another fleetdeck instance) starts or ends shows within it. One `head` of a
/// small file per host every 30 s costs the host nothing measurable, and 30 s is well
/// inside the shortest hold time worth notifying on; a window's end needs no read at
/// all (it is computed here from `until`).
pub const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);
/// Certificates change on renewal; their thresholds are in days.
pub const CERT_INTERVAL: Duration = Duration::from_secs(3600);

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

    // The watcher's updates go straight to `out`, tagged, with no task in between.
    tasks.spawn(containers::watch(
        EngineAt::Remote {
            link: link.watch(),
            socket: target.settings.docker_socket.clone(),
        },
        out.clone(),
        move |update| (index, HostEvent::Containers(update)),
    ));

    tasks.spawn(backfill(
        link.watch(),
        target.settings.docker_socket.clone(),
        index,
        out.clone(),
    ));

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
    if target.expectations().host_round {
        let (target, out) = (target.clone(), out.clone());
        // What the last round left (the costly parts' answers) is kept across
        // reconnections: each answer carries the key of the host state it came from.
        let memo = Arc::new(tokio::sync::Mutex::new(
            crate::probes::host::RoundMemo::default(),
        ));
        tasks.spawn(every_while_up(
            link.watch(),
            RESOURCES_INTERVAL,
            move |session| {
                let (target, out, memo) = (target.clone(), out.clone(), memo.clone());
                async move {
                    let mut memo = memo.lock().await;
                    let settings = &target.settings;
                    match probe::host_round(
                        &session,
                        &settings.docker_socket,
                        &settings.posture,
                        &mut memo,
                    )
                    .await
                    {
                        probe::Probed::Measured(report) => {
                            let event =
                                HostEvent::Host(Box::new(report), OffsetDateTime::now_utc());
                            out.send((index, event)).await.is_ok()
                        }
                        probe::Probed::LinkLost => !out.is_closed(),
                    }
                }
            },
        ));
    }
    {
        let (target, out) = (target.clone(), out.clone());
        tasks.spawn(every_while_up(
            link.watch(),
            MAINTENANCE_INTERVAL,
            move |session| {
                let (target, out) = (target.clone(), out.clone());
                async move {
                    match probe::maintenance(&session, &target.settings.state_dir).await {
                        probe::Probed::Measured(read) => {
                            let event = HostEvent::Maintenance(read, OffsetDateTime::now_utc());
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

/// A backfill that takes longer than this (a stalled engine) is given up: the host's
/// live signals never wait for it, and the next connection tries again.
const BACKFILL_TIMEOUT: Duration = Duration::from_secs(30);

/// At every connection, the container events the engine recorded while nobody here
/// was watching: since the previous connection ended (or [`past::WINDOW`] back, at
/// most) until this one began. The live feed's first listing is no news, so what
/// happened before the connection shows once, from here, at its own time.
async fn backfill(
    mut link: watch::Receiver<LinkState>,
    socket: String,
    index: usize,
    out: mpsc::Sender<(usize, HostEvent)>,
) {
    // When the previous connection ended, on this machine's clock.
    let mut previous_end: Option<OffsetDateTime> = None;
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
        let connected = OffsetDateTime::now_utc();
        let read = tokio::select! {
            read = tokio::time::timeout(
                BACKFILL_TIMEOUT,
                past_events(session.docker_socket(&socket), connected, previous_end),
            ) => Some(read),
            _ = session.closed() => None,
        };
        if let Some(read) = read
            && !report_past(read, index, &out).await
        {
            return;
        }
        session.closed().await;
        previous_end = Some(OffsetDateTime::now_utc());
    }
}

/// Sends the past events `read` found, if any; false when `out` is closed.
async fn report_past(
    read: Result<Result<Vec<past::PastEvent>, bollard::errors::Error>, tokio::time::error::Elapsed>,
    index: usize,
    out: &mpsc::Sender<(usize, HostEvent)>,
) -> bool {
    match read {
        Ok(Ok(events)) if !events.is_empty() => {
            return out.send((index, HostEvent::Past(events))).await.is_ok();
        }
        Ok(Ok(_)) => {}
        Ok(Err(error)) => {
            tracing::warn!(index, error = %sanitize::line(&error.to_string()), "backfill failed");
        }
        Err(_) => tracing::warn!(index, "backfill timed out"),
    }
    true
}

/// The engine's past events between `previous_end` (or [`past::WINDOW`] before
/// `connected`) and `connected`, both on this machine's clock, asked for on the
/// engine's clock: the offset between the two is measured first.
async fn past_events(
    opener: Arc<dyn crate::docker::StreamOpener>,
    connected: OffsetDateTime,
    previous_end: Option<OffsetDateTime>,
) -> Result<Vec<past::PastEvent>, bollard::errors::Error> {
    let docker = crate::docker::transport::connect_negotiated(opener, 30).await?;
    let asked = OffsetDateTime::now_utc();
    let engine_now = crate::docker::events::engine_now(docker.clone()).await?;
    // The engine read its clock about halfway through the round trip.
    let local_now = asked + (OffsetDateTime::now_utc() - asked) / 2_i32;
    let offset = i128::from(engine_now) - local_now.unix_timestamp_nanos();
    let engine =
        |t: OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() + offset).unwrap_or(engine_now);
    let until = engine(connected);
    let floor = engine(connected - past::WINDOW);
    let since = previous_end.map_or(floor, |end| engine(end).max(floor));
    if since >= until {
        return Ok(Vec::new());
    }
    past::past_events(&docker, since, until).await
}

/// A drill run from another terminal shows within this long.
pub const DRILL_HISTORY_INTERVAL: Duration = Duration::from_secs(30);

/// The host's last successful drills, read from the local history on a blocking
/// thread (never on the render path), at start and every
/// [`DRILL_HISTORY_INTERVAL`]; reported only when something changed.
async fn last_drill(target: Arc<Target>, index: usize, out: mpsc::Sender<(usize, HostEvent)>) {
    let mut previous: Option<crate::probes::drill::LastDrill> = None;
    loop {
        let (name, drills) = (target.name.clone(), target.settings.drills.clone());
        let read = tokio::task::spawn_blocking(move || {
            crate::probes::drill::History::default_location().last_drill(&name, &drills)
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
/// from the one container watcher, kept current by the engine's event stream; up and
/// down, and the engine's facts, from an event feed of its own. Retried while the
/// engine is down.
pub fn spawn_local(
    socket: std::path::PathBuf,
    index: usize,
    out: mpsc::Sender<(usize, HostEvent)>,
) -> tokio::task::JoinHandle<()> {
    let engine = EngineAt::Local { socket };
    tokio::spawn(async move {
        let mut tasks = JoinSet::new();
        tasks.spawn(containers::watch(
            engine.clone(),
            out.clone(),
            move |update| (index, HostEvent::Containers(update)),
        ));
        tasks.spawn(local_engine(engine, index, out));
        while tasks.join_next().await.is_some() {}
    })
}

/// The local engine's up (with its facts and the events it recorded since it was
/// last followed, as a host's [`backfill`]) on every connection, and down, with why,
/// whenever it refuses one.
async fn local_engine(engine: EngineAt, index: usize, out: mpsc::Sender<(usize, HostEvent)>) {
    let (feed_tx, mut feed) = mpsc::channel(64);
    let _stop_feed = containers::AbortOnDrop(tokio::spawn(follow_engine(engine.clone(), feed_tx)));
    let mut previous_end: Option<OffsetDateTime> = None;
    while let Some(update) = feed.recv().await {
        let events = match update {
            EngineUpdate::Following { .. } => {
                let connected = OffsetDateTime::now_utc();
                let up = HostEvent::Up { at: connected };
                let Some(route) = engine.current_route() else {
                    continue;
                };
                let facts =
                    match crate::docker::transport::connect_negotiated(route.opener.clone(), 30)
                        .await
                    {
                        Ok(docker) => facts::collect(&docker, None).await.map(Box::new),
                        Err(error) => Err(sanitize::line(&engine.unreachable(&error))),
                    };
                for event in [up, HostEvent::Facts(facts, OffsetDateTime::now_utc())] {
                    if out.send((index, event)).await.is_err() {
                        return;
                    }
                }
                let read = tokio::time::timeout(
                    BACKFILL_TIMEOUT,
                    past_events(route.opener, connected, previous_end),
                )
                .await;
                if !report_past(read, index, &out).await {
                    return;
                }
                continue;
            }
            EngineUpdate::Interrupted { .. } => {
                previous_end = Some(OffsetDateTime::now_utc());
                continue;
            }
            EngineUpdate::Unreachable { cause } => vec![HostEvent::Down {
                cause: sanitize::line(&cause),
            }],
            _ => continue,
        };
        for event in events {
            if out.send((index, event)).await.is_err() {
                return;
            }
        }
    }
}
