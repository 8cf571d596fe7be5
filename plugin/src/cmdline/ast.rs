//! The tree [`super::parser`] builds of PowerShell script text: statements, pipelines, commands
//! and expressions, after the node kinds of PowerShell's own AST (`StatementAst`,
//! `PipelineAst`, `CommandAst`, `ExpressionAst`…) but only as fine as finding commands needs.
//! Every statement that is not a pipeline or an assignment is a [`Statement::Compound`] of its
//! parts in the order PowerShell reads them (an `if`'s conditions and blocks, a `foreach`'s
//! variable, pipeline and body, a function's parameters and body...), so that one walk over
//! parts finds every place a pipeline stands.
//!
//! Chains that the input can make as long as it likes (operators, casts, member accesses,
//! pipelines, assignments) are flat lists, not nested nodes: the tree's depth is bounded by
//! the groups (`(…)`, `{…}`, `$(…)`, `@(…)`, `@{…}`, `[…]`) the parser entered, and so is the
//! stack of every walk over it, its drop included.

use super::lexer::Token;

/// Byte offsets `start..end` of the script text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn of(token: Token) -> Span {
        Span { start: token.start, end: token.end }
    }

    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        &text[self.start..self.end]
    }
}

#[derive(Debug)]
pub struct ScriptBlock {
    pub span: Span,
    /// `param(…)` with its attributes, and `using` statements: read before the body.
    pub header: Vec<Part>,
    /// The statements of the body, or of each named block (`begin`, `process`, `end`…) in turn.
    pub body: Vec<Statement>,
}

#[derive(Debug)]
pub enum Statement {
    /// A pipeline chain: pipelines joined by `&&` and `||` (and each maybe run in the
    /// background with `&`), read in order.
    Pipelines(Vec<Pipeline>),
    /// `target = value`, `$a = $b = value`: the targets left to right, and the statement whose
    /// value they get (`-=`, `+=`… too; `[int]$x`, `$a.b`, `$a[0]`, `$a, $b` as targets).
    Assignment { targets: Vec<Expr>, value: Box<Statement> },
    /// Every other statement, as its parts.
    Compound(Vec<Part>),
}

/// A part of a compound statement.
#[derive(Debug)]
pub enum Part {
    /// A statement block (`{ … }` of an `if`, a loop, `try`…), or a header that holds
    /// statements (`for (init; condition; step)`).
    Statements(Vec<Statement>),
    /// A pipeline in a header (`if (…)`, `while (…)`, `foreach (… in …)`, `switch (…)`).
    Statement(Statement),
    /// An expression: a `foreach` variable, a switch clause's condition, an attribute, a
    /// parameter's default value, a class property's initial value.
    Expr(Expr),
    /// A function's or a method's body, with its parameters.
    ScriptBlock(ScriptBlock),
}

#[derive(Debug)]
pub struct Pipeline {
    pub elements: Vec<Element>,
}

#[derive(Debug)]
pub enum Element {
    /// An expression in the first position (`'text' | iex`), with its redirections' targets.
    Expression {
        expr: Expr,
        redirections: Vec<Expr>,
    },
    Command(Command),
}

#[derive(Debug)]
pub struct Command {
    /// `&` or `.` before the name.
    pub invocation: Option<Token>,
    /// The name first, then the arguments and parameters as written.
    pub elements: Vec<CommandElement>,
    /// The targets of file redirections (`> $(…)`).
    pub redirections: Vec<Expr>,
}

#[derive(Debug)]
pub enum CommandElement {
    /// `-Name`, or `-Name:value` with its value.
    Parameter { token: Token, argument: Option<Expr> },
    /// An argument: a bare word, a string, a variable, a script block, `a,b`...
    Argument(Expr),
    /// `--`: what follows is positional, `-Name` included.
    DashDash(Token),
    /// The text after `--%`, handed on as written.
    Verbatim(Token),
}

#[derive(Debug)]
pub struct Expr {
    pub span: Span,
    pub kind: ExprKind,
}

#[derive(Debug)]
pub enum ExprKind {
    /// A bare word (a generic token in command mode, or a keyword or operator written where a
    /// command argument stands).
    Word(Token),
    /// A string (literal or expandable, here-strings too), with the subexpressions it runs
    /// when it is expanded (an expandable word's, `a$(b)`, too).
    String {
        token: Token,
        subexpressions: Vec<Expr>,
    },
    Variable(Token),
    Number,
    /// `( pipeline-chain )`: an assignment, or pipelines.
    Paren(Box<Statement>),
    /// `$( … )` and `@( … )`.
    SubExpression(Vec<Statement>),
    ScriptBlock(Box<ScriptBlock>),
    /// `@{ key = statement; … }`
    Hash(Vec<HashEntry>),
    /// `[Type]`, or an attribute `[Name(arguments)]` with its arguments.
    Type {
        arguments: Vec<Expr>,
    },
    /// An operand after unary operators and casts (`-not`, `!`, `,`, `++`, `[int]`…): the
    /// casts and attributes (which may hold arguments) are kept, the operators run nothing.
    Prefixed {
        casts: Vec<Expr>,
        operand: Box<Expr>,
    },
    /// A primary expression and what follows it without a blank: `.Member`, `::Member`,
    /// `.Method(arguments)`, `[index]`.
    Postfix {
        base: Box<Expr>,
        ops: Vec<PostOp>,
    },
    /// Operands joined by binary operators (the ternary's too): the operators run nothing.
    Binary(Vec<Expr>),
    /// `a, b, c`
    Array(Vec<Expr>),
    /// A group nested past the parser's depth limit, or past the reading budget: not read.
    Unread,
    /// A unary operator or a cast whose operand is missing, and other broken input.
    Error,
}

#[derive(Debug)]
pub struct HashEntry {
    pub key: Expr,
    pub value: Statement,
    /// Where the value is written.
    pub value_span: Span,
}

#[derive(Debug)]
pub enum PostOp {
    Member { name: Expr },
    Invoke { name: Expr, is_static: bool, arguments: Vec<Expr> },
    Index(Expr),
}

/// Calls `f` with every command in the tree, in the order they stand: in statements, in
/// every part of a compound statement, and in every expression that holds statements
/// (strings' subexpressions included). A listing for tests that compare parsers; the
/// analysis walks the tree its own way, in the order PowerShell runs it.
pub fn each_command(block: &ScriptBlock, f: &mut impl FnMut(&Command)) {
    block.header.iter().for_each(|p| part_commands(p, f));
    block.body.iter().for_each(|s| statement_commands(s, f));
}

fn part_commands(part: &Part, f: &mut impl FnMut(&Command)) {
    match part {
        Part::Statements(list) => list.iter().for_each(|s| statement_commands(s, f)),
        Part::Statement(s) => statement_commands(s, f),
        Part::Expr(e) => expr_commands(e, f),
        Part::ScriptBlock(b) => each_command(b, f),
    }
}

fn statement_commands(statement: &Statement, f: &mut impl FnMut(&Command)) {
    match statement {
        Statement::Pipelines(pipelines) => {
            for element in pipelines.iter().flat_map(|p| &p.elements) {
                match element {
                    Element::Expression { expr, redirections } => {
                        expr_commands(expr, f);
                        redirections.iter().for_each(|r| expr_commands(r, f));
                    }
                    Element::Command(c) => {
                        f(c);
                        for e in &c.elements {
                            match e {
                                CommandElement::Argument(a) | CommandElement::Parameter { argument: Some(a), .. } => {
                                    expr_commands(a, f)
                                }
                                _ => {}
                            }
                        }
                        c.redirections.iter().for_each(|r| expr_commands(r, f));
                    }
                }
            }
        }
        Statement::Assignment { targets, value } => {
            targets.iter().for_each(|t| expr_commands(t, f));
            statement_commands(value, f);
        }
        Statement::Compound(parts) => parts.iter().for_each(|p| part_commands(p, f)),
    }
}

fn expr_commands(e: &Expr, f: &mut impl FnMut(&Command)) {
    match &e.kind {
        ExprKind::Word(_) | ExprKind::Variable(_) | ExprKind::Number | ExprKind::Unread | ExprKind::Error => {}
        ExprKind::String { subexpressions: list, .. }
        | ExprKind::Type { arguments: list }
        | ExprKind::Binary(list)
        | ExprKind::Array(list) => list.iter().for_each(|x| expr_commands(x, f)),
        ExprKind::Paren(s) => statement_commands(s, f),
        ExprKind::SubExpression(list) => list.iter().for_each(|s| statement_commands(s, f)),
        ExprKind::ScriptBlock(b) => each_command(b, f),
        ExprKind::Hash(entries) => {
            for entry in entries {
                expr_commands(&entry.key, f);
                statement_commands(&entry.value, f);
            }
        }
        ExprKind::Prefixed { casts, operand } => {
            casts.iter().for_each(|c| expr_commands(c, f));
            expr_commands(operand, f);
        }
        ExprKind::Postfix { base, ops } => {
            expr_commands(base, f);
            for op in ops {
                match op {
                    PostOp::Member { name } => expr_commands(name, f),
                    PostOp::Invoke { name, arguments, .. } => {
                        expr_commands(name, f);
                        arguments.iter().for_each(|a| expr_commands(a, f));
                    }
                    PostOp::Index(i) => expr_commands(i, f),
                }
            }
        }
    }
}
