//! The first stage's mechanics: whether any of a few folded trigrams, or an escape spelling,
//! starts anywhere in a text, every byte read once. The loop is here; the test over one window
//! of positions is per architecture, as `memchr` does it: a word at a time (`swar.rs`: Fluent
//! Bit's WAMR has no SIMD, and its interpreter pays per instruction) or sixteen positions at a
//! time where WebAssembly SIMD is on (`simd128.rs`: the component). Which anchors to look for
//! is the policy's business (`mod.rs`).

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[path = "swar.rs"]
mod lanes;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[path = "simd128.rs"]
mod lanes;

use lanes::{LANES, Window};

/// How many bytes one step of [`any_anchor`] reads: a word of starting positions and the two
/// bytes a trigram starting at the last of them reaches.
pub(super) const STEP: usize = LANES + 2;

/// Windows tested per branch: their findings are ORed and tested once, which spares a branch
/// and the loop's bounds bookkeeping per window (in Fluent Bit's interpreter every one of
/// those is an instruction paid per word of every record).
const UNROLL: usize = 4;
pub(super) const BLOCK: usize = UNROLL * LANES + 2;

/// Whether JSON escapes can change what `text` means: not in event XML, which the XML reader
/// alone reads and for which `\u0070` is only text. Anything else may be JSON.
pub(super) fn json_escapes_apply(text: &[u8]) -> bool {
    !text.starts_with(b"<")
}

/// The first stage without the JSON escape test where it cannot apply (a fifth of the work
/// per window).
pub(super) fn by_syntax<const N: usize>(text: &[u8], trigrams: &[[u8; 3]; N]) -> bool {
    match json_escapes_apply(text) {
        true => any_anchor::<N, true>(text, trigrams),
        false => any_anchor::<N, false>(text, trigrams),
    }
}

fn any_anchor<const N: usize, const JSON: bool>(text: &[u8], trigrams: &[[u8; 3]; N]) -> bool {
    let test = Window::<N, JSON>::new(trigrams);
    let mut at = 0;
    while let Some(block) = text.get(at..at + BLOCK) {
        let block: &[u8; BLOCK] = block.try_into().expect("BLOCK bytes");
        let window = |i: usize| -> &[u8; STEP] { block[i * LANES..i * LANES + STEP].try_into().expect("STEP bytes") };
        let found = test.found(window(0)) | test.found(window(1)) | test.found(window(2)) | test.found(window(3));
        if found.any() {
            return true;
        }
        at += UNROLL * LANES;
    }
    while at < text.len() {
        let found = match text.get(at..at + STEP) {
            Some(window) => test.found(window.try_into().expect("STEP bytes")),
            None => {
                let mut padded = [0u8; STEP];
                padded[..text.len() - at].copy_from_slice(&text[at..]);
                test.found(&padded)
            }
        };
        if found.any() {
            return true;
        }
        at += LANES;
    }
    false
}
