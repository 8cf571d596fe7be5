//! Any text as a PowerShell script, read by the analyser's parser and by an independent one
//! (`poshtree`): the parser returns, never panics, names commands within the text; and where
//! the oracle reads the script as whole and it holds none of the oracle's known faults, both
//! find the same commands at command positions. The property is
//! `host_test::differential::property`, which `cargo test` also replays over this target's
//! seeds (`host-test/tests/fuzz_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| host_test::differential::property(data));
