//! The wasmtime configuration the runner's engine uses. The build script precompiles the
//! component with it (`build.rs` includes this file), and a precompiled component loads only
//! into an engine configured the same way: one definition keeps the two from drifting.

/// Component model on; epoch interruption, so that a call's time can be bounded at the cost of
/// a counter check on loop back-edges and function entries (fuel would count every
/// instruction).
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config
}
