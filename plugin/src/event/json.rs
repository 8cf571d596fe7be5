//! JSON shapes: EVTX JSON (`evtx` crate / evtx_dump), the xmltodict layout, Winlogbeat
//! (raw and 6.x), ECS, NXLog / Security-Datasets flat JSON, Fluent Bit winevtlog records,
//! OCSF Process Activity and Splunk CIM records. Each is recognised from its own keys.

use serde_json::{Map, Value};

use super::windows::WinEvent;
use super::{Format, Kind, Paths, ProcessEvent, ProcessFields, ScriptBlock, basename, cim, normalise_time, present};
use crate::error::{ErrorKind, ScanError};

/// The string fields shippers put a raw line in: Fluent Bit's `tail`, `tcp` and `stdin`
/// inputs without a parser (and any input whose parser failed) write `log`; its `syslog`
/// parsers, Vector and Logstash `message`; others `msg`, `event` or `raw`.
const EMBEDDING_KEYS: [&str; 5] = ["log", "message", "msg", "event", "raw"];

/// `paths.embedded`: whether a record of no known shape may carry an event as text in one of
/// [`EMBEDDING_KEYS`] (one level only: the text inside is not searched again).
pub(super) fn parse(
    text: &str,
    forced: Option<Format>,
    max_nesting: usize,
    paths: Paths,
) -> Result<ProcessEvent, ScanError> {
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
) -> Result<ProcessEvent, ScanError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ScanError::new(ErrorKind::BrokenJson, e.to_string()))?;
    let Value::Object(root) = value else {
        return Err(ScanError::new(ErrorKind::UnknownShape, "a JSON event must be an object"));
    };
    if let Some(format) = forced {
        return read_as(&root, format, max_nesting).map(|e| ProcessEvent { recognised_by: "format", ..e });
    }
    // Every shape whose marks the record carries, the most structured first; the first that
    // reads an event a rule can fire on wins. Pipelines rename, add and drop keys: a mark of
    // one shape (a `ProviderName`, an empty `winlog`) must not make a record unreadable that
    // another shape reads whole. When none reads such an event, an event carried as text
    // (`log`, `message`...) is tried, and failing that the first reading stands (another kind
    // of event, or its error).
    let mut first = None;
    for (format, mark) in candidates(&root) {
        let read = read_as(&root, format, max_nesting).map(|e| ProcessEvent { recognised_by: mark, ..e });
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
fn for_a_rule(read: &Result<ProcessEvent, ScanError>) -> bool {
    matches!(read, Ok(e) if !matches!(e.kind, Kind::Other(_)))
}

fn read_as(root: &Map<String, Value>, format: Format, max_nesting: usize) -> Result<ProcessEvent, ScanError> {
    match format {
        Format::EvtxJson | Format::Xmltodict => evtx_like(root, format),
        Format::Winlogbeat => winlogbeat(root),
        Format::Winlogbeat6 => winlogbeat6(root),
        Format::Ecs => Ok(ecs(root)),
        Format::Nxlog | Format::FluentBit => flat(root, format, max_nesting),
        Format::Ocsf => Ok(ocsf(root)),
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
fn embedded_event(root: &Map<String, Value>, max_nesting: usize, typed: bool) -> Result<ProcessEvent, ScanError> {
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
    let flat = match winevtlog_mark(root) {
        Some(mark) => Some((Format::FluentBit, mark)),
        None => present(&EVENT_ID_KEYS).or_else(|| present(&["ProviderName"])).map(|mark| (Format::Nxlog, mark)),
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

/// A scalar as text: strings as they are, numbers and booleans printed, anything else absent.
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Follows `path` through nested objects, or finds it as one dotted key (`process.pid`)
/// as flattened ECS writes it.
pub(super) fn at<'v>(root: &'v Map<String, Value>, path: &[&str]) -> Option<&'v Value> {
    let nested = path.iter().try_fold(None::<&Value>, |cur, key| {
        let map = match cur {
            None => root,
            Some(Value::Object(m)) => m,
            Some(_) => return None,
        };
        map.get(*key).map(Some)
    });
    match nested {
        Some(Some(v)) => Some(v),
        _ => root.get(&path.join(".")),
    }
}

pub(super) fn at_text(root: &Map<String, Value>, path: &[&str]) -> Option<String> {
    at(root, path).and_then(text).filter(|s| present(s).is_some())
}

/// An XML element rendered as JSON: a scalar, or `{"#text": …}` beside its attributes.
fn element_text(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => m.get("#text").and_then(text),
        other => text(other),
    }
}

/// An attribute: `{"#attributes": {"Name": …}}` (evtx) or `{"@Name": …}` (xmltodict).
fn attribute(v: Option<&Value>, name: &str) -> Option<String> {
    let v = v?;
    v.get("#attributes").and_then(|a| a.get(name)).or_else(|| v.get(format!("@{name}").as_str())).and_then(text)
}

fn evtx_like(root: &Map<String, Value>, format: Format) -> Result<ProcessEvent, ScanError> {
    let event = root
        .get("Event")
        .and_then(Value::as_object)
        .ok_or_else(|| ScanError::new(ErrorKind::UnknownShape, "no \"Event\" object"))?;
    let system = event.get("System");
    let sys = |key: &str| system.and_then(|s| s.get(key));
    let decode = |s: String| {
        if format == Format::Xmltodict { decode_entities(&s) } else { s }
    };
    let mut win = WinEvent {
        version: sys("Version").and_then(element_text).and_then(|v| v.trim().parse().ok()),
        channel: sys("Channel").and_then(element_text),
        provider: attribute(sys("Provider"), "Name"),
        computer: sys("Computer").and_then(element_text).map(decode),
        time: attribute(sys("TimeCreated"), "SystemTime"),
        user_id: attribute(sys("Security"), "UserID"),
        ..WinEvent::default()
    };
    if let Some(id) = sys("EventID").and_then(element_text) {
        win.set_event_id(&id);
    }
    match event.get("EventData") {
        // xmltodict: {"Data": [{"@Name": …, "#text": …}, …]} (a lone item is not a list).
        Some(Value::Object(data)) if data.contains_key("Data") && format == Format::Xmltodict => {
            let items: &[Value] = match &data["Data"] {
                Value::Array(a) => a,
                one => std::slice::from_ref(one),
            };
            for item in items {
                if let (Some(name), Some(value)) = (item.get("@Name").and_then(text), item.get("#text").and_then(text))
                    && WinEvent::wants(&name)
                {
                    win.set_data(&name, decode(value));
                }
            }
        }
        Some(Value::Object(data)) => {
            for (name, value) in data {
                if WinEvent::wants(name)
                    && let Some(v) = text(value)
                {
                    win.set_data(name, decode(v));
                }
            }
        }
        _ => {}
    }
    Ok(win.into_process_event(format))
}

/// xmltodict exports leave XML entities encoded (`&amp;` in command lines); decode the five
/// predefined ones and character references, once, as an XML reader would have.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    quick_xml::escape::unescape(s).map(|c| c.into_owned()).unwrap_or_else(|_| s.to_string())
}

fn data_from_map(win: &mut WinEvent, data: &Map<String, Value>) {
    for (name, value) in data {
        if WinEvent::wants(name)
            && let Some(v) = text(value)
        {
            win.set_data(name, v);
        }
    }
}

/// Winlogbeat 7+ without ingest pipelines: `winlog.*`, the endpoint in `winlog.computer_name`.
fn winlogbeat(root: &Map<String, Value>) -> Result<ProcessEvent, ScanError> {
    let mut win = WinEvent {
        channel: at_text(root, &["winlog", "channel"]),
        provider: at_text(root, &["winlog", "provider_name"]),
        computer: at_text(root, &["winlog", "computer_name"]).or_else(|| at_text(root, &["host", "name"])),
        time: at_text(root, &["@timestamp"]),
        version: at_text(root, &["winlog", "version"]).and_then(|v| v.parse().ok()),
        user_id: at_text(root, &["winlog", "user", "identifier"]),
        ..WinEvent::default()
    };
    if let Some(id) = at_text(root, &["winlog", "event_id"]).or_else(|| at_text(root, &["event", "code"])) {
        win.set_event_id(&id);
    }
    if let Some(Value::Object(data)) = at(root, &["winlog", "event_data"]) {
        data_from_map(&mut win, data);
    }
    Ok(win.into_process_event(Format::Winlogbeat))
}

/// Winlogbeat 6: `event_data.*`, the endpoint in `computer_name` (`host.name` and
/// `beat.hostname` name the collector).
fn winlogbeat6(root: &Map<String, Value>) -> Result<ProcessEvent, ScanError> {
    let mut win = WinEvent {
        channel: at_text(root, &["log_name"]),
        provider: at_text(root, &["source_name"]),
        computer: at_text(root, &["computer_name"]),
        time: at_text(root, &["@timestamp"]),
        version: at_text(root, &["version"]).and_then(|v| v.parse().ok()),
        user_id: at_text(root, &["user", "identifier"]),
        ..WinEvent::default()
    };
    if let Some(id) = at_text(root, &["event_id"]) {
        win.set_event_id(&id);
    }
    if let Some(Value::Object(data)) = root.get("event_data") {
        data_from_map(&mut win, data);
    }
    Ok(win.into_process_event(Format::Winlogbeat6))
}

/// Fluent Bit's winevtlog input, as `plugins/in_winevtlog/pack.c` writes a record: the
/// event data as the positional `StringInserts` array (`string_inserts`, the default), as
/// an `EventData` map of names to values (`event_data_as_map`), or both; with
/// `render_event_as_xml` the whole event as XML under `System`; with `render_event_as_text`
/// the system fields as `Name=value` lines under `render_event_text_key`. Only the
/// default rendering has the system fields as keys of their own; with `string_inserts:
/// false` alone it has nothing else, and is read as any flat record (which says what it
/// lacks).
fn winevtlog_mark(root: &Map<String, Value>) -> Option<&'static str> {
    if matches!(root.get("StringInserts"), Some(Value::Array(_))) {
        Some("StringInserts")
    } else if matches!(root.get("EventData"), Some(Value::Object(_))) && !root.contains_key("Event") {
        Some("EventData")
    } else if rendered_xml(root).is_some() {
        Some("System (event XML)")
    } else if rendered_text(root).is_some() {
        Some("ProviderName= lines")
    } else {
        None
    }
}

/// `render_event_as_xml`: the event's XML under `System`.
fn rendered_xml(root: &Map<String, Value>) -> Option<&str> {
    root.get("System").and_then(Value::as_str).filter(|x| x.trim_start().starts_with('<'))
}

/// `render_event_as_text`: the `Name=value` lines, under whatever key the input was given.
fn rendered_text(root: &Map<String, Value>) -> Option<&str> {
    root.values().filter_map(Value::as_str).find(|t| t.starts_with("ProviderName=") && t.contains("\nEventID="))
}

/// Where a flat record may carry each System field, the event's own name first: winevtlog
/// and NXLog names, Security-Datasets' and what flattening pipelines make of `System`
/// (`Provider_Name` for `Provider/@Name`, `EventID` or Splunk's `EventCode`). `Hostname` is
/// NXLog's endpoint; `host` (its collector) is never read.
const EVENT_ID_KEYS: [&str; 4] = ["EventID", "EventId", "EventCode", "event_id"];
const CHANNEL_KEYS: [&str; 2] = ["Channel", "LogName"];
const PROVIDER_KEYS: [&str; 5] = ["ProviderName", "Provider_Name", "SourceName", "Provider", "SourceModuleName"];
const COMPUTER_KEYS: [&str; 4] = ["Computer", "ComputerName", "Hostname", "computer_name"];
const TIME_KEYS: [&str; 5] = ["TimeCreated", "@timestamp", "EventTime", "TimeGenerated", "SystemTime"];
const USER_ID_KEYS: [&str; 3] = ["UserID", "UserId", "Security_UserID"];

/// The first of `keys` the record has a value for.
fn first_text(root: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| root.get(*k).and_then(text).filter(|v| present(v).is_some()))
}

/// A flat Windows record: the System fields as keys of their own, the event data as an
/// `EventData` map (names), as Fluent Bit's positional `StringInserts`, or as keys beside the
/// System fields (NXLog, Security-Datasets, any flattening), read in that order, the first
/// value of a name winning. Fluent Bit's winevtlog writes one (default rendering), or the
/// whole event as XML under `System` (`render_event_as_xml`), or the System fields as
/// `Name=value` lines (`render_event_as_text`).
fn flat(root: &Map<String, Value>, format: Format, max_nesting: usize) -> Result<ProcessEvent, ScanError> {
    // render_event_as_xml: the XML is the whole event, its EventData included.
    if let Some(xml) = rendered_xml(root) {
        return super::xml::parse(xml.trim(), max_nesting)
            .map(|event| ProcessEvent { format: Format::FluentBit, ..event })
            .map_err(|mut e| {
                e.message = format!("the event XML in `System` (render_event_as_xml): {}", e.message);
                e
            });
    }
    let mut win = WinEvent {
        channel: first_text(root, &CHANNEL_KEYS),
        provider: first_text(root, &PROVIDER_KEYS),
        computer: first_text(root, &COMPUTER_KEYS),
        time: first_text(root, &TIME_KEYS),
        version: first_text(root, &["Version"]).and_then(|v| v.parse().ok()),
        user_id: first_text(root, &USER_ID_KEYS),
        ..WinEvent::default()
    };
    if win.provider.is_none()
        && let Some(rendered) = rendered_text(root)
    {
        system_from_text(&mut win, rendered);
    }
    if let Some(id) = first_text(root, &EVENT_ID_KEYS) {
        win.set_event_id(&id);
    }
    let map = root.get("EventData").and_then(Value::as_object);
    let inserts = root.get("StringInserts").and_then(Value::as_array);
    if let Some(map) = map {
        data_from_map(&mut win, map);
    }
    // Numbers (a Sysmon ProcessId is a UInt32) are packed as integers, not text.
    let positional = inserts.is_some_and(|i| win.set_inserts(i.iter().map(text)));
    data_from_map(&mut win, root);
    let event = win.into_process_event(format);
    let named = map.is_some() || root.keys().any(|k| WinEvent::wants(k));
    if !named && !positional && matches!(event.kind, Kind::ProcessCreation | Kind::ScriptBlock(_)) {
        return Err(ScanError::new(
            ErrorKind::UnknownShape,
            "a Windows process creation or script block without its event data (no EventData, StringInserts or \
             data fields such as CommandLine); from Fluent Bit's winevtlog: set string_inserts (the default) or \
             event_data_as_map",
        ));
    }
    Ok(event)
}

/// The system fields of `render_event_as_text`: `Name=value` lines (`append_kv_line`).
fn system_from_text(win: &mut WinEvent, rendered: &str) {
    for line in rendered.lines() {
        let Some((name, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        let value = (!value.is_empty()).then(|| value.to_string());
        match name {
            "ProviderName" => win.provider = value,
            "Channel" => win.channel = value,
            "Computer" => win.computer = value,
            "TimeCreated" => win.time = value,
            "Version" => win.version = value.and_then(|v| v.parse().ok()),
            "UserID" => win.user_id = value,
            "EventID" => win.set_event_id(value.as_deref().unwrap_or_default()),
            _ => {}
        }
    }
}

fn contains_text(v: Option<&Value>, wanted: &str) -> bool {
    match v {
        Some(Value::String(s)) => s.eq_ignore_ascii_case(wanted),
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case(wanted))),
        _ => false,
    }
}

/// `SHA256=…,MD5=…` as Sysmon writes `Hashes`, from a map of algorithm to digest.
fn hashes_from_map(v: Option<&Value>) -> Option<String> {
    let map = v?.as_object()?;
    let parts: Vec<String> =
        map.iter().filter_map(|(k, v)| Some(format!("{}={}", k.to_ascii_uppercase(), v.as_str()?))).collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// ECS after the Elastic pipelines (Winlogbeat 7+, Elastic Agent). Script-block logging is
/// the `windows.powershell_operational` data stream: EventID 4104 (`event.code` or
/// `winlog.event_id`) with the text in `powershell.file.script_block_text`.
fn ecs(root: &Map<String, Value>) -> ProcessEvent {
    let t = |path: &[&str]| at_text(root, path);
    let is_start = contains_text(at(root, &["event", "category"]), "process")
        && contains_text(at(root, &["event", "type"]), "start");
    let event_id = t(&["event", "code"]).or_else(|| t(&["winlog", "event_id"]));
    // Elastic's PowerShell data stream: its `powershell.*` fields, or PowerShell's channel or
    // provider (the `powershell` macro's sources) with the raw event data.
    let names_powershell = at(root, &["powershell"]).is_some()
        || root.keys().any(|k| k.starts_with("powershell."))
        || [t(&["winlog", "channel"]), t(&["winlog", "provider_name"]), t(&["event", "provider"])]
            .iter()
            .flatten()
            .any(|v| v.to_ascii_lowercase().contains("powershell"));
    let is_script_block = names_powershell && event_id.as_deref().is_some_and(|id| id.trim() == "4104");
    let kind = if is_script_block {
        let number = |path: &[&str]| t(path).and_then(|n| n.trim().parse().ok());
        Kind::ScriptBlock(Box::new(ScriptBlock {
            text: t(&["powershell", "file", "script_block_text"])
                .or_else(|| t(&["winlog", "event_data", "ScriptBlockText"]))
                .unwrap_or_default(),
            id: t(&["powershell", "file", "script_block_id"]).or_else(|| t(&["winlog", "event_data", "ScriptBlockId"])),
            message_number: number(&["powershell", "sequence"])
                .or_else(|| number(&["winlog", "event_data", "MessageNumber"])),
            message_total: number(&["powershell", "total"])
                .or_else(|| number(&["winlog", "event_data", "MessageTotal"])),
            path: t(&["file", "path"]).or_else(|| t(&["winlog", "event_data", "Path"])),
        }))
    } else if is_start {
        Kind::ProcessCreation
    } else {
        Kind::Other(format!(
            "ECS event.category {} event.type {}",
            at(root, &["event", "category"]).map_or("-".into(), Value::to_string),
            at(root, &["event", "type"]).map_or("-".into(), Value::to_string)
        ))
    };
    let executable = t(&["process", "executable"]);
    let channel = t(&["winlog", "channel"]).unwrap_or_default().to_ascii_lowercase();
    let fields = ProcessFields {
        time: t(&["@timestamp"]).map(|s| normalise_time(&s)),
        action: None,
        dest: t(&["winlog", "computer_name"]).or_else(|| t(&["host", "name"])),
        user: t(&["user", "name"]),
        user_id: t(&["user", "id"]).or_else(|| t(&["winlog", "user", "identifier"])),
        process: t(&["process", "command_line"]),
        process_name: t(&["process", "name"]).or_else(|| executable.as_deref().map(|p| basename(p).to_string())),
        process_id: t(&["process", "pid"]),
        process_guid: t(&["process", "entity_id"]),
        process_hash: hashes_from_map(at(root, &["process", "hash"])),
        process_integrity_level: t(&["winlog", "event_data", "IntegrityLevel"]).map(|s| s.to_lowercase()),
        original_file_name: t(&["process", "pe", "original_file_name"]),
        parent_process: t(&["process", "parent", "command_line"]),
        parent_process_name: t(&["process", "parent", "name"]),
        parent_process_path: t(&["process", "parent", "executable"]),
        parent_process_id: t(&["process", "parent", "pid"]),
        parent_process_guid: t(&["process", "parent", "entity_id"]),
        process_path: executable,
        vendor_product: if channel.contains("sysmon") {
            Some("Microsoft Sysmon".into())
        } else if channel == "security" {
            Some("Microsoft Windows".into())
        } else {
            None
        },
    };
    ProcessEvent { format: Format::Ecs, recognised_by: "", kind, fields }
}

/// OCSF Process Activity (class 1007); only activity 1 (Launch) is a process creation.
fn ocsf(root: &Map<String, Value>) -> ProcessEvent {
    let t = |path: &[&str]| at_text(root, path);
    let class = t(&["class_uid"]);
    let activity = t(&["activity_id"]);
    let kind = if class.as_deref() == Some("1007") && activity.as_deref() == Some("1") {
        Kind::ProcessCreation
    } else {
        Kind::Other(format!(
            "OCSF class_uid {} activity_id {}",
            class.as_deref().unwrap_or("-"),
            activity.as_deref().unwrap_or("-")
        ))
    };
    let path = t(&["process", "file", "path"]);
    let hash = at(root, &["process", "file", "hashes"]).and_then(Value::as_array).and_then(|list| {
        let parts: Vec<String> = list
            .iter()
            .filter_map(|h| {
                let algo = h.get("algorithm").and_then(Value::as_str)?;
                Some(format!(
                    "{}={}",
                    algo.replace('-', "").to_ascii_uppercase(), // OCSF `SHA-256`, Sysmon `SHA256`
                    h.get("value")?.as_str()?
                ))
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(","))
    });
    let vendor_product = match (t(&["metadata", "product", "vendor_name"]), t(&["metadata", "product", "name"])) {
        (Some(v), Some(p)) => Some(format!("{v} {p}")),
        (v, p) => v.or(p),
    };
    let fields = ProcessFields {
        time: t(&["time"]).map(|s| normalise_time(&s)),
        action: None,
        dest: t(&["device", "hostname"]),
        user: t(&["actor", "user", "name"]).or_else(|| t(&["process", "user", "name"])),
        user_id: t(&["actor", "user", "uid"]).or_else(|| t(&["process", "user", "uid"])),
        process: t(&["process", "cmd_line"]),
        process_name: t(&["process", "name"]).or_else(|| path.as_deref().map(|p| basename(p).to_string())),
        process_id: t(&["process", "pid"]),
        process_guid: t(&["process", "uid"]),
        process_hash: hash,
        process_integrity_level: t(&["process", "integrity"]).map(|s| s.to_lowercase()),
        original_file_name: t(&["process", "file", "internal_name"]),
        parent_process: t(&["process", "parent_process", "cmd_line"]),
        parent_process_name: t(&["process", "parent_process", "name"]).or_else(|| t(&["actor", "process", "name"])),
        parent_process_path: t(&["process", "parent_process", "file", "path"]),
        parent_process_id: t(&["process", "parent_process", "pid"]),
        parent_process_guid: t(&["process", "parent_process", "uid"]),
        process_path: path,
        vendor_product,
    };
    ProcessEvent { format: Format::Ocsf, recognised_by: "", kind, fields }
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
        assert_eq!(at_text(&m, &["process", "pid"]).as_deref(), Some("7"));
        assert_eq!(at_text(&m, &["a", "b"]).as_deref(), Some("c"));
    }

    #[test]
    fn xmltodict_entities_are_decoded() {
        assert_eq!(decode_entities("a &amp; b&#10;c"), "a & b\nc");
        assert_eq!(decode_entities("no entities"), "no entities");
    }
}
