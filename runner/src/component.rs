//! Loading and calling the detection component with wasmtime's component model. One
//! [`Runtime`] compiles the component once; each worker then owns one [`ComponentDetector`]
//! (a store, an instance and a detector resource) and reuses it for every event, since
//! instantiating costs tens of microseconds and a call well under one.
//!
//! The guest gets a WASI context that grants nothing: no files, no environment, no network,
//! no clock beyond what WASI always provides, and a capped linear memory.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use winrm_detect::{Annotation, Outcome, ScanError};

/// The library's side of the WIT mirror (`plugin/src/wit_mirror.rs`).
mod lib {
    pub use winrm_detect::{Annotation, ErrorKind, Evidence, Matcher, RemoteTarget, Rule};
}

use crate::lines::Lines;

wasmtime::component::bindgen!({
    world: "detector-component",
    path: "../wit",
});

use exports::winrm_detect::detector::detection as wit;

/// The component the build script made, carried inside the runner so that it works from
/// wherever it is installed.
pub const COMPONENT: &[u8] = include_bytes!(env!("WINRM_DETECT_COMPONENT"));

/// [`COMPONENT`] compiled to machine code by the build script for the machine that built it.
/// Aligned as wasmtime wants an image it maps in place.
static PRECOMPILED: &Aligned<[u8]> = &Aligned(*include_bytes!(env!("WINRM_DETECT_COMPONENT_CWASM")));

#[repr(align(16))]
struct Aligned<T: ?Sized>(T);

/// What one instance of the guest may use. A call that runs past its budget or an
/// allocation past the memory limit traps; the backend then replaces the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostLimits {
    /// The guest's linear memory may not grow past this.
    pub memory_bytes: usize,
    /// Wall time one call (one event, or one batch) may take.
    pub call_budget: Duration,
}

impl Default for HostLimits {
    fn default() -> Self {
        HostLimits { memory_bytes: 64 << 20, call_budget: Duration::from_secs(1) }
    }
}

/// An engine configured as the build script's (`engine_config.rs`).
fn engine() -> Result<Engine> {
    let mut config = crate::engine_config::engine_config();
    // `perf record` then names the guest's functions (build with WINRM_DETECT_GUEST_SYMBOLS=1
    // so that the component keeps them): how the figures in #6 were profiled. It changes no
    // compiled code, so a precompiled component still loads.
    if std::env::var_os("WINRM_DETECT_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    Engine::new(&config).map_err(|e| anyhow!("{e}"))
}

/// How often the epoch advances: the resolution of the call budget.
const TICK: Duration = Duration::from_millis(10);

pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryLimiter,
}

/// Caps the guest's linear memory and remembers the largest size it reached.
struct MemoryLimiter {
    limit: usize,
    peak: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A compiled component, ready to instantiate.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    component: Component,
    linker: Linker<State>,
    limits: HostLimits,
    precompiled: bool,
    /// Whether the engine counts fuel ([`Runtime::metered`]).
    metered: bool,
}

impl Runtime {
    /// The component built with this crate, ready without compiling it: see
    /// [`Runtime::default_with_limits`].
    pub fn load_default() -> Result<Runtime> {
        Runtime::default_with_limits(HostLimits::default())
    }

    /// The component built with this crate, loaded from the machine code the build script
    /// compiled, or compiled now when that code cannot run here (another CPU, whose features
    /// the build machine's code may use; wasmtime checks them).
    pub fn default_with_limits(limits: HostLimits) -> Result<Runtime> {
        let engine = engine()?;
        // SAFETY: `Component::deserialize` trusts its bytes to be machine code wasmtime made.
        // These are: our build script ran `Engine::precompile_component` on `COMPONENT` with
        // the wasmtime this crate links (one version in Cargo.lock, the same features) and the
        // configuration `engine()` uses (`engine_config.rs`, shared by both), and they are
        // embedded in this binary, so nothing could have changed them since. wasmtime itself
        // refuses an image of another version, configuration or CPU feature set: then we compile.
        let (component, precompiled) = match unsafe { Component::deserialize(&engine, &PRECOMPILED.0) } {
            Ok(c) => (c, true),
            Err(e) => {
                eprintln!(
                    "winrm-detect: the precompiled component cannot run here ({e}); compiling it (about a second)"
                );
                (Component::new(&engine, COMPONENT).map_err(|e| anyhow!("compiling the component: {e}"))?, false)
            }
        };
        Runtime::with_component(engine, component, limits, precompiled)
    }

    /// The component built with this crate, compiled now by an engine that counts fuel: about
    /// one unit per WebAssembly instruction the guest runs ([`ComponentDetector::instructions`]),
    /// a figure that does not vary from run to run as time does. Counting costs speed, and
    /// changes the compiled code, so the build's precompiled code does not load here.
    pub fn metered() -> Result<Runtime> {
        let mut config = crate::engine_config::engine_config();
        config.consume_fuel(true);
        let engine = Engine::new(&config).map_err(|e| anyhow!("{e}"))?;
        let component = Component::new(&engine, COMPONENT).map_err(|e| anyhow!("compiling the component: {e}"))?;
        let mut runtime = Runtime::with_component(engine, component, HostLimits::default(), false)?;
        runtime.metered = true;
        Ok(runtime)
    }

    /// Compiles a component read from `path`.
    pub fn load(path: &Path) -> Result<Runtime> {
        let bytes = std::fs::read(path).with_context(|| format!("reading the component {}", path.display()))?;
        Runtime::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Runtime> {
        Runtime::with_limits(bytes, HostLimits::default())
    }

    /// Compiles `bytes` (a component).
    pub fn with_limits(bytes: &[u8], limits: HostLimits) -> Result<Runtime> {
        let engine = engine()?;
        let component = Component::new(&engine, bytes).map_err(|e| anyhow!("compiling the component: {e}"))?;
        Runtime::with_component(engine, component, limits, false)
    }

    fn with_component(engine: Engine, component: Component, limits: HostLimits, precompiled: bool) -> Result<Runtime> {
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("winrm-detect-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .context("starting the epoch ticker")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| anyhow!("{e}"))?;
        Ok(Runtime { engine, component, linker, limits, precompiled, metered: false })
    }

    /// Whether this runtime loaded the build's machine code rather than compiling.
    pub fn is_precompiled(&self) -> bool {
        self.precompiled
    }

    fn call_ticks(&self) -> u64 {
        (self.limits.call_budget.as_millis() / TICK.as_millis()).max(1) as u64
    }

    /// A detector made from `config` (JSON). The outer error is the host's (the component
    /// failed to instantiate); the inner one is the detector refusing the configuration.
    pub fn detector(&self, config: &str) -> Result<std::result::Result<ComponentDetector, ScanError>> {
        let state = State {
            wasi: WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
            memory: MemoryLimiter { limit: self.limits.memory_bytes, peak: 0 },
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.memory);
        store.epoch_deadline_trap();
        if self.metered {
            store.set_fuel(u64::MAX).map_err(|e| anyhow!("{e}"))?;
        }
        let ticks = self.call_ticks();
        store.set_epoch_deadline(ticks);
        let bindings = DetectorComponent::instantiate(&mut store, &self.component, &self.linker)
            .map_err(|e| anyhow!("instantiating the component: {e}"))?;
        let created = bindings
            .winrm_detect_detector_detection()
            .detector()
            .call_create(&mut store, config)
            .map_err(|e| anyhow!("calling create: {e}"))?;
        Ok(match created {
            Ok(handle) => Ok(ComponentDetector { store, bindings, handle, ticks }),
            Err(e) => Err(scan_error(e)),
        })
    }
}

/// One instance of the component and the detector resource it made.
pub struct ComponentDetector {
    store: Store<State>,
    bindings: DetectorComponent,
    handle: ResourceAny,
    /// Epoch ticks each call may run.
    ticks: u64,
}

impl ComponentDetector {
    /// Calls the detector resource under the per-call time budget. `Err` means the guest
    /// trapped: this instance must not be used again.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&wit::GuestDetector<'_>, &mut Store<State>, ResourceAny) -> wasmtime::Result<T>,
    ) -> Result<T> {
        self.store.set_epoch_deadline(self.ticks);
        let detector = self.bindings.winrm_detect_detector_detection().detector();
        f(&detector, &mut self.store, self.handle).map_err(|e| anyhow!("the component trapped: {e}"))
    }

    /// Scans one event. `Err` means the guest trapped.
    pub fn scan(&mut self, event: &[u8]) -> Result<Outcome> {
        let out = self.call(|d, store, handle| d.call_scan(store, handle, event))?;
        Ok(out.map(|list| list.into_iter().map(annotation).collect()).map_err(scan_error))
    }

    /// Scans many events in one call. `Err` means the guest trapped.
    pub fn scan_batch(&mut self, events: &[Vec<u8>]) -> Result<Vec<Outcome>> {
        let out = self.call(|d, store, handle| d.call_scan_batch(store, handle, events))?;
        Ok(out.into_iter().map(outcome).collect())
    }

    /// Scans lines through `scan-lines`: one copy into the guest for the batch, only what
    /// fired or failed back. `Err` means the guest trapped.
    pub fn scan_lines(&mut self, lines: &Lines<'_>) -> Result<Vec<Outcome>> {
        let flagged = self.call(|d, store, handle| d.call_scan_lines(store, handle, lines.text()))?;
        let mut out: Vec<Outcome> = (0..lines.len()).map(|_| Ok(Vec::new())).collect();
        for f in flagged {
            let slot = out
                .get_mut(f.index as usize)
                .ok_or_else(|| anyhow!("the component flagged line {} of {}", f.index, lines.len()))?;
            *slot = outcome(f.outcome);
        }
        Ok(out)
    }

    /// The detector's counters. `Err` means the guest trapped.
    pub fn stats(&mut self) -> Result<winrm_detect::Stats> {
        let s = self.call(|d, store, handle| d.call_stats(store, handle))?;
        Ok(winrm_detect::Stats { events: s.events, matched: s.matched, suppressed: s.suppressed, errors: s.errors })
    }

    /// WebAssembly instructions this instance has run (its fuel spent), when its runtime is
    /// [`Runtime::metered`]; 0 otherwise.
    pub fn instructions(&self) -> u64 {
        self.store.get_fuel().map_or(0, |left| u64::MAX - left)
    }

    /// The largest the guest's linear memory has been, in bytes.
    pub fn peak_memory_bytes(&self) -> usize {
        self.store.data().memory.peak
    }
}

fn outcome(o: wit::Outcome) -> Outcome {
    match o {
        wit::Outcome::Annotations(list) => Ok(list.into_iter().map(annotation).collect()),
        wit::Outcome::Failed(e) => Err(scan_error(e)),
    }
}

fn scan_error(e: wit::Error) -> ScanError {
    ScanError::new(winrm_detect::mirror_error_kind!(e.kind, wit => lib), e.message)
}

fn annotation(a: wit::Annotation) -> Annotation {
    winrm_detect::mirror_annotation!(a, wit => lib, field: |f: wit::Field| (f.name, f.value))
}
