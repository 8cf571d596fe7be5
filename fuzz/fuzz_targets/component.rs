//! Any sequence of events through the component in wasmtime (per event and batched) and
//! through the library: the same outcome for every event, and no trap.
//! The property is `winrm_detect_runner::fuzz_properties::component_agrees`, which `cargo
//! test` also replays over this target's seeds (`host-test/tests/fuzz_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| winrm_detect_runner::fuzz_properties::component_agrees(data));
