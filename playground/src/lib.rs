//! The playground's binding: the winrm-detect library compiled to `wasm32-unknown-unknown` and
//! exposed to the page through wasm-bindgen. No detection logic lives here; [`report`] asks the
//! library's `Detector` for both verdicts and [`examples`] lists our fixtures.
//!
//! Results cross to JavaScript as JSON text: one string per call, parsed by the page, so the
//! binding needs no JS-value glue beyond wasm-bindgen's strings.

pub mod examples;
pub mod report;

use wasm_bindgen::prelude::wasm_bindgen;

/// Reads `input` (an event of any supported shape, or a bare command line; `treat_as` is
/// `auto`, `event` or `command-line`) and returns the [`report::Report`] as JSON.
#[wasm_bindgen]
pub fn inspect(input: &str, treat_as: &str, config: &str) -> String {
    let report = report::inspect(input, report::InputKind::parse(treat_as), config);
    serde_json::to_string(&report).unwrap_or_else(|e| format!("{{\"internal_error\":{:?}}}", e.to_string()))
}

/// Our fixture events, labelled, as a JSON array.
#[wasm_bindgen]
pub fn examples() -> String {
    serde_json::to_string(&examples::examples()).unwrap_or_else(|_| "[]".into())
}

/// The library's version and rule identities, for the page's footer.
#[wasm_bindgen]
pub fn about() -> String {
    use winrm_detect::rules;
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "rule_id": rules::PROCESS_CREATION_ID,
        "rule_name": rules::PROCESS_CREATION_NAME,
        "extended_rule_id": rules::PROCESS_CREATION_EXTENDED.id,
        "script_block_rule_id": rules::SCRIPT_BLOCK.id,
        "script_block_rule_name": rules::SCRIPT_BLOCK.name,
        "script_block_extended_rule_id": rules::SCRIPT_BLOCK_EXTENDED.id,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use winrm_detect::{Config, Detector, Mode};

    /// The page's verdicts are the detector's: for every fixture event, both modes give the
    /// annotations `Detector::scan` gives (the fast reject included).
    #[test]
    fn the_report_agrees_with_the_detector_on_every_fixture() {
        for example in super::examples::examples() {
            let report = super::report::inspect(example.text, super::report::InputKind::Event, "{}");
            for (mode, verdict) in [(Mode::Parity, &report.parity), (Mode::Extended, &report.extended)] {
                let detector = Detector::new(Config { mode, ..Config::default() });
                let scanned = detector.scan(example.text.as_bytes());
                let scanned = scanned.as_ref().map(|a| a.first()).map_err(|e| e.kind);
                let shown = match &report.error {
                    Some(e) => Err(e.kind),
                    None => Ok(verdict.annotation.as_ref()),
                };
                assert_eq!(shown, scanned, "{} {mode:?}", example.label);
            }
        }
    }

    #[test]
    fn results_are_json() {
        let v: serde_json::Value = serde_json::from_str(&super::inspect("icm -cn x {}", "auto", "")).unwrap();
        assert_eq!(v["extended"]["matched"], true);
        let v: serde_json::Value = serde_json::from_str(&super::examples()).unwrap();
        assert!(v.as_array().unwrap().len() > 40);
        let v: serde_json::Value = serde_json::from_str(&super::about()).unwrap();
        assert_eq!(v["rule_id"], "ba24cda8-4716-11ec-8009-3e22fbd008af");
    }
}
