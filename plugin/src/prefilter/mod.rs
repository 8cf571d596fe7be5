//! The fast reject: decides from the raw bytes, without parsing or copying, that an event
//! cannot match, because it holds what none of the running rules needs ([`Need`]): for the
//! process-creation rule a name the `process_powershell` macro accepts (`powershell.exe`,
//! `pwsh.dll`, ...: the macro compares whole values, so a matching event holds one of them
//! verbatim) and, in parity mode, both search terms; for the script-block rules the event id
//! `4104` (every shape writes it in digits) and their terms; for the family's other process
//! rules the whole name they compare (`winrs.exe`, `wsmprovhost.exe`, `winrshost.exe`). Most
//! events a shipper sees hold none of these, so most never reach a JSON or XML parser.
//!
//! A script block that can match names PowerShell (its channel or provider, as the
//! `powershell` macro requires, or ECS's `powershell.*` keys): extended mode anchors on that
//! (`rsh`, the names' own anchor), not on the digits, which hex GUIDs and hashes are full of
//! (`410` is in 65,143 of the corpus's 65,145 events).
//!
//! Two stages. The first ([`Anchors`]) reads every byte once and looks only for short
//! *anchors*: a three-byte piece of each needle one of which an event must hold (`-co` of
//! `-computername`, which every parity search requires; `nrs` of `winrs`), plus whatever lets parsed text differ from the raw
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
use crate::family;
use crate::rules::{MacroProfile, PARITY_TERMS, Reads, Rule};

pub struct Prefilter {
    anchors: Anchors,
    /// What the events of each running rule hold (rules needing the same merged): an event
    /// passes the second stage when it holds what one of them needs.
    gates: Vec<Gate>,
    /// `4104`, which every script block holds in digits in every shape.
    event_id: Finder<'static>,
    escapes: Escapes,
}

/// What the events one rule (or several) can fire on hold, as finders over the folded text.
enum Gate {
    /// A process creation: every one of `terms`, and one of `names` whole or, in a record
    /// that may carry an event as text (see [`may_embed`]), its stem: the text may be cut
    /// short before its names, and is then reported as broken rather than passed over.
    Process { terms: Vec<Finder<'static>>, names: Vec<Name> },
    /// A script block: the event id `4104`, every one of `terms`, and one of `words` when
    /// there are any.
    ScriptBlock { terms: Vec<Finder<'static>>, words: Vec<Finder<'static>> },
}

/// What a gate says of a folded text.
#[derive(PartialEq)]
enum Holds {
    Yes,
    /// Everything but a whole name: only a name's stem.
    StemOnly,
    No,
}

impl Gate {
    fn holds(&self, folded: &[u8], event_id: &Finder<'_>) -> Holds {
        let all = |finders: &[Finder<'_>]| finders.iter().all(|f| f.find(folded).is_some());
        match self {
            Gate::Process { terms, names } if all(terms) => {
                let mut stem_only = false;
                for name in names {
                    match name.find(folded) {
                        Some(true) => return Holds::Yes,
                        Some(false) => stem_only = true,
                        None => {}
                    }
                }
                if stem_only { Holds::StemOnly } else { Holds::No }
            }
            Gate::ScriptBlock { terms, words }
                if event_id.find(folded).is_some()
                    && all(terms)
                    && (words.is_empty() || words.iter().any(|w| w.find(folded).is_some())) =>
            {
                Holds::Yes
            }
            _ => Holds::No,
        }
    }
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

/// The names that start with one stem (`powershell`: `.exe`, `_ise.exe`), searched for as the
/// stem, each occurrence then looked at for an ending: one pass over the text per stem
/// instead of one per name.
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

/// What the events of one rule hold, as text: the policy that [`Prefilter`] compiles to
/// finders and [`fluent_bit`] to Onigmo patterns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub reads: Reads,
    /// Every one of these (parity's search terms).
    pub terms: &'static [&'static str],
    /// One of these whole (process creations), each under one of `stems`.
    pub names: Vec<&'static str>,
    pub stems: Vec<&'static str>,
    /// One of these (script blocks, extended mode: what names PowerShell).
    pub words: &'static [&'static str],
}

/// What each of `rules` needs under `mode` and `profile`, those that need the same merged.
pub fn needs(mode: Mode, profile: MacroProfile, rules: &[Rule]) -> Vec<Need> {
    let parity = mode == Mode::Parity;
    let process = |terms, names: Vec<&'static str>, stems: Vec<&'static str>| Need {
        reads: Reads::ProcessCreations,
        terms,
        names,
        stems,
        words: &[],
    };
    let block = |terms, words| Need { reads: Reads::ScriptBlocks, terms, names: Vec::new(), stems: Vec::new(), words };
    let mut needs: Vec<Need> = Vec::new();
    for &rule in Rule::ALL.iter().filter(|r| rules.contains(r)) {
        let need = match rule {
            Rule::ProcessCreation => {
                let mut names = profile.process_names().to_vec();
                names.extend(crate::rules::ORIGINAL_FILE_NAMES);
                let mut stems = vec!["powershell", "pwsh"];
                if profile == MacroProfile::Escu2021 {
                    stems.extend(["sqlps", "sqltoolsps"]);
                }
                process(if parity { &PARITY_TERMS[..] } else { &[] }, names, stems)
            }
            Rule::ScriptBlock if parity => block(&PARITY_TERMS[..], &[]),
            Rule::ScriptBlock => block(&[], &SCRIPT_BLOCK_WORDS[..]),
            Rule::Winrs => process(&[], vec![family::WINRS_NAME], vec!["winrs"]),
            Rule::InteractiveSession if parity => block(&family::INTERACTIVE_SESSION_TERMS[..], &[]),
            // Extended reads Enter-PSSession in any script block, as the twin reads Invoke-Command.
            Rule::InteractiveSession => block(&[], &SCRIPT_BLOCK_WORDS[..]),
            Rule::WinrmSpawningAProcess => process(&[], vec![family::WSMPROVHOST], vec!["wsmprovhost"]),
            Rule::WinrmExecuteShell => process(&[], vec![family::WINRSHOST], vec!["winrs"]),
        };
        match needs.iter_mut().find(|n| n.reads == need.reads && n.terms == need.terms && n.words == need.words) {
            Some(same) => {
                push_new(&mut same.names, need.names);
                push_new(&mut same.stems, need.stems);
            }
            None => needs.push(need),
        }
    }
    needs
}

/// Appends the items `list` does not hold yet, in order.
fn push_new<T: PartialEq>(list: &mut Vec<T>, items: impl IntoIterator<Item = T>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

impl Need {
    /// The needles one of which every event this need passes holds: a term (all are
    /// required, so any will do: the last, which for every rule can start a pattern, see
    /// [`fluent_bit`]), or else a word or a stem.
    pub fn one_of(&self) -> Vec<&'static str> {
        match self.terms.last() {
            Some(term) => vec![*term],
            None if !self.words.is_empty() => self.words.to_vec(),
            None => self.stems.clone(),
        }
    }

    fn compile(&self) -> Gate {
        let finders = |needles: &[&str]| needles.iter().map(|n| folded_finder(n)).collect::<Vec<_>>();
        match self.reads {
            Reads::ProcessCreations => Gate::Process {
                terms: finders(self.terms),
                names: self
                    .stems
                    .iter()
                    .map(|stem| {
                        let (stem, mut endings) = (fold(stem), Vec::new());
                        for name in self.names.iter().map(|n| fold(n)) {
                            if let Some(ending) = name.strip_prefix(stem.as_slice())
                                && !endings.iter().any(|e: &Vec<u8>| e == ending)
                            {
                                endings.push(ending.to_vec());
                            }
                        }
                        Name { stem: Finder::new(&stem).into_owned(), endings }
                    })
                    .collect(),
            },
            Reads::ScriptBlocks => Gate::ScriptBlock { terms: finders(self.terms), words: finders(self.words) },
        }
    }
}

impl Prefilter {
    pub fn new(mode: Mode, profile: MacroProfile, rules: &[Rule]) -> Prefilter {
        let needs = needs(mode, profile, rules);
        // Each need's events hold one of its needles, so one anchor per needle will do.
        let mut trigrams: Vec<[u8; 3]> = Vec::new();
        push_new(&mut trigrams, needs.iter().flat_map(|n| n.one_of()).map(anchor));
        let anchors = Anchors::new(&trigrams);
        debug_assert!(needs.iter().all(|n| anchors.cover(&n.one_of())));
        debug_assert!(
            needs
                .iter()
                .all(|n| n.names.iter().all(|name| n.stems.iter().any(|s| name.to_ascii_lowercase().starts_with(s))))
        );
        Prefilter {
            anchors,
            gates: needs.iter().map(Need::compile).collect(),
            event_id: folded_finder(&crate::event::SCRIPT_BLOCK_EVENT_ID.to_string()),
            escapes: Escapes::new(),
        }
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
        let mut stem_only = false;
        for gate in &self.gates {
            match gate.holds(folded, &self.event_id) {
                Holds::Yes => return true,
                Holds::StemOnly => stem_only = true,
                Holds::No => {}
            }
        }
        stem_only && may_embed(event)
    }
}

/// What a needle is found by in the first stage: a trigram rare in logs that only it holds of
/// the needles (`powershell` is everywhere in a path, so not `pow`; both parity terms hold
/// `-co`; `winrs` and `winrshost` share `nrs`).
fn anchor(needle: &str) -> [u8; 3] {
    match needle {
        "powershell" => *b"rsh",
        "pwsh" => *b"pws",
        "sqlps" | "sqltoolsps" => *b"sql",
        "winrs" => *b"nrs",
        "wsmprovhost" => *b"wsm",
        "invoke-command" | "-computername" => *b"-co",
        _ => unreachable!("no anchor for {needle}"),
    }
}

/// What every script block that can match holds, folded: `powershell`, in its channel or
/// provider (`event::windows`) or in ECS's keys (`event::json`).
const SCRIPT_BLOCK_WORDS: [&str; 1] = ["powershell"];

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

/// The first stage: folded trigrams, one per needle an event must hold one of, plus the
/// escape spellings. A trigram's bytes are folded already (`b | 0x20 == b`) and none is a
/// space, which is what the zero padding past the end of the text folds to.
enum Anchors {
    One([[u8; 3]; 1]),
    Two([[u8; 3]; 2]),
    Three([[u8; 3]; 3]),
    Four([[u8; 3]; 4]),
    Five([[u8; 3]; 5]),
    Six([[u8; 3]; 6]),
}

impl Anchors {
    fn new(trigrams: &[[u8; 3]]) -> Anchors {
        match *trigrams {
            [a] => Anchors::One([a]),
            [a, b] => Anchors::Two([a, b]),
            [a, b, c] => Anchors::Three([a, b, c]),
            [a, b, c, d] => Anchors::Four([a, b, c, d]),
            [a, b, c, d, e] => Anchors::Five([a, b, c, d, e]),
            [a, b, c, d, e, f] => Anchors::Six([a, b, c, d, e, f]),
            _ => unreachable!("one to six anchors: {} asked for", trigrams.len()),
        }
    }

    /// Whether any anchor or escape spelling appears in `text`, without regard to case.
    fn appear_in(&self, text: &[u8]) -> bool {
        match self {
            Anchors::One(t) => by_syntax(text, t),
            Anchors::Two(t) => by_syntax(text, t),
            Anchors::Three(t) => by_syntax(text, t),
            Anchors::Four(t) => by_syntax(text, t),
            Anchors::Five(t) => by_syntax(text, t),
            Anchors::Six(t) => by_syntax(text, t),
        }
    }

    fn trigrams(&self) -> &[[u8; 3]] {
        match self {
            Anchors::One(t) => t,
            Anchors::Two(t) => t,
            Anchors::Three(t) => t,
            Anchors::Four(t) => t,
            Anchors::Five(t) => t,
            Anchors::Six(t) => t,
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
    const EVERY: &[Rule] = &Rule::ALL;
    const SCRIPT: &[Rule] = &[Rule::ScriptBlock];

    #[test]
    fn script_blocks_pass_by_their_event_id() {
        let mut s = Vec::new();
        let p = Prefilter::new(Mode::Parity, MacroProfile::Escu2026, EVERY);
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
        let both = Prefilter::new(Mode::Extended, MacroProfile::Escu2021, EVERY);
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
            b"winrs",
            b"nrs",
            b"host",
            b"WsmProvHost",
            b"Enter-PSSession",
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
                (Mode::Parity, MacroProfile::Escu2026, EVERY),
                (Mode::Parity, MacroProfile::Escu2026, &Rule::DEFAULT[..]),
                (Mode::Extended, MacroProfile::Escu2021, EVERY),
                (Mode::Extended, MacroProfile::Escu2026, SCRIPT),
                (Mode::Extended, MacroProfile::Escu2026, &[Rule::WinrmSpawningAProcess, Rule::InteractiveSession]),
            ];
            for (mode, profile, rules) in setups {
                let p = Prefilter::new(mode, profile, rules);
                let exact = {
                    let folded: Vec<u8> = text.iter().map(|b| b | 0x20).collect();
                    let holds =
                        |needles: &[&str]| needles.iter().any(|n| memchr::memmem::find(&folded, &fold(n)).is_some());
                    // Every term, then (a process creation) a whole name or, where an event
                    // may be embedded, a stem, or (a script block) the event id and a word.
                    let passes = |n: &Need| {
                        n.terms.iter().all(|t| holds(&[t]))
                            && match n.reads {
                                Reads::ProcessCreations => holds(&n.names) || (may_embed(&text) && holds(&n.stems)),
                                Reads::ScriptBlocks => holds(&["4104"]) && (n.words.is_empty() || holds(n.words)),
                            }
                    };
                    p.escapes.spell_ascii(&text).next().is_some() || needs(mode, profile, rules).iter().any(passes)
                };
                assert_eq!(p.may_match(&text, &mut s), exact, "{:?}", String::from_utf8_lossy(&text));
            }
        }
    }

    /// What each rule needs, spelled out: the policy the superset test above takes as given.
    #[test]
    fn each_rule_needs_its_names_or_terms() {
        let spec = |mode, rules: &[Rule]| {
            needs(mode, MacroProfile::Escu2026, rules)
                .into_iter()
                .map(|n| (n.reads, n.terms.to_vec(), n.names, n.words.to_vec()))
                .collect::<Vec<_>>()
        };
        let (p, b) = (Reads::ProcessCreations, Reads::ScriptBlocks);
        let powershell = vec![
            "powershell.exe",
            "pwsh.exe",
            "powershell_ise.exe",
            "PowerShell.EXE",
            "pwsh.dll",
            "powershell_ise.EXE",
        ];
        assert_eq!(
            spec(Mode::Parity, EVERY),
            [
                (p, PARITY_TERMS.to_vec(), powershell.clone(), vec![]),
                (b, PARITY_TERMS.to_vec(), vec![], vec![]),
                (p, vec![], vec!["winrs.exe", "wsmprovhost.exe", "winrshost.exe"], vec![]),
                (b, vec!["enter-pssession", "-computername"], vec![], vec![]),
            ]
        );
        let mut every_name = powershell;
        every_name.extend(["winrs.exe", "wsmprovhost.exe", "winrshost.exe"]);
        assert_eq!(
            spec(Mode::Extended, EVERY),
            [(p, vec![], every_name, vec![]), (b, vec![], vec![], vec!["powershell"])]
        );
        let mut s = Vec::new();
        let family = Prefilter::new(Mode::Parity, MacroProfile::Escu2026, EVERY);
        assert!(
            family.may_match(br#"{"Image":"C:\\Windows\\System32\\WINRS.exe","CommandLine":"winrs -r:x"}"#, &mut s)
        );
        assert!(family.may_match(br#"{"ParentImage":"C:\\wsmprovhost.exe","Image":"whoami.exe"}"#, &mut s));
        assert!(!family.may_match(br#"{"ParentImage":"C:\\wsmprovhost.dll","Image":"whoami.exe"}"#, &mut s));
        assert!(
            family
                .may_match(br#"{"EventID":4104,"ScriptBlockText":"etsn x; Enter-PSSession -ComputerName x"}"#, &mut s)
        );
        assert!(!family.may_match(br#"{"EventID":4103,"ScriptBlockText":"Enter-PSSession -ComputerName x"}"#, &mut s));
        let source = Prefilter::new(Mode::Parity, MacroProfile::Escu2026, &Rule::DEFAULT);
        assert!(!source.may_match(br#"{"ParentImage":"C:\\wsmprovhost.exe","Image":"whoami.exe"}"#, &mut s));
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
