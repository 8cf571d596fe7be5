//! Tokens of PowerShell script text, by PowerShell's own rules as far as a detection needs
//! them: quoting (ASCII and the Unicode quotes PowerShell accepts), backtick escapes with
//! their special letters, the Unicode dashes U+2013/2014/2015 as parameter dashes, `-Name:`,
//! variables, splats, groups and separators. Offsets are bytes into the script text.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A bare word: a command name or an unquoted argument (`Invoke-Command`, `FS02`).
    Word,
    /// `-Name` or `-Name:`; `value` is the name without its dash.
    Param {
        colon: bool,
    },
    /// A quoted string; `value` is its content.
    Str,
    /// `$name`, `${name}`, `$env:NAME`; `value` is the name without `$`.
    Var,
    /// `@name`; `value` is the name.
    Splat,
    Open(Group),
    Close,
    /// `;` or a line break.
    Separator,
    /// `|`, `||`, `&&`.
    Pipe,
    /// `&` (call operator) or `.` (dot-source) before a command.
    Call,
    Comma,
    /// `=` and compound assignments.
    Assign,
    /// The text after the stop-parsing token `--%`, to the end of the line or the next `|`:
    /// PowerShell hands it to the command as it is written.
    Verbatim,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// `{`
    Block,
    /// `(`
    Paren,
    /// `$(`
    Subexpr,
    /// `@(`
    Array,
    /// `@{`
    Hash,
    /// `[`
    Bracket,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    /// The token's meaning: escapes resolved, quotes removed.
    pub value: String,
    pub start: usize,
    pub end: usize,
    /// A backtick escape was resolved inside the token.
    pub backtick: bool,
    /// Written with U+2013, U+2014 or U+2015 instead of `-`.
    pub unicode_dash: bool,
    /// Part of the token was quoted (`Invoke-Comm'and'`).
    pub quoted: bool,
}

pub fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2013}' | '\u{2014}' | '\u{2015}')
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}')
}

pub fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201c}' | '\u{201d}' | '\u{201e}')
}

fn is_newline(c: char) -> bool {
    c == '\n' || c == '\r'
}

fn is_blank(c: char) -> bool {
    !is_newline(c) && c.is_whitespace()
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, ';' | '|' | '&' | '(' | ')' | '{' | '}' | ',' | '=')
}

/// What a backtick makes of the character after it (PowerShell's `Backtick()`).
fn backtick_char(c: char) -> char {
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

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    /// The groups open here, innermost last: whether each is a `[`. Inside one (a type
    /// literal or an attribute, `[string[]]`, `[ValidateSet('a')]`), `[` and `]` end a word;
    /// elsewhere they are part of it (`FS[01]`, a wildcard in an argument).
    brackets: Vec<bool>,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.text[self.pos..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn push(&mut self, kind: Kind, value: String, start: usize) -> &mut Token {
        match kind {
            Kind::Open(g) => self.brackets.push(g == Group::Bracket),
            Kind::Close => {
                self.brackets.pop();
            }
            _ => {}
        }
        self.tokens.push(Token {
            kind,
            value,
            start,
            end: self.pos,
            backtick: false,
            unicode_dash: false,
            quoted: false,
        });
        self.tokens.last_mut().expect("just pushed")
    }

    fn run(mut self) -> Vec<Token> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            match c {
                '`' if self.peek2().is_some_and(is_newline) => {
                    // Line continuation.
                    self.bump();
                    self.bump();
                }
                c if is_blank(c) => {
                    self.bump();
                }
                c if is_newline(c) || c == ';' => {
                    self.bump();
                    self.push(Kind::Separator, String::new(), start);
                }
                '#' => self.skip_line_comment(),
                '<' if self.peek2() == Some('#') => self.skip_block_comment(),
                '{' | '(' | '[' => {
                    self.bump();
                    let g = match c {
                        '{' => Group::Block,
                        '(' => Group::Paren,
                        _ => Group::Bracket,
                    };
                    self.push(Kind::Open(g), String::new(), start);
                }
                '}' | ')' | ']' => {
                    self.bump();
                    self.push(Kind::Close, String::new(), start);
                }
                '|' => {
                    self.bump();
                    if self.peek() == Some('|') {
                        self.bump();
                    }
                    self.push(Kind::Pipe, String::new(), start);
                }
                '&' => {
                    self.bump();
                    if self.peek() == Some('&') {
                        self.bump();
                        self.push(Kind::Pipe, String::new(), start);
                    } else {
                        self.push(Kind::Call, String::new(), start);
                    }
                }
                ',' => {
                    self.bump();
                    self.push(Kind::Comma, String::new(), start);
                }
                '=' => {
                    self.bump();
                    self.push(Kind::Assign, String::new(), start);
                }
                '.' if self.peek2().is_some_and(|n| {
                    n.is_whitespace() || is_single_quote(n) || is_double_quote(n) || n == '$' || n == '{' || n == '('
                }) =>
                {
                    self.bump();
                    self.push(Kind::Call, String::new(), start);
                }
                '$' => self.variable(),
                '@' => self.at_sign(),
                c if is_single_quote(c) || is_double_quote(c) => {
                    let mut value = String::new();
                    let mut backtick = false;
                    self.quoted(&mut value, &mut backtick);
                    let t = self.push(Kind::Str, value, start);
                    t.backtick = backtick;
                }
                c if is_dash(c)
                    && self.peek2().is_some_and(|n| n.is_alphabetic() || n == '_' || n == '?' || n == '`') =>
                {
                    self.parameter();
                }
                '-' if self.at_stop_parsing() => self.verbatim(),
                _ => self.word(),
            }
        }
        self.tokens
    }

    /// `--%` standing alone (what follows it is a blank, a line break or the end).
    fn at_stop_parsing(&self) -> bool {
        let rest = &self.text[self.pos..];
        rest.starts_with("--%") && rest[3..].chars().next().is_none_or(char::is_whitespace)
    }

    /// The stop-parsing token and the rest of its line up to a `|`, as one [`Kind::Verbatim`]
    /// token (`about_Parsing`: neither `;` nor a backtick ends or extends it).
    fn verbatim(&mut self) {
        self.pos += 3;
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if is_newline(c) || c == '|' {
                break;
            }
            self.bump();
        }
        let value = self.text[start..self.pos].trim_end().to_string();
        self.push(Kind::Verbatim, value, start);
    }

    fn skip_line_comment(&mut self) {
        while let Some(c) = self.peek() {
            if is_newline(c) {
                break;
            }
            self.bump();
        }
    }

    fn skip_block_comment(&mut self) {
        match self.text[self.pos + 2..].find("#>") {
            Some(i) => self.pos += 2 + i + 2,
            None => self.pos = self.text.len(),
        }
    }

    /// A quoted section starting at the current quote; appends its meaning to `value`.
    fn quoted(&mut self, value: &mut String, backtick: &mut bool) {
        let open = self.bump().expect("at a quote");
        if is_single_quote(open) {
            while let Some(c) = self.bump() {
                if is_single_quote(c) {
                    if self.peek().is_some_and(is_single_quote) {
                        self.bump();
                        value.push(c);
                        continue;
                    }
                    return;
                }
                value.push(c);
            }
            return;
        }
        // Double-quoted: backtick escapes, `""`, and `$( … )` whose parentheses may hold quotes.
        let mut depth = 0usize;
        while let Some(c) = self.bump() {
            match c {
                '`' => {
                    *backtick = true;
                    if let Some(n) = self.bump() {
                        value.push(backtick_char(n));
                    }
                }
                '$' if self.peek() == Some('(') => {
                    depth += 1;
                    value.push(c);
                }
                '(' if depth > 0 => {
                    depth += 1;
                    value.push(c);
                }
                ')' if depth > 0 => {
                    depth -= 1;
                    value.push(c);
                }
                c if is_double_quote(c) && depth == 0 => {
                    if self.peek().is_some_and(is_double_quote) {
                        self.bump();
                        value.push(c);
                        continue;
                    }
                    return;
                }
                c => value.push(c),
            }
        }
    }

    fn variable(&mut self) {
        let start = self.pos;
        self.bump();
        match self.peek() {
            Some('(') => {
                self.bump();
                self.push(Kind::Open(Group::Subexpr), String::new(), start);
            }
            Some('{') => {
                self.bump();
                let mut name = String::new();
                while let Some(c) = self.bump() {
                    if c == '}' {
                        break;
                    }
                    name.push(c);
                }
                self.push(Kind::Var, name, start);
            }
            _ => {
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if c.is_alphanumeric() || matches!(c, '_' | ':' | '?' | '^' | '$') {
                        name.push(c);
                        self.bump();
                        if matches!(c, '?' | '^' | '$') && name.len() == 1 {
                            break;
                        }
                    } else {
                        break;
                    }
                }
                self.push(Kind::Var, name, start);
            }
        }
    }

    fn at_sign(&mut self) {
        let start = self.pos;
        match self.peek2() {
            Some('{') => {
                self.bump();
                self.bump();
                self.push(Kind::Open(Group::Hash), String::new(), start);
            }
            Some('(') => {
                self.bump();
                self.bump();
                self.push(Kind::Open(Group::Array), String::new(), start);
            }
            Some(q) if is_single_quote(q) || is_double_quote(q) => {
                // Here-string: @' … '@ or @" … "@, closed at the start of a line.
                self.bump();
                self.bump();
                let close: String = [q, '@'].iter().collect();
                let body_start = self.pos;
                let end = self.text[body_start..]
                    .match_indices(&close)
                    .find(|(i, _)| self.text[..body_start + i].ends_with('\n'))
                    .map(|(i, _)| body_start + i);
                let body_end = end.unwrap_or(self.text.len());
                let value = self.text[body_start..body_end].trim_matches(['\r', '\n']).to_string();
                self.pos = end.map_or(self.text.len(), |e| e + close.len());
                self.push(Kind::Str, value, start);
            }
            _ => {
                self.bump();
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if c.is_alphanumeric() || c == '_' || c == ':' {
                        name.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                self.push(Kind::Splat, name, start);
            }
        }
    }

    fn parameter(&mut self) {
        let start = self.pos;
        let dash = self.bump().expect("at a dash");
        let mut name = String::new();
        let mut backtick = false;
        let mut colon = false;
        while let Some(c) = self.peek() {
            if c == '`' {
                if self.peek2().is_none_or(is_newline) {
                    break;
                }
                self.bump();
                backtick = true;
                if let Some(n) = self.bump() {
                    name.push(backtick_char(n));
                }
                continue;
            }
            if c == ':' {
                self.bump();
                colon = true;
                break;
            }
            if ends_word(c) || is_single_quote(c) || is_double_quote(c) || matches!(c, '[' | ']' | '$' | '@') {
                break;
            }
            name.push(c);
            self.bump();
        }
        let t = self.push(Kind::Param { colon }, name, start);
        t.backtick = backtick;
        t.unicode_dash = dash != '-';
    }

    fn word(&mut self) {
        let start = self.pos;
        let mut value = String::new();
        let (mut backtick, mut quoted) = (false, false);
        while let Some(c) = self.peek() {
            if c == '`' {
                if self.peek2().is_none_or(is_newline) {
                    break;
                }
                self.bump();
                backtick = true;
                if let Some(n) = self.bump() {
                    value.push(backtick_char(n));
                }
                continue;
            }
            if is_single_quote(c) || is_double_quote(c) {
                if self.pos == start {
                    break;
                }
                quoted = true;
                self.quoted(&mut value, &mut backtick);
                continue;
            }
            if ends_word(c) || (matches!(c, '[' | ']') && self.brackets.last() == Some(&true)) {
                break;
            }
            value.push(c);
            self.bump();
        }
        if self.pos == start {
            // A lone character no rule above takes: keep going.
            self.bump();
        }
        let t = self.push(Kind::Word, value, start);
        t.backtick = backtick;
        t.quoted = quoted;
    }
}

pub fn tokenize(text: &str) -> Vec<Token> {
    Lexer { text, pos: 0, tokens: Vec::new(), brackets: Vec::new() }.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, String)> {
        tokenize(text).into_iter().map(|t| (t.kind, t.value)).collect()
    }

    #[test]
    fn words_params_strings() {
        let t = tokenize("Invoke-Command -ComputerName 'FS 02' -ScriptBlock {whoami}");
        assert_eq!(t[0].kind, Kind::Word);
        assert_eq!(t[0].value, "Invoke-Command");
        assert_eq!(t[1].kind, Kind::Param { colon: false });
        assert_eq!(t[1].value, "ComputerName");
        assert_eq!(t[2].kind, Kind::Str);
        assert_eq!(t[2].value, "FS 02");
        assert_eq!(t[4].kind, Kind::Open(Group::Block));
    }

    #[test]
    fn backticks_dashes_and_colons() {
        let t = tokenize("I`nv`oke-Command \u{2013}Comp`uterName:FS02");
        assert_eq!(t[0].value, "I\nvoke-Command");
        assert!(t[0].backtick);
        assert_eq!(t[1].kind, Kind::Param { colon: true });
        assert_eq!(t[1].value, "ComputerName");
        assert!(t[1].unicode_dash && t[1].backtick);
        assert_eq!(t[2].value, "FS02");
    }

    #[test]
    fn quotes_inside_words_and_unicode_quotes() {
        let t = tokenize("Invoke-Comm'and' \u{201c}a\u{201d}\u{201d}b\u{201d}");
        assert_eq!(t[0].value, "Invoke-Command");
        assert!(t[0].quoted);
        assert_eq!(t[1].value, "a\u{201d}b");
    }

    #[test]
    fn variables_splats_groups_comments() {
        let k = kinds("$p=@{Cn='x'}; icm @p # icm -Cn y\n<# icm #>$env:COMPUTERNAME ${a b}");
        let want = vec![
            (Kind::Var, "p".to_string()),
            (Kind::Assign, String::new()),
            (Kind::Open(Group::Hash), String::new()),
            (Kind::Word, "Cn".into()),
            (Kind::Assign, String::new()),
            (Kind::Str, "x".into()),
            (Kind::Close, String::new()),
            (Kind::Separator, String::new()),
            (Kind::Word, "icm".into()),
            (Kind::Splat, "p".into()),
            (Kind::Separator, String::new()),
            (Kind::Var, "env:COMPUTERNAME".into()),
            (Kind::Var, "a b".into()),
        ];
        assert_eq!(k, want);
    }

    #[test]
    fn here_strings_and_continuations() {
        let k = kinds("icm `\n -Cn x @'\nicm -Cn y\n'@");
        assert_eq!(k[0].1, "icm");
        assert_eq!(k[1], (Kind::Param { colon: false }, "Cn".into()));
        assert_eq!(k[3], (Kind::Str, "icm -Cn y".into()));
    }

    #[test]
    fn never_loops_on_odd_input() {
        for text in ["`", "'", "\"", "@", "$", "-", "<#", "]]]", "\u{2013}", "\"$(\"", "@'", "a`"] {
            let _ = tokenize(text);
        }
    }
}
