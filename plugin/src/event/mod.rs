//! Event shapes: recognising what a shipper sent and normalising it into the CIM
//! `Endpoint.Processes` fields the Splunk rule reads.
//!
//! Windows-native shapes (event XML, EVTX JSON, xmltodict, Winlogbeat, NXLog, Fluent Bit's
//! winevtlog, Azure Monitor's tables, Splunk's results, rendered messages) all carry
//! Sysmon/Security event data under Windows' own names; they fill a [`windows::WinEvent`] and
//! share one mapping to CIM, so that the Sysmon and 4688 rules of the Splunk add-ons live in
//! one place. ECS, OCSF and CIM records map directly. This module picks the reader by the
//! first bytes: XML, JSON, Splunk's classic text, or any of those after a syslog header.

mod evtx_json;
mod json;
mod rendered;
mod windows;
mod xml;

pub use windows::SCRIPT_BLOCK_EVENT_ID;

use serde::Deserialize;

use crate::error::{ErrorKind, ScanError};

/// The shapes the detector reads. `Auto` recognises each event from its own content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    #[default]
    Auto,
    WindowsXml,
    EvtxJson,
    Xmltodict,
    Winlogbeat,
    Winlogbeat6,
    Ecs,
    Nxlog,
    Ocsf,
    Cim,
    FluentBit,
    AzureMonitor,
    Splunk,
}

impl Format {
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::WindowsXml => "windows-xml",
            Format::EvtxJson => "evtx-json",
            Format::Xmltodict => "xmltodict",
            Format::Winlogbeat => "winlogbeat",
            Format::Winlogbeat6 => "winlogbeat6",
            Format::Ecs => "ecs",
            Format::Nxlog => "nxlog",
            Format::Ocsf => "ocsf",
            Format::Cim => "cim",
            Format::FluentBit => "fluent-bit",
            Format::AzureMonitor => "azure-monitor",
            Format::Splunk => "splunk",
        }
    }
}

/// Whether the event is one a rule can fire on at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    ProcessCreation,
    /// PowerShell script-block logging, EventID 4104 (`dest`, `time` and `user_id` of the
    /// fields are set; the rest are `None`).
    ScriptBlock(Box<ScriptBlock>),
    /// Anything else (process termination, module logging...), described for humans.
    Other(String),
}

/// One EventID 4104 record: one part of a script block's text. PowerShell cuts a script
/// longer than about 32 K characters into parts that share `id` and are numbered
/// `message_number` of `message_total`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptBlock {
    /// `ScriptBlockText`; empty when the event does not carry it.
    pub text: String,
    /// `ScriptBlockId`, a GUID.
    pub id: Option<String>,
    pub message_number: Option<u32>,
    pub message_total: Option<u32>,
    /// `Path`: the script file the block came from, if any.
    pub path: Option<String>,
}

/// The CIM `Endpoint.Processes` fields, as extracted (before the data model's defaults).
/// `None` means the event does not carry the field; `-` and empty values are `None` too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessFields {
    pub time: Option<String>,
    pub action: Option<String>,
    pub dest: Option<String>,
    pub user: Option<String>,
    pub user_id: Option<String>,
    pub process: Option<String>,
    pub process_name: Option<String>,
    pub process_path: Option<String>,
    pub process_id: Option<String>,
    pub process_guid: Option<String>,
    pub process_hash: Option<String>,
    pub process_integrity_level: Option<String>,
    pub original_file_name: Option<String>,
    pub parent_process: Option<String>,
    pub parent_process_name: Option<String>,
    pub parent_process_path: Option<String>,
    pub parent_process_id: Option<String>,
    pub parent_process_guid: Option<String>,
    pub vendor_product: Option<String>,
}

/// One recognised event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub format: Format,
    /// What the shape was chosen by: the key (or the element) of the record that marks it;
    /// empty where no recognition took place. Static, so the hot path allocates nothing for it.
    pub recognised_by: &'static str,
    pub kind: Kind,
    pub fields: ProcessFields,
}

impl Event {
    /// Whether a process creation lacks its command line, or a script block its text: what
    /// the rules read of them.
    fn lacks_payload(&self) -> bool {
        match &self.kind {
            Kind::ProcessCreation => self.fields.process.is_none(),
            Kind::ScriptBlock(block) => block.text.is_empty(),
            Kind::Other(_) => false,
        }
    }

    /// Whether the event has what a rule reads of it: the command line and the process's name
    /// of a process creation, the text of a script block; and the host either way.
    fn is_whole(&self) -> bool {
        let read = match &self.kind {
            Kind::ProcessCreation => self.fields.process.is_some() && self.fields.process_name.is_some(),
            Kind::ScriptBlock(block) => !block.text.is_empty(),
            Kind::Other(_) => return false,
        };
        read && self.fields.dest.is_some()
    }

    /// Fills what this event lacks from another reading of the same record, where it read the
    /// same kind of event.
    fn fill_gaps(&mut self, other: Event) {
        match (&mut self.kind, other.kind) {
            (Kind::ProcessCreation, Kind::ProcessCreation) => {}
            (Kind::ScriptBlock(mine), Kind::ScriptBlock(theirs)) => {
                if mine.text.is_empty() {
                    mine.text = theirs.text;
                }
                mine.id = mine.id.take().or(theirs.id);
                mine.message_number = mine.message_number.or(theirs.message_number);
                mine.message_total = mine.message_total.or(theirs.message_total);
                mine.path = mine.path.take().or(theirs.path);
            }
            _ => return,
        }
        self.fields.fill_gaps(other.fields);
    }
}

impl ProcessFields {
    fn fill_gaps(&mut self, other: ProcessFields) {
        // The destructuring names every field (no `..`): a field added later fails to compile
        // here until it is filled too.
        macro_rules! fill {
            ($($field:ident),*) => {
                let ProcessFields { $($field),* } = other;
                $( if self.$field.is_none() { self.$field = $field; } )*
            };
        }
        fill!(
            time,
            action,
            dest,
            user,
            user_id,
            process,
            process_name,
            process_path,
            process_id,
            process_guid,
            process_hash,
            process_integrity_level,
            original_file_name,
            parent_process,
            parent_process_name,
            parent_process_path,
            parent_process_id,
            parent_process_guid,
            vendor_product
        );
    }
}

/// Recognises and normalises one event. `text` is one whole event (one line of a log).
/// Objects, arrays or elements nested deeper than `max_nesting` are refused.
/// A JSON record of no known shape is searched for an event carried as text (`{"log":
/// "<Event…"}`, as a shipper's input without a Windows parser makes it).
pub fn parse(text: &str, format: Format, max_nesting: usize) -> Result<Event, ScanError> {
    parse_text(text, format, max_nesting, Paths { embedded: true, typed: true })
}

/// [`parse`] without the typed reading of EVTX JSON (`evtx_json`): every JSON event through
/// a `serde_json::Value`. For the tests that prove the two readings agree over the corpus.
#[doc(hidden)]
pub fn parse_generally(text: &str, format: Format, max_nesting: usize) -> Result<Event, ScanError> {
    parse_text(text, format, max_nesting, Paths { embedded: true, typed: false })
}

/// Which ways of reading an event are open. `embedded`: whether a record of no known shape
/// may carry an event as text (one level only); `typed`: whether EVTX JSON may be read
/// without building a `Value`.
#[derive(Clone, Copy)]
struct Paths {
    embedded: bool,
    typed: bool,
}

fn parse_text(text: &str, format: Format, max_nesting: usize, paths: Paths) -> Result<Event, ScanError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).trim();
    if format == Format::Auto
        && let Some((header, event)) = after_syslog_header(text)
    {
        return parse_text(event, format, max_nesting, paths).map_err(|mut e| {
            e.message = format!("the event after the syslog header `{header}`: {}", e.message);
            e
        });
    }
    match (text.as_bytes().first(), format) {
        (None, _) => Err(ScanError::new(ErrorKind::Empty, "empty event")),
        (Some(b'<'), Format::Auto | Format::WindowsXml) => xml::parse(text, max_nesting),
        (Some(b'{'), Format::Auto) => json::parse(text, None, max_nesting, paths),
        (Some(b'{'), f) if f != Format::WindowsXml => json::parse(text, Some(f), max_nesting, paths),
        (Some(_), Format::Auto | Format::Splunk) if rendered::is_classic(text) => {
            json::flat_fields(&rendered::classic(text), Format::Splunk, max_nesting, "LogName= lines (WinEventLog)")
        }
        (Some(b'['), Format::Auto) => Err(ScanError::new(
            ErrorKind::UnknownShape,
            "a JSON array, not one event: send one event per line (`jq -c '.[]'`)",
        )),
        (Some(_), Format::Auto) => {
            Err(ScanError::new(ErrorKind::UnknownShape, "not an event: expected a JSON object or Windows event XML"))
        }
        (Some(_), f) => Err(ScanError::new(
            ErrorKind::UnknownShape,
            format!("the configuration forces format {} but this event is not of that kind", f.as_str()),
        )),
    }
}

/// A syslog message whose text is the event (NXLog's `to_syslog_bsd()` or an `om_tcp` over
/// syslog with `$Message = to_xml()`, rsyslog writing what it received): the header, and the
/// event from its first `<Event` or `{`. A header is `<PRI>` (RFC 3164 and 5424), or one line
/// of text before the event that holds neither `<` nor `{`.
fn after_syslog_header(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    let pri = b.first() == Some(&b'<') && b.get(1).is_some_and(u8::is_ascii_digit) && {
        let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        (1..=3).contains(&digits) && b.get(1 + digits) == Some(&b'>')
    };
    let plain = !matches!(b.first(), Some(b'<' | b'{' | b'['));
    if !pri && !plain {
        return None;
    }
    // Past `<PRI>`, the event is the first `<` or `{`; in plain text, only when what comes
    // before it is one line.
    let from = if pri { text.find('>')? + 1 } else { 0 };
    let at = from + memchr::memchr2(b'<', b'{', &b[from..])?;
    let header = &text[..at];
    let event = &text[at..];
    let starts_event = event.starts_with("<Event") || event.starts_with("<?xml") || event.starts_with("{\"");
    (starts_event && (pri || !header.contains('\n'))).then(|| (header.trim(), event))
}

/// A value as the Splunk add-ons treat it: `-` and empty mean absent.
pub(crate) fn present(value: &str) -> Option<&str> {
    let v = value.trim();
    (!v.is_empty() && v != "-").then_some(value)
}

/// Whether `key` spells `name` but for case and underscores (`command_line`, `COMMANDLINE`
/// and `CommandLine` are one name), as pipelines respell field names.
// Not inlined: unrolled into every loop over a list of names, it was most of the module's
// growth for reading respelled records.
#[inline(never)]
pub(crate) fn same_name(key: &str, name: &str) -> bool {
    let mut key = key.bytes().filter(|b| *b != b'_');
    let mut name = name.bytes().filter(|b| *b != b'_');
    loop {
        match (key.next(), name.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(&b) => {}
            _ => return false,
        }
    }
}

/// Whether `key` spells one of `names` (see [`same_name`]).
#[inline(never)]
pub(crate) fn one_of(key: &str, names: &[&str]) -> bool {
    names.iter().any(|name| same_name(key, name))
}

/// The file name of a Windows (or POSIX) path.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// Turns the timestamp spellings of the various shapes into ISO 8601 UTC where that is
/// unambiguous (`2024-10-21 11:31:56.6587087` becomes `2024-10-21T11:31:56.6587087Z`,
/// epoch milliseconds become a date); anything else is kept as given.
pub(crate) fn normalise_time(raw: &str) -> String {
    let t = raw.trim();
    let b = t.as_bytes();
    let date_like = b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && b[13] == b':'
        && b[16] == b':';
    if date_like {
        let mut out = String::with_capacity(t.len() + 1);
        out.push_str(&t[..10]);
        out.push('T');
        out.push_str(&t[11..]);
        let tail = t.get(19..).unwrap_or("");
        // `2026-03-02 11:15:30 +0100`, as Fluent Bit's winevtlog writes local time.
        let b_tail = tail.as_bytes();
        if b_tail.len() == 6
            && b_tail[0] == b' '
            && matches!(b_tail[1], b'+' | b'-')
            && b_tail[2..].iter().all(u8::is_ascii_digit)
        {
            out.truncate(19);
            out.push_str(&format!("{}:{}", &tail[1..4], &tail[4..]));
            return out;
        }
        let has_zone = tail.contains(['Z', 'z', '+', '-']);
        if !has_zone {
            out.push('Z');
        }
        return out;
    }
    if !t.is_empty()
        && t.len() <= 16
        && t.bytes().all(|c| c.is_ascii_digit())
        && let Ok(n) = t.parse::<i64>()
    {
        // OCSF `time` is epoch milliseconds; eleven digits or fewer are seconds.
        let (secs, millis) = if t.len() > 11 { (n / 1000, n % 1000) } else { (n, 0) };
        return format_epoch(secs, millis);
    }
    t.to_string()
}

/// Milliseconds since the epoch of an ISO 8601 time as [`normalise_time`] writes it
/// (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`).
pub fn epoch_millis(iso: &str) -> Option<i64> {
    let b = iso.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { iso.get(r)?.parse().ok() };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &iso[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let ms: String = frac[..digits].chars().chain("000".chars()).take(3).collect();
        millis = ms.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_minutes = match rest {
        "" | "Z" | "z" => 0,
        zone if zone.len() == 6 && zone.as_bytes()[3] == b':' => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (zone[1..3].parse::<i64>().ok()? * 60 + zone[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    // Howard Hinnant's days-from-civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(secs * 1000 + millis)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` from a Unix time (Howard Hinnant's civil-from-days).
fn format_epoch(secs: i64, millis: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(normalise_time("2024-10-21T11:31:57.615954Z"), "2024-10-21T11:31:57.615954Z");
        assert_eq!(normalise_time("2024-10-21 11:31:56.6587087"), "2024-10-21T11:31:56.6587087Z");
        assert_eq!(normalise_time("2020-10-27T20:00:14.32+02:00"), "2020-10-27T20:00:14.32+02:00");
        assert_eq!(normalise_time("2026-03-02 11:15:30 +0100"), "2026-03-02T11:15:30+01:00");
        assert_eq!(normalise_time("1729510317615"), "2024-10-21T11:31:57.615Z");
        assert_eq!(normalise_time("0"), "1970-01-01T00:00:00.000Z");
        assert_eq!(normalise_time("yesterday"), "yesterday");
        assert_eq!(epoch_millis("2024-10-21T11:31:57.615Z"), Some(1_729_510_317_615));
        assert_eq!(epoch_millis("2024-10-21T13:31:57.615954+02:00"), Some(1_729_510_317_615));
        assert_eq!(epoch_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_millis("2024-10-21 11:31"), None);
        for ms in [0i64, 1_729_510_317_615, 951_782_400_000] {
            assert_eq!(epoch_millis(&format_epoch(ms / 1000, ms % 1000)), Some(ms));
        }
    }

    #[test]
    fn paths_and_placeholders() {
        assert_eq!(basename(r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"), "powershell.exe");
        assert_eq!(basename("powershell.exe"), "powershell.exe");
        assert_eq!(present("-"), None);
        assert_eq!(present("  "), None);
        assert_eq!(present("x"), Some("x"));
    }

    #[test]
    fn an_event_after_a_syslog_header() {
        let sysmon = "<Event><EventID>1</EventID><SourceName>Microsoft-Windows-Sysmon</SourceName><Hostname>WS01</Hostname><Image>C:\\p\\powershell.exe</Image><CommandLine>powershell -c 1</CommandLine></Event>";
        for line in [
            format!("<14>Mar  2 11:15:30 WS01 Microsoft-Windows-Sysmon[2212]: {sysmon}"),
            format!("<14>1 2026-03-02T11:15:30Z WS01 nxlog 2212 - - {sysmon}"),
            format!("Mar  2 11:15:30 WS01 nxlog: {sysmon}"),
        ] {
            let e = parse(&line, Format::Auto, 64).unwrap();
            assert_eq!((e.kind, e.fields.dest.as_deref()), (Kind::ProcessCreation, Some("WS01")), "{line}");
        }
        let broken = parse("<14>Mar  2 11:15:30 WS01 x: <Event><EventID>", Format::Auto, 64).unwrap_err();
        assert!(
            broken.message.starts_with("the event after the syslog header `<14>Mar  2 11:15:30 WS01 x:`"),
            "{}",
            broken.message
        );
        // Text with no event after its first line is no event.
        assert_eq!(parse("hello\n<Event/>", Format::Auto, 64).unwrap_err().kind, ErrorKind::UnknownShape);
    }

    #[test]
    fn shapeless_input_is_refused() {
        assert_eq!(parse("", Format::Auto, 64).unwrap_err().kind, ErrorKind::Empty);
        assert_eq!(parse("\u{feff}  ", Format::Auto, 64).unwrap_err().kind, ErrorKind::Empty);
        assert_eq!(parse("hello", Format::Auto, 64).unwrap_err().kind, ErrorKind::UnknownShape);
        assert_eq!(parse("{}", Format::WindowsXml, 64).unwrap_err().kind, ErrorKind::UnknownShape);
    }
}
