//! Any text as an `-EncodedCommand` payload: decoding must return, never panic, respect its
//! size limit, and round-trip what it decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use winrm_detect::cmdline::decode_encoded;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(decoded) = decode_encoded(text, 4096) {
        assert!(decoded.encode_utf16().count() * 2 <= 4096 + 4);
    }
    // Whatever the decoder accepts as a whole command line, the analyser reads.
    let line = format!("powershell -enc {text}");
    let _ = winrm_detect::cmdline::analyse(&line, &Default::default());
});
