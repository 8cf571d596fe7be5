//! JSON events: which shape a record is (each recognised from its own keys, [`candidates`]),
//! how a reading is chosen among them, the nesting bound, and the helpers every shape reads
//! values with. Each shape is its own module: EVTX JSON and xmltodict (`evtx`), Winlogbeat raw
//! and 6.x (`winlogbeat`), flat Windows records from Fluent Bit's winevtlog, NXLog, Azure
//! Monitor, Splunk and Security-Datasets (`flat`), ECS (`ecs`), OCSF Process Activity (`ocsf`)
//! and Splunk CIM records (`cim`); records that carry an event (`envelope`); and the check that
//! no record carrying a process creation or a script block goes unread (`signal`).

use serde_json::{Map, Value};

mod cim;
mod ecs;
mod envelope;
mod evtx;
mod flat;
mod ocsf;
mod signal;
mod value;
mod winlogbeat;

use super::{Event, Format, Kind, Paths};
use crate::error::{ErrorKind, ScanError};

/// `paths.embedded`: whether a record of no known shape may carry an event as text or under an
/// envelope's key (one level only: what is inside is not searched again).
pub(super) fn parse(text: &str, forced: Option<Format>, max_nesting: usize, paths: Paths) -> Result<Event, ScanError> {
    // serde_json parses by recursion, one level per object or array (and stops at 128);
    // refusing deeper text first, without recursion, bounds the stack by the configured
    // limit. The Fluent Bit module's stack size is measured against that bound.
    if nesting_exceeds(text.as_bytes(), max_nesting) {
        return Err(ScanError::new(
            ErrorKind::TooDeep,
            format!("JSON nested more than {max_nesting} levels of objects and arrays (limits.max_nesting)"),
        ));
    }
    if paths.typed
        && matches!(forced, None | Some(Format::EvtxJson))
        && super::evtx_json::looks_like(text)
        && let Some(event) = super::evtx_json::event(text)
    {
        return Ok(event);
    }
    parse_value(text, forced, max_nesting, paths)
}

/// The general path: the whole text as a `serde_json::Value`, its shape recognised from its
/// keys. Its nesting is checked already.
pub(super) fn parse_value(
    text: &str,
    forced: Option<Format>,
    max_nesting: usize,
    paths: Paths,
) -> Result<Event, ScanError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ScanError::new(ErrorKind::BrokenJson, e.to_string()))?;
    match value {
        Value::Object(root) => record(&root, forced, max_nesting, paths),
        Value::Array(items) => Err(envelope::array_of(items.len())),
        _ => Err(ScanError::new(ErrorKind::UnknownShape, "a JSON event must be an object")),
    }
}

/// One record, read by the shape `forced`, or by whichever of its candidates reads it best,
/// and held to what it carries ([`signal`]).
fn record(
    root: &Map<String, Value>,
    forced: Option<Format>,
    max_nesting: usize,
    paths: Paths,
) -> Result<Event, ScanError> {
    if let Some(format) = forced {
        return read_as(root, format, max_nesting, paths).map(|e| Event { recognised_by: "format", ..e });
    }
    envelope::refuse_documents(root)?;
    signal::check(root, choose(root, max_nesting, paths))
}

/// The fields of a flat record that came as something else (NXLog's `to_xml()`, Splunk's
/// classic text), read as any flat record is and held to what they carry.
pub(super) fn flat_fields(
    fields: &Map<String, Value>,
    format: Format,
    max_nesting: usize,
    mark: &'static str,
) -> Result<Event, ScanError> {
    let read = flat::flat(fields, format, max_nesting).map(|e| Event { recognised_by: mark, ..e });
    signal::check(fields, read)
}

/// Every shape whose marks the record carries, the most structured first; the first that
/// reads an event a rule can fire on wins, its gaps (a command line, a host) filled from the
/// other shapes that read the same kind of event. Pipelines rename, add and drop keys: a mark
/// of one shape (a `ProviderName`, an empty `winlog`) must not make a record unreadable that
/// another shape reads whole, and a shape filled in part (a `winlog` without its event data
/// beside Elastic's `process`) must not hide what another holds. When none reads such an
/// event, an event the record carries is tried, and failing that the first reading stands
/// (another kind of event, or its error).
fn choose(root: &Map<String, Value>, max_nesting: usize, paths: Paths) -> Result<Event, ScanError> {
    let mut first = None;
    let mut best: Option<Event> = None;
    for (format, mark) in candidates(root) {
        let read = read_as(root, format, max_nesting, paths).map(|e| Event { recognised_by: mark, ..e });
        match (read, &mut best) {
            (Ok(e), None) if !matches!(e.kind, Kind::Other(_)) => best = Some(e),
            (Ok(e), Some(b)) => b.fill_gaps(e),
            (read, _) => drop(first.get_or_insert(read)),
        }
        if best.as_ref().is_some_and(Event::is_whole) {
            break;
        }
    }
    if let Some(best) = best {
        return Ok(best);
    }
    match first {
        None if paths.embedded => envelope::carried(root, max_nesting, paths.typed),
        None => Err(no_known_shape()),
        Some(read) if paths.embedded => match envelope::carried(root, max_nesting, paths.typed) {
            carried if reading_for_a_rule(&carried) => carried,
            _ => read,
        },
        Some(read) => read,
    }
}

/// Whether a reading found an event a rule reads (a process creation or a script block).
fn reading_for_a_rule(read: &Result<Event, ScanError>) -> bool {
    matches!(read, Ok(e) if !matches!(e.kind, Kind::Other(_)))
}

fn read_as(root: &Map<String, Value>, format: Format, max_nesting: usize, paths: Paths) -> Result<Event, ScanError> {
    match format {
        Format::EvtxJson | Format::Xmltodict => evtx::evtx_like(root, format),
        Format::Winlogbeat => winlogbeat::winlogbeat(root),
        Format::Winlogbeat6 => winlogbeat::winlogbeat6(root),
        Format::Ecs => Ok(ecs::ecs(root)),
        Format::Nxlog | Format::FluentBit | Format::AzureMonitor => flat::flat(root, format, max_nesting),
        Format::Splunk => splunk(root, max_nesting, paths),
        Format::Ocsf => Ok(ocsf::ocsf(root)),
        Format::Cim => Ok(cim::from_record(root)),
        Format::Auto | Format::WindowsXml => unreachable!("handled by event::parse"),
    }
}

/// A Splunk result: the event in `_raw` first (the event as it was indexed: XML, JSON, or the
/// classic `WinEventLog` text), then the fields extracted beside it.
fn splunk(root: &Map<String, Value>, max_nesting: usize, paths: Paths) -> Result<Event, ScanError> {
    let raw = match root.get("_raw") {
        Some(Value::String(raw)) => envelope::text(raw, max_nesting, paths.typed),
        _ => None,
    };
    // `_time` is the event's time as Splunk indexed it, with its zone; the classic text's own
    // date line has none.
    let indexed_time = root.get("_time").and_then(Value::as_str).map(crate::event::normalise_time);
    let raw = raw.map(|read| {
        read.map(|mut e| {
            e.fields.time = indexed_time.clone().or(e.fields.time);
            Event { format: Format::Splunk, ..e }
        })
        .map_err(|mut e| {
            e.message = format!("the event in `_raw`: {}", e.message);
            e
        })
    });
    match raw {
        Some(read) if reading_for_a_rule(&read) => read,
        raw => match flat::flat(root, Format::Splunk, max_nesting) {
            fields if reading_for_a_rule(&fields) || raw.is_none() => fields,
            _ => raw.expect("checked"),
        },
    }
}

fn no_known_shape() -> ScanError {
    ScanError::new(
        ErrorKind::UnknownShape,
        "JSON object of no known event shape (no Event, winlog, event_data, EventID, StringInserts, class_uid, process or CIM keys, no event text under _raw, log, message, msg, event or raw, and no event object under result or event)",
    )
}

/// The shapes `root` may be, by the marks it carries, in the order they are tried: a Splunk
/// result's `_raw` (the event as indexed; its row's fields are read after it, by the same
/// candidate); nested layouts (EVTX JSON or xmltodict, OCSF, ECS, Winlogbeat, Winlogbeat 6),
/// whose marks are whole objects a flat record does not grow by accident; then the flat
/// Windows record (Azure Monitor, winevtlog, Splunk's fields, NXLog, any flattening), whose
/// System fields and event data stand side by side; then CIM's field names.
fn candidates(root: &Map<String, Value>) -> impl Iterator<Item = (Format, &'static str)> {
    let present = |keys: &[&'static str]| keys.iter().copied().find(|k| root.contains_key(*k));
    let object = |key: &'static str| matches!(root.get(key), Some(Value::Object(_))).then_some(key);
    let evtx = object("Event").map(|mark| {
        let event = &root[mark];
        let xmltodict = event.get("System").and_then(|s| s.get("Provider")).is_some_and(|p| p.get("@Name").is_some())
            || event.get("EventData").and_then(|d| d.get("Data")).is_some_and(|d| {
                d.get("@Name").is_some() || d.as_array().is_some_and(|a| a.iter().any(|x| x.get("@Name").is_some()))
            });
        (if xmltodict { Format::Xmltodict } else { Format::EvtxJson }, mark)
    });
    let ecs = object("process")
        .or_else(|| object("powershell"))
        .or_else(|| present(&["process.command_line", "powershell.file.script_block_text"]));
    // A Splunk result is read from its `_raw` before anything else it carries.
    let raw = matches!(root.get("_raw"), Some(Value::String(_))).then_some((Format::Splunk, "_raw"));
    [
        raw,
        evtx,
        present(&["class_uid"]).map(|mark| (Format::Ocsf, mark)),
        ecs.map(|mark| (Format::Ecs, mark)),
        object("winlog").map(|mark| (Format::Winlogbeat, mark)),
        object("event_data").map(|mark| (Format::Winlogbeat6, mark)),
        raw.is_none().then(|| flat::candidate(root)).flatten(),
        cim::looks_like_cim(root).then_some((Format::Cim, "CIM field names")),
    ]
    .into_iter()
    .flatten()
}

/// Whether objects and arrays in JSON text nest deeper than `max`. One pass, no recursion;
/// brackets inside strings do not count. On broken text it counts what a parser would have
/// entered before failing, so a parser run after a `false` never goes deeper than `max`.
fn nesting_exceeds(text: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                // Skip the string: to its closing quote, stepping over escapes.
                i += 1;
                while let Some(at) = text.get(i..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) {
                    i += at;
                    if text[i] == b'"' {
                        break;
                    }
                    i += 2;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_shape() {
        let cases = [
            (r#"{"Event":{"System":{"EventID":1},"EventData":{}}}"#, Format::EvtxJson),
            (r#"{"Event":{"System":{"Provider":{"@Name":"x"}},"EventData":{"Data":[]}}}"#, Format::Xmltodict),
            (r#"{"winlog":{"event_id":1}}"#, Format::Winlogbeat),
            (r#"{"event_data":{},"computer_name":"x"}"#, Format::Winlogbeat6),
            (r#"{"process":{"pid":1},"event":{}}"#, Format::Ecs),
            (r#"{"EventID":1,"Channel":"x"}"#, Format::Nxlog),
            (r#"{"EventID":1,"StringInserts":[]}"#, Format::FluentBit),
            (r#"{"ProviderName":"x","EventRecordID":1,"Computer":"y"}"#, Format::Nxlog),
            (r#"{"EventCode":"4688","ComputerName":"y"}"#, Format::Nxlog),
            (r#"{"class_uid":1007}"#, Format::Ocsf),
            (r#"{"Type":"SecurityEvent","EventID":4688,"EventData":{}}"#, Format::AzureMonitor),
            (r#"{"EventLog":"Application","EventID":1}"#, Format::AzureMonitor),
            (r#"{"_raw":"<Event/>","EventCode":"1"}"#, Format::Splunk),
            (r#"{"source":"XmlWinEventLog:Security","EventCode":"4688"}"#, Format::Splunk),
            (r#"{"event_id":1,"channel":"x"}"#, Format::Nxlog),
            (r#"{"System":{"EventID":1},"EventData":{}}"#, Format::Nxlog),
            (r#"{"Processes.process_name":"x"}"#, Format::Cim),
            (r#"{"process_name":"x","dest":"y"}"#, Format::Cim),
        ];
        for (text, want) in cases {
            let Value::Object(m) = serde_json::from_str(text).unwrap() else { panic!() };
            assert_eq!(candidates(&m).next().map(|c| c.0), Some(want), "{text}");
        }
    }

    const EVERY_PATH: Paths = Paths { embedded: true, typed: true };

    #[test]
    fn errors_are_typed() {
        assert_eq!(parse("{", None, 64, EVERY_PATH).unwrap_err().kind, ErrorKind::BrokenJson);
        assert_eq!(parse(r#"{"a":1}"#, None, 64, EVERY_PATH).unwrap_err().kind, ErrorKind::UnknownShape);
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse(&deep, None, 64, EVERY_PATH).unwrap_err().kind, ErrorKind::TooDeep);
        // Brackets inside strings do not count.
        let quoted = format!("{{\"a\":\"{}\\\"{}\"}}", "[".repeat(100), "{".repeat(100));
        assert_eq!(parse(&quoted, None, 4, EVERY_PATH).unwrap_err().kind, ErrorKind::UnknownShape);
        assert!(!nesting_exceeds(br#"{"a":[{"b":1}]}"#, 3));
        assert!(nesting_exceeds(br#"{"a":[{"b":1}]}"#, 2));
        assert!(!nesting_exceeds(br#"{"a":"[[[\"[[","b":{}}"#, 2));
        assert!(nesting_exceeds(b"[[[", 2));
        // A string cut after a backslash ends the text, not the scan's bounds.
        assert!(!nesting_exceeds(br#"{"a":"\"#, 2));
        assert_eq!(parse(r#"{"a":"\"#, None, 64, EVERY_PATH).unwrap_err().kind, ErrorKind::BrokenJson);
        assert_eq!(
            parse(r#"{"a":[{"b":[1]}]}"#, None, 3, Paths { embedded: true, typed: true }).unwrap_err().kind,
            ErrorKind::TooDeep
        );
    }

    #[test]
    fn documents_and_envelopes() {
        let refused = |text: &str| parse(text, None, 64, EVERY_PATH).unwrap_err();
        let e = refused(r#"{"preview":false,"init_offset":0,"messages":[],"results":[{"_raw":"x"},{"_raw":"y"}]}"#);
        assert!(e.kind == ErrorKind::UnknownShape && e.message.contains("2 at once"), "{}", e.message);
        assert!(
            refused(r#"{"tables":[{"name":"PrimaryResult","columns":[],"rows":[]}]}"#)
                .message
                .contains("Log Analytics")
        );
        assert!(refused(r#"{"fields":["a"],"rows":[["1"]]}"#).message.contains("json_rows"));
        assert!(refused(r#"[{"EventID":1}]"#).message.contains("one event per line"));
        // An export line and a HEC payload carry the record under `result` and `event`.
        let sysmon = r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS01","Image":"C:\\p\\powershell.exe","CommandLine":"powershell -c 1"}"#;
        for wrapped in [
            format!(r#"{{"preview":false,"offset":0,"result":{sysmon}}}"#),
            format!(r#"{{"time":1,"event":{sysmon}}}"#),
        ] {
            let e = parse(&wrapped, None, 64, EVERY_PATH).unwrap();
            assert_eq!((e.kind, e.fields.dest.as_deref()), (Kind::ProcessCreation, Some("WS01")), "{wrapped}");
        }
    }

    #[test]
    fn a_partial_reading_is_filled_from_the_next() {
        // Elastic Agent: ECS's `process` without the command line, `winlog.event_data` with it.
        let text = r#"{"event":{"code":"4688"},"process":{"executable":"C:\\p\\powershell.exe","name":"powershell.exe"},"winlog":{"channel":"Security","computer_name":"WS03","event_id":"4688","event_data":{"CommandLine":"powershell -c 1"}}}"#;
        let e = parse(text, None, 64, EVERY_PATH).unwrap();
        assert_eq!(e.format, Format::Ecs);
        assert_eq!(e.fields.process.as_deref(), Some("powershell -c 1"));
        assert_eq!(e.fields.process_name.as_deref(), Some("powershell.exe"));
    }

    #[test]
    fn a_record_that_carries_a_rule_s_event_is_never_silent() {
        for (text, says) in [
            // A Sysmon process creation whose command line no shape finds (beside `winlog`).
            (
                r#"{"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"computer_name":"WS01"},"CommandLine":"powershell -c 1"}"#,
                "a Sysmon process creation (EventID 1), but no shape reads it whole: read as winlogbeat (by winlog) without its command line",
            ),
            // An image and a command line, and nothing that says which event they are.
            (
                r#"{"host":"WS01","Image":"C:\\p\\powershell.exe","CommandLine":"powershell -c 1"}"#,
                "an image and a command line",
            ),
        ] {
            let e = parse(text, None, 64, EVERY_PATH).unwrap_err();
            assert!(e.kind == ErrorKind::UnknownShape && e.message.contains(says), "{text}: {}", e.message);
        }
        // What another event holds is not a signal: a process termination, a 4104 of another channel.
        for text in [
            r#"{"EventID":5,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\p\\powershell.exe","CommandLine":"x"}"#,
            r#"{"EventID":4104,"Channel":"Application","ScriptBlockText":"x"}"#,
        ] {
            assert!(matches!(parse(text, None, 64, EVERY_PATH).unwrap().kind, Kind::Other(_)), "{text}");
        }
    }

    #[test]
    fn dotted_keys_are_followed() {
        let Value::Object(m) = serde_json::from_str(r#"{"process.pid":7,"a":{"b":"c"}}"#).unwrap() else { panic!() };
        assert_eq!(value::at_text(&m, &["process", "pid"]).as_deref(), Some("7"));
        assert_eq!(value::at_text(&m, &["a", "b"]).as_deref(), Some("c"));
    }

    #[test]
    fn xmltodict_entities_are_decoded() {
        assert_eq!(evtx::decode_entities("a &amp; b&#10;c"), "a & b\nc");
        assert_eq!(evtx::decode_entities("no entities"), "no entities");
    }
}
