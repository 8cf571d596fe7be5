//! A recursive-descent parser of PowerShell's statement grammar, after the PowerShell Language
//! Specification and `Parser.cs` in PowerShell/PowerShell (its rule names are given beside the
//! functions here): script blocks and their named blocks, statement lists, every statement
//! kind, pipeline chains, pipelines, commands and their elements, assignments, and expressions
//! down to every place that holds a pipeline or a statement. A command position is where the
//! grammar puts one: a pipeline element that is not an expression.
//!
//! Input PowerShell would refuse is read on as PowerShell's own parser recovers from it (an
//! unexpected token ends the statement and starts the next; a missing closer is assumed), so
//! a broken script still yields the commands around the break.
//!
//! Bounded: every chain the input can repeat is a loop (see [`super::ast`]); the recursion
//! goes one level deeper per group, and groups past `max_depth` are skipped over by counting
//! brackets, not parsed. The subexpressions of strings, which are read again after the
//! string, cost bytes of a reading budget the caller gives; past it they are not parsed.

use super::ast::{
    Command, CommandElement, Element, Expr, ExprKind, HashEntry, Part, Pipeline, PostOp, ScriptBlock, Span, Statement,
};
use super::lexer::{self, Keyword, Kind, Mode, Token};

/// What the parser left unread, for the analysis to say, and whether PowerShell would refuse
/// the script.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Notes {
    /// Groups nested past the depth limit.
    pub too_deep: bool,
    /// String subexpressions past the reading budget.
    pub past_budget: bool,
    /// A parse error PowerShell reports (and so runs nothing of the script): a missing
    /// closer, an unexpected token, a parameter inside an expression... The parser read on
    /// as PowerShell's recovery does.
    pub refused: bool,
    /// Where the first such error stands (a byte of the text).
    pub refused_at: Option<usize>,
}

pub struct Parser<'t> {
    text: &'t str,
    pos: usize,
    /// The last token scanned in each mode, and where: the parser often asks for the same
    /// token in one mode, then the other.
    cached: [Option<(usize, Token)>; 2],
    depth: usize,
    max_depth: usize,
    /// Bytes of string subexpressions that may still be parsed.
    reread_left: usize,
    pub notes: Notes,
    /// Bytes the tokenizer went over, asked again or not: the parser's work, which its tests
    /// hold linear in the text.
    scanned: usize,
}

/// Parses `text` as a script (a script block's body, without braces). `depth` groups are
/// already open around it (the layers it was found in); `reread_left` is the budget for
/// string subexpressions. Returns the tree and what was left unread; the budget left is in
/// the parser's `reread_left` (see [`parse_script`]'s callers).
pub fn parse_script(text: &str, depth: usize, max_depth: usize, reread_left: &mut usize) -> (ScriptBlock, Notes) {
    let mut p = Parser {
        text,
        pos: 0,
        cached: [None; 2],
        depth,
        max_depth,
        reread_left: *reread_left,
        notes: Notes::default(),
        scanned: 0,
    };
    let block = p.script_block_body(0, None);
    *reread_left = p.reread_left;
    (block, p.notes)
}

fn is_statement_end(kind: Kind) -> bool {
    matches!(kind, Kind::NewLine | Kind::Semi | Kind::End | Kind::RCurly | Kind::RParen)
}

impl<'t> Parser<'t> {
    // ---- tokens -------------------------------------------------------------------------

    fn peek(&mut self, mode: Mode) -> Token {
        let slot = &mut self.cached[mode as usize];
        if let Some((at, t)) = *slot
            && at == self.pos
        {
            return t;
        }
        let t = lexer::next(self.text, self.pos, mode);
        self.scanned += t.end - self.pos;
        *slot = Some((self.pos, t));
        t
    }

    fn next(&mut self, mode: Mode) -> Token {
        let t = self.peek(mode);
        self.pos = t.end;
        t
    }

    fn eat(&mut self, mode: Mode, kind: Kind) -> Option<Token> {
        let t = self.peek(mode);
        (t.kind == kind).then(|| self.next(mode))
    }

    fn skip_newlines(&mut self) {
        self.pos = lexer::after_newlines(self.text, self.pos, false);
    }

    fn skip_newlines_and_semis(&mut self) {
        self.pos = lexer::after_newlines(self.text, self.pos, true);
    }

    /// The byte after the last token, where an adjacent operator would stand.
    fn here(&self) -> &'t str {
        &self.text[self.pos..]
    }

    // ---- groups -------------------------------------------------------------------------

    /// Enters a group whose opener was just read: false (and the group skipped to its
    /// closer) when it would nest past the depth limit.
    fn enter(&mut self) -> bool {
        if self.depth < self.max_depth {
            self.depth += 1;
            return true;
        }
        self.notes.too_deep = true;
        self.skip_group();
        false
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Skips to the closer of the group just opened, counting brackets token by token (a
    /// loop, whatever the nesting).
    fn skip_group(&mut self) {
        let mut open = 1usize;
        loop {
            let t = self.next(Mode::Command);
            match t.kind {
                Kind::LParen | Kind::LCurly | Kind::AtParen | Kind::AtCurly | Kind::DollarParen => open += 1,
                Kind::RParen | Kind::RCurly => {
                    open -= 1;
                    if open == 0 {
                        return;
                    }
                }
                Kind::End => return,
                _ => {}
            }
        }
    }

    /// Notes a parse error PowerShell would report here.
    #[inline(never)]
    fn refuse(&mut self) {
        self.notes.refused = true;
        self.notes.refused_at.get_or_insert(self.pos);
    }

    /// Skips an index past the depth limit to its `]`, counting brackets byte by byte.
    fn skip_index(&mut self) {
        let mut open = 1usize;
        for (i, b) in self.here().bytes().enumerate() {
            match b {
                b'[' => open += 1,
                b']' => {
                    open -= 1;
                    if open == 0 {
                        self.pos += i + 1;
                        return;
                    }
                }
                _ => {}
            }
        }
        self.pos = self.text.len();
    }

    /// Reads the closer `kind` if it is next (PowerShell assumes a missing one, and refuses
    /// the script).
    fn close(&mut self, kind: Kind) {
        self.skip_newlines();
        if self.eat(Mode::Command, kind).is_none() {
            self.refuse();
        }
    }

    // ---- script blocks and statement lists ----------------------------------------------

    /// `script-block` (`ScriptBlockRule`): `using` statements, `param(…)` with its
    /// attributes, then named blocks or a statement list, up to `}` (or the end, for a whole
    /// script, where a stray closer is skipped).
    fn script_block_body(&mut self, start: usize, closer: Option<Kind>) -> ScriptBlock {
        let mut body = Vec::new();
        let header = self.script_block_header(&mut body);
        loop {
            self.statement_list(&mut body);
            match (self.peek(Mode::Command).kind, closer) {
                (Kind::End, _) => break,
                (k, Some(c)) if k == c => {
                    self.next(Mode::Command);
                    break;
                }
                // A closer that is not ours belongs to an enclosing group.
                (Kind::RParen | Kind::RCurly, Some(_)) => break,
                // A stray closer in a whole script: skipped, as PowerShell does.
                _ => {
                    self.refuse();
                    self.next(Mode::Command);
                }
            }
        }
        ScriptBlock { span: Span { start, end: self.pos }, header, body }
    }

    /// What opens a script block: `using` statements and `param(…)` (the header), and named
    /// blocks (`begin {…}`…), whose statements go to `body`. Out of line, as the other rules
    /// that are not on the way down to every nested block: Fluent Bit's interpreter runs the
    /// module on the stack the operator sets (`wasm_stack_size`, 8 KiB by default), and every
    /// frame on that way counts once per group.
    #[inline(never)]
    fn script_block_header(&mut self, body: &mut Vec<Statement>) -> Vec<Part> {
        let mut header = Vec::new();
        self.skip_newlines_and_semis();
        while self.peek(Mode::Command).kind == Kind::Keyword(Keyword::Using) {
            let t = self.next(Mode::Command);
            header.push(Part::Statement(self.using_statement(t)));
            self.skip_newlines_and_semis();
        }
        if let Some(param) = self.param_block() {
            header.extend(param);
        }
        self.skip_newlines_and_semis();
        // `named-block-list`: each block's statements in turn.
        while let Kind::Keyword(
            Keyword::Begin | Keyword::Process | Keyword::End | Keyword::Clean | Keyword::DynamicParam,
        ) = self.peek(Mode::Command).kind
        {
            self.next(Mode::Command);
            if let Some(Part::Statements(block)) = self.required_block() {
                body.extend(block);
            }
            self.skip_newlines_and_semis();
        }
        header
    }

    /// `param-block`: `[attributes] param ( parameter-list )` at the start of a script block.
    fn param_block(&mut self) -> Option<Vec<Part>> {
        let save = self.pos;
        let attributes = self.attribute_list();
        self.skip_newlines();
        if self.eat(Mode::Command, Kind::Keyword(Keyword::Param)).is_none() {
            self.pos = save;
            return None;
        }
        self.skip_newlines();
        let mut parts: Vec<Part> = attributes.into_iter().map(Part::Expr).collect();
        if self.eat(Mode::Command, Kind::LParen).is_some() {
            parts.extend(self.parameter_list());
        }
        Some(parts)
    }

    /// `parameter-list … )` after `(`: each parameter's attributes, variable and default value.
    fn parameter_list(&mut self) -> Vec<Part> {
        let mut parts = Vec::new();
        if !self.enter() {
            return parts;
        }
        loop {
            self.skip_newlines();
            parts.extend(self.attribute_list().into_iter().map(Part::Expr));
            self.skip_newlines();
            match self.peek(Mode::Expression).kind {
                Kind::Variable | Kind::Splat => {
                    let v = self.next(Mode::Expression);
                    parts.push(Part::Expr(Expr { span: Span::of(v), kind: ExprKind::Variable(v) }));
                }
                _ => {}
            }
            self.skip_newlines();
            if self.eat(Mode::Expression, Kind::Assign).is_some() {
                self.skip_newlines();
                if let Some(default) = self.expression(true) {
                    parts.push(Part::Expr(default));
                }
            }
            self.skip_newlines();
            if self.eat(Mode::Expression, Kind::Comma).is_none() {
                break;
            }
        }
        // Error recovery: whatever else stands before the `)` is read past.
        loop {
            let kind = self.peek(Mode::Command).kind;
            if kind == Kind::RParen {
                self.next(Mode::Command);
                break;
            }
            self.refuse();
            match kind {
                Kind::End | Kind::RCurly => break,
                Kind::LParen | Kind::LCurly | Kind::AtParen | Kind::AtCurly | Kind::DollarParen => {
                    self.next(Mode::Command);
                    self.skip_group();
                }
                _ => {
                    self.next(Mode::Command);
                }
            }
        }
        self.leave();
        parts
    }

    /// `attribute-list`: `[Type]` and `[Attribute(arguments)]`, newlines between.
    fn attribute_list(&mut self) -> Vec<Expr> {
        let mut attributes = Vec::new();
        loop {
            let save = self.pos;
            self.skip_newlines();
            if self.peek(Mode::Expression).kind != Kind::LBracket {
                self.pos = save;
                return attributes;
            }
            let open = self.next(Mode::Expression);
            attributes.push(self.bracket(open));
        }
    }

    /// `statement-block`: `{ statement-list }`, or `None` when no `{` follows.
    fn statement_block(&mut self) -> Option<Vec<Statement>> {
        self.skip_newlines();
        self.eat(Mode::Command, Kind::LCurly)?;
        let mut statements = Vec::new();
        if self.enter() {
            self.statement_list(&mut statements);
            self.close(Kind::RCurly);
            self.leave();
        }
        Some(statements)
    }

    /// `statement-list` (`StatementListRule`), up to a closer or the end.
    fn statement_list(&mut self, statements: &mut Vec<Statement>) {
        loop {
            self.skip_newlines_and_semis();
            if matches!(self.peek(Mode::Command).kind, Kind::End | Kind::RCurly | Kind::RParen) {
                return;
            }
            let before = self.pos;
            if let Some(s) = self.statement() {
                statements.push(s);
            }
            if self.pos == before {
                // Error recovery: a token no rule takes is read past.
                self.refuse();
                self.next(Mode::Command);
            }
        }
    }

    // ---- statements ---------------------------------------------------------------------

    /// `statement` (`StatementRule`).
    fn statement(&mut self) -> Option<Statement> {
        let t = self.peek(Mode::Command);
        match t.kind {
            Kind::LBracket => self.attributed_statement(),
            Kind::Generic if t.text(self.text).starts_with('[') => self.attributed_statement(),
            Kind::Keyword(k) if Self::starts_statement(k) => {
                self.next(Mode::Command);
                Some(self.keyword_statement(k, t))
            }
            Kind::Label => {
                self.next(Mode::Command);
                self.skip_newlines();
                self.statement()
            }
            _ => self.pipeline_chain(),
        }
    }

    /// A statement that starts with a bracket: attributes before a class, an enum or a
    /// configuration; otherwise the bracket starts an expression (`[int]$x = …`), read again
    /// as one.
    #[inline(never)]
    fn attributed_statement(&mut self) -> Option<Statement> {
        let save = self.pos;
        let attributes = self.attribute_list();
        self.skip_newlines();
        let next = self.peek(Mode::Command);
        if let Kind::Keyword(k @ (Keyword::Class | Keyword::Enum | Keyword::Configuration | Keyword::Function)) =
            next.kind
        {
            self.next(Mode::Command);
            let mut parts: Vec<Part> = attributes.into_iter().map(Part::Expr).collect();
            if let Statement::Compound(rest) = self.keyword_statement(k, next) {
                parts.extend(rest);
            }
            return Some(Statement::Compound(parts));
        }
        self.pos = save;
        self.pipeline_chain()
    }

    fn starts_statement(k: Keyword) -> bool {
        !matches!(
            k,
            Keyword::Other
                | Keyword::In
                | Keyword::Else
                | Keyword::ElseIf
                | Keyword::Catch
                | Keyword::Finally
                | Keyword::Until
                | Keyword::Begin
                | Keyword::Process
                | Keyword::End
                | Keyword::Clean
                | Keyword::DynamicParam
                | Keyword::Param
                | Keyword::InlineScript
        )
    }

    /// The statement a keyword starts, the keyword read.
    fn keyword_statement(&mut self, k: Keyword, keyword: Token) -> Statement {
        let mut parts = Vec::new();
        match k {
            Keyword::If => {
                // `if (…) {…} elseif (…) {…} else {…}`
                loop {
                    self.skip_newlines();
                    parts.push(self.paren_header());
                    parts.extend(self.required_block());
                    let save = self.pos;
                    self.skip_newlines();
                    match self.peek(Mode::Command).kind {
                        Kind::Keyword(Keyword::ElseIf) => {
                            self.next(Mode::Command);
                        }
                        Kind::Keyword(Keyword::Else) => {
                            self.next(Mode::Command);
                            parts.extend(self.required_block());
                            break;
                        }
                        _ => {
                            self.pos = save;
                            break;
                        }
                    }
                }
            }
            Keyword::While => {
                self.skip_newlines();
                parts.push(self.paren_header());
                parts.extend(self.required_block());
            }
            Keyword::Do => {
                parts.extend(self.required_block());
                self.skip_newlines();
                if let Kind::Keyword(Keyword::While | Keyword::Until) = self.peek(Mode::Command).kind {
                    self.next(Mode::Command);
                    self.skip_newlines();
                    parts.push(self.paren_header());
                } else {
                    self.refuse();
                }
            }
            Keyword::For => {
                // `for (init; condition; step)`: statements in parentheses.
                self.skip_newlines();
                if self.eat(Mode::Command, Kind::LParen).is_none() {
                    self.refuse();
                } else if self.enter() {
                    let mut header = Vec::new();
                    self.statement_list(&mut header);
                    self.close(Kind::RParen);
                    self.leave();
                    parts.push(Part::Statements(header));
                }
                parts.extend(self.required_block());
            }
            Keyword::Foreach => {
                // `foreach -parallel -throttlelimit n ( $v in pipeline ) {…}`
                self.skip_newlines();
                while let Kind::Parameter { .. } = self.peek(Mode::Command).kind {
                    self.next(Mode::Command);
                    self.skip_newlines();
                    if !matches!(self.peek(Mode::Command).kind, Kind::LParen) {
                        parts.extend(self.command_argument(false).map(Part::Expr));
                    }
                    self.skip_newlines();
                }
                if self.eat(Mode::Command, Kind::LParen).is_none() {
                    self.refuse();
                } else if self.enter() {
                    self.skip_newlines();
                    match self.unary(false) {
                        Some(variable) => parts.push(Part::Expr(variable)),
                        None => self.refuse(),
                    }
                    self.skip_newlines();
                    if self.eat(Mode::Command, Kind::Keyword(Keyword::In)).is_some() {
                        self.skip_newlines();
                        match self.pipeline_chain() {
                            Some(p) => parts.push(Part::Statement(p)),
                            None => self.refuse(),
                        }
                    } else {
                        self.refuse();
                    }
                    self.close(Kind::RParen);
                    self.leave();
                }
                parts.extend(self.required_block());
            }
            Keyword::Switch => parts = self.switch_statement(),
            Keyword::Function | Keyword::Filter | Keyword::Workflow => {
                // `function name (parameters) { script-block }`
                self.skip_newlines();
                if !matches!(self.peek(Mode::Command).kind, Kind::LParen | Kind::LCurly)
                    && !is_statement_end(self.peek(Mode::Command).kind)
                {
                    self.next(Mode::Command);
                }
                self.skip_newlines();
                if self.eat(Mode::Command, Kind::LParen).is_some() {
                    parts.extend(self.parameter_list());
                }
                self.skip_newlines();
                match self.eat(Mode::Command, Kind::LCurly) {
                    Some(open) => parts.extend(self.braced_script_block(open).map(Part::ScriptBlock)),
                    None => self.refuse(),
                }
            }
            // `return pipeline-chain`, `exit pipeline-chain`, `throw pipeline`.
            Keyword::Return | Keyword::Exit | Keyword::Throw if !is_statement_end(self.peek(Mode::Command).kind) => {
                parts.extend(self.pipeline_chain().map(Part::Statement));
            }
            Keyword::Break | Keyword::Continue => {
                // `label-expression`: a name, or a unary expression (which may hold a group).
                let next = self.peek(Mode::Command);
                if !is_statement_end(next.kind) && !matches!(next.kind, Kind::Pipe | Kind::AndAnd | Kind::OrOr) {
                    if matches!(next.kind, Kind::Identifier | Kind::Generic | Kind::Keyword(_)) {
                        self.next(Mode::Command);
                    } else {
                        parts.extend(self.unary(false).map(Part::Expr));
                    }
                }
            }
            Keyword::Trap => {
                // `trap [Type] {…}`
                parts.extend(self.attribute_list().into_iter().map(Part::Expr));
                parts.extend(self.required_block());
            }
            Keyword::Try => {
                parts.extend(self.required_block());
                let mut clauses = 0;
                loop {
                    let save = self.pos;
                    self.skip_newlines();
                    match self.peek(Mode::Command).kind {
                        Kind::Keyword(Keyword::Catch) => {
                            clauses += 1;
                            self.next(Mode::Command);
                            // `catch [A], [B] {…}`
                            loop {
                                parts.extend(self.attribute_list().into_iter().map(Part::Expr));
                                self.skip_newlines();
                                if self.eat(Mode::Expression, Kind::Comma).is_none() {
                                    break;
                                }
                            }
                            parts.extend(self.required_block());
                        }
                        Kind::Keyword(Keyword::Finally) => {
                            clauses += 1;
                            self.next(Mode::Command);
                            parts.extend(self.required_block());
                        }
                        _ => {
                            self.pos = save;
                            break;
                        }
                    }
                }
                // `MissingCatchOrFinally`
                if clauses == 0 {
                    self.refuse();
                }
            }
            Keyword::Data => {
                // `data name -SupportedCommand a, b {…}`
                self.skip_newlines();
                loop {
                    let t = self.peek(Mode::Command);
                    match t.kind {
                        Kind::LCurly => break,
                        k if is_statement_end(k) => break,
                        _ => {
                            let before = self.pos;
                            parts.extend(self.command_argument(true).map(Part::Expr));
                            if self.pos == before {
                                self.refuse();
                                self.next(Mode::Command);
                            }
                        }
                    }
                    self.skip_newlines();
                }
                parts.extend(self.required_block());
            }
            Keyword::Parallel | Keyword::Sequence => {
                parts.extend(self.required_block());
            }
            Keyword::Configuration => {
                self.skip_newlines();
                if !matches!(self.peek(Mode::Command).kind, Kind::LCurly) {
                    parts.extend(self.command_argument(false).map(Part::Expr));
                }
                parts.extend(self.required_block());
            }
            Keyword::Class => parts = self.class_statement(),
            Keyword::Enum => parts = self.enum_statement(),
            Keyword::Using => return self.using_statement(keyword),
            _ => {}
        }
        Statement::Compound(parts)
    }

    /// `( pipeline-chain )` of an `if`, `elseif`, `while` or `do` header.
    fn paren_header(&mut self) -> Part {
        let mut statements = Vec::new();
        if self.eat(Mode::Command, Kind::LParen).is_none() {
            self.refuse();
        } else if self.enter() {
            self.skip_newlines();
            match self.pipeline_chain() {
                Some(p) => statements.push(p),
                None => self.refuse(),
            }
            self.close(Kind::RParen);
            self.leave();
        }
        Part::Statements(statements)
    }

    /// The statement block a statement requires (PowerShell refuses the statement without it).
    fn required_block(&mut self) -> Option<Part> {
        let block = self.statement_block().map(Part::Statements);
        if block.is_none() {
            self.refuse();
        }
        block
    }

    /// `switch-statement`: its parameters (`-File` takes an argument), the condition, and
    /// each clause's condition and block.
    fn switch_statement(&mut self) -> Vec<Part> {
        let mut parts = Vec::new();
        self.skip_newlines();
        while let Kind::Parameter { .. } = self.peek(Mode::Command).kind {
            let p = self.next(Mode::Command);
            self.skip_newlines();
            let (name, _, _) = lexer::parameter_name(p.text(self.text));
            if !name.is_empty() && "file".starts_with(&name.to_ascii_lowercase()) {
                parts.extend(self.command_argument(false).map(Part::Expr));
                self.skip_newlines();
            }
        }
        if self.peek(Mode::Command).kind == Kind::LParen {
            parts.push(self.paren_header());
        } else if parts.is_empty() {
            // Neither a condition nor `-File`.
            self.refuse();
        }
        self.skip_newlines();
        if self.eat(Mode::Command, Kind::LCurly).is_none() {
            self.refuse();
            return parts;
        }
        if !self.enter() {
            return parts;
        }
        loop {
            self.skip_newlines_and_semis();
            let t = self.peek(Mode::Command);
            if matches!(t.kind, Kind::RCurly | Kind::End | Kind::RParen) {
                break;
            }
            let before = self.pos;
            parts.extend(self.command_argument(false).map(Part::Expr));
            parts.extend(self.required_block());
            if self.pos == before {
                self.next(Mode::Command);
            }
        }
        self.close(Kind::RCurly);
        self.leave();
        parts
    }

    /// `class-statement`: properties' initial values and methods' bodies.
    fn class_statement(&mut self) -> Vec<Part> {
        let mut parts = Vec::new();
        // The name, and the base types after `:`, up to `{`.
        while !matches!(self.peek(Mode::Command).kind, Kind::LCurly | Kind::End | Kind::RCurly | Kind::RParen) {
            self.next(Mode::Command);
        }
        if self.eat(Mode::Command, Kind::LCurly).is_none() || !self.enter() {
            return parts;
        }
        loop {
            self.skip_newlines_and_semis();
            parts.extend(self.attribute_list().into_iter().map(Part::Expr));
            self.skip_newlines();
            let t = self.peek(Mode::Command);
            match t.kind {
                Kind::RCurly | Kind::End | Kind::RParen => break,
                Kind::Keyword(Keyword::Other) => {
                    // `static`, `hidden`
                    self.next(Mode::Command);
                }
                Kind::Variable => {
                    let v = self.next(Mode::Expression);
                    parts.push(Part::Expr(Expr { span: Span::of(v), kind: ExprKind::Variable(v) }));
                    if self.eat(Mode::Expression, Kind::Assign).is_some() {
                        self.skip_newlines();
                        parts.extend(self.expression(true).map(Part::Expr));
                    }
                }
                _ => {
                    // A method: `Name(parameters) : base(arguments) { body }`.
                    self.next(Mode::Command);
                    if self.eat(Mode::Command, Kind::LParen).is_some() {
                        parts.extend(self.parameter_list());
                    }
                    self.skip_newlines();
                    if self.eat(Mode::Expression, Kind::Colon).is_some() {
                        self.skip_newlines();
                        self.next(Mode::Command); // `base`
                        if let Some(open) = self.eat(Mode::Expression, Kind::LParen) {
                            parts.extend(self.paren(open).map(Part::Expr));
                        }
                        self.skip_newlines();
                    }
                    if let Some(open) = self.eat(Mode::Command, Kind::LCurly) {
                        parts.extend(self.braced_script_block(open).map(Part::ScriptBlock));
                    }
                }
            }
        }
        self.close(Kind::RCurly);
        self.leave();
        parts
    }

    /// `enum-statement`: members' values.
    fn enum_statement(&mut self) -> Vec<Part> {
        let mut parts = Vec::new();
        while !matches!(self.peek(Mode::Command).kind, Kind::LCurly | Kind::End | Kind::RCurly | Kind::RParen) {
            self.next(Mode::Command);
        }
        if self.eat(Mode::Command, Kind::LCurly).is_none() || !self.enter() {
            return parts;
        }
        loop {
            self.skip_newlines_and_semis();
            let t = self.peek(Mode::Command);
            if matches!(t.kind, Kind::RCurly | Kind::End | Kind::RParen) {
                break;
            }
            self.next(Mode::Command);
            if self.eat(Mode::Expression, Kind::Assign).is_some() {
                self.skip_newlines();
                parts.extend(self.expression(true).map(Part::Expr));
            }
        }
        self.close(Kind::RCurly);
        self.leave();
        parts
    }

    /// `using-statement`: its words, and a module specification's hashtable.
    fn using_statement(&mut self, _using: Token) -> Statement {
        let mut parts = Vec::new();
        // `using namespace|module|assembly|type|command …` (`UsingStatementRule`).
        let kind = self.peek(Mode::Command);
        let known = ["namespace", "module", "assembly", "type", "command"];
        if !known.iter().any(|k| kind.text(self.text).eq_ignore_ascii_case(k)) {
            self.refuse();
        }
        // The kind, a name, and maybe `= name`: anything more is a break.
        let mut words = 0;
        loop {
            let t = self.peek(Mode::Command);
            if is_statement_end(t.kind) {
                break;
            }
            let before = self.pos;
            let argument = self.command_argument(false);
            let is_assign = matches!(&argument, Some(Expr { kind: ExprKind::Word(t), .. }) if t.text(self.text) == "=");
            words += usize::from(!is_assign);
            parts.extend(argument.map(Part::Expr));
            if self.pos == before {
                self.next(Mode::Command);
            }
        }
        if words > 3 {
            self.refuse();
        }
        Statement::Compound(parts)
    }

    // ---- pipelines ----------------------------------------------------------------------

    /// `pipeline-chain` (`PipelineChainRule`), with assignments first: `target = statement`,
    /// where the targets of a chain (`$a = $b = …`) are read in a loop.
    fn pipeline_chain(&mut self) -> Option<Statement> {
        let mut targets = Vec::new();
        loop {
            let expr = self.expression_here();
            match expr {
                Some(target) if self.peek(Mode::Expression).kind == Kind::Assign => {
                    if !assignable(&target) {
                        // `InvalidLeftHandSide`
                        self.refuse();
                    }
                    self.next(Mode::Expression);
                    self.skip_newlines();
                    targets.push(target);
                    // The value is a statement: a keyword's (`$x = if …`) or a pipeline chain,
                    // which may itself be an assignment (read by this loop).
                    let t = self.peek(Mode::Command);
                    if let Kind::Keyword(k) = t.kind
                        && Self::starts_statement(k)
                    {
                        self.next(Mode::Command);
                        let value = self.keyword_statement(k, t);
                        return Some(Statement::Assignment { targets, value: Box::new(value) });
                    }
                }
                first => {
                    let chain = self.chain(first);
                    if targets.is_empty() {
                        return chain;
                    }
                    if chain.is_none() {
                        // `ExpectedValueExpression`
                        self.refuse();
                    }
                    let value = chain.unwrap_or(Statement::Pipelines(Vec::new()));
                    return Some(Statement::Assignment { targets, value: Box::new(value) });
                }
            }
        }
    }

    /// Pipelines joined by `&&` and `||`, the first maybe starting with `first`.
    fn chain(&mut self, first: Option<Expr>) -> Option<Statement> {
        let mut pipelines = Vec::new();
        let mut start = first;
        while let Some(p) = self.pipeline(start.take()) {
            pipelines.push(p);
            match self.peek(Mode::Command).kind {
                Kind::AndAnd | Kind::OrOr => {
                    self.next(Mode::Command);
                    self.skip_newlines();
                    // `EmptyPipelineChainElement`
                    if matches!(self.peek(Mode::Command).kind, Kind::End | Kind::RCurly | Kind::RParen | Kind::Semi) {
                        self.refuse();
                    }
                }
                // `&` runs the pipeline in the background and ends the statement.
                Kind::Ampersand => {
                    self.next(Mode::Command);
                    break;
                }
                _ => break,
            }
        }
        (!pipelines.is_empty()).then_some(Statement::Pipelines(pipelines))
    }

    /// `pipeline` (`PipelineRule`): elements joined by `|`, each an expression (which
    /// PowerShell allows first only) or a command.
    #[inline(never)]
    fn pipeline(&mut self, first: Option<Expr>) -> Option<Pipeline> {
        let mut elements = Vec::new();
        let mut expr = first;
        loop {
            if expr.is_none() {
                expr = self.expression_here();
            }
            match expr.take() {
                Some(e) => {
                    let mut redirections = Vec::new();
                    while self.peek(Mode::Command).kind == Kind::Redirection {
                        let r = self.next(Mode::Command);
                        redirections.extend(self.redirection_target(r));
                    }
                    elements.push(Element::Expression { expr: e, redirections });
                }
                None => {
                    if let Some(c) = self.command() {
                        elements.push(Element::Command(c));
                    } else if elements.is_empty() && self.peek(Mode::Command).kind != Kind::Pipe {
                        return None;
                    } else {
                        // `EmptyPipeElement`
                        self.refuse();
                    }
                }
            }
            let next = self.peek(Mode::Command);
            match next.kind {
                Kind::Pipe => {
                    self.next(Mode::Command);
                    self.skip_newlines();
                }
                // A `|` starting the next line goes on with the pipeline (PowerShell 7).
                Kind::NewLine if self.pipe_continues() => {
                    self.skip_newlines();
                    self.next(Mode::Command);
                    self.skip_newlines();
                }
                Kind::NewLine
                | Kind::Semi
                | Kind::RParen
                | Kind::RCurly
                | Kind::End
                | Kind::AndAnd
                | Kind::OrOr
                | Kind::Ampersand => break,
                // `UnexpectedToken`: it starts the next statement.
                _ => {
                    self.refuse();
                    break;
                }
            }
        }
        (!elements.is_empty()).then_some(Pipeline { elements })
    }

    /// Whether the next line's first token is a `|` (`IsPipeContinuation`).
    fn pipe_continues(&mut self) -> bool {
        let save = self.pos;
        self.skip_newlines();
        let pipe = self.peek(Mode::Command).kind == Kind::Pipe;
        self.pos = save;
        pipe
    }

    /// A redirection's target: a file name after `>`/`>>`/`2>`..., none after `2>&1`.
    fn redirection_target(&mut self, r: Token) -> Option<Expr> {
        if r.text(self.text).contains('&') {
            return None;
        }
        if r.text(self.text) == "<" {
            // `RedirectionNotSupported`: "The '<' operator is reserved for future use."
            self.refuse();
        }
        let target = self.command_argument(false);
        if target.is_none() {
            // `MissingFileSpecification`
            self.refuse();
        }
        target
    }

    /// `command` (`CommandRule`): the invocation operator, the name, and the elements.
    #[inline(never)]
    fn command(&mut self) -> Option<Command> {
        let mut invocation = None;
        let first = self.peek(Mode::Command);
        if matches!(first.kind, Kind::Dot | Kind::Ampersand) {
            invocation = Some(self.next(Mode::Command));
        }
        let mut elements = Vec::new();
        let mut redirections = Vec::new();
        let mut saw_dash_dash = false;
        loop {
            let t = self.peek(Mode::Command);
            let naming = elements.is_empty();
            match t.kind {
                Kind::Pipe
                | Kind::RCurly
                | Kind::RParen
                | Kind::End
                | Kind::NewLine
                | Kind::Semi
                | Kind::AndAnd
                | Kind::OrOr
                | Kind::Ampersand => break,
                Kind::Increment | Kind::Comma | Kind::Redirection
                    if self.command_punctuation(t, naming, &mut elements, &mut redirections, &mut saw_dash_dash) => {}
                Kind::Parameter { colon } if !naming && !saw_dash_dash => {
                    self.next(Mode::Command);
                    let argument = if colon && self.peek(Mode::Command).kind != Kind::Comma {
                        self.command_argument(true)
                    } else {
                        None
                    };
                    elements.push(CommandElement::Parameter { token: t, argument });
                }
                _ => {
                    let before = self.pos;
                    let argument = if naming && invocation.is_none() {
                        // A command's name is a bare word: not expanded, never a string.
                        self.next(Mode::Command);
                        Some(word(t))
                    } else {
                        self.command_argument(true)
                    };
                    match argument {
                        Some(a) => {
                            let verbatim = matches!(a.kind, ExprKind::Word(w) if w.text(self.text) == "--%");
                            elements.push(CommandElement::Argument(a));
                            if verbatim {
                                elements.push(self.verbatim());
                                break;
                            }
                        }
                        None if self.pos == before => {
                            // A token no argument takes (a redirection as a name, for one).
                            self.next(Mode::Command);
                            if naming {
                                elements.push(CommandElement::Argument(word(t)));
                            }
                        }
                        None => {}
                    }
                }
            }
        }
        if elements.is_empty() {
            // Nothing at all, or (`MissingExpression`) an `&` or `.` with nothing after it.
            invocation?;
            self.refuse();
        }
        Some(Command { invocation, elements, redirections })
    }

    /// The rarer elements of a command, out of line (see [`Parser::script_block_header`]): `--`
    /// (the first ends the parameters; a later one, or one in the name's place, is a word), a
    /// stray comma, a redirection. False when `t` is none of these here (a redirection in the
    /// name's place is the name).
    #[inline(never)]
    fn command_punctuation(
        &mut self,
        t: Token,
        naming: bool,
        elements: &mut Vec<CommandElement>,
        redirections: &mut Vec<Expr>,
        saw_dash_dash: &mut bool,
    ) -> bool {
        match t.kind {
            Kind::Increment if t.text(self.text) != "++" => {
                self.next(Mode::Command);
                if *saw_dash_dash || naming {
                    elements.push(CommandElement::Argument(word(t)));
                } else {
                    elements.push(CommandElement::DashDash(t));
                }
                *saw_dash_dash = true;
            }
            Kind::Comma => {
                // `MissingArgument`
                self.refuse();
                self.next(Mode::Command);
                self.skip_newlines();
            }
            Kind::Redirection if !naming => {
                self.next(Mode::Command);
                redirections.extend(self.redirection_target(t));
            }
            _ => return false,
        }
        true
    }

    /// The text after `--%`, handed on as written.
    #[inline(never)]
    fn verbatim(&mut self) -> CommandElement {
        let v = lexer::verbatim(self.text, self.pos);
        self.pos = v.end;
        CommandElement::Verbatim(v)
    }

    /// `command-argument` (`GetCommandArgument`): one argument, or several joined by commas
    /// into an array (when `commas`).
    fn command_argument(&mut self, commas: bool) -> Option<Expr> {
        let mut items = Vec::new();
        loop {
            let t = self.peek(Mode::Command);
            let item = match t.kind {
                Kind::Pipe
                | Kind::RCurly
                | Kind::RParen
                | Kind::End
                | Kind::NewLine
                | Kind::Semi
                | Kind::Redirection
                | Kind::AndAnd
                | Kind::OrOr
                | Kind::Ampersand
                | Kind::Comma => break,
                Kind::Increment if t.text(self.text) != "++" => break,
                // A script block, the usual nested group, without `primary`'s frame on the way.
                Kind::LCurly => {
                    self.next(Mode::Command);
                    let block = match self.braced_script_block(t) {
                        Some(block) => Expr { span: block.span, kind: ExprKind::ScriptBlock(Box::new(block)) },
                        None => Expr { span: Span { start: t.start, end: self.pos }, kind: ExprKind::Unread },
                    };
                    self.postfix(block)
                }
                Kind::Splat
                | Kind::Variable
                | Kind::Number
                | Kind::StringLiteral
                | Kind::StringExpandable
                | Kind::LParen
                | Kind::DollarParen
                | Kind::AtParen
                | Kind::AtCurly => self.primary(Mode::Command).expect("a primary expression starts here"),
                Kind::Generic => {
                    self.next(Mode::Command);
                    if t.text(self.text).contains("$(") { self.expandable(t) } else { word(t) }
                }
                _ => {
                    self.next(Mode::Command);
                    word(t)
                }
            };
            items.push(item);
            if !commas || self.peek(Mode::Command).kind != Kind::Comma {
                break;
            }
            self.next(Mode::Command);
            self.skip_newlines();
        }
        match items.len() {
            0 => None,
            1 => items.pop(),
            _ => {
                let span = Span { start: items[0].span.start, end: items[items.len() - 1].span.end };
                Some(Expr { span, kind: ExprKind::Array(items) })
            }
        }
    }

    // ---- expressions --------------------------------------------------------------------

    /// `expression` (`ExpressionRule`, `BinaryExpressionRule`, the ternary): operands joined
    /// by operators, in a loop. `commas` allows an array literal (`a, b`) as an operand.
    fn expression(&mut self, commas: bool) -> Option<Expr> {
        let first = self.array_literal(commas)?;
        let mut operands = vec![first];
        loop {
            let t = self.peek(Mode::Expression);
            match t.kind {
                Kind::Binary | Kind::PlusMinus | Kind::QuestionMark | Kind::Colon => {
                    self.next(Mode::Expression);
                    self.skip_newlines();
                    match self.array_literal(commas) {
                        Some(e) => operands.push(e),
                        None => {
                            // `ExpectedValueExpression`
                            self.refuse();
                            break;
                        }
                    }
                }
                // An unknown `-name` after an operand: PowerShell reads it as a broken operator
                // (`ErrorRecoveryParameterInExpression`).
                Kind::Parameter { .. } => {
                    self.refuse();
                    self.next(Mode::Expression);
                    break;
                }
                _ => break,
            }
        }
        if operands.len() == 1 {
            return operands.pop();
        }
        let span = Span { start: operands[0].span.start, end: operands[operands.len() - 1].span.end };
        Some(Expr { span, kind: ExprKind::Binary(operands) })
    }

    /// An expression where a pipeline element starts, or `None` when the next token is one no
    /// expression starts with (a word, `&`, `.`, a parameter: a command), without going down
    /// the expression rules to find out: a command is the usual statement, and that way is
    /// the deepest at the innermost group.
    fn expression_here(&mut self) -> Option<Expr> {
        // A word the command mode scanned here that starts as an identifier is an identifier
        // in expression mode too: no need to scan it again to know.
        if let Some((at, t)) = self.cached[Mode::Command as usize]
            && at == self.pos
            && matches!(t.kind, Kind::Identifier | Kind::Generic)
            && self.text[t.start..].starts_with(|c: char| c == '_' || c.is_alphabetic())
        {
            return None;
        }
        match self.peek(Mode::Expression).kind {
            Kind::Identifier | Kind::Generic | Kind::Ampersand | Kind::Dot | Kind::Parameter { .. } => None,
            _ => self.expression(true),
        }
    }

    /// `array-literal-expression`: unary expressions joined by commas.
    fn array_literal(&mut self, commas: bool) -> Option<Expr> {
        let first = self.unary(commas)?;
        if !commas || self.peek(Mode::Expression).kind != Kind::Comma {
            return Some(first);
        }
        let mut items = vec![first];
        while self.peek(Mode::Expression).kind == Kind::Comma {
            self.next(Mode::Expression);
            self.skip_newlines();
            match self.unary(commas) {
                Some(e) => items.push(e),
                None => {
                    // `MissingExpressionAfterToken`
                    self.refuse();
                    break;
                }
            }
        }
        let span = Span { start: items[0].span.start, end: items[items.len() - 1].span.end };
        Some(Expr { span, kind: ExprKind::Array(items) })
    }

    /// `unary-expression` (`UnaryExpressionRule`): unary operators and casts, in a loop, then
    /// a primary expression and a postfix `++`/`--`.
    fn unary(&mut self, commas: bool) -> Option<Expr> {
        let start = self.peek(Mode::Expression).start;
        let mut casts = Vec::new();
        let mut prefixed = false;
        loop {
            let t = self.peek(Mode::Expression);
            match t.kind {
                Kind::Unary | Kind::PlusMinus | Kind::Increment => {}
                Kind::Comma if commas => {}
                Kind::LBracket => {
                    let open = self.next(Mode::Expression);
                    let ty = self.bracket(open);
                    // `[Type]::Member`: a type literal with its members is a primary expression.
                    if self.here().starts_with("::") || self.here().starts_with('.') {
                        let base = self.postfix(ty);
                        return Some(self.finish_unary(start, casts, base));
                    }
                    // A type before a line break or a comma is a value; otherwise a cast of what
                    // follows (and a value again when nothing that is an operand follows).
                    if matches!(self.peek(Mode::Expression).kind, Kind::NewLine | Kind::Comma) {
                        return Some(self.finish_unary(start, casts, ty));
                    }
                    casts.push(ty);
                    prefixed = true;
                    continue;
                }
                _ => break,
            }
            self.next(Mode::Expression);
            self.skip_newlines();
            prefixed = true;
        }
        let operand = match self.primary(Mode::Expression) {
            Some(e) => e,
            None if !prefixed => return None,
            None => match casts.pop() {
                // `[int]` before something that is not an expression: a type literal.
                Some(ty) => ty,
                None => {
                    // `MissingExpressionAfterOperator`
                    self.refuse();
                    Expr { span: Span { start, end: self.pos }, kind: ExprKind::Error }
                }
            },
        };
        let mut e = self.finish_unary(start, casts, operand);
        if self.here().starts_with("++") || self.here().starts_with("--") {
            self.pos += 2;
            e.span.end = self.pos;
        }
        Some(e)
    }

    fn finish_unary(&self, start: usize, casts: Vec<Expr>, operand: Expr) -> Expr {
        if casts.is_empty() && operand.span.start == start {
            return operand;
        }
        let span = Span { start, end: operand.span.end };
        Expr { span, kind: ExprKind::Prefixed { casts, operand: Box::new(operand) } }
    }

    /// `primary-expression` (`PrimaryExpressionRule`) in `mode`, with what follows it: a
    /// variable, a number, a string, a group, a script block, a hashtable. `None` for
    /// anything else (a word: a command).
    fn primary(&mut self, mode: Mode) -> Option<Expr> {
        let t = self.peek(mode);
        let value = match t.kind {
            Kind::Variable | Kind::Splat => {
                self.next(mode);
                Expr { span: Span::of(t), kind: ExprKind::Variable(t) }
            }
            Kind::Number => {
                self.next(mode);
                Expr { span: Span::of(t), kind: ExprKind::Number }
            }
            Kind::StringLiteral => {
                self.next(mode);
                Expr { span: Span::of(t), kind: ExprKind::String { token: t, subexpressions: Vec::new() } }
            }
            Kind::StringExpandable => {
                self.next(mode);
                self.expandable(t)
            }
            Kind::LParen => {
                self.next(mode);
                self.paren(t)?
            }
            Kind::DollarParen | Kind::AtParen => {
                self.next(mode);
                self.subexpression(t)
            }
            Kind::AtCurly => {
                self.next(mode);
                self.hash(t)
            }
            Kind::LCurly => {
                self.next(mode);
                match self.braced_script_block(t) {
                    Some(block) => Expr { span: block.span, kind: ExprKind::ScriptBlock(Box::new(block)) },
                    None => Expr { span: Span { start: t.start, end: self.pos }, kind: ExprKind::Unread },
                }
            }
            _ => return None,
        };
        Some(self.postfix(value))
    }

    /// `( pipeline-chain )`: `None` when the group was too deep to read.
    fn paren(&mut self, open: Token) -> Option<Expr> {
        if !self.enter() {
            return Some(Expr { span: Span { start: open.start, end: self.pos }, kind: ExprKind::Unread });
        }
        self.skip_newlines();
        let inner = self.pipeline_chain();
        if inner.is_none() {
            // `ExpectedExpression`
            self.refuse();
        }
        // What else stands before the `)` (PowerShell refuses it, but it is read).
        let mut rest = Vec::new();
        self.statement_list(&mut rest);
        self.close(Kind::RParen);
        self.leave();
        let span = Span { start: open.start, end: self.pos };
        let statement = match (inner, rest.is_empty()) {
            (Some(s), true) => s,
            (inner, _) => {
                self.refuse();
                let mut all: Vec<Statement> = inner.into_iter().collect();
                all.extend(rest);
                return Some(Expr { span, kind: ExprKind::SubExpression(all) });
            }
        };
        Some(Expr { span, kind: ExprKind::Paren(Box::new(statement)) })
    }

    /// `$( statement-list )` and `@( statement-list )`.
    fn subexpression(&mut self, open: Token) -> Expr {
        if !self.enter() {
            return Expr { span: Span { start: open.start, end: self.pos }, kind: ExprKind::Unread };
        }
        let mut statements = Vec::new();
        self.statement_list(&mut statements);
        self.close(Kind::RParen);
        self.leave();
        Expr { span: Span { start: open.start, end: self.pos }, kind: ExprKind::SubExpression(statements) }
    }

    /// `{ script-block }` after its `{`: `None` when too deep to read.
    fn braced_script_block(&mut self, open: Token) -> Option<ScriptBlock> {
        if !self.enter() {
            return None;
        }
        let block = self.script_block_body(open.start, Some(Kind::RCurly));
        self.leave();
        Some(block)
    }

    /// `hash-literal-expression`: `key = statement` entries.
    #[inline(never)]
    fn hash(&mut self, open: Token) -> Expr {
        let mut entries = Vec::new();
        if !self.enter() {
            return Expr { span: Span { start: open.start, end: self.pos }, kind: ExprKind::Unread };
        }
        loop {
            self.skip_newlines_and_semis();
            if matches!(self.peek(Mode::Command).kind, Kind::RCurly | Kind::End | Kind::RParen) {
                break;
            }
            let before = self.pos;
            let key = self.hash_key();
            let Some(key) = key else {
                if self.pos == before {
                    self.next(Mode::Command);
                }
                continue;
            };
            if self.eat(Mode::Expression, Kind::Assign).is_none() {
                // Error recovery (`SyncOnError`): on to the next entry.
                self.refuse();
                while !matches!(
                    self.peek(Mode::Command).kind,
                    Kind::RCurly | Kind::Semi | Kind::NewLine | Kind::End | Kind::RParen
                ) {
                    self.next(Mode::Command);
                }
                continue;
            }
            self.skip_newlines();
            let start = self.peek(Mode::Command).start;
            let value = self.statement().unwrap_or_else(|| {
                // `MissingStatementInHashLiteral`
                self.refuse();
                Statement::Pipelines(Vec::new())
            });
            entries.push(HashEntry { key, value, value_span: Span { start, end: self.pos.max(start) } });
        }
        self.close(Kind::RCurly);
        self.leave();
        Expr { span: Span { start: open.start, end: self.pos }, kind: ExprKind::Hash(entries) }
    }

    /// `key-expression` (`LabelOrKeyRule`): a simple name, or a unary expression.
    fn hash_key(&mut self) -> Option<Expr> {
        let t = self.peek(Mode::Expression);
        if t.kind == Kind::Identifier {
            // A simple name runs on over what a word may hold (`Computer-Name` is not one).
            self.next(Mode::Expression);
            return Some(word(t));
        }
        self.unary(false)
    }

    /// An expandable string (or word) with the subexpressions `$( … )` it runs, each parsed
    /// as a statement list in place (the text in between is the string's own); each costs its
    /// length of the reading budget, and is not read past it.
    fn expandable(&mut self, t: Token) -> Expr {
        let mut subexpressions = Vec::new();
        let token_text = t.text(self.text);
        if token_text.contains("$(") {
            for (from, to) in subexpression_spans(token_text) {
                let (from, to) = (t.start + from, t.start + to);
                if to - from > self.reread_left {
                    self.notes.past_budget = true;
                    subexpressions.push(Expr { span: Span { start: from, end: to }, kind: ExprKind::Unread });
                    continue;
                }
                self.reread_left -= to - from;
                if self.depth >= self.max_depth {
                    self.notes.too_deep = true;
                    subexpressions.push(Expr { span: Span { start: from, end: to }, kind: ExprKind::Unread });
                    continue;
                }
                // The subexpression's text ends at its `)`: a parser over the text up to there.
                let mut inner = Parser {
                    text: &self.text[..to],
                    pos: from + 2,
                    cached: [None; 2],
                    depth: self.depth + 1,
                    max_depth: self.max_depth,
                    reread_left: self.reread_left,
                    notes: self.notes,
                    scanned: 0,
                };
                let mut statements = Vec::new();
                inner.statement_list(&mut statements);
                // The subexpression ends at its `)`: a `}` before it is a break.
                if inner.peek(Mode::Command).kind != Kind::RParen {
                    inner.refuse();
                }
                self.reread_left = inner.reread_left;
                self.notes = inner.notes;
                self.scanned += inner.scanned;
                subexpressions
                    .push(Expr { span: Span { start: from, end: to }, kind: ExprKind::SubExpression(statements) });
            }
        }
        Expr { span: Span::of(t), kind: ExprKind::String { token: t, subexpressions } }
    }

    /// What follows a primary expression without a blank between (`CheckPostPrimaryExpressionOperators`):
    /// `.Member`, `::Member`, `.Method(…)`, `.Method{…}`, `[index]`, as one flat list.
    fn postfix(&mut self, base: Expr) -> Expr {
        let mut ops = Vec::new();
        loop {
            let here = self.here();
            let is_static = here.starts_with("::");
            if is_static || (here.starts_with('.') && !here.starts_with("..")) {
                self.pos += if is_static { 2 } else { 1 };
                let Some(name) = self.member_name() else {
                    // `MissingPropertyName`
                    self.refuse();
                    break;
                };
                // `.Method(…)` or `.Method{…}`, the bracket right after the name.
                if self.here().starts_with('(') {
                    let open = self.next(Mode::Expression);
                    let arguments = self.invoke_arguments(open);
                    ops.push(PostOp::Invoke { name, is_static, arguments });
                } else if self.here().starts_with('{') {
                    let open = self.next(Mode::Command);
                    let arguments = self
                        .braced_script_block(open)
                        .map(|b| Expr { span: b.span, kind: ExprKind::ScriptBlock(Box::new(b)) })
                        .into_iter()
                        .collect();
                    ops.push(PostOp::Invoke { name, is_static, arguments });
                } else {
                    ops.push(PostOp::Member { name });
                }
            } else if here.starts_with('[') {
                self.pos += 1;
                if self.depth >= self.max_depth {
                    self.notes.too_deep = true;
                    self.skip_index();
                    break;
                }
                self.depth += 1;
                self.skip_newlines();
                let index = self.expression(true);
                self.skip_newlines();
                if self.peek(Mode::Expression).kind == Kind::RBracket {
                    self.next(Mode::Expression);
                }
                self.leave();
                if let Some(index) = index {
                    ops.push(PostOp::Index(index));
                }
            } else {
                break;
            }
        }
        if ops.is_empty() {
            return base;
        }
        let span = Span { start: base.span.start, end: self.pos };
        Expr { span, kind: ExprKind::Postfix { base: Box::new(base), ops } }
    }

    /// `member-name`: a simple name, a string, a variable, or a group.
    fn member_name(&mut self) -> Option<Expr> {
        let t = self.peek(Mode::Expression);
        if t.start != self.pos {
            return None;
        }
        match t.kind {
            Kind::Identifier | Kind::Number => {
                self.next(Mode::Expression);
                Some(word(t))
            }
            _ => self.primary(Mode::Expression),
        }
    }

    /// A method call's arguments after `(` (`InvokeParamParenListRule`): expressions
    /// separated by commas.
    fn invoke_arguments(&mut self, _open: Token) -> Vec<Expr> {
        let mut arguments = Vec::new();
        if !self.enter() {
            return arguments;
        }
        loop {
            self.skip_newlines();
            let Some(a) = self.expression(false) else { break };
            arguments.push(a);
            self.skip_newlines();
            if self.eat(Mode::Expression, Kind::Comma).is_none() {
                break;
            }
        }
        self.close(Kind::RParen);
        self.leave();
        arguments
    }

    /// A bracket after its `[`: a type name (`[string[]]`, `[List[int]]`, `[a.b+c]`), read by
    /// counting brackets, or an attribute with its arguments (`[Parameter(Mandatory)]`,
    /// `[ValidateScript({…})]`).
    fn bracket(&mut self, open: Token) -> Expr {
        let bytes = self.text.as_bytes();
        let mut i = self.pos;
        let mut nested = 0usize;
        let mut arguments = Vec::new();
        while i < bytes.len() {
            match bytes[i] {
                b'[' => nested += 1,
                b']' if nested > 0 => nested -= 1,
                b']' => break,
                b'(' if nested == 0 => {
                    self.pos = i + 1;
                    if self.enter() {
                        arguments = self.attribute_arguments();
                        self.close(Kind::RParen);
                        self.leave();
                    }
                    i = self.pos;
                    continue;
                }
                b'\n' | b'\r' | b'{' | b'}' | b')' | b';' | b'|' => break,
                _ => {}
            }
            i += 1;
        }
        self.pos = i;
        if self.here().starts_with(']') && nested == 0 {
            self.pos += 1;
        } else {
            // `EndSquareBracketExpectedAtEndOfType`
            self.refuse();
        }
        Expr { span: Span { start: open.start, end: self.pos }, kind: ExprKind::Type { arguments } }
    }

    /// `attribute-arguments`: expressions and `Name = expression`, separated by commas.
    fn attribute_arguments(&mut self) -> Vec<Expr> {
        let mut arguments = Vec::new();
        loop {
            self.skip_newlines();
            let t = self.peek(Mode::Expression);
            if t.kind == Kind::Identifier {
                // `Name = value`, or a name alone (`Mandatory`).
                self.next(Mode::Expression);
                if self.eat(Mode::Expression, Kind::Assign).is_some() {
                    self.skip_newlines();
                    arguments.extend(self.expression(false));
                }
            } else {
                match self.expression(false) {
                    Some(a) => arguments.push(a),
                    None => break,
                }
            }
            self.skip_newlines();
            if self.eat(Mode::Expression, Kind::Comma).is_none() {
                break;
            }
        }
        arguments
    }
}

/// Whether PowerShell can assign to `target` (its semantic check of a left-hand side): a
/// variable, with casts and attributes before it or not, a member or an index of anything,
/// or a list of those.
fn assignable(target: &Expr) -> bool {
    match &target.kind {
        ExprKind::Variable(_) => true,
        ExprKind::Prefixed { casts, operand } => !casts.is_empty() && assignable(operand),
        ExprKind::Postfix { ops, .. } => matches!(ops.last(), Some(PostOp::Member { .. } | PostOp::Index(_))),
        ExprKind::Array(items) => items.iter().all(assignable),
        _ => false,
    }
}

fn word(t: Token) -> Expr {
    Expr { span: Span::of(t), kind: ExprKind::Word(t) }
}

/// The `$( … )` subexpressions an expandable string or word (its token text) runs, as byte
/// ranges of that text from `$` to `)`, each ending where the tokenizer ended it
/// (`ScanSubExpression`: parentheses counted, nothing else; a backtick or a doubled quote only
/// escapes a quote). A word's single-quoted sections expand nothing.
pub fn subexpression_spans(token: &str) -> Vec<(usize, usize)> {
    use super::lexer::{is_double_quote, is_single_quote};
    let here_string = token.starts_with('@');
    let mut spans = Vec::new();
    // Inside a word: outside quotes, in single quotes, or in double quotes.
    #[derive(PartialEq)]
    enum In {
        Word,
        Single,
        Double,
    }
    let mut state = if here_string || token.starts_with(is_double_quote) { In::Double } else { In::Word };
    let mut chars = token.char_indices().skip(if here_string {
        2
    } else if state == In::Double {
        1
    } else {
        0
    });
    let bytes = token.as_bytes();
    while let Some((i, c)) = chars.next() {
        match state {
            In::Single if is_single_quote(c) => state = In::Word,
            In::Single => {}
            _ if c == '`' => {
                chars.next();
            }
            In::Word if is_single_quote(c) => state = In::Single,
            In::Word if is_double_quote(c) => state = In::Double,
            In::Double if is_double_quote(c) && !here_string => state = In::Word,
            _ if c == '$' && bytes.get(i + 1) == Some(&b'(') => {
                let mut depth = 0usize;
                let mut end = token.len();
                let mut escaped = false;
                for (j, d) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                        continue;
                    }
                    match d {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                end = j + 1;
                                break;
                            }
                        }
                        '`' if !here_string => {
                            escaped = token[j + 1..].starts_with(is_double_quote);
                        }
                        _ => {}
                    }
                }
                spans.push((i, end));
            }
            _ => {}
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes the tokenizer goes over to parse `text`.
    fn scanned(text: &str) -> usize {
        let mut p = Parser {
            text,
            pos: 0,
            cached: [None; 2],
            depth: 0,
            max_depth: 64,
            reread_left: 4 * text.len(),
            notes: Notes::default(),
            scanned: 0,
        };
        p.script_block_body(0, None);
        p.scanned
    }

    /// The parser's work is linear in the text, whatever the text repeats: each construct
    /// (and each construct cut short), thousands of times over, costs a bounded number of
    /// scans of its bytes: a token asked for in both modes, and the strings' subexpressions
    /// read again within the reading budget (four times the text). (Two of these once made it quadratic: `!!!…` and `[int][int]…`,
    /// where skipping line breaks asked for a command-mode token, a generic token that ran to
    /// the end of the text, at every step.)
    #[test]
    fn work_is_linear_in_the_text() {
        let units = [
            "!",
            "[int]",
            "-not ",
            "a ",
            "$a.b",
            "\"$(1)\"",
            "@'\nx\n'@\n",
            "{",
            "(",
            "$(",
            "@(",
            "@{a=",
            "`",
            "'",
            "\"",
            ",",
            "|",
            ";",
            "&",
            "--% x\n",
            "#x\n",
            "<# #>",
            "=",
            "1..",
            "$a[",
            "$a = ",
            "-",
            "--",
            ".",
            "::",
            "[",
            "]",
            "icm -cn x {1}",
            "if (1) { } elseif ",
            "switch ($x) { a ",
            "foreach ($a in ",
            "function f(",
            "param(",
            "class C { ",
            "$a ? 1 : ",
            "1 + ",
            "a$(b)",
            "@\"\n$(",
            "x`\n",
            "\u{201c}",
            ":a ",
            "2>&1 ",
            "> x ",
            "trap [",
            "try { } catch [",
        ];
        let mut worst = (0.0f64, "");
        for unit in units {
            let text = unit.repeat(20_000 / unit.len().max(1) + 1);
            let ratio = scanned(&text) as f64 / text.len() as f64;
            if ratio > worst.0 {
                worst = (ratio, unit);
            }
            assert!(ratio <= 16.0, "{unit:?} repeated: {ratio:.1} scans per byte");
        }
        println!("the most scans per byte: {:.2}, for {:?}", worst.0, worst.1);
    }
}
