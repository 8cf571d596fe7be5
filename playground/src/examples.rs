//! The events the page offers to try: every line of our fixtures (`fixtures/events/`), compiled
//! into the module so the page needs no second copy, each labelled with what the detector
//! says of it under the default configuration.

use serde::Serialize;

use crate::report::{InputKind, inspect};

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../fixtures/events/", $name)))),*]
    };
}

/// One file per supported shape; the extended file holds one evasion per line; the
/// `scriptblock.*` files hold the script-block twin's cases (and Enter-PSSession's) in every
/// shape that carries 4104; the `family.*` files the WinRM family's process creations; the
/// last six the exports and pipelines people already have (NXLog's `to_xml()`, Azure
/// Monitor's rows, Splunk's results, renaming pipelines, Elastic Agent's partial `winlog`, the
/// OpenTelemetry Collector's `windowseventlog` bodies).
const FIXTURES: [(&str, &str); 35] = fixtures![
    "sysmon1.xml",
    "sysmon1.evtx.jsonl",
    "sysmon1.xmltodict.json",
    "sysmon1.winlogbeat.jsonl",
    "sysmon1.winlogbeat6.jsonl",
    "sysmon1.ecs.jsonl",
    "security4688.xml",
    "security4688.evtx.jsonl",
    "nxlog.jsonl",
    "winevtlog.fluentbit.jsonl",
    "winevtlog.map.jsonl",
    "winevtlog.maponly.jsonl",
    "winevtlog.xml.jsonl",
    "winevtlog.text.jsonl",
    "ocsf.jsonl",
    "cim.jsonl",
    "extended.evtx.jsonl",
    "scriptblock.xml",
    "scriptblock.evtx.jsonl",
    "scriptblock.xmltodict.jsonl",
    "scriptblock.winlogbeat.jsonl",
    "scriptblock.ecs.jsonl",
    "scriptblock.nxlog.jsonl",
    "scriptblock.winevtlog.jsonl",
    "scriptblock.embedded.jsonl",
    "family.sysmon.xml",
    "family.sysmon.evtx.jsonl",
    "family.sysmon.ecs.jsonl",
    "family.security4688.evtx.jsonl",
    "nxlog.xml",
    "azure-monitor.jsonl",
    "splunk.jsonl",
    "flattened.jsonl",
    "elastic-agent.jsonl",
    "otel-collector.jsonl",
];

#[derive(Debug, Serialize)]
pub struct Example {
    pub file: &'static str,
    /// 1-based line in the file.
    pub line: usize,
    pub label: String,
    pub text: &'static str,
}

pub fn examples() -> Vec<Example> {
    let mut out = Vec::new();
    for (file, content) in FIXTURES {
        for (i, text) in content.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let report = inspect(text, InputKind::Event, "{}");
            let verdict = match (&report.error, &report.parity.annotation, &report.extended.annotation) {
                (Some(e), _, _) => format!("error: {}", e.kind.as_str()),
                (None, Some(_), _) => "parity match".to_string(),
                (None, None, Some(a)) => format!("extended: {}", a.techniques.join(", ")),
                (None, None, None) => "no match".to_string(),
            };
            out.push(Example { file, line: i + 1, label: format!("{file} #{} · {verdict}", i + 1), text });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_file_is_offered() {
        let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/events")).unwrap().count();
        assert_eq!(FIXTURES.len(), on_disk, "a fixture file is missing from the playground's list");
        let examples = examples();
        assert!(examples.iter().any(|e| e.label.ends_with("parity match")));
        assert!(examples.iter().any(|e| e.label.contains("extended: ")));
        assert!(examples.iter().any(|e| e.label.ends_with("no match")));
    }
}
