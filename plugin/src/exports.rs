//! The component's exports: the WIT `detection` interface over [`crate::Detector`].
//! Conversions only; every decision is made by the library.

wit_bindgen::generate!({
    world: "detector-component",
    path: "../wit",
});

use exports::winrm_detect::detector::detection as wit;

use crate::annotation::Annotation;
use crate::error::ScanError;

/// The library's side of the mirror (`wit_mirror.rs`): what it reads from, in this direction.
mod lib {
    pub use crate::error::ErrorKind;
    pub use crate::rules::{Matcher, Rule};
}

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
    wit::Error { kind: crate::mirror_error_kind!(e.kind, lib => wit), message: e.message }
}

fn annotation(a: Annotation) -> wit::Annotation {
    crate::mirror_annotation!(a, lib => wit, field: |(name, value)| wit::Field { name, value })
}

export!(Component);
