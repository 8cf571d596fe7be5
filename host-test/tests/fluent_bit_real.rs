//! The Fluent Bit module in a real Fluent Bit 5.1.1, in both of its builds: with WASI
//! (`../shared/vendor/fluent-bit/build.sh`), interpreted (`.wasm`) and compiled ahead of time
//! (`.aot`), and without WASI as Fluent Bit for Windows is built (`FLB_WASI=0 build.sh`),
//! interpreted, as Windows runs it. With the configurations taken word for word from the
//! README: every input an operator is given a configuration for, the records `winevtlog`
//! writes under each of its options, the generated worst cases, the public corpus, a forced
//! trap, and the configuration built into the artifact. Fluent Bit's stdout must carry only
//! records, and its log no wasm exception (but where one is forced) and no warning from
//! WAMR's loader.
//!
//! Without a Fluent Bit these tests say what is missing and pass; under `CI=true` they fail.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use host_test::real_fluent_bit::{
    self as fb, FAST_SERVICE, FluentBit, JSON_PARSER, Pipeline, README_STACK_SIZE, STDOUT_OUTPUT, readme_config,
    set_value, tail_input, value_of,
};
use serde_json::{Map, Value};

const TIMEOUT: Duration = Duration::from_secs(300);

fn root() -> PathBuf {
    host_test::workspace_root()
}

/// The user-facing pages, where the configurations tested here are written
/// (`docs/fluent-bit.md`, `docs/windows.md`): the tests read them from there.
fn readme() -> String {
    host_test::docs::text()
}

/// The module as `winrm-detect artifact fluent-bit` writes it (with `config` built in), and
/// its `.aot` beside it where the build has `flb-wamrc` (Windows builds have none).
fn configured_modules(fluent_bit: &FluentBit, dir: &Path, config: Option<&str>) -> Vec<PathBuf> {
    let wasm = dir.join("winrm_detect.wasm");
    fs::write(&wasm, winrm_detect_runner::fluent_bit::artifact(config).unwrap()).unwrap();
    let mut modules = vec![wasm.clone()];
    if fluent_bit.wamrc.is_some() {
        let aot = dir.join("winrm_detect.aot");
        fluent_bit.compile_aot(&wasm, &aot).expect("flb-wamrc");
        modules.push(aot);
    }
    modules
}

fn modules(fluent_bit: &FluentBit, dir: &Path) -> Vec<PathBuf> {
    configured_modules(fluent_bit, dir, None)
}

/// The README's configuration `name` without its prefilter (what `--no-prefilter` prints:
/// every record through the module, in order; `fluent_bit_prefilter.rs` tests the prefilter),
/// pointed at `module`; the inputs replaced when `inputs` is given, the outputs always by
/// stdout JSON lines.
fn configure(name: &str, module: &Path, inputs: Option<String>) -> (Pipeline, String) {
    let mut p = Pipeline::parse(&readme_config(&readme(), name).unwrap()).unwrap();
    p.filters = without_prefilter(&p.filters);
    p.filters = set_value(&p.filters, "wasm_path", &module.display().to_string()).unwrap();
    if let Some(inputs) = inputs {
        p.inputs = inputs;
    }
    p.outputs = STDOUT_OUTPUT.into();
    p.preamble = format!("{FAST_SERVICE}{}", p.preamble.replace("service:\n", ""));
    let function = value_of(&p.filters, "function_name").unwrap().to_string();
    (p, function)
}

/// The filters without the prefilter (`rewrite_tag` or `grep`), the `wasm` filter matching the
/// input's tag.
fn without_prefilter(filters: &str) -> String {
    let mut items: Vec<String> = Vec::new();
    for line in filters.lines() {
        if line.starts_with("    - ") || items.is_empty() {
            items.push(String::new());
        }
        items.last_mut().unwrap().push_str(&format!("{line}\n"));
    }
    items.retain(|item| !["rewrite_tag", "grep"].iter().any(|f| item.starts_with(&format!("    - name: {f}\n"))));
    items.concat().replace("      match: winrm_detect.winevt\n", "      match: winevt\n")
}

/// Runs a pipeline until `want` records came out; returns the records it printed. Fails on
/// any stdout line that is not a record and on any wasm exception in the log.
fn run(fluent_bit: &FluentBit, dir: &Path, pipeline: &Pipeline, want: usize) -> (Vec<Map<String, Value>>, String) {
    run_fed(fluent_bit, dir, pipeline, want, true, || Ok(()))
}

fn run_fed(
    fluent_bit: &FluentBit,
    dir: &Path,
    pipeline: &Pipeline,
    want: usize,
    no_exceptions: bool,
    feed: impl FnOnce() -> Result<()>,
) -> (Vec<Map<String, Value>>, String) {
    let config = dir.join("fluent-bit.yaml");
    fs::write(&config, pipeline.to_yaml()).unwrap();
    fluent_bit.checked_run(&config, want, TIMEOUT, !no_exceptions, feed)
}

/// What the native library says of each line under `config`: the rule ids that fired, or
/// the error kind.
fn expected(lines: &[String], config: &str) -> Vec<Result<Vec<String>, String>> {
    let detector = winrm_detect::Detector::from_json(config).unwrap();
    lines
        .iter()
        .map(|l| match detector.scan(l.as_bytes()) {
            Ok(a) => Ok(a.iter().map(|a| a.rule_id.clone()).collect()),
            Err(e) if e.kind == winrm_detect::ErrorKind::UnknownShape => Ok(Vec::new()),
            Err(e) => Err(e.kind.as_str().to_string()),
        })
        .collect()
}

/// The same, read from what came out of Fluent Bit.
fn verdict(record: &Map<String, Value>) -> Result<Vec<String>, String> {
    if let Some(e) = record.get("winrm_detect_error") {
        return Err(e["kind"].as_str().unwrap().to_string());
    }
    Ok(record
        .get("winrm_detect")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|x| x["rule_id"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default())
}

/// What a function forwards: every record for annotate, only matches and errors for filter.
fn forwarded(function: &str, want: &[Result<Vec<String>, String>]) -> Vec<Result<Vec<String>, String>> {
    match function.contains("_filter") {
        true => want.iter().filter(|v| !matches!(v, Ok(a) if a.is_empty())).cloned().collect(),
        false => want.to_vec(),
    }
}

/// Checks Fluent Bit's output against the native verdicts, in order.
fn check(function: &str, records: &[Map<String, Value>], want: &[Result<Vec<String>, String>], what: &str) {
    let got: Vec<_> = records.iter().map(verdict).collect();
    assert_eq!(got, forwarded(function, want), "{what}: {function}");
}

fn mode_of(function: &str) -> &'static str {
    if function.ends_with("_extended") { "extended" } else { "parity" }
}

fn lines_of(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

fn fixtures(suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(root().join("fixtures/events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// Every configuration the README gives operators sets the stack the worst cases were
/// measured against, the value `fluent-bit-bench` uses too.
#[test]
fn readme_configurations_set_the_measured_stack() {
    for name in ["winevtlog", "tail-json", "tail-xml", "tcp-xml"] {
        let p = Pipeline::parse(&readme_config(&readme(), name).unwrap()).unwrap();
        assert_eq!(value_of(&p.filters, "wasm_stack_size"), Some(README_STACK_SIZE), "{name}");
    }
}

/// `winevtlog` cannot run here: the records it writes under each option (our fixtures,
/// written from `plugins/in_winevtlog/pack.c`) are fed through a `tail` instead, into the
/// README's winevtlog filter.
#[test]
fn winevtlog_records_under_every_option() {
    for fluent_bit in FluentBit::builds_for_tests() {
        let dir = fluent_bit.scratch_dir("winevtlog");
        for module in modules(&fluent_bit, &dir) {
            for file in fixtures(".jsonl").into_iter().filter(|f| f.to_string_lossy().contains("winevtlog.")) {
                let input = tail_input(&file, Some("json"), "winevt", false);
                let (mut p, function) = configure("winevtlog", &module, Some(input));
                p.preamble.push_str(JSON_PARSER);
                let lines = lines_of(&file);
                let want = expected(&lines, &format!(r#"{{"mode":"{}"}}"#, mode_of(&function)));
                let (records, _) = run(&fluent_bit, &dir, &p, forwarded(&function, &want).len());
                assert!(want.iter().any(|w| matches!(w, Ok(a) if !a.is_empty())), "{file:?} has no positive");
                check(&function, &records, &want, &format!("{} via {}", file.display(), module.display()));
            }
        }
    }
}

/// The README's `tail` configuration for JSON lines over every JSON fixture, and its `tail`
/// configuration for XML lines over the XML fixtures (Fluent Bit hands those over as
/// `{"log": "<Event…>"}`).
#[test]
fn tail_configurations_over_every_fixture() {
    for fluent_bit in FluentBit::builds_for_tests() {
        let dir = fluent_bit.scratch_dir("tail");
        for module in modules(&fluent_bit, &dir) {
            for (name, suffix) in [("tail-json", ".jsonl"), ("tail-xml", ".xml")] {
                let files = fixtures(suffix);
                let mut all = Vec::new();
                let joined = dir.join(format!("events{suffix}"));
                for f in &files {
                    all.extend(lines_of(f));
                }
                fs::write(&joined, all.join("\n") + "\n").unwrap();
                let (mut p, function) = configure(name, &module, None);
                p.inputs = readme_tail(&p.inputs, &joined);
                let want = expected(&all, &format!(r#"{{"mode":"{}"}}"#, mode_of(&function)));
                let (records, _) = run(&fluent_bit, &dir, &p, forwarded(&function, &want).len());
                assert!(want.iter().filter(|w| matches!(w, Ok(a) if !a.is_empty())).count() >= files.len());
                check(&function, &records, &want, &format!("{name} via {}", module.display()));
            }
        }
    }
}

/// The README's `tcp` configuration, fed XML lines over a socket.
#[test]
fn tcp_configuration_with_xml_lines() {
    for fluent_bit in FluentBit::builds_for_tests() {
        let dir = fluent_bit.scratch_dir("tcp");
        let port = host_test::free_loopback_port();
        let mut lines = Vec::new();
        for f in fixtures(".xml") {
            lines.extend(lines_of(&f));
        }
        // A truncated event: forwarded with its error even by a filter.
        let positive = lines.iter().find(|l| l.contains("Invoke-Command")).expect("a positive").clone();
        let cut = positive.find("Invoke-Command").expect("found") + 30;
        lines.push(positive[..cut].to_string());
        for module in modules(&fluent_bit, &dir) {
            let (mut p, function) = configure("tcp-xml", &module, None);
            p.inputs = set_value(&p.inputs, "listen", "127.0.0.1").unwrap();
            p.inputs = set_value(&p.inputs, "port", &port.to_string()).unwrap();
            let payload = lines.join("\n") + "\n";
            let want = expected(&lines, &format!(r#"{{"mode":"{}"}}"#, mode_of(&function)));
            let (records, _) = run_fed(&fluent_bit, &dir, &p, forwarded(&function, &want).len(), true, || {
                let mut stream = connect(port)?;
                stream.write_all(payload.as_bytes())?;
                Ok(())
            });
            assert!(matches!(want.last(), Some(Err(k)) if k == "broken-xml"));
            check(&function, &records, &want, &format!("tcp-xml via {}", module.display()));
        }
    }
}

/// The README's `tail` input as written, reading `file` from its start.
fn readme_tail(inputs: &str, file: &Path) -> String {
    set_value(inputs, "path", &file.display().to_string()).unwrap() + "      read_from_head: true\n"
}

/// Fluent Bit takes a moment to listen.
fn connect(port: u16) -> Result<std::net::TcpStream> {
    for _ in 0..200 {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            return Ok(s);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    anyhow::bail!("Fluent Bit never listened on {port}")
}

/// The worst cases the limits allow, in both modes, through the README's settings: every
/// record comes out, annotated, and nothing traps.
#[test]
fn worst_cases_never_trap_under_the_readme_settings() {
    for fluent_bit in FluentBit::builds_for_tests() {
        let dir = fluent_bit.scratch_dir("worst");
        let cases = host_test::worst_cases::worst_cases();
        let file = dir.join("worst.jsonl");
        let lines: Vec<String> = cases.iter().map(|(_, e)| e.clone()).collect();
        fs::write(&file, lines.join("\n") + "\n").unwrap();
        for module in modules(&fluent_bit, &dir) {
            for function in ["winrm_detect_annotate_parity", "winrm_detect_annotate_extended"] {
                let (mut p, _) = configure("tail-json", &module, None);
                p.inputs = readme_tail(&p.inputs, &file);
                p.filters = set_value(&p.filters, "function_name", function).unwrap();
                let (records, _) = run(&fluent_bit, &dir, &p, cases.len());
                let want = expected(&lines, &format!(r#"{{"mode":"{}"}}"#, mode_of(function)));
                check(function, &records, &want, &format!("worst cases via {}", module.display()));
                if function.ends_with("_extended") {
                    let names: Vec<_> = cases.iter().map(|(n, _)| *n).collect();
                    assert!(want.iter().all(|w| matches!(w, Ok(a) if !a.is_empty())), "{names:?}: {want:?}");
                }
            }
        }
    }
}

/// The public corpus (65,145 Sysmon events as XML lines) through the README's `tail`
/// configuration for XML: every record comes out, exactly the one real positive fires.
#[test]
fn corpus_through_fluent_bit() {
    let bulk = host_test::corpus_bulk("xml.gz");
    if !bulk.is_file() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "no corpus at {}", bulk.display());
        eprintln!("skipped: no corpus at {}", bulk.display());
        return;
    }
    for fluent_bit in FluentBit::builds_for_tests() {
        let dir = fluent_bit.scratch_dir("corpus");
        let file = dir.join("sysmon.xml");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(fs::File::open(&bulk).unwrap()), &mut text)
            .unwrap();
        fs::write(&file, &text).unwrap();
        let events = text.lines().filter(|l| !l.trim().is_empty()).count();
        for module in modules(&fluent_bit, &dir) {
            for function in ["winrm_detect_annotate_parity", "winrm_detect_annotate_extended"] {
                let (mut p, _) = configure("tail-xml", &module, None);
                p.inputs = readme_tail(&p.inputs, &file);
                p.filters = set_value(&p.filters, "function_name", function).unwrap();
                let (records, _) = run(&fluent_bit, &dir, &p, events);
                assert_eq!(records.len(), events, "{function} via {}", module.display());
                let fired: BTreeMap<String, usize> =
                    records.iter().flat_map(|r| verdict(r).unwrap_or_default()).fold(BTreeMap::new(), |mut m, id| {
                        *m.entry(id).or_default() += 1;
                        m
                    });
                let parity = fired.get("ba24cda8-4716-11ec-8009-3e22fbd008af").copied().unwrap_or(0);
                assert_eq!(parity, 1, "{function} via {}: {fired:?}", module.display());
                let errors = records.iter().filter(|r| r.contains_key("winrm_detect_error")).count();
                assert_eq!(errors, 0, "{function}");
            }
        }
    }
}

/// A stack far too small (Fluent Bit's default, 8 KiB) makes the interpreter trap on deep
/// events; Fluent Bit drops those, and every record after a trap is processed correctly.
#[test]
fn a_trap_is_not_forever() {
    for fluent_bit in FluentBit::builds_for_tests() {
        let dir = fluent_bit.scratch_dir("trap");
        let module = &modules(&fluent_bit, &dir)[0];
        let deep =
            host_test::worst_cases::worst_cases().into_iter().find(|(n, _)| *n == "json-nesting-64-value").unwrap().1;
        let positive = lines_of(&root().join("fixtures/events/sysmon1.evtx.jsonl"))
            .into_iter()
            .find(|l| l.contains("Invoke-Command -ComputerName"))
            .unwrap();
        let negative = r#"{"log":"an application line"}"#.to_string();
        let mut lines = Vec::new();
        for _ in 0..50 {
            lines.extend([deep.clone(), positive.clone(), negative.clone()]);
        }
        let file = dir.join("trap.jsonl");
        fs::write(&file, lines.join("\n") + "\n").unwrap();
        let (mut p, _) = configure("tail-json", module, None);
        p.inputs = readme_tail(&p.inputs, &file);
        p.filters = set_value(&p.filters, "function_name", "winrm_detect_annotate").unwrap();
        p.filters = set_value(&p.filters, "wasm_stack_size", "8K").unwrap();
        let (records, log) = run_fed(&fluent_bit, &dir, &p, 100, false, || Ok(()));
        assert_eq!(log.matches("Got exception running wasm code").count(), 50, "{}", fb::log_tail(&log));
        assert_eq!(records.len(), 100, "the deep records are dropped, every other one comes out");
        for pair in records.chunks(2) {
            // The record after a trap is read as usual and says that the one before was lost.
            assert_eq!(pair[0]["winrm_detect"][0]["rule_id"], "ba24cda8-4716-11ec-8009-3e22fbd008af");
            assert_eq!(pair[0]["winrm_detect_error"]["kind"], "internal", "{:?}", pair[0]);
            assert!(pair[0]["winrm_detect_error"]["message"].as_str().unwrap().contains("trapped"));
            assert_eq!(pair[1], serde_json::from_str::<Map<String, Value>>(&negative).unwrap());
        }
    }
}

/// The configuration built into the artifact is what the filter runs with, in both builds
/// (one behaviour on every platform: a `winrm-detect.json` beside it is not read); the `.aot`
/// compiled from it carries it too, and `winrm_detect_about` says what an instance runs with
/// through the README's check configuration.
#[test]
fn configuration_built_into_the_artifact() {
    let config = r#"{"mode":"extended","rules":["process-creation"]}"#;
    let mut lines = lines_of(&root().join("fixtures/events/extended.evtx.jsonl"));
    lines.extend(lines_of(&root().join("fixtures/events/sysmon1.evtx.jsonl")));
    lines.extend(lines_of(&root().join("fixtures/events/scriptblock.evtx.jsonl")));
    let want = expected(&lines, config);
    assert_ne!(want, expected(&lines, "{}"), "the configuration changes the verdicts");
    for fluent_bit in FluentBit::builds_for_tests() {
        let dir = fluent_bit.scratch_dir("config");
        let file = dir.join("events.jsonl");
        fs::write(&file, lines.join("\n") + "\n").unwrap();
        // What an operator had before: a file in accessible_paths. Not read, on any build.
        fs::write(dir.join("winrm-detect.json"), r#"{"mode":"parity"}"#).unwrap();
        for module in configured_modules(&fluent_bit, &dir, Some(config)) {
            let bytes = fs::read(&module).unwrap();
            let embedded = winrm_detect_runner::fluent_bit::embedded_config(&bytes).unwrap();
            assert_eq!(embedded.as_deref(), Some(config), "{}", module.display());
            let (mut p, _) = configure("tail-json", &module, None);
            p.inputs = readme_tail(&p.inputs, &file);
            p.filters.push_str(&format!("      accessible_paths: {}\n", dir.display()));
            let (records, _) = run(&fluent_bit, &dir, &p, forwarded("winrm_detect_filter", &want).len());
            check("winrm_detect_filter", &records, &want, &format!("built in, via {}", module.display()));

            let mut about = Pipeline::parse(&readme_config(&readme(), "about").unwrap()).unwrap();
            about.filters = set_value(&about.filters, "wasm_path", &module.display().to_string()).unwrap();
            about.outputs = STDOUT_OUTPUT.into();
            about.preamble = FAST_SERVICE.into();
            let (records, _) = run(&fluent_bit, &dir, &about, 1);
            let said = &records[0]["winrm_detect_module"];
            assert_eq!(said["mode"], "extended", "{said}");
            assert_eq!(said["rules"], serde_json::json!(["process-creation"]));
            assert_eq!(said["configuration"], serde_json::from_str::<Value>(config).unwrap());
            assert_eq!(said["refused"], Value::Null);
        }
    }
}

/// The interpreter stack each worst case needs, found by bisection in the real WAMR (the
/// smallest `wasm_stack_size`, in KiB, at which the record comes out annotated without an
/// exception). Prints the README's table; run with
/// `cargo test -p host-test --test fluent_bit_real -- --ignored --nocapture stack_need`.
#[test]
#[ignore = "a measurement: prints the stack each worst case needs"]
fn stack_need() {
    let Some(fluent_bit) = FluentBit::for_tests() else { return };
    let dir = fluent_bit.scratch_dir("stack");
    let module = &modules(&fluent_bit, &dir)[0];
    let mut cases = host_test::worst_cases::worst_cases();
    let sysmon = lines_of(&root().join("fixtures/events/sysmon1.evtx.jsonl"));
    cases.push(("fixture sysmon1.evtx.jsonl #1", sysmon[0].clone()));
    // WINRM_DETECT_STACK_CASE=json measures only the cases whose name holds `json`.
    if let Ok(only) = std::env::var("WINRM_DETECT_STACK_CASE") {
        cases.retain(|(name, _)| name.contains(only.as_str()));
    }
    println!("| worst case (default limits) | parity | extended |\n|---|---:|---:|");
    for (name, event) in &cases {
        let file = dir.join("case.jsonl");
        // A record after it comes out whether or not the case traps: the run ends on it.
        fs::write(&file, format!("{event}\n{{\"log\":\"end\"}}\n")).unwrap();
        let mut row = format!("| {name} |");
        for function in ["winrm_detect_annotate_parity", "winrm_detect_annotate_extended"] {
            let passes = |kib: u32| {
                let (mut p, _) = configure("tail-json", module, None);
                p.inputs = readme_tail(&p.inputs, &file);
                p.filters = set_value(&p.filters, "function_name", function).unwrap();
                p.filters = set_value(&p.filters, "wasm_stack_size", &format!("{kib}K")).unwrap();
                let config = dir.join("fluent-bit.yaml");
                fs::write(&config, p.to_yaml()).unwrap();
                let run = fluent_bit.run_until(&config, 1, Duration::from_secs(20), || Ok(())).unwrap();
                run.success && run.stdout.contains("\"winrm_detect\"") && !run.stderr.contains("exception")
            };
            let (mut low, mut high) = (8u32, 512u32);
            if passes(low) {
                high = low;
            }
            while high - low > 4 {
                let mid = (low + high) / 2;
                if passes(mid) { high = mid } else { low = mid }
            }
            row.push_str(&format!(" ≤ {high} KiB |"));
        }
        println!("{row}");
    }
}
