//! The anchor test a word (eight positions) at a time, for targets without WebAssembly SIMD:
//! three unaligned loads at offsets 0, 1 and 2 put the three bytes of a trigram side by side,
//! and one zero-byte test answers for eight positions.

use super::STEP;

pub(super) const LANES: usize = 8;

/// The anchor test over the `LANES` positions a window starts with, word at a time.
pub(super) struct Window<const N: usize, const JSON: bool> {
    trigrams: [[u64; 3]; N],
}

impl<const N: usize, const JSON: bool> Window<N, JSON> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

    pub(super) fn new(trigrams: &[[u8; 3]; N]) -> Self {
        Window { trigrams: trigrams.map(|t| t.map(Self::splat)) }
    }

    const fn splat(b: u8) -> u64 {
        Self::ONES * b as u64
    }

    /// Nonzero high bits wherever `x` may have a zero byte, and none when it has no zero byte
    /// (the borrow can only mark bytes above a real zero). The `& HIGH` is left to the caller,
    /// so that several of these are ORed first.
    #[inline(always)]
    fn zero_bytes(x: u64) -> u64 {
        x.wrapping_sub(Self::ONES) & !x
    }

    /// High bits (among others) where an anchor starts, for [`Found::any`].
    #[inline(always)]
    pub(super) fn found(&self, window: &[u8; STEP]) -> Found {
        let load = |at: usize| u64::from_le_bytes(window[at..at + 8].try_into().expect("8 bytes")) | Self::splat(0x20);
        let (a, b, c) = (load(0), load(1), load(2));
        // `&#` and `<!` in one test: a first byte that differs from `&` only in bits where `<`
        // does (0x1a), a second that differs from `!` only where `#` does (0x02). The six
        // other pairs this lets through (`<#`, `.!`, `>!`...) are rare, and only add candidates.
        let first = (a ^ Self::splat(b'&')) & Self::splat(!(b'&' ^ b'<'));
        let second = (b ^ Self::splat(b'!')) & Self::splat(!(b'!' ^ b'#'));
        let mut zeros = Self::zero_bytes(first | second);
        if JSON {
            zeros |= Self::zero_bytes((a ^ Self::splat(b'u')) | (b ^ Self::splat(b'0')) | (c ^ Self::splat(b'0')));
        }
        for [x, y, z] in &self.trigrams {
            zeros |= Self::zero_bytes((a ^ x) | (b ^ y) | (c ^ z));
        }
        Found(zeros)
    }
}

/// What [`Window::found`] saw: ORed over several windows, then asked once.
#[derive(Clone, Copy)]
pub(super) struct Found(u64);

impl Found {
    #[inline(always)]
    pub(super) fn any(self) -> bool {
        self.0 & Window::<0, true>::HIGH != 0
    }
}

impl std::ops::BitOr for Found {
    type Output = Found;

    #[inline(always)]
    fn bitor(self, other: Found) -> Found {
        Found(self.0 | other.0)
    }
}
