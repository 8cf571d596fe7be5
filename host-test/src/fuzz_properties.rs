//! What the test rig's fuzz target (`fuzz/fuzz_targets/fluent_bit_module.rs`) asserts, kept
//! here so that `cargo test` replays its committed seeds (`tests/fuzz_seeds.rs`): the Fluent
//! Bit module built for wasm, run by the emulated host, answers every call as its exports
//! compiled natively do (`winrm_detect::fuzz_properties::fluent_bit_module_agrees`).

use std::cell::RefCell;
use std::collections::HashMap;

use wasmtime::{Engine, Module};
use winrm_detect::config_slot;
use winrm_detect::fuzz_properties::{FluentBitModule, fluent_bit_module_agrees};
use winrm_detect_runner::fluent_bit::MODULE;

use crate::emulated_fluent_bit::FluentBitHost;

/// The module with each configuration slot a script asks for, compiled once per thread, and
/// the instance the script runs.
struct EmulatedModule {
    engine: Engine,
    compiled: HashMap<Option<Vec<u8>>, Module>,
    instance: Option<FluentBitHost>,
}

impl FluentBitModule for EmulatedModule {
    fn start(&mut self, slot: Option<&[u8]>) {
        let engine = &self.engine;
        let module = self.compiled.entry(slot.map(<[u8]>::to_vec)).or_insert_with(|| {
            // The slot as it stands, refused or not: the module reads it as the native
            // exports do (`artifact` would refuse a bad one before any Fluent Bit loads it).
            let bytes = match slot {
                Some(text) => config_slot::embed(MODULE, text).expect("the slot holds the text"),
                None => MODULE.to_vec(),
            };
            FluentBitHost::compile(engine, &bytes).expect("the module compiles")
        });
        self.instance = Some(FluentBitHost::instantiate(module, false).expect("the module instantiates"));
    }

    fn call(&mut self, function: &str, time: u32, record: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let host = self.instance.as_mut().expect("started");
        host.call_raw(function, "t", (time, 0), record).expect("the host calls the module")
    }
}

thread_local! {
    static MODULE_UNDER_TEST: RefCell<EmulatedModule> = RefCell::new(EmulatedModule {
        engine: Engine::default(),
        compiled: HashMap::new(),
        instance: None,
    });
}

/// Any Fluent Bit call script (`winrm_detect::fuzz_properties::fluent_bit_calls` says how the
/// bytes read) through the wasm module and the native exports: the same answers.
pub fn fluent_bit_module(data: &[u8]) {
    MODULE_UNDER_TEST.with_borrow_mut(|module| fluent_bit_module_agrees(data, module));
}
