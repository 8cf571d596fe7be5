//! Throughput figures on one core: the native library next to the component, one call per
//! event and batched, in both modes, over events held in memory (so that reading and
//! decompressing the file is not what is measured). Shared by `winrm-detect bench` and
//! `cargo bench -p host-test`.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use crate::backend::{Backend, Lines, Native, NativeLines, Wasm};
use crate::component::Runtime;
use crate::scan::BATCH;

/// One measured configuration.
pub struct Figure {
    pub name: String,
    pub events: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub matched: u64,
}

impl Figure {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds
    }

    pub fn megabytes_per_second(&self) -> f64 {
        self.bytes as f64 / self.seconds / 1e6
    }
}

/// Events (lines of a file) in batches of [`BATCH`], as the runner hands them over.
pub fn batches(events: &[Vec<u8>]) -> Vec<Lines<'static>> {
    events.chunks(BATCH).map(|chunk| Lines::from_events(chunk).expect("events read as lines")).collect()
}

/// Runs `backend` over `batches`, `rounds` times; returns the matches seen.
pub fn run(backend: &mut dyn Backend, batches: &[Lines<'_>], rounds: u32) -> u64 {
    let mut matched = 0;
    for _ in 0..rounds {
        for batch in batches {
            matched +=
                backend.scan_lines(batch).iter().filter(|o| o.as_ref().is_ok_and(|a| !a.is_empty())).count() as u64;
        }
    }
    matched
}

/// The configurations `winrm-detect bench` and `cargo bench` report.
pub fn configurations() -> [(&'static str, &'static str, Kind); 8] {
    [
        ("native per event, parity", "parity", Kind::Native),
        ("native batched, parity", "parity", Kind::NativeBatched),
        ("native per event, extended", "extended", Kind::Native),
        ("native batched, extended", "extended", Kind::NativeBatched),
        ("component per event, parity", "parity", Kind::PerEvent),
        ("component batched, parity", "parity", Kind::Batched),
        ("component per event, extended", "extended", Kind::PerEvent),
        ("component batched, extended", "extended", Kind::Batched),
    ]
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Native,
    NativeBatched,
    PerEvent,
    Batched,
}

/// A backend for one configuration; `config` is merged over `{"mode": mode}`.
pub fn backend(runtime: &Runtime, kind: Kind, mode: &str, config: &serde_json::Value) -> Result<Box<dyn Backend>> {
    let mut merged = config.clone();
    if let serde_json::Value::Object(m) = &mut merged {
        m.insert("mode".into(), mode.into());
    }
    let text = merged.to_string();
    Ok(match kind {
        Kind::Native => Box::new(Native(winrm_detect::Detector::from_json(&text).map_err(|e| anyhow!("{e}"))?)),
        Kind::NativeBatched => {
            Box::new(NativeLines(winrm_detect::Detector::from_json(&text).map_err(|e| anyhow!("{e}"))?))
        }
        Kind::PerEvent | Kind::Batched => {
            let mut w = Wasm::new(runtime, &text)?.map_err(|e| anyhow!("{e}"))?;
            w.per_event = kind == Kind::PerEvent;
            Box::new(w)
        }
    })
}

/// Measures every configuration for at least `min` each (whole passes over `events`).
pub fn measure_all(
    runtime: &Runtime,
    events: &[Vec<u8>],
    config: &serde_json::Value,
    min: Duration,
) -> Result<Vec<Figure>> {
    let bytes: u64 = events.iter().map(|e| e.len() as u64).sum();
    let batches = batches(events);
    let mut figures = Vec::new();
    for (name, mode, kind) in configurations() {
        let mut b = backend(runtime, kind, mode, config)?;
        // Warm up: one pass, which also counts the matches of one pass.
        let matched = run(b.as_mut(), &batches, 1);
        let start = Instant::now();
        let mut rounds = 0u64;
        while start.elapsed() < min || rounds == 0 {
            run(b.as_mut(), &batches, 1);
            rounds += 1;
        }
        let seconds = start.elapsed().as_secs_f64();
        figures.push(Figure {
            name: name.to_string(),
            events: events.len() as u64 * rounds,
            bytes: bytes * rounds,
            seconds,
            matched,
        });
    }
    Ok(figures)
}

/// Runs the batched component in `mode` over at least `total` events and reports the
/// largest linear memory the guest reached.
pub fn peak_memory(runtime: &Runtime, events: &[Vec<u8>], mode: &str, total: u64) -> Result<(u64, usize)> {
    let text = format!(r#"{{"mode":"{mode}"}}"#);
    let mut w = Wasm::new(runtime, &text)?.map_err(|e| anyhow!("{e}"))?;
    let (batches, mut seen) = (batches(events), 0u64);
    while seen < total && !events.is_empty() {
        run(&mut w, &batches, 1);
        seen += events.len() as u64;
    }
    Ok((seen, w.peak_memory_bytes()))
}

pub fn print_table(out: &mut dyn std::io::Write, figures: &[Figure]) -> std::io::Result<()> {
    writeln!(out, "{:<32} {:>12} {:>14} {:>10} {:>9}", "configuration", "events", "events/s", "MB/s", "matched")?;
    for f in figures {
        writeln!(
            out,
            "{:<32} {:>12} {:>14.0} {:>10.1} {:>9}",
            f.name,
            f.events,
            f.events_per_second(),
            f.megabytes_per_second(),
            f.matched
        )?;
    }
    Ok(())
}
