//! The counters `GET /metrics` shows, in Prometheus' text format: events, matches, suppressed
//! matches, errors by kind, requests by status, forward failures, a request latency
//! histogram, and the connections (open, accepted, shed, timed out by phase). Plain atomics:
//! every request adds to them, nothing waits on them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
pub struct Metrics {
    pub events: AtomicU64,
    pub matched: AtomicU64,
    pub suppressed: AtomicU64,
    pub forward_failures: AtomicU64,
    pub forwarded_records: AtomicU64,
    /// Records the next hop (OTLP) took but rejected in a `partial_success`.
    pub forward_rejected_records: AtomicU64,
    pub connections_total: AtomicU64,
    pub connections_open: AtomicU64,
    pub connections_shed: AtomicU64,
    /// TLS handshakes that failed (a client with no certificate, or one from another CA, or
    /// one that does not speak TLS).
    pub tls_handshake_failures: AtomicU64,
    /// Reloads of the listener's certificate (SIGHUP) that failed: the one in use stays.
    pub tls_reload_failures: AtomicU64,
    timeouts: Mutex<BTreeMap<&'static str, u64>>,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    requests: Mutex<BTreeMap<u16, u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_micros: AtomicU64,
}

impl Metrics {
    pub fn error(&self, kind: &'static str) {
        *self.errors.lock().unwrap_or_else(|p| p.into_inner()).entry(kind).or_default() += 1;
    }

    /// A client ran out of time: `head` (a request head not sent in time; closed), `body`
    /// (answered 408) or `idle` (a keep-alive connection unused for too long; closed).
    pub fn timeout(&self, phase: &'static str) {
        *self.timeouts.lock().unwrap_or_else(|p| p.into_inner()).entry(phase).or_default() += 1;
    }

    /// One request answered with `status` after `took`.
    pub fn request(&self, status: u16, took: Duration) {
        *self.requests.lock().unwrap_or_else(|p| p.into_inner()).entry(status).or_default() += 1;
        let seconds = took.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *bound {
                count.fetch_add(1, Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_micros.fetch_add(took.as_micros() as u64, Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");
        };
        counter("winrm_detect_events_total", "Events scanned.", self.events.load(Relaxed));
        counter("winrm_detect_matches_total", "Events the rule fired on (not suppressed).", self.matched.load(Relaxed));
        counter(
            "winrm_detect_suppressed_total",
            "Matches suppressed by the allowlists or report_loopback.",
            self.suppressed.load(Relaxed),
        );
        counter(
            "winrm_detect_forward_failures_total",
            "Batches the next hop did not take (each answered 503).",
            self.forward_failures.load(Relaxed),
        );
        counter(
            "winrm_detect_forwarded_records_total",
            "Records delivered to the next hop (or stdout).",
            self.forwarded_records.load(Relaxed),
        );
        counter(
            "winrm_detect_forward_rejected_records_total",
            "Records an OTLP next hop rejected in a partial success (not retried, as OTLP says).",
            self.forward_rejected_records.load(Relaxed),
        );
        counter("winrm_detect_connections_total", "Connections accepted.", self.connections_total.load(Relaxed));
        counter(
            "winrm_detect_connections_shed_total",
            "Connections closed at --max-connections to make room (never-used and idle ones first).",
            self.connections_shed.load(Relaxed),
        );
        counter(
            "winrm_detect_tls_handshake_failures_total",
            "TLS handshakes that failed (no client certificate or one from another CA, an expired one, not TLS).",
            self.tls_handshake_failures.load(Relaxed),
        );
        counter(
            "winrm_detect_tls_reload_failures_total",
            "Certificate reloads (SIGHUP) that failed; the certificate in use stayed.",
            self.tls_reload_failures.load(Relaxed),
        );
        let _ = write!(
            out,
            "# HELP winrm_detect_connections_open Client connections open now.\n\
             # TYPE winrm_detect_connections_open gauge\nwinrm_detect_connections_open {}\n",
            self.connections_open.load(Relaxed)
        );
        out.push_str("# HELP winrm_detect_timeouts_total Clients that ran out of time, by phase (head, body, idle).\n");
        out.push_str("# TYPE winrm_detect_timeouts_total counter\n");
        for (phase, n) in self.timeouts.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "winrm_detect_timeouts_total{{phase=\"{phase}\"}} {n}");
        }
        out.push_str("# HELP winrm_detect_errors_total Events that could not be read, by kind.\n");
        out.push_str("# TYPE winrm_detect_errors_total counter\n");
        for (kind, n) in self.errors.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "winrm_detect_errors_total{{kind=\"{kind}\"}} {n}");
        }
        out.push_str("# HELP winrm_detect_requests_total Requests answered, by status.\n");
        out.push_str("# TYPE winrm_detect_requests_total counter\n");
        for (status, n) in self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "winrm_detect_requests_total{{status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP winrm_detect_request_seconds Time from a request's arrival to its answer.\n");
        out.push_str("# TYPE winrm_detect_request_seconds histogram\n");
        for (bound, count) in BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(out, "winrm_detect_request_seconds_bucket{{le=\"{bound}\"}} {}", count.load(Relaxed));
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(out, "winrm_detect_request_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "winrm_detect_request_seconds_sum {}", self.latency_micros.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "winrm_detect_request_seconds_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.request(200, Duration::from_micros(800));
        m.request(503, Duration::from_millis(30));
        m.error("broken-json");
        let text = m.render();
        assert!(text.contains("winrm_detect_request_seconds_bucket{le=\"0.001\"} 1\n"), "{text}");
        assert!(text.contains("winrm_detect_request_seconds_bucket{le=\"0.05\"} 2\n"), "{text}");
        assert!(text.contains("winrm_detect_request_seconds_bucket{le=\"+Inf\"} 2\n"), "{text}");
        assert!(text.contains("winrm_detect_requests_total{status=\"503\"} 1\n"), "{text}");
        assert!(text.contains("winrm_detect_errors_total{kind=\"broken-json\"} 1\n"), "{text}");
    }
}
