//! The `_filter` macro as configuration (each allowlist kind, loopback reporting, risk
//! score, rule version) and the ECS and OCSF renderings of an annotation.

use std::collections::BTreeSet;

use serde_json::Value;
use winrm_detect::{Detector, Output, render};

fn event(user: &str, host: &str, parent: &str, command: &str) -> Vec<u8> {
    serde_json::json!({"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": host,
        "TimeCreated": {"#attributes": {"SystemTime": "2026-03-02T10:15:30.123Z"}}},
        "EventData": {"ProcessId": 4242, "ProcessGuid": "{6B1F6F3C-0C1E-67C4-2A01-000000000A00}",
            "Image": r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", "OriginalFileName": "PowerShell.EXE",
            "CommandLine": command, "User": format!("CORP\\{user}"), "ParentProcessId": 1212,
            "ParentImage": format!("C:\\Windows\\{parent}"), "ParentCommandLine": parent}}})
    .to_string()
    .into_bytes()
}

const REMOTE: &str = "powershell.exe -c \"Invoke-Command -ComputerName FS02 {whoami}\"";
const LOOPBACK: &str = "powershell.exe -c \"Invoke-Command -ComputerName localhost,$env:COMPUTERNAME {whoami}\"";

fn fires(d: &Detector, e: &[u8]) -> bool {
    !d.scan(e).unwrap().is_empty()
}

#[test]
fn each_allowlist_kind_suppresses_and_counts() {
    let d = Detector::from_json(
        r#"{"allowlist": {"users": ["SVC_ANSIBLE"], "hosts": ["admin01.corp.example"],
            "parent_process_names": ["ccmexec.exe"], "command_line_patterns": ["*\\\\corp\\netlogon\\*", "*-computername fs9*"]}}"#,
    )
    .unwrap();
    assert!(fires(&d, &event("alice", "WS01", "explorer.exe", REMOTE)));
    assert!(!fires(&d, &event("svc_ansible", "WS01", "explorer.exe", REMOTE)), "user");
    assert!(!fires(&d, &event("alice", "ADMIN01.corp.example", "explorer.exe", REMOTE)), "host");
    assert!(!fires(&d, &event("alice", "WS01", "CcmExec.exe", REMOTE)), "parent");
    let script = r"powershell.exe -File \\corp\netlogon\inv.ps1; Invoke-Command -ComputerName FS02 {1}";
    assert!(!fires(&d, &event("alice", "WS01", "explorer.exe", script)), "pattern");
    let fs9 = "powershell.exe Invoke-Command -ComputerName FS99 {1}";
    assert!(!fires(&d, &event("alice", "WS01", "explorer.exe", fs9)), "second pattern");
    let stats = d.stats();
    assert_eq!((stats.events, stats.matched, stats.suppressed), (6, 1, 5));
}

#[test]
fn loopback_only_matches_can_be_left_out() {
    let reporting = Detector::from_json("{}").unwrap();
    let quiet = Detector::from_json(r#"{"report_loopback": false}"#).unwrap();
    let lo = event("alice", "WS01", "explorer.exe", LOOPBACK);
    let a = reporting.scan(&lo).unwrap();
    assert_eq!(a.len(), 1);
    assert!(a[0].remote_targets.iter().all(|t| t.loopback));
    assert!(!fires(&quiet, &lo));
    assert_eq!(quiet.stats().suppressed, 1);
    // A command naming the host itself by name is loopback too; one remote target is not.
    assert!(!fires(
        &quiet,
        &event("alice", "WS01.corp.example", "explorer.exe", "powershell Invoke-Command -ComputerName ws01 {1}")
    ));
    assert!(fires(&quiet, &event("alice", "WS01", "explorer.exe", REMOTE)));
    let mixed = "powershell Invoke-Command -ComputerName localhost,FS02 {1}";
    assert!(fires(&quiet, &event("alice", "WS01", "explorer.exe", mixed)));
}

#[test]
fn rule_version_and_risk_score() {
    let e = event("alice", "WS01", "explorer.exe", REMOTE);
    let v12 = Detector::from_json("{}").unwrap().scan(&e).unwrap().remove(0);
    assert_eq!((v12.rule_version, v12.risk_score), (12, 50));
    assert_eq!(v12.mitre_technique_ids, ["T1021.006"]);
    let v1 = Detector::from_json(r#"{"rule_version": 1}"#).unwrap().scan(&e).unwrap().remove(0);
    assert_eq!((v1.rule_version, v1.risk_score), (1, 45));
    assert_eq!(v1.mitre_technique_ids, ["T1021", "T1021.006"]);
    let custom = Detector::from_json(r#"{"risk_score": 80}"#).unwrap().scan(&e).unwrap().remove(0);
    assert_eq!(custom.risk_score, 80);
}

/// Every leaf path of a JSON object, dotted.
fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                paths(v, &p, out);
            }
        }
        Value::Array(a) if a.iter().any(Value::is_object) => {
            for v in a {
                paths(v, prefix, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

#[test]
fn ecs_rendering_uses_ecs_field_names() {
    let a = Detector::from_json("{}").unwrap().scan(&event("alice", "WS01", "explorer.exe", REMOTE)).unwrap().remove(0);
    let ecs = render(&a, Output::Ecs);
    // ECS 8.x field names (plus our custom winrm_detect.* namespace).
    let ecs_fields: BTreeSet<&str> = [
        "@timestamp",
        "message",
        "event.kind",
        "event.category",
        "event.type",
        "event.risk_score",
        "event.module",
        "rule.id",
        "rule.name",
        "rule.version",
        "rule.ruleset",
        "threat.framework",
        "threat.technique.id",
        "threat.technique.name",
        "threat.technique.subtechnique.id",
        "threat.technique.subtechnique.name",
        "threat.tactic.id",
        "threat.tactic.name",
        "host.name",
        "user.name",
        "user.id",
        "process.command_line",
        "process.name",
        "process.pid",
        "process.executable",
        "process.entity_id",
        "process.pe.original_file_name",
        "process.parent.command_line",
        "process.parent.name",
        "process.parent.pid",
        "process.parent.executable",
        "process.parent.entity_id",
    ]
    .into_iter()
    .collect();
    let mut got = BTreeSet::new();
    paths(&ecs, "", &mut got);
    for p in &got {
        assert!(ecs_fields.contains(p.as_str()) || p.starts_with("winrm_detect."), "not an ECS field: {p}");
    }
    for required in [
        "rule.id",
        "rule.name",
        "threat.framework",
        "threat.technique.id",
        "threat.tactic.name",
        "event.risk_score",
        "host.name",
        "user.name",
        "process.command_line",
    ] {
        assert!(got.contains(required), "missing {required}");
    }
    assert_eq!(ecs["threat"]["technique"]["subtechnique"]["id"][0], "T1021.006");
    assert_eq!(ecs["process"]["pid"], 4242);
    assert_eq!(ecs["event"]["risk_score"], 50);
    assert_eq!(ecs["host"]["name"], "WS01");
}

#[test]
fn ocsf_rendering_is_a_detection_finding() {
    let a = Detector::from_json(r#"{"rule_version": 1}"#)
        .unwrap()
        .scan(&event("alice", "WS01", "explorer.exe", REMOTE))
        .unwrap()
        .remove(0);
    let f = render(&a, Output::Ocsf);
    // OCSF 1.3 Detection Finding (class 2004) attributes.
    let top: BTreeSet<&str> = [
        "class_uid",
        "class_name",
        "category_uid",
        "category_name",
        "activity_id",
        "activity_name",
        "type_uid",
        "type_name",
        "severity_id",
        "severity",
        "status_id",
        "status",
        "time",
        "message",
        "risk_score",
        "metadata",
        "finding_info",
        "device",
        "evidences",
        "unmapped",
    ]
    .into_iter()
    .collect();
    for k in f.as_object().unwrap().keys() {
        assert!(top.contains(k.as_str()), "not a Detection Finding attribute: {k}");
    }
    assert_eq!(f["class_uid"], 2004);
    assert_eq!(f["type_uid"], 200401);
    assert_eq!(f["category_uid"], 2);
    assert_eq!(f["time"], 1_772_446_530_123i64);
    assert_eq!(f["finding_info"]["analytic"]["uid"], "ba24cda8-4716-11ec-8009-3e22fbd008af");
    assert_eq!(f["finding_info"]["attacks"][0]["sub_technique"]["uid"], "T1021.006");
    assert_eq!(f["finding_info"]["attacks"][0]["tactic"]["uid"], "TA0008");
    assert_eq!(
        f["finding_info"]["attacks"].as_array().unwrap().len(),
        1,
        "T1021 is the parent of T1021.006, not a second attack"
    );
    assert_eq!(f["evidences"][0]["process"]["cmd_line"], REMOTE);
    assert_eq!(f["device"]["hostname"], "WS01");
    assert_eq!(f["risk_score"], 45);
    let mut got = BTreeSet::new();
    paths(&f["finding_info"], "finding_info", &mut got);
    for p in got {
        let known = ["finding_info.uid", "finding_info.title", "finding_info.types"].contains(&p.as_str())
            || p.starts_with("finding_info.analytic.")
            || p.starts_with("finding_info.attacks.");
        assert!(known, "not a finding_info attribute: {p}");
    }
}

#[test]
fn output_is_checked_by_name() {
    let e = Detector::from_json(r#"{"output": "splunk"}"#).err().unwrap();
    assert!(e.message.contains("output"), "{}", e.message);
}

#[test]
fn the_example_configurations_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/config");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = winrm_detect::Config::from_json(&text) {
            panic!("{}: {e}", path.display());
        }
        n += 1;
    }
    assert!(n >= 4);
}
