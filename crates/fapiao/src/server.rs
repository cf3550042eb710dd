//! Serving a router with connection limits, on every listener (the service and the in-process
//! sandbox): a header read timeout, a body read timeout, an idle keep-alive timeout, a cap on
//! connections below the descriptor limit, an immediate 413 for a declared oversize body, and a
//! request id on every log line of a request.
//!
//! `axum::serve` sets none of these, so this drives hyper's HTTP/1 connections itself. Each
//! connection has a watchdog fed by its socket (bytes read and written) and by its service
//! (requests in flight): with no request in flight, a connection that sends nothing for the idle
//! timeout, or whose request head takes longer than the header timeout, is closed.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, Response};
use fapiao_app::http::limits::{self, HttpLimits};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;
use tracing::Instrument;

/// Descriptors kept for the database pool, files, the sandbox and outgoing requests.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the soft open-file limit to the hard one (once per process) and returns the soft
/// limit in force, if the platform says.
pub fn raise_descriptor_limit() -> Option<u64> {
    static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
    *LIMIT.get_or_init(raise)
}

#[cfg(unix)]
fn raise() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let Some(current) = limit.current else {
        return Some(u64::MAX);
    };
    // macOS refuses an unlimited soft limit; a large finite one is what it takes.
    let target = limit.maximum.unwrap_or(1 << 20).min(1 << 20);
    if target > current {
        let raised = rustix::process::Rlimit {
            current: Some(target),
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::info!(from = current, to = target, "raised the open-file limit");
                return Some(target);
            }
            Err(e) => tracing::info!(error = %e, current, "open-file limit left as it is"),
        }
    }
    Some(current)
}

#[cfg(not(unix))]
fn raise() -> Option<u64> {
    None
}

/// Binds `addr` with a listen backlog deep enough for bursts of connections (the kernel caps
/// it at `net.core.somaxconn`); a full backlog drops SYNs, which clients retry only after a
/// second.
///
/// # Errors
/// When the address cannot be bound.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// `limits.max_connections`, or (when 0) the descriptor limit less a reserve, at least 64.
pub fn max_connections(limits: &HttpLimits) -> usize {
    if limits.max_connections > 0 {
        return limits.max_connections;
    }
    let descriptors = raise_descriptor_limit().unwrap_or(1024);
    let usable = descriptors
        .saturating_sub(RESERVED_DESCRIPTORS.max(descriptors / 8))
        .clamp(64, 1 << 20);
    usize::try_from(usable).unwrap_or(1 << 20)
}

/// Serves `router` on `listener` under `limits` until `stop` changes (or its sender goes).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let cap = max_connections(&limits);
    let permits = Arc::new(Semaphore::new(cap));
    tracing::debug!(max_connections = cap, "serving");
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: back off briefly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            connection(stream, router, limits, stop).await;
            drop(permit);
        });
    }
}

/// What the watchdog of one connection knows.
#[derive(Debug)]
struct Activity {
    /// Requests handed to the router and not answered yet.
    in_flight: usize,
    /// When the connection last became idle (accepted, or its last response was produced).
    idle_since: Instant,
    /// When the first byte of the next request head arrived, while idle.
    head_started: Option<Instant>,
    /// When bytes were last written (a response still streaming out is not idle).
    last_write: Instant,
}

type Shared = Arc<Mutex<Activity>>;

fn lock(activity: &Shared) -> std::sync::MutexGuard<'_, Activity> {
    // A poisoned lock only means a panic elsewhere; the timestamps are still usable.
    activity
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Activity {
    /// When the connection is due to be closed, if nothing happens before.
    fn deadline(&self, limits: &HttpLimits) -> Option<Instant> {
        if self.in_flight > 0 {
            return None;
        }
        Some(match self.head_started {
            Some(started) => started + limits.header_read_timeout,
            None => self.idle_since.max(self.last_write) + limits.idle_timeout,
        })
    }
}

/// The socket, reporting reads and writes to the watchdog.
struct Watched {
    stream: TcpStream,
    activity: Shared,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let mut activity = lock(&self.activity);
            if activity.in_flight == 0 && activity.head_started.is_none() {
                activity.head_started = Some(Instant::now());
            }
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            lock(&self.activity).last_write = Instant::now();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// One connection: hyper's HTTP/1 state machine, raced against the watchdog and `stop`.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let now = Instant::now();
    let activity: Shared = Arc::new(Mutex::new(Activity {
        in_flight: 0,
        idle_since: now,
        head_started: None,
        last_write: now,
    }));
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |request: Request<Incoming>| handle(request, router.clone(), activity.clone(), limits)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The watchdog times the head (hyper's own timer would also run while idle).
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    // The watchdog wakes at the deadline, and at least this often while a request runs.
    let tick = limits
        .header_read_timeout
        .min(limits.idle_timeout)
        .div_f32(4.0)
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut stopping = false;
    loop {
        let deadline = lock(&activity).deadline(&limits);
        let wake = deadline
            .unwrap_or_else(|| Instant::now() + tick)
            .min(Instant::now() + tick);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                let _ = changed;
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(wake.into()) => {
                if lock(&activity).deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    // Dropping the connection closes the socket.
                    tracing::debug!("connection closed: idle or request head too slow");
                    return;
                }
            }
        }
    }
}

/// One request: refuse an oversize declared body, bound the body's arrival, tag the span with a
/// request id, and report to the watchdog.
async fn handle(
    request: Request<Incoming>,
    router: Router,
    activity: Shared,
    limits: HttpLimits,
) -> Result<Response<Body>, std::convert::Infallible> {
    {
        let mut activity = lock(&activity);
        activity.in_flight += 1;
        activity.head_started = None;
    }
    let id = request_id(&request);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let mut response = async {
        if let Some(length) = limits::declared_length(request.headers())
            && length > limits.max_body_bytes
        {
            return limits::too_large(limits.max_body_bytes);
        }
        let timed_out = Arc::new(AtomicBool::new(false));
        let request = request.map(|body| {
            Body::new(DeadlineBody {
                inner: body,
                deadline: Box::pin(tokio::time::sleep(limits.body_read_timeout)),
                timed_out: timed_out.clone(),
            })
        });
        let response = match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        if timed_out.load(Ordering::Relaxed) {
            tracing::info!("request body too slow");
            return limits::body_timeout();
        }
        response
    }
    .instrument(span.clone())
    .await;
    span.in_scope(|| {
        tracing::debug!(
            status = response.status().as_u16(),
            millis = started.elapsed().as_millis() as u64,
            "answered"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    {
        let mut activity = lock(&activity);
        activity.in_flight = activity.in_flight.saturating_sub(1);
        activity.idle_since = Instant::now();
    }
    Ok(response)
}

/// The caller's `X-Request-Id` when it is a plain token, or a fresh one.
fn request_id<B>(request: &Request<B>) -> String {
    if let Some(given) = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
    {
        return given.to_owned();
    }
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        bytes = NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A request body that fails once its deadline passes before it has fully arrived.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
}

/// The body read timeout, as a body error.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the body read timeout")]
struct BodyTimeout;

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.timed_out.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err(BodyTimeout.into())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
