//! Extended mode by PowerShell's grammar: for each place where PowerShell runs a command that
//! the analyser once passed over, a remote `Invoke-Command` written there, and its negative
//! twin (the same text where PowerShell runs nothing, or a local call). Each script is read in
//! three positions: a 4104 script block, `powershell.exe -EncodedCommand`, and (where its
//! quotes survive a command line) `powershell.exe -Command`.

use base64::Engine;
use serde_json::json;
use winrm_detect::cmdline::{Limits, analyse};
use winrm_detect::{Config, Detector, Matcher, Mode};

/// (script, the targets extended mode reports; empty: nothing fires)
const CASES: &[(&str, &[&str])] = &[
    // A `param(…)` block needs no separator before the block's first statement.
    ("& { param($t) icm -cn $t {hostname} } FS02", &["$t"]),
    ("& { param($t) 'icm -cn $t {hostname}' } FS02", &[]),
    ("& { param($t) icm {hostname} } FS02", &[]),
    ("function Get-Remote { [CmdletBinding()] param([string]$t) Invoke-Command -ComputerName $t {1} }", &["$t"]),
    ("function Get-Remote { [CmdletBinding()] param([string]$t) Write-Output 'icm -cn $t {1}' }", &[]),
    // A parameter's default value runs when no argument is given.
    ("& { param($r = (icm -cn FS02 {1})) $r }", &["FS02"]),
    ("& { param($r = ('icm -cn FS02 {1}')) $r }", &[]),
    // Every assignment operator runs its right-hand side, whatever the target's type.
    ("$out += icm -cn FS02 {whoami}", &["FS02"]),
    ("$out -= icm -cn FS02 {whoami}", &["FS02"]),
    ("$out *= icm -cn FS02 {whoami}", &["FS02"]),
    ("$out ??= icm -cn FS02 {whoami}", &["FS02"]),
    ("[string[]]$r = Invoke-Command -Cn FS02 {whoami}", &["FS02"]),
    ("[ValidateNotNull()][string]$r = icm -cn FS02 {whoami}", &["FS02"]),
    ("$out += 'icm -cn FS02 {whoami}'", &[]),
    ("[string[]]$r = icm {whoami}", &[]),
    ("$s += nsn FS02; icm -Session $s {whoami}", &["FS02"]),
    // Subexpressions of expandable strings run when the string is expanded.
    ("Write-Output \"result: $(icm -cn FS02 {whoami})\"", &["FS02"]),
    ("$x = \"a $(Invoke-Command -ComputerName FS02 -ScriptBlock {1}) b\"", &["FS02"]),
    ("\"$(\"$(icm -cn FS02 {1})\")\"", &["FS02"]),
    ("$h = @\"\nresult: $(icm -cn FS02 {whoami})\n\"@", &["FS02"]),
    ("Write-Output 'result: $(icm -cn FS02 {whoami})'", &[]),
    ("$h = @'\nresult: $(icm -cn FS02 {whoami})\n'@", &[]),
    ("Write-Output \"result: `$(icm -cn FS02 {whoami})\"", &[]),
    ("Write-Output \"$(1); icm -cn FS02 {whoami}\"", &[]),
    ("Write-Output \"$(icm {whoami})\"", &[]),
    // A child PowerShell gets the values of its arguments (PowerShell removes the quotes),
    // as Windows PowerShell 5.1 and PowerShell 7.3+ each pass them.
    ("powershell -c 'icm -cn FS02 {whoami}'", &["FS02"]),
    ("pwsh -NoProfile -Command 'Invoke-Command -Cn FS02 -ScriptBlock {whoami}'", &["FS02"]),
    ("powershell -c 'icm -cn \"FS02\" {whoami}'", &["FS02"]),
    ("powershell -c \"icm -cn FS02 {whoami}\"", &["FS02"]),
    ("powershell -c icm -cn FS02 {whoami}", &["FS02"]),
    ("powershell -c 'Write-Output icm -cn FS02'", &[]),
    ("cmd /c 'icm -cn FS02 {whoami}'", &[]),
    // Statements whose conditions and bodies run commands, pipelines, redirections, method
    // arguments, array and hashtable literals; comments and help text run nothing.
    ("try { icm -cn FS02 {1} } catch { $_ } finally { }", &["FS02"]),
    ("try { } catch { icm -cn FS02 {1} }", &["FS02"]),
    ("trap { icm -cn FS02 {1}; continue }", &["FS02"]),
    ("if ($x) { } elseif (icm -cn FS02 {1}) { }", &["FS02"]),
    ("switch (icm -cn FS02 {1}) { default { } }", &["FS02"]),
    ("switch ($x) { 'a' { icm -cn FS02 {1} } }", &["FS02"]),
    ("foreach ($c in @('FS02')) { icm -cn $c {1} }", &["$c"]),
    ("for ($i = 0; $i -lt 1; $i++) { icm -cn FS02 {1} }", &["FS02"]),
    ("do { icm -cn FS02 {1} } while ($false)", &["FS02"]),
    ("$list.Add((icm -cn FS02 {1}))", &["FS02"]),
    ("icm -cn FS02 {1} > out.txt", &["FS02"]),
    ("icm -cn FS02 {1} 2>&1 | Out-Null", &["FS02"]),
    ("$h = @{ a = (icm -cn FS02 {1}) }", &["FS02"]),
    ("$a = @(icm -cn FS02 {1})", &["FS02"]),
    ("1..2 | ForEach-Object { icm -cn FS02 {1} }", &["FS02"]),
    ("icm -cn FS02 {1} -ErrorAction SilentlyContinue", &["FS02"]),
    ("Get-Help icm -cn FS02", &[]),
    ("# icm -cn FS02 {1}", &[]),
    ("<# icm -cn FS02 {1} #>", &[]),
    ("powershell -c 'icm {whoami}'", &[]),
    // Pipeline chains (PowerShell 7): each side is a pipeline of its own.
    ("Get-Date && icm -cn FS02 {1}", &["FS02"]),
    ("Test-Path x || Invoke-Command -ComputerName FS02 {1}", &["FS02"]),
    ("Get-Date && 'icm -cn FS02 {1}'", &[]),
    // `return`, `throw` and `exit` take a pipeline; `break` and `continue` take a label.
    ("function f { return icm -cn FS02 {1} }", &["FS02"]),
    ("throw (icm -cn FS02 {1})", &["FS02"]),
    ("throw icm -cn FS02 {1}", &["FS02"]),
    ("exit icm -cn FS02 {1}", &["FS02"]),
    ("function f { return 'icm -cn FS02 {1}' }", &[]),
    // A hashtable's value is a statement: a pipeline needs no parentheses there.
    ("$h = @{ a = icm -cn FS02 {1} }", &["FS02"]),
    ("$h = @{ a = 'icm -cn FS02 {1}'; b = icm {1} }", &[]),
    // Script block parts, and script blocks run by the call and dot-source operators.
    ("& { begin { } process { icm -cn FS02 {1} } end { } }", &["FS02"]),
    ("function f { dynamicparam { } end { icm -cn FS02 {1} } }", &["FS02"]),
    (". { icm -cn FS02 {1} }", &["FS02"]),
    ("filter f { icm -cn $_ {1} }", &["$_"]),
    (":outer while ($true) { icm -cn FS02 {1}; break outer }", &["FS02"]),
    ("while (icm -cn FS02 {1}) { }", &["FS02"]),
    ("do { } until (icm -cn FS02 {1})", &["FS02"]),
    ("class C { [void] M() { icm -cn FS02 {1} } }", &["FS02"]),
    // Operators and expressions around a parenthesised pipeline.
    ("$ok = $x ? (icm -cn FS02 {1}) : $null", &["FS02"]),
    ("if (-not (icm -cn FS02 {1})) { }", &["FS02"]),
    ("[string](icm -cn FS02 {1})", &["FS02"]),
    ("$a[(icm -cn FS02 {1})]", &["FS02"]),
    ("$(icm -cn FS02 {1}).Count", &["FS02"]),
    ("Write-Output (icm -cn FS02 {1})", &["FS02"]),
    ("Write-Output $(icm -cn FS02 {1})", &["FS02"]),
    // Argument forms: colon-bound values, arrays, `--` (what follows is positional), line
    // continuations, comments between arguments.
    ("icm -ComputerName:FS02 {1}", &["FS02"]),
    ("icm -cn:'FS02' {1}", &["FS02"]),
    ("icm -cn FS02,FS03 {1}", &["FS02", "FS03"]),
    ("icm -- FS02 {1}", &["FS02"]),
    ("icm `\n  -cn FS02 `\n  {1}", &["FS02"]),
    ("icm <# remote #> -cn FS02 {1}", &["FS02"]),
    ("Microsoft.PowerShell.Core\\Invoke-Command -ComputerName FS02 {1}", &["FS02"]),
    // The stop-parsing token hands the rest of the line (up to a pipe or a new line) to the
    // native command as it is.
    ("cmd /c --% echo a; icm -cn FS02 {1}", &[]),
    ("cmd /c --% echo a | icm -cn FS02 {1}", &["FS02"]),
    ("cmd /c --% echo a\nicm -cn FS02 {1}", &["FS02"]),
    ("powershell --% -c icm -cn FS02 {1}", &["FS02"]),
    // Text that PowerShell runs as a script: `Invoke-Expression` and `[scriptblock]::Create`
    // of a string written in the script.
    ("iex 'icm -cn FS02 {1}'", &["FS02"]),
    ("Invoke-Expression -Command \"Invoke-Command -ComputerName FS02 {1}\"", &["FS02"]),
    ("& ([scriptblock]::Create('icm -cn FS02 {1}'))", &["FS02"]),
    ("iex @'\nicm -cn FS02 {1}\n'@", &["FS02"]),
    ("'icm -cn FS02 {1}' | iex", &["FS02"]),
    ("'icm -cn FS02 {1}' | Invoke-Expression", &["FS02"]),
    ("$ExecutionContext.InvokeCommand.InvokeScript('icm -cn FS02 {1}')", &["FS02"]),
    ("[powershell]::Create().AddScript('icm -cn FS02 {1}').Invoke()", &["FS02"]),
    ("& $ExecutionContext.InvokeCommand.NewScriptBlock('icm -cn FS02 {1}')", &["FS02"]),
    ("iex 'icm {1}'", &[]),
    ("'icm -cn FS02 {1}' | Write-Output", &[]),
    ("$x | iex", &[]),
    // A name PowerShell resolves from what the script itself wrote: a variable holding a
    // string, an alias the script defines, `Get-Command` of a written name.
    ("$c = 'Invoke-Command'; & $c -cn FS02 {1}", &["FS02"]),
    ("$c = \"icm\"; . $c -ComputerName FS02 {1}", &["FS02"]),
    ("$p = 'icm -cn FS02 {1}'; iex $p", &["FS02"]),
    ("$p = 'icm -cn FS02 {1}'; $p | iex", &["FS02"]),
    ("Set-Alias run Invoke-Command; run -cn FS02 {1}", &["FS02"]),
    ("New-Alias -Name run -Value icm; run FS02 {1}", &["FS02"]),
    ("sal -Value icm -Name run; run -ComputerName FS02 {1}", &["FS02"]),
    ("& (gcm icm) -cn FS02 {1}", &["FS02"]),
    ("& (Get-Command Invoke-Command) -ComputerName FS02 {1}", &["FS02"]),
    ("$c = 'Invoke-Command'; $c = 'Get-Date'; & $c -cn FS02 {1}", &[]),
    ("$c = 'Invoke-Command'; & $c {1}", &[]),
    ("Set-Alias run Get-Date; run -cn FS02 {1}", &[]),
    ("Set-Alias run Invoke-Command; walk -cn FS02 {1}", &[]),
    ("& (gcm Get-Date) -cn FS02 {1}", &[]),
    ("Write-Output 'iex icm -cn FS02'", &[]),
];

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

/// Keyword chains are read in a loop and strings run as scripts nest no deeper than the
/// decoding limit: input that repeats them is bounded work, not a deeper stack.
#[test]
fn repeated_keywords_and_nested_strings_stay_bounded() {
    let detector = Detector::new(Config { mode: Mode::Extended, ..Config::default() });
    let chain = format!("{}icm -cn FS02 {{1}}", "return ".repeat(100_000));
    assert_eq!(extended_targets(&detector, &script_block(&chain)), Some(vec!["FS02".to_string()]));

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
