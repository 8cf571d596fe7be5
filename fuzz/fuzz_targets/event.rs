//! Any bytes as an event, in both modes, through the whole detector (prefilter, every
//! parser, the rule): it must return, never panic, and the fast reject must agree with the
//! full path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use winrm_detect::Detector;

fn detectors() -> &'static [(Detector, Detector); 1] {
    static D: OnceLock<[(Detector, Detector); 1]> = OnceLock::new();
    D.get_or_init(|| {
        [(
            Detector::from_json(r#"{"mode":"parity"}"#).unwrap(),
            Detector::from_json(r#"{"mode":"extended"}"#).unwrap(),
        )]
    })
}

fuzz_target!(|data: &[u8]| {
    for (parity, extended) in detectors() {
        for d in [parity, extended] {
            let fast = d.scan(data);
            let full = d.scan_without_prefilter(data);
            match (&fast, &full) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Ok(a), Err(_)) => assert!(a.is_empty()),
                (Err(a), Err(b)) => assert_eq!(a, b),
                (Err(_), Ok(_)) => panic!("the fast path failed where the full path did not"),
            }
        }
    }
});
