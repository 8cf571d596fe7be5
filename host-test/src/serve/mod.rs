//! `winrm-detect serve`: the detection as an HTTP sidecar for shippers without a wasm hook
//! (Vector, Logstash, Filebeat, the OpenTelemetry Collector, or Fluent Bit's `http` output).
//! A shipper posts a batch; the batch is scanned by the component (a pool of instances) and
//! handed on (`deliver`); only then is the shipper answered 2xx. When the next hop does not
//! take the batch the answer is 503, and the shipper retries: at least once, nothing
//! acknowledged that was not delivered.
//!
//! Memory is bounded by construction: at most `max_in_flight` bodies are read at a time (a
//! request beyond that waits before its body is read, so TCP holds the rest), each at most
//! `max_body_bytes` (413 past it, before or after gzip).

pub mod body;
pub mod deliver;
pub mod metrics;
pub mod pool;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt;
use tokio::sync::Semaphore;
use winrm_detect::Output;

use crate::component::Runtime;
use body::BodyError;
use deliver::{Destination, Emit};
use metrics::Metrics;
use pool::Pool;

pub struct Options {
    pub listen: SocketAddr,
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
}

struct App {
    pool: Pool,
    destination: Destination,
    emit: Emit,
    output: Output,
    token: Option<String>,
    max_body_bytes: usize,
    in_flight: Semaphore,
    metrics: Metrics,
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn run(
    options: Options,
    runtime: Runtime,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let pool = Pool::new(runtime, &options.config, options.workers)?;
    let app = Arc::new(App {
        pool,
        destination: options.destination,
        emit: options.emit,
        output: options.output,
        token: options.token,
        max_body_bytes: options.max_body_bytes,
        in_flight: Semaphore::new(options.max_in_flight.max(1)),
        metrics: Metrics::default(),
    });
    let router = Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .fallback(ingest)
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    eprintln!("winrm-detect serve: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await.context("serving")?;
    Ok(())
}

fn authorised(app: &App, headers: &HeaderMap) -> bool {
    let Some(token) = &app.token else { return true };
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Compared without an early exit, so that the time taken says nothing of the token.
    given.is_some_and(|g| g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0, |d, (a, b)| d | (a ^ b)) == 0)
}

async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !authorised(&app, &headers) {
        return (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response()
}

async fn ingest(State(app): State<Arc<App>>, method: Method, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let (status, message) = handle(&app, method, &headers, body).await;
    app.metrics.request(status.as_u16(), started.elapsed());
    let mut response = (status, message).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

async fn handle(app: &App, method: Method, headers: &HeaderMap, body: Body) -> (StatusCode, String) {
    let refusal = if method != Method::POST {
        Some((StatusCode::METHOD_NOT_ALLOWED, "POST events; GET /health, /metrics\n".into()))
    } else if !authorised(app, headers) {
        Some((StatusCode::UNAUTHORIZED, "a bearer token is required\n".into()))
    } else {
        let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        declared.is_some_and(|n| n > app.max_body_bytes).then(|| too_large(app.max_body_bytes))
    };
    if let Some(refusal) = refusal {
        discard(body).await;
        return refusal;
    }
    // Waiting here, before the body is read, is the backpressure: the bytes stay in the socket.
    let Ok(_permit) = app.in_flight.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into());
    };
    let raw = match read_at_most(body, app.max_body_bytes).await {
        Ok(b) => b,
        Err(None) => return too_large(app.max_body_bytes),
        Err(Some(e)) => return (StatusCode::BAD_REQUEST, format!("reading the body: {e}\n")),
    };
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok());
    let text = match body::decode(encoding, raw, app.max_body_bytes) {
        Ok(t) => t,
        Err(BodyError::TooLarge(limit)) => return too_large(limit),
        Err(BodyError::BadEncoding(m)) => return (StatusCode::BAD_REQUEST, format!("{m}\n")),
        Err(BodyError::UnsupportedEncoding(m)) => {
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("Content-Encoding {m}: send gzip or nothing\n"));
        }
    };
    let events: Vec<Vec<u8>> = body::events(&text).into_iter().map(<[u8]>::to_vec).collect();
    drop(text);
    let scanned = match app.pool.scan(events).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("winrm-detect serve: error: {e:#}");
            return (StatusCode::INTERNAL_SERVER_ERROR, "scanning failed\n".into());
        }
    };
    let (mut matched, mut errors) = (0, 0);
    let mut records = Vec::new();
    for (event, outcome) in scanned.events.iter().zip(&scanned.outcomes) {
        match outcome {
            Ok(a) if !a.is_empty() => matched += 1,
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                app.metrics.error(e.kind.as_str());
            }
        }
        records.extend(deliver::record(event, outcome, app.emit, app.output));
    }
    let m = &app.metrics;
    let events = scanned.events.len();
    m.events.fetch_add(events as u64, Relaxed);
    m.matched.fetch_add(matched, Relaxed);
    m.suppressed.fetch_add(scanned.suppressed, Relaxed);
    let handed_on = records.len() as u64;
    if !records.is_empty()
        && let Err(e) = app.destination.deliver(records).await
    {
        m.forward_failures.fetch_add(1, Relaxed);
        // What failed, never what the events held.
        eprintln!("winrm-detect serve: warn: {events} events not delivered, answered 503: {e:#}");
        return (StatusCode::SERVICE_UNAVAILABLE, "the next hop did not take the batch; retry\n".into());
    }
    m.forwarded_records.fetch_add(handed_on, Relaxed);
    let answer = serde_json::json!({"events": events, "matched": matched, "errors": errors, "delivered": handed_on});
    (StatusCode::OK, format!("{answer}\n"))
}

/// The body, or `Err(None)` past `limit` (the rest read and dropped, see [`discard`]).
async fn read_at_most(mut body: Body, limit: usize) -> Result<Vec<u8>, Option<axum::Error>> {
    let mut raw = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Some)?;
        if let Some(data) = frame.data_ref() {
            if raw.len() + data.len() > limit {
                discard(body).await;
                return Err(None);
            }
            raw.extend_from_slice(data);
        }
    }
    Ok(raw)
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
