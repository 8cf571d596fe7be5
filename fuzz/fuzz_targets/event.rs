//! Any bytes as an event, in both modes, through the whole detector (prefilter, every
//! parser, the rule): it must return, never panic, and the fast reject must agree with the
//! full path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use winrm_detect::Detector;

thread_local! {
    static DETECTORS: [Detector; 2] = [
        Detector::from_json(r#"{"mode":"parity"}"#).unwrap(),
        Detector::from_json(r#"{"mode":"extended"}"#).unwrap(),
    ];
}

fuzz_target!(|data: &[u8]| {
    DETECTORS.with(|detectors| {
        for d in detectors {
            let fast = d.scan(data);
            let full = d.scan_without_prefilter(data);
            match (&fast, &full) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Ok(a), Err(_)) => assert!(a.is_empty()),
                (Err(a), Err(b)) => assert_eq!(a, b),
                (Err(_), Ok(_)) => panic!("the fast path failed where the full path did not"),
            }
        }
    });
});
