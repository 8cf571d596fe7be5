//! Any text as an `-EncodedCommand` payload: decoding must return, never panic, respect its
//! size limit, and round-trip what it decodes.
//! The property is `winrm_detect::fuzz_properties::encoded_command`, which `cargo test` also replays
//! over this target's seeds (`host-test/tests/fuzz_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| winrm_detect::fuzz_properties::encoded_command(data));
