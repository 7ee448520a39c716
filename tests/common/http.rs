//! Loopback HTTP for the tests that talk to fleetdeck's exporter, Prometheus and
//! Alertmanager: a free port, one request at a time, polling with a deadline, a
//! process that is always killed, and a real Alertmanager started with a given
//! configuration.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A free loopback port (bound, then released for the process that takes it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// One HTTP/1.0 request on loopback (so the answer is neither chunked nor kept
/// alive): the status and the body; `None` when nothing answers.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n")?;
    Some((
        head.split_whitespace().nth(1)?.parse().ok()?,
        body.to_owned(),
    ))
}

/// `GET path`: the status and the body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "GET", path, "")
}

/// Polls `probe` until it gives `Ok`, or fails the test with `what` and the last
/// thing seen after `timeout`.
pub fn poll<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(found) => return found,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what} within {timeout:?}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// A process killed (and reaped) when the test ends, however it ends; its output
/// goes to a log file that a failure prints.
pub struct Running {
    child: Child,
    what: &'static str,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub fn spawn(what: &'static str, command: &mut Command, log: &Path) -> Running {
        let file = std::fs::File::create(log).expect("a log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        Running {
            child,
            what,
            log: log.to_owned(),
        }
    }

    /// Fails the test with the log when the process has exited.
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited ({status}): {}",
                self.what,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }

    /// Waits until `GET path` on `port` answers 200 (the process stays alive).
    pub fn wait_ready(&mut self, port: u16, path: &str) {
        let what = format!("{} answers {path}", self.what);
        poll(&what, Duration::from_secs(30), || {
            self.assert_alive();
            match http_get(port, path) {
                Some((200, _)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
    }
}

/// Debian's Alertmanager on a free loopback port with `config` (YAML), its data in a
/// directory of its own; stopped on drop.
pub struct Alertmanager {
    pub port: u16,
    _process: Running,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    pub fn start(config: &str) -> Alertmanager {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("alertmanager.yml");
        std::fs::write(&file, config).expect("alertmanager.yml");
        let port = free_port();
        let mut process = Running::spawn(
            "alertmanager",
            Command::new("/usr/bin/prometheus-alertmanager")
                .arg(format!("--config.file={}", file.display()))
                .arg(format!(
                    "--storage.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                // No cluster: it would listen on a fixed port (9094).
                .arg("--cluster.listen-address="),
            &dir.path().join("alertmanager.log"),
        );
        process.wait_ready(port, "/-/ready");
        Alertmanager {
            port,
            _process: process,
            _dir: dir,
        }
    }

    /// A configuration that sends every alert to `url` at once (1 s group waits),
    /// grouped by `group_by`.
    pub fn routing_to(url: &str, group_by: &str, send_resolved: bool) -> String {
        format!(
            "route:\n  receiver: hook\n  group_by: [{group_by}]\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    \
             webhook_configs:\n      - url: {url:?}\n        send_resolved: {send_resolved}\n"
        )
    }

    /// The alerts its API lists.
    pub fn alerts(&self) -> Vec<Value> {
        let (status, body) = http_get(self.port, "/api/v2/alerts").expect("GET /api/v2/alerts");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body)
            .expect("JSON")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// POSTs `alerts` (a JSON array) to its v2 API; fails the test unless accepted.
    pub fn post(&self, alerts: &Value) {
        let answer = http(self.port, "POST", "/api/v2/alerts", &alerts.to_string());
        assert_eq!(answer.as_ref().map(|a| a.0), Some(200), "{answer:?}");
    }
}
