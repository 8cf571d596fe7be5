//! What the fuzz targets (`fuzz/fuzz_targets/`) assert of any input, kept here so that the
//! stable test suite replays their committed seeds through the very same checks
//! (`tests/fuzz_seeds.rs`) and the nightly fuzzer and `cargo test` cannot drift apart. Each
//! function panics when its property does not hold.

use crate::Detector;
use crate::cmdline::{Limits, analyse, decode_encoded};

/// Any text as a PowerShell command line: the analyser returns, and every piece of evidence
/// in the command line points at its own text there.
pub fn command_line(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let analysis = analyse(line, &Limits::default());
    for invocation in &analysis.invocations {
        for e in &invocation.evidence {
            if e.layer == "process" {
                let at = e.offset as usize;
                assert_eq!(line.get(at..at + e.text.len()), Some(e.text.as_str()));
            }
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
