//! OTLP/HTTP logs, both ways (`POST /v1/logs` in, `--forward-format otlp` out): a request's log
//! records as the events the detection reads, and records handed on as one
//! `ExportLogsServiceRequest` with what fired as attributes. The messages and their OTLP/JSON
//! mapping are opentelemetry-proto's (prost and serde), not written here.
//!
//! - **A record's body is the event**, read as any event is: a string (event XML, a JSON event,
//!   a line with either inside) as that text; a kvlist (Fluent Bit's `opentelemetry` output
//!   sends a record's map so, the Collector's `windowseventlog` receiver its parsed event) as
//!   the JSON object it maps to. The same event gives the same verdict whichever way it came.
//! - **Attributes and the resource contribute nothing to the verdict.** The host is the event's
//!   own (`System/Computer`): a resource's `host.name` is the collector's, a gateway's when one
//!   is in between, as NXLog's `Hostname`-less `host` and Splunk's forwarder `host` are (never
//!   read either). They are kept, untouched, on the way out.
//! - **What fired** goes on the record as OpenTelemetry's `security_rule.*` attributes (one
//!   string per name when one rule fired; index-aligned arrays when several did), and the rest
//!   (matcher, targets, evidence, techniques, the CIM row: the annotations whole, in the
//!   configured `output` convention) under `winrm_detect.annotations`; why an event could not be
//!   read under `winrm_detect.error` (`kind`, `message`).

use std::io::Write;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use winrm_detect::{Annotation, Matcher, Output};

use super::deliver::Emit;
use crate::backend::Outcome;

/// Where OTLP/HTTP posts logs.
pub const LOGS_PATH: &str = "/v1/logs";

/// The attribute that carries the annotations whole.
pub const ANNOTATIONS_ATTRIBUTE: &str = "winrm_detect.annotations";
/// The attribute that carries why an event could not be read.
pub const ERROR_ATTRIBUTE: &str = "winrm_detect.error";

/// The two encodings of OTLP/HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names, or `None` for one OTLP does not define (415).
    pub fn of(content_type: Option<&str>) -> Option<Encoding> {
        let essence = content_type?.split(';').next()?.trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Encoding::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// A request body (already decompressed), or why it does not decode.
pub fn decode(body: &[u8], encoding: Encoding) -> Result<ExportLogsServiceRequest, String> {
    match encoding {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body)
            .map_err(|e| format!("not an OTLP protobuf ExportLogsServiceRequest: {e}")),
        Encoding::Json => {
            let why = |e: serde_json::Error| format!("not an OTLP/JSON ExportLogsServiceRequest: {e}");
            let mut value: serde_json::Value = serde_json::from_slice(body).map_err(why)?;
            empty_lists_spelled_out(&mut value);
            serde_json::from_value(value).map_err(why)
        }
    }
}

/// OTLP/JSON leaves out an empty repeated field, as proto3's JSON mapping does: an empty map
/// in a body is `{"kvlistValue": {}}`. opentelemetry-proto requires `values` there, and would
/// refuse the whole batch for one empty map; it is put back before the message is read.
fn empty_lists_spelled_out(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for key in ["arrayValue", "kvlistValue"] {
                if let Some(serde_json::Value::Object(list)) = map.get_mut(key) {
                    list.entry("values").or_insert_with(|| serde_json::Value::Array(Vec::new()));
                }
            }
            map.values_mut().for_each(empty_lists_spelled_out);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(empty_lists_spelled_out),
        _ => {}
    }
}

/// Every log record of `request`, in order (resource, scope, record).
pub fn records(request: &ExportLogsServiceRequest) -> impl Iterator<Item = &LogRecord> {
    request.resource_logs.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records)
}

/// The event a log record's body is, as the detection reads it (see the module's comment).
/// An empty body is an empty event, which the detection reports as such.
pub fn event(record: &LogRecord) -> Vec<u8> {
    match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        None => Vec::new(),
        Some(Value::StringValue(text)) => text.as_bytes().to_vec(),
        Some(Value::BytesValue(bytes)) => bytes.clone(),
        Some(other) => serde_json::to_vec(&to_json(other)).unwrap_or_default(),
    }
}

/// An OTLP value as JSON: a kvlist as an object (the first of a repeated key kept, as the
/// detection's readers keep the first), bytes as base64 text (OTLP/JSON's own mapping).
fn to_json(value: &Value) -> serde_json::Value {
    use base64::Engine as _;
    use serde_json::Value as J;
    let any = |v: &Option<AnyValue>| v.as_ref().and_then(|a| a.value.as_ref()).map_or(J::Null, to_json);
    match value {
        Value::StringValue(s) => J::String(s.clone()),
        Value::BoolValue(b) => J::Bool(*b),
        Value::IntValue(i) => J::from(*i),
        Value::DoubleValue(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        Value::ArrayValue(a) => J::Array(a.values.iter().map(|v| v.value.as_ref().map_or(J::Null, to_json)).collect()),
        Value::KvlistValue(kv) => {
            let mut object = serde_json::Map::with_capacity(kv.values.len());
            for pair in &kv.values {
                if !object.contains_key(&pair.key) {
                    object.insert(pair.key.clone(), any(&pair.value));
                }
            }
            J::Object(object)
        }
        Value::BytesValue(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        // A profiles-only reference into a table logs do not have.
        Value::StringValueStrindex(_) => J::Null,
    }
}

/// JSON as an OTLP value: an object as a kvlist (its keys in order), a whole number as an
/// integer, any other number as a double.
pub fn from_json(value: &serde_json::Value) -> AnyValue {
    use serde_json::Value as J;
    let value = match value {
        J::Null => None,
        J::Bool(b) => Some(Value::BoolValue(*b)),
        J::Number(n) => Some(match n.as_i64() {
            Some(i) => Value::IntValue(i),
            None => Value::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        }),
        J::String(s) => Some(Value::StringValue(s.clone())),
        J::Array(items) => Some(Value::ArrayValue(ArrayValue { values: items.iter().map(from_json).collect() })),
        J::Object(map) => Some(Value::KvlistValue(KeyValueList {
            values: map.iter().map(|(k, v)| attribute(k, from_json(v))).collect(),
        })),
    };
    AnyValue { value }
}

fn attribute(key: &str, value: AnyValue) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(value), ..Default::default() }
}

fn text(s: impl Into<String>) -> AnyValue {
    AnyValue { value: Some(Value::StringValue(s.into())) }
}

/// The attributes an outcome adds to its record (none when nothing fired).
pub fn verdict_attributes(outcome: &Outcome, output: Output) -> Vec<KeyValue> {
    match outcome {
        Ok(list) if list.is_empty() => Vec::new(),
        Ok(list) => {
            // One value per name when one rule fired, arrays index-aligned when several did.
            let per_rule = |f: &dyn Fn(&Annotation) -> String| match list.as_slice() {
                [one] => text(f(one)),
                many => AnyValue {
                    value: Some(Value::ArrayValue(ArrayValue { values: many.iter().map(|a| text(f(a))).collect() })),
                },
            };
            let annotations = serde_json::from_str(&winrm_detect::record::annotations_json(list, output))
                .unwrap_or(serde_json::Value::Null);
            vec![
                attribute("security_rule.uuid", per_rule(&|a| a.rule_id.clone())),
                attribute("security_rule.name", per_rule(&|a| a.rule_name.clone())),
                attribute("security_rule.version", per_rule(&|a| a.rule_version.to_string())),
                attribute("security_rule.category", per_rule(&|a| a.mitre_tactics.join(", "))),
                attribute("security_rule.reference", per_rule(&reference)),
                attribute("security_rule.ruleset.name", per_rule(&ruleset)),
                attribute(ANNOTATIONS_ATTRIBUTE, from_json(&annotations)),
            ]
        }
        Err(e) => vec![attribute(
            ERROR_ATTRIBUTE,
            AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: vec![
                        attribute("kind", text(e.kind.as_str())),
                        attribute("message", text(e.message.clone())),
                    ],
                })),
            },
        )],
    }
}

/// The ESCU rule's page (every rule of the family is an endpoint detection); an extended
/// matcher's id is ours, so its reference is the page of the rule it extends.
fn reference(a: &Annotation) -> String {
    let escu = winrm_detect::rules::identity(a.rule, Matcher::Parity, a.rule_version).id;
    format!("https://research.splunk.com/endpoint/{escu}/")
}

fn ruleset(a: &Annotation) -> String {
    match a.matcher {
        Matcher::Parity => "Splunk Enterprise Security Content Update".into(),
        Matcher::Extended => "winrm-detect extended (Splunk Enterprise Security Content Update)".into(),
    }
}

/// `request` as handed on: each record with its verdict's attributes, those `emit` leaves out
/// dropped (and a scope or resource left with none), everything else as it came. `outcomes`
/// follow [`records`]' order. Returns the request and how many records it holds.
pub fn annotate(
    mut request: ExportLogsServiceRequest,
    outcomes: &[Outcome],
    emit: Emit,
    output: Output,
) -> (ExportLogsServiceRequest, usize) {
    let mut outcomes = outcomes.iter();
    let mut kept = 0;
    for resource in &mut request.resource_logs {
        for scope in &mut resource.scope_logs {
            scope.log_records.retain_mut(|record| {
                let Some(outcome) = outcomes.next() else { return true };
                if !emit.keeps(outcome) {
                    return false;
                }
                record.attributes.extend(verdict_attributes(outcome, output));
                kept += 1;
                true
            });
        }
        resource.scope_logs.retain(|s| !s.log_records.is_empty());
    }
    request.resource_logs.retain(|r| !r.scope_logs.is_empty());
    (request, kept)
}

/// Events that came as JSON or text, as one request: one resource (none is known), the scope
/// `winrm-detect`, each event a record whose body is the event (a JSON object as a kvlist,
/// anything else as a string), observed now.
pub fn from_events<'a>(
    events: impl Iterator<Item = &'a [u8]>,
    outcomes: &[Outcome],
    emit: Emit,
    output: Output,
) -> (ExportLogsServiceRequest, usize) {
    let observed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let mut log_records = Vec::new();
    for (event, outcome) in events.zip(outcomes) {
        if !emit.keeps(outcome) {
            continue;
        }
        let body = match serde_json::from_slice::<serde_json::Value>(event) {
            Ok(object @ serde_json::Value::Object(_)) => from_json(&object),
            _ => text(String::from_utf8_lossy(event).trim_end_matches(['\r', '\n'])),
        };
        log_records.push(LogRecord {
            observed_time_unix_nano: observed,
            body: Some(body),
            attributes: verdict_attributes(outcome, output),
            ..Default::default()
        });
    }
    let kept = log_records.len();
    let scope = InstrumentationScope {
        name: "winrm-detect".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    let resource_logs = vec![ResourceLogs {
        scope_logs: vec![ScopeLogs { scope: Some(scope), log_records, ..Default::default() }],
        ..Default::default()
    }];
    (ExportLogsServiceRequest { resource_logs }, kept)
}

/// `request` as protobuf, gzip-compressed: the body `--forward-format otlp` posts.
pub fn encode_gzip(request: &ExportLogsServiceRequest) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec does not fail.
    let _ = gz.write_all(&request.encode_to_vec());
    gz.finish().unwrap_or_default()
}

/// The next hop's answer, decoded by its `Content-Type`: what it rejected, if anything. An
/// answer that does not decode (an empty body, as Fluent Bit's `opentelemetry` input sends
/// with its 201) is a full success, as OTLP reads a response without `partial_success`.
pub fn rejected(content_type: Option<&str>, body: &[u8]) -> Option<ExportLogsPartialSuccess> {
    let response = match Encoding::of(content_type)? {
        Encoding::Protobuf => ExportLogsServiceResponse::decode(body).ok()?,
        // opentelemetry-proto reads `rejectedLogRecords` only as a number, where OTLP/JSON
        // writes int64 as a string and allows either: read the two fields ourselves.
        Encoding::Json => {
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            let partial = value.get("partialSuccess")?;
            let rejected = partial
                .get("rejectedLogRecords")
                .and_then(|n| n.as_i64().or_else(|| n.as_str().and_then(|s| s.parse().ok())));
            ExportLogsServiceResponse {
                partial_success: Some(ExportLogsPartialSuccess {
                    rejected_log_records: rejected.unwrap_or(0),
                    error_message: partial.get("errorMessage").and_then(|m| m.as_str()).unwrap_or("").into(),
                }),
            }
        }
    };
    response.partial_success.filter(|p| p.rejected_log_records != 0 || !p.error_message.is_empty())
}

/// The answer to an OTLP request, in its own encoding.
pub fn response(encoding: Encoding, partial_success: Option<ExportLogsPartialSuccess>) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => ExportLogsServiceResponse { partial_success }.encode_to_vec(),
        Encoding::Json => match partial_success {
            None => b"{}".to_vec(),
            Some(p) => serde_json::json!({"partialSuccess": {
                "rejectedLogRecords": p.rejected_log_records.to_string(),
                "errorMessage": p.error_message,
            }})
            .to_string()
            .into_bytes(),
        },
    }
}

/// `google.rpc.Status`, the body OTLP/HTTP gives every 4xx and 5xx. opentelemetry-proto does not
/// ship it (tonic's is a gRPC type, not this message); its two fields are declared here for
/// prost, `details` (field 3, a list of `Any`) left out as never sent.
#[derive(Clone, PartialEq, Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The body of a refusal, in the request's encoding (plain text when it named none OTLP
/// knows). `code` is gRPC's for the HTTP status, as OTLP/HTTP maps them.
pub fn status(encoding: Option<Encoding>, http: u16, message: &str) -> (&'static str, Vec<u8>) {
    let code = match http {
        400 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,      // UNAUTHENTICATED
        408 => 4,       // DEADLINE_EXCEEDED
        413 | 429 => 8, // RESOURCE_EXHAUSTED
        503 => 14,      // UNAVAILABLE
        _ => 2,         // UNKNOWN
    };
    let message = message.trim_end().to_string();
    match encoding {
        Some(Encoding::Protobuf) => (Encoding::Protobuf.content_type(), Status { code, message }.encode_to_vec()),
        Some(Encoding::Json) => (
            Encoding::Json.content_type(),
            serde_json::json!({"code": code, "message": message}).to_string().into_bytes(),
        ),
        None => ("text/plain; charset=utf-8", format!("{message}\n").into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winrm_detect::{ErrorKind, ScanError};

    fn kv(pairs: &[(&str, AnyValue)]) -> AnyValue {
        AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: pairs.iter().map(|(k, v)| attribute(k, v.clone())).collect(),
            })),
        }
    }

    fn request(bodies: Vec<AnyValue>) -> ExportLogsServiceRequest {
        let log_records = bodies.into_iter().map(|b| LogRecord { body: Some(b), ..Default::default() }).collect();
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs { log_records, ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn a_body_is_the_event() {
        let body = kv(&[
            ("EventID", AnyValue { value: Some(Value::IntValue(1)) }),
            ("Tags", AnyValue { value: Some(Value::ArrayValue(ArrayValue { values: vec![text("a")] })) }),
            ("Ratio", AnyValue { value: Some(Value::DoubleValue(0.5)) }),
            ("Raw", AnyValue { value: Some(Value::BytesValue(b"hi".to_vec())) }),
            ("EventID", text("repeated")),
        ]);
        let request = request(vec![body, text("<Event/>"), AnyValue::default()]);
        let events: Vec<Vec<u8>> = records(&request).map(event).collect();
        assert_eq!(events[0], br#"{"EventID":1,"Tags":["a"],"Ratio":0.5,"Raw":"aGk="}"#);
        assert_eq!(events[1], b"<Event/>");
        assert_eq!(events[2], b"");
    }

    #[test]
    fn json_and_otlp_values_map_both_ways() {
        let json: serde_json::Value = serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {"c": -3}});
        let back = to_json(from_json(&json).value.as_ref().unwrap());
        assert_eq!(back, json);
    }

    #[test]
    fn both_encodings_decode_and_bad_bodies_say_why() {
        let original = request(vec![text("<Event/>")]);
        assert_eq!(decode(&original.encode_to_vec(), Encoding::Protobuf).unwrap(), original);
        let json = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"host.name","value":{"stringValue":"gw"}}]},
            "scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","body":{"kvlistValue":{"values":[
            {"key":"EventID","value":{"intValue":"1"}}]}},"unknownField":1}]}]}]}"#;
        let decoded = decode(json.as_bytes(), Encoding::Json).unwrap();
        let record = records(&decoded).next().unwrap();
        assert_eq!(record.time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(event(record), br#"{"EventID":1}"#);
        assert!(decode(b"\xff\xff\xff", Encoding::Protobuf).unwrap_err().contains("protobuf"));
        assert!(decode(b"{\"resourceLogs\": 3}", Encoding::Json).unwrap_err().contains("OTLP/JSON"));
        // Empty lists left out, as proto3's JSON mapping writes them.
        let empty = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{}}},{"body":{"arrayValue":{}}}]}]}]}"#;
        let decoded = decode(empty.as_bytes(), Encoding::Json).unwrap();
        assert_eq!(records(&decoded).map(event).collect::<Vec<_>>(), [b"{}".to_vec(), b"[]".to_vec()]);
        assert_eq!(Encoding::of(Some("application/json; charset=utf-8")), Some(Encoding::Json));
        assert_eq!(Encoding::of(Some("Application/X-Protobuf")), Some(Encoding::Protobuf));
        assert_eq!(Encoding::of(Some("application/x-ndjson")), None);
        assert_eq!(Encoding::of(None), None);
    }

    fn annotation() -> Annotation {
        let text = r#"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>WS01</Computer></System><EventData><Data Name='Image'>C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe</Data><Data Name='CommandLine'>powershell.exe Invoke-Command -ComputerName FS02 -ScriptBlock {hostname}</Data></EventData></Event>"#;
        let detector = winrm_detect::Detector::new(winrm_detect::Config::default());
        detector.scan(text.as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn what_fired_goes_on_the_record_and_everything_else_stays() {
        let fired: Outcome = Ok(vec![annotation()]);
        let twice: Outcome = Ok(vec![annotation(), annotation()]);
        let quiet: Outcome = Ok(Vec::new());
        let broken: Outcome = Err(ScanError::new(ErrorKind::BrokenXml, "eof"));
        let mut original = request(vec![text("a"), text("b"), text("c"), text("d")]);
        original.resource_logs[0].resource = Some(Default::default());
        original.resource_logs[0].scope_logs[0].log_records[0].attributes.push(attribute("kept", text("yes")));
        original.resource_logs[0].scope_logs[0].log_records[0].severity_number = 9;
        let outcomes = [fired, quiet, twice, broken];

        let (all, n) = annotate(original.clone(), &outcomes, Emit::All, Output::Native);
        assert_eq!(n, 4);
        let out: Vec<&LogRecord> = records(&all).collect();
        let get = |r: &LogRecord, key: &str| r.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.clone());
        assert_eq!(get(out[0], "kept"), Some(text("yes")));
        assert_eq!(out[0].severity_number, 9);
        assert_eq!(get(out[0], "security_rule.uuid"), Some(text("ba24cda8-4716-11ec-8009-3e22fbd008af")));
        assert_eq!(
            get(out[0], "security_rule.reference"),
            Some(text("https://research.splunk.com/endpoint/ba24cda8-4716-11ec-8009-3e22fbd008af/"))
        );
        let annotations = to_json(get(out[0], ANNOTATIONS_ATTRIBUTE).unwrap().value.as_ref().unwrap());
        assert_eq!(annotations[0]["matcher"], "parity");
        assert_eq!(annotations[0]["remote_targets"][0]["host"], "FS02");
        assert!(out[1].attributes.is_empty(), "nothing fired, nothing added");
        let Some(Value::ArrayValue(uuids)) = get(out[2], "security_rule.uuid").and_then(|v| v.value) else {
            panic!("two rules fired: an array")
        };
        assert_eq!(uuids.values.len(), 2);
        let error = to_json(get(out[3], ERROR_ATTRIBUTE).unwrap().value.as_ref().unwrap());
        assert_eq!(error, serde_json::json!({"kind": "broken-xml", "message": "eof"}));

        let (matches, n) = annotate(original, &outcomes, Emit::Matches, Output::Native);
        assert_eq!(n, 3);
        let bodies: Vec<Vec<u8>> = records(&matches).map(event).collect();
        assert_eq!(bodies, [b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]);
        assert!(matches.resource_logs[0].resource.is_some());

        // Nothing left of a scope: the scope and its resource go too.
        let (none, n) = annotate(request(vec![text("a")]), &[Ok(Vec::new())], Emit::Matches, Output::Native);
        assert_eq!(n, 0);
        assert!(none.resource_logs.is_empty());
    }

    #[test]
    fn events_of_other_framings_become_records() {
        let events: [&[u8]; 2] = [br#"{"EventID": 1, "x": [true]}"#, b"<Event/>\r\n"];
        let (request, n) =
            from_events(events.into_iter(), &[Ok(Vec::new()), Ok(Vec::new())], Emit::All, Output::Native);
        assert_eq!(n, 2);
        let out: Vec<Vec<u8>> = records(&request).map(event).collect();
        assert_eq!(out, [br#"{"EventID":1,"x":[true]}"#.to_vec(), b"<Event/>".to_vec()]);
        assert!(records(&request).all(|r| r.observed_time_unix_nano > 0));
        assert_eq!(request.resource_logs[0].scope_logs[0].scope.as_ref().unwrap().name, "winrm-detect");
    }

    #[test]
    fn answers_in_the_request_s_encoding() {
        let partial = ExportLogsPartialSuccess { rejected_log_records: 2, error_message: "no".into() };
        let pb = response(Encoding::Protobuf, Some(partial.clone()));
        assert_eq!(rejected(Some("application/x-protobuf"), &pb), Some(partial.clone()));
        let json = response(Encoding::Json, Some(partial.clone()));
        assert_eq!(rejected(Some("application/json"), &json), Some(partial));
        assert_eq!(response(Encoding::Json, None), b"{}");
        assert_eq!(rejected(Some("application/x-protobuf"), &response(Encoding::Protobuf, None)), None);
        assert_eq!(rejected(None, b""), None);
        let (kind, body) = status(Some(Encoding::Json), 400, "bad\n");
        assert_eq!(kind, "application/json");
        assert_eq!(body, br#"{"code":3,"message":"bad"}"#);
        let (_, body) = status(Some(Encoding::Protobuf), 503, "later");
        assert_eq!(Status::decode(&body[..]).unwrap(), Status { code: 14, message: "later".into() });
    }
}
