//! Serving connections with limits, so that slow or idle clients cannot hold
//! the server: a time limit on request heads, an idle timeout, a maximum
//! request head, and a cap on connections kept below the open-file limit.
//! hyper's own `axum::serve` has none of these.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::util::MapRequest;
use tower_bearer_auth::key_policy::PeerAddress;

/// The largest request head accepted (HTTP/1 head, HTTP/2 header list).
/// Larger heads are refused with 431 or a closed connection.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Open files kept for everything but connections: the listener, the keys
/// file, logs, the runtime.
const RESERVED_FILES: usize = 64;

/// How long open connections may take to finish after SIGTERM / SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long an idle connection may take to close once told to (at most the
/// idle timeout itself).
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The limits a connection is served under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
}

/// The connection cap: as asked, but always below the process's open-file
/// limit, so that accepting never runs out of descriptors (which would
/// also break reloads of the keys file).
pub(crate) fn connection_cap(asked: Option<usize>) -> usize {
    let ceiling = open_file_limit()
        .map_or(1_000, |limit| limit.saturating_sub(RESERVED_FILES))
        .max(1);
    match asked {
        Some(asked) if asked > ceiling => {
            tracing::warn!(
                asked,
                ceiling,
                "--max-connections is above what the open-file limit allows; using {ceiling}"
            );
            ceiling
        }
        Some(asked) => asked,
        None => ceiling.min(10_000),
    }
}

/// The soft `RLIMIT_NOFILE`, from `/proc/self/limits` (Linux).
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Serves `app` on `listener` until `shutdown` completes, then gives open
/// connections [`SHUTDOWN_GRACE`] to finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEAD_BYTES).unwrap_or(u32::MAX));
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stopping, stop) = watch::channel(false);
    let started = Instant::now();
    tokio::pin!(shutdown);
    loop {
        // Take a slot before accepting: past the cap, new connections wait
        // in the kernel's backlog and hold no descriptor of ours.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let builder = Arc::clone(&builder);
        // The connection's address, for keys with an address allowlist.
        let service = TowerToHyperService::new(MapRequest::new(
            app.clone(),
            move |mut request: http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(PeerAddress(peer));
                request
            },
        ));
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let (io, activity) = Watched::new(stream, started);
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            tokio::pin!(connection);
            // Once closing (idle, or the server stopping), a connection gets
            // a grace period to finish, then is dropped: a peer that never
            // answers HTTP/2's closing PING cannot keep it open.
            let mut close_by: Option<Instant> = None;
            loop {
                let idle_until = activity.last(started) + limits.idle_timeout;
                tokio::select! {
                    _ = connection.as_mut() => break,
                    () = tokio::time::sleep_until(idle_until.into()), if close_by.is_none() => {
                        if activity.last(started) + limits.idle_timeout <= Instant::now() {
                            connection.as_mut().graceful_shutdown();
                            close_by = Some(Instant::now() + limits.idle_timeout.min(CLOSE_GRACE));
                        }
                    }
                    _ = stop.changed(), if close_by.is_none() => {
                        connection.as_mut().graceful_shutdown();
                        close_by = Some(Instant::now() + SHUTDOWN_GRACE);
                    }
                    () = tokio::time::sleep_until(close_by.unwrap_or_else(Instant::now).into()), if close_by.is_some() => break,
                }
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down");
    let _ = stopping.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    // Every connection is dropped by the end of its grace period; the
    // margin covers the tasks noticing.
    let drained = tokio::time::timeout(
        SHUTDOWN_GRACE + Duration::from_secs(1),
        permits.acquire_many(all),
    )
    .await;
    if drained.is_err() {
        tracing::warn!(
            "connections still open {SHUTDOWN_GRACE:?} after shutdown began; closing them"
        );
    }
}

/// A stream that notes when bytes last moved, for the idle timeout.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    started: Instant,
}

/// Milliseconds since the server started, when bytes last moved.
struct Activity(AtomicU64);

impl Activity {
    fn touch(&self, started: Instant) {
        let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.store(now, Ordering::Relaxed);
    }

    fn last(&self, started: Instant) -> Instant {
        started + Duration::from_millis(self.0.load(Ordering::Relaxed))
    }
}

impl Watched {
    fn new(stream: TcpStream, started: Instant) -> (Self, Arc<Activity>) {
        let activity = Arc::new(Activity(AtomicU64::new(0)));
        activity.touch(started);
        let watched = Self {
            stream,
            activity: Arc::clone(&activity),
            started,
        };
        (watched, activity)
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch(self.started);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, bytes);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch(self.started);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch(self.started);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
