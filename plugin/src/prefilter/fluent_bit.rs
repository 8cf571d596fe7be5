//! The prefilter Fluent Bit runs in its own code, before the module: the regular expressions
//! (Onigmo's) a `rewrite_tag` filter tests a record's event text with, so that only records
//! the module could fire on or report reach the `wasm` filter, and the rest never pay for a
//! wasm call. They are the needles of the module's own fast reject ([`super`]), and must
//! pass every record the module fires on or reports an error for. The argument, for a
//! record whose event is one string of the record (`log` as `tail` or `tcp` make it, a line
//! of JSON before a parser reads it, or the event XML under `System` that `winevtlog`
//! writes with `render_event_as_xml`):
//!
//! 1. The module is handed the record as Fluent Bit writes it in JSON
//!    (`flb_msgpack_to_json_str`): every byte of each string as it is, except `"` and `\`
//!    (a backslash before them), control characters and DEL (`\n`, `\u001b`...), non-ASCII
//!    (`\uXXXX`, one or two per character, under `json.escape_unicode`, the default) and invalid
//!    UTF-8 (U+FFFD).
//! 2. Before anything else it reports a record over `limits.max_event_bytes` as too large.
//!    No character takes more than twelve bytes in that JSON (a surrogate pair), so a record
//!    whose strings hold fewer than a sixteenth of the limit in characters is under it unless
//!    the rest of the record is a quarter of it. [`Patterns::too_large`] routes every string of
//!    at least `max_event_bytes / 16 / strings` characters. It is anchored at the end (`\z`):
//!    Onigmo then compares the text's length with the pattern's least length before it
//!    searches, and a short string costs nothing; anchored at the start (`\A`), the same
//!    pattern walked every record and cost a hundred times a literal (measured over the
//!    corpus). Its unbounded tail (`[\s\S]*`) makes the first attempt match a long string
//!    in one pass: with a bounded length, Onigmo tries every start the bound allows, each a
//!    pass, and a 1 MiB line kept Fluent Bit busy for minutes.
//! 3. It parses, and so can fire or fail, only what its fast reject passes, and that passes
//!    only (a) a text holding an escape that spells printable ASCII (`\u0020` to `\u007e`), an
//!    XML character reference other than tab, LF, CR and non-ASCII, or `<!`, or (b) a text
//!    holding, without regard to ASCII case, what one running rule needs ([`super::needs`]),
//!    and so one of that need's [`super::Need::one_of`] (a parity term, a word or a stem).
//! 4. (a) comes from the string itself, never from Fluent Bit's writing: the only `\u` escapes
//!    Fluent Bit writes are for control characters, DEL and non-ASCII (none printable ASCII);
//!    a `\u00XX` the string holds is written `\\u00XX`, which the module counts (it cannot
//!    tell an escaped backslash from an embedded event's escape); `&#` and `<!` are copied.
//!    So `&#`, `<!` and `\\u00[2-7]` over the string find each of them (`&#` except where it
//!    spells tab, LF or CR as `&#10;` or `&#xA;` do, which the module passes over too; a
//!    longer spelling such as `&#010;`, which it also passes over, is still let through).
//! 5. (b): a needle found in Fluent Bit's JSON lies outside every escape Fluent Bit wrote. An
//!    escape begins with `\`, which is in no needle, and goes on with one of `"\/bfnrtu` and
//!    hex digits, with which no needle begins (each begins with a letter after `f` that is
//!    not `n`, `r`, `t` or `u`, or with `-`: checked by a test). So the needle's bytes are the
//!    string's own, and a case-insensitive search of the string finds it. A need's terms are
//!    all required: the last will do (`-computername` for every parity search: `enter-pssession`
//!    begins with a hex digit).
//! 6. What the patterns do not read: the record's other strings. Inputs configured as the
//!    runner prints them (`fluent-bit-config`) add none but `Message` beside `System`, which
//!    Windows renders from the same event data as the XML, and which the too-large pattern
//!    reads too; an input given `path_key` or the like adds a string whose needles can make
//!    the module parse an event it would otherwise pass over, and report it if it is broken.
//!
//! The patterns are single literals, each its own rule, because Onigmo searches a literal
//! (case-insensitive or not) quickly and an alternation under `(?i)` slowly: one
//! `(?i)-co|&#|<!` cost more than the whole AOT module (issue 24).

use super::{JSON_ESCAPE, XML_MARKUP, XML_REFERENCE, needs, push_new};
use crate::config::Config;

/// The patterns for one configuration of the module: Onigmo regular expressions, one per
/// `rewrite_tag` rule.
#[derive(Clone, Debug)]
pub struct Patterns {
    /// Over the event's string: the needles and the escape spellings.
    pub content: Vec<String>,
    /// Over every string of the record: long enough that the record may be over the limit.
    pub too_large: String,
}

/// The patterns for a module running `config` (its mode, rules and macro profile), over a
/// record whose text comes in `strings` strings the rules read (see step 2 of the argument).
pub fn patterns(config: &Config, strings: usize) -> Patterns {
    let mut content: Vec<String> = Vec::new();
    let needles = needs(config.mode, config.macro_profile, &config.rules);
    push_new(&mut content, needles.iter().flat_map(|n| n.one_of()).map(case_insensitive));
    let literal = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).expect("ASCII");
    // The spellings that may make a needle of other bytes. An XML character reference, but not
    // the references the module passes over (tab, LF and CR, as Windows writes them: the corpus
    // holds 7,426 `&#10;`, in 1,212 events); any other spelling of them still passes.
    content.push(format!("{}{HARMLESS_REFERENCES}", literal(XML_REFERENCE)));
    // A comment or CDATA section that splits a needle.
    content.push(literal(XML_MARKUP));
    // A JSON `\u00` escape, then the first hex digit of a printable ASCII character.
    let json = literal(JSON_ESCAPE).replace('\\', r"\\");
    content.push(format!("{json}[2-7]"));
    // A record over `limits.max_event_bytes`, which the module reports as too large.
    let chars = config.limits.max_event_bytes / 16 / strings.max(1);
    let (block, blocks) = (1024, chars.div_ceil(1024).max(1));
    let too_large = format!(r"(?:[\s\S]{{{block}}}){{{blocks}}}[\s\S]*\z");
    Patterns { content, too_large }
}

/// What may follow `&#` for a reference the fast reject counts as harmless (`Escapes::spell_ascii`:
/// 9, 10 and 13, written the way Windows writes them), as a lookahead: Onigmo still searches
/// for the literal `&#` and looks ahead only where it finds one.
const HARMLESS_REFERENCES: &str = "(?!9;|10;|13;|[xX][9aAdD];)";

/// A case-insensitive literal: the needles are letters, digits, `-` and `_` (a test checks),
/// none of them special to Onigmo outside a class.
fn case_insensitive(needle: &str) -> String {
    format!("(?i){needle}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::rules::{MacroProfile, Rule};

    fn every_config() -> Vec<Config> {
        let mut configs = Vec::new();
        for mode in [Mode::Parity, Mode::Extended] {
            for macro_profile in [MacroProfile::Escu2026, MacroProfile::Escu2021] {
                let alone = Rule::ALL.map(|rule| vec![rule]);
                for rules in alone.into_iter().chain([Rule::DEFAULT.to_vec(), Rule::ALL.to_vec()]) {
                    configs.push(Config { mode, macro_profile, rules, ..Config::default() });
                }
            }
        }
        configs
    }

    /// Step 5 of the argument: no needle begins with a byte that can follow a backslash in
    /// JSON, or holds a byte special to Onigmo.
    #[test]
    fn needles_cannot_start_inside_an_escape() {
        let mut needles: Vec<&str> = Vec::new();
        for c in every_config() {
            needles.extend(needs(c.mode, c.macro_profile, &c.rules).iter().flat_map(|n| n.one_of()));
        }
        for needle in needles {
            let first = needle.as_bytes()[0].to_ascii_lowercase();
            assert!(!b"\"\\/bfnrtu0123456789abcdef".contains(&first), "{needle}");
            assert!(needle.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{needle}");
        }
    }

    #[test]
    fn patterns_follow_the_configuration() {
        let parity = patterns(&Config::default(), 1);
        let regexes: Vec<&str> = parity.content.iter().map(String::as_str).collect();
        assert_eq!(regexes, ["(?i)-computername", "(?i)winrs", "&#(?!9;|10;|13;|[xX][9aAdD];)", "<!", r"\\u00[2-7]"]);
        assert_eq!(parity.too_large, r"(?:[\s\S]{1024}){64}[\s\S]*\z");
        let extended = patterns(&Config { mode: Mode::Extended, ..Config::default() }, 2);
        let regexes: Vec<&str> = extended.content.iter().map(String::as_str).collect();
        assert_eq!(regexes[..4], ["(?i)powershell", "(?i)pwsh", "(?i)winrs", "&#(?!9;|10;|13;|[xX][9aAdD];)"]);
        assert_eq!(extended.too_large, r"(?:[\s\S]{1024}){32}[\s\S]*\z");
        let old = Config {
            mode: Mode::Extended,
            macro_profile: MacroProfile::Escu2021,
            rules: vec![Rule::ProcessCreation],
            ..Config::default()
        };
        assert_eq!(patterns(&old, 1).content.len(), 4 + 3);
        let blocks = Config { mode: Mode::Extended, rules: vec![Rule::ScriptBlock], ..Config::default() };
        assert_eq!(patterns(&blocks, 1).content[0], "(?i)powershell");
        let target_side =
            Config { rules: vec![Rule::WinrmSpawningAProcess, Rule::WinrmExecuteShell], ..Config::default() };
        assert_eq!(patterns(&target_side, 1).content[..2], ["(?i)wsmprovhost", "(?i)winrs"]);
    }
}
