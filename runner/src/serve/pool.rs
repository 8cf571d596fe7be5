//! The component instances `serve` scans with: one `Store` and instance per worker, reused
//! for every request (instantiating costs tens of microseconds, a call well under one), each
//! used by one blocking thread at a time. A request waits for a free worker; it never makes
//! one.
//!
//! A worker and its permit go back to the pool from the blocking thread that used it, not from
//! the request: a request is dropped when its client goes away (or its connection is shed),
//! and a worker handed back by the request was then lost with it, while its permit was not,
//! until every permit led to an empty pool.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use anyhow::{Result, anyhow};
use tokio::sync::Semaphore;

use crate::backend::{Backend, Outcome, Wasm};
use crate::component::Runtime;
use crate::lines::Lines;

pub struct Pool {
    shared: Arc<Shared>,
    /// One per free worker.
    permits: Arc<Semaphore>,
}

struct Shared {
    runtime: Runtime,
    config: String,
    free: Mutex<Vec<Worker>>,
}

impl Shared {
    fn give_back(&self, worker: Worker) {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).push(worker);
    }
}

struct Worker {
    backend: Wasm,
    /// Suppressed matches already counted from this worker.
    suppressed_seen: u64,
}

/// The events of one request, copied once out of its body: as lines for `scan-lines` (one
/// buffer, which the guest reads in place), or one by one when an event spans lines (a
/// pretty-printed JSON array element).
pub enum Batch {
    Lines(Lines<'static>),
    Events(Vec<Vec<u8>>),
}

impl Batch {
    pub fn new(events: &[&[u8]]) -> Batch {
        match Lines::from_events(events) {
            Some(lines) => Batch::Lines(lines),
            None => Batch::Events(events.iter().map(|e| e.to_vec()).collect()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Batch::Lines(lines) => lines.len(),
            Batch::Events(events) => events.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> Box<dyn Iterator<Item = &[u8]> + '_> {
        match self {
            Batch::Lines(lines) => Box::new(lines.iter()),
            Batch::Events(events) => Box::new(events.iter().map(Vec::as_slice)),
        }
    }
}

/// What one batch came to.
pub struct Scanned {
    /// The events, handed back.
    pub events: Batch,
    pub outcomes: Vec<Outcome>,
    /// Matches the allowlists or `report_loopback` suppressed in this batch.
    pub suppressed: u64,
}

impl Pool {
    /// `workers` instances of the component, each a detector made from `config` (JSON). A
    /// configuration the detector refuses is an error here, before anything is served.
    pub fn new(runtime: Runtime, config: &str, workers: usize) -> Result<Pool> {
        let mut free = Vec::with_capacity(workers);
        for _ in 0..workers.max(1) {
            free.push(Worker { backend: new_backend(&runtime, config)?, suppressed_seen: 0 });
        }
        let permits = Arc::new(Semaphore::new(free.len()));
        Ok(Pool { shared: Arc::new(Shared { runtime, config: config.to_string(), free: Mutex::new(free) }), permits })
    }

    /// Scans `events` on a free worker, off the async threads.
    pub async fn scan(&self, events: Batch) -> Result<Scanned> {
        let permit = self.permits.clone().acquire_owned().await.map_err(|e| anyhow!("{e}"))?;
        let worker = self.shared.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let Some(mut worker) = worker else { return Err(anyhow!("no free worker although a permit was granted")) };
        let shared = self.shared.clone();
        let job = tokio::task::spawn_blocking(move || {
            let done = std::panic::catch_unwind(AssertUnwindSafe(move || {
                let outcomes = match &events {
                    Batch::Lines(lines) => worker.backend.scan_lines(lines),
                    Batch::Events(events) => worker.backend.scan_batch(events),
                };
                let total = worker.backend.suppressed();
                let suppressed = total.saturating_sub(worker.suppressed_seen);
                worker.suppressed_seen = total;
                (worker, Scanned { events, outcomes, suppressed })
            }));
            match done {
                Ok((worker, scanned)) => {
                    shared.give_back(worker);
                    drop(permit);
                    Ok(scanned)
                }
                Err(_) => {
                    // The backend recovers from traps itself; a panic here is ours. Replace the
                    // worker so that the pool keeps its size, or, failing that, its permit too.
                    match new_backend(&shared.runtime, &shared.config) {
                        Ok(backend) => shared.give_back(Worker { backend, suppressed_seen: 0 }),
                        Err(_) => permit.forget(),
                    }
                    Err(anyhow!("a scanning thread panicked"))
                }
            }
        });
        job.await.map_err(|e| anyhow!("a scanning thread failed: {e}"))?
    }
}

fn new_backend(runtime: &Runtime, config: &str) -> Result<Wasm> {
    Wasm::new(runtime, config)?.map_err(|e| anyhow!("the configuration was refused: {}", e.message))
}
