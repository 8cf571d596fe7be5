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

/// The corpus bulk file (65,145 Sysmon events, one per line) in `../shared`, as `xml.gz` or
/// `jsonl.gz`: the tests' and benchmarks' real-world input.
pub fn corpus_bulk(extension: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../shared/corpus/jayanthk007_atomic-evtx/bulk/sysmon_all_ttp_evtx.{extension}"))
}

/// A loopback port free at the time of asking, for a server a test starts.
pub fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Our own fixtures, compiled into the runner (see build.rs).
pub mod fixtures {
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}
