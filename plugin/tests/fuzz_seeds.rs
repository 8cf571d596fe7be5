//! Every fuzz target's committed seeds (`fuzz/corpus/TARGET/`) and the crash reproducers left
//! here (`fuzz/artifacts/TARGET/`, not committed) through the target's own property, on stable
//! and in every CI run: a regression the fuzzer once found, or that its seeds reach, fails here
//! without a nightly toolchain.

use std::path::{Path, PathBuf};

use winrm_detect::fuzz_properties;

/// What a fuzz target asserts of one input.
type Property = fn(&[u8]);

const TARGETS: [(&str, Property); 5] = [
    ("event", fuzz_properties::event),
    ("cmdline", fuzz_properties::command_line),
    ("encoded", fuzz_properties::encoded_command),
    ("configuration", fuzz_properties::configuration),
    ("script_blocks", fuzz_properties::script_block_parts),
];

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in [fuzz.join("corpus").join(target), fuzz.join("artifacts").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()));
    }
    files.sort();
    files
}

#[test]
fn every_target_holds_on_its_seeds() {
    for (target, property) in TARGETS {
        let files = inputs(target);
        assert!(!files.is_empty(), "no seeds for the fuzz target {target}");
        for file in &files {
            let data = std::fs::read(file).unwrap();
            let outcome = std::panic::catch_unwind(|| property(&data));
            assert!(outcome.is_ok(), "{target}: {} breaks the property", file.display());
        }
    }
}
