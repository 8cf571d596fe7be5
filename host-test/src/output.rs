//! The runner's output contract (documented in the README; scripts depend on it):
//! `--emit matches` one JSON line per matching event, `--emit all` every event back as JSON
//! with its annotations, `--emit summary` the Splunk result table; errors on stderr as
//! `FILE:LINE: error: <why>`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use winrm_detect::{Annotation, Output, Rule, render};

use crate::scan::Record;

/// The key under which `--emit all` adds the annotations to an event.
pub const ANNOTATIONS_KEY: &str = "winrm_detect";
/// The key under which `--emit all` adds a per-event error.
pub const ERROR_KEY: &str = "winrm_detect_error";

fn rendered(list: &[Annotation], output: Output) -> Value {
    Value::Array(list.iter().map(|a| render(a, output)).collect())
}

/// `{"source": …, "line": …, "annotations": […]}` for a matching event, the annotations in
/// the configured output convention.
pub fn match_line(record: &Record<'_>, output: Output) -> Option<String> {
    match &record.outcome {
        Ok(list) if !list.is_empty() => Some(
            json!({"source": record.source, "line": record.line, "annotations": rendered(list, output)}).to_string(),
        ),
        _ => None,
    }
}

/// The event as JSON with its annotations added: a JSON object keeps its keys; anything
/// else (event XML) is carried as a string under `event`.
pub fn all_line(record: &Record<'_>, output: Output) -> String {
    annotated_event(record.event, &record.outcome, output)
}

/// [`all_line`] for an event and its outcome: what `--emit all` writes and `serve` hands on.
pub fn annotated_event(event: &[u8], outcome: &crate::backend::Outcome, output: Output) -> String {
    let text = String::from_utf8_lossy(event);
    let trimmed = text.trim_start_matches('\u{feff}');
    let mut object = match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Object(map)) => map,
        _ => {
            let mut map = Map::new();
            map.insert("event".into(), Value::String(trimmed.to_string()));
            map
        }
    };
    match outcome {
        Ok(list) => {
            object.insert(ANNOTATIONS_KEY.into(), rendered(list, output));
        }
        Err(e) => {
            object.insert(ANNOTATIONS_KEY.into(), Value::Array(Vec::new()));
            object.insert(ERROR_KEY.into(), json!({"kind": e.kind.as_str(), "message": e.message}));
        }
    }
    Value::Object(object).to_string()
}

/// `FILE:LINE: error: <why>` for a failed event.
pub fn error_line(record: &Record<'_>) -> Option<String> {
    let e = record.outcome.as_ref().err()?;
    Some(format!("{}:{}: error: {}: {}", record.source, record.line, e.kind.as_str(), e.message))
}

/// The Splunk search's `BY` fields, per rule and, for the process-creation rule, version.
pub fn by_fields(rule: Rule, rule_version: u32) -> &'static [&'static str] {
    const V1: &[&str] =
        &["dest", "user", "parent_process_name", "process_name", "process", "process_id", "parent_process_id"];
    const V12: &[&str] = &[
        "action",
        "dest",
        "original_file_name",
        "parent_process",
        "parent_process_exec",
        "parent_process_guid",
        "parent_process_id",
        "parent_process_name",
        "parent_process_path",
        "process",
        "process_exec",
        "process_guid",
        "process_hash",
        "process_id",
        "process_integrity_level",
        "process_name",
        "process_path",
        "user",
        "user_id",
        "vendor_product",
    ];
    /// `| stats count min(_time) as firstTime max(_time) as lastTime by EventCode
    /// ScriptBlockText Computer user_id` (the script-block twin, every version).
    const SCRIPT_BLOCK: &[&str] = &["EventCode", "ScriptBlockText", "Computer", "user_id"];
    match rule {
        Rule::ScriptBlock => SCRIPT_BLOCK,
        Rule::ProcessCreation if rule_version == 1 => V1,
        Rule::ProcessCreation => V12,
    }
}

/// `| tstats count min(_time) as firstTime max(_time) as lastTime … by …` (or the
/// script-block twin's `stats`) over the annotations of a scan, one row per rule and
/// distinct `BY` values, rows grouped by rule.
pub struct Summary {
    rule_version: u32,
    rows: BTreeMap<(Rule, String, Vec<Option<String>>), Row>,
    pub per_rule: BTreeMap<String, u64>,
    pub per_matcher: BTreeMap<String, u64>,
    pub per_technique: BTreeMap<String, u64>,
}

struct Row {
    matcher: String,
    count: u64,
    first: Option<i64>,
    last: Option<i64>,
}

impl Summary {
    pub fn new(rule_version: u32) -> Summary {
        Summary {
            rule_version,
            rows: BTreeMap::new(),
            per_rule: BTreeMap::new(),
            per_matcher: BTreeMap::new(),
            per_technique: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, annotation: &Annotation) {
        let by = by_fields(annotation.rule, self.rule_version);
        let key: Vec<Option<String>> = by.iter().map(|f| annotation.field(f).map(str::to_string)).collect();
        let matcher = serde_json::to_value(annotation.matcher)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *self.per_rule.entry(annotation.rule.as_str().to_string()).or_default() += 1;
        *self.per_matcher.entry(matcher.clone()).or_default() += 1;
        for t in &annotation.techniques {
            *self.per_technique.entry(t.clone()).or_default() += 1;
        }
        let time = annotation.field("_time").and_then(epoch_seconds);
        let row = self.rows.entry((annotation.rule, annotation.rule_id.clone(), key)).or_insert(Row {
            matcher,
            count: 0,
            first: None,
            last: None,
        });
        row.count += 1;
        if let Some(t) = time {
            row.first = Some(row.first.map_or(t, |f| f.min(t)));
            row.last = Some(row.last.map_or(t, |l| l.max(t)));
        }
    }

    /// Rows as JSON objects: count, firstTime, lastTime, the rule, then its `BY` fields.
    pub fn rows(&self) -> Vec<Map<String, Value>> {
        self.rows
            .iter()
            .map(|((rule, rule_id, key), row)| {
                let mut m = Map::new();
                m.insert("count".into(), json!(row.count));
                m.insert("firstTime".into(), json!(row.first.map(ctime)));
                m.insert("lastTime".into(), json!(row.last.map(ctime)));
                m.insert("rule".into(), json!(rule.as_str()));
                m.insert("rule_id".into(), json!(rule_id));
                m.insert("matcher".into(), json!(row.matcher));
                for (name, value) in by_fields(*rule, self.rule_version).iter().zip(key) {
                    m.insert((*name).into(), json!(value));
                }
                m
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Seconds since the epoch of an ISO 8601 time (the detector normalises event times).
pub fn epoch_seconds(time: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(time).ok().map(|t| t.timestamp())
}

/// `security_content_ctime`: `%Y-%m-%dT%H:%M:%S`, in UTC.
pub fn ctime(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_render_as_splunk_does() {
        let t = epoch_seconds("2024-10-21T11:31:57.615954Z").unwrap();
        assert_eq!(ctime(t), "2024-10-21T11:31:57");
        assert_eq!(ctime(epoch_seconds("2024-10-21T13:31:57+02:00").unwrap()), "2024-10-21T11:31:57");
        assert_eq!(epoch_seconds("yesterday"), None);
    }
}
