//! `fleetdeck serve`: the fleet followed as `watch` follows it, its last known state
//! served as Prometheus metrics (`GET /metrics`) with a liveness check
//! (`GET /healthz`). A scrape never waits on a host: it reads the states the actors'
//! events were last applied to (docs/exporter.md).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use color_eyre::eyre::Result;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use time::OffsetDateTime;

use super::Context;
use super::ending::{NOTHING_DONE, nothing_done};
use crate::cli::ServeArgs;
use crate::fleet::model::HostState;
use crate::fleet::timeline::entries;

/// Connections served at once; more wait to be accepted. Prometheus keeps one open per
/// scraper, so this is many scrapers, and it bounds what a flood of clients can cost.
const MAX_CONNECTIONS: usize = 64;
/// A client must send its request headers within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

type Hosts = Arc<RwLock<Vec<HostState>>>;

/// Runs `serve`.
pub async fn run(ctx: &Context, args: &ServeArgs) -> Result<ExitCode> {
    Ok(ExitCode::from(serve(ctx, args).await))
}

/// The address `--listen` gives, or what is wrong with it.
pub fn listen_address(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        format!(
            "--listen {:?}: not an address and port such as 127.0.0.1:9717 or [::1]:9717",
            crate::sanitize::line(text)
        )
    })
}

async fn serve(ctx: &Context, args: &ServeArgs) -> u8 {
    let addr = match listen_address(&args.listen) {
        Ok(addr) => addr,
        Err(message) => return nothing_done(&message),
    };
    // Bound before any host is contacted: a port in use fails at once.
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => return nothing_done(&format!("cannot listen on {addr}: {error}")),
    };
    let mut following = match super::follow::start(ctx).await {
        Ok(following) => following,
        Err(Some(message)) => return nothing_done(&message),
        Err(None) => return NOTHING_DONE,
    };
    let hosts: Hosts = Arc::new(RwLock::new(std::mem::take(&mut following.hosts)));
    let local = listener.local_addr().unwrap_or(addr);
    eprintln!("fleetdeck: serving metrics on http://{local}/metrics");
    let names = hosts
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|h| h.name.clone())
        .collect();
    let history = super::history::start_writer(names, ctx.history_retention_days).await;
    let apply = {
        let hosts = hosts.clone();
        // It owns the actors: they run as long as their events are applied.
        async move {
            let events = &mut following.events;
            while let Some((index, event)) = events.recv().await {
                let mut recorded = Vec::new();
                let now = OffsetDateTime::now_utc();
                let mut states = hosts.write().unwrap_or_else(|e| e.into_inner());
                if let Some(host) = states.get_mut(index) {
                    let changes = host.apply(event);
                    recorded.extend(entries(&host.name, changes, now));
                }
                // Whatever else is already waiting, under the same lock.
                while let Ok((index, event)) = events.try_recv() {
                    if let Some(host) = states.get_mut(index) {
                        let changes = host.apply(event);
                        recorded.extend(entries(&host.name, changes, now));
                    }
                }
                drop(states);
                // Queued for the history's thread; never waits for the disk.
                if let Some(history) = &history {
                    history.record(recorded);
                }
            }
        }
    };
    tokio::select! {
        () = apply => {
            eprintln!("fleetdeck: every host's actor stopped");
            3
        }
        error = accept(listener, hosts) => {
            eprintln!("fleetdeck: cannot accept connections on {local}: {error}");
            3
        }
        () = interrupted() => 0,
    }
}

/// SIGINT or SIGTERM.
async fn interrupted() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(term) => { term.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// Serves connections until accepting fails for good; returns that error.
async fn accept(listener: tokio::net::TcpListener, hosts: Hosts) -> std::io::Error {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return std::io::Error::other("connection limit closed");
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors or a connection reset before it was accepted:
            // the next one may do.
            Err(error) if transient(&error) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(error) => return error,
        };
        let hosts = hosts.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let hosts = hosts.clone();
                async move { Ok::<_, Infallible>(respond(&hosts, &request)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(slot);
        });
    }
}

fn transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || error
        .raw_os_error()
        .is_some_and(|code| code == libc::EMFILE || code == libc::ENFILE || code == libc::ENOBUFS)
}

fn respond(hosts: &Hosts, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => {
            let now = OffsetDateTime::now_utc();
            let text = {
                let states = hosts.read().unwrap_or_else(|e| e.into_inner());
                crate::exporter::render(&states, now)
            };
            (StatusCode::OK, crate::exporter::CONTENT_TYPE, text)
        }
        (&Method::GET | &Method::HEAD, "/healthz") => {
            (StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into())
        }
        (&Method::GET | &Method::HEAD, _) => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: fleetdeck serves /metrics and /healthz\n".into(),
        ),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET and HEAD\n".into(),
        ),
    };
    let body = if request.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(body)
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            listen_address("127.0.0.1:9717"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 9717)))
        );
        assert!(listen_address("[::1]:0").is_ok());
        for bad in [
            "",
            "localhost",
            "127.0.0.1",
            "127.0.0.1:99999",
            "a\u{1b}[2J:1",
        ] {
            let error = listen_address(bad).expect_err(bad);
            assert!(error.starts_with("--listen "), "{error}");
            assert!(!error.contains('\u{1b}'), "{error}");
        }
    }
}
