//! Any sequence of calls into the Fluent Bit module's exports, compiled natively, with the
//! state the module carries between calls: every answer is what a model of the module on the
//! plain detector predicts.
//! The property is `winrm_detect::fuzz_properties::fluent_bit_calls`, which `cargo test` also
//! replays over this target's seeds (`host-test/tests/fuzz_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| winrm_detect::fuzz_properties::fluent_bit_calls(data));
