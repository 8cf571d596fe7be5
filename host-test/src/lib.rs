//! The test rig: what the tests and benchmarks of every host share and the product does not
//! ship. The real Fluent Bit (both of its builds) and the configurations it runs, the real
//! Vector, the certificates of the TLS tests, an emulated
//! Fluent Bit `wasm` filter host, the generated worst cases, the Fluent Bit benchmark, the
//! corpus, and the fuzz property that holds the wasm module against its native build. The
//! detection itself and the runner's machinery are `winrm-detect` (plugin/) and
//! `winrm-detect-runner` (runner/).

pub mod certificates;
pub mod corpus;
pub mod differential;
pub mod docs;
pub mod emulated_fluent_bit;
pub mod fluent_bit_bench;
pub mod fuzz_properties;
pub mod real_fluent_bit;
pub mod vector;
pub mod worst_cases;

/// The corpus bulk file (65,145 Sysmon events, one per line) in `../shared`, as `xml.gz` or
/// `jsonl.gz`: the tests' and benchmarks' real-world input.
pub fn corpus_bulk(extension: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../shared/corpus/jayanthk007_atomic-evtx/bulk/sysmon_all_ttp_evtx.{extension}"))
}

/// The workspace's root directory (README, fixtures, target).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host-test sits in the workspace").to_path_buf()
}

/// A test's own directory under the system's temporary one (`winrm-detect-NAME-PID`): removed
/// when dropped, and kept, its path printed, when the test failed, for its logs and
/// configurations to be read.
pub struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    pub fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("winrm-detect-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        ScratchDir(dir)
    }
}

impl std::ops::Deref for ScratchDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for reading: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A loopback port free at the time of asking, for a server a test starts, and never one this
/// process was given before: the listener is closed when this returns, so the system may hand
/// out the same port again, and two servers of one test then meet on it (a `serve` once took
/// its next hop's port, and Vector posted straight past it).
pub fn free_loopback_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}
