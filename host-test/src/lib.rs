//! The host side of winrm-detect: wasmtime loading the detection component, the scanning
//! loop the `winrm-detect` runner and the tests share, and the runner's output formats.
//!
//! Everything an operator sees goes through the component ([`backend::Wasm`]); the native
//! library ([`backend::Native`]) is here to prove the two agree and to measure the cost of
//! the boundary.

pub mod backend;
pub mod bench;
pub mod component;
pub mod engine_config;
pub mod fluent_bit;
pub mod fluent_bit_bench;
pub mod input;
pub mod output;
pub mod real_fluent_bit;
pub mod scan;
pub mod serve;
pub mod worst_cases;

/// Our own fixtures, compiled into the runner (see build.rs).
pub mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}
