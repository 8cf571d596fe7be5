//! The WinRM family's other four rules, each read to the letter of its ESCU search (who they
//! are, their risk and message: [`crate::rules`]): what each requires of an event's CIM row
//! or script text, and the evidence of what it found. Splunk compares field values and `*`
//! wildcards without ASCII case, so every parity test here folds ASCII case and nothing else.
//! Extended mode reads `winrs` as winrs.exe reads its switches ([`winrs_extended`]) and says
//! what its remote command runs ([`winrs_remote_command`]);
//! `Enter-PSSession` as PowerShell binds it is the analyser's (`cmdline`).

use crate::annotation::{CimRow, Evidence, terms_in, text_evidence};
use crate::cmdline::{self, Arg, ScriptLayer, split_args};
use crate::rules::PARITY_TERMS;

/// `Processes.process_name=winrs.exe OR Processes.original_file_name=winrs.exe`.
pub const WINRS_NAME: &str = "winrs.exe";
/// `Processes.process="*-r:*" OR Processes.process="*-remote:*"`, lower-cased.
pub const WINRS_SWITCHES: [&str; 2] = ["-r:", "-remote:"];
/// `ScriptBlockText="*Enter-PSSession*" AND ScriptBlockText="*-ComputerName*"`, lower-cased.
pub const INTERACTIVE_SESSION_TERMS: [&str; 2] = ["enter-pssession", PARITY_TERMS[1]];
/// `Processes.parent_process_name=wsmprovhost.exe`: PowerShell remoting's host process.
pub const WSMPROVHOST: &str = "wsmprovhost.exe";
/// `Processes.process_name IN (…)` of WinRM Spawning a Process, as its search lists them.
pub const WSMPROVHOST_CHILDREN: [&str; 10] = [
    "cmd.exe",
    "sh.exe",
    "bash.exe",
    "powershell.exe",
    "pwsh.exe",
    "schtasks.exe",
    "certutil.exe",
    "whoami.exe",
    "bitsadmin.exe",
    "scp.exe",
];
/// `Processes.parent_process_name="winrshost.exe"`: the host of a `winrs` command.
pub const WINRSHOST: &str = "winrshost.exe";
/// `Processes.process_name IN ("cmd.exe","*powershell*", "pwsh.exe")`: the middle one a
/// wildcard, so `powershell_ise.exe` or a renamed `xpowershell.exe` also count.
pub const WINRSHOST_SHELLS: [&str; 3] = ["cmd.exe", "*powershell*", "pwsh.exe"];

/// What a family rule found: the evidence, (for `winrs`) the hosts its `-r:` names, and (an
/// extended reading) how the command evaded the literal search.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Finding {
    pub evidence: Vec<Evidence>,
    pub targets: Vec<String>,
    pub techniques: Vec<String>,
}

/// An extended `winrs` switch written with `/` instead of `-` (`/r:FS02`).
pub const SLASH_SWITCH: &str = "slash-switch";
/// An extended `winrs` switch with quotes inside it that the C runtime removes (`-"r":FS02`).
pub const QUOTING: &str = "quoting";

/// Remote Process Instantiation via WinRM and Winrs as winrs.exe reads its command line
/// ([`WinrsLine`]): `-r:` or `-remote:` among its switches names the endpoint however it is
/// spelled; the same text in the remote command is not a switch (but the literal search fires
/// on it, and extended mode keeps every parity match).
pub fn winrs_extended(row: &CimRow) -> Option<Finding> {
    if !is_winrs(row) {
        return None;
    }
    let line = row.process.as_str();
    let read = WinrsLine::read(line);
    let mut found = Finding::default();
    for &i in &read.remote_switches {
        let arg = &read.args[i];
        let end = read.args.get(i + 1).map_or(line.len(), |next| next.start);
        let written = line[arg.start..end].trim_end();
        if arg.text.starts_with('/') {
            found.techniques.push(SLASH_SWITCH.into());
        }
        if written.contains('"') {
            found.techniques.push(QUOTING.into());
        }
        found.evidence.push(text_evidence("switch", line, arg.start, written.len(), "process"));
        let value = arg.text.split_once(':').map_or("", |(_, value)| value);
        if !value.is_empty() && !found.targets.iter().any(|t| t.eq_ignore_ascii_case(value)) {
            found.targets.push(value.to_string());
        }
    }
    found.techniques.sort();
    found.techniques.dedup();
    (!found.evidence.is_empty()).then_some(found)
}

/// A `winrs` command line as winrs.exe reads it: the C runtime's `argv`, then switches (`-`
/// or `/`, a name, `:` and a value; names without case) up to the first argument that is
/// not one, which starts the remote command.
struct WinrsLine {
    args: Vec<Arg>,
    /// The `-r:` and `-remote:` switches, as indexes of `args`.
    remote_switches: Vec<usize>,
    /// Where the remote command starts, as an index of `args`.
    command: Option<usize>,
}

impl WinrsLine {
    fn read(line: &str) -> WinrsLine {
        let args = split_args(line);
        let mut remote_switches = Vec::new();
        let mut command = None;
        for (i, arg) in args.iter().enumerate().skip(1) {
            let Some(switch) = arg.text.strip_prefix(['-', '/']) else {
                command = Some(i);
                break;
            };
            let name = switch.split_once(':').map(|(name, _)| name);
            if name.is_some_and(|n| n.eq_ignore_ascii_case("r") || n.eq_ignore_ascii_case("remote")) {
                remote_switches.push(i);
            }
        }
        WinrsLine { args, remote_switches, command }
    }
}

/// What a `winrs` command runs on the remote host, as evidence (extended mode, on any `winrs`
/// match): the command as written (`remote-command`); where it starts PowerShell (past any
/// `cmd /c`), each `-EncodedCommand` payload decoded (`encoded-command`, in its own layer:
/// what the target will run, which the command line does not show) and the remoting that
/// PowerShell would start from there, a second hop; and the script texts the analysis
/// derived, so that a host can show the evidence where it stands.
pub fn winrs_remote_command(row: &CimRow, limits: &cmdline::Limits) -> RemoteCommand {
    let line = row.process.as_str();
    let read = WinrsLine::read(line);
    let Some(command) = read.command.map(|i| &read.args[i]) else { return RemoteCommand::default() };
    let written = line[command.start..].trim_end();
    let mut evidence = vec![text_evidence("remote-command", line, command.start, written.len(), "process")];
    let Some(analysis) = cmdline::analyse_shell_command(line, command.start, limits) else {
        return RemoteCommand { evidence, layers: Vec::new() };
    };
    let payloads = analysis.layers.iter().filter(|l| cmdline::is_command_line_payload(&l.name));
    evidence.extend(payloads.map(|l| Evidence {
        kind: "encoded-command".into(),
        text: l.text.clone(),
        layer: l.name.clone(),
        offset: 0,
    }));
    let second_hop = analysis.invocations.iter().chain(&analysis.interactive_sessions);
    evidence.extend(second_hop.flat_map(|i| i.evidence.iter().cloned()));
    RemoteCommand { evidence, layers: analysis.layers }
}

/// What [`winrs_remote_command`] found: the evidence, and the script texts it points into
/// besides the command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RemoteCommand {
    pub evidence: Vec<Evidence>,
    pub layers: Vec<ScriptLayer>,
}

/// `Processes.process_name=winrs.exe OR Processes.original_file_name=winrs.exe`.
pub fn is_winrs(row: &CimRow) -> bool {
    row.process_name.eq_ignore_ascii_case(WINRS_NAME) || row.original_file_name.eq_ignore_ascii_case(WINRS_NAME)
}

fn field_evidence(field: &str, value: &str) -> Evidence {
    Evidence { kind: field.into(), text: value.into(), layer: field.into(), offset: 0 }
}

/// Remote Process Instantiation via WinRM and Winrs: the name (or the PE header's) is
/// `winrs.exe` and the command line holds `-r:` or `-remote:`. Each switch found is evidence,
/// and what follows it up to white space (quotes removed) a remote target.
pub fn winrs(row: &CimRow) -> Option<Finding> {
    if !is_winrs(row) {
        return None;
    }
    let lower = row.process.to_ascii_lowercase();
    let mut found = Finding::default();
    for switch in WINRS_SWITCHES {
        for at in memchr::memmem::find_iter(lower.as_bytes(), switch.as_bytes()) {
            if found.evidence.iter().all(|e| e.kind != switch) {
                found.evidence.push(text_evidence(switch, &row.process, at, switch.len(), "process"));
            }
            let rest = &row.process[at + switch.len()..];
            let value = rest.split(|c: char| c.is_whitespace()).next().unwrap_or("");
            let host = value.trim_matches(['"', '\'']);
            if !host.is_empty() && !found.targets.iter().any(|t| t.eq_ignore_ascii_case(host)) {
                found.targets.push(host.to_string());
            }
        }
    }
    found.evidence.sort_by_key(|e| e.offset);
    (!found.evidence.is_empty()).then_some(found)
}

/// Interactive Session on Remote Endpoint with PowerShell: both terms in the script text.
pub fn interactive_session(text: &str, layer: &str) -> Option<Finding> {
    let evidence = terms_in(text, &INTERACTIVE_SESSION_TERMS, layer)?;
    Some(Finding { evidence, ..Finding::default() })
}

/// WinRM Spawning a Process: the parent is `wsmprovhost.exe` and the process one of ten.
pub fn winrm_spawning_a_process(row: &CimRow) -> Option<Finding> {
    child_of(row, WSMPROVHOST, &WSMPROVHOST_CHILDREN)
}

/// Windows Remote Management Execute Shell: the parent is `winrshost.exe` and the process
/// `cmd.exe`, `pwsh.exe` or any name holding `powershell`.
pub fn winrm_execute_shell(row: &CimRow) -> Option<Finding> {
    child_of(row, WINRSHOST, &WINRSHOST_SHELLS)
}

fn child_of(row: &CimRow, parent: &str, children: &[&str]) -> Option<Finding> {
    let process_name = row.process_name.to_ascii_lowercase();
    let listed = children.iter().any(|c| match c.strip_prefix('*').and_then(|c| c.strip_suffix('*')) {
        Some(inner) => process_name.contains(inner),
        None => process_name == *c,
    });
    (row.parent_process_name.eq_ignore_ascii_case(parent) && listed).then(|| Finding {
        evidence: vec![
            field_evidence("parent_process_name", &row.parent_process_name),
            field_evidence("process_name", &row.process_name),
        ],
        ..Finding::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ProcessFields;

    fn row(name: &str, parent: &str, process: &str) -> CimRow {
        CimRow::new(ProcessFields {
            process_name: Some(name.into()),
            parent_process_name: Some(parent.into()),
            process: Some(process.into()),
            ..Default::default()
        })
    }

    #[test]
    fn winrs_needs_its_name_and_a_remote_switch() {
        let f = winrs(&row("WinRS.EXE", "cmd.exe", r#"winrs -R:"FS02" -u:x cmd /c -remote:ignored"#)).unwrap();
        assert_eq!(f.evidence.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["-R:", "-remote:"]);
        assert_eq!(f.targets, ["FS02", "ignored"]);
        assert!(winrs(&row("winrs.exe", "x", "winrs /r:FS02 cmd")).is_none(), "the search has no /r:");
        assert!(winrs(&row("cmd.exe", "x", "winrs -r:FS02 cmd")).is_none());
        let renamed = CimRow::new(ProcessFields {
            process_name: Some("w.exe".into()),
            original_file_name: Some("winrs.exe".into()),
            process: Some("w -r:x".into()),
            ..Default::default()
        });
        assert!(winrs(&renamed).is_some());
    }

    #[test]
    fn winrs_switches_as_winrs_reads_them() {
        let read = |line: &str| winrs_extended(&row("winrs.exe", "cmd.exe", line));
        let f = read(r#"winrs /R:FS02 -u:x cmd /c hostname"#).unwrap();
        assert_eq!(
            (f.targets.as_slice(), f.techniques.as_slice()),
            (&["FS02".to_string()][..], &[SLASH_SWITCH.to_string()][..])
        );
        assert_eq!((f.evidence[0].text.as_str(), f.evidence[0].offset), ("/R:FS02", 6));
        let f = read(r#"winrs -"r":"FS 02" cmd"#).unwrap();
        assert_eq!((f.targets[0].as_str(), f.techniques[0].as_str()), ("FS 02", QUOTING));
        assert_eq!(read("winrs /remote:https://fs02:5986 cmd").unwrap().targets, ["https://fs02:5986"]);
        // After the first argument that is not a switch, everything is the remote command.
        assert_eq!(read("winrs hostname /r:FS02"), None);
        assert_eq!(read("winrs -un -t:10 hostname"), None);
        assert_eq!(read("winrs -rx:FS02 hostname"), None);
        assert_eq!(winrs_extended(&row("cmd.exe", "x", "cmd /r:FS02")), None);
    }

    #[test]
    fn the_remote_command_and_what_powershell_decodes_there() {
        let limits = cmdline::Limits::default();
        let read = |line: &str| {
            let found = winrs_remote_command(&row("winrs.exe", "cmd.exe", line), &limits);
            (found.evidence, found.layers)
        };
        let kinds =
            |e: &[Evidence]| e.iter().map(|e| (e.kind.clone(), e.text.clone(), e.layer.clone())).collect::<Vec<_>>();
        let (evidence, layers) = read("winrs -r:FS02 -u:x cmd /c hostname ");
        assert_eq!(kinds(&evidence), [("remote-command".into(), "cmd /c hostname".into(), "process".into())]);
        assert_eq!((evidence[0].offset, layers.len()), (19, 0));
        // "Get-Process", through cmd /c: the payload whole, in the layer the analyser names.
        let line = "winrs /r:FS02 cmd.exe /C powershell -nop -enc RwBlAHQALQBQAHIAbwBjAGUAcwBzAA==";
        let (evidence, layers) = read(line);
        assert_eq!(
            kinds(&evidence)[1..],
            [("encoded-command".into(), "Get-Process".into(), "process/encoded-command".into())]
        );
        assert_eq!((layers[0].name.as_str(), layers[0].text.as_str()), ("process/encoded-command", "Get-Process"));
        // "icm FS03 {hostname}": a second hop, its evidence where it stands in the payload.
        let line = "winrs -r:FS02 powershell -e aQBjAG0AIABGAFMAMAAzACAAewBoAG8AcwB0AG4AYQBtAGUAfQA=";
        let (evidence, _) = read(line);
        assert_eq!(kinds(&evidence).len(), 2 + 2, "{evidence:?}");
        assert_eq!((evidence[2].text.as_str(), evidence[2].layer.as_str()), ("icm", "process/encoded-command"));
        // A plain -Command's remoting points into the command line itself.
        let line = "winrs -r:FS02 powershell -c Invoke-Command -ComputerName FS03 {1}";
        let (evidence, _) = read(line);
        let icm = evidence.iter().find(|e| e.text == "Invoke-Command").expect("the second hop");
        assert_eq!((icm.layer.as_str(), &line[icm.offset as usize..][..14]), ("process", "Invoke-Command"));
        // Only switches: no remote command. A bare program that is not PowerShell: as written.
        assert_eq!(read("winrs -r:FS02 -?").0, []);
        assert_eq!(read("winrs -r:FS02 pwsh.cmd -enc AAAA").0.len(), 1);
    }

    #[test]
    fn children_are_whole_names_but_the_wildcard() {
        assert!(winrm_spawning_a_process(&row("WHOAMI.exe", "WsmProvHost.exe", "whoami")).is_some());
        assert!(winrm_spawning_a_process(&row("wevtutil.exe", "wsmprovhost.exe", "")).is_none());
        assert!(winrm_spawning_a_process(&row("xcmd.exe", "wsmprovhost.exe", "")).is_none());
        assert!(winrm_execute_shell(&row("PowerShell_ISE.exe", "winrshost.exe", "")).is_some());
        assert!(winrm_execute_shell(&row("whoami.exe", "winrshost.exe", "")).is_none());
        assert!(winrm_execute_shell(&row("cmd.exe", "wsmprovhost.exe", "")).is_none());
    }

    #[test]
    fn interactive_session_needs_both_terms() {
        let f = interactive_session("ENTER-PSSESSION -computerName x", "script-block").unwrap();
        assert_eq!((f.evidence[0].offset, f.evidence[1].offset), (0, 16));
        assert!(interactive_session("etsn -ComputerName x", "script-block").is_none());
        assert!(interactive_session("Enter-PSSession x", "script-block").is_none());
    }
}
