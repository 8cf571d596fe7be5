//! The analyser's parser against an independent one (see `host_test::differential`): every
//! script of the grammar table, of the fixtures and of the corpus (every 4104 script text and
//! every script a PowerShell command line runs) read by both, and the commands each finds at
//! command positions compared. A disagreement not in [`KNOWN`] fails the test; each one there
//! was looked up in PowerShell's `Parser.cs`, and the oracle is the one that is wrong. Scripts
//! either parser reports broken are counted, not compared (PowerShell runs none of a script
//! it cannot parse). The figures are printed and written to `target/differential-report.txt`.

use std::collections::BTreeSet;
use std::fs;

use host_test::corpus;
use host_test::differential::{self, Disagreement, ORACLE_FAULTS, Side, explained};

include!("../../plugin/tests/common/grammar_cases.rs");

/// The disagreements looked up: which parser found the command, its name, the line it stands
/// on (without the line break), and the fault of the oracle (`ORACLE_FAULTS`) it comes from,
/// which must also be the one whose rule explains it.
const KNOWN: &[(Side, &str, &str, &str)] = &[
    // The grammar table.
    (
        Side::Ours,
        "Invoke-Command",
        "function Get-Remote { [CmdletBinding()] param([string]$t) Invoke-Command -ComputerName $t {1} }",
        "param",
    ),
    (
        Side::Oracle,
        "param",
        "function Get-Remote { [CmdletBinding()] param([string]$t) Invoke-Command -ComputerName $t {1} }",
        "param",
    ),
    (
        Side::Ours,
        "Write-Output",
        "function Get-Remote { [CmdletBinding()] param([string]$t) Write-Output 'icm -cn $t {1}' }",
        "param",
    ),
    (
        Side::Oracle,
        "param",
        "function Get-Remote { [CmdletBinding()] param([string]$t) Write-Output 'icm -cn $t {1}' }",
        "param",
    ),
    (Side::Oracle, "default", "switch (icm -cn FS02 {1}) { default { } }", "switch"),
    (Side::Oracle, "default", "switch -Regex -CaseSensitive (icm -cn FS02 {1}) { default { } }", "switch"),
    (Side::Oracle, "default", "switch -File list.txt { default { icm -cn $_ {1} } }", "switch"),
    (Side::Oracle, "outer", ":outer while ($true) { icm -cn FS02 {1}; break outer }", "break"),
    (Side::Oracle, "]", "trap [System.Exception] { icm -cn FS02 {1} }", "]"),
    (Side::Oracle, "parallel", "workflow w { parallel { icm -cn FS02 {1} } }", "block"),
    (Side::Ours, "icm", "cmd /c --% echo a | icm -cn FS02 {1}", "--%"),
    (Side::Ours, "icm", "Get-Date & icm -cn FS02 {1}", "&"),
    (Side::Ours, "Invoke-Command", "Start-Sleep 1 & Invoke-Command -ComputerName FS02 {1} &", "&"),
    (Side::Ours, "icm", "[ValidateScript({ icm -cn FS02 {1} })]$t = 1", "["),
    (Side::Ours, "icm", "function f { param([ValidateScript({ icm -cn FS02 {1} })]$t) }", "["),
    // The corpus: the cmdletization modules Windows generates (`MSFT_DnsClient.cdxml` and kin,
    // logged by 4104) open every function with `[CmdletBinding(…)] [OutputType(…)] param(`.
    (Side::Oracle, "param", "    param(", "param"),
    // `$global:?`, a variable with a scope whose name is `?`.
    (Side::Oracle, ":", "$global:?", "label"),
];

#[derive(Default)]
struct Tally {
    scripts: usize,
    compared: usize,
    refused_by_oracle: usize,
    refused_by_ours: usize,
    disagreements: usize,
}

fn compare_all(
    source: &str,
    scripts: &BTreeSet<String>,
    tally: &mut Tally,
    unknown: &mut Vec<String>,
    seen: &mut BTreeSet<usize>,
) {
    for script in scripts {
        tally.scripts += 1;
        let oracle = differential::oracle_command_names(script).is_some();
        let ours = winrm_detect::cmdline::command_names(script);
        if let (Err(at), true, Ok(_)) = (&ours, oracle, std::env::var("WINRM_DETECT_SHOW_REFUSED")) {
            println!("{source}: refused by ours only, at {at}: {:?}", around(script, *at));
        }
        let ours = ours.is_ok();
        tally.refused_by_oracle += usize::from(!oracle);
        tally.refused_by_ours += usize::from(!ours);
        let Some(found) = differential::compare(script) else { continue };
        tally.compared += 1;
        for d in found {
            tally.disagreements += 1;
            let Disagreement { side, name, at } = &d;
            let line = around(script, *at).trim_end_matches('\r');
            let rule = explained(script, &d).map(|f| f.id);
            match KNOWN.iter().position(|(k, n, l, _)| k == side && n == name && *l == line) {
                Some(i) if rule == Some(KNOWN[i].3) => {
                    seen.insert(i);
                }
                Some(i) => unknown.push(format!(
                    "{source}: {side:?} finds {name:?}, listed as {:?} but explained by {rule:?}",
                    KNOWN[i].3
                )),
                None => {
                    unknown.push(format!("{source}: {side:?} finds {name:?} at {at} (explained by {rule:?}): {line:?}"))
                }
            }
        }
    }
}

/// The line of `script` that holds byte `at`, for a message.
fn around(script: &str, at: usize) -> &str {
    let start = script[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = script[at..].find('\n').map_or(script.len(), |i| at + i);
    &script[start..end]
}

fn scripts_of_files(files: &[std::path::PathBuf]) -> BTreeSet<String> {
    let detector = winrm_detect::Detector::new(winrm_detect::Config::default());
    let mut scripts = BTreeSet::new();
    for path in files {
        for (_, event) in corpus::events_of(path).unwrap_or_default() {
            scripts.extend(differential::scripts_of_event(&detector, &event));
        }
    }
    scripts
}

#[test]
fn two_parsers_find_the_same_commands() {
    for id in KNOWN.iter().map(|k| k.3) {
        assert!(ORACLE_FAULTS.iter().any(|f| f.id == id), "{id:?} names no entry of ORACLE_FAULTS");
    }
    let mut report = String::from("source\tscripts\tcompared\trefused by the oracle\trefused by ours\tdisagreements\n");
    let (mut unknown, mut seen) = (Vec::new(), BTreeSet::new());
    let table: BTreeSet<String> = CASES.iter().map(|(script, _)| script.to_string()).collect();
    let fixtures = scripts_of_files(&corpus::files(&host_test::workspace_root().join("fixtures/events")));
    let corpus = corpus::dir().map(|dir| scripts_of_files(&corpus::files(&dir)));
    let mut sources = vec![("grammar table", table), ("fixtures", fixtures)];
    sources.extend(corpus.map(|c| ("corpus", c)));
    for (source, scripts) in &sources {
        let mut tally = Tally::default();
        compare_all(source, scripts, &mut tally, &mut unknown, &mut seen);
        report.push_str(&format!(
            "{source}\t{}\t{}\t{}\t{}\t{}\n",
            tally.scripts, tally.compared, tally.refused_by_oracle, tally.refused_by_ours, tally.disagreements
        ));
    }
    report.push_str(&format!("known disagreements: {} listed, {} seen\n", KNOWN.len(), seen.len()));
    let _ = fs::create_dir_all(host_test::workspace_root().join("target"));
    let _ = fs::write(host_test::workspace_root().join("target/differential-report.txt"), &report);
    println!("{report}");
    assert!(unknown.is_empty(), "disagreements not looked up yet:\n{}", unknown.join("\n"));
    let stale: Vec<_> = (0..KNOWN.len()).filter(|i| !seen.contains(i)).map(|i| KNOWN[i]).collect();
    assert!(stale.is_empty(), "listed disagreements that no longer occur (take them out): {stale:?}");
}

/// The parser reports a break PowerShell reports, and none where it reports none: each script
/// of the table that PowerShell refuses is one this crate's parser refuses too.
#[test]
fn scripts_powershell_refuses_are_refused() {
    const REFUSED: [&str; 4] =
        ["'Invoke-Command' -Cn FS02 {1}", "\"icm\" -cn FS02 {1}", "$x.icm -cn FS02 {1}", "[icm] -cn FS02"];
    for (script, _) in CASES {
        let refused = winrm_detect::cmdline::command_names(script).is_err();
        assert_eq!(refused, REFUSED.contains(script), "{script:?}");
    }
}
