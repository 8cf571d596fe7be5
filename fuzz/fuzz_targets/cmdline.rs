//! Any text as a PowerShell command line: the analyser must return, never panic, and every
//! piece of evidence must point at its own text within the command line or the layer it names.
//! The property is `winrm_detect::fuzz_properties::command_line`, which `cargo test` also replays
//! over this target's seeds (`host-test/tests/fuzz_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| winrm_detect::fuzz_properties::command_line(data));
