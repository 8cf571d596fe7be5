//! EVTX JSON (`evtx_dump`, the `evtx` crate), read without building a `serde_json::Value`:
//! only the fields the mapping needs, strings borrowed from the text where they hold no
//! escape, everything else skipped. Building the whole tree (a `BTreeMap` and a `String` per
//! key and value) was most of what extended mode spent on a PowerShell event of this shape.
//!
//! It answers exactly as the general path (`json::evtx_like` over a `Value`) does, which
//! the tests check field by field: a repeated key counts by its last value, as in a `Value`
//! map; numbers are printed as `serde_json` prints them. Whatever it is not sure of, it
//! declines (`None`), and the general path reads the event: a key given twice in `Event` or
//! `System`, xmltodict's `@Name` spellings or `Data` list, a field of an unexpected type.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::windows::WinEvent;
use super::{Event, Format, Kind};

/// Whether `text` (a JSON object) opens with the `Event` key, as EVTX JSON does; other
/// shapes go straight to the general path, without a failed attempt here first.
pub(super) fn looks_like(text: &str) -> bool {
    text.strip_prefix('{').is_some_and(|rest| rest.trim_start().starts_with("\"Event\""))
}

/// The event as the general path reads it (its shape chosen by `Event`), or `None` when the
/// general path must decide.
/// A reading that lacks what a rule reads (a process creation without its command line, one of
/// the rules' event ids read as another kind) is declined too: whether the record holds it
/// elsewhere is for the general path's look through the whole record. Any other event read
/// here is complete as its own `System` says.
pub(super) fn event(text: &str) -> Option<Event> {
    let win = read(text)?;
    let rules_id = matches!(win.event_id, Some(1 | 4688 | super::SCRIPT_BLOCK_EVENT_ID));
    let event = Event { recognised_by: "Event", ..win.into_event(Format::EvtxJson) };
    let lacking = (rules_id && matches!(event.kind, Kind::Other(_))) || event.lacks_payload();
    (!lacking).then_some(event)
}

/// The event's data, or `None` when the general path must decide (see the module comment).
fn read(text: &str) -> Option<WinEvent> {
    let root: Root<'_> = serde_json::from_str(text).ok()?;
    let mut win = WinEvent::default();
    if let Some(system) = root.event.system {
        win.version = system.version.and_then(|v| v.0).and_then(|v| v.trim().parse().ok());
        win.channel = system.channel.and_then(|v| v.0).map(Cow::into_owned);
        win.provider = system.provider.and_then(|v| v.0).map(Cow::into_owned);
        win.computer = system.computer.and_then(|v| v.0).map(Cow::into_owned);
        win.time = system.time_created.and_then(|v| v.0).map(Cow::into_owned);
        win.user_id = system.security.and_then(|v| v.0).map(Cow::into_owned);
        if let Some(id) = system.event_id.and_then(|v| v.0) {
            win.set_event_id(&id);
        }
    }
    if let Some(EventData(items)) = root.event.event_data {
        for (name, value) in items {
            if let Some(value) = value {
                win.set_data(name, value.into_owned());
            }
        }
    }
    Some(win)
}

#[derive(Deserialize)]
struct Root<'a> {
    #[serde(rename = "Event", borrow)]
    event: EvtxEvent<'a>,
}

#[derive(Deserialize)]
struct EvtxEvent<'a> {
    #[serde(rename = "System", borrow, default)]
    system: Option<System<'a>>,
    #[serde(rename = "EventData", borrow, default)]
    event_data: Option<EventData<'a>>,
}

#[derive(Deserialize)]
struct System<'a> {
    #[serde(rename = "Provider", borrow, default)]
    provider: Option<Attribute<'a, NAME>>,
    #[serde(rename = "EventID", borrow, default)]
    event_id: Option<Element<'a>>,
    #[serde(rename = "Version", borrow, default)]
    version: Option<Element<'a>>,
    #[serde(rename = "TimeCreated", borrow, default)]
    time_created: Option<Attribute<'a, SYSTEM_TIME>>,
    #[serde(rename = "Channel", borrow, default)]
    channel: Option<Element<'a>>,
    #[serde(rename = "Computer", borrow, default)]
    computer: Option<Element<'a>>,
    #[serde(rename = "Security", borrow, default)]
    security: Option<Attribute<'a, USER_ID>>,
}

/// A JSON scalar as the general path's `json::text` gives it: strings as they are, numbers
/// and booleans printed, anything else (null, objects, arrays) absent.
struct Scalar<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar(Some(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar(Some(Cow::Owned(v.to_string()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar(Some(Cow::Owned(v))))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar(Some(Cow::Owned(serde_json::Number::from(v).to_string()))))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar(Some(Cow::Owned(serde_json::Number::from(v).to_string()))))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar(serde_json::Number::from_f64(v).map(|n| Cow::Owned(n.to_string()))))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar(None))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar(None))
    }
}

/// An object key, borrowed from the text unless it holds an escape (serde's own `Cow<str>`
/// always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// An XML element as evtx renders it: a scalar, or `{"#text": …}` beside its attributes
/// (the general path's `element_text`).
struct Element<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Element<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

/// Forwards every scalar to [`ScalarVisitor`]; only an object is read differently.
macro_rules! scalars_as_text {
    ($wrap:expr) => {
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            ScalarVisitor.visit_borrowed_str(v).map(|s| $wrap(s.0))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            ScalarVisitor.visit_str(v).map(|s| $wrap(s.0))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            ScalarVisitor.visit_string(v).map(|s| $wrap(s.0))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            ScalarVisitor.visit_u64(v).map(|s| $wrap(s.0))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            ScalarVisitor.visit_i64(v).map(|s| $wrap(s.0))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            ScalarVisitor.visit_f64(v).map(|s| $wrap(s.0))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            ScalarVisitor.visit_bool(v).map(|s| $wrap(s.0))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(None))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap(None))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            ScalarVisitor.visit_seq(seq).map(|s| $wrap(s.0))
        }
    };
}

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an element")
    }

    scalars_as_text!(Element);

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        scalar_under(map, "#text").map(Element)
    }
}

/// The scalar under `wanted` in an object (by its last value, as in a `Value` map), the
/// rest skipped.
fn scalar_under<'de, A: MapAccess<'de>>(mut map: A, wanted: &str) -> Result<Option<Cow<'de, str>>, A::Error> {
    let mut found = None;
    while let Some(key) = map.next_key::<Key<'de>>()? {
        if key.0 == wanted {
            found = map.next_value::<Scalar<'de>>()?.0;
        } else {
            map.next_value::<IgnoredAny>()?;
        }
    }
    Ok(found)
}

const NAME: u8 = 0;
const SYSTEM_TIME: u8 = 1;
const USER_ID: u8 = 2;

/// An attribute as evtx renders it, `{"#attributes": {"Name": …}}` (the general path's
/// `attribute`). xmltodict's `@Name` is declined: that shape is the general path's.
struct Attribute<'a, const WHICH: u8>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a, const WHICH: u8> Deserialize<'de> for Attribute<'a, WHICH> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AttributeVisitor::<WHICH>)
    }
}

struct AttributeVisitor<const WHICH: u8>;

impl<const WHICH: u8> AttributeVisitor<WHICH> {
    const NAME: &'static str = match WHICH {
        NAME => "Name",
        SYSTEM_TIME => "SystemTime",
        _ => "UserID",
    };
}

impl<'de, const WHICH: u8> Visitor<'de> for AttributeVisitor<WHICH> {
    type Value = Attribute<'de, WHICH>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an element with attributes")
    }

    scalars_as_text!(|_: Option<Cow<'de, str>>| Attribute(None));

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 == "#attributes" {
                found = map.next_value::<Attributes<'de, WHICH>>()?.0;
            } else if key.0.strip_prefix('@') == Some(Self::NAME) {
                return Err(de::Error::custom("xmltodict spelling"));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Attribute(found))
    }
}

/// The `#attributes` object: the one attribute wanted, last spelling wins.
struct Attributes<'a, const WHICH: u8>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a, const WHICH: u8> Deserialize<'de> for Attributes<'a, WHICH> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const W: u8>;
        impl<'de, const W: u8> Visitor<'de> for V<W> {
            type Value = Attributes<'de, W>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("attributes")
            }

            scalars_as_text!(|_: Option<Cow<'de, str>>| Attributes(None));

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                scalar_under(map, AttributeVisitor::<W>::NAME).map(Attributes)
            }
        }
        d.deserialize_any(V::<WHICH>)
    }
}

/// `EventData`: the wanted items by name, each by its last value. A `Data` key (xmltodict's
/// list of named items) is declined.
struct EventData<'a>(Vec<(&'static str, Option<Cow<'a, str>>)>);

impl<'de: 'a, 'a> Deserialize<'de> for EventData<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EventData<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("event data")
            }

            scalars_as_text!(|_: Option<Cow<'de, str>>| EventData(Vec::new()));

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut items: Vec<(&'static str, Option<Cow<'de, str>>)> = Vec::new();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    if key.0 == "Data" {
                        return Err(de::Error::custom("xmltodict data list"));
                    }
                    match WinEvent::wanted(&key.0) {
                        Some(name) => {
                            let value = map.next_value::<Scalar<'de>>()?.0;
                            match items.iter_mut().find(|(n, _)| *n == name) {
                                Some(item) => item.1 = value,
                                None => items.push((name, value)),
                            }
                        }
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(EventData(items))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Format;

    fn fast(text: &str) -> Option<super::super::Event> {
        event(text)
    }

    /// The general path's answer, for comparing with.
    fn read_generally(text: &str) -> Option<super::super::Event> {
        super::super::parse_generally(text, Format::Auto, 64).ok()
    }

    const SYSMON: &str = r##"{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"{5770385F}"}},"EventID":1,"Version":5,"Level":4,"TimeCreated":{"#attributes":{"SystemTime":"2024-10-20T16:31:02.123Z"}},"EventRecordID":17990,"Correlation":null,"Execution":{"#attributes":{"ProcessID":2548}},"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS01.corp","Security":{"#attributes":{"UserID":"S-1-5-18"}}},"EventData":{"RuleName":"-","UtcTime":"2024-10-20 16:31:02.120","ProcessGuid":"{G}","ProcessId":4242,"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","OriginalFileName":"PowerShell.EXE","CommandLine":"powershell.exe -c \"Invoke-Command -ComputerName FS02 {1}\"","User":"CORP\\alice","ParentImage":"C:\\Windows\\explorer.exe","ParentProcessId":7.5,"IntegrityLevel":true}}}"##;

    #[test]
    fn reads_what_the_general_path_reads() {
        let cases = [
            SYSMON.to_string(),
            // Elements as objects with #text, a repeated data item (the last counts, also when
            // it is null), a null System field, numbers of every kind.
            SYSMON.replace(r#""EventID":1"#, r##""EventID":{"#attributes":{"Qualifiers":0},"#text":1}"##),
            SYSMON.replace(r#""RuleName":"-","#, r#""CommandLine":"first","Image":"x.exe","#),
            SYSMON
                .replace(r#""RuleName":"-","#, r#""Image":"powershell.exe","#)
                .replace(r#""User":"CORP\\alice","#, r#""User":"CORP\\alice","Image":null,"#),
            SYSMON.replace(r#""Channel":"Microsoft-Windows-Sysmon/Operational""#, r#""Channel":null"#),
            SYSMON.replace(r#""Version":5"#, r#""Version":" 5 ""#),
            SYSMON.replace(r#""ProcessId":4242"#, r#""ProcessId":-1e400"#.replace("e400", "e3").as_str()),
            SYSMON.replace(r#""EventData":{"#, r#""EventData":{"Extra":{"a":[1,{"b":2}]},"#),
        ];
        for text in &cases {
            let fast = fast(text);
            assert!(fast.is_some(), "declined {text}");
            assert_eq!(fast, read_generally(text), "{text}");
        }
        // A reading that lacks what the record holds is the general path's to judge: a command
        // line outside `EventData` is an error, not a silence.
        let elsewhere = SYSMON.replace(r#""EventData":{"#, r#""EventData":null,"Other":{"#);
        assert!(fast(&elsewhere).is_none());
        let general = super::super::parse_generally(&elsewhere, Format::Auto, 64);
        assert_eq!(super::super::parse(&elsewhere, Format::Auto, 64), general);
        assert!(general.unwrap_err().message.contains("without its command line"));
        let event = super::super::parse(SYSMON, Format::Auto, 64).unwrap();
        assert_eq!(event.fields.process_id.as_deref(), Some("4242"));
        assert_eq!(event.fields.dest.as_deref(), Some("WS01.corp"));
    }

    #[test]
    fn declines_what_it_is_not_sure_of() {
        for text in [
            SYSMON.replace(r##"{"#attributes":{"Name":"Microsoft-Windows-Sysmon","##, r#"{"@Name":"x","#),
            SYSMON.replace(r#""EventData":{"#, r#""EventData":{"Data":[],"#),
            SYSMON.replace(r#""Level":4"#, r#""Computer":"twice""#),
            SYSMON.replace(r#""EventID":1"#, r#""EventID":1,"EventID":4688"#),
            SYSMON.replace(r#""System":{"#, r#""System":"text","Unused":{"#),
            SYSMON.replace(r#""System":{"#, r#""System":{"Channel":"first","#),
            SYSMON[..SYSMON.len() - 2].to_string(),
        ] {
            assert!(read(&text).is_none(), "{text}");
        }
    }

    #[test]
    fn only_the_event_key_first_is_tried() {
        assert!(looks_like(SYSMON));
        assert!(looks_like("{ \n \"Event\": {}}"));
        assert!(!looks_like(r#"{"winlog":{},"Event":{}}"#));
    }
}
