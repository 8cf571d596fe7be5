//! PowerShell's tokenizer, after `tokenizer.cs` in PowerShell/PowerShell: one token at a time
//! from a byte offset, in the mode the parser asks for. In command mode a bare word is a
//! generic token that runs to a character that forces a new token (`GenericToken`), keywords
//! are recognised and most operators are only operators when a blank follows them; in
//! expression mode words are identifiers and `-eq`, `-not`, `..`, `=`... are operators. The
//! parser asks again in the other mode where PowerShell's parser would rescan
//! (`SetTokenizerMode`), so scanning is stateless: `next(text, at, mode)`.
//!
//! Tokens are spans and kinds only; what a token means (a string's value, a parameter's
//! name, a word with its backticks resolved) is read from its text when the analyser asks
//! ([`word_value`], [`string_value`], [`parameter_name`], [`variable_name`]), so that the
//! tokens of text no rule looks at cost no allocation.

/// Which of the tokenizer's modes to scan in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Command,
    Expression,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    End,
    NewLine,
    Semi,
    Comma,
    LParen,
    RParen,
    LCurly,
    RCurly,
    LBracket,
    RBracket,
    /// `@(`
    AtParen,
    /// `@{`
    AtCurly,
    /// `$(`
    DollarParen,
    Pipe,
    OrOr,
    AndAnd,
    Ampersand,
    Dot,
    ColonColon,
    /// `=` and the compound assignments (`+=`, `-=`, `*=`, `/=`, `%=`, `??=`).
    Assign,
    /// An operator that is only binary (`-eq`, `-and`, `*`, `..`, `-f`, `??`...).
    Binary,
    /// `+`, `-`, `-split`, `-join`: binary, or unary before an operand.
    PlusMinus,
    /// `!`, `-not`, `-bnot`: only unary.
    Unary,
    /// `++` and `--`.
    Increment,
    QuestionMark,
    Colon,
    Variable,
    /// `@name`
    Splat,
    Number,
    /// `'…'` and `@'…'@`: no expansion.
    StringLiteral,
    /// `"…"` and `@"…"@`: variables and subexpressions are expanded.
    StringExpandable,
    /// A bare word in command mode (`Invoke-Command`, `FS02`, `C:\x`, `a$(b)`).
    Generic,
    /// A word in expression mode (a member name, a command name before it is rescanned).
    Identifier,
    Keyword(Keyword),
    /// `-Name` or `-Name:`.
    Parameter {
        colon: bool,
    },
    /// `:name` before a loop.
    Label,
    /// `>`, `>>`, `2>`, `2>&1`, `*>`…; `<` (which PowerShell refuses, but scans).
    Redirection,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyword {
    If,
    ElseIf,
    Else,
    Switch,
    Foreach,
    For,
    While,
    Until,
    Do,
    Try,
    Catch,
    Finally,
    Trap,
    Data,
    Return,
    Continue,
    Break,
    Exit,
    Throw,
    Begin,
    Process,
    End,
    Clean,
    DynamicParam,
    Function,
    Filter,
    Workflow,
    Param,
    Class,
    Enum,
    Using,
    Parallel,
    Sequence,
    Configuration,
    InlineScript,
    In,
    /// Reserved or only meaningful inside a class (`from`, `define`, `var`, `static`, `hidden`…).
    Other,
}

/// PowerShell's keyword table (`s_keywordText`), matched without case.
fn keyword(word: &str) -> Option<Keyword> {
    use Keyword::*;
    const TABLE: &[(&str, Keyword)] = &[
        ("elseif", ElseIf),
        ("if", If),
        ("else", Else),
        ("switch", Switch),
        ("foreach", Foreach),
        ("from", Other),
        ("in", In),
        ("for", For),
        ("while", While),
        ("until", Until),
        ("do", Do),
        ("try", Try),
        ("catch", Catch),
        ("finally", Finally),
        ("trap", Trap),
        ("data", Data),
        ("return", Return),
        ("continue", Continue),
        ("break", Break),
        ("exit", Exit),
        ("throw", Throw),
        ("begin", Begin),
        ("process", Process),
        ("end", End),
        ("dynamicparam", DynamicParam),
        ("function", Function),
        ("filter", Filter),
        ("param", Param),
        ("class", Class),
        ("define", Other),
        ("var", Other),
        ("using", Using),
        ("workflow", Workflow),
        ("parallel", Parallel),
        ("sequence", Sequence),
        ("inlinescript", InlineScript),
        ("configuration", Configuration),
        ("public", Other),
        ("private", Other),
        ("static", Other),
        ("interface", Other),
        ("enum", Enum),
        ("namespace", Other),
        ("module", Other),
        ("type", Other),
        ("assembly", Other),
        ("command", Other),
        ("hidden", Other),
        ("base", Other),
        ("default", Other),
        ("clean", Clean),
    ];
    if word.len() > 13 {
        return None;
    }
    TABLE.iter().find(|(w, _)| w.eq_ignore_ascii_case(word)).map(|(_, k)| *k)
}

/// The operators spelled `-name` (`s_operatorText`), as the parser needs to tell them apart.
fn dash_operator(name: &str) -> Option<Kind> {
    const BINARY: &[&str] = &[
        "eq",
        "ieq",
        "ceq",
        "ne",
        "ine",
        "cne",
        "ge",
        "ige",
        "cge",
        "gt",
        "igt",
        "cgt",
        "lt",
        "ilt",
        "clt",
        "le",
        "ile",
        "cle",
        "like",
        "ilike",
        "clike",
        "notlike",
        "inotlike",
        "cnotlike",
        "match",
        "imatch",
        "cmatch",
        "notmatch",
        "inotmatch",
        "cnotmatch",
        "replace",
        "ireplace",
        "creplace",
        "contains",
        "icontains",
        "ccontains",
        "notcontains",
        "inotcontains",
        "cnotcontains",
        "in",
        "iin",
        "cin",
        "notin",
        "inotin",
        "cnotin",
        "isplit",
        "csplit",
        "isnot",
        "is",
        "as",
        "f",
        "and",
        "band",
        "or",
        "bor",
        "xor",
        "bxor",
        "shl",
        "shr",
    ];
    if name.len() > 12 {
        return None;
    }
    let is = |w: &str| w.eq_ignore_ascii_case(name);
    if is("not") || is("bnot") {
        Some(Kind::Unary)
    } else if is("split") || is("join") {
        Some(Kind::PlusMinus)
    } else if BINARY.iter().any(|w| is(w)) {
        Some(Kind::Binary)
    } else {
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        &text[self.start..self.end]
    }
}

pub fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2013}' | '\u{2014}' | '\u{2015}')
}

pub fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}')
}

pub fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201c}' | '\u{201d}' | '\u{201e}')
}

fn is_newline(c: char) -> bool {
    c == '\n' || c == '\r'
}

/// PowerShell's `IsWhitespace`: blanks, not line breaks.
fn is_blank(c: char) -> bool {
    match c {
        ' ' | '\t' | '\x0b' | '\x0c' | '\u{a0}' | '\u{85}' => true,
        c if (c as u32) < 0x100 => false,
        c => c.is_whitespace() && !is_newline(c),
    }
}

/// `ForceStartNewToken`: what ends a generic token, whatever the mode.
fn forces_new_token(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => matches!(c, '\0' | '\n' | '\r' | '&' | '(' | ')' | ',' | ';' | '{' | '|' | '}') || is_blank(c),
    }
}

/// `ForceStartNewTokenAfterNumber`: what ends a number in expression mode.
fn ends_number(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => {
            forces_new_token(Some(c))
                || matches!(c, '!' | '#' | '%' | '*' | '+' | '-' | '.' | '/' | '<' | '=' | '>' | ']')
                || is_dash(c)
        }
    }
}

fn is_identifier_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_identifier_follow(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// `IsVariableStart`: what may follow `$` in an unbraced variable name.
fn is_variable_start(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '?' | '^' | ':')
}

/// What a backtick makes of the character after it (`Backtick()`).
pub fn backtick_char(c: char) -> char {
    match c {
        '0' => '\0',
        'a' => '\x07',
        'b' => '\x08',
        'e' => '\x1b',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        other => other,
    }
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    mode: Mode,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        // Scripts are mostly ASCII: a byte is a character, without decoding.
        match *self.text.as_bytes().get(self.pos)? {
            b if b < 0x80 => Some(b as char),
            _ => self.text[self.pos..].chars().next(),
        }
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.text[self.pos..].chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            return true;
        }
        false
    }

    fn command_mode(&self) -> bool {
        self.mode == Mode::Command
    }

    /// `CheckOperatorInCommandMode`: in command mode an operator glued to what follows is the
    /// start of a generic token (`=x`, `+x`, `--%`).
    fn operator(&mut self, start: usize, kind: Kind) -> Kind {
        if self.command_mode() && !forces_new_token(self.peek()) {
            return self.generic(start);
        }
        kind
    }

    /// Skips blanks, comments and line continuations; false at the end of the text.
    fn skip_trivia(&mut self) {
        loop {
            // Spaces and tabs, byte by byte: the usual trivia.
            let bytes = self.text.as_bytes();
            while matches!(bytes.get(self.pos), Some(b' ' | b'\t')) {
                self.pos += 1;
            }
            match self.peek() {
                Some(c) if is_blank(c) => {
                    self.bump();
                }
                Some('`') => match self.peek_at(1) {
                    Some('\r') => {
                        self.pos += 2;
                        self.eat('\n');
                    }
                    Some('\n') => self.pos += 2,
                    Some(c) if is_blank(c) => {
                        self.bump();
                    }
                    _ => return,
                },
                Some('#') => self.line_comment(),
                Some('<') if self.peek_at(1) == Some('#') => self.block_comment(),
                _ => return,
            }
        }
    }

    fn line_comment(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.find(['\n', '\r']).unwrap_or(rest.len());
    }

    fn block_comment(&mut self) {
        let after = self.pos + 2;
        self.pos = match self.text[after..].find("#>") {
            Some(i) => after + i + 2,
            None => self.text.len(),
        };
    }

    fn scan(&mut self) -> Kind {
        let start = self.pos;
        let Some(c) = self.bump() else { return Kind::End };
        match c {
            c if is_single_quote(c) => {
                self.single_quoted();
                Kind::StringLiteral
            }
            c if is_double_quote(c) => {
                self.double_quoted();
                Kind::StringExpandable
            }
            '@' => match self.peek() {
                Some('{') => {
                    self.bump();
                    Kind::AtCurly
                }
                Some('(') => {
                    self.bump();
                    Kind::AtParen
                }
                Some(q) if is_single_quote(q) || is_double_quote(q) => {
                    self.bump();
                    self.here_string(q);
                    if is_single_quote(q) { Kind::StringLiteral } else { Kind::StringExpandable }
                }
                Some(v) if is_variable_start(v) => {
                    self.variable_name();
                    Kind::Splat
                }
                _ => Kind::Unknown,
            },
            '\n' => Kind::NewLine,
            '\r' => {
                self.eat('\n');
                Kind::NewLine
            }
            '`' => {
                // An escaped character starts a generic token (`` `icm ``).
                self.bump();
                self.generic(start)
            }
            '=' => self.operator(start, Kind::Assign),
            '+' => {
                if self.eat('+') {
                    self.operator(start, Kind::Increment)
                } else if self.eat('=') {
                    self.operator(start, Kind::Assign)
                } else {
                    self.operator(start, Kind::PlusMinus)
                }
            }
            c if is_dash(c) => match self.peek() {
                Some(n) if is_dash(n) => {
                    self.bump();
                    self.operator(start, Kind::Increment)
                }
                Some('=') => {
                    self.bump();
                    self.operator(start, Kind::Assign)
                }
                Some(n) if n.is_alphabetic() || n == '_' || n == '?' => self.parameter(start),
                _ => self.operator(start, Kind::PlusMinus),
            },
            '*' => {
                if self.eat('=') {
                    return self.operator(start, Kind::Assign);
                }
                if self.eat('>') {
                    if !self.eat('>') && self.peek() == Some('&') && self.peek_at(1) == Some('1') {
                        self.pos += 2;
                    }
                    return Kind::Redirection;
                }
                self.operator(start, Kind::Binary)
            }
            '/' | '%' => {
                if self.eat('=') {
                    return self.operator(start, Kind::Assign);
                }
                self.operator(start, Kind::Binary)
            }
            '$' => {
                if self.eat('(') {
                    return Kind::DollarParen;
                }
                self.variable(start)
            }
            '<' => Kind::Redirection,
            '>' => {
                self.eat('>');
                Kind::Redirection
            }
            '(' => Kind::LParen,
            ')' => Kind::RParen,
            '{' => Kind::LCurly,
            '}' => Kind::RCurly,
            ';' => Kind::Semi,
            ',' => Kind::Comma,
            ']' => Kind::RBracket,
            '[' => {
                if self.command_mode() && !forces_new_token(self.peek()) {
                    return self.generic(start);
                }
                Kind::LBracket
            }
            '.' => self.dot(start),
            '&' => {
                if self.eat('&') {
                    return Kind::AndAnd;
                }
                Kind::Ampersand
            }
            '|' => {
                if self.eat('|') {
                    return Kind::OrOr;
                }
                Kind::Pipe
            }
            '!' => {
                let next = self.peek();
                if (self.command_mode() && !forces_new_token(next))
                    || (!self.command_mode() && next.is_some_and(is_identifier_start))
                {
                    return self.generic(start);
                }
                Kind::Unary
            }
            ':' => {
                if self.eat(':') {
                    if self.command_mode() && !forces_new_token(self.peek()) {
                        return self.generic(start);
                    }
                    return Kind::ColonColon;
                }
                if self.command_mode() {
                    return self.label(start);
                }
                Kind::Colon
            }
            '?' if !self.command_mode() => {
                if self.eat('?') {
                    if self.eat('=') {
                        return Kind::Assign;
                    }
                    return Kind::Binary;
                }
                Kind::QuestionMark
            }
            '1'..='6' if self.peek() == Some('>') => {
                self.bump();
                if !self.eat('>') && self.peek() == Some('&') && matches!(self.peek_at(1), Some('1' | '2')) {
                    self.pos += 2;
                }
                Kind::Redirection
            }
            '0'..='9' => self.number(start),
            c if is_identifier_start(c) => self.identifier(start),
            _ => self.generic(start),
        }
    }

    /// `ScanDot`: `..`, a number, a dot-sourcing `.`, or a generic token (`.\script.ps1`).
    fn dot(&mut self, start: usize) -> Kind {
        if self.eat('.') {
            if self.command_mode() && !forces_new_token(self.peek()) {
                self.pos = start + 1;
                return self.generic(start);
            }
            return Kind::Binary;
        }
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return self.number(start);
        }
        let next = self.peek();
        if self.command_mode()
            && !forces_new_token(next)
            && !matches!(next, Some('$'))
            && !next.is_some_and(|c| is_single_quote(c) || is_double_quote(c))
        {
            return self.generic(start);
        }
        Kind::Dot
    }

    /// `ScanLabel` (command mode, after `:`).
    fn label(&mut self, start: usize) -> Kind {
        if !self.peek().is_some_and(is_identifier_start) {
            return self.generic(start);
        }
        while self.peek().is_some_and(is_identifier_follow) {
            self.bump();
        }
        if !forces_new_token(self.peek()) {
            return self.generic(start);
        }
        Kind::Label
    }

    /// `ScanIdentifier`: a keyword or an identifier, or in command mode a generic token when
    /// the word goes on (`Invoke-Command`).
    fn identifier(&mut self, start: usize) -> Kind {
        loop {
            match self.text.as_bytes().get(self.pos) {
                Some(b) if b.is_ascii_alphanumeric() || *b == b'_' => self.pos += 1,
                Some(b) if *b < 0x80 => break,
                None => break,
                Some(_) => match self.peek() {
                    Some(c) if is_identifier_follow(c) => self.pos += c.len_utf8(),
                    _ => break,
                },
            }
        }
        if !self.command_mode() {
            return Kind::Identifier;
        }
        if !forces_new_token(self.peek()) {
            return self.generic(start);
        }
        match keyword(&self.text[start..self.pos]) {
            Some(k) => Kind::Keyword(k),
            None => Kind::Identifier,
        }
    }

    /// `ScanNumber`, as far as telling a number from a word needs: digits, a fraction, an
    /// exponent, a hex or binary prefix, type suffixes and multipliers. What does not end
    /// where a number ends is a generic token (`7z`, `1.2.3.4`).
    fn number(&mut self, start: usize) -> Kind {
        let prefix = match (self.text.as_bytes()[start], self.peek()) {
            (b'0', Some('x' | 'X')) => Some(16),
            (b'0', Some('b' | 'B')) => Some(2),
            _ => None,
        };
        let digits = |s: &mut Self, radix: u32| {
            while s.peek().is_some_and(|c| c.is_digit(radix)) {
                s.bump();
            }
        };
        match prefix {
            Some(radix) => {
                self.bump();
                digits(self, radix);
            }
            None => {
                digits(self, 10);
                if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                    digits(self, 10);
                }
                if matches!(self.peek(), Some('e' | 'E'))
                    && self.peek_at(1).is_some_and(|c| c.is_ascii_digit() || c == '+' || is_dash(c))
                {
                    self.bump();
                    self.bump();
                    digits(self, 10);
                }
            }
        }
        // One type suffix (`1l`, `1d`, `1n`, `1s`, `1y`, `1u`, `1ul`, `0x10uy`…), then a
        // multiplier (`1kb`…).
        match self.peek().map(|c| c.to_ascii_lowercase()) {
            Some('u') => {
                self.bump();
                if self.peek().is_some_and(|c| matches!(c.to_ascii_lowercase(), 'l' | 's' | 'y')) {
                    self.bump();
                }
            }
            Some('l' | 'n' | 's' | 'y') => {
                self.bump();
            }
            Some('d') if prefix.is_none() => {
                self.bump();
            }
            _ => {}
        }
        let rest = &self.text.as_bytes()[self.pos..];
        if rest.len() >= 2
            && matches!(rest[0].to_ascii_lowercase(), b'k' | b'm' | b'g' | b't' | b'p')
            && rest[1].eq_ignore_ascii_case(&b'b')
        {
            self.pos += 2;
        }
        let next = self.peek();
        let ends = if self.command_mode() { forces_new_token(next) } else { ends_number(next) };
        if !ends {
            self.pos = start;
            return self.generic(start);
        }
        Kind::Number
    }

    /// `ScanParameter`: `-Name`, `-Name:`, or in expression mode an operator. In command mode
    /// a quote makes the whole a generic token (`-"x"`).
    fn parameter(&mut self, start: usize) -> Kind {
        let name_start = self.pos;
        let mut colon = false;
        while let Some(c) = self.peek() {
            if is_blank(c)
                || matches!(c, '{' | '}' | '(' | ')' | ';' | ',' | '|' | '&' | '.' | '[' | '\r' | '\n' | '\0')
            {
                break;
            }
            if c == ':' {
                if self.command_mode() {
                    self.bump();
                }
                colon = true;
                break;
            }
            if is_single_quote(c) || is_double_quote(c) {
                if self.command_mode() {
                    return self.generic(start);
                }
                break;
            }
            if !self.command_mode() && !c.is_ascii_alphabetic() {
                break;
            }
            self.bump();
        }
        let name_end = if colon && self.command_mode() { self.pos - 1 } else { self.pos };
        if !self.command_mode()
            && let Some(op) = dash_operator(&self.text[name_start..name_end])
        {
            return op;
        }
        Kind::Parameter { colon: colon && self.command_mode() }
    }

    /// `ScanVariable` after `$`: `$name`, `$scope:name`, `${any name}`, `$$`, `$?`, `$^`; in
    /// command mode a variable glued to more text is a generic token (`$a+b`).
    fn variable(&mut self, start: usize) -> Kind {
        if self.eat('{') {
            self.braced_variable_name();
            if self.command_mode() {
                let next = self.peek();
                if !forces_new_token(next) && !matches!(next, Some('.' | '[')) {
                    return self.generic(start);
                }
            }
            return Kind::Variable;
        }
        match self.peek() {
            Some(c) if is_variable_start(c) => {}
            _ => return self.generic(start),
        }
        self.variable_name();
        if self.command_mode() {
            let next = self.peek();
            if !forces_new_token(next) && !matches!(next, Some('.' | '[' | '=')) {
                return self.generic(start);
            }
        }
        Kind::Variable
    }

    /// An unbraced variable name after `$` or `@`.
    fn variable_name(&mut self) {
        let first = self.bump();
        if matches!(first, Some('$' | '?' | '^')) {
            return;
        }
        while let Some(c) = self.peek() {
            let scope = c == ':' && self.peek_at(1) != Some(':');
            if !(c.is_alphanumeric() || c == '_' || c == '?' || scope) {
                break;
            }
            self.bump();
        }
    }

    fn braced_variable_name(&mut self) {
        while let Some(c) = self.bump() {
            match c {
                '}' => return,
                '`' => {
                    self.bump();
                }
                _ => {}
            }
        }
    }

    fn single_quoted(&mut self) {
        while let Some(c) = self.bump() {
            if is_single_quote(c) {
                if self.peek().is_some_and(is_single_quote) {
                    self.bump();
                    continue;
                }
                return;
            }
        }
    }

    /// A double-quoted string after its opening quote (`ScanStringExpandable`), or the body
    /// of one inside a generic token. A `$(` inside is scanned by counting parentheses only,
    /// as `ScanSubExpression` does (a `)` in a string inside it counts too).
    fn double_quoted(&mut self) {
        while let Some(c) = self.bump() {
            match c {
                c if is_double_quote(c) => {
                    if self.peek().is_some_and(is_double_quote) {
                        self.bump();
                        continue;
                    }
                    return;
                }
                '`' => {
                    self.bump();
                }
                '$' if self.peek() == Some('(') => {
                    self.bump();
                    self.subexpression_body(false);
                }
                '$' if self.peek() == Some('{') => {
                    self.bump();
                    self.braced_variable_name();
                }
                _ => {}
            }
        }
    }

    /// The rest of a `$(` inside a string or a word, to its closing parenthesis.
    fn subexpression_body(&mut self, here_string: bool) {
        let mut depth = 1usize;
        while let Some(c) = self.bump() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                // A backtick or a doubled quote escapes a quote (and only a quote).
                c if (c == '`' || is_double_quote(c)) && !here_string && self.peek().is_some_and(is_double_quote) => {
                    self.bump();
                }
                _ => {}
            }
        }
    }

    /// A here-string after `@'` or `@"`: its header line, then everything up to a line that
    /// starts with the closing quote and `@`.
    fn here_string(&mut self, quote: char) {
        let expandable = is_double_quote(quote);
        let closes = |c: char| if expandable { is_double_quote(c) } else { is_single_quote(c) };
        // The rest of the header line (only blanks belong there).
        let rest = &self.text[self.pos..];
        let Some(eol) = rest.find('\n') else {
            self.pos = self.text.len();
            return;
        };
        self.pos += eol + 1;
        loop {
            let line_start = self.pos;
            let mut chars = self.text[line_start..].char_indices();
            if let Some((_, c)) = chars.next()
                && closes(c)
                && let Some((i, '@')) = chars.next()
            {
                self.pos = line_start + i + 1;
                return;
            }
            if expandable {
                // Subexpressions may span lines; scan this line's characters as a string's.
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                    if c == '`' {
                        self.bump();
                    } else if c == '$' && self.peek() == Some('(') {
                        self.bump();
                        self.subexpression_body(true);
                    }
                }
            } else {
                let rest = &self.text[self.pos..];
                self.pos += rest.find('\n').unwrap_or(rest.len());
            }
            if !self.eat('\n') {
                self.pos = self.text.len();
                return;
            }
        }
    }

    /// `ScanGenericToken` from `start`: a bare word, to a character that forces a new token,
    /// taking quoted sections, backtick escapes, variables and subexpressions inside it whole.
    fn generic(&mut self, start: usize) -> Kind {
        if self.pos == start {
            self.bump();
        }
        loop {
            // The ASCII bytes that neither end the token nor open anything in it, in one run.
            let bytes = self.text.as_bytes();
            while let Some(&b) = bytes.get(self.pos) {
                let plain = b.is_ascii_graphic()
                    && !matches!(b, b'&' | b'(' | b')' | b',' | b';' | b'{' | b'|' | b'}' | b'`' | b'\'' | b'"' | b'$');
                if !plain {
                    break;
                }
                self.pos += 1;
            }
            if forces_new_token(self.peek()) {
                break;
            }
            let c = self.bump().expect("not at the end");
            match c {
                '`' => {
                    self.bump();
                }
                c if is_single_quote(c) => self.single_quoted(),
                c if is_double_quote(c) => self.double_quoted(),
                '$' if self.peek() == Some('(') => {
                    self.bump();
                    self.subexpression_body(false);
                }
                '$' if self.peek() == Some('{') => {
                    self.bump();
                    self.braced_variable_name();
                }
                _ => {}
            }
        }
        Kind::Generic
    }
}

/// The next token at or after byte `at` of `text`, scanned in `mode`, and what it skipped
/// before it (blanks, comments, line continuations) ends at `token.start`.
pub fn next(text: &str, at: usize, mode: Mode) -> Token {
    let mut s = Scanner { text, pos: at, mode };
    s.skip_trivia();
    let start = s.pos;
    let kind = s.scan();
    Token { kind, start, end: s.pos }
}

/// Where the line breaks (and, with `semis`, the `;`) at `at` end, past the blanks and
/// comments between them; `at` when none is there. Cheaper than asking for the next token:
/// in command mode that could be a long generic token, scanned again at every step of a loop.
pub fn after_newlines(text: &str, at: usize, semis: bool) -> usize {
    let mut s = Scanner { text, pos: at, mode: Mode::Command };
    let mut end = at;
    loop {
        s.skip_trivia();
        match s.peek() {
            Some('\n') => s.pos += 1,
            Some('\r') => {
                s.pos += 1;
                s.eat('\n');
            }
            Some(';') if semis => s.pos += 1,
            _ => return end,
        }
        end = s.pos;
    }
}

/// After `--%`: the rest of the line as PowerShell hands it on (`GetVerbatimCommandArgument`):
/// up to a line break, or a `|` or `&&` outside double quotes. The token spans the text.
pub fn verbatim(text: &str, at: usize) -> Token {
    let mut s = Scanner { text, pos: at, mode: Mode::Command };
    while s.peek().is_some_and(is_blank) {
        s.bump();
    }
    let start = s.pos;
    let mut in_quotes = false;
    while let Some(c) = s.peek() {
        if is_newline(c) {
            break;
        }
        if is_double_quote(c) {
            in_quotes = !in_quotes;
        } else if !in_quotes && (c == '|' || (c == '&' && s.peek_at(1) == Some('&'))) {
            break;
        }
        s.bump();
    }
    Token { kind: Kind::Generic, start, end: s.pos }
}

/// A word's meaning: a generic token with its backtick escapes resolved and its quoted
/// sections unquoted (`Invoke-Comm'and'`, `` I`nvoke-Command ``), whether it held a backtick
/// escape, and whether part of it was quoted.
pub fn word_value(word: &str) -> (String, bool, bool) {
    let mut value = String::with_capacity(word.len());
    let (mut backtick, mut quoted) = (false, false);
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                backtick = true;
                if let Some(n) = chars.next() {
                    value.push(backtick_char(n));
                }
            }
            c if is_single_quote(c) => {
                quoted = true;
                while let Some(c) = chars.next() {
                    if is_single_quote(c) {
                        if chars.peek().copied().is_some_and(is_single_quote) {
                            value.push(chars.next().expect("peeked"));
                            continue;
                        }
                        break;
                    }
                    value.push(c);
                }
            }
            c if is_double_quote(c) => {
                quoted = true;
                backtick |= double_quoted_value(&mut chars, &mut value);
            }
            c => value.push(c),
        }
    }
    (value, backtick, quoted)
}

/// The characters of a double-quoted section after its opening quote, appended with escapes
/// resolved; whether a backtick escape was among them.
fn double_quoted_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, value: &mut String) -> bool {
    let mut backtick = false;
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                backtick = true;
                if let Some(n) = chars.next() {
                    value.push(backtick_char(n));
                }
            }
            c if is_double_quote(c) => {
                if chars.peek().copied().is_some_and(is_double_quote) {
                    value.push(chars.next().expect("peeked"));
                    continue;
                }
                break;
            }
            c => value.push(c),
        }
    }
    backtick
}

/// A string token's value (`'…'`, `"…"`, `@'…'@`, `@"…"@`): quotes removed, escapes resolved
/// (an expandable string's variables and subexpressions are left as written), and whether a
/// backtick escape was resolved.
pub fn string_value(token: &str) -> (String, bool) {
    if let Some(here) = token.strip_prefix('@') {
        let quote = here.chars().next().unwrap_or('\'');
        let after_header = here.find('\n').map_or("", |i| &here[i + 1..]);
        // The closing line is the last one when it is the quote and `@` alone.
        let last_line = after_header.rfind('\n').map_or(after_header, |i| &after_header[i + 1..]);
        let closed = last_line.chars().next().is_some_and(|c| is_single_quote(c) || is_double_quote(c))
            && last_line[last_line.chars().next().map_or(0, char::len_utf8)..] == *"@";
        let body = match (closed, after_header.rfind('\n')) {
            (false, _) => after_header,
            (true, Some(i)) => &after_header[..i],
            (true, None) => "",
        };
        let body = body.strip_suffix('\r').unwrap_or(body);
        if is_single_quote(quote) {
            return (body.to_string(), false);
        }
        let mut value = String::with_capacity(body.len());
        let mut backtick = false;
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c == '`' {
                backtick = true;
                if let Some(n) = chars.next() {
                    value.push(backtick_char(n));
                }
            } else {
                value.push(c);
            }
        }
        return (value, backtick);
    }
    let mut chars = token.chars().peekable();
    let Some(open) = chars.next() else { return (String::new(), false) };
    let mut value = String::with_capacity(token.len());
    if is_double_quote(open) {
        let backtick = double_quoted_value(&mut chars, &mut value);
        return (value, backtick);
    }
    while let Some(c) = chars.next() {
        if is_single_quote(c) {
            if chars.peek().copied().is_some_and(is_single_quote) {
                value.push(chars.next().expect("peeked"));
                continue;
            }
            break;
        }
        value.push(c);
    }
    (value, false)
}

/// A parameter token's name without its dash and colon, backtick escapes resolved (PowerShell
/// itself keeps a backtick in a parameter's name, which then binds nothing: read leniently,
/// as the intent it shows), and whether there was one; and whether the dash was a Unicode one.
pub fn parameter_name(token: &str) -> (String, bool, bool) {
    let mut chars = token.chars();
    let dash = chars.next().unwrap_or('-');
    let rest = chars.as_str();
    let rest = rest.strip_suffix(':').unwrap_or(rest);
    let (name, backtick, _) = if rest.contains('`') { word_value(rest) } else { (rest.to_string(), false, false) };
    (name, backtick, dash != '-')
}

/// A variable token's name without `$` or `@` (and braces), as written.
pub fn variable_name(token: &str) -> &str {
    let name = &token[1..];
    match name.strip_prefix('{') {
        Some(braced) => braced.strip_suffix('}').unwrap_or(braced),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str, mode: Mode) -> Vec<(Kind, &str)> {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let t = next(text, at, mode);
            if t.kind == Kind::End {
                return out;
            }
            out.push((t.kind, t.text(text)));
            at = t.end;
        }
    }

    #[test]
    fn command_mode_words_parameters_and_strings() {
        let t = tokens("Invoke-Command -ComputerName 'FS 02' -ScriptBlock {whoami}", Mode::Command);
        assert_eq!(
            t,
            vec![
                (Kind::Generic, "Invoke-Command"),
                (Kind::Parameter { colon: false }, "-ComputerName"),
                (Kind::StringLiteral, "'FS 02'"),
                (Kind::Parameter { colon: false }, "-ScriptBlock"),
                (Kind::LCurly, "{"),
                (Kind::Identifier, "whoami"),
                (Kind::RCurly, "}"),
            ]
        );
    }

    #[test]
    fn generic_tokens_run_to_a_forcing_character() {
        let t = tokens("a=b FS[01] C:\\x 7z a#b $a+b Invoke-Comm'and' x$(y z) --% ; =", Mode::Command);
        let texts: Vec<&str> = t.iter().map(|(_, s)| *s).collect();
        assert_eq!(
            texts,
            ["a=b", "FS[01]", "C:\\x", "7z", "a#b", "$a+b", "Invoke-Comm'and'", "x$(y z)", "--%", ";", "="]
        );
        assert!(t[..9].iter().all(|(k, _)| *k == Kind::Generic), "{t:?}");
        assert_eq!(t[10].0, Kind::Assign);
    }

    #[test]
    fn expression_mode_operators() {
        let t = tokens("$a -eq 1 -and -not $b .. 3 ?? 4 -split 'x' -f", Mode::Expression);
        let kinds: Vec<Kind> = t.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                Kind::Variable,
                Kind::Binary,
                Kind::Number,
                Kind::Binary,
                Kind::Unary,
                Kind::Variable,
                Kind::Binary,
                Kind::Number,
                Kind::Binary,
                Kind::Number,
                Kind::PlusMinus,
                Kind::StringLiteral,
                Kind::Binary,
            ]
        );
    }

    #[test]
    fn numbers_and_words_that_start_like_them() {
        for (text, kind) in [
            ("0x1F", Kind::Number),
            ("0b101", Kind::Number),
            ("1kb", Kind::Number),
            ("10ul", Kind::Number),
            ("1.5e3", Kind::Number),
            ("0B0BB", Kind::Generic),
            ("2l2l", Kind::Generic),
            ("0sss", Kind::Generic),
            ("4$h", Kind::Generic),
        ] {
            assert_eq!(tokens(text, Mode::Expression)[0], (kind, text), "{text}");
        }
        // An address in an argument: a word, not a number.
        assert_eq!(tokens("1.2.3.4", Mode::Command)[0], (Kind::Generic, "1.2.3.4"));
        let range = tokens("1..2", Mode::Expression);
        assert_eq!(range.iter().map(|t| t.0).collect::<Vec<_>>(), [Kind::Number, Kind::Binary, Kind::Number]);
        assert_eq!(tokens("1..2", Mode::Command)[0], (Kind::Generic, "1..2"));
    }

    #[test]
    fn keywords_only_in_command_mode_and_only_alone() {
        assert_eq!(tokens("if(", Mode::Command)[0].0, Kind::Keyword(Keyword::If));
        assert_eq!(tokens("if(", Mode::Expression)[0].0, Kind::Identifier);
        assert_eq!(tokens("if-x", Mode::Command)[0].0, Kind::Generic);
    }

    #[test]
    fn strings_here_strings_comments_and_continuations() {
        let text = "icm `\n -Cn x @'\nicm -Cn y\n'@ # c\n<# d #>\"a$(\")\")b\"";
        let t = tokens(text, Mode::Command);
        assert_eq!(t[0], (Kind::Identifier, "icm"));
        assert_eq!(t[1], (Kind::Parameter { colon: false }, "-Cn"));
        assert_eq!(t[3], (Kind::StringLiteral, "@'\nicm -Cn y\n'@"));
        assert_eq!(string_value(t[3].1).0, "icm -Cn y");
        assert_eq!(t[4].0, Kind::NewLine);
        // A subexpression ends at its first balancing `)`, quotes or not, as in PowerShell.
        assert_eq!(t[5], (Kind::StringExpandable, "\"a$(\")\""));
    }

    #[test]
    fn values() {
        assert_eq!(word_value("I`nv`oke-Comm'and'"), ("I\nvoke-Command".to_string(), true, true));
        assert_eq!(string_value("'it''s'"), ("it's".to_string(), false));
        assert_eq!(string_value("\"a`tb\"\"c\""), ("a\tb\"c".to_string(), true));
        assert_eq!(parameter_name("\u{2013}Comp`uterName:"), ("ComputerName".to_string(), true, true));
        assert_eq!(variable_name("${a b}"), "a b");
        assert_eq!(variable_name("$env:X"), "env:X");
    }

    #[test]
    fn never_stalls_on_odd_input() {
        for text in
            ["`", "'", "\"", "@", "$", "-", "<#", "]]]", "\u{2013}", "\"$(\"", "@'", "a`", "@\"\n", "${", "1e", "0x"]
        {
            for mode in [Mode::Command, Mode::Expression] {
                let _ = tokens(text, mode);
            }
        }
    }
}
