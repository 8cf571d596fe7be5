//! Any sequence of script-block parts (multi-part 4104 events in any order, repeated, with
//! contradicting totals) through the joining state: it stays within its budget and never
//! joins a part twice. The property is `winrm_detect::fuzz_properties::script_block_parts`,
//! which `cargo test` also replays over this target's seeds (`host-test/tests/fuzz_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| winrm_detect::fuzz_properties::script_block_parts(data));
