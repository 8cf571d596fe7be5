//! Reading values out of a JSON record, as every shape does: a scalar as text, a path through
//! nested objects (or as one dotted key), and an event-data map into a Windows event.

use serde_json::{Map, Value};

use crate::event::present;
use crate::event::windows::WinEvent;

/// A scalar as text: strings as they are, numbers and booleans printed, anything else absent.
pub(in crate::event) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Follows `path` through nested objects, or finds it as one dotted key (`process.pid`)
/// as flattened ECS writes it.
pub(in crate::event) fn at<'v>(root: &'v Map<String, Value>, path: &[&str]) -> Option<&'v Value> {
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

pub(in crate::event) fn at_text(root: &Map<String, Value>, path: &[&str]) -> Option<String> {
    at(root, path).and_then(text).filter(|s| present(s).is_some())
}

pub(in crate::event) fn data_from_map(win: &mut WinEvent, data: &Map<String, Value>) {
    for (name, value) in data {
        if WinEvent::wants(name)
            && let Some(v) = text(value)
        {
            win.set_data(name, v);
        }
    }
}
