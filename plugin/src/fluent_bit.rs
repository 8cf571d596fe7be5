//! Fluent Bit's `wasm` filter ABI (wasm32-wasip1 core module; Fluent Bit runs WAMR with WASI
//! preview 1 and cannot load a component). Fluent Bit calls
//!
//! ```text
//! NAME(tag: *const u8, tag_len: u32, time_sec: u32, time_nsec: u32,
//!      record: *const u8, record_len: u32) -> *const u8
//! ```
//!
//! with the record body as NUL-terminated JSON (`Event_Format json`), or NULL when it did not
//! fit the guest heap. It copies the NUL-terminated string we return and never frees it: `""`
//! drops the record, a JSON object replaces it. So the returned text lives in one buffer this
//! module owns and reuses (never a pointer to freed memory, unlike Fluent Bit's own Rust
//! example), and nothing here may panic: a panic would trap inside the shipper.
//!
//! The function name chooses the behaviour: `winrm_detect_annotate*` returns every record,
//! with `winrm_detect` (the annotations) added where something fired; `winrm_detect_filter*`
//! forwards only what fired (edge filtering before SIEM ingest). The `_parity` and
//! `_extended` variants fix the mode; the bare names take it from the configuration file
//! `winrm-detect.json`, looked for in the directories of `Accessible_Paths`.

use std::cell::RefCell;

use crate::config::{Config, Mode};
use crate::error::ScanError;
use crate::rule::Detector;

/// Where the configuration file is looked for, first found wins: Fluent Bit's working
/// directory (the default `Accessible_Paths` is `.`), then the usual configuration folders.
const CONFIG_PATHS: [&str; 3] =
    ["winrm-detect.json", "/etc/fluent-bit/winrm-detect.json", "/fluent-bit/etc/winrm-detect.json"];

/// Past this, the output buffer gives memory back after a large record.
const KEEP_CAPACITY: usize = 1 << 20;

struct State {
    /// The configuration as read from the file (or the defaults), or why it was refused.
    config: Result<Config, ScanError>,
    parity: Option<Detector>,
    extended: Option<Detector>,
    out: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

fn load_config() -> Result<Config, ScanError> {
    for path in CONFIG_PATHS {
        if let Ok(text) = std::fs::read_to_string(path) {
            return Config::from_json(&text).map_err(|mut e| {
                e.message = format!("{path}: {}", e.message);
                e
            });
        }
    }
    Ok(Config::default())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Annotate,
    Filter,
}

fn run(behaviour: Behaviour, mode: Option<Mode>, record: *const u8, record_len: u32) -> *const u8 {
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let state =
            slot.get_or_insert_with(|| State { config: load_config(), parity: None, extended: None, out: Vec::new() });
        state.out.clear();
        if state.out.capacity() > KEEP_CAPACITY {
            state.out.shrink_to(KEEP_CAPACITY);
        }
        if record.is_null() {
            let e = ScanError::new(
                crate::ErrorKind::TooLarge,
                format!("a record of {record_len} bytes did not fit the guest heap: raise Wasm_Heap_Size"),
            );
            write_error(&mut state.out, &e, None);
            return finish(&mut state.out);
        }
        // SAFETY: Fluent Bit copied `record_len` bytes (and a NUL) into our memory at `record`.
        let bytes = unsafe { std::slice::from_raw_parts(record, record_len as usize) };
        let config = match &state.config {
            Ok(c) => c.clone(),
            Err(e) => {
                // A refused configuration is reported on every record, never silently
                // replaced by the defaults; the record itself is kept.
                write_error(&mut state.out, e, Some(bytes));
                return finish(&mut state.out);
            }
        };
        let mode = mode.unwrap_or(config.mode);
        let output = config.output;
        let detector = match mode {
            Mode::Parity => &mut state.parity,
            Mode::Extended => &mut state.extended,
        }
        .get_or_insert_with(|| Detector::new(Config { mode, ..config }));
        // Records of other shapes (application logs sharing the pipeline) are not ours to
        // judge: they pass as records on which nothing fired.
        let scanned = match detector.scan(bytes) {
            Err(e) if e.kind == crate::ErrorKind::UnknownShape && bytes.trim_ascii_start().starts_with(b"{") => {
                Ok(Vec::new())
            }
            other => other,
        };
        match scanned {
            Ok(annotations) if annotations.is_empty() => {
                if behaviour == Behaviour::Annotate {
                    state.out.extend_from_slice(bytes);
                }
            }
            Ok(annotations) => {
                let rendered: Vec<serde_json::Value> = annotations.iter().map(|a| crate::render(a, output)).collect();
                let list = serde_json::to_vec(&rendered).unwrap_or_else(|_| b"[]".to_vec());
                splice(&mut state.out, bytes, "winrm_detect", &list);
            }
            Err(e) => write_error(&mut state.out, &e, Some(bytes)),
        }
        finish(&mut state.out)
    })
}

/// NUL-terminates the buffer and hands out its address; it stays valid until the next call.
fn finish(out: &mut Vec<u8>) -> *const u8 {
    // A NUL inside would cut the host's copy short; JSON text from a JSON record has none,
    // but the raw record of an error might.
    out.iter_mut().filter(|b| **b == 0).for_each(|b| *b = b' ');
    out.push(0);
    out.as_ptr()
}

/// The record (a JSON object) with `"key": value` added before its closing brace.
fn splice(out: &mut Vec<u8>, record: &[u8], key: &str, value: &[u8]) {
    let body = record.trim_ascii_end();
    let body = body.strip_suffix(b"}").unwrap_or(body);
    let empty = body.trim_ascii().len() <= 1;
    out.extend_from_slice(body);
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(serde_json::to_string(key).unwrap_or_default().as_bytes());
    out.push(b':');
    out.extend_from_slice(value);
    out.push(b'}');
}

/// `{"winrm_detect_error": {"kind", "message"}}`, keeping the record when it is a JSON
/// object, and its text under `log` when it is not.
fn write_error(out: &mut Vec<u8>, e: &ScanError, record: Option<&[u8]>) {
    let error = serde_json::json!({"kind": e.kind.as_str(), "message": e.message}).to_string();
    match record {
        Some(r)
            if serde_json::from_slice::<serde::de::IgnoredAny>(r).is_ok() && r.trim_ascii_start().starts_with(b"{") =>
        {
            splice(out, r, "winrm_detect_error", error.as_bytes())
        }
        Some(r) => {
            let log = serde_json::json!({"winrm_detect_error": serde_json::from_str::<serde_json::Value>(&error).unwrap_or_default(), "log": String::from_utf8_lossy(r)});
            out.extend_from_slice(log.to_string().as_bytes());
        }
        None => out.extend_from_slice(format!("{{\"winrm_detect_error\":{error}}}").as_bytes()),
    }
}

macro_rules! export {
    ($name:ident, $behaviour:expr, $mode:expr) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(
            _tag: *const u8,
            _tag_len: u32,
            _time_sec: u32,
            _time_nsec: u32,
            record: *const u8,
            record_len: u32,
        ) -> *const u8 {
            run($behaviour, $mode, record, record_len)
        }
    };
}

export!(winrm_detect_annotate, Behaviour::Annotate, None);
export!(winrm_detect_annotate_parity, Behaviour::Annotate, Some(Mode::Parity));
export!(winrm_detect_annotate_extended, Behaviour::Annotate, Some(Mode::Extended));
export!(winrm_detect_filter, Behaviour::Filter, None);
export!(winrm_detect_filter_parity, Behaviour::Filter, Some(Mode::Parity));
export!(winrm_detect_filter_extended, Behaviour::Filter, Some(Mode::Extended));
