//! The host command line: how Windows splits it into arguments (the rules of
//! `CommandLineToArgvW` and the MSVC runtime) and how powershell.exe and pwsh.exe read their
//! own switches, to find the script text they will run: `-Command`, `-EncodedCommand`
//! (base64 of UTF-16LE), or a `-File` we cannot look into.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::lexer::is_dash;

/// One argument with the byte offset where it starts in the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    pub text: String,
    pub start: usize,
}

/// Splits a Windows command line as the C runtime does for `argv`. The program name is
/// special: it ends at the closing quote or the first blank, and backslashes are literal.
pub fn split_args(line: &str) -> Vec<Arg> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    let blank = |b: u8| b == b' ' || b == b'\t';
    while i < bytes.len() && blank(bytes[i]) {
        i += 1;
    }
    if i >= bytes.len() {
        return args;
    }
    // argv[0]
    let start = i;
    let mut text = String::new();
    if bytes[i] == b'"' {
        i += 1;
        let end = line[i..].find('"').map_or(line.len(), |e| i + e);
        text.push_str(&line[i..end]);
        i = (end + 1).min(line.len());
    }
    while i < bytes.len() && !blank(bytes[i]) {
        let ch = line[i..].chars().next().expect("in bounds");
        text.push(ch);
        i += ch.len_utf8();
    }
    args.push(Arg { text, start });

    loop {
        while i < bytes.len() && blank(bytes[i]) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        let mut text = String::new();
        let mut in_quotes = false;
        while i < bytes.len() {
            let b = bytes[i];
            if blank(b) && !in_quotes {
                break;
            }
            if b == b'\\' {
                let run = bytes[i..].iter().take_while(|&&c| c == b'\\').count();
                if bytes.get(i + run) == Some(&b'"') {
                    text.extend(std::iter::repeat_n('\\', run / 2));
                    i += run;
                    if run % 2 == 1 {
                        text.push('"');
                        i += 1;
                    }
                } else {
                    text.extend(std::iter::repeat_n('\\', run));
                    i += run;
                }
                continue;
            }
            if b == b'"' {
                if in_quotes && bytes.get(i + 1) == Some(&b'"') {
                    // `""` inside quotes is a literal quote (MSVC 2008 and later).
                    text.push('"');
                    i += 2;
                    continue;
                }
                in_quotes = !in_quotes;
                i += 1;
                continue;
            }
            let ch = line[i..].chars().next().expect("in bounds");
            text.push(ch);
            i += ch.len_utf8();
        }
        args.push(Arg { text, start });
    }
    args
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// Windows PowerShell 5.1: a bare first argument starts the command.
    WindowsPowerShell,
    /// PowerShell 7: a bare first argument is a script file.
    Pwsh,
}

/// What the host will run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Script text from `-Command` (or bare arguments), with where it starts in the line
    /// when it stands there verbatim.
    Command { text: String, verbatim_at: Option<usize> },
    /// `-EncodedCommand`: the base64 as written and where.
    Encoded { base64: String, at: usize, switch_text: String, unicode_dash: bool },
    /// `-File`, `-Command -` (standard input): nothing to look into.
    Opaque(&'static str),
    /// Only switches, or a switch PowerShell would refuse.
    Nothing,
}

/// The host's switches, in the order powershell.exe tests them: (name, shortest accepted
/// prefix, takes a value). A switch matches when it is a prefix of the name at least as
/// long as the shortest prefix, so `-e`, `-en`, `-enc` … are all -EncodedCommand, but `-ex`
/// is -ExecutionPolicy, tested first.
const SWITCHES: &[(&str, &str, bool)] = &[
    ("help", "?", false),
    ("version", "v", true),
    ("nologo", "nol", false),
    ("noexit", "noe", false),
    ("noprofile", "nop", false),
    ("noninteractive", "noni", false),
    ("sta", "s", false),
    ("mta", "mta", false),
    ("outputformat", "o", true),
    ("of", "of", true),
    ("inputformat", "i", true),
    ("if", "if", true),
    ("executionpolicy", "ex", true),
    ("ep", "ep", true),
    ("encodedcommand", "e", true),
    ("ec", "ec", true),
    ("encodedarguments", "encodeda", true),
    ("ea", "ea", true),
    ("windowstyle", "w", true),
    ("file", "f", true),
    ("command", "c", true),
    ("configurationname", "config", true),
    ("psconsolefile", "psc", true),
    ("workingdirectory", "wo", true),
    ("wd", "wd", true),
    ("settingsfile", "settings", true),
    ("custompipename", "cus", true),
    ("login", "l", false),
    ("interactive", "interactive", false),
    ("commandwithargs", "commandwithargs", true),
    ("cwa", "cwa", true),
];

fn match_switch(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    SWITCHES.iter().find(|(name, shortest, _)| name.starts_with(key.as_str()) && key.len() >= shortest.len()).map(
        |(name, _, _)| match *name {
            "of" => "outputformat",
            "if" => "inputformat",
            "ep" => "executionpolicy",
            "ec" => "encodedcommand",
            "ea" => "encodedarguments",
            "wd" => "workingdirectory",
            "cwa" => "commandwithargs",
            n => n,
        },
    )
}

fn takes_value(name: &str) -> bool {
    SWITCHES.iter().any(|(n, _, v)| *n == name && *v)
}

/// Reads the host's switches and returns what it will run.
pub fn payload(line: &str, args: &[Arg], host: Host) -> Payload {
    let mut i = 1;
    while i < args.len() {
        let arg = &args[i].text;
        let mut chars = arg.chars();
        let first = chars.next().unwrap_or(' ');
        if !(is_dash(first) || first == '/') {
            // The first bare argument: the command (5.1) or a script file (7).
            return match host {
                Host::WindowsPowerShell => command_from(line, &args[i..]),
                Host::Pwsh => Payload::Opaque("a script file (pwsh's default for a bare argument)"),
            };
        }
        let key = chars.as_str().trim_start_matches('-');
        if key.is_empty() {
            // `-` alone: the command comes from standard input.
            return Payload::Opaque("standard input");
        }
        let Some(name) = match_switch(key) else {
            // powershell.exe refuses an unknown switch and runs nothing.
            return Payload::Nothing;
        };
        match name {
            "command" | "commandwithargs" => {
                return match args.get(i + 1) {
                    Some(a) if a.text == "-" => Payload::Opaque("standard input"),
                    Some(_) => command_from(line, &args[i + 1..]),
                    None => Payload::Nothing,
                };
            }
            "encodedcommand" => {
                return match args.get(i + 1) {
                    Some(a) => Payload::Encoded {
                        base64: a.text.clone(),
                        at: a.start,
                        switch_text: arg.clone(),
                        unicode_dash: first != '-' && first != '/',
                    },
                    None => Payload::Nothing,
                };
            }
            "file" => return Payload::Opaque("a script file (-File)"),
            n if takes_value(n) => i += 2,
            _ => i += 1,
        }
    }
    Payload::Nothing
}

/// The script text of `-Command`: the remaining arguments joined by single spaces, as the
/// host does. Where that text also stands in the line as written (the usual case, inside
/// its quotes or not), evidence can point into the command line itself.
fn command_from(line: &str, rest: &[Arg]) -> Payload {
    let text = rest.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join(" ");
    let verbatim_at = rest.first().and_then(|a| line[a.start..].find(&text).map(|i| a.start + i));
    Payload::Command { text, verbatim_at }
}

/// `-EncodedCommand`'s payload: base64 (padding optional, as .NET tolerates whitespace)
/// of UTF-16LE text. `None` when it is not that.
pub fn decode_encoded(base64_text: &str, max_bytes: usize) -> Option<String> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let compact: String = base64_text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() || compact.len() / 4 * 3 > max_bytes {
        return None;
    }
    let bytes = LENIENT.decode(compact.as_bytes()).ok()?;
    if bytes.len() % 2 != 0 {
        return None;
    }
    let units = bytes.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]]));
    Some(char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        split_args(line).into_iter().map(|a| a.text).collect()
    }

    #[test]
    fn argv_rules() {
        assert_eq!(texts(r#""C:\a b\powershell.exe" -c "x y" z"#), ["C:\\a b\\powershell.exe", "-c", "x y", "z"]);
        assert_eq!(texts(r#"p a\\\"b "c\\" d"#), ["p", "a\\\"b", "c\\", "d"]);
        assert_eq!(texts(r#"p "a""b" c"#), ["p", "a\"b", "c"]);
        assert_eq!(texts("p a\nb"), ["p", "a\nb"]);
        assert!(texts("   ").is_empty());
    }

    #[test]
    fn switch_prefixes() {
        for k in ["e", "en", "enc", "enco", "encodedcommand", "ec", "EC", "EncodedCommand"] {
            assert_eq!(match_switch(k), Some("encodedcommand"), "{k}");
        }
        assert_eq!(match_switch("ex"), Some("executionpolicy"));
        assert_eq!(match_switch("c"), Some("command"));
        assert_eq!(match_switch("co"), Some("command"));
        assert_eq!(match_switch("nop"), Some("noprofile"));
        assert_eq!(match_switch("no"), None);
        assert_eq!(match_switch("f"), Some("file"));
        assert_eq!(match_switch("w"), Some("windowstyle"));
    }

    #[test]
    fn payloads() {
        let line = "powershell.exe -nop -w hidden -c Invoke-Command -Cn x {1}";
        let args = split_args(line);
        let Payload::Command { text, verbatim_at } = payload(line, &args, Host::WindowsPowerShell) else { panic!() };
        assert_eq!(text, "Invoke-Command -Cn x {1}");
        assert_eq!(verbatim_at, Some(33));
        let line = "pwsh script.ps1";
        assert!(matches!(payload(line, &split_args(line), Host::Pwsh), Payload::Opaque(_)));
        let line = "powershell icm x {1}";
        assert!(matches!(payload(line, &split_args(line), Host::WindowsPowerShell), Payload::Command { .. }));
        let line = "powershell \u{2013}enc AAAA";
        let Payload::Encoded { unicode_dash, .. } = payload(line, &split_args(line), Host::WindowsPowerShell) else {
            panic!()
        };
        assert!(unicode_dash);
        let line = "powershell -bogus x";
        assert_eq!(payload(line, &split_args(line), Host::WindowsPowerShell), Payload::Nothing);
    }

    #[test]
    fn encoded_commands() {
        // "icm x" in UTF-16LE.
        assert_eq!(decode_encoded("aQBjAG0AIAB4AA==", 1 << 20).as_deref(), Some("icm x"));
        assert_eq!(decode_encoded("aQBjAG0AIAB4AA", 1 << 20).as_deref(), Some("icm x"));
        assert_eq!(decode_encoded("not base64!", 1 << 20), None);
        assert_eq!(decode_encoded("aQBjAG0AIAB4AA==", 4), None);
    }
}
