//! `winrm-detect fluent-bit-config`: print the Fluent Bit configuration that runs the module,
//! its prefilter made for the configuration the module carries.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use winrm_detect::Mode;
use winrm_detect_runner::fluent_bit::{self, pipeline};

use super::config_text;
use crate::cli::{FluentBitConfigArgs, InputArg, ModeArg};

pub fn run(args: FluentBitConfigArgs) -> Result<ExitCode> {
    let text = match &args.module {
        Some(module) => {
            let bytes = std::fs::read(module).with_context(|| format!("reading {}", module.display()))?;
            fluent_bit::embedded_config(&bytes).with_context(|| module.display().to_string())?
        }
        None => args.config.is_some().then(|| config_text(args.config.as_deref(), None)).transpose()?,
    };
    let config = match text {
        Some(t) => winrm_detect::Config::from_json(&t).map_err(|e| anyhow!("the configuration: {}", e.message))?,
        None => winrm_detect::Config::default(),
    };
    let input = match args.input {
        InputArg::Winevtlog => pipeline::Input::Winevtlog,
        InputArg::TailJson => pipeline::Input::TailJson,
        InputArg::TailXml => pipeline::Input::TailXml,
        InputArg::TcpXml => pipeline::Input::TcpXml,
    };
    let windows = input == pipeline::Input::Winevtlog;
    let wasm_path = match (&args.wasm_path, &args.module) {
        (Some(p), _) => p.clone(),
        (None, Some(m)) => m.display().to_string(),
        (None, None) if windows => r"C:\Program Files\fluent-bit\conf\winrm_detect.wasm".into(),
        (None, None) => "/etc/fluent-bit/winrm_detect.wasm".into(),
    };
    let fixed_mode = args.mode.map(|m| match m {
        ModeArg::Parity => Mode::Parity,
        ModeArg::Extended => Mode::Extended,
    });
    let mode = fixed_mode.unwrap_or(config.mode);
    let pays = pipeline::prefilter_pays(mode, &wasm_path);
    if !args.no_prefilter && !pays {
        eprintln!(
            "winrm-detect: no prefilter: an ahead-of-time compiled module in {} mode costs less on every record than behind the prefilter (docs/benchmarks.md)",
            mode.as_str()
        );
    }
    let options = pipeline::Options {
        input,
        behaviour: if args.filter { pipeline::Behaviour::Filter } else { pipeline::Behaviour::Annotate },
        config: &config,
        fixed_mode,
        wasm_path: &wasm_path,
        path: args.path.as_deref(),
        port: args.port,
        prefilter: !args.no_prefilter && pays,
    };
    print!("{}", pipeline::yaml(&options));
    Ok(ExitCode::SUCCESS)
}
