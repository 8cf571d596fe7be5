//! Command-line analysis: reads a PowerShell process's command line the way PowerShell
//! would, and finds every remote execution over WinRM it starts: `Invoke-Command` (or `icm`)
//! with a computer name, a connection URI or a session made by `New-PSSession` (`nsn`) in
//! the same command, however the names are abbreviated, aliased, escaped, splatted or
//! base64-encoded. It reports the targets, the evasions used and where each piece stands.
//!
//! What it cannot see in a command line, by construction: script files (`-File`, a bare
//! pwsh argument), standard input, commands typed into an open session; script-block logging
//! shows those, and [`analyse_script`] reads its text. Names built at run time
//! (`& ('Invoke'+'-Command')`, `iex $x`) stay out of reach of both.

mod analyser;
mod ast;
mod cmdlets;
mod host;
mod lexer;
mod parser;

pub use host::{Arg, split_args};

use analyser::{Analyser, Layer, is_powershell_host};

use crate::annotation::Evidence;
use crate::event::basename;

/// An evasion of the literal Splunk rule, as the annotation names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Technique {
    Alias,
    ParameterAlias,
    ParameterPrefix,
    Positional,
    Splat,
    Session,
    ConnectionUri,
    EncodedCommand,
    Backtick,
    UnicodeDash,
    Quoting,
    Indirection,
}

impl Technique {
    pub const fn as_str(self) -> &'static str {
        match self {
            Technique::Alias => "alias",
            Technique::ParameterAlias => "parameter-alias",
            Technique::ParameterPrefix => "parameter-prefix",
            Technique::Positional => "positional",
            Technique::Splat => "splat",
            Technique::Session => "session",
            Technique::ConnectionUri => "connection-uri",
            Technique::EncodedCommand => "encoded-command",
            Technique::Backtick => "backtick",
            Technique::UnicodeDash => "unicode-dash",
            Technique::Quoting => "quoting",
            Technique::Indirection => "indirection",
        }
    }
}

/// Bounds on the work one command line may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of script text examined per layer; the rest is not read.
    pub max_script_bytes: usize,
    /// Bytes of `-EncodedCommand` payload decoded.
    pub max_encoded_bytes: usize,
    /// Layers of PowerShell inside PowerShell that are followed: `-EncodedCommand` payloads
    /// and `powershell …` commands within script text.
    pub max_decode_depth: u32,
}

impl Limits {
    /// The configuration's limits for a command line.
    pub fn for_command_lines(limits: &crate::config::Limits) -> Limits {
        Limits {
            max_script_bytes: limits.max_command_line_bytes,
            max_encoded_bytes: limits.max_encoded_bytes,
            max_decode_depth: limits.max_decode_depth,
        }
    }

    /// The same with a script block's own size bound for the text itself.
    pub fn for_script_blocks(limits: &crate::config::Limits) -> Limits {
        Limits { max_script_bytes: limits.max_script_block_bytes, ..Limits::for_command_lines(limits) }
    }
}

/// The configuration's defaults: one set of numbers, written in `config`.
impl Default for Limits {
    fn default() -> Self {
        Limits::for_command_lines(&crate::config::Limits::default())
    }
}

/// One remote execution the command starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// The computers named, as written (variables as `$name`).
    pub targets: Vec<String>,
    pub techniques: Vec<Technique>,
    pub evidence: Vec<Evidence>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    /// `Invoke-Command` against another computer (or a session to one), the first
    /// [`Analysis::MAX_INVOCATIONS`].
    pub invocations: Vec<Invocation>,
    /// `Enter-PSSession` to another computer: the family's interactive-session rule.
    pub interactive_sessions: Vec<Invocation>,
    /// How many more of each were found and not kept.
    pub omitted: Omitted,
    /// What the host runs that cannot be looked into (`-File`, standard input).
    pub opaque: Vec<&'static str>,
    /// The script texts that are not a substring of the command line (decoded
    /// `-EncodedCommand` payloads, `-Command` arguments rebuilt from several argv items), so
    /// that an evidence's `layer` and `offset` can be looked up; `process` is the command line.
    pub layers: Vec<ScriptLayer>,
}

/// Remote calls found past [`Analysis::MAX_INVOCATIONS`]: counted, not kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Omitted {
    pub invocations: usize,
    pub interactive_sessions: usize,
}

impl Analysis {
    /// Remote calls of one kind an analysis keeps; a 408-byte input once gave 99, all
    /// carried into the annotation.
    pub const MAX_INVOCATIONS: usize = analyser::MAX_INVOCATIONS;
}

/// A script text the analyser derived from the command line, named as evidence names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptLayer {
    pub name: String,
    pub text: String,
}

/// Decodes an `-EncodedCommand` payload (base64 of UTF-16LE) of at most `max_bytes`.
pub fn decode_encoded(base64_text: &str, max_bytes: usize) -> Option<String> {
    host::decode_encoded(base64_text, max_bytes)
}

/// Analyses a PowerShell process's command line.
pub fn analyse(command_line: &str, limits: &Limits) -> Analysis {
    let line = truncate(command_line, limits.max_script_bytes);
    let mut a = Analyser::new(limits, line.len());
    a.host_line(line, &Layer { name: "process".into(), base: 0 }, 0, &[]);
    a.out
}

/// What a decoded `-EncodedCommand` payload's layer is named after the layer that held it.
pub(crate) const ENCODED_LAYER: &str = "encoded-command";

/// Whether `layer` is a payload decoded from the command line itself (`process/encoded-command`,
/// `process/encoded-command#2`), not one found within another layer.
pub fn is_command_line_payload(layer: &str) -> bool {
    layer
        .strip_prefix("process/")
        .and_then(|rest| rest.strip_prefix(ENCODED_LAYER))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('#'))
}

/// Analyses a command `cmd.exe` runs, starting at byte `start` of `line` (what `winrs` hands
/// the remote host): past any `cmd /c` or `/k` wrappers, the PowerShell host it starts, read
/// as [`analyse`] reads a PowerShell process's command line. Evidence in layer `process` is
/// at offsets of `line`. `None` when the command does not start PowerShell. The wrappers are
/// split with the C runtime's rules, which are `cmd`'s for everything but a quoted first
/// program name (`cmd /c "powershell -c …"` with the quotes kept is not followed).
pub fn analyse_shell_command(line: &str, start: usize, limits: &Limits) -> Option<Analysis> {
    let line = truncate(line, limits.max_script_bytes);
    let command = line.get(start..)?;
    let args = host::split_args(command);
    let mut program = 0;
    while let [shell, switch, ..] = &args[program..]
        && matches!(basename(&shell.text).to_ascii_lowercase().as_str(), "cmd" | "cmd.exe")
        && (switch.text.eq_ignore_ascii_case("/c") || switch.text.eq_ignore_ascii_case("/k"))
    {
        program += 2;
    }
    let host = args.get(program).filter(|a| is_powershell_host(&a.text))?;
    let at = start + host.start;
    let mut a = Analyser::new(limits, line.len() - at);
    a.host_line(&line[at..], &Layer { name: "process".into(), base: at }, 0, &[]);
    Some(a.out)
}

/// The script a PowerShell host's command line runs: `-Command`'s text, or `-EncodedCommand`'s
/// decoded; `None` when it runs none we can read (a file, standard input, only switches).
pub fn host_script(line: &str, limits: &Limits) -> Option<String> {
    let line = truncate(line, limits.max_script_bytes);
    let args = host::split_args(line);
    let exe = basename(args.first()?.text.trim_matches('"')).to_ascii_lowercase();
    let kind = if exe == "pwsh" || exe == "pwsh.exe" { host::Host::Pwsh } else { host::Host::WindowsPowerShell };
    match host::payload(line, &args, kind) {
        host::Payload::Command { text, .. } => Some(text),
        host::Payload::Encoded { base64, .. } => host::decode_encoded(&base64, limits.max_encoded_bytes),
        host::Payload::Opaque(_) | host::Payload::Nothing => None,
    }
}

/// The commands PowerShell would run in `script`, as this crate's parser reads it: where each
/// one's name is written (the invocation operator's operand, after `&` or `.`), in the order
/// they stand, strings' subexpressions included. An error, at the byte where it stands, when
/// PowerShell would refuse the script (a parse error: it runs none of it). What the differential test compares with
/// another parser; the analysis reads the same tree.
pub fn command_names(script: &str) -> Result<Vec<std::ops::Range<usize>>, usize> {
    let mut budget = analyser::reread_budget(script.len());
    let (tree, notes) = parser::parse_script(script, 0, analyser::MAX_GROUP_DEPTH, &mut budget);
    if let Some(at) = notes.refused_at {
        return Err(at);
    }
    let mut names = Vec::new();
    ast::each_command(&tree, &mut |c| {
        if let Some(ast::CommandElement::Argument(name)) = c.elements.first() {
            names.push(name.span.start..name.span.end);
        }
    });
    Ok(names)
}

/// Analyses PowerShell script text as PowerShell would run it (a script-block log's text:
/// no host command line around it). Evidence names the text `layer`.
pub fn analyse_script(text: &str, layer: &str, limits: &Limits) -> Analysis {
    let text = truncate(text, limits.max_script_bytes);
    let mut a = Analyser::new(limits, text.len());
    a.script(text, Layer { name: layer.into(), base: 0 }, 0, Vec::new());
    a.out
}

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
