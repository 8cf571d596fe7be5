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
///
/// Whole lines already in the reader's buffer go to the backend as they lie there; only a
/// line cut by the buffer's end, or one that needs its CR taken off or may be blank, is copied
/// (and such copies are batched until whole lines come again).
pub fn scan_lines(
    backend: &mut dyn Backend,
    source: &str,
    reader: &mut dyn BufRead,
    emit: &mut dyn FnMut(Record<'_>),
) -> io::Result<Totals> {
    let mut totals = Totals::default();
    let mut copied = Lines::default();
    let mut copied_lines: Vec<u64> = Vec::with_capacity(BATCH);
    let mut line_no = 0u64;
    let mut report = |lines: &Lines<'_>, numbers: &mut dyn Iterator<Item = u64>, backend: &mut dyn Backend| {
        let mut outcomes = backend.scan_lines(lines);
        // A backend that answers short must not make events vanish.
        outcomes.resize_with(lines.len(), || {
            Err(winrm_detect::ScanError::new(winrm_detect::ErrorKind::Internal, "the backend gave no outcome"))
        });
        for ((event, line), outcome) in lines.iter().zip(numbers).zip(outcomes) {
            totals.events += 1;
            totals.bytes += event.len() as u64;
            match &outcome {
                Ok(a) if !a.is_empty() => totals.matched += 1,
                Ok(_) => {}
                Err(_) => totals.errors += 1,
            }
            emit(Record { source, line, event, outcome });
        }
    };
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some((whole, taken)) = Lines::whole_lines(chunk, BATCH) {
            if !copied.is_empty() {
                report(&copied, &mut copied_lines.drain(..), backend);
                copied.clear();
            }
            let first = line_no + 1;
            line_no += whole.len() as u64;
            report(&whole, &mut (first..), backend);
            reader.consume(taken);
            continue;
        }
        let read = copied.read_line(reader)?;
        if let Some(added) = read {
            line_no += 1;
            if added {
                copied_lines.push(line_no);
            }
        }
        if copied.len() == BATCH || (read.is_none() && !copied.is_empty()) {
            report(&copied, &mut copied_lines.drain(..), backend);
            copied.clear();
        }
        if read.is_none() {
            return Ok(totals);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::*;
    use crate::backend::Native;

    /// Every line number and event, whatever the reader's buffer cuts: whole lines handed over
    /// where they lie, the rest copied, blank lines skipped but counted, CRs taken off.
    #[test]
    fn every_event_once_in_order_whatever_the_buffer() {
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(300));
        let text = format!(
            "{{\"a\":1}}\n\n{{\"b\":2}}\r\n  \n\u{feff}\n\u{feff}{{\"c\":3}}\n{long}\n \t{{\"d\":4}}\n{{\"e\":5}}"
        );
        let want: Vec<(u64, String)> = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i as u64 + 1, l.strip_suffix('\r').unwrap_or(l).to_string()))
            .filter(|(_, l)| !crate::input::is_blank(l.as_bytes()))
            .collect();
        assert_eq!(want.len(), 6);
        let mut backend = Native(winrm_detect::Detector::from_json("{}").unwrap());
        for capacity in [1, 2, 3, 7, 16, 64, 1 << 16] {
            let mut got = Vec::new();
            let mut reader = BufReader::with_capacity(capacity, text.as_bytes());
            let totals = scan_lines(&mut backend, "t", &mut reader, &mut |r| {
                got.push((r.line, String::from_utf8(r.event.to_vec()).unwrap()))
            })
            .unwrap();
            assert_eq!(got, want, "buffer of {capacity}");
            assert_eq!(totals.events, 6);
        }
    }
}
