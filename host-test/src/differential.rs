//! The differential oracle for the analyser's parser: an independent PowerShell parser,
//! `poshtree` (a recursive-descent parser of its own, with its own tokenizer), reads the same
//! script, and the two lists of commands at command positions are compared. A command one
//! finds and the other does not (by where its name is written: two names that overlap are the
//! same command, so `.\x.exe` read as one word or as `.` and `\x.exe` agree) is a
//! disagreement, to be looked up in PowerShell's own `Parser.cs`: where this crate is wrong it
//! is fixed, where the oracle is wrong it goes into the table of known disagreements of the
//! test that runs the comparison (`tests/differential.rs`).
//!
//! The oracle is a dependency of this test rig only, never of the module shippers load.

use std::ops::Range;

use poshtree::v2::NodeKind;

/// Which parser found a command the other did not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// This crate's parser.
    Ours,
    /// The oracle.
    Oracle,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    pub side: Side,
    /// The command's name as written.
    pub name: String,
    pub at: usize,
}

/// The commands the oracle finds in `script` (where each one's name is written), or `None`
/// when it reports the script broken: a script PowerShell would not run is not compared.
pub fn oracle_command_names(script: &str) -> Option<Vec<Range<usize>>> {
    // The oracle recurses up to 200 levels with large frames: an Invoke-Obfuscation script of
    // the corpus (4,656 bytes) overflowed a test thread's 2 MiB. It gets a stack of its own.
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(ORACLE_STACK)
            .spawn_scoped(scope, || oracle_names(script))
            .expect("a thread for the oracle")
            .join()
            .expect("the oracle returns")
    })
}

/// The oracle's thread stack.
const ORACLE_STACK: usize = 256 << 20;

fn oracle_names(script: &str) -> Option<Vec<Range<usize>>> {
    let parsed = poshtree::v2::parse(script);
    if !parsed.errors.is_empty() {
        return None;
    }
    let mut names = Vec::new();
    parsed.script.walk(&mut |node| {
        if let NodeKind::Command { name, .. } = &node.kind
            && name.span.start < name.span.end
        {
            names.push(name.span.start..name.span.end);
        }
    });
    Some(names)
}

/// The commands one parser finds in `script` and the other does not; `None` when either
/// reports the script broken (PowerShell runs none of a script it cannot parse, and the two
/// recover from a break differently).
pub fn compare(script: &str) -> Option<Vec<Disagreement>> {
    let oracle = oracle_command_names(script)?;
    let ours = winrm_detect::cmdline::command_names(script).ok()?;
    let overlaps = |a: &Range<usize>, b: &Range<usize>| a.start < b.end && b.start < a.end;
    let only = |side: Side, these: &[Range<usize>], those: &[Range<usize>]| {
        these
            .iter()
            .filter(|a| !those.iter().any(|b| overlaps(a, b)))
            .map(|a| Disagreement { side, name: script.get(a.clone()).unwrap_or("").to_string(), at: a.start })
            .collect::<Vec<_>>()
    };
    let mut found = only(Side::Ours, &ours, &oracle);
    found.extend(only(Side::Oracle, &oracle, &ours));
    Some(found)
}

/// What makes the two parsers differ where the oracle is the one that is wrong, by what in the
/// script brings it about: a script holding none of these is read alike by both, or one of
/// them has a new fault. Each is looked up in `Parser.cs` and `tokenizer.cs`.
pub const ORACLE_FAULTS: &[(&str, &str)] = &[
    (
        "param",
        "a `param(…)` block after attributes (`[CmdletBinding()] param(…)`) opens a script block (`ParamBlockRule`); the oracle reads `param` as a command",
    ),
    (
        "switch",
        "a switch clause's condition is a command argument (`SwitchStatementRule`: `default`, a word, a script block); the oracle reads it as a command",
    ),
    (
        "break",
        "`break label` takes a label (`BreakStatementRule`, `LabelOrKeyRule`); the oracle reads the label as a command",
    ),
    ("continue", "`continue label` takes a label (`ContinueStatementRule`); the oracle reads the label as a command"),
    ("trap", "`trap [Type] {…}` takes a type literal (`TrapStatementRule`); the oracle reads `]` as a command"),
    (
        "parallel",
        "`parallel {…}` is a block statement (`BlockStatementRule`); the oracle reads `parallel` as a command",
    ),
    (
        "sequence",
        "`sequence {…}` is a block statement (`BlockStatementRule`); the oracle reads `sequence` as a command",
    ),
    (
        "--%",
        "the text after `--%` ends at a `|` or `&&` outside double quotes (`GetVerbatimCommandArgument`); the oracle runs it to the line's end",
    ),
    (
        "&",
        "`&` after a pipeline runs it in the background and ends the statement (`PipelineChainRule`, PowerShell 7); the oracle reads no statement after it",
    ),
    (
        "[",
        "an attribute's arguments hold expressions (`[ValidateScript({…})]`, `AttributeArgumentsRule`) and a generic token may hold subexpressions; the oracle does not look into them",
    ),
    (
        "\u{201c}",
        "U+201C, U+201D and U+201E are double quotes to PowerShell (`SpecialChars.QuoteDouble*`); the oracle ends strings at `\"` only",
    ),
    (
        "\u{201d}",
        "U+201C, U+201D and U+201E are double quotes to PowerShell (`SpecialChars.QuoteDouble*`); the oracle ends strings at `\"` only",
    ),
    (
        "\u{201e}",
        "U+201C, U+201D and U+201E are double quotes to PowerShell (`SpecialChars.QuoteDouble*`); the oracle ends strings at `\"` only",
    ),
    (
        "\u{2018}",
        "U+2018 to U+201B are single quotes to PowerShell (`SpecialChars.QuoteSingle*`); the oracle ends strings at `'` only",
    ),
    (
        "\u{2019}",
        "U+2018 to U+201B are single quotes to PowerShell (`SpecialChars.QuoteSingle*`); the oracle ends strings at `'` only",
    ),
    (
        ">&",
        "`2>&1>` is a merging redirection, then a file redirection (`NextToken`: `2>&1` is one token); the oracle reads the second `>` as a command",
    ),
    (
        "$global:?",
        "a variable's name may hold `?` after a scope (`ScanVariable`: `$global:?`); the oracle ends the variable at the `:`",
    ),
];

/// The known causes whose trigger the script holds, for a disagreement found in it.
pub fn known_causes(script: &str) -> Vec<&'static str> {
    ORACLE_FAULTS.iter().filter(|(trigger, _)| script.contains(trigger)).map(|(_, why)| *why).collect()
}

/// The fuzz property (target `grammar`, replayed by `cargo test` over its seeds): on any
/// script the oracle reads as whole and that holds none of the known causes' triggers, the
/// two parsers find the same commands; and ours returns, whatever the input.
pub fn property(data: &[u8]) {
    let Ok(script) = std::str::from_utf8(data) else { return };
    for name in winrm_detect::cmdline::command_names(script).unwrap_or_default() {
        assert!(script.get(name.clone()).is_some(), "a name within the script at a character boundary: {name:?}");
    }
    if !known_causes(script).is_empty() {
        return;
    }
    if let Some(disagreements) = compare(script) {
        assert!(disagreements.is_empty(), "the parsers disagree on {script:?}: {disagreements:?}");
    }
}

/// The PowerShell script texts one event carries: a 4104 event's `ScriptBlockText`, and the
/// script a PowerShell process's command line runs (`-Command`, `-EncodedCommand` decoded).
pub fn scripts_of_event(detector: &winrm_detect::Detector, event: &[u8]) -> Vec<String> {
    use winrm_detect::event::Kind;
    let Ok(text) = std::str::from_utf8(event) else { return Vec::new() };
    let Ok(parsed) = detector.parse_event(text) else { return Vec::new() };
    match &parsed.kind {
        Kind::ScriptBlock(block) if !block.text.is_empty() => vec![block.text.clone()],
        Kind::ProcessCreation => {
            let name = parsed.fields.process_name.as_deref().unwrap_or("").to_ascii_lowercase();
            let powershell = ["powershell.exe", "pwsh.exe", "powershell_ise.exe", "powershell", "pwsh"];
            match &parsed.fields.process {
                Some(line) if powershell.contains(&name.as_str()) => {
                    winrm_detect::cmdline::host_script(line, detector.cmdline_limits()).into_iter().collect()
                }
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}
