//! Extended mode by PowerShell's grammar: for each place where PowerShell runs a command that
//! the analyser once passed over, a remote `Invoke-Command` written there, and its negative
//! twin (the same text where PowerShell runs nothing, or a local call). Each script is read in
//! three positions: a 4104 script block, `powershell.exe -EncodedCommand`, and (where its
//! quotes survive a command line) `powershell.exe -Command`.

use base64::Engine;
use serde_json::json;
use winrm_detect::cmdline::{Limits, analyse};
use winrm_detect::{Config, Detector, Matcher, Mode};

// The table of scripts and what extended mode reports for each, shared with the differential
// test that reads every script of it with a second parser (`host-test/tests/differential.rs`).
include!("common/grammar_cases.rs");

fn b64(script: &str) -> String {
    let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(utf16)
}

fn process_creation(command_line: &str) -> Vec<u8> {
    json!({"dest": "WS01", "user": "alice", "process_name": "powershell.exe", "original_file_name": "PowerShell.EXE", "process": command_line})
        .to_string()
        .into_bytes()
}

fn script_block(text: &str) -> Vec<u8> {
    json!({"EventID": 4104, "Channel": "Microsoft-Windows-PowerShell/Operational", "Computer": "WS01",
        "ScriptBlockText": text, "MessageNumber": 1, "MessageTotal": 1, "ScriptBlockId": "{1}"})
    .to_string()
    .into_bytes()
}

/// The targets extended mode reports for `event` (under the parity matcher where the
/// literal rule fires too), or `None` when nothing fired.
fn extended_targets(detector: &Detector, event: &[u8]) -> Option<Vec<String>> {
    let annotations = detector.scan(event).expect("the event is read");
    let annotation = annotations.first()?;
    Some(annotation.remote_targets.iter().map(|t| t.host.clone()).collect())
}

/// `pwsh -ec <base64>` given to a child from a script: the child decodes it.
#[test]
fn an_encoded_command_given_to_a_child_host() {
    let detector = Detector::new(Config { mode: Mode::Extended, ..Config::default() });
    for host in ["pwsh -ec", "powershell -EncodedCommand", "& powershell.exe -e"] {
        let script = format!("$x = 1; {host} {}", b64("icm -cn FS02 {whoami}"));
        assert_eq!(extended_targets(&detector, &script_block(&script)), Some(vec!["FS02".to_string()]), "{script}");
        let negative = format!("$x = 1; {host} {}", b64("icm {whoami}"));
        assert_eq!(extended_targets(&detector, &script_block(&negative)), None, "{negative}");
    }
}

#[test]
fn every_place_powershell_runs_a_command_is_read() {
    let detector = Detector::new(Config { mode: Mode::Extended, ..Config::default() });
    let mut failures = Vec::new();
    for (script, targets) in CASES {
        let mut positions = vec![
            ("script block", script_block(script)),
            ("-EncodedCommand", process_creation(&format!("powershell.exe -NoP -EncodedCommand {}", b64(script)))),
        ];
        if !script.contains('"') {
            positions.push(("-Command", process_creation(&format!("powershell.exe -NoP -Command {script}"))));
        }
        for (position, event) in positions {
            let got = extended_targets(&detector, &event);
            let want = (!targets.is_empty()).then(|| targets.iter().map(|t| t.to_string()).collect::<Vec<_>>());
            if got != want {
                failures.push(format!("{position}: {script:?}: got {got:?}, want {want:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The evidence of a call inside a subexpression points at it in the script's own text.
#[test]
fn evidence_inside_a_string_points_into_the_script() {
    let detector = Detector::new(Config { mode: Mode::Extended, ..Config::default() });
    let script = "Write-Output \"result: $(icm -cn FS02 {whoami})\"";
    let annotations = detector.scan(&script_block(script)).unwrap();
    let extended = annotations.iter().find(|a| a.matcher == Matcher::Extended).expect("fires");
    assert!(extended.techniques.is_empty() || !extended.evidence.is_empty());
    for e in &extended.evidence {
        let at = e.offset as usize;
        assert_eq!(&script[at..at + e.text.len()], e.text, "{e:?}");
    }
    assert!(extended.evidence.iter().any(|e| e.text == "icm"), "{:?}", extended.evidence);
}

/// Thousands of subexpressions in one string: each is read once (the scan goes on after
/// each), and the call after them all is still found.
#[test]
fn many_subexpressions_in_one_string() {
    let detector = Detector::new(Config { mode: Mode::Extended, ..Config::default() });
    let script = format!("Write-Output \"{}$(icm -cn FS02 {{1}})\"", "$(1)".repeat(12_000));
    assert_eq!(extended_targets(&detector, &script_block(&script)), Some(vec!["FS02".to_string()]));
}

/// Chains the grammar repeats (operators, casts, member accesses, assignments, pipelines)
/// are read in a loop and strings run as scripts nest no deeper than the decoding limit:
/// input that repeats them is bounded work, not a deeper stack.
#[test]
fn repeated_keywords_and_nested_strings_stay_bounded() {
    let detector = Detector::new(Config { mode: Mode::Extended, ..Config::default() });
    let call = "(icm -cn FS02 {1})";
    for chain in [
        format!("{}{call}", "-not ".repeat(100_000)),
        format!("{}{call}", "!".repeat(100_000)),
        format!("{}{call}", "[int]".repeat(50_000)),
        format!("{}{call}", ",".repeat(100_000)),
        format!("{}{call}", "$a = ".repeat(100_000)),
        format!("$x{}{call}", ".Length".repeat(50_000)),
        format!("{}{call}", "1 + ".repeat(100_000)),
        format!("{}{call}", "$a ? 1 : ".repeat(50_000)),
        format!("{}{call}", "Get-Date | ".repeat(50_000)),
        format!("{}{call}", "Get-Date && ".repeat(50_000)),
    ] {
        assert_eq!(
            extended_targets(&detector, &script_block(&chain)),
            Some(vec!["FS02".to_string()]),
            "{}",
            &chain[..40]
        );
    }
    // `return return …` is `return` of a command named `return` whose arguments are the rest
    // (`ReturnStatementRule` reads a pipeline; in command mode a keyword is a bare word):
    // nothing of it runs the call, however long it is.
    let returns = format!("{}icm -cn FS02 {{1}}", "return ".repeat(100_000));
    assert_eq!(extended_targets(&detector, &script_block(&returns)), None);

    // `iex 'iex ''…'''`: each level doubles the quotes of the one inside it.
    let nest = |levels: usize| {
        let mut script = "icm -cn FS02 {1}".to_string();
        for _ in 0..levels {
            script = format!("iex '{}'", script.replace('\'', "''"));
        }
        script
    };
    let limit = Config::default().limits.max_decode_depth as usize;
    assert_eq!(extended_targets(&detector, &script_block(&nest(limit))), Some(vec!["FS02".to_string()]));
    assert_eq!(extended_targets(&detector, &script_block(&nest(limit + 1))), None);
    assert_eq!(extended_targets(&detector, &script_block(&nest(12))), None);
}

/// `powershell -c {powershell -c {…`: each child host's command line holds every host after it,
/// and a host is reached by as many paths as there are ways to nest down to it within the
/// decoding limit, so the readings grow as the chain's length to the fourth power. The cmdline
/// fuzz target found it: 40 links (614 bytes) made 92,170 layers, 21 MB of text, in 56 s. What
/// is read again stays within the reading budget, says so past it, and the call before the
/// chain is still found.
#[test]
fn hosts_nested_in_hosts_are_read_within_the_budget() {
    let limits = Limits::default();
    for (links, past_budget) in [(10, false), (40, true), (400, true), (4_000, true)] {
        let line = format!("powershell -c icm -cn FS02 {{1}}; {}", "{powershell -c ".repeat(links));
        let analysis = analyse(&line, &limits);
        // Four times the text, or four times 4 KiB for a short one.
        let budget = 4 * line.len().max(4 << 10);
        let derived: usize = analysis.layers.iter().map(|l| l.text.len()).sum();
        assert!(derived <= budget, "{links} links: {derived} bytes in {} layers", analysis.layers.len());
        assert_eq!(analysis.invocations.first().map(|i| i.targets.clone()), Some(vec!["FS02".to_string()]));
        let past = analysis.opaque.contains(&"PowerShell nested in PowerShell past the reading budget");
        assert_eq!(past, past_budget, "{links} links: {:?}", analysis.opaque);
    }
}

/// What one event reports is bounded, and says what it leaves out: the first
/// `Analysis::MAX_INVOCATIONS` remote calls with their evidence, at most `MAX_LISTED` targets
/// and pieces of evidence, and one piece of evidence of kind `omitted` that counts the rest.
/// The verdict stays. (A 408-byte input once gave 99 invocations and 198 pieces of evidence,
/// all carried into the annotation.)
#[test]
fn what_one_event_reports_is_bounded() {
    use winrm_detect::cmdline::Analysis;
    use winrm_detect::{MAX_LISTED, OMITTED};
    let detector = Detector::new(Config { mode: Mode::Extended, ..Config::default() });
    let calls: String = (0..99).map(|i| format!("icm -cn H{i} {{1}};")).collect();
    let annotations = detector.scan(&script_block(&calls)).unwrap();
    let a = annotations.first().expect("it fires");
    let kept = Analysis::MAX_INVOCATIONS;
    assert_eq!(a.remote_targets.len(), kept);
    let (omitted, listed): (Vec<_>, Vec<_>) = a.evidence.iter().partition(|e| e.kind == OMITTED);
    assert_eq!(listed.len(), 2 * kept, "the command and its parameter, per call kept");
    assert_eq!(omitted.len(), 1);
    assert_eq!(omitted[0].text, format!("{} more remote calls not listed", 99 - kept));

    let targets: Vec<String> = (0..100).map(|i| format!("H{i}")).collect();
    let one_call = format!("Invoke-Command -ComputerName {} {{1}}", targets.join(","));
    let annotations = detector.scan(&script_block(&one_call)).unwrap();
    let a = annotations.first().expect("it fires (parity)");
    assert_eq!(a.matcher, Matcher::Parity);
    assert_eq!(a.remote_targets.len(), MAX_LISTED);
    assert_eq!(
        a.evidence.last().map(|e| (e.kind.as_str(), e.text.as_str())),
        Some((OMITTED, "36 more targets not listed"))
    );
}
