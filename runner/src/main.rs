//! `winrm-detect`: runs the detection component over files of events or a stream, for
//! operators trying it on their own logs and for pipelines (a Vector `exec` source, a
//! Fluent Bit `exec` input), serves it over HTTP, and writes out its builds. Every event goes
//! through the component, never a native copy. The flags are in `cli.rs`, each command in
//! `command/`, the machinery in the library (`lib.rs`).

mod cli;
mod command;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Scan(args) => command::scan::run(args),
        Command::Bench(args) => command::bench::run(args),
        Command::Serve(args) => command::serve::run(*args),
        Command::Artifact(artifact) => command::artifact::run(artifact),
        Command::FluentBitConfig(args) => command::fluent_bit_config::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("winrm-detect: {e:#}");
            ExitCode::from(2)
        }
    }
}
