//! `winrm-detect serve`: the flags made into serve's options, the descriptor limit checked,
//! and the server run until SIGTERM or Ctrl-C.

use std::io;
use std::process::ExitCode;

use anyhow::{Context, Result};
use winrm_detect_runner::component::Runtime;
use winrm_detect_runner::serve::{self, deliver::Destination, deliver::Forwarder};

use super::config_text;
use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> Result<ExitCode> {
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
            &serve::deliver::ForwardTls {
                ca: args.forward_ca.clone(),
                client_cert: args.forward_client_cert.clone().zip(args.forward_client_key.clone()),
            },
        )?),
        None => Destination::Stdout(std::sync::Mutex::new(io::stdout())),
    };
    let options = serve::Options {
        listen: args.listen,
        tls: args.tls_cert.clone().zip(args.tls_key.clone()).map(|(cert, key)| serve::tls::ListenerFiles {
            cert,
            key,
            client_ca: args.tls_client_ca.clone(),
        }),
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
