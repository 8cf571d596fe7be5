//! winrm-detect: Splunk ESCU's "Remote Process Instantiation via WinRM and PowerShell"
//! (`ba24cda8-4716-11ec-8009-3e22fbd008af`, T1021.006) and its script-block twin
//! (`7d4c618e-4716-11ec-951c-3e22fbd008af`) for log shippers, with the rest of ESCU's WinRM
//! lateral-movement family: `winrs`, `Enter-PSSession`, and the target side's
//! `wsmprovhost.exe` and `winrshost.exe` children.
//!
//! This crate is the whole detection in plain Rust, so that its tests run natively and every
//! host (the wasip2 component, the Fluent Bit module, the runner's native comparison) shares
//! one implementation. The WebAssembly exports live in [`exports`] and are compiled only for
//! `wasm32-wasip2`; the Fluent Bit filter ABI in `fluent_bit`, compiled only with the
//! `fluent-bit` feature (the module is built for `wasm32-unknown-unknown`: no imports, so
//! that Fluent Bit's WASI-less Windows builds run it), and its configuration slot in
//! [`config_slot`].
//!
//! The flow of one event: [`prefilter`] rejects what cannot match from the raw bytes;
//! [`event`] recognises the shape and normalises it into CIM process fields (or a 4104 script
//! block); the [`detector`] applies each of the [`rules`] (the parity test, and in extended mode
//! [`cmdline`]'s reading of the command line or script text, with [`script_block`] for
//! multi-part blocks; the family's other rules are [`family`]); [`annotation`] says what matched and [`render`] in which convention.

pub mod annotation;
pub mod cmdline;
pub mod config;
pub mod config_slot;
pub mod detector;
pub mod error;
pub mod event;
pub mod family;
#[doc(hidden)]
#[cfg(not(target_arch = "wasm32"))]
pub mod fuzz_properties;
pub mod prefilter;
pub mod record;
pub mod render;
pub mod rules;
pub mod script_block;
mod wit_mirror;

#[cfg(all(target_arch = "wasm32", target_os = "wasi", target_env = "p2"))]
mod exports;

// Also compiled for the native unit tests, which call the exports as Fluent Bit would.
#[cfg(any(test, feature = "fluent-bit"))]
mod fluent_bit;

pub use annotation::{Annotation, Evidence, RemoteTarget};
pub use config::{Config, Mode, Output};
pub use detector::{Detector, MAX_LISTED, OMITTED, Outcome, Stats};
pub use error::{ErrorKind, ScanError};
pub use render::render;
pub use rules::{MacroProfile, Matcher, Rule};
