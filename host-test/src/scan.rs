//! The scanning loop shared by the runner, the tests and the benchmarks: lines in, batches
//! through a [`Backend`], one [`Record`] per event out, in input order, nothing dropped.

use std::io::{self, BufRead};

use crate::backend::{Backend, Lines, Outcome};

/// Events per call across the component boundary: large enough that the call overhead
/// vanishes, small enough that the guest's memory stays small.
pub const BATCH: usize = 256;

/// One event and what the detector made of it.
pub struct Record<'a> {
    pub source: &'a str,
    /// 1-based line number in its source.
    pub line: u64,
    pub event: &'a [u8],
    pub outcome: Outcome,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub events: u64,
    pub matched: u64,
    pub errors: u64,
    pub bytes: u64,
}

impl Totals {
    pub fn add(&mut self, other: Totals) {
        self.events += other.events;
        self.matched += other.matched;
        self.errors += other.errors;
        self.bytes += other.bytes;
    }
}

/// Scans every non-blank line of `reader`, calling `emit` for each event in order.
pub fn scan_lines(
    backend: &mut dyn Backend,
    source: &str,
    reader: &mut dyn BufRead,
    emit: &mut dyn FnMut(Record<'_>),
) -> io::Result<Totals> {
    let mut totals = Totals::default();
    let mut events = Lines::default();
    let mut lines: Vec<u64> = Vec::with_capacity(BATCH);
    let mut line_no = 0u64;
    loop {
        let read = events.read_line(reader)?;
        if let Some(added) = read {
            line_no += 1;
            if added {
                lines.push(line_no);
            }
        }
        if events.len() == BATCH || (read.is_none() && !events.is_empty()) {
            let mut outcomes = backend.scan_lines(&events);
            // A backend that answers short must not make events vanish.
            outcomes.resize_with(events.len(), || {
                Err(winrm_detect::ScanError::new(winrm_detect::ErrorKind::Internal, "the backend gave no outcome"))
            });
            for ((event, line), outcome) in events.iter().zip(&lines).zip(outcomes) {
                totals.events += 1;
                totals.bytes += event.len() as u64;
                match &outcome {
                    Ok(a) if !a.is_empty() => totals.matched += 1,
                    Ok(_) => {}
                    Err(_) => totals.errors += 1,
                }
                emit(Record { source, line: *line, event, outcome });
            }
            events.clear();
            lines.clear();
        }
        if read.is_none() {
            return Ok(totals);
        }
    }
}
