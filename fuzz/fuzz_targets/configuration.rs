//! Any bytes as the detector's configuration (the JSON an operator writes, or a module's
//! slot edited by hand): refused with a message or accepted, never a panic. The property is
//! `winrm_detect::fuzz_properties::configuration`, which `cargo test` also replays over this
//! target's seeds (`host-test/tests/fuzz_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| winrm_detect::fuzz_properties::configuration(data));
