//! `winrm-detect fluent-bit-bench`: what the module costs inside a real Fluent Bit. The same
//! file goes through `tail` (JSON lines with the `json` parser, anything else as `log`) to a
//! `null` output with no filter, with the module's passthrough function (the floor any wasm
//! filter pays: the record turned into JSON, copied in, copied back and parsed again), with
//! the module annotating and filtering in both modes, interpreted and ahead-of-time compiled,
//! with the README's prefilter (`rewrite_tag`, or `grep` in filter mode) before the module, for
//! records of text, and with a Lua filter doing the parity rule's substring test. Each is run `runs` times;
//! the best run's CPU time (user + system of the fluent-bit process) counts.

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use winrm_detect::{Config, Mode};
use winrm_detect_runner::fluent_bit::pipeline::{self, Behaviour, Input};

use crate::real_fluent_bit::{
    FAST_SERVICE, FluentBit, JSON_PARSER, NULL_OUTPUT, Pipeline, README_STACK_SIZE, tail_input,
};

/// The tag the input is given: the one the prefilter's configuration matches.
const TAG: &str = "winevt";

/// The parity rule's substring test in Lua, over every string of the record.
const LUA_FILTER: &str = r#"
local function has_terms(v)
  if type(v) == "string" then
    local s = string.lower(v)
    return string.find(s, "invoke-command", 1, true) ~= nil and string.find(s, "-computername", 1, true) ~= nil
  elseif type(v) == "table" then
    for _, x in pairs(v) do
      if has_terms(x) then return true end
    end
  end
  return false
end

function winrm_detect(tag, timestamp, record)
  if has_terms(record) then
    record["winrm_detect"] = "parity"
    return 1, timestamp, record
  end
  return 0, timestamp, record
end
"#;

struct Setup {
    name: String,
    /// The module's function it calls, if any.
    function: Option<&'static str>,
    filter: String,
    /// Which floor its ratio is taken against: the passthrough of the same build.
    floor: Option<&'static str>,
}

pub struct Row {
    pub name: String,
    /// WebAssembly instructions the function runs per record (the module's functions only).
    pub instructions_per_event: Option<f64>,
    pub events_per_cpu_second: f64,
    pub vs_no_filter: f64,
    pub vs_passthrough: Option<f64>,
}

/// Writes the input (the files' lines, `copies` times) into `dir` and returns its path, the
/// number of events and whether they are JSON.
fn prepare(files: &[String], copies: usize, dir: &Path) -> Result<(std::path::PathBuf, usize, bool)> {
    let mut lines = Vec::new();
    for f in files {
        let file = std::fs::File::open(f).with_context(|| format!("open {f}"))?;
        let reader = winrm_detect_runner::input::sniff(std::io::BufReader::new(file))?;
        for line in reader.lines() {
            let line = line?;
            if !line.trim().is_empty() {
                lines.push(line);
            }
        }
    }
    if lines.is_empty() {
        bail!("no events in {files:?}");
    }
    let json = lines[0].trim_start().starts_with('{');
    let path = dir.join(if json { "events.jsonl" } else { "events.log" });
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for _ in 0..copies {
        for line in &lines {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok((path, lines.len() * copies, json))
}

/// How many records of the input [`instructions_per_event`] runs.
const METERED_SAMPLE: usize = 20_000;

/// The WebAssembly instructions `function` runs per record, counted by wasmtime's fuel over the
/// first records of `input`, each handed over as Fluent Bit's `tail` would ([`tail_record`]),
/// with `config` built into the module. An interpreter such as WAMR's pays per instruction, so
/// this is where the interpreted module's time goes, free of the CPU-time noise.
pub fn instructions_per_event(input: &Path, json: bool, function: &str, config: Option<&str>) -> Result<f64> {
    let reader = std::io::BufReader::new(std::fs::File::open(input)?);
    let records: Vec<String> =
        reader.lines().take(METERED_SAMPLE).map(|l| l.map(|l| tail_record(&l, json))).collect::<Result<_, _>>()?;
    module_instructions(&records, function, config)
}

/// The record Fluent Bit's `tail` makes of a line: a JSON line as it is (its `json` parser),
/// any other line as `{"log": line}`.
pub fn tail_record(line: &str, json: bool) -> String {
    match json {
        true => line.to_string(),
        false => serde_json::json!({ "log": line }).to_string(),
    }
}

/// The WebAssembly instructions `function` of the module (`config` built into it) runs per
/// record over `records`, by wasmtime's fuel. The first call loads the settings and builds the
/// detector, which is not a per-record cost: it is made once more before counting starts.
pub fn module_instructions(records: &[String], function: &str, config: Option<&str>) -> Result<f64> {
    let mut host = crate::emulated_fluent_bit::FluentBitHost::metered(config)?;
    if let Some(first) = records.first() {
        host.call(function, "bench", (0, 0), first.as_bytes())?;
    }
    let before = host.instructions();
    for record in records {
        host.call(function, "bench", (0, 0), record.as_bytes())?;
    }
    Ok((host.instructions() - before) as f64 / records.len().max(1) as f64)
}

fn wasm_filter(module: &Path, function: &str) -> String {
    format!(
        "    - name: wasm\n      match: '*'\n      wasm_path: {}\n      function_name: {function}\n      wasm_stack_size: {README_STACK_SIZE}\n",
        module.display(),
    )
}

/// The bench over `files`, the module carrying `config` (its own defaults when `None`: the
/// functions still fix the mode), and the prefilter made for the same configuration.
pub fn run(
    fluent_bit: &FluentBit,
    files: &[String],
    copies: usize,
    runs: usize,
    dir: &Path,
    module_config: Option<&str>,
) -> Result<Vec<Row>> {
    std::fs::create_dir_all(dir)?;
    let (input, events, json) = prepare(files, copies, dir)?;
    let wasm = dir.join("winrm_detect.wasm");
    std::fs::write(&wasm, winrm_detect_runner::fluent_bit::artifact(module_config)?)?;
    let mut modules = vec![(".wasm", wasm.clone())];
    // Fluent Bit for Windows (and `FLB_WASI=0 build.sh`) has no flb-wamrc: interpreted only.
    if fluent_bit.wamrc.is_some() {
        let aot = dir.join("winrm_detect.aot");
        fluent_bit.compile_aot(&wasm, &aot)?;
        modules.push((".aot", aot));
    }
    let lua = dir.join("winrm_detect.lua");
    std::fs::write(&lua, LUA_FILTER)?;

    let mut setups = vec![
        Setup { name: "no filter".into(), function: None, filter: String::new(), floor: None },
        Setup {
            name: "lua substring filter".into(),
            function: None,
            filter: format!(
                "    - name: lua\n      match: '*'\n      script: {}\n      call: winrm_detect\n",
                lua.display()
            ),
            floor: None,
        },
    ];
    for (kind, module) in &modules {
        let floor = if *kind == ".wasm" { "passthrough .wasm" } else { "passthrough .aot" };
        setups.push(Setup {
            name: format!("passthrough {kind}"),
            function: Some("winrm_detect_passthrough"),
            filter: wasm_filter(module, "winrm_detect_passthrough"),
            floor: None,
        });
        for function in [
            "winrm_detect_annotate_parity",
            "winrm_detect_annotate_extended",
            "winrm_detect_filter_parity",
            "winrm_detect_filter_extended",
        ] {
            let short = function.trim_start_matches("winrm_detect_").replace('_', " ");
            setups.push(Setup {
                name: format!("{short} {kind}"),
                function: Some(function),
                filter: wasm_filter(module, function),
                floor: Some(floor),
            });
        }
    }

    // The README's prefilter (`fluent-bit-config`) before the same functions, for records of
    // text (`log`): only what it passes reaches the module.
    let config = match module_config {
        Some(text) => Config::from_json(text).map_err(|e| anyhow::anyhow!("--config: {e}"))?,
        None => Config::default(),
    };
    for (kind, module) in modules.iter().filter(|_| !json) {
        let floor = if *kind == ".wasm" { "passthrough .wasm" } else { "passthrough .aot" };
        let wasm_path = module.display().to_string();
        for (behaviour, mode) in [
            (Behaviour::Annotate, Mode::Parity),
            (Behaviour::Annotate, Mode::Extended),
            (Behaviour::Filter, Mode::Parity),
            (Behaviour::Filter, Mode::Extended),
        ] {
            let options = pipeline::Options {
                input: Input::TailXml,
                behaviour,
                config: &config,
                fixed_mode: Some(mode),
                wasm_path: &wasm_path,
                path: None,
                port: 0,
                prefilter: true,
            };
            let name = match behaviour {
                Behaviour::Annotate => "annotate",
                Behaviour::Filter => "filter",
            };
            setups.push(Setup {
                name: format!("prefiltered {name} {} {kind}", mode.as_str()),
                function: None,
                filter: Pipeline::parse(&pipeline::yaml(&options))?.filters,
                floor: Some(floor),
            });
        }
    }

    let mut instructions: Vec<(&str, f64)> = Vec::new();
    for function in setups.iter().filter_map(|s| s.function) {
        if !instructions.iter().any(|(f, _)| *f == function) {
            let count = instructions_per_event(&input, json, function, module_config)?;
            eprintln!("{function:<31} {count:>8.0} wasm instructions per record");
            instructions.push((function, count));
        }
    }
    let instructions_of = |function: Option<&str>| {
        let function = function?;
        instructions.iter().find(|(f, _)| *f == function).map(|(_, n)| *n)
    };

    let mut best: Vec<(String, Duration, Option<&'static str>, Option<f64>)> = Vec::new();
    for setup in &setups {
        let pipeline = Pipeline {
            preamble: format!("{FAST_SERVICE}{JSON_PARSER}"),
            inputs: tail_input(&input, json.then_some("json"), TAG, true),
            filters: setup.filter.clone(),
            outputs: NULL_OUTPUT.into(),
        };
        let config = dir.join("bench.yaml");
        std::fs::write(&config, pipeline.to_yaml())?;
        let mut fastest = Duration::MAX;
        for _ in 0..runs {
            let run = fluent_bit.run(&config, Duration::from_secs(1800))?;
            if !run.success || run.stderr.contains("exception") {
                bail!("{}: Fluent Bit failed:\n{}", setup.name, run.stderr);
            }
            fastest = fastest.min(run.cpu);
        }
        eprintln!("{:<28} {:>8.3} CPU-s (best of {runs})", setup.name, fastest.as_secs_f64());
        best.push((setup.name.clone(), fastest, setup.floor, instructions_of(setup.function)));
    }
    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    let no_filter = rate(best[0].1);
    let rate_of = |name: &str| best.iter().find(|(n, ..)| n == name).map(|(_, d, ..)| rate(*d));
    Ok(best
        .iter()
        .map(|(name, cpu, floor, instructions)| Row {
            name: name.clone(),
            instructions_per_event: *instructions,
            events_per_cpu_second: rate(*cpu),
            vs_no_filter: rate(*cpu) / no_filter,
            vs_passthrough: floor.and_then(rate_of).map(|f| rate(*cpu) / f),
        })
        .collect())
}

/// The table, as the README shows it.
pub fn table(rows: &[Row], events: &str) -> String {
    let mut out = format!(
        "| configuration ({events}) | events per CPU-second | × no filter | × passthrough | wasm instructions per event |\n|---|---:|---:|---:|---:|\n"
    );
    for r in rows {
        let floor = r.vs_passthrough.map(|x| format!("{x:.2}")).unwrap_or_default();
        let instructions = r.instructions_per_event.map(|x| format!("{x:.0}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.2} | {floor} | {instructions} |",
            r.name, r.events_per_cpu_second, r.vs_no_filter
        );
    }
    out
}
