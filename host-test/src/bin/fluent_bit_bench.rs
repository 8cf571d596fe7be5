//! `fluent-bit-bench`: the Fluent Bit module inside a real Fluent Bit (built by
//! ../shared/vendor/fluent-bit/build.sh): events per CPU-second of the fluent-bit process with
//! no filter, the passthrough floor, the module (.wasm, and .aot where the build has
//! flb-wamrc; annotate and filter, both modes) and a Lua substring filter. A bench of the test
//! rig, not a command of the product: `cargo run --release --bin fluent-bit-bench -- FILE...`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use host_test::fluent_bit_bench;
use host_test::real_fluent_bit::FluentBit;

#[derive(Parser)]
#[command(name = "fluent-bit-bench", about = "The Fluent Bit module's cost inside a real Fluent Bit")]
struct Args {
    /// The directory holding fluent-bit and flb-wamrc (default: WINRM_DETECT_FLUENT_BIT_BIN,
    /// else where build.sh puts them).
    #[arg(long)]
    fluent_bit: Option<PathBuf>,
    /// Runs per configuration; the best counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// How many times the files are repeated in the input.
    #[arg(long, default_value_t = 1)]
    copies: usize,
    /// Where the input, the modules and the configurations are written.
    #[arg(long, default_value = "target/fluent-bit-bench")]
    work_dir: PathBuf,
    /// A configuration (JSON) for the module and its prefilter, e.g. one naming every rule;
    /// the module's defaults without it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Files of events (one per line, .gz read transparently).
    #[arg(required = true)]
    files: Vec<String>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fluent-bit-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<()> {
    let fluent_bit = match &args.fluent_bit {
        Some(d) => FluentBit::in_dir(d).with_context(|| format!("no fluent-bit in {}", d.display()))?,
        None => FluentBit::locate()
            .context("no Fluent Bit found: run ../shared/vendor/fluent-bit/build.sh or pass --fluent-bit")?,
    };
    let runs = args.runs.max(1);
    let config = match &args.config {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?),
        None => None,
    };
    let rows = fluent_bit_bench::run(&fluent_bit, &args.files, args.copies, runs, &args.work_dir, config.as_deref())?;
    let what = format!("{} ×{}, best of {runs}", args.files.join(" "), args.copies);
    print!("{}", fluent_bit_bench::table(&rows, &what));
    Ok(())
}
