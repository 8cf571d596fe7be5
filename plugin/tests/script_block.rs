//! The script-block twin against a table of script texts: the literal rule's positives, each
//! evasion extended mode reads, and their negative twins (text that is never run). Every text
//! is wrapped in every shape that carries EventID 4104 in turn, so the rule is exercised
//! behind every parser; then multi-part blocks, other events and the `rules` choice.

use base64::Engine;
use winrm_detect::{Annotation, Detector, Matcher, Rule};

const HOST: &str = "WS01.corp.example";
const SID: &str = "S-1-5-21-1-2-3-1104";
const BLOCK_ID: &str = "{4c5a8d2e-2f6b-4e1a-9d3c-7b1e0f2a6c11}";
const CHANNEL: &str = "Microsoft-Windows-PowerShell/Operational";
const PROVIDER: &str = "Microsoft-Windows-PowerShell";
const SHAPES: usize = 11;

fn b64(script: &str) -> String {
    let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(utf16)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&apos;").replace('\n', "&#10;")
}

/// One part of a script block, as every shape writes it.
struct Part<'a> {
    channel: &'a str,
    event_id: u32,
    text: &'a str,
    number: u32,
    total: u32,
}

impl Part<'_> {
    fn whole(text: &str) -> Part<'_> {
        Part { channel: CHANNEL, event_id: 4104, text, number: 1, total: 1 }
    }
}

fn xml(p: &Part<'_>) -> String {
    format!(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='{PROVIDER}' Guid='{{a0c1853b-5c40-4b15-8766-3cf1c58f985a}}'/><EventID>{}</EventID><Version>1</Version><Level>5</Level><Task>2</Task><Opcode>15</Opcode><TimeCreated SystemTime='2026-03-02T10:15:30.123Z'/><Channel>{}</Channel><Computer>{HOST}</Computer><Security UserID='{SID}'/></System><EventData><Data Name='MessageNumber'>{}</Data><Data Name='MessageTotal'>{}</Data><Data Name='ScriptBlockText'>{}</Data><Data Name='ScriptBlockId'>{BLOCK_ID}</Data><Data Name='Path'></Data></EventData></Event>",
        p.event_id,
        p.channel,
        p.number,
        p.total,
        xml_escape(p.text)
    )
}

fn event(shape: usize, p: &Part<'_>) -> Vec<u8> {
    use serde_json::json;
    let data = json!({"MessageNumber": p.number, "MessageTotal": p.total, "ScriptBlockText": p.text, "ScriptBlockId": BLOCK_ID, "Path": ""});
    let time = "2026-03-02T10:15:30.123Z";
    let text = match shape {
        0 => xml(p),
        // EVTX JSON (evtx_dump).
        1 => json!({"Event": {"#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"}, "System": {"Provider": {"#attributes": {"Name": PROVIDER}}, "EventID": p.event_id, "Version": 1, "TimeCreated": {"#attributes": {"SystemTime": time}}, "Channel": p.channel, "Computer": HOST, "Security": {"#attributes": {"UserID": SID}}}, "EventData": data}}).to_string(),
        // xmltodict.
        2 => json!({"Event": {"@xmlns": "http://schemas.microsoft.com/win/2004/08/events/event", "System": {"Provider": {"@Name": PROVIDER}, "EventID": p.event_id.to_string(), "TimeCreated": {"@SystemTime": time}, "Channel": p.channel, "Computer": HOST, "Security": {"@UserID": SID}},
            "EventData": {"Data": [{"@Name": "MessageNumber", "#text": p.number.to_string()}, {"@Name": "MessageTotal", "#text": p.total.to_string()}, {"@Name": "ScriptBlockText", "#text": xml_escape(p.text)}, {"@Name": "ScriptBlockId", "#text": BLOCK_ID}, {"@Name": "Path"}]}}}).to_string(),
        // Winlogbeat 7+ without the ingest pipeline.
        3 => json!({"@timestamp": time, "winlog": {"channel": p.channel, "provider_name": PROVIDER, "event_id": p.event_id, "computer_name": HOST, "user": {"identifier": SID}, "event_data": data}}).to_string(),
        // Winlogbeat 6.
        4 => json!({"@timestamp": time, "log_name": p.channel, "source_name": PROVIDER, "event_id": p.event_id, "computer_name": HOST, "user": {"identifier": SID}, "event_data": data}).to_string(),
        // ECS after Elastic's PowerShell pipeline.
        5 => json!({"@timestamp": time, "event": {"code": p.event_id.to_string(), "provider": PROVIDER, "kind": "event"}, "host": {"name": "ws01"},
            "winlog": {"channel": p.channel, "computer_name": HOST, "event_id": p.event_id.to_string(), "user": {"identifier": SID}, "event_data": {}},
            "powershell": {"file": {"script_block_text": p.text, "script_block_id": BLOCK_ID}, "sequence": p.number, "total": p.total}}).to_string(),
        // NXLog / Security-Datasets flat.
        6 => json!({"@timestamp": time, "Hostname": HOST, "EventID": p.event_id, "Channel": p.channel, "SourceName": PROVIDER, "UserID": SID, "MessageNumber": p.number.to_string(), "MessageTotal": p.total.to_string(), "ScriptBlockText": p.text, "ScriptBlockId": BLOCK_ID, "Path": ""}).to_string(),
        // Fluent Bit winevtlog, positional StringInserts (the default).
        7 => json!({"ProviderName": PROVIDER, "EventID": p.event_id, "Channel": p.channel, "Computer": HOST, "TimeCreated": "2026-03-02 11:15:30 +0100", "EventRecordID": 7, "UserID": SID, "Version": 1,
            "StringInserts": [p.number, p.total, p.text, BLOCK_ID, ""]}).to_string(),
        // Fluent Bit winevtlog, event_data_as_map.
        8 => json!({"ProviderName": PROVIDER, "EventID": p.event_id, "Channel": p.channel, "Computer": HOST, "TimeCreated": "2026-03-02 11:15:30 +0100", "EventRecordID": 7, "UserID": SID, "EventData": data}).to_string(),
        // Event XML in a shipper's `log` field.
        9 => json!({"log": xml(p)}).to_string(),
        // EVTX JSON in a `message` string.
        _ => json!({"message": String::from_utf8(event(1, p)).unwrap(), "host": "collector"}).to_string(),
    };
    text.into_bytes()
}

type Expect = Option<(Matcher, &'static [&'static str], &'static [&'static str])>;
const P: Matcher = Matcher::Parity;
const X: Matcher = Matcher::Extended;

/// (script text, parity's verdict, extended's verdict).
fn cases() -> Vec<(String, Expect, Expect)> {
    let hit = Some((P, &[][..], &["FS02"][..]));
    vec![
        // The literal rule's positives; extended agrees (parity first).
        ("Invoke-Command -ComputerName FS02 -ScriptBlock { whoami }".into(), hit, hit),
        (
            "# Collect from the file servers\nfunction Get-Remote {\n    param([string]$Name)\n    Invoke-Command -ComputerName $Name -ScriptBlock {\n        Get-Process\n    }\n}\nGet-Remote -Name FS02\n".into(),
            Some((P, &[], &["$Name"])),
            Some((P, &[], &["$Name"])),
        ),
        ("$s = New-PSSession -ComputerName FS02\r\nInvoke-Command -Session $s { whoami }".into(), hit, hit),
        // The literal terms in text that is never run: the literal rule fires, and so does
        // extended, which keeps every parity finding.
        ("Write-Host 'Invoke-Command -ComputerName FS02'".into(), Some((P, &[], &[])), Some((P, &[], &[]))),
        // Evasions only extended reads.
        ("icm -cn FS02 { whoami }".into(), None, Some((X, &["alias", "parameter-alias"], &["FS02"]))),
        ("ICM FS02 { whoami }".into(), None, Some((X, &["alias", "positional"], &["FS02"]))),
        ("Invoke-Command -Comp FS02 { whoami }".into(), None, Some((X, &["parameter-prefix"], &["FS02"]))),
        ("Invoke-Com`mand -Cn FS02 { whoami }".into(), None, Some((X, &["backtick", "parameter-alias"], &["FS02"]))),
        (
            "$p = @{ ComputerName = 'FS02'; ScriptBlock = { whoami } }\nInvoke-Command @p".into(),
            None,
            Some((X, &["splat"], &["FS02"])),
        ),
        ("$s = nsn FS02\nicm -Session $s { whoami }".into(), None, Some((X, &["alias", "session"], &["FS02"]))),
        (
            "Get-Date | Out-Null\nforeach ($h in $hosts) {\n  icm -cn $h -ScriptBlock { hostname }\n}".into(),
            None,
            Some((X, &["alias", "parameter-alias"], &["$h"])),
        ),
        (
            format!("powershell.exe -NoProfile -EncodedCommand {}", b64("icm -cn FS02 { whoami }")),
            None,
            Some((X, &["alias", "encoded-command", "parameter-alias"], &["FS02"])),
        ),
        // Negative twins: the same calls as text that never runs, or no remote target.
        ("Write-Host \"icm -cn FS02 { whoami }\"".into(), None, None),
        ("# icm -cn FS02 { whoami }\nGet-Date".into(), None, None),
        ("<# Invoke-Command -Cn FS02 { whoami } #>\nGet-Date".into(), None, None),
        ("$help = @'\nicm -cn FS02 { whoami }\n'@\nWrite-Output $help".into(), None, None),
        ("Invoke-Command -ScriptBlock { whoami }".into(), None, None),
        ("Test-NetConnection -ComputerName FS02 -Port 5985".into(), None, None),
        ("Invoke-Command -VMName FS02 { whoami }".into(), None, None),
        ("Invoke-Command -HostName FS02 { whoami }".into(), None, None),
        ("".into(), None, None),
    ]
}

fn detector(mode: &str) -> Detector {
    Detector::from_json(&format!(r#"{{"mode":"{mode}"}}"#)).unwrap()
}

fn check(what: &str, got: &[Annotation], want: Expect) {
    match want {
        None => assert!(got.is_empty(), "{what}: fired {got:#?}"),
        Some((matcher, techniques, targets)) => {
            assert_eq!(got.len(), 1, "{what}: {got:#?}");
            let a = &got[0];
            assert_eq!(a.rule, Rule::ScriptBlock, "{what}");
            assert_eq!(a.matcher, matcher, "{what}");
            assert_eq!(a.techniques, techniques, "{what}");
            let hosts: Vec<&str> = a.remote_targets.iter().map(|t| t.host.as_str()).collect();
            assert_eq!(hosts, targets, "{what}");
            assert_eq!(a.field("Computer"), Some(HOST), "{what}");
            assert_eq!(a.field("EventCode"), Some("4104"), "{what}");
            assert_eq!(a.risk_object, HOST, "{what}");
            match matcher {
                Matcher::Parity => {
                    assert_eq!(a.rule_id, "7d4c618e-4716-11ec-951c-3e22fbd008af", "{what}");
                    assert_eq!(a.risk_score, 45);
                }
                Matcher::Extended => assert_eq!(a.rule_id, "e9faac01-cec4-5f84-9219-77000ecdeee6", "{what}"),
            }
        }
    }
}

#[test]
fn every_case_in_every_shape() {
    let (parity, extended) = (detector("parity"), detector("extended"));
    for (text, want_parity, want_extended) in cases() {
        for shape in 0..SHAPES {
            let event = event(shape, &Part::whole(&text));
            let what = format!("shape {shape}: {text:?}");
            check(&format!("parity, {what}"), &parity.scan(&event).unwrap(), want_parity);
            let got = extended.scan(&event).unwrap();
            check(&format!("extended, {what}"), &got, want_extended);
            // What the fast reject passes over must be what the rule never fires on.
            assert_eq!(extended.scan_without_prefilter(&event).unwrap(), got, "{what}");
            assert_eq!(parity.scan_without_prefilter(&event).unwrap(), parity.scan(&event).unwrap(), "{what}");
        }
    }
}

#[test]
fn the_row_is_the_searchs_by_fields() {
    let text = "Invoke-Command -ComputerName FS02 { whoami }";
    for shape in 0..SHAPES {
        let a = &detector("parity").scan(&event(shape, &Part::whole(text))).unwrap()[0];
        assert_eq!(a.field("ScriptBlockText"), Some(text), "shape {shape}");
        assert_eq!(a.field("ScriptBlockId"), Some(BLOCK_ID), "shape {shape}");
        assert_eq!(a.field("MessageNumber"), Some("1"), "shape {shape}");
        assert_eq!(a.field("MessageTotal"), Some("1"), "shape {shape}");
        assert_eq!(a.field("user_id"), Some(SID), "shape {shape}");
        assert!(a.field("_time").is_some_and(|t| t.starts_with("2026-03-02T")), "shape {shape}");
        assert_eq!(a.evidence[0].layer, "script-block");
        assert_eq!(
            a.message,
            "A process was started on a remote endpoint from WS01.corp.example by abusing WinRM using PowerShell.exe"
        );
    }
}

#[test]
fn other_events_and_other_channels_never_fire() {
    let text = "Invoke-Command -ComputerName FS02 { whoami }";
    let (parity, extended) = (detector("parity"), detector("extended"));
    for shape in 0..SHAPES {
        for part in [
            // Module logging of the same command, and the block's "started"/"completed" events.
            Part { event_id: 4103, ..Part::whole(text) },
            Part { event_id: 4105, ..Part::whole(text) },
            Part { channel: "Application", ..Part::whole(text) },
        ] {
            if shape == 5 && part.channel != CHANNEL {
                continue; // ECS is recognised by its event code, not its channel.
            }
            let event = event(shape, &part);
            assert!(parity.scan(&event).unwrap().is_empty(), "shape {shape}");
            assert!(extended.scan(&event).unwrap().is_empty(), "shape {shape}");
        }
        // PowerShell 7 logs to its own channel, which the `powershell` macro reads too.
        let core = Part { channel: "PowerShellCore/Operational", ..Part::whole(text) };
        assert_eq!(parity.scan(&event(shape, &core)).unwrap().len(), 1, "shape {shape}");
    }
}

#[test]
fn a_call_split_between_two_parts_is_seen_once_whole() {
    let first = "Get-Date\n# ".to_string() + &"x".repeat(100) + "\nInvoke-Comm";
    let second = "and -ComputerName FS02 -ScriptBlock { whoami }";
    for shape in 0..SHAPES {
        let (parity, extended) = (detector("parity"), detector("extended"));
        let parts =
            [Part { number: 1, total: 2, ..Part::whole(&first) }, Part { number: 2, total: 2, ..Part::whole(second) }];
        // The literal rule reads one event at a time: neither part holds both terms.
        for part in &parts {
            assert!(parity.scan(&event(shape, part)).unwrap().is_empty(), "shape {shape}");
        }
        assert!(extended.scan(&event(shape, &parts[0])).unwrap().is_empty(), "shape {shape}");
        let got = extended.scan(&event(shape, &parts[1])).unwrap();
        assert_eq!(got.len(), 1, "shape {shape}: {got:#?}");
        let a = &got[0];
        assert_eq!((a.matcher, a.techniques.as_slice()), (X, &["split-script-block".to_string()][..]), "shape {shape}");
        assert_eq!(a.field("ScriptBlockText"), Some(format!("{first}{second}").as_str()));
        assert_eq!(a.field("MessageNumber"), Some("2"));
        assert_eq!(a.remote_targets[0].host, "FS02");
        let invoke = a.evidence.iter().find(|e| e.kind == "command").unwrap_or_else(|| panic!("{:#?}", a.evidence));
        assert_eq!(
            (invoke.layer.as_str(), invoke.offset as usize),
            ("script-block/joined", first.len() - "Invoke-Comm".len())
        );
    }
}

#[test]
fn a_block_whose_part_fired_is_not_reported_again_whole() {
    let extended = detector("extended");
    let first = "Invoke-Command -ComputerName FS02 { whoami }\n";
    let second = "icm -cn DC01 { whoami }";
    let a = extended.scan(&event(0, &Part { number: 1, total: 2, ..Part::whole(first) })).unwrap();
    let b = extended.scan(&event(0, &Part { number: 2, total: 2, ..Part::whole(second) })).unwrap();
    assert_eq!((a.len(), a[0].matcher), (1, P));
    // The second part fires on its own; the whole block is not read again.
    assert_eq!((b.len(), b[0].matcher, b[0].techniques.contains(&"split-script-block".into())), (1, X, false));
}

#[test]
fn rules_choose_what_runs() {
    let block = event(0, &Part::whole("Invoke-Command -ComputerName FS02 { whoami }"));
    let sysmon = br##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS01"},"EventData":{"Image":"C:\\p\\powershell.exe","CommandLine":"powershell Invoke-Command -ComputerName FS02 {}"}}}"##;
    for (rules, fires_on_block, fires_on_process) in [
        (r#"["process-creation","script-block"]"#, true, true),
        (r#"["script-block"]"#, true, false),
        (r#"["process-creation"]"#, false, true),
    ] {
        for mode in ["parity", "extended"] {
            let d = Detector::from_json(&format!(r#"{{"rules":{rules},"mode":"{mode}"}}"#)).unwrap();
            assert_eq!(!d.scan(&block).unwrap().is_empty(), fires_on_block, "{rules} {mode}");
            let on_process = d.scan(sysmon).unwrap();
            assert_eq!(!on_process.is_empty(), fires_on_process, "{rules} {mode}");
            assert!(on_process.iter().all(|a| a.rule == Rule::ProcessCreation));
        }
    }
}

#[test]
fn allowlists_apply_to_script_blocks() {
    let block = event(0, &Part::whole("Invoke-Command -ComputerName FS02 { whoami }"));
    for config in [
        format!(r#"{{"allowlist":{{"hosts":["{HOST}"]}}}}"#),
        format!(r#"{{"allowlist":{{"users":["{SID}"]}}}}"#),
        r#"{"allowlist":{"command_line_patterns":["*-computername fs02*"]}}"#.to_string(),
    ] {
        let d = Detector::from_json(&config).unwrap();
        assert!(d.scan(&block).unwrap().is_empty(), "{config}");
        assert_eq!(d.stats().suppressed, 1, "{config}");
    }
    let loopback = event(0, &Part::whole("Invoke-Command -ComputerName localhost { whoami }"));
    let d = Detector::from_json(r#"{"report_loopback":false}"#).unwrap();
    assert!(d.scan(&loopback).unwrap().is_empty());
}

#[test]
fn a_4104_outside_powershells_channels_is_not_a_script_block() {
    // The `powershell` macro reads PowerShell's channels only: a record that names no channel
    // nor provider is not read as one, whatever its data says (as Splunk would not). Where its
    // script text is in view, that is an error naming what it lacks, never a silent nothing.
    for (event, text_in_view) in [
        (&br#"{"EventID":4104,"Hostname":"WS01","ScriptBlockText":"Invoke-Command -ComputerName FS02 { whoami }"}"#[..], true),
        (br#"{"EventID":4104,"Computer":"WS01","EventRecordID":1,"StringInserts":[1,1,"icm -cn FS02 { whoami }","{0}",""]}"#, false),
        (br#"{"event":{"code":"4104"},"winlog":{"event_data":{"ScriptBlockText":"icm -cn FS02 { whoami }"}},"process":{"pid":1}}"#, true),
    ] {
        for mode in ["parity", "extended"] {
            match detector(mode).scan_without_prefilter(event) {
                Ok(found) => assert!(found.is_empty() && !text_in_view, "{mode}: {found:?}"),
                Err(e) => {
                    assert!(text_in_view, "{mode}: {e}");
                    assert_eq!(e.kind, winrm_detect::ErrorKind::UnknownShape);
                    assert!(e.message.contains("ScriptBlockText") && e.message.contains("PowerShell's channel"), "{e}");
                }
            }
            // The fast path may settle it unparsed, where no rule could fire on the text.
            assert!(detector(mode).scan(event).map_or(text_in_view, |found| found.is_empty()), "{mode}");
        }
    }
}
