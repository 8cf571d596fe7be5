//! Elastic Common Schema, after Elastic's pipelines (Winlogbeat 7+, Elastic Agent): process
//! starts, and script blocks from the `windows.powershell_operational` data stream.

use serde_json::{Map, Value};

use super::value::{at, at_text};
use crate::event::{Event, Format, Kind, ProcessFields, ScriptBlock, basename, normalise_time};

fn contains_text(v: Option<&Value>, wanted: &str) -> bool {
    match v {
        Some(Value::String(s)) => s.eq_ignore_ascii_case(wanted),
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case(wanted))),
        _ => false,
    }
}

/// `MD5=…,SHA256=…` as Sysmon writes `Hashes`, from a map of algorithm to digest, in the
/// algorithms' name order. Not in the order the event wrote them: serde_json keeps that only
/// with its `preserve_order` feature, which the runner turns on and the wasm builds do not, and
/// the hosts must agree (the `serve_body` fuzz target found them differing).
fn hashes_from_map(v: Option<&Value>) -> Option<String> {
    let map = v?.as_object()?;
    let mut parts: Vec<String> =
        map.iter().filter_map(|(k, v)| Some(format!("{}={}", k.to_ascii_uppercase(), v.as_str()?))).collect();
    parts.sort_unstable();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// ECS after the Elastic pipelines (Winlogbeat 7+, Elastic Agent). Script-block logging is
/// the `windows.powershell_operational` data stream: EventID 4104 (`event.code` or
/// `winlog.event_id`) with the text in `powershell.file.script_block_text`.
pub(super) fn ecs(root: &Map<String, Value>) -> Event {
    let t = |path: &[&str]| at_text(root, path);
    let event_id = t(&["event", "code"]).or_else(|| t(&["winlog", "event_id"]));
    let sources = [t(&["winlog", "channel"]), t(&["winlog", "provider_name"]), t(&["event", "provider"])];
    let names = |needle: &str| sources.iter().flatten().any(|v| v.to_ascii_lowercase().contains(needle));
    // A start by ECS's categories, or by the Windows event it came from where a pipeline left
    // the categories out (Elastic Agent without the integration's pipeline, a custom one).
    let is_start = (contains_text(at(root, &["event", "category"]), "process")
        && contains_text(at(root, &["event", "type"]), "start"))
        || match event_id.as_deref().map(str::trim) {
            Some("1") => names("sysmon"),
            Some("4688") => !names("sysmon") && !names("powershell"),
            _ => false,
        };
    // Elastic's PowerShell data stream: its `powershell.*` fields, or PowerShell's channel or
    // provider (the `powershell` macro's sources) with the raw event data.
    let names_powershell =
        at(root, &["powershell"]).is_some() || root.keys().any(|k| k.starts_with("powershell.")) || names("powershell");
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
    Event { format: Format::Ecs, recognised_by: "", kind, fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_come_in_name_order_whatever_the_event_wrote() {
        let map: Value = serde_json::from_str(r#"{"sha256":"b","md5":"a","imphash":"c","size":1}"#).unwrap();
        assert_eq!(hashes_from_map(Some(&map)).as_deref(), Some("IMPHASH=c,MD5=a,SHA256=b"));
        assert_eq!(hashes_from_map(Some(&serde_json::json!({}))), None);
    }
}
