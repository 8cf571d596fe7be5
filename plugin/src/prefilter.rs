//! The fast reject: decides from the raw bytes, without parsing, that an event cannot match,
//! because it does not mention a PowerShell image anywhere (and, in parity mode, does not
//! contain both search terms). Most events a shipper sees are not PowerShell process
//! creations, so most never reach a JSON or XML parser.
//!
//! Case-insensitivity without a lower-cased copy of each needle set: every needle is made of
//! ASCII letters and `-`, and for such needles `byte | 0x20` folds exactly the bytes that
//! could match (`P` and `p` both become `p`; `-` stays `-`, and only CR also folds onto it,
//! which can only add candidates, never lose one). One fold pass, then SIMD `memmem`.
//!
//! It must never change a verdict. The one way text can hide from a byte search is an
//! escape that spells an ASCII character (`\u0070` in JSON, `&#112;` in XML); events with
//! such an escape always take the full path.

use memchr::memmem::Finder;

use crate::config::{MacroProfile, Mode};

pub struct Prefilter {
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
            Mode::Parity => &["invoke-command", "-computername"],
            Mode::Extended => &[],
        };
        Prefilter {
            names: names.into_iter().map(|n| Finder::new(n.as_bytes()).into_owned()).collect(),
            terms: terms.iter().map(|n| Finder::new(n.as_bytes()).into_owned()).collect(),
            escapes: Escapes::new(),
        }
    }

    /// False only when the event certainly cannot match. `scratch` is reused across calls.
    pub fn may_match(&self, event: &[u8], scratch: &mut Vec<u8>) -> bool {
        if self.escapes.spell_ascii(event) {
            return true;
        }
        scratch.clear();
        scratch.extend(event.iter().map(|b| b | 0x20));
        let folded = scratch.as_slice();
        self.terms.iter().all(|f| f.find(folded).is_some()) && self.names.iter().any(|f| f.find(folded).is_some())
    }
}

/// Whether the event holds a JSON `\u00XX` escape or an XML character reference that
/// spells an ASCII character other than tab, CR and LF.
pub fn has_ascii_escape(event: &[u8]) -> bool {
    Escapes::new().spell_ascii(event)
}

impl Escapes {
    fn spell_ascii(&self, event: &[u8]) -> bool {
        for at in self.json.find_iter(event) {
            if event.get(at + 4).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                return true;
            }
        }
        for at in self.xml.find_iter(event) {
            let rest = &event[at + 2..];
            let (digits, radix) = match rest.first() {
                Some(b'x' | b'X') => (&rest[1..], 16),
                _ => (rest, 10),
            };
            let end = digits.iter().position(|&b| b == b';').unwrap_or(digits.len()).min(12);
            let value = std::str::from_utf8(&digits[..end]).ok().and_then(|d| u32::from_str_radix(d, radix).ok());
            match value {
                Some(9 | 10 | 13) => {}
                Some(v) if v >= 128 => {}
                // ASCII, or something odd the parser will have to judge.
                _ => return true,
            }
        }
        false
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
        assert!(!e.may_match(b"SQLPS.exe", &mut s));
    }

    #[test]
    fn escapes_that_spell_ascii_force_the_full_path() {
        assert!(has_ascii_escape(br#"{"Image":"\u0070owershell"}"#));
        assert!(has_ascii_escape(b"<Data>&#112;owershell</Data>"));
        assert!(has_ascii_escape(b"<Data>&#x70;owershell</Data>"));
        assert!(!has_ascii_escape("{\"p\":\"Microsoft\\u00ae\"}".as_bytes()));
        assert!(!has_ascii_escape(b"<Data>a&#10;b&#13;</Data>"));
        assert!(!has_ascii_escape(b"<Data>&#x2014;</Data>"));
    }
}
