//! The detector, the one entry point every host uses: an event's bytes in, the annotations of
//! the rules that fired (or a typed error) out. It gates on the fast reject, reads the event,
//! applies each configured rule (parity mode the Splunk search to the letter; extended mode
//! also what PowerShell would run that the two substring tests miss), then the `_filter` macro
//! (allowlists) and the loopback option, and keeps the counters. The script-block twin's parts
//! are joined with [`crate::script_block`]; what the rules are is [`crate::rules`], and how the
//! family's other four read an event [`crate::family`].

use std::cell::{Cell, OnceCell, RefCell};

use crate::annotation::{self, Annotation, CimRow, Evidence, Found, RemoteTarget, ScriptBlockRow};
use crate::cmdline::{self, Analysis, Invocation, Technique};
use crate::config::{Config, Mode};
use crate::error::{ErrorKind, ScanError};
use crate::event::{self, Event, Kind, ScriptBlock};
use crate::family::{self, Finding};
use crate::prefilter::Prefilter;
use crate::rules::{self, MacroProfile, Matcher, PARITY_TERMS, Rule};
use crate::script_block::{self, Parts};

/// What the detector made of one event: the annotations of the rules that fired (none when
/// nothing did), or why the event could not be read.
pub type Outcome = Result<Vec<Annotation>, ScanError>;

/// Counters since the detector was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub matched: u64,
    /// Matches the allowlists or the loopback option suppressed.
    pub suppressed: u64,
    pub errors: u64,
}

pub struct Detector {
    config: Config,
    prefilter: Prefilter,
    cmdline_limits: cmdline::Limits,
    /// The same with a script block's own size bound for the text itself.
    script_limits: cmdline::Limits,
    /// Parts of multi-part script blocks awaiting the rest (extended mode).
    parts: RefCell<Parts>,
    stats: Cell<Stats>,
    scratch: RefCell<Vec<u8>>,
    /// Allowlisted command-line patterns, lower-cased once.
    patterns: Vec<String>,
}

/// The `process_powershell` macro on a row.
pub fn is_powershell(row: &CimRow, profile: MacroProfile) -> bool {
    rules::is_powershell(&row.process_name, &row.original_file_name, profile)
}

/// Both [`PARITY_TERMS`] in a command line as evidence, or `None` when either is missing.
pub fn parity_terms(process: &str) -> Option<Vec<Evidence>> {
    parity_terms_in(process, "process")
}

/// Both [`PARITY_TERMS`] in `text` as evidence of `layer`, or `None` when either is missing.
pub fn parity_terms_in(text: &str, layer: &str) -> Option<Vec<Evidence>> {
    annotation::terms_in(text, &PARITY_TERMS, layer)
}

/// Splunk-style wildcard match (`*` is any run), both sides already lower-cased.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether `target` names the machine itself.
pub fn is_loopback(target: &str, dest: &str) -> bool {
    let t = target.trim().trim_matches(['\'', '"']).to_ascii_lowercase();
    let short = |s: &str| s.split('.').next().unwrap_or(s).to_string();
    let dest = dest.to_ascii_lowercase();
    matches!(
        t.as_str(),
        "localhost" | "." | "::1" | "[::1]" | "$env:computername" | "${env:computername}" | "localhost.localdomain"
    ) || t.starts_with("127.")
        || (dest != "unknown" && !dest.is_empty() && (t == dest || short(&t) == short(&dest)))
}

impl Detector {
    pub fn new(config: Config) -> Detector {
        Detector {
            prefilter: Prefilter::new(config.mode, config.macro_profile, &config.rules),
            cmdline_limits: cmdline::Limits::for_command_lines(&config.limits),
            script_limits: cmdline::Limits::for_script_blocks(&config.limits),
            parts: RefCell::new(Parts::default()),
            patterns: config.allowlist.command_line_patterns.iter().map(|p| p.to_ascii_lowercase()).collect(),
            config,
            stats: Cell::new(Stats::default()),
            scratch: RefCell::new(Vec::new()),
        }
    }

    pub fn from_json(config: &str) -> Result<Detector, ScanError> {
        Config::from_json(config).map(Detector::new)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// The fast reject's buffer, for a test that leaves it borrowed as a trap would.
    #[cfg(all(not(target_arch = "wasm32"), any(test, feature = "fluent-bit")))]
    pub(crate) fn scratch_for_tests(&self) -> &RefCell<Vec<u8>> {
        &self.scratch
    }

    /// How much of a command line extended mode reads, from `limits`.
    pub fn cmdline_limits(&self) -> &cmdline::Limits {
        &self.cmdline_limits
    }

    /// Examines one event given as raw bytes (one line of a log).
    pub fn scan(&self, event: &[u8]) -> Result<Vec<Annotation>, ScanError> {
        self.count(self.scan_inner(event, true))
    }

    /// The same verdict without the fast reject, for proving the reject changes nothing.
    pub fn scan_without_prefilter(&self, event: &[u8]) -> Result<Vec<Annotation>, ScanError> {
        self.count(self.scan_inner(event, false))
    }

    /// Examines every line of `batch` (events separated by `\n`; a final `\n` ends the last
    /// one, and an empty batch holds none) as [`Detector::scan`] would, and hands `report` the
    /// index and outcome of each event that matched or failed; the others are only counted.
    pub fn scan_lines(&self, batch: &[u8], mut report: impl FnMut(usize, Result<Vec<Annotation>, ScanError>)) {
        // The serve_body fuzz target's third finding: an empty body was one empty event here
        // and none in the host, which took the error reported for it for a trap.
        if batch.is_empty() {
            return;
        }
        let body = batch.strip_suffix(b"\n").unwrap_or(batch);
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
        for (index, end) in ends.enumerate() {
            let outcome = self.scan(&body[start..end]);
            start = end + 1;
            if !matches!(&outcome, Ok(a) if a.is_empty()) {
                report(index, outcome);
            }
        }
    }

    fn count(&self, result: Result<Vec<Annotation>, ScanError>) -> Result<Vec<Annotation>, ScanError> {
        let mut s = self.stats.get();
        s.events += 1;
        match &result {
            Ok(a) if !a.is_empty() => s.matched += 1,
            Ok(_) => {}
            Err(_) => s.errors += 1,
        }
        self.stats.set(s);
        result
    }

    fn scan_inner(&self, event: &[u8], fast_reject: bool) -> Result<Vec<Annotation>, ScanError> {
        self.check_size(event.len())?;
        // The fast reject works on bytes, before UTF-8 validation: most events end here.
        // Only a whole-looking event may skip the parser, so that a truncated line is still
        // reported as broken.
        let raw = event.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(event).trim_ascii();
        let framed = (raw.starts_with(b"{") && raw.ends_with(b"}"))
            || (raw.starts_with(b"<") && (raw.ends_with(b"Event>") || raw.ends_with(b"/>")));
        let rejected = framed
            && fast_reject
            && !self.config.parse_all
            && !self.prefilter.may_match(raw, &mut self.scratch.borrow_mut());
        if rejected {
            return Ok(Vec::new());
        }
        let text = std::str::from_utf8(event).map_err(|e| {
            ScanError::new(ErrorKind::InvalidUtf8, format!("invalid UTF-8 at byte {}", e.valid_up_to()))
        })?;
        Ok(self.evaluate(&event::parse(text, self.config.format, self.config.limits.max_nesting)?))
    }

    fn check_size(&self, len: usize) -> Result<(), ScanError> {
        let max = self.config.limits.max_event_bytes;
        match len > max {
            true => Err(ScanError::new(
                ErrorKind::TooLarge,
                format!("event of {len} bytes is over the limit of {max} (limits.max_event_bytes)"),
            )),
            false => Ok(()),
        }
    }

    /// Recognises one event under this detector's format and limits, as [`Detector::scan`]
    /// does after its fast reject: for hosts that show what was read (the playground).
    pub fn parse_event(&self, text: &str) -> Result<Event, ScanError> {
        self.check_size(text.len())?;
        event::parse(text, self.config.format, self.config.limits.max_nesting)
    }

    /// The rules the configuration runs over one recognised event, in the order of
    /// [`Rule::ALL`]: each rule that reads this kind of event ([`PROCESS_RULES`],
    /// [`SCRIPT_RULES`]) in one loop, then the allowlists.
    pub fn evaluate(&self, event: &Event) -> Vec<Annotation> {
        match &event.kind {
            Kind::ProcessCreation => {
                // The row costs a copy of the fields: none when no process rule runs.
                if !PROCESS_RULES.iter().any(|&(rule, _)| self.config.runs(rule)) {
                    return Vec::new();
                }
                let creation = ProcessCreation { event, row: CimRow::new(event.fields.clone()) };
                self.run(&PROCESS_RULES, &creation, |rule, found| {
                    let row = &creation.row;
                    (!self.suppressed(&Subject::of_row(row), &found))
                        .then(|| annotation::build(&self.config, rule, row, found))
                })
            }
            Kind::ScriptBlock(block) => {
                let script = ScriptBlockEvent {
                    row: ScriptBlockRow::new(&event.fields, block),
                    block,
                    analysis: OnceCell::new(),
                };
                self.run(&SCRIPT_RULES, &script, |rule, mut found| {
                    // Taken, not copied: a joined block may be a megabyte.
                    let text = found.joined_text.take();
                    let row = ScriptBlockRow { text: text.as_deref().unwrap_or(script.row.text), ..script.row };
                    (!self.suppressed(&Subject::of_script(&row), &found))
                        .then(|| annotation::build_script_block(&self.config, rule, &row, found))
                })
            }
            Kind::Other(_) => Vec::new(),
        }
    }

    /// The one loop over the rules: each of `table` the configuration runs, read over `event`,
    /// and what it found made an annotation by `annotate` (`None`: suppressed).
    fn run<E, R: Fn(&Detector, &E) -> Option<Found>>(
        &self,
        table: &[(Rule, R)],
        event: &E,
        annotate: impl Fn(Rule, Found) -> Option<Annotation>,
    ) -> Vec<Annotation> {
        table
            .iter()
            .filter(|&&(rule, _)| self.config.runs(rule))
            .filter_map(|(rule, read)| annotate(*rule, read(self, event)?))
            .collect()
    }

    /// Remote Process Instantiation via WinRM and PowerShell over one process creation: both
    /// terms (parity), or (extended) an `Invoke-Command` PowerShell would run against another
    /// computer.
    fn powershell_remoting(&self, creation: &ProcessCreation<'_>) -> Option<Found> {
        let row = &creation.row;
        if !is_powershell(row, self.config.macro_profile) {
            return None;
        }
        let parity = parity_terms(&row.process);
        if parity.is_none() && self.config.mode == Mode::Parity {
            return None;
        }
        let analysis = match creation.event.fields.process.as_deref() {
            Some(p) => cmdline::analyse(p, &self.cmdline_limits),
            None => Analysis::default(),
        };
        self.found(parity, &analysis.invocations, analysis.omitted.invocations, &row.dest)
    }

    /// Remote Process Instantiation via WinRM and Winrs: `winrs -r:` (parity), or the switches
    /// as winrs.exe reads them (extended, with the remote command it runs as evidence).
    fn winrs(&self, creation: &ProcessCreation<'_>) -> Option<Found> {
        let row = &creation.row;
        let extended = self.config.mode == Mode::Extended;
        let (mut finding, matcher) = match family::winrs(row) {
            Some(finding) => (finding, Matcher::Parity),
            None if extended => (family::winrs_extended(row)?, Matcher::Extended),
            None => return None,
        };
        if extended {
            finding.evidence.extend(family::winrs_remote_command(row, &self.cmdline_limits).evidence);
        }
        Some(self.family_found(finding, matcher, &row.dest))
    }

    /// WinRM Spawning a Process: the target side compares whole names, so its parity reading
    /// is all there is to read.
    fn winrm_spawning_a_process(&self, creation: &ProcessCreation<'_>) -> Option<Found> {
        let finding = family::winrm_spawning_a_process(&creation.row)?;
        Some(self.family_found(finding, Matcher::Parity, &creation.row.dest))
    }

    /// Windows Remote Management Execute Shell, as the other target-side rule.
    fn winrm_execute_shell(&self, creation: &ProcessCreation<'_>) -> Option<Found> {
        let finding = family::winrm_execute_shell(&creation.row)?;
        Some(self.family_found(finding, Matcher::Parity, &creation.row.dest))
    }

    /// What a family rule found, as an annotation carries it.
    fn family_found(&self, finding: Finding, matcher: Matcher, dest: &str) -> Found {
        let remote_targets =
            finding.targets.into_iter().map(|host| RemoteTarget { loopback: is_loopback(&host, dest), host }).collect();
        Found { matcher, remote_targets, evidence: finding.evidence, techniques: finding.techniques, joined_text: None }
    }

    /// The analysis of a script text, made once for every rule that needs it.
    fn read_script<'a>(&self, analysis: &'a OnceCell<Analysis>, text: &str, layer: &str) -> &'a Analysis {
        analysis.get_or_init(|| cmdline::analyse_script(text, layer, &self.script_limits))
    }

    /// Interactive Session on Remote Endpoint with PowerShell over one 4104 event's own text:
    /// both terms (parity), or (extended) an `Enter-PSSession` PowerShell would run against
    /// another computer.
    fn interactive_session(&self, script: &ScriptBlockEvent<'_>) -> Option<Found> {
        let row = &script.row;
        let parity = family::interactive_session(row.text, script_block::LAYER).map(|f| f.evidence);
        if parity.is_none() && self.config.mode == Mode::Parity {
            return None;
        }
        let analysis = self.read_script(&script.analysis, row.text, script_block::LAYER);
        self.found(parity, &analysis.interactive_sessions, analysis.omitted.interactive_sessions, row.computer())
    }

    /// The script-block twin over one 4104 event and, in extended mode, over its block's
    /// parts joined when this event completes them (see [`crate::script_block`]): what the
    /// joined text shows then stands for the event.
    fn script_block(&self, script: &ScriptBlockEvent<'_>) -> Option<Found> {
        let row = &script.row;
        // A part that matched counts as reported for its block, even when suppressed.
        let own = self.script_block_text(row.text, row.computer(), script_block::LAYER, &script.analysis);
        if self.config.mode == Mode::Extended
            // A part being filed while a trap left the store borrowed is read on its own only.
            && let Ok(mut parts) = self.parts.try_borrow_mut()
            && let Some(joined) = parts.file(
                row.computer(),
                script.block,
                own.is_some(),
                self.config.limits.max_pending_script_block_bytes,
            )
        {
            drop(parts);
            let read = OnceCell::new();
            let analysis = self.read_script(&read, &joined, script_block::JOINED_LAYER);
            // Only what none of the parts showed, as an extended finding.
            let mut found = self.found(None, &analysis.invocations, analysis.omitted.invocations, row.computer())?;
            found.techniques.push(script_block::SPLIT.into());
            found.techniques.sort();
            found.joined_text = Some(joined);
            return Some(found);
        }
        own
    }

    /// One script text under the twin's two matchers.
    fn script_block_text(
        &self,
        text: &str,
        computer: &str,
        layer: &str,
        analysis: &OnceCell<Analysis>,
    ) -> Option<Found> {
        let parity = parity_terms_in(text, layer);
        if parity.is_none() && self.config.mode == Mode::Parity {
            return None;
        }
        let analysis = self.read_script(analysis, text, layer);
        self.found(parity, &analysis.invocations, analysis.omitted.invocations, computer)
    }

    /// What fired: the parity terms, or else (extended mode) the invocations the analyser
    /// found of the rule's cmdlet (`omitted` more of them found and not kept). An annotation
    /// lists at most [`MAX_LISTED`] targets and pieces of evidence; what it leaves out it
    /// says in one more piece of evidence, of kind `omitted`, which stands nowhere.
    fn found(
        &self,
        parity: Option<Vec<Evidence>>,
        invocations: &[Invocation],
        omitted: usize,
        dest: &str,
    ) -> Option<Found> {
        let (targets, omitted_targets) = self.targets(invocations, dest);
        let mut found = match parity {
            Some(evidence) => Found {
                matcher: Matcher::Parity,
                remote_targets: targets,
                evidence,
                techniques: Vec::new(),
                joined_text: None,
            },
            None if self.config.mode == Mode::Extended && !invocations.is_empty() => {
                let techniques: Vec<Technique> =
                    invocations.iter().flat_map(|i| i.techniques.iter().copied()).collect();
                let mut names: Vec<String> = techniques.iter().map(|t| t.as_str().to_string()).collect();
                names.sort();
                names.dedup();
                Found {
                    matcher: Matcher::Extended,
                    remote_targets: targets,
                    evidence: invocations.iter().flat_map(|i| i.evidence.iter().cloned()).collect(),
                    techniques: names,
                    joined_text: None,
                }
            }
            None => return None,
        };
        let omitted_evidence = found.evidence.len().saturating_sub(MAX_LISTED);
        found.evidence.truncate(MAX_LISTED);
        if let Some(note) = omitted_note(omitted, omitted_targets, omitted_evidence) {
            found.evidence.push(Evidence { kind: OMITTED.into(), text: note, layer: String::new(), offset: 0 });
        }
        Some(found)
    }

    /// The distinct targets of the invocations, at most [`MAX_LISTED`], and how many more.
    fn targets(&self, invocations: &[Invocation], dest: &str) -> (Vec<RemoteTarget>, usize) {
        let mut out: Vec<RemoteTarget> = Vec::new();
        let mut more = 0;
        for host in invocations.iter().flat_map(|i| i.targets.iter()) {
            if !out.iter().any(|t| t.host.eq_ignore_ascii_case(host)) {
                if out.len() == MAX_LISTED {
                    more += 1;
                    continue;
                }
                out.push(RemoteTarget { host: host.clone(), loopback: is_loopback(host, dest) });
            }
        }
        (out, more)
    }

    /// The `_filter` macro and the loopback option; a suppressed match is counted.
    fn suppressed(&self, subject: &Subject<'_>, found: &Found) -> bool {
        let a = &self.config.allowlist;
        let listed = |list: &[String], v: &str| list.iter().any(|x| x.eq_ignore_ascii_case(v));
        let text = subject.text.to_ascii_lowercase();
        let suppressed = listed(&a.users, subject.user)
            || listed(&a.hosts, subject.dest)
            || subject.parent_process_name.is_some_and(|p| listed(&a.parent_process_names, p))
            || self.patterns.iter().any(|p| wildcard_match(p, &text))
            || (!self.config.report_loopback
                && !found.remote_targets.is_empty()
                && found.remote_targets.iter().all(|t| t.loopback));
        if suppressed {
            let mut s = self.stats.get();
            s.suppressed += 1;
            self.stats.set(s);
        }
        suppressed
    }
}

/// The most remote targets, and the most pieces of evidence, one annotation lists.
pub const MAX_LISTED: usize = 64;

/// The kind of the evidence that says what an annotation left out; it stands in no text.
pub const OMITTED: &str = "omitted";

/// What an annotation left out, in words: `None` when nothing.
fn omitted_note(calls: usize, targets: usize, evidence: usize) -> Option<String> {
    let parts: Vec<String> = [(calls, "remote call"), (targets, "target"), (evidence, "piece of evidence")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| match (n, what) {
            (1, _) => format!("1 more {what}"),
            (n, "piece of evidence") => format!("{n} more pieces of evidence"),
            (n, what) => format!("{n} more {what}s"),
        })
        .collect();
    (!parts.is_empty()).then(|| format!("{} not listed", parts.join(", ")))
}

/// How a rule reads the kind of event it reads, into what it found before the allowlists.
type ProcessReading = for<'a> fn(&Detector, &ProcessCreation<'a>) -> Option<Found>;
type ScriptReading = for<'a> fn(&Detector, &ScriptBlockEvent<'a>) -> Option<Found>;

/// The rules that read process creations, each with its reading, in [`Rule::ALL`]'s order
/// (the order annotations come in). A new rule is one reading and one row here or in
/// [`SCRIPT_RULES`], and its identity in [`crate::rules`].
const PROCESS_RULES: [(Rule, ProcessReading); 4] = [
    (Rule::ProcessCreation, Detector::powershell_remoting),
    (Rule::Winrs, Detector::winrs),
    (Rule::WinrmSpawningAProcess, Detector::winrm_spawning_a_process),
    (Rule::WinrmExecuteShell, Detector::winrm_execute_shell),
];

/// The rules that read script blocks (EventID 4104), as [`PROCESS_RULES`].
const SCRIPT_RULES: [(Rule, ScriptReading); 2] =
    [(Rule::ScriptBlock, Detector::script_block), (Rule::InteractiveSession, Detector::interactive_session)];

/// What a process-creation rule reads: the event (its command line, for the analyser) and
/// its CIM row.
struct ProcessCreation<'a> {
    event: &'a Event,
    row: CimRow,
}

/// What a script-block rule reads: the event's row and block, and the analysis of its text,
/// made once for the rules that read it.
struct ScriptBlockEvent<'a> {
    row: ScriptBlockRow<'a>,
    block: &'a ScriptBlock,
    analysis: OnceCell<Analysis>,
}

/// What the allowlists are compared with: the CIM row of a process creation; for a script
/// block, `user_id` as the user, `Computer` as the host and the script text as the command.
struct Subject<'a> {
    user: &'a str,
    dest: &'a str,
    parent_process_name: Option<&'a str>,
    text: &'a str,
}

impl<'a> Subject<'a> {
    fn of_row(row: &'a CimRow) -> Subject<'a> {
        Subject {
            user: &row.user,
            dest: &row.dest,
            parent_process_name: Some(&row.parent_process_name),
            text: &row.process,
        }
    }

    fn of_script(row: &'a ScriptBlockRow<'a>) -> Subject<'a> {
        Subject {
            user: row.user_id.unwrap_or("unknown"),
            dest: row.computer(),
            parent_process_name: None,
            text: row.text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*invoke-command*", "x invoke-command y"));
        assert!(wildcard_match("powershell*-computername admin01*", "powershell -c icm -computername admin01 {}"));
        assert!(!wildcard_match("*foo", "foobar"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
    }

    #[test]
    fn loopback() {
        assert!(is_loopback("$env:COMPUTERNAME", "Server002"));
        assert!(is_loopback("localhost", "x"));
        assert!(is_loopback("127.0.0.2", "x"));
        assert!(is_loopback("server002", "Server002"));
        assert!(is_loopback("WS01", "ws01.corp.example"));
        assert!(!is_loopback("FS02", "ws01.corp.example"));
        assert!(!is_loopback("unknown", "unknown"));
    }

    #[test]
    fn a_batch_of_lines_holds_one_event_per_line() {
        let lines = |batch: &[u8]| {
            let detector = Detector::new(Config::default());
            let mut reported = Vec::new();
            detector.scan_lines(batch, |index, outcome| reported.push((index, outcome.is_err())));
            (detector.stats().events, reported)
        };
        assert_eq!(lines(b""), (0, vec![]));
        assert_eq!(lines(b"\n"), (1, vec![(0, true)]));
        assert_eq!(lines(b"x\n\n"), (2, vec![(0, true), (1, true)]));
        assert_eq!(lines(b"x\ny"), (2, vec![(0, true), (1, true)]));
    }

    #[test]
    fn parity_is_two_substrings() {
        assert!(parity_terms("x INVOKE-COMMAND y -computerNAME").is_some());
        assert!(parity_terms("icm -ComputerName x").is_none());
        assert!(parity_terms("Invoke-Command \u{2013}ComputerName x").is_none());
        let e = parity_terms("a Invoke-Command b -ComputerName").unwrap();
        assert_eq!((e[0].offset, e[1].offset), (2, 19));
        assert_eq!(e[1].text, "-ComputerName");
    }
}
