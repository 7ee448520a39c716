//! bollard over any byte stream, with HTTP keep-alive.
//!
//! Opening an SSH channel costs a round trip, so requests ride a pooled hyper client:
//! sequential requests reuse one idle stream, and a long-lived request (`/events`,
//! logs) holds its own stream while others open another. The stream itself comes
//! from a [`StreamOpener`]: a russh `direct-streamlocal` channel for remote hosts,
//! [`LocalSocket`] for the local engine.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::errors::Error;
use bollard::{API_DEFAULT_VERSION, BollardRequest, Docker};
use bytes::Bytes;
use http_body_util::{Either, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

/// Default socket of a Docker engine on Linux.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Request timeout (until response headers) for the embedded local default: long
/// enough for a `stop` that waits out a container's grace period.
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;

/// Idle streams kept per engine. One is enough for sequential requests; a few more
/// absorb a burst of parallel inspects without reopening channels right after.
const POOL_MAX_IDLE: usize = 4;

/// Idle streams are closed after this, so a quiet host does not hold SSH channels.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(45);

/// bollard's own request timeout is set this much later than ours, as a backstop: ours
/// fires first and says which engine did not answer what, where bollard's says only
/// "Timeout error".
const BOLLARD_BACKSTOP: Duration = Duration::from_secs(5);

/// The authority every request is addressed to. Docker rejects HTTP/1.1 requests
/// without a `Host` header (400); hyper's pooled client writes one from the URI's
/// authority, and the authority is also the pool key (one pool per `Docker`, so one
/// fixed name is enough).
const CLIENT_ADDR: &str = "http://docker";

/// A bidirectional byte stream to a Docker engine's API socket.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

pub type BoxedIo = Box<dyn Io>;
pub type OpenFuture = Pin<Box<dyn Future<Output = io::Result<BoxedIo>> + Send>>;

/// Opens a fresh byte stream to one Docker engine's API socket.
pub trait StreamOpener: Send + Sync + 'static {
    fn open(&self) -> OpenFuture;
    /// Where the stream goes, for messages: e.g. "client-alpha:/var/run/docker.sock".
    fn describe(&self) -> String;
}

/// The engine on this machine, through its unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSocket(pub PathBuf);

impl LocalSocket {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }
}

impl StreamOpener for LocalSocket {
    fn open(&self) -> OpenFuture {
        let path = self.0.clone();
        Box::pin(async move {
            let stream = tokio::net::UnixStream::connect(&path).await?;
            Ok(Box::new(stream) as BoxedIo)
        })
    }

    fn describe(&self) -> String {
        self.0.display().to_string()
    }
}

/// Wraps an opener and counts the streams it opened: how many SSH channels a host
/// has cost, and how tests see that keep-alive works.
pub struct CountingOpener<O> {
    inner: O,
    opened: Arc<AtomicUsize>,
}

impl<O: StreamOpener> CountingOpener<O> {
    pub fn new(inner: O) -> Self {
        Self {
            inner,
            opened: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Streams opened successfully so far.
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::Relaxed)
    }
}

impl<O: StreamOpener> StreamOpener for CountingOpener<O> {
    fn open(&self) -> OpenFuture {
        let open = self.inner.open();
        let opened = Arc::clone(&self.opened);
        Box::pin(async move {
            let io = open.await?;
            opened.fetch_add(1, Ordering::Relaxed);
            Ok(io)
        })
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// The socket path `fleetdeck` uses with no inventory: `$DOCKER_HOST` when it names a
/// unix socket, else [`DEFAULT_SOCKET`]. Other `DOCKER_HOST` schemes (tcp, ssh) are
/// not followed: remote engines are reached through the inventory, over SSH.
pub fn default_local_socket() -> PathBuf {
    socket_from_docker_host(std::env::var("DOCKER_HOST").ok().as_deref())
}

fn socket_from_docker_host(docker_host: Option<&str>) -> PathBuf {
    match docker_host {
        Some(host) => match host.strip_prefix("unix://") {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => {
                tracing::debug!(%host, "DOCKER_HOST is not a unix socket; using {DEFAULT_SOCKET}");
                PathBuf::from(DEFAULT_SOCKET)
            }
        },
        None => PathBuf::from(DEFAULT_SOCKET),
    }
}

/// A Docker client over the local engine's socket, with the same pooling as remote
/// hosts. Usable as built; [`connect_negotiated`] with a [`LocalSocket`] also checks
/// that the engine answers.
pub fn local(socket: &Path) -> Result<Docker, Error> {
    docker_over(Arc::new(LocalSocket::new(socket)), DEFAULT_TIMEOUT_SECS)
}

/// A Docker client whose requests travel over streams from `opener`, pooled with
/// HTTP keep-alive. `timeout_secs` bounds each request until its response headers
/// (a stream like `/events` then lasts as long as it is read); a request that
/// outlives it fails with an error of kind `TimedOut` naming the engine, the request
/// and the limit. Building it opens nothing; the first request opens the first stream.
///
/// Reuse is best effort under a multi-threaded runtime: a request racing the return
/// of the previous connection may open a spare stream, which joins the pool and
/// closes when idle.
pub fn docker_over(opener: Arc<dyn StreamOpener>, timeout_secs: u64) -> Result<Docker, Error> {
    let what = opener.describe();
    let limit = Duration::from_secs(timeout_secs);
    let client: Client<Connector, Body> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(POOL_MAX_IDLE)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_timer(TokioTimer::new())
        .build(Connector { opener });
    let transport = move |request: BollardRequest| {
        let client = client.clone();
        let what = what.clone();
        async move {
            // The connection a previous response used goes back to the pool from a
            // task of its own, woken when that response's body ended; yielding once
            // lets it land there before this request picks a connection, instead of
            // opening another stream for a plain sequence of requests.
            tokio::task::yield_now().await;
            let asked = format!("{} {}", request.method(), request.uri().path());
            match tokio::time::timeout(limit, client.request(request)).await {
                Ok(answer) => answer.map_err(|e| with_context(&what, &e)),
                Err(_) => Err(no_answer(&what, &asked, limit)),
            }
        }
    };
    Docker::connect_with_custom_transport(
        transport,
        Some(CLIENT_ADDR),
        timeout_secs.saturating_add(BOLLARD_BACKSTOP.as_secs()),
        API_DEFAULT_VERSION,
    )
}

/// A request the engine did not answer in time: which engine (socket, and over which
/// session), what was asked, how long it waited.
fn no_answer(what: &str, asked: &str, limit: Duration) -> Error {
    Error::IOError {
        err: io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "Docker engine at {what}: no answer to {asked} within {}s",
                limit.as_secs()
            ),
        ),
    }
}

/// [`docker_over`], then one round trip that proves the engine answers and records
/// its API version (Debian's dockerd 20.10 speaks 1.41). bollard 0.21 sends
/// unversioned paths (`/containers/json`), so the engine answers in its own version
/// either way; the recorded version is what `client_version()` reports.
pub async fn connect_negotiated(
    opener: Arc<dyn StreamOpener>,
    timeout_secs: u64,
) -> Result<Docker, Error> {
    docker_over(opener, timeout_secs)?.negotiate_version().await
}

/// The raw answer of `GET path` (e.g. `/system/df`) from the engine behind `opener`,
/// on a connection of its own, for an answer whose form differs between API versions
/// (bollard's types know only the newest). At most `max_bytes` are read; the whole
/// request is bounded by `limit`.
pub async fn get_raw(
    opener: Arc<dyn StreamOpener>,
    path: &str,
    limit: Duration,
    max_bytes: usize,
) -> Result<Vec<u8>, Error> {
    use http_body_util::BodyExt;
    let what = opener.describe();
    let client: Client<Connector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(Connector { opener });
    let request = http::Request::get(format!("{CLIENT_ADDR}{path}"))
        .body(Full::new(Bytes::new()))
        .map_err(|e| Error::IOError {
            err: io::Error::other(format!("GET {path}: {e}")),
        })?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| with_context(&what, &e))?;
        let status = response.status();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| with_context(&what, &e))?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > max_bytes {
                    return Err(Error::IOError {
                        err: io::Error::other(format!(
                            "Docker engine at {what}: GET {path} answered more than {max_bytes} bytes"
                        )),
                    });
                }
                bytes.extend_from_slice(data);
            }
        }
        if !status.is_success() {
            return Err(Error::DockerResponseServerError {
                status_code: status.as_u16(),
                message: crate::sanitize::head(
                    crate::sanitize::line(&String::from_utf8_lossy(&bytes)),
                    300,
                ),
            });
        }
        Ok(bytes)
    };
    match tokio::time::timeout(limit, exchange).await {
        Ok(answer) => answer,
        Err(_) => Err(no_answer(&what, &format!("GET {path}"), limit)),
    }
}

/// bollard's request body (its own alias is private); identical, so requests pass
/// through unchanged.
type Body = Either<
    Full<Bytes>,
    StreamBody<Pin<Box<dyn futures_util::Stream<Item = Result<Frame<Bytes>, io::Error>> + Send>>>,
>;

/// hyper-util's "client error (Connect)" hides the cause; spell out the whole chain
/// and say which engine it was, keeping the innermost I/O error kind for callers
/// that branch on it (e.g. `NotFound` for a missing socket).
fn with_context(what: &str, err: &(dyn StdError + 'static)) -> Error {
    let mut message = format!("Docker engine at {what}: {err}");
    let mut kind = io::ErrorKind::Other;
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            kind = io.kind();
        }
        source = cause.source();
    }
    Error::IOError {
        err: io::Error::new(kind, message),
    }
}

/// hyper-util's connector: every new pooled connection is one fresh stream.
#[derive(Clone)]
struct Connector {
    opener: Arc<dyn StreamOpener>,
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = Conn;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Conn>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _dst: http::Uri) -> Self::Future {
        let open = self.opener.open();
        Box::pin(async move {
            let io = open.await.map_err(|e| {
                io::Error::new(e.kind(), format!("opening a stream to the API socket: {e}"))
            })?;
            Ok(Conn(TokioIo::new(io)))
        })
    }
}

/// A pooled connection: hyper's I/O traits over the opened stream.
struct Conn(TokioIo<BoxedIo>);

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        hyper::rt::Write::is_write_vectored(&self.0)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_host_names_the_local_socket_only_when_it_is_one() {
        let default = PathBuf::from(DEFAULT_SOCKET);
        assert_eq!(socket_from_docker_host(None), default);
        assert_eq!(
            socket_from_docker_host(Some("unix:///run/user/1000/docker.sock")),
            PathBuf::from("/run/user/1000/docker.sock")
        );
        assert_eq!(socket_from_docker_host(Some("unix://")), default);
        assert_eq!(
            socket_from_docker_host(Some("tcp://10.0.0.1:2375")),
            default
        );
        assert_eq!(socket_from_docker_host(Some("ssh://ops@host")), default);
    }

    /// Shaped like hyper-util's error: a summary whose cause is our I/O error.
    #[derive(Debug)]
    struct Connect(io::Error);

    impl std::fmt::Display for Connect {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl StdError for Connect {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    /// A frozen engine, as a client meets one: the socket accepts (the kernel does
    /// that) and nothing ever answers.
    #[tokio::test]
    async fn a_frozen_engine_is_named_with_its_socket_the_request_and_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("bind");
        let held = tokio::spawn(async move {
            let mut accepted = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                accepted.push(stream);
            }
        });
        let error = connect_negotiated(Arc::new(LocalSocket::new(&path)), 1)
            .await
            .expect_err("a frozen engine does not answer");
        held.abort();
        let Error::IOError { err } = &error else {
            panic!("expected an I/O error, got {error:?}");
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(
            error.to_string(),
            format!(
                "Docker engine at {}: no answer to GET /version within 1s",
                path.display()
            )
        );
    }

    #[test]
    fn errors_name_the_engine_and_keep_the_cause_and_its_kind() {
        let cause = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let Error::IOError { err } =
            with_context("client-alpha:/var/run/docker.sock", &Connect(cause))
        else {
            panic!("expected an I/O error");
        };
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(
            err.to_string(),
            "Docker engine at client-alpha:/var/run/docker.sock: client error (Connect): refused"
        );
    }
}
