//! Any bytes as a body posted to `serve`, plain or gzip: decoded within its limit, split into
//! events, scanned as serve's workers scan them (agreeing with the library), and forwarded in
//! every framing as the next hop expects.
//! The property is `winrm_detect_runner::fuzz_properties::serve_body`, which `cargo test`
//! also replays over this target's seeds (`host-test/tests/fuzz_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| winrm_detect_runner::fuzz_properties::serve_body(data));
