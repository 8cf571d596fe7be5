//! Our fixtures through the real component, in both modes (and with every rule on): the `--emit matches` output
//! must equal the expected file beside them, and the native library must agree with the
//! component on every event. `WINRM_DETECT_BLESS=1` rewrites the expected files (review
//! the diff before committing it).

use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use winrm_detect_runner::backend::{Backend, Lines, Native, NativeLines, Outcome, Wasm};
use winrm_detect_runner::component::Runtime;
use winrm_detect_runner::scan::{self, Record};
use winrm_detect_runner::{input, printer};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        fs::read_dir(root().join("fixtures/events")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 12, "fixtures missing: {files:?}");
    files
}

/// Scans one file with `backend`; returns the outcomes and the `--emit matches` output.
fn scan_file(backend: &mut dyn Backend, source: &str, path: &Path) -> (Vec<Outcome>, String) {
    let mut reader = input::sniff(BufReader::new(fs::File::open(path).unwrap())).unwrap();
    let mut outcomes = Vec::new();
    let mut text = String::new();
    scan::scan_lines(backend, source, &mut reader, &mut |r: Record<'_>| {
        if let Some(line) = printer::match_line(&r, winrm_detect::Output::Native) {
            text.push_str(&line);
            text.push('\n');
        }
        outcomes.push(r.outcome);
    })
    .unwrap();
    (outcomes, text)
}

/// The configurations every fixture runs under, each with the name its expected files carry:
/// both modes with the default rules, and extended mode with every rule (the target side too).
const MODES: [&str; 3] = ["parity", "extended", "every-rule"];

fn config(mode: &str) -> String {
    match mode {
        "every-rule" => {
            let rules: Vec<String> = winrm_detect::Rule::ALL.iter().map(|r| format!("\"{}\"", r.as_str())).collect();
            format!(r#"{{"mode":"extended","rules":[{}]}}"#, rules.join(","))
        }
        mode => format!(r#"{{"mode":"{mode}"}}"#),
    }
}

#[test]
fn fixtures_match_expected_output_through_the_component() {
    let runtime = Runtime::load_default().unwrap();
    let bless = std::env::var_os("WINRM_DETECT_BLESS").is_some();
    let mut failures = Vec::new();
    for mode in MODES {
        let mut wasm = Wasm::new(&runtime, &config(mode)).unwrap().unwrap();
        for path in fixture_files() {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let source = format!("fixtures/events/{name}");
            let (outcomes, text) = scan_file(&mut wasm, &source, &path);
            for (i, o) in outcomes.iter().enumerate() {
                assert!(o.is_ok(), "{source}:{}: {:?}", i + 1, o);
            }
            let mut expected_path = root().join(format!("fixtures/expected/{name}.{mode}.jsonl"));
            // With every rule on, a fixture the target side adds nothing to has no file of its
            // own: its expected output is extended mode's.
            let like_extended = root().join(format!("fixtures/expected/{name}.extended.jsonl"));
            if bless {
                fs::create_dir_all(expected_path.parent().unwrap()).unwrap();
                match mode == "every-rule" && fs::read_to_string(&like_extended).is_ok_and(|e| e == text) {
                    true => drop(fs::remove_file(&expected_path)),
                    false => fs::write(&expected_path, &text).unwrap(),
                }
                continue;
            }
            if mode == "every-rule" && !expected_path.exists() {
                expected_path = like_extended;
            }
            let expected = fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e} (WINRM_DETECT_BLESS=1 writes it)", expected_path.display()));
            let parse =
                |s: &str| -> Vec<serde_json::Value> { s.lines().map(|l| serde_json::from_str(l).unwrap()).collect() };
            if parse(&expected) != parse(&text) {
                failures.push(format!("{source} ({mode}):\n--- expected\n{expected}--- got\n{text}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The build's machine code (what the runner loads) and the component compiled now give the
/// same outcome for every fixture event in both modes.
#[test]
fn precompiled_and_freshly_compiled_components_agree() {
    let precompiled = Runtime::load_default().unwrap();
    assert!(
        precompiled.is_precompiled(),
        "the build's precompiled component did not load on the machine that built it"
    );
    let fresh = Runtime::from_bytes(winrm_detect_runner::component::COMPONENT).unwrap();
    assert!(!fresh.is_precompiled());
    for mode in MODES {
        let mut a = Wasm::new(&precompiled, &config(mode)).unwrap().unwrap();
        let mut b = Wasm::new(&fresh, &config(mode)).unwrap().unwrap();
        let mut matched = 0;
        for path in fixture_files() {
            let source = path.display().to_string();
            let (from_precompiled, _) = scan_file(&mut a, &source, &path);
            let (from_fresh, _) = scan_file(&mut b, &source, &path);
            assert_eq!(from_precompiled, from_fresh, "{source} in {mode} mode");
            matched += from_fresh.iter().filter(|o| matches!(o, Ok(a) if !a.is_empty())).count();
        }
        assert!(matched > 0, "no fixture matched in {mode} mode");
    }
}

#[test]
fn component_and_native_library_agree_on_every_fixture() {
    let runtime = Runtime::load_default().unwrap();
    for mode in MODES {
        let mut wasm = Wasm::new(&runtime, &config(mode)).unwrap().unwrap();
        let mut native = Native(winrm_detect::Detector::from_json(&config(mode)).unwrap());
        let mut native_lines = NativeLines(winrm_detect::Detector::from_json(&config(mode)).unwrap());
        let mut compared = 0;
        for path in fixture_files() {
            let source = path.display().to_string();
            let (from_wasm, _) = scan_file(&mut wasm, &source, &path);
            let (from_native, _) = scan_file(&mut native, &source, &path);
            let (from_native_lines, _) = scan_file(&mut native_lines, &source, &path);
            assert_eq!(from_wasm, from_native, "{source} in {mode} mode");
            assert_eq!(from_native_lines, from_native, "{source} in {mode} mode, Detector::scan_lines");
            compared += from_wasm.len();
        }
        assert!(compared >= 40, "only {compared} events compared");
    }
}

#[test]
fn every_fixture_shape_yields_the_fields_of_the_sysmon_xml_positive() {
    // The first line of each file is the same process creation in another shape; what the
    // shape carries must come out as the Sysmon XML's fields do.
    let detector = winrm_detect::Detector::from_json("{}").unwrap();
    let first_line = |name: &str| -> Vec<u8> {
        let text = fs::read(root().join("fixtures/events").join(name)).unwrap();
        text.split(|&b| b == b'\n').next().unwrap().to_vec()
    };
    let reference = detector.scan(&first_line("sysmon1.xml")).unwrap().remove(0);
    // What each shape does not carry, or carries in its own spelling.
    let absent_in = |name: &str| -> &'static [&'static str] {
        match name {
            // The export writes seven fraction digits.
            "sysmon1.xmltodict.json" => &["_time"],
            // ECS lower-cases digests and carries user.id, which Sysmon has not.
            "sysmon1.ecs.jsonl" => &["process_hash", "user_id"],
            // OCSF has no original file name and carries the user's uid.
            "ocsf.jsonl" => &["original_file_name", "user_id"],
            // A CIM record of the version-1 result row only.
            "cim.jsonl" => &[
                "parent_process",
                "parent_process_exec",
                "parent_process_guid",
                "parent_process_path",
                "process_exec",
                "process_guid",
                "process_hash",
                "process_integrity_level",
                "process_path",
                "vendor_product",
            ],
            // 4688: hex ids, no original file name, GUIDs, hashes or integrity level, the
            // parent's path as parent_process, and the Windows add-on's vendor_product.
            "security4688.xml" => &[
                "process_id",
                "parent_process_id",
                "original_file_name",
                "parent_process",
                "parent_process_guid",
                "process_guid",
                "process_hash",
                "process_integrity_level",
                "vendor_product",
            ],
            _ => &[],
        }
    };
    let mut mismatches = Vec::new();
    for name in [
        "sysmon1.evtx.jsonl",
        "sysmon1.xmltodict.json",
        "sysmon1.winlogbeat.jsonl",
        "sysmon1.winlogbeat6.jsonl",
        "sysmon1.ecs.jsonl",
        "nxlog.jsonl",
        "winevtlog.fluentbit.jsonl",
        "ocsf.jsonl",
        "cim.jsonl",
        "security4688.xml",
    ] {
        let got = detector.scan(&first_line(name)).unwrap();
        assert_eq!(got.len(), 1, "{name}");
        let got = &got[0];
        for (field, want) in &reference.fields {
            if absent_in(name).contains(&field.as_str()) {
                continue;
            }
            if got.field(field) != want.as_deref() {
                mismatches.push(format!("{name}: {field}: {:?} where Sysmon XML has {want:?}", got.field(field)));
            }
        }
        assert_eq!(got.remote_targets, reference.remote_targets, "{name}");
        assert_eq!(got.message, reference.message, "{name}");
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_entry_point_of_the_component_agrees() {
    let runtime = Runtime::load_default().unwrap();
    for mode in MODES {
        let mut detector = runtime.detector(&config(mode)).unwrap().unwrap();
        let native = winrm_detect::Detector::from_json(&config(mode)).unwrap();
        for path in fixture_files() {
            let text = fs::read(&path).unwrap();
            let events: Vec<Vec<u8>> =
                text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect();
            let by_lines = detector.scan_lines(&Lines::from_events(&events).unwrap()).unwrap();
            let by_batch = detector.scan_batch(&events).unwrap();
            let one_by_one: Vec<Outcome> = events.iter().map(|e| detector.scan(e).unwrap()).collect();
            let natively: Vec<Outcome> = events.iter().map(|e| native.scan(e)).collect();
            assert_eq!(by_lines, by_batch, "{}", path.display());
            assert_eq!(by_lines, one_by_one, "{}", path.display());
            assert_eq!(by_lines, natively, "{}", path.display());
        }
    }
}
