//! What a host is, and how far away: its facts from Docker's `/info` (collected once
//! per connection) and the round trip of Docker's `/_ping` over the host's session
//! (measured periodically while it is up).

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::SystemInfo;
use serde::Serialize;

use crate::sanitize;

/// How often the round trip is measured while a host is up.
pub const RTT_INTERVAL: Duration = Duration::from_secs(10);
/// A ping that takes longer than this is a failed measurement (the host is slow or
/// the engine hung), not a round-trip time.
pub const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// `/info` walks the engine's state; it gets a little longer than a ping.
pub const INFO_TIMEOUT: Duration = Duration::from_secs(15);

/// A host's facts as its Docker engine reports them. Every text is sanitized here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostFacts {
    /// The engine's host name.
    pub hostname: Option<String>,
    /// e.g. `Debian GNU/Linux 12 (bookworm)`.
    pub os: Option<String>,
    pub kernel: Option<String>,
    /// e.g. `x86_64`.
    pub architecture: Option<String>,
    pub docker_version: Option<String>,
    pub cpus: Option<i64>,
    pub memory_bytes: Option<i64>,
    pub containers: Option<i64>,
    pub containers_running: Option<i64>,
    pub containers_stopped: Option<i64>,
    pub images: Option<i64>,
    /// Where the SSH session goes: `user@host:port`, with ` via JUMP` when tunnelled.
    pub ssh_address: Option<String>,
}

impl HostFacts {
    /// The facts in `info`, plus the session's address (pure).
    pub fn from_info(info: &SystemInfo, ssh_address: Option<&str>) -> HostFacts {
        let text = |value: &Option<String>| {
            value
                .as_deref()
                .map(sanitize::line)
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        HostFacts {
            hostname: text(&info.name),
            os: text(&info.operating_system),
            kernel: text(&info.kernel_version),
            architecture: text(&info.architecture),
            docker_version: text(&info.server_version),
            cpus: info.ncpu,
            memory_bytes: info.mem_total,
            containers: info.containers,
            containers_running: info.containers_running,
            containers_stopped: info.containers_stopped,
            images: info.images,
            ssh_address: ssh_address.map(sanitize::line),
        }
    }
}

/// Reads the engine's facts, bounded by [`INFO_TIMEOUT`]; the error is sanitized.
pub async fn collect(docker: &Docker, ssh_address: Option<&str>) -> Result<HostFacts, String> {
    match tokio::time::timeout(INFO_TIMEOUT, docker.info()).await {
        Ok(Ok(info)) => Ok(HostFacts::from_info(&info, ssh_address)),
        Ok(Err(error)) => Err(sanitize::line(&format!("Docker /info: {error}"))),
        Err(_) => Err(format!(
            "Docker /info: no answer within {}s",
            INFO_TIMEOUT.as_secs()
        )),
    }
}

/// Times one `/_ping` round trip, bounded by [`PING_TIMEOUT`]; the error is sanitized.
/// On a client whose connection is already open (the pool keeps it between pings)
/// this is one request and one answer through the SSH channel: the round trip to the
/// host plus the engine's (trivial) work.
pub async fn ping(docker: &Docker) -> Result<Duration, String> {
    let started = Instant::now();
    match tokio::time::timeout(PING_TIMEOUT, docker.ping()).await {
        Ok(Ok(_)) => Ok(started.elapsed()),
        Ok(Err(error)) => Err(sanitize::line(&format!("Docker /_ping: {error}"))),
        Err(_) => Err(format!(
            "Docker /_ping: no answer within {}s",
            PING_TIMEOUT.as_secs()
        )),
    }
}

/// A round trip for people: `0.4ms`, `12ms`, `1.3s`.
pub fn rtt_text(rtt: Duration) -> String {
    let ms = rtt.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

/// Milliseconds with 0.1 ms resolution, as `rtt_ms` carries it in JSON.
pub fn rtt_ms(rtt: Duration) -> f64 {
    (rtt.as_secs_f64() * 10_000.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_come_from_info_with_every_text_sanitized() {
        let info = SystemInfo {
            name: Some("web-1\u{1b}]0;pwned\u{7}".to_owned()),
            operating_system: Some("Debian GNU/Linux 12 (bookworm)\u{202e}".to_owned()),
            kernel_version: Some("6.1.0-18-amd64\u{1b}[2J".to_owned()),
            architecture: Some("x86_64".to_owned()),
            server_version: Some("  ".to_owned()),
            ncpu: Some(2),
            mem_total: Some(24 << 30),
            containers: Some(5),
            containers_running: Some(3),
            containers_stopped: Some(2),
            images: Some(4),
            ..SystemInfo::default()
        };
        let facts = HostFacts::from_info(&info, Some("root@10.0.0.2:22 via bastion\u{9b}2J"));
        assert_eq!(facts.hostname.as_deref(), Some("web-1"));
        assert_eq!(
            facts.os.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)\\u{202e}")
        );
        assert_eq!(facts.kernel.as_deref(), Some("6.1.0-18-amd64"));
        assert_eq!(facts.docker_version, None, "blank is unknown");
        assert_eq!(facts.cpus, Some(2));
        assert_eq!(facts.memory_bytes, Some(24 << 30));
        assert_eq!(facts.containers_running, Some(3));
        assert_eq!(
            facts.ssh_address.as_deref(),
            Some("root@10.0.0.2:22 via bastion")
        );
        let json = serde_json::to_value(&facts).expect("json");
        assert_eq!(json["os"], "Debian GNU/Linux 12 (bookworm)\\u{202e}");
        assert_eq!(json["cpus"], 2);
    }

    #[test]
    fn round_trips_read_well_and_round_to_a_tenth_of_a_millisecond() {
        assert_eq!(rtt_text(Duration::from_micros(420)), "0.4ms");
        assert_eq!(rtt_text(Duration::from_micros(12_345)), "12ms");
        assert_eq!(rtt_text(Duration::from_millis(1_340)), "1.3s");
        assert_eq!(rtt_ms(Duration::from_micros(12_345)), 12.3);
        assert_eq!(rtt_ms(Duration::from_micros(420)), 0.4);
    }
}
