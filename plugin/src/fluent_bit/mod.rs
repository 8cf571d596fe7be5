//! Fluent Bit's `wasm` filter ABI, as `plugins/filter_wasm` and `src/wasm/flb_wasm.c` of Fluent
//! Bit 5.1.1 call it. Fluent Bit runs WAMR, which cannot load a component, so this is a core
//! module, built for `wasm32-unknown-unknown` with the `fluent-bit` feature: it imports
//! nothing at all. Fluent Bit for Windows (MSVC) builds WAMR without WASI, and a module that
//! imports a WASI function traps on its first call there and loses every record; with no
//! imports there is nothing to link, on any platform. So the module reads no file (its
//! configuration is in its own data: [`settings`]), writes no log (what it has to say goes
//! into the records it returns), and allocates with its own `malloc` and `free`.
//!
//! The export:
//!
//! ```text
//! NAME(tag: *const u8, tag_len: u32, time_sec: u32, time_nsec: u32,
//!      record: *const u8, record_len: u32) -> *const u8
//! ```
//!
//! The record is the body as NUL-terminated JSON (`Event_Format json`), copied into our
//! memory through our own exported `malloc` and freed after the call. Fluent Bit copies the
//! NUL-terminated string we return and never frees it: `""` drops the record, a JSON object
//! replaces it (and is parsed again). So a record passed on unchanged is answered with its
//! own address (no copy, and the cheapest thing for Fluent Bit to re-read), a dropped one
//! with a static `""`, and any other answer lives in one buffer this module reuses (never a
//! pointer to freed memory, unlike Fluent Bit's own Rust example).
//!
//! One instance serves every record for the life of the filter (Fluent Bit 4.1 and later),
//! and a call that traps leaves whatever it was doing half-done. So nothing here may
//! trap on input (the stack use is bounded by the limits, see docs/fluent-bit.md), and the state
//! kept across calls is repaired on entry when the previous call did not return: see
//! [`run`]. The shadow stack pointer, which a trap also leaves lowered, is reset at each
//! export's entry by a rewrite of the built module (`runner/build.rs`).
//!
//! A trap is noticed on the next call, which resets the detectors and marks the record it
//! returns with `winrm_detect_error` (kind `internal`, saying that the record before it was
//! dropped): the module has no log to say it in, and Fluent Bit's own log says only that an
//! exception happened.
//!
//! The function name chooses the behaviour: `winrm_detect_annotate*` returns every record,
//! with `winrm_detect` (the annotations) added where something fired; `winrm_detect_filter*`
//! forwards only what fired (edge filtering before SIEM ingest). The `_parity` and
//! `_extended` variants fix the mode; the bare names take it from the configuration
//! ([`settings`]). `winrm_detect_passthrough` returns every record untouched: it measures
//! what Fluent Bit's own JSON round trip costs any wasm filter. `winrm_detect_about` returns
//! every record with `winrm_detect_module` added: the version and the configuration this
//! instance runs with, for an operator to check a deployed module.

pub(crate) mod settings;

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::{Config, Mode};
use crate::detector::Detector;
use crate::error::{ErrorKind, ScanError};
use crate::record;

use settings::Settings;

/// Past this, the output buffer gives memory back after a large record.
const KEEP_CAPACITY: usize = 1 << 20;

/// Under a refused configuration, filter mode forwards one record marked `bad-config` per
/// this many seconds of record time, so that the fault shows downstream even when nothing
/// matches (and never as a flood).
pub(crate) const FAULT_NOTICE_SECONDS: u32 = 60;

/// The answer that drops a record.
static EMPTY: u8 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Behaviour {
    Annotate,
    Filter,
}

struct State {
    settings: Settings,
    parity: Option<Detector>,
    extended: Option<Detector>,
    out: Vec<u8>,
    /// Set by [`State::recover`]: the next record returned says that a call trapped.
    trapped: Option<ScanError>,
    /// Filter mode under a refused configuration: the record time of the last record
    /// forwarded to show the fault.
    last_fault_notice: Option<u32>,
}

/// The state kept across calls.
struct Global(UnsafeCell<Option<State>>);

// SAFETY: wasm32-unknown-unknown is built without threads, so there is one thread; and Fluent Bit
// never calls into the instance while a call is running (the module calls nothing that
// could call back), so at most one reference to the state exists at a time.
unsafe impl Sync for Global {}

static STATE: Global = Global(UnsafeCell::new(None));

/// Set while a call runs. Found set on entry, it means the previous call trapped.
static IN_CALL: AtomicBool = AtomicBool::new(false);

/// The record Fluent Bit handed over, `None` for a null pointer.
///
/// # Safety
/// `record` is null, or points at `record_len` bytes that stay valid and unchanged until the
/// export returns: Fluent Bit's contract, which copies the record (and a NUL) into our memory
/// through our `malloc` and frees it only after the call.
unsafe fn handed_over<'a>(record: *const u8, record_len: u32) -> Option<&'a [u8]> {
    // SAFETY: the caller's contract.
    (!record.is_null()).then(|| unsafe { std::slice::from_raw_parts(record, record_len as usize) })
}

/// Starts the module afresh, as a new instance whose configuration slot holds `slot`: for the
/// fuzz property that drives the exports (`fuzz_properties::fluent_bit_calls`).
#[cfg(all(not(target_arch = "wasm32"), feature = "fluent-bit"))]
pub(crate) fn restart(slot: Option<&[u8]>) {
    // SAFETY: see `Global`: natively, the caller runs the exports on one thread at a time.
    let state = unsafe { &mut *STATE.0.get() };
    *state = Some(State { settings: Settings::from_text(slot), ..State::new() });
    IN_CALL.store(false, Ordering::Relaxed);
}

/// What a trap in the middle of a scan leaves: the call flag set, and the scratch buffer of
/// each detector made so far borrowed for good. Natively only: tests and fuzzing.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn leave_as_a_trap_would() {
    IN_CALL.store(true, Ordering::Relaxed);
    // SAFETY: see `Global`: natively, the caller runs the exports on one thread at a time.
    if let Some(state) = unsafe { &mut *STATE.0.get() } {
        for detector in [&state.parity, &state.extended].into_iter().flatten() {
            if let Ok(borrowed) = detector.scratch_for_tests().try_borrow_mut() {
                std::mem::forget(borrowed);
            }
        }
    }
}

fn run(behaviour: Behaviour, mode: Option<Mode>, time_sec: u32, record: Option<&[u8]>, record_len: u32) -> *const u8 {
    // SAFETY: see `Global`: this is the only live reference.
    let slot = unsafe { &mut *STATE.0.get() };
    let state = slot.get_or_insert_with(State::new);
    if IN_CALL.swap(true, Ordering::Relaxed) {
        state.recover();
    }
    let answer = state.answer(behaviour, mode, time_sec, record, record_len);
    IN_CALL.store(false, Ordering::Relaxed);
    answer
}

impl State {
    fn new() -> State {
        State {
            settings: Settings::load(),
            parity: None,
            extended: None,
            out: Vec::new(),
            trapped: None,
            last_fault_notice: None,
        }
    }

    /// After a trap: a detector may be mid-call (its scratch `RefCell` left borrowed), so
    /// both are dropped and made anew on demand. Dropping them is sound: a trap stops the
    /// module at a call or at a faulting instruction, and Rust's collections update their
    /// fields only after the allocator has returned, so every `Vec` is whole. The
    /// settings are never written after loading, and the output buffer is cleared per call.
    fn recover(&mut self) {
        self.parity = None;
        self.extended = None;
        self.out = Vec::new();
        self.trapped = Some(ScanError::new(
            ErrorKind::Internal,
            "the call for the record before this one trapped, and Fluent Bit dropped that record \
             (its log says \"Got exception running wasm code\"); the detector was reset. \
             Raise wasm_stack_size if this repeats (see docs/fluent-bit.md)",
        ));
    }

    fn detector(&mut self, mode: Mode) -> &Detector {
        let config = &self.settings.config;
        match mode {
            Mode::Parity => &mut self.parity,
            Mode::Extended => &mut self.extended,
        }
        .get_or_insert_with(|| Detector::new(Config { mode, ..config.clone() }))
    }

    fn answer(
        &mut self,
        behaviour: Behaviour,
        mode: Option<Mode>,
        time_sec: u32,
        record: Option<&[u8]>,
        record_len: u32,
    ) -> *const u8 {
        self.out.clear();
        if self.out.capacity() > KEEP_CAPACITY {
            self.out.shrink_to(KEEP_CAPACITY);
        }
        let Some(bytes) = record else {
            // Fluent Bit passes NULL when it could not copy the record into our memory (our
            // `malloc` failed: the instance's memory cannot grow). Nothing to hand back.
            let e = ScanError::new(
                ErrorKind::TooLarge,
                format!("Fluent Bit could not copy a record of {record_len} bytes into the module's memory"),
            );
            write_error(&mut self.out, None, &e);
            return finish(&mut self.out);
        };
        let mode = mode.unwrap_or(self.settings.config.mode);
        let scanned = match self.detector(mode).scan(bytes) {
            // Records of other shapes (application logs sharing the pipeline) are not ours to
            // judge: they pass as records on which nothing fired.
            Err(e) if e.kind == ErrorKind::UnknownShape && looks_like_object(bytes) => Ok(Vec::new()),
            other => other,
        };
        // A fault of the module itself, which the record it returns carries: a trap noticed
        // on this call (said once), else a refused configuration (said on every record).
        let trapped = self.trapped.take();
        let fault = trapped.as_ref().or(self.settings.refused.as_ref());
        match scanned {
            Ok(annotations) if annotations.is_empty() => match (behaviour, fault) {
                (Behaviour::Annotate, None) => bytes.as_ptr(),
                (Behaviour::Filter, None) => &EMPTY,
                (Behaviour::Annotate, Some(e)) => {
                    write_error(&mut self.out, Some(bytes), e);
                    finish(&mut self.out)
                }
                (Behaviour::Filter, Some(e)) => {
                    let due = trapped.is_some()
                        || self.last_fault_notice.is_none_or(|t| time_sec.abs_diff(t) >= FAULT_NOTICE_SECONDS);
                    if !due {
                        return &EMPTY;
                    }
                    if trapped.is_none() {
                        self.last_fault_notice = Some(time_sec);
                    }
                    write_error(&mut self.out, Some(bytes), e);
                    finish(&mut self.out)
                }
            },
            Ok(annotations) => {
                let list = record::annotations_json(&annotations, self.settings.config.output);
                let error = fault.map(record::error_json);
                let mut added = vec![(record::ANNOTATIONS_KEY, list.as_str())];
                added.extend(error.as_deref().map(|e| (record::ERROR_KEY, e)));
                record::with_keys(&mut self.out, bytes, &added);
                finish(&mut self.out)
            }
            Err(e) => {
                // The record's own error is what it carries; a trap notice waits for the next.
                self.trapped = trapped;
                write_error(&mut self.out, Some(bytes), &e);
                finish(&mut self.out)
            }
        }
    }

    /// `winrm_detect_about`: the record with `winrm_detect_module` added.
    fn about(&mut self, record: Option<&[u8]>) -> *const u8 {
        self.out.clear();
        let about = self.settings.about();
        match record.filter(|r| looks_like_object(r)) {
            Some(r) => record::with_keys(&mut self.out, r, &[("winrm_detect_module", &about)]),
            None => self.out.extend_from_slice(format!("{{\"winrm_detect_module\":{about}}}").as_bytes()),
        }
        finish(&mut self.out)
    }
}

/// NUL-terminates the buffer and hands out its address; it stays valid until the next call.
fn finish(out: &mut Vec<u8>) -> *const u8 {
    // A NUL inside would cut Fluent Bit's copy short. JSON text has none (Fluent Bit measured
    // the record with strlen), but a record that is not JSON might.
    for b in out.iter_mut().filter(|b| **b == 0) {
        *b = b' ';
    }
    out.push(0);
    out.as_ptr()
}

/// Whether the record looks like one JSON object (as every Fluent Bit record body is), by its
/// ends only: asked of every record of an unknown shape, which the detector parsed already.
pub(crate) fn looks_like_object(record: &[u8]) -> bool {
    let r = record.trim_ascii();
    r.starts_with(b"{") && r.ends_with(b"}")
}

/// The record with `winrm_detect_error` added (see [`record`]); with no record, the error alone.
fn write_error(out: &mut Vec<u8>, record: Option<&[u8]>, e: &ScanError) {
    let error = record::error_json(e);
    match record {
        Some(r) => record::with_keys(out, r, &[(record::ERROR_KEY, &error)]),
        None => out.extend_from_slice(format!("{{\"{}\":{error}}}", record::ERROR_KEY).as_bytes()),
    }
}

macro_rules! export {
    ($name:ident, $behaviour:expr, $mode:expr) => {
        /// A filter function, as Fluent Bit's `wasm` filter calls it.
        ///
        /// # Safety
        /// `record` is null or points at `record_len` bytes (and a NUL) that stay valid until
        /// the call returns, and no other export runs meanwhile: Fluent Bit's contract.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(
            _tag: *const u8,
            _tag_len: u32,
            time_sec: u32,
            _time_nsec: u32,
            record: *const u8,
            record_len: u32,
        ) -> *const u8 {
            // SAFETY: the export's contract.
            let record = unsafe { handed_over(record, record_len) };
            run($behaviour, $mode, time_sec, record, record_len)
        }
    };
}

/// Defines each filter function and, natively, `FILTERS`: the same list, so that what drives
/// the functions natively (the fuzz property) cannot miss one.
macro_rules! filters {
    ($(($name:ident, $behaviour:expr, $mode:expr)),* $(,)?) => {
        $(export!($name, $behaviour, $mode);)*

        /// The filter functions by name, with what each does (behaviour, mode), for driving
        /// them natively and the module by the same names.
        #[cfg(all(not(target_arch = "wasm32"), feature = "fluent-bit"))]
        pub(crate) const FILTERS: &[(&str, Export, Behaviour, Option<Mode>)] =
            &[$((stringify!($name), $name, $behaviour, $mode)),*];
    };
}

filters! {
    (winrm_detect_annotate, Behaviour::Annotate, None),
    (winrm_detect_annotate_parity, Behaviour::Annotate, Some(Mode::Parity)),
    (winrm_detect_annotate_extended, Behaviour::Annotate, Some(Mode::Extended)),
    (winrm_detect_filter, Behaviour::Filter, None),
    (winrm_detect_filter_parity, Behaviour::Filter, Some(Mode::Parity)),
    (winrm_detect_filter_extended, Behaviour::Filter, Some(Mode::Extended)),
}

/// A filter function's signature.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type Export = unsafe extern "C" fn(*const u8, u32, u32, u32, *const u8, u32) -> *const u8;

/// Every record with `winrm_detect_module` (`{"version", "configuration", "mode",
/// "macro_profile", "output", "rules", "refused"}`) added: which build and which
/// configuration a deployed module runs with, where there is no log to say it.
///
/// # Safety
/// As for the filter functions: Fluent Bit's contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn winrm_detect_about(
    _tag: *const u8,
    _tag_len: u32,
    _time_sec: u32,
    _time_nsec: u32,
    record: *const u8,
    record_len: u32,
) -> *const u8 {
    // SAFETY: the export's contract.
    let record = unsafe { handed_over(record, record_len) };
    // SAFETY: see `Global`: this is the only live reference.
    let slot = unsafe { &mut *STATE.0.get() };
    slot.get_or_insert_with(State::new).about(record)
}

/// Every record back untouched: the floor any wasm filter pays in Fluent Bit (the record
/// turned into JSON, copied in, copied out and parsed again), for measuring. It reads nothing
/// through its pointers, and hands `record` back as it came.
#[unsafe(no_mangle)]
pub extern "C" fn winrm_detect_passthrough(
    _tag: *const u8,
    _tag_len: u32,
    _time_sec: u32,
    _time_nsec: u32,
    record: *const u8,
    _record_len: u32,
) -> *const u8 {
    if record.is_null() { &EMPTY } else { record }
}

/// The allocator WAMR calls for the memory it hands the module (each record and its tag,
/// `wasm_runtime_module_dup_data`) when the module exports `malloc` and `free` of C's
/// signatures; it then ignores `Wasm_Heap_Size`, so records of any size fit. wasm32 without
/// an OS has no C library to export them from: they are Rust's allocator behind a header
/// that keeps each block's size for `free`. Exported only from the wasm build (natively
/// they would replace the C library's).
#[cfg(target_arch = "wasm32")]
mod allocator {
    use std::alloc::{Layout, alloc, dealloc};

    /// Room for the block's size before what `malloc` returns, keeping the 8-byte alignment
    /// C's `malloc` promises.
    const HEADER: usize = 8;

    /// # Safety
    /// None beyond C's `malloc`: any size; a null pointer when there is no memory.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn malloc(size: usize) -> *mut u8 {
        let Some(layout) = size.checked_add(HEADER).and_then(|n| Layout::from_size_align(n, HEADER).ok()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: the layout's size is at least HEADER, never zero.
        let block = unsafe { alloc(layout) };
        if block.is_null() {
            return block;
        }
        // SAFETY: the block holds at least HEADER bytes, aligned for a usize.
        unsafe {
            block.cast::<usize>().write(layout.size());
            block.add(HEADER)
        }
    }

    /// # Safety
    /// `ptr` is null or came from [`malloc`] and was not freed since (C's contract).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn free(ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        // SAFETY: `malloc` returned `block + HEADER` and wrote the layout's size at `block`.
        unsafe {
            let block = ptr.sub(HEADER);
            let size = block.cast::<usize>().read();
            dealloc(block, Layout::from_size_align_unchecked(size, HEADER));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;
    use std::sync::Mutex;

    use super::*;

    /// The exports share one global state, as in the module; the tests take turns.
    static TURN: Mutex<()> = Mutex::new(());

    /// Calls an export as Fluent Bit does (the record NUL-terminated in our memory) and
    /// returns its answer, and whether it was the record itself.
    fn call(f: Export, record: &str) -> (String, bool) {
        let mut bytes = record.as_bytes().to_vec();
        bytes.push(0);
        let tag = b"winevt\0";
        // SAFETY: both buffers outlive the call, and the tests take turns (`TURN`).
        let answer = unsafe { f(tag.as_ptr(), 6, 1_772_446_530, 0, bytes.as_ptr(), record.len() as u32) };
        // SAFETY: every answer is NUL-terminated and valid until the next call.
        let text = unsafe { CStr::from_ptr(answer.cast()) }.to_str().unwrap().to_string();
        (text, std::ptr::eq(answer, bytes.as_ptr()))
    }

    const POSITIVE: &str = r#"{"EventID":1,"Version":5,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS01","StringInserts":["-","2026-03-02 10:15:30.123","{G}",4242,"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","","","","","PowerShell.EXE","powershell -c Invoke-Command -ComputerName FS02 {1}"]}"#;
    const NEGATIVE: &str = r#"{"EventID":1,"Version":5,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS01","StringInserts":["-","t","{G}",7,"C:\\Windows\\System32\\cmd.exe","","","","","Cmd.Exe","cmd /c dir"]}"#;

    #[test]
    fn unchanged_records_are_answered_with_themselves_and_drops_with_nothing() {
        let _turn = TURN.lock().unwrap();
        let (text, same) = call(winrm_detect_annotate, NEGATIVE);
        assert!(same, "an unchanged record is handed back, not copied");
        assert_eq!(text, NEGATIVE);
        let (text, _) = call(winrm_detect_filter, NEGATIVE);
        assert_eq!(text, "");
        let (text, same) = call(winrm_detect_passthrough, POSITIVE);
        assert!(same && text == POSITIVE);
    }

    #[test]
    fn matches_are_spliced_into_the_record() {
        let _turn = TURN.lock().unwrap();
        for f in [winrm_detect_annotate as Export, winrm_detect_filter, winrm_detect_filter_extended] {
            let (text, _) = call(f, POSITIVE);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["winrm_detect"][0]["matcher"], "parity", "{text}");
            assert_eq!(v["winrm_detect"][0]["fields"]["process_id"], "4242", "an integer insert is read: {text}");
            assert_eq!(v["StringInserts"][3], 4242, "the record is kept whole");
        }
        let (text, _) =
            call(winrm_detect_filter_extended, &POSITIVE.replace("Invoke-Command -ComputerName", "icm -cn"));
        assert!(text.contains(r#""matcher":"extended""#), "{text}");
        let (text, _) = call(winrm_detect_filter_parity, &POSITIVE.replace("Invoke-Command -ComputerName", "icm -cn"));
        assert_eq!(text, "");
    }

    #[test]
    fn unreadable_events_are_forwarded_with_the_error_by_every_function() {
        let _turn = TURN.lock().unwrap();
        let truncated = r#"{"log":"<Event><System><EventID>1</EventID></System><EventData><Data Name='CommandLine'>powershell Invoke-Command -ComputerName FS02"}"#;
        for f in [winrm_detect_annotate as Export, winrm_detect_filter] {
            let (text, _) = call(f, truncated);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["winrm_detect_error"]["kind"], "broken-xml", "{text}");
            assert!(v["log"].as_str().unwrap().starts_with("<Event>"));
        }
        // Another application's record is nothing of ours.
        let (text, _) = call(winrm_detect_filter, r#"{"log":"GET / 200 powershell"}"#);
        assert_eq!(text, "");
    }

    #[test]
    fn a_call_that_did_not_return_is_repaired_on_entry() {
        let _turn = TURN.lock().unwrap();
        call(winrm_detect_annotate, NEGATIVE);
        leave_as_a_trap_would();
        let (text, _) = call(winrm_detect_filter, POSITIVE);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["winrm_detect"][0]["matcher"], "parity", "{text}");
        assert_eq!(v["winrm_detect_error"]["kind"], "internal", "the trap is said in the record: {text}");
        assert!(!IN_CALL.load(Ordering::Relaxed));
        // Said once: the next record is as usual.
        let (text, same) = call(winrm_detect_annotate, NEGATIVE);
        assert!(same, "{text}");

        // A filter forwards the record that says it, whatever its verdict.
        leave_as_a_trap_would();
        let (text, _) = call(winrm_detect_filter, NEGATIVE);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["winrm_detect_error"]["kind"], "internal", "{text}");
        assert_eq!(call(winrm_detect_filter, NEGATIVE).0, "");
    }

    #[test]
    fn about_says_what_the_instance_runs_with() {
        let _turn = TURN.lock().unwrap();
        let (text, _) = call(winrm_detect_about, r#"{"log":"x"}"#);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["log"], "x");
        assert_eq!(v["winrm_detect_module"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(v["winrm_detect_module"]["mode"], "parity");
        assert_eq!(v["winrm_detect_module"]["configuration"], serde_json::Value::Null);
        let (text, _) = call(winrm_detect_about, "not json");
        assert!(text.starts_with(r#"{"winrm_detect_module":{"#), "{text}");
    }
}
