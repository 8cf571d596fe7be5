//! Every output format of `scan`, behind one [`Printer`]: the contract scripts depend on
//! (documented in docs/outputs.md) of `--emit matches` (one JSON line per matching event) and
//! `--emit all` (every event back as the record a shipper gets, `winrm_detect::record`, as
//! Fluent Bit and `serve` hand it on),
//! `--emit summary` (the Splunk result table, `summary.rs`), `--emit text` for a person
//! (`text.rs`); errors on stderr as `FILE:LINE: error: <why>`.

mod summary;
mod text;

use std::io::{self, Write};

use serde_json::{Value, json};
use winrm_detect::{Annotation, Output, record, render};

pub use summary::{Summary, SummaryFormat, by_fields, ctime, epoch_seconds};
pub use text::{ColorChoice, Style};

use crate::scan::Record;

/// What `scan` writes to standard output.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Format {
    /// For a person: one line per match (source, rule, matcher, host, user, the command line
    /// or script with the evidence marked), then the counts. The default on a terminal.
    Text,
    /// One JSON line per matching event: {"source","line","annotations"}. The default when
    /// the output is piped or redirected.
    Matches,
    /// Every event back as JSON: with "winrm_detect" (the annotations) where something fired,
    /// "winrm_detect_error" where the event could not be read, as it came otherwise.
    All,
    /// The Splunk result table: count, firstTime, lastTime by the BY fields.
    Summary,
}

/// Writes each record of a scan in one [`Format`], and what a format owes at the end.
pub struct Printer {
    format: Format,
    output: Output,
    summary_format: SummaryFormat,
    style: Style,
    summary: Summary,
    /// The record `--emit all` writes, reused from event to event.
    buffer: Vec<u8>,
}

impl Printer {
    /// `output` is the configuration's annotation convention (the JSON formats render in it);
    /// `rule_version` chooses the summary's `BY` fields.
    pub fn new(
        format: Format,
        output: Output,
        rule_version: u32,
        summary_format: SummaryFormat,
        style: Style,
    ) -> Printer {
        Printer { format, output, summary_format, style, summary: Summary::new(rule_version), buffer: Vec::new() }
    }

    /// Writes what `record` gives in this format (nothing for a non-matching event, except
    /// under `all`).
    pub fn record(&mut self, out: &mut dyn Write, record: &Record<'_>) -> io::Result<()> {
        match self.format {
            Format::Matches => match match_line(record, self.output) {
                Some(line) => writeln!(out, "{line}"),
                None => Ok(()),
            },
            Format::All => {
                record::write(&mut self.buffer, record.event, &record.outcome, self.output);
                self.buffer.push(b'\n');
                out.write_all(&self.buffer)
            }
            Format::Text => {
                for a in record.outcome.iter().flatten() {
                    self.summary.add(a);
                    writeln!(out, "{}", text::line(record, a, self.style))?;
                }
                Ok(())
            }
            Format::Summary => {
                for a in record.outcome.iter().flatten() {
                    self.summary.add(a);
                }
                Ok(())
            }
        }
    }

    /// The end of the output: the summary's table, or the text format's counts.
    pub fn finish(&mut self, out: &mut dyn Write) -> anyhow::Result<()> {
        match self.format {
            Format::Summary => summary::print(out, &self.summary, self.summary_format),
            Format::Text if self.summary.is_empty() => Ok(writeln!(out, "no matches")?),
            Format::Text => {
                writeln!(out)?;
                summary::print_counts(out, &self.summary)
            }
            Format::Matches | Format::All => Ok(()),
        }
    }
}

fn rendered(list: &[Annotation], output: Output) -> Value {
    Value::Array(list.iter().map(|a| render(a, output)).collect())
}

/// `{"source": …, "line": …, "annotations": […]}` for a matching event, the annotations in
/// the configured output convention.
pub fn match_line(record: &Record<'_>, output: Output) -> Option<String> {
    match &record.outcome {
        Ok(list) if !list.is_empty() => Some(
            json!({"source": record.source, "line": record.line, "annotations": rendered(list, output)}).to_string(),
        ),
        _ => None,
    }
}

/// `FILE:LINE: error: <why>` for a failed event.
pub fn error_line(record: &Record<'_>) -> Option<String> {
    let e = record.outcome.as_ref().err()?;
    Some(format!("{}:{}: error: {}: {}", record.source, record.line, e.kind.as_str(), e.message))
}
