//! What the fuzz targets (`fuzz/fuzz_targets/`) assert of any input, kept here so that the
//! stable test suite replays their committed seeds through the very same checks
//! (`tests/fuzz_seeds.rs`) and the nightly fuzzer and `cargo test` cannot drift apart. Each
//! function panics when its property does not hold.

use crate::cmdline::{Limits, analyse, decode_encoded};
use crate::event::ScriptBlock;
use crate::script_block::Parts;
use crate::{Config, Detector};

/// Any text as a PowerShell command line: the analyser returns, and every piece of evidence
/// in the command line points at its own text there.
pub fn command_line(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let analysis = analyse(line, &Limits::default());
    for invocation in &analysis.invocations {
        for e in &invocation.evidence {
            // The command line itself, or a text the analyser derived from it (a decoded
            // payload, a child's command line, a string run as a script).
            let text = match e.layer.as_str() {
                "process" => line,
                layer => match analysis.layers.iter().find(|l| l.name == layer) {
                    Some(l) => l.text.as_str(),
                    None => panic!("evidence in a layer the analysis does not list: {e:?}"),
                },
            };
            let at = e.offset as usize;
            assert_eq!(text.get(at..at + e.text.len()), Some(e.text.as_str()), "{e:?}");
        }
    }
}

/// Any text as an `-EncodedCommand` payload: decoding returns, respects its size limit, and
/// whatever it accepts as a whole command line the analyser reads.
pub fn encoded_command(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(decoded) = decode_encoded(text, 4096) {
        assert!(decoded.encode_utf16().count() * 2 <= 4096 + 4);
    }
    let line = format!("powershell -enc {text}");
    let _ = analyse(&line, &Limits::default());
}

thread_local! {
    static DETECTORS: [Detector; 2] = [
        Detector::from_json(r#"{"mode":"parity"}"#).expect("a valid configuration"),
        Detector::from_json(r#"{"mode":"extended"}"#).expect("a valid configuration"),
    ];
}

/// Any bytes as an event, in both modes, through the whole detector: it returns, and the fast
/// reject agrees with the full path (it may only turn an error of an event that cannot match
/// into no match).
pub fn event(data: &[u8]) {
    DETECTORS.with(|detectors| {
        for d in detectors {
            let fast = d.scan(data);
            let full = d.scan_without_prefilter(data);
            match (&fast, &full) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Ok(a), Err(_)) => assert!(a.is_empty()),
                (Err(a), Err(b)) => assert_eq!(a, b),
                (Err(_), Ok(_)) => panic!("the fast path failed where the full path did not"),
            }
        }
    });
}

/// Any text as the configuration: it is refused with a message or accepted, never a panic,
/// and an accepted one builds a detector that reads an event and says what it runs with.
pub fn configuration(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Config::from_json(text) {
        Ok(config) => {
            assert!(!config.summary().is_empty());
            let detector = Detector::new(config);
            let _ = detector.scan(br#"{"EventID":1,"Image":"C:\\powershell.exe","CommandLine":"icm -cn FS02 {}"}"#);
        }
        Err(e) => assert!(!e.message.is_empty(), "a refusal says why"),
    }
}

/// Any sequence of script-block parts, in any order, repeated or contradictory (each five
/// bytes of input: host, block id, part number, part total and a length, with one bit of it
/// saying the part fired on its own): the joining state never holds more than its budget,
/// and a joined block holds exactly the parts 1 to its total of its own host and id, each
/// part filed once in a block that completes, no part in two joined blocks.
pub fn script_block_parts(data: &[u8]) {
    const BUDGET: usize = 256;
    let mut parts = Parts::default();
    let mut reported = std::collections::BTreeSet::new();
    for (serial, op) in data.chunks_exact(5).enumerate() {
        let (host, id) = (["WS01", "ws01", "WS02"][op[0] as usize % 3], ["a", "A", "b", "c"][op[1] as usize % 4]);
        let (number, total) = (u32::from(op[2] % 8), u32::from(op[3] % 8));
        let fired = op[4] & 0x80 != 0;
        // Each filing's text names it: `host/id/number/serial`, padded, `;` at its end.
        let text = format!("{host}/{id}/{number}/{serial}{};", ".".repeat(usize::from(op[4] & 0x3f)));
        let part = ScriptBlock {
            text,
            id: Some(id.into()),
            message_number: Some(number),
            message_total: Some(total),
            path: None,
        };
        let joined = parts.file(host, &part, fired, BUDGET);
        assert!(parts.held().1 <= BUDGET, "{:?} held over a budget of {BUDGET}", parts.held());
        let Some(joined) = joined else { continue };
        assert!(!fired, "a block whose last part fired is not read again");
        let pieces: Vec<&str> = joined.split_terminator(';').collect();
        assert_eq!(pieces.len(), total as usize, "{joined}");
        for (at, piece) in pieces.iter().enumerate() {
            let fields: Vec<&str> = piece.trim_end_matches('.').split('/').collect();
            assert!(fields[0].eq_ignore_ascii_case(host) && fields[1].eq_ignore_ascii_case(id), "{joined}");
            assert_eq!(fields[2], (at + 1).to_string(), "{joined}");
            assert!(reported.insert(fields[3].to_string()), "part {piece} joined twice");
        }
        assert!(pieces.iter().any(|p| p.trim_end_matches('.').ends_with(&format!("/{serial}"))), "{joined}");
    }
}
