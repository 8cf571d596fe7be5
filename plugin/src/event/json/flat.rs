//! Flat Windows records: the System fields as keys of their own beside the event data, as
//! Fluent Bit's winevtlog input (every rendering), NXLog, Security-Datasets and any flattening
//! pipeline write them.

use serde_json::{Map, Value};

use super::value::{data_from_map, text};
use crate::error::{ErrorKind, ScanError};
use crate::event::windows::WinEvent;
use crate::event::{Event, Format, Kind, present};

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
/// and NXLog names, Security-Datasets' and what flattening pipelines make of `System`
/// (`Provider_Name` for `Provider/@Name`, `EventID` or Splunk's `EventCode`). `Hostname` is
/// NXLog's endpoint; `host` (its collector) is never read.
pub(super) const EVENT_ID_KEYS: [&str; 4] = ["EventID", "EventId", "EventCode", "event_id"];
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
    let event = win.into_event(format);
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
