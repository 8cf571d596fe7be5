//! `winrm-detect artifact`: write out the component or the Fluent Bit module (its
//! configuration built in), or show the configuration a module carries.

use std::process::ExitCode;

use anyhow::{Context, Result};
use winrm_detect_runner::{component, fluent_bit};

use super::config_text;
use crate::cli::Artifact;

pub fn run(artifact: Artifact) -> Result<ExitCode> {
    let write = |output: &std::path::Path, bytes: &[u8]| {
        std::fs::write(output, bytes).with_context(|| format!("writing {}", output.display()))
    };
    match artifact {
        Artifact::Component { output } => {
            write(&output, component::COMPONENT)?;
            eprintln!("wrote {} ({} bytes)", output.display(), component::COMPONENT.len());
        }
        Artifact::FluentBit { config, mode, output } => {
            let text = match (&config, mode) {
                (None, None) => None,
                _ => Some(config_text(config.as_deref(), mode)?),
            };
            let module = match fluent_bit::artifact(text.as_deref()) {
                Ok(module) => module,
                Err(e) => {
                    eprintln!("winrm-detect: {e:#}; nothing written");
                    return Ok(ExitCode::from(2));
                }
            };
            write(&output, &module)?;
            eprintln!("wrote {} ({} bytes)", output.display(), module.len());
            eprintln!("{}", describe_embedded(fluent_bit::embedded_config(&module)?.as_deref()));
        }
        Artifact::Show { file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let text = fluent_bit::embedded_config(&bytes).with_context(|| file.display().to_string())?;
            eprintln!("{}", describe_embedded(text.as_deref()));
            println!("{}", text.as_deref().unwrap_or("{}"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line on what a module's embedded configuration makes it do.
fn describe_embedded(text: Option<&str>) -> String {
    let Some(text) = text else {
        return format!(
            "configuration: none embedded; the defaults apply ({})",
            winrm_detect::Config::default().summary()
        );
    };
    match winrm_detect::Config::from_json(text) {
        Ok(c) => format!("configuration: embedded, {} bytes ({})", text.len(), c.summary()),
        Err(e) => format!(
            "configuration: embedded but refused by this version ({}): the module marks every record bad-config",
            e.message
        ),
    }
}
