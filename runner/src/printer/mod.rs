//! Every output format of `scan`, behind one [`Printer`]: the contract scripts depend on
//! (documented in the README) of `--emit matches` (one JSON line per matching event) and
//! `--emit all` (every event back as JSON with its annotations, which `serve` hands on too),
//! `--emit summary` (the Splunk result table, `summary.rs`), `--emit text` for a person
//! (`text.rs`); errors on stderr as `FILE:LINE: error: <why>`.

mod summary;
mod text;

use std::io::{self, Write};

use serde_json::{Map, Value, json};
use winrm_detect::{Annotation, Output, render};

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
    /// Every event back as JSON with its annotations under "winrm_detect".
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
        Printer { format, output, summary_format, style, summary: Summary::new(rule_version) }
    }

    /// Writes what `record` gives in this format (nothing for a non-matching event, except
    /// under `all`).
    pub fn record(&mut self, out: &mut dyn Write, record: &Record<'_>) -> io::Result<()> {
        match self.format {
            Format::Matches => match match_line(record, self.output) {
                Some(line) => writeln!(out, "{line}"),
                None => Ok(()),
            },
            Format::All => writeln!(out, "{}", all_line(record, self.output)),
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

/// The key under which `--emit all` adds the annotations to an event.
pub const ANNOTATIONS_KEY: &str = "winrm_detect";
/// The key under which `--emit all` adds a per-event error.
pub const ERROR_KEY: &str = "winrm_detect_error";

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

/// The event as JSON with its annotations added: a JSON object keeps its keys; anything
/// else (event XML) is carried as a string under `event`.
pub fn all_line(record: &Record<'_>, output: Output) -> String {
    annotated_event(record.event, &record.outcome, output)
}

/// [`all_line`] for an event and its outcome: what `--emit all` writes and `serve` hands on.
pub fn annotated_event(event: &[u8], outcome: &crate::backend::Outcome, output: Output) -> String {
    let text = String::from_utf8_lossy(event);
    let trimmed = text.trim_start_matches('\u{feff}');
    let mut object = match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Object(map)) => map,
        _ => {
            let mut map = Map::new();
            map.insert("event".into(), Value::String(trimmed.to_string()));
            map
        }
    };
    match outcome {
        Ok(list) => {
            object.insert(ANNOTATIONS_KEY.into(), rendered(list, output));
        }
        Err(e) => {
            object.insert(ANNOTATIONS_KEY.into(), Value::Array(Vec::new()));
            object.insert(ERROR_KEY.into(), json!({"kind": e.kind.as_str(), "message": e.message}));
        }
    }
    Value::Object(object).to_string()
}

/// `FILE:LINE: error: <why>` for a failed event.
pub fn error_line(record: &Record<'_>) -> Option<String> {
    let e = record.outcome.as_ref().err()?;
    Some(format!("{}:{}: error: {}: {}", record.source, record.line, e.kind.as_str(), e.message))
}
