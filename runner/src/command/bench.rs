//! `winrm-detect bench`: the component next to the native library on the operator's own
//! events, one core, events in memory; throughput per configuration and peak guest memory.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::Value;
use winrm_detect_runner::component::{self, Runtime};
use winrm_detect_runner::{bench, input};

use crate::cli::BenchArgs;

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let config = match &args.config {
        Some(path) => serde_json::from_str::<Value>(&std::fs::read_to_string(path)?)
            .with_context(|| format!("the configuration {path} is not JSON"))?,
        None => Value::Object(Default::default()),
    };
    let mut events = Vec::new();
    for file in &args.files {
        let mut reader = input::open(file).with_context(|| format!("reading {file}"))?;
        let mut buf = Vec::new();
        while input::next_line(&mut *reader, &mut buf)? {
            if !input::is_blank(&buf) {
                events.push(buf.clone());
            }
        }
    }
    anyhow::ensure!(!events.is_empty(), "no events in {:?}", args.files);
    let bytes: usize = events.iter().map(Vec::len).sum();
    let started = std::time::Instant::now();
    let runtime = Runtime::load_default()?;
    let compile = started.elapsed();
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{} events, {:.1} MB, {:.0} bytes per event on average",
        events.len(),
        bytes as f64 / 1e6,
        bytes as f64 / events.len() as f64
    )?;
    writeln!(
        out,
        "component: {} bytes, {} in {:.1} ms",
        component::COMPONENT.len(),
        if runtime.is_precompiled() { "loaded from the build's machine code" } else { "compiled by wasmtime" },
        compile.as_secs_f64() * 1e3
    )?;
    let figures = bench::measure_all(&runtime, &events, &config, std::time::Duration::from_secs_f64(args.seconds))?;
    bench::print_table(&mut out, &figures)?;
    let rate = |name: &str| figures.iter().find(|f| f.name == name).map_or(0.0, |f| f.events_per_second());
    writeln!(
        out,
        "component batched / native per event (parity): {:.0} %; component batched / native batched (parity): \
         {:.0} %; extended / parity (component batched): {:.0} %",
        100.0 * rate("component batched, parity") / rate("native per event, parity"),
        100.0 * rate("component batched, parity") / rate("native batched, parity"),
        100.0 * rate("component batched, extended") / rate("component batched, parity")
    )?;
    for mode in ["parity", "extended"] {
        let (seen, peak) = bench::peak_memory(&runtime, &events, mode, args.memory_events)?;
        writeln!(out, "peak linear memory, {mode}, over {seen} events: {:.2} MiB", peak as f64 / (1 << 20) as f64)?;
    }
    Ok(ExitCode::SUCCESS)
}
