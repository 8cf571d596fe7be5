//! Where the Fluent Bit module's configuration comes from: its own configuration slot
//! ([`crate::config_slot`]), written into the file by `winrm-detect artifact fluent-bit
//! --config FILE`, which refuses a bad configuration before Fluent Bit ever loads it.
//!
//! Not a file: Fluent Bit for Windows runs modules without WASI, so a module there can open
//! nothing, and one behaviour on every platform means reading a file on none. Per-filter
//! configuration is one artifact per filter (`wasm_path`), or the mode fixed by the function
//! name.
//!
//! A slot whose text does not parse (written past the artifact command, or by a newer one) is
//! not silently replaced: the module detects with the built-in defaults (which suppress
//! nothing, so no match is lost) and marks what it returns with `winrm_detect_error` (kind
//! `bad-config`).

use crate::config::Config;
use crate::config_slot::Slot;
use crate::error::{ErrorKind, ScanError};

/// The module's slot, empty as built. Not `mut`: the module never writes it.
static SLOT: Slot = Slot::EMPTY;

pub(crate) struct Settings {
    /// What the detectors run with: the slot's configuration, or the defaults.
    pub config: Config,
    /// The slot's text (JSON, as the configuration parsed), for `winrm_detect_about`; `None`
    /// when empty or refused.
    pub text: Option<String>,
    /// Why the slot's text was refused, when it was.
    pub refused: Option<ScanError>,
}

impl Settings {
    pub fn load() -> Settings {
        Settings::from_text(SLOT.text().as_deref())
    }

    /// The settings a slot holding `text` gives (a parameter so that this is tested natively).
    pub fn from_text(text: Option<&[u8]>) -> Settings {
        let Some(text) = text else {
            return Settings { config: Config::default(), text: None, refused: None };
        };
        let parsed = std::str::from_utf8(text)
            .map_err(|e| ScanError::new(ErrorKind::BadConfig, format!("not UTF-8: {e}")))
            .and_then(|t| Ok((Config::from_json(t)?, Some(t.trim().to_string()))));
        match parsed {
            Ok((config, text)) => Settings { config, text, refused: None },
            Err(mut e) => {
                e.message = format!("the module's embedded configuration: {}", e.message);
                Settings { config: Config::default(), text: None, refused: Some(e) }
            }
        }
    }

    /// What `winrm_detect_about` adds to a record, as JSON text: the build and what it runs
    /// with, the slot's configuration as it was written. Its keys come in this order from
    /// every build (a `serde_json::Value` would sort them unless serde_json's `preserve_order`
    /// is on, and the `fluent_bit_module` fuzz target holds the module's bytes to the native
    /// build's).
    pub fn about(&self) -> String {
        #[derive(serde::Serialize)]
        struct About<'a> {
            version: &'a str,
            mode: &'a str,
            macro_profile: &'a str,
            output: &'a str,
            rules: Vec<&'a str>,
            refused: Option<&'a str>,
        }
        let c = &self.config;
        let about = About {
            version: env!("CARGO_PKG_VERSION"),
            mode: c.mode.as_str(),
            macro_profile: c.macro_profile.as_str(),
            output: c.output.as_str(),
            rules: c.rules.iter().map(|r| r.as_str()).collect(),
            refused: self.refused.as_ref().map(|e| e.message.as_str()),
        };
        let about = serde_json::to_string(&about).unwrap_or_else(|_| "{}".into());
        let mut out = Vec::with_capacity(about.len() + 64);
        crate::record::with_keys(
            &mut out,
            about.as_bytes(),
            &[("configuration", self.text.as_deref().unwrap_or("null"))],
        );
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_slot_means_the_defaults() {
        let s = Settings::from_text(None);
        assert_eq!(s.config, Config::default());
        assert!(s.refused.is_none());
        let about: serde_json::Value = serde_json::from_str(&s.about()).unwrap();
        assert_eq!(about["configuration"], serde_json::Value::Null);
        assert_eq!(about["mode"], "parity");
        assert_eq!(Settings::load().config, Config::default(), "the module as built carries no configuration");
    }

    #[test]
    fn the_slot_text_is_the_configuration() {
        let s = Settings::from_text(Some(br#"{"mode":"extended","rules":["script-block"]}"#));
        assert_eq!(s.config.mode, crate::Mode::Extended);
        assert!(s.refused.is_none());
        let about: serde_json::Value = serde_json::from_str(&s.about()).unwrap();
        assert_eq!(about["configuration"]["rules"][0], "script-block");
        assert_eq!(about["rules"], serde_json::json!(["script-block"]));
    }

    #[test]
    fn a_bad_text_is_refused_loudly_and_the_defaults_detect() {
        for bad in [&br#"{"mode":"loud"}"#[..], b"\xff{}"] {
            let s = Settings::from_text(Some(bad));
            assert_eq!(s.config, Config::default());
            let e = s.refused.as_ref().expect("refused");
            assert_eq!(e.kind, ErrorKind::BadConfig);
            assert!(e.message.starts_with("the module's embedded configuration: "), "{}", e.message);
            let about: serde_json::Value = serde_json::from_str(&s.about()).unwrap();
            assert!(about["refused"].is_string());
        }
    }
}
