//! The walk over the parser's tree that finds remote execution: every command at a command
//! position the tree holds is looked at once, in the order PowerShell runs them, with what
//! the script's earlier statements told about its variables (sessions, hashtables, strings)
//! and aliases. It binds the remoting cmdlets' arguments as PowerShell does, follows the
//! script text PowerShell would build and run (`-EncodedCommand`, `powershell -c …` inside a
//! script, `Invoke-Expression` and `[scriptblock]::Create` of a written string), and bounds
//! what all that reading costs.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::ast::{
    Command, CommandElement, Element, Expr, ExprKind, HashEntry, Part, Pipeline, PostOp, ScriptBlock, Span, Statement,
};
use super::cmdlets::{self, Cmdlet, Parameter, Resolution, Via};
use super::lexer::{self, Kind};
use super::{Analysis, ENCODED_LAYER, Invocation, Limits, ScriptLayer, Technique, host, parser, truncate};
use crate::annotation::Evidence;
use crate::event::basename;

/// How many times a script's size may be read again in all (see `Analyser::reread_bytes`);
/// a text shorter than [`REREAD_FLOOR`] may be read again as often as one of that size.
/// The cmdline fuzz target found the need: without a budget on nested `powershell -c …`,
/// a 1.6 KB command line whose commands nest four deep, several to a level, made 111,865
/// layers (62 MB of text) and took 46 s; the cost grows as the branching to the fourth power.
const REREAD_BUDGET: usize = 4;
const REREAD_FLOOR: usize = 4 << 10;

/// The bytes a text of `len` may be read again, in all its layers.
pub(super) fn reread_budget(len: usize) -> usize {
    REREAD_BUDGET * len.max(REREAD_FLOOR)
}

/// Groups deeper than this, counted across every layer, are not read: no real command needs
/// them, and the parser's and the walk's recursion (a few calls per group) is bounded by it.
/// That bound is what the Fluent Bit module's stack size is measured against.
pub(super) const MAX_GROUP_DEPTH: usize = 64;

/// Remote calls of one kind kept in an analysis; the rest are counted (see
/// [`Analysis::omitted`]). A 408-byte input once gave 99, all carried into the annotation.
pub(super) const MAX_INVOCATIONS: usize = 16;

/// Where a piece of script text stands: the layer's name and the text's offset in it.
#[derive(Clone, Debug)]
pub(super) struct Layer {
    pub name: String,
    pub base: usize,
}

pub(super) struct Analyser {
    limits: Limits,
    pub out: Analysis,
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

/// One script's text and what its statements so far have told about its names.
struct Script<'t> {
    text: &'t str,
    layer: Layer,
    depth: u32,
    inherited: Vec<Technique>,
    /// `$s = New-PSSession …`: the session's targets. Ordered maps, not hash maps: the keys
    /// are the attacker's variable names, and a hash map would want a random seed, which the
    /// Fluent Bit module (no imports, no randomness) cannot have. The values are shared, not
    /// copied, among the variables of one assignment (`$a = $b = … = @{…}`: as many names as
    /// the input likes, each given the same value).
    sessions: BTreeMap<String, Rc<[String]>>,
    /// `$p = @{…}`: the hashtable's entries, for splatting.
    hashes: BTreeMap<String, Rc<[HashValue]>>,
    /// `$c = 'text'`: the strings variables hold, for `& $c` and `iex $c`.
    strings: BTreeMap<String, Rc<str>>,
    /// `Set-Alias name Invoke-Command`: aliases the script defines for the cmdlets.
    aliases: BTreeMap<String, Cmdlet>,
}

/// `Key = value[, value…]` in a hashtable literal, the values as written.
#[derive(Clone)]
struct HashValue {
    key: Span,
    name: String,
    backtick: bool,
    values: Vec<String>,
}

/// A parameter's values: expressions of this command, or texts from a splatted hashtable.
enum Values<'n> {
    Exprs(Vec<&'n Expr>),
    Texts(Vec<String>),
}

/// A parameter bound by name, with its values.
struct Named<'n> {
    param: &'static Parameter,
    via: Via,
    /// The parameter as written (or the hashtable key).
    at: Span,
    backtick: bool,
    unicode_dash: bool,
    values: Values<'n>,
    /// Reached through this splat's hashtable.
    splat: Option<Span>,
}

/// How a command's name was written, for the techniques it reports.
#[derive(Clone, Copy)]
struct Naming {
    alias: bool,
    quoted: bool,
    backtick: bool,
    /// Through a variable, an alias the script defined, or `Get-Command`.
    indirect: bool,
}

impl Analyser {
    #[inline(never)]
    pub fn new(limits: &Limits, text_len: usize) -> Analyser {
        Analyser {
            limits: *limits,
            out: Analysis::default(),
            reread_bytes: 0,
            reread_budget: reread_budget(text_len),
            layer_names: BTreeMap::new(),
            group_depth: 0,
            host_depth: 0,
        }
    }

    /// A host's command line (`powershell.exe …`, `pwsh …`): the script it runs, read.
    pub fn host_line(&mut self, line: &str, layer: &Layer, depth: u32, inherited: &[Technique]) {
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
                self.encoded_command(&base64, unicode_dash, layer, depth, inherited)
            }
            host::Payload::Opaque(what) => self.opaque(what),
            host::Payload::Nothing => {}
        }
    }

    /// An `-EncodedCommand` payload, decoded and read as a layer of its own. Out of line:
    /// `host_line` is on the way down to every command line's script.
    #[inline(never)]
    fn encoded_command(
        &mut self,
        base64: &str,
        unicode_dash: bool,
        layer: &Layer,
        depth: u32,
        inherited: &[Technique],
    ) {
        if depth >= self.limits.max_decode_depth {
            self.opaque("encoded command nested deeper than the decoding limit");
            return;
        }
        match host::decode_encoded(base64, self.limits.max_encoded_bytes) {
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
            None => self.opaque("an -EncodedCommand that is not base64 of UTF-16LE text, or over the size limit"),
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

    /// Notes what the analysis could not look into, once each. This and the other helpers
    /// that run rarely stay out of line: inlined, they grow the frames of the recursion, and
    /// an ordinary event once needed 11 KiB of Fluent Bit's interpreter stack instead of 8
    /// (its default, which `a_trap_is_not_forever` relies on).
    #[inline(never)]
    fn opaque(&mut self, what: &'static str) {
        if !self.out.opaque.contains(&what) {
            self.out.opaque.push(what);
        }
    }

    /// Parses a script text and walks it.
    pub fn script(&mut self, text: &str, layer: Layer, depth: u32, inherited: Vec<Technique>) {
        let mut reread_left = self.reread_budget.saturating_sub(self.reread_bytes);
        let before = reread_left;
        let (tree, unread) = parser::parse_script(text, self.group_depth, MAX_GROUP_DEPTH, &mut reread_left);
        self.reread_bytes += before - reread_left;
        self.note_unread(unread);
        let mut s = Script {
            text,
            layer,
            depth,
            inherited,
            sessions: BTreeMap::new(),
            hashes: BTreeMap::new(),
            strings: BTreeMap::new(),
            aliases: BTreeMap::new(),
        };
        self.script_block(&mut s, &tree);
    }

    #[inline(never)]
    fn note_unread(&mut self, unread: parser::Notes) {
        if unread.too_deep {
            self.opaque("groups nested deeper than the nesting limit");
        }
        if unread.past_budget {
            self.opaque("subexpressions in strings nested past the reading budget");
        }
        if unread.refused {
            // Read on all the same: a part of a long script block is broken by its cut, and a
            // call written in a broken command line still shows what was meant.
            self.opaque("script text PowerShell would refuse to parse (and run none of), read as its parser recovers");
        }
    }

    // ---- the walk -----------------------------------------------------------------------

    /// A script block: its header (parameters' defaults and attributes, which run), then its
    /// statements. Returns the targets of the session its last statement makes, if any.
    fn script_block(&mut self, s: &mut Script<'_>, block: &ScriptBlock) -> Option<Vec<String>> {
        for part in &block.header {
            self.part(s, part);
        }
        self.statements(s, &block.body)
    }

    /// Statements in order; the session the last one makes (`(…; New-PSSession FS02)`).
    fn statements(&mut self, s: &mut Script<'_>, statements: &[Statement]) -> Option<Vec<String>> {
        let mut made = None;
        for statement in statements {
            made = self.statement(s, statement);
        }
        made
    }

    fn grouped(&mut self, s: &mut Script<'_>, statements: &[Statement]) -> Option<Vec<String>> {
        self.group_depth += 1;
        let made = self.statements(s, statements);
        self.group_depth -= 1;
        made
    }

    fn statement(&mut self, s: &mut Script<'_>, statement: &Statement) -> Option<Vec<String>> {
        match statement {
            Statement::Pipelines(pipelines) => {
                let mut made = None;
                for p in pipelines {
                    made = self.pipeline(s, p);
                }
                made
            }
            Statement::Assignment { targets, value } => self.assignment(s, targets, value),
            Statement::Compound(parts) => {
                for part in parts {
                    self.part(s, part);
                }
                None
            }
        }
    }

    fn part(&mut self, s: &mut Script<'_>, part: &Part) {
        match part {
            Part::Statements(statements) => {
                self.grouped(s, statements);
            }
            Part::Statement(statement) => {
                self.statement(s, statement);
            }
            Part::Expr(e) => self.expr(s, e),
            Part::ScriptBlock(block) => {
                self.group_depth += 1;
                self.script_block(s, block);
                self.group_depth -= 1;
            }
        }
    }

    /// `$a = $b = value`: every variable of the chain gets the value (a hashtable for
    /// splatting, a string for `& $c` and `iex $c`, a session's targets); other targets
    /// (`$a.b`, `$a[(…)]`) are walked for what they run.
    #[inline(never)]
    fn assignment(&mut self, s: &mut Script<'_>, targets: &[Expr], value: &Statement) -> Option<Vec<String>> {
        let mut names = Vec::new();
        for target in targets {
            names.extend(assigned_variable(s, target));
            self.expr(s, target);
        }
        let lone = lone_expression(value);
        if let Some(Expr { kind: ExprKind::Hash(entries), .. }) = lone {
            let values: Rc<[HashValue]> = hash_values(s, entries).into();
            for name in &names {
                s.hashes.insert(name.clone(), values.clone());
            }
        }
        let constant: Option<Rc<str>> = match lone {
            Some(e @ Expr { kind: ExprKind::String { .. }, .. }) => Some(expr_value(s, e).into()),
            _ => None,
        };
        for name in &names {
            match &constant {
                Some(text) => s.strings.insert(name.clone(), text.clone()),
                None => s.strings.remove(name),
            };
        }
        let made = self.statement(s, value);
        if let Some(targets) = &made {
            let targets: Rc<[String]> = targets.as_slice().into();
            for name in names {
                s.sessions.insert(name, targets.clone());
            }
        }
        made
    }

    /// A pipeline's elements in order; `'…' | iex` runs the string.
    fn pipeline(&mut self, s: &mut Script<'_>, p: &Pipeline) -> Option<Vec<String>> {
        let mut made = None;
        for (i, element) in p.elements.iter().enumerate() {
            if i > 0
                && let Some(text) = piped_into_invoke_expression(s, &p.elements[i - 1], element)
            {
                self.script_text(s, text, "invoke-expression");
            }
            made = self.element(s, element);
        }
        made
    }

    fn element(&mut self, s: &mut Script<'_>, element: &Element) -> Option<Vec<String>> {
        match element {
            Element::Command(c) => self.command(s, c),
            Element::Expression { expr, redirections } => {
                for r in redirections {
                    self.expr(s, r);
                }
                // `(New-PSSession …)`, `$(…)`: the value of the group's last command.
                match &expr.kind {
                    ExprKind::Paren(statement) => {
                        self.group_depth += 1;
                        let made = self.statement(s, statement);
                        self.group_depth -= 1;
                        made
                    }
                    ExprKind::SubExpression(statements) => self.grouped(s, statements),
                    _ => {
                        self.expr(s, expr);
                        None
                    }
                }
            }
        }
    }

    /// Every place inside an expression where something runs: groups, script blocks,
    /// hashtable keys and values, strings' subexpressions, attributes' arguments, method
    /// arguments; and the strings that methods turn into scripts.
    fn expr(&mut self, s: &mut Script<'_>, e: &Expr) {
        match &e.kind {
            ExprKind::Word(_) | ExprKind::Variable(_) | ExprKind::Number | ExprKind::Unread | ExprKind::Error => {}
            ExprKind::String { subexpressions, .. } => {
                for sub in subexpressions {
                    self.expr(s, sub);
                }
            }
            ExprKind::Paren(statement) => {
                self.group_depth += 1;
                self.statement(s, statement);
                self.group_depth -= 1;
            }
            ExprKind::SubExpression(statements) => {
                self.grouped(s, statements);
            }
            ExprKind::ScriptBlock(block) => {
                self.group_depth += 1;
                self.script_block(s, block);
                self.group_depth -= 1;
            }
            ExprKind::Hash(entries) => self.hash(s, entries),
            ExprKind::Type { arguments } | ExprKind::Binary(arguments) | ExprKind::Array(arguments) => {
                for a in arguments {
                    self.expr(s, a);
                }
            }
            ExprKind::Prefixed { casts, operand } => {
                for c in casts {
                    self.expr(s, c);
                }
                self.expr(s, operand);
            }
            ExprKind::Postfix { base, ops } => self.postfix(s, base, ops),
        }
    }

    #[inline(never)]
    fn hash(&mut self, s: &mut Script<'_>, entries: &[HashEntry]) {
        self.group_depth += 1;
        for entry in entries {
            self.expr(s, &entry.key);
            self.statement(s, &entry.value);
        }
        self.group_depth -= 1;
    }

    #[inline(never)]
    fn postfix(&mut self, s: &mut Script<'_>, base: &Expr, ops: &[PostOp]) {
        if let Some((text, what)) = script_from_string(s, base, ops) {
            self.script_text(s, text, what);
        }
        self.expr(s, base);
        self.group_depth += 1;
        for op in ops {
            match op {
                PostOp::Member { name, .. } => self.expr(s, name),
                PostOp::Invoke { name, arguments, .. } => {
                    self.expr(s, name);
                    for a in arguments {
                        self.expr(s, a);
                    }
                }
                PostOp::Index(index) => self.expr(s, index),
            }
        }
        self.group_depth -= 1;
    }

    /// A command: the remoting cmdlets bound, the commands that run script text followed,
    /// and then what its arguments run. Returns the targets of the session it makes, if it
    /// is a `New-PSSession`.
    fn command(&mut self, s: &mut Script<'_>, c: &Command) -> Option<Vec<String>> {
        let called = c.invocation.is_some();
        let made = match c.elements.first() {
            Some(CommandElement::Argument(name)) => match command_name(s, called, name) {
                Some((name_at, name, naming)) => self.named_command(s, c, name_at, &name, naming),
                None => None,
            },
            _ => None,
        };
        for element in &c.elements {
            match element {
                CommandElement::Argument(e) => self.expr(s, e),
                CommandElement::Parameter { argument: Some(e), .. } => self.expr(s, e),
                CommandElement::Parameter { argument: None, .. }
                | CommandElement::DashDash(_)
                | CommandElement::Verbatim(_) => {}
            }
        }
        for r in &c.redirections {
            self.expr(s, r);
        }
        made
    }

    #[inline(never)]
    fn named_command(
        &mut self,
        s: &mut Script<'_>,
        c: &Command,
        name_at: Span,
        name: &str,
        naming: Naming,
    ) -> Option<Vec<String>> {
        let args = &c.elements[1..];
        let known = Cmdlet::from_name(name).or_else(|| s.aliases.get(&name.to_ascii_lowercase()).map(|c| (*c, true)));
        if let Some((cmdlet, alias)) = known {
            let naming = Naming { alias: naming.alias || alias, ..naming };
            return self.cmdlet(s, cmdlet, naming, name_at, args);
        }
        if is_powershell_host(name) {
            self.nested_host(s, &c.elements);
        } else if is_invoke_expression(name) {
            self.invoke_expression(s, args);
        } else if is_set_alias(name) {
            define_alias(s, args);
        }
        None
    }

    /// `Invoke-Expression` (`iex`) of a string written in the script: the string is run as a
    /// script. A value known only at run time (`iex $x`) stays out of reach.
    #[inline(never)]
    fn invoke_expression(&mut self, s: &mut Script<'_>, args: &[CommandElement]) {
        let mut args = args;
        // Its one parameter, `-Command`, by any prefix.
        if let [CommandElement::Parameter { token, argument }, tail @ ..] = args {
            let (name, _, _) = lexer::parameter_name(token.text(s.text));
            if !name.is_empty() && "command".starts_with(&name.to_ascii_lowercase()) {
                if let Some(value) = argument {
                    if let Some(text) = string_value(s, value) {
                        self.script_text(s, text, "invoke-expression");
                    }
                    return;
                }
                args = tail;
            }
        }
        if let [CommandElement::Argument(value), ..] = args
            && let Some(text) = string_value(s, value)
        {
            self.script_text(s, text, "invoke-expression");
        }
    }

    /// Script text that PowerShell builds from a string of this script and runs
    /// (`Invoke-Expression`, `[scriptblock]::Create`), read as a layer of its own. These
    /// layers count against the same budget as string subexpressions and nest no deeper than
    /// the decoding limit.
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
    fn nested_host(&mut self, s: &mut Script<'_>, elements: &[CommandElement]) {
        let (Some(first), Some(last)) = (elements.first(), elements.last()) else {
            return;
        };
        if self.host_depth >= self.limits.max_decode_depth {
            self.opaque("PowerShell nested deeper than the decoding limit");
            return;
        }
        let (start, end) = (element_span(first).start, element_span(last).end);
        let written = s.text[start..end].to_string();
        // Where PowerShell hands the child its arguments as written (no quotes to remove), the
        // evidence stays in the script's own text.
        let lines = native_command_lines(s, elements).filter(|lines| lines != std::slice::from_ref(&written));
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

    #[inline(never)]
    fn cmdlet(
        &mut self,
        s: &mut Script<'_>,
        cmdlet: Cmdlet,
        how: Naming,
        name_at: Span,
        args: &[CommandElement],
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
        if how.backtick {
            techniques.push(Technique::Backtick);
        }
        if how.quoted {
            techniques.push(Technique::Quoting);
        }
        if how.indirect {
            techniques.push(Technique::Indirection);
        }
        let mut evidence = vec![evidence(s, "command", name_at)];
        let targets;
        let target_param = named.iter().find(|p| is(p, "ComputerName") || is(p, "ConnectionUri") || is(p, "Session"));
        if let Some(p) = target_param {
            match p.via {
                Via::Alias => techniques.push(Technique::ParameterAlias),
                Via::Prefix => techniques.push(Technique::ParameterPrefix),
                Via::Name => {}
            }
            if p.backtick {
                techniques.push(Technique::Backtick);
            }
            if p.unicode_dash {
                techniques.push(Technique::UnicodeDash);
            }
            if let Some(splat) = p.splat {
                techniques.push(Technique::Splat);
                evidence.push(self::evidence(s, "splat", splat));
            }
            evidence.push(self::evidence(s, if p.splat.is_some() { "key" } else { "parameter" }, p.at));
            let texts: Vec<String> = match &p.values {
                Values::Exprs(exprs) => exprs.iter().map(|v| value_text(s, v)).collect(),
                Values::Texts(texts) => texts.clone(),
            };
            if is(p, "ConnectionUri") {
                techniques.push(Technique::ConnectionUri);
                targets = texts.iter().map(|t| uri_host(t)).collect();
            } else if is(p, "Session") {
                techniques.push(Technique::Session);
                targets = match &p.values {
                    Values::Exprs(exprs) => self.session_targets(s, exprs)?,
                    Values::Texts(texts) => texts
                        .iter()
                        .map(|t| s.sessions.get(&t.strip_prefix('$')?.to_ascii_lowercase()).map(|v| v.to_vec()))
                        .collect::<Option<Vec<_>>>()?
                        .concat(),
                };
            } else {
                targets = texts;
            }
        } else {
            let scripted = named.iter().any(|p| is(p, "ScriptBlock") || is(p, "FilePath"));
            let first = positional.first().map(|list| list[0]);
            let first_is_block = matches!(first, Some(Expr { kind: ExprKind::ScriptBlock(_), .. }));
            let positional_target = match cmdlet {
                Cmdlet::InvokeCommand => (scripted || positional.len() >= 2) && !first_is_block,
                Cmdlet::NewPSSession | Cmdlet::EnterPSSession => !first_is_block,
            };
            match first {
                Some(node) if positional_target => {
                    techniques.push(Technique::Positional);
                    evidence.push(self::evidence(s, "target", node.span));
                    let known_session = match &node.kind {
                        ExprKind::Variable(t) => s
                            .sessions
                            .get(&lexer::variable_name(t.text(s.text)).to_ascii_lowercase())
                            .map(|v| v.to_vec()),
                        _ => None,
                    };
                    targets = match known_session {
                        Some(t) => {
                            techniques.push(Technique::Session);
                            t
                        }
                        None => positional[0].iter().map(|v| value_text(s, v)).collect(),
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
        let (kept, cut) = match cmdlet {
            Cmdlet::EnterPSSession => (&mut self.out.interactive_sessions, &mut self.out.omitted.interactive_sessions),
            _ => (&mut self.out.invocations, &mut self.out.omitted.invocations),
        };
        if kept.len() < MAX_INVOCATIONS {
            kept.push(found);
        } else {
            *cut += 1;
        }
        None
    }

    /// The targets of `-Session $s` or `-Session (New-PSSession …)` made in this command.
    #[inline(never)]
    fn session_targets(&mut self, s: &mut Script<'_>, values: &[&Expr]) -> Option<Vec<String>> {
        let mut all = Vec::new();
        for v in values {
            match &v.kind {
                ExprKind::Variable(t) => {
                    let name = lexer::variable_name(t.text(s.text)).to_ascii_lowercase();
                    all.extend(s.sessions.get(&name)?.iter().cloned());
                }
                ExprKind::Paren(statement) => {
                    self.group_depth += 1;
                    let made = self.statement(s, statement);
                    self.group_depth -= 1;
                    all.extend(made?);
                }
                ExprKind::SubExpression(statements) => all.extend(self.grouped(s, statements)?),
                _ => return None,
            }
        }
        (!all.is_empty()).then_some(all)
    }
}

fn evidence(s: &Script<'_>, kind: &str, at: Span) -> Evidence {
    Evidence {
        kind: kind.into(),
        text: at.text(s.text).to_string(),
        layer: s.layer.name.clone(),
        offset: u32::try_from(s.layer.base + at.start).unwrap_or(u32::MAX),
    }
}

/// The variable an assignment's target names (lower case): `$a`, `[string[]]$a`,
/// `[ValidateNotNull()][int]$a`; `None` for a member, an index or a list of targets.
fn assigned_variable(s: &Script<'_>, target: &Expr) -> Option<String> {
    let variable = match &target.kind {
        ExprKind::Prefixed { casts, operand } if !casts.is_empty() => operand,
        _ => target,
    };
    match &variable.kind {
        ExprKind::Variable(t) => Some(lexer::variable_name(t.text(s.text)).to_ascii_lowercase()),
        _ => None,
    }
}

/// The expression a statement is, when it is one alone (`$x = 'text'`, `$h = @{…}`).
fn lone_expression(statement: &Statement) -> Option<&Expr> {
    match statement {
        Statement::Pipelines(p) => match p.as_slice() {
            [Pipeline { elements }] => match elements.as_slice() {
                [Element::Expression { expr, redirections }] if redirections.is_empty() => Some(expr),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// A hashtable literal's `Key = value` entries with a written key, for splatting.
fn hash_values(s: &Script<'_>, entries: &[HashEntry]) -> Vec<HashValue> {
    let mut out = Vec::new();
    for entry in entries {
        let (name, backtick) = match &entry.key.kind {
            ExprKind::Word(t) => {
                let (v, backtick, _) = lexer::word_value(t.text(s.text));
                (v, backtick)
            }
            ExprKind::String { token, .. } => (token_value(s, *token), false),
            _ => continue,
        };
        let values = match lone_expression(&entry.value) {
            Some(Expr { kind: ExprKind::Array(items), .. }) => items.iter().map(|v| value_text(s, v)).collect(),
            Some(e) => vec![value_text(s, e)],
            None => vec![entry.value_span.text(s.text).to_string()],
        };
        out.push(HashValue { key: entry.key.span, name, backtick, values });
    }
    out
}

/// `'…' | iex`: the string a pipeline hands to `Invoke-Expression` with no argument of its own.
#[inline(never)]
fn piped_into_invoke_expression(s: &Script<'_>, from: &Element, to: &Element) -> Option<String> {
    let Element::Expression { expr, .. } = from else { return None };
    let Element::Command(Command { invocation: None, elements, .. }) = to else { return None };
    let [CommandElement::Argument(Expr { kind: ExprKind::Word(name), .. })] = elements.as_slice() else {
        return None;
    };
    if !is_invoke_expression(&lexer::word_value(name.text(s.text)).0) {
        return None;
    }
    match &expr.kind {
        ExprKind::String { .. } | ExprKind::Variable(_) => string_value(s, expr),
        _ => None,
    }
}

/// A string token's value (a word's with a subexpression too): quotes removed, escapes
/// resolved.
fn token_value(s: &Script<'_>, token: lexer::Token) -> String {
    let text = token.text(s.text);
    match token.kind {
        Kind::Generic => lexer::word_value(text).0,
        _ => lexer::string_value(text).0,
    }
}

/// What a word or a string written in the script holds (an expandable string as written,
/// with its variables and subexpressions unexpanded).
fn expr_value(s: &Script<'_>, e: &Expr) -> String {
    match &e.kind {
        ExprKind::Word(t) => lexer::word_value(t.text(s.text)).0,
        ExprKind::String { token, .. } => token_value(s, *token),
        _ => e.span.text(s.text).to_string(),
    }
}

/// What an argument holds as a string written in the script: a word or a string's value, or
/// the string a variable was given (`$c = '…'`).
fn string_value(s: &Script<'_>, e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Word(_) | ExprKind::String { .. } => Some(expr_value(s, e)),
        ExprKind::Variable(t) => {
            s.strings.get(&lexer::variable_name(t.text(s.text)).to_ascii_lowercase()).map(|v| v.to_string())
        }
        _ => None,
    }
}

/// A value as written: a word or string's meaning, `$name` for a variable, the source text
/// of anything else.
fn value_text(s: &Script<'_>, e: &Expr) -> String {
    match &e.kind {
        ExprKind::Variable(t) => format!("${}", lexer::variable_name(t.text(s.text))),
        _ => expr_value(s, e),
    }
}

/// The name a command runs: a word; after the call operator also a string, a variable that
/// holds a string (`& $c`) or `Get-Command` of a written name (`& (gcm icm)`). Where the name
/// is written, the name, and how.
fn command_name(s: &Script<'_>, called: bool, first: &Expr) -> Option<(Span, String, Naming)> {
    let naming = Naming { alias: false, quoted: false, backtick: false, indirect: false };
    match &first.kind {
        ExprKind::Word(t) => {
            let (name, backtick, quoted) = lexer::word_value(t.text(s.text));
            Some((first.span, name, Naming { backtick, quoted, ..naming }))
        }
        ExprKind::String { token, .. } if called => {
            let (name, backtick) = match token.kind {
                Kind::Generic => {
                    let (v, b, _) = lexer::word_value(token.text(s.text));
                    (v, b)
                }
                _ => lexer::string_value(token.text(s.text)),
            };
            Some((first.span, name, Naming { backtick, quoted: true, ..naming }))
        }
        ExprKind::Variable(_) if called => {
            Some((first.span, string_value(s, first)?, Naming { indirect: true, ..naming }))
        }
        ExprKind::Paren(statement) if called => {
            // `& ('Invoke-Command')`: the string the group gives.
            if let Some(value @ Expr { kind: ExprKind::String { .. }, .. }) = lone_expression(statement) {
                return Some((value.span, expr_value(s, value), Naming { quoted: true, indirect: true, ..naming }));
            }
            let Statement::Pipelines(p) = statement.as_ref() else { return None };
            let [Pipeline { elements }] = p.as_slice() else { return None };
            let [Element::Command(Command { invocation: None, elements, .. })] = elements.as_slice() else {
                return None;
            };
            let [CommandElement::Argument(get), CommandElement::Argument(name)] = elements.as_slice() else {
                return None;
            };
            let ExprKind::Word(get) = get.kind else { return None };
            let get = lexer::word_value(get.text(s.text)).0;
            if !["gcm", "get-command"].iter().any(|g| get.eq_ignore_ascii_case(g)) {
                return None;
            }
            match &name.kind {
                ExprKind::Word(_) | ExprKind::String { .. } => {
                    Some((name.span, expr_value(s, name), Naming { indirect: true, ..naming }))
                }
                _ => None,
            }
        }
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
fn define_alias(s: &mut Script<'_>, args: &[CommandElement]) {
    let (mut name, mut value) = (None, None);
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match &args[i] {
            CommandElement::Parameter { token, argument } => {
                let p = lexer::parameter_name(token.text(s.text)).0.to_ascii_lowercase();
                let slot = if !p.is_empty() && "name".starts_with(&p) {
                    Some(&mut name)
                } else if p.len() >= 2 && "value".starts_with(&p) {
                    Some(&mut value)
                } else {
                    None
                };
                let takes_value = slot.is_some() || matches!(p.as_str(), "scope" | "description" | "option");
                let given = match argument {
                    Some(a) => Some(a),
                    None if takes_value => match args.get(i + 1) {
                        Some(CommandElement::Argument(a)) => {
                            i += 1;
                            Some(a)
                        }
                        _ => None,
                    },
                    None => None,
                };
                if let (Some(slot), Some(a)) = (slot, given) {
                    *slot = string_value(s, a);
                }
            }
            CommandElement::Argument(a) => positional.extend(string_value(s, a)),
            CommandElement::DashDash(_) | CommandElement::Verbatim(_) => {}
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

/// A method that makes a script of a string, called with the string written in its call:
/// `[scriptblock]::Create('…')`, `$ExecutionContext.InvokeCommand.InvokeScript('…')` and
/// `.NewScriptBlock('…')`, `[powershell]::Create().AddScript('…')`. Returns the string and
/// the name of the layer it becomes.
#[inline(never)]
fn script_from_string(s: &Script<'_>, base: &Expr, ops: &[PostOp]) -> Option<(String, &'static str)> {
    let string_argument = |arguments: &[Expr]| match arguments.first() {
        Some(a @ Expr { kind: ExprKind::String { .. }, .. }) => Some(expr_value(s, a)),
        _ => None,
    };
    if let (ExprKind::Type { .. }, Some(PostOp::Invoke { name, is_static: true, arguments })) =
        (&base.kind, ops.first())
        && member_is(s, name, "create")
    {
        let ty = base.span.text(s.text).trim_matches(['[', ']']).trim().to_ascii_lowercase();
        if ty.strip_prefix("system.management.automation.").unwrap_or(&ty) == "scriptblock" {
            return Some((string_argument(arguments)?, "scriptblock-create"));
        }
    }
    const METHODS: [(&str, &str); 3] =
        [("invokescript", "invoke-script"), ("newscriptblock", "new-script-block"), ("addscript", "add-script")];
    ops.iter().find_map(|op| match op {
        PostOp::Invoke { name, arguments, .. } => {
            let (_, layer) = METHODS.iter().find(|(method, _)| member_is(s, name, method))?;
            Some((string_argument(arguments)?, *layer))
        }
        _ => None,
    })
}

fn member_is(s: &Script<'_>, name: &Expr, lower: &str) -> bool {
    matches!(name.kind, ExprKind::Word(_)) && name.span.text(s.text).eq_ignore_ascii_case(lower)
}

pub(super) fn is_powershell_host(name: &str) -> bool {
    let base = basename(name).to_ascii_lowercase();
    matches!(base.as_str(), "powershell" | "powershell.exe" | "pwsh" | "pwsh.exe")
}

fn element_span(element: &CommandElement) -> Span {
    match element {
        CommandElement::Parameter { token, argument } => {
            Span { start: token.start, end: argument.as_ref().map_or(token.end, |a| a.span.end) }
        }
        CommandElement::Argument(e) => e.span,
        CommandElement::DashDash(t) | CommandElement::Verbatim(t) => Span::of(*t),
    }
}

/// The command line PowerShell gives a native program for the elements (the program first):
/// each argument's value as PowerShell's parser leaves it (quotes removed, backtick escapes
/// resolved; a script block as written), quoted again for the program's `argv`. Windows
/// PowerShell 5.1 quotes a value that holds a blank and escapes nothing
/// (`$PSNativeCommandArgumentPassing` `Legacy`); PowerShell 7.3 and later escape embedded
/// quotes as `CommandLineToArgvW` expects (`Standard`, and `Windows` for powershell.exe). Both
/// lines are returned when they differ, since the parent's version is not in the event.
/// `None` when an argument's value is only known at run time.
fn native_command_lines(s: &Script<'_>, elements: &[CommandElement]) -> Option<Vec<String>> {
    // Each value, and whether it goes on the line as written (the text after `--%`).
    let mut values = Vec::new();
    for (i, element) in elements.iter().enumerate() {
        match element {
            // `--%` itself is not handed on, only the text after it.
            CommandElement::Argument(_) if matches!(elements.get(i + 1), Some(CommandElement::Verbatim(_))) => {}
            CommandElement::Argument(e) => match &e.kind {
                ExprKind::Word(_) | ExprKind::String { .. } | ExprKind::Number => {
                    values.push((expr_value(s, e), false));
                }
                ExprKind::ScriptBlock(_) => values.push((e.span.text(s.text).to_string(), false)),
                _ => return None,
            },
            CommandElement::Parameter { token, argument } => {
                let mut text = token.text(s.text).to_string();
                match argument.as_ref().map(|a| &a.kind) {
                    None => {}
                    Some(ExprKind::Word(_) | ExprKind::String { .. } | ExprKind::Number) => {
                        text.push_str(&expr_value(s, argument.as_ref().expect("some")));
                    }
                    Some(_) => return None,
                }
                values.push((text, false));
            }
            CommandElement::DashDash(t) => values.push((t.text(s.text).to_string(), false)),
            CommandElement::Verbatim(t) => values.push((t.text(s.text).to_string(), true)),
        }
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

/// The host part of a WinRM URL (`http://FS02:5985/wsman` gives `FS02`).
fn uri_host(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    if let Some(v6) = rest.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_string();
    }
    rest.split([':', '/', '?']).next().unwrap_or(rest).to_string()
}

/// An argument's values: the items of `a, b`, or the one value.
fn values_of(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Array(items) => items.iter().collect(),
        _ => vec![e],
    }
}

/// Binds a cmdlet's arguments: named parameters (with their values, comma lists taken
/// whole), splatted hashtables, and the positional rest (each a comma list). `None` when
/// PowerShell would refuse the command (an ambiguous parameter name).
fn bind<'n>(
    s: &Script<'_>,
    cmdlet: Cmdlet,
    args: &'n [CommandElement],
) -> Option<(Vec<Named<'n>>, Vec<Vec<&'n Expr>>)> {
    let mut named = Vec::new();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        match &args[i] {
            CommandElement::Parameter { token, argument } => {
                i += 1;
                let (name, backtick, unicode_dash) = lexer::parameter_name(token.text(s.text));
                match cmdlets::resolve(cmdlet, &name) {
                    Resolution::Ambiguous => return None,
                    Resolution::Unknown => {}
                    Resolution::Bound(param, via) => {
                        let values = match argument {
                            Some(a) => values_of(a),
                            None if !param.switch => match args.get(i) {
                                Some(CommandElement::Argument(a)) => {
                                    i += 1;
                                    values_of(a)
                                }
                                _ => Vec::new(),
                            },
                            None => Vec::new(),
                        };
                        let at = Span::of(*token);
                        named.push(Named {
                            param,
                            via,
                            at,
                            backtick,
                            unicode_dash,
                            values: Values::Exprs(values),
                            splat: None,
                        });
                    }
                }
            }
            // `--`: every argument after it is positional, `-Name` included.
            CommandElement::DashDash(_) => {
                for rest in &args[i + 1..] {
                    if let CommandElement::Argument(a) = rest {
                        positional.push(values_of(a));
                    }
                }
                break;
            }
            CommandElement::Argument(Expr { kind: ExprKind::Variable(t), span }) if t.kind == Kind::Splat => {
                i += 1;
                let Some(entries) = s.hashes.get(&lexer::variable_name(t.text(s.text)).to_ascii_lowercase()) else {
                    continue;
                };
                for entry in entries.iter() {
                    match cmdlets::resolve(cmdlet, &entry.name) {
                        Resolution::Ambiguous => return None,
                        Resolution::Unknown => {}
                        Resolution::Bound(param, via) => named.push(Named {
                            param,
                            via,
                            at: entry.key,
                            backtick: entry.backtick,
                            unicode_dash: false,
                            values: Values::Texts(entry.values.clone()),
                            splat: Some(*span),
                        }),
                    }
                }
            }
            CommandElement::Argument(a) => {
                i += 1;
                positional.push(values_of(a));
            }
            CommandElement::Verbatim(_) => i += 1,
        }
    }
    Some((named, positional))
}
