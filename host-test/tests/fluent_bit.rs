//! The Fluent Bit filter module under an emulated Fluent Bit host that calls it as
//! `plugins/filter_wasm` does: no imports, annotate, filter and drop semantics, a 200 KB
//! record, 100,000 records with flat memory, invalid JSON, the configuration built into the
//! artifact. The result must always be a JSON object or `""`. The real Fluent Bit:
//! `fluent_bit_real.rs`.

use std::path::Path;

use host_test::emulated_fluent_bit::{FluentBitHost, Verdict};
use serde_json::{Map, Value};
use winrm_detect_runner::fluent_bit::{self, MODULE};

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Records as Fluent Bit's winevtlog input gives them: (parity positive, 4688 positive, negative).
fn winevtlog_records() -> Vec<String> {
    std::fs::read_to_string(root().join("fixtures/events/winevtlog.fluentbit.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// An extended-only record: `icm -Cn` in the winevtlog shape.
fn extended_record() -> String {
    let mut v: Value = serde_json::from_str(&winevtlog_records()[0]).unwrap();
    v["StringInserts"][10] = Value::String("powershell.exe -c \"icm -Cn FS02 {whoami}\"".into());
    v.to_string()
}

fn object(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text).unwrap() {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn replaced(v: Verdict) -> Map<String, Value> {
    match v {
        Verdict::Replace(m) => m,
        other => panic!("expected a JSON object, got {other:?}"),
    }
}

#[test]
fn annotate_adds_annotations_and_keeps_everything_else() {
    let mut host = FluentBitHost::new(None).unwrap();
    let records = winevtlog_records();
    let out =
        replaced(host.call("winrm_detect_annotate", "winevtlog.0", (1772446530, 0), records[0].as_bytes()).unwrap());
    let mut original = object(&records[0]);
    let annotations = out["winrm_detect"].as_array().unwrap();
    assert_eq!(annotations.len(), 1);
    assert_eq!(annotations[0]["matcher"], "parity");
    assert_eq!(annotations[0]["fields"]["dest"], "WS01.corp.example");
    assert_eq!(annotations[0]["remote_targets"][0]["host"], "FS02");
    original.insert("winrm_detect".into(), out["winrm_detect"].clone());
    assert_eq!(out, original, "the record is returned whole, with one key added");

    // A record on which nothing fires comes back unchanged.
    let out = replaced(host.call("winrm_detect_annotate", "winevtlog.0", (0, 0), records[2].as_bytes()).unwrap());
    assert_eq!(out, object(&records[2]));
    // So does a record of another shape sharing the pipeline.
    let app = r#"{"log":"GET /index.html 200","source":"nginx"}"#;
    assert_eq!(replaced(host.call("winrm_detect_annotate", "app", (0, 0), app.as_bytes()).unwrap()), object(app));
}

#[test]
fn filter_forwards_only_matches() {
    let mut host = FluentBitHost::new(None).unwrap();
    let records = winevtlog_records();
    let positive = host.call("winrm_detect_filter", "t", (0, 0), records[1].as_bytes()).unwrap();
    assert_eq!(replaced(positive)["winrm_detect"][0]["fields"]["process_id"], "0x1092");
    assert_eq!(host.call("winrm_detect_filter", "t", (0, 0), records[2].as_bytes()).unwrap(), Verdict::Drop);
    let app = br#"{"log":"hello"}"#;
    assert_eq!(host.call("winrm_detect_filter", "t", (0, 0), app).unwrap(), Verdict::Drop);
}

#[test]
fn modes_by_function_name() {
    let mut host = FluentBitHost::new(None).unwrap();
    let record = extended_record();
    assert_eq!(host.call("winrm_detect_filter_parity", "t", (0, 0), record.as_bytes()).unwrap(), Verdict::Drop);
    let out = replaced(host.call("winrm_detect_filter_extended", "t", (0, 0), record.as_bytes()).unwrap());
    assert_eq!(out["winrm_detect"][0]["matcher"], "extended");
    assert_eq!(out["winrm_detect"][0]["techniques"], serde_json::json!(["alias", "parameter-alias"]));
    let out = replaced(host.call("winrm_detect_annotate_extended", "t", (0, 0), record.as_bytes()).unwrap());
    assert_eq!(out["winrm_detect"][0]["matcher"], "extended");
    assert_eq!(
        replaced(host.call("winrm_detect_annotate_parity", "t", (0, 0), record.as_bytes()).unwrap()),
        object(&record)
    );
}

#[test]
fn a_200kb_record() {
    let mut record: Value = serde_json::from_str(&winevtlog_records()[0]).unwrap();
    record["Message"] = Value::String("x".repeat(200 << 10));
    let big = record.to_string();
    assert!(big.len() > 200_000);
    // The module's exported allocator takes the whole record (WAMR uses it, whatever
    // Wasm_Heap_Size says).
    let mut host = FluentBitHost::new(None).unwrap();
    let out = replaced(host.call("winrm_detect_annotate", "t", (0, 0), big.as_bytes()).unwrap());
    assert_eq!(out["winrm_detect"][0]["matcher"], "parity");
    assert_eq!(out["Message"].as_str().unwrap().len(), 200 << 10);
}

#[test]
fn invalid_input_still_gives_a_json_object() {
    let mut host = FluentBitHost::new(None).unwrap();
    for bad in [&b"{\"EventID\": 1, \"broken"[..], b"not json at all", b"", b"\xff\xfe\x00garbage"] {
        for function in ["winrm_detect_annotate", "winrm_detect_filter_extended"] {
            match host.call(function, "t", (0, 0), bad).unwrap() {
                Verdict::Replace(m) => assert!(m.contains_key("winrm_detect_error"), "{m:?}"),
                Verdict::Drop => {}
                other => panic!("{function} on {bad:?}: {other:?}"),
            }
        }
    }
    // And the next record is examined as usual.
    let records = winevtlog_records();
    assert!(matches!(
        host.call("winrm_detect_filter", "t", (0, 0), records[0].as_bytes()).unwrap(),
        Verdict::Replace(_)
    ));
}

#[test]
fn a_hundred_thousand_records_in_flat_memory() {
    let mut host = FluentBitHost::new(None).unwrap();
    let records = winevtlog_records();
    let extended = extended_record();
    let inputs = [records[0].as_str(), records[1].as_str(), records[2].as_str(), extended.as_str(), "{\"log\":\"x\"}"];
    let run = |host: &mut FluentBitHost, n: usize| {
        let mut forwarded = 0;
        for i in 0..n {
            match host
                .call("winrm_detect_filter_extended", "t", (i as u32, 0), inputs[i % inputs.len()].as_bytes())
                .unwrap()
            {
                Verdict::Replace(_) => forwarded += 1,
                Verdict::Drop => {}
                other => panic!("record {i}: {other:?}"),
            }
        }
        forwarded
    };
    run(&mut host, 1_000);
    let warm = host.memory_bytes();
    let forwarded = run(&mut host, 100_000);
    assert_eq!(forwarded, 60_000, "three of every five records match");
    assert_eq!(host.memory_bytes(), warm, "linear memory grew across records");
}

/// Fluent Bit for Windows builds WAMR without WASI: any import would stay unlinked and trap
/// when called, dropping the record. The module must need nothing from its host.
#[test]
fn the_module_imports_nothing() {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, MODULE).unwrap();
    let imports: Vec<String> = module.imports().map(|i| format!("{}.{}", i.module(), i.name())).collect();
    assert!(imports.is_empty(), "the Fluent Bit module imports {imports:?}");
    let exports: Vec<&str> = module.exports().map(|e| e.name()).collect();
    for wanted in ["memory", "malloc", "free", "winrm_detect_annotate", "winrm_detect_filter", "winrm_detect_about"] {
        assert!(exports.contains(&wanted), "no export {wanted}: {exports:?}");
    }
}

#[test]
fn configuration_comes_from_the_artifact() {
    let record = extended_record();
    let config = r#"{"mode":"extended","allowlist":{"users":["nobody"]}}"#;
    let module = fluent_bit::artifact(Some(config)).unwrap();
    assert_eq!(fluent_bit::embedded_config(&module).unwrap().as_deref(), Some(config));
    assert_eq!(fluent_bit::embedded_config(MODULE).unwrap(), None);

    let mut host = FluentBitHost::new(Some(config)).unwrap();
    let out = replaced(host.call("winrm_detect_filter", "t", (0, 0), record.as_bytes()).unwrap());
    assert_eq!(out["winrm_detect"][0]["matcher"], "extended");
    let about = replaced(host.call("winrm_detect_about", "t", (0, 0), b"{}").unwrap());
    assert_eq!(about["winrm_detect_module"]["mode"], "extended");
    assert_eq!(about["winrm_detect_module"]["configuration"]["allowlist"]["users"][0], "nobody");
    // The function name still fixes the mode.
    assert_eq!(host.call("winrm_detect_filter_parity", "t", (0, 0), record.as_bytes()).unwrap(), Verdict::Drop);

    // An allowlist in the artifact suppresses.
    let user = out["winrm_detect"][0]["fields"]["user"].as_str().unwrap().to_string();
    let quiet = format!(r#"{{"mode":"extended","allowlist":{{"users":["{user}"]}}}}"#);
    let mut host = FluentBitHost::new(Some(&quiet)).unwrap();
    assert_eq!(host.call("winrm_detect_filter", "t", (0, 0), record.as_bytes()).unwrap(), Verdict::Drop);

    // A bad configuration never reaches a module: the artifact is refused, naming the key.
    let e = fluent_bit::artifact(Some(r#"{"mood":"extended"}"#)).unwrap_err();
    assert!(e.to_string().contains("mood"), "{e}");
    // One that got into a slot anyway (a hand-edited file) is refused by the module, loudly.
    let edited = winrm_detect::config_slot::embed(MODULE, br#"{"mood":"extended"}"#).unwrap();
    let mut host = FluentBitHost::load(&edited, false).unwrap();
    let out = replaced(host.call("winrm_detect_annotate", "t", (0, 0), record.as_bytes()).unwrap());
    assert_eq!(out["winrm_detect_error"]["kind"], "bad-config");
    assert!(out["winrm_detect_error"]["message"].as_str().unwrap().contains("mood"));
}

/// What each function costs an interpreter, in WebAssembly instructions per corpus record
/// (`fluent-bit-bench` prints the same beside its CPU figures):
/// `cargo test --release -p host-test --test fluent_bit -- --ignored --nocapture instructions`.
#[test]
#[ignore = "a measurement: prints instruction counts"]
fn instructions_per_record() {
    let dir = std::env::temp_dir().join(format!("winrm-detect-instructions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("events.log");
    let text = flate2::read::GzDecoder::new(std::fs::File::open(host_test::corpus_bulk("xml.gz")).unwrap());
    std::io::copy(&mut std::io::BufReader::new(text), &mut std::fs::File::create(&input).unwrap()).unwrap();
    for (rules, config) in [("both rules", None), ("process-creation only", Some(r#"{"rules":["process-creation"]}"#))]
    {
        for function in [
            "winrm_detect_passthrough",
            "winrm_detect_annotate_parity",
            "winrm_detect_annotate_extended",
            "winrm_detect_filter_parity",
        ] {
            let n = host_test::fluent_bit_bench::instructions_per_event(&input, false, function, config).unwrap();
            println!("{function:<31} {n:>8.0} wasm instructions per record ({rules})");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
