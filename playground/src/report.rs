//! What the page shows for one input: the event as read (shape, CIM fields or the script
//! block's), which of the two rules reads it, the parity and the extended verdict side by side
//! with why each did or did not fire, and the script texts the evidence offsets point into. Every verdict comes from the library's own `Detector`;
//! this module only gathers what the detector already knows into one JSON document.

use serde::Serialize;
use winrm_detect::annotation::{CimRow, ScriptBlockRow};
use winrm_detect::detector::is_powershell;
use winrm_detect::event::{Event, Format, Kind, ProcessFields};
use winrm_detect::rules::{PARITY_TERMS_SPELLED, parity_term_offsets};
use winrm_detect::{
    Annotation, Config, Detector, MacroProfile, Matcher, Mode, Rule, ScanError, cmdline, family, render, script_block,
};

/// How the page asks for the input to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// An event if it starts like one (`{` or `<`), otherwise a command line.
    Auto,
    Event,
    CommandLine,
}

impl InputKind {
    pub fn parse(s: &str) -> InputKind {
        match s {
            "event" => InputKind::Event,
            "command-line" => InputKind::CommandLine,
            _ => InputKind::Auto,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// `event` or `command-line`: how the input was read.
    pub input: &'static str,
    /// What the playground did to a bare command line to make it an event.
    pub note: Option<String>,
    /// A refused configuration; nothing else is filled in then.
    pub config_error: Option<ScanError>,
    /// A refused event (the same error a shipper would get).
    pub error: Option<ScanError>,
    pub format: Option<&'static str>,
    /// What the shape was chosen by: the record's key (or element) that marks it.
    pub recognised_by: &'static str,
    /// `process-creation`, `script-block`, or what else the event is.
    pub event_kind: Option<String>,
    /// The rule that reads this kind of event (`process-creation` or `script-block`), if any.
    pub rule: Option<&'static str>,
    /// The result row: CIM fields after the data model's defaults, or a script block's.
    pub fields: Vec<Field>,
    /// Whether the `process_powershell` macro holds.
    pub powershell: bool,
    pub parity: Verdict,
    pub extended: Verdict,
    /// `process` (the command line) or `script-block` (the script text), and every script
    /// text derived from it, by evidence layer.
    pub layers: Vec<Layer>,
    /// What PowerShell would run that cannot be looked into.
    pub opaque: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Field {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Layer {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Verdict {
    pub matched: bool,
    /// The detector would have fired but the allowlist or the loopback option stopped it.
    pub suppressed: bool,
    /// Why it fired or did not, in a sentence.
    pub reason: String,
    pub annotation: Option<Annotation>,
    /// The annotation in the configuration's `output` shape (native, ECS or OCSF).
    pub rendered: Option<serde_json::Value>,
}

/// Reads `input` and runs both modes of the rule over it under `config` (the JSON every host
/// takes; its `mode` is overridden, since both modes are shown).
pub fn inspect(input: &str, kind: InputKind, config: &str) -> Report {
    let mut report = Report {
        input: "event",
        note: None,
        config_error: None,
        error: None,
        format: None,
        recognised_by: "",
        event_kind: None,
        rule: None,
        fields: Vec::new(),
        powershell: false,
        parity: Verdict::default(),
        extended: Verdict::default(),
        layers: Vec::new(),
        opaque: Vec::new(),
    };
    let config = match Config::from_json(if config.trim().is_empty() { "{}" } else { config }) {
        Ok(c) => c,
        Err(e) => {
            report.config_error = Some(e);
            return report;
        }
    };
    let parity = Detector::new(Config { mode: Mode::Parity, ..config.clone() });
    let extended = Detector::new(Config { mode: Mode::Extended, ..config });

    let trimmed = input.trim();
    let looks_like_event = trimmed.starts_with(['{', '<']) || trimmed.starts_with('\u{feff}');
    let event = if kind == InputKind::CommandLine || (kind == InputKind::Auto && !looks_like_event) {
        report.input = "command-line";
        let (event, note) = command_line_event(trimmed);
        report.note = note;
        event
    } else {
        match parity.parse_event(input) {
            Ok(event) => event,
            Err(e) => {
                report.error = Some(e);
                return report;
            }
        }
    };
    report.format = Some(event.format.as_str());
    report.recognised_by = event.recognised_by;
    report.event_kind = Some(match &event.kind {
        Kind::ProcessCreation => "process-creation".to_string(),
        Kind::ScriptBlock(_) => "script-block".to_string(),
        Kind::Other(what) => what.clone(),
    });
    if let Kind::ScriptBlock(block) = &event.kind {
        report.rule = Some(Rule::ScriptBlock.as_str());
        let row = ScriptBlockRow::new(&event.fields, block);
        report.fields = row.result_fields().into_iter().map(|(name, value)| Field { name, value }).collect();
        let analysis = cmdline::analyse_script(&block.text, script_block::LAYER, extended.cmdline_limits());
        report.layers.push(Layer { name: script_block::LAYER.into(), text: block.text.clone() });
        report.layers.extend(analysis.layers.into_iter().map(|l| Layer { name: l.name, text: l.text }));
        report.opaque = analysis.opaque;
        report.parity = script_block_verdict(&parity, &event, &block.text);
        report.extended = script_block_verdict(&extended, &event, &block.text);
        return report;
    }
    if event.kind == Kind::ProcessCreation {
        report.rule = Some(Rule::ProcessCreation.as_str());
    }

    let row = CimRow::new(event.fields.clone());
    report.powershell = is_powershell(&row, parity.config().macro_profile);
    report.fields = row.result_fields().into_iter().map(|(name, value)| Field { name, value }).collect();
    if let Some(process) = event.fields.process.as_deref() {
        report.layers.push(Layer { name: "process".into(), text: process.into() });
        // A winrs command line is read as winrs.exe reads it; its remote command's PowerShell,
        // if any, as the detector reads it there.
        let derived = match family::is_winrs(&row) {
            true => family::winrs_remote_command(&row, extended.cmdline_limits()).layers,
            false => {
                let analysis = cmdline::analyse(process, extended.cmdline_limits());
                report.opaque = analysis.opaque;
                analysis.layers
            }
        };
        report.layers.extend(derived.into_iter().map(|l| Layer { name: l.name, text: l.text }));
    }
    report.parity = verdict(&parity, &event, &row, report.powershell);
    report.extended = verdict(&extended, &event, &row, report.powershell);
    report
}

/// One mode's verdict on a script block, with the reason a detection engineer asks for first.
fn script_block_verdict(detector: &Detector, event: &Event, text: &str) -> Verdict {
    let before = detector.stats().suppressed;
    let annotation = detector.evaluate(event).into_iter().next();
    let suppressed = detector.stats().suppressed > before;
    let config = detector.config();
    let reason = match &annotation {
        Some(a) if family_reason(a).is_some() => family_reason(a).unwrap_or_default(),
        Some(a) if a.matcher == Matcher::Parity => {
            "the script block text holds *Invoke-Command* and *-ComputerName* (the Splunk rule's two terms)".to_string()
        }
        Some(a) => format!("PowerShell would run Invoke-Command against another computer: {}", a.techniques.join(", ")),
        None if suppressed => {
            "it would fire, but the allowlist (the _filter macro) or the loopback option suppresses it".to_string()
        }
        None if !config.runs(Rule::ScriptBlock) => {
            "the script-block rule is not among the configuration's `rules`".into()
        }
        None if config.mode == Mode::Parity => format!("the script block text lacks {}", missing_terms(text)),
        None => "PowerShell would not run Invoke-Command or New-PSSession against another computer \
                 (text in strings, here-strings and comments is never run)"
            .to_string(),
    };
    let rendered = annotation.as_ref().map(|a| render(a, config.output));
    Verdict { matched: annotation.is_some(), suppressed, reason, annotation, rendered }
}

/// Why one of the WinRM family's other rules fired.
fn family_reason(a: &Annotation) -> Option<String> {
    let field = |name| a.field(name).unwrap_or("unknown");
    let extended = a.matcher == Matcher::Extended;
    Some(match a.rule {
        Rule::Winrs if extended => format!(
            "winrs.exe reads a remote switch its search does not spell (Remote Process Instantiation via WinRM \
             and Winrs): {}",
            a.techniques.join(", ")
        ),
        Rule::Winrs => "the command line of winrs.exe holds *-r:* or *-remote:* \
                        (Remote Process Instantiation via WinRM and Winrs)"
            .to_string(),
        Rule::InteractiveSession if extended => format!(
            "PowerShell would run Enter-PSSession against another computer (Interactive Session on Remote \
             Endpoint with PowerShell): {}",
            a.techniques.join(", ")
        ),
        Rule::InteractiveSession => "the script block text holds *Enter-PSSession* and *-ComputerName* \
                                     (Interactive Session on Remote Endpoint with PowerShell)"
            .to_string(),
        Rule::WinrmSpawningAProcess => format!(
            "{} was started by {}, the host of PowerShell remoting (WinRM Spawning a Process)",
            field("process_name"),
            field("parent_process_name")
        ),
        Rule::WinrmExecuteShell => format!(
            "{} was started by {}, the host of a winrs command (Windows Remote Management Execute Shell)",
            field("process_name"),
            field("parent_process_name")
        ),
        Rule::ProcessCreation | Rule::ScriptBlock => return None,
    })
}

/// The rule's terms a text lacks, as the Splunk search spells them.
fn missing_terms(text: &str) -> String {
    let missing: Vec<String> = PARITY_TERMS_SPELLED
        .into_iter()
        .zip(parity_term_offsets(text))
        .filter(|(_, at)| at.is_none())
        .map(|(term, _)| format!("*{term}*"))
        .collect();
    missing.join(" and ")
}

/// One mode's verdict, with the reason a detection engineer asks for first.
fn verdict(detector: &Detector, event: &Event, row: &CimRow, powershell: bool) -> Verdict {
    let before = detector.stats().suppressed;
    let annotation = detector.evaluate(event).into_iter().next();
    let suppressed = detector.stats().suppressed > before;
    let config = detector.config();
    let reason = match (&annotation, &event.kind) {
        (Some(a), _) if family_reason(a).is_some() => family_reason(a).unwrap_or_default(),
        (Some(a), _) if a.matcher == Matcher::Parity => {
            "the command line holds *Invoke-Command* and *-ComputerName* (the Splunk rule's two terms)".to_string()
        }
        (Some(a), _) => format!("PowerShell would start a remote command: {}", a.techniques.join(", ")),
        (None, _) if suppressed => {
            "it would fire, but the allowlist (the _filter macro) or the loopback option suppresses it".to_string()
        }
        (None, Kind::Other(what)) => format!("neither a process creation nor a script block ({what})"),
        (None, _) if !config.runs(Rule::ProcessCreation) => {
            "the process-creation rule is not among the configuration's `rules`".into()
        }
        (None, Kind::ProcessCreation) if family::is_winrs(row) && config.runs(Rule::Winrs) => match config.mode {
            Mode::Parity => "the command line of winrs.exe lacks *-r:* and *-remote:*".to_string(),
            Mode::Extended => "winrs.exe names no remote endpoint among its switches \
                               (-r: or -remote:, after - or /, in any case)"
                .to_string(),
        },
        (None, Kind::ProcessCreation) if !powershell => format!(
            "process_name {:?} and original_file_name {:?} are not PowerShell under the {} macro",
            row.process_name,
            row.original_file_name,
            config.macro_profile.as_str()
        ),
        (None, _) if config.mode == Mode::Parity => format!("the command line lacks {}", missing_terms(&row.process)),
        (None, _) => "PowerShell would not run Invoke-Command or New-PSSession against another computer".to_string(),
    };
    let rendered = annotation.as_ref().map(|a| render(a, config.output));
    Verdict { matched: annotation.is_some(), suppressed, reason, annotation, rendered }
}

/// Whether `program` (lower-cased, without `.exe`) is a PowerShell host under either macro profile.
fn is_powershell_host(program: &str) -> bool {
    MacroProfile::Escu2021.process_names().iter().any(|name| name.strip_suffix(".exe") == Some(program))
}

/// A bare command line as the process creation that would carry it. A line that starts with
/// a program (a name ending in `.exe`, a PowerShell host's or `winrs`) keeps it as the
/// process; anything else is taken for PowerShell script text and
/// given to `powershell.exe`, which the note says.
fn command_line_event(line: &str) -> (Event, Option<String>) {
    let first = match line.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next().unwrap_or(""),
        None => line.split_ascii_whitespace().next().unwrap_or(""),
    };
    let program = first.rsplit(['\\', '/']).next().unwrap_or(first);
    let lower = program.to_ascii_lowercase();
    let (process, process_name, note) = if lower.ends_with(".exe") {
        (line.to_string(), program.to_string(), None)
    } else if is_powershell_host(&lower) || lower == "winrs" {
        (line.to_string(), format!("{program}.exe"), None)
    } else {
        let process = format!("powershell.exe {line}");
        let note = format!(
            "\"{program}\" is not a program, so the text was run as PowerShell script: process = \"powershell.exe …\""
        );
        (process, "powershell.exe".to_string(), Some(note))
    };
    let fields = ProcessFields { process: Some(process), process_name: Some(process_name), ..ProcessFields::default() };
    (Event { format: Format::Cim, recognised_by: "", kind: Kind::ProcessCreation, fields }, note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn a_bare_script_runs_under_powershell() {
        let r = inspect("icm -Cn FS02 { whoami }", InputKind::Auto, "{}");
        assert_eq!(r.input, "command-line");
        assert!(r.note.is_some());
        assert!(!r.parity.matched);
        assert!(r.parity.reason.contains("*Invoke-Command* and *-ComputerName*"), "{}", r.parity.reason);
        assert!(r.extended.matched);
        let a = r.extended.annotation.unwrap();
        assert_eq!(a.techniques, ["alias", "parameter-alias"]);
        assert_eq!(a.remote_targets[0].host, "FS02");
        assert_eq!(r.layers[0].text, "powershell.exe icm -Cn FS02 { whoami }");
        // Evidence offsets point into the layer they name.
        for e in &a.evidence {
            let layer = r.layers.iter().find(|l| l.name == e.layer).unwrap();
            assert_eq!(&layer.text[e.offset as usize..e.offset as usize + e.text.len()], e.text);
        }
    }

    #[test]
    fn a_command_line_that_names_its_program_keeps_it() {
        let r = inspect(r#""C:\Windows\cmd.exe" /c Invoke-Command -ComputerName x {}"#, InputKind::Auto, "{}");
        assert!(r.note.is_none());
        assert!(!r.powershell);
        assert!(r.parity.reason.contains("\"cmd.exe\""), "{}", r.parity.reason);
        let r = inspect("pwsh -c Invoke-Command -ComputerName x {}", InputKind::CommandLine, "{}");
        assert!(r.parity.matched);
        assert!(r.extended.matched);
        assert_eq!(r.extended.annotation.unwrap().matcher, winrm_detect::Matcher::Parity);
    }

    #[test]
    fn winrs_is_read_as_winrs_and_its_remote_powershell_shown() {
        let script: Vec<u8> = "Get-Process".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let payload = base64::engine::general_purpose::STANDARD.encode(script);
        let r = inspect(&format!("winrs /r:FS02 powershell -enc {payload}"), InputKind::Auto, "{}");
        assert!(r.note.is_none());
        assert!(r.parity.reason.contains("lacks *-r:* and *-remote:*"), "{}", r.parity.reason);
        assert!(r.extended.reason.contains("slash-switch"), "{}", r.extended.reason);
        let a = r.extended.annotation.expect("extended fires");
        let decoded = a.evidence.iter().find(|e| e.kind == "encoded-command").expect("the payload decoded");
        assert_eq!((decoded.text.as_str(), decoded.layer.as_str()), ("Get-Process", "process/encoded-command"));
        for e in &a.evidence {
            let layer = r.layers.iter().find(|l| l.name == e.layer).expect("a layer the page shows");
            assert_eq!(&layer.text[e.offset as usize..e.offset as usize + e.text.len()], e.text);
        }
        let r = inspect("winrs -r:FS02 hostname", InputKind::Auto, "{}");
        assert!(r.parity.reason.contains("holds *-r:*"), "{}", r.parity.reason);
    }

    #[test]
    fn encoded_evidence_points_into_the_decoded_layer() {
        // `Invoke-Command -ComputerName FS02 {hostname}` as UTF-16LE base64.
        let script: Vec<u8> =
            "Invoke-Command -ComputerName FS02 {hostname}".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let line = format!("powershell.exe -enc {}", base64::engine::general_purpose::STANDARD.encode(script));
        let r = inspect(&line, InputKind::Auto, "{}");
        assert!(!r.parity.matched);
        let a = r.extended.annotation.expect("extended fires");
        assert!(a.techniques.contains(&"encoded-command".to_string()));
        let decoded = r.layers.iter().find(|l| l.name == "process/encoded-command").expect("decoded layer");
        assert_eq!(decoded.text, "Invoke-Command -ComputerName FS02 {hostname}");
        assert!(a.evidence.iter().any(|e| e.layer == decoded.name));
    }

    #[test]
    fn missing_terms_and_errors_are_named() {
        let r = inspect("powershell.exe -c Invoke-Command {}", InputKind::Auto, "{}");
        assert_eq!(r.parity.reason, "the command line lacks *-ComputerName*");
        let r = inspect("{\"EventID\": 1,", InputKind::Auto, "{}");
        assert_eq!(r.error.unwrap().kind, winrm_detect::ErrorKind::BrokenJson);
        let r = inspect("x", InputKind::Auto, "{\"mode\": \"loud\"}");
        assert_eq!(r.config_error.unwrap().kind, winrm_detect::ErrorKind::BadConfig);
    }

    #[test]
    fn a_script_block_is_read_by_its_own_rule() {
        let event = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-PowerShell'/><EventID>4104</EventID><Channel>Microsoft-Windows-PowerShell/Operational</Channel><Computer>WS01</Computer><Security UserID='S-1-5-21-1'/></System><EventData><Data Name='MessageNumber'>1</Data><Data Name='MessageTotal'>1</Data><Data Name='ScriptBlockText'>Write-Host 'hi'&#10;icm -cn FS02 { whoami }</Data><Data Name='ScriptBlockId'>{1}</Data></EventData></Event>";
        let r = inspect(event, InputKind::Auto, "{}");
        assert_eq!((r.event_kind.as_deref(), r.rule), (Some("script-block"), Some("script-block")));
        assert!(!r.parity.matched);
        assert_eq!(r.parity.reason, "the script block text lacks *Invoke-Command* and *-ComputerName*");
        let a = r.extended.annotation.expect("extended fires");
        assert_eq!(a.rule, Rule::ScriptBlock);
        for e in &a.evidence {
            let layer = r.layers.iter().find(|l| l.name == e.layer).unwrap();
            assert_eq!(&layer.text[e.offset as usize..e.offset as usize + e.text.len()], e.text);
        }
        assert!(r.fields.iter().any(|f| f.name == "user_id" && f.value.as_deref() == Some("S-1-5-21-1")));
        let r = inspect(event, InputKind::Auto, r#"{"rules":["process-creation"]}"#);
        assert!(r.extended.reason.contains("`rules`"), "{}", r.extended.reason);
    }

    #[test]
    fn suppression_is_reported() {
        let config = r#"{"allowlist": {"command_line_patterns": ["*FS02*"]}}"#;
        let r = inspect("powershell.exe Invoke-Command -ComputerName FS02 {}", InputKind::Auto, config);
        assert!(!r.parity.matched && r.parity.suppressed);
        assert!(r.parity.reason.contains("allowlist"));
    }
}
