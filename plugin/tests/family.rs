//! The WinRM family's other four rules against their case tables: the process rules over our
//! family fixtures (every shape `fixtures/tools/family.py` writes), the Enter-PSSession rule
//! over the script-block fixtures (every shape `fixtures/tools/script_blocks.py` writes), each
//! line with the rules that must fire on it and nothing else; then each rule's identity, risk
//! and message, the `rules` default, and the allowlists and loopback option over them.

use std::path::{Path, PathBuf};

use winrm_detect::{Annotation, Config, Detector, Rule};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/events")
}

fn every_rule(extra: &str) -> Detector {
    Detector::from_json(&format!(r#"{{"rules":["process-creation","script-block","winrs","interactive-session","winrm-spawning-a-process","winrm-execute-shell"]{extra}}}"#)).unwrap()
}

/// The rules that fired on each line of `file`, and the annotations.
fn fired(detector: &Detector, file: &str) -> Vec<(Vec<Rule>, Vec<Annotation>)> {
    let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
    text.lines()
        .map(|line| {
            let found = detector.scan(line.as_bytes()).unwrap_or_else(|e| panic!("{file}: {e}"));
            (found.iter().map(|a| a.rule).collect(), found)
        })
        .collect()
}

use Rule::{
    InteractiveSession as Session, ScriptBlock as Twin, WinrmExecuteShell as Shell, WinrmSpawningAProcess as Spawning,
    Winrs,
};

/// `fixtures/tools/family.py`'s cases, in order: what fires on each.
const PROCESS_CASES: [(&str, &[Rule]); 14] = [
    ("winrs -r:FS02", &[Winrs]),
    ("winrs.exe -remote:http://FS02:5985", &[Winrs]),
    ("a renamed winrs: its PE header's name", &[Winrs]),
    ("winrs /r:FS02: the search has no /r:", &[]),
    ("winrs -r:localhost", &[Winrs]),
    ("winrs -?", &[]),
    ("whoami.exe under wsmprovhost.exe", &[Spawning]),
    ("powershell.exe under wsmprovhost.exe", &[Spawning]),
    ("wevtutil.exe under wsmprovhost.exe: not among the ten", &[]),
    ("cmd.exe under winrshost.exe", &[Shell]),
    ("powershell_ise.exe under winrshost.exe: *powershell*", &[Shell]),
    ("whoami.exe under winrshost.exe: not a shell", &[]),
    ("winrs -r:FS02 powershell -enc (a second hop inside)", &[Winrs]),
    ("winrs /r:FS02 cmd /c powershell -enc: the search has no /r:", &[]),
];

#[test]
fn process_rules_fire_on_their_cases_in_every_shape() {
    let detector = every_rule("");
    for file in
        ["family.sysmon.xml", "family.sysmon.evtx.jsonl", "family.sysmon.ecs.jsonl", "family.security4688.evtx.jsonl"]
    {
        let lines = fired(&detector, file);
        assert_eq!(lines.len(), PROCESS_CASES.len(), "{file}");
        for (line, ((case, want), (rules, annotations))) in PROCESS_CASES.iter().zip(&lines).enumerate() {
            // Security 4688 carries no original file name: the renamed winrs goes unseen, as in Splunk.
            let want: &[Rule] = if file.starts_with("family.security4688") && line == 2 { &[] } else { want };
            assert_eq!(rules.as_slice(), want, "{file}:{}: {case}", line + 1);
            for a in annotations {
                assert_eq!(a.risk_object, "WS01.corp.example", "{file}:{}", line + 1);
            }
        }
        let winrs = &lines[0].1[0];
        assert_eq!((winrs.remote_targets[0].host.as_str(), winrs.remote_targets[0].loopback), ("FS02", false));
        assert_eq!((winrs.evidence[0].kind.as_str(), winrs.evidence[0].offset), ("-r:", 6));
        assert_eq!(lines[1].1[0].remote_targets[0].host, "http://FS02:5985");
        assert!(lines[4].1[0].remote_targets[0].loopback, "{file}: -r:localhost");
        let spawned = &lines[6].1[0];
        assert_eq!(spawned.field("parent_process_name"), Some("wsmprovhost.exe"), "{file}");
        assert_eq!(
            spawned.evidence.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
            ["wsmprovhost.exe", "whoami.exe"]
        );
    }
}

/// `fixtures/tools/script_blocks.py`'s cases 13 to 22 (lines 14 to 23: the block cut in two
/// takes two lines), and before them the twin's own, on which Enter-PSSession never fires:
/// what fires in parity mode, and what in extended mode.
#[test]
fn the_interactive_session_rule_fires_on_its_cases_in_every_shape() {
    const X: &[Rule] = &[Session];
    let cases: [(&str, &[Rule], &[Rule]); 10] = [
        ("Enter-PSSession -ComputerName FS02", X, X),
        ("etsn FS02: an alias and a positional host", &[], X),
        ("New-PSSession -ComputerName, then Enter-PSSession -Session: both terms, anywhere", X, X),
        ("the terms inside a string: the literal search fires, and extended keeps it", X, X),
        ("Enter-PSSession and Invoke-Command: both rules", &[Twin, Session], &[Twin, Session]),
        ("-Cn: a parameter alias", &[], X),
        ("-ConnectionUri", &[], X),
        ("etsn $s of nsn FS02: a session", &[], X),
        ("-HostName: SSH, not WinRM", &[], &[]),
        ("etsn inside a string: never run", &[], &[]),
    ];
    let shapes = [
        "xml",
        "evtx.jsonl",
        "xmltodict.jsonl",
        "winlogbeat.jsonl",
        "ecs.jsonl",
        "nxlog.jsonl",
        "winevtlog.jsonl",
        "embedded.jsonl",
    ];
    for shape in shapes {
        let file = format!("scriptblock.{shape}");
        let parity = fired(&every_rule(""), &file);
        let extended = fired(&every_rule(r#","mode":"extended""#), &file);
        assert_eq!(parity.len(), 23, "{file}");
        for (line, ((p, _), (x, _))) in parity.iter().zip(&extended).enumerate().take(13) {
            assert!(!p.contains(&Session) && !x.contains(&Session), "{file}:{}", line + 1);
        }
        for (i, (case, in_parity, in_extended)) in cases.iter().enumerate() {
            assert_eq!(parity[13 + i].0.as_slice(), *in_parity, "{file}:{}: {case} (parity)", 14 + i);
            assert_eq!(extended[13 + i].0.as_slice(), *in_extended, "{file}:{}: {case} (extended)", 14 + i);
        }
        let session = &parity[13].1[0];
        assert_eq!(session.rule_name, "Interactive Session on Remote Endpoint with PowerShell");
        assert_eq!(session.field("Computer"), Some("WS01.corp.example"));
        assert_eq!(
            session.evidence.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            ["enter-pssession", "-computername"]
        );
        assert_eq!(session.remote_targets[0].host, "FS02", "the analyser names the target in parity too");
        let etsn = extended[14].1.last().unwrap();
        assert_eq!(
            (etsn.rule_id.as_str(), etsn.matcher),
            ("2978c7ea-9740-5a4d-b034-ff5c86f634a1", winrm_detect::Matcher::Extended)
        );
        assert_eq!(etsn.techniques, ["alias", "positional"]);
        let techniques = |line: usize| extended[line].1.last().unwrap().techniques.clone();
        assert_eq!(techniques(18), ["parameter-alias"], "{file}");
        assert_eq!(techniques(19), ["connection-uri"], "{file}");
        assert_eq!(extended[19].1[0].remote_targets[0].host, "fs02.corp.example", "{file}");
        assert_eq!(extended[20].1[0].remote_targets[0].host, "FS02", "{file}: the session's computer");
    }
}

/// Winrs as winrs.exe reads it: `/r:` is a remote switch the literal search misses.
#[test]
fn extended_mode_reads_winrs_switches() {
    let extended = fired(&every_rule(r#","mode":"extended""#), "family.sysmon.evtx.jsonl");
    let slash = &extended[3].1;
    assert_eq!(slash.len(), 1, "winrs /r:FS02");
    assert_eq!(
        (slash[0].rule, slash[0].matcher, slash[0].rule_id.as_str()),
        (Winrs, winrm_detect::Matcher::Extended, "5c552193-855d-5204-bb64-f8e6fa5476b4")
    );
    assert_eq!(
        (slash[0].techniques.as_slice(), slash[0].remote_targets[0].host.as_str()),
        (&["slash-switch".to_string()][..], "FS02")
    );
    // Every parity match is kept as parity, a winrs match with what its remote command runs.
    let parity = fired(&every_rule(""), "family.sysmon.evtx.jsonl");
    for (line, ((p, pa), (x, xa))) in parity.iter().zip(&extended).enumerate() {
        if !p.is_empty() {
            assert_eq!(p, x, "line {}", line + 1);
            for (pa, xa) in pa.iter().zip(xa) {
                assert_eq!(xa.evidence[..pa.evidence.len()], pa.evidence, "line {}", line + 1);
                let rest = Annotation { evidence: pa.evidence.clone(), ..xa.clone() };
                assert_eq!(&rest, pa, "line {}", line + 1);
            }
        }
    }
}

/// What the remote host runs, in extended mode: the command, the payload decoded, a second hop.
#[test]
fn extended_mode_shows_what_winrs_runs_remotely() {
    let extended = fired(&every_rule(r#","mode":"extended""#), "family.sysmon.evtx.jsonl");
    let evidence = |line: usize| {
        extended[line].1[0]
            .evidence
            .iter()
            .map(|e| (e.kind.clone(), e.text.clone(), e.layer.clone()))
            .collect::<Vec<_>>()
    };
    let plain = evidence(0);
    assert_eq!(plain[1], ("remote-command".into(), "cmd /c hostname".into(), "process".into()));
    let hop = evidence(12);
    assert_eq!(
        hop[2],
        (
            "encoded-command".into(),
            "Invoke-Command -ComputerName FS03 {whoami}".into(),
            "process/encoded-command".into()
        )
    );
    assert!(hop[3..].iter().any(|(_, text, layer)| text == "Invoke-Command" && layer == "process/encoded-command"));
    assert_eq!(extended[12].1[0].remote_targets.len(), 1, "the hop's FS03 is evidence, not winrs's endpoint");
    let wrapped = &extended[13].1[0];
    assert_eq!(
        (wrapped.matcher, wrapped.techniques.as_slice()),
        (winrm_detect::Matcher::Extended, &["slash-switch".to_string()][..])
    );
    assert_eq!(evidence(13)[2].1, "Get-Process");
}

#[test]
fn each_rule_says_who_it_is() {
    let detector = every_rule("");
    let process = fired(&detector, "family.sysmon.evtx.jsonl");
    let blocks = fired(&detector, "scriptblock.evtx.jsonl");
    let table = [
        (
            &process[0].1[0],
            "0dd296a2-4338-11ec-ba02-3e22fbd008af",
            6,
            54,
            "T1021.006",
            "Lateral Movement",
            "A process was started on a remote endpoint from WS01.corp.example",
        ),
        (
            &blocks[13].1[0],
            "a4e8f3a4-48b2-11ec-bcfc-3e22fbd008af",
            10,
            45,
            "T1021.006",
            "Lateral Movement",
            "An interactive session was opened on a remote endpoint from WS01.corp.example",
        ),
        (
            &process[6].1[0],
            "a081836a-ba4d-11eb-8593-acde48001122",
            4,
            25,
            "T1190",
            "Initial Access",
            "winrm.exe spawning a process observed on WS01.corp.example",
        ),
        (
            &process[9].1[0],
            "28b80028-851d-4b8d-88a5-375ba115418a",
            8,
            20,
            "T1021.006",
            "Lateral Movement",
            "a winrm remote proces [winrshost.exe] execute [cmd.exe] shell on [WS01.corp.example].",
        ),
    ];
    // T1190's tactic is Initial Access in the SIEM conventions too.
    let spawned = &process[6].1[0];
    let ecs = winrm_detect::render(spawned, winrm_detect::Output::Ecs);
    assert_eq!(ecs["threat"]["tactic"]["id"], serde_json::json!(["TA0001"]));
    assert_eq!(ecs["threat"]["technique"]["name"], serde_json::json!(["Exploit Public-Facing Application"]));
    let ocsf = winrm_detect::render(spawned, winrm_detect::Output::Ocsf);
    let tactic = &ocsf["finding_info"]["attacks"][0]["tactic"];
    assert_eq!((&tactic["uid"], &tactic["name"]), (&serde_json::json!("TA0001"), &serde_json::json!("Initial Access")));
    for (a, id, version, score, technique, tactic, message) in table {
        assert_eq!((a.rule_id.as_str(), a.rule_version, a.risk_score), (id, version, score), "{:?}", a.rule);
        assert_eq!(
            (a.mitre_technique_ids.as_slice(), a.mitre_tactics[0].as_str()),
            (&[technique.to_string()][..], tactic)
        );
        assert_eq!(a.message, message);
        assert_eq!(a.matcher, winrm_detect::Matcher::Parity);
    }
}

#[test]
fn the_source_side_runs_by_default() {
    assert_eq!(Config::default().rules, Rule::DEFAULT);
    let detector = Detector::from_json("{}").unwrap();
    let process = fired(&detector, "family.sysmon.evtx.jsonl");
    let rules: Vec<Rule> = process.iter().flat_map(|(r, _)| r.clone()).collect();
    assert_eq!(rules, [Winrs, Winrs, Winrs, Winrs, Winrs], "the target side is off by default");
    let extended = Detector::from_json(r#"{"mode":"extended"}"#).unwrap();
    assert_eq!(fired(&extended, "family.sysmon.evtx.jsonl").iter().map(|(r, _)| r.len()).sum::<usize>(), 7, "and /r:");
    let only = Detector::from_json(r#"{"rules":["winrm-execute-shell"]}"#).unwrap();
    let rules: Vec<Rule> = fired(&only, "family.sysmon.xml").iter().flat_map(|(r, _)| r.clone()).collect();
    assert_eq!(rules, [Shell, Shell]);
}

/// The `_filter` macro's stand-ins and the loopback option apply to every rule: an operator
/// tunes the target side by the admin accounts and jump hosts that run remote sessions.
#[test]
fn allowlists_and_loopback_apply_to_the_family() {
    let tuned = every_rule(r#","report_loopback":false,"allowlist":{"users":["adm_bob"]}"#);
    let rules: Vec<Rule> = fired(&tuned, "family.sysmon.evtx.jsonl").iter().flat_map(|(r, _)| r.clone()).collect();
    assert_eq!(rules, [Winrs, Winrs, Winrs, Shell, Shell, Winrs], "-r:localhost and adm_bob's children suppressed");
    assert_eq!(tuned.stats().suppressed, 3);
    let by_parent = every_rule(r#","allowlist":{"parent_process_names":["wsmprovhost.exe"]}"#);
    let spawned = fired(&by_parent, "family.sysmon.evtx.jsonl");
    assert!(spawned.iter().all(|(r, _)| !r.contains(&Spawning)));
}
