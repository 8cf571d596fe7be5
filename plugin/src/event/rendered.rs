//! Events as Windows renders them for people: the message text of a Sysmon process creation,
//! a Security 4688 and a PowerShell 4104 (`Message` in NXLog and Splunk, `RenderedDescription`
//! in Azure Monitor's `Event` table), and Splunk's classic `WinEventLog` text around it
//! (`LogName=…` lines, then `Message=`). Some sources keep nothing else: NXLog's
//! `im_mseventlog`, Splunk's non-XML Windows inputs, an `Event` row whose event data was not
//! collected. The message is read by its labels, in the layouts Windows and Sysmon write.

use serde_json::{Map, Value};

use super::windows::{SYSMON1_V5, WinEvent};

/// Whether `text` is Splunk's classic `WinEventLog` rendering: a date line, then `Name=value`
/// lines holding at least `LogName` and `EventCode`, then `Message=`.
pub(super) fn is_classic(text: &str) -> bool {
    let head = &text[..text.len().min(1024)];
    (head.starts_with("LogName=") || head.contains("\nLogName=")) && head.contains("\nEventCode=")
}

/// The header lines of the classic text a flat record reads, under the names it reads them by.
/// The others are left out: `User=` is the account Splunk resolved from the event's SID, not
/// the event data's `User` (a Sysmon process's account).
const CLASSIC_HEADER: [(&str, &str); 5] = [
    ("LogName", "LogName"),
    ("SourceName", "SourceName"),
    ("EventCode", "EventCode"),
    ("ComputerName", "ComputerName"),
    ("Sid", "UserID"),
];

/// The fields of a classic `WinEventLog` event, as a flat record reads them: the header lines
/// it needs ([`CLASSIC_HEADER`]), the date line as `TimeCreated` (local time, as written), and
/// the rest after `Message=` as `Message`.
pub(super) fn classic(text: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(message) = rest.strip_prefix("Message=") {
            fields.insert("Message".into(), Value::String(message.to_string()));
            break;
        }
        let (line, next) = rest.split_once('\n').unwrap_or((rest, ""));
        let line = line.trim_end_matches('\r');
        match line.split_once('=') {
            Some((name, value)) if !name.is_empty() && !name.contains(' ') => {
                if let Some((_, key)) = CLASSIC_HEADER.iter().find(|(n, _)| *n == name) {
                    fields.entry(key.to_string()).or_insert_with(|| Value::String(value.trim().to_string()));
                }
            }
            _ if fields.is_empty() && !line.trim().is_empty() => {
                fields.insert("TimeCreated".into(), Value::String(line.trim().to_string()));
            }
            _ => {}
        }
        rest = next;
    }
    fields
}

/// Fills `win`'s data from the rendered message of a process creation or a script block, by
/// the event's id; false when the message is not one of those layouts.
pub(super) fn data_from_message(win: &mut WinEvent, message: &str) -> bool {
    let lines = || message.split('\n').map(|l| l.trim_end_matches('\r'));
    match win.event_id {
        Some(1) if message.trim_start().starts_with("Process Create") => {
            // `Name: value`, the names those of the event data; a value runs on over lines
            // that start with no name (a command line with line breaks in it).
            let mut current: Option<(&'static str, String)> = None;
            for line in lines().skip(1) {
                let label = line.split_once(": ").or_else(|| line.strip_suffix(':').map(|n| (n, "")));
                match label.and_then(|(n, v)| Some((SYSMON1_V5.iter().find(|x| **x == n)?, v))) {
                    Some((name, value)) => {
                        if let Some((n, v)) = current.take() {
                            win.set_data(n, v);
                        }
                        current = Some((name, value.to_string()));
                    }
                    None => {
                        if let Some((_, v)) = current.as_mut() {
                            v.push('\n');
                            v.push_str(line);
                        }
                    }
                }
            }
            if let Some((n, v)) = current {
                win.set_data(n, v);
            }
            true
        }
        Some(4688) if message.trim_start().starts_with("A new process has been created") => {
            // `\tLabel:\t\tvalue` under section headers; `Account Name` means the creator under
            // `Subject:` (versions 0 and 1) or `Creator Subject:`, the new process's account
            // under `Target Subject:`. The command line runs to the blank line after it.
            let mut section = "";
            let mut command_line: Option<String> = None;
            for line in lines() {
                if let Some(cl) = command_line.as_mut() {
                    if line.trim().is_empty() {
                        win.set_data("CommandLine", std::mem::take(cl));
                        command_line = None;
                    } else {
                        cl.push('\n');
                        cl.push_str(line);
                    }
                    continue;
                }
                if !line.starts_with([' ', '\t']) {
                    section = line.trim();
                    continue;
                }
                let Some((label, value)) = line.trim().split_once(':') else { continue };
                let value = value.trim();
                let name = match (section, label) {
                    ("Subject:" | "Creator Subject:", "Account Name") => "SubjectUserName",
                    ("Target Subject:", "Account Name") => "TargetUserName",
                    (_, "New Process ID") => "NewProcessId",
                    (_, "New Process Name") => "NewProcessName",
                    (_, "Creator Process ID") => "ProcessId",
                    (_, "Creator Process Name") => "ParentProcessName",
                    (_, "Process Command Line") => {
                        command_line = Some(value.to_string());
                        continue;
                    }
                    _ => continue,
                };
                win.set_data(name, value);
            }
            if let Some(cl) = command_line {
                win.set_data("CommandLine", cl);
            }
            true
        }
        Some(super::SCRIPT_BLOCK_EVENT_ID) => {
            // `Creating Scriptblock text (N of M):`, the text, a blank line, `ScriptBlock ID:`
            // and `Path:`. The text is everything between: it may hold blank lines itself.
            let Some((first, rest)) = message.trim_start().split_once('\n') else { return false };
            let Some(numbers) =
                first.trim_end().strip_prefix("Creating Scriptblock text (").and_then(|r| r.strip_suffix("):"))
            else {
                return false;
            };
            if let Some((n, m)) = numbers.split_once(" of ") {
                win.set_data("MessageNumber", n.trim());
                win.set_data("MessageTotal", m.trim());
            }
            let (text, tail) = match rest.rfind("ScriptBlock ID:") {
                Some(at) => (&rest[..at], &rest[at..]),
                None => (rest, ""),
            };
            win.set_data("ScriptBlockText", text.trim_end_matches(['\r', '\n']));
            for line in tail.split('\n').map(|l| l.trim_end_matches('\r')) {
                if let Some(id) = line.strip_prefix("ScriptBlock ID:") {
                    win.set_data("ScriptBlockId", id.trim());
                } else if let Some(path) = line.strip_prefix("Path:") {
                    win.set_data("Path", path.trim());
                }
            }
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Format, Kind};

    #[test]
    fn classic_text_becomes_fields() {
        let text = "03/02/2026 10:15:30 AM\nLogName=Security\nEventCode=4688\nUser=NOT_TRANSLATED\nComputerName=WS01\nMessage=A new process has been created.\n\nx=y";
        assert!(is_classic(text));
        let f = classic(text);
        assert_eq!(f["LogName"], "Security");
        assert_eq!(f["TimeCreated"], "03/02/2026 10:15:30 AM");
        assert_eq!(f["Message"], "A new process has been created.\n\nx=y");
        assert!(!f.contains_key("x") && !f.contains_key("User"));
        assert!(!is_classic("LogName=Security\nMessage=x"));
    }

    #[test]
    fn a_4688_message_by_its_sections() {
        let message = "A new process has been created.\r\n\r\nCreator Subject:\r\n\tSecurity ID:\t\tS-1-5-21-1\r\n\tAccount Name:\t\talice\r\n\r\nTarget Subject:\r\n\tAccount Name:\t\t-\r\n\r\nProcess Information:\r\n\tNew Process ID:\t\t0x1168\r\n\tNew Process Name:\tC:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\r\n\tCreator Process ID:\t0xe80\r\n\tCreator Process Name:\tC:\\Windows\\explorer.exe\r\n\tProcess Command Line:\tpowershell -c \"Invoke-Command -ComputerName FS02 {1}\"\r\nsecond line\r\n\r\nToken Elevation Type indicates…";
        let mut win = WinEvent { event_id: Some(4688), channel: Some("Security".into()), ..WinEvent::default() };
        assert!(data_from_message(&mut win, message));
        let e = win.into_event(Format::Nxlog);
        assert_eq!(e.kind, Kind::ProcessCreation);
        assert_eq!(e.fields.user.as_deref(), Some("alice"));
        assert_eq!(e.fields.process_name.as_deref(), Some("powershell.exe"));
        assert_eq!(e.fields.process_id.as_deref(), Some("0x1168"));
        assert_eq!(e.fields.parent_process_name.as_deref(), Some("explorer.exe"));
        assert_eq!(
            e.fields.process.as_deref(),
            Some("powershell -c \"Invoke-Command -ComputerName FS02 {1}\"\nsecond line")
        );
    }

    #[test]
    fn a_sysmon_message_by_its_names() {
        let message = "Process Create:\r\nRuleName: -\r\nProcessId: 4242\r\nImage: C:\\p\\powershell.exe\r\nCommandLine: powershell -c \"a\r\nInvoke-Command -ComputerName FS02\"\r\nCurrentDirectory: C:\\\r\nUser: CORP\\alice\r\nParentImage: C:\\Windows\\explorer.exe";
        let mut win = WinEvent {
            event_id: Some(1),
            channel: Some("Microsoft-Windows-Sysmon/Operational".into()),
            ..WinEvent::default()
        };
        assert!(data_from_message(&mut win, message));
        let e = win.into_event(Format::Nxlog);
        assert_eq!(e.fields.process.as_deref(), Some("powershell -c \"a\nInvoke-Command -ComputerName FS02\""));
        assert_eq!(e.fields.user.as_deref(), Some("alice"));
        assert_eq!(e.fields.process_id.as_deref(), Some("4242"));
        assert_eq!(e.fields.parent_process_name.as_deref(), Some("explorer.exe"));
    }

    #[test]
    fn a_script_block_message() {
        let message = "Creating Scriptblock text (1 of 2):\r\nInvoke-Command -ComputerName FS02 {\r\n\r\n whoami }\r\n\r\nScriptBlock ID: 50d2dbda-7361\r\nPath: C:\\s.ps1";
        let mut win = WinEvent {
            event_id: Some(4104),
            channel: Some("Microsoft-Windows-PowerShell/Operational".into()),
            ..WinEvent::default()
        };
        assert!(data_from_message(&mut win, message));
        let Kind::ScriptBlock(b) = win.into_event(Format::Nxlog).kind else { panic!() };
        assert_eq!(b.text, "Invoke-Command -ComputerName FS02 {\r\n\r\n whoami }");
        assert_eq!((b.message_number, b.message_total), (Some(1), Some(2)));
        assert_eq!(b.id.as_deref(), Some("50d2dbda-7361"));
        assert_eq!(b.path.as_deref(), Some("C:\\s.ps1"));
    }
}
