//! `--emit text`, the format for a person at a terminal (the default there, as `ripgrep`
//! prints for people and for pipes differently): one line per match with the rule, the matcher,
//! host and user, the remote targets, and the command line or script with the evidence marked.

use std::io::IsTerminal;

use winrm_detect::Annotation;
use winrm_detect::rules::Reads;

use crate::scan::Record;

/// When to colour the text format.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum ColorChoice {
    /// When standard output is a terminal and neither `NO_COLOR` nor `TERM=dumb` says otherwise.
    Auto,
    Always,
    Never,
}

/// How marks and labels look: ANSI colours, or plain text with the evidence in `«…»`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Style {
    color: bool,
}

impl Style {
    pub const PLAIN: Style = Style { color: false };

    /// The style `choice` gives on this process's standard output.
    pub fn for_stdout(choice: ColorChoice) -> Style {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        };
        Style { color }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    fn mark(self, text: &str) -> String {
        if self.color { self.paint("1;31", text) } else { format!("«{text}»") }
    }
}

/// The longest stretch of a command line or script shown, in bytes; the window starts a little
/// before the first mark so that the evidence is always on the line.
const SHOWN: usize = 240;
const BEFORE_FIRST_MARK: usize = 60;

/// One match of `record`, on one line.
pub fn line(record: &Record<'_>, annotation: &Annotation, style: Style) -> String {
    let (host, user, text, layer) = match annotation.rule.reads() {
        Reads::ProcessCreations => ("dest", "user", "process", "process"),
        Reads::ScriptBlocks => ("Computer", "user_id", "ScriptBlockText", "script-block"),
    };
    let field = |name| annotation.field(name).unwrap_or("-");
    let mut line = format!(
        "{}:{}: {} {} host={} user={}",
        style.paint("35", record.source),
        style.paint("32", &record.line.to_string()),
        style.paint("1", annotation.rule.as_str()),
        annotation.matcher.as_str(),
        field(host),
        field(user),
    );
    if !annotation.remote_targets.is_empty() {
        let targets: Vec<&str> = annotation.remote_targets.iter().map(|t| t.host.as_str()).collect();
        line += &format!(" targets={}", targets.join(","));
    }
    line += ": ";
    let shown = annotation.field(text).unwrap_or_default();
    // Evidence in the shown text is marked where it lies; evidence found in a decoded or
    // joined layer is named after it.
    let (here, elsewhere): (Vec<_>, Vec<_>) = annotation.evidence.iter().partition(|e| {
        let start = e.offset as usize;
        e.layer == layer && shown.get(start..start + e.text.len()).is_some_and(|t| t.eq_ignore_ascii_case(&e.text))
    });
    let mut marks: Vec<(usize, usize)> =
        here.iter().map(|e| (e.offset as usize, e.offset as usize + e.text.len())).collect();
    marks.sort_unstable();
    marks.dedup_by(|later, earlier| later.0 < earlier.1);
    line += &marked(shown, &marks, style);
    if !elsewhere.is_empty() {
        let found: Vec<String> = elsewhere
            .iter()
            .map(|e| match e.kind.as_str() {
                // What the annotation left out stands nowhere: said as it is.
                winrm_detect::OMITTED => e.text.clone(),
                _ => format!("{} in {}", style.mark(&e.text), e.layer),
            })
            .collect();
        line += &format!(" ({})", found.join(", "));
    }
    if !annotation.techniques.is_empty() {
        line += &format!(" [{}]", annotation.techniques.join(", "));
    }
    line
}

/// `text` cut to a window of [`SHOWN`] bytes around its first mark, line breaks and tabs shown
/// as one character each, the marks marked.
fn marked(text: &str, marks: &[(usize, usize)], style: Style) -> String {
    let first = marks.first().map_or(0, |m| m.0);
    let start = if text.len() <= SHOWN { 0 } else { text.floor_char_boundary(first.saturating_sub(BEFORE_FIRST_MARK)) };
    let end = text.ceil_char_boundary((start + SHOWN).min(text.len()));
    let flat = |s: &str| s.replace(['\r', '\n'], "⏎").replace('\t', " ");
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for &(from, to) in marks {
        if from < at || to > end {
            continue;
        }
        out += &flat(&text[at..from]);
        out += &style.mark(&flat(&text[from..to]));
        at = to;
    }
    out += &flat(&text[at..end]);
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_sit_on_the_evidence_and_long_text_is_cut_around_it() {
        let text = "powershell -c \"Invoke-Command -ComputerName FS02 {}\"";
        let marks = [(15, 29), (30, 43)];
        assert_eq!(marked(text, &marks, Style::PLAIN), "powershell -c \"«Invoke-Command» «-ComputerName» FS02 {}\"");
        let long = format!("{}{text}{}", "x".repeat(400), "y\n".repeat(200));
        let shifted = [(415, 429), (430, 443)];
        let shown = marked(&long, &shifted, Style::PLAIN);
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert!(shown.contains("«Invoke-Command» «-ComputerName»"), "{shown}");
        assert!(!shown.contains('\n') && shown.contains('⏎'));
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let text = "ü".repeat(300);
        let shown = marked(&text, &[(400, 402)], Style::PLAIN);
        assert!(shown.contains("«ü»"), "{shown}");
    }
}
