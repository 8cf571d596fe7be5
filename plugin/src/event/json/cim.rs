//! Splunk CIM `Endpoint.Processes` records, with bare field names or `Processes.`-prefixed
//! (as `tstats ... from datamodel=Endpoint.Processes` returns them before
//! `drop_dm_object_name`). Every record of that node is a process, so it is a creation.

use serde_json::{Map, Value};

use super::value::text;
use crate::event::{Event, Format, Kind, ProcessFields, present};

/// Keys that only a CIM process record has at its top level as plain strings.
const CIM_KEYS: [&str; 4] = ["process_name", "parent_process_name", "original_file_name", "process"];

pub(super) fn looks_like_cim(root: &Map<String, Value>) -> bool {
    root.keys().any(|k| k.starts_with("Processes."))
        || CIM_KEYS.iter().any(|k| matches!(root.get(*k), Some(Value::String(_))))
}

pub(super) fn from_record(root: &Map<String, Value>) -> Event {
    let get = |name: &str| -> Option<String> {
        let v = root.get(&format!("Processes.{name}")).or_else(|| root.get(name))?;
        // A multivalue field: the first value, as `tstats ... by` would split on it.
        let v = match v {
            Value::Array(a) => a.first()?,
            v => v,
        };
        text(v).filter(|s| present(s).is_some())
    };
    let fields = ProcessFields {
        time: get("_time").map(|t| crate::event::normalise_time(&t)),
        action: get("action"),
        dest: get("dest"),
        user: get("user"),
        user_id: get("user_id"),
        process: get("process"),
        process_name: get("process_name"),
        process_path: get("process_path"),
        process_id: get("process_id"),
        process_guid: get("process_guid"),
        process_hash: get("process_hash"),
        process_integrity_level: get("process_integrity_level"),
        original_file_name: get("original_file_name"),
        parent_process: get("parent_process"),
        parent_process_name: get("parent_process_name"),
        parent_process_path: get("parent_process_path"),
        parent_process_id: get("parent_process_id"),
        parent_process_guid: get("parent_process_guid"),
        vendor_product: get("vendor_product"),
    };
    Event { format: Format::Cim, recognised_by: "", kind: Kind::ProcessCreation, fields }
}
