//! The component's exports: the WIT `detection` interface over [`crate::Detector`].
//! Conversions only; every decision is made by the library.

wit_bindgen::generate!({
    world: "detector-component",
    path: "../wit",
});

use exports::winrm_detect::detector::detection as wit;

use crate::annotation::Annotation;
use crate::error::{ErrorKind, ScanError};
use crate::rules::{Matcher, Rule};

struct Component;

struct Detector(crate::Detector);

impl wit::Guest for Component {
    type Detector = Detector;
}

impl wit::GuestDetector for Detector {
    fn create(config: String) -> Result<wit::Detector, wit::Error> {
        crate::Detector::from_json(&config).map(|d| wit::Detector::new(Detector(d))).map_err(error)
    }

    fn scan(&self, event: Vec<u8>) -> Result<Vec<wit::Annotation>, wit::Error> {
        self.0.scan(&event).map(|list| list.into_iter().map(annotation).collect()).map_err(error)
    }

    fn scan_batch(&self, events: Vec<Vec<u8>>) -> Vec<wit::Outcome> {
        events
            .iter()
            .map(|event| match self.0.scan(event) {
                Ok(list) => wit::Outcome::Annotations(list.into_iter().map(annotation).collect()),
                Err(e) => wit::Outcome::Failed(error(e)),
            })
            .collect()
    }

    fn scan_lines(&self, lines: Vec<u8>) -> Vec<wit::Flagged> {
        let mut flagged = Vec::new();
        self.0.scan_lines(&lines, |index, outcome| {
            let outcome = match outcome {
                Ok(list) => wit::Outcome::Annotations(list.into_iter().map(annotation).collect()),
                Err(e) => wit::Outcome::Failed(error(e)),
            };
            flagged.push(wit::Flagged { index: u32::try_from(index).unwrap_or(u32::MAX), outcome });
        });
        flagged
    }

    fn stats(&self) -> wit::Stats {
        let s = self.0.stats();
        wit::Stats { events: s.events, matched: s.matched, suppressed: s.suppressed, errors: s.errors }
    }
}

fn error(e: ScanError) -> wit::Error {
    let kind = match e.kind {
        ErrorKind::Empty => wit::ErrorKind::Empty,
        ErrorKind::InvalidUtf8 => wit::ErrorKind::InvalidUtf8,
        ErrorKind::TooLarge => wit::ErrorKind::TooLarge,
        ErrorKind::TooDeep => wit::ErrorKind::TooDeep,
        ErrorKind::BrokenJson => wit::ErrorKind::BrokenJson,
        ErrorKind::BrokenXml => wit::ErrorKind::BrokenXml,
        ErrorKind::UnknownShape => wit::ErrorKind::UnknownShape,
        ErrorKind::BadConfig => wit::ErrorKind::BadConfig,
        ErrorKind::Internal => wit::ErrorKind::Internal,
    };
    wit::Error { kind, message: e.message }
}

fn annotation(a: Annotation) -> wit::Annotation {
    wit::Annotation {
        rule: match a.rule {
            Rule::ProcessCreation => wit::Rule::ProcessCreation,
            Rule::ScriptBlock => wit::Rule::ScriptBlock,
        },
        rule_id: a.rule_id,
        rule_name: a.rule_name,
        rule_version: a.rule_version,
        matcher: match a.matcher {
            Matcher::Parity => wit::Matcher::Parity,
            Matcher::Extended => wit::Matcher::Extended,
        },
        macro_profile: a.macro_profile,
        mitre_technique_ids: a.mitre_technique_ids,
        mitre_tactics: a.mitre_tactics,
        kill_chain_phases: a.kill_chain_phases,
        risk_object: a.risk_object,
        risk_object_type: a.risk_object_type,
        risk_score: a.risk_score,
        message: a.message,
        fields: a.fields.into_iter().map(|(name, value)| wit::Field { name, value }).collect(),
        remote_targets: a
            .remote_targets
            .into_iter()
            .map(|t| wit::RemoteTarget { host: t.host, loopback: t.loopback })
            .collect(),
        evidence: a
            .evidence
            .into_iter()
            .map(|e| wit::Evidence { kind: e.kind, text: e.text, layer: e.layer, offset: e.offset })
            .collect(),
        techniques: a.techniques,
    }
}

export!(Component);
