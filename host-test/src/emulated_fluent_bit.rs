//! An emulated Fluent Bit `wasm` filter host. [`FluentBitHost`] is wasmtime's
//! core-module API calling the module exactly as `plugins/filter_wasm` and
//! `src/wasm/flb_wasm.c` do with `Event_Format json`: the tag and the record are copied into
//! guest memory with their NUL through the module's allocator
//! (`wasm_runtime_module_dup_data`), the function is called with six i32 arguments, the
//! NUL-terminated result is copied out, then both buffers are freed. It links nothing, as
//! Fluent Bit for Windows links nothing: a module that imported anything would not
//! instantiate. It checks the calling convention quickly and without a Fluent Bit; what only
//! the real WAMR shows (its stack, its traps, its loader) is tested against the real Fluent
//! Bit in `tests/fluent_bit_real.rs`.

use anyhow::{Context, Result, anyhow, bail};
use wasmtime::{Engine, Instance, Linker, Memory, Module, Store, TypedFunc};
use winrm_detect_runner::fluent_bit::artifact;

pub struct FluentBitHost {
    store: Store<()>,
    instance: Instance,
    memory: Memory,
    malloc: TypedFunc<u32, u32>,
    free: TypedFunc<u32, ()>,
}

/// What the filter made of one record, as Fluent Bit would act on it.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `""`: the record is dropped.
    Drop,
    /// A JSON object that replaces the record.
    Replace(serde_json::Map<String, serde_json::Value>),
    /// Anything else: Fluent Bit logs "invalid JSON format" and drops the record.
    Invalid(String),
    /// The call failed (a trap): Fluent Bit skips the record.
    Failed(String),
}

impl FluentBitHost {
    /// Instantiates the module with `config` in its slot (see [`artifact`]).
    pub fn new(config: Option<&str>) -> Result<FluentBitHost> {
        FluentBitHost::load(&artifact(config)?, false)
    }

    /// The same host counting fuel ([`FluentBitHost::instructions`]): what a record costs in
    /// an interpreter such as Fluent Bit's WAMR, which pays per WebAssembly instruction.
    pub fn metered(config: Option<&str>) -> Result<FluentBitHost> {
        FluentBitHost::load(&artifact(config)?, true)
    }

    /// Instantiates `module` as it is (a test may hand it a slot the artifact command would
    /// have refused).
    pub fn load(module: &[u8], metered: bool) -> Result<FluentBitHost> {
        let mut config = wasmtime::Config::new();
        config.consume_fuel(metered);
        let engine = Engine::new(&config).map_err(|e| anyhow!("{e}"))?;
        FluentBitHost::instantiate(&FluentBitHost::compile(&engine, module)?, metered)
    }

    /// `module` compiled for `engine`, to instantiate many times (compiling costs seconds,
    /// an instance microseconds).
    pub fn compile(engine: &Engine, module: &[u8]) -> Result<Module> {
        Module::new(engine, module).map_err(|e| anyhow!("compiling the module: {e}"))
    }

    /// A fresh instance of `module` (`metered` only if its engine consumes fuel).
    pub fn instantiate(module: &Module, metered: bool) -> Result<FluentBitHost> {
        let engine = module.engine();
        let mut store = Store::new(engine, ());
        if metered {
            store.set_fuel(u64::MAX).map_err(|e| anyhow!("{e}"))?;
        }
        let instance = Linker::new(engine)
            .instantiate(&mut store, module)
            .map_err(|e| anyhow!("instantiating with nothing to import: {e}"))?;
        let memory = instance.get_memory(&mut store, "memory").context("the module exports its memory")?;
        let malloc = instance.get_typed_func(&mut store, "malloc").map_err(|e| anyhow!("malloc export: {e}"))?;
        let free = instance.get_typed_func(&mut store, "free").map_err(|e| anyhow!("free export: {e}"))?;
        Ok(FluentBitHost { store, instance, memory, malloc, free })
    }

    /// `wasm_runtime_module_dup_data`: 0 when the allocation fails.
    fn dup(&mut self, data: &[u8]) -> Result<u32> {
        let ptr = self.malloc.call(&mut self.store, data.len() as u32).map_err(|e| anyhow!("malloc: {e}"))?;
        if ptr != 0 {
            self.memory.write(&mut self.store, ptr as usize, data).map_err(|e| anyhow!("{e}"))?;
        }
        Ok(ptr)
    }

    /// Calls `function` on one record as `flb_wasm_call_function_format_json` does.
    pub fn call(&mut self, function: &str, tag: &str, time: (u32, u32), record: &[u8]) -> Result<Verdict> {
        Ok(match self.call_raw(function, tag, time, Some(record))? {
            Err(trap) => Verdict::Failed(trap),
            Ok(answer) if answer.is_empty() => Verdict::Drop,
            Ok(answer) => {
                let text = String::from_utf8_lossy(&answer).into_owned();
                match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(serde_json::Value::Object(m)) => Verdict::Replace(m),
                    _ => Verdict::Invalid(text),
                }
            }
        })
    }

    /// Calls `function` with `record` copied in (`None`: a null pointer, as when Fluent Bit
    /// could not copy it): the answer's bytes, or the trap. The outer error is the host's.
    pub fn call_raw(
        &mut self,
        function: &str,
        tag: &str,
        time: (u32, u32),
        record: Option<&[u8]>,
    ) -> Result<std::result::Result<Vec<u8>, String>> {
        let func: TypedFunc<(u32, u32, u32, u32, u32, u32), u32> =
            self.instance.get_typed_func(&mut self.store, function).map_err(|e| anyhow!("{function}: {e}"))?;
        let mut tag_data = tag.as_bytes().to_vec();
        tag_data.push(0);
        let tag_ptr = self.dup(&tag_data)?;
        let record_ptr = match record {
            Some(record) => self.dup(&[record, b"\0"].concat())?,
            None => 0,
        };
        let args = (tag_ptr, tag.len() as u32, time.0, time.1, record_ptr, record.map_or(0, |r| r.len() as u32));
        let answer = match func.call(&mut self.store, args) {
            Err(trap) => Err(format!("{trap:#}")),
            Ok(ptr) => Ok(self.c_string(ptr)?),
        };
        for ptr in [tag_ptr, record_ptr] {
            if ptr != 0 {
                self.free.call(&mut self.store, ptr).map_err(|e| anyhow!("free: {e}"))?;
            }
        }
        Ok(answer)
    }

    /// The NUL-terminated string at `ptr` (`wasm_runtime_validate_app_str_addr` first).
    fn c_string(&mut self, ptr: u32) -> Result<Vec<u8>> {
        let data = self.memory.data(&self.store);
        let start = ptr as usize;
        if ptr == 0 || start >= data.len() {
            bail!("returned value is invalid: {ptr:#x}");
        }
        let Some(len) = data[start..].iter().position(|&b| b == 0) else { bail!("no NUL after {ptr:#x}") };
        Ok(data[start..start + len].to_vec())
    }

    /// WebAssembly instructions run since the host was made (wasmtime's fuel: about one per
    /// instruction); 0 unless [`FluentBitHost::metered`].
    pub fn instructions(&self) -> u64 {
        self.store.get_fuel().map_or(0, |left| u64::MAX - left)
    }

    /// The guest's linear memory now, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }
}
