//! The fast reject: decides from the raw bytes, without parsing or copying, that an event
//! cannot match, because it does not hold a name the `process_powershell` macro accepts
//! (`powershell.exe`, `pwsh.dll`, ...: the macro compares whole values, so a matching event
//! holds one of them verbatim) nor, when the script-block rule runs, the event id `4104`
//! (every shape writes it in digits), and, in parity mode, both search terms. Most events a
//! shipper sees are neither, so most never reach a JSON or XML parser.
//!
//! A script block that can match names PowerShell (its channel or provider, as the
//! `powershell` macro requires, or ECS's `powershell.*` keys): extended mode anchors on that
//! (`rsh`, the names' own anchor), not on the digits, which hex GUIDs and hashes are full of
//! (`410` is in 65,143 of the corpus's 65,145 events).
//!
//! Two stages. The first ([`Anchors`]) reads every byte once and looks only for short
//! *anchors*: a three-byte piece that every needle of a group shares (`-co` is in both
//! `invoke-command` and `-computername`), plus whatever lets parsed text differ from the raw
//! bytes: the two ways an escape can spell an ASCII character (`&#` of `&#112;`, and in JSON
//! `u00` of `\u0070`) and XML's `<!` (a comment or CDATA section splitting a name, which the XML
//! reader joins again). An event with none of them is rejected right there, and that is
//! nearly every event: in the corpus, 374 of 65,145 events hold a folded `-co`. Only the rest
//! take the second stage, the exact test (fold, `memmem` per needle, escapes decoded).
//!
//! The first stage (`anchors.rs`, with one module per architecture) works a word at a time, because Fluent Bit's WAMR runs the module without
//! SIMD (and its interpreter pays per instruction, not per byte): three unaligned loads at
//! offsets 0, 1 and 2 put the three bytes of a trigram side by side, and one zero-byte test
//! answers for eight positions. Where WebAssembly SIMD is on (the component), the same test
//! runs on sixteen positions at a time.
//!
//! Case-insensitivity without a lower-cased copy: `byte | 0x20` maps `P` and `p` alike to
//! `p`, and leaves digits, `-`, `.` and `#` as they are; the needles are folded the same way
//! (`_` and DEL both become DEL), so a folded text holds a folded needle wherever the text
//! holds the needle in any case. Folding only merges bytes (CR onto `-`, for one), so it can
//! add candidates and never lose one.
//!
//! It must never change a verdict: each stage answers "may match" for a superset of what the
//! next one does, and the escape spellings always take the full path.

mod anchors;
pub mod fluent_bit;

use anchors::{by_syntax, json_escapes_apply};

use memchr::memmem::Finder;

use crate::config::Mode;
use crate::rules::{MacroProfile, Rule};

pub struct Prefilter {
    anchors: Anchors,
    /// At least one PowerShell process or original file name must appear, or, in a record
    /// that may carry an event as text (see [`may_embed`]), its stem: the text may be cut
    /// short before its names, and is then reported as broken rather than passed over.
    names: Vec<Name>,
    /// Or else this one: `4104`, when the script-block rule runs.
    event_id: Option<Finder<'static>>,
    /// With it, in extended mode (parity's terms anchor it already), what a matching script
    /// block names: [`SCRIPT_BLOCK_WORDS`].
    script_block_words: Vec<Finder<'static>>,
    /// Every one of these must appear (parity mode's two search terms).
    terms: Vec<Finder<'static>>,
    escapes: Escapes,
}

/// The three spellings that make parsed text differ from the raw bytes: a JSON `\u` escape of
/// an ASCII character, an XML character reference, and XML markup (a comment or CDATA).
const JSON_ESCAPE: &[u8] = b"\\u00";
const XML_REFERENCE: &[u8] = b"&#";
const XML_MARKUP: &[u8] = b"<!";

/// What makes parsed text differ from the raw bytes, searched for with finders built once.
struct Escapes {
    json: Finder<'static>,
    xml: Finder<'static>,
    markup: Finder<'static>,
}

impl Escapes {
    fn new() -> Escapes {
        Escapes {
            json: Finder::new(JSON_ESCAPE).into_owned(),
            xml: Finder::new(XML_REFERENCE).into_owned(),
            markup: Finder::new(XML_MARKUP).into_owned(),
        }
    }
}

/// The process names that start with one stem (`powershell`: `.exe`, `_ise.exe`), searched
/// for as the stem, each occurrence then looked at for an ending: one pass over the text
/// per stem instead of one per name.
struct Name {
    stem: Finder<'static>,
    endings: Vec<Vec<u8>>,
}

impl Name {
    /// `Some(true)` when the folded text holds a whole name, `Some(false)` when only the stem.
    fn find(&self, folded: &[u8]) -> Option<bool> {
        let mut stem_seen = false;
        for at in self.stem.find_iter(folded) {
            let rest = &folded[at + self.stem.needle().len()..];
            if self.endings.iter().any(|e| rest.starts_with(e)) {
                return Some(true);
            }
            stem_seen = true;
        }
        stem_seen.then_some(false)
    }
}

fn fold(text: &str) -> Vec<u8> {
    text.bytes().map(|b| b | 0x20).collect()
}

/// A needle as the folded text holds it.
fn folded_finder(needle: &str) -> Finder<'static> {
    Finder::new(&fold(needle)).into_owned()
}

impl Prefilter {
    pub fn new(mode: Mode, profile: MacroProfile, rules: &[Rule]) -> Prefilter {
        let mut names = Vec::new();
        if rules.contains(&Rule::ProcessCreation) {
            names.extend(profile.process_names());
            names.extend(crate::rules::ORIGINAL_FILE_NAMES);
        }
        let stems = name_stems(profile, rules);
        let script_block = rules.contains(&Rule::ScriptBlock);
        let event_id = script_block.then(|| crate::event::SCRIPT_BLOCK_EVENT_ID.to_string());
        let terms: &[&str] = match mode {
            Mode::Parity => &crate::rules::PARITY_TERMS,
            Mode::Extended => &[],
        };
        let needles = extended_needles(profile, rules);
        // Parity needs both terms, so one anchor common to them will do; extended needs one of
        // the needles, so each needs an anchor it holds (`rsh` of powershell, `pws` of pwsh).
        let mut trigrams: Vec<[u8; 3]> = Vec::new();
        match mode {
            Mode::Parity => trigrams.push(*b"-co"),
            Mode::Extended => {
                for anchor in needles.iter().map(|needle| stem_anchor(needle)) {
                    if !trigrams.contains(&anchor) {
                        trigrams.push(anchor);
                    }
                }
            }
        }
        let anchors = Anchors::new(&trigrams);
        let prefilter = Prefilter {
            anchors,
            names: stems
                .iter()
                .map(|stem| {
                    let (stem, mut endings) = (fold(stem), Vec::new());
                    for name in names.iter().map(|n| fold(n)) {
                        if let Some(ending) = name.strip_prefix(stem.as_slice())
                            && !endings.iter().any(|e: &Vec<u8>| e == ending)
                        {
                            endings.push(ending.to_vec());
                        }
                    }
                    Name { stem: Finder::new(&stem).into_owned(), endings }
                })
                .collect(),
            event_id: event_id.as_deref().map(folded_finder),
            script_block_words: match (script_block, mode) {
                (true, Mode::Extended) => SCRIPT_BLOCK_WORDS.iter().map(|w| folded_finder(w)).collect(),
                _ => Vec::new(),
            },
            terms: terms.iter().map(|n| folded_finder(n)).collect(),
            escapes: Escapes::new(),
        };
        debug_assert!(prefilter.anchors.cover(if terms.is_empty() { &needles } else { terms }));
        debug_assert!(names.iter().all(|n| stems.iter().any(|s| n.to_ascii_lowercase().starts_with(s))));
        prefilter
    }

    /// False only when the event certainly cannot match. `scratch` is reused across calls.
    pub fn may_match(&self, event: &[u8], scratch: &mut Vec<u8>) -> bool {
        if !self.anchors.appear_in(event) {
            return false;
        }
        if self.escapes.spell_ascii(event).next().is_some() {
            return true;
        }
        scratch.clear();
        scratch.extend(event.iter().map(|b| b | 0x20));
        let folded = scratch.as_slice();
        if !self.terms.iter().all(|f| f.find(folded).is_some()) {
            return false;
        }
        if self.event_id.as_ref().is_some_and(|id| id.find(folded).is_some())
            && (self.script_block_words.is_empty() || self.script_block_words.iter().any(|w| w.find(folded).is_some()))
        {
            return true;
        }
        let mut stem_only = false;
        for name in &self.names {
            match name.find(folded) {
                Some(true) => return true,
                Some(false) => stem_only = true,
                None => {}
            }
        }
        stem_only && may_embed(event)
    }
}

/// The stems of the process names the rules accept (`powershell` is in powershell.exe,
/// powershell_ise.exe and PowerShell.EXE, `pwsh` in pwsh.exe and pwsh.dll).
fn name_stems(profile: MacroProfile, rules: &[Rule]) -> Vec<&'static str> {
    let mut stems = Vec::new();
    if rules.contains(&Rule::ProcessCreation) {
        stems.extend(["powershell", "pwsh"]);
        if profile == MacroProfile::Escu2021 {
            stems.extend(["sqlps", "sqltoolsps"]);
        }
    }
    stems
}

/// What an event must hold (folded) for extended mode to look at it: a process name's stem,
/// or, for a script block, [`SCRIPT_BLOCK_WORDS`]. Parity needs [`crate::rules::PARITY_TERMS`].
pub fn extended_needles(profile: MacroProfile, rules: &[Rule]) -> Vec<&'static str> {
    let mut needles = name_stems(profile, rules);
    if rules.contains(&Rule::ScriptBlock) {
        needles.extend(SCRIPT_BLOCK_WORDS.iter().filter(|w| !needles.contains(w)).collect::<Vec<_>>());
    }
    needles
}

/// Whether a JSON record may carry an event as text: a string starts with `<`, with JSON
/// (`{` and then an escaped quote or white space: a GUID's `{5770…}` is not), or with
/// something that may come before either: white space, as itself or escaped (`\n`, `\u0020`;
/// `\"` of a quoted command line is not), or a byte-order mark. Only these need the looser
/// name test; a whole event holds its process name verbatim.
fn may_embed(event: &[u8]) -> bool {
    event.starts_with(b"{")
        // A quote after a backslash is inside a string, not the start of one.
        && memchr::memchr_iter(b'"', event).filter(|&at| at == 0 || event[at - 1] != b'\\').any(|at| match event.get(at + 1) {
            Some(b'<' | b' ' | 0xef) => true,
            Some(b'\\') => matches!(event.get(at + 2), Some(b'n' | b'r' | b't' | b'f' | b'u')),
            Some(b'{') => matches!(event.get(at + 2), Some(b'\\' | b' ' | b'}')),
            _ => false,
        })
}

/// The first stage: folded trigrams, one per group of needles, plus the escape spellings.
/// A trigram's bytes are folded already (`b | 0x20 == b`) and none is a space, which is what
/// the zero padding past the end of the text folds to.
enum Anchors {
    One([[u8; 3]; 1]),
    Two([[u8; 3]; 2]),
    Three([[u8; 3]; 3]),
}

/// What every script block that can match holds, folded: `powershell`, in its channel or
/// provider (`event::windows`) or in ECS's keys (`event::json`).
const SCRIPT_BLOCK_WORDS: [&str; 1] = ["powershell"];

/// The anchor a word is found by: a trigram rare in logs that only it holds of the words
/// (`powershell` is everywhere in a path, so not `pow`).
fn stem_anchor(word: &str) -> [u8; 3] {
    match word {
        "powershell" => *b"rsh",
        "pwsh" => *b"pws",
        // sqlps, sqltoolsps
        _ => *b"sql",
    }
}

impl Anchors {
    fn new(trigrams: &[[u8; 3]]) -> Anchors {
        match *trigrams {
            [a] => Anchors::One([a]),
            [a, b] => Anchors::Two([a, b]),
            [a, b, c] => Anchors::Three([a, b, c]),
            _ => unreachable!("one to three anchors: {} asked for", trigrams.len()),
        }
    }

    /// Whether any anchor or escape spelling appears in `text`, without regard to case.
    fn appear_in(&self, text: &[u8]) -> bool {
        match self {
            Anchors::One(t) => by_syntax(text, t),
            Anchors::Two(t) => by_syntax(text, t),
            Anchors::Three(t) => by_syntax(text, t),
        }
    }

    fn trigrams(&self) -> &[[u8; 3]] {
        match self {
            Anchors::One(t) => t,
            Anchors::Two(t) => t,
            Anchors::Three(t) => t,
        }
    }

    /// Every needle holds one of the trigrams, and the trigrams obey the folding rules.
    fn cover(&self, needles: &[&str]) -> bool {
        let folded = |t: &[u8; 3]| t.iter().all(|&b| b | 0x20 == b && b != b' ');
        self.trigrams().iter().all(folded)
            && needles.iter().all(|n| {
                let folded: Vec<u8> = n.bytes().map(|b| b | 0x20).collect();
                self.trigrams().iter().any(|t| folded.windows(3).any(|w| w == t))
            })
    }
}

/// Whether the event holds a JSON `\u00XX` escape or an XML character reference that
/// spells a printable ASCII character (JSON) or an ASCII character other than tab, CR and LF
/// (XML), or XML's `<!`.
pub fn has_ascii_escape(event: &[u8]) -> bool {
    Escapes::new().spell_ascii(event).next().is_some()
}

impl Escapes {
    /// Where the text holds an escape that may spell an ASCII character, or XML markup
    /// (`<!`) inside which the reader joins text.
    fn spell_ascii<'a>(&'a self, text: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        let json = json_escapes_apply(text).then(|| self.json.find_iter(text)).into_iter().flatten();
        // `\u0020` to `\u007e`: a control character's escape (which Fluent Bit writes for every
        // one in a record) spells no byte of any needle.
        let json = json.filter(|&at| {
            let digits = text.get(at + 4..at + 6).and_then(|d| std::str::from_utf8(d).ok());
            digits.and_then(|d| u8::from_str_radix(d, 16).ok()).is_some_and(|c| (0x20..0x7f).contains(&c))
        });
        let xml = self.xml.find_iter(text).filter(|&at| {
            let rest = &text[at + 2..];
            let (digits, radix) = match rest.first() {
                Some(b'x' | b'X') => (&rest[1..], 16),
                _ => (rest, 10),
            };
            let end = digits.iter().position(|&b| b == b';').unwrap_or(digits.len()).min(12);
            let value = std::str::from_utf8(&digits[..end]).ok().and_then(|d| u32::from_str_radix(d, radix).ok());
            // Tab, LF, CR and non-ASCII are harmless; anything else (ASCII, or something odd
            // the parser will have to judge) is not.
            !matches!(value, Some(9 | 10 | 13) | Some(128..))
        });
        json.chain(xml).chain(self.markup.find_iter(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROCESS: &[Rule] = &[Rule::ProcessCreation];
    const BOTH: &[Rule] = &Rule::ALL;
    const SCRIPT: &[Rule] = &[Rule::ScriptBlock];

    #[test]
    fn script_blocks_pass_by_their_event_id() {
        let mut s = Vec::new();
        let p = Prefilter::new(Mode::Parity, MacroProfile::Escu2026, BOTH);
        let block = br#"{"EventID":4104,"ScriptBlockText":"Invoke-Command -ComputerName x"}"#;
        assert!(p.may_match(block, &mut s));
        assert!(!Prefilter::new(Mode::Parity, MacroProfile::Escu2026, PROCESS).may_match(block, &mut s));
        assert!(!p.may_match(br#"{"EventID":4104,"ScriptBlockText":"Invoke-Command x"}"#, &mut s));
        let e = Prefilter::new(Mode::Extended, MacroProfile::Escu2026, SCRIPT);
        assert!(e.may_match(br#"{"EventID":4104,"SourceName":"PowerShell","ScriptBlockText":"icm -cn x {}"}"#, &mut s));
        assert!(!e.may_match(br#"{"EventID":4104,"ScriptBlockText":"icm -cn x {}"}"#, &mut s));
        assert!(e.may_match(br#"{"EventID":4104,"Channel":"PowerShellCore/Operational","StringInserts":[]}"#, &mut s));
        assert!(!e.may_match(br#"{"EventID":4103,"Image":"C:\powershell.exe"}"#, &mut s));
        // The digits alone, in a GUID, are no anchor.
        assert!(!e.may_match(br#"{"EventID":4104,"ProcessGuid":"{DBF41041-0F0}"}"#, &mut s));
        let both = Prefilter::new(Mode::Extended, MacroProfile::Escu2021, BOTH);
        assert!(
            both.may_match(
                b"<Event><EventID>4104</EventID><Channel>PowerShellCore/Operational</Channel></Event>",
                &mut s
            )
        );
        assert!(!both.may_match(b"<Event><EventID>4104</EventID></Event>", &mut s));
        assert!(both.may_match(b"sqlps.exe", &mut s));
    }

    #[test]
    fn folds_case_and_needs_every_term() {
        let p = Prefilter::new(Mode::Parity, MacroProfile::Escu2026, PROCESS);
        let mut s = Vec::new();
        assert!(p.may_match(b"C:\\POWERSHELL.EXE INVOKE-COMMAND -COMPUTERNAME x", &mut s));
        assert!(!p.may_match(b"C:\\powershell.exe Invoke-Command x", &mut s));
        assert!(!p.may_match(b"cmd.exe Invoke-Command -ComputerName x", &mut s));
        let e = Prefilter::new(Mode::Extended, MacroProfile::Escu2026, PROCESS);
        assert!(e.may_match(b"PwSh.dll icm", &mut s));
        assert!(!e.may_match(b"cmd.exe /c whoami", &mut s));
        let old = Prefilter::new(Mode::Extended, MacroProfile::Escu2021, PROCESS);
        assert!(old.may_match(b"SQLPS.exe", &mut s));
        assert!(old.may_match(b"sqltoolsps.exe", &mut s));
        assert!(!e.may_match(b"SQLPS.exe", &mut s));
    }

    /// The anchors at every position of the text, every length around a window's and a block's edges, and
    /// with the other bytes of every kind: found exactly where a trigram, `&#`, `<!` or `u00` is.
    #[test]
    fn anchors_are_found_at_every_offset() {
        let anchors = Anchors::Two([*b"-co", *b"pws"]);
        for len in 0..2 * anchors::BLOCK + anchors::STEP {
            for filler in [b'a', b'-', b'#', 0x00, 0xff, b'\r', b'C'] {
                let plain = vec![filler; len];
                assert!(!anchors.appear_in(&plain), "len {len} filler {filler}");
                for at in 0..len {
                    for needle in [&b"-CO"[..], b"pWs", b"&#", b"<!", b"U00"] {
                        if at + needle.len() > len {
                            continue;
                        }
                        let mut text = plain.clone();
                        text[at..at + needle.len()].copy_from_slice(needle);
                        assert!(anchors.appear_in(&text), "{needle:?} at {at} of {len}");
                    }
                    // A trigram cut by the end of the text is no trigram.
                    let mut cut = vec![b'x'; len];
                    let piece = &b"pws"[..(len - at).min(3)];
                    cut[at..at + piece.len()].copy_from_slice(piece);
                    assert_eq!(anchors.appear_in(&cut), piece.len() == 3, "cut at {at} of {len}");
                }
            }
        }
    }

    const WHOLE_NAMES: [&str; 8] = [
        "powershell.exe",
        "pwsh.exe",
        "powershell_ise.exe",
        "PowerShell.EXE",
        "pwsh.dll",
        "powershell_ise.EXE",
        "sqlps.exe",
        "sqltoolsps.exe",
    ];

    /// The first stage never rejects what the exact test accepts, over text built to hold
    /// many near misses.
    #[test]
    fn the_first_stage_is_a_superset_of_the_exact_test() {
        let parts: &[&[u8]] = &[
            b"-c",
            b"o",
            b"-co",
            b"powershell",
            b".exe",
            b"_ISE",
            b"pws",
            b"h",
            b".dll",
            b"&#",
            b"112;",
            b"\\u00",
            b"70",
            b"x",
            b"<!--",
            b"-->",
            b"Invoke-Command",
            b"-ComputerName",
            b"mputername",
            b"\x7f",
            br#"{"log":"<"#,
            br#""{\""#,
            br#""{5770}""#,
            br#""\"C:\\x""#,
            br#""\u00"#,
            br#""\n"#,
            br#"\" C"#,
            b"4104",
            b"410",
            b"04",
            b"Microsoft-Windows-PowerShell",
        ];
        let mut s = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut text = Vec::new();
            for _ in 0..(seed % 9) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.extend_from_slice(parts[(seed % parts.len() as u64) as usize]);
            }
            let setups = [
                (Mode::Parity, MacroProfile::Escu2026, PROCESS),
                (Mode::Parity, MacroProfile::Escu2026, BOTH),
                (Mode::Extended, MacroProfile::Escu2021, BOTH),
                (Mode::Extended, MacroProfile::Escu2026, SCRIPT),
            ];
            for (mode, profile, rules) in setups {
                let p = Prefilter::new(mode, profile, rules);
                let exact = {
                    let folded: Vec<u8> = text.iter().map(|b| b | 0x20).collect();
                    let holds =
                        |needles: &[&str]| needles.iter().any(|n| memchr::memmem::find(&folded, &fold(n)).is_some());
                    let (names, stems) = match (rules.contains(&Rule::ProcessCreation), profile) {
                        (false, _) => (&[][..], &[][..]),
                        (true, MacroProfile::Escu2026) => (&WHOLE_NAMES[..6], &["powershell", "pwsh"][..]),
                        (true, MacroProfile::Escu2021) => {
                            (&WHOLE_NAMES[..], &["powershell", "pwsh", "sqlps", "sqltoolsps"][..])
                        }
                    };
                    // Stage 1 needs a script block's word (extended) or both terms (parity);
                    // stage 2 the event id.
                    let words = mode == Mode::Parity || holds(&SCRIPT_BLOCK_WORDS);
                    let event_id = rules.contains(&Rule::ScriptBlock) && words && holds(&["4104"]);
                    p.escapes.spell_ascii(&text).next().is_some()
                        || (p.terms.iter().all(|f| f.find(&folded).is_some())
                            && (event_id || holds(names) || (may_embed(&text) && holds(stems))))
                };
                assert_eq!(p.may_match(&text, &mut s), exact, "{:?}", String::from_utf8_lossy(&text));
            }
        }
    }

    #[test]
    fn escapes_that_spell_ascii_force_the_full_path() {
        assert!(has_ascii_escape(br#"{"Image":"\u0070owershell"}"#));
        assert!(has_ascii_escape(b"<Data>&#112;owershell</Data>"));
        assert!(has_ascii_escape(b"<Data>&#x70;owershell</Data>"));
        assert!(!has_ascii_escape("{\"p\":\"Microsoft\\u00ae\"}".as_bytes()));
        assert!(!has_ascii_escape(b"<Data>a&#10;b&#13;</Data>"));
        assert!(!has_ascii_escape(b"<Data>&#x2014;</Data>"));
        let p = Prefilter::new(Mode::Parity, MacroProfile::Escu2026, PROCESS);
        assert!(p.may_match(b"&#45;computername invoke&#45;command powershell", &mut Vec::new()));
        // The XML reader joins text around a comment or CDATA section.
        let split = b"<Data Name='Image'>power<!-- -->shell.exe</Data>Invoke-Command -ComputerName";
        assert!(p.may_match(split, &mut Vec::new()));
        assert!(has_ascii_escape(b"<Data><![CDATA[pwsh]]>.exe</Data>"));
        // A JSON escape is an anchor in JSON, and only text in event XML.
        let anchors = Anchors::One([*b"-co"]);
        assert!(anchors.appear_in(br#"{"a":"\u002dco"}"#));
        assert!(!anchors.appear_in(br#"<Event><Data>\u002dco</Data></Event>"#));
    }

    #[test]
    fn names_are_whole_process_names() {
        let e = Prefilter::new(Mode::Extended, MacroProfile::Escu2026, PROCESS);
        let mut s = Vec::new();
        for name in ["POWERSHELL.EXE", "pwsh.exe", "PowerShell_ISE.exe", "pwsh.DLL"] {
            assert!(e.may_match(format!("C:\\x\\{name}").as_bytes(), &mut s), "{name}");
        }
        // A module path or a parent's command line naming PowerShell is not enough.
        assert!(!e.may_match(b"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\Modules", &mut s));
        assert!(!e.may_match(b"powershell_ise", &mut s));
    }
}
