//! A webhook receiver on loopback, as the tests' stand-in for the people an alert
//! reaches: it records every POST (path and body) and answers as it is told — a status,
//! or nothing at all (a receiver that hangs). Plain threads and std sockets, so any
//! test can use it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Read the request, never answer, keep the connection open until the receiver
    /// is dropped.
    Hang,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub body: String,
    pub at: Instant,
    /// What it was answered.
    pub answer: Answer,
}

impl Received {
    /// The body as JSON; panics (a test failure) when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    /// Answers for the next requests, in order; then `Status(200)`.
    script: Vec<Answer>,
    /// Connections held open by `Hang`, closed on drop.
    held: Vec<TcpStream>,
    stopped: bool,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

impl Receiver {
    /// A receiver answering 200 to everything.
    pub fn start() -> Receiver {
        Receiver::scripted(&[])
    }

    /// A receiver answering the first requests as `script` says, then 200.
    pub fn scripted(script: &[Answer]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!(
            "http://{}/",
            listener.local_addr().expect("the bound address")
        );
        let shared = Arc::new((
            Mutex::new(Shared {
                script: script.iter().rev().copied().collect(),
                ..Shared::default()
            }),
            Condvar::new(),
        ));
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if accepting.0.lock().expect("receiver lock").stopped {
                    return;
                }
                let shared = accepting.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Receiver { url, shared }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .0
            .lock()
            .expect("receiver lock")
            .received
            .clone()
    }

    /// Waits until at least `count` requests arrived, or `timeout` passed; returns
    /// what arrived either way.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let (lock, arrived) = &*self.shared;
        let mut shared = lock.lock().expect("receiver lock");
        while shared.received.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            shared = arrived.wait_timeout(shared, left).expect("receiver lock").0;
        }
        shared.received.clone()
    }

    /// Waits until a request matching `want` arrived, or `timeout` passed.
    pub fn wait_until(
        &self,
        timeout: Duration,
        want: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let (lock, arrived) = &*self.shared;
        let mut shared = lock.lock().expect("receiver lock");
        while !want(&shared.received) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            shared = arrived.wait_timeout(shared, left).expect("receiver lock").0;
        }
        shared.received.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut shared = self.shared.0.lock().expect("receiver lock");
        shared.stopped = true;
        for stream in shared.held.drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        // Wake the accepting thread so it sees `stopped`.
        if let Some(address) = self.url.strip_prefix("http://") {
            let _ = TcpStream::connect(address.trim_end_matches('/'));
        }
    }
}

/// Reads requests off one connection (keep-alive) and answers each as scripted.
fn serve(stream: TcpStream, shared: &Arc<(Mutex<Shared>, Condvar)>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let Some((method, path, body)) = read_request(&mut reader) else {
            return;
        };
        let (lock, arrived) = &**shared;
        let answer = {
            let mut state = lock.lock().expect("receiver lock");
            let answer = state.script.pop().unwrap_or(Answer::Status(200));
            state.received.push(Received {
                method,
                path,
                body,
                at: Instant::now(),
                answer,
            });
            if answer == Answer::Hang
                && let Ok(held) = writer.try_clone()
            {
                state.held.push(held);
            }
            answer
        };
        arrived.notify_all();
        match answer {
            Answer::Hang => return,
            Answer::Status(code) => {
                let response = format!(
                    "HTTP/1.1 {code} {}\r\ncontent-length: 0\r\n\r\n",
                    if code < 300 { "OK" } else { "Error" }
                );
                if writer.write_all(response.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

/// One HTTP/1.1 request: method, path and body (Content-Length or chunked).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, String)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path, String::from_utf8_lossy(&body).into_owned()))
}
