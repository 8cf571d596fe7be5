//! Any bytes as an event, in both modes, through the whole detector (prefilter, every
//! parser, the rule): it must return, never panic, and the fast reject must agree with the
//! full path.
//! The property is `winrm_detect::fuzz_properties::event`, which `cargo test` also replays
//! over this target's seeds (`host-test/tests/fuzz_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| winrm_detect::fuzz_properties::event(data));
