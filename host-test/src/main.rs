//! `winrm-detect`: runs the detection component over files of events or a stream, for
//! operators trying it on their own logs and for pipelines (a Vector `exec` source, a
//! Fluent Bit `exec` input). Every event goes through the component, never a native copy.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use host_test::backend::{Backend, Wasm};
use host_test::component::Runtime;
use host_test::output::{self, Summary};
use host_test::scan::{self, Totals};
use host_test::{fixtures, input};
use serde_json::{Map, Value};
use winrm_detect::Rule;

#[derive(Parser)]
#[command(
    name = "winrm-detect",
    version,
    about = "Splunk ESCU 'Remote Process Instantiation via WinRM and PowerShell' as a WebAssembly component, run over your logs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan events (one per line; .gz read transparently). With no file, reads standard input
    /// when something is piped or redirected into it, and otherwise (a terminal, /dev/null, a
    /// closed stdin, as scripts and IDE tasks give) scans the bundled fixtures.
    Scan(ScanArgs),
    /// Measure throughput on your own logs: the component next to the native library, one
    /// call per event and batched, both modes, on one core, events held in memory.
    Bench(BenchArgs),
    /// Measure the Fluent Bit module inside a real Fluent Bit (built by
    /// ../shared/vendor/fluent-bit/build.sh): events per CPU-second of the fluent-bit process
    /// with no filter, the passthrough floor, the module (.wasm, and .aot where the build has
    /// flb-wamrc; annotate and filter, both modes) and a Lua substring filter.
    FluentBitBench {
        /// The directory holding fluent-bit and flb-wamrc (default: WINRM_DETECT_FLUENT_BIT_BIN,
        /// else where build.sh puts them).
        #[arg(long)]
        fluent_bit: Option<std::path::PathBuf>,
        /// Runs per configuration; the best counts.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// How many times the files are repeated in the input.
        #[arg(long, default_value_t = 1)]
        copies: usize,
        /// Where the input, the modules and the configurations are written.
        #[arg(long, default_value = "target/fluent-bit-bench")]
        work_dir: std::path::PathBuf,
        /// Files of events (one per line, .gz read transparently).
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Write out a build this runner carries: the component (for wasmtime hosts) or the
    /// Fluent Bit filter module (for `wasm_path`) with its configuration built in; or show
    /// the configuration a Fluent Bit module (.wasm or .aot) carries.
    #[command(subcommand)]
    Artifact(Artifact),
    /// Serve the detection over HTTP for shippers without a wasm hook (Vector, Logstash,
    /// Fluent Bit's `http` output): POST batches of events (NDJSON, a JSON array or one event;
    /// gzip allowed), they are scanned and handed on to --forward (or stdout), and the
    /// request is answered 200 only once the next hop took them (503 otherwise: retry).
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on. Loopback by default: say 0.0.0.0:PORT to accept other hosts.
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: std::net::SocketAddr,
    /// Where scanned events go: the URL of the next hop's HTTP input (a Vector
    /// `http_server` source, a Fluent Bit `http` input, Splunk HEC). Without it, NDJSON on stdout.
    #[arg(long)]
    forward: Option<String>,
    /// A header sent with every forward, `Name: value` (repeatable), e.g.
    /// `Authorization: Splunk <token>` for HEC.
    #[arg(long = "forward-header")]
    forward_headers: Vec<String>,
    /// How forwarded batches are framed.
    #[arg(long, value_enum, default_value = "ndjson")]
    forward_format: host_test::serve::deliver::ForwardFormat,
    /// Seconds to wait for the next hop before answering the shipper 503.
    #[arg(long, default_value_t = 30)]
    forward_timeout: u64,
    /// Every event with its verdict, or only the matches (and the events that could not be read).
    #[arg(long, value_enum, default_value = "all")]
    emit: host_test::serve::deliver::Emit,
    /// Component instances scanning in parallel (default: the cores).
    #[arg(long)]
    workers: Option<usize>,
    /// Requests decoded, scanned and delivered at once (default: 2 × workers). Bodies are
    /// read into a budget of max-in-flight × max-body-bytes bytes; past it, requests wait
    /// unread.
    #[arg(long)]
    max_in_flight: Option<usize>,
    /// Largest request body, before and after gzip (413 past it).
    #[arg(long, default_value_t = 16 << 20)]
    max_body_bytes: usize,
    /// Seconds a request head may take from its first byte; past it the connection is closed.
    #[arg(long, default_value_t = 10.0, value_parser = seconds)]
    header_timeout: f64,
    /// Seconds a request body may take to arrive after its head (408 past it).
    #[arg(long, default_value_t = 60.0, value_parser = seconds)]
    body_timeout: f64,
    /// Seconds a keep-alive connection may sit without a request before it is closed.
    #[arg(long, default_value_t = 75.0, value_parser = seconds)]
    idle_timeout: f64,
    /// Client connections open at once; at the bound, never-used and idle ones are closed
    /// to make room, and when every one is serving a request new ones wait in the backlog.
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// A file holding a token every request (except GET /health) must carry as
    /// `Authorization: Bearer <token>`.
    #[arg(long)]
    token_file: Option<std::path::PathBuf>,
    /// The detector's configuration (JSON; see the README). Read once at start: restart to
    /// change it.
    #[arg(long)]
    config: Option<String>,
    /// Overrides the configuration's mode.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
}

/// A positive number of seconds, fractions allowed.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e7 => Ok(s),
        _ => Err(format!("`{text}` is not a positive number of seconds")),
    }
}

#[derive(Subcommand)]
enum Artifact {
    /// The wasm32-wasip2 component (WIT world `detector-component`).
    Component {
        /// Where to write it.
        output: std::path::PathBuf,
    },
    /// The core module for Fluent Bit's `wasm` filter (it imports nothing: Fluent Bit on
    /// Windows runs it too), with the configuration written into it. Fluent Bit gives the
    /// module no file to read: this is where its configuration comes from. A bad
    /// configuration is refused here (exit 2), never in Fluent Bit.
    FluentBit {
        /// The detector's configuration (JSON; see the README). Without it the module runs
        /// with the defaults.
        #[arg(long)]
        config: Option<String>,
        /// Overrides the configuration's mode (the function name can fix it too).
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
        /// Where to write it (.wasm; compile it to .aot with flb-wamrc if you like).
        output: std::path::PathBuf,
    },
    /// Print the configuration a Fluent Bit module carries (a .wasm written by
    /// `artifact fluent-bit`, or the .aot compiled from it).
    Show {
        /// The module file.
        file: std::path::PathBuf,
    },
}

#[derive(clap::Args)]
struct BenchArgs {
    /// The detector's configuration (JSON); each run sets its own mode.
    #[arg(long)]
    config: Option<String>,
    /// Seconds to measure each configuration (whole passes over the events).
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Events to push through the component when measuring its peak memory.
    #[arg(long, default_value_t = 1_000_000)]
    memory_events: u64,
    /// Files of events (one per line, .gz read transparently).
    #[arg(required = true)]
    files: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Parity,
    Extended,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// One JSON line per matching event: {"source","line","annotations"}.
    Matches,
    /// Every event back as JSON with its annotations under "winrm_detect".
    All,
    /// The Splunk result table: count, firstTime, lastTime by the BY fields.
    Summary,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SummaryFormat {
    Table,
    Csv,
    Json,
}

#[derive(clap::Args)]
struct ScanArgs {
    /// Overrides the configuration's mode.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    #[arg(long, value_enum, default_value = "matches")]
    emit: Emit,
    /// How --emit summary prints its table.
    #[arg(long, value_enum, default_value = "table")]
    summary_format: SummaryFormat,
    /// The detector's configuration (JSON; see the README).
    #[arg(long)]
    config: Option<String>,
    /// One call per event instead of batches across the component boundary.
    #[arg(long)]
    per_event: bool,
    /// Files of events; `-` is standard input.
    files: Vec<String>,
}

fn fluent_bit_bench(
    dir: Option<std::path::PathBuf>,
    runs: usize,
    copies: usize,
    work_dir: &std::path::Path,
    files: &[String],
) -> Result<ExitCode> {
    use host_test::real_fluent_bit::FluentBit;
    let fluent_bit = match dir {
        Some(d) => FluentBit::in_dir(&d).with_context(|| format!("no fluent-bit in {}", d.display()))?,
        None => FluentBit::locate()
            .context("no Fluent Bit found: run ../shared/vendor/fluent-bit/build.sh or pass --fluent-bit")?,
    };
    let rows = host_test::fluent_bit_bench::run(&fluent_bit, files, copies, runs.max(1), work_dir)?;
    let what = format!("{} ×{copies}, best of {runs}", files.join(" "));
    print!("{}", host_test::fluent_bit_bench::table(&rows, &what));
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan_command(args),
        Command::Bench(args) => bench_command(args),
        Command::FluentBitBench { fluent_bit, runs, copies, work_dir, files } => {
            fluent_bit_bench(fluent_bit, runs, copies, &work_dir, &files)
        }
        Command::Serve(args) => serve_command(args),
        Command::Artifact(artifact) => artifact_command(artifact),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("winrm-detect: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn artifact_command(artifact: Artifact) -> Result<ExitCode> {
    use host_test::fluent_bit;
    let write = |output: &std::path::Path, bytes: &[u8]| {
        std::fs::write(output, bytes).with_context(|| format!("writing {}", output.display()))
    };
    match artifact {
        Artifact::Component { output } => {
            write(&output, host_test::component::COMPONENT)?;
            eprintln!("wrote {} ({} bytes)", output.display(), host_test::component::COMPONENT.len());
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
        return "configuration: none embedded; the defaults apply (mode parity, both rules)".into();
    };
    match winrm_detect::Config::from_json(text) {
        Ok(c) => format!("configuration: embedded, {} bytes ({})", text.len(), c.summary()),
        Err(e) => format!(
            "configuration: embedded but refused by this version ({}): the module marks every record bad-config",
            e.message
        ),
    }
}

/// The configuration text handed to the component: the file's, with `--mode` applied.
fn serve_command(args: ServeArgs) -> Result<ExitCode> {
    use host_test::serve::{self, deliver::Destination, deliver::Forwarder};
    let config = config_text(args.config.as_deref(), args.mode)?;
    let output = match winrm_detect::Config::from_json(&config) {
        Ok(c) => c.output,
        Err(e) => {
            eprintln!("winrm-detect: {}", e.message);
            return Ok(ExitCode::from(2));
        }
    };
    let token = match &args.token_file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading the token {}", path.display()))?;
            let token = text.trim().to_string();
            anyhow::ensure!(!token.is_empty(), "the token file {} is empty", path.display());
            Some(token)
        }
        None => None,
    };
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())).max(1);
    let destination = match &args.forward {
        Some(url) => Destination::Forward(Forwarder::new(
            url,
            &args.forward_headers,
            args.forward_format,
            std::time::Duration::from_secs(args.forward_timeout),
        )?),
        None => Destination::Stdout(std::sync::Mutex::new(io::stdout())),
    };
    let options = serve::Options {
        listen: args.listen,
        config,
        output,
        workers,
        emit: args.emit,
        destination,
        token,
        max_body_bytes: args.max_body_bytes,
        max_in_flight: args.max_in_flight.unwrap_or(2 * workers),
        body_timeout: std::time::Duration::from_secs_f64(args.body_timeout),
        connections: serve::conn::Limits {
            max_connections: args.max_connections.max(1),
            header_timeout: std::time::Duration::from_secs_f64(args.header_timeout),
            idle_timeout: std::time::Duration::from_secs_f64(args.idle_timeout),
        },
    };
    warn_if_descriptors_short(args.max_connections);
    let runtime = Runtime::load_default()?;
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("the async runtime")?;
    eprintln!("winrm-detect serve: {workers} workers, delivering to {}", args.forward.as_deref().unwrap_or("stdout"));
    tokio.block_on(serve::run(options, runtime, shutdown_signal()))?;
    eprintln!("winrm-detect serve: stopped; every request answered 200 was delivered");
    Ok(ExitCode::SUCCESS)
}

/// `--max-connections` is the bound on client sockets only when the process may open that
/// many descriptors, with room for the forward connections, the listener and the files.
fn warn_if_descriptors_short(max_connections: usize) {
    // SAFETY: getrlimit fills the struct it is given.
    let limit = unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        (libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0).then_some(limit.rlim_cur)
    };
    let room = max_connections as libc::rlim_t + 64;
    if let Some(soft) = limit
        && soft != libc::RLIM_INFINITY
        && soft < room
    {
        eprintln!(
            "winrm-detect serve: warn: the process may open {soft} files, fewer than --max-connections {max_connections} \
             needs ({room}): lower --max-connections or raise the limit (ulimit -n)"
        );
    }
}

/// SIGTERM or Ctrl-C: stop taking requests, finish those in flight.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn config_text(config: Option<&str>, mode: Option<ModeArg>) -> Result<String> {
    let mut config = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading the configuration {path}"))?;
            serde_json::from_str::<Value>(&text).with_context(|| format!("the configuration {path} is not JSON"))?
        }
        None => Value::Object(Default::default()),
    };
    if let Some(mode) = mode {
        let Value::Object(map) = &mut config else { anyhow::bail!("the configuration must be a JSON object") };
        let mode = match mode {
            ModeArg::Parity => "parity",
            ModeArg::Extended => "extended",
        };
        map.insert("mode".into(), Value::String(mode.into()));
    }
    Ok(config.to_string())
}

fn scan_command(args: ScanArgs) -> Result<ExitCode> {
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

    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut summary = Summary::new(rule_version);
    let mut totals = Totals::default();
    let mut unreadable = false;
    let mut write_failed: Option<io::Error> = None;
    let emit = args.emit;
    let mut progress = Progress::new();
    let mut on_record = |record: scan::Record<'_>| {
        progress.tick(record.event.len());
        if let Some(line) = output::error_line(&record) {
            progress.clear();
            eprintln!("{line}");
        }
        let line = match emit {
            Emit::Matches => output::match_line(&record, output),
            Emit::All => Some(output::all_line(&record, output)),
            Emit::Summary => {
                for a in record.outcome.iter().flatten() {
                    summary.add(a);
                }
                None
            }
        };
        if let Some(line) = line
            && write_failed.is_none()
            && let Err(e) = writeln!(out, "{line}")
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
    if emit == Emit::Summary {
        print_summary(&mut out, &summary, args.summary_format)?;
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

fn bench_command(args: BenchArgs) -> Result<ExitCode> {
    let config = match &args.config {
        Some(path) => serde_json::from_str::<Value>(&std::fs::read_to_string(path)?)
            .with_context(|| format!("the configuration {path} is not JSON"))?,
        None => Value::Object(Default::default()),
    };
    let mut events = Vec::new();
    for file in &args.files {
        let mut reader = input::open(file).with_context(|| format!("reading {file}"))?;
        let mut buf = Vec::new();
        while input::next_line(&mut *reader, &mut buf)? {
            if !input::is_blank(&buf) {
                events.push(buf.clone());
            }
        }
    }
    anyhow::ensure!(!events.is_empty(), "no events in {:?}", args.files);
    let bytes: usize = events.iter().map(Vec::len).sum();
    let started = std::time::Instant::now();
    let runtime = Runtime::load_default()?;
    let compile = started.elapsed();
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{} events, {:.1} MB, {:.0} bytes per event on average",
        events.len(),
        bytes as f64 / 1e6,
        bytes as f64 / events.len() as f64
    )?;
    writeln!(
        out,
        "component: {} bytes, {} in {:.1} ms",
        host_test::component::COMPONENT.len(),
        if runtime.is_precompiled() { "loaded from the build's machine code" } else { "compiled by wasmtime" },
        compile.as_secs_f64() * 1e3
    )?;
    let figures =
        host_test::bench::measure_all(&runtime, &events, &config, std::time::Duration::from_secs_f64(args.seconds))?;
    host_test::bench::print_table(&mut out, &figures)?;
    let rate = |name: &str| figures.iter().find(|f| f.name == name).map_or(0.0, |f| f.events_per_second());
    writeln!(
        out,
        "component batched / native per event (parity): {:.0} %; component batched / native batched (parity): \
         {:.0} %; extended / parity (component batched): {:.0} %",
        100.0 * rate("component batched, parity") / rate("native per event, parity"),
        100.0 * rate("component batched, parity") / rate("native batched, parity"),
        100.0 * rate("component batched, extended") / rate("component batched, parity")
    )?;
    for mode in ["parity", "extended"] {
        let (seen, peak) = host_test::bench::peak_memory(&runtime, &events, mode, args.memory_events)?;
        writeln!(out, "peak linear memory, {mode}, over {seen} events: {:.2} MiB", peak as f64 / (1 << 20) as f64)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(out: &mut dyn Write, summary: &Summary, format: SummaryFormat) -> Result<()> {
    let rows = summary.rows();
    match format {
        SummaryFormat::Json => {
            for row in &rows {
                writeln!(out, "{}", Value::Object(row.clone()))?;
            }
        }
        SummaryFormat::Csv => {
            // The two rules' rows have different `BY` fields: one header over all of them.
            let mut header: Vec<&String> = Vec::new();
            for key in rows.iter().flat_map(|r| r.keys()) {
                if !header.contains(&key) {
                    header.push(key);
                }
            }
            if header.is_empty() {
                return Ok(());
            }
            writeln!(out, "{}", header.iter().map(|h| csv_cell(h)).collect::<Vec<_>>().join(","))?;
            for row in &rows {
                let cells: Vec<String> =
                    header.iter().map(|h| csv_cell(&plain(row.get(*h).unwrap_or(&Value::Null)))).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
        }
        SummaryFormat::Table => {
            const PROCESS: &[&str] = &[
                "count",
                "firstTime",
                "lastTime",
                "matcher",
                "dest",
                "user",
                "parent_process_name",
                "process_name",
                "process_id",
                "process",
            ];
            const SCRIPT_BLOCK: &[&str] =
                &["count", "firstTime", "lastTime", "matcher", "Computer", "user_id", "ScriptBlockText"];
            let rules: Vec<&str> = Rule::ALL.iter().map(|r| r.as_str()).collect();
            let shown_rules: Vec<&str> =
                rules.iter().copied().filter(|r| rows.iter().any(|row| row["rule"] == *r)).collect();
            for (i, rule) in shown_rules.iter().enumerate() {
                let columns = if *rule == Rule::ScriptBlock.as_str() { SCRIPT_BLOCK } else { PROCESS };
                let group: Vec<&Map<String, Value>> = rows.iter().filter(|row| row["rule"] == *rule).collect();
                if shown_rules.len() > 1 || *rule != Rule::ProcessCreation.as_str() {
                    writeln!(out, "{}rule {rule}:", if i > 0 { "\n" } else { "" })?;
                }
                print_table(out, columns, &group)?;
            }
            if rows.is_empty() {
                print_table(out, PROCESS, &[])?;
                writeln!(out, "(no matches)")?;
            }
            let counts = |m: &std::collections::BTreeMap<String, u64>| {
                m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
            };
            writeln!(out, "\nper rule: {}", counts(&summary.per_rule))?;
            writeln!(out, "per matcher: {}", counts(&summary.per_matcher))?;
            if !summary.per_technique.is_empty() {
                writeln!(out, "per technique: {}", counts(&summary.per_technique))?;
            }
        }
    }
    Ok(())
}

/// Rows as a plain-text table of `columns`, long or multi-line cells shortened.
fn print_table(out: &mut dyn Write, columns: &[&str], rows: &[&Map<String, Value>]) -> Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|k| {
                    let v = plain(row.get(*k).unwrap_or(&Value::Null)).replace(['\n', '\r'], "⏎");
                    if v.chars().count() > 60 { format!("{}…", v.chars().take(59).collect::<String>()) } else { v }
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, h)| cells.iter().map(|r| r[i].chars().count()).chain([h.len()]).max().unwrap_or(0))
        .collect();
    let line = |vals: &[String]| -> String {
        vals.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    writeln!(out, "{}", line(&columns.iter().map(|c| c.to_string()).collect::<Vec<_>>()))?;
    for r in &cells {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}
