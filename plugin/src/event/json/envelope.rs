//! Records that are not an event of a known shape but carry one: event text in a string field
//! (a shipper's raw line, Splunk's `_raw`), an event object under an envelope's key (a Splunk
//! export's `result`, an HTTP Event Collector payload's `event`); and documents that hold many
//! events at once (a Splunk results page, a Log Analytics query result), which are refused with
//! what to send instead: one event is one record.

use serde_json::{Map, Value};

use super::{reading_for_a_rule, record};
use crate::error::{ErrorKind, ScanError};
use crate::event::{Event, Format, Paths};

/// The string fields an event may be carried in as text: Splunk's `_raw`; Fluent Bit's `tail`,
/// `tcp` and `stdin` inputs without a parser (and any input whose parser failed) write `log`;
/// its `syslog` parsers, Vector and Logstash `message`; others `msg`, `event` or `raw`.
pub(super) const EMBEDDING_KEYS: [&str; 6] = ["_raw", "log", "message", "msg", "event", "raw"];

/// The keys whose object is the whole event: a Splunk export line
/// (`{"preview":false,"offset":0,"result":{…}}`) and an HTTP Event Collector payload
/// (`{"time":…,"host":…,"event":{…}}`).
const ENVELOPE_KEYS: [&str; 2] = ["result", "event"];

/// The event a record carries as text or under an envelope's key, one level deep: the text or
/// object inside is not searched again. Text that starts like an event (`<`, `{`, after an
/// optional byte-order mark), or is Splunk's classic `WinEventLog` text, is read as one, and
/// its errors are the record's; any other text is not an event.
pub(super) fn carried(root: &Map<String, Value>, max_nesting: usize, typed: bool) -> Result<Event, ScanError> {
    let inner_paths = Paths { embedded: false, typed };
    for key in EMBEDDING_KEYS {
        let Some(Value::String(raw)) = root.get(key) else { continue };
        if let Some(read) = text(raw, max_nesting, typed) {
            return read.map_err(|mut e| {
                e.message = format!("the event text in `{key}`: {}", e.message);
                e
            });
        }
    }
    let mut first = None;
    for key in ENVELOPE_KEYS {
        let Some(Value::Object(inner)) = root.get(key) else { continue };
        let read = record(inner, None, max_nesting, inner_paths).map_err(|mut e| {
            e.message = format!("the event under `{key}`: {}", e.message);
            e
        });
        if reading_for_a_rule(&read) {
            return read;
        }
        first.get_or_insert(read);
    }
    first.unwrap_or_else(|| Err(super::no_known_shape()))
}

/// `raw` read as an event, if it looks like one (see [`carried`]).
pub(super) fn text(raw: &str, max_nesting: usize, typed: bool) -> Option<Result<Event, ScanError>> {
    let inner = raw.strip_prefix('\u{feff}').unwrap_or(raw).trim();
    let looks = inner.starts_with('<') || inner.starts_with('{') || crate::event::rendered::is_classic(inner);
    looks.then(|| crate::event::parse_text(inner, Format::Auto, max_nesting, Paths { embedded: false, typed }))
}

/// Refuses a document of many events, saying what it is and what to send instead.
pub(super) fn refuse_documents(root: &Map<String, Value>) -> Result<(), ScanError> {
    let rows = |key: &str| root.get(key).and_then(Value::as_array).map(Vec::len);
    let (what, count, instead) = if let Some(n) = rows("results").filter(|_| root.contains_key("preview")) {
        ("a Splunk results document", n, "export with output_mode=json from search/jobs/export, one result per line")
    } else if let Some(n) = rows("rows").filter(|_| root.contains_key("fields") || root.contains_key("columns")) {
        ("a table of rows (Splunk json_rows)", n, "one JSON object per event, one per line")
    } else if let Some(n) = rows("tables").or_else(|| rows("Tables")) {
        (
            "a Log Analytics or Data Explorer query result",
            n,
            "one row per line as an object (`az monitor log-analytics query` output through `jq -c '.[]'`)",
        )
    } else {
        return Ok(());
    };
    Err(ScanError::new(ErrorKind::UnknownShape, format!("{what} holding {count} at once, not one event: {instead}")))
}

/// A JSON array where one event was expected.
pub(super) fn array_of(n: usize) -> ScanError {
    ScanError::new(
        ErrorKind::UnknownShape,
        format!("a JSON array of {n} items, not one event: send one event per line (`jq -c '.[]'`)"),
    )
}
