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

mod cmdlets;
mod host;
mod lexer;

pub use host::{Arg, split_args};

use std::collections::BTreeMap;

use cmdlets::{Cmdlet, Parameter, Resolution, Via};
use lexer::{Group, Kind, Token};

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
    /// `Invoke-Command` against another computer (or a session to one).
    pub invocations: Vec<Invocation>,
    /// `Enter-PSSession` to another computer: the family's interactive-session rule.
    pub interactive_sessions: Vec<Invocation>,
    /// What the host runs that cannot be looked into (`-File`, standard input).
    pub opaque: Vec<&'static str>,
    /// The script texts that are not a substring of the command line (decoded
    /// `-EncodedCommand` payloads, `-Command` arguments rebuilt from several argv items), so
    /// that an evidence's `layer` and `offset` can be looked up; `process` is the command line.
    pub layers: Vec<ScriptLayer>,
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
const ENCODED_LAYER: &str = "encoded-command";

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

/// Analyses PowerShell script text as PowerShell would run it (a script-block log's text:
/// no host command line around it). Evidence names the text `layer`.
pub fn analyse_script(text: &str, layer: &str, limits: &Limits) -> Analysis {
    let text = truncate(text, limits.max_script_bytes);
    let mut a = Analyser::new(limits, text.len());
    a.script(text, Layer { name: layer.into(), base: 0 }, 0, Vec::new());
    a.out
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Where a piece of script text stands: the layer's name and the text's offset in it.
#[derive(Clone, Debug)]
struct Layer {
    name: String,
    base: usize,
}

struct Analyser {
    limits: Limits,
    out: Analysis,
    /// Bytes of script text read again: string subexpressions, strings run as scripts, and
    /// the command lines of `powershell …` inside script text (a part of a script already
    /// read, read once more per enclosing layer). At most `reread_budget`, so that layers
    /// nested in layers cost a few readings of the command line, not one per path through
    /// them.
    reread_bytes: usize,
    /// [`REREAD_BUDGET`] times the text's size, or times [`REREAD_FLOOR`] for a shorter text.
    reread_budget: usize,
    /// How many derived layers have each name so far, so that the next one is named in one
    /// lookup (`…/command#3`).
    layer_names: BTreeMap<String, usize>,
    /// How many groups deep the reading is, across every layer: with [`MAX_GROUP_DEPTH`]
    /// it bounds the recursion (and so the stack) however the layers nest.
    group_depth: usize,
    /// How many `powershell …` commands deep inside script text the reading is; bounded by
    /// `max_decode_depth` like the encoded layers.
    host_depth: u32,
}

#[derive(Debug)]
enum Node {
    Tok(usize),
    Group { kind: Group, open: usize, end: usize, children: Vec<Node> },
}

/// How many times a script's size may be read again in all (see `Analyser::reread_bytes`);
/// a text shorter than [`REREAD_FLOOR`] may be read again as often as one of that size.
/// The cmdline fuzz target found the need: without a budget on nested `powershell -c …`,
/// a 1.6 KB command line whose commands nest four deep, several to a level, made 111,865
/// layers (62 MB of text) and took 46 s; the cost grows as the branching to the fourth power.
const REREAD_BUDGET: usize = 4;
const REREAD_FLOOR: usize = 4 << 10;

/// Groups deeper than this, counted across every layer, are read as flat tokens: no real
/// command needs them, and the analyser's recursion (one level per group) is bounded by it.
/// That bound is what the Fluent Bit module's stack size is measured against.
const MAX_GROUP_DEPTH: usize = 64;

/// The tokens as a tree of groups at most `max_depth` deep (deeper groups stay flat).
fn build_tree(tokens: &[Token], text_len: usize, max_depth: usize) -> Vec<Node> {
    let mut stack: Vec<(Group, usize, Vec<Node>)> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match t.kind {
            Kind::Open(g) if stack.len() < max_depth => stack.push((g, i, Vec::new())),
            Kind::Close if !stack.is_empty() => {
                let (kind, open, children) = stack.pop().expect("not empty");
                let node = Node::Group { kind, open, end: t.end, children };
                match stack.last_mut() {
                    Some(parent) => parent.2.push(node),
                    None => top.push(node),
                }
            }
            _ => match stack.last_mut() {
                Some(parent) => parent.2.push(Node::Tok(i)),
                None => top.push(Node::Tok(i)),
            },
        }
    }
    // Unclosed groups run to the end of the text.
    while let Some((kind, open, children)) = stack.pop() {
        let node = Node::Group { kind, open, end: text_len, children };
        match stack.last_mut() {
            Some(parent) => parent.2.push(node),
            None => top.push(node),
        }
    }
    top
}

/// One script's text and tokens, and what its variables hold so far.
struct Script<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    layer: Layer,
    depth: u32,
    inherited: Vec<Technique>,
    /// `$s = New-PSSession …`: the session's targets. Ordered maps, not hash maps: the keys
    /// are the attacker's variable names, and a hash map would want a random seed, which the
    /// Fluent Bit module (no imports, no randomness) cannot have.
    sessions: BTreeMap<String, Vec<String>>,
    /// `$p = @{…}`: the hashtable's entries, for splatting.
    hashes: BTreeMap<String, Vec<HashEntry>>,
    /// `$c = 'text'`: the strings variables hold, for `& $c` and `iex $c`. Like the aliases,
    /// known to this script's own statements only (a string's subexpressions start without
    /// them, so that thousands of subexpressions do not copy them thousands of times).
    strings: BTreeMap<String, String>,
    /// `Set-Alias name Invoke-Command`: aliases the script defines for the cmdlets.
    aliases: BTreeMap<String, Cmdlet>,
}

/// `Key = value[, value…]` in a hashtable literal, values as written.
#[derive(Clone)]
struct HashEntry {
    key_tok: usize,
    values: Vec<String>,
}

/// A parameter's values: nodes of this command, or texts from a splatted hashtable.
enum Values<'n> {
    Nodes(Vec<&'n Node>),
    Texts(Vec<String>),
}

/// A parameter bound by name, with its values.
struct Named<'n> {
    param: &'static Parameter,
    via: Via,
    token: usize,
    values: Values<'n>,
    /// Reached through this splat token's hashtable.
    splat: Option<usize>,
}

impl Analyser {
    #[inline(never)]
    fn new(limits: &Limits, text_len: usize) -> Analyser {
        Analyser {
            limits: *limits,
            out: Analysis::default(),
            reread_bytes: 0,
            reread_budget: REREAD_BUDGET * text_len.max(REREAD_FLOOR),
            layer_names: BTreeMap::new(),
            group_depth: 0,
            host_depth: 0,
        }
    }

    fn host_line(&mut self, line: &str, layer: &Layer, depth: u32, inherited: &[Technique]) {
        let args = host::split_args(line);
        let Some(program) = args.first() else { return };
        let exe = basename(program.text.trim_matches('"')).to_ascii_lowercase();
        let kind = if exe == "pwsh" || exe == "pwsh.exe" { host::Host::Pwsh } else { host::Host::WindowsPowerShell };
        match host::payload(line, &args, kind) {
            host::Payload::Command { text, verbatim_at } => {
                let layer = match verbatim_at {
                    Some(at) => Layer { name: layer.name.clone(), base: layer.base + at },
                    None => self.derived_layer(format!("{}/command", layer.name), &text),
                };
                self.script(&text, layer, depth, inherited.to_vec());
            }
            host::Payload::Encoded { base64, unicode_dash, .. } => {
                if depth >= self.limits.max_decode_depth {
                    self.opaque("encoded command nested deeper than the decoding limit");
                    return;
                }
                match host::decode_encoded(&base64, self.limits.max_encoded_bytes) {
                    Some(decoded) => {
                        let mut techniques = inherited.to_vec();
                        techniques.push(Technique::EncodedCommand);
                        if unicode_dash {
                            techniques.push(Technique::UnicodeDash);
                        }
                        let decoded = truncate(&decoded, self.limits.max_script_bytes).to_string();
                        let layer = self.derived_layer(format!("{}/{ENCODED_LAYER}", layer.name), &decoded);
                        self.script(&decoded, layer, depth + 1, techniques);
                    }
                    None => {
                        self.opaque("an -EncodedCommand that is not base64 of UTF-16LE text, or over the size limit")
                    }
                }
            }
            host::Payload::Opaque(what) => self.opaque(what),
            host::Payload::Nothing => {}
        }
    }

    /// Records a derived script text under a name no other layer has (two encoded commands
    /// in one script become `…/encoded-command` and `…/encoded-command#2`; a base name ends
    /// in its kind, never in `#n`, so the counted names are all distinct).
    #[inline(never)]
    fn derived_layer(&mut self, name: String, text: &str) -> Layer {
        let uses = self.layer_names.entry(name.clone()).or_insert(0);
        *uses += 1;
        let name = match *uses {
            1 => name,
            n => format!("{name}#{n}"),
        };
        self.out.layers.push(ScriptLayer { name: name.clone(), text: text.to_string() });
        Layer { name, base: 0 }
    }

    /// Charges `len` bytes of text read again against the budget: false, with a note
    /// of what was left unread, when they would go past it.
    #[inline(never)]
    fn reread(&mut self, len: usize, unread: &'static str) -> bool {
        if self.reread_bytes + len > self.reread_budget {
            self.opaque(unread);
            return false;
        }
        self.reread_bytes += len;
        true
    }

    /// Notes what the analysis could not look into, once each. This and the helpers above
    /// stay out of line, as [`Analyser::script_text`] does: inlined, they grow the frames of
    /// the recursion, and an ordinary event needed 11 KiB of Fluent Bit's interpreter stack
    /// instead of 8 (its default, which `a_trap_is_not_forever` relies on).
    #[inline(never)]
    fn opaque(&mut self, what: &'static str) {
        if !self.out.opaque.contains(&what) {
            self.out.opaque.push(what);
        }
    }

    fn script(&mut self, text: &str, layer: Layer, depth: u32, inherited: Vec<Technique>) {
        let tokens = lexer::tokenize(text);
        let tree = build_tree(&tokens, text.len(), MAX_GROUP_DEPTH.saturating_sub(self.group_depth));
        let mut script = Script {
            text,
            tokens,
            layer,
            depth,
            inherited,
            sessions: BTreeMap::new(),
            hashes: BTreeMap::new(),
            strings: BTreeMap::new(),
            aliases: BTreeMap::new(),
        };
        self.block(&mut script, &tree);
    }

    /// The commands inside a group, one level deeper.
    fn group(&mut self, s: &mut Script<'_>, children: &[Node]) -> Option<Vec<String>> {
        self.group_depth += 1;
        let made = self.block(s, children);
        self.group_depth -= 1;
        made
    }

    /// Statements and pipeline elements of a block, each read as a command.
    fn block(&mut self, s: &mut Script<'_>, nodes: &[Node]) -> Option<Vec<String>> {
        let mut last_session = None;
        let mut start = 0;
        // The element before this one, when a `|` passes its output on.
        let mut piped_from: Option<&[Node]> = None;
        for i in 0..=nodes.len() {
            let boundary = match nodes.get(i) {
                None => true,
                Some(Node::Tok(t)) => matches!(s.tokens[*t].kind, Kind::Separator | Kind::Pipe),
                Some(_) => false,
            };
            if boundary {
                let element = &nodes[start..i];
                if !element.is_empty() {
                    if let Some(text) = piped_from.and_then(|from| piped_into_invoke_expression(s, from, element)) {
                        self.script_text(s, text, "invoke-expression");
                    }
                    last_session = self.element(s, element);
                }
                let pipe =
                    matches!(nodes.get(i), Some(Node::Tok(t)) if &s.text[s.tokens[*t].start..s.tokens[*t].end] == "|");
                piped_from = pipe.then_some(element);
                start = i + 1;
            }
        }
        last_session
    }

    /// One pipeline element: an assignment, a command, or an expression. Returns the
    /// targets of the WinRM session it makes, if it is a `New-PSSession`.
    fn element(&mut self, s: &mut Script<'_>, nodes: &[Node]) -> Option<Vec<String>> {
        let nodes = self.param_block(s, nodes);
        // `$a = $b = value`: every variable of the chain gets the value. A loop, not
        // recursion: the chain is as long as the input makes it.
        let mut assigned = Vec::new();
        let mut nodes = nodes;
        while let Some((variable, rhs)) = assignment(s, nodes) {
            assigned.push(variable);
            nodes = rhs;
        }
        if let [Node::Group { kind: Group::Hash, children, .. }] = nodes
            && !assigned.is_empty()
        {
            let entries = hash_entries(s, children);
            for name in &assigned {
                s.hashes.insert(name.clone(), entries.clone());
            }
        }
        let constant = match nodes {
            [Node::Tok(t)] if s.tokens[*t].kind == Kind::Str => Some(s.tokens[*t].value.clone()),
            _ => None,
        };
        for name in &assigned {
            match &constant {
                Some(text) => s.strings.insert(name.clone(), text.clone()),
                None => s.strings.remove(name),
            };
        }
        let made = self.command(s, nodes);
        if let Some(targets) = &made {
            for name in assigned {
                s.sessions.insert(name, targets.clone());
            }
        }
        made
    }

    /// A script block's `param(…)` at the start of a statement, with its attributes
    /// (`[CmdletBinding()] param(…)`): PowerShell needs no separator after it, so what follows
    /// is the block's first statement. Its default values run when no argument is given, so
    /// they are read as commands too.
    fn param_block<'n>(&mut self, s: &mut Script<'_>, nodes: &'n [Node]) -> &'n [Node] {
        let mut rest = nodes;
        while let [Node::Group { kind: Group::Bracket, .. }, tail @ ..] = rest {
            rest = tail;
        }
        match rest {
            [Node::Tok(word), Node::Group { kind: Group::Paren, children, .. }, tail @ ..]
                if bare_word_is(s, *word, &["param"]) =>
            {
                self.group(s, children);
                tail
            }
            _ => nodes,
        }
    }

    /// The subexpressions `$( … )` of an expandable string (double-quoted, or a `@" … "@`
    /// here-string), each read as the commands it runs when the string is expanded. A
    /// backtick-escaped `` `$( `` is text, and so is everything around the subexpressions.
    fn expandable(&mut self, s: &mut Script<'_>, tok: usize) {
        let (start, end) = (s.tokens[tok].start, s.tokens[tok].end);
        let raw = &s.text[start..end];
        let opens_with_double_quote =
            raw.strip_prefix('@').unwrap_or(raw).chars().next().is_some_and(lexer::is_double_quote);
        if !opens_with_double_quote || !raw.contains("$(") || self.group_depth >= MAX_GROUP_DEPTH {
            return;
        }
        // Each subexpression ends where its parentheses balance, counted as the lexer counted
        // them when it found the string's end; the scan goes on after it, so every byte of
        // the string is looked at once here.
        let bytes = raw.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'`' => i += 2,
                b'$' if bytes.get(i + 1) == Some(&b'(') => {
                    let mut depth = 0usize;
                    let mut j = i + 1;
                    while j < bytes.len() {
                        match bytes[j] {
                            b'`' => j += 1,
                            b'(' => depth += 1,
                            b')' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        j += 1;
                    }
                    let to = (j + 1).min(bytes.len());
                    self.subexpression(s, start + i, start + to);
                    i = to;
                }
                _ => i += 1,
            }
        }
    }

    /// `$( … )` at `from..to` of the script text, read as a script of its own (with the
    /// sessions and hashtables known so far), its evidence in the enclosing layer.
    fn subexpression(&mut self, s: &mut Script<'_>, from: usize, to: usize) {
        let Some(text) = s.text.get(from..to) else { return };
        if !self.reread(text.len(), "subexpressions in strings nested past the reading budget") {
            return;
        }
        let tokens = lexer::tokenize(text);
        let tree = build_tree(&tokens, text.len(), MAX_GROUP_DEPTH.saturating_sub(self.group_depth));
        let mut inner = Script {
            text,
            tokens,
            layer: Layer { name: s.layer.name.clone(), base: s.layer.base + from },
            depth: s.depth,
            inherited: s.inherited.clone(),
            sessions: s.sessions.clone(),
            hashes: s.hashes.clone(),
            strings: BTreeMap::new(),
            aliases: BTreeMap::new(),
        };
        self.group_depth += 1;
        self.block(&mut inner, &tree);
        self.group_depth -= 1;
    }

    /// A command or an expression (the right-hand side of an assignment).
    fn command(&mut self, s: &mut Script<'_>, nodes: &[Node]) -> Option<Vec<String>> {
        // `return`, `throw` and `exit` take a pipeline of their own (a loop: `return return …`
        // is as long as the input makes it).
        let mut nodes = nodes;
        while let [Node::Tok(k), pipeline @ ..] = nodes
            && bare_word_is(s, *k, &["return", "throw", "exit"])
        {
            nodes = pipeline;
        }
        // Skip the call operator: `& 'Invoke-Command' …`, `. icm …`.
        let (called, rest) = match nodes {
            [Node::Tok(c), rest @ ..] if s.tokens[*c].kind == Kind::Call => (true, rest),
            _ => (false, nodes),
        };
        let name = command_name(s, called, rest.first());
        // `(New-PSSession …)`, `$(…)`: the value of the group's last command.
        if let [Node::Group { kind: Group::Paren | Group::Subexpr, children, .. }] = rest
            && name.is_none()
        {
            return self.group(s, children);
        }
        let made = match name {
            Some((name_tok, name, indirect)) => {
                let known =
                    Cmdlet::from_name(&name).or_else(|| s.aliases.get(&name.to_ascii_lowercase()).map(|c| (*c, true)));
                if let Some((cmdlet, alias)) = known {
                    let quoted = s.tokens[name_tok].quoted || (called && s.tokens[name_tok].kind == Kind::Str);
                    let how = Naming { alias, quoted, indirect };
                    self.cmdlet(s, cmdlet, how, name_tok, &rest[1..])
                } else {
                    if is_powershell_host(&name) {
                        self.nested_host(s, rest);
                    } else if is_invoke_expression(&name) {
                        self.invoke_expression(s, &rest[1..]);
                    } else if is_set_alias(&name) {
                        define_alias(s, &rest[1..]);
                    }
                    None
                }
            }
            None => None,
        };
        // Commands nested in arguments: script blocks, subexpressions, hashtable values, and
        // the subexpressions of expandable strings.
        for (i, node) in rest.iter().enumerate() {
            match node {
                Node::Group { kind: Group::Hash, children, .. } => self.hash_values(s, children),
                Node::Group { children, .. } => {
                    self.group(s, children);
                }
                Node::Tok(t) if s.tokens[*t].kind == Kind::Str => self.expandable(s, *t),
                Node::Tok(_) => {}
            }
            if let Some((text, what)) = script_from_string(s, &rest[i..]) {
                self.script_text(s, text, what);
            }
        }
        made
    }

    /// A hashtable literal's contents: each value is a statement of its own (`@{ a = icm … }`
    /// runs the pipeline without parentheses), and anything else is read as a block.
    #[inline(never)]
    fn hash_values(&mut self, s: &mut Script<'_>, children: &[Node]) {
        self.group_depth += 1;
        for (entry, key_value) in hash_statements(s, children) {
            match key_value {
                Some((_, value)) => {
                    self.element(s, value);
                }
                None => {
                    self.block(s, entry);
                }
            }
        }
        self.group_depth -= 1;
    }

    /// `Invoke-Expression` (`iex`) of a string written in the script: the string is run as a
    /// script. A value known only at run time (`iex $x`) stays out of reach.
    #[inline(never)]
    fn invoke_expression(&mut self, s: &mut Script<'_>, args: &[Node]) {
        let mut args = args;
        // Its one parameter, `-Command`, by any prefix.
        if let [Node::Tok(p), tail @ ..] = args
            && let Kind::Param { .. } = s.tokens[*p].kind
            && !s.tokens[*p].value.is_empty()
            && "command".starts_with(&s.tokens[*p].value.to_ascii_lowercase())
        {
            args = tail;
        }
        if let [Node::Tok(t), ..] = args
            && let Some(text) = string_value(s, *t)
        {
            self.script_text(s, text, "invoke-expression");
        }
    }

    /// Script text that PowerShell builds from a string of this script and runs
    /// (`Invoke-Expression`, `[scriptblock]::Create`), read as a layer of its own. These
    /// layers count against the same budget as string subexpressions and nest no deeper than
    /// the decoding limit.
    ///
    /// This and the other helpers of `command` that run rarely are kept out of line: inlined,
    /// they would grow the frame of every `command` on the recursion, and Fluent Bit's
    /// interpreter runs the module on a stack the operator sets (`wasm_stack_size`).
    #[inline(never)]
    fn script_text(&mut self, s: &mut Script<'_>, text: String, what: &str) {
        if self.host_depth >= self.limits.max_decode_depth {
            self.opaque("PowerShell nested deeper than the decoding limit");
            return;
        }
        if !self.reread(text.len(), "strings run as scripts past the reading budget") {
            return;
        }
        let layer = self.derived_layer(format!("{}/{what}", s.layer.name), &text);
        let inherited = s.inherited.clone();
        self.host_depth += 1;
        self.script(&text, layer, s.depth, inherited);
        self.host_depth -= 1;
    }

    /// `powershell -c …` inside a script: the child host's command line, built from the
    /// arguments as PowerShell passes them to a native program (see [`native_command_lines`]),
    /// read as any host command line. An argument whose value is only known at run time (a
    /// variable, an expression) leaves the raw text, read with the Windows rules.
    #[inline(never)]
    fn nested_host(&mut self, s: &mut Script<'_>, nodes: &[Node]) {
        let (Some(first), Some(last)) = (nodes.first(), nodes.last()) else {
            return;
        };
        if self.host_depth >= self.limits.max_decode_depth {
            self.opaque("PowerShell nested deeper than the decoding limit");
            return;
        }
        let (start, end) = (node_start(s, first), node_end(s, last));
        let written = s.text[start..end].to_string();
        // Where PowerShell hands the child its arguments as written (no quotes to remove), the
        // evidence stays in the script's own text.
        let lines = native_command_lines(s, nodes).filter(|lines| lines != std::slice::from_ref(&written));
        let read = lines.as_ref().map_or(written.len(), |lines| lines.iter().map(String::len).sum());
        if !self.reread(read, "PowerShell nested in PowerShell past the reading budget") {
            return;
        }
        let inherited = s.inherited.clone();
        self.host_depth += 1;
        match lines {
            Some(lines) => {
                for line in lines {
                    let layer = self.derived_layer(format!("{}/child-command-line", s.layer.name), &line);
                    self.host_line(&line, &layer, s.depth, &inherited);
                }
            }
            None => {
                let layer = Layer { name: s.layer.name.clone(), base: s.layer.base + start };
                self.host_line(&written, &layer, s.depth, &inherited);
            }
        }
        self.host_depth -= 1;
    }

    fn cmdlet(
        &mut self,
        s: &mut Script<'_>,
        cmdlet: Cmdlet,
        how: Naming,
        name_tok: usize,
        args: &[Node],
    ) -> Option<Vec<String>> {
        let (named, positional) = bind(s, cmdlet, args)?;
        let is = |p: &Named<'_>, n: &str| p.param.name == n;
        // Not WinRM: Hyper-V direct, containers, SSH.
        const OTHER_TRANSPORTS: [&str; 6] =
            ["VMName", "VMId", "ContainerId", "HostName", "SSHConnection", "SSHTransport"];
        // Enter-PSSession into a session already open, by a number or name we cannot follow.
        const OPEN_SESSION: [&str; 3] = ["Id", "InstanceId", "Name"];
        let elsewhere = |p: &Named<'_>| {
            OTHER_TRANSPORTS.contains(&p.param.name)
                || (cmdlet == Cmdlet::EnterPSSession && OPEN_SESSION.contains(&p.param.name))
        };
        if named.iter().any(elsewhere) {
            return None;
        }
        let mut techniques = s.inherited.clone();
        if how.alias {
            techniques.push(Technique::Alias);
        }
        if s.tokens[name_tok].backtick {
            techniques.push(Technique::Backtick);
        }
        if how.quoted {
            techniques.push(Technique::Quoting);
        }
        if how.indirect {
            techniques.push(Technique::Indirection);
        }
        let mut evidence = vec![self.evidence(s, "command", name_tok)];
        let targets;
        let target_param = named.iter().find(|p| is(p, "ComputerName") || is(p, "ConnectionUri") || is(p, "Session"));
        if let Some(p) = target_param {
            match p.via {
                Via::Alias => techniques.push(Technique::ParameterAlias),
                Via::Prefix => techniques.push(Technique::ParameterPrefix),
                Via::Name => {}
            }
            let tok = &s.tokens[p.token];
            if tok.backtick {
                techniques.push(Technique::Backtick);
            }
            if tok.unicode_dash {
                techniques.push(Technique::UnicodeDash);
            }
            if let Some(splat) = p.splat {
                techniques.push(Technique::Splat);
                evidence.push(self.evidence(s, "splat", splat));
            }
            evidence.push(self.evidence(s, if p.splat.is_some() { "key" } else { "parameter" }, p.token));
            let texts: Vec<String> = match &p.values {
                Values::Nodes(nodes) => nodes.iter().map(|v| value_text(s, v)).collect(),
                Values::Texts(texts) => texts.clone(),
            };
            if is(p, "ConnectionUri") {
                techniques.push(Technique::ConnectionUri);
                targets = texts.iter().map(|t| uri_host(t)).collect();
            } else if is(p, "Session") {
                techniques.push(Technique::Session);
                targets = match &p.values {
                    Values::Nodes(nodes) => self.session_targets(s, nodes)?,
                    Values::Texts(texts) => texts
                        .iter()
                        .map(|t| s.sessions.get(&t.strip_prefix('$')?.to_ascii_lowercase()).cloned())
                        .collect::<Option<Vec<_>>>()?
                        .concat(),
                };
            } else {
                targets = texts;
            }
        } else {
            let scripted = named.iter().any(|p| is(p, "ScriptBlock") || is(p, "FilePath"));
            let first = positional.first().map(|list| list[0]);
            let first_is_block = matches!(first, Some(Node::Group { kind: Group::Block, .. }));
            let positional_target = match cmdlet {
                Cmdlet::InvokeCommand => (scripted || positional.len() >= 2) && !first_is_block,
                Cmdlet::NewPSSession | Cmdlet::EnterPSSession => !first_is_block,
            };
            match first {
                Some(node) if positional_target => {
                    techniques.push(Technique::Positional);
                    evidence.push(self.evidence_node(s, "target", node));
                    let values = &positional[0];
                    let known_session = match node {
                        Node::Tok(t) if s.tokens[*t].kind == Kind::Var => {
                            s.sessions.get(&s.tokens[*t].value.to_ascii_lowercase()).cloned()
                        }
                        _ => None,
                    };
                    targets = match known_session {
                        Some(t) => {
                            techniques.push(Technique::Session);
                            t
                        }
                        None => values.iter().map(|v| value_text(s, v)).collect(),
                    };
                }
                // New-PSSession with no computer opens a WinRM session to localhost.
                None if cmdlet == Cmdlet::NewPSSession => targets = vec!["localhost".into()],
                _ => return None,
            }
        }
        if targets.is_empty() {
            return None;
        }
        if cmdlet == Cmdlet::NewPSSession {
            return Some(targets);
        }
        techniques.sort();
        techniques.dedup();
        let found = Invocation { targets, techniques, evidence };
        match cmdlet {
            Cmdlet::EnterPSSession => self.out.interactive_sessions.push(found),
            _ => self.out.invocations.push(found),
        }
        None
    }

    /// The targets of `-Session $s` or `-Session (New-PSSession …)` made in this command.
    fn session_targets(&mut self, s: &mut Script<'_>, values: &[&Node]) -> Option<Vec<String>> {
        let mut all = Vec::new();
        for v in values {
            match v {
                Node::Tok(t) if s.tokens[*t].kind == Kind::Var => {
                    all.extend(s.sessions.get(&s.tokens[*t].value.to_ascii_lowercase())?.iter().cloned());
                }
                Node::Group { kind: Group::Paren | Group::Subexpr, children, .. } => {
                    all.extend(self.group(s, children)?);
                }
                _ => return None,
            }
        }
        (!all.is_empty()).then_some(all)
    }

    fn evidence(&self, s: &Script<'_>, kind: &str, tok: usize) -> Evidence {
        self.evidence_node(s, kind, &Node::Tok(tok))
    }

    fn evidence_node(&self, s: &Script<'_>, kind: &str, node: &Node) -> Evidence {
        let (start, end) = (node_start(s, node), node_end(s, node));
        Evidence {
            kind: kind.into(),
            text: s.text[start..end].to_string(),
            layer: s.layer.name.clone(),
            offset: u32::try_from(s.layer.base + start).unwrap_or(u32::MAX),
        }
    }
}

/// Whether token `tok` is an unquoted word spelling one of `words` (in any case): a keyword,
/// not a string that looks like one.
fn bare_word_is(s: &Script<'_>, tok: usize, words: &[&str]) -> bool {
    let t = &s.tokens[tok];
    t.kind == Kind::Word && !t.quoted && words.iter().any(|w| t.value.eq_ignore_ascii_case(w))
}

/// `'…' | iex`: the string a pipeline hands to `Invoke-Expression` with no argument of its own.
#[inline(never)]
fn piped_into_invoke_expression(s: &Script<'_>, from: &[Node], element: &[Node]) -> Option<String> {
    let ([Node::Tok(text)], [Node::Tok(name)]) = (from, element) else { return None };
    let name = &s.tokens[*name];
    if name.kind != Kind::Word || !is_invoke_expression(&name.value) {
        return None;
    }
    string_value(s, *text).filter(|_| s.tokens[*text].kind != Kind::Word)
}

/// What a token holds as a string written in the script: a word or a string's value, or the
/// string a variable was given (`$c = '…'`).
fn string_value(s: &Script<'_>, tok: usize) -> Option<String> {
    let t = &s.tokens[tok];
    match t.kind {
        Kind::Str | Kind::Word => Some(t.value.clone()),
        Kind::Var => s.strings.get(&t.value.to_ascii_lowercase()).cloned(),
        _ => None,
    }
}

/// How a command's name was written, for the techniques it reports.
#[derive(Clone, Copy)]
struct Naming {
    alias: bool,
    quoted: bool,
    /// Through a variable, an alias the script defined, or `Get-Command`.
    indirect: bool,
}

/// The name a command runs: a word or a string; with the call operator also a variable that
/// holds a string (`& $c`) or `Get-Command` of a written name (`& (gcm icm)`). The token that
/// spells it, the name, and whether it was reached indirectly.
fn command_name(s: &Script<'_>, called: bool, first: Option<&Node>) -> Option<(usize, String, bool)> {
    match first? {
        Node::Tok(n) if matches!(s.tokens[*n].kind, Kind::Word | Kind::Str) => {
            Some((*n, s.tokens[*n].value.clone(), false))
        }
        Node::Tok(n) if called && s.tokens[*n].kind == Kind::Var => Some((*n, string_value(s, *n)?, true)),
        Node::Group { kind: Group::Paren, children, .. } if called => match children.as_slice() {
            [Node::Tok(get), Node::Tok(n)]
                if s.tokens[*get].kind == Kind::Word
                    && ["gcm", "get-command"].iter().any(|g| s.tokens[*get].value.eq_ignore_ascii_case(g))
                    && matches!(s.tokens[*n].kind, Kind::Word | Kind::Str) =>
            {
                Some((*n, s.tokens[*n].value.clone(), true))
            }
            _ => None,
        },
        _ => None,
    }
}

fn is_set_alias(name: &str) -> bool {
    matches!(
        cmdlets::unqualified(name, "microsoft.powershell.utility").as_str(),
        "set-alias" | "new-alias" | "sal" | "nal"
    )
}

/// `Set-Alias`/`New-Alias` (`sal`, `nal`) of a name to one of the cmdlets, by position or by
/// `-Name` and `-Value` (any prefix PowerShell accepts); an alias to anything else forgets an
/// earlier one of the same name.
#[inline(never)]
fn define_alias(s: &mut Script<'_>, args: &[Node]) {
    let (mut name, mut value) = (None, None);
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let Node::Tok(t) = &args[i] else {
            i += 1;
            continue;
        };
        let tok = &s.tokens[*t];
        if let Kind::Param { .. } = tok.kind {
            let p = tok.value.to_ascii_lowercase();
            let slot = if !p.is_empty() && "name".starts_with(&p) {
                Some(&mut name)
            } else if p.len() >= 2 && "value".starts_with(&p) {
                Some(&mut value)
            } else {
                None
            };
            match (slot, args.get(i + 1)) {
                (Some(slot), Some(Node::Tok(v))) => {
                    *slot = string_value(s, *v);
                    i += 2;
                }
                // Other parameters (`-Scope Global`, `-Description …`) and switches.
                _ => i += if matches!(p.as_str(), "scope" | "description" | "option") { 2 } else { 1 },
            }
            continue;
        }
        if let Some(v) = string_value(s, *t) {
            positional.push(v);
        }
        i += 1;
    }
    let mut positional = positional.into_iter();
    let name = name.or_else(|| positional.next());
    let value = value.or_else(|| positional.next());
    let Some(name) = name else { return };
    let name = name.to_ascii_lowercase();
    let target = value
        .as_deref()
        .and_then(Cmdlet::from_name)
        .map(|(c, _)| c)
        .or_else(|| value.as_deref().and_then(|v| s.aliases.get(&v.to_ascii_lowercase()).copied()));
    match target {
        Some(cmdlet) => s.aliases.insert(name, cmdlet),
        None => s.aliases.remove(&name),
    };
}

fn is_invoke_expression(name: &str) -> bool {
    matches!(cmdlets::unqualified(name, "microsoft.powershell.utility").as_str(), "iex" | "invoke-expression")
}

/// A method that makes a script of a string and the string written in its call, at the start
/// of `nodes`: `[scriptblock]::Create('…')`, `$ExecutionContext.InvokeCommand.InvokeScript('…')`
/// and `.NewScriptBlock('…')`, `[powershell]::Create().AddScript('…')`. Returns the string
/// and the name of the layer it becomes.
#[inline(never)]
fn script_from_string(s: &Script<'_>, nodes: &[Node]) -> Option<(String, &'static str)> {
    let (method, args) = match nodes {
        [
            Node::Group { kind: Group::Bracket, children, .. },
            Node::Tok(m),
            Node::Group { kind: Group::Paren, children: args, .. },
            ..,
        ] if s.tokens[*m].value.eq_ignore_ascii_case("::create") => {
            let [Node::Tok(ty)] = children.as_slice() else { return None };
            let ty = s.tokens[*ty].value.to_ascii_lowercase();
            if ty.strip_prefix("system.management.automation.").unwrap_or(&ty) != "scriptblock" {
                return None;
            }
            ("scriptblock-create", args)
        }
        [Node::Tok(m), Node::Group { kind: Group::Paren, children: args, .. }, ..]
            if s.tokens[*m].kind == Kind::Word =>
        {
            let name = s.tokens[*m].value.as_bytes();
            let method = [
                (".invokescript", "invoke-script"),
                (".newscriptblock", "new-script-block"),
                (".addscript", "add-script"),
            ]
            .into_iter()
            .find(|(suffix, _)| {
                name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
            })?;
            (method.1, args)
        }
        _ => return None,
    };
    match args.first() {
        Some(Node::Tok(t)) if s.tokens[*t].kind == Kind::Str => Some((s.tokens[*t].value.clone(), method)),
        _ => None,
    }
}

fn is_powershell_host(name: &str) -> bool {
    let base = basename(name).to_ascii_lowercase();
    matches!(base.as_str(), "powershell" | "powershell.exe" | "pwsh" | "pwsh.exe")
}

/// `$a = rest`, and every other form of assignment PowerShell runs its right-hand side for:
/// the compound operators (`+=`, `-=`, `*=`, `/=`, `%=`, `??=`) and a target with a type or
/// attributes (`[string[]]$a = `, `[ValidateNotNull()][int]$a = `). The variable (lower-cased)
/// and the right-hand side, or `None` when `nodes` is not an assignment.
fn assignment<'n>(s: &Script<'_>, nodes: &'n [Node]) -> Option<(String, &'n [Node])> {
    const COMPOUND: [&str; 6] = ["+", "-", "*", "/", "%", "??"];
    let mut rest = nodes;
    while let [Node::Group { kind: Group::Bracket, .. }, tail @ ..] = rest {
        rest = tail;
    }
    let [Node::Tok(v), tail @ ..] = rest else { return None };
    if s.tokens[*v].kind != Kind::Var {
        return None;
    }
    let tail = match tail {
        [Node::Tok(op), Node::Tok(eq), ..]
            if s.tokens[*op].kind == Kind::Word
                && COMPOUND.contains(&s.tokens[*op].value.as_str())
                && s.tokens[*op].end == s.tokens[*eq].start =>
        {
            &tail[1..]
        }
        _ => tail,
    };
    match tail {
        [Node::Tok(eq), rhs @ ..] if s.tokens[*eq].kind == Kind::Assign => {
            Some((s.tokens[*v].value.to_ascii_lowercase(), rhs))
        }
        _ => None,
    }
}

/// The command line PowerShell gives a native program for the arguments `nodes` (the
/// program first): each argument's value as PowerShell's parser leaves it (quotes removed,
/// backtick escapes resolved; a script block as written), quoted again for the program's
/// `argv`. Windows PowerShell 5.1 quotes a value that holds a blank and escapes nothing
/// (`$PSNativeCommandArgumentPassing` `Legacy`); PowerShell 7.3 and later escape embedded
/// quotes as `CommandLineToArgvW` expects (`Standard`, and `Windows` for powershell.exe). Both
/// lines are returned when they differ, since the parent's version is not in the event.
/// `None` when an argument's value is only known at run time.
fn native_command_lines(s: &Script<'_>, nodes: &[Node]) -> Option<Vec<String>> {
    // Each value, and whether it goes on the line as written (the text after `--%`).
    let mut values = Vec::new();
    for node in nodes {
        let value = match node {
            Node::Tok(t) => {
                let tok = &s.tokens[*t];
                match tok.kind {
                    Kind::Word | Kind::Str => (tok.value.clone(), false),
                    Kind::Verbatim => (tok.value.clone(), true),
                    Kind::Param { .. } => (s.text[tok.start..tok.end].to_string(), false),
                    _ => return None,
                }
            }
            Node::Group { kind: Group::Block, .. } => {
                (s.text[node_start(s, node)..node_end(s, node)].to_string(), false)
            }
            Node::Group { .. } => return None,
        };
        values.push(value);
    }
    let legacy = |v: &String| if v.is_empty() || v.contains([' ', '\t']) { format!("\"{v}\"") } else { v.clone() };
    // CommandLineToArgvW's rules backwards: a quote gets a backslash, and so does each
    // backslash before a quote or before the closing quote.
    let standard = |v: &String| {
        if !v.is_empty() && !v.contains([' ', '\t', '"']) {
            return v.clone();
        }
        let mut out = String::from("\"");
        let mut backslashes = 0;
        for c in v.chars() {
            match c {
                '\\' => backslashes += 1,
                '"' => {
                    out.extend(std::iter::repeat_n('\\', backslashes + 1));
                    backslashes = 0;
                }
                _ => backslashes = 0,
            }
            out.push(c);
        }
        out.extend(std::iter::repeat_n('\\', backslashes));
        out.push('"');
        out
    };
    let join = |quote: &dyn Fn(&String) -> String| {
        values.iter().map(|(v, verbatim)| if *verbatim { v.clone() } else { quote(v) }).collect::<Vec<_>>().join(" ")
    };
    let (legacy, standard) = (join(&legacy), join(&standard));
    Some(if legacy == standard { vec![legacy] } else { vec![legacy, standard] })
}

fn node_start(s: &Script<'_>, node: &Node) -> usize {
    match node {
        Node::Tok(t) => s.tokens[*t].start,
        Node::Group { open, .. } => s.tokens[*open].start,
    }
}

fn node_end(s: &Script<'_>, node: &Node) -> usize {
    match node {
        Node::Tok(t) => s.tokens[*t].end,
        Node::Group { end, .. } => *end,
    }
}

/// A value as written: a word or string's meaning, `$name` for a variable, the source
/// text of anything else.
fn value_text(s: &Script<'_>, node: &Node) -> String {
    match node {
        Node::Tok(t) => {
            let tok = &s.tokens[*t];
            match tok.kind {
                Kind::Var => format!("${}", tok.value),
                Kind::Word | Kind::Str => tok.value.clone(),
                _ => s.text[tok.start..tok.end].to_string(),
            }
        }
        group => s.text[node_start(s, group)..node_end(s, group)].to_string(),
    }
}

/// The host part of a WinRM URL (`http://FS02:5985/wsman` gives `FS02`).
fn uri_host(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    if let Some(v6) = rest.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_string();
    }
    rest.split([':', '/', '?']).next().unwrap_or(rest).to_string()
}

/// Binds a cmdlet's arguments: named parameters (with their values, comma lists taken
/// whole), splatted hashtables, and the positional rest (each a comma list). `None` when
/// PowerShell would refuse the command (an ambiguous parameter name).
fn bind<'n>(s: &Script<'_>, cmdlet: Cmdlet, args: &'n [Node]) -> Option<(Vec<Named<'n>>, Vec<Vec<&'n Node>>)> {
    let mut named = Vec::new();
    let mut positional = Vec::new();
    let mut i = 0;
    let is_tok = |node: &Node, f: &dyn Fn(Kind) -> bool| matches!(node, Node::Tok(t) if f(s.tokens[*t].kind));
    // A value and the comma-joined values after it.
    let take_list = |i: &mut usize| -> Vec<&'n Node> {
        let mut values = Vec::new();
        while let Some(node) = args.get(*i) {
            if is_tok(node, &|k| matches!(k, Kind::Param { .. } | Kind::Comma)) {
                break;
            }
            values.push(node);
            *i += 1;
            match args.get(*i) {
                Some(n) if is_tok(n, &|k| k == Kind::Comma) => *i += 1,
                _ => break,
            }
        }
        values
    };
    while i < args.len() {
        match &args[i] {
            Node::Tok(t) if matches!(s.tokens[*t].kind, Kind::Param { .. }) => {
                let tok = &s.tokens[*t];
                let colon = matches!(tok.kind, Kind::Param { colon: true });
                i += 1;
                match cmdlets::resolve(cmdlet, &tok.value) {
                    Resolution::Ambiguous => return None,
                    Resolution::Unknown => {}
                    Resolution::Bound(param, via) => {
                        let values = if colon || !param.switch { take_list(&mut i) } else { Vec::new() };
                        named.push(Named { param, via, token: *t, values: Values::Nodes(values), splat: None });
                    }
                }
            }
            // `--`: every argument after it is positional, `-Name` included.
            Node::Tok(t) if bare_word_is(s, *t, &["--"]) => {
                let values = args[i + 1..].iter().filter(|n| !is_tok(n, &|k| k == Kind::Comma));
                positional.extend(values.map(|n| vec![n]));
                break;
            }
            Node::Tok(t) if s.tokens[*t].kind == Kind::Splat => {
                i += 1;
                let Some(entries) = s.hashes.get(&s.tokens[*t].value.to_ascii_lowercase()) else {
                    continue;
                };
                for entry in entries {
                    match cmdlets::resolve(cmdlet, &s.tokens[entry.key_tok].value) {
                        Resolution::Ambiguous => return None,
                        Resolution::Unknown => {}
                        Resolution::Bound(param, via) => named.push(Named {
                            param,
                            via,
                            token: entry.key_tok,
                            values: Values::Texts(entry.values.clone()),
                            splat: Some(*t),
                        }),
                    }
                }
            }
            _ => {
                let list = take_list(&mut i);
                if list.is_empty() {
                    i += 1;
                } else {
                    positional.push(list);
                }
            }
        }
    }
    Some((named, positional))
}

/// A hashtable entry's key and the nodes of its value.
type KeyValue<'n> = (&'n Node, &'n [Node]);

/// A hashtable literal's statements (split at `;` and line breaks), each with its key and the
/// value after `=` when it is a `key = value` entry.
fn hash_statements<'n>(s: &Script<'_>, children: &'n [Node]) -> Vec<(&'n [Node], Option<KeyValue<'n>>)> {
    children
        .split(|n| matches!(n, Node::Tok(t) if s.tokens[*t].kind == Kind::Separator))
        .map(|entry| match entry {
            [key, Node::Tok(eq), value @ ..] if s.tokens[*eq].kind == Kind::Assign => (entry, Some((key, value))),
            _ => (entry, None),
        })
        .collect()
}

/// The `Key = value` entries of a hashtable literal's contents.
fn hash_entries(s: &Script<'_>, children: &[Node]) -> Vec<HashEntry> {
    let mut entries = Vec::new();
    for (_, key_value) in hash_statements(s, children) {
        if let Some((Node::Tok(key), values)) = key_value
            && matches!(s.tokens[*key].kind, Kind::Word | Kind::Str)
        {
            let values = values
                .iter()
                .filter(|n| !matches!(n, Node::Tok(t) if s.tokens[*t].kind == Kind::Comma))
                .map(|n| value_text(s, n))
                .collect();
            entries.push(HashEntry { key_tok: *key, values });
        }
    }
    entries
}
