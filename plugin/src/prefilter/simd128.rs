//! The anchor test sixteen positions at a time with WebAssembly SIMD (the component is built
//! with `+simd128`; the Fluent Bit module never is).

use super::STEP;

pub(super) const LANES: usize = 16;

/// The anchor test over the `LANES` positions a window starts with, with WebAssembly SIMD.
pub(super) struct Window<const N: usize, const JSON: bool> {
    trigrams: [[core::arch::wasm32::v128; 3]; N],
}

impl<const N: usize, const JSON: bool> Window<N, JSON> {
    pub(super) fn new(trigrams: &[[u8; 3]; N]) -> Self {
        Window { trigrams: trigrams.map(|t| t.map(|b| core::arch::wasm32::u8x16_splat(b))) }
    }

    #[inline(always)]
    pub(super) fn found(&self, window: &[u8; STEP]) -> Found {
        use core::arch::wasm32::*;
        // SAFETY: each load reads 16 bytes at offset 0, 1 or 2 of an 18-byte array;
        // WebAssembly loads need no alignment.
        let load = |at: usize| v128_or(unsafe { v128_load(window.as_ptr().add(at).cast()) }, u8x16_splat(0x20));
        let (a, b, c) = (load(0), load(1), load(2));
        let is = |v: v128, byte: u8| u8x16_eq(v, u8x16_splat(byte));
        let pair = |x: u8, y: u8| v128_and(is(a, x), is(b, y));
        let escapes = v128_or(pair(b'&', b'#'), pair(b'<', b'!'));
        let mut found = escapes;
        if JSON {
            found = v128_or(found, v128_and(pair(b'u', b'0'), is(c, b'0')));
        }
        for [x, y, z] in &self.trigrams {
            found = v128_or(found, v128_and(v128_and(u8x16_eq(a, *x), u8x16_eq(b, *y)), u8x16_eq(c, *z)));
        }
        Found(found)
    }
}

#[derive(Clone, Copy)]
pub(super) struct Found(core::arch::wasm32::v128);

impl Found {
    #[inline(always)]
    pub(super) fn any(self) -> bool {
        core::arch::wasm32::v128_any_true(self.0)
    }
}

impl std::ops::BitOr for Found {
    type Output = Found;

    #[inline(always)]
    fn bitor(self, other: Found) -> Found {
        Found(core::arch::wasm32::v128_or(self.0, other.0))
    }
}
