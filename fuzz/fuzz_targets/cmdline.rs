//! Any text as a PowerShell command line: the analyser must return, never panic, and every
//! piece of evidence must point at its own text within the command line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use winrm_detect::cmdline::{Limits, analyse};

fuzz_target!(|data: &[u8]| {
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
});
