//! The Fluent Bit module as operators get it: [`artifact`] is the module with an operator's
//! configuration in its slot (what `winrm-detect artifact fluent-bit --config FILE` writes),
//! [`embedded_config`] reads it back; [`pipeline`] is the Fluent Bit configuration that runs it. The emulated Fluent Bit that calls it lives in the test
//! rig (`host-test/src/emulated_fluent_bit.rs`).

pub mod pipeline;

use anyhow::{Context, Result, anyhow};
use winrm_detect::config_slot;

/// The module the build script made, its configuration slot empty.
pub const MODULE: &[u8] = include_bytes!(env!("WINRM_DETECT_FLUENT_BIT"));

/// The module with `config` (the JSON of docs/configuration.md, as text) in its slot,
/// refused with the message that names the bad key before any Fluent Bit loads it, exactly
/// as the module would read it. Written compact, so that the slot's 64 KiB go further.
/// `None` gives the module as built, which runs with the defaults.
pub fn artifact(config: Option<&str>) -> Result<Vec<u8>> {
    let Some(text) = config else { return Ok(MODULE.to_vec()) };
    winrm_detect::Config::from_json(text).map_err(|e| anyhow!("{}", e.message))?;
    let compact = serde_json::from_str::<serde_json::Value>(text)?.to_string();
    Ok(config_slot::embed(MODULE, compact.as_bytes())?)
}

/// The configuration text in the slot of `file` (a module, or an `.aot` compiled from one);
/// `None` when it runs with the defaults.
pub fn embedded_config(file: &[u8]) -> Result<Option<String>> {
    let text = config_slot::read(file)?;
    text.map(|t| String::from_utf8(t).context("the embedded configuration is not UTF-8")).transpose()
}
