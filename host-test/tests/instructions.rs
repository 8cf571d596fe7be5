//! The instruction-count baseline: WebAssembly instructions per event (wasmtime's fuel, about
//! one per instruction) that the component and the Fluent Bit module run over a fixed sample of
//! the corpus, per mode and rule set, against the figures committed in
//! `host-test/baseline/instructions.json`. Timings here vary by 40 % between identical runs;
//! these counts do not, so a change that makes the detection dearer shows here, in CI, by more
//! than noise: a figure more than 5 % above its baseline fails, and so does one more than 5 %
//! below it (the gain is then written down, so that a later loss cannot hide in it).
//! `WINRM_DETECT_BLESS=1` rewrites the baseline; the change's note says why it moved.
//!
//! The Fluent Bit module's figure is what Fluent Bit's interpreter (WAMR, on Windows the only
//! way it runs the module) pays per record; the component's, what the runner's compiled code
//! does per event.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use host_test::fluent_bit_bench::{module_instructions, tail_record};
use winrm_detect_runner::component::Runtime;

/// Every how many lines of a corpus file the sample takes one: some 2,000 of each file's
/// 65,145 events, spread over the whole of it.
const EVERY: usize = 32;

/// How far a figure may move from its baseline before the test fails.
const TOLERANCE: f64 = 0.05;

const BASELINE: &str = "host-test/baseline/instructions.json";

/// The configurations measured: the defaults and every rule on, each in both modes.
const RULE_SETS: [(&str, &str); 2] = [
    ("default", r#"{}"#),
    (
        "every-rule",
        r#"{"rules": ["process-creation", "script-block", "winrs", "interactive-session", "winrm-spawning-a-process", "winrm-execute-shell"]}"#,
    ),
];

/// The sample of one bulk corpus file: its event lines, and the records `tail` makes of them.
fn sample(extension: &str) -> Option<(Vec<String>, Vec<String>)> {
    let path = host_test::corpus_bulk(extension);
    if !path.is_file() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "no corpus at {}", path.display());
        eprintln!("no corpus at {}: nothing measured", path.display());
        return None;
    }
    let reader = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()));
    let lines: Vec<String> =
        reader.lines().map(Result::unwrap).filter(|l| !l.trim().is_empty()).step_by(EVERY).collect();
    let records = lines.iter().map(|l| tail_record(l, extension.starts_with("jsonl"))).collect();
    Some((lines, records))
}

/// `config` with its mode set.
fn with_mode(config: &str, mode: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(config).unwrap();
    value["mode"] = mode.into();
    value.to_string()
}

fn measure() -> Option<BTreeMap<String, u64>> {
    let samples = [("xml", sample("xml.gz")?), ("jsonl", sample("jsonl.gz")?)];
    let runtime = Runtime::metered().unwrap();
    let mut figures = BTreeMap::new();
    for (rules, config) in RULE_SETS {
        for mode in ["parity", "extended"] {
            let config = with_mode(config, mode);
            for (file, (lines, records)) in &samples {
                // The first call builds the detector: not a per-event cost, so it is left out.
                let mut component = runtime.detector(&config).unwrap().unwrap();
                let _ = component.scan(lines[0].as_bytes()).unwrap();
                let before = component.instructions();
                for line in lines {
                    let _ = component.scan(line.as_bytes()).unwrap();
                }
                let per_event = (component.instructions() - before) / lines.len() as u64;
                figures.insert(format!("component {mode} {rules} {file}"), per_event);

                let function = format!("winrm_detect_annotate_{mode}");
                let per_record = module_instructions(records, &function, Some(&config)).unwrap();
                figures.insert(format!("fluent-bit module {mode} {rules} {file}"), per_record as u64);
            }
        }
    }
    Some(figures)
}

#[test]
fn instructions_per_event_stay_at_their_baseline() {
    let Some(figures) = measure() else { return };
    let path: PathBuf = host_test::workspace_root().join(BASELINE);
    if std::env::var_os("WINRM_DETECT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&figures).unwrap() + "\n").unwrap();
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (WINRM_DETECT_BLESS=1 writes it)", path.display()));
    let baseline: BTreeMap<String, u64> = serde_json::from_str(&text).unwrap();
    let mut moved = Vec::new();
    eprintln!("{:<44} {:>9} {:>9} {:>7}", "WebAssembly instructions per event", "baseline", "now", "change");
    for (name, &now) in &figures {
        let Some(&then) = baseline.get(name) else {
            moved.push(format!("{name}: {now}, not in the baseline"));
            continue;
        };
        let change = now as f64 / then.max(1) as f64 - 1.0;
        eprintln!("{name:<44} {then:>9} {now:>9} {:>+6.1} %", change * 100.0);
        if change.abs() > TOLERANCE {
            let how = if change > 0.0 { "dearer" } else { "cheaper" };
            moved.push(format!("{name}: {then} -> {now} ({:+.1} %, {how})", change * 100.0));
        }
    }
    for name in baseline.keys().filter(|n| !figures.contains_key(*n)) {
        moved.push(format!("{name}: in the baseline, no longer measured"));
    }
    assert!(
        moved.is_empty(),
        "instructions per event moved more than {} % from {BASELINE}:\n{}\n\
         If the change is meant, rewrite the baseline with WINRM_DETECT_BLESS=1 and say why in the change's note.",
        TOLERANCE * 100.0,
        moved.join("\n")
    );
}
