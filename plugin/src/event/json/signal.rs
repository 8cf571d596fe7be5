//! Never silent: what a record says of itself whatever its shape, held against what the shape
//! that read it made of it. A record that carries a process creation or a script block (an
//! event id of 1 from Sysmon, 4688, 4104 from PowerShell; an image path and a command line in
//! a record that names no other kind; a `ScriptBlockText`) but was read as something else, or
//! without the command line or script text it holds, is an `unknown-shape` error naming what
//! was missed: an operator must never believe a host covered whose events go unread.
//!
//! It looks at key names and values only, the way a person scanning the record would, and
//! knows no shape: that is what makes it a check on the shapes. It runs only on a reading that
//! lacks something (another kind of event, or no command line), so an event read whole costs
//! nothing more.

use serde_json::{Map, Value};

use crate::error::{ErrorKind, ScanError};
use crate::event::{Event, Kind, one_of, same_name};

/// Where a record says it came from: a channel, a provider, or both.
#[derive(Default)]
struct Origin {
    sysmon: bool,
    security: bool,
    powershell: bool,
    /// A channel (or provider) was named that is none of those.
    other: bool,
}

impl Origin {
    fn named(&self) -> bool {
        self.sysmon || self.security || self.powershell || self.other
    }

    fn note(&mut self, value: &str) {
        let lower = value.to_ascii_lowercase();
        let lower =
            lower.strip_prefix("xmlwineventlog:").or_else(|| lower.strip_prefix("wineventlog:")).unwrap_or(&lower);
        if lower.contains("sysmon") {
            self.sysmon = true;
        } else if lower == "security" || lower.contains("security-auditing") || lower.contains("security auditing") {
            self.security = true;
        } else if POWERSHELL.contains(&lower) {
            self.powershell = true;
        } else {
            self.other = true;
        }
    }
}

/// PowerShell's channels and providers, as the `powershell` macro names them.
const POWERSHELL: [&str; 4] = [
    "microsoft-windows-powershell/operational",
    "powershellcore/operational",
    "microsoft-windows-powershell",
    "powershellcore",
];

/// What the record says it is.
#[derive(Default)]
struct Signal {
    /// Event ids found under any spelling of `EventID`, `EventCode`, `event.code`.
    ids: Vec<u32>,
    channel: Origin,
    provider: Origin,
    /// The record names a kind some other way (ECS `event.type`, OCSF `class_uid`).
    kind_named: bool,
    image: bool,
    command_line: bool,
    script_text: bool,
}

const ID_KEYS: [&str; 3] = ["EventID", "EventCode", "event_id"];
const CHANNEL_KEYS: [&str; 5] = ["Channel", "LogName", "EventLog", "source", "sourcetype"];
const PROVIDER_KEYS: [&str; 6] = ["ProviderName", "Provider", "SourceName", "Source", "EventSourceName", "Name"];
const IMAGE_KEYS: [&str; 3] = ["Image", "NewProcessName", "executable"];
const COMMAND_LINE_KEYS: [&str; 3] = ["CommandLine", "command_line", "cmd_line"];

impl Signal {
    fn of(root: &Map<String, Value>) -> Signal {
        let mut s = Signal::default();
        // Depth-first without recursion: the record's nesting is bounded already, the stack
        // it would take in the Fluent Bit module's interpreter is not worth spending.
        let mut pending: Vec<(&Map<String, Value>, bool)> = vec![(root, false)];
        while let Some((map, under_event)) = pending.pop() {
            for (whole_key, value) in map {
                let key = whole_key.trim_start_matches(['@', '#']);
                let key = key.rsplit('.').next().unwrap_or(key);
                let in_event = under_event || whole_key.starts_with("event.");
                match value {
                    Value::Object(inner) => {
                        if one_of(key, &ID_KEYS)
                            && let Some(id) = inner.get("#text").or_else(|| inner.get("Value"))
                        {
                            s.id(id);
                        }
                        pending.push((inner, key == "event"));
                        continue;
                    }
                    Value::Array(items) => {
                        for item in items {
                            if let Value::Object(inner) = item {
                                pending.push((inner, false));
                            }
                        }
                        continue;
                    }
                    _ => {}
                }
                if one_of(key, &ID_KEYS) || (in_event && key == "code") {
                    s.id(value);
                }
                if (in_event && key == "type") || same_name(key, "class_uid") {
                    s.kind_named = true;
                }
                let Some(v) = value.as_str().filter(|v| !v.trim().is_empty() && v.trim() != "-") else { continue };
                if one_of(key, &CHANNEL_KEYS) {
                    s.channel.note(v);
                } else if one_of(key, &PROVIDER_KEYS) || (in_event && key == "provider") {
                    s.provider.note(v);
                }
                s.image |= one_of(key, &IMAGE_KEYS);
                s.command_line |= one_of(key, &COMMAND_LINE_KEYS);
                s.script_text |= same_name(key, "ScriptBlockText");
                if v.starts_with('<') && !v.starts_with("<Event") {
                    // Event data kept as XML text (Azure Monitor's `EventData`); a whole event
                    // carried as text is that event's reading to judge.
                    s.image |= v.contains("\"Image\"") || v.contains("'Image'") || v.contains("NewProcessName");
                    s.command_line |= v.contains("\"CommandLine\"") || v.contains("'CommandLine'");
                    s.script_text |= v.contains("ScriptBlockText");
                }
            }
        }
        s
    }

    fn id(&mut self, v: &Value) {
        let id = match v {
            Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Value::String(t) => t.trim().parse().ok(),
            _ => None,
        };
        self.ids.extend(id);
    }

    /// What kind of event the record carries, by its own words, with why. Channels decide as
    /// the rules' macros do: a provider counts where no channel is named.
    fn wants(&self) -> Option<(Want, &'static str)> {
        let has = |id| self.ids.contains(&id);
        let (channel, provider) = (&self.channel, &self.provider);
        let from = |pick: fn(&Origin) -> bool| pick(channel) || (!channel.named() && pick(provider));
        if has(1) && from(|o| o.sysmon) {
            Some((Want::Process, "a Sysmon process creation (EventID 1)"))
        } else if has(4688) && (from(|o| o.security) || (!channel.named() && !provider.named())) {
            Some((Want::Process, "a Security process creation (EventID 4688)"))
        } else if has(4104) && from(|o| o.powershell) {
            Some((Want::ScriptBlock, "a PowerShell script block (EventID 4104)"))
        } else if self.script_text && (self.ids.is_empty() || has(4104)) && !channel.named() && !provider.named() {
            Some((Want::ScriptBlock, "a ScriptBlockText"))
        } else if self.image && self.command_line && self.ids.is_empty() && !self.kind_named {
            Some((Want::Process, "an image and a command line"))
        } else {
            None
        }
    }
}

#[derive(PartialEq, Eq)]
enum Want {
    Process,
    ScriptBlock,
}

/// Whether a reading got what the record holds: the kind it names, and its command line or
/// script text where the record has one.
fn whole(read: &Event, want: &Want, signal: &Signal) -> Result<(), String> {
    match (&read.kind, want) {
        (Kind::ProcessCreation, Want::Process) if signal.command_line && read.fields.process.is_none() => {
            Err("without its command line".into())
        }
        (Kind::ProcessCreation, Want::Process) => Ok(()),
        (Kind::ScriptBlock(b), Want::ScriptBlock) if signal.script_text && b.text.is_empty() => {
            Err("without its script text".into())
        }
        (Kind::ScriptBlock(_), Want::ScriptBlock) => Ok(()),
        (Kind::Other(what), _) => Err(format!("as {what}")),
        (Kind::ProcessCreation, _) => Err("as a process creation".into()),
        (Kind::ScriptBlock(_), _) => Err("as a script block".into()),
    }
}

/// The reading, or the error that says what it missed of what the record carries.
pub(super) fn check(root: &Map<String, Value>, read: Result<Event, ScanError>) -> Result<Event, ScanError> {
    let event = match read {
        Ok(event) => event,
        // A record no shape reads says so already; what it carries tells the reader why it matters.
        Err(mut e) if e.kind == ErrorKind::UnknownShape => {
            if let Some((_, what)) = Signal::of(root).wants() {
                e.message = format!("{}; the record carries {what}", e.message);
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    // Only a reading that lacks something the record might hold is looked through: another
    // kind of event, a process creation without a command line, a script block without text.
    if !matches!(event.kind, Kind::Other(_)) && !event.lacks_payload() {
        return Ok(event);
    }
    let signal = Signal::of(root);
    let Some((want, what)) = signal.wants() else { return Ok(event) };
    match whole(&event, &want, &signal) {
        Ok(()) => Ok(event),
        Err(missed) => Err(ScanError::new(
            ErrorKind::UnknownShape,
            format!(
                "the record carries {what}, but no shape reads it whole: read as {} (by {}) {missed}{}",
                event.format.as_str(),
                if event.recognised_by.is_empty() { "its content" } else { event.recognised_by },
                missing_hint(&signal, &want)
            ),
        )),
    }
}

/// What the record lacks that a shape needs, where the signal shows it.
fn missing_hint(signal: &Signal, want: &Want) -> &'static str {
    let origin = signal.channel.named() || signal.provider.named();
    match want {
        Want::Process if signal.ids.is_empty() || !origin => {
            "; a process creation is read by its event id with its channel or provider (EventID 1 and \
             Microsoft-Windows-Sysmon/Operational, or 4688 and Security)"
        }
        Want::ScriptBlock if signal.ids.is_empty() || !origin => {
            "; a script block is read by EventID 4104 with PowerShell's channel (or provider), as the \
             `powershell` macro reads it"
        }
        _ => "",
    }
}
