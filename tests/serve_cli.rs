//! `fleetdeck serve` without a lab: a bad `--listen` or a port in use stops it at once
//! with exit code 2 and a clear message; without an inventory it serves this machine's
//! own engine as `localhost` on /metrics and /healthz, refuses other paths and methods,
//! and ends with 0 on SIGTERM.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{bin, stderr};

fn serve(args: &[&str], tmp: &std::path::Path) -> Command {
    let mut command = Command::new(bin());
    command
        .arg("serve")
        .args(args)
        .env("FLEETDECK_LOG_FILE", tmp.join("log"))
        .env("XDG_CONFIG_HOME", tmp.join("config"))
        .env("XDG_STATE_HOME", tmp.join("state"))
        .env_remove("FLEETDECK_INVENTORY")
        .env_remove("FLEETDECK_LAB_DIR")
        .stdin(Stdio::null());
    command
}

/// Runs it to its end, which must come within 20 s (it must not start serving).
fn run_to_end(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fleetdeck serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not stop: {:?}", child.wait_with_output());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn a_bad_address_or_a_port_in_use_is_exit_2_with_a_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for bad in ["nonsense", "127.0.0.1", "127.0.0.1:70000", "localhost:9717"] {
        let out = run_to_end(serve(&["--listen", bad], tmp.path()));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("--listen") && err.contains("not an address and port"),
            "{bad}: {err}"
        );
    }
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = run_to_end(serve(&["--listen", &addr], tmp.path()));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

/// One HTTP/1.0 request: the status line's code, the head and the body.
fn http(port: u16, request_line: &str) -> Option<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "{request_line} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_owned(), body.to_owned()))
}

#[test]
fn without_an_inventory_it_serves_the_local_engine_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = serve(&["--listen", &format!("127.0.0.1:{port}")], tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fleetdeck serve");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = child.id();
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let mut child = Kill(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some((200, _, body)) = http(port, "GET /healthz") {
            assert_eq!(body, "ok\n");
            break;
        }
        assert!(
            child.0.try_wait().expect("try_wait").is_none(),
            "serve exited"
        );
        assert!(Instant::now() < deadline, "serve does not answer /healthz");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, head, metrics) = http(port, "GET /metrics").expect("a scrape");
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(
        metrics.lines().any(|l| l == "fleetdeck_exporter_hosts 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fleetdeck_host_severity{host=\"localhost\"}"),
        "{metrics}"
    );
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");
    let (status, _, body) = http(port, "HEAD /metrics").expect("HEAD");
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(http(port, "GET /other").map(|r| r.0), Some(404));
    assert_eq!(http(port, "DELETE /metrics").map(|r| r.0), Some(405));

    let pid = i32::try_from(pid).expect("pid");
    // SAFETY: kill(2) on the child this test started and still owns.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut said = String::new();
    let _ = stderr_pipe.read_to_string(&mut said);
    assert_eq!(status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!(
            "serving metrics on http://127.0.0.1:{port}/metrics"
        )),
        "{said}"
    );
}
