//! The record a shipper gets back for one event, the same from every host: the Fluent Bit
//! module, `winrm-detect scan --emit all` and `serve`.
//!
//! - An event that is a JSON object keeps its bytes as they came (no re-parse, no reordering,
//!   numbers as written); the detection's keys are added before its closing brace.
//! - Any other event (event XML, a line of text, JSON that does not parse, and for `scan` and
//!   `serve` an object a strict JSON reader refuses, one with a lone surrogate) is carried as
//!   a string under `log`, the key Fluent Bit's own inputs give a raw line, so that a record
//!   reads the same whichever host made it. For `scan` and `serve`, bytes that are not UTF-8
//!   become U+FFFD (in an object, they stand inside a string, and it stays an object).
//! - What fired goes under `winrm_detect` (a list of annotations); why an event could not be
//!   read under `winrm_detect_error` (`{"kind", "message"}`). When nothing fired the record
//!   gains nothing: records that Fluent Bit's prefilter keeps away from the module never see
//!   it, and the ones the module examines must not look different from them.
//!
//! The added keys come last, so a record that already had one (a record scanned twice) has it
//! twice, and the parsers shippers use take the last.

use serde::de::IgnoredAny;

use crate::config::Output;
use crate::error::ScanError;
use crate::render::render;
use crate::{Annotation, Outcome};

/// Where the annotations of the rules that fired go.
pub const ANNOTATIONS_KEY: &str = "winrm_detect";
/// Where the reason an event could not be read goes.
pub const ERROR_KEY: &str = "winrm_detect_error";
/// Where an event that is not a JSON object is carried, as text.
pub const TEXT_KEY: &str = "log";

/// The record for `event` and what the detector made of it, in `out` (cleared first).
pub fn write(out: &mut Vec<u8>, event: &[u8], outcome: &Outcome, output: Output) {
    out.clear();
    match outcome {
        Ok(list) if list.is_empty() => with_keys_to(out, event, &[], Reader::Strict),
        Ok(list) => with_keys_to(out, event, &[(ANNOTATIONS_KEY, &annotations_json(list, output))], Reader::Strict),
        Err(e) => with_keys_to(out, event, &[(ERROR_KEY, &error_json(e))], Reader::Strict),
    }
}

/// Who reads the record next, and so which objects may be spliced.
#[derive(Clone, Copy)]
enum Reader {
    /// Fluent Bit, reading back what its wasm filter returned: its parser takes any escape, and
    /// a record it hands to the filter must keep its keys.
    Lenient,
    /// Whatever reads `scan --emit all` or `serve`'s forwards (Vector, a HEC, `jq`): an object
    /// a strict JSON reader refuses is carried as text.
    Strict,
}

/// `list` rendered in the `output` convention, as one JSON array.
///
/// Its keys come in the same order from every build. A `serde_json::Value`'s keys come sorted
/// unless serde_json's `preserve_order` is on, as it is in the runner and not in the Fluent Bit
/// module (the `fluent_bit_module` fuzz target found the two hosts' records differing): the
/// native convention is written straight from the annotations (their declaration order), and
/// the others, built as values, are sorted.
pub fn annotations_json(list: &[Annotation], output: Output) -> String {
    let text = match output {
        Output::Native => serde_json::to_string(list),
        _ => {
            let mut rendered = serde_json::Value::Array(list.iter().map(|a| render(a, output)).collect());
            rendered.sort_all_objects();
            serde_json::to_string(&rendered)
        }
    };
    text.unwrap_or_else(|_| "[]".into())
}

/// `{"kind", "message"}` of an error.
pub fn error_json(e: &ScanError) -> String {
    serde_json::json!({"kind": e.kind.as_str(), "message": e.message}).to_string()
}

/// `event` with each `"key": value` (`value` already JSON text) appended to `out`: spliced
/// into the object the event is, or beside its text under [`TEXT_KEY`]. For the Fluent Bit
/// module, whose records Fluent Bit reads back itself ([`write`] is for everyone else).
pub fn with_keys(out: &mut Vec<u8>, event: &[u8], added: &[(&str, &str)]) {
    with_keys_to(out, event, added, Reader::Lenient);
}

fn with_keys_to(out: &mut Vec<u8>, event: &[u8], added: &[(&str, &str)], reader: Reader) {
    let event = event.strip_prefix(b"\xef\xbb\xbf").unwrap_or(event);
    // For a strict reader, bytes that are not UTF-8 become U+FFFD, as they would in a string
    // under `log`; they can stand only inside strings of an object, which stays an object.
    let repaired;
    let (event, object) = match reader {
        Reader::Lenient => (event, is_json_object(event)),
        Reader::Strict => {
            repaired = String::from_utf8_lossy(event);
            (repaired.as_bytes(), is_strict_json_object(&repaired))
        }
    };
    // The object so far, without its closing brace, and whether it has a key yet.
    let mut empty = if object {
        let body = event.trim_ascii();
        let body = &body[..body.len() - 1];
        out.extend_from_slice(body);
        body[1..].trim_ascii().is_empty()
    } else {
        out.push(b'{');
        let text = String::from_utf8_lossy(event);
        let text = serde_json::to_string(text.trim_end_matches(['\r', '\n'])).unwrap_or_else(|_| "\"\"".into());
        push_pair(out, TEXT_KEY, &text);
        false
    };
    for (key, value) in added {
        if !empty {
            out.push(b',');
        }
        empty = false;
        push_pair(out, key, value);
    }
    out.push(b'}');
}

fn push_pair(out: &mut Vec<u8>, key: &str, value: &str) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(value.as_bytes());
}

/// Whether `text` is one JSON object and nothing else (white space aside). Checked without
/// building it (`IgnoredAny`), so that splicing never turns a broken event into a broken
/// record.
pub fn is_json_object(text: &[u8]) -> bool {
    let trimmed = text.trim_ascii();
    trimmed.first() == Some(&b'{')
        && trimmed.last() == Some(&b'}')
        && serde_json::from_slice::<IgnoredAny>(trimmed).is_ok()
}

/// [`is_json_object`], as strictly as a JSON-lines receiver reads it: one record it refuses
/// makes it refuse the whole batch, and the shipper retry it forever.
///
/// `IgnoredAny` skips the bytes of a string without asking whether they are UTF-8, and reads
/// every escape without pairing surrogates: `"\xe5"` and `"\ud800"` pass it and fail serde_json
/// reading a `String` (as Vector does). So the text is a `str`, and an object that holds a
/// `\uD800`-`\uDFFF` escape (or what looks like one) is read once more into strings, which
/// checks the pairing; no other object pays for that.
pub fn is_strict_json_object(text: &str) -> bool {
    let text = text.as_bytes();
    is_json_object(text)
        && (!may_hold_surrogate_escape(text) || serde_json::from_slice::<serde_json::Value>(text).is_ok())
}

/// Whether `text` holds `\u` followed by `d` or `D` and one of `8`-`9`, `a`-`f`, `A`-`F`: every
/// surrogate escape does (and `\\ud800`, an escaped backslash, too: it only costs the strict
/// read).
fn may_hold_surrogate_escape(text: &[u8]) -> bool {
    memchr::memmem::find_iter(text, b"\\u").any(|at| match text.get(at + 2..at + 4) {
        Some([d, x]) => matches!(d, b'd' | b'D') && matches!(x, b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F'),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn record(event: &[u8], outcome: &Outcome) -> String {
        let mut out = Vec::new();
        write(&mut out, event, outcome, Output::Native);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn an_object_keeps_its_bytes_and_gains_only_what_the_detection_says() {
        let broken = Err(ScanError::new(ErrorKind::BrokenXml, "x"));
        assert_eq!(record(br#"{"b":1, "a":1.50}"#, &Ok(Vec::new())), r#"{"b":1, "a":1.50}"#);
        assert_eq!(record(b"\xef\xbb\xbf {} \r\n", &Ok(Vec::new())), "{}");
        assert_eq!(
            record(br#"{"System":"<Event>"}"#, &broken),
            r#"{"System":"<Event>","winrm_detect_error":{"kind":"broken-xml","message":"x"}}"#
        );
        assert_eq!(record(b"{ }", &broken), r#"{ "winrm_detect_error":{"kind":"broken-xml","message":"x"}}"#);
    }

    #[test]
    fn keys_are_spliced_in_order() {
        let mut out = Vec::new();
        with_keys(&mut out, br#" {"a":1} "#, &[("x", "[]"), ("y", "{}")]);
        assert_eq!(out, br#"{"a":1,"x":[],"y":{}}"#);
        out.clear();
        with_keys(&mut out, b"{}", &[("x", "1")]);
        assert_eq!(out, br#"{"x":1}"#);
    }

    #[test]
    fn anything_else_is_carried_as_text_under_log() {
        let broken = Err(ScanError::new(ErrorKind::BrokenJson, "y"));
        assert_eq!(record(b"<Event>x</Event>\r", &Ok(Vec::new())), r#"{"log":"<Event>x</Event>"}"#);
        assert_eq!(
            record(br#"{"a":1,}"#, &broken),
            r#"{"log":"{\"a\":1,}","winrm_detect_error":{"kind":"broken-json","message":"y"}}"#
        );
        assert_eq!(record(b"{\"a\":\xff}", &Ok(Vec::new())), "{\"log\":\"{\\\"a\\\":\u{fffd}}\"}");
        // Lone surrogates and bytes that are not UTF-8: serde_json skips them in a value it
        // ignores and refuses them in a string (found by the serve_body fuzz target: serve
        // forwarded such an object, and the next hop's reader refused the batch). A lone
        // surrogate cannot be mended without changing what the sender wrote: carried as text.
        for event in [&br#"{"a":"\ud800"}"#[..], br#"{"a":"x\uDC00y"}"#, br#"{"\ud83d":1}"#] {
            let out = record(event, &Ok(Vec::new()));
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["log"].as_str().unwrap().as_bytes(), event, "{out}");
        }
        // Bytes that are not UTF-8 stand only inside strings of an object: replaced, as they
        // would be under `log`, the object keeps its keys.
        assert_eq!(record(b"{\"a\":\"Sh\xe5ll\"}", &Ok(Vec::new())), "{\"a\":\"Sh\u{fffd}ll\"}");
        // Fluent Bit reads the module's records back itself, and its parser takes them: the
        // module splices, and the record keeps its keys there.
        let mut out = Vec::new();
        with_keys(&mut out, br#"{"a":"\ud800"}"#, &[("x", "1")]);
        assert_eq!(out, br#"{"a":"\ud800","x":1}"#);
        // A pair is one character, and an escaped backslash before `ud800` is no escape.
        for event in [&br#"{"a":"\ud83d\ude00"}"#[..], br#"{"a":"\\ud800"}"#] {
            assert_eq!(record(event, &Ok(Vec::new())).as_bytes(), event);
        }
        for event in [&b"[1]"[..], b"{} {}", b"", b"{\"a\":1"] {
            let out = record(event, &Ok(Vec::new()));
            assert!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["log"].is_string(), "{out}");
        }
    }
}
