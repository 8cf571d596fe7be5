//! The prefilter Fluent Bit runs in its own code, before the module: the regular expressions
//! (Onigmo's) a `rewrite_tag` filter (or `grep`, in filter mode) tests a record's event text with, so that only records
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
//! 4. The patterns look for (b) only: **a record whose only way into the module is (a) is
//!    passed over**, and that is a forged record (issue 45 decided it; the module itself still
//!    reads every escape, so its verdict on any record is what it was). (a) lets a needle
//!    be spelled by other bytes (`&#73;nvoke-Command`, `power&#115;hell`, `\u0049nvoke`,
//!    `Invo<!-- -->ke`), and no real writer spells one so: Windows' renderer writes only
//!    `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;` and references to control characters, never
//!    markup inside data; the shippers' JSON writers (Fluent Bit's, Winlogbeat's and Elastic
//!    Agent's in Go, NXLog's, Python's) escape only `"`, `\`, control characters, non-ASCII and
//!    (Go) `<`, `>`, `&`, U+2028 and U+2029, none a byte of any needle (letters, digits, `-`,
//!    `_`). Nor does PowerShell run a command spelled that way: Windows writes a command
//!    line's own `&#73;` as `&amp;#73;`, which the module reads back as that text, not `I`. A
//!    line that holds one was written by hand, and whoever can write the line can as well
//!    leave it out. What else (a) lets in: a broken event (cut short, badly nested) that
//!    holds an escape spelling and no needle, which the module alone reports broken and the
//!    prefilter passes over unreported, as it passes over every broken event without a
//!    needle. `fluent_bit_prefilter.rs` shows both differences in a test of their own.
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
//! `(?i)-co|&#|<!` cost more than the whole AOT module (issue 24). What a rule costs is one
//! Onigmo search of the record: Sunday's quick search, which under `(?i)` folds the text at
//! every place it tries and shifts by at most the needle's length plus one. Onigmo cuts a
//! case-insensitive literal before its first `s` or `k` (each has a fold of another length,
//! `ſ` and the Kelvin sign), so `(?i)winrs` searches for `winr`, and `(?i)pwsh` for `pw` byte
//! by byte ([`case_insensitive`] works around it where it can). Measured over the corpus's
//! 65,145 XML lines with Fluent Bit's own Onigmo (docs/benchmarks.md): `(?i)-computername`
//! 0.7 µs per line, `(?i)winrs` 1.7, each escape spelling 1.4 to 2.0, the length rule 0.05;
//! in Fluent Bit the escape rules were a third of the prefilter's instructions.

use super::{needs, push_new};
use crate::config::Config;

/// The patterns for one configuration of the module: Onigmo regular expressions, one per
/// rule of the prefilter's filter.
#[derive(Clone, Debug)]
pub struct Patterns {
    /// Over the event's string: the needles, each a case-insensitive literal.
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
    // A record over `limits.max_event_bytes`, which the module reports as too large.
    let chars = config.limits.max_event_bytes / 16 / strings.max(1);
    let (block, blocks) = (1024, chars.div_ceil(1024).max(1));
    let too_large = format!(r"(?:[\s\S]{{{block}}}){{{blocks}}}[\s\S]*\z");
    Patterns { content, too_large }
}

/// A case-insensitive literal: the needles are letters, digits, `-` and `_` (a test checks),
/// none of them special to Onigmo outside a class. `s` and `k` are written as classes: Onigmo
/// ends the literal it searches for before a case-insensitive `s` or `k` (their folds `ſ` and
/// the Kelvin sign are of another length), and a class leaves it the longest run of other
/// letters instead, which it skips through faster: `(?i)w[sS]mprovho[sS]t` searches for
/// `mprovho`, 1.0 µs per corpus line, where `(?i)wsmprovhost` searched for `w`, 11.3 µs.
/// The same strings match (under `(?i)` the class folds as the letter does).
fn case_insensitive(needle: &str) -> String {
    let mut pattern = String::from("(?i)");
    for c in needle.chars() {
        match c.to_ascii_lowercase() {
            'k' | 's' => pattern.extend(['[', c.to_ascii_lowercase(), c.to_ascii_uppercase(), ']']),
            _ => pattern.push(c),
        }
    }
    pattern
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
        assert_eq!(regexes, ["(?i)-computername", "(?i)winr[sS]"]);
        assert_eq!(parity.too_large, r"(?:[\s\S]{1024}){64}[\s\S]*\z");
        let extended = patterns(&Config { mode: Mode::Extended, ..Config::default() }, 2);
        let regexes: Vec<&str> = extended.content.iter().map(String::as_str).collect();
        assert_eq!(regexes, ["(?i)power[sS]hell", "(?i)pw[sS]h", "(?i)winr[sS]"]);
        assert_eq!(extended.too_large, r"(?:[\s\S]{1024}){32}[\s\S]*\z");
        let old = Config {
            mode: Mode::Extended,
            macro_profile: MacroProfile::Escu2021,
            rules: vec![Rule::ProcessCreation],
            ..Config::default()
        };
        assert_eq!(
            patterns(&old, 1).content,
            ["(?i)power[sS]hell", "(?i)pw[sS]h", "(?i)[sS]qlp[sS]", "(?i)[sS]qltool[sS]p[sS]"]
        );
        let blocks = Config { mode: Mode::Extended, rules: vec![Rule::ScriptBlock], ..Config::default() };
        assert_eq!(patterns(&blocks, 1).content[0], "(?i)power[sS]hell");
        let target_side =
            Config { rules: vec![Rule::WinrmSpawningAProcess, Rule::WinrmExecuteShell], ..Config::default() };
        assert_eq!(patterns(&target_side, 1).content[..2], ["(?i)w[sS]mprovho[sS]t", "(?i)winr[sS]"]);
    }
}
