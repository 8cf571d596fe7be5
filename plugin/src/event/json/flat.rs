//! Flat Windows records: the System fields as keys of their own beside the event data, as
//! Fluent Bit's winevtlog input (every rendering), NXLog (`xm_json`, and `to_xml()` through
//! `event::xml`), Azure Monitor's `Event` and `SecurityEvent` tables, Splunk's search results,
//! Security-Datasets and any flattening pipeline write them, under each one's names.

use serde_json::{Map, Value};

use super::evtx;
use super::value::{data_from_map, text};
use crate::error::{ErrorKind, ScanError};
use crate::event::windows::WinEvent;
use crate::event::{Event, Format, Kind, one_of, present, rendered, same_name};

/// Fluent Bit's winevtlog input, as `plugins/in_winevtlog/pack.c` writes a record: the
/// event data as the positional `StringInserts` array (`string_inserts`, the default), as
/// an `EventData` map of names to values (`event_data_as_map`), or both; with
/// `render_event_as_xml` the whole event as XML under `System`; with `render_event_as_text`
/// the system fields as `Name=value` lines under `render_event_text_key`. Only the
/// default rendering has the system fields as keys of their own; with `string_inserts:
/// false` alone it has nothing else, and is read as any flat record (which says what it
/// lacks).
pub(super) fn winevtlog_mark(root: &Map<String, Value>) -> Option<&'static str> {
    if matches!(root.get("StringInserts"), Some(Value::Array(_))) {
        Some("StringInserts")
    } else if matches!(root.get("EventData"), Some(Value::Object(_)))
        && !root.contains_key("Event")
        && !matches!(root.get("System"), Some(Value::Object(_)))
    {
        Some("EventData")
    } else if rendered_xml(root).is_some() {
        Some("System (event XML)")
    } else if rendered_text(root).is_some() {
        Some("ProviderName= lines")
    } else {
        None
    }
}

/// A row of Azure Monitor's (Microsoft Sentinel's) Windows tables, as the Log Analytics API,
/// `az monitor log-analytics query` and the portal's export give it: its `Type` column names
/// the table; without it, columns only those tables have.
fn azure_mark(root: &Map<String, Value>) -> Option<&'static str> {
    match root.get("Type").and_then(Value::as_str) {
        Some("SecurityEvent") => return Some("Type SecurityEvent"),
        Some("Event") => return Some("Type Event"),
        Some("WindowsEvent") => return Some("Type WindowsEvent"),
        _ => {}
    }
    ["EventLog", "ParameterXml", "EventSourceName", "RenderedDescription"].into_iter().find(|k| root.contains_key(*k))
}

/// A Splunk search result (a row of `| table`, an export's `result`): the event text in
/// `_raw` (read before the row's fields, see `json::candidates`), its source as
/// `XmlWinEventLog:<channel>`.
fn splunk_mark(root: &Map<String, Value>) -> Option<&'static str> {
    if root.contains_key("_raw") {
        Some("_raw")
    } else if splunk_channel(root).is_some() {
        Some("source")
    } else {
        ["sourcetype", "_time", "_cd"].into_iter().find(|k| root.contains_key(*k))
    }
}

/// The channel Splunk's Windows inputs put in `source` (or, in older add-ons, `sourcetype`):
/// `XmlWinEventLog:Microsoft-Windows-Sysmon/Operational`, `WinEventLog:Security`.
fn splunk_channel(root: &Map<String, Value>) -> Option<&str> {
    ["source", "sourcetype"].iter().find_map(|k| {
        let v = root.get(*k)?.as_str()?;
        let (input, channel) = v.split_once(':')?;
        (input.eq_ignore_ascii_case("XmlWinEventLog") || input.eq_ignore_ascii_case("WinEventLog"))
            .then_some(channel)
            .filter(|c| !c.is_empty())
    })
}

/// Whether a record is a flat Windows record, and whose: Fluent Bit's winevtlog, an Azure
/// Monitor row, a Splunk result, or any other flattening (NXLog's, Security-Datasets',
/// a pipeline's), by the mark it was chosen by.
pub(super) fn candidate(root: &Map<String, Value>) -> Option<(Format, &'static str)> {
    if let Some(mark) = azure_mark(root) {
        return Some((Format::AzureMonitor, mark));
    }
    if let Some(mark) = winevtlog_mark(root) {
        return Some((Format::FluentBit, mark));
    }
    if let Some(mark) = splunk_mark(root) {
        return Some((Format::Splunk, mark));
    }
    let exact = |keys: &[&'static str]| keys.iter().copied().find(|k| root.contains_key(*k));
    exact(&EVENT_ID_KEYS)
        .or_else(|| exact(&["ProviderName"]))
        .or_else(|| matches!(root.get("System"), Some(Value::Object(_))).then_some("System"))
        .or_else(|| root.keys().any(|k| one_of(k, &EVENT_ID_KEYS)).then_some("event id, respelled"))
        .map(|mark| (Format::Nxlog, mark))
}

/// `render_event_as_xml`: the event's XML under `System`.
fn rendered_xml(root: &Map<String, Value>) -> Option<&str> {
    root.get("System").and_then(Value::as_str).filter(|x| x.trim_start().starts_with('<'))
}

/// `render_event_as_text`: the `Name=value` lines, under whatever key the input was given; of
/// two, the one whose key comes first by name, whatever order the map keeps (see
/// `ecs::hashes_from_map`).
fn rendered_text(root: &Map<String, Value>) -> Option<&str> {
    root.iter()
        .filter_map(|(k, v)| Some((k, v.as_str()?)))
        .filter(|(_, t)| t.starts_with("ProviderName=") && t.contains("\nEventID="))
        .min_by_key(|(k, _)| *k)
        .map(|(_, t)| t)
}

/// Where a flat record may carry each System field, the event's own name first: winevtlog
/// and NXLog names, Azure Monitor's columns (`Source` and `EventLog` in the `Event` table,
/// `EventSourceName` in `SecurityEvent`), Security-Datasets' and what flattening pipelines
/// make of `System` (`Provider_Name` for `Provider/@Name`, `EventID` or Splunk's
/// `EventCode`). `Hostname` is NXLog's endpoint; `host` (its collector, or Splunk's
/// forwarder) is never read. A name found nowhere as spelled is looked for in any case and
/// with underscores (`event_id`, `provider_name`: see [`same_name`]).
pub(super) const EVENT_ID_KEYS: [&str; 4] = ["EventID", "EventId", "EventCode", "event_id"];
const CHANNEL_KEYS: [&str; 3] = ["Channel", "LogName", "EventLog"];
const PROVIDER_KEYS: [&str; 7] =
    ["ProviderName", "Provider_Name", "SourceName", "Provider", "EventSourceName", "Source", "SourceModuleName"];
const COMPUTER_KEYS: [&str; 4] = ["Computer", "ComputerName", "Hostname", "computer_name"];
const TIME_KEYS: [&str; 6] = ["TimeCreated", "@timestamp", "EventTime", "TimeGenerated", "SystemTime", "_time"];
const USER_ID_KEYS: [&str; 3] = ["UserID", "UserId", "Security_UserID"];
/// The message Windows renders, where a source keeps it (NXLog, Splunk's classic text:
/// `Message`; Azure Monitor's `Event` table: `RenderedDescription`).
const MESSAGE_KEYS: [&str; 2] = ["Message", "RenderedDescription"];

/// The first of `keys` the record has a value for, as spelled; failing that, respelled.
#[inline(never)]
fn first_text(root: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    let usable = |v: &Value| text(v).filter(|v| present(v).is_some());
    keys.iter().find_map(|k| root.get(*k).and_then(usable)).or_else(|| {
        keys.iter().find_map(|name| root.iter().find(|(k, _)| same_name(k, name)).and_then(|(_, v)| usable(v)))
    })
}

/// A flat Windows record: the System fields as keys of their own (or a `System` object), the
/// event data as an `EventData` map (names) or XML string (Azure Monitor), as Fluent Bit's
/// positional `StringInserts` or Azure Monitor's `ParameterXml`, or as keys beside the System
/// fields (NXLog, Security-Datasets, any flattening), read in that order, the first value of
/// a name winning; with none of those, the rendered message. Fluent Bit's winevtlog writes
/// one (default rendering), or the whole event as XML under `System` (`render_event_as_xml`),
/// or the System fields as `Name=value` lines (`render_event_as_text`).
pub(super) fn flat(root: &Map<String, Value>, format: Format, max_nesting: usize) -> Result<Event, ScanError> {
    // render_event_as_xml: the XML is the whole event, its EventData included.
    if let Some(xml) = rendered_xml(root) {
        return crate::event::xml::parse(xml.trim(), max_nesting)
            .map(|event| Event { format: Format::FluentBit, ..event })
            .map_err(|mut e| {
                e.message = format!("the event XML in `System` (render_event_as_xml): {}", e.message);
                e
            });
    }
    let mut win = WinEvent::default();
    if let Some(Value::Object(system)) = root.get("System") {
        system_object(&mut win, system);
    }
    win.channel = win.channel.or_else(|| first_text(root, &CHANNEL_KEYS));
    win.provider = win.provider.or_else(|| first_text(root, &PROVIDER_KEYS));
    win.computer = win.computer.or_else(|| first_text(root, &COMPUTER_KEYS));
    win.time = win.time.or_else(|| first_text(root, &TIME_KEYS));
    win.version = win.version.or_else(|| first_text(root, &["Version"]).and_then(|v| v.parse().ok()));
    win.user_id = win.user_id.or_else(|| first_text(root, &USER_ID_KEYS));
    if win.channel.is_none() {
        win.channel = splunk_channel(root).map(str::to_string);
    }
    if win.provider.is_none()
        && let Some(rendered) = rendered_text(root)
    {
        system_from_text(&mut win, rendered);
    }
    if win.event_id.is_none()
        && let Some(id) = first_text(root, &EVENT_ID_KEYS)
    {
        win.set_event_id(&id);
    }
    let mut named = collector_fields(&mut win, root);
    match root.get("EventData") {
        Some(Value::Object(map)) => {
            data_from_map(&mut win, map);
            named = true;
        }
        // Azure Monitor: the event data as XML text (`<DataItem>` around it in `Event`).
        Some(Value::String(xml)) if xml.trim_start().starts_with('<') => {
            crate::event::xml::fragment(xml, max_nesting, &mut |item| {
                if let crate::event::xml::Item::Data(name, value) = item {
                    win.set_data(name, value);
                    named = true;
                }
            })
            .map_err(|mut e| {
                e.message = format!("the event data XML in `EventData`: {}", e.message);
                e
            })?;
        }
        _ => {}
    }
    // Numbers (a Sysmon ProcessId is a UInt32) are packed as integers, not text.
    let mut positional = match root.get("StringInserts") {
        Some(Value::Array(inserts)) => win.set_inserts(inserts.iter().map(text)),
        _ => false,
    };
    if !named
        && !positional
        && let Some(Value::String(xml)) = root.get("ParameterXml")
    {
        let mut params = Vec::new();
        crate::event::xml::fragment(xml, max_nesting, &mut |item| {
            if let crate::event::xml::Item::Param(value) = item {
                params.push(value.map(str::to_string));
            }
        })
        .map_err(|mut e| {
            e.message = format!("the parameters in `ParameterXml`: {}", e.message);
            e
        })?;
        positional = !params.is_empty() && win.set_inserts(params.into_iter());
    }
    data_from_map(&mut win, root);
    named |= root.keys().any(|k| WinEvent::wants(k));
    if !named && !positional {
        for (key, value) in root {
            if let (Some(name), Some(v)) = (WinEvent::wanted_loosely(key), text(value)) {
                win.set_data(name, v);
                named = true;
            }
        }
    }
    // The rendered message, where the data lacks what a rule reads; what the data holds wins.
    if win.lacks_payload()
        && let Some(message) = first_text(root, &MESSAGE_KEYS)
    {
        named |= rendered::data_from_message(&mut win, &message);
    }
    let event = win.into_event(format);
    if !named && !positional && matches!(event.kind, Kind::ProcessCreation | Kind::ScriptBlock(_)) {
        return Err(ScanError::new(
            ErrorKind::UnknownShape,
            "a Windows process creation or script block without its event data (no EventData, StringInserts or \
             data fields such as CommandLine, and no message to read them from); from Fluent Bit's winevtlog: set \
             string_inserts (the default) or event_data_as_map",
        ));
    }
    Ok(event)
}

/// The OpenTelemetry Collector's `windowseventlog` receiver without `raw` (stanza's windows
/// input; a log record's kvlist body, read as JSON): `event_id: {id, qualifiers}`,
/// `provider: {name, guid, event_source}`, and `event_data: {data: [{Name: value}, ...]}`
/// (receivers before v0.100 wrote `event_data: {Name: value}`), `security: {user_id}`. Its other System fields
/// (`channel`, `computer`, `system_time`) are the flat names respelled. Whether it found event
/// data by name.
fn collector_fields(win: &mut WinEvent, root: &Map<String, Value>) -> bool {
    let member = |key: &str, name: &str| match root.get(key) {
        Some(Value::Object(o)) => o.get(name).and_then(text),
        _ => None,
    };
    if win.event_id.is_none()
        && let Some(id) = member("event_id", "id")
    {
        win.set_event_id(&id);
    }
    win.provider = win.provider.take().or_else(|| member("provider", "name"));
    win.user_id = win.user_id.take().or_else(|| member("security", "user_id"));
    let Some(Value::Object(event_data)) = root.get("event_data") else { return false };
    match event_data.get("data") {
        Some(Value::Array(items)) => {
            for item in items {
                if let Value::Object(pair) = item {
                    data_from_map(win, pair);
                }
            }
        }
        _ => data_from_map(win, event_data),
    }
    true
}

/// A `System` object in a flat record (a pipeline that kept the element whole and flattened
/// the rest): its children as EVTX JSON, xmltodict or a plain converter writes them
/// (`Provider: {"#attributes": {"Name"}}`, `{"@Name"}`, `{"Name"}` or a string).
fn system_object(win: &mut WinEvent, system: &Map<String, Value>) {
    let element = |key: &str| system.get(key).and_then(evtx::element_text).filter(|v| present(v).is_some());
    let attribute = |key: &str, name: &str| {
        let v = system.get(key)?;
        evtx::attribute(Some(v), name).or_else(|| v.get(name).and_then(text)).or_else(|| text(v))
    };
    win.channel = element("Channel");
    win.computer = element("Computer");
    win.provider = attribute("Provider", "Name");
    win.time = attribute("TimeCreated", "SystemTime");
    win.user_id = attribute("Security", "UserID");
    win.version = element("Version").and_then(|v| v.trim().parse().ok());
    if let Some(id) = element("EventID") {
        win.set_event_id(&id);
    }
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
