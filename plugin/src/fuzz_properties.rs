//! What the fuzz targets (`fuzz/fuzz_targets/`) assert of any input, kept here so that the
//! stable test suite replays their committed seeds through the very same checks
//! (`tests/fuzz_seeds.rs`) and the nightly fuzzer and `cargo test` cannot drift apart. Each
//! function panics when its property does not hold.

use crate::annotation::{CimRow, Evidence};
use crate::cmdline::{Limits, ScriptLayer, analyse, decode_encoded};
use crate::event::{ProcessFields, ScriptBlock};
use crate::family;
use crate::script_block::Parts;
use crate::{Config, Detector};

/// Any text as a PowerShell command line: the analyser returns, and every piece of evidence
/// in the command line points at its own text there.
/// The same text as a `winrs` command line: the remote command's evidence, likewise.
pub fn command_line(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let analysis = analyse(line, &Limits::default());
    let evidence = analysis.invocations.iter().chain(&analysis.interactive_sessions).flat_map(|i| &i.evidence);
    evidence_stands_where_it_says(line, evidence, &analysis.layers);
    let winrs = CimRow::new(ProcessFields {
        process_name: Some(family::WINRS_NAME.into()),
        process: Some(line.into()),
        ..ProcessFields::default()
    });
    let remote = family::winrs_remote_command(&winrs, &Limits::default());
    evidence_stands_where_it_says(&winrs.process, &remote.evidence, &remote.layers);
}

fn evidence_stands_where_it_says<'e>(
    line: &str,
    evidence: impl IntoIterator<Item = &'e Evidence>,
    layers: &[ScriptLayer],
) {
    for e in evidence {
        // The command line itself, or a text the analyser derived from it (a decoded payload,
        // a child's command line, a string run as a script).
        let text = match e.layer.as_str() {
            "process" => line,
            layer => match layers.iter().find(|l| l.name == layer) {
                Some(l) => l.text.as_str(),
                None => panic!("evidence in a layer the analysis does not list: {e:?}"),
            },
        };
        let at = e.offset as usize;
        assert_eq!(text.get(at..at + e.text.len()), Some(e.text.as_str()), "{e:?}");
    }
}

/// Any text as an `-EncodedCommand` payload: decoding returns, respects its size limit, and
/// whatever it accepts as a whole command line the analyser reads.
pub fn encoded_command(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(decoded) = decode_encoded(text, 4096) {
        assert!(decoded.encode_utf16().count() * 2 <= 4096 + 4);
    }
    let line = format!("powershell -enc {text}");
    let _ = analyse(&line, &Limits::default());
}

thread_local! {
    static DETECTORS: [Detector; 4] = [
        Detector::from_json(r#"{"mode":"parity"}"#).expect("a valid configuration"),
        Detector::from_json(r#"{"mode":"extended"}"#).expect("a valid configuration"),
        // The target side's needles too, whose prefilter gates differ from the defaults'.
        Detector::new(Config { rules: crate::Rule::ALL.to_vec(), ..Config::default() }),
        Detector::new(Config { rules: crate::Rule::ALL.to_vec(), mode: crate::Mode::Extended, ..Config::default() }),
    ];
}

/// Any bytes as an event, in both modes (default rules and every rule), through the whole detector: it returns, and the fast
/// reject agrees with the full path (it may only turn an error of an event that cannot match
/// into no match).
pub fn event(data: &[u8]) {
    DETECTORS.with(|detectors| {
        for d in detectors {
            let fast = d.scan(data);
            let full = d.scan_without_prefilter(data);
            match (&fast, &full) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Ok(a), Err(_)) => assert!(a.is_empty()),
                (Err(a), Err(b)) => assert_eq!(a, b),
                (Err(_), Ok(_)) => panic!("the fast path failed where the full path did not"),
            }
        }
    });
}

/// Any text as the configuration: it is refused with a message or accepted, never a panic,
/// and an accepted one builds a detector that reads an event and says what it runs with.
pub fn configuration(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Config::from_json(text) {
        Ok(config) => {
            assert!(!config.summary().is_empty());
            let detector = Detector::new(config);
            let _ = detector.scan(br#"{"EventID":1,"Image":"C:\\powershell.exe","CommandLine":"icm -cn FS02 {}"}"#);
        }
        Err(e) => assert!(!e.message.is_empty(), "a refusal says why"),
    }
}

/// Any sequence of script-block parts, in any order, repeated or contradictory (each five
/// bytes of input: host, block id, part number, part total and a length, with one bit of it
/// saying the part fired on its own): the joining state never holds more than its budget,
/// and a joined block holds exactly the parts 1 to its total of its own host and id, each
/// part filed once in a block that completes, no part in two joined blocks.
pub fn script_block_parts(data: &[u8]) {
    const BUDGET: usize = 256;
    let mut parts = Parts::default();
    let mut reported = std::collections::BTreeSet::new();
    for (serial, op) in data.chunks_exact(5).enumerate() {
        let (host, id) = (["WS01", "ws01", "WS02"][op[0] as usize % 3], ["a", "A", "b", "c"][op[1] as usize % 4]);
        let (number, total) = (u32::from(op[2] % 8), u32::from(op[3] % 8));
        let fired = op[4] & 0x80 != 0;
        // Each filing's text names it: `host/id/number/serial`, padded, `;` at its end.
        let text = format!("{host}/{id}/{number}/{serial}{};", ".".repeat(usize::from(op[4] & 0x3f)));
        let part = ScriptBlock {
            text,
            id: Some(id.into()),
            message_number: Some(number),
            message_total: Some(total),
            path: None,
        };
        let joined = parts.file(host, &part, fired, BUDGET);
        assert!(parts.held().1 <= BUDGET, "{:?} held over a budget of {BUDGET}", parts.held());
        let Some(joined) = joined else { continue };
        assert!(!fired, "a block whose last part fired is not read again");
        let pieces: Vec<&str> = joined.split_terminator(';').collect();
        assert_eq!(pieces.len(), total as usize, "{joined}");
        for (at, piece) in pieces.iter().enumerate() {
            let fields: Vec<&str> = piece.trim_end_matches('.').split('/').collect();
            assert!(fields[0].eq_ignore_ascii_case(host) && fields[1].eq_ignore_ascii_case(id), "{joined}");
            assert_eq!(fields[2], (at + 1).to_string(), "{joined}");
            assert!(reported.insert(fields[3].to_string()), "part {piece} joined twice");
        }
        assert!(pieces.iter().any(|p| p.trim_end_matches('.').ends_with(&format!("/{serial}"))), "{joined}");
    }
}

/// The input of the Fluent Bit targets (`fluent_bit`, `fluent_bit_module`): the first byte
/// chooses the configuration slot (empty, extended mode, or one that does not parse); then
/// the calls, separated by NUL (a record never holds one: Fluent Bit measures it with
/// `strlen`), each a byte saying what to call and the record. The byte's low three bits pick
/// the function (six filters, `about`, `passthrough`); `0x08` with no record passes a null
/// pointer (Fluent Bit could not copy the record in); `0x10` leaves the state as a trap in the
/// previous call would; the top three bits advance the record time by 20 s steps.
#[cfg(feature = "fluent-bit")]
fn fluent_bit_script(data: &[u8]) -> Option<(Option<&'static [u8]>, impl Iterator<Item = FluentBitCall<'_>>)> {
    const SLOTS: [Option<&[u8]>; 3] = [None, Some(br#"{"mode":"extended"}"#), Some(b"{\"mode\":")];
    let (&slot, calls) = data.split_first()?;
    let mut time: u32 = 1_772_446_530;
    let calls = calls.split(|&b| b == 0).filter_map(move |call| {
        let (&op, record) = call.split_first()?;
        time = time.wrapping_add(u32::from(op >> 5) * 20);
        let null = op & 0x08 != 0 && record.is_empty();
        Some(FluentBitCall { function: op & 0x07, record, null, after_trap: op & 0x10 != 0, time })
    });
    Some((SLOTS[usize::from(slot) % 3], calls))
}

/// One call of a [`fluent_bit_script`].
#[cfg(feature = "fluent-bit")]
struct FluentBitCall<'a> {
    /// 0 to 5 a filter of `FILTERS`, 6 `about`, 7 `passthrough`.
    function: u8,
    record: &'a [u8],
    /// A null pointer instead of the (empty) record.
    null: bool,
    /// The previous call trapped.
    after_trap: bool,
    time: u32,
}

#[cfg(feature = "fluent-bit")]
impl FluentBitCall<'_> {
    /// The export called, and its name.
    fn export(&self) -> (&'static str, crate::fluent_bit::Export) {
        use crate::fluent_bit::{self, FILTERS};
        match self.function {
            6 => ("winrm_detect_about", fluent_bit::winrm_detect_about),
            7 => ("winrm_detect_passthrough", fluent_bit::winrm_detect_passthrough),
            f => {
                let (name, export, ..) = FILTERS[usize::from(f)];
                (name, export)
            }
        }
    }

    /// Calls the export natively, as Fluent Bit calls it (tag `t`): the answer, and whether it
    /// is the record handed back as it came (the same address).
    fn call_natively(&self) -> (Vec<u8>, bool) {
        let mut copy = self.record.to_vec();
        copy.push(0);
        let pointer = if self.null { std::ptr::null() } else { copy.as_ptr() };
        // SAFETY: the record (and its NUL) outlives the call, and this thread alone calls in.
        let answer =
            unsafe { self.export().1(c"t".as_ptr().cast(), 1, self.time, 0, pointer, self.record.len() as u32) };
        // SAFETY: every answer is NUL-terminated and valid until the next call.
        let text = unsafe { std::ffi::CStr::from_ptr(answer.cast()) }.to_bytes().to_vec();
        (text, std::ptr::eq(answer, copy.as_ptr()))
    }
}

/// Any sequence of calls into the Fluent Bit module's exports, natively, with the state the
/// module carries between them (multi-part script blocks, the mark a trapped call leaves,
/// a refused configuration and how often filter mode says so): each answer is the one a
/// model of the module built on the plain detector predicts, and a spliced record keeps every
/// key of the record it came from. The input is a [`fluent_bit_script`].
#[cfg(feature = "fluent-bit")]
pub fn fluent_bit_calls(data: &[u8]) {
    use crate::config::Mode;
    use crate::error::ErrorKind;
    use crate::fluent_bit::{self, Behaviour, FAULT_NOTICE_SECONDS, FILTERS};
    use crate::record::{ANNOTATIONS_KEY, ERROR_KEY, annotations_json};

    let Some((slot, calls)) = fluent_bit_script(data) else { return };
    fluent_bit::restart(slot);
    let settings = fluent_bit::settings::Settings::from_text(slot);
    let config = settings.config;
    let mut models: [Option<Detector>; 2] = [None, None];
    let (mut trapped, mut last_notice) = (false, None::<u32>);

    for call in calls {
        if call.after_trap {
            fluent_bit::leave_as_a_trap_would();
            models = [None, None];
            trapped = true;
        }
        let (record, null, time) = (call.record, call.null, call.time);
        let (text, same) = call.call_natively();
        let keys = |text: &[u8]| serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(text).ok();
        let (record_keys, answer_keys) = (keys(record), keys(&text));
        // A spliced record keeps every key it had (ours, appended last, win a repeat).
        if let (Some(r), Some(a)) = (&record_keys, &answer_keys) {
            for (k, v) in
                r.iter().filter(|(k, _)| ![ANNOTATIONS_KEY, ERROR_KEY, "winrm_detect_module"].contains(&k.as_str()))
            {
                assert_eq!(a.get(k), Some(v), "key {k} lost");
            }
        }
        // Whether the answer holds `text`, for answers that are not JSON (nor was the record).
        let says = |what: &str| text.windows(what.len()).any(|w| w == what.as_bytes());
        let error_kind = || answer_keys.as_ref().map(|a| a[ERROR_KEY]["kind"].clone());
        match call.function {
            7 => assert!(if null { text.is_empty() } else { same }, "passthrough hands the record back"),
            6 => {
                if !null && record_keys.is_some() {
                    let about = &answer_keys.as_ref().expect("about answers a JSON object")["winrm_detect_module"];
                    assert_eq!(about["mode"], config.mode.as_str());
                }
                assert!(says(r#""winrm_detect_module""#));
            }
            f => {
                let (_, _, behaviour, mode) = FILTERS[usize::from(f)];
                if null {
                    let v: serde_json::Value = serde_json::from_slice(&text).expect("a null record's answer is JSON");
                    assert_eq!(v[ERROR_KEY]["kind"], ErrorKind::TooLarge.as_str());
                    continue;
                }
                let mode = mode.unwrap_or(config.mode);
                let model = models[usize::from(mode == Mode::Extended)]
                    .get_or_insert_with(|| Detector::new(Config { mode, ..config.clone() }));
                let outcome = match model.scan(record) {
                    Err(e) if e.kind == ErrorKind::UnknownShape && fluent_bit::looks_like_object(record) => {
                        Ok(Vec::new())
                    }
                    other => other,
                };
                let fault = std::mem::take(&mut trapped).then_some(ErrorKind::Internal);
                let notice_trapped = fault.is_some();
                let fault = fault.or(settings.refused.as_ref().map(|e| e.kind));
                match outcome {
                    Ok(list) if list.is_empty() => match (behaviour, fault) {
                        (Behaviour::Annotate, None) => assert!(same, "an unchanged record is handed back"),
                        (Behaviour::Filter, None) => assert!(text.is_empty(), "nothing fired: dropped"),
                        (Behaviour::Filter, Some(_))
                            if !notice_trapped
                                && last_notice.is_some_and(|t| time.abs_diff(t) < FAULT_NOTICE_SECONDS) =>
                        {
                            assert!(text.is_empty(), "the fault was said less than a minute ago")
                        }
                        (behaviour, Some(kind)) => {
                            if behaviour == Behaviour::Filter && !notice_trapped {
                                last_notice = Some(time);
                            }
                            if record_keys.is_some() {
                                assert_eq!(
                                    error_kind(),
                                    Some(kind.as_str().into()),
                                    "{}",
                                    String::from_utf8_lossy(&text)
                                );
                            }
                            assert!(says(ERROR_KEY));
                        }
                    },
                    Ok(list) => {
                        if record_keys.is_some() {
                            let a = answer_keys.as_ref().expect("a record spliced into stays JSON");
                            let want: serde_json::Value =
                                serde_json::from_str(&annotations_json(&list, config.output)).unwrap();
                            assert_eq!(a[ANNOTATIONS_KEY], want);
                            assert_eq!(a.get(ERROR_KEY).map(|e| e["kind"].clone()), fault.map(|k| k.as_str().into()));
                        }
                        assert!(says(ANNOTATIONS_KEY));
                    }
                    Err(e) => {
                        trapped = notice_trapped;
                        if record_keys.is_some() {
                            assert_eq!(error_kind(), Some(e.kind.as_str().into()));
                        }
                        assert!(says(ERROR_KEY));
                    }
                }
            }
        }
    }
}

/// The Fluent Bit module as built for wasm, run by a host (`host_test::emulated_fluent_bit`),
/// to hold against its exports compiled natively.
#[cfg(feature = "fluent-bit")]
pub trait FluentBitModule {
    /// A fresh instance whose configuration slot holds `slot`.
    fn start(&mut self, slot: Option<&[u8]>);
    /// Calls `function` as Fluent Bit does (tag `t`; `None`, a null record): the NUL-terminated
    /// answer, or why the call failed (a trap).
    fn call(&mut self, function: &str, time: u32, record: Option<&[u8]>) -> Result<Vec<u8>, String>;
}

/// The calls of a [`fluent_bit_script`] through the exports compiled natively and through
/// `module`, the same code built for wasm32: every answer the same byte for byte, and no trap.
/// What differs between the builds (32-bit sizes, the allocator, the stack, the fault notice's
/// clock, serde_json's `preserve_order`, which the runner turns on and the module, built on its
/// own, does not) shows here. The script's `0x10` bit (a trap in the previous call) is the
/// native model's: here it is ignored.
#[cfg(feature = "fluent-bit")]
pub fn fluent_bit_module_agrees(data: &[u8], module: &mut dyn FluentBitModule) {
    let Some((slot, calls)) = fluent_bit_script(data) else { return };
    crate::fluent_bit::restart(slot);
    module.start(slot);
    for (i, call) in calls.enumerate() {
        let name = call.export().0;
        let (native, _) = call.call_natively();
        let wasm = module
            .call(name, call.time, (!call.null).then_some(call.record))
            .unwrap_or_else(|trap| panic!("call {i}, {name}: the module trapped: {trap}"));
        assert!(
            wasm == native,
            "call {i}, {name}: the module answered\n{}\nand natively\n{}",
            String::from_utf8_lossy(&wasm),
            String::from_utf8_lossy(&native)
        );
    }
}
