//! `winrm-detect serve`: the detection as an HTTP sidecar for shippers without a wasm hook
//! (Vector, Logstash, Filebeat, the OpenTelemetry Collector, or Fluent Bit's `http` or
//! `opentelemetry` output). A shipper posts a batch (JSON or text events, `body`, at any path;
//! OTLP logs at `/v1/logs`, `otlp`); the batch is scanned by the component (a pool of
//! instances) and handed on (`deliver`, as JSON records or OTLP, whichever way it came); only
//! then is the shipper answered 2xx. When the next hop does not take the batch the answer is
//! 503, and the shipper retries: at least once, nothing acknowledged that was not delivered.
//!
//! Bounded by construction, whatever clients do (`conn` for the connections):
//! - memory: request bodies are read into a shared budget of `max_in_flight` ×
//!   `max_body_bytes` bytes, taken as the bytes arrive (a client that announces a large body
//!   and sends nothing holds nothing; one that waits for budget waits unread, so TCP holds the
//!   rest), each body at most `max_body_bytes` (413 past it, before or after gzip); at most
//!   `max_in_flight` bodies are decoded, scanned and delivered at once;
//! - time: a body must arrive within `body_timeout` of its head (408 past it), a head within
//!   `header_timeout` of its first byte, and a keep-alive connection is closed after
//!   `idle_timeout` without a request;
//! - connections: at most `max_connections`, the least used shed first at the bound.

pub mod body;
pub mod conn;
pub mod deliver;
pub mod metrics;
pub mod otlp;
pub mod pool;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt;
use tokio::sync::{Semaphore, SemaphorePermit};
use winrm_detect::Output;

use crate::component::Runtime;
use body::BodyError;
use deliver::{Destination, Emit, Outgoing};
use metrics::Metrics;
use pool::Pool;

pub struct Options {
    pub listen: SocketAddr,
    /// TLS on the listener: its certificate, key and (mutual TLS) client CA.
    pub tls: Option<tls::ListenerFiles>,
    /// The detector's configuration (JSON), the same as every host's.
    pub config: String,
    /// The annotations' field convention, from that configuration.
    pub output: Output,
    pub workers: usize,
    pub emit: Emit,
    pub destination: Destination,
    /// The bearer token every request but `GET /health` must carry.
    pub token: Option<String>,
    pub max_body_bytes: usize,
    pub max_in_flight: usize,
    pub body_timeout: Duration,
    pub connections: conn::Limits,
}

struct App {
    pool: Pool,
    destination: Destination,
    emit: Emit,
    output: Output,
    token: Option<String>,
    max_body_bytes: usize,
    body_timeout: Duration,
    /// Bytes of request bodies held at once (see the module's comment).
    body_budget: Semaphore,
    in_flight: Semaphore,
    metrics: Arc<Metrics>,
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn run(
    options: Options,
    runtime: Runtime,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let pool = Pool::new(runtime, &options.config, options.workers)?;
    let has_token = options.token.is_some();
    let metrics = Arc::new(Metrics::default());
    let max_in_flight = options.max_in_flight.max(1);
    let budget = max_in_flight.saturating_mul(options.max_body_bytes).clamp(1, Semaphore::MAX_PERMITS);
    let app = Arc::new(App {
        pool,
        destination: options.destination,
        emit: options.emit,
        output: options.output,
        token: options.token,
        max_body_bytes: options.max_body_bytes,
        body_timeout: options.body_timeout,
        body_budget: Semaphore::new(budget),
        in_flight: Semaphore::new(max_in_flight),
        metrics: metrics.clone(),
    });
    let router = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics_page))
        .fallback(ingest)
        .with_state(app);
    let tls = options.tls.map(tls::ListenerTls::load).transpose()?.map(Arc::new);
    let mutual = tls.as_ref().is_some_and(|t| t.mutual());
    for warning in exposure_warnings(options.listen, tls.is_some(), has_token || mutual) {
        eprintln!("winrm-detect serve: warn: {warning}");
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let clients = if mutual { ", client certificates required" } else { "" };
    eprintln!("winrm-detect serve: listening on {scheme}://{}{clients}", listener.local_addr()?);
    if let Some(tls) = &tls {
        reload_on_hangup(tls.clone(), metrics.clone())?;
    }
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    conn::serve(listener, router, options.connections, metrics, tls, stopping).await;
    Ok(())
}

/// What a person must hear before serving beyond loopback: the events (command lines, user
/// and host names) and the bearer token cross the network in clear without TLS, and anyone
/// who reaches the port can post and read `/metrics` without a token (or a client certificate:
/// `authenticated`).
pub fn exposure_warnings(listen: SocketAddr, tls: bool, authenticated: bool) -> Vec<String> {
    if listen.ip().is_loopback() {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    if !tls {
        warnings.push(format!(
            "listening on {listen} without TLS: events and any bearer token cross the network readable by anyone on \
             the path; give --tls-cert and --tls-key (and --tls-client-ca to serve only your shippers), or listen on \
             127.0.0.1 beside the shipper"
        ));
    }
    if !authenticated {
        warnings.push(format!(
            "listening on {listen} without a token: anyone who reaches the port can post events and read /metrics; \
             give --token-file, or --tls-client-ca to serve only shippers with a certificate from your CA"
        ));
    }
    warnings
}

/// Reads the listener's certificate and key again on every SIGHUP: new connections get the
/// new ones, open connections keep theirs; a reload that fails keeps the old ones and says why.
fn reload_on_hangup(tls: Arc<tls::ListenerTls>, metrics: Arc<Metrics>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => eprintln!("winrm-detect serve: SIGHUP: certificate and key read again"),
                Err(e) => {
                    metrics.tls_reload_failures.fetch_add(1, Relaxed);
                    eprintln!("winrm-detect serve: error: SIGHUP: {e:#}; the certificate in use stays")
                }
            }
        }
    });
    Ok(())
}

fn authorised(app: &App, headers: &HeaderMap) -> bool {
    let Some(token) = &app.token else { return true };
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Compared without an early exit, so that the time taken says nothing of the token.
    given.is_some_and(|g| g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0, |d, (a, b)| d | (a ^ b)) == 0)
}

async fn metrics_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !authorised(&app, &headers) {
        return (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response()
}

/// How a request speaks, from its path: OTLP/HTTP logs at [`otlp::LOGS_PATH`] (with the
/// encoding its `Content-Type` names, `None` for one OTLP does not define), JSON or text events
/// anywhere else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Events,
    Otlp(Option<otlp::Encoding>),
}

/// What a request is answered with besides its status: a message (text for events, a
/// `google.rpc.Status` in OTLP), or an OTLP response.
enum Answer {
    Message(String),
    Otlp(otlp::Encoding, Vec<u8>),
}

async fn ingest(State(app): State<Arc<App>>, method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let protocol = if uri.path() == otlp::LOGS_PATH {
        Protocol::Otlp(otlp::Encoding::of(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())))
    } else {
        Protocol::Events
    };
    let (status, answer) = handle(&app, protocol, method, &headers, body).await;
    let mut response = match (protocol, answer) {
        // An OTLP client is refused in OTLP's terms (a `google.rpc.Status`).
        (Protocol::Otlp(encoding), Answer::Message(message)) if !status.is_success() => {
            let (content_type, body) = otlp::status(encoding, status.as_u16(), &message);
            (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        (_, Answer::Message(message)) => (status, message).into_response(),
        (_, Answer::Otlp(encoding, body)) => {
            (status, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
        }
    };
    app.metrics.request(status.as_u16(), started.elapsed());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    if status == StatusCode::REQUEST_TIMEOUT {
        // The rest of the body may still be on its way: this connection is done.
        response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    }
    response
}

async fn handle(
    app: &App,
    protocol: Protocol,
    method: Method,
    headers: &HeaderMap,
    body: Body,
) -> (StatusCode, Answer) {
    let refusal = if method != Method::POST {
        Some((StatusCode::METHOD_NOT_ALLOWED, "POST events; GET /health, /metrics\n".into()))
    } else if !authorised(app, headers) {
        Some((StatusCode::UNAUTHORIZED, "a bearer token is required\n".into()))
    } else if protocol == Protocol::Otlp(None) {
        let message = "OTLP logs are application/x-protobuf or application/json (Content-Type)\n";
        Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, message.into()))
    } else {
        let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        declared.is_some_and(|n| n > app.max_body_bytes).then(|| too_large(app.max_body_bytes))
    };
    if let Some((status, message)) = refusal {
        discard(body).await;
        return (status, Answer::Message(message));
    }
    // The body, into the shared budget as it arrives; a client that waits for budget waits
    // unread, and TCP pushes back on it.
    let deadline = tokio::time::Instant::now() + app.body_timeout;
    let message = |(status, message): (StatusCode, String)| (status, Answer::Message(message));
    let (raw, _held) = match tokio::time::timeout_at(deadline, read_body(app, body)).await {
        Ok(Ok(read)) => read,
        Ok(Err(None)) => return message(too_large(app.max_body_bytes)),
        Ok(Err(Some(e))) => return message((StatusCode::BAD_REQUEST, format!("reading the body: {e}\n"))),
        Err(_) => {
            app.metrics.timeout("body");
            let text = format!(
                "the body did not arrive within {} s (--body-timeout); send it faster or in smaller batches\n",
                app.body_timeout.as_secs_f64()
            );
            return message((StatusCode::REQUEST_TIMEOUT, text));
        }
    };
    // Decoding, scanning and delivering, at most max_in_flight at once.
    let Ok(_permit) = app.in_flight.acquire().await else {
        return message((StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into()));
    };
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok());
    let text = match body::decode(encoding, raw, app.max_body_bytes) {
        Ok(t) => t,
        Err(BodyError::TooLarge(limit)) => return message(too_large(limit)),
        Err(BodyError::BadEncoding(m)) => return message((StatusCode::BAD_REQUEST, format!("{m}\n"))),
        Err(BodyError::UnsupportedEncoding(m)) => {
            let text = format!("Content-Encoding {m}: send gzip or nothing\n");
            return message((StatusCode::UNSUPPORTED_MEDIA_TYPE, text));
        }
    };
    let (events, request) = match protocol {
        Protocol::Events => (pool::Batch::new(&body::events(&text)), None),
        Protocol::Otlp(encoding) => {
            let encoding = encoding.unwrap_or(otlp::Encoding::Protobuf);
            match otlp::decode(&text, encoding) {
                Ok(request) => {
                    let events: Vec<Vec<u8>> = otlp::records(&request).map(otlp::event).collect();
                    (pool::Batch::Events(events), Some((request, encoding)))
                }
                Err(why) => return message((StatusCode::BAD_REQUEST, format!("{why}\n"))),
            }
        }
    };
    drop(text);
    let scanned = match app.pool.scan(events).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("winrm-detect serve: error: {e:#}");
            return message((StatusCode::INTERNAL_SERVER_ERROR, "scanning failed\n".into()));
        }
    };
    let (mut matched, mut errors) = (0, 0);
    for outcome in &scanned.outcomes {
        match outcome {
            Ok(a) if !a.is_empty() => matched += 1,
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                app.metrics.error(e.kind.as_str());
            }
        }
    }
    let (outgoing, handed_on, answer_in) = outgoing(app, &scanned, request);
    let m = &app.metrics;
    let events = scanned.events.len();
    m.events.fetch_add(events as u64, Relaxed);
    m.matched.fetch_add(matched, Relaxed);
    m.suppressed.fetch_add(scanned.suppressed, Relaxed);
    let mut rejected = None;
    if handed_on > 0 {
        match app.destination.deliver(outgoing).await {
            Ok(partial) => rejected = partial,
            Err(e) => {
                m.forward_failures.fetch_add(1, Relaxed);
                // What failed, never what the events held.
                eprintln!("winrm-detect serve: warn: {events} events not delivered, answered 503: {e:#}");
                let text = "the next hop did not take the batch; retry\n";
                return message((StatusCode::SERVICE_UNAVAILABLE, text.into()));
            }
        }
    }
    m.forwarded_records.fetch_add(handed_on as u64, Relaxed);
    if let Some(p) = &rejected {
        // Taken, but not kept: OTLP forbids sending these again, so the shipper is told (in
        // its own partial success when it spoke OTLP) and the count kept, and nothing retried.
        let n = u64::try_from(p.rejected_log_records).unwrap_or(0);
        m.forward_rejected_records.fetch_add(n, Relaxed);
        eprintln!("winrm-detect serve: warn: the next hop rejected {n} of {handed_on} records: {}", p.error_message);
    }
    match answer_in {
        Some(encoding) => (StatusCode::OK, Answer::Otlp(encoding, otlp::response(encoding, rejected))),
        None => {
            let rejected = rejected.map_or(0, |p| p.rejected_log_records);
            let answer = serde_json::json!({
                "events": events, "matched": matched, "errors": errors, "delivered": handed_on, "rejected": rejected,
            });
            (StatusCode::OK, Answer::Message(format!("{answer}\n")))
        }
    }
}

/// What a scanned batch hands on, framed as the destination takes it, with the number of
/// records in it and the encoding an OTLP request is answered in (`None`: it was not one).
fn outgoing(
    app: &App,
    scanned: &pool::Scanned,
    request: Option<(opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest, otlp::Encoding)>,
) -> (Outgoing, usize, Option<otlp::Encoding>) {
    let answer_in = request.as_ref().map(|(_, encoding)| *encoding);
    let outcomes = &scanned.outcomes;
    if app.destination.takes_otlp() {
        let (request, n) = match request {
            Some((request, _)) => otlp::annotate(request, outcomes, app.emit, app.output),
            None => otlp::from_events(scanned.events.iter(), outcomes, app.emit, app.output),
        };
        return (Outgoing::Otlp(request), n, answer_in);
    }
    let records: Vec<Vec<u8>> = scanned
        .events
        .iter()
        .zip(outcomes)
        .filter_map(|(event, outcome)| deliver::record(event, outcome, app.emit, app.output))
        .collect();
    let n = records.len();
    (Outgoing::Records(records), n, answer_in)
}

/// The body and the budget it holds, or `Err(None)` past `max_body_bytes` (the rest read and
/// dropped, see [`discard`]).
async fn read_body(app: &App, mut body: Body) -> Result<(Vec<u8>, Option<SemaphorePermit<'_>>), Option<axum::Error>> {
    let mut raw = Vec::new();
    let mut held: Option<SemaphorePermit<'_>> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Some)?;
        if let Some(data) = frame.data_ref() {
            if raw.len() + data.len() > app.max_body_bytes {
                discard(body).await;
                return Err(None);
            }
            // Within max_body_bytes, so within the budget and a u32.
            let Ok(more) = app.body_budget.acquire_many(data.len() as u32).await else { return Err(None) };
            match &mut held {
                Some(h) => h.merge(more),
                None => held = Some(more),
            }
            raw.extend_from_slice(data);
        }
    }
    Ok((raw, held))
}

/// Reads what the client is still sending before answering a refusal, and drops it: a server
/// that answers and closes while the client writes makes the client's write fail (a reset or
/// broken pipe) before it reads the answer, so a shipper would see a network error to retry
/// forever instead of a 413 or 401 it can act on. nginx calls this a lingering close; like its,
/// ours is bounded, in bytes and in time, and holds no memory.
async fn discard(mut body: Body) {
    const DRAIN_BYTES: usize = 64 << 20;
    const DRAIN_TIME: Duration = Duration::from_secs(5);
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut read = 0;
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, |d| d.len());
            if read > DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}

fn too_large(limit: usize) -> (StatusCode, String) {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is over {limit} bytes (--max-body-bytes); send smaller batches\n"),
    )
}
