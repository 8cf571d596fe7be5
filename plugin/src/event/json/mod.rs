//! JSON events: which shape a record is (each recognised from its own keys, [`candidates`]),
//! a record that carries an event as text, the nesting bound, and the helpers every shape
//! reads values with. Each shape is its own module: EVTX JSON and xmltodict (`evtx`),
//! Winlogbeat raw and 6.x (`winlogbeat`), flat Windows records from Fluent Bit's winevtlog,
//! NXLog and Security-Datasets (`flat`), ECS (`ecs`), OCSF Process Activity (`ocsf`) and
//! Splunk CIM records (`cim`).

use serde_json::{Map, Value};

mod cim;
mod ecs;
mod evtx;
mod flat;
mod ocsf;
mod value;
mod winlogbeat;

use super::{Event, Format, Kind, Paths};
use crate::error::{ErrorKind, ScanError};

/// The string fields shippers put a raw line in: Fluent Bit's `tail`, `tcp` and `stdin`
/// inputs without a parser (and any input whose parser failed) write `log`; its `syslog`
/// parsers, Vector and Logstash `message`; others `msg`, `event` or `raw`.
const EMBEDDING_KEYS: [&str; 5] = ["log", "message", "msg", "event", "raw"];

/// `paths.embedded`: whether a record of no known shape may carry an event as text in one of
/// [`EMBEDDING_KEYS`] (one level only: the text inside is not searched again).
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
    let Value::Object(root) = value else {
        return Err(ScanError::new(ErrorKind::UnknownShape, "a JSON event must be an object"));
    };
    if let Some(format) = forced {
        return read_as(&root, format, max_nesting).map(|e| Event { recognised_by: "format", ..e });
    }
    // Every shape whose marks the record carries, the most structured first; the first that
    // reads an event a rule can fire on wins. Pipelines rename, add and drop keys: a mark of
    // one shape (a `ProviderName`, an empty `winlog`) must not make a record unreadable that
    // another shape reads whole. When none reads such an event, an event carried as text
    // (`log`, `message`...) is tried, and failing that the first reading stands (another kind
    // of event, or its error).
    let mut first = None;
    for (format, mark) in candidates(&root) {
        let read = read_as(&root, format, max_nesting).map(|e| Event { recognised_by: mark, ..e });
        if for_a_rule(&read) {
            return read;
        }
        first.get_or_insert(read);
    }
    match first {
        None if paths.embedded => embedded_event(&root, max_nesting, paths.typed),
        None => Err(no_known_shape()),
        Some(read) if paths.embedded => match embedded_event(&root, max_nesting, paths.typed) {
            carried if for_a_rule(&carried) => carried,
            _ => read,
        },
        Some(read) => read,
    }
}

/// Whether a reading found an event a rule reads (a process creation or a script block).
fn for_a_rule(read: &Result<Event, ScanError>) -> bool {
    matches!(read, Ok(e) if !matches!(e.kind, Kind::Other(_)))
}

fn read_as(root: &Map<String, Value>, format: Format, max_nesting: usize) -> Result<Event, ScanError> {
    match format {
        Format::EvtxJson | Format::Xmltodict => evtx::evtx_like(root, format),
        Format::Winlogbeat => winlogbeat::winlogbeat(root),
        Format::Winlogbeat6 => winlogbeat::winlogbeat6(root),
        Format::Ecs => Ok(ecs::ecs(root)),
        Format::Nxlog | Format::FluentBit => flat::flat(root, format, max_nesting),
        Format::Ocsf => Ok(ocsf::ocsf(root)),
        Format::Cim => Ok(cim::from_record(root)),
        Format::Auto | Format::WindowsXml => unreachable!("handled by event::parse"),
    }
}

fn no_known_shape() -> ScanError {
    ScanError::new(
        ErrorKind::UnknownShape,
        "JSON object of no known event shape (no Event, winlog, event_data, EventID, StringInserts, class_uid, process or CIM keys, and no event text under log, message, msg, event or raw)",
    )
}

/// A record that is not itself an event shape, but carries one as text: Windows event XML
/// or a JSON event in a string field, as inputs without a Windows parser deliver it. Text
/// that starts like an event (`<`, `{`, after an optional byte-order mark) is read as one,
/// and its errors are the record's; any other text is not an event.
fn embedded_event(root: &Map<String, Value>, max_nesting: usize, typed: bool) -> Result<Event, ScanError> {
    for key in EMBEDDING_KEYS {
        let Some(Value::String(raw)) = root.get(key) else { continue };
        let inner = raw.strip_prefix('\u{feff}').unwrap_or(raw).trim();
        if inner.starts_with('<') || inner.starts_with('{') {
            return super::parse_text(inner, Format::Auto, max_nesting, Paths { embedded: false, typed }).map_err(
                |mut e| {
                    e.message = format!("the event text in `{key}`: {}", e.message);
                    e
                },
            );
        }
    }
    Err(no_known_shape())
}

/// The shapes `root` may be, by the marks it carries, in the order they are tried: nested
/// layouts first (EVTX JSON or xmltodict, OCSF, ECS, Winlogbeat, Winlogbeat 6), whose marks
/// are whole objects a flat record does not grow by accident; then the flat Windows record
/// (winevtlog, NXLog, any flattening), whose System fields and event data stand side by side;
/// then CIM's field names.
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
    // One reader for both; the name says where the record came from, as far as it shows.
    let flat = match flat::winevtlog_mark(root) {
        Some(mark) => Some((Format::FluentBit, mark)),
        None => present(&flat::EVENT_ID_KEYS).or_else(|| present(&["ProviderName"])).map(|mark| (Format::Nxlog, mark)),
    };
    [
        evtx,
        present(&["class_uid"]).map(|mark| (Format::Ocsf, mark)),
        ecs.map(|mark| (Format::Ecs, mark)),
        object("winlog").map(|mark| (Format::Winlogbeat, mark)),
        object("event_data").map(|mark| (Format::Winlogbeat6, mark)),
        flat,
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
