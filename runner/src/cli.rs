//! The command line: every command, flag and default the operator types, as clap reads them.
//! What each command does is in `command/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use winrm_detect_runner::printer::{ColorChoice, Format, SummaryFormat};
use winrm_detect_runner::serve::deliver::{Emit as ServeEmit, ForwardFormat};

#[derive(Parser)]
#[command(
    name = "winrm-detect",
    version,
    about = "Splunk ESCU's WinRM lateral-movement analytics ('Remote Process Instantiation via WinRM and PowerShell', its \
             script-block twin and the WinRM family) as a WebAssembly component, run over your logs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Scan events (one per line; .gz read transparently). With no file, reads standard input
    /// when something is piped or redirected into it, and otherwise (a terminal, /dev/null, a
    /// closed stdin, as scripts and IDE tasks give) scans the bundled fixtures.
    Scan(ScanArgs),
    /// Measure throughput on your own logs: the component next to the native library, one
    /// call per event and batched, both modes, on one core, events held in memory.
    Bench(BenchArgs),
    /// Write out a build this runner carries: the component (for wasmtime hosts) or the
    /// Fluent Bit filter module (for `wasm_path`) with its configuration built in; or show
    /// the configuration a Fluent Bit module (.wasm or .aot) carries.
    #[command(subcommand)]
    Artifact(Artifact),
    /// Serve the detection over HTTP for shippers without a wasm hook (Vector, Logstash, the
    /// OpenTelemetry Collector, Fluent Bit's `http` or `opentelemetry` output): POST batches of
    /// events (NDJSON, a JSON array or one event; OTLP logs, protobuf or JSON, at /v1/logs;
    /// gzip allowed), they are scanned and handed on to --forward (or stdout), and the request
    /// is answered 200 only once the next hop took them (503 otherwise: retry).
    Serve(Box<ServeArgs>),
    /// Print the Fluent Bit configuration for one of the inputs of docs/fluent-bit.md: the prefilter (the
    /// module's own needles in a `rewrite_tag` filter, or with --filter a `grep` filter, so that
    /// only the records the module could fire on or report pay for a wasm call), the `wasm` filter and the output's
    /// `match`, for the configuration built into the module.
    FluentBitConfig(FluentBitConfigArgs),
}

#[derive(clap::Args)]
pub struct FluentBitConfigArgs {
    /// Where the events come from.
    #[arg(long, value_enum)]
    pub input: InputArg,
    /// Forward only what fired (`winrm_detect_filter`) instead of every record, annotated.
    #[arg(long)]
    pub filter: bool,
    /// The module that will run (a .wasm written by `artifact fluent-bit`, or its .aot): its
    /// built-in configuration decides the prefilter, and its path is the `wasm_path`.
    #[arg(long, conflicts_with = "config")]
    pub module: Option<PathBuf>,
    /// Or the configuration file built into the module (JSON; the defaults without it).
    #[arg(long)]
    pub config: Option<String>,
    /// Fix the mode in the function name (`winrm_detect_filter_extended`) instead of taking
    /// it from the module's configuration.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// The module's path as Fluent Bit will see it (default: --module, else the one docs/fluent-bit.md uses).
    #[arg(long)]
    pub wasm_path: Option<String>,
    /// The files `tail` reads (a glob).
    #[arg(long)]
    pub path: Option<String>,
    /// The port `tcp` listens on.
    #[arg(long, default_value_t = 5170)]
    pub port: u16,
    /// Every record through the module, as before the prefilter.
    #[arg(long)]
    pub no_prefilter: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum InputArg {
    /// `winevtlog` (Windows).
    Winevtlog,
    /// `tail` over JSON lines.
    TailJson,
    /// `tail` over event XML lines.
    TailXml,
    /// `tcp`, event XML lines.
    TcpXml,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: say 0.0.0.0:PORT to accept other hosts.
    #[arg(long, default_value = "127.0.0.1:8089")]
    pub listen: std::net::SocketAddr,
    /// Where scanned events go: the URL of the next hop's HTTP input (a Vector
    /// `http_server` source, a Fluent Bit `http` input, Splunk HEC; an OTLP receiver's
    /// `/v1/logs` with `--forward-format otlp`). An https:// URL is verified against the
    /// system's roots, or --forward-ca. Without it, NDJSON on stdout.
    #[arg(long)]
    pub forward: Option<String>,
    /// A header sent with every forward, `Name: value` (repeatable), e.g.
    /// `Authorization: Splunk <token>` for HEC.
    #[arg(long = "forward-header")]
    pub forward_headers: Vec<String>,
    /// How forwarded batches are framed, whichever way they came (OTLP in and NDJSON out, or
    /// the other way round).
    #[arg(long, value_enum, default_value = "ndjson")]
    pub forward_format: ForwardFormat,
    /// Seconds to wait for the next hop before answering the shipper 503.
    #[arg(long, default_value_t = 30)]
    pub forward_timeout: u64,
    /// Every event with its verdict, or only the matches (and the events that could not be read).
    #[arg(long, value_enum, default_value = "all")]
    pub emit: ServeEmit,
    /// Component instances scanning in parallel (default: the cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Requests decoded, scanned and delivered at once (default: 2 × workers). Bodies are
    /// read into a budget of max-in-flight × max-body-bytes bytes; past it, requests wait
    /// unread.
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// Largest request body, before and after gzip (413 past it).
    #[arg(long, default_value_t = 16 << 20)]
    pub max_body_bytes: usize,
    /// Seconds a request head may take from its first byte; past it the connection is closed.
    #[arg(long, default_value_t = 10.0, value_parser = seconds)]
    pub header_timeout: f64,
    /// Seconds a request body may take to arrive after its head (408 past it).
    #[arg(long, default_value_t = 60.0, value_parser = seconds)]
    pub body_timeout: f64,
    /// Seconds a keep-alive connection may sit without a request before it is closed.
    #[arg(long, default_value_t = 75.0, value_parser = seconds)]
    pub idle_timeout: f64,
    /// Client connections open at once; at the bound, never-used and idle ones are closed
    /// to make room, and when every one is serving a request new ones wait in the backlog.
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// A file holding a token every request (except GET /health) must carry as
    /// `Authorization: Bearer <token>`.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Listen with TLS: the server's certificate chain (PEM, the leaf first). Read again on
    /// SIGHUP, with its key, so a renewed certificate needs no restart.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: serve only clients whose certificate one of these CAs (PEM) signed; a
    /// client without one, or with another, fails its handshake.
    #[arg(long, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Verify an https:// --forward against these CAs (PEM) only, instead of the system's
    /// roots. Verification cannot be turned off.
    #[arg(long)]
    pub forward_ca: Option<PathBuf>,
    /// A client certificate (PEM) for an https:// --forward that asks for one.
    #[arg(long, requires = "forward_client_key")]
    pub forward_client_cert: Option<PathBuf>,
    /// The private key of --forward-client-cert (PEM).
    #[arg(long, requires = "forward_client_cert")]
    pub forward_client_key: Option<PathBuf>,
    /// The detector's configuration (JSON; see docs/configuration.md). Read once at start: restart to
    /// change it.
    #[arg(long)]
    pub config: Option<String>,
    /// Overrides the configuration's mode.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
}

/// A positive number of seconds, fractions allowed.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e7 => Ok(s),
        _ => Err(format!("`{text}` is not a positive number of seconds")),
    }
}

#[derive(Subcommand)]
pub enum Artifact {
    /// The wasm32-wasip2 component (WIT world `detector-component`).
    Component {
        /// Where to write it.
        output: PathBuf,
    },
    /// The core module for Fluent Bit's `wasm` filter (it imports nothing: Fluent Bit on
    /// Windows runs it too), with the configuration written into it. Fluent Bit gives the
    /// module no file to read: this is where its configuration comes from. A bad
    /// configuration is refused here (exit 2), never in Fluent Bit.
    FluentBit {
        /// The detector's configuration (JSON; see docs/configuration.md). Without it the module runs
        /// with the defaults.
        #[arg(long)]
        config: Option<String>,
        /// Overrides the configuration's mode (the function name can fix it too).
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
        /// Where to write it (.wasm; compile it to .aot with flb-wamrc if you like).
        output: PathBuf,
    },
    /// Print the configuration a Fluent Bit module carries (a .wasm written by
    /// `artifact fluent-bit`, or the .aot compiled from it).
    Show {
        /// The module file.
        file: PathBuf,
    },
}

#[derive(clap::Args)]
pub struct BenchArgs {
    /// The detector's configuration (JSON); each run sets its own mode.
    #[arg(long)]
    pub config: Option<String>,
    /// Seconds to measure each configuration (whole passes over the events).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Events to push through the component when measuring its peak memory.
    #[arg(long, default_value_t = 1_000_000)]
    pub memory_events: u64,
    /// Files of events (one per line, .gz read transparently).
    #[arg(required = true)]
    pub files: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Parity,
    Extended,
}

impl ModeArg {
    /// The configuration's spelling of the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            ModeArg::Parity => "parity",
            ModeArg::Extended => "extended",
        }
    }
}

#[derive(clap::Args)]
pub struct ScanArgs {
    /// Overrides the configuration's mode.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// What to print [default: text on a terminal, matches otherwise].
    #[arg(long, value_enum)]
    pub emit: Option<Format>,
    /// Colour the text output: auto (a terminal without NO_COLOR), always or never.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// How --emit summary prints its table.
    #[arg(long, value_enum, default_value = "table")]
    pub summary_format: SummaryFormat,
    /// The detector's configuration (JSON; see docs/configuration.md).
    #[arg(long)]
    pub config: Option<String>,
    /// One call per event instead of batches across the component boundary.
    #[arg(long)]
    pub per_event: bool,
    /// Files of events; `-` is standard input.
    pub files: Vec<String>,
}
