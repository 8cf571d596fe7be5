//! One module per command of the `winrm-detect` binary, and what they share: the
//! configuration as the operator gives it (a file and `--mode`).

pub mod artifact;
pub mod bench;
pub mod fluent_bit_config;
pub mod scan;
pub mod serve;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cli::ModeArg;

/// The configuration text handed to the component: the file's, with `--mode` applied.
pub fn config_text(config: Option<&str>, mode: Option<ModeArg>) -> Result<String> {
    let mut config = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading the configuration {path}"))?;
            serde_json::from_str::<Value>(&text).with_context(|| format!("the configuration {path} is not JSON"))?
        }
        None => Value::Object(Default::default()),
    };
    if let Some(mode) = mode {
        let Value::Object(map) = &mut config else { anyhow::bail!("the configuration must be a JSON object") };
        map.insert("mode".into(), Value::String(mode.as_str().into()));
    }
    Ok(config.to_string())
}
