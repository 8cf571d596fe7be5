//! Who examines the events: the component through wasmtime, or the same library called
//! natively. Both answer a batch with one outcome per event, in order.
//!
//! The component backend survives its guest: when a call traps, it makes a fresh instance,
//! replays the batch one event at a time to find the culprit, reports that event as failed
//! and goes on, so one pathological event never costs the others.

use anyhow::Result;
use winrm_detect::{ErrorKind, ScanError};

use crate::component::{ComponentDetector, Runtime};
pub use crate::lines::Lines;
pub use winrm_detect::Outcome;

pub trait Backend {
    /// Any events, line feeds inside them allowed (what `serve` receives).
    fn scan_batch(&mut self, events: &[Vec<u8>]) -> Vec<Outcome>;
    /// Lines read from a file or stream, as the runner reads them.
    fn scan_lines(&mut self, lines: &Lines<'_>) -> Vec<Outcome>;
    /// Matches suppressed by the allowlists or the loopback option so far.
    fn suppressed(&mut self) -> u64;
}

/// The library, called directly.
pub struct Native(pub winrm_detect::Detector);

impl Backend for Native {
    fn scan_batch(&mut self, events: &[Vec<u8>]) -> Vec<Outcome> {
        events.iter().map(|e| self.0.scan(e)).collect()
    }

    fn scan_lines(&mut self, lines: &Lines<'_>) -> Vec<Outcome> {
        lines.iter().map(|e| self.0.scan(e)).collect()
    }

    fn suppressed(&mut self) -> u64 {
        self.0.stats().suppressed
    }
}

/// The library's batch entry point, `Detector::scan_lines`, fed as the component's
/// `scan-lines` is, for comparing like with like.
pub struct NativeLines(pub winrm_detect::Detector);

impl Backend for NativeLines {
    fn scan_batch(&mut self, events: &[Vec<u8>]) -> Vec<Outcome> {
        match Lines::from_events(events) {
            Some(lines) => self.scan_lines(&lines),
            None => events.iter().map(|e| self.0.scan(e)).collect(),
        }
    }

    fn scan_lines(&mut self, lines: &Lines<'_>) -> Vec<Outcome> {
        let mut out: Vec<Outcome> = (0..lines.len()).map(|_| Ok(Vec::new())).collect();
        self.0.scan_lines(lines.text(), |i, outcome| out[i] = outcome);
        out
    }

    fn suppressed(&mut self) -> u64 {
        self.0.stats().suppressed
    }
}

/// The component, one instance reused for every call.
pub struct Wasm {
    runtime: Runtime,
    config: String,
    detector: ComponentDetector,
    /// Calls that trapped since this backend was made.
    pub traps: u64,
    /// Largest linear memory seen in any instance, in bytes.
    peak_memory: usize,
    /// Suppressions counted by instances that were since replaced.
    suppressed_before: u64,
    /// The current instance's suppressions as last asked (after each batch).
    suppressed_now: u64,
    /// One call per event instead of batches (for measuring the difference).
    pub per_event: bool,
}

impl Wasm {
    /// Instantiates the component with `config`. The inner error is the detector refusing
    /// the configuration.
    pub fn new(runtime: &Runtime, config: &str) -> Result<std::result::Result<Wasm, ScanError>> {
        Ok(runtime.detector(config)?.map(|detector| Wasm {
            runtime: runtime.clone(),
            config: config.to_string(),
            detector,
            traps: 0,
            peak_memory: 0,
            suppressed_before: 0,
            suppressed_now: 0,
            per_event: false,
        }))
    }

    /// Replaces a trapped instance. Should that fail, the old one stays and the next call
    /// traps and tries again: events are reported failed, never lost, and the host lives.
    fn renew(&mut self) -> std::result::Result<(), String> {
        self.peak_memory = self.peak_memory.max(self.detector.peak_memory_bytes());
        // A trapped instance cannot be asked; what it counted before its last call is kept.
        self.suppressed_before += std::mem::take(&mut self.suppressed_now);
        match self.runtime.detector(&self.config) {
            Ok(Ok(d)) => {
                self.detector = d;
                Ok(())
            }
            Ok(Err(e)) => Err(format!("the component refused its configuration on renewal: {e}")),
            Err(e) => Err(format!("cannot instantiate the component again: {e:#}")),
        }
    }

    pub fn peak_memory_bytes(&self) -> usize {
        self.peak_memory.max(self.detector.peak_memory_bytes())
    }

    fn scan_one(&mut self, event: &[u8]) -> Outcome {
        match self.detector.scan(event) {
            Ok(outcome) => outcome,
            Err(trap) => {
                self.traps += 1;
                let message = match self.renew() {
                    Ok(()) => format!("{trap:#}; a fresh instance took over"),
                    Err(why) => format!("{trap:#}; {why}"),
                };
                Err(ScanError::new(ErrorKind::Internal, message))
            }
        }
    }
}

impl Backend for Wasm {
    fn suppressed(&mut self) -> u64 {
        if let Ok(s) = self.detector.stats() {
            self.suppressed_now = s.suppressed;
        }
        self.suppressed_before + self.suppressed_now
    }

    fn scan_batch(&mut self, events: &[Vec<u8>]) -> Vec<Outcome> {
        if let Some(lines) = Lines::from_events(events) {
            return self.scan_lines(&lines);
        }
        // An event holding a line feed (only from a host that did not read lines).
        if self.per_event {
            return events.iter().map(|e| self.scan_one(e)).collect();
        }
        let result = self.detector.scan_batch(events);
        self.settle(result, events.iter().map(Vec::as_slice))
    }

    fn scan_lines(&mut self, lines: &Lines<'_>) -> Vec<Outcome> {
        if self.per_event || lines.len() == 1 {
            return lines.iter().map(|e| self.scan_one(e)).collect();
        }
        // One copy into the guest for the batch, only what fired or failed back.
        let result = self.detector.scan_lines(lines);
        self.settle(result, lines.iter())
    }
}

impl Wasm {
    /// A batch call's outcomes; when the guest trapped, the batch replayed one event at a
    /// time on a fresh instance, so that only the event that trapped is reported failed.
    fn settle<'a>(&mut self, result: Result<Vec<Outcome>>, events: impl Iterator<Item = &'a [u8]>) -> Vec<Outcome> {
        match result {
            Ok(outcomes) => {
                if let Ok(s) = self.detector.stats() {
                    self.suppressed_now = s.suppressed;
                }
                outcomes
            }
            Err(_) => {
                self.traps += 1;
                let _ = self.renew();
                events.map(|e| self.scan_one(e)).collect()
            }
        }
    }
}
