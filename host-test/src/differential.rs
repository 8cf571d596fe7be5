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

/// A fault of the oracle, looked up in `Parser.cs` and `tokenizer.cs`: the two parsers differ
/// there and PowerShell reads the script as this crate's parser does. `explains` tells the
/// disagreements it makes (from the script and the disagreement alone, so that the fuzz target
/// can tell them from new ones).
pub struct OracleFault {
    pub id: &'static str,
    pub why: &'static str,
    pub explains: fn(&str, &Disagreement) -> bool,
}

fn oracle_found(d: &Disagreement, names: &[&str]) -> bool {
    d.side == Side::Oracle && names.iter().any(|n| d.name.eq_ignore_ascii_case(n))
}

fn holds(script: &str, word: &str) -> bool {
    script.to_ascii_lowercase().contains(word)
}

/// Whether a `param(` with attributes before it (`] param(`) stands before byte `at`.
fn after_attributed_param(script: &str, at: usize) -> bool {
    let head = script[..at].to_ascii_lowercase();
    head.match_indices("param")
        .any(|(i, _)| head[i + 5..].trim_start().starts_with('(') && head[..i].trim_end().ends_with(']'))
}

/// The text of `script` before byte `at`, without the blanks just before it.
fn before(script: &str, at: usize) -> &str {
    script[..at].trim_end_matches([' ', '\t'])
}

pub const ORACLE_FAULTS: &[OracleFault] = &[
    OracleFault {
        id: "param",
        why: "a `param(…)` block after attributes (`[CmdletBinding()] param(…)`) opens a script block (`ParamBlockRule`); the oracle reads `param` as a command, whose arguments hide the statement after it",
        explains: |script, d| {
            oracle_found(d, &["param"]) || (d.side == Side::Ours && after_attributed_param(script, d.at))
        },
    },
    OracleFault {
        id: "switch",
        why: "a switch clause's condition is a command argument (`SwitchStatementRule`: `default`, a word, a script block); the oracle reads it as a command",
        explains: |script, d| d.side == Side::Oracle && holds(script, "switch"),
    },
    OracleFault {
        id: "break",
        why: "`break label` and `continue label` take a label (`BreakStatementRule`, `LabelOrKeyRule`); the oracle reads the label as a command",
        explains: |script, d| d.side == Side::Oracle && (holds(script, "break") || holds(script, "continue")),
    },
    OracleFault {
        id: "label",
        why: "`:name` before a statement is its label (`ScanLabel`), and a `:` inside a variable's name is its scope (`$global:?`); the oracle reads the `:` as a command (and what follows a label as no command)",
        explains: |script, d| {
            (d.side == Side::Oracle && (d.name.starts_with(':') || line_of(script, d.at).trim_start().starts_with(':')))
                || (d.side == Side::Ours && after_label(script, d.at))
        },
    },
    OracleFault {
        id: "]",
        why: "`trap [Type] {…}` takes a type literal (`TrapStatementRule`), and a parameter's name runs on over `]` (`ScanParameter` ends it at blanks, `{}();,|&.[`, a colon or a quote only: `-cn]` is one token); the oracle reads the `]` as a command, and a line that starts with `]` otherwise",
        explains: |script, d| {
            (d.side == Side::Oracle && d.name == "]") || line_of(script, d.at).trim_start().starts_with(']')
        },
    },
    OracleFault {
        id: "block",
        why: "`parallel {…}` and `sequence {…}` are block statements (`BlockStatementRule`); the oracle reads the keyword as a command",
        explains: |_, d| oracle_found(d, &["parallel", "sequence"]),
    },
    OracleFault {
        id: "--%",
        why: "the text after `--%` ends at a `|` or `&&` outside double quotes (`GetVerbatimCommandArgument`); the oracle runs it to the line's end",
        explains: |script, _| script.contains("--%"),
    },
    OracleFault {
        id: "&",
        why: "`&` after a pipeline runs it in the background and ends the statement (`PipelineChainRule`, PowerShell 7); the oracle reads no statement after it",
        explains: |script, d| {
            let head = before(script, d.at);
            (head.ends_with('&') && (!head.ends_with("&&") || head.ends_with("`&&"))) || glued_background(script)
        },
    },
    OracleFault {
        id: "[",
        why: "an attribute's arguments hold expressions (`[ValidateScript({…})]`, `AttributeArgumentsRule`), and a type literal or an attribute ends at its own `]` (`TypeNameRule`); the oracle does not look into the arguments, and ends a bracket elsewhere",
        explains: |script, d| {
            let head = &script[..d.at];
            let inside = head.rfind('[').is_some_and(|open| head.rfind(']').is_none_or(|close| close < open));
            (d.side == Side::Ours && inside) || (d.side == Side::Oracle && line_of(script, d.at).contains('['))
        },
    },
    OracleFault {
        id: "quotes",
        why: "U+2018 to U+201B are single quotes and U+201C to U+201E double quotes to PowerShell (`SpecialChars`); the oracle ends strings at `'` and `\"` only",
        explains: |script, _| {
            script.contains(['\u{2018}', '\u{2019}', '\u{201a}', '\u{201b}', '\u{201c}', '\u{201d}', '\u{201e}'])
        },
    },
    OracleFault {
        id: "redirection",
        why: "`>`, `>>`, `2>&1` and `<` are redirections (`NextToken`: `2>&1>` is a merging redirection, then a file redirection); the oracle reads an operator of them as a command",
        explains: |_, d| d.side == Side::Oracle && (d.name.starts_with(['>', '<']) || d.name.starts_with("*>")),
    },
    OracleFault {
        id: "number",
        why: "a word that starts like a number and goes on (`2l2l`, `4$h`) is a generic token (`ScanNumber` gives it up), and a generic token where a pipeline starts is a command's name; the oracle reads a number",
        explains: |script, d| d.name.starts_with(|c: char| c.is_ascii_digit()) || digits_then_more(script),
    },
    OracleFault {
        id: "operator",
        why: "an operator where a command's name stands (`=` or `*` alone at a statement's start, `??=x` after a `|`) is the name or starts a generic token that is (`CommandRule` takes any token there as a bare word), and the line after it starts a statement of its own; the oracle reads an operator",
        explains: |script, d| {
            let operator = |name: &str| !name.is_empty() && name.chars().all(|c| "=+-*/%!.,".contains(c));
            let starts_with_operator = |line: &str| line.trim_start().starts_with(['=', '+', '*', '/', '%']);
            operator(&d.name)
                || starts_with_operator(&d.name)
                || d.name.starts_with('?')
                || (d.side == Side::Ours && operator(previous_line(script, d.at).trim()))
                || starts_with_operator(line_of(script, d.at))
                || starts_with_operator(previous_line(script, d.at))
        },
    },
    OracleFault {
        id: "backtick",
        why: "a backtick before a blank is read past like a line continuation (`NextToken`); the oracle reads it as a command, and no command after it",
        explains: |script, d| {
            (d.side == Side::Oracle && d.name.starts_with('`'))
                || (d.side == Side::Ours && before(script, d.at).ends_with('`'))
        },
    },
    OracleFault {
        id: "variable",
        why: "a variable's name holds `?` (`ScanVariable`: `$a?b` is one variable), and `${…}` in a word is a variable of the word (`a$${s}`); the oracle ends the variable early, and reads the rest as a command",
        explains: |script, d| (d.side == Side::Oracle && d.name.starts_with('?')) || script.contains("${"),
    },
    OracleFault {
        id: "comma",
        why: "a command's arguments go on past a line break after a comma (`GetCommandArgument` skips line breaks after `,`: `a b,` then `.x` on the next line is one argument list); the oracle starts a statement on the next line",
        explains: |script, d| d.side == Side::Oracle && previous_line(script, d.at).trim_end().ends_with(','),
    },
    OracleFault {
        id: "dot",
        why: "a word that starts with dots and goes on (`..x`, `.\\x.ps1`) is a generic token (`ScanDot`), a command's name where a pipeline starts; the oracle reads an operator",
        explains: |_, d| d.side == Side::Ours && d.name.starts_with('.'),
    },
    OracleFault {
        id: "#",
        why: "`#` starts a comment only where a token starts (`NextToken`); inside a word (`a#b`, `/#`) it is part of the word; the oracle ends the line there",
        explains: |script, _| {
            let bytes = script.as_bytes();
            bytes.windows(2).any(|w| w[1] == b'#' && !w[0].is_ascii_whitespace() && !b";{(|<".contains(&w[0]))
        },
    },
    OracleFault {
        id: "word-colon",
        why: "`:` before what cannot start a label (`:2a`) starts a generic token (`ScanLabel`), a command's name; the oracle reads a label",
        explains: |_, d| d.side == Side::Ours && d.name.starts_with(':'),
    },
    OracleFault {
        id: "prefix",
        why: "`--` and `-` before an operand are unary operators where an expression starts (`----$a` decrements twice); the oracle reads a command",
        explains: |_, d| d.side == Side::Oracle && d.name.starts_with(['-', '\u{2013}', '\u{2014}', '\u{2015}']),
    },
    OracleFault {
        id: "keyword-word",
        why: "a keyword glued to more text (`data<`, `if-x`) is a generic token (`ScanIdentifier` goes on to `ScanGenericToken` where no character ends the word), a command's name; the oracle reads the keyword",
        explains: |script, d| {
            const KEYWORDS: [&str; 29] = [
                "data", "if", "elseif", "else", "switch", "foreach", "for", "while", "until", "do", "try", "catch",
                "finally", "trap", "function", "filter", "workflow", "class", "enum", "using", "return", "exit",
                "throw", "break", "continue", "begin", "process", "end", "param",
            ];
            let name = d.name.to_ascii_lowercase();
            let glued = |text: &str| {
                let lower = text.to_ascii_lowercase();
                KEYWORDS.iter().any(|k| {
                    lower.match_indices(k).any(|(i, _)| {
                        let after = lower[i + k.len()..].chars().next();
                        let at_start = lower[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
                        at_start
                            && after
                                .is_some_and(|c| !c.is_whitespace() && !"(){};,|&".contains(c) && !c.is_alphanumeric())
                    })
                })
            };
            d.side == Side::Ours
                && (KEYWORDS.iter().any(|k| name.len() > k.len() && name.starts_with(k)) || glued(script))
        },
    },
    OracleFault {
        id: "!",
        why: "`!` glued to a word is a generic token (`NextToken`: `!` before an identifier's start), so `!name` where a pipeline starts is a command; the oracle reads `-not name`",
        explains: |script, _| {
            let bytes = script.as_bytes();
            bytes.windows(2).any(|w| w[0] == b'!' && (w[1].is_ascii_alphabetic() || w[1] == b'_'))
        },
    },
];

/// Whether a `&` stands glued after a word (`a&b`): a pipeline run in the background, then a
/// statement; the oracle reads a call operator.
fn glued_background(script: &str) -> bool {
    let bytes = script.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'&'
            && bytes.get(i + 1) != Some(&b'&')
            && i > 0
            && bytes[i - 1] != b'&'
            && !bytes[i - 1].is_ascii_whitespace()
            && !b"({;|".contains(&bytes[i - 1])
    })
}

/// The line that holds byte `at`.
fn line_of(script: &str, at: usize) -> &str {
    let start = script[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = script[at..].find('\n').map_or(script.len(), |i| at + i);
    &script[start..end]
}

/// The last line before the one that holds byte `at` that is not blank.
fn previous_line(script: &str, at: usize) -> &str {
    let line_start = script[..at].rfind('\n').map_or(0, |i| i + 1);
    script[..line_start].lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// Whether a word of the script starts with digits and goes on with what no number holds
/// (`0$h`, `8888>8<`, `0@x`): one generic token to PowerShell, a number and more to the
/// oracle, which then reads what follows as a command of its own.
fn digits_then_more(script: &str) -> bool {
    const TAILS: [&str; 15] = ["", "l", "d", "n", "s", "y", "u", "ul", "us", "uy", "kb", "mb", "gb", "tb", "pb"];
    script.split(|c: char| c.is_whitespace() || ";{(|".contains(c)).any(|word| {
        let rest = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.').to_ascii_lowercase();
        let prefixed = rest.starts_with(['x', 'b', 'e'])
            && rest[1..].chars().all(|c| c.is_ascii_hexdigit() || c == '+' || c == '-');
        rest.len() < word.len() && !TAILS.contains(&rest.as_str()) && !prefixed
    })
}

/// Whether a label (`:name` where a statement starts) stands just before byte `at`.
fn after_label(script: &str, at: usize) -> bool {
    let head = before(script, at);
    let name_start = head.trim_end_matches(|c: char| c.is_alphanumeric() || c == '_').len();
    let Some(rest) = head[..name_start].strip_suffix(':') else { return false };
    name_start < head.len() && (rest.is_empty() || rest.ends_with(|c: char| c.is_whitespace() || ";{(|&".contains(c)))
}

/// The fault of the oracle that explains a disagreement found in `script`, if one does.
pub fn explained(script: &str, d: &Disagreement) -> Option<&'static OracleFault> {
    ORACLE_FAULTS.iter().find(|f| (f.explains)(script, d))
}

/// Whether a script is made of what scripts are made of: no control characters but tabs and
/// line breaks (`\r` only before `\n`). The oracle reads the others (a NUL, a lone `\r`, a
/// vertical tab) as blanks or breaks where PowerShell does not, and no script holds them.
fn plausible(script: &str) -> bool {
    let bytes = script.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| match b {
        b'\n' | b'\t' => true,
        b'\r' => bytes.get(i + 1) == Some(&b'\n'),
        b => b >= 0x20 && b != 0x7f,
    })
}

/// The fuzz property (target `grammar`, replayed by `cargo test` over its seeds): whatever the
/// input, this crate's parser returns and names commands within the text; and on any
/// [plausible](plausible) script both parsers read as whole, every command one finds and the
/// other does not is explained by a known fault of the oracle.
pub fn property(data: &[u8]) {
    let Ok(script) = std::str::from_utf8(data) else { return };
    for name in winrm_detect::cmdline::command_names(script).unwrap_or_default() {
        assert!(script.get(name.clone()).is_some(), "a name within the script at a character boundary: {name:?}");
    }
    if !plausible(script) {
        return;
    }
    if let Some(disagreements) = compare(script) {
        let new: Vec<_> = disagreements.iter().filter(|d| explained(script, d).is_none()).collect();
        assert!(new.is_empty(), "the parsers disagree on {script:?}: {new:?}");
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
