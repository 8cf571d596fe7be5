//! `--emit summary`: the Splunk search's closing `| tstats count min(_time) as firstTime
//! max(_time) as lastTime … by …` over a scan's annotations, and its table, CSV and JSON.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use serde_json::{Map, Value, json};
use winrm_detect::rules::Reads;
use winrm_detect::{Annotation, Rule};

/// How `--emit summary` prints its rows.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    Table,
    Csv,
    Json,
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
    /// `| stats … by dest signature signature_id user_id vendor_product EventID Guid Opcode
    /// Name Path ProcessID ScriptBlockId ScriptBlockText` (Interactive Session, version 10):
    /// those of them a script-block row carries, `dest` being `Computer`.
    const INTERACTIVE_SESSION: &[&str] = &["Computer", "user_id", "Path", "ScriptBlockId", "ScriptBlockText"];
    match rule {
        Rule::ScriptBlock => SCRIPT_BLOCK,
        Rule::InteractiveSession => INTERACTIVE_SESSION,
        Rule::ProcessCreation if rule_version == 1 => V1,
        // Winrs (version 6), WinRM Spawning a Process (4) and Execute Shell (8) group by
        // the same fields as version 12.
        _ => V12,
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
        let matcher = annotation.matcher.as_str().to_string();
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

/// The rows of `summary` in `format`.
pub fn print(out: &mut dyn Write, summary: &Summary, format: SummaryFormat) -> Result<()> {
    let rows = summary.rows();
    match format {
        SummaryFormat::Json => {
            for row in &rows {
                writeln!(out, "{}", Value::Object(row.clone()))?;
            }
        }
        SummaryFormat::Csv => {
            // The two rules' rows have different `BY` fields: one header over all of them.
            let mut header: Vec<&String> = Vec::new();
            for key in rows.iter().flat_map(|r| r.keys()) {
                if !header.contains(&key) {
                    header.push(key);
                }
            }
            if header.is_empty() {
                return Ok(());
            }
            writeln!(out, "{}", header.iter().map(|h| csv_cell(h)).collect::<Vec<_>>().join(","))?;
            for row in &rows {
                let cells: Vec<String> =
                    header.iter().map(|h| csv_cell(&plain(row.get(*h).unwrap_or(&Value::Null)))).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        SummaryFormat::Table => {
            const PROCESS: &[&str] = &[
                "count",
                "firstTime",
                "lastTime",
                "matcher",
                "dest",
                "user",
                "parent_process_name",
                "process_name",
                "process_id",
                "process",
            ];
            const SCRIPT_BLOCK: &[&str] =
                &["count", "firstTime", "lastTime", "matcher", "Computer", "user_id", "ScriptBlockText"];
            let rules: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
            let shown_rules: Vec<&str> =
                rules.iter().copied().filter(|r| rows.iter().any(|row| row["rule"] == *r)).collect();
            for (i, rule) in shown_rules.iter().enumerate() {
                let reads = Rule::ALL.iter().find(|r| r.as_str() == *rule).map(|r| r.reads());
                let columns = if reads == Some(Reads::ScriptBlocks) { SCRIPT_BLOCK } else { PROCESS };
                let group: Vec<&Map<String, Value>> = rows.iter().filter(|row| row["rule"] == *rule).collect();
                if shown_rules.len() > 1 || *rule != Rule::ProcessCreation.as_str() {
                    writeln!(out, "{}rule {rule}:", if i > 0 { "\n" } else { "" })?;
                }
                table(out, columns, &group)?;
            }
            if rows.is_empty() {
                table(out, PROCESS, &[])?;
                writeln!(out, "(no matches)")?;
            }
            writeln!(out)?;
            print_counts(out, summary)?;
        }
    }
    Ok(())
}

/// The matches counted per rule, matcher and extended-mode technique.
pub fn print_counts(out: &mut dyn Write, summary: &Summary) -> Result<()> {
    let counts = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    writeln!(out, "per rule: {}", counts(&summary.per_rule))?;
    writeln!(out, "per matcher: {}", counts(&summary.per_matcher))?;
    if !summary.per_technique.is_empty() {
        writeln!(out, "per technique: {}", counts(&summary.per_technique))?;
    }
    Ok(())
}

/// Rows as a plain-text table of `columns`, long or multi-line cells shortened.
fn table(out: &mut dyn Write, columns: &[&str], rows: &[&Map<String, Value>]) -> Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|k| {
                    let v = plain(row.get(*k).unwrap_or(&Value::Null)).replace(['\n', '\r'], "⏎");
                    if v.chars().count() > 60 { format!("{}…", v.chars().take(59).collect::<String>()) } else { v }
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, h)| cells.iter().map(|r| r[i].chars().count()).chain([h.len()]).max().unwrap_or(0))
        .collect();
    let line = |vals: &[String]| -> String {
        vals.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    writeln!(out, "{}", line(&columns.iter().map(|c| c.to_string()).collect::<Vec<_>>()))?;
    for r in &cells {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
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
