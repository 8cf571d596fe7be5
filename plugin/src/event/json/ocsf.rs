//! OCSF Process Activity (class 1007).

use serde_json::{Map, Value};

use super::value::{at, at_text};
use crate::event::{Event, Format, Kind, ProcessFields, basename, normalise_time};

/// OCSF Process Activity (class 1007); only activity 1 (Launch) is a process creation.
pub(super) fn ocsf(root: &Map<String, Value>) -> Event {
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
    Event { format: Format::Ocsf, recognised_by: "", kind, fields }
}
