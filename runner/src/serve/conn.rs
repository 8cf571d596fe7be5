//! `serve`'s connections: accepting them, bounding how many are open, and closing the ones
//! that hold a place without using it, so that slow or silent clients cannot stop the service.
//!
//! HTTP/1.1 sets no time limits of its own, and hyper's one (`header_read_timeout`) runs from
//! the end of the previous response, so it cannot tell a shipper's idle keep-alive connection
//! from a client dribbling a request head. Each connection here is watched instead
//! ([`Activity`], fed by its socket and its requests), and closed:
//! - when a request head has been arriving for longer than `header_timeout` (no answer: the
//!   client has not said what it wants; a closed connection is what RFC 9112 allows);
//! - when it has sat with no request for longer than `idle_timeout`.
//!
//! The request body's deadline (`body_timeout`, answered 408) is the handler's, in `mod.rs`.
//!
//! With TLS, the handshake runs in the connection's own task, under the same watch: its first
//! bytes start the head clock, so a client that stalls mid-handshake is closed at
//! `header_timeout` as a dribbled head is, and until it completes a request its connection is
//! a never-used one, the first to give its place at the bound. Accepting never waits on a
//! handshake.
//!
//! At most `max_connections` are served. At the bound, accepting goes on, and each new
//! connection takes the place of the open connection that has used its place least: one that
//! has never completed a request (a silent or half-sent connection), the oldest first; else an
//! idle keep-alive one, the oldest first. A connection inside a request is never shed, nor one
//! not yet read once (what its client sent may be waiting in the socket). When no connection
//! can give its place, new connections wait in the listen backlog until one can. So the
//! process holds at most `max_connections` client sockets (and the one it is placing), and a
//! flood of idle or half-open connections is turned over in the order it came, never ahead of
//! a client that sends its request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::metrics::Metrics;
use super::tls::ListenerTls;

/// The limits a connection lives under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// How long after shutdown starts the connections still serving a request get to finish it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What a connection is doing, as its socket and its requests say. Times are milliseconds
/// since the server started (`clock`); 0 means "not now".
#[derive(Default)]
pub struct Activity {
    /// Requests being served (a head was read, the answer is not yet given).
    open_requests: AtomicU64,
    /// Requests answered on this connection.
    served: AtomicU64,
    /// When the connection last became idle: opened, or its last request answered.
    idle_since: AtomicU64,
    /// When the first byte of the request head now arriving came (0: none is).
    head_since: AtomicU64,
    /// Whether the connection has been read once since it was accepted: before that, what
    /// its client sent may be waiting unread in the socket, and it is never shed.
    settled: AtomicBool,
}

/// Why a connection was closed by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    HeadTimeout,
    IdleTimeout,
}

impl Activity {
    fn new(now: u64) -> Activity {
        let a = Activity::default();
        a.idle_since.store(now.max(1), Relaxed);
        a
    }

    /// Bytes came in on the socket.
    fn bytes_arrived(&self, now: u64) {
        if self.open_requests.load(Relaxed) == 0 && self.head_since.load(Relaxed) == 0 {
            self.head_since.store(now.max(1), Relaxed);
        }
    }

    /// A request head was read: the request is being served until the guard drops.
    fn request_started(self: &Arc<Self>, clock: Instant) -> RequestGuard {
        self.open_requests.fetch_add(1, Relaxed);
        self.head_since.store(0, Relaxed);
        RequestGuard { activity: self.clone(), clock }
    }

    /// Whether the connection is past a limit, and which.
    fn overdue(&self, now: u64, limits: &Limits) -> Option<Closed> {
        if self.open_requests.load(Relaxed) > 0 {
            return None;
        }
        let past = |since: u64, limit: Duration| since != 0 && now.saturating_sub(since) > limit.as_millis() as u64;
        let head = self.head_since.load(Relaxed);
        if head != 0 {
            return past(head, limits.header_timeout).then_some(Closed::HeadTimeout);
        }
        past(self.idle_since.load(Relaxed), limits.idle_timeout).then_some(Closed::IdleTimeout)
    }

    /// How readily this connection gives its place to a new one: `None` while it serves a
    /// request; lower first. Never-used connections (silent or half-sent) before idle
    /// keep-alive ones, the oldest first within each.
    fn shed_rank(&self) -> Option<(bool, u64)> {
        if self.open_requests.load(Relaxed) > 0 || !self.settled.load(Relaxed) {
            return None;
        }
        let since = match self.head_since.load(Relaxed) {
            0 => self.idle_since.load(Relaxed),
            head => head,
        };
        Some((self.served.load(Relaxed) > 0, since))
    }
}

struct RequestGuard {
    activity: Arc<Activity>,
    clock: Instant,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let a = &self.activity;
        a.served.fetch_add(1, Relaxed);
        a.idle_since.store(millis(self.clock).max(1), Relaxed);
        a.open_requests.fetch_sub(1, Relaxed);
    }
}

fn millis(clock: Instant) -> u64 {
    clock.elapsed().as_millis() as u64
}

/// A socket that tells its connection's [`Activity`] when bytes come in.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    clock: Instant,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_arrived(millis(self.clock));
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The open connections: what each is doing, and its task (aborting it closes the socket).
#[derive(Default)]
struct Open {
    next_id: u64,
    by_id: HashMap<u64, (Arc<Activity>, JoinHandle<()>)>,
}

struct Shared {
    open: Mutex<Open>,
    /// Told whenever a connection ends, for an accept loop waiting at the bound.
    ended: Notify,
    metrics: Arc<Metrics>,
    limits: Limits,
    clock: Instant,
}

impl Shared {
    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn full(&self, max: usize) -> bool {
        self.open().by_id.len() >= max
    }

    fn can_shed(&self) -> bool {
        self.open().by_id.values().any(|(a, _)| a.shed_rank().is_some())
    }

    /// Waits until a connection ends, or a moment passes (a request ending, or a new
    /// connection read once, says nothing); false when shutting down.
    async fn wait_for_change(&self, shutdown: &mut watch::Receiver<bool>) -> bool {
        tokio::select! {
            _ = self.ended.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = shutdown.changed() => {}
        }
        !*shutdown.borrow()
    }

    /// Takes the place of the connection readiest to give it (see the module's comment):
    /// its task, already removed from the open set, to be aborted. `None` when every open
    /// connection is serving a request.
    fn shed_one(&self) -> Option<JoinHandle<()>> {
        let mut open = self.open();
        let victim = open.by_id.iter().filter_map(|(id, (a, _))| Some((a.shed_rank()?, *id))).min()?.1;
        open.by_id.remove(&victim).map(|(_, task)| task)
    }
}

/// Accepts connections on `listener` and serves `router` on each until `shutdown` turns true;
/// then stops accepting, lets the requests in flight finish (at most [`SHUTDOWN_GRACE`]) and
/// returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    tls: Option<Arc<ListenerTls>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let shared =
        Arc::new(Shared { open: Mutex::default(), ended: Notify::new(), metrics, limits, clock: Instant::now() });
    let max = limits.max_connections.max(1);
    loop {
        // At the bound with no place to give (every connection inside a request or not yet
        // read): new connections wait in the listen backlog.
        while shared.full(max) && !shared.can_shed() {
            if !shared.wait_for_change(&mut shutdown).await {
                break;
            }
        }
        if *shutdown.borrow() {
            break;
        }
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or memory for a moment: not a reason to stop serving.
                    eprintln!("winrm-detect serve: warn: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        // Make room for it: shed the connection readiest to go (never this one, which is not
        // in the open set yet), or wait for one to end or to become sheddable.
        while shared.full(max) {
            match shared.shed_one() {
                Some(task) => {
                    task.abort();
                    // Its socket is closed once the task is dropped: wait for that, so that
                    // the process holds no more than the bound (and this one, in hand).
                    let _ = task.await;
                    shared.metrics.connections_shed.fetch_add(1, Relaxed);
                    shared.metrics.connections_open.fetch_sub(1, Relaxed);
                }
                None if !shared.wait_for_change(&mut shutdown).await => break,
                None => {}
            }
        }
        if *shutdown.borrow() {
            break;
        }
        let _ = stream.set_nodelay(true);
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        start(&shared, stream, acceptor, router.clone(), shutdown.clone());
    }
    drop(listener);
    // Wait for the connections to finish what they serve (each stops at its own grace).
    loop {
        let tasks: Vec<JoinHandle<()>> = shared.open().by_id.drain().map(|(_, (_, task))| task).collect();
        if tasks.is_empty() {
            break;
        }
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// A connection's byte stream: the watched socket, or TLS over it.
trait Socket: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Socket for T {}

/// Starts serving one connection, watched, in a task of its own (after its TLS handshake,
/// with `tls`).
fn start(
    shared: &Arc<Shared>,
    stream: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let clock = shared.clock;
    let activity = Arc::new(Activity::new(millis(clock)));
    let watched = Watched { stream, activity: activity.clone(), clock };
    let tower = TowerToHyperService::new(router);
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let guard = requests.request_started(clock);
        let answer = hyper::service::Service::call(&tower, request);
        async move {
            let response = answer.await;
            drop(guard);
            response.map_err(|e: Infallible| match e {})
        }
    });
    let limits = shared.limits;
    // Our limits are the ones that apply (hyper's header timer cannot tell idle from slow).
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(None).keep_alive(true);
    let tick =
        (limits.header_timeout.min(limits.idle_timeout) / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
    let metrics = shared.metrics.clone();
    let watcher = activity.clone();
    let ended = shared.clone();
    // Held until the task is in the open set: a task that ends at once waits here to remove
    // itself, instead of finding nothing to remove and leaving its entry behind.
    let mut open = shared.open();
    let id = open.next_id;
    open.next_id += 1;
    metrics.connections_total.fetch_add(1, Relaxed);
    metrics.connections_open.fetch_add(1, Relaxed);
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(tick);
        // Whether the connection is past a limit (counted when it is), once per tick.
        let overdue = |watcher: &Activity| {
            watcher.settled.store(true, Relaxed);
            let why = watcher.overdue(millis(clock), &limits)?;
            metrics.timeout(match why {
                Closed::HeadTimeout => "head",
                Closed::IdleTimeout => "idle",
            });
            Some(why)
        };
        let socket: Option<Box<dyn Socket>> = match tls {
            None => Some(Box::new(watched)),
            Some(acceptor) => {
                let mut accepting = acceptor.accept(watched);
                loop {
                    tokio::select! {
                        biased;
                        accepted = &mut accepting => match accepted {
                            Ok(stream) => break Some(Box::new(stream)),
                            Err(_) => {
                                metrics.tls_handshake_failures.fetch_add(1, Relaxed);
                                break None;
                            }
                        },
                        _ = ticks.tick() => if overdue(&watcher).is_some() { break None },
                        _ = shutdown.changed() => break None,
                    }
                }
            }
        };
        if let Some(socket) = socket {
            let mut connection = Box::pin(builder.serve_connection(TokioIo::new(socket), service));
            let mut stopping: Option<Instant> = None;
            loop {
                tokio::select! {
                    // The connection first: the first tick, at once, comes after its first read.
                    biased;
                    _ = connection.as_mut() => break,
                    _ = ticks.tick() => {
                        if stopping.is_some_and(|s| s.elapsed() > SHUTDOWN_GRACE) || overdue(&watcher).is_some() {
                            break;
                        }
                    }
                    _ = shutdown.changed(), if stopping.is_none() => {
                        connection.as_mut().graceful_shutdown();
                        stopping = Some(Instant::now());
                    }
                }
            }
            // The connection is closed when its future is dropped, here.
            drop(connection);
        }
        let was_open = ended.open().by_id.remove(&id).is_some();
        if was_open {
            ended.metrics.connections_open.fetch_sub(1, Relaxed);
        }
        ended.ended.notify_one();
    });
    open.by_id.insert(id, (activity, task));
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits =
        Limits { max_connections: 4, header_timeout: Duration::from_secs(10), idle_timeout: Duration::from_secs(60) };

    #[test]
    fn idle_and_half_sent_connections_run_out_of_time_apart() {
        let a = Activity::new(1_000);
        assert_eq!(a.overdue(50_000, &LIMITS), None);
        assert_eq!(a.overdue(61_001, &LIMITS), Some(Closed::IdleTimeout));
        a.bytes_arrived(20_000);
        assert_eq!(a.overdue(29_000, &LIMITS), None);
        assert_eq!(a.overdue(30_001, &LIMITS), Some(Closed::HeadTimeout));
    }

    #[test]
    fn a_request_being_served_is_never_timed_out_nor_shed() {
        let clock = Instant::now();
        let a = Arc::new(Activity::new(1));
        a.settled.store(true, Relaxed);
        a.bytes_arrived(5);
        let guard = a.request_started(clock);
        assert_eq!(a.overdue(1_000_000, &LIMITS), None);
        assert_eq!(a.shed_rank(), None);
        drop(guard);
        assert_eq!(a.served.load(Relaxed), 1);
        assert_eq!(a.head_since.load(Relaxed), 0, "the head was read");
        // Body bytes of the request did not start a new head.
        assert_eq!(a.shed_rank().map(|r| r.0), Some(true));
    }

    #[test]
    fn never_used_connections_are_shed_before_keep_alive_ones() {
        let silent = Activity::new(5_000);
        let half_sent = Activity::new(1_000);
        half_sent.bytes_arrived(2_000);
        let keep_alive = Activity::new(100);
        keep_alive.served.store(1, Relaxed);
        let unread = Activity::new(1);
        assert_eq!(unread.shed_rank(), None, "a connection not yet read is never shed");
        for a in [&silent, &half_sent, &keep_alive] {
            a.settled.store(true, Relaxed);
        }
        let mut ranks =
            [("silent", silent.shed_rank()), ("half", half_sent.shed_rank()), ("kept", keep_alive.shed_rank())];
        ranks.sort_by_key(|r| r.1);
        assert_eq!(ranks.map(|r| r.0), ["half", "silent", "kept"]);
    }
}
