//! A Docker engine's past container events: what happened on a host before anyone
//! was watching, read back from the engine at connect.
//!
//! `GET /events?since=…&until=…` replays the events the daemon still holds in that
//! interval and closes the stream once `until` is reached. The daemon holds only its
//! most recent events in memory (256 for dockerd; nothing survives its restart), and
//! health checks alone add three `exec_*` events per check, so on a busy host that is
//! minutes rather than hours. Hence two bounds that matter only for engines that keep
//! more: at most [`WINDOW`] back (the "last hours" an on-call engineer asks about)
//! and at most [`MAX_EVENTS`] events (far more than a console's screen of news, few
//! enough to read over a slow link in a moment); past them the newest are kept.

use std::collections::{HashMap, VecDeque};

use bollard::Docker;
use bollard::errors::Error;
use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::EventsOptions;
use futures_util::StreamExt;
use time::OffsetDateTime;

/// How far back a backfill reaches at most.
pub const WINDOW: time::Duration = time::Duration::hours(6);
/// How many past events a backfill keeps at most (the newest).
pub const MAX_EVENTS: usize = 1000;

/// The actions worth a line of history. `exec_*` (every health check runs three),
/// `create`, `attach`, `kill` (always followed by `die`) and the like are not news.
const NEWS: [&str; 9] = [
    "start",
    "restart",
    "die",
    "oom",
    "stop",
    "pause",
    "unpause",
    "destroy",
    "health_status",
];

/// One past container event, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastEvent {
    /// When the engine stamped it (its clock).
    pub at: OffsetDateTime,
    /// The container's name, cleaned.
    pub container: String,
    pub action: PastAction,
    /// Identifies the happening wherever it is learnt again: `docker:` then the
    /// engine's nanosecond time, the container's short id and the action.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PastAction {
    Start,
    Restart,
    /// The main process ended, with its exit code when the engine gave one.
    Die {
        exit_code: Option<i64>,
    },
    Oom,
    Stop,
    Pause,
    Unpause,
    Destroy,
    /// `healthy`, `unhealthy` or `starting`.
    Health(String),
}

impl PastEvent {
    /// The past event an engine's event describes, when it is a container event
    /// worth a line of history; `None` otherwise. `event` must have been cleaned
    /// ([`super::clean::event`]).
    pub fn of(event: &EventMessage) -> Option<PastEvent> {
        if event.typ != Some(EventMessageTypeEnum::CONTAINER) {
            return None;
        }
        let raw = event.action.as_deref()?;
        let (word, detail) = match raw.split_once(':') {
            Some((word, detail)) => (word.trim(), Some(detail.trim())),
            None => (raw.trim(), None),
        };
        let actor = event.actor.as_ref()?;
        let attributes = actor.attributes.as_ref();
        let attribute = |name: &str| attributes.and_then(|a| a.get(name)).map(String::as_str);
        let action = match (word, detail) {
            ("start", None) => PastAction::Start,
            ("restart", None) => PastAction::Restart,
            ("die", None) => PastAction::Die {
                exit_code: attribute("exitCode").and_then(|c| c.parse().ok()),
            },
            ("oom", None) => PastAction::Oom,
            ("stop", None) => PastAction::Stop,
            ("pause", None) => PastAction::Pause,
            ("unpause", None) => PastAction::Unpause,
            ("destroy", None) => PastAction::Destroy,
            ("health_status", Some(status @ ("healthy" | "unhealthy" | "starting"))) => {
                PastAction::Health(status.to_owned())
            }
            _ => return None,
        };
        let time_nano = event
            .time_nano
            .or_else(|| event.time.and_then(|s| s.checked_mul(1_000_000_000)))?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_nano)).ok()?;
        let id: String = actor.id.as_deref()?.chars().take(12).collect();
        let container = attribute("name")
            .filter(|n| !n.is_empty())
            .map_or_else(|| id.clone(), str::to_owned);
        let action_key = match detail {
            Some(detail) => format!("{word}:{detail}"),
            None => word.to_owned(),
        };
        Some(PastEvent {
            at,
            container,
            action,
            key: format!("docker:{time_nano}:{id}:{action_key}"),
        })
    }
}

/// The container events worth a line of history that `docker` stamped between
/// `since` and `until` (nanoseconds since the Unix epoch on the engine's clock), oldest
/// first, at most [`MAX_EVENTS`] (the newest). The engine closes the stream at
/// `until`, so give a time that has passed on its clock.
pub async fn past_events(docker: &Docker, since: i64, until: i64) -> Result<Vec<PastEvent>, Error> {
    let options = EventsOptions {
        since: Some(docker_time(since)),
        until: Some(docker_time(until)),
        filters: Some(HashMap::from([
            ("type".to_owned(), vec!["container".to_owned()]),
            ("event".to_owned(), NEWS.map(str::to_owned).to_vec()),
        ])),
    };
    let mut stream = docker.events(Some(options));
    let mut kept = VecDeque::new();
    while let Some(event) = stream.next().await {
        let mut event = event?;
        super::clean::event(&mut event);
        if let Some(past) = PastEvent::of(&event) {
            if kept.len() == MAX_EVENTS {
                kept.pop_front();
            }
            kept.push_back(past);
        }
    }
    Ok(kept.into())
}

/// Docker's `seconds.nanoseconds`.
fn docker_time(nanos: i64) -> String {
    format!(
        "{}.{:09}",
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses events exactly as `docker events --format '{{json .}}'` printed them on
    /// the lab's engines (dockerd 20.10, client-alpha and client-delta), shortened
    /// only in their labels.
    fn lab(json: &str) -> EventMessage {
        let mut event: EventMessage = serde_json::from_str(json).unwrap();
        super::super::clean::event(&mut event);
        event
    }

    const DIE: &str = r#"{"status":"die","id":"bf5d905b0304a69f750de97e5e8a0a124cd2bc3da0ad3a2aad7adca5a59a2e05","from":"fleetdeck-lab/app:1.0","Type":"container","Action":"die","Actor":{"ID":"bf5d905b0304a69f750de97e5e8a0a124cd2bc3da0ad3a2aad7adca5a59a2e05","Attributes":{"exitCode":"137","fleetdeck.app":"worker","image":"fleetdeck-lab/app:1.0","lab.fleetdeck.host":"client-alpha","name":"worker"}},"scope":"local","time":1796326503,"timeNano":1796326503944080930}"#;
    const UNHEALTHY: &str = r#"{"status":"health_status: unhealthy","id":"bf5d905b0304a69f750de97e5e8a0a124cd2bc3da0ad3a2aad7adca5a59a2e05","from":"fleetdeck-lab/app:1.0","Type":"container","Action":"health_status: unhealthy","Actor":{"ID":"bf5d905b0304a69f750de97e5e8a0a124cd2bc3da0ad3a2aad7adca5a59a2e05","Attributes":{"fleetdeck.app":"worker","image":"fleetdeck-lab/app:1.0","name":"worker"}},"scope":"local","time":1796326473,"timeNano":1796326473655066495}"#;
    const EXEC_DIE: &str = r#"{"status":"exec_die","id":"699f8deb4355797454e3a0343b6aa7a300f683c6fb68e70be162b3213529300a","from":"fleetdeck-lab/app:1.0","Type":"container","Action":"exec_die","Actor":{"ID":"699f8deb4355797454e3a0343b6aa7a300f683c6fb68e70be162b3213529300a","Attributes":{"execID":"5db6e9e37e8c5cb75a8a4f43e64a545d6504e2955c8a722167edca993f1d2345","exitCode":"0","image":"fleetdeck-lab/app:1.0","name":"web"}},"scope":"local","time":1796326499,"timeNano":1796326499946941348}"#;
    const EXEC_START: &str = r#"{"status":"exec_start: /bin/sh -c /app/health && wget -q -O /dev/null http://127.0.0.1:8080/ && echo ok","id":"699f8deb4355797454e3a0343b6aa7a300f683c6fb68e70be162b3213529300a","from":"fleetdeck-lab/app:1.0","Type":"container","Action":"exec_start: /bin/sh -c /app/health && wget -q -O /dev/null http://127.0.0.1:8080/ && echo ok","Actor":{"ID":"699f8deb4355797454e3a0343b6aa7a300f683c6fb68e70be162b3213529300a","Attributes":{"execID":"5db6e9e37e8c5cb75a8a4f43e64a545d6504e2955c8a722167edca993f1d2345","name":"web"}},"scope":"local","time":1796326499,"timeNano":1796326499885019464}"#;
    const START: &str = r#"{"status":"start","id":"699f8deb4355797454e3a0343b6aa7a300f683c6fb68e70be162b3213529300a","from":"fleetdeck-lab/app:1.0","Type":"container","Action":"start","Actor":{"ID":"699f8deb4355797454e3a0343b6aa7a300f683c6fb68e70be162b3213529300a","Attributes":{"fleetdeck.app":"web","image":"fleetdeck-lab/app:1.0","name":"web"}},"scope":"local","time":1796326462,"timeNano":1796326462989903496}"#;

    #[test]
    fn a_die_keeps_its_exit_code_time_and_key() {
        let past = PastEvent::of(&lab(DIE)).unwrap();
        assert_eq!(past.container, "worker");
        assert_eq!(
            past.action,
            PastAction::Die {
                exit_code: Some(137)
            }
        );
        assert_eq!(past.at.unix_timestamp_nanos(), 1_796_326_503_944_080_930);
        assert_eq!(past.key, "docker:1796326503944080930:bf5d905b0304:die");
    }

    #[test]
    fn health_changes_and_starts_are_news_and_exec_events_are_not() {
        let unhealthy = PastEvent::of(&lab(UNHEALTHY)).unwrap();
        assert_eq!(unhealthy.action, PastAction::Health("unhealthy".into()));
        assert_eq!(
            unhealthy.key,
            "docker:1796326473655066495:bf5d905b0304:health_status:unhealthy"
        );
        assert_eq!(
            PastEvent::of(&lab(START)).unwrap().action,
            PastAction::Start
        );
        assert_eq!(PastEvent::of(&lab(EXEC_DIE)), None);
        assert_eq!(PastEvent::of(&lab(EXEC_START)), None);
    }

    #[test]
    fn a_hostile_name_is_cleaned_and_other_types_are_ignored() {
        let hostile = DIE.replace(r#""name":"worker""#, r#""name":"wo\u001b]0;x\u0007rker""#);
        let past = PastEvent::of(&lab(&hostile)).unwrap();
        assert!(!past.container.chars().any(char::is_control), "{past:?}");
        let network = DIE.replace(r#""Type":"container""#, r#""Type":"network""#);
        assert_eq!(PastEvent::of(&lab(&network)), None);
        let unknown_health = UNHEALTHY.replace("health_status: unhealthy", "health_status: odd");
        assert_eq!(PastEvent::of(&lab(&unknown_health)), None);
    }

    #[test]
    fn a_die_without_an_exit_code_or_name_still_counts() {
        let bare = DIE
            .replace(r#""exitCode":"137","#, "")
            .replace(r#","name":"worker""#, "");
        let past = PastEvent::of(&lab(&bare)).unwrap();
        assert_eq!(past.action, PastAction::Die { exit_code: None });
        assert_eq!(past.container, "bf5d905b0304");
    }

    #[test]
    fn times_are_docker_seconds_with_nanoseconds() {
        assert_eq!(
            docker_time(1_796_326_503_000_000_007),
            "1796326503.000000007"
        );
    }
}
