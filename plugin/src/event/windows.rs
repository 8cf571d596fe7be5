//! Windows event data (Sysmon EventID 1, Security 4688, PowerShell 4104) and its mapping to
//! CIM, as the Splunk add-ons for Sysmon and for Windows do it. Every Windows-native shape fills a
//! [`WinEvent`] with the `EventData` names it carries; only the names the mapping reads are
//! kept, so an event with hundreds of data items costs no more than one with twenty.

use super::{Event, Format, Kind, ProcessFields, ScriptBlock, basename, normalise_time, present};

/// The `EventData` names the mapping reads, in slot order.
const NAMES: [&str; 23] = [
    "CommandLine",
    "Image",
    "OriginalFileName",
    "User",
    "ParentImage",
    "ParentCommandLine",
    "ProcessId",
    "ParentProcessId",
    "ProcessGuid",
    "ParentProcessGuid",
    "Hashes",
    "IntegrityLevel",
    "UtcTime",
    "NewProcessName",
    "NewProcessId",
    "SubjectUserName",
    "TargetUserName",
    "ParentProcessName",
    "ScriptBlockText",
    "ScriptBlockId",
    "MessageNumber",
    "MessageTotal",
    "Path",
];

#[derive(Clone, Copy)]
#[repr(usize)]
enum Slot {
    CommandLine,
    Image,
    OriginalFileName,
    User,
    ParentImage,
    ParentCommandLine,
    ProcessId,
    ParentProcessId,
    ProcessGuid,
    ParentProcessGuid,
    Hashes,
    IntegrityLevel,
    UtcTime,
    NewProcessName,
    NewProcessId,
    SubjectUserName,
    TargetUserName,
    ParentProcessName,
    ScriptBlockText,
    ScriptBlockId,
    MessageNumber,
    MessageTotal,
    Path,
}

/// The event id of PowerShell script-block logging.
pub const SCRIPT_BLOCK_EVENT_ID: u32 = 4104;

/// The channels ESCU's `powershell` macro reads (its definition of 2026-05-13:
/// `source=XmlWinEventLog:Microsoft-Windows-PowerShell/Operational` or `…:PowerShellCore/Operational`).
const POWERSHELL_CHANNELS: [&str; 2] = ["Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"];
/// Their providers, for shapes that name the provider and not the channel.
const POWERSHELL_PROVIDERS: [&str; 2] = ["Microsoft-Windows-PowerShell", "PowerShellCore"];

/// PowerShell EventID 4104 data by position (the event's template, as `StringInserts` gives it).
const POWERSHELL4104: [&str; 5] = ["MessageNumber", "MessageTotal", "ScriptBlockText", "ScriptBlockId", "Path"];

/// Sysmon EventID 1 data, by position, as Fluent Bit's winevtlog input delivers it in
/// `StringInserts`. Event version 5 (Sysmon 10 and later) added OriginalFileName after Company.
pub(super) const SYSMON1_V5: [&str; 23] = [
    "RuleName",
    "UtcTime",
    "ProcessGuid",
    "ProcessId",
    "Image",
    "FileVersion",
    "Description",
    "Product",
    "Company",
    "OriginalFileName",
    "CommandLine",
    "CurrentDirectory",
    "User",
    "LogonGuid",
    "LogonId",
    "TerminalSessionId",
    "IntegrityLevel",
    "Hashes",
    "ParentProcessGuid",
    "ParentProcessId",
    "ParentImage",
    "ParentCommandLine",
    "ParentUser",
];
const SYSMON1_V3: [&str; 21] = [
    "RuleName",
    "UtcTime",
    "ProcessGuid",
    "ProcessId",
    "Image",
    "FileVersion",
    "Description",
    "Product",
    "Company",
    "CommandLine",
    "CurrentDirectory",
    "User",
    "LogonGuid",
    "LogonId",
    "TerminalSessionId",
    "IntegrityLevel",
    "Hashes",
    "ParentProcessGuid",
    "ParentProcessId",
    "ParentImage",
    "ParentCommandLine",
];
/// Security 4688 data by position; versions 0 and 1 are prefixes of version 2.
const SECURITY4688_V2: [&str; 15] = [
    "SubjectUserSid",
    "SubjectUserName",
    "SubjectDomainName",
    "SubjectLogonId",
    "NewProcessId",
    "NewProcessName",
    "TokenElevationType",
    "ProcessId",
    "CommandLine",
    "TargetUserSid",
    "TargetUserName",
    "TargetDomainName",
    "TargetLogonId",
    "ParentProcessName",
    "MandatoryLabel",
];

/// The `System` part of a Windows event and the data items the mapping needs.
#[derive(Default, Debug)]
pub(crate) struct WinEvent {
    pub event_id: Option<u32>,
    pub version: Option<u32>,
    pub channel: Option<String>,
    pub provider: Option<String>,
    pub computer: Option<String>,
    pub time: Option<String>,
    /// `System/Security/@UserID`: the SID the event was logged under (Splunk's `user_id`).
    pub user_id: Option<String>,
    pub(crate) data: [Option<String>; NAMES.len()],
}

impl WinEvent {
    /// Keeps one `EventData` item if the mapping reads it. The first occurrence wins.
    pub fn set_data(&mut self, name: &str, value: impl Into<String>) {
        if let Some(i) = NAMES.iter().position(|n| *n == name)
            && self.data[i].is_none()
        {
            self.data[i] = Some(value.into());
        }
    }

    /// Whether `name` is one the mapping reads (lets callers skip decoding the rest).
    pub fn wants(name: &str) -> bool {
        Self::wanted(name).is_some()
    }

    /// `name` as the mapping knows it, if it reads it.
    pub fn wanted(name: &str) -> Option<&'static str> {
        NAMES.iter().find(|n| **n == name).copied()
    }

    /// `key` as the mapping knows it, spelled as pipelines respell event data: any case, with
    /// underscores (`command_line`, `commandline`), under NXLog's `EventData.` prefix. Not
    /// NXLog's `ProcessID`, its own System field (the logging service's process, not the data's).
    pub fn wanted_loosely(key: &str) -> Option<&'static str> {
        if key == "ProcessID" {
            return None;
        }
        let key = ["EventData.", "EventData_", "event_data."].iter().find_map(|p| key.strip_prefix(p)).unwrap_or(key);
        NAMES.iter().find(|n| super::same_name(key, n)).copied()
    }

    /// Whether the data lacks what a rule reads of this event: the command line of a process
    /// creation, the text of a script block.
    pub fn lacks_payload(&self) -> bool {
        match self.event_id {
            Some(1 | 4688) => self.data[Slot::CommandLine as usize].is_none(),
            Some(SCRIPT_BLOCK_EVENT_ID) => self.data[Slot::ScriptBlockText as usize].is_none(),
            _ => false,
        }
    }

    pub fn set_event_id(&mut self, text: &str) {
        self.event_id = text.trim().parse().ok();
    }

    fn get(&self, slot: Slot) -> Option<&str> {
        self.data[slot as usize].as_deref().and_then(present)
    }

    fn owned(&self, slot: Slot) -> Option<String> {
        self.get(slot).map(str::to_string)
    }

    /// Fills data items from positional inserts (Fluent Bit winevtlog) once the event id is
    /// known. Returns false when the event is not one whose layout we know.
    pub fn set_inserts(&mut self, inserts: impl ExactSizeIterator<Item = Option<String>>) -> bool {
        let names: &[&str] = match (self.source(), self.event_id) {
            (Source::Sysmon, Some(1)) => {
                let v5 = match self.version {
                    Some(v) => v >= 5,
                    None => inserts.len() >= SYSMON1_V5.len() - 1,
                };
                if v5 { &SYSMON1_V5 } else { &SYSMON1_V3 }
            }
            (Source::Security | Source::Unknown, Some(4688)) => &SECURITY4688_V2,
            (Source::PowerShell, Some(SCRIPT_BLOCK_EVENT_ID)) => &POWERSHELL4104,
            _ => return false,
        };
        for (name, value) in names.iter().zip(inserts) {
            if let Some(v) = value {
                self.set_data(name, v);
            }
        }
        true
    }

    fn source(&self) -> Source {
        let has =
            |s: &Option<String>, needle: &str| s.as_deref().is_some_and(|v| v.to_ascii_lowercase().contains(needle));
        // A channel of one of the three decides, as the rules' macros select by channel
        // (`source=XmlWinEventLog:<channel>`), whatever provider a pipeline wrote beside it.
        if has(&self.channel, "sysmon") {
            return Source::Sysmon;
        } else if self.channel.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("security")) {
            return Source::Security;
        } else if self.channel.as_deref().is_some_and(|c| POWERSHELL_CHANNELS.iter().any(|p| p.eq_ignore_ascii_case(c)))
        {
            return Source::PowerShell;
        }
        // Otherwise the provider; PowerShell's only where no channel is named (the
        // `powershell` macro reads its channels alone).
        if has(&self.provider, "sysmon") {
            Source::Sysmon
        } else if has(&self.provider, "security-auditing") {
            Source::Security
        } else if self.channel.is_none()
            && self.provider.as_deref().is_some_and(|v| POWERSHELL_PROVIDERS.iter().any(|p| p.eq_ignore_ascii_case(v)))
        {
            Source::PowerShell
        } else if self.channel.is_none() && self.provider.is_none() {
            Source::Unknown
        } else {
            Source::Other
        }
    }

    /// The CIM view of this event, as the Sysmon and Windows add-ons extract it.
    pub fn into_event(self, format: Format) -> Event {
        let source = self.source();
        let kind = match (source, self.event_id) {
            (Source::Sysmon, Some(1)) => Kind::ProcessCreation,
            // 4688 is unique to the Security log; accept it where the shape has no channel.
            (Source::Security | Source::Unknown, Some(4688)) => Kind::ProcessCreation,
            // 4104 only where the `powershell` macro looks: PowerShell's channels (or, where a
            // shape names no channel, its providers). A script block that can match therefore
            // names PowerShell, which the fast reject relies on.
            (Source::PowerShell, Some(SCRIPT_BLOCK_EVENT_ID)) => Kind::ScriptBlock(Box::new(self.script_block())),
            (_, id) => Kind::Other(describe(&self, id)),
        };
        let fields = match (&kind, source) {
            (Kind::ProcessCreation, Source::Sysmon) => self.sysmon_fields(),
            (Kind::ProcessCreation, _) => self.security_fields(),
            (Kind::ScriptBlock(_), _) => ProcessFields {
                time: self.time.as_deref().and_then(present).map(normalise_time),
                user_id: self.user_id.as_deref().and_then(present).map(str::to_string),
                vendor_product: Some("Microsoft Windows".into()),
                ..self.dest_only()
            },
            _ => self.dest_only(),
        };
        Event { format, recognised_by: "", kind, fields }
    }

    fn dest_only(&self) -> ProcessFields {
        ProcessFields {
            dest: self.computer.as_deref().and_then(present).map(str::to_string),
            ..ProcessFields::default()
        }
    }

    /// The 4104 data. The text is kept as logged (`-` too: it is script text, not a
    /// placeholder); the numbers are absent when they do not parse.
    fn script_block(&self) -> ScriptBlock {
        let number = |slot: Slot| self.get(slot).and_then(|n| n.trim().parse().ok());
        ScriptBlock {
            text: self.data[Slot::ScriptBlockText as usize].clone().unwrap_or_default(),
            id: self.owned(Slot::ScriptBlockId),
            message_number: number(Slot::MessageNumber),
            message_total: number(Slot::MessageTotal),
            path: self.owned(Slot::Path),
        }
    }

    fn common(&self) -> ProcessFields {
        ProcessFields {
            dest: self.computer.as_deref().and_then(present).map(str::to_string),
            time: self.time.as_deref().and_then(present).map(normalise_time),
            process: self.owned(Slot::CommandLine),
            ..ProcessFields::default()
        }
    }

    fn sysmon_fields(&self) -> ProcessFields {
        let image = self.get(Slot::Image);
        let parent_image = self.get(Slot::ParentImage);
        ProcessFields {
            time: self.time.as_deref().or(self.get(Slot::UtcTime)).and_then(present).map(normalise_time),
            // The Sysmon add-on reports the account without its domain.
            user: self.get(Slot::User).map(|u| basename_user(u).to_string()),
            process_name: image.map(|p| basename(p).to_string()),
            process_path: image.map(str::to_string),
            process_id: self.owned(Slot::ProcessId),
            process_guid: self.owned(Slot::ProcessGuid),
            process_hash: self.owned(Slot::Hashes),
            process_integrity_level: self.get(Slot::IntegrityLevel).map(str::to_lowercase),
            original_file_name: self.owned(Slot::OriginalFileName),
            parent_process: self.owned(Slot::ParentCommandLine),
            parent_process_name: parent_image.map(|p| basename(p).to_string()),
            parent_process_path: parent_image.map(str::to_string),
            parent_process_id: self.owned(Slot::ParentProcessId),
            parent_process_guid: self.owned(Slot::ParentProcessGuid),
            vendor_product: Some("Microsoft Sysmon".into()),
            ..self.common()
        }
    }

    fn security_fields(&self) -> ProcessFields {
        let image = self.get(Slot::NewProcessName);
        let parent_image = self.get(Slot::ParentProcessName);
        ProcessFields {
            // TargetUserName (4688 version 2) is the account the process runs as; older
            // records, and `-`, fall back to the creator.
            user: self.owned(Slot::TargetUserName).or_else(|| self.owned(Slot::SubjectUserName)),
            process_name: image.map(|p| basename(p).to_string()),
            process_path: image.map(str::to_string),
            // Hex strings such as `0xf84`, kept as given.
            process_id: self.owned(Slot::NewProcessId),
            parent_process_id: self.owned(Slot::ProcessId),
            parent_process: parent_image.map(str::to_string),
            parent_process_name: parent_image.map(|p| basename(p).to_string()),
            parent_process_path: parent_image.map(str::to_string),
            vendor_product: Some("Microsoft Windows".into()),
            ..self.common()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Sysmon,
    Security,
    /// `Microsoft-Windows-PowerShell/Operational` or `PowerShellCore/Operational`.
    PowerShell,
    /// The shape names neither channel nor provider.
    Unknown,
    Other,
}

fn basename_user(user: &str) -> &str {
    user.rsplit('\\').next().unwrap_or(user)
}

fn describe(event: &WinEvent, id: Option<u32>) -> String {
    let from = event.channel.as_deref().or(event.provider.as_deref()).unwrap_or("unknown channel");
    match id {
        Some(id) => format!("{from} EventID {id}"),
        None => format!("{from} event without an EventID"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sysmon() -> WinEvent {
        WinEvent {
            event_id: Some(1),
            channel: Some("Microsoft-Windows-Sysmon/Operational".into()),
            computer: Some("Server002".into()),
            ..WinEvent::default()
        }
    }

    #[test]
    fn sysmon_user_loses_domain_and_dash_is_absent() {
        let mut e = sysmon();
        e.set_data("User", r"SERVER002\admin_test");
        e.set_data("OriginalFileName", "-");
        e.set_data("IntegrityLevel", "High");
        let p = e.into_event(Format::WindowsXml);
        assert_eq!(p.kind, Kind::ProcessCreation);
        assert_eq!(p.fields.user.as_deref(), Some("admin_test"));
        assert_eq!(p.fields.original_file_name, None);
        assert_eq!(p.fields.process_integrity_level.as_deref(), Some("high"));
    }

    #[test]
    fn security_user_prefers_target_unless_dash() {
        let mut e = WinEvent { event_id: Some(4688), channel: Some("Security".into()), ..WinEvent::default() };
        e.set_data("SubjectUserName", "WORKSTATION6$");
        e.set_data("TargetUserName", "-");
        e.set_data("NewProcessId", "0xf84");
        let p = e.into_event(Format::WindowsXml);
        assert_eq!(p.fields.user.as_deref(), Some("WORKSTATION6$"));
        assert_eq!(p.fields.process_id.as_deref(), Some("0xf84"));
        let mut e = WinEvent { event_id: Some(4688), channel: Some("Security".into()), ..WinEvent::default() };
        e.set_data("SubjectUserName", "WORKSTATION6$");
        e.set_data("TargetUserName", "pgustavo");
        assert_eq!(e.into_event(Format::WindowsXml).fields.user.as_deref(), Some("pgustavo"));
    }

    #[test]
    fn other_events_are_not_process_creations() {
        let mut e = sysmon();
        e.event_id = Some(5);
        assert!(matches!(e.into_event(Format::WindowsXml).kind, Kind::Other(_)));
        let e = WinEvent { event_id: Some(1), channel: Some("Application".into()), ..WinEvent::default() };
        assert!(matches!(e.into_event(Format::WindowsXml).kind, Kind::Other(_)));
        let e = WinEvent { event_id: Some(4688), channel: Some("Windows PowerShell".into()), ..WinEvent::default() };
        assert!(matches!(e.into_event(Format::WindowsXml).kind, Kind::Other(_)));
    }

    #[test]
    fn inserts_follow_the_event_version() {
        let mut e = sysmon();
        e.version = Some(5);
        let mut v: Vec<Option<&str>> = vec![Some("x"); 23];
        v[4] = Some(r"C:\p\powershell.exe");
        v[9] = Some("PowerShell.EXE");
        v[10] = Some("powershell -c 1");
        assert!(e.set_inserts(v.into_iter().map(|x| x.map(String::from))));
        let p = e.into_event(Format::FluentBit);
        assert_eq!(p.fields.process_name.as_deref(), Some("powershell.exe"));
        assert_eq!(p.fields.original_file_name.as_deref(), Some("PowerShell.EXE"));
        assert_eq!(p.fields.process.as_deref(), Some("powershell -c 1"));

        let mut e = sysmon();
        e.version = Some(3);
        let mut v: Vec<Option<&str>> = vec![Some("x"); 21];
        v[9] = Some("powershell -c 1");
        assert!(e.set_inserts(v.into_iter().map(|x| x.map(String::from))));
        let p = e.into_event(Format::FluentBit);
        assert_eq!(p.fields.process.as_deref(), Some("powershell -c 1"));
        assert_eq!(p.fields.original_file_name, None);
    }
}
