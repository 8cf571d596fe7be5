//! Extended mode against a table of command lines: each evasion alone and combined, their
//! negative twins, and the parity cases beside them. Each line is wrapped in one of several
//! event shapes in turn, so the analysis is exercised behind every parser.

use base64::Engine;
use winrm_detect::{Detector, Matcher};

fn b64(script: &str) -> String {
    let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(utf16)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&apos;").replace('\n', "&#10;")
}

const HOST: &str = "WS01.corp.example";
const PS: &str = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";

/// The same process creation in the shape `shape`: (image, command line, parent command).
fn event(shape: usize, image: &str, command: &str, parent_command: &str) -> Vec<u8> {
    let ofn = match image.rsplit('\\').next().unwrap() {
        "powershell.exe" => "PowerShell.EXE",
        "pwsh.exe" => "pwsh.dll",
        other => other,
    };
    match shape % 5 {
        0 => format!(
            "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><Version>5</Version><TimeCreated SystemTime='2026-03-02T10:15:30.123Z'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>{HOST}</Computer></System><EventData><Data Name='ProcessId'>4242</Data><Data Name='Image'>{}</Data><Data Name='OriginalFileName'>{ofn}</Data><Data Name='CommandLine'>{}</Data><Data Name='User'>CORP\\alice</Data><Data Name='ParentImage'>C:\\Windows\\explorer.exe</Data><Data Name='ParentCommandLine'>{}</Data></EventData></Event>",
            xml_escape(image),
            xml_escape(command),
            xml_escape(parent_command)
        )
        .into_bytes(),
        1 => serde_json::json!({"Event": {"System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": HOST, "TimeCreated": {"#attributes": {"SystemTime": "2026-03-02T10:15:30.123Z"}}},
            "EventData": {"ProcessId": 4242, "Image": image, "OriginalFileName": ofn, "CommandLine": command, "User": "CORP\\alice", "ParentImage": "C:\\Windows\\explorer.exe", "ParentCommandLine": parent_command}}})
        .to_string()
        .into_bytes(),
        2 => format!(
            "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><Provider Name=\"Microsoft-Windows-Security-Auditing\"/><EventID>4688</EventID><Version>2</Version><Channel>Security</Channel><Computer>{HOST}</Computer></System><EventData><Data Name=\"SubjectUserName\">alice</Data><Data Name=\"NewProcessId\">0x1092</Data><Data Name=\"NewProcessName\">{}</Data><Data Name=\"ProcessId\">0x4bc</Data><Data Name=\"CommandLine\">{}</Data><Data Name=\"TargetUserName\">-</Data><Data Name=\"ParentProcessName\">C:\\Windows\\explorer.exe</Data></EventData></Event>",
            xml_escape(image),
            xml_escape(command)
        )
        .into_bytes(),
        3 => serde_json::json!({"dest": HOST, "user": "alice", "process_name": image.rsplit('\\').next().unwrap(), "process": command, "parent_process": parent_command, "original_file_name": ofn})
            .to_string()
            .into_bytes(),
        _ => serde_json::json!({"@timestamp": "2026-03-02T10:15:30.123Z", "event": {"category": ["process"], "type": ["start"]}, "host": {"name": "ws01"},
            "process": {"executable": image, "command_line": command, "pid": 4242, "pe": {"original_file_name": ofn}, "parent": {"name": "explorer.exe", "command_line": parent_command}},
            "user": {"name": "alice"}, "winlog": {"computer_name": HOST, "channel": "Microsoft-Windows-Sysmon/Operational"}})
        .to_string()
        .into_bytes(),
    }
}

/// What a case must give: the matcher, the techniques (extended) and the targets, `!`
/// marking a loopback target.
type Expect = Option<(Matcher, &'static [&'static str], &'static [&'static str])>;

const P: Matcher = Matcher::Parity;
const X: Matcher = Matcher::Extended;

fn cases() -> Vec<(String, Expect)> {
    let ps = |script: &str| format!("powershell.exe -NoProfile -Command \"{script}\"");
    let enc = |script: &str| format!("powershell.exe -NoP -W Hidden -Enc {}", b64(script));
    vec![
        // Aliases, parameter aliases, prefixes, the -Name:value form.
        (ps("icm -Cn FS02 {whoami}"), Some((X, &["alias", "parameter-alias"], &["FS02"]))),
        ("powershell.exe icm -Cn FS02 {whoami}".into(), Some((X, &["alias", "parameter-alias"], &["FS02"]))),
        (ps("icm FS02 {whoami}"), Some((X, &["alias", "positional"], &["FS02"]))),
        (ps("Invoke-Command -Comp FS02 -ScriptBlock {whoami}"), Some((X, &["parameter-prefix"], &["FS02"]))),
        (ps("Invoke-Command -ComputerN FS02 -ScriptBlock {whoami}"), Some((X, &["parameter-prefix"], &["FS02"]))),
        (ps("Invoke-Command -compu FS02 {whoami}"), Some((X, &["parameter-prefix"], &["FS02"]))),
        (ps("Invoke-Command -Cn:FS02 {whoami}"), Some((X, &["parameter-alias"], &["FS02"]))),
        (ps("Invoke-Command -Cn FS02,DC01 {whoami}"), Some((X, &["parameter-alias"], &["FS02", "DC01"]))),
        (ps("ICM -CN fs02 {whoami}"), Some((X, &["alias", "parameter-alias"], &["fs02"]))),
        (ps(r"Microsoft.PowerShell.Core\Invoke-Command -Cn FS02 {whoami}"), Some((X, &["parameter-alias"], &["FS02"]))),
        // Positional computer names.
        (ps("Invoke-Command FS02 {whoami}"), Some((X, &["positional"], &["FS02"]))),
        (ps("Invoke-Command -ScriptBlock {whoami} FS02"), Some((X, &["positional"], &["FS02"]))),
        (ps("Invoke-Command 'FS02' {whoami}"), Some((X, &["positional"], &["FS02"]))),
        (ps(r"Invoke-Command -FilePath C:\x.ps1 FS02"), Some((X, &["positional"], &["FS02"]))),
        (ps("Invoke-Command FS02,DC01 {whoami}"), Some((X, &["positional"], &["FS02", "DC01"]))),
        // Splatting.
        (ps("$p=@{ComputerName='FS02'}; icm @p {whoami}"), Some((X, &["alias", "splat"], &["FS02"]))),
        (
            ps("$p=@{Cn='FS02';ScriptBlock={whoami}}; Invoke-Command @p"),
            Some((X, &["parameter-alias", "splat"], &["FS02"])),
        ),
        (
            ps("$p = @{ Comp = 'FS02', 'DC01' }; Invoke-Command @p {whoami}"),
            Some((X, &["parameter-prefix", "splat"], &["FS02", "DC01"])),
        ),
        // Sessions made in the same command.
        (ps("$s = New-PSSession FS02; Invoke-Command -Session $s {whoami}"), Some((X, &["session"], &["FS02"]))),
        (ps("$s = nsn -Cn FS02; icm -Session $s {whoami}"), Some((X, &["alias", "session"], &["FS02"]))),
        (ps("icm -Session (New-PSSession FS02) {whoami}"), Some((X, &["alias", "session"], &["FS02"]))),
        (ps("Invoke-Command -Session (nsn) {whoami}"), Some((X, &["session"], &["!localhost"]))),
        (
            ps("$s = New-PSSession -Uri http://fs02/wsman; icm -Session $s {whoami}"),
            Some((X, &["alias", "session"], &["fs02"])),
        ),
        (ps("$s = nsn FS02; icm $s {whoami}"), Some((X, &["alias", "positional", "session"], &["FS02"]))),
        // WinRM by URL.
        (
            ps("Invoke-Command -ConnectionUri http://fs02:5985/wsman {whoami}"),
            Some((X, &["connection-uri"], &["fs02"])),
        ),
        (
            ps("Invoke-Command -Uri https://10.0.0.5:5986/wsman {whoami}"),
            Some((X, &["connection-uri", "parameter-alias"], &["10.0.0.5"])),
        ),
        (
            ps("Invoke-Command -Cu http://[fe80::1]:5985/wsman {whoami}"),
            Some((X, &["connection-uri", "parameter-alias"], &["fe80::1"])),
        ),
        (
            ps("icm -ConnectionU 'http://admin@fs02.corp.example/wsman' {whoami}"),
            Some((X, &["alias", "connection-uri", "parameter-prefix"], &["fs02.corp.example"])),
        ),
        // Encoded commands, every prefix, nested.
        (enc("Invoke-Command -ComputerName FS02 {whoami}"), Some((X, &["encoded-command"], &["FS02"]))),
        (
            format!("powershell -e {}", b64("Invoke-Command -ComputerName FS02 {whoami}")),
            Some((X, &["encoded-command"], &["FS02"])),
        ),
        (
            format!("powershell -EncodedCommand {}", b64("Invoke-Command -ComputerName FS02 {x}")),
            Some((X, &["encoded-command"], &["FS02"])),
        ),
        (
            format!("powershell -ec {}", b64("icm -Cn FS02 {x}")),
            Some((X, &["alias", "encoded-command", "parameter-alias"], &["FS02"])),
        ),
        (
            format!("powershell -enco {}", b64("icm FS02 {x}")),
            Some((X, &["alias", "encoded-command", "positional"], &["FS02"])),
        ),
        (
            format!("powershell /enc {}", b64("Invoke-Command -ComputerName FS02 {x}")),
            Some((X, &["encoded-command"], &["FS02"])),
        ),
        (
            format!("powershell \u{2013}enc {}", b64("Invoke-Command -ComputerName FS02 {x}")),
            Some((X, &["encoded-command", "unicode-dash"], &["FS02"])),
        ),
        (
            enc(&format!("powershell -enc {}", b64("icm -Cn FS02 {x}"))),
            Some((X, &["alias", "encoded-command", "parameter-alias"], &["FS02"])),
        ),
        (enc("$s=nsn -Cn FS02;icm -Session $s {x}"), Some((X, &["alias", "encoded-command", "session"], &["FS02"]))),
        // Backticks, Unicode dashes, quoting, line breaks.
        (ps("Invo`ke-Command -ComputerName FS02 {whoami}"), Some((X, &["backtick"], &["FS02"]))),
        (ps("Invoke-Command -Computer`Name FS02 {whoami}"), Some((X, &["backtick"], &["FS02"]))),
        (ps("Invoke-Command \u{2014}ComputerName FS02 {whoami}"), Some((X, &["unicode-dash"], &["FS02"]))),
        (ps("Invoke-Command \u{2015}Cn FS02 {whoami}"), Some((X, &["parameter-alias", "unicode-dash"], &["FS02"]))),
        (ps("& 'Invoke-Command' -Cn FS02 {whoami}"), Some((X, &["parameter-alias", "quoting"], &["FS02"]))),
        (
            ps("& \"icm\" FS02 {whoami}".replace('"', "'").as_str()),
            Some((X, &["alias", "positional", "quoting"], &["FS02"])),
        ),
        (ps("Invoke-Comm'and' -Cn FS02 {whoami}"), Some((X, &["parameter-alias", "quoting"], &["FS02"]))),
        (
            "powershell.exe -c \"Get-Date\nicm -Cn FS02 {whoami}\"".into(),
            Some((X, &["alias", "parameter-alias"], &["FS02"])),
        ),
        (ps("icm `\n -Cn FS02 {whoami}"), Some((X, &["alias", "parameter-alias"], &["FS02"]))),
        // Nested in blocks and pipelines; targets that are only known at run time.
        (ps("& { icm -Cn FS02 {whoami} }"), Some((X, &["alias", "parameter-alias"], &["FS02"]))),
        (
            ps("Get-Content hosts.txt | ForEach-Object { icm -Cn $_ {whoami} }"),
            Some((X, &["alias", "parameter-alias"], &["$_"])),
        ),
        (ps("$c='FS02'; icm -Cn $c {whoami}"), Some((X, &["alias", "parameter-alias"], &["$c"]))),
        (
            ps("icm -Cn (Get-Content h.txt) {whoami}"),
            Some((X, &["alias", "parameter-alias"], &["(Get-Content h.txt)"])),
        ),
        // Loopback targets.
        (ps("icm -Cn localhost {whoami}"), Some((X, &["alias", "parameter-alias"], &["!localhost"]))),
        (ps("icm -Cn . {whoami}"), Some((X, &["alias", "parameter-alias"], &["!."]))),
        (ps("icm -Cn $env:COMPUTERNAME {whoami}"), Some((X, &["alias", "parameter-alias"], &["!$env:COMPUTERNAME"]))),
        (ps("icm -Cn 127.0.0.1 {whoami}"), Some((X, &["alias", "parameter-alias"], &["!127.0.0.1"]))),
        (ps("icm -Cn ws01 {whoami}"), Some((X, &["alias", "parameter-alias"], &["!ws01"]))),
        // Parity keeps firing exactly where the Splunk rule does.
        (ps("Invoke-Command -ComputerName FS02 {whoami}"), Some((P, &[], &["FS02"]))),
        (ps("invoke-command -computername FS02 {whoami}"), Some((P, &[], &["FS02"]))),
        (ps("Invoke-Command -ComputerName:FS02 {whoami}"), Some((P, &[], &["FS02"]))),
        (ps("Write-Output 'Invoke-Command -ComputerName'"), Some((P, &[], &[]))),
        (ps("$s = New-PSSession -ComputerName FS02; Invoke-Command -Session $s {whoami}"), Some((P, &[], &["FS02"]))),
        // Negative twins.
        (ps("icmp -Cn FS02"), None),
        (ps("$icm -Cn FS02"), None),
        (ps("$icm = 1; Get-Help icm"), None),
        (ps("Get-Help Invoke-Command -Full"), None),
        (ps("Invoke-Command -ScriptBlock {whoami}"), None),
        (ps("Invoke-Command {whoami}"), None),
        (ps("Invoke-Command -VMName FS02 {whoami}"), None),
        (ps("Invoke-Command -ContainerId 0f3a {whoami}"), None),
        (ps("icm -HostName FS02 -UserName u {whoami}"), None),
        (ps("Test-NetConnection -ComputerName FS02 -Port 5985"), None),
        (ps("icm -Co FS02 {whoami}"), None),
        (ps("icm -C FS02 {whoami}"), None),
        (ps("icm -Sess $s {whoami}"), None),
        (r"powershell.exe -File C:\s.ps1 -Cn FS02".into(), None),
        ("pwsh.exe script.ps1 icm -Cn FS02".into(), None),
        ("powershell.exe -Command - ".into(), None),
        (ps("# icm -Cn FS02 {whoami}"), None),
        (ps("'icm -Cn FS02 {whoami}'"), None),
        (ps("<# icm -Cn FS02 #> Get-Date"), None),
        (ps("I`nvoke-Command -Cn FS02 {whoami}"), None),
        (enc("Get-Date"), None),
        ("powershell.exe -enc notbase64!!".into(), None),
        (ps("$s = New-PSSession -VMName FS02; icm -Session $s {whoami}"), None),
        (ps("icm -Session $unknown {whoami}"), None),
        (ps("New-PSSession -Cn FS02"), None),
        (ps("Enter-PSSession FS02"), None),
        ("powershell.exe -bogus icm -Cn FS02 {x}".into(), None),
    ]
}

fn check(
    detector: &Detector,
    shape: usize,
    image: &str,
    command: &str,
    parent: &str,
    expect: &Expect,
) -> Result<(), String> {
    let got = detector.scan(&event(shape, image, command, parent)).map_err(|e| format!("{e}"))?;
    match (expect, got.as_slice()) {
        (None, []) => Ok(()),
        (Some((matcher, techniques, targets)), [a]) => {
            let got_targets: Vec<String> = a
                .remote_targets
                .iter()
                .map(|t| if t.loopback { format!("!{}", t.host) } else { t.host.clone() })
                .collect();
            if a.matcher != *matcher || a.techniques != *techniques || got_targets != *targets {
                return Err(format!(
                    "got {:?} {:?} {:?}, want {:?} {:?} {:?}",
                    a.matcher, a.techniques, got_targets, matcher, techniques, targets
                ));
            }
            if a.evidence.is_empty() {
                return Err("no evidence".into());
            }
            Ok(())
        }
        (_, got) => Err(format!(
            "got {} annotations: {:?}",
            got.len(),
            got.iter().map(|a| (a.matcher, &a.techniques)).collect::<Vec<_>>()
        )),
    }
}

#[test]
fn extended_mode_reads_command_lines_as_powershell_does() {
    let extended = Detector::from_json(r#"{"mode":"extended"}"#).unwrap();
    let parity = Detector::from_json(r#"{"mode":"parity"}"#).unwrap();
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (i, (command, expect)) in cases.iter().enumerate() {
        let image = if command.starts_with("pwsh") { r"C:\Program Files\PowerShell\7\pwsh.exe" } else { PS };
        if let Err(e) = check(&extended, i, image, command, r"C:\Windows\Explorer.EXE", expect) {
            failures.push(format!("#{i} shape {} {command:?}: {e}", i % 5));
        }
        // Parity mode reports only its own matches, identically.
        let parity_expect = match expect {
            Some((Matcher::Parity, t, targets)) => Some((Matcher::Parity, *t, *targets)),
            _ => None,
        };
        if let Err(e) = check(&parity, i, image, command, r"C:\Windows\Explorer.EXE", &parity_expect) {
            failures.push(format!("#{i} parity {command:?}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn the_words_elsewhere_never_fire() {
    let extended = Detector::from_json(r#"{"mode":"extended"}"#).unwrap();
    let positive = "powershell.exe -c \"icm -Cn FS02 {whoami}\"";
    for shape in 0..5 {
        // In a non-PowerShell process.
        let cmd = r"C:\Windows\System32\cmd.exe";
        assert_eq!(check(&extended, shape, cmd, positive, "explorer.exe", &None), Ok(()), "shape {shape}");
        // Only in the parent's command line.
        let child = r"C:\Windows\System32\whoami.exe";
        assert_eq!(check(&extended, shape, child, "whoami.exe /all", positive, &None), Ok(()), "shape {shape}");
    }
}

#[test]
fn every_parity_match_is_reported_identically_in_extended_mode() {
    let extended = Detector::from_json(r#"{"mode":"extended"}"#).unwrap();
    let parity = Detector::from_json(r#"{"mode":"parity"}"#).unwrap();
    for (i, (command, _)) in cases().iter().enumerate() {
        let e = event(i, PS, command, "explorer.exe");
        let p = parity.scan(&e).unwrap();
        let x = extended.scan(&e).unwrap();
        if !p.is_empty() {
            assert_eq!(p, x, "#{i} {command:?}");
        }
    }
}

/// Every script text the analyser derives is kept under the name its evidence carries, and two
/// encoded commands in one script get two names, so each evidence offset resolves to its text.
#[test]
fn evidence_layers_are_kept_and_named_apart() {
    let inner = |host: &str| format!("powershell -enc {}", b64(&format!("Invoke-Command -ComputerName {host} {{x}}")));
    let line = format!("powershell.exe -c \"{}; {}\"", inner("FS02"), inner("DC01"));
    let analysis = winrm_detect::cmdline::analyse(&line, &winrm_detect::cmdline::Limits::default());
    let names: Vec<&str> = analysis.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["process/encoded-command", "process/encoded-command#2"], "{analysis:?}");
    let targets: Vec<&str> = analysis.invocations.iter().flat_map(|i| i.targets.iter().map(String::as_str)).collect();
    assert_eq!(targets, ["FS02", "DC01"]);
    for e in analysis.invocations.iter().flat_map(|i| &i.evidence) {
        let text = match e.layer.as_str() {
            "process" => line.as_str(),
            name => &analysis.layers.iter().find(|l| l.name == name).expect("a named layer").text,
        };
        assert_eq!(&text[e.offset as usize..][..e.text.len()], e.text, "{e:?}");
    }
}
