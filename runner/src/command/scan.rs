//! `winrm-detect scan`: events from files, standard input or the bundled fixtures through the
//! component, each record handed to the printer in the format asked for (or the one that
//! suits where the output goes), errors and totals on stderr.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use winrm_detect_runner::backend::{Backend, Wasm};
use winrm_detect_runner::component::Runtime;
use winrm_detect_runner::printer::{self, Format, Printer, Style};
use winrm_detect_runner::scan::{self, Totals};
use winrm_detect_runner::{fixtures, input};

use super::config_text;
use crate::cli::ScanArgs;

pub fn run(args: ScanArgs) -> Result<ExitCode> {
    let config = config_text(args.config.as_deref(), args.mode)?;
    // The component checks the configuration too; the runner needs its output choices.
    let parsed = match winrm_detect::Config::from_json(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("winrm-detect: {}", e.message);
            return Ok(ExitCode::from(2));
        }
    };
    let (rule_version, output) = (parsed.rule_version, parsed.output);
    let runtime = Runtime::load_default()?;
    let mut backend = match Wasm::new(&runtime, &config)? {
        Ok(b) => b,
        Err(e) => {
            eprintln!("winrm-detect: {}", e.message);
            return Ok(ExitCode::from(2));
        }
    };
    backend.per_event = args.per_event;

    let format = args.emit.unwrap_or(if io::stdout().is_terminal() { Format::Text } else { Format::Matches });
    let mut printer = Printer::new(format, output, rule_version, args.summary_format, Style::for_stdout(args.color));
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut totals = Totals::default();
    let mut unreadable = false;
    let mut write_failed: Option<io::Error> = None;
    let mut progress = Progress::new();
    let mut on_record = |record: scan::Record<'_>| {
        progress.tick(record.event.len());
        if let Some(line) = printer::error_line(&record) {
            progress.clear();
            eprintln!("{line}");
        }
        if write_failed.is_none()
            && let Err(e) = printer.record(&mut out, &record)
        {
            write_failed = Some(e);
        }
    };

    let stdin = input::stdin_kind();
    if args.files.is_empty() && stdin != input::StdinKind::Data {
        eprintln!(
            "winrm-detect: no file given and nothing piped in (stdin is {}): scanning the {} bundled fixture files; \
             give files or pipe events to scan your own",
            stdin.describe(),
            fixtures::FIXTURES.len()
        );
        for (name, bytes) in fixtures::FIXTURES {
            let mut reader = input::sniff(io::BufReader::new(*bytes))?;
            totals.add(scan::scan_lines(&mut backend, name, &mut reader, &mut on_record)?);
        }
    } else {
        let files = if args.files.is_empty() { vec!["-".to_string()] } else { args.files.clone() };
        for file in &files {
            let mut reader = match input::open(file) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{file}: error: cannot read: {e}");
                    unreadable = true;
                    continue;
                }
            };
            match scan::scan_lines(&mut backend, file, &mut reader, &mut on_record) {
                Ok(t) if t.events == 0 && file == "-" => {
                    eprintln!("winrm-detect: standard input ({}) held no events", stdin.describe());
                    totals.add(t)
                }
                Ok(t) => totals.add(t),
                Err(e) => {
                    eprintln!("{file}: error: reading stopped: {e}");
                    unreadable = true;
                }
            }
        }
    }
    progress.clear();
    if write_failed.is_none() {
        printer.finish(&mut out)?;
    }
    if let Some(e) = write_failed {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(e).context("writing the output");
        }
    } else {
        out.flush().or_else(|e| if e.kind() == io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e) })?;
    }
    let suppressed = backend.suppressed();
    if suppressed > 0 {
        eprintln!("winrm-detect: {suppressed} match(es) suppressed by the allowlists or report_loopback");
    }
    if backend.traps > 0 {
        eprintln!(
            "winrm-detect: the component trapped {} time(s); each time a fresh instance took over",
            backend.traps
        );
    }
    eprintln!("events={} matched={} errors={}", totals.events, totals.matched, totals.errors);
    Ok(if unreadable { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `events, MB/s` on stderr while a long scan runs, only when stderr is a terminal.
struct Progress {
    shown: bool,
    enabled: bool,
    start: std::time::Instant,
    last: std::time::Instant,
    events: u64,
    bytes: u64,
}

impl Progress {
    fn new() -> Progress {
        let now = std::time::Instant::now();
        Progress { shown: false, enabled: io::stderr().is_terminal(), start: now, last: now, events: 0, bytes: 0 }
    }

    fn tick(&mut self, bytes: usize) {
        self.events += 1;
        self.bytes += bytes as u64;
        if !self.enabled || !self.events.is_multiple_of(4096) || self.last.elapsed().as_millis() < 250 {
            return;
        }
        self.last = std::time::Instant::now();
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        eprint!("\r{} events, {:.1} MB/s   ", self.events, self.bytes as f64 / secs / 1e6);
        self.shown = true;
    }

    fn clear(&mut self) {
        if self.shown {
            eprint!("\r{:60}\r", "");
            self.shown = false;
        }
    }
}
