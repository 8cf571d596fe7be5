//! The fast reject: decides from the raw bytes, without parsing or copying, that an event
//! cannot match, because it does not mention a PowerShell image anywhere (and, in parity
//! mode, does not contain both search terms). Most events a shipper sees are not PowerShell
//! process creations, so most never reach a JSON or XML parser.
//!
//! Two stages. The first ([`Anchors`]) reads every byte once and looks only for short
//! *anchors*: a three-byte piece that every needle of a group shares (`-co` is in both
//! `invoke-command` and `-computername`), plus the two ways an escape can spell an ASCII
//! character (`#` of `&#112;`, `u00` of `\u0070`). An event with none of them is rejected
//! right there, and that is nearly every event: in the corpus, 374 of 65,145 events hold a
//! folded `-co`. Only the rest take the second stage, the exact test (fold, `memmem` per
//! needle, escapes decoded).
//!
//! The first stage works a word at a time, because Fluent Bit's WAMR runs the module without
//! SIMD (and its interpreter pays per instruction, not per byte): three unaligned loads at
//! offsets 0, 1 and 2 put the three bytes of a trigram side by side, and one zero-byte test
//! answers for eight positions. Where WebAssembly SIMD is on (the component), the same test
//! runs on sixteen positions at a time.
//!
//! Case-insensitivity without a lower-cased copy: every needle is made of ASCII letters,
//! digits, `-` and `#`, and for such needles `byte | 0x20` folds exactly the bytes that could
//! match (`P` and `p` both become `p`; `-` stays `-`, and only CR also folds onto it, which can
//! only add candidates, never lose one).
//!
//! It must never change a verdict: each stage answers "may match" for a superset of what the
//! next one does, and the escape spellings always take the full path.

use memchr::memmem::Finder;

use crate::config::{MacroProfile, Mode};

pub struct Prefilter {
    anchors: Anchors,
    /// At least one of these (a PowerShell image or original file name) must appear.
    names: Vec<Finder<'static>>,
    /// Every one of these must appear (parity mode's two search terms).
    terms: Vec<Finder<'static>>,
    escapes: Escapes,
}

/// The two escape spellings, searched for with finders built once.
struct Escapes {
    json: Finder<'static>,
    xml: Finder<'static>,
}

impl Escapes {
    fn new() -> Escapes {
        Escapes { json: Finder::new(b"\\u00").into_owned(), xml: Finder::new(b"&#").into_owned() }
    }
}

impl Prefilter {
    pub fn new(mode: Mode, profile: MacroProfile) -> Prefilter {
        // `powershell` covers powershell.exe, powershell_ise.exe and PowerShell.EXE;
        // `pwsh` covers pwsh.exe and pwsh.dll.
        let mut names = vec!["powershell", "pwsh"];
        if profile == MacroProfile::Escu2021 {
            names.extend(["sqlps", "sqltoolsps"]);
        }
        let terms: &[&str] = match mode {
            Mode::Parity => &crate::rule::PARITY_TERMS,
            Mode::Extended => &[],
        };
        // Parity needs both terms, so one anchor common to them will do; extended needs one of
        // the names, so each name needs an anchor it holds.
        let anchors = match (mode, profile) {
            (Mode::Parity, _) => Anchors::One([*b"-co"]),
            (Mode::Extended, MacroProfile::Escu2026) => Anchors::Two([*b"rsh", *b"pws"]),
            (Mode::Extended, MacroProfile::Escu2021) => Anchors::Three([*b"rsh", *b"pws", *b"sql"]),
        };
        let prefilter = Prefilter {
            anchors,
            names: names.iter().map(|n| Finder::new(n.as_bytes()).into_owned()).collect(),
            terms: terms.iter().map(|n| Finder::new(n.as_bytes()).into_owned()).collect(),
            escapes: Escapes::new(),
        };
        debug_assert!(prefilter.anchors.cover(if terms.is_empty() { &names } else { terms }));
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
        self.terms.iter().all(|f| f.find(folded).is_some()) && self.names.iter().any(|f| f.find(folded).is_some())
    }
}

/// The first stage: folded trigrams, one per group of needles, plus the escape spellings.
/// A trigram's bytes are folded already (`b | 0x20 == b`) and none is a space, which is what
/// the zero padding past the end of the text folds to.
enum Anchors {
    One([[u8; 3]; 1]),
    Two([[u8; 3]; 2]),
    Three([[u8; 3]; 3]),
}

impl Anchors {
    /// Whether any anchor or escape spelling appears in `text`, without regard to case.
    fn appear_in(&self, text: &[u8]) -> bool {
        match self {
            Anchors::One(t) => any_anchor(text, t),
            Anchors::Two(t) => any_anchor(text, t),
            Anchors::Three(t) => any_anchor(text, t),
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
            && needles.iter().all(|n| self.trigrams().iter().any(|t| n.as_bytes().windows(3).any(|w| w == t)))
    }
}

/// How many bytes one step of [`any_anchor`] reads: a word of starting positions and the two
/// bytes a trigram starting at the last of them reaches.
const STEP: usize = LANES + 2;

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
const LANES: usize = 8;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const LANES: usize = 16;

fn any_anchor<const N: usize>(text: &[u8], trigrams: &[[u8; 3]; N]) -> bool {
    let test = Window::new(trigrams);
    let mut at = 0;
    while at < text.len() {
        let hit = match text.get(at..at + STEP) {
            Some(window) => test.hit(window.try_into().expect("STEP bytes")),
            None => {
                let mut padded = [0u8; STEP];
                padded[..text.len() - at].copy_from_slice(&text[at..]);
                test.hit(&padded)
            }
        };
        if hit {
            return true;
        }
        at += LANES;
    }
    false
}

/// The anchor test over the `LANES` positions a window starts with, word at a time.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
struct Window<const N: usize> {
    trigrams: [[u64; 3]; N],
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
impl<const N: usize> Window<N> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

    fn new(trigrams: &[[u8; 3]; N]) -> Self {
        Window { trigrams: trigrams.map(|t| t.map(Self::splat)) }
    }

    const fn splat(b: u8) -> u64 {
        Self::ONES * b as u64
    }

    /// Nonzero high bits wherever `x` may have a zero byte, and none when it has no zero byte
    /// (the borrow can only mark bytes above a real zero). The `& HIGH` is left to the caller,
    /// so that several of these are ORed first.
    #[inline(always)]
    fn zero_bytes(x: u64) -> u64 {
        x.wrapping_sub(Self::ONES) & !x
    }

    #[inline(always)]
    fn hit(&self, window: &[u8; STEP]) -> bool {
        let load = |at: usize| u64::from_le_bytes(window[at..at + 8].try_into().expect("8 bytes")) | Self::splat(0x20);
        let (a, b, c) = (load(0), load(1), load(2));
        let mut zeros = Self::zero_bytes(a ^ Self::splat(b'#'))
            | Self::zero_bytes((a ^ Self::splat(b'u')) | (b ^ Self::splat(b'0')) | (c ^ Self::splat(b'0')));
        for [x, y, z] in &self.trigrams {
            zeros |= Self::zero_bytes((a ^ x) | (b ^ y) | (c ^ z));
        }
        zeros & Self::HIGH != 0
    }
}

/// The anchor test over the `LANES` positions a window starts with, with WebAssembly SIMD.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
struct Window<const N: usize> {
    trigrams: [[core::arch::wasm32::v128; 3]; N],
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl<const N: usize> Window<N> {
    fn new(trigrams: &[[u8; 3]; N]) -> Self {
        Window { trigrams: trigrams.map(|t| t.map(|b| core::arch::wasm32::u8x16_splat(b))) }
    }

    #[inline(always)]
    fn hit(&self, window: &[u8; STEP]) -> bool {
        use core::arch::wasm32::*;
        // SAFETY: each load reads 16 bytes at offset 0, 1 or 2 of an 18-byte array;
        // WebAssembly loads need no alignment.
        let load = |at: usize| v128_or(unsafe { v128_load(window.as_ptr().add(at).cast()) }, u8x16_splat(0x20));
        let (a, b, c) = (load(0), load(1), load(2));
        let is = |v: v128, byte: u8| u8x16_eq(v, u8x16_splat(byte));
        let mut found = v128_or(is(a, b'#'), v128_and(v128_and(is(a, b'u'), is(b, b'0')), is(c, b'0')));
        for [x, y, z] in &self.trigrams {
            found = v128_or(found, v128_and(v128_and(u8x16_eq(a, *x), u8x16_eq(b, *y)), u8x16_eq(c, *z)));
        }
        v128_any_true(found)
    }
}

/// Whether the event holds a JSON `\u00XX` escape or an XML character reference that
/// spells an ASCII character other than tab, CR and LF.
pub fn has_ascii_escape(event: &[u8]) -> bool {
    Escapes::new().spell_ascii(event).next().is_some()
}

impl Escapes {
    /// Where the text holds an escape that may spell an ASCII character.
    fn spell_ascii<'a>(&'a self, text: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        let json = self.json.find_iter(text).filter(|&at| text.get(at + 4).is_some_and(|d| (b'0'..=b'7').contains(d)));
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
        json.chain(xml)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_needs_every_term() {
        let p = Prefilter::new(Mode::Parity, MacroProfile::Escu2026);
        let mut s = Vec::new();
        assert!(p.may_match(b"C:\\POWERSHELL.EXE INVOKE-COMMAND -COMPUTERNAME x", &mut s));
        assert!(!p.may_match(b"C:\\powershell.exe Invoke-Command x", &mut s));
        assert!(!p.may_match(b"cmd.exe Invoke-Command -ComputerName x", &mut s));
        let e = Prefilter::new(Mode::Extended, MacroProfile::Escu2026);
        assert!(e.may_match(b"PwSh.dll icm", &mut s));
        assert!(!e.may_match(b"cmd.exe /c whoami", &mut s));
        let old = Prefilter::new(Mode::Extended, MacroProfile::Escu2021);
        assert!(old.may_match(b"SQLPS.exe", &mut s));
        assert!(old.may_match(b"sqltoolsps.exe", &mut s));
        assert!(!e.may_match(b"SQLPS.exe", &mut s));
    }

    /// The anchors at every position of the text, every length around a window's edges, and
    /// with the other bytes of every kind: found exactly where a trigram, `#` or `u00` is.
    #[test]
    fn anchors_are_found_at_every_offset() {
        let anchors = Anchors::Two([*b"-co", *b"pws"]);
        for len in 0..3 * STEP {
            for filler in [b'a', b'-', 0x00, 0xff, b'\r', b'C'] {
                let plain = vec![filler; len];
                assert!(!anchors.appear_in(&plain), "len {len} filler {filler}");
                for at in 0..len {
                    for needle in [&b"-CO"[..], b"pWs", b"#", b"U00"] {
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
        let parts: [&[u8]; 14] = [
            b"-c",
            b"o",
            b"-co",
            b"powershell",
            b"pws",
            b"h",
            b"&#",
            b"112;",
            b"\\u00",
            b"70",
            b"x",
            b"Invoke-Command",
            b"-ComputerName",
            b"mputername",
        ];
        let mut s = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut text = Vec::new();
            for _ in 0..(seed % 9) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.extend_from_slice(parts[(seed % 14) as usize]);
            }
            for (mode, profile) in [(Mode::Parity, MacroProfile::Escu2026), (Mode::Extended, MacroProfile::Escu2021)] {
                let p = Prefilter::new(mode, profile);
                let exact = {
                    let folded: Vec<u8> = text.iter().map(|b| b | 0x20).collect();
                    p.escapes.spell_ascii(&text).next().is_some()
                        || (p.terms.iter().all(|f| f.find(&folded).is_some())
                            && p.names.iter().any(|f| f.find(&folded).is_some()))
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
        let p = Prefilter::new(Mode::Parity, MacroProfile::Escu2026);
        assert!(p.may_match(b"&#45;computername invoke&#45;command powershell", &mut Vec::new()));
    }
}
