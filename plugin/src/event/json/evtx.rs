//! EVTX JSON (`evtx_dump`, the `evtx` crate: `Event.System`, `Event.EventData`, attributes
//! under `#attributes`) and the xmltodict layout of the same XML (`@Name` attributes, entities
//! left encoded), read from a `serde_json::Value`. The fast path that reads EVTX JSON without
//! a `Value` is `event/evtx_json.rs`, and must answer as this one does.

use serde_json::{Map, Value};

use super::value::text;
use crate::error::{ErrorKind, ScanError};
use crate::event::windows::WinEvent;
use crate::event::{Event, Format};

/// An XML element rendered as JSON: a scalar, or `{"#text": …}` beside its attributes.
pub(super) fn element_text(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => m.get("#text").and_then(text),
        other => text(other),
    }
}

/// An attribute: `{"#attributes": {"Name": …}}` (evtx) or `{"@Name": …}` (xmltodict).
pub(super) fn attribute(v: Option<&Value>, name: &str) -> Option<String> {
    let v = v?;
    v.get("#attributes").and_then(|a| a.get(name)).or_else(|| v.get(format!("@{name}").as_str())).and_then(text)
}

pub(super) fn evtx_like(root: &Map<String, Value>, format: Format) -> Result<Event, ScanError> {
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
    Ok(win.into_event(format))
}

/// xmltodict exports leave XML entities encoded (`&amp;` in command lines); decode the five
/// predefined ones and character references, once, as an XML reader would have.
pub(super) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    quick_xml::escape::unescape(s).map(|c| c.into_owned()).unwrap_or_else(|_| s.to_string())
}
