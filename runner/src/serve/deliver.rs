//! What `serve` hands on, and to whom: each event as a record with what the detection added
//! (`winrm_detect`, or `winrm_detect_error` for an event it could not read; as attributes in
//! OTLP, see `otlp`), posted to the next hop (`--forward`) or written to stdout. `deliver` returns only once the records are
//! with the next hop (a 2xx answer) or flushed to stdout: the caller acknowledges the shipper
//! only then.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use winrm_detect::Output;

use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest};

use super::otlp;
use crate::backend::Outcome;

/// Which events are handed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// Every event: those something fired on with `winrm_detect`, those the detection could not
    /// read with `winrm_detect_error`, the others as they came.
    All,
    /// Only the events the rule fired on, and those it could not read (with the error).
    Matches,
}

impl Emit {
    /// Whether the event with `outcome` is handed on: every one, or only those something
    /// fired on or that could not be read.
    pub fn keeps(self, outcome: &Outcome) -> bool {
        self == Emit::All || !matches!(outcome, Ok(annotations) if annotations.is_empty())
    }
}

/// How a batch of records is framed for the next hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ForwardFormat {
    /// One JSON record per line (Vector `http_server` with newline-delimited framing, Fluent
    /// Bit `http` input, Logstash `http` input with `json_lines`).
    Ndjson,
    /// One JSON array of records.
    JsonArray,
    /// Splunk HTTP Event Collector (`/services/collector/event`): `{"event": record}` objects,
    /// one after another.
    SplunkHec,
    /// OTLP/HTTP logs: one `ExportLogsServiceRequest` per batch (protobuf, gzip) to the URL as
    /// given (an OTLP receiver's `/v1/logs`), what fired as `security_rule.*` attributes.
    Otlp,
}

/// A batch of records, framed as the destination takes them.
pub enum Outgoing {
    /// JSON records ([`record`]), for [`frame`].
    Records(Vec<Vec<u8>>),
    Otlp(ExportLogsServiceRequest),
}

/// The record handed on for one event (`winrm_detect::record`, as `scan --emit all` writes
/// it), or `None` when `emit` leaves it out.
pub fn record(event: &[u8], outcome: &Outcome, emit: Emit, output: Output) -> Option<Vec<u8>> {
    emit.keeps(outcome).then(|| {
        let mut out = Vec::with_capacity(event.len() + 2);
        winrm_detect::record::write(&mut out, event, outcome, output);
        out
    })
}

/// The body the next hop is sent.
pub fn frame(records: &[Vec<u8>], format: ForwardFormat) -> Vec<u8> {
    let size: usize = records.iter().map(|r| r.len() + 12).sum();
    let mut body = Vec::with_capacity(size + 2);
    match format {
        ForwardFormat::Ndjson => {
            for r in records {
                push_on_one_line(&mut body, r);
                body.push(b'\n');
            }
        }
        ForwardFormat::JsonArray => {
            body.push(b'[');
            for (i, r) in records.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(r);
            }
            body.push(b']');
        }
        ForwardFormat::SplunkHec => {
            for r in records {
                body.extend_from_slice(b"{\"event\":");
                push_on_one_line(&mut body, r);
                body.extend_from_slice(b"}\n");
            }
        }
        // Built as a message, never framed from JSON records (see `Outgoing`): NDJSON here.
        ForwardFormat::Otlp => return frame(records, ForwardFormat::Ndjson),
    }
    body
}

/// `record` on one line, for the framings that end a record at a line feed. A record is JSON
/// ([`record`] carries anything else as a string), where a raw line break can only be white
/// space between tokens (one inside a string is escaped): each becomes a space. An event
/// spread over lines (a pretty-printed element of a JSON array) would otherwise reach the
/// next hop as broken lines, and it would refuse the batch.
fn push_on_one_line(body: &mut Vec<u8>, record: &[u8]) {
    let start = body.len();
    body.extend_from_slice(record);
    if memchr::memchr2(b'\n', b'\r', record).is_some() {
        for b in &mut body[start..] {
            if matches!(*b, b'\n' | b'\r') {
                *b = b' ';
            }
        }
    }
}

/// Where records go.
pub enum Destination {
    Forward(Forwarder),
    Stdout(std::sync::Mutex<std::io::Stdout>),
}

pub struct Forwarder {
    client: reqwest::Client,
    url: String,
    headers: Vec<(String, String)>,
    format: ForwardFormat,
}

/// What the forwarder trusts and shows over `https://` (see [`super::tls::forward_client`]).
#[derive(Clone, Debug, Default)]
pub struct ForwardTls {
    /// Trust only these CAs (PEM), instead of the system's roots.
    pub ca: Option<std::path::PathBuf>,
    /// A client certificate and its key (PEM), for a next hop that asks for one.
    pub client_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Forwarder {
    /// `headers` as `Name: value` (e.g. `Authorization: Splunk <token>`).
    pub fn new(
        url: &str,
        headers: &[String],
        format: ForwardFormat,
        timeout: Duration,
        tls: &ForwardTls,
    ) -> Result<Forwarder> {
        let https = url.starts_with("https://");
        if !https && !url.starts_with("http://") {
            bail!("--forward {url}: an http:// or https:// URL");
        }
        if !https && (tls.ca.is_some() || tls.client_cert.is_some()) {
            bail!("--forward {url}: --forward-ca and --forward-client-cert apply to an https:// URL");
        }
        let headers = headers
            .iter()
            .map(|h| {
                let (name, value) =
                    h.split_once(':').with_context(|| format!("--forward-header {h:?}: not `Name: value`"))?;
                Ok((name.trim().to_string(), value.trim().to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let identity = tls.client_cert.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
        let builder =
            super::tls::forward_client(reqwest::Client::builder().timeout(timeout), tls.ca.as_deref(), identity)?;
        let client = builder.build().context("the forwarding client")?;
        Ok(Forwarder { client, url: url.to_string(), headers, format })
    }
}

impl Destination {
    /// Whether batches go on as OTLP ([`Outgoing::Otlp`]) rather than JSON records.
    pub fn takes_otlp(&self) -> bool {
        matches!(self, Destination::Forward(f) if f.format == ForwardFormat::Otlp)
    }

    /// Hands `batch` on; `Ok` only once it is delivered, with what an OTLP next hop took but
    /// rejected (its `partial_success`: OTLP forbids sending those records again).
    pub async fn deliver(&self, batch: Outgoing) -> Result<Option<ExportLogsPartialSuccess>> {
        match self {
            Destination::Forward(f) => {
                let request = match batch {
                    Outgoing::Records(records) => {
                        let content_type = match f.format {
                            ForwardFormat::JsonArray | ForwardFormat::SplunkHec => "application/json",
                            ForwardFormat::Ndjson | ForwardFormat::Otlp => "application/x-ndjson",
                        };
                        f.client.post(&f.url).header("content-type", content_type).body(frame(&records, f.format))
                    }
                    Outgoing::Otlp(request) => f
                        .client
                        .post(&f.url)
                        .header("content-type", otlp::Encoding::Protobuf.content_type())
                        .header("content-encoding", "gzip")
                        .body(otlp::encode_gzip(&request)),
                };
                let mut request = request;
                for (name, value) in &f.headers {
                    request = request.header(name, value);
                }
                let response = request.send().await.context("the next hop did not answer")?;
                let status = response.status();
                if !status.is_success() {
                    bail!("the next hop answered {status}");
                }
                if f.format != ForwardFormat::Otlp {
                    return Ok(None);
                }
                let content_type =
                    response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
                let body = response.bytes().await.unwrap_or_default();
                Ok(otlp::rejected(content_type.as_deref(), &body))
            }
            Destination::Stdout(out) => {
                let body = match batch {
                    Outgoing::Records(records) => frame(&records, ForwardFormat::Ndjson),
                    // Stdout takes JSON records only (`serve` builds none other for it).
                    Outgoing::Otlp(_) => bail!("an OTLP batch for stdout"),
                };
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                out.write_all(&body).and_then(|_| out.flush()).context("writing to stdout")?;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winrm_detect::{ErrorKind, ScanError};

    #[test]
    fn records_keep_the_event_and_add_the_verdict() {
        let ok: Outcome = Ok(Vec::new());
        assert_eq!(record(br#"{"a":1}"#, &ok, Emit::All, Output::Native).unwrap(), br#"{"a":1}"#);
        assert!(record(br#"{"a":1}"#, &ok, Emit::Matches, Output::Native).is_none());
        let broken: Outcome = Err(ScanError::new(ErrorKind::BrokenJson, "eof"));
        let out = record(b"{\"a\":", &broken, Emit::Matches, Output::Native).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["log"], "{\"a\":");
        assert_eq!(v["winrm_detect_error"]["kind"], "broken-json");
        let out = record(b"<Event>x</Event>", &ok, Emit::All, Output::Native).unwrap();
        assert_eq!(out, br#"{"log":"<Event>x</Event>"}"#);
        // Passed by the fast reject unparsed, but not JSON: carried as text, never spliced
        // (one bad record would make the next hop refuse the whole batch, forever).
        let out = record(br#"{"a":1,}"#, &ok, Emit::All, Output::Native).unwrap();
        assert_eq!(out, br#"{"log":"{\"a\":1,}"}"#);
    }

    #[test]
    fn frames() {
        let records = vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()];
        assert_eq!(frame(&records, ForwardFormat::Ndjson), b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(frame(&records, ForwardFormat::JsonArray), b"[{\"a\":1},{\"b\":2}]");
        assert_eq!(frame(&records, ForwardFormat::SplunkHec), b"{\"event\":{\"a\":1}}\n{\"event\":{\"b\":2}}\n");
        // An event spread over lines (a pretty-printed JSON array element) stays one record
        // per line: the serve_body fuzz property checks every framing of any body.
        let pretty = vec![b"{\n  \"a\": \"x\\ny\",\r\n  \"b\": 2\n}".to_vec()];
        assert_eq!(frame(&pretty, ForwardFormat::Ndjson), b"{   \"a\": \"x\\ny\",    \"b\": 2 }\n");
        assert_eq!(frame(&pretty, ForwardFormat::SplunkHec), b"{\"event\":{   \"a\": \"x\\ny\",    \"b\": 2 }}\n");
    }
}
