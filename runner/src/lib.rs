//! The runner's machinery, under the `winrm-detect` binary (`main.rs`, `cli.rs`, `command/`):
//! wasmtime loading the detection component, the scanning loop, the printer that owns every
//! output format of `scan`, `serve`, the in-process benchmark and the Fluent Bit artifact.
//!
//! Everything an operator sees goes through the component ([`backend::Wasm`]); the native
//! library ([`backend::Native`]) is here to prove the two agree and to measure the cost of
//! the boundary. The test rig (`host-test`) reaches this library; the binary never reaches the rig.

pub mod backend;
pub mod bench;
pub mod component;
pub mod engine_config;
pub mod fluent_bit;
#[doc(hidden)]
pub mod fuzz_properties;
pub mod input;
pub mod lines;
pub mod printer;
pub mod scan;
pub mod serve;

/// Our own fixtures, compiled into the runner (see build.rs).
pub mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}
