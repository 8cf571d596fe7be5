//! Windows event XML, one `<Event>` per line, as `XmlWinEventLog`, wevtutil and the `evtx`
//! crate render it: single or double quotes, any namespace prefix, entities and character
//! references decoded. Read with quick-xml as a stream, keeping only what the mapping needs.
//! A DOCTYPE or a custom entity is refused: nothing is ever expanded.
//!
//! Also the XML that is not a whole Windows event but carries one: NXLog's `to_xml()` (an
//! `<Event>` whose children are the fields of a flat record, no `<System>`), and the event-data
//! fragments Azure Monitor keeps as strings (`<DataItem><EventData><Data Name=…>` in the
//! `Event` table's `EventData`, `<EventData>` in `SecurityEvent`'s, `<Param>` lists in
//! `ParameterXml`).

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event as XmlEvent};
use serde_json::{Map, Value};

use super::windows::WinEvent;
use super::{Event, Format};
use crate::error::{ErrorKind, ScanError};

/// What an open element is, as far as the mapping cares: its parent is all that decides
/// what a child means, so no element name is copied.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    System,
    EventData,
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Capture {
    EventId,
    Version,
    Channel,
    Computer,
    Data,
    /// A child of a `<System>`-less `<Event>`: one field of NXLog's `to_xml()`.
    Field,
}

fn broken(why: impl Into<String>) -> ScanError {
    ScanError::new(ErrorKind::BrokenXml, why)
}

fn too_deep(max_depth: usize) -> ScanError {
    ScanError::new(ErrorKind::TooDeep, format!("XML nested deeper than {max_depth} elements (limits.max_nesting)"))
}

/// `max_depth` bounds element nesting (a real event needs three levels: Event/EventData/Data).
pub(super) fn parse(text: &str, max_depth: usize) -> Result<Event, ScanError> {
    let mut reader = Reader::from_str(text);
    let mut event = WinEvent::default();
    // The open elements; `Event` must be the root.
    let mut stack: Vec<Open> = Vec::with_capacity(8);
    let mut capture: Option<(Capture, Option<&'static str>)> = None;
    let mut value = String::new();
    let (mut saw_root, mut saw_system) = (false, false);
    // NXLog's `to_xml()`: the root's children by name, until a `<System>` says otherwise.
    let mut fields = Map::new();
    let mut field_name = String::new();

    loop {
        let ev = reader.read_event().map_err(|e| broken(format!("at byte {}: {e}", reader.error_position())))?;
        match ev {
            XmlEvent::Start(ref start) | XmlEvent::Empty(ref start) => {
                let is_empty = matches!(ev, XmlEvent::Empty(_));
                let local = start.local_name();
                let name = local.as_ref();
                if stack.is_empty() {
                    if saw_root {
                        return Err(broken("more than one root element"));
                    }
                    if name != b"Event" {
                        return Err(ScanError::new(
                            ErrorKind::UnknownShape,
                            format!("XML root is <{}>, not a Windows <Event>", String::from_utf8_lossy(name)),
                        ));
                    }
                    saw_root = true;
                }
                if stack.len() >= max_depth {
                    return Err(too_deep(max_depth));
                }
                let wanted = match (stack.last(), name) {
                    (Some(Open::System), b"EventID") => Some((Capture::EventId, None)),
                    (Some(Open::System), b"Version") => Some((Capture::Version, None)),
                    (Some(Open::System), b"Channel") => Some((Capture::Channel, None)),
                    (Some(Open::System), b"Computer") => Some((Capture::Computer, None)),
                    (Some(Open::System), b"Provider") => {
                        event.provider = attribute(start, b"Name")?.map(Cow::into_owned);
                        None
                    }
                    (Some(Open::System), b"Security") => {
                        event.user_id = attribute(start, b"UserID")?.map(Cow::into_owned);
                        None
                    }
                    (Some(Open::System), b"TimeCreated") => {
                        event.time = attribute(start, b"SystemTime")?.map(Cow::into_owned);
                        None
                    }
                    (Some(Open::EventData), b"Data") => {
                        attribute(start, b"Name")?.and_then(|n| WinEvent::wanted(&n)).map(|n| (Capture::Data, Some(n)))
                    }
                    (Some(_), b"System") => {
                        saw_system = true;
                        None
                    }
                    (Some(_), field) if stack.len() == 1 && !saw_system && name != b"EventData" => {
                        field_name.clear();
                        field_name.push_str(&String::from_utf8_lossy(field));
                        Some((Capture::Field, None))
                    }
                    _ => None,
                };
                let open = match name {
                    b"System" => Open::System,
                    b"EventData" => Open::EventData,
                    _ => Open::Other,
                };
                if is_empty {
                    // `<Data Name="X"/>` is an empty value: the same as absent.
                    continue;
                }
                stack.push(open);
                if wanted.is_some() {
                    value.clear();
                    capture = wanted;
                }
            }
            XmlEvent::End(_) => {
                stack.pop();
                if let Some((what, name)) = capture.take() {
                    match what {
                        Capture::EventId => event.set_event_id(&value),
                        Capture::Version => event.version = value.trim().parse().ok(),
                        Capture::Channel => event.channel = Some(value.clone()),
                        Capture::Computer => event.computer = Some(value.clone()),
                        Capture::Data => event.set_data(name.unwrap_or_default(), value.as_str()),
                        Capture::Field => {
                            // The first of a name wins, as for event data.
                            fields.entry(field_name.clone()).or_insert_with(|| Value::String(value.clone()));
                        }
                    }
                }
            }
            XmlEvent::Text(t) => {
                if capture.is_some() {
                    value.push_str(&t.decode().map_err(|e| broken(e.to_string()))?);
                } else if stack.is_empty() && !t.iter().all(u8::is_ascii_whitespace) {
                    return Err(broken("text outside the <Event> element"));
                }
            }
            XmlEvent::CData(t) => {
                if capture.is_some() {
                    value.push_str(&t.decode().map_err(|e| broken(e.to_string()))?);
                }
            }
            XmlEvent::GeneralRef(r) => {
                let ch = reference(&r)?;
                if capture.is_some() {
                    value.push(ch);
                }
            }
            XmlEvent::DocType(_) => {
                return Err(broken("a DOCTYPE is not allowed in an event (no entity expansion)"));
            }
            XmlEvent::Decl(_) | XmlEvent::PI(_) | XmlEvent::Comment(_) => {}
            XmlEvent::Eof => break,
        }
    }
    if !saw_root {
        return Err(broken("no <Event> element"));
    }
    if !stack.is_empty() {
        return Err(broken("the <Event> element is not closed"));
    }
    if !saw_system && !fields.is_empty() {
        return super::json::flat_fields(&fields, Format::Nxlog, max_depth, "<Event> fields (NXLog to_xml)");
    }
    Ok(Event { recognised_by: "<Event>", ..event.into_event(Format::WindowsXml) })
}

/// A character or predefined entity reference, decoded; any other entity is refused.
fn reference(r: &BytesRef<'_>) -> Result<char, ScanError> {
    if let Some(c) = r.resolve_char_ref().map_err(|e| broken(e.to_string()))? {
        return Ok(c);
    }
    let name = r.decode().map_err(|e| broken(e.to_string()))?;
    match quick_xml::escape::resolve_predefined_entity(&name) {
        Some(s) => Ok(s.chars().next().unwrap_or_default()),
        None => Err(broken(format!("undefined entity &{name}; (custom entities are never expanded)"))),
    }
}

/// One item of an event-data fragment.
pub(super) enum Item<'a> {
    /// `<Data Name="…">` inside an `<EventData>`, by the name the mapping knows it by.
    Data(&'static str, &'a str),
    /// `<Param>` at the top level, in order: `ParameterXml`'s positional data.
    Param(Option<&'a str>),
}

/// Reads an event-data fragment: the `<Data Name=…>` items of every `<EventData>` in it
/// (whatever wraps it: Azure Monitor's `<DataItem>`, or nothing), and top-level `<Param>`
/// elements. Only the names the mapping reads are handed on.
// One copy of the reader for every caller (a `dyn` callback): the XML reader's code is most
// of what an instance of it costs.
#[inline(never)]
pub(super) fn fragment(text: &str, max_depth: usize, each: &mut dyn FnMut(Item<'_>)) -> Result<(), ScanError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Open> = Vec::with_capacity(4);
    // What the open item is: a data item (by its name) or a top-level `<Param>`.
    let mut capture: Option<Option<&'static str>> = None;
    let mut value = String::new();
    loop {
        let ev = reader.read_event().map_err(|e| broken(format!("at byte {}: {e}", reader.error_position())))?;
        match ev {
            XmlEvent::Start(ref start) | XmlEvent::Empty(ref start) => {
                let is_empty = matches!(ev, XmlEvent::Empty(_));
                if stack.len() >= max_depth {
                    return Err(too_deep(max_depth));
                }
                let local = start.local_name();
                let wanted = match (stack.last(), local.as_ref()) {
                    (Some(Open::EventData), b"Data") => {
                        attribute(start, b"Name")?.and_then(|n| WinEvent::wanted(&n)).map(Some)
                    }
                    (None, b"Param") => Some(None),
                    _ => None,
                };
                if is_empty {
                    if wanted == Some(None) {
                        each(Item::Param(None));
                    }
                    continue;
                }
                stack.push(if local.as_ref() == b"EventData" { Open::EventData } else { Open::Other });
                if wanted.is_some() {
                    value.clear();
                    capture = wanted;
                }
            }
            XmlEvent::End(_) => {
                stack.pop();
                match capture.take() {
                    Some(Some(name)) => each(Item::Data(name, &value)),
                    Some(None) => each(Item::Param(Some(&value))),
                    None => {}
                }
            }
            XmlEvent::Text(t) if capture.is_some() => value.push_str(&t.decode().map_err(|e| broken(e.to_string()))?),
            XmlEvent::CData(t) if capture.is_some() => value.push_str(&t.decode().map_err(|e| broken(e.to_string()))?),
            XmlEvent::GeneralRef(r) => {
                let ch = reference(&r)?;
                if capture.is_some() {
                    value.push(ch);
                }
            }
            XmlEvent::DocType(_) => return Err(broken("a DOCTYPE is not allowed in event data (no entity expansion)")),
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(broken("an element of the event data is not closed"));
    }
    Ok(())
}

/// An attribute's value, borrowed unless it holds an entity.
fn attribute<'a>(start: &'a BytesStart<'_>, key: &[u8]) -> Result<Option<Cow<'a, str>>, ScanError> {
    for attr in start.attributes() {
        let attr = attr.map_err(|e| broken(e.to_string()))?;
        if attr.key.local_name().as_ref() == key {
            let v = attr.unescape_value().map_err(|e| broken(e.to_string()))?;
            return Ok(Some(v));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Kind;

    const SYSMON: &str = r#"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><Version>5</Version><TimeCreated SystemTime='2026-03-02T10:00:00.000Z'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>WS01.corp.example</Computer></System><EventData><Data Name='Image'>C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe</Data><Data Name='CommandLine'>powershell &amp; {Invoke-Command&#10;-ComputerName FS02}</Data><Data Name='User'>CORP\alice</Data><Data Name='OriginalFileName'>PowerShell.EXE</Data></EventData></Event>"#;

    #[test]
    fn reads_single_quoted_sysmon_with_entities() {
        let p = parse(SYSMON, 64).unwrap();
        assert_eq!(p.kind, Kind::ProcessCreation);
        assert_eq!(p.fields.dest.as_deref(), Some("WS01.corp.example"));
        assert_eq!(p.fields.user.as_deref(), Some("alice"));
        assert_eq!(p.fields.process.as_deref(), Some("powershell & {Invoke-Command\n-ComputerName FS02}"));
        assert_eq!(p.fields.process_name.as_deref(), Some("powershell.exe"));
        assert_eq!(p.fields.time.as_deref(), Some("2026-03-02T10:00:00.000Z"));
    }

    #[test]
    fn namespace_prefixes_are_ignored() {
        let x = SYSMON.replace("<Event xmlns='", "<e:Event xmlns:e='").replace("</Event>", "</e:Event>");
        assert_eq!(parse(&x, 64).unwrap().fields.user.as_deref(), Some("alice"));
    }

    #[test]
    fn event_data_fragments() {
        let mut got = Vec::new();
        let data = r#"<DataItem type="System.XmlData"><EventData xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><Data Name="CommandLine">a &amp; b</Data><Data Name="Unread">x</Data><Data Name="Image" /></EventData></DataItem>"#;
        fragment(data, 64, &mut |item| {
            if let Item::Data(n, v) = item {
                got.push(format!("{n}={v}"));
            }
        })
        .unwrap();
        assert_eq!(got, ["CommandLine=a & b"]);
        let mut params = Vec::new();
        fragment("<Param>1</Param><Param/><Param>x &lt; y</Param>", 64, &mut |item| {
            if let Item::Param(v) = item {
                params.push(v.map(str::to_string));
            }
        })
        .unwrap();
        assert_eq!(params, [Some("1".to_string()), None, Some("x < y".to_string())]);
        assert_eq!(fragment("<EventData><Data Name='x'>", 64, &mut |_| {}).unwrap_err().kind, ErrorKind::BrokenXml);
        assert_eq!(
            fragment(r#"<!DOCTYPE a [<!ENTITY b "c">]><Param>&b;</Param>"#, 64, &mut |_| {}).unwrap_err().kind,
            ErrorKind::BrokenXml
        );
    }

    #[test]
    fn nxlog_to_xml_is_a_flat_record() {
        let x = "<Event><EventTime>2026-03-02 11:15:30</EventTime><Hostname>WS01</Hostname><EventID>4688</EventID><SourceName>Microsoft-Windows-Security-Auditing</SourceName><Channel>Security</Channel><NewProcessName>C:\\p\\powershell.exe</NewProcessName><CommandLine>powershell&#xD;&#xA;-c 1</CommandLine><SubjectUserName>bob</SubjectUserName></Event>";
        let p = parse(x, 64).unwrap();
        assert_eq!(
            (p.format, p.kind, p.recognised_by),
            (Format::Nxlog, Kind::ProcessCreation, "<Event> fields (NXLog to_xml)")
        );
        assert_eq!(p.fields.process.as_deref(), Some("powershell\r\n-c 1"));
        assert_eq!(p.fields.user.as_deref(), Some("bob"));
    }

    #[test]
    fn refuses_what_is_not_an_event() {
        assert_eq!(parse("<Foo/>", 64).unwrap_err().kind, ErrorKind::UnknownShape);
        assert_eq!(parse("<Event><System>", 64).unwrap_err().kind, ErrorKind::BrokenXml);
        assert_eq!(parse("<Event></Evnt>", 64).unwrap_err().kind, ErrorKind::BrokenXml);
        let bomb = r#"<!DOCTYPE Event [<!ENTITY a "aaaa">]><Event>&a;</Event>"#;
        assert_eq!(parse(bomb, 64).unwrap_err().kind, ErrorKind::BrokenXml);
        assert_eq!(parse("<Event>&a;</Event>", 64).unwrap_err().kind, ErrorKind::BrokenXml);
        assert_eq!(parse("<Event/><Event/>", 64).unwrap_err().kind, ErrorKind::BrokenXml);
        let deep = format!("<Event>{}{}</Event>", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(parse(&deep, 64).unwrap_err().kind, ErrorKind::TooDeep);
    }
}
