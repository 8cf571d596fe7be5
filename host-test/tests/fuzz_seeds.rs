//! Every fuzz target's committed seeds (`fuzz/corpus/TARGET/`) and the crash reproducers left
//! here (`fuzz/artifacts/TARGET/`, not committed) through the target's own property, on stable
//! and in every CI run: a regression the fuzzer once found, or that its seeds reach, fails here
//! without a nightly toolchain.

use std::path::PathBuf;

use winrm_detect::fuzz_properties as library;
use winrm_detect_runner::fuzz_properties as runner;

/// What a fuzz target asserts of one input.
type Property = fn(&[u8]);

const TARGETS: [(&str, Property); 10] = [
    ("event", library::event),
    ("cmdline", library::command_line),
    ("grammar", host_test::differential::property),
    ("encoded", library::encoded_command),
    ("configuration", library::configuration),
    ("script_blocks", library::script_block_parts),
    ("fluent_bit", library::fluent_bit_calls),
    ("fluent_bit_module", host_test::fuzz_properties::fluent_bit_module),
    ("component", runner::component_agrees),
    ("serve_body", runner::serve_body),
];

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = host_test::workspace_root().join("fuzz");
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
