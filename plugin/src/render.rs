//! Annotations in the field conventions SIEMs already use: ECS (Elastic) and the OCSF
//! Detection Finding (class 2004), beside the native shape the runner documents. Chosen by
//! the configuration's `output`; every host renders through here.

use serde_json::{Map, Value, json};

use crate::annotation::Annotation;
use crate::config::Output;
use crate::rules::Matcher;

/// The ATT&CK names of the ids the rule carries.
fn technique_name(id: &str) -> &'static str {
    match id {
        "T1021" => "Remote Services",
        "T1021.006" => "Windows Remote Management",
        "T1190" => "Exploit Public-Facing Application",
        _ => "",
    }
}

/// The ATT&CK id of a tactic the rules name.
fn tactic_id(name: &str) -> &'static str {
    match name {
        crate::rules::INITIAL_ACCESS => "TA0001",
        _ => "TA0008",
    }
}

/// A process id as a number: decimal (Sysmon) or hex (`0xf84`, Security 4688).
fn pid(text: Option<&str>) -> Value {
    let Some(t) = text else { return Value::Null };
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => t.parse().ok(),
    };
    parsed.map_or(Value::Null, Value::from)
}

/// Drops null members (and objects left empty), so that absent fields are absent.
fn prune(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let kept: Map<String, Value> = m
                .into_iter()
                .map(|(k, v)| (k, prune(v)))
                .filter(|(_, v)| !v.is_null() && !matches!(v, Value::Object(o) if o.is_empty()))
                .collect();
            Value::Object(kept)
        }
        other => other,
    }
}

fn matcher_name(m: Matcher) -> &'static str {
    match m {
        Matcher::Parity => "parity",
        Matcher::Extended => "extended",
    }
}

/// What ECS and OCSF have no field for, kept under one custom key.
fn detail(a: &Annotation) -> Value {
    json!({
        "rule": a.rule.as_str(),
        "matcher": matcher_name(a.matcher),
        "macro_profile": a.macro_profile,
        "techniques": a.techniques,
        "remote_targets": a.remote_targets,
        "evidence": a.evidence,
    })
}

pub fn render(a: &Annotation, output: Output) -> Value {
    match output {
        Output::Native => serde_json::to_value(a).unwrap_or(Value::Null),
        Output::Ecs => ecs(a),
        Output::Ocsf => ocsf(a),
    }
}

/// A field of the result row, `unknown` and absent alike; a script block's `Computer`
/// stands for `dest`.
fn known<'a>(a: &'a Annotation, name: &str) -> Option<&'a str> {
    let value = a.field(name).or_else(|| (name == "dest").then(|| a.field("Computer")).flatten());
    value.filter(|v| *v != "unknown")
}

fn ecs(a: &Annotation) -> Value {
    let f = |name: &str| known(a, name);
    let (parents, subs): (Vec<&String>, Vec<&String>) = a.mitre_technique_ids.iter().partition(|t| !t.contains('.'));
    let mut technique_ids: Vec<String> = parents.iter().map(|s| s.to_string()).collect();
    for sub in &subs {
        let parent = sub.split('.').next().unwrap_or(sub).to_string();
        if !technique_ids.contains(&parent) {
            technique_ids.push(parent);
        }
    }
    prune(json!({
        "@timestamp": f("_time"),
        "message": a.message,
        "event": {
            "kind": "alert",
            "category": ["process", "intrusion_detection"],
            "type": ["start", "indicator"],
            "code": f("EventCode"),
            "risk_score": a.risk_score,
            "module": "winrm-detect",
        },
        "rule": {
            "id": a.rule_id,
            "name": a.rule_name,
            "version": a.rule_version.to_string(),
            "ruleset": "Splunk ESCU",
        },
        "threat": {
            "framework": "MITRE ATT&CK",
            "technique": {
                "id": technique_ids,
                "name": technique_ids.iter().map(|t| technique_name(t)).collect::<Vec<_>>(),
                "subtechnique": {
                    "id": subs,
                    "name": subs.iter().map(|t| technique_name(t)).collect::<Vec<_>>(),
                },
            },
            "tactic": { "id": a.mitre_tactics.iter().map(|t| tactic_id(t)).collect::<Vec<_>>(), "name": a.mitre_tactics },
        },
        "host": { "name": f("dest") },
        "user": { "name": f("user"), "id": f("user_id") },
        "process": {
            "command_line": f("process"),
            "name": f("process_name"),
            "pid": pid(f("process_id")),
            "executable": f("process_path"),
            "entity_id": f("process_guid"),
            "pe": { "original_file_name": f("original_file_name") },
            "parent": {
                "command_line": f("parent_process"),
                "name": f("parent_process_name"),
                "pid": pid(f("parent_process_id")),
                "executable": f("parent_process_path"),
                "entity_id": f("parent_process_guid"),
            },
        },
        // The 4104 fields where Elastic's PowerShell integration puts them.
        "powershell": {
            "file": { "script_block_text": f("ScriptBlockText"), "script_block_id": f("ScriptBlockId") },
            "sequence": f("MessageNumber").and_then(|n| n.parse::<u64>().ok()),
            "total": f("MessageTotal").and_then(|n| n.parse::<u64>().ok()),
        },
        "file": { "path": f("Path") },
        "winrm_detect": detail(a),
    }))
}

fn ocsf(a: &Annotation) -> Value {
    let f = |name: &str| known(a, name);
    let time = f("_time").and_then(crate::event::epoch_millis).map_or(Value::Null, Value::from);
    let tactic = a.mitre_tactics.first().map_or(crate::rules::LATERAL_MOVEMENT, String::as_str);
    let attacks: Vec<Value> = a
        .mitre_technique_ids
        .iter()
        .filter(|t| t.contains('.') || !a.mitre_technique_ids.iter().any(|o| o.starts_with(&format!("{t}."))))
        .map(|t| {
            let parent = t.split('.').next().unwrap_or(t);
            let mut attack = json!({
                "version": "v15",
                "tactic": { "uid": tactic_id(tactic), "name": tactic },
                "technique": { "uid": parent, "name": technique_name(parent) },
            });
            if t.contains('.') {
                attack["sub_technique"] = json!({ "uid": t, "name": technique_name(t) });
            }
            attack
        })
        .collect();
    let (severity_id, severity) = match a.risk_score {
        0..=20 => (2, "Low"),
        21..=60 => (3, "Medium"),
        61..=80 => (4, "High"),
        _ => (5, "Critical"),
    };
    prune(json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "time": time,
        "message": a.message,
        "risk_score": a.risk_score,
        "metadata": {
            "version": "1.3.0",
            "product": { "name": "winrm-detect", "vendor_name": "winrm-detect", "version": env!("CARGO_PKG_VERSION") },
        },
        "finding_info": {
            "uid": format!("{}:{}:{}", a.rule_id, f("dest").unwrap_or("unknown"), f("process_guid").or(f("process_id")).or(f("ScriptBlockId")).unwrap_or("")),
            "title": a.rule_name,
            "analytic": { "uid": a.rule_id, "name": a.rule_name, "type_id": 1, "type": "Rule", "version": a.rule_version.to_string() },
            "attacks": attacks,
            "types": [matcher_name(a.matcher)],
        },
        "device": { "hostname": f("dest"), "type_id": 0 },
        "evidences": [{
            "process": {
                "pid": pid(f("process_id")),
                "uid": f("process_guid"),
                "name": f("process_name"),
                "cmd_line": f("process"),
                "file": { "path": f("process_path"), "name": f("process_name") },
                "user": { "name": f("user"), "uid": f("user_id") },
                "parent_process": {
                    "pid": pid(f("parent_process_id")),
                    "uid": f("parent_process_guid"),
                    "name": f("parent_process_name"),
                    "cmd_line": f("parent_process"),
                },
            },
            "actor": { "user": { "name": f("user"), "uid": f("user_id") } },
            // A script block has no process: its text and ids as the evidence's data.
            "data": {
                "script_block_text": f("ScriptBlockText"),
                "script_block_id": f("ScriptBlockId"),
                "message_number": f("MessageNumber"),
                "message_total": f("MessageTotal"),
                "path": f("Path"),
            },
        }],
        "unmapped": { "winrm_detect": detail(a) },
    }))
}
