//! Shapes as pipelines really deliver them: the same events renamed, flattened, with keys of
//! other shapes added (the distractors a shared pipeline adds) and keys removed, `EventID` as a
//! number and as text. Each case's verdict and full result row are asserted, and the native
//! library, the component (what the runner runs) and the Fluent Bit module must agree.

use host_test::emulated_fluent_bit::{FluentBitHost, Verdict};
use serde_json::{Map, Value, json};
use winrm_detect_runner::backend::{Backend, Wasm};
use winrm_detect_runner::component::Runtime;

const PARITY: &str = "ba24cda8-4716-11ec-8009-3e22fbd008af";
const SCRIPT_BLOCK: &str = "7d4c618e-4716-11ec-951c-3e22fbd008af";

const IMAGE: &str = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";
const COMMAND: &str = r#"powershell.exe -c "Invoke-Command -ComputerName FS02 { whoami }""#;

/// A Sysmon 1 parity positive's event data, under Sysmon's names.
fn sysmon_data() -> Map<String, Value> {
    let Value::Object(m) = json!({
        "UtcTime": "2026-03-02 10:15:30.123",
        "ProcessGuid": "{11111111-2222-3333-4444-555555555555}",
        "ProcessId": "4242",
        "Image": IMAGE,
        "OriginalFileName": "PowerShell.EXE",
        "CommandLine": COMMAND,
        "User": r"CORP\alice",
        "IntegrityLevel": "High",
        "Hashes": "SHA256=ABCDEF",
        "ParentProcessGuid": "{66666666-2222-3333-4444-555555555555}",
        "ParentProcessId": "1000",
        "ParentImage": r"C:\Windows\explorer.exe",
        "ParentCommandLine": r"C:\Windows\Explorer.EXE",
    }) else {
        unreachable!()
    };
    m
}

const SYSMON_CHANNEL: &str = "Microsoft-Windows-Sysmon/Operational";
const TIME: &str = "2026-03-02T10:15:30.1230000Z";

/// The System fields a flattening pipeline writes, under the names given.
fn with(mut record: Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(e) = extra {
        record.extend(e);
    }
    Value::Object(record)
}

fn flat(extra: Value) -> Value {
    with(sysmon_data(), json!({"EventID": 1, "Channel": SYSMON_CHANNEL, "TimeCreated": TIME}).merge(extra))
}

trait Merge {
    fn merge(self, other: Value) -> Value;
}

impl Merge for Value {
    fn merge(mut self, other: Value) -> Value {
        if let (Value::Object(a), Value::Object(b)) = (&mut self, other) {
            a.extend(b);
        }
        self
    }
}

/// The same event as Fluent Bit's winevtlog writes it (Sysmon 1 version 5 inserts).
fn winevtlog(extra: Value) -> Value {
    let d = sysmon_data();
    let at = |k: &str| d[k].clone();
    json!({
        "ProviderName": "Microsoft-Windows-Sysmon", "EventID": 1, "Version": 5, "Channel": SYSMON_CHANNEL,
        "Computer": "WS01.corp.example", "TimeCreated": TIME, "EventRecordID": 77,
        "StringInserts": ["-", at("UtcTime"), at("ProcessGuid"), 4242, at("Image"), "", "", "", "", at("OriginalFileName"),
            at("CommandLine"), "C:\\", at("User"), "{0}", "0x1", 1, at("IntegrityLevel"), at("Hashes"),
            at("ParentProcessGuid"), 1000, at("ParentImage"), at("ParentCommandLine"), r"CORP\alice"],
    })
    .merge(extra)
}

/// The canonical rendering: EVTX JSON, as evtx_dump writes it.
fn evtx(extra: Value) -> Value {
    json!({"Event": {
        "System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1, "Version": 5,
            "Channel": SYSMON_CHANNEL, "Computer": "WS01.corp.example",
            "TimeCreated": {"#attributes": {"SystemTime": TIME}}},
        "EventData": Value::Object(sysmon_data()),
    }})
    .merge(extra)
}

fn winlogbeat(extra: Value) -> Value {
    json!({"@timestamp": TIME, "winlog": {"channel": SYSMON_CHANNEL, "provider_name": "Microsoft-Windows-Sysmon",
        "event_id": "1", "computer_name": "WS01.corp.example", "event_data": Value::Object(sysmon_data())}})
    .merge(extra)
}

/// (name, event, rule ids that fire in parity, whether its row is the canonical one).
fn cases() -> Vec<(&'static str, Value, Vec<&'static str>, bool)> {
    let fires = || vec![PARITY];
    vec![
        ("evtx", evtx(json!({})), fires(), true),
        // The issue's table: a flat Sysmon event, its host under Computer, plus one name.
        (
            "flat +Provider_Name",
            flat(json!({"Computer": "WS01.corp.example", "Provider_Name": "Microsoft-Windows-Sysmon"})),
            fires(),
            true,
        ),
        (
            "flat +ProviderName +EventRecordID",
            flat(
                json!({"Computer": "WS01.corp.example", "ProviderName": "Microsoft-Windows-Sysmon", "EventRecordID": 77}),
            ),
            fires(),
            true,
        ),
        (
            "flat +Hostname +Provider_Name",
            flat(
                json!({"Computer": "WS01.corp.example", "Hostname": "WS01.corp.example", "Provider_Name": "Microsoft-Windows-Sysmon"}),
            ),
            fires(),
            true,
        ),
        (
            "flat +SourceName",
            flat(json!({"Computer": "WS01.corp.example", "SourceName": "Microsoft-Windows-Sysmon"})),
            fires(),
            true,
        ),
        // Renamed and removed keys.
        ("flat, host as ComputerName", flat(json!({"ComputerName": "WS01.corp.example"})), fires(), true),
        (
            "flat, host as Hostname (NXLog), collector as host",
            flat(json!({"Hostname": "WS01.corp.example", "host": "collector01"})),
            fires(),
            true,
        ),
        ("flat, EventID as text", flat(json!({"EventID": "1", "Computer": "WS01.corp.example"})), fires(), true),
        (
            "flat, EventCode (Splunk) for EventID",
            {
                let mut v = flat(json!({"EventCode": "1", "Computer": "WS01.corp.example"}));
                v.as_object_mut().unwrap().remove("EventID");
                v
            },
            fires(),
            true,
        ),
        (
            "flat, no Channel but the provider",
            {
                let mut v = flat(json!({"Computer": "WS01.corp.example", "Provider_Name": "Microsoft-Windows-Sysmon"}));
                v.as_object_mut().unwrap().remove("Channel");
                v
            },
            fires(),
            true,
        ),
        // Other shapes' marks added.
        ("flat +empty winlog", flat(json!({"Computer": "WS01.corp.example", "winlog": {}})), fires(), true),
        (
            "flat +process object",
            flat(json!({"Computer": "WS01.corp.example", "process": {"name": "x"}})),
            fires(),
            true,
        ),
        (
            "flat +empty StringInserts",
            flat(json!({"Computer": "WS01.corp.example", "StringInserts": []})),
            fires(),
            true,
        ),
        (
            "flat +#attributes +event_data",
            flat(json!({"Computer": "WS01.corp.example", "#attributes": {}, "event_data": {}})),
            fires(),
            true,
        ),
        ("winevtlog", winevtlog(json!({})), fires(), true),
        ("winevtlog +collector Hostname", winevtlog(json!({"Hostname": "collector01"})), fires(), true),
        (
            "winevtlog, host as Hostname",
            {
                let mut v = winevtlog(json!({"Hostname": "WS01.corp.example"}));
                v.as_object_mut().unwrap().remove("Computer");
                v
            },
            fires(),
            true,
        ),
        ("winevtlog, EventID as text", winevtlog(json!({"EventID": "1"})), fires(), true),
        ("evtx +ProviderName +StringInserts", evtx(json!({"ProviderName": "x", "StringInserts": []})), fires(), true),
        ("evtx +flat EventID +Hostname", evtx(json!({"EventID": 1, "Hostname": "collector01"})), fires(), true),
        ("winlogbeat", winlogbeat(json!({})), fires(), true),
        (
            "winlogbeat +flattened EventID, Computer",
            winlogbeat(json!({"EventID": 1, "Computer": "WS01.corp.example"})),
            fires(),
            true,
        ),
        (
            "xmltodict +ProviderName",
            json!({"Event": {"System": {"Provider": {"@Name": "Microsoft-Windows-Sysmon"},
            "EventID": "1", "Channel": SYSMON_CHANNEL, "Computer": "WS01.corp.example",
            "TimeCreated": {"@SystemTime": TIME}},
            "EventData": {"Data": sysmon_data().into_iter().map(|(k, v)| json!({"@Name": k, "#text": v})).collect::<Vec<_>>()}},
            "ProviderName": "x"}),
            fires(),
            true,
        ),
        (
            "winlogbeat6 +empty winlog +EventID",
            json!({"@timestamp": TIME, "log_name": SYSMON_CHANNEL,
            "source_name": "Microsoft-Windows-Sysmon", "event_id": 1, "computer_name": "WS01.corp.example",
            "event_data": Value::Object(sysmon_data()), "winlog": {}, "EventID": 1}),
            fires(),
            true,
        ),
        (
            "ecs +EventID +StringInserts",
            json!({"@timestamp": TIME, "event": {"category": ["process"], "type": ["start"]},
            "host": {"name": "WS01.corp.example"}, "user": {"name": "alice"},
            "process": {"name": "powershell.exe", "command_line": COMMAND, "pid": 4242, "executable": IMAGE,
                "parent": {"name": "explorer.exe", "pid": 1000}},
            "EventID": 1, "StringInserts": []}),
            fires(),
            false,
        ),
        (
            "ocsf +Computer",
            json!({"class_uid": 1007, "activity_id": 1, "device": {"hostname": "WS01.corp.example"},
            "actor": {"user": {"name": "alice"}}, "process": {"name": "powershell.exe", "cmd_line": COMMAND, "pid": 4242},
            "Computer": "elsewhere"}),
            fires(),
            false,
        ),
        (
            "cim +EventID",
            json!({"Processes.dest": "WS01.corp.example", "Processes.user": "alice",
            "Processes.process_name": "powershell.exe", "Processes.process": COMMAND, "EventID": 4688}),
            fires(),
            false,
        ),
        // Security 4688 and a script block, flat, with Splunk's names.
        (
            "flat 4688, EventCode, ComputerName",
            json!({"EventCode": "4688", "LogName": "Security", "ComputerName": "WS02",
            "NewProcessName": IMAGE, "NewProcessId": "0x1092", "CommandLine": COMMAND, "SubjectUserName": "bob",
            "TargetUserName": "-", "ParentProcessName": r"C:\Windows\System32\cmd.exe", "ProcessId": "0x44"}),
            fires(),
            false,
        ),
        (
            "flat 4104, Provider_Name, EventID as text",
            json!({"EventID": "4104", "Provider_Name": "Microsoft-Windows-PowerShell",
            "Computer": "WS03", "UserID": "S-1-5-21-1", "MessageNumber": "1", "MessageTotal": "1",
            "ScriptBlockId": "{aaaa}", "ScriptBlockText": "Invoke-Command -ComputerName FS02 { whoami }"}),
            vec![SCRIPT_BLOCK],
            false,
        ),
        // Negative twins: the same words where the rule must not fire.
        (
            "flat, not PowerShell",
            flat(json!({"Computer": "WS01.corp.example", "Image": r"C:\Windows\System32\cmd.exe",
            "OriginalFileName": "Cmd.Exe", "CommandLine": "cmd /c echo Invoke-Command -ComputerName FS02"})),
            vec![],
            false,
        ),
        ("flat, a process termination", flat(json!({"EventID": 5, "Computer": "WS01.corp.example"})), vec![], false),
    ]
}

/// The fields of the Splunk result row that a case must get exactly as the canonical event.
const ROW: [&str; 15] = [
    "_time",
    "dest",
    "user",
    "process",
    "process_name",
    "process_id",
    "process_path",
    "process_guid",
    "process_hash",
    "process_integrity_level",
    "original_file_name",
    "parent_process",
    "parent_process_name",
    "parent_process_id",
    "parent_process_path",
];

fn fired(annotations: &[winrm_detect::Annotation]) -> Vec<String> {
    annotations.iter().map(|a| a.rule_id.clone()).collect()
}

fn row(annotation: &winrm_detect::Annotation) -> Map<String, Value> {
    let rendered = winrm_detect::render(annotation, winrm_detect::Output::Native);
    ROW.iter().map(|k| (k.to_string(), rendered["fields"][*k].clone())).collect()
}

#[test]
fn every_shape_renamed_flattened_and_distracted() {
    let detector = winrm_detect::Detector::from_json("{}").unwrap();
    let canonical = detector.scan(evtx(json!({})).to_string().as_bytes()).unwrap();
    let canonical_row = row(&canonical[0]);
    assert_eq!(canonical_row["dest"], "WS01.corp.example");
    assert_eq!(canonical_row["user"], "alice");
    let runtime = Runtime::load_default().unwrap();
    let mut component = Wasm::new(&runtime, "{}").unwrap().unwrap();
    let mut module = FluentBitHost::new(None).unwrap();
    let mut failures = Vec::new();
    for (name, event, want, canonical) in cases() {
        let text = event.to_string();
        let native = detector.scan(text.as_bytes());
        let got = native.as_deref().map(fired).map_err(|e| format!("{}: {}", e.kind.as_str(), e.message));
        let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        if got.as_ref() != Ok(&want) {
            failures.push(format!("{name}: fired {got:?}, want {want:?}"));
            continue;
        }
        let annotations = native.unwrap();
        if canonical && row(&annotations[0]) != canonical_row {
            failures.push(format!("{name}: row {:?}\n  want {canonical_row:?}", row(&annotations[0])));
        }
        // Every positive knows its host: `unknown` only where the record does not say.
        if let Some(a) = annotations.first() {
            let dest = a.fields.iter().find(|(k, _)| k == "dest" || k == "Computer").and_then(|(_, v)| v.as_deref());
            if !matches!(dest, Some("WS01.corp.example" | "WS02" | "WS03")) {
                failures.push(format!("{name}: dest {dest:?}"));
            }
        }
        // The component (the runner's) and the Fluent Bit module agree, annotation for annotation.
        let through_component = component.scan_batch(&[text.clone().into_bytes()]).remove(0).unwrap();
        assert_eq!(through_component, annotations, "{name}: the component disagrees");
        let out = match module.call("winrm_detect_annotate", "t", (0, 0), text.as_bytes()).unwrap() {
            Verdict::Replace(out) => out,
            other => panic!("{name}: the Fluent Bit module answered {other:?}"),
        };
        let rendered: Vec<Value> =
            annotations.iter().map(|a| winrm_detect::render(a, winrm_detect::Output::Native)).collect();
        let from_module = out.get("winrm_detect").cloned().unwrap_or(Value::Array(Vec::new()));
        assert_eq!(from_module, Value::Array(rendered), "{name}: the Fluent Bit module disagrees");
    }
    assert!(failures.is_empty(), "{} of {} cases:\n{}", failures.len(), cases().len(), failures.join("\n"));
}

/// A record that only names a process creation, with no data at all: an error that says what
/// is missing, never a silent nothing.
#[test]
fn a_record_without_event_data_says_what_it_lacks() {
    let detector = winrm_detect::Detector::from_json(r#"{"parse_all":true}"#).unwrap();
    let bare = json!({"EventID": 1, "Channel": SYSMON_CHANNEL, "Computer": "WS01", "ProviderName": "Microsoft-Windows-Sysmon", "EventRecordID": 1});
    let e = detector.scan(bare.to_string().as_bytes()).unwrap_err();
    assert_eq!(e.kind, winrm_detect::ErrorKind::UnknownShape);
    assert!(e.message.contains("without its event data") && e.message.contains("CommandLine"), "{}", e.message);
}
