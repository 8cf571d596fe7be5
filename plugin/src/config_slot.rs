//! The configuration slot of the Fluent Bit module: where a module carries its configuration,
//! written into the built file by `winrm-detect artifact fluent-bit --config FILE`.
//!
//! Fluent Bit gives a wasm filter no options of its own, and on Windows (MSVC builds: WAMR
//! without WASI) no file system either, so the module cannot read a configuration file. It
//! reads its own memory instead: the module holds one [`Slot`] in its data segment, a fixed
//! frame of [`SLOT_BYTES`] bytes that starts with [`HEAD`] and ends with [`TAIL`], and the
//! artifact command writes the JSON text into the frame's body in the file. Data segments are
//! copied into memory as they are, byte for byte, by every WebAssembly runtime, and into an
//! `.aot` file by `flb-wamrc`, so one configured `.wasm` (or the `.aot` compiled from it)
//! behaves the same on every platform, and [`read`] finds the configuration in either file.
//!
//! The two markers guard the frame: [`embed`] writes only where it finds `HEAD` exactly once
//! and `TAIL` exactly [`SLOT_BYTES`] after its start, so a toolchain that moved or trimmed the
//! zeros of the frame is caught when the artifact is written, not when Fluent Bit runs it.

/// The frame's first bytes. The version digit changes with the layout.
pub const HEAD: [u8; 32] = *b"winrm-detect:config-slot:v1:head";
/// The frame's last bytes.
pub const TAIL: [u8; 32] = *b"winrm-detect:config-slot:v1:tail";
/// The configuration text's room: 64 KiB, some thousand allowlist entries.
pub const CAPACITY: usize = 64 * 1024;
/// The whole frame: head, the text's length (u32, little-endian), the text, tail.
pub const SLOT_BYTES: usize = HEAD.len() + 4 + CAPACITY + TAIL.len();

/// The frame as the module holds it. `repr(C)` of byte arrays: no padding, the layout
/// [`SLOT_BYTES`] describes.
#[repr(C)]
pub struct Slot {
    head: [u8; 32],
    len: [u8; 4],
    text: [u8; CAPACITY],
    tail: [u8; 32],
}

const _: () = assert!(std::mem::size_of::<Slot>() == SLOT_BYTES);

impl Slot {
    /// The frame as built: no configuration (the module then runs with the defaults).
    pub const EMPTY: Slot = Slot { head: HEAD, len: [0; 4], text: [0; CAPACITY], tail: TAIL };

    /// The configuration text written into this frame, if any. The reads are volatile: the
    /// compiler sees an immutable static of zeros and would otherwise be right to fold every
    /// read to "no configuration"; the file it built is changed after it. Once per instance.
    pub fn text(&'static self) -> Option<Vec<u8>> {
        // SAFETY: reads of plain bytes of a live static, through references to it.
        let len = u32::from_le_bytes(unsafe { std::ptr::read_volatile(&self.len) }) as usize;
        if len == 0 {
            return None;
        }
        let len = len.min(CAPACITY);
        // SAFETY: as above; `i < len <= CAPACITY`.
        Some((0..len).map(|i| unsafe { std::ptr::read_volatile(&self.text[i]) }).collect())
    }
}

/// Why a file's slot could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum SlotError {
    /// No frame: not a winrm-detect Fluent Bit module (or one older than the slot).
    NotFound,
    /// More than one frame, or a frame whose tail is not where it belongs.
    Damaged(String),
    /// The text does not fit.
    TooLarge(usize),
}

impl std::fmt::Display for SlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlotError::NotFound => write!(f, "no configuration slot: not a winrm-detect Fluent Bit module"),
            SlotError::Damaged(why) => write!(f, "the configuration slot is damaged: {why}"),
            SlotError::TooLarge(n) => {
                write!(f, "the configuration is {n} bytes; the module has room for {CAPACITY}")
            }
        }
    }
}

impl std::error::Error for SlotError {}

/// Where the one frame starts in `file`.
fn locate(file: &[u8]) -> Result<usize, SlotError> {
    let mut found = memchr::memmem::find_iter(file, &HEAD);
    let start = found.next().ok_or(SlotError::NotFound)?;
    if let Some(other) = found.next() {
        return Err(SlotError::Damaged(format!("two frames, at {start} and {other}")));
    }
    let tail = start + SLOT_BYTES - TAIL.len();
    if file.get(tail..tail + TAIL.len()) != Some(&TAIL[..]) {
        return Err(SlotError::Damaged(format!("the frame at {start} does not end {SLOT_BYTES} bytes later")));
    }
    Ok(start)
}

/// `module` with `text` in its slot (any earlier text replaced, the rest of the room zeroed).
/// The text is written as given: validating it is the caller's business (the artifact
/// command parses it as the module will).
pub fn embed(module: &[u8], text: &[u8]) -> Result<Vec<u8>, SlotError> {
    if text.len() > CAPACITY {
        return Err(SlotError::TooLarge(text.len()));
    }
    let start = locate(module)?;
    let mut out = module.to_vec();
    let len_at = start + HEAD.len();
    out[len_at..len_at + 4].copy_from_slice(&(text.len() as u32).to_le_bytes());
    let body = &mut out[len_at + 4..len_at + 4 + CAPACITY];
    body.fill(0);
    body[..text.len()].copy_from_slice(text);
    Ok(out)
}

/// The text in the slot of `file` (a `.wasm`, or an `.aot` compiled from one); `None` when
/// the slot is empty (the module runs with the defaults).
pub fn read(file: &[u8]) -> Result<Option<Vec<u8>>, SlotError> {
    let len_at = locate(file)? + HEAD.len();
    let len = u32::from_le_bytes(file[len_at..len_at + 4].try_into().expect("four bytes")) as usize;
    if len > CAPACITY {
        return Err(SlotError::Damaged(format!("a length of {len}")));
    }
    Ok((len > 0).then(|| file[len_at + 4..len_at + 4 + len].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for a module file: bytes, the frame, bytes.
    fn file_with_frame() -> Vec<u8> {
        let mut file = b"\0asm\x01\0\0\0 code and other data".to_vec();
        file.extend_from_slice(&HEAD);
        file.extend_from_slice(&[0; 4 + CAPACITY]);
        file.extend_from_slice(&TAIL);
        file.extend_from_slice(b"more sections");
        file
    }

    #[test]
    fn text_goes_in_and_comes_out() {
        let file = file_with_frame();
        assert_eq!(read(&file), Ok(None));
        let configured = embed(&file, br#"{"mode":"extended"}"#).unwrap();
        assert_eq!(configured.len(), file.len(), "written in place");
        assert_eq!(read(&configured).unwrap().as_deref(), Some(&br#"{"mode":"extended"}"#[..]));
        // A shorter text replaces a longer one whole.
        let again = embed(&configured, b"{}").unwrap();
        assert_eq!(read(&again).unwrap().as_deref(), Some(&b"{}"[..]));
        assert_eq!(embed(&again, b"").unwrap(), file, "an empty text restores the frame as built");
        let full = vec![b' '; CAPACITY];
        assert_eq!(read(&embed(&file, &full).unwrap()).unwrap().map(|t| t.len()), Some(CAPACITY));
        assert_eq!(embed(&file, &[b' '; CAPACITY + 1]), Err(SlotError::TooLarge(CAPACITY + 1)));
    }

    #[test]
    fn a_missing_or_damaged_frame_is_refused() {
        assert_eq!(read(b"\0asm\x01\0\0\0"), Err(SlotError::NotFound));
        let mut trimmed = file_with_frame();
        let at = memchr::memmem::find(&trimmed, &TAIL).unwrap();
        trimmed.drain(at - 100..at);
        assert!(matches!(embed(&trimmed, b"{}"), Err(SlotError::Damaged(_))));
        let mut twice = file_with_frame();
        twice.extend_from_slice(&file_with_frame());
        assert!(matches!(read(&twice), Err(SlotError::Damaged(_))));
    }

    #[test]
    fn the_built_frame_is_empty() {
        static BUILT: Slot = Slot::EMPTY;
        assert_eq!(BUILT.text(), None);
    }
}
