//! Winlogbeat without Elastic's ingest pipelines: 7 and later (`winlog.*`) and 6 (`event_data.*`).

use serde_json::{Map, Value};

use super::value::{at, at_text, data_from_map};
use crate::error::ScanError;
use crate::event::windows::WinEvent;
use crate::event::{Event, Format};

/// Winlogbeat 7+ without ingest pipelines: `winlog.*`, the endpoint in `winlog.computer_name`.
pub(super) fn winlogbeat(root: &Map<String, Value>) -> Result<Event, ScanError> {
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
    Ok(win.into_event(Format::Winlogbeat))
}

/// Winlogbeat 6: `event_data.*`, the endpoint in `computer_name` (`host.name` and
/// `beat.hostname` name the collector).
pub(super) fn winlogbeat6(root: &Map<String, Value>) -> Result<Event, ScanError> {
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
    Ok(win.into_event(Format::Winlogbeat6))
}
