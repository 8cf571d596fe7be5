//! The real Vector (0.57.0, unpacked by `../shared/vendor/vector/install.sh`) that the tests
//! put at both ends of `serve`, configured from the blocks of docs/serve.md
//! (`<!-- vector-config: NAME -->`).

use std::path::{Path, PathBuf};

/// Where `install.sh` unpacks it.
const VERSION_DIR: &str = "vector-0.57.0";

/// `vector`, from `WINRM_DETECT_VECTOR_BIN` (its directory) or where `install.sh` puts it; or
/// `None`, after saying what is missing — but under `CI=true` a missing Vector is a failure,
/// not a skip.
pub fn for_tests() -> Option<PathBuf> {
    let dir = std::env::var_os("WINRM_DETECT_VECTOR_BIN").map(PathBuf::from).or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
        Some(cache.join(VERSION_DIR).join("bin"))
    });
    let bin = dir.map(|d| d.join("vector")).filter(|b| b.is_file());
    if bin.is_none() {
        let why = "no Vector: run `bash ../shared/vendor/vector/install.sh` (or set WINRM_DETECT_VECTOR_BIN)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("skipped: {why}");
    }
    bin
}

/// The Vector configuration docs/serve.md gives under `<!-- vector-config: NAME -->`.
pub fn docs_config(name: &str) -> anyhow::Result<String> {
    crate::docs::block(&crate::docs::text(), "vector-config", name)
}
