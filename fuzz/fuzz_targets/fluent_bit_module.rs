//! The same Fluent Bit call scripts as `fluent_bit`, through the module built for wasm (run by
//! the emulated host, as Fluent Bit's `wasm` filter calls it) and through its exports compiled
//! natively: every answer the same, byte for byte, and no trap.
//! The property is `host_test::fuzz_properties::fluent_bit_module`, which `cargo test` also
//! replays over this target's seeds (`host-test/tests/fuzz_seeds.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| host_test::fuzz_properties::fluent_bit_module(data));
